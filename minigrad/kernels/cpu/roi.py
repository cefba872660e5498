"""RoI Align, RoI Pool and NMS kernels for the CPU, compiled with ``numba.njit``.

Every public function here has a twin of the same name, argument order and return in
``minigrad.kernels.gpu.roi``; both take the sampling and bin geometry from
``kernels/roi_geometry.py``. The forwards run in parallel over boxes (each box writes only its
own output). The adjoints scatter into the feature map, where boxes overlap, so they run in
parallel over channels instead: a thread owns channel c of every image and walks all boxes,
which is race-free without atomics.

The family is closed under differentiation (STYLE C3): RoI Align is linear in the map, so its
backward is ``roi_align_adjoint`` and the adjoint's backward is ``roi_align`` again. RoI Pool
keeps its argmax; its backward is ``roi_pool_adjoint`` (a scatter at the argmax) and the
scatter's backward is ``roi_pool_gather`` (a read at the argmax), whose backward is the scatter.

Notation
--------
K             number of boxes;  rois  float array (K, 5): batch index, x1, y1, x2, y2
N, C, H, W    the feature map
PH, PW        output size;  ph, pw  a bin;  GH, GW  sampling points per bin
argmax        int64 (K, C, PH, PW): flat position ``h * W + w`` of each bin's max, -1 if empty
"""
import numba
import numpy as np
from numba import prange

from .. import roi_geometry as G
from .parallel import threads_for

_align_box = numba.njit(cache=True)(G.align_box)
_grid_size = numba.njit(cache=True)(G.grid_size)
_bilinear_taps = numba.njit(cache=True)(G.bilinear_taps)
_pool_bin = numba.njit(cache=True)(G.pool_bin)
_box_iou_pair = numba.njit(cache=True)(G.box_iou_pair)


def roi_align(x, rois, spatial_scale, PH, PW, sampling_ratio, aligned):
    """Average of bilinear samples over each bin of each box.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    rois : ndarray, shape (K, 5), same dtype as x
    spatial_scale : float;  PH, PW, sampling_ratio : int;  aligned : bool

    Returns
    -------
    y : ndarray, shape (K, C, PH, PW)
    """
    G.check_rois("roi_align", x.shape, x.dtype, rois, PH, PW)
    K, C = rois.shape[0], x.shape[1]
    y = np.empty((K, C, PH, PW), dtype=x.dtype)
    with threads_for(y.size * 4 * max(sampling_ratio, 2) ** 2):
        _roi_align_loop(np.ascontiguousarray(x), np.ascontiguousarray(rois), float(spatial_scale),
                        int(sampling_ratio), bool(aligned), y)
    return y


@numba.njit(parallel=True, cache=True)
def _roi_align_loop(x, rois, spatial_scale, sampling_ratio, aligned, y):
    N, C, H, W = x.shape
    K, _, PH, PW = y.shape
    for k in prange(K):
        n = int(rois[k, 0])
        start_h, start_w, roi_h, roi_w = _align_box(rois[k, 1], rois[k, 2], rois[k, 3],
                                                    rois[k, 4], spatial_scale, aligned)
        bin_h = roi_h / PH
        bin_w = roi_w / PW
        GH = _grid_size(sampling_ratio, roi_h, PH)
        GW = _grid_size(sampling_ratio, roi_w, PW)
        count = max(GH * GW, 1)
        for c in range(C):
            for ph in range(PH):
                for pw in range(PW):
                    total = 0.0
                    for iy in range(GH):
                        yy = start_h + ph * bin_h + (iy + 0.5) * bin_h / GH
                        for ix in range(GW):
                            xx = start_w + pw * bin_w + (ix + 0.5) * bin_w / GW
                            valid, y0, x0, y1, x1, w00, w01, w10, w11 = _bilinear_taps(yy, xx,
                                                                                       H, W)
                            if valid:
                                total += (w00 * x[n, c, y0, x0] + w01 * x[n, c, y0, x1]
                                          + w10 * x[n, c, y1, x0] + w11 * x[n, c, y1, x1])
                    y[k, c, ph, pw] = total / count


