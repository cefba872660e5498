"""Pooling, unpooling and upsampling of NCHW images, backed by the kernels in ``kernels/*/pool.py``.

Every op here is linear in its input once the positions it reads are fixed (the argmax of a max
pool is fixed by the forward pass), so the ops come in adjoint pairs: the backward of each is its
partner's forward, and gradients of every order stay inside the family (STYLE C3)::

    MaxPool2d.backward(g)                 -> ScatterToIndices(g, indices)
    ScatterToIndices.backward(g)          -> GatherAtIndices(g, indices)
    GatherAtIndices.backward(g)           -> ScatterToIndices(g, indices)
    AvgPool2d  <->  AvgPool2dAdjoint      AdaptiveAvgPool2d  <->  AdaptiveAvgPool2dAdjoint
    UpsampleBilinear2d  <->  UpsampleBilinear2dAdjoint

Max unpooling is ScatterToIndices, and nearest upsampling is GatherAtIndices at fixed indices, so
neither needs a Function of its own. Indices, window sizes and interpolation weights depend on no
input that carries a gradient, so they are kept as raw arrays on ``ctx`` (STYLE C2).

Notation
--------
N, C        batch size and channels
H, W        height and width of the input plane (of the larger plane, for unpooling)
OH, OW      height and width of the output plane
KH, KW      window size;  SH, SW  stride;  PH, PW  zero padding;  DH, DW  dilation
indices     int64 flat positions ``h * W + w`` in an (H, W) plane, PyTorch's convention
"""
import numbers

import numpy as np

from ..autograd import Function
from ..checks import pair
from ..backend import kernels_for, to_device, device_of, xp_of
from ..kernels.geometry import pooled_size
from ..tensor import Tensor


def _check_image(op, x):
    """A clear error unless ``x`` is a float32 or float64 Tensor of shape (N, C, H, W)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input of shape (N, C, H, W), got shape {x.shape}")
    if x.data.dtype not in (np.float32, np.float64):  # the kernels are compiled for these two
        raise TypeError(f"{op}: expected a floating-point input (float32 or float64), got dtype "
                        f"{x.data.dtype}")


def _window_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validated ``(KH, KW, SH, SW, PH, PW, DH, DW)`` of a pooling window over ``x``."""
    KH, KW = pair(op, "kernel_size", kernel_size)
    SH, SW = (KH, KW) if stride is None else pair(op, "stride", stride)
    PH, PW = pair(op, "padding", padding)
    DH, DW = pair(op, "dilation", dilation)
    for name, values, low in (("kernel_size", (KH, KW), 1), ("stride", (SH, SW), 1),
                            ("padding", (PH, PW), 0), ("dilation", (DH, DW), 1)):
        if min(values) < low:
            raise ValueError(f"{op}: {name} must be >= {low}, got {values}")
    # PyTorch's rule: more padding would allow windows made only of padding.
    if PH > KH // 2 or PW > KW // 2:
        raise ValueError(f"{op}: padding {(PH, PW)} must be at most half of kernel_size "
                         f"{(KH, KW)}")
    H, W = x.shape[2], x.shape[3]
    span = (DH * (KH - 1) + 1, DW * (KW - 1) + 1)
    if span[0] > H + 2 * PH or span[1] > W + 2 * PW:
        raise ValueError(f"{op}: the window spans {span} (kernel_size {(KH, KW)}, dilation "
                         f"{(DH, DW)}), more than the padded input {(H + 2 * PH, W + 2 * PW)} "
                         f"of an input of shape {x.shape}")
    # With dilation, a window's taps can all land in the padding; its max would be undefined.
    for axis, L, K, S, P, D in (("height", H, KH, SH, PH, DH), ("width", W, KW, SW, PW, DW)):
        if D > 1:
            for o in range(pooled_size(L, K, S, P, D, ceil_mode)):
                if not any(0 <= o * S - P + k * D < L for k in range(K)):
                    raise ValueError(f"{op}: along the {axis}, window {o} (of input size {L}, "
                                     f"kernel {K}, stride {S}, padding {P}, dilation {D}) "
                                     "touches only padding")
    return (KH, KW, SH, SW, PH, PW, DH, DW)


