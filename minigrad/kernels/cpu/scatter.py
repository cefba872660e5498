"""Gather, scatter and segment-softmax kernels for the CPU, compiled with ``numba.njit``.

Every public function here has a twin of the same name, argument order and return in
``minigrad.kernels.gpu.scatter``. They take raw arrays and ints, check them with
``kernels/segments.py``, and flatten the trailing dims of ``src`` into D features.

A scatter first sorts the rows by segment (a counting sort, O(M + S), stable), then runs its
loop in parallel over segments: each thread owns whole output rows, so the sums and maxima
need no atomics and do not race; rows of one segment are reduced in their original order, so
results are deterministic. A gather reads rows and needs no layout.

Empty segments (no row is sent there) give 0 in every reduction, with a tie count of 0.

Notation
--------
M             rows of ``src`` (edges);  D  features per row (trailing dims flattened)
S             ``num_segments``, rows of the output (nodes)
order         int64, shape (M,): the rows sorted by segment, stable
offsets       int64, shape (S + 1,): segment ``s`` holds ``order[offsets[s]:offsets[s + 1]]``
ties          int64, shape (S, D): how many rows reach the max (min) of a cell
"""
import math

import numba
import numpy as np
from numba import prange

from ..segments import check_index, check_num_segments, check_src
from .parallel import threads_for


def segments(index, num_segments):
    """The CSR layout of ``index``: (order, offsets), rows sorted by segment, stable."""
    S = check_num_segments("segments", num_segments)
    index = check_index("segments", index, index.shape[0] if index.ndim else -1, S)
    order = np.empty(index.shape[0], dtype=np.int64)
    offsets = np.zeros(S + 1, dtype=np.int64)
    _counting_sort_loop(index, offsets, order)
    return (order, offsets)


@numba.njit(cache=True)
def _counting_sort_loop(index, offsets, order):
    # serial: O(M + S), a small part of any scatter that follows
    for r in range(index.shape[0]):
        offsets[index[r] + 1] += 1
    for s in range(offsets.shape[0] - 1):
        offsets[s + 1] += offsets[s]
    fill = offsets[:-1].copy()
    for r in range(index.shape[0]):
        s = index[r]
        order[fill[s]] = r
        fill[s] += 1


def _prepare(op, src, index, num_segments):
    S = check_num_segments(op, num_segments)
    flat = check_src(op, src)
    index = check_index(op, index, flat.shape[0], S)
    (order, offsets) = segments(index, S)
    return (flat, order, offsets, (S,) + tuple(src.shape[1:]))


def gather(src, index):
    """Rows of ``src`` picked by ``index``: ``out[m] = src[index[m]]``.

    Parameters
    ----------
    src : ndarray, shape (N, ...), float32 or float64
    index : int ndarray, shape (M,), values in [0, N)

    Returns
    -------
    out : ndarray, shape (M, ...)
    """
    flat = check_src("gather", src)
    rows = index.shape[0] if getattr(index, "ndim", 0) == 1 else -1
    index = check_index("gather", index, rows, flat.shape[0])
    out = np.empty((index.shape[0], flat.shape[1]), dtype=flat.dtype)
    with threads_for(2 * out.size):
        _gather_loop(flat, index, out)
    return out.reshape((index.shape[0],) + tuple(src.shape[1:]))


@numba.njit(parallel=True, cache=True)
def _gather_loop(src, index, out):
    M, D = out.shape
    for m in prange(M):
        r = index[m]
        for d in range(D):
            out[m, d] = src[r, d]


def scatter_add(src, index, num_segments):
    """``out[s] = sum of src[r] over the rows r with index[r] = s`` (0 for an empty segment).

    Parameters
    ----------
    src : ndarray, shape (M, ...), float32 or float64
    index : int ndarray, shape (M,), values in [0, S)
    num_segments : int, S

    Returns
    -------
    out : ndarray, shape (S, ...)
    """
    (flat, order, offsets, shape) = _prepare("scatter_add", src, index, num_segments)
    out = np.zeros((shape[0], flat.shape[1]), dtype=flat.dtype)
    with threads_for(flat.size + out.size):
        _scatter_add_loop(flat, order, offsets, out)
    return out.reshape(shape)


