"""Pooling, unpooling and index kernels for the CPU, compiled with ``numba.njit``.

Every public function here has a twin of the same name, argument order and return in
``minigrad.kernels.gpu.pool``. They take raw NumPy arrays and ints, check what reaches them
with ``kernels/geometry.py`` (the twins share those checks, the output shapes and the window
helpers), allocate their outputs and run a private ``_loop`` that splits the N*C image planes
over threads with ``prange`` (small problems stay on one thread, see ``parallel.py``). Since a
thread owns whole planes, the scatters (the adjoints) add into their output without races.

The index kernels bounds-check every index as they go and report how many fell outside the
plane; such an index is skipped, never followed, and the wrapper raises an IndexError.

Notation
--------
N, C          batch size and channels; a plane is one (n, c) image
H, W          height and width of the input plane (of the output plane, for scatters)
OH, OW        height and width of the pooled plane
KH, KW        window size;  SH, SW  stride;  PH, PW  zero padding;  DH, DW  dilation
oh, ow        an output cell;  h, w  an input cell;  kh, kw  a position in the window
indices       int64 flat positions ``h * W + w`` inside an input plane (PyTorch's convention)
"""
import math

import numba
import numpy as np
from numba import prange

from .. import geometry
from .parallel import threads_for

_avg_window = numba.njit(cache=True)(geometry.avg_window)
_adaptive_window = numba.njit(cache=True)(geometry.adaptive_window)


def max_pool2d(x, KH, KW, SH, SW, PH, PW, DH=1, DW=1, ceil_mode=False):
    """Max over each (dilated) window, and the flat position of the winner.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    KH, KW, SH, SW, PH, PW, DH, DW : int
    ceil_mode : bool

    Returns
    -------
    y : ndarray, shape (N, C, OH, OW), ``OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1``
    indices : ndarray of int64, shape (N, C, OH, OW), values in ``[0, H*W)``
    """
    shape = geometry.pool_shape("max_pool2d", x.shape, KH, KW, SH, SW, PH, PW, DH, DW, ceil_mode)
    y = np.empty(shape, dtype=x.dtype)
    indices = np.empty(shape, dtype=np.int64)
    OH, OW = shape[2], shape[3]
    with threads_for(x.size + y.size):
        if (KH, KW, SH, SW, PH, PW, DH, DW) == (2, 2, 2, 2, 0, 0, 1, 1) and \
                2 * OH <= x.shape[2] and 2 * OW <= x.shape[3]:
            _max_pool2x2_loop(np.ascontiguousarray(x), y, indices)
        else:
            _max_pool2d_loop(np.ascontiguousarray(x), KH, KW, SH, SW, PH, PW, DH, DW, y,
                             indices)
    return (y, indices)


@numba.njit(parallel=True, cache=True)
def _max_pool2d_loop(x, KH, KW, SH, SW, PH, PW, DH, DW, y, indices):
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    for p in prange(N * C):
        n, c = p // C, p % C
        for oh in range(OH):
            for ow in range(OW):
                best = -np.inf
                best_index = -1
                for kh in range(KH):
                    h = oh * SH - PH + kh * DH
                    if h < 0 or h >= H:
                        continue  # padding counts as -inf: it never wins
                    for kw in range(KW):
                        w = ow * SW - PW + kw * DW
                        if w < 0 or w >= W:
                            continue
                        v = x[n, c, h, w]
                        # Strict '>' keeps the first of tied maxima; a NaN always wins, so it
                        # propagates as in PyTorch.
                        if best_index < 0 or v > best or math.isnan(v):
                            best = v
                            best_index = h * W + w
                y[n, c, oh, ow] = best
                indices[n, c, oh, ow] = best_index


@numba.njit(parallel=True, cache=True)
def _max_pool2x2_loop(x, y, indices):
    """The common 2x2, stride 2 pooling with every window inside the plane: the same rule as
    ``_max_pool2d_loop``, written out for the four taps. With no bounds tests left and selects
    instead of branches, the compiler vectorises the loop over ``ow``; on random data (where a
    branch on ``v > best`` is mispredicted half the time) it ran 2.5x faster than the general
    loop on LeNet's shapes."""
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    for p in prange(N * C):
        n, c = p // C, p % C
        for oh in range(OH):
            h = 2 * oh
            for ow in range(OW):
                w = 2 * ow
                # scan order (h, w), (h, w+1), (h+1, w), (h+1, w+1): strict '>' keeps the
                # first of tied maxima, and a NaN always takes over
                a, b = x[n, c, h, w], x[n, c, h, w + 1]
                d, e = x[n, c, h + 1, w], x[n, c, h + 1, w + 1]
                take = (b > a) | (b != b)
                best = b if take else a
                offset = 1 if take else 0
                take = (d > best) | (d != d)
                best = d if take else best
                offset = W if take else offset
                take = (e > best) | (e != e)
                best = e if take else best
                offset = W + 1 if take else offset
                y[n, c, oh, ow] = best
                indices[n, c, oh, ow] = h * W + w + offset


