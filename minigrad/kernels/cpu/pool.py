"""Pooling, unpooling and upsampling kernels for the CPU, compiled with ``numba.njit``.

Every public function here has a twin of the same name, argument order and return in
``minigrad.kernels.gpu.pool``. They take raw NumPy arrays and ints, allocate their outputs and
run a private ``_loop`` that splits the N*C image planes over threads with ``prange`` (small
problems stay on one thread, see ``SERIAL_BELOW``). Since a thread owns whole planes, the
scatters (the adjoints) add into their output without races.

The callers in ``minigrad.ops.pool`` validate sizes and indices first: these loops trust them.

Notation
--------
N, C          batch size and channels; a plane is one (n, c) image
H, W          height and width of the input plane (of the output plane, for scatters)
OH, OW        height and width of the pooled (or upsampled) plane
KH, KW        window size;  SH, SW  stride;  PH, PW  zero padding;  DH, DW  dilation
oh, ow        an output cell;  h, w  an input cell;  kh, kw  a position in the window
indices       int64 flat positions ``h * W + w`` inside an input plane (PyTorch's convention)
h0, h1, lh    the two source rows of a bilinear output row and the weight of ``h1``
"""
import contextlib
import math

import numba
import numpy as np
from numba import prange

from ..geometry import pooled_size  # noqa: F401  (re-exported: part of this module's API)

# Below this many cells (input plus output), a loop runs on the calling thread alone: waking the
# thread pool then costs more than the work, and on a busy machine (an idle pool thread that
# spins steals a core from the rest) hundreds of times more.
SERIAL_BELOW = 1 << 15


@contextlib.contextmanager
def _threads_for(cells):
    """Run the parallel loops inside on one thread when ``cells`` is below SERIAL_BELOW."""
    if cells >= SERIAL_BELOW:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


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
    N, C, H, W = x.shape
    OH = pooled_size(H, KH, SH, PH, DH, ceil_mode)
    OW = pooled_size(W, KW, SW, PW, DW, ceil_mode)
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    indices = np.empty((N, C, OH, OW), dtype=np.int64)
    with _threads_for(x.size + y.size):
        _max_pool2d_loop(np.ascontiguousarray(x), KH, KW, SH, SW, PH, PW, DH, DW, y, indices)
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


def scatter_to_indices(g, indices, H, W):
    """Add each value of ``g`` into a zero (H, W) plane at its flat index.

    The backward of max pooling and the forward of max unpooling; colliding indices add up.

    Parameters
    ----------
    g : ndarray, shape (N, C, h, w)
    indices : ndarray of int64, shape (N, C, h, w), values in ``[0, H*W)``
    H, W : int

    Returns
    -------
    out : ndarray, shape (N, C, H, W), ``out[n, c].flat[indices[n, c, i, j]] += g[n, c, i, j]``
    """
    N, C = g.shape[0], g.shape[1]
    # Allocated in its final shape (a fresh array, not a view: the engine can hand it to a
    # leaf's .grad without a copy) and zeroed plane by plane inside the parallel loop, so the
    # first-touch page faults of a large new array are shared by the threads.
    out = np.empty((N, C, H, W), dtype=g.dtype)
    with _threads_for(g.size + out.size):
        _scatter_to_indices_loop(np.ascontiguousarray(g), indices, out.reshape(N, C, H * W))
    return out


@numba.njit(parallel=True, cache=True)
def _scatter_to_indices_loop(g, indices, out):
    N, C, h, w = g.shape
    for p in prange(N * C):
        n, c = p // C, p % C
        out[n, c, :] = 0
        for i in range(h):
            for j in range(w):
                out[n, c, indices[n, c, i, j]] += g[n, c, i, j]


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
    N, C, H, W = g.shape
    out = np.empty(indices.shape, dtype=g.dtype)
    with _threads_for(g.size + out.size):
        _gather_at_indices_loop(np.ascontiguousarray(g).reshape(N, C, H * W), indices, out)
    return out


@numba.njit(parallel=True, cache=True)
def _gather_at_indices_loop(g, indices, out):
    N, C, h, w = out.shape
    for p in prange(N * C):
        n, c = p // C, p % C
        for i in range(h):
            for j in range(w):
                out[n, c, i, j] = g[n, c, indices[n, c, i, j]]


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
    N, C, H, W = x.shape
    OH = pooled_size(H, KH, SH, PH, 1, ceil_mode)
    OW = pooled_size(W, KW, SW, PW, 1, ceil_mode)
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    with _threads_for(x.size + y.size):
        _avg_pool2d_loop(np.ascontiguousarray(x), KH, KW, SH, SW, PH, PW, count_include_pad, y)
    return y


