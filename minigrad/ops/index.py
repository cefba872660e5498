"""Indexing: ``x[key]`` and its adjoint, which adds values into a zero tensor at ``key``.

``key`` is anything NumPy accepts: ints, slices, None, Ellipsis, integer arrays and boolean
masks. The two Functions are each other's backward, so indexing is closed under
differentiation. Repeated integer indices accumulate in the adjoint (``np.add.at``), which is
what the chain rule asks for: an entry read twice receives both gradients.

Notation
--------
key      the index, with Tensors replaced by their raw arrays
shape    the shape of the indexed (source) tensor
"""
from ..autograd import Function
from ..backend import xp_of, index_add, index_max
from ..tensor import raw


def _may_repeat(key):
    """True when ``key`` holds an integer array, the only index that can pick an entry twice."""
    for k in key:
        if hasattr(k, "dtype") and k.dtype.kind in "iu" and k.ndim > 0:
            return True
    return False


class GetItem(Function):
    """out = x[key];  dL/dx = zeros(shape) with g added at key."""

    @staticmethod
    def forward(ctx, x, key):
        ctx.key, ctx.shape = key, x.shape
        return x[key]

    @staticmethod
    def backward(ctx, grad_output):
        return IndexAdd.apply(grad_output, key=ctx.key, shape=ctx.shape)


class IndexAdd(Function):
    """out = zeros(shape), then out[key] += g (repeated indices add);  dL/dg = (dL/dout)[key]."""

    @staticmethod
    def forward(ctx, values, key, shape):
        ctx.key = key
        out = xp_of(values).zeros(shape, dtype=values.dtype)
        if _may_repeat(key):
            index_add(out, key, values)
        else:  # slices, ints and masks select each entry at most once: assignment is enough
            out[key] = values
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return getitem(grad_output, ctx.key)


def _raw_key(key, xp):
    if not isinstance(key, tuple):
        key = (key,)
    parts = []
    for k in key:
        k = raw(k)  # a Tensor index becomes its array
        if isinstance(k, list):
            k = xp.asarray(k)
        parts.append(k)
    return tuple(parts)


def getitem(x, key):
    """``x[key]`` for any NumPy-style key; Tensors inside the key are used as index arrays."""
    return GetItem.apply(x, key=_raw_key(key, xp_of(x.data)))


def index_add_to(values, key, shape):
    """A zero tensor of ``shape`` with ``values`` added at ``key`` (repeated indices add)."""
    return IndexAdd.apply(values, key=_raw_key(key, xp_of(values.data)), shape=tuple(shape))


class ScatterMax(Function):
    """out[i] = max over the rows r of ``src`` with index[r] = i (0 for rows no index names);
    dL/dsrc[r] = g[index[r]] where src[r] reaches that max, split evenly among ties."""

    @staticmethod
    def forward(ctx, src, index, dim_size):
        xp = xp_of(src)
        out = xp.full((dim_size,) + src.shape[1:], -xp.inf, dtype=src.dtype)
        index_max(out, index, src)
        out[xp.isinf(out) & (out < 0)] = 0  # empty segments: 0, not -inf
        hit = (src == out[index]).astype(src.dtype)
        counts = xp.zeros(out.shape, dtype=src.dtype)
        index_add(counts, index, hit)
        ctx.index = index
        ctx.weight = hit / counts[index].clip(1)  # raw: locally constant, derivative zero
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return getitem(grad_output, ctx.index) * ctx.weight


def _check_index(op, src, index, dim_size=None):
    xp = xp_of(src.data)
    index = xp.asarray(raw(index))
    if index.ndim != 1 or index.dtype.kind not in "iu" or index.shape[0] != src.shape[0]:
        raise ValueError(f"{op}: index must be a 1-D integer array with one entry per row of "
                         f"src (shape {src.shape}), got shape {index.shape} and dtype "
                         f"{index.dtype}")
    if dim_size is not None and index.size and (int(index.min()) < 0 or
                                                int(index.max()) >= dim_size):
        raise IndexError(f"{op}: index values must be in [0, {dim_size}), got "
                         f"[{int(index.min())}, {int(index.max())}]")
    return index


def gather(src, index):
    """Rows of ``src`` picked by ``index``: out[r] = src[index[r]] (node features to edges).

    Parameters
    ----------
    src : Tensor, shape (N, ...)
    index : int array or Tensor, shape (M,), values in [0, N)
    """
    xp = xp_of(src.data)
    index = xp.asarray(raw(index))
    if index.ndim != 1 or index.dtype.kind not in "iu":
        raise ValueError(f"gather: index must be a 1-D integer array, got shape {index.shape} "
                         f"and dtype {index.dtype}")
    if index.size and (int(index.min()) < 0 or int(index.max()) >= src.shape[0]):
        raise IndexError(f"gather: index values must be in [0, {src.shape[0]}), got "
                         f"[{int(index.min())}, {int(index.max())}]")
    return GetItem.apply(src, key=(index,))


def scatter_add(src, index, dim_size):
    """out[i] = Σ of the rows r of ``src`` with index[r] = i (edge messages summed per node).

    Parameters
    ----------
    src : Tensor, shape (M, ...)
    index : int array or Tensor, shape (M,), values in [0, dim_size)
    dim_size : int
        Rows of the result, shape (dim_size, ...).
    """
    index = _check_index("scatter_add", src, index, dim_size)
    return IndexAdd.apply(src, key=(index,), shape=(dim_size,) + src.shape[1:])


def scatter_mean(src, index, dim_size):
    """The mean of the rows of ``src`` sent to each output row (0 where none is sent)."""
    index = _check_index("scatter_mean", src, index, dim_size)
    xp = xp_of(src.data)
    counts = xp.zeros(dim_size, dtype=src.dtype)
    index_add(counts, index, xp.ones(index.shape, dtype=src.dtype))
    total = IndexAdd.apply(src, key=(index,), shape=(dim_size,) + src.shape[1:])
    return total / counts.clip(1).reshape((dim_size,) + (1,) * (src.ndim - 1))


def scatter_max(src, index, dim_size):
    """The elementwise max of the rows of ``src`` sent to each output row (0 where none is)."""
    index = _check_index("scatter_max", src, index, dim_size)
    return ScatterMax.apply(src, index=index, dim_size=dim_size)
