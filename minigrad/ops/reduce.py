"""Reductions: sum, max/min, prod, and what is composed from them (mean, var, std, logsumexp).

Every reduction takes ``axis=None`` (all axes), an int or a tuple, and ``keepdims``. Backward
first puts the reduced axes back as size 1 (``keepdims`` shape), then broadcasts.

Notation
--------
axes          the reduced axes, normalised to a sorted tuple of non-negative ints
kept_shape    the result's shape with ``keepdims=True``
"""
import builtins

from ..autograd import Function
from ..backend import xp_of
from .shape import broadcast_to, reshape, normalize_axis, permute
from .elementwise import where, sqrt, exp, log


def normalize_axes(axis, ndim, op):
    """``axis`` (None, int or sequence) as a sorted tuple of distinct non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(sorted({normalize_axis(a, ndim, op) for a in axis}))
    else:
        axes = (normalize_axis(axis, ndim, op),)
    return axes


def dim_or_axis(op, dim, axis, default):
    """PyTorch's ``dim``, or NumPy's ``axis`` given instead (not both); ``default`` if neither."""
    if axis is None:
        return default if dim is None else dim
    if dim is not None:
        raise TypeError(f"{op}: got both dim={dim} and axis={axis}; give one of them")
    return axis


def kept_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand_grad(grad_output, shape, axes):
    """Bring a reduced gradient back to the input's shape: reinsert axes, then broadcast."""
    grad_output = reshape(grad_output, kept_shape(shape, axes))
    return broadcast_to(grad_output, shape)


class Sum(Function):
    """out = Σ_axes x;  dL/dx = g broadcast back over the summed axes."""

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.shape, ctx.axes = x.shape, axes
        return x.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad_output):
        return _expand_grad(grad_output, ctx.shape, ctx.axes)


def _extreme_forward(ctx, x, out, axes, keepdims):
    """Record the tie-splitting weights of a max or min reduction and return its result.

    ``out`` is the reduction with ``keepdims=True``. Splitting evenly among the k tied
    positions (PyTorch's ``amax``/``amin``) keeps the gradient a valid subgradient and
    symmetric; the weights are raw arrays because they are locally constant.
    """
    hit = x == out
    ctx.weight = (hit / hit.sum(axis=axes, keepdims=True)).astype(x.dtype)
    ctx.shape, ctx.axes = x.shape, axes
    return out if keepdims else out.reshape([n for i, n in enumerate(out.shape)
                                             if i not in axes])


class Max(Function):
    """out = max_axes x;  dL/dx = g / k at each of the k positions that reach the max."""

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        return _extreme_forward(ctx, x, x.max(axis=axes, keepdims=True), axes, keepdims)

    @staticmethod
    def backward(ctx, grad_output):
        return _expand_grad(grad_output, ctx.shape, ctx.axes) * ctx.weight


class Min(Function):
    """out = min_axes x;  dL/dx = g / k at each of the k positions that reach the min."""

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        return _extreme_forward(ctx, x, x.min(axis=axes, keepdims=True), axes, keepdims)

    @staticmethod
    def backward(ctx, grad_output):
        return _expand_grad(grad_output, ctx.shape, ctx.axes) * ctx.weight


class Prod(Function):
    """out = Π_axes x;  dL/dx_i = g * Π_{j≠i} x_j.

    The exclusive products are computed without dividing by x_i, so zeros are handled
    exactly, and with ``prod`` itself, so every derivative order stays in the family.
    """

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.save_for_backward(x)
        ctx.shape, ctx.axes = x.shape, axes
        return x.prod(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        axes, shape = ctx.axes, ctx.shape
        rest = tuple(i for i in range(len(shape)) if i not in axes)
        order = rest + axes
        moved = permute(x, order)
        n = 1
        for a in axes:
            n *= shape[a]
        flat = reshape(moved, moved.shape[:len(rest)] + (n,))
        # rows[..., i, j] = x_j, except 1 on the diagonal; the product over j excludes x_i
        xp = xp_of(x.data)
        eye = xp.eye(n, dtype=bool)
        rows = broadcast_to(reshape(flat, flat.shape[:-1] + (1, n)), flat.shape[:-1] + (n, n))
        exclusive = prod(where(eye, 1.0, rows), axis=-1)
        exclusive = reshape(exclusive, moved.shape)
        inverse = [0] * len(order)
        for i, a in enumerate(order):
            inverse[a] = i
        exclusive = permute(exclusive, tuple(inverse))
        return _expand_grad(grad_output, shape, axes) * exclusive


def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (all axes when None)."""
    axes = normalize_axes(axis, x.ndim, "sum")
    return Sum.apply(x, axes=axes, keepdims=keepdims)


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis``."""
    axes = normalize_axes(axis, x.ndim, "mean")
    count = 1
    for a in axes:
        count *= x.shape[a]
    return Sum.apply(x, axes=axes, keepdims=keepdims) / builtins.max(count, 1)


def _extreme(op, x, axis, keepdims):
    axes = normalize_axes(axis, x.ndim, op.__name__.lower())
    if any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{op.__name__.lower()}: cannot reduce an empty axis (shape {x.shape}, "
                         f"axis {axis})")
    return op.apply(x, axes=axes, keepdims=keepdims)


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``; the gradient is shared evenly among ties."""
    return _extreme(Max, x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``; the gradient is shared evenly among ties."""
    return _extreme(Min, x, axis, keepdims)


def prod(x, axis=None, keepdims=False):
    """Product over ``axis``; exact gradients also where entries are zero."""
    axes = normalize_axes(axis, x.ndim, "prod")
    return Prod.apply(x, axes=axes, keepdims=keepdims)


def var(x, axis=None, keepdims=False, correction=1):
    """Variance, dividing by ``n - correction`` (1: PyTorch's unbiased default; 0: by n)."""
    axes = normalize_axes(axis, x.ndim, "var")
    count = 1
    for a in axes:
        count *= x.shape[a]
    centred = x - mean(x, axes, keepdims=True)
    return sum(centred * centred, axes, keepdims) / _positive(count - correction)


def std(x, axis=None, keepdims=False, correction=1):
    """Standard deviation, the square root of :func:`var`."""
    return sqrt(var(x, axis, keepdims, correction))


def _positive(n):
    # n - correction <= 0 gives inf/nan in PyTorch too; keep the division well defined
    return n if n > 0 else float("nan")


def logsumexp(x, axis=None, keepdims=False):
    """log Σ exp(x), computed as m + log Σ exp(x - m) with m the (constant) max, so that it
    neither overflows for large x nor underflows to log(0) for very negative x."""
    xp = xp_of(x.data)
    axes = normalize_axes(axis, x.ndim, "logsumexp")
    m = xp.max(x.data, axis=axes, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # all -inf rows: keep -inf, do not make nan
    out = log(sum(exp(x - m), axes, keepdims=True)) + m
    return out if keepdims else reshape(out, tuple(n for i, n in enumerate(out.shape)
                                                   if i not in axes))


def argmax(x, axis=None, keepdims=False):
    """Index of the maximum (flat index when ``axis`` is None); an integer tensor, no grad."""
    from ..tensor import Tensor
    return Tensor._wrap(xp_of(x.data).argmax(x.data, axis=axis, keepdims=keepdims))


def argmin(x, axis=None, keepdims=False):
    """Index of the minimum (flat index when ``axis`` is None); an integer tensor, no grad."""
    from ..tensor import Tensor
    return Tensor._wrap(xp_of(x.data).argmin(x.data, axis=axis, keepdims=keepdims))
