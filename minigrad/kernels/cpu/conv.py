"""im2col and col2im on the CPU: the data movement that turns a convolution into one matrix product.

A 2-D convolution multiplies each kernel-sized window of the input by the weight. ``im2col``
copies every window into one column of a matrix, so that the whole convolution becomes a single
BLAS product ``weight @ cols``. ``col2im`` is its adjoint: it adds each column back onto the
window it came from, which is what the transposed convolution and the input gradient need.

Column layout
-------------
``cols`` has shape ``(C*KH*KW, N*OH*OW)``: row ``r = (c*KH + kh)*KW + kw``, column
``j = (n*OH + oh)*OW + ow``. This layout was chosen for speed:

- the weight gradient's GEMM ``grad_y @ colsᵀ`` is one large product over a chunk of the
  batch (see ``CONV_CHUNK_BYTES``) whose inner dimension is contiguous in both operands, the
  case BLAS handles best;
- the rows of channel group ``g`` are the contiguous block ``[g*Cg*KH*KW, (g+1)*Cg*KH*KW)``,
  so ``cols.reshape(G, Cg*KH*KW, N*OH*OW)`` gives one GEMM per group without a copy;
- each (n, c) input plane fills KH*KW runs of OH*OW contiguous entries, so the copy streams.

The forward's GEMM runs per sample on a strided view of these columns (each sample's block
``cols[:, n*OH*OW:(n + 1)*OH*OW]``), writing the output in NCHW order with no transposing copy.

Both loops first solve the geometry once, in a table of where each tap reads (``_tap_table``),
and then run a flat gather (im2col) or scatter-add (col2im) per (n, c) plane, in parallel over
the planes. The common case of a "same" convolution (stride 1 and OW == W, e.g. 3x3 with
padding 1 or 5x5 with padding 2) has a faster path: there a tap's row of columns is the image
plane shifted by a constant offset, ``q = p + shift``, so one contiguous copy (im2col) or add
(col2im) per tap replaces the gather, which the compiler turns into vector instructions. On
the benchmark shapes (1 thread) that made im2col 1.4-2.8x and col2im 1.2-2.3x faster. The
copy masks the columns whose window reaches the padding with a byte per column (``_inside``)
rather than the 8-byte tap table: with the narrow mask the loop reads a quarter of the bytes it
writes, and it ran 1.3-2x faster again on LeNet's and the 3x3 shapes (2026-11-27, 1 thread).

Notation
--------
N           batch size
C, H, W     channels, height and width of the image side (the convolution's input)
KH, KW      kernel height and width
SH, SW      stride
PH, PW      zero padding on each side
DH, DW      dilation: the gap between kernel taps is DH - 1 rows (DW - 1 columns)
OH, OW      height and width of the column side (the convolution's output); usually
            ``OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1``, but they are passed explicitly
            so that a transposed convolution with ``output_padding`` can use them too
ih, iw      input row and column of a kernel tap: ``ih = oh*SH - PH + kh*DH``
p, q        flat positions ``oh*OW + ow`` on the column side and ``ih*W + iw`` in the image
"""
import numba
import numpy as np

from .. import geometry

# ops/conv.py feeds im2col and the GEMM at most this many bytes of columns at a time. A chunk
# this small is still in cache when the GEMM reads what im2col wrote, and the allocator
# recycles it, where one buffer of hundreds of MB is page-faulted in afresh on every call. On
# the benchmark shapes (2 cores), 1-4 MB ran up to 25% faster than one buffer for the batch.
# Smaller is not better overall: 1 MB chunks gained 3-7% at 1 thread, but each chunk is one
# more multi-threaded GEMM, whose end is a barrier between BLAS's threads; at 2 threads on a
# busy machine, 1 MB made the conv2d benchmark 3.8x and LeNet 1.8x slower than 4 MB.
CONV_CHUNK_BYTES = 4 * 2**20


