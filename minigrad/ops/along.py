"""Indexing along one dim, with PyTorch's semantics: ``gather``, ``scatter``, ``scatter_add``,
``index_select``. (``F.gather``/``F.scatter_add`` of the graph API pick and reduce whole rows
by a 1-D index; these pick single entries along ``dim`` by an index of the input's rank.)

``GatherAlong`` and ``ScatterAddAlong`` are each other's adjoint, so the family is closed under
differentiation, as ``GetItem``/``IndexAdd`` are.

Notation
--------
dim      the axis the index runs along
index    an int64 array with the rank of the input; index[i][j][k] replaces the dim-th coordinate
         out[i][j][k] = x[index[i][j][k]][j][k]   (dim = 0)
"""
from ..autograd import Function
from ..backend import xp_of, index_add
from ..tensor import raw
from .shape import normalize_axis
from .elementwise import where


def _coordinates(index, dim):
    """The full NumPy key that puts ``index`` in place of coordinate ``dim``: along every other
    axis a an open grid, arange(n) shaped to broadcast along a alone (``np.indices(shape,
    sparse=True)``, which CuPy lacks)."""
    xp = xp_of(index)
    ones = (1,) * index.ndim
    return tuple(index if a == dim else xp.arange(n).reshape(ones[:a] + (n,) + ones[a + 1:])
                 for a, n in enumerate(index.shape))


class GatherAlong(Function):
    """out = x[..index along dim..];  dL/dx = zeros with g added at the gathered places."""

    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.dim, ctx.index, ctx.shape = dim, index, x.shape
        return xp_of(x).take_along_axis(x, index, axis=dim)

    @staticmethod
    def backward(ctx, grad_output):
        return ScatterAddAlong.apply(grad_output, dim=ctx.dim, index=ctx.index, shape=ctx.shape)


class ScatterAddAlong(Function):
    """out = zeros(shape), out[..index along dim..] += src (repeats add);  dL/dsrc = gather(g)."""

    @staticmethod
    def forward(ctx, src, dim, index, shape):
        ctx.dim, ctx.index = dim, index
        out = xp_of(src).zeros(shape, dtype=src.dtype)
        index_add(out, _coordinates(index, dim), src)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return GatherAlong.apply(grad_output, dim=ctx.dim, index=ctx.index)


def _index(op, x, dim, index, src_shape=None):
    dim = normalize_axis(dim, x.ndim, op)
    index = xp_of(x.data).asarray(raw(index))
    if index.dtype.kind not in "iu" or index.ndim != x.ndim:
        raise ValueError(f"{op}: index must be an integer tensor with the {x.ndim} dims of the "
                         f"input (shape {x.shape}), got shape {index.shape} and dtype "
                         f"{index.dtype}")
    if any(n > x.shape[a] for a, n in enumerate(index.shape) if a != dim) or (
            src_shape is not None and any(n > m for n, m in zip(index.shape, src_shape))):
        raise ValueError(f"{op}: index of shape {index.shape} is larger than the input "
                         f"{x.shape} outside dim {dim}" +
                         ("" if src_shape is None else f" or than src {src_shape}"))
    n = x.shape[dim]
    if index.size and (int(index.min()) < -n or int(index.max()) >= n):
        raise IndexError(f"{op}: index values must be in [-{n}, {n}) along dim {dim} of shape "
                         f"{x.shape}, got [{int(index.min())}, {int(index.max())}]")
    return dim, index % n if index.size else index


def gather(x, dim, index):
    """PyTorch's ``gather``: out[i][j] = x[index[i][j]][j] for dim 0 (x[i][index[i][j]] for 1).

    Parameters
    ----------
    x : Tensor, shape S
    dim : int
    index : int Tensor or array, same number of dims as x, no larger than S outside ``dim``

    Returns
    -------
    Tensor, shape of index

    >>> import minigrad as mg
    >>> mg.gather(mg.tensor([[1.0, 2.0], [3.0, 4.0]]), 1, mg.tensor([[1], [0]])).tolist()
    [[2.0], [3.0]]
    """
    dim, index = _index("gather", x, dim, index)
    xp = xp_of(x.data)
    # take_along_axis needs the index to match x outside dim: take the leading block of x
    x = x[tuple(slice(0, n) if a != dim else slice(None) for a, n in enumerate(index.shape))]
    return GatherAlong.apply(x, dim=dim, index=xp.asarray(index))


def _sub_src(src, index):
    # src may be larger than index; only its leading block (index's shape) is scattered
    return src[tuple(slice(0, n) for n in index.shape)]


def scatter_add(x, dim, index, src):
    """PyTorch's ``scatter_add``: x with src[i][j] added at [index[i][j]][j] (dim 0); repeated
    indices add. Differentiable in x (identity) and src (a gather)."""
    dim, index = _index("scatter_add", x, dim, index, src.shape)
    return x + ScatterAddAlong.apply(_sub_src(src, index), dim=dim, index=index, shape=x.shape)


def scatter(x, dim, index, src):
    """PyTorch's ``scatter``: x with src[i][j] written at [index[i][j]][j] (dim 0). ``src`` may
    be a number. Where an index repeats, the written value is the sum of the colliding entries
    (PyTorch leaves that case unspecified); x's gradient is 0 at written places."""
    from ..tensor import Tensor
    dim, index = _index("scatter", x, dim, index, getattr(src, "shape", None))
    xp = xp_of(x.data)
    hit = xp.zeros(x.shape, dtype=bool)
    hit[_coordinates(index, dim)] = True
    if not isinstance(src, Tensor):
        return where(hit, src, x)
    written = ScatterAddAlong.apply(_sub_src(src, index), dim=dim, index=index, shape=x.shape)
    return where(hit, written, x)


def index_select(x, dim, index):
    """The slices of x at positions ``index`` (1-D ints) along ``dim``; PyTorch's index_select.

    >>> import minigrad as mg
    >>> mg.index_select(mg.tensor([[1.0, 2.0, 3.0]]), 1, mg.tensor([2, 0])).tolist()
    [[3.0, 1.0]]
    """
    dim = normalize_axis(dim, x.ndim, "index_select")
    index = xp_of(x.data).asarray(raw(index))
    if index.ndim != 1 or index.dtype.kind not in "iu":
        raise ValueError(f"index_select: index must be a 1-D integer tensor, got shape "
                         f"{index.shape} and dtype {index.dtype}")
    return x[(slice(None),) * dim + (index,)]
