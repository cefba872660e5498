"""Reductions: sum, max/min, prod, and what is composed from them (mean, var, std, logsumexp).

Every reduction takes PyTorch's ``dim=None`` (all axes), an int or a tuple, and ``keepdim``, in
PyTorch's positional order; NumPy's ``axis=``/``keepdims=`` are accepted as aliases (see
``ops/dims.py``). Backward first puts the reduced axes back as size 1 (``keepdim`` shape), then
broadcasts.

``max``/``min`` follow PyTorch: with no ``dim`` they return the extreme value; with an int ``dim``
a named tuple ``(values, indices)``; with a Tensor as second argument, the elementwise
``maximum``/``minimum``. ``amax``/``amin`` reduce over one or several axes and return values only.

A 0-d tensor takes ``dim`` 0 or -1 (alone or in a tuple), as in PyTorch: the result is 0-d, its
one entry reduced on its own (``var`` with the default correction is then nan).

Notation
--------
axes          the reduced axes, normalised to a sorted tuple of non-negative ints
kept_shape    the result's shape with ``keepdims=True``
"""
import builtins
import math
from collections import namedtuple

from ..autograd import Function
from ..backend import xp_of
from ..tensor import Tensor
from .dims import dim_or_axis, dim_args  # noqa: F401  (dim_or_axis is imported from here)
from .shape import broadcast_to, reshape, normalize_axis, permute
from .elementwise import where, sqrt, exp, log, maximum, minimum


def normalize_axes(axis, ndim, op):
    """``axis`` (None, int or sequence) as a sorted tuple of distinct non-negative axes.

    A 0-d tensor has no axes, yet takes dim 0 or -1 as PyTorch does (they name its one entry):
    each is checked as an axis of a 1-d tensor, and nothing is reduced.
    """
    if axis is None:
        return tuple(range(ndim))
    dims = axis if isinstance(axis, (tuple, list)) else (axis,)
    if ndim == 0:
        for a in dims:
            if a not in (0, -1):
                raise IndexError(f"{op}: dim {a} is out of range for a 0-d tensor "
                                 f"(0 and -1 name its one entry)")
        return ()
    return tuple(sorted({normalize_axis(a, ndim, op) for a in dims}))


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



ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])
ValuesIndices.__doc__ = """What ``max``/``min`` along a dim, ``sort`` and ``topk`` return, as PyTorch's
``torch.return_types``: ``values`` (differentiable) and ``indices`` (int64, no grad); it
unpacks as a pair: ``values, indices = x.max(dim=1)``."""


def _count(shape, axes):
    count = 1
    for a in axes:
        count *= shape[a]
    return count


def sum(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Sum over ``dim`` (all axes when None).

    >>> import minigrad as mg
    >>> mg.sum(mg.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=1, keepdim=True).tolist()
    [[3.0], [7.0]]
    """
    dim, keepdim = dim_args("sum", dim, keepdim, axis, keepdims)
    axes = normalize_axes(dim, x.ndim, "sum")
    return Sum.apply(x, axes=axes, keepdims=keepdim)


def mean(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Arithmetic mean over ``dim``; NaN where the reduced axes hold no entries (PyTorch's
    and NumPy's value for the mean of nothing), without NumPy's 0/0 warning.

    >>> import minigrad as mg
    >>> mg.zeros(0, 2).mean(dim=0).tolist()
    [nan, nan]
    """
    dim, keepdim = dim_args("mean", dim, keepdim, axis, keepdims)
    axes = normalize_axes(dim, x.ndim, "mean")
    total = Sum.apply(x, axes=axes, keepdims=keepdim)
    count = _count(x.shape, axes)
    return total / count if count else total * math.nan


def _extreme(op, name, x, dim, keepdim):
    axes = normalize_axes(dim, x.ndim, name)
    if builtins.any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{name}: cannot reduce an empty axis (shape {x.shape}, dim {dim})")
    return op.apply(x, axes=axes, keepdims=keepdim)


def _extreme_along(op, arg, x, dim, keepdim, axis, keepdims):
    """PyTorch's three forms of ``max``/``min``: all axes, one ``dim`` (values and indices),
    or elementwise against a second tensor given in the place of ``dim``."""
    name = op.__name__.lower()
    if isinstance(dim, Tensor):
        return (maximum if op is Max else minimum)(x, dim)
    dim, keepdim = dim_args(name, dim, keepdim, axis, keepdims)
    if dim is None:
        return _extreme(op, name, x, None, keepdim)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}: dim must be one int to get (values, indices), got {dim}; "
                        f"use a{name}(x, dim={tuple(dim)}) to reduce several axes")
    values = _extreme(op, name, x, dim, keepdim)
    return ValuesIndices(values, arg(x, dim, keepdim))


