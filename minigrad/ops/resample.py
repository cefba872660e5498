"""Resampling of images and sequences: ``interpolate``, PyTorch's rules and coordinates.

Every mode is linear in the input at source positions fixed by the sizes alone, so each is one
op of a closed adjoint family (STYLE C3), or a composition of such ops::

    nearest, nearest-exact:  GatherAtIndices(x, indices)   <->  ScatterToIndices   (ops/pool.py)
    bilinear, linear:        UpsampleBilinear2d(x, tables) <->  UpsampleBilinear2dAdjoint
    bicubic:                 x[..., taps] * weights, summed over the 4 taps, along W then H
                             (getitem <-> its scatter-add, mul, sum: no Function of its own)

'linear' on (N, C, L) is 'bilinear' on (N, C, 1, L); the nearest modes take (N, C, L) the same
way. The tables (source rows, columns and weights) depend on no input that carries a gradient, so
they are raw arrays, passed as keyword-only parameters. They are built here, on the host, from
sizes checked to be at least 1, so every source row and column lies inside the input; the
kernels (``kernels/*/resample.py``) check their shapes again.

Notation
--------
N, C        batch size and channels (either may be 0: the result is then empty)
H, W        height and width of the input plane, at least 1
OH, OW      height and width of the output plane, at least 1
L, O        one axis of (H, W) and of (OH, OW); o an output row, src its source coordinate
h0, h1, lh  the two source rows of each output row and the weight of ``h1``; w0, w1, lw alike
t           the fraction ``src - floor(src)`` that sets the 4 cubic weights
"""
import math
import numbers

import numpy as np

from ..autograd import Function
from ..backend import kernels_for, xp_of
from ..checks import check_number, pair
from ..kernels import geometry
from ..tensor import Tensor
from .pool import GatherAtIndices, check_image


class UpsampleBilinear2d(Function):
    """y = bilinear mix of the 4 source cells with weights from the tables;  dL/dx = adjoint(g).

    The tables (source rows, columns and their weights) depend only on the sizes, so they are
    constants for differentiation and are kept as raw arrays.
    """

    @staticmethod
    def forward(ctx, x, *, tables):
        ctx.tables = tables
        ctx.plane = x.shape[2:]
        return kernels_for(x).upsample_bilinear2d(x, *tables)

    @staticmethod
    def backward(ctx, grad_output):
        return UpsampleBilinear2dAdjoint.apply(grad_output, tables=ctx.tables, plane=ctx.plane)


class UpsampleBilinear2dAdjoint(Function):
    """out = each x cell sent to its 4 source cells, weighted;  dL/dx = UpsampleBilinear2d(g)."""

    @staticmethod
    def forward(ctx, x, *, tables, plane):
        ctx.tables = tables
        return kernels_for(x).upsample_bilinear2d_adjoint(x, *tables, *plane)

    @staticmethod
    def backward(ctx, grad_output):
        return UpsampleBilinear2d.apply(grad_output, tables=ctx.tables)


def _scale_ratio(L, O, scale, align_corners, dtype):
    """PyTorch's step between source coordinates: ``(L-1)/(O-1)`` with ``align_corners``,
    else ``1/scale_factor`` when one was given, else ``L/O``; in the precision ``dtype``."""
    if align_corners:
        return dtype(L - 1) / dtype(O - 1) if O > 1 else dtype(0)
    return dtype(1.0 / scale) if scale else dtype(L) / dtype(O)


def _nearest_source(L, O, scale):
    """Source row of each of O output rows, PyTorch's legacy 'nearest' rule (in float32):
    ``src = min(floor(o * L/O), L - 1)``."""
    if O == L:
        return np.arange(O)
    if O == 2 * L:
        return np.arange(O) // 2
    ratio = _scale_ratio(L, O, scale, False, np.float32)
    return np.minimum(np.floor(np.arange(O, dtype=np.float32) * ratio).astype(np.int64), L - 1)


def _nearest_exact_source(L, O, scale):
    """Source row of each of O output rows, 'nearest-exact': the pixel centres line up,
    ``src = min(floor((o + 0.5) * L/O), L - 1)``.

    PyTorch forms ``(o + 0.5) * ratio`` in double with a float32 ratio and rounds it to float32
    before the floor; doing the same keeps ties (e.g. L/O = 3/2 at o = 1) on its side.
    """
    ratio = np.float64(_scale_ratio(L, O, scale, False, np.float32))
    src = ((np.arange(O) + 0.5) * ratio).astype(np.float32)
    return np.minimum(np.floor(src).astype(np.int64), L - 1)


def _linear_source(L, O, scale, align_corners, dtype):
    """Rows ``i0, i1`` around each output row's source coordinate, and the weight of ``i1``.

    Computed in the input's precision as PyTorch does. Without ``align_corners`` the pixel
    centres line up (``src = (o + 0.5) * L/O - 0.5``, clamped at 0); with it, the corner pixels do
    (``src = o * (L-1)/(O-1)``).
    """
    o = np.arange(O, dtype=dtype)
    ratio = _scale_ratio(L, O, scale, align_corners, dtype)
    src = ratio * o if align_corners else np.maximum(ratio * (o + dtype(0.5)) - dtype(0.5),
                                                     dtype(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), L - 1)
    i1 = i0 + (i0 < L - 1)
    weight = np.clip(src - i0, 0, 1).astype(dtype)
    return (i0, i1, weight)


