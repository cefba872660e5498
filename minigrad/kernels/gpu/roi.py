"""RoI Align, RoI Pool and NMS kernels for the GPU, written with ``numba.cuda``.

Every public function here has a twin of the same name, argument order and return in
``minigrad.kernels.cpu.roi``, with the index math in the same order and the same names; both
take the sampling and bin geometry from ``kernels/roi_geometry.py``. One thread computes one
output cell (k, c, ph, pw); the adjoints scatter from there with ``cuda.atomic.add``, since
overlapping boxes send several threads to the same map cell. NMS computes the strict-IoU
overlap of every pair of boxes in parallel, then walks the visiting order once on the host.

Notation
--------
K             number of boxes;  rois  float array (K, 5): batch index, x1, y1, x2, y2
N, C, H, W    the feature map
PH, PW        output size;  ph, pw  a bin;  GH, GW  sampling points per bin
argmax        int64 (K, C, PH, PW): flat position ``h * W + w`` of each bin's max, -1 if empty
"""
import numpy as np
from numba import cuda

from minigrad.backend import xp_of, to_numpy
from .. import roi_geometry as G
from .launch import launch, unravel

_align_box = cuda.jit(device=True)(G.align_box)
_grid_size = cuda.jit(device=True)(G.grid_size)
_bilinear_taps = cuda.jit(device=True)(G.bilinear_taps)
_pool_bin = cuda.jit(device=True)(G.pool_bin)
_box_iou_pair = cuda.jit(device=True)(G.box_iou_pair)


def roi_align(x, rois, spatial_scale, PH, PW, sampling_ratio, aligned):
    """Average of bilinear samples over each bin of each box; see the CPU twin."""
    G.check_rois("roi_align", x.shape, x.dtype, rois, PH, PW)
    xp = xp_of(x)
    K, C = rois.shape[0], x.shape[1]
    y = xp.empty((K, C, PH, PW), dtype=x.dtype)
    launch(_roi_align_thread, y.size, xp.ascontiguousarray(x), xp.ascontiguousarray(rois),
           float(spatial_scale), int(sampling_ratio), bool(aligned), y)
    return y


@cuda.jit
def _roi_align_thread(x, rois, spatial_scale, sampling_ratio, aligned, y):
    N, C, H, W = x.shape
    K, _, PH, PW = y.shape
    t = cuda.grid(1)
    if t >= K * C * PH * PW:
        return
    k, c, ph, pw = unravel(t, C, PH, PW)
    n = int(rois[k, 0])
    start_h, start_w, roi_h, roi_w = _align_box(rois[k, 1], rois[k, 2], rois[k, 3],
                                                rois[k, 4], spatial_scale, aligned)
    bin_h = roi_h / PH
    bin_w = roi_w / PW
    GH = _grid_size(sampling_ratio, roi_h, PH)
    GW = _grid_size(sampling_ratio, roi_w, PW)
    count = max(GH * GW, 1)
    total = 0.0
    for iy in range(GH):
        yy = start_h + ph * bin_h + (iy + 0.5) * bin_h / GH
        for ix in range(GW):
            xx = start_w + pw * bin_w + (ix + 0.5) * bin_w / GW
            valid, y0, x0, y1, x1, w00, w01, w10, w11 = _bilinear_taps(yy, xx, H, W)
            if valid:
                total += (w00 * x[n, c, y0, x0] + w01 * x[n, c, y0, x1]
                          + w10 * x[n, c, y1, x0] + w11 * x[n, c, y1, x1])
    y[k, c, ph, pw] = total / count


def roi_align_adjoint(g, rois, spatial_scale, N, H, W, sampling_ratio, aligned):
    """The adjoint of :func:`roi_align`; see the CPU twin."""
    K, C, PH, PW = g.shape
    G.check_rois("roi_align_adjoint", (N, C, H, W), g.dtype, rois, PH, PW)
    xp = xp_of(g)
    out = xp.zeros((N, C, H, W), dtype=g.dtype)
    launch(_roi_align_adjoint_thread, g.size, xp.ascontiguousarray(g),
           xp.ascontiguousarray(rois), float(spatial_scale), int(sampling_ratio), bool(aligned),
           out)
    return out


@cuda.jit
def _roi_align_adjoint_thread(g, rois, spatial_scale, sampling_ratio, aligned, out):
    N, C, H, W = out.shape
    K, _, PH, PW = g.shape
    t = cuda.grid(1)
    if t >= K * C * PH * PW:
        return
    k, c, ph, pw = unravel(t, C, PH, PW)
    n = int(rois[k, 0])
    start_h, start_w, roi_h, roi_w = _align_box(rois[k, 1], rois[k, 2], rois[k, 3],
                                                rois[k, 4], spatial_scale, aligned)
    bin_h = roi_h / PH
    bin_w = roi_w / PW
    GH = _grid_size(sampling_ratio, roi_h, PH)
    GW = _grid_size(sampling_ratio, roi_w, PW)
    count = max(GH * GW, 1)
    share = g[k, c, ph, pw] / count
    for iy in range(GH):
        yy = start_h + ph * bin_h + (iy + 0.5) * bin_h / GH
        for ix in range(GW):
            xx = start_w + pw * bin_w + (ix + 0.5) * bin_w / GW
            valid, y0, x0, y1, x1, w00, w01, w10, w11 = _bilinear_taps(yy, xx, H, W)
            if valid:
                cuda.atomic.add(out, (n, c, y0, x0), w00 * share)
                cuda.atomic.add(out, (n, c, y0, x1), w01 * share)
                cuda.atomic.add(out, (n, c, y1, x0), w10 * share)
                cuda.atomic.add(out, (n, c, y1, x1), w11 * share)