@numba.njit(cache=True)
def _avg_window(o, K, S, P, L, count_include_pad):
    """Clipped window ``[lo, hi)`` of output cell ``o`` along one axis, and its divisor factor.

    The window is first clipped to the padded input, which sets the count with padding (a ceil
    mode window can hang past it); then to the input itself, which sets the count without.
    """
    lo = o * S - P
    hi = min(lo + K, L + P)
    size = hi - lo
    lo = max(lo, 0)
    hi = min(hi, L)
    return (lo, hi, size if count_include_pad else hi - lo)


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
    g : ndarray, shape (N, C, OH, OW)
    H, W, KH, KW, SH, SW, PH, PW : int
    count_include_pad : bool

    Returns
    -------
    out : ndarray, shape (N, C, H, W)
        ``out[n, c, h, w]`` sums ``g / divisor`` over the windows that cover (h, w).
    """
    N, C = g.shape[0], g.shape[1]
    out = np.zeros((N, C, H, W), dtype=g.dtype)
    with _threads_for(g.size + out.size):
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


@numba.njit(cache=True)
def _adaptive_window(o, O, L):
    """PyTorch's adaptive window ``[floor(o*L/O), ceil((o+1)*L/O))`` in integer arithmetic."""
    return (o * L // O, ((o + 1) * L + O - 1) // O)


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
    N, C = x.shape[0], x.shape[1]
    y = np.empty((N, C, OH, OW), dtype=x.dtype)
    with _threads_for(x.size + y.size):
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
    H, W : int

    Returns
    -------
    out : ndarray, shape (N, C, H, W)
    """
    N, C = g.shape[0], g.shape[1]
    out = np.zeros((N, C, H, W), dtype=g.dtype)
    with _threads_for(g.size + out.size):
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


def upsample_bilinear2d(x, h0, h1, lh, w0, w1, lw):
    """Bilinear interpolation from precomputed source rows, columns and weights.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    h0, h1 : ndarray of int64, shape (OH,), source rows in ``[0, H)``
    lh : ndarray, shape (OH,), weight of row ``h1`` (row ``h0`` gets ``1 - lh``), x's dtype
    w0, w1 : ndarray of int64, shape (OW,);  lw : ndarray, shape (OW,)

    Returns
    -------
    y : ndarray, shape (N, C, OH, OW),
        ``y = (1-lh) ((1-lw) x[h0, w0] + lw x[h0, w1]) + lh ((1-lw) x[h1, w0] + lw x[h1, w1])``
    """
    N, C = x.shape[0], x.shape[1]
    y = np.empty((N, C, h0.shape[0], w0.shape[0]), dtype=x.dtype)
    with _threads_for(x.size + y.size):
        _upsample_bilinear2d_loop(np.ascontiguousarray(x), h0, h1, lh, w0, w1, lw, y)
    return y


@numba.njit(parallel=True, cache=True)
def _upsample_bilinear2d_loop(x, h0, h1, lh, w0, w1, lw, y):
    N, C, OH, OW = y.shape
    for p in prange(N * C):
        n, c = p // C, p % C
        for oh in range(OH):
            for ow in range(OW):
                top = (1 - lw[ow]) * x[n, c, h0[oh], w0[ow]] + lw[ow] * x[n, c, h0[oh], w1[ow]]
                bottom = (1 - lw[ow]) * x[n, c, h1[oh], w0[ow]] + lw[ow] * x[n, c, h1[oh], w1[ow]]
                y[n, c, oh, ow] = (1 - lh[oh]) * top + lh[oh] * bottom


def upsample_bilinear2d_adjoint(g, h0, h1, lh, w0, w1, lw, H, W):
    """Send each output value back to its four source cells with the bilinear weights.

    Parameters
    ----------
    g : ndarray, shape (N, C, OH, OW)
    h0, h1, lh, w0, w1, lw : ndarray, as in :func:`upsample_bilinear2d`
    H, W : int

    Returns
    -------
    out : ndarray, shape (N, C, H, W), the transpose of :func:`upsample_bilinear2d` applied to g
    """
    N, C = g.shape[0], g.shape[1]
    out = np.zeros((N, C, H, W), dtype=g.dtype)
    with _threads_for(g.size + out.size):
        _upsample_bilinear2d_adjoint_loop(np.ascontiguousarray(g), h0, h1, lh, w0, w1, lw, out)
    return out


@numba.njit(parallel=True, cache=True)
def _upsample_bilinear2d_adjoint_loop(g, h0, h1, lh, w0, w1, lw, out):
    N, C, OH, OW = g.shape
    for p in prange(N * C):
        n, c = p // C, p % C
        for oh in range(OH):
            for ow in range(OW):
                top = (1 - lh[oh]) * g[n, c, oh, ow]
                bottom = lh[oh] * g[n, c, oh, ow]
                out[n, c, h0[oh], w0[ow]] += (1 - lw[ow]) * top
                out[n, c, h0[oh], w1[ow]] += lw[ow] * top
                out[n, c, h1[oh], w0[ow]] += (1 - lw[ow]) * bottom
                out[n, c, h1[oh], w1[ow]] += lw[ow] * bottom