def roi_align_adjoint(g, rois, spatial_scale, N, H, W, sampling_ratio, aligned):
    """The adjoint of :func:`roi_align`: each output value spread back onto its samples' taps.

    Parameters
    ----------
    g : ndarray, shape (K, C, PH, PW)
    rois : ndarray, shape (K, 5);  N, H, W : int, the map's batch and plane

    Returns
    -------
    grad_x : ndarray, shape (N, C, H, W)
    """
    K, C, PH, PW = g.shape
    G.check_rois("roi_align_adjoint", (N, C, H, W), g.dtype, rois, PH, PW)
    out = np.empty((N, C, H, W), dtype=g.dtype)
    with threads_for(g.size * 4 * max(sampling_ratio, 2) ** 2 + out.size):
        _roi_align_adjoint_loop(np.ascontiguousarray(g), np.ascontiguousarray(rois),
                                float(spatial_scale), int(sampling_ratio), bool(aligned), out)
    return out


@numba.njit(parallel=True, cache=True)
def _roi_align_adjoint_loop(g, rois, spatial_scale, sampling_ratio, aligned, out):
    N, C, H, W = out.shape
    K, _, PH, PW = g.shape
    for c in prange(C):
        out[:, c] = 0.0
        for k in range(K):
            n = int(rois[k, 0])
            start_h, start_w, roi_h, roi_w = _align_box(rois[k, 1], rois[k, 2], rois[k, 3],
                                                        rois[k, 4], spatial_scale, aligned)
            bin_h = roi_h / PH
            bin_w = roi_w / PW
            GH = _grid_size(sampling_ratio, roi_h, PH)
            GW = _grid_size(sampling_ratio, roi_w, PW)
            count = max(GH * GW, 1)
            for ph in range(PH):
                for pw in range(PW):
                    share = g[k, c, ph, pw] / count
                    for iy in range(GH):
                        yy = start_h + ph * bin_h + (iy + 0.5) * bin_h / GH
                        for ix in range(GW):
                            xx = start_w + pw * bin_w + (ix + 0.5) * bin_w / GW
                            valid, y0, x0, y1, x1, w00, w01, w10, w11 = _bilinear_taps(yy, xx,
                                                                                       H, W)
                            if valid:
                                out[n, c, y0, x0] += w00 * share
                                out[n, c, y0, x1] += w01 * share
                                out[n, c, y1, x0] += w10 * share
                                out[n, c, y1, x1] += w11 * share


def roi_pool(x, rois, spatial_scale, PH, PW):
    """Max over each bin of each box (rounded to whole pixels), and where it was.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W);  rois : ndarray, shape (K, 5)
    spatial_scale : float;  PH, PW : int

    Returns
    -------
    y : ndarray, shape (K, C, PH, PW), 0 for an empty bin
    argmax : ndarray of int64, shape (K, C, PH, PW), -1 for an empty bin
    """
    G.check_rois("roi_pool", x.shape, x.dtype, rois, PH, PW)
    K, C = rois.shape[0], x.shape[1]
    y = np.empty((K, C, PH, PW), dtype=x.dtype)
    argmax = np.empty((K, C, PH, PW), dtype=np.int64)
    with threads_for(y.size * 4):
        _roi_pool_loop(np.ascontiguousarray(x), np.ascontiguousarray(rois), float(spatial_scale),
                       y, argmax)
    return (y, argmax)


@numba.njit(parallel=True, cache=True)
def _roi_pool_loop(x, rois, spatial_scale, y, argmax):
    N, C, H, W = x.shape
    K, _, PH, PW = y.shape
    for k in prange(K):
        n = int(rois[k, 0])
        for c in range(C):
            for ph in range(PH):
                for pw in range(PW):
                    h0, h1, w0, w1 = _pool_bin(ph, pw, rois[k, 1], rois[k, 2], rois[k, 3],
                                               rois[k, 4], spatial_scale, PH, PW, H, W)
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
    """The backward of :func:`roi_pool`: each value added into its box's image at its argmax.

    Parameters
    ----------
    g : ndarray, shape (K, C, PH, PW);  rois : ndarray, shape (K, 5)
    argmax : ndarray of int64, shape (K, C, PH, PW);  N, H, W : int

    Returns
    -------
    grad_x : ndarray, shape (N, C, H, W)
    """
    K, C, PH, PW = g.shape
    G.check_rois("roi_pool_adjoint", (N, C, H, W), g.dtype, rois, PH, PW)
    G.check_argmax("roi_pool_adjoint", g.shape, argmax.shape, argmax.dtype, rois.shape[0], C,
                   PH, PW)
    out = np.empty((N, C, H, W), dtype=g.dtype)
    with threads_for(g.size + out.size):
        _roi_pool_adjoint_loop(np.ascontiguousarray(g), np.ascontiguousarray(rois),
                               np.ascontiguousarray(argmax), out.reshape(N, C, H * W))
    return out


