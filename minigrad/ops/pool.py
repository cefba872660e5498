"""Pooling and unpooling of NCHW images, backed by the kernels in ``kernels/*/pool.py``.

Every op here is linear in its input once the positions it reads are fixed (the argmax of a max
pool is fixed by the forward pass), so the ops come in adjoint pairs: the backward of each is its
partner's forward, and gradients of every order stay inside the family (STYLE C3)::

    MaxPool2d.backward(g)                 -> ScatterToIndices(g, indices)
    ScatterToIndices.backward(g)          -> GatherAtIndices(g, indices)
    GatherAtIndices.backward(g)           -> ScatterToIndices(g, indices)
    AvgPool2d  <->  AvgPool2dAdjoint      AdaptiveAvgPool2d  <->  AdaptiveAvgPool2dAdjoint

Max unpooling is ScatterToIndices, and nearest resampling (``ops/resample.py``) is
GatherAtIndices at fixed indices, so neither needs a Function of its own. Indices and window
sizes depend on no input that carries a gradient, so they are kept as raw arrays on ``ctx``
(STYLE C2), and every Function takes them as keyword-only parameters: its backward returns
exactly one gradient, for its one tensor input.

Bad input never reaches a kernel: the wrappers check dtypes (float32 or float64), shapes
(the (H, W) plane at least 1x1; N and C may be 0, giving an empty result) and the window
geometry with ``kernels/geometry.py``, and raise a ValueError or TypeError that names the op.

Notation
--------
N, C        batch size and channels
H, W        height and width of the input plane (of the larger plane, for unpooling)
OH, OW      height and width of the output plane
KH, KW      window size;  SH, SW  stride;  PH, PW  zero padding;  DH, DW  dilation
indices     int64 flat positions ``h * W + w`` in an (H, W) plane, PyTorch's convention
"""
import numpy as np

from ..autograd import Function
from ..checks import check_bool, pair
from ..backend import device_of, kernels_for, to_device, xp_of
from ..kernels import geometry
from ..tensor import Tensor


def check_image(op, x):
    """A clear error unless ``x`` is a float32 or float64 Tensor of shape (N, C, H, W) whose
    (H, W) plane is at least 1x1."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input of shape (N, C, H, W), got shape {x.shape}")
    geometry.check_float(op, "the input", x.data.dtype)
    geometry.check_planes(op, x.shape, "the input")


def _window_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validated ``(KH, KW, SH, SW, PH, PW, DH, DW)`` of a pooling window over ``x``."""
    KH, KW = pair(op, "kernel_size", kernel_size)
    SH, SW = (KH, KW) if stride is None else pair(op, "stride", stride)
    PH, PW = pair(op, "padding", padding)
    DH, DW = pair(op, "dilation", dilation)
    geometry.pool_shape(op, x.shape, KH, KW, SH, SW, PH, PW, DH, DW, ceil_mode)
    return (KH, KW, SH, SW, PH, PW, DH, DW)


def _as_indices(op, indices, x, H, W):
    """``indices`` as an int64 array on ``x``'s device, checked to lie in ``[0, H*W)``, and
    whether it is the caller's own array (not a copy made here).

    The check runs before any kernel, so that the error names the op and the values: one pass,
    the largest value read as unsigned (a negative one reads as larger than any plane), where
    the minimum and the maximum took two; they are computed only for the error.
    """
    data = indices.data if isinstance(indices, Tensor) else indices
    if not hasattr(data, "dtype") or data.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer Tensor or array, got "
                        f"{getattr(data, 'dtype', type(data).__name__)}")
    if tuple(data.shape) != tuple(x.shape):
        raise ValueError(f"{op}: indices of shape {tuple(data.shape)} must have the shape of "
                         f"the input {x.shape}")
    moved = to_device(data, device_of(x.data)).astype(np.int64, copy=False)
    if moved.size and int(moved.view(np.uint64).max()) >= H * W:
        raise IndexError(f"{op}: indices must lie in [0, {H * W}) for an output plane of "
                         f"{H}x{W}, got values in [{int(moved.min())}, {int(moved.max())}]")
    return moved, moved is data


class MaxPool2d(Function):
    """y = max of x over each window (indices = where);  dL/dx = g scattered to the indices."""

    @staticmethod
    def forward(ctx, x, *, window, ceil_mode):
        y, indices = kernels_for(x).max_pool2d(x, *window, ceil_mode)
        ctx.indices = indices  # only indexes in backward: its derivative is zero (STYLE C2)
        ctx.plane = x.shape[2:]
        return (y, indices)

    @staticmethod
    def backward(ctx, grad_output, grad_indices):
        return ScatterToIndices.apply(grad_output, indices=ctx.indices, plane=ctx.plane)