def im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, out=None, serial=False):
    """Copy every (dilated, strided, zero-padded) kernel window of ``x`` into a column.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    KH, KW, SH, SW, PH, PW, DH, DW : int
        Kernel size, stride, padding and dilation.
    OH, OW : int
        Number of window positions along each axis; windows that reach past the padded
        input read zeros.
    out : array, shape (C*KH*KW, N*OH*OW), optional
        A C-contiguous array of x's dtype to write into (a reused workspace), instead of a
        new one.
    serial : bool
        Run on the calling thread alone, without holding the GIL (for a caller that runs
        several chunks on threads of its own), instead of over Numba's threads.

    Returns
    -------
    cols : ndarray, shape (C*KH*KW, N*OH*OW), dtype of ``x``
        ``cols[(c*KH + kh)*KW + kw, (n*OH + oh)*OW + ow] = x[n, c, ih, iw]`` with
        ``ih = oh*SH - PH + kh*DH`` and ``iw = ow*SW - PW + kw*DW``, zero outside the input.
    """
    geometry.check_im2col("im2col", x.shape, x.dtype, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    N, C, H, W = x.shape
    x = np.ascontiguousarray(x)
    cols = geometry.checked_out("im2col", out, (C * KH * KW, N * OH * OW), x.dtype, np)
    (_im2col_serial if serial else _im2col_loop)(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, cols)
    return cols


def col2im(cols, N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, out=None, serial=False):
    """Add every column of ``cols`` back onto its kernel window: the adjoint of :func:`im2col`.

    Parameters
    ----------
    cols : ndarray, shape (C*KH*KW, N*OH*OW)
    N, C, H, W : int
        Shape of the image to build.
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW : int
        As in :func:`im2col`.
    out : array, shape (N, C, H, W), optional
        A C-contiguous array of cols' dtype to write into, instead of a new one.
    serial : bool
        As in :func:`im2col`.

    Returns
    -------
    x : ndarray, shape (N, C, H, W), dtype of ``cols``
        ``x[n, c, ih, iw] = sum of cols[(c*KH + kh)*KW + kw, (n*OH + oh)*OW + ow]`` over the taps
        with ``ih = oh*SH - PH + kh*DH`` and ``iw = ow*SW - PW + kw*DW``; taps on the padding
        are dropped.
    """
    geometry.check_col2im(cols.shape, cols.dtype, N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW,
                          OH, OW)
    cols = np.ascontiguousarray(cols)
    x = geometry.checked_out("col2im", out, (N, C, H, W), cols.dtype, np)
    (_col2im_serial if serial else _col2im_loop)(cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, x)
    return x


@numba.njit(cache=True)
def _tap_table(H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """Where each kernel tap reads: ``table[kh*KW + kw, oh*OW + ow] = ih*W + iw``, or -1 where
    the tap lands on padding. Shape (KH*KW, OH*OW).

    Every (n, c) plane shares this geometry, so solving it once leaves the loops over the batch
    a flat gather with no per-row bounds logic (several times faster for short rows and strides).
    """
    table = np.empty((KH * KW, OH * OW), dtype=np.int64)
    for kh in range(KH):
        for kw in range(KW):
            for oh in range(OH):
                ih = oh * SH - PH + kh * DH
                for ow in range(OW):
                    iw = ow * SW - PW + kw * DW
                    inside = 0 <= ih < H and 0 <= iw < W
                    table[kh * KW + kw, oh * OW + ow] = ih * W + iw if inside else -1
    return table


@numba.njit(cache=True)
def _valid_range(O, L, K, S, P, D):
    """Along one axis, the outputs whose tap lands inside the input: ``bounds[k] = (lo, hi)``
    such that ``0 <= o*S - P + k*D < L`` holds exactly for ``lo <= o < hi`` (lo == hi: none).
    Shape (K, 2)."""
    bounds = np.zeros((K, 2), dtype=np.int64)
    for k in range(K):
        lo = O
        hi = 0
        for o in range(O):
            if 0 <= o * S - P + k * D < L:
                lo = min(lo, o)
                hi = o + 1
        bounds[k, 0] = lo
        bounds[k, 1] = max(lo, hi)
    return bounds


@numba.njit(cache=True)
def _shifted_run(KH, KW, SH, SW, PH, PW, DH, DW, H, W, OH, OW):
    """For a "same" geometry (stride 1, OW == W), where each tap's shifted copy runs:
    ``runs[tap] = (start, stop, shift)``, the column positions ``start <= p < stop`` (from
    the first valid window to the last) reading image position ``p + shift``, always inside
    the plane. Inside that run the columns ``ow`` outside the tap's valid range would read a
    neighbouring row instead of the padding; the loops mask those with the tap table.
    ``start == stop`` when the tap sees only padding. Shape (KH*KW, 3)."""
    rows = _valid_range(OH, H, KH, SH, PH, DH)
    across = _valid_range(OW, W, KW, SW, PW, DW)
    runs = np.zeros((KH * KW, 3), dtype=np.int64)
    for kh in range(KH):
        for kw in range(KW):
            r0, r1 = rows[kh, 0], rows[kh, 1]
            lo, hi = across[kw, 0], across[kw, 1]
            if r0 < r1 and lo < hi:
                tap = kh * KW + kw
                runs[tap, 0] = r0 * OW + lo
                runs[tap, 1] = (r1 - 1) * OW + hi
                runs[tap, 2] = (kh * DH - PH) * W + kw * DW - PW
    return runs


@numba.njit(cache=True)
def _tables(H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """The geometry every plane shares: the tap table, the shifted runs and the byte mask."""
    table = _tap_table(H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    return (table, _shifted_run(KH, KW, SH, SW, PH, PW, DH, DW, H, W, OH, OW), _inside(table))


@numba.njit(cache=True)
def _inside(table):
    """The tap table as a byte mask: 1 where the tap reads the image, 0 on the padding."""
    inside = np.empty(table.shape, dtype=np.uint8)
    for tap in range(table.shape[0]):
        for p in range(table.shape[1]):
            inside[tap, p] = table[tap, p] >= 0
    return inside


@numba.njit(parallel=True, cache=True)
def _im2col_loop(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, cols):
    N, C, H, W = x.shape
    table, runs, inside = _tables(H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    # One (n, c) plane per iteration: planes fill disjoint runs of cols, so threads never collide.
    for nc in numba.prange(N * C):
        _im2col_planes(x, KH, KW, SH, SW, OW, table, runs, inside, cols, nc, nc + 1)


@numba.njit(nogil=True, cache=True)
def _im2col_serial(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, cols):
    N, C, H, W = x.shape
    table, runs, inside = _tables(H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    _im2col_planes(x, KH, KW, SH, SW, OW, table, runs, inside, cols, 0, N * C)


@numba.njit(nogil=True, cache=True)
def _im2col_planes(x, KH, KW, SH, SW, OW, table, runs, inside, cols, first, last):
    """im2col of the (n, c) planes ``first <= n*C + c < last``."""
    N, C, H, W = x.shape
    L = table.shape[1]
    planes = x.reshape(N * C, H * W)
    shifted = SH == 1 and SW == 1 and OW == W
    for nc in range(first, last):
        n = nc // C
        c = nc % C
        plane = planes[nc]
        for tap in range(KH * KW):
            # views indexed from 0: an index Numba cannot prove non-negative gets a wrap-around
            # test per element, which blocks vectorisation
            row = cols[c * KH * KW + tap, n * L:(n + 1) * L]
            source = table[tap]
            if not shifted:
                for p in range(L):
                    q = source[p]
                    row[p] = plane[q] if q >= 0 else 0
                continue
            start, stop, shift = runs[tap, 0], runs[tap, 1], runs[tap, 2]
            head = row[start:stop]
            image = plane[start + shift:stop + shift]
            valid = inside[tap, start:stop]
            # a select, not a branch, so the copy vectorises; the wrapped-around columns get 0
            for i in range(stop - start):
                head[i] = image[i] if valid[i] else 0
            for p in range(start):  # windows before and after the run see only padding
                row[p] = 0
            for p in range(stop, L):
                row[p] = 0


@numba.njit(parallel=True, cache=True)
def _col2im_loop(cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, x):
    N, C, H, W = x.shape
    table, runs, inside = _tables(H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    # Scatter-add, one (n, c) plane per iteration: a plane only receives its own taps, so the
    # additions of different threads never touch the same element and need no atomics.
    for nc in numba.prange(N * C):
        _col2im_planes(cols, KH, KW, SH, SW, OW, table, runs, inside, x, nc, nc + 1)


@numba.njit(nogil=True, cache=True)
def _col2im_serial(cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, x):
    N, C, H, W = x.shape
    table, runs, inside = _tables(H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    _col2im_planes(cols, KH, KW, SH, SW, OW, table, runs, inside, x, 0, N * C)


@numba.njit(nogil=True, cache=True)
def _col2im_planes(cols, KH, KW, SH, SW, OW, table, runs, inside, x, first, last):
    """col2im into the (n, c) planes ``first <= n*C + c < last``."""
    N, C, H, W = x.shape
    L = table.shape[1]
    planes = x.reshape(N * C, H * W)
    shifted = SH == 1 and SW == 1 and OW == W
    for nc in range(first, last):
        n = nc // C
        c = nc % C
        plane = planes[nc]
        for q in range(H * W):
            plane[q] = 0
        for tap in range(KH * KW):
            row = cols[c * KH * KW + tap, n * L:(n + 1) * L]
            target = table[tap]
            if not shifted:
                for p in range(L):
                    q = target[p]
                    if q >= 0:
                        plane[q] += row[p]
                continue
            start, stop, shift = runs[tap, 0], runs[tap, 1], runs[tap, 2]
            image = plane[start + shift:stop + shift]
            head = row[start:stop]
            valid = inside[tap, start:stop]
            # a select, not a branch, so the add vectorises: the wrapped-around columns keep
            # their value (a select of the sum, not of an addend: `head[i] if valid[i] else 0`
            # is a float64 expression, and its conversions made the loop 1.5-2x slower)
            for i in range(stop - start):
                total = image[i] + head[i]
                image[i] = total if valid[i] else image[i]