def _cubic_source(L, O, scale, align_corners, dtype):
    """The 4 source rows of each output row and their weights, shapes (O, 4) and (O, 4).

    ``src`` is as in :func:`_linear_source` but not clamped at 0 (it may reach -0.5); with
    ``i = floor(src)`` and ``t = src - i`` the taps are rows ``i-1, i, i+1, i+2``, clamped to
    ``[0, L)`` (the border row repeats), weighted by the cubic convolution kernel with A = -0.75::

        k(d) = (A+2)|d|^3 - (A+3)|d|^2 + 1          for |d| <= 1
        k(d) = A|d|^3 - 5A|d|^2 + 8A|d| - 4A         for 1 < |d| < 2

    at distances ``d = t+1, t, 1-t, 2-t``. The weights sum to 1 for every t.
    """
    o = np.arange(O, dtype=dtype)
    ratio = _scale_ratio(L, O, scale, align_corners, dtype)
    src = ratio * o if align_corners else ratio * (o + dtype(0.5)) - dtype(0.5)
    # PyTorch's guard: i at most L-1 and t in [0, 1], which only matters at rounding.
    i = np.minimum(np.floor(src).astype(np.int64), L - 1)
    t = np.clip(src - i, 0, 1).astype(dtype)
    A = dtype(-0.75)
    near = lambda d: ((A + 2) * d - (A + 3)) * d * d + 1  # noqa: E731
    far = lambda d: ((A * d - 5 * A) * d + 8 * A) * d - 4 * A  # noqa: E731
    weights = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=1).astype(dtype)
    taps = np.clip(i[:, None] + np.arange(-1, 3), 0, L - 1)
    return (taps, weights)


def _bicubic(x, sizes, scales, align_corners):
    """Bicubic resampling as gathers and weighted sums: along W, then along H.

    Each pass gathers the 4 taps of every output column (4 copies of the partial result, so
    memory grows linearly with the output), weights them and sums them out.
    """
    xp = xp_of(x.data)
    dtype = x.data.dtype.type
    (OH, OW), (H, W) = sizes, x.shape[2:]
    cols, col_weights = _cubic_source(W, OW, scales[1], align_corners, dtype)
    y = (x[:, :, :, xp.asarray(cols)] * Tensor(xp.asarray(col_weights))).sum(axis=-1)
    rows, row_weights = _cubic_source(H, OH, scales[0], align_corners, dtype)
    y = y[:, :, xp.asarray(rows), :] * Tensor(xp.asarray(row_weights[:, :, None]))
    return y.sum(axis=3)


MODES = {"nearest": (3, 4), "nearest-exact": (3, 4), "linear": (3,), "bilinear": (4,),
         "bicubic": (4,)}
SHAPES = {3: "(N, C, L)", 4: "(N, C, H, W)"}


def _check_input(op, x, mode, align_corners):
    """A clear error unless ``mode`` exists, applies to ``x``'s rank, and ``x`` is a float
    Tensor with non-empty spatial axes."""
    if mode not in MODES:
        raise ValueError(f"{op}: mode {mode!r} is not implemented; the modes are 'nearest', "
                         f"'nearest-exact' and 'linear' for (N, C, L) input, and 'nearest', "
                         f"'nearest-exact', 'bilinear' and 'bicubic' for (N, C, H, W) input")
    if mode.startswith("nearest") and align_corners is not None:
        raise ValueError(f"{op}: align_corners applies to modes 'linear', 'bilinear' and "
                         f"'bicubic' only, got align_corners={align_corners} with mode {mode!r}")
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.ndim not in MODES[mode]:
        shapes = " or ".join(SHAPES[n] for n in MODES[mode])
        raise ValueError(f"{op}: mode {mode!r} expects an input of shape {shapes}, got shape "
                         f"{x.shape}" + (" (5-D volumes and 'trilinear' are not implemented)"
                                         if x.ndim == 5 else ""))
    if x.ndim == 4:
        check_image(op, x)
    else:
        geometry.check_float(op, "the input", x.data.dtype)
        if x.shape[2] < 1:
            raise ValueError(f"{op}: the input of shape {x.shape} has an empty L axis; only the "
                             f"batch N and the channels C may be 0")