class ScatterToIndices(Function):
    """out[n, c].flat[indices] += x;  dL/dx = g[n, c].flat[indices] (a gather).

    ``copy_indices=True`` (max_unpool2d, whose indices are the caller's array): the backward
    gathers at a copy of them, which the kernel writes as it reads them, since the caller may
    change its own array after the forward (as ``where`` copies its mask)."""

    @staticmethod
    def forward(ctx, x, *, indices, plane, copy_indices=False):
        ctx.indices = xp_of(x).empty(indices.shape, np.int64) if copy_indices else indices
        return kernels_for(x).scatter_to_indices(
            x, indices, *plane, indices_copy=ctx.indices if copy_indices else None)

    @staticmethod
    def backward(ctx, grad_output):
        return GatherAtIndices.apply(grad_output, indices=ctx.indices)


class GatherAtIndices(Function):
    """out = x[n, c].flat[indices];  dL/dx = g scattered (added) to the indices."""

    @staticmethod
    def forward(ctx, x, *, indices):
        ctx.indices = indices
        ctx.plane = x.shape[2:]
        return kernels_for(x).gather_at_indices(x, indices)

    @staticmethod
    def backward(ctx, grad_output):
        return ScatterToIndices.apply(grad_output, indices=ctx.indices, plane=ctx.plane)