def scatter_to_indices(g, indices, H, W, indices_copy=None):
    """Add each value of ``g`` into a zero (H, W) plane at its flat index.

    The backward of max pooling and the forward of max unpooling; colliding indices add up.

    Parameters
    ----------
    g : ndarray, shape (N, C, h, w)
    indices : ndarray of int64, shape (N, C, h, w), values in ``[0, H*W)``
    H, W : int
    indices_copy : ndarray of int64, shape (N, C, h, w), optional
        Receives a copy of ``indices``, written in the same pass that reads them (max
        unpooling keeps one for its backward: on bench_speed's max_unpool2d at 2 threads a
        separate NumPy copy took 0.07-0.13 ms beside the scatter's 0.23).

    Returns
    -------
    out : ndarray, shape (N, C, H, W), ``out[n, c].flat[indices[n, c, i, j]] += g[n, c, i, j]``
    """
    op = "scatter_to_indices"
    geometry.check_scatter(op, g.shape, indices.shape, indices.dtype, H, W)
    keep = indices_copy is not None
    if keep:
        geometry.check_indices_copy(op, indices_copy, indices.shape, np)
    N, C = g.shape[0], g.shape[1]
    # Allocated in its final shape (a fresh array, not a view: the engine can hand it to a
    # leaf's .grad without a copy) and zeroed plane by plane inside the parallel loop, so the
    # first-touch page faults of a large new array are shared by the threads.
    out = np.empty((N, C, H, W), dtype=g.dtype)
    with threads_for(g.size + out.size):
        outside = _scatter_to_indices_loop(np.ascontiguousarray(g), indices,
                                           out.reshape(N, C, H * W),
                                           indices_copy if keep else _NO_COPY, keep)
    geometry.raise_if_outside(op, outside, H, W)
    return out


# what the scatter loop takes for ``copy`` when there is none to write (of the type of one)
_NO_COPY = np.empty((0, 0, 0, 0), dtype=np.int64)


@numba.njit(parallel=True, cache=True)
def _scatter_to_indices_loop(g, indices, out, copy, keep):
    N, C, h, w = g.shape
    HW = out.shape[2]
    outside = 0
    for p in prange(N * C):
        n, c = p // C, p % C
        out[n, c, :] = 0
        for i in range(h):
            for j in range(w):
                q = indices[n, c, i, j]
                if keep:
                    copy[n, c, i, j] = q
                if 0 <= q < HW:
                    out[n, c, q] += g[n, c, i, j]
                else:
                    outside += 1
    return outside


def gather_at_indices(g, indices):
    """Read each (H, W) plane of ``g`` at flat indices: the adjoint of :func:`scatter_to_indices`.

    Parameters
    ----------
    g : ndarray, shape (N, C, H, W)
    indices : ndarray of int64, shape (N, C, h, w), values in ``[0, H*W)``; may be a broadcast view

    Returns
    -------
    out : ndarray, shape (N, C, h, w), ``out[n, c, i, j] = g[n, c].flat[indices[n, c, i, j]]``
    """
    op = "gather_at_indices"
    N, C, H, W = g.shape
    geometry.check_gather(op, g.shape, indices.shape, indices.dtype)
    out = np.empty(indices.shape, dtype=g.dtype)
    with threads_for(g.size + out.size):
        outside = _gather_at_indices_loop(np.ascontiguousarray(g).reshape(N, C, H * W), indices,
                                          out)
    geometry.raise_if_outside(op, outside, H, W)
    return out


@numba.njit(parallel=True, cache=True)
def _gather_at_indices_loop(g, indices, out):
    N, C, h, w = out.shape
    HW = g.shape[2]
    outside = 0
    for p in prange(N * C):
        n, c = p // C, p % C
        for i in range(h):
            for j in range(w):
                q = indices[n, c, i, j]
                if 0 <= q < HW:
                    out[n, c, i, j] = g[n, c, q]
                else:
                    out[n, c, i, j] = 0
                    outside += 1
    return outside


def avg_pool2d(x, KH, KW, SH, SW, PH, PW, ceil_mode=False, count_include_pad=True):
    """Mean over each window, PyTorch's divisor rule.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    KH, KW, SH, SW, PH, PW : int
    ceil_mode, count_include_pad : bool

    Returns
    -------
    y : ndarray, shape (N, C, OH, OW), ``OH = (H + 2*PH - KH) // SH + 1``
    """
    shape = geometry.pool_shape("avg_pool2d", x.shape, KH, KW, SH, SW, PH, PW, 1, 1, ceil_mode)
    y = np.empty(shape, dtype=x.dtype)
    with threads_for(x.size + y.size):
        _avg_pool2d_loop(np.ascontiguousarray(x), KH, KW, SH, SW, PH, PW, count_include_pad, y)
    return y


