"""What the RoI kernels on both devices share: the checks, and the sampling and bin geometry.

The functions below the checks are plain Python on scalars, compiled twice: with
``numba.njit`` in ``kernels/cpu/roi.py`` and as ``cuda.jit(device=True)`` functions in
``kernels/gpu/roi.py``, so that the two files sample exactly the same points. They follow
PyTorch vision's conventions (its C++ kernels are the specification):

- RoI Align splits a box (in feature-map units, ``box * spatial_scale``, shifted by half a
  pixel when ``aligned``) into PH x PW bins, samples a GH x GW grid of points at the centres of
  equal sub-cells of each bin, reads each point by bilinear interpolation and averages. A point
  further than one pixel outside the map reads 0; one within that pixel is clamped to the edge.
- RoI Pool rounds the scaled box to whole pixels (half away from zero, as C's ``round``), splits
  it into bins with floor/ceil edges clipped to the map, and takes the max of each bin; an empty
  bin gives 0 and the argmax -1.

Notation
--------
K             number of boxes (RoIs);  rois  float array (K, 5): batch index, x1, y1, x2, y2
N, C, H, W    the feature map
PH, PW        output size (bins per box);  ph, pw  a bin
GH, GW        sampling grid per bin (``sampling_ratio``, or adaptive: ceil(roi size / bins))
"""
import math

import numpy as np

from .geometry import check_float


def check_rois(op, x_shape, x_dtype, rois, PH, PW):
    """Clear errors before any kernel: map shape and dtype, rois (K, 5) with batch indices in
    range and finite coordinates, and an output size of at least 1x1."""
    check_float(op, "the input", x_dtype)
    if len(x_shape) != 4:
        raise ValueError(f"{op}: expected an input of shape (N, C, H, W), got shape "
                         f"{tuple(x_shape)}")
    if rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError(f"{op}: expected boxes of shape (K, 5) (batch index, x1, y1, x2, y2), "
                         f"got shape {tuple(rois.shape)}")
    check_float(op, "the boxes", rois.dtype)
    if PH < 1 or PW < 1:
        raise ValueError(f"{op}: output_size must be at least (1, 1), got {(PH, PW)}")
    if rois.shape[0] == 0:
        return
    host = np.asarray(rois.get() if hasattr(rois, "get") else rois)
    if not np.isfinite(host).all():
        raise ValueError(f"{op}: box coordinates and batch indices must be finite")
    batch = host[:, 0]
    N = x_shape[0]
    if (batch != np.round(batch)).any() or batch.min() < 0 or batch.max() >= N:
        raise IndexError(f"{op}: batch indices must be whole numbers in [0, {N}) for an input "
                         f"of batch size {N}, got values in [{batch.min()}, {batch.max()}]")


def check_argmax(op, g_shape, argmax_shape, argmax_dtype, K, C, PH, PW):
    """The RoI Pool scatter and gather take an int64 argmax of the shape (K, C, PH, PW)."""
    if tuple(g_shape) != (K, C, PH, PW) or tuple(argmax_shape) != (K, C, PH, PW):
        raise ValueError(f"{op}: values {tuple(g_shape)} and argmax {tuple(argmax_shape)} "
                         f"must both have shape {(K, C, PH, PW)}")
    if argmax_dtype != np.int64:
        raise TypeError(f"{op}: argmax must be int64, got {argmax_dtype}")


def c_round(v):
    """C's ``round``: halves go away from zero (NumPy's ``round`` goes to even)."""
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


def align_box(x1, y1, x2, y2, spatial_scale, aligned):
    """The box in feature-map pixels: ``(start_h, start_w, roi_h, roi_w)``.

    ``aligned`` shifts by half a pixel so that a pixel's centre sits at integer + 0.5 (the
    continuous-coordinate convention); without it the box is at least 1x1 (the legacy rule).
    """
    offset = 0.5 if aligned else 0.0
    start_w = x1 * spatial_scale - offset
    start_h = y1 * spatial_scale - offset
    roi_w = x2 * spatial_scale - offset - start_w
    roi_h = y2 * spatial_scale - offset - start_h
    if not aligned:
        roi_w = max(roi_w, 1.0)
        roi_h = max(roi_h, 1.0)
    return (start_h, start_w, roi_h, roi_w)


def grid_size(sampling_ratio, roi_len, bins):
    """Sampling points per bin along one axis: the given ratio, or ceil(roi_len / bins).

    A box with reversed corners under ``aligned`` has a negative length: it gets no sampling
    points and its bins read 0 (PyTorch vision 0.29 raises for such a box). A negative count
    must never come out: the product GH * GW of two negatives is positive, and it once sized a
    table of sampling points that was never written.
    """
    if sampling_ratio > 0:
        return sampling_ratio
    return max(int(math.ceil(roi_len / bins)), 0)


def bilinear_taps(y, x, H, W):
    """The four neighbours and weights of the point (y, x): ``(valid, y0, x0, y1, x1, w00, w01,
    w10, w11)``; ``valid`` is False further than one pixel outside the map (the point reads 0)."""
    if y < -1.0 or y > H or x < -1.0 or x > W:
        return (False, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0)
    y = max(y, 0.0)
    x = max(x, 0.0)
    y0 = int(y)
    x0 = int(x)
    if y0 >= H - 1:
        y0 = H - 1
        y1 = H - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= W - 1:
        x0 = W - 1
        x1 = W - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly = y - y0
    lx = x - x0
    hy = 1.0 - ly
    hx = 1.0 - lx
    return (True, y0, x0, y1, x1, hy * hx, hy * lx, ly * hx, ly * lx)


def pool_bin(ph, pw, x1, y1, x2, y2, spatial_scale, PH, PW, H, W):
    """RoI Pool's bin (ph, pw): ``(h0, h1, w0, w1)``, clipped to the map (empty when h1 <= h0)."""
    # c_round written out: a compiled function cannot call another plain Python function
    v = x1 * spatial_scale
    start_w = int(math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5))
    v = y1 * spatial_scale
    start_h = int(math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5))
    v = x2 * spatial_scale
    end_w = int(math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5))
    v = y2 * spatial_scale
    end_h = int(math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5))
    bin_h = max(end_h - start_h + 1, 1) / PH
    bin_w = max(end_w - start_w + 1, 1) / PW
    h0 = min(max(int(math.floor(ph * bin_h)) + start_h, 0), H)
    h1 = min(max(int(math.ceil((ph + 1) * bin_h)) + start_h, 0), H)
    w0 = min(max(int(math.floor(pw * bin_w)) + start_w, 0), W)
    w1 = min(max(int(math.ceil((pw + 1) * bin_w)) + start_w, 0), W)
    return (h0, h1, w0, w1)


def box_iou_pair(ax1, ay1, ax2, ay2, bx1, by1, bx2, by2):
    """IoU of two xyxy boxes, as NMS computes it: overlap / (area_a + area_b - overlap)."""
    w = max(min(ax2, bx2) - max(ax1, bx1), 0.0)
    h = max(min(ay2, by2) - max(ay1, by1), 0.0)
    inter = w * h
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return inter / union if union > 0 else 0.0
