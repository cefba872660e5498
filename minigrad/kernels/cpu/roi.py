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
    N, C, H, W = x.shape
    K = rois.shape[0]
    offsets, index, weight = _taps(rois, spatial_scale, PH, PW, H, W, sampling_ratio, aligned)
    y = np.empty((K, C, PH * PW), dtype=x.dtype)
    with threads_for(C * index.size + y.size):
        _roi_align_loop(np.ascontiguousarray(x).reshape(N, C, H * W), rois, offsets, index,
                        weight, y)
    return y.reshape(K, C, PH, PW)


def _taps(rois, spatial_scale, PH, PW, H, W, sampling_ratio, aligned):
    """Every sample's four flat tap positions and weights, computed once for all channels.

    The sampling geometry does not depend on the channel, so (as PyTorch vision's CPU kernel
    does) it is worked out once per box and reused C times. Box k's samples are rows
    ``offsets[k]:offsets[k + 1]``, bin by bin, PH*PW equal runs; a sample off the map has
    weights 0.
    """
    rois = np.ascontiguousarray(rois, dtype=np.float64)
    args = (float(spatial_scale), int(sampling_ratio), bool(aligned), PH, PW)
    offsets = _sample_offsets(rois, *args)
    index = np.empty((offsets[-1], 4), dtype=np.int64)
    weight = np.empty((offsets[-1], 4), dtype=np.float64)
    with threads_for(index.size):
        _taps_loop(rois, *args, H, W, offsets, index, weight)
    return (offsets, index, weight)


@numba.njit(cache=True)
def _sample_offsets(rois, spatial_scale, sampling_ratio, aligned, PH, PW):
    K = rois.shape[0]
    offsets = np.zeros(K + 1, dtype=np.int64)
    for k in range(K):
        start_h, start_w, roi_h, roi_w = _align_box(rois[k, 1], rois[k, 2], rois[k, 3],
                                                    rois[k, 4], spatial_scale, aligned)
        GH = _grid_size(sampling_ratio, roi_h, PH)
        GW = _grid_size(sampling_ratio, roi_w, PW)
        offsets[k + 1] = offsets[k] + PH * PW * GH * GW
    return offsets


@numba.njit(parallel=True, cache=True)
def _taps_loop(rois, spatial_scale, sampling_ratio, aligned, PH, PW, H, W, offsets, index,
               weight):
    K = rois.shape[0]
    for k in prange(K):
        start_h, start_w, roi_h, roi_w = _align_box(rois[k, 1], rois[k, 2], rois[k, 3],
                                                    rois[k, 4], spatial_scale, aligned)
        bin_h = roi_h / PH
        bin_w = roi_w / PW
        GH = _grid_size(sampling_ratio, roi_h, PH)
        GW = _grid_size(sampling_ratio, roi_w, PW)
        s = offsets[k]
        for ph in range(PH):
            for pw in range(PW):
                for iy in range(GH):
                    yy = start_h + ph * bin_h + (iy + 0.5) * bin_h / GH
                    for ix in range(GW):
                        xx = start_w + pw * bin_w + (ix + 0.5) * bin_w / GW
                        valid, y0, x0, y1, x1, w00, w01, w10, w11 = _bilinear_taps(yy, xx, H, W)
                        index[s, 0] = y0 * W + x0
                        index[s, 1] = y0 * W + x1
                        index[s, 2] = y1 * W + x0
                        index[s, 3] = y1 * W + x1
                        weight[s, 0] = w00 if valid else 0.0
                        weight[s, 1] = w01 if valid else 0.0
                        weight[s, 2] = w10 if valid else 0.0
                        weight[s, 3] = w11 if valid else 0.0
                        s += 1


@numba.njit(parallel=True, cache=True)
def _roi_align_loop(x, rois, offsets, index, weight, y):
    K, C, BINS = y.shape
    for k in prange(K):
        n = int(rois[k, 0])
        per_bin = (offsets[k + 1] - offsets[k]) // BINS  # GH * GW
        count = max(per_bin, 1)
        for c in range(C):
            s = offsets[k]
            for b in range(BINS):
                total = 0.0
                for _ in range(per_bin):
                    total += (weight[s, 0] * x[n, c, index[s, 0]]
                              + weight[s, 1] * x[n, c, index[s, 1]]
                              + weight[s, 2] * x[n, c, index[s, 2]]
                              + weight[s, 3] * x[n, c, index[s, 3]])
                    s += 1
                y[k, c, b] = total / count


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
    offsets, index, weight = _taps(rois, spatial_scale, PH, PW, H, W, sampling_ratio, aligned)
    out = np.empty((N, C, H * W), dtype=g.dtype)
    with threads_for(C * index.size + out.size):
        _roi_align_adjoint_loop(np.ascontiguousarray(g).reshape(K, C, PH * PW), rois, offsets,
                                index, weight, out)
    return out.reshape(N, C, H, W)


@numba.njit(parallel=True, cache=True)
def _roi_align_adjoint_loop(g, rois, offsets, index, weight, out):
    K, C, BINS = g.shape
    for c in prange(C):  # a thread owns channel c of every image: no two threads add alike
        out[:, c] = 0.0
        for k in range(K):
            n = int(rois[k, 0])
            per_bin = (offsets[k + 1] - offsets[k]) // BINS
            count = max(per_bin, 1)
            s = offsets[k]
            for b in range(BINS):
                share = g[k, c, b] / count
                for _ in range(per_bin):
                    out[n, c, index[s, 0]] += weight[s, 0] * share
                    out[n, c, index[s, 1]] += weight[s, 1] * share
                    out[n, c, index[s, 2]] += weight[s, 2] * share
                    out[n, c, index[s, 3]] += weight[s, 3] * share
                    s += 1


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