def max_pool2d(x, kernel_size, stride=None, padding=0, return_indices=False, *, dilation=1,
               ceil_mode=False):
    """Max over sliding windows of each plane; padding counts as -inf.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    kernel_size, stride, padding, dilation : int or (int, int)
        ``stride`` defaults to ``kernel_size``; ``padding`` is at most half the kernel.
    return_indices : bool
        Also return where each maximum came from (for :func:`max_unpool2d`).
    ceil_mode : bool
        Round the output size up instead of down, as in PyTorch.

    Returns
    -------
    y : Tensor, shape (N, C, OH, OW), ``OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1``
    indices : Tensor of int64, shape (N, C, OH, OW), only with ``return_indices``
        Flat positions ``h * W + w`` in each input plane; the first one wins a tie.

    >>> import minigrad as mg
    >>> x = mg.tensor([[[[1., 2.], [4., 3.]]]])
    >>> y, i = max_pool2d(x, 2, return_indices=True)
    >>> y.tolist(), i.tolist()
    ([[[[4.0]]]], [[[[2]]]])
    """
    check_image("max_pool2d", x)
    if not isinstance(return_indices, (bool, np.bool_)):
        # PyTorch's fifth argument is dilation; here (API.md) it is return_indices.
        raise TypeError(f"max_pool2d: return_indices must be a bool, got {return_indices!r}; "
                        "pass dilation and ceil_mode by keyword")
    ceil_mode = check_bool("max_pool2d", "ceil_mode", ceil_mode)
    window = _window_geometry("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    y, indices = MaxPool2d.apply(x, window=window, ceil_mode=ceil_mode)
    return (y, indices.detach()) if return_indices else y


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Put each value back where :func:`max_pool2d` found it, zeros elsewhere.

    Where pooling windows overlap, two cells of ``x`` can carry the same index. PyTorch then
    *assigns* (one of the values survives); this adds them, because the same scatter-add is the
    backward of max pooling and keeps unpooling linear, so that its gradient is a plain gather.
    The two agree whenever the windows do not overlap (stride >= kernel_size), the usual case.

    Parameters
    ----------
    x : Tensor, shape (N, C, h, w)
    indices : Tensor of int64, shape (N, C, h, w), values in ``[0, H*W)``
    kernel_size, stride, padding : int or (int, int), as given to :func:`max_pool2d`
    output_size : (int, int) or (N, C, H, W), optional
        Picks among the input sizes that pool to (h, w); must lie strictly within one stride
        of the default.

    Returns
    -------
    out : Tensor, shape (N, C, H, W), ``H = (h - 1)*SH - 2*PH + KH`` unless ``output_size``

    >>> import minigrad as mg
    >>> x = mg.tensor([[[[1., 2.], [4., 3.]]]])
    >>> y, i = max_pool2d(x, 2, return_indices=True)
    >>> max_unpool2d(y, i, 2).tolist()
    [[[[0.0, 0.0], [4.0, 0.0]]]]
    """
    op = "max_unpool2d"
    check_image(op, x)
    KH, KW = pair(op, "kernel_size", kernel_size)
    SH, SW = (KH, KW) if stride is None else pair(op, "stride", stride)
    PH, PW = pair(op, "padding", padding)
    if min(KH, KW, SH, SW) < 1 or min(PH, PW) < 0:
        raise ValueError(f"{op}: kernel_size {(KH, KW)} and stride {(SH, SW)} must be >= 1 and "
                         f"padding {(PH, PW)} >= 0")
    default = ((x.shape[2] - 1) * SH - 2 * PH + KH, (x.shape[3] - 1) * SW - 2 * PW + KW)
    if output_size is None:
        H, W = default
    else:
        size = tuple(output_size)
        if len(size) == 4:
            size = size[2:]
        H, W = pair(op, "output_size", size)
        if not all(d - s < o < d + s for o, d, s in zip((H, W), default, (SH, SW))):
            raise ValueError(f"{op}: output_size {(H, W)} must lie strictly between "
                             f"{(default[0] - SH, default[1] - SW)} and "
                             f"{(default[0] + SH, default[1] + SW)} for an input of shape "
                             f"{x.shape}")
    if H < 1 or W < 1:
        raise ValueError(f"{op}: the output plane {(H, W)} of an input of shape {x.shape} is empty")
    data, theirs = _as_indices(op, indices, x, H, W)
    return ScatterToIndices.apply(x, indices=data, plane=(H, W), copy_indices=theirs)


class AvgPool2d(Function):
    """y = sum of x over each window / divisor;  dL/dx = g / divisor spread over each window."""

    @staticmethod
    def forward(ctx, x, *, window, ceil_mode, count_include_pad):
        ctx.plane = x.shape[2:]
        ctx.window, ctx.ceil_mode, ctx.count_include_pad = window, ceil_mode, count_include_pad
        return kernels_for(x).avg_pool2d(x, *window, ceil_mode, count_include_pad)

    @staticmethod
    def backward(ctx, grad_output):
        return AvgPool2dAdjoint.apply(grad_output, plane=ctx.plane, window=ctx.window,
                                      ceil_mode=ctx.ceil_mode,
                                      count_include_pad=ctx.count_include_pad)


class AvgPool2dAdjoint(Function):
    """out = x / divisor spread over each window (transposed AvgPool2d);  dL/dx = AvgPool2d(g)."""

    @staticmethod
    def forward(ctx, x, *, plane, window, ceil_mode, count_include_pad):
        ctx.window, ctx.ceil_mode, ctx.count_include_pad = window, ceil_mode, count_include_pad
        return kernels_for(x).avg_pool2d_adjoint(x, *plane, *window, count_include_pad)

    @staticmethod
    def backward(ctx, grad_output):
        return AvgPool2d.apply(grad_output, window=ctx.window, ceil_mode=ctx.ceil_mode,
                               count_include_pad=ctx.count_include_pad)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over sliding windows of each plane.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    kernel_size, stride, padding : int or (int, int)
        ``stride`` defaults to ``kernel_size``; ``padding`` is at most half the kernel.
    ceil_mode : bool
        Round the output size up instead of down.
    count_include_pad : bool
        Divide by the window size including zero padding (PyTorch's default) or by the number
        of input cells in the window.

    Returns
    -------
    y : Tensor, shape (N, C, OH, OW), ``OH = (H + 2*PH - KH) // SH + 1``

    >>> import minigrad as mg
    >>> avg_pool2d(mg.tensor([[[[1., 2.], [4., 3.]]]]), 2).tolist()
    [[[[2.5]]]]
    """
    check_image("avg_pool2d", x)
    ceil_mode = check_bool("avg_pool2d", "ceil_mode", ceil_mode)
    count_include_pad = check_bool("avg_pool2d", "count_include_pad", count_include_pad)
    window = _window_geometry("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    return AvgPool2d.apply(x, window=window[:6], ceil_mode=ceil_mode,
                           count_include_pad=count_include_pad)


class AdaptiveAvgPool2d(Function):
    """y = mean of x over window [floor(oh*H/OH), ceil((oh+1)*H/OH));  dL/dx = g spread back."""

    @staticmethod
    def forward(ctx, x, *, size):
        ctx.plane = x.shape[2:]
        return kernels_for(x).adaptive_avg_pool2d(x, *size)

    @staticmethod
    def backward(ctx, grad_output):
        return AdaptiveAvgPool2dAdjoint.apply(grad_output, plane=ctx.plane)


class AdaptiveAvgPool2dAdjoint(Function):
    """out = x spread evenly over each adaptive window;  dL/dx = AdaptiveAvgPool2d(g)."""

    @staticmethod
    def forward(ctx, x, *, plane):
        ctx.size = x.shape[2:]
        return kernels_for(x).adaptive_avg_pool2d_adjoint(x, *plane)

    @staticmethod
    def backward(ctx, grad_output):
        return AdaptiveAvgPool2d.apply(grad_output, size=ctx.size)


def adaptive_avg_pool2d(x, output_size):
    """Mean over windows that tile each plane into an OH x OW grid, whatever its size.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    output_size : int or (int or None, int or None)
        (OH, OW); None keeps that side of the input.

    Returns
    -------
    y : Tensor, shape (N, C, OH, OW); cell ``oh`` averages rows ``floor(oh*H/OH)`` up to
        ``ceil((oh+1)*H/OH) - 1``, so windows overlap when OH does not divide H.

    >>> import minigrad as mg
    >>> adaptive_avg_pool2d(mg.tensor([[[[1., 2., 3.]]]]), (1, 2)).tolist()
    [[[[1.5, 2.5]]]]
    """
    op = "adaptive_avg_pool2d"
    check_image(op, x)
    return AdaptiveAvgPool2d.apply(x, size=_adaptive_size(op, x, output_size))


def _adaptive_size(op, x, output_size):
    """(OH, OW) of an adaptive pool: an int for both sides, or a pair where None keeps that
    side of x; each at least 1."""
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    sizes = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(sizes))
    OH, OW = pair(op, "output_size", sizes)
    if OH < 1 or OW < 1:
        raise ValueError(f"{op}: output_size must be >= 1, got {(OH, OW)} for an input of "
                         f"shape {x.shape}")
    return OH, OW


