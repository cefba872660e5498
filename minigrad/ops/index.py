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
from ..backend import xp_of, index_add
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