@numba.njit(parallel=True, cache=True)
def _roi_pool_adjoint_loop(g, rois, argmax, out):
    N, C, HW = out.shape
    K, _, PH, PW = g.shape
    for c in prange(C):
        out[:, c] = 0.0
        for k in range(K):
            n = int(rois[k, 0])
            for ph in range(PH):
                for pw in range(PW):
                    i = argmax[k, c, ph, pw]
                    if 0 <= i < HW:
                        out[n, c, i] += g[k, c, ph, pw]


def roi_pool_gather(x, rois, argmax):
    """The adjoint of :func:`roi_pool_adjoint`: each bin reads its box's image at its argmax.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W);  rois : ndarray, shape (K, 5)
    argmax : ndarray of int64, shape (K, C, PH, PW)

    Returns
    -------
    y : ndarray, shape (K, C, PH, PW), 0 where the argmax is -1
    """
    K, C, PH, PW = argmax.shape
    G.check_rois("roi_pool_gather", x.shape, x.dtype, rois, PH, PW)
    G.check_argmax("roi_pool_gather", argmax.shape, argmax.shape, argmax.dtype, rois.shape[0],
                   x.shape[1], PH, PW)
    N, C, H, W = x.shape
    y = np.empty(argmax.shape, dtype=x.dtype)
    with threads_for(2 * y.size):
        _roi_pool_gather_loop(np.ascontiguousarray(x).reshape(N, C, H * W),
                              np.ascontiguousarray(rois), np.ascontiguousarray(argmax), y)
    return y


@numba.njit(parallel=True, cache=True)
def _roi_pool_gather_loop(x, rois, argmax, y):
    N, C, HW = x.shape
    K, _, PH, PW = y.shape
    for k in prange(K):
        n = int(rois[k, 0])
        for c in range(C):
            for ph in range(PH):
                for pw in range(PW):
                    i = argmax[k, c, ph, pw]
                    y[k, c, ph, pw] = x[n, c, i] if 0 <= i < HW else 0.0


def nms(boxes, order, iou_threshold):
    """Greedy non-maximum suppression over boxes visited in ``order`` (best score first).

    Each box still standing is kept and suppresses every later box whose IoU with it is
    strictly greater than ``iou_threshold``.

    Parameters
    ----------
    boxes : ndarray, shape (K, 4), xyxy
    order : ndarray of int64, shape (K,), a permutation of range(K)
    iou_threshold : float

    Returns
    -------
    keep : ndarray of int64, the kept indices into ``boxes``, in visiting order
    """
    if boxes.ndim != 2 or boxes.shape[1] != 4 or order.shape != (boxes.shape[0],):
        raise ValueError(f"nms: expected boxes (K, 4) and an order (K,), got {tuple(boxes.shape)} "
                         f"and {tuple(order.shape)}")
    keep = np.empty(boxes.shape[0], dtype=np.int64)
    kept = _nms_loop(np.ascontiguousarray(boxes, dtype=np.float64),
                     np.ascontiguousarray(order, dtype=np.int64), float(iou_threshold), keep)
    return keep[:kept]


@numba.njit(cache=True)
def _nms_loop(boxes, order, iou_threshold, keep):
    K = boxes.shape[0]
    suppressed = np.zeros(K, dtype=np.bool_)
    kept = 0
    for a in range(K):
        i = order[a]
        if suppressed[i]:
            continue
        keep[kept] = i
        kept += 1
        for b in range(a + 1, K):
            j = order[b]
            if not suppressed[j] and _box_iou_pair(
                    boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3],
                    boxes[j, 0], boxes[j, 1], boxes[j, 2], boxes[j, 3]) > iou_threshold:
                suppressed[j] = True
    return kept