@numba.njit(parallel=True, cache=True)
def _avg_pool2d_loop(x, KH, KW, SH, SW, PH, PW, count_include_pad, y):
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    for p in prange(N * C):
        n, c = p // C, p % C
        for oh in range(OH):
            h_lo, h_hi, h_size = _avg_window(oh, KH, SH, PH, H, count_include_pad)
            for ow in range(OW):
                w_lo, w_hi, w_size = _avg_window(ow, KW, SW, PW, W, count_include_pad)
                total = 0.0
                for h in range(h_lo, h_hi):
                    for w in range(w_lo, w_hi):
                        total += x[n, c, h, w]
                # An empty window (only in ceil mode, past the padding) has divisor 0: write 0.
                divisor = h_size * w_size
                y[n, c, oh, ow] = total / divisor if h_lo < h_hi and w_lo < w_hi else 0.0


def avg_pool2d_adjoint(g, H, W, KH, KW, SH, SW, PH, PW, count_include_pad=True):
    """Spread each pooled value evenly back over its window: the transpose of :func:`avg_pool2d`.

    Parameters
    ----------
    g : ndarray, shape (N, C, OH, OW), OH and OW those of avg_pool2d in floor or ceil mode
    H, W, KH, KW, SH, SW, PH, PW : int
    count_include_pad : bool

    Returns
    -------
    out : ndarray, shape (N, C, H, W)
        ``out[n, c, h, w]`` sums ``g / divisor`` over the windows that cover (h, w).
    """
    shape = geometry.avg_pool2d_adjoint_shape("avg_pool2d_adjoint", g.shape, H, W, KH, KW, SH,
                                              SW, PH, PW)
    out = np.zeros(shape, dtype=g.dtype)
    with threads_for(g.size + out.size):
        _avg_pool2d_adjoint_loop(np.ascontiguousarray(g), KH, KW, SH, SW, PH, PW,
                                 count_include_pad, out)
    return out


@numba.njit(parallel=True, cache=True)
def _avg_pool2d_adjoint_loop(g, KH, KW, SH, SW, PH, PW, count_include_pad, out):
    N, C, H, W = out.shape
    OH, OW = g.shape[2], g.shape[3]
    for p in prange(N * C):
        n, c = p // C, p % C
        for oh in range(OH):
            h_lo, h_hi, h_size = _avg_window(oh, KH, SH, PH, H, count_include_pad)
            for ow in range(OW):
                w_lo, w_hi, w_size = _avg_window(ow, KW, SW, PW, W, count_include_pad)
                if h_lo >= h_hi or w_lo >= w_hi:
                    continue
                share = g[n, c, oh, ow] / (h_size * w_size)
                for h in range(h_lo, h_hi):
                    for w in range(w_lo, w_hi):
                        out[n, c, h, w] += share


def adaptive_avg_pool2d(x, OH, OW):
    """Mean over the adaptive windows that tile an (H, W) plane into OH x OW cells.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    OH, OW : int, at least 1

    Returns
    -------
    y : ndarray, shape (N, C, OH, OW)
    """
    shape = geometry.adaptive_shape("adaptive_avg_pool2d", x.shape, OH, OW)
    y = np.empty(shape, dtype=x.dtype)
    with threads_for(x.size + y.size):
        _adaptive_avg_pool2d_loop(np.ascontiguousarray(x), y)
    return y


@numba.njit(parallel=True, cache=True)
def _adaptive_avg_pool2d_loop(x, y):
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    for p in prange(N * C):
        n, c = p // C, p % C
        for oh in range(OH):
            h_lo, h_hi = _adaptive_window(oh, OH, H)
            for ow in range(OW):
                w_lo, w_hi = _adaptive_window(ow, OW, W)
                total = 0.0
                for h in range(h_lo, h_hi):
                    for w in range(w_lo, w_hi):
                        total += x[n, c, h, w]
                y[n, c, oh, ow] = total / ((h_hi - h_lo) * (w_hi - w_lo))


def adaptive_avg_pool2d_adjoint(g, H, W):
    """Spread each cell evenly back over its adaptive window: the transpose of the pooling.

    Parameters
    ----------
    g : ndarray, shape (N, C, OH, OW)
    H, W : int, at least 1

    Returns
    -------
    out : ndarray, shape (N, C, H, W)
    """
    N, C, OH, OW = g.shape
    geometry.adaptive_shape("adaptive_avg_pool2d_adjoint", (N, C, H, W), OH, OW)
    out = np.zeros((N, C, H, W), dtype=g.dtype)
    with threads_for(g.size + out.size):
        _adaptive_avg_pool2d_adjoint_loop(np.ascontiguousarray(g), out)
    return out


@numba.njit(parallel=True, cache=True)
def _adaptive_avg_pool2d_adjoint_loop(g, out):
    N, C, H, W = out.shape
    OH, OW = g.shape[2], g.shape[3]
    for p in prange(N * C):
        n, c = p // C, p % C
        for oh in range(OH):
            h_lo, h_hi = _adaptive_window(oh, OH, H)
            for ow in range(OW):
                w_lo, w_hi = _adaptive_window(ow, OW, W)
                share = g[n, c, oh, ow] / ((h_hi - h_lo) * (w_hi - w_lo))
                for h in range(h_lo, h_hi):
                    for w in range(w_lo, w_hi):
                        out[n, c, h, w] += share