def _output_sizes(op, x, size, scale_factor, recompute_scale_factor):
    """``(sizes, scales)`` per spatial axis: the output sizes, and the scale factors that set
    the source positions (None where the sizes set them)."""
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor, got size={size!r} "
                         f"and scale_factor={scale_factor!r}")
    axes = x.shape[2:]
    if size is not None:
        if len(axes) == 2:
            return (pair(op, "size", size), (None, None))
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,)
        if len(sizes) != 1 or not isinstance(sizes[0], numbers.Integral) \
                or isinstance(sizes[0], bool):
            raise TypeError(f"{op}: size must be an int or a 1-tuple for an input of shape "
                            f"{x.shape}, got {size!r}")
        return ((int(sizes[0]),), (None,))
    scales = (tuple(scale_factor) if isinstance(scale_factor, (tuple, list))
              else (scale_factor,) * len(axes))
    if len(scales) != len(axes) or not all(isinstance(s, numbers.Real) for s in scales):
        raise TypeError(f"{op}: scale_factor must be a positive number or {len(axes)} of them "
                        f"for an input of shape {x.shape}, got {scale_factor!r}")
    for L, s in zip(axes, scales):
        # NaN, inf, or an output too large to count: checked first, so the message says so
        if not isinstance(s, bool) and not math.isfinite(L * float(s)):
            raise ValueError(f"{op}: scale_factor must be finite, got {scale_factor!r} for "
                             f"an input of shape {x.shape}")
        check_number(op, "scale_factor", s, low=0, low_open=True)
    sizes = tuple(int(np.floor(L * float(s))) for L, s in zip(axes, scales))
    return (sizes, (None,) * len(axes) if recompute_scale_factor else scales)


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None):
    """Resize each plane (or sequence) to a new size, PyTorch's ``F.interpolate``.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W), or (N, C, L) for 'linear' and the nearest modes
    size : int or (int, int), optional
        (OH, OW), or (OL,); give exactly one of ``size`` and ``scale_factor``.
    scale_factor : float or (float, float), optional
        ``OH = floor(H * scale_factor)``; the factor itself (not OH/H) then sets the source
        positions, as in PyTorch, unless ``recompute_scale_factor`` is True. Below, ``L/O``
        stands for ``1/scale_factor`` when one is given.
    mode : {'nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic'}
        'nearest' reads row ``min(floor(o * L/O), L - 1)`` (PyTorch's legacy rule, in float32);
        'nearest-exact' reads row ``min(floor((o + 0.5) * L/O), L - 1)``, the pixel centres
        lined up; 'linear' (3-D) and 'bilinear' (4-D) mix the 2 (or 2x2) cells around
        ``src = max((o + 0.5) * L/O - 0.5, 0)``; 'bicubic' mixes the 4x4 cells around
        ``src = (o + 0.5) * L/O - 0.5`` with the cubic convolution kernel (A = -0.75), the
        border rows repeated, so it may overshoot the input's range.
    align_corners : bool, optional
        'linear', 'bilinear' and 'bicubic' only (None means False): map the corner pixels onto
        each other, ``src = o * (L-1)/(O-1)``, instead of the pixel grids' outer edges.

    Returns
    -------
    y : Tensor, shape (N, C, OH, OW) or (N, C, OL)

    >>> import minigrad as mg
    >>> interpolate(mg.tensor([[[[1., 2.]]]]), size=(1, 4)).tolist()
    [[[[1.0, 1.0, 2.0, 2.0]]]]
    >>> x = mg.tensor([[[[1., 2.]]]])
    >>> interpolate(x, size=(1, 3), mode='bilinear', align_corners=True).tolist()
    [[[[1.0, 1.5, 2.0]]]]
    >>> interpolate(mg.tensor([[[0., 3.]]]), size=4, mode='linear').tolist()
    [[[0.0, 0.75, 2.25, 3.0]]]
    """
    op = "interpolate"
    _check_input(op, x, mode, align_corners)
    sizes, scales = _output_sizes(op, x, size, scale_factor, recompute_scale_factor)
    if x.ndim == 3:
        # A sequence is an image of height 1; its height axis maps row 0 onto row 0.
        N, C, L = x.shape
        geometry.check_output_plane(op, 1, sizes[0], x.shape)
        y = _resample(x.reshape(N, C, 1, L), (1,) + sizes, (None,) + scales,
                      mode.replace("linear", "bilinear"), align_corners)
        return y.reshape(N, C, sizes[0])
    geometry.check_output_plane(op, *sizes, x.shape)
    return _resample(x, sizes, scales, mode, align_corners)


def _resample(x, sizes, scales, mode, align_corners):
    """``interpolate`` of a checked (N, C, H, W) ``x`` to ``sizes`` = (OH, OW)."""
    xp = xp_of(x.data)
    (H, W), (OH, OW) = x.shape[2:], sizes
    if mode.startswith("nearest"):
        source = _nearest_source if mode == "nearest" else _nearest_exact_source
        rows, cols = source(H, OH, scales[0]), source(W, OW, scales[1])
        # One (OH, OW) table viewed as (N, C, OH, OW): nearest upsampling is a gather.
        plane_indices = xp.asarray(rows[:, None] * W + cols[None, :])
        indices = xp.broadcast_to(plane_indices, (x.shape[0], x.shape[1], OH, OW))
        return GatherAtIndices.apply(x, indices=indices)
    if mode == "bicubic":
        return _bicubic(x, sizes, scales, bool(align_corners))
    dtype = x.data.dtype.type
    tables = (_linear_source(H, OH, scales[0], bool(align_corners), dtype)
              + _linear_source(W, OW, scales[1], bool(align_corners), dtype))
    return UpsampleBilinear2d.apply(x, tables=tuple(xp.asarray(t) for t in tables))