def roi_pool(x, rois, spatial_scale, PH, PW):
    """Max over each bin of each box, and where it was; see the CPU twin."""
    G.check_rois("roi_pool", x.shape, x.dtype, rois, PH, PW)
    xp = xp_of(x)
    K, C = rois.shape[0], x.shape[1]
    y = xp.empty((K, C, PH, PW), dtype=x.dtype)
    argmax = xp.empty((K, C, PH, PW), dtype=xp.int64)
    launch(_roi_pool_thread, y.size, xp.ascontiguousarray(x), xp.ascontiguousarray(rois),
           float(spatial_scale), y, argmax)
    return (y, argmax)


@cuda.jit
def _roi_pool_thread(x, rois, spatial_scale, y, argmax):
    N, C, H, W = x.shape
    K, _, PH, PW = y.shape
    t = cuda.grid(1)
    if t >= K * C * PH * PW:
        return
    k, c, ph, pw = unravel(t, C, PH, PW)
    n = int(rois[k, 0])
    h0, h1, w0, w1 = _pool_bin(ph, pw, rois[k, 1], rois[k, 2], rois[k, 3], rois[k, 4],
                               spatial_scale, PH, PW, H, W)
    best = 0.0
    best_index = -1
    for h in range(h0, h1):
        for w in range(w0, w1):
            # strict '>' keeps the first of tied maxima, as PyTorch vision does
            if best_index < 0 or x[n, c, h, w] > best:
                best = x[n, c, h, w]
                best_index = h * W + w
    y[k, c, ph, pw] = best
    argmax[k, c, ph, pw] = best_index


def roi_pool_adjoint(g, rois, argmax, N, H, W):
    """The backward of :func:`roi_pool`; see the CPU twin."""
    K, C, PH, PW = g.shape
    G.check_rois("roi_pool_adjoint", (N, C, H, W), g.dtype, rois, PH, PW)
    G.check_argmax("roi_pool_adjoint", g.shape, argmax.shape, argmax.dtype, rois.shape[0], C,
                   PH, PW)
    xp = xp_of(g)
    out = xp.zeros((N, C, H * W), dtype=g.dtype)
    launch(_roi_pool_adjoint_thread, g.size, xp.ascontiguousarray(g),
           xp.ascontiguousarray(rois), xp.ascontiguousarray(argmax), out)
    return out.reshape(N, C, H, W)


@cuda.jit
def _roi_pool_adjoint_thread(g, rois, argmax, out):
    N, C, HW = out.shape
    K, _, PH, PW = g.shape
    t = cuda.grid(1)
    if t >= K * C * PH * PW:
        return
    k, c, ph, pw = unravel(t, C, PH, PW)
    n = int(rois[k, 0])
    i = argmax[k, c, ph, pw]
    if 0 <= i < HW:
        cuda.atomic.add(out, (n, c, i), g[k, c, ph, pw])


def roi_pool_gather(x, rois, argmax):
    """The adjoint of :func:`roi_pool_adjoint`; see the CPU twin."""
    K, C, PH, PW = argmax.shape
    G.check_rois("roi_pool_gather", x.shape, x.dtype, rois, PH, PW)
    G.check_argmax("roi_pool_gather", argmax.shape, argmax.shape, argmax.dtype, rois.shape[0],
                   x.shape[1], PH, PW)
    xp = xp_of(x)
    N, C, H, W = x.shape
    y = xp.empty(argmax.shape, dtype=x.dtype)
    launch(_roi_pool_gather_thread, y.size, xp.ascontiguousarray(x).reshape(N, C, H * W),
           xp.ascontiguousarray(rois), xp.ascontiguousarray(argmax), y)
    return y


@cuda.jit
def _roi_pool_gather_thread(x, rois, argmax, y):
    N, C, HW = x.shape
    K, _, PH, PW = y.shape
    t = cuda.grid(1)
    if t >= K * C * PH * PW:
        return
    k, c, ph, pw = unravel(t, C, PH, PW)
    n = int(rois[k, 0])
    i = argmax[k, c, ph, pw]
    y[k, c, ph, pw] = x[n, c, i] if 0 <= i < HW else 0.0


def nms(boxes, order, iou_threshold):
    """Greedy non-maximum suppression over boxes visited in ``order``; see the CPU twin."""
    if boxes.ndim != 2 or boxes.shape[1] != 4 or order.shape != (boxes.shape[0],):
        raise ValueError(f"nms: expected boxes (K, 4) and an order (K,), got {tuple(boxes.shape)} "
                         f"and {tuple(order.shape)}")
    xp = xp_of(boxes)
    K = boxes.shape[0]
    over = xp.zeros((K, K), dtype=xp.bool_)
    launch(_nms_overlap_thread, K * K, xp.ascontiguousarray(boxes, dtype=xp.float64),
           float(iou_threshold), over)
    over, order = to_numpy(over), to_numpy(order)
    suppressed = np.zeros(K, dtype=bool)
    keep = []
    for i in order:
        if not suppressed[i]:
            keep.append(i)
            suppressed |= over[i]
    return xp.asarray(np.array(keep, dtype=np.int64))


@cuda.jit
def _nms_overlap_thread(boxes, iou_threshold, over):
    K = boxes.shape[0]
    t = cuda.grid(1)
    if t >= K * K:
        return
    i = t // K
    j = t % K
    over[i, j] = i != j and _box_iou_pair(boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3],
                                          boxes[j, 0], boxes[j, 1], boxes[j, 2],
                                          boxes[j, 3]) > iou_threshold
