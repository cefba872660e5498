"""Gather, scatter and segment-softmax kernels for the GPU, written with ``numba.cuda``.

Every public function here has a twin of the same name, argument order and return in
``minigrad.kernels.cpu.scatter``, with the same checks (``kernels/segments.py``) and the index
math in the same order. The rows are first laid out by segment with the array module's own
stable sort (CuPy on a GPU, NumPy under Numba's CUDA simulator); then one thread per output
cell (s, d) reduces the rows of its segment in their original order. No two threads write the
same cell, so there are no atomics and the results are deterministic, as on the CPU.

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

from numba import cuda

from minigrad.backend import xp_of
from ..segments import check_index, check_num_segments, check_src
from .launch import launch


def segments(index, num_segments):
    """The CSR layout of ``index``: (order, offsets), rows sorted by segment, stable."""
    S = check_num_segments("segments", num_segments)
    index = check_index("segments", index, index.shape[0] if index.ndim else -1, S)
    xp = xp_of(index)
    M = index.shape[0]
    # unique keys (segment, row): any sort of them is the stable sort by segment, on CuPy
    # (which sorts stably but takes no ``kind``) and on NumPy under the simulator alike
    order = xp.argsort(index * M + xp.arange(M, dtype=xp.int64)).astype(xp.int64)
    offsets = xp.zeros(S + 1, dtype=xp.int64)
    offsets[1:] = xp.cumsum(xp.bincount(index, minlength=S))
    return (order, offsets)


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
    xp = xp_of(flat)
    out = xp.empty((index.shape[0], flat.shape[1]), dtype=flat.dtype)
    launch(_gather_thread, out.size, flat, index, out)
    return out.reshape((index.shape[0],) + tuple(src.shape[1:]))


@cuda.jit
def _gather_thread(src, index, out):
    M, D = out.shape
    t = cuda.grid(1)
    if t >= M * D:
        return
    m, d = t // D, t % D
    out[m, d] = src[index[m], d]


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
    out = xp_of(flat).zeros((shape[0], flat.shape[1]), dtype=flat.dtype)
    launch(_scatter_add_thread, out.size, flat, order, offsets, out)
    return out.reshape(shape)


@cuda.jit
def _scatter_add_thread(src, order, offsets, out):
    S, D = out.shape
    t = cuda.grid(1)
    if t >= S * D:
        return
    s, d = t // D, t % D
    for k in range(offsets[s], offsets[s + 1]):
        r = order[k]
        out[s, d] += src[r, d]


def scatter_mean(src, index, num_segments):
    """The mean of the rows sent to each segment (0 for an empty one), and the row counts.

    Returns
    -------
    out : ndarray, shape (S, ...)
    counts : int64 ndarray, shape (S,), rows per segment
    """
    (flat, order, offsets, shape) = _prepare("scatter_mean", src, index, num_segments)
    xp = xp_of(flat)
    out = xp.zeros((shape[0], flat.shape[1]), dtype=flat.dtype)
    launch(_scatter_add_thread, out.size, flat, order, offsets, out)
    counts = xp.diff(offsets)
    out /= xp.maximum(counts, 1).astype(out.dtype)[:, None]
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
    xp = xp_of(flat)
    out = xp.zeros((shape[0], flat.shape[1]), dtype=flat.dtype)
    ties = xp.zeros(out.shape, dtype=xp.int64)
    launch(_scatter_extreme_thread, out.size, flat, order, offsets, largest, out, ties)
    return (out.reshape(shape), ties.reshape(shape))


@cuda.jit
def _scatter_extreme_thread(src, order, offsets, largest, out, ties):
    S, D = out.shape
    t = cuda.grid(1)
    if t >= S * D:
        return
    s, d = t // D, t % D
    start, stop = offsets[s], offsets[s + 1]
    if start == stop:
        return  # an empty segment keeps its 0 and a tie count of 0
    best = src[order[start], d]
    count = 1
    for k in range(start + 1, stop):
        r = order[k]
        v = src[r, d]
        better = v > best if largest else v < best
        if better:
            best = v
            count = 1
        elif v == best:
            count += 1
    out[s, d] = best
    ties[s, d] = count


def segment_softmax(src, index, num_segments):
    """Softmax over the rows of each segment, per feature:
    ``out[r] = exp(src[r] - m) / sum exp(src[r'] - m)`` over the rows r' of r's segment, with
    m their max (log-sum-exp shift: every exponent is <= 0, so nothing overflows).

    Returns
    -------
    out : ndarray, shape (M, ...), each segment's rows sum to 1 per feature
    """
    (flat, order, offsets, shape) = _prepare("segment_softmax", src, index, num_segments)
    out = xp_of(flat).empty(flat.shape, dtype=flat.dtype)
    launch(_segment_softmax_thread, shape[0] * flat.shape[1], flat, order, offsets, out)
    return out.reshape(src.shape)


@cuda.jit
def _segment_softmax_thread(src, order, offsets, out):
    D = src.shape[1]
    S = offsets.shape[0] - 1
    t = cuda.grid(1)
    if t >= S * D:
        return
    s, d = t // D, t % D
    start, stop = offsets[s], offsets[s + 1]
    if start == stop:
        return
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
