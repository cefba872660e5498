"""Shape primitives: reshape, permute, broadcast and its adjoint sum_to, concatenation, padding.

These move or copy values without arithmetic, so each backward is the inverse movement:
reshape back, permute by the inverse permutation, sum a broadcast back (and broadcast a sum),
slice a concatenation apart.

Notation
--------
shape        the input's shape; ``out_shape`` the result's
axes         a permutation of ``range(ndim)``
"""
import math
import operator

from ..autograd import Function
from ..backend import xp_of
from .dims import dim_or_axis


def normalize_axis(axis, ndim, op):
    """An axis in ``[0, ndim)``, from a possibly negative one; a clear error when out of range.
    A 0-d tensor takes 0 or -1 (PyTorch's rule: a scalar counts as one entry along one axis)."""
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise IndexError(f"{op}: axis {axis} is out of range for a tensor of {ndim} dimensions")
    return axis % ndim if ndim else 0


class Reshape(Function):
    """out = x viewed with a new shape;  dL/dx = g reshaped to x's shape."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad_output):
        return reshape(grad_output, ctx.shape)


class Permute(Function):
    """out = x with axes reordered;  dL/dx = g with the inverse order."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, grad_output):
        inverse = [0] * len(ctx.axes)
        for i, a in enumerate(ctx.axes):
            inverse[a] = i
        return permute(grad_output, tuple(inverse))


class BroadcastTo(Function):
    """out = x repeated along broadcast axes;  dL/dx = g summed back to x's shape."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return xp_of(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, grad_output):
        return sum_to(grad_output, ctx.shape)


class SumTo(Function):
    """out = x summed down to ``shape`` (the adjoint of broadcasting);  dL/dx = g broadcast."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
        out = x.sum(axis=axes, keepdims=True) if axes else x
        return out.reshape(shape) if lead else out

    @staticmethod
    def backward(ctx, grad_output):
        return broadcast_to(grad_output, ctx.shape)


class Cat(Function):
    """out = the inputs joined along ``axis``;  each input's gradient is its slice of g."""

    @staticmethod
    def forward(ctx, *xs, axis):
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        return xp_of(*xs).concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, grad_output):
        from .index import getitem
        grads = []
        start = 0
        lead = (slice(None),) * ctx.axis
        for need, size in zip(ctx.needs_input_grad, ctx.sizes):
            grads.append(getitem(grad_output, lead + (slice(start, start + size),))
                         if need else None)
            start += size
        return tuple(grads)


class Pad(Function):
    """out = x with zeros around it;  dL/dx = the centre of g.

    ``pad`` is ``((before_0, after_0), ...)`` for every axis, as in ``numpy.pad``.
    """

    @staticmethod
    def forward(ctx, x, pad, value):
        ctx.pad = pad
        return xp_of(x).pad(x, pad, constant_values=value)

    @staticmethod
    def backward(ctx, grad_output):
        from .index import getitem
        key = tuple(slice(before, n - after)
                    for (before, after), n in zip(ctx.pad, grad_output.shape))
        return getitem(grad_output, key)


def reshape(x, *shape):
    """x with a new shape (one entry may be -1); accepts ``reshape(x, 2, 3)`` or ``(2, 3)``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:  # integers only, as PyTorch: int() would have cut 2.7 down to 2 without a word
        shape = tuple(operator.index(n) for n in shape)
    except TypeError:
        raise TypeError(f"reshape: shape entries must be integers, got {tuple(shape)}") from None
    if any(n < -1 for n in shape):
        raise ValueError(f"reshape: invalid shape {shape}: each entry is a size >= 0, or -1 "
                         "(at most one) for the size inferred from the others")
    if shape == x.shape:
        return x
    if not sizes_fit(shape, x.data.size):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                         f"({x.data.size} elements) into shape {shape}")
    return Reshape.apply(x, shape=shape)


def sizes_fit(sizes, total):
    """Whether the integer ``sizes`` hold exactly ``total`` elements: each a size >= 0 or, at
    most once, -1 for the size the others leave (which must then be a whole, known number)."""
    if sizes.count(-1) > 1 or any(n < -1 for n in sizes):
        return False
    known = math.prod(n for n in sizes if n != -1)
    if -1 in sizes:
        return known > 0 and total % known == 0
    return known == total


def permute(x, *axes):
    """x with its axes in the order ``axes`` (a permutation of ``range(x.ndim)``)."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    ndim = x.ndim
    axes = tuple(normalize_axis(a, ndim, "permute") for a in axes)
    if sorted(axes) != list(range(ndim)):
        raise ValueError(f"permute: {axes} is not a permutation of the {ndim} axes of a "
                         f"tensor of shape {x.shape}")
    return Permute.apply(x, axes=axes)