def _as_indices(op, indices, x, H, W):
    """``indices`` as an int64 array on ``x``'s device, checked to lie in ``[0, H*W)``.

    This runs before any kernel: the kernels index with these values unchecked.
    """
    data = indices.data if isinstance(indices, Tensor) else indices
    if not hasattr(data, "dtype") or data.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be an integer Tensor or array, got "
                        f"{getattr(data, 'dtype', type(data).__name__)}")
    if tuple(data.shape) != tuple(x.shape):
        raise ValueError(f"{op}: indices of shape {tuple(data.shape)} must have the shape of "
                         f"the input {x.shape}")
    data = to_device(data, device_of(x.data)).astype(np.int64, copy=False)
    if data.size and (int(data.min()) < 0 or int(data.max()) >= H * W):
        raise IndexError(f"{op}: indices must lie in [0, {H * W}) for an output plane of "
                         f"{H}x{W}, got values in [{int(data.min())}, {int(data.max())}]")
    return data


class MaxPool2d(Function):
    """y = max of x over each window (indices = where);  dL/dx = g scattered to the indices."""

    @staticmethod
    def forward(ctx, x, geometry, ceil_mode):
        y, indices = kernels_for(x).max_pool2d(x, *geometry, ceil_mode)
        ctx.indices = indices  # only indexes in backward: its derivative is zero (STYLE C2)
        ctx.plane = x.shape[2:]
        return (y, indices)

    @staticmethod
    def backward(ctx, grad_output, grad_indices):
        return ScatterToIndices.apply(grad_output, indices=ctx.indices, plane=ctx.plane)


class ScatterToIndices(Function):
    """out[n, c].flat[indices] += x;  dL/dx = g[n, c].flat[indices] (a gather)."""

    @staticmethod
    def forward(ctx, x, indices, plane):
        ctx.indices = indices
        return kernels_for(x).scatter_to_indices(x, indices, *plane)

    @staticmethod
    def backward(ctx, grad_output):
        return GatherAtIndices.apply(grad_output, indices=ctx.indices)


