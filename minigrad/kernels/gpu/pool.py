"""Pooling, unpooling and index kernels for the GPU, written with ``numba.cuda``.

Every public function here has a twin of the same name, argument order and return in
``minigrad.kernels.cpu.pool``, and the index math is written in the same order with the same
names so that the two files can be read side by side; the checks, output shapes and window
helpers come from ``kernels/geometry.py`` for both. The wrappers allocate outputs with the
array module of the input (CuPy on a GPU; NumPy under Numba's CUDA simulator) and ``launch`` a
private ``_thread`` kernel with one thread per cell. Adjoints scatter with
``cuda.atomic.add``, since windows that overlap send several threads to the same input cell.

The index kernels bounds-check every index as they go and count those outside the plane in a
one-element array; such an index is skipped, never followed, and the wrapper raises an
IndexError.

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

from numba import cuda

from minigrad.backend import xp_of
from minigrad.kernels import geometry
from .launch import launch, unravel

_avg_window = cuda.jit(device=True)(geometry.avg_window)
_adaptive_window = cuda.jit(device=True)(geometry.adaptive_window)


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
    xp = xp_of(x)
    shape = geometry.pool_shape("max_pool2d", x.shape, KH, KW, SH, SW, PH, PW, DH, DW, ceil_mode)
    y = xp.empty(shape, dtype=x.dtype)
    indices = xp.empty(shape, dtype=xp.int64)
    launch(_max_pool2d_thread, y.size, xp.ascontiguousarray(x), KH, KW, SH, SW, PH, PW, DH, DW,
           y, indices)
    return (y, indices)


@cuda.jit
def _max_pool2d_thread(x, KH, KW, SH, SW, PH, PW, DH, DW, y, indices):
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    t = cuda.grid(1)
    if t >= N * C * OH * OW:
        return
    n, c, oh, ow = unravel(t, C, OH, OW)
    best = -math.inf
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
            # Strict '>' keeps the first of tied maxima; a NaN always wins, as in PyTorch.
            if best_index < 0 or v > best or math.isnan(v):
                best = v
                best_index = h * W + w
    y[n, c, oh, ow] = best
    indices[n, c, oh, ow] = best_index


def scatter_to_indices(g, indices, H, W, indices_copy=None):
    """Add each value of ``g`` into a zero (H, W) plane at its flat index.

    The backward of max pooling and the forward of max unpooling; colliding indices add up.

    Parameters
    ----------
    g : ndarray, shape (N, C, h, w)
    indices : ndarray of int64, shape (N, C, h, w), values in ``[0, H*W)``
    H, W : int
    indices_copy : ndarray of int64, shape (N, C, h, w), optional
        Receives a copy of ``indices`` (an array copy here; the CPU kernel writes it in the
        pass that reads them).

    Returns
    -------
    out : ndarray, shape (N, C, H, W), ``out[n, c].flat[indices[n, c, i, j]] += g[n, c, i, j]``
    """
    op = "scatter_to_indices"
    geometry.check_scatter(op, g.shape, indices.shape, indices.dtype, H, W)
    xp = xp_of(g)
    if indices_copy is not None:
        geometry.check_indices_copy(op, indices_copy, indices.shape, xp)
        indices_copy[...] = indices
    N, C = g.shape[0], g.shape[1]
    out = xp.zeros((N, C, H * W), dtype=g.dtype)
    outside = xp.zeros(1, dtype=xp.int64)
    launch(_scatter_to_indices_thread, g.size, xp.ascontiguousarray(g), indices, out, outside)
    geometry.raise_if_outside(op, int(outside[0]), H, W)
    return out.reshape(N, C, H, W)


@cuda.jit
def _scatter_to_indices_thread(g, indices, out, outside):
    N, C, h, w = g.shape
    HW = out.shape[2]
    t = cuda.grid(1)
    if t >= N * C * h * w:
        return
    n, c, i, j = unravel(t, C, h, w)
    q = indices[n, c, i, j]
    if 0 <= q < HW:
        # Overlapping windows can pick the same cell: the adds must not race.
        cuda.atomic.add(out, (n, c, q), g[n, c, i, j])
    else:
        cuda.atomic.add(outside, 0, 1)


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
    geometry.check_gather(op, g.shape, indices.shape, indices.dtype)
    xp = xp_of(g)
    N, C, H, W = g.shape
    out = xp.empty(indices.shape, dtype=g.dtype)
    outside = xp.zeros(1, dtype=xp.int64)
    launch(_gather_at_indices_thread, out.size, xp.ascontiguousarray(g).reshape(N, C, H * W),
           indices, out, outside)
    geometry.raise_if_outside(op, int(outside[0]), H, W)
    return out


@cuda.jit
def _gather_at_indices_thread(g, indices, out, outside):
    N, C, h, w = out.shape
    HW = g.shape[2]
    t = cuda.grid(1)
    if t >= N * C * h * w:
        return
    n, c, i, j = unravel(t, C, h, w)
    q = indices[n, c, i, j]
    if 0 <= q < HW:
        out[n, c, i, j] = g[n, c, q]
    else:
        out[n, c, i, j] = 0
        cuda.atomic.add(outside, 0, 1)


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
    xp = xp_of(x)
    shape = geometry.pool_shape("avg_pool2d", x.shape, KH, KW, SH, SW, PH, PW, 1, 1, ceil_mode)
    y = xp.empty(shape, dtype=x.dtype)
    launch(_avg_pool2d_thread, y.size, xp.ascontiguousarray(x), KH, KW, SH, SW, PH, PW,
           count_include_pad, y)
    return y


@cuda.jit
def _avg_pool2d_thread(x, KH, KW, SH, SW, PH, PW, count_include_pad, y):
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    t = cuda.grid(1)
    if t >= N * C * OH * OW:
        return
    n, c, oh, ow = unravel(t, C, OH, OW)
    h_lo, h_hi, h_size = _avg_window(oh, KH, SH, PH, H, count_include_pad)
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
    xp = xp_of(g)
    shape = geometry.avg_pool2d_adjoint_shape("avg_pool2d_adjoint", g.shape, H, W, KH, KW, SH,
                                              SW, PH, PW)
    out = xp.zeros(shape, dtype=g.dtype)
    launch(_avg_pool2d_adjoint_thread, g.size, xp.ascontiguousarray(g), KH, KW, SH, SW, PH, PW,
           count_include_pad, out)
    return out


@cuda.jit
def _avg_pool2d_adjoint_thread(g, KH, KW, SH, SW, PH, PW, count_include_pad, out):
    N, C, H, W = out.shape
    OH, OW = g.shape[2], g.shape[3]
    t = cuda.grid(1)
    if t >= N * C * OH * OW:
        return
    n, c, oh, ow = unravel(t, C, OH, OW)
    h_lo, h_hi, h_size = _avg_window(oh, KH, SH, PH, H, count_include_pad)
    w_lo, w_hi, w_size = _avg_window(ow, KW, SW, PW, W, count_include_pad)
    if h_lo >= h_hi or w_lo >= w_hi:
        return
    share = g[n, c, oh, ow] / (h_size * w_size)
    for h in range(h_lo, h_hi):
        for w in range(w_lo, w_hi):
            cuda.atomic.add(out, (n, c, h, w), share)


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
    xp = xp_of(x)
    shape = geometry.adaptive_shape("adaptive_avg_pool2d", x.shape, OH, OW)
    y = xp.empty(shape, dtype=x.dtype)
    launch(_adaptive_avg_pool2d_thread, y.size, xp.ascontiguousarray(x), y)
    return y


@cuda.jit
def _adaptive_avg_pool2d_thread(x, y):
    N, C, H, W = x.shape
    OH, OW = y.shape[2], y.shape[3]
    t = cuda.grid(1)
    if t >= N * C * OH * OW:
        return
    n, c, oh, ow = unravel(t, C, OH, OW)
    h_lo, h_hi = _adaptive_window(oh, OH, H)
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
    xp = xp_of(g)
    N, C, OH, OW = g.shape
    geometry.adaptive_shape("adaptive_avg_pool2d_adjoint", (N, C, H, W), OH, OW)
    out = xp.zeros((N, C, H, W), dtype=g.dtype)
    launch(_adaptive_avg_pool2d_adjoint_thread, g.size, xp.ascontiguousarray(g), out)
    return out


@cuda.jit
def _adaptive_avg_pool2d_adjoint_thread(g, out):
    N, C, H, W = out.shape
    OH, OW = g.shape[2], g.shape[3]
    t = cuda.grid(1)
    if t >= N * C * OH * OW:
        return
    n, c, oh, ow = unravel(t, C, OH, OW)
    h_lo, h_hi = _adaptive_window(oh, OH, H)
    w_lo, w_hi = _adaptive_window(ow, OW, W)
    share = g[n, c, oh, ow] / ((h_hi - h_lo) * (w_hi - w_lo))
    for h in range(h_lo, h_hi):
        for w in range(w_lo, w_hi):
            cuda.atomic.add(out, (n, c, h, w), share)
