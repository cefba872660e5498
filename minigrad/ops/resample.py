"""Resampling of NCHW images: ``interpolate`` ('nearest' and 'bilinear'), PyTorch's rules.

Both modes are linear in the input at source positions fixed by the sizes alone, so each is one
op of a closed adjoint family (STYLE C3)::

    nearest:   GatherAtIndices(x, indices)   <->  ScatterToIndices      (ops/pool.py)
    bilinear:  UpsampleBilinear2d(x, tables) <->  UpsampleBilinear2dAdjoint

The tables (source rows, columns and weights) depend on no input that carries a gradient, so
they are raw arrays, passed as keyword-only parameters. They are built here, on the host, from
sizes checked to be at least 1, so every source row and column lies inside the input; the
kernels (``kernels/*/resample.py``) check their shapes again.

Notation
--------
N, C        batch size and channels (either may be 0: the result is then empty)
H, W        height and width of the input plane, at least 1
OH, OW      height and width of the output plane, at least 1
L, O        one axis of (H, W) and of (OH, OW)
h0, h1, lh  the two source rows of each output row and the weight of ``h1``; w0, w1, lw alike
"""
import math
import numbers

import numpy as np

from ..autograd import Function
from ..backend import kernels_for, xp_of
from ..checks import check_number, pair
from ..kernels import geometry
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
    check_image(op, x)
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
        if len(scales) != 2 or not all(isinstance(s, numbers.Real) for s in scales):
            raise TypeError(f"{op}: scale_factor must be a positive number or a pair of them, "
                            f"got {scale_factor!r}")
        for L, s in zip((H, W), scales):
            # NaN, inf, or an output too large to count: checked first, so the message says so
            if not isinstance(s, bool) and not math.isfinite(L * float(s)):
                raise ValueError(f"{op}: scale_factor must be finite, got {scale_factor!r} for "
                                 f"an input of shape {x.shape}")
            check_number(op, "scale_factor", s, low=0, low_open=True)
        OH, OW = int(np.floor(H * float(scales[0]))), int(np.floor(W * float(scales[1])))
        if recompute_scale_factor:
            scales = (None, None)
    geometry.check_output_plane(op, OH, OW, x.shape)
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