def _adaptive_windows(L, O):
    """For O adaptive windows over an axis of L: a (O, K) table of positions, K the largest
    window, and a (O, K) mask of the entries that are inside their window (the rest repeat
    the window's first position). Window o covers floor(o·L/O) up to ceil((o+1)·L/O) − 1."""
    starts = np.arange(O) * L // O
    stops = -(-(np.arange(O) + 1) * L // O)
    K = int((stops - starts).max())
    offsets = np.arange(K)
    inside = offsets[None, :] < (stops - starts)[:, None]
    return np.where(inside, starts[:, None] + offsets[None, :], starts[:, None]), inside


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """Maximum over windows that tile each plane into an OH x OW grid, whatever its size
    (the windows of :func:`adaptive_avg_pool2d`).

    The forward finds where each maximum is (the first in row-major order on a tie, a NaN
    winning as in PyTorch) and then reads x there with ``GatherAtIndices``, so the gradient
    goes to that one position, as in PyTorch.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    output_size : int or (int or None, int or None)
        (OH, OW); None keeps that side of the input.
    return_indices : bool
        Also return the flat positions ``h * W + w`` of the maxima (for :func:`max_unpool2d`).

    >>> import minigrad as mg
    >>> y, i = adaptive_max_pool2d(mg.tensor([[[[1., 5., 3.]]]]), (1, 2), return_indices=True)
    >>> y.tolist(), i.tolist()
    ([[[[5.0, 5.0]]]], [[[[1, 1]]]])
    """
    op = "adaptive_max_pool2d"
    check_image(op, x)
    check_bool(op, "return_indices", return_indices)
    OH, OW = _adaptive_size(op, x, output_size)
    N, C, H, W = x.shape
    rows, row_inside = _adaptive_windows(H, OH)           # (OH, KH)
    cols, col_inside = _adaptive_windows(W, OW)           # (OW, KW)
    # flat positions of every tap of every window, (OH, OW, KH·KW), row-major within a window
    table = (rows[:, None, :, None] * W + cols[None, :, None, :]).reshape(OH, OW, -1)
    inside = (row_inside[:, None, :, None] & col_inside[None, :, None, :]).reshape(OH, OW, -1)
    data = x.data
    xp = xp_of(data)
    table, inside = xp.asarray(table), xp.asarray(inside)
    values = data.reshape(N, C, H * W)[:, :, table]       # (N, C, OH, OW, KH·KW)
    values = xp.where(inside, values, -xp.inf)
    # np.argmax takes the first maximum, and a NaN as the maximum (PyTorch's max pooling rule)
    tap = xp.argmax(values, axis=-1)
    indices = xp.take_along_axis(xp.broadcast_to(table, values.shape), tap[..., None],
                                 axis=-1)[..., 0].astype(np.int64)
    y = GatherAtIndices.apply(x, indices=indices)
    return (y, Tensor._wrap(indices)) if return_indices else y


def __getattr__(name):
    """``ops.pool.interpolate``, the old home of ``interpolate``, now ``ops.resample``'s; looked
    up lazily because ops/resample.py imports this module."""
    if name == "interpolate":
        from .resample import interpolate
        return interpolate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