def max(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """The maximum: of all entries (no ``dim``), along one ``dim``, or elementwise.

    ``max(x)`` is a 0-d tensor; ``max(x, dim)`` is the named tuple ``(values, indices)``, as in
    PyTorch; ``max(x, other)`` with a Tensor ``other`` is ``maximum(x, other)``. The gradient of
    the values is shared evenly among tied maxima (PyTorch's ``amax`` rule; PyTorch's
    ``max(dim)`` sends it all to the returned index instead).

    >>> import minigrad as mg
    >>> values, indices = mg.tensor([[1.0, 5.0], [4.0, 2.0]]).max(dim=1)
    >>> values.tolist(), indices.tolist()
    ([5.0, 4.0], [1, 0])
    """
    return _extreme_along(Max, argmax, x, dim, keepdim, axis, keepdims)


def min(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """The minimum: of all entries, along one ``dim`` (``(values, indices)``), or elementwise;
    see :func:`max`."""
    return _extreme_along(Min, argmin, x, dim, keepdim, axis, keepdims)


def amax(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Maximum over ``dim`` (all axes when None, or a tuple); values only, ties share the
    gradient evenly."""
    dim, keepdim = dim_args("amax", dim, keepdim, axis, keepdims)
    return _extreme(Max, "amax", x, dim, keepdim)


def amin(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Minimum over ``dim`` (all axes when None, or a tuple); values only, ties share the
    gradient evenly."""
    dim, keepdim = dim_args("amin", dim, keepdim, axis, keepdims)
    return _extreme(Min, "amin", x, dim, keepdim)


def prod(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Product over ``dim``; exact gradients also where entries are zero."""
    dim, keepdim = dim_args("prod", dim, keepdim, axis, keepdims)
    axes = normalize_axes(dim, x.ndim, "prod")
    return Prod.apply(x, axes=axes, keepdims=keepdim)


def _correction(op, dim, unbiased, correction):
    """PyTorch's two spellings of the divisor: ``unbiased`` (True: n - 1) or ``correction``.
    A bool in the place of ``dim`` is ``unbiased`` (``torch.var(x, False)``); giving
    ``unbiased=`` as well is a TypeError, as in PyTorch, whatever the two values."""
    if isinstance(dim, bool):
        if unbiased is not None:
            raise TypeError(f"{op}: got unbiased={dim} in the place of dim and "
                            f"unbiased={unbiased}; give one of them")
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: got both unbiased={unbiased} and correction={correction}; "
                        f"give one of them")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, correction


def _var(op, x, dim, unbiased, keepdim, correction, axis, keepdims):
    dim, correction = _correction(op, dim, unbiased, correction)
    dim, keepdim = dim_args(op, dim, keepdim, axis, keepdims)
    axes = normalize_axes(dim, x.ndim, op)
    centred = x - mean(x, axes, keepdim=True)
    return (sum(centred * centred, axes, keepdim)
            / _positive(_count(x.shape, axes) - correction))


def var(x, dim=None, unbiased=None, keepdim=None, *, correction=None, axis=None, keepdims=None):
    """Variance over ``dim``, dividing by ``n - correction``.

    ``correction=1`` (the default, as ``unbiased=True``) is PyTorch's unbiased estimate;
    ``correction=0`` (``unbiased=False``) divides by n. The positional order is PyTorch's
    ``(dim, unbiased, keepdim)``; a bool in the place of ``dim`` is ``unbiased``
    (``var(x, False)``), and ``unbiased=`` given beside it is a TypeError, as in PyTorch.

    >>> import minigrad as mg
    >>> mg.var(mg.tensor([1.0, 3.0]), unbiased=False).item()
    1.0
    """
    return _var("var", x, dim, unbiased, keepdim, correction, axis, keepdims)


def std(x, dim=None, unbiased=None, keepdim=None, *, correction=None, axis=None, keepdims=None):
    """Standard deviation, the square root of :func:`var` (same arguments)."""
    return sqrt(_var("std", x, dim, unbiased, keepdim, correction, axis, keepdims))


def _positive(n):
    # n - correction <= 0 gives inf/nan in PyTorch too; keep the division well defined
    return n if n > 0 else float("nan")


def logsumexp(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """log Σ exp(x), computed as m + log Σ exp(x - m) with m the (constant) max, so that it
    neither overflows for large x nor underflows to log(0) for very negative x."""
    dim, keepdim = dim_args("logsumexp", dim, keepdim, axis, keepdims)
    xp = xp_of(x.data)
    axes = normalize_axes(dim, x.ndim, "logsumexp")
    m = xp.max(x.data, axis=axes, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # all -inf rows: keep -inf, do not make nan
    out = log(sum(exp(x - m), axes, keepdim=True)) + m
    return out if keepdim else reshape(out, tuple(n for i, n in enumerate(out.shape)
                                                  if i not in axes))


def _no_grad_reduction(name, fn, x, dim, keepdim, axis, keepdims, several=True):
    """A reduction whose result is an index or a truth value: an array op, no gradient.
    ``several``: whether ``dim`` may be a tuple (``all``/``any``; not ``argmax``/``argmin``)."""
    dim, keepdim = dim_args(name, dim, keepdim, axis, keepdims)
    if not several and isinstance(dim, (tuple, list)):
        raise TypeError(f"{name}: dim must be one int, got {dim}")
    if dim is not None:
        if x.ndim == 0:
            normalize_axes(dim, 0, name)  # only checks: dim 0 or -1 names the one entry
            dim = None
        elif isinstance(dim, (tuple, list)):
            dim = normalize_axes(dim, x.ndim, name)
        else:
            dim = normalize_axis(dim, x.ndim, name)
    return Tensor._wrap(fn(x.data, axis=dim, keepdims=keepdim))


def argmax(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Index of the maximum along ``dim`` (flat index when None); int64, no grad."""
    return _no_grad_reduction("argmax", xp_of(x.data).argmax, x, dim, keepdim, axis, keepdims,
                              several=False)


def argmin(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Index of the minimum along ``dim`` (flat index when None); int64, no grad."""
    return _no_grad_reduction("argmin", xp_of(x.data).argmin, x, dim, keepdim, axis, keepdims,
                              several=False)


def all(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Whether every entry (along ``dim``) is nonzero; a bool tensor, no grad."""
    return _no_grad_reduction("all", xp_of(x.data).all, x, dim, keepdim, axis, keepdims)


def any(x, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Whether some entry (along ``dim``) is nonzero; a bool tensor, no grad."""
    return _no_grad_reduction("any", xp_of(x.data).any, x, dim, keepdim, axis, keepdims)