class GatherAtIndices(Function):
    """out = x[n, c].flat[indices];  dL/dx = g scattered (added) to the indices."""

    @staticmethod
    def forward(ctx, x, indices):
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
    _check_image("max_pool2d", x)
    if not isinstance(return_indices, (bool, np.bool_)):
        # PyTorch's fifth argument is dilation; here (API.md) it is return_indices.
        raise TypeError(f"max_pool2d: return_indices must be a bool, got {return_indices!r}; "
                        "pass dilation and ceil_mode by keyword")
    geometry = _window_geometry("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    y, indices = MaxPool2d.apply(x, geometry=geometry, ceil_mode=bool(ceil_mode))
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
    _check_image(op, x)
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
    return ScatterToIndices.apply(x, indices=_as_indices(op, indices, x, H, W), plane=(H, W))


class AvgPool2d(Function):
    """y = sum of x over each window / divisor;  dL/dx = g / divisor spread over each window."""

    @staticmethod
    def forward(ctx, x, geometry, ceil_mode, count_include_pad):
        ctx.plane = x.shape[2:]
        ctx.geometry, ctx.ceil_mode, ctx.count_include_pad = geometry, ceil_mode, count_include_pad
        return kernels_for(x).avg_pool2d(x, *geometry, ceil_mode, count_include_pad)

    @staticmethod
    def backward(ctx, grad_output):
        return AvgPool2dAdjoint.apply(grad_output, plane=ctx.plane, geometry=ctx.geometry,
                                      ceil_mode=ctx.ceil_mode,
                                      count_include_pad=ctx.count_include_pad)


class AvgPool2dAdjoint(Function):
    """out = x / divisor spread over each window (transposed AvgPool2d);  dL/dx = AvgPool2d(g)."""

    @staticmethod
    def forward(ctx, x, plane, geometry, ceil_mode, count_include_pad):
        ctx.geometry, ctx.ceil_mode, ctx.count_include_pad = geometry, ceil_mode, count_include_pad
        return kernels_for(x).avg_pool2d_adjoint(x, *plane, *geometry, count_include_pad)

    @staticmethod
    def backward(ctx, grad_output):
        return AvgPool2d.apply(grad_output, geometry=ctx.geometry, ceil_mode=ctx.ceil_mode,
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
    _check_image("avg_pool2d", x)
    geometry = _window_geometry("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    return AvgPool2d.apply(x, geometry=geometry[:6], ceil_mode=bool(ceil_mode),
                           count_include_pad=bool(count_include_pad))


class AdaptiveAvgPool2d(Function):
    """y = mean of x over window [floor(oh*H/OH), ceil((oh+1)*H/OH));  dL/dx = g spread back."""

    @staticmethod
    def forward(ctx, x, size):
        ctx.plane = x.shape[2:]
        return kernels_for(x).adaptive_avg_pool2d(x, *size)

    @staticmethod
    def backward(ctx, grad_output):
        return AdaptiveAvgPool2dAdjoint.apply(grad_output, plane=ctx.plane)


class AdaptiveAvgPool2dAdjoint(Function):
    """out = x spread evenly over each adaptive window;  dL/dx = AdaptiveAvgPool2d(g)."""

    @staticmethod
    def forward(ctx, x, plane):
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
    _check_image(op, x)
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    sizes = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(sizes))
    OH, OW = pair(op, "output_size", sizes)
    if OH < 1 or OW < 1:
        raise ValueError(f"{op}: output_size must be >= 1, got {(OH, OW)} for an input of "
                         f"shape {x.shape}")
    return AdaptiveAvgPool2d.apply(x, size=(OH, OW))


class UpsampleBilinear2d(Function):
    """y = bilinear mix of the 4 source cells with weights from the tables;  dL/dx = adjoint(g).

    The tables (source rows, columns and their weights) depend only on the sizes, so they are
    constants for differentiation and are kept as raw arrays.
    """

    @staticmethod
    def forward(ctx, x, tables):
        ctx.tables = tables
        ctx.plane = x.shape[2:]
        return kernels_for(x).upsample_bilinear2d(x, *tables)

    @staticmethod
    def backward(ctx, grad_output):
        return UpsampleBilinear2dAdjoint.apply(grad_output, tables=ctx.tables, plane=ctx.plane)


class UpsampleBilinear2dAdjoint(Function):
    """out = each x cell sent to its 4 source cells, weighted;  dL/dx = UpsampleBilinear2d(g)."""

    @staticmethod
    def forward(ctx, x, tables, plane):
        ctx.tables = tables
        return kernels_for(x).upsample_bilinear2d_adjoint(x, *tables, *plane)

    @staticmethod
    def backward(ctx, grad_output):
        return UpsampleBilinear2d.apply(grad_output, tables=ctx.tables)


def _nearest_source(L, O, scale):
    """Source row of each of O output rows, PyTorch's legacy 'nearest' rule (in float32)."""
    if O == L:
        return np.arange(O)
    if O == 2 * L:
        return np.arange(O) // 2
    ratio = np.float32(1.0 / scale) if scale else np.float32(L) / np.float32(O)
    return np.minimum(np.floor(np.arange(O, dtype=np.float32) * ratio).astype(np.int64), L - 1)


def _linear_source(L, O, scale, align_corners, dtype):
    """Rows ``i0, i1`` around each output row's source coordinate, and the weight of ``i1``.

    Computed in the input's precision as PyTorch does. Without ``align_corners`` the pixel
    centres line up (``src = (o + 0.5) * L/O - 0.5``, clamped at 0); with it, the corner pixels do
    (``src = o * (L-1)/(O-1)``).
    """
    o = np.arange(O, dtype=dtype)
    if align_corners:
        ratio = dtype(L - 1) / dtype(O - 1) if O > 1 else dtype(0)
        src = ratio * o
    else:
        ratio = dtype(1.0 / scale) if scale else dtype(L) / dtype(O)
        src = np.maximum(ratio * (o + dtype(0.5)) - dtype(0.5), dtype(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), L - 1)
    i1 = i0 + (i0 < L - 1)
    weight = np.clip(src - i0, 0, 1).astype(dtype)
    return (i0, i1, weight)


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None):
    """Resize each plane to a new height and width, PyTorch's ``F.interpolate`` for 2-D images.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    size : int or (int, int), optional
        (OH, OW); give exactly one of ``size`` and ``scale_factor``.
    scale_factor : float or (float, float), optional
        ``OH = floor(H * scale_factor)``; the factor itself (not OH/H) then sets the source
        positions, as in PyTorch, unless ``recompute_scale_factor`` is True.
    mode : {'nearest', 'bilinear'}
        'nearest' reads row ``min(floor(oh * H/OH), H - 1)`` (PyTorch's 'nearest', computed in
        float32); 'bilinear' mixes the four nearest cells.
    align_corners : bool, optional
        Bilinear only (None means False): map the corner pixels onto each other instead of the
        pixel grids' outer edges.

    Returns
    -------
    y : Tensor, shape (N, C, OH, OW)

    >>> import minigrad as mg
    >>> interpolate(mg.tensor([[[[1., 2.]]]]), size=(1, 4)).tolist()
    [[[[1.0, 1.0, 2.0, 2.0]]]]
    >>> x = mg.tensor([[[[1., 2.]]]])
    >>> interpolate(x, size=(1, 3), mode='bilinear', align_corners=True).tolist()
    [[[[1.0, 1.5, 2.0]]]]
    """
    op = "interpolate"
    _check_image(op, x)
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"{op}: mode must be 'nearest' or 'bilinear', got {mode!r}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError(f"{op}: align_corners applies to mode 'bilinear' only, got "
                         f"align_corners={align_corners} with mode 'nearest'")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor, got size={size!r} "
                         f"and scale_factor={scale_factor!r}")
    H, W = x.shape[2], x.shape[3]
    if size is not None:
        OH, OW = pair(op, "size", size)
        scales = (None, None)
    else:
        scales = (tuple(scale_factor) if isinstance(scale_factor, (tuple, list))
                  else (scale_factor,) * 2)
        if len(scales) != 2 or not all(isinstance(s, numbers.Real) and s > 0 for s in scales):
            raise ValueError(f"{op}: scale_factor must be a positive number or a pair of them, "
                             f"got {scale_factor!r}")
        OH, OW = int(np.floor(H * float(scales[0]))), int(np.floor(W * float(scales[1])))
        if recompute_scale_factor:
            scales = (None, None)
    if OH < 1 or OW < 1:
        raise ValueError(f"{op}: the output size {(OH, OW)} of an input of shape {x.shape} must "
                         f"be at least 1x1 (size={size!r}, scale_factor={scale_factor!r})")
    xp = xp_of(x.data)
    if mode == "nearest":
        rows, cols = _nearest_source(H, OH, scales[0]), _nearest_source(W, OW, scales[1])
        # One (OH, OW) table viewed as (N, C, OH, OW): nearest upsampling is a gather.
        plane_indices = xp.asarray(rows[:, None] * W + cols[None, :])
        indices = xp.broadcast_to(plane_indices, (x.shape[0], x.shape[1], OH, OW))
        return GatherAtIndices.apply(x, indices=indices)
    dtype = x.data.dtype.type
    tables = (_linear_source(H, OH, scales[0], bool(align_corners), dtype)
              + _linear_source(W, OW, scales[1], bool(align_corners), dtype))
    return UpsampleBilinear2d.apply(x, tables=tuple(xp.asarray(t) for t in tables))