@numba.njit(parallel=True, cache=True)
def _scatter_add_loop(src, order, offsets, out):
    S, D = out.shape
    for s in prange(S):
        for k in range(offsets[s], offsets[s + 1]):
            r = order[k]
            for d in range(D):
                out[s, d] += src[r, d]


def scatter_mean(src, index, num_segments):
    """The mean of the rows sent to each segment (0 for an empty one), and the row counts.

    Returns
    -------
    out : ndarray, shape (S, ...)
    counts : int64 ndarray, shape (S,), rows per segment
    """
    (flat, order, offsets, shape) = _prepare("scatter_mean", src, index, num_segments)
    out = np.zeros((shape[0], flat.shape[1]), dtype=flat.dtype)
    with threads_for(flat.size + out.size):
        _scatter_add_loop(flat, order, offsets, out)
    counts = np.diff(offsets)
    out /= np.maximum(counts, 1).astype(out.dtype)[:, None]
    return (out.reshape(shape), counts)


def scatter_max(src, index, num_segments):
    """The elementwise max of the rows sent to each segment, and how many rows reach it.

    Returns
    -------
    out : ndarray, shape (S, ...), 0 for an empty segment
    ties : int64 ndarray, shape (S, ...), rows equal to the max (0 for an empty segment)
    """
    return _scatter_extreme("scatter_max", src, index, num_segments, True)


def scatter_min(src, index, num_segments):
    """The elementwise min of the rows sent to each segment, and how many rows reach it.

    Returns
    -------
    out : ndarray, shape (S, ...), 0 for an empty segment
    ties : int64 ndarray, shape (S, ...), rows equal to the min (0 for an empty segment)
    """
    return _scatter_extreme("scatter_min", src, index, num_segments, False)


def _scatter_extreme(op, src, index, num_segments, largest):
    (flat, order, offsets, shape) = _prepare(op, src, index, num_segments)
    out = np.zeros((shape[0], flat.shape[1]), dtype=flat.dtype)
    ties = np.zeros(out.shape, dtype=np.int64)
    with threads_for(flat.size + out.size):
        _scatter_extreme_loop(flat, order, offsets, largest, out, ties)
    return (out.reshape(shape), ties.reshape(shape))


@numba.njit(parallel=True, cache=True)
def _scatter_extreme_loop(src, order, offsets, largest, out, ties):
    S, D = out.shape
    for s in prange(S):
        start, stop = offsets[s], offsets[s + 1]
        if start == stop:
            continue  # an empty segment keeps its 0 and a tie count of 0
        for d in range(D):
            out[s, d] = src[order[start], d]
            ties[s, d] = 1
        for k in range(start + 1, stop):
            r = order[k]
            for d in range(D):
                v = src[r, d]
                better = v > out[s, d] if largest else v < out[s, d]
                if better:
                    out[s, d] = v
                    ties[s, d] = 1
                elif v == out[s, d]:
                    ties[s, d] += 1


def segment_softmax(src, index, num_segments):
    """Softmax over the rows of each segment, per feature:
    ``out[r] = exp(src[r] - m) / sum exp(src[r'] - m)`` over the rows r' of r's segment, with
    m their max (log-sum-exp shift: every exponent is <= 0, so nothing overflows).

    Returns
    -------
    out : ndarray, shape (M, ...), each segment's rows sum to 1 per feature
    """
    (flat, order, offsets, shape) = _prepare("segment_softmax", src, index, num_segments)
    out = np.empty(flat.shape, dtype=flat.dtype)
    with threads_for(2 * flat.size):
        _segment_softmax_loop(flat, order, offsets, out)
    return out.reshape(src.shape)


@numba.njit(parallel=True, cache=True)
def _segment_softmax_loop(src, order, offsets, out):
    D = src.shape[1]
    S = offsets.shape[0] - 1
    for s in prange(S):
        start, stop = offsets[s], offsets[s + 1]
        if start == stop:
            continue
        for d in range(D):
            top = src[order[start], d]
            for k in range(start + 1, stop):
                top = max(top, src[order[k], d])
            total = 0.0
            for k in range(start, stop):
                e = math.exp(src[order[k], d] - top)
                out[order[k], d] = e
                total += e
            for k in range(start, stop):
                out[order[k], d] /= total