def transpose(x, *axes):
    """With no axes, reverse them all (NumPy's ``.T``); with two ints, swap those two axes
    (PyTorch's ``transpose(0, 1)``); otherwise the full permutation."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    ndim = x.ndim
    if not axes:
        axes = tuple(reversed(range(ndim)))
    elif len(axes) == 2:
        a, b = (normalize_axis(a, ndim, "transpose") for a in axes)
        order = list(range(ndim))
        order[a], order[b] = order[b], order[a]
        axes = tuple(order)
    return permute(x, axes)


def broadcast_to(x, shape):
    """x broadcast to ``shape`` (NumPy rules); the gradient is summed back."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    try:
        xp_of(x.data).broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return BroadcastTo.apply(x, shape=shape)


def expand(x, *sizes):
    """PyTorch's ``expand``: like ``broadcast_to``, where -1 keeps that axis's size."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = sizes[0]
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
    return broadcast_to(x, shape)


def sum_to(x, shape):
    """x summed down to ``shape``, which x's shape must broadcast from."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return SumTo.apply(x, shape=shape)


def squeeze(x, dim=None, *, axis=None):
    """x without its size-1 axes (or only those of ``dim``, an int or a tuple, that have size 1)."""
    dim = dim_or_axis("squeeze", dim, axis)
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        axes = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = {normalize_axis(a, x.ndim, "squeeze") for a in axes}
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1))
    return reshape(x, shape)


def unsqueeze(x, dim=None, *, axis=None):
    """x with a new axis of size 1 at ``dim`` (counted in the result, as in PyTorch)."""
    dim = dim_or_axis("unsqueeze", dim, axis)
    if dim is None:
        raise TypeError("unsqueeze: missing the dim at which to insert the new axis")
    axis = normalize_axis(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def flatten(x, start_dim=0, end_dim=-1):
    """x with axes ``start_dim`` through ``end_dim`` merged into one."""
    if x.ndim == 0:
        return reshape(x, (1,))
    start = normalize_axis(start_dim, x.ndim, "flatten")
    end = normalize_axis(end_dim, x.ndim, "flatten")
    merged = 1
    for n in x.shape[start:end + 1]:
        merged *= n
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def repeat(x, *sizes):
    """PyTorch's ``repeat`` (NumPy's ``tile``): the whole tensor repeated ``sizes[i]`` times
    along axis i. Written as a broadcast between interleaved size-1 axes, so its gradient is
    the broadcast's: a sum over the copies."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: got {len(sizes)} sizes for a tensor of {x.ndim} dimensions "
                         f"(shape {x.shape}); give at least one size per dimension")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    interleaved = tuple(d for n in shape for d in (1, n))
    tiled = tuple(d for r, n in zip(sizes, shape) for d in (r, n))
    x = broadcast_to(reshape(x, interleaved), tiled)
    return reshape(x, tuple(r * n for r, n in zip(sizes, shape)))


def cat(tensors, dim=None, *, axis=None):
    """Join tensors along an existing axis ``dim`` (default 0); all other axes must agree."""
    axis = dim_or_axis("cat", dim, axis, default=0)
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    first = tensors[0].shape
    axis = normalize_axis(axis, len(first), "cat")
    for t in tensors[1:]:
        if t.ndim != len(first) or any(a != b for i, (a, b) in enumerate(zip(t.shape, first))
                                       if i != axis):
            raise ValueError(f"cat: shapes {first} and {t.shape} differ outside axis {axis}")
    return Cat.apply(*tensors, axis=axis)


def stack(tensors, dim=None, *, axis=None):
    """Join tensors of one shape along a new axis ``dim`` (default 0)."""
    axis = dim_or_axis("stack", dim, axis, default=0)
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: all tensors must have one shape, got {tensors[0].shape} "
                             f"and {t.shape}")
    axis = normalize_axis(axis, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, axis) for t in tensors], axis)


def pad(x, pad_width, value=0.0):
    """x padded with ``value``; ``pad_width`` as in ``numpy.pad``: ((before, after), ...)."""
    pad_width = tuple((int(a), int(b)) for a, b in pad_width)
    if len(pad_width) != x.ndim or any(a < 0 or b < 0 for a, b in pad_width):
        raise ValueError(f"pad: expected {x.ndim} non-negative (before, after) pairs for shape "
                         f"{x.shape}, got {pad_width}")
    return Pad.apply(x, pad=pad_width, value=value)


class Clone(Function):
    """out = a copy of x (new memory);  dL/dx = g."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


def clone(x):
    """A copy of x in new memory, differentiable (the gradient passes through unchanged)."""
    return Clone.apply(x)
