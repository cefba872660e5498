"""im2col and col2im with a window per row: the layout of the strided convolutions' products.

``im2col`` (``conv.py``) writes each window as a column, ``(C*KH*KW, N*OH*OW)``. These kernels
write each window as a row, its taps outermost and its channels innermost::

    rows[(n*OH + oh)*OW + ow, (kh*KW + kw)*C + c] = x[n, c, ih, iw]      (0 on the padding)

with ``ih = oh*SH - PH + kh*DH`` and ``iw = ow*SW - PW + kw*DW``, and ``col2im_rows`` adds each
row back onto its window. Why a second layout: with the windows as rows, every product of a
strided convolution has the long dimension (the batch's windows) as its first, where BLAS runs
fastest. conv_transpose2d's benchmark (x (32, 64, 8, 8), w (64, 32, 4, 4), stride 2,
padding 1) measured at 1 thread, best of 30 (2026-11-27)::

    product                          windows as columns              windows as rows
    forward (the columns of x)       (512, 64) @ (64, 2048)  1.73 ms  (2048, 64) @ (64, 512)  1.38
    input gradient (a strided conv)  (64, 512) @ (512, 2048) 1.75     (2048, 512) @ (512, 64) 1.45
    weight gradient                  (512, 2048) @ (2048, 64) 1.39    (64, 2048) @ (2048, 512) 1.52

0.5 ms less in all, for two transposing copies of 0.04 ms. The weight matrices follow the
rows' order, ``weight.transpose(0, 2, 3, 1)`` (``kernels/im2col_gemm.py``, which also chooses
the layout: ``_window_rows``). The "same" convolutions (stride 1, as wide as the input) keep
the columns, where each tap is one shifted copy of the plane.

Channels innermost, because both loops then move whole pixels: each sample's image is first
turned channels last, ``(H*W, C)`` (a small buffer that stays in cache), so that a tap of a
window is one contiguous copy (im2col_rows) or vector add (col2im_rows) of C values, instead
of C strided single elements. With taps outermost (``(c*KH + kh)*KW + kw``, im2col's order
transposed) the loops ran 1.6-2x slower on the benchmark's shapes in the training step.
Which pixel each tap of a window reads comes from one table, ``_window_pixels``, shared by
every sample; a tap on the padding points at a spare pixel past the image, all zeros for
im2col_rows and a discarded sum for col2im_rows, so that neither loop branches on the padding
(col2im_rows 0.48 → 0.20 ms on the conv_transpose2d benchmark's gradient, im2col_rows 0.237 →
0.220; 2026-11-27, 1 thread).

Notation as in ``conv.py``; T = KH*KW taps per window and L = OH*OW windows per sample.
"""
import numba
import numpy as np

from .. import geometry
from .conv import _tap_table
from .layout import channels_first, channels_last


def im2col_rows(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, out=None, serial=False):
    """Copy every kernel window of ``x`` into a row, channels innermost.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW : int
        As in ``conv.im2col``.
    out : array, shape (N*OH*OW, KH*KW*C), optional
        A C-contiguous array of x's dtype to write into, instead of a new one.
    serial : bool
        Run on the calling thread alone, without holding the GIL, instead of over Numba's
        threads (one sample each).

    Returns
    -------
    rows : ndarray, shape (N*OH*OW, KH*KW*C), dtype of ``x``
        ``rows[(n*OH + oh)*OW + ow, (kh*KW + kw)*C + c] = x[n, c, ih, iw]``, 0 on the padding.
    """
    geometry.check_im2col("im2col_rows", x.shape, x.dtype, KH, KW, SH, SW, PH, PW, DH, DW,
                          OH, OW)
    N, C, H, W = x.shape
    x = np.ascontiguousarray(x)
    rows = geometry.checked_out("im2col_rows", out, (N * OH * OW, C * KH * KW), x.dtype, np)
    taps = _window_pixels(H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    if serial:
        _im2col_rows_serial(x, taps, rows)
    else:
        _im2col_rows_loop(x, taps, rows, numba.get_num_threads())
    return rows


def col2im_rows(rows, N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, out=None,
                serial=False, bias=None):
    """Add every row of ``rows`` back onto its kernel window: the adjoint of :func:`im2col_rows`.

    Parameters
    ----------
    rows : ndarray, shape (N*OH*OW, KH*KW*C)
    N, C, H, W : int
        Shape of the image to build.
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW : int
        As in ``conv.im2col``.
    out : array, shape (N, C, H, W), optional
        A C-contiguous array of rows' dtype to write into, instead of a new one.
    serial : bool
        As in :func:`im2col_rows`.
    bias : ndarray, shape (C,), optional
        Added to every pixel of channel c on the way out (a transposed convolution's bias, in
        the pass that writes the image anyway).

    Returns
    -------
    x : ndarray, shape (N, C, H, W), dtype of ``rows``
        ``x[n, c, ih, iw] = bias[c] + sum of rows[(n*OH + oh)*OW + ow, (kh*KW + kw)*C + c]``
        over the taps that land on ``(ih, iw)``; taps on the padding are dropped.
    """
    op = "col2im_rows"
    geometry.check_col2im(rows.shape, rows.dtype, N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW,
                          OH, OW, op=op)
    bias = geometry.checked_bias(op, bias, C, rows.dtype, np)
    rows = np.ascontiguousarray(rows)
    x = geometry.checked_out(op, out, (N, C, H, W), rows.dtype, np)
    taps = _window_pixels(H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    if serial:
        _col2im_rows_serial(rows, taps, bias, x)
    else:
        _col2im_rows_loop(rows, taps, bias, x, numba.get_num_threads())
    return x


@numba.njit(cache=True)
def _window_pixels(H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """``taps[oh*OW + ow, kh*KW + kw] = ih*W + iw``, or H*W (a spare pixel past the image)
    where the tap lands on padding: the tap table of ``conv.py`` with a window per row. Shape
    (OH*OW, KH*KW)."""
    taps = np.ascontiguousarray(_tap_table(H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW).T)
    for p in range(taps.shape[0]):
        for t in range(taps.shape[1]):
            if taps[p, t] < 0:
                taps[p, t] = H * W
    return taps


@numba.njit(parallel=True, cache=True)
def _im2col_rows_loop(x, taps, rows, shares):
    # One share of the samples per thread (each allocates its buffer once); samples fill
    # disjoint blocks of rows.
    N = x.shape[0]
    for s in numba.prange(shares):
        _im2col_rows_samples(x, taps, rows, N * s // shares, N * (s + 1) // shares)


@numba.njit(nogil=True, cache=True)
def _im2col_rows_serial(x, taps, rows):
    _im2col_rows_samples(x, taps, rows, 0, x.shape[0])


@numba.njit(nogil=True, cache=True)
def _im2col_rows_samples(x, taps, rows, first, last):
    """im2col_rows of the samples ``first <= n < last``."""
    N, C, H, W = x.shape
    L, T = taps.shape
    # one sample channels last, and a last pixel of zeros for the taps on the padding
    pixels = np.zeros((H * W + 1, C), dtype=x.dtype)
    for n in range(first, last):
        channels_last(x[n], pixels[:H * W].reshape(H, W, C), 0, 0)
        for p in range(L):
            row = rows[n * L + p]
            where = taps[p]
            for t in range(T):
                pixel = pixels[where[t]]
                part = row[t * C:(t + 1) * C]
                for c in range(C):
                    part[c] = pixel[c]


@numba.njit(parallel=True, cache=True)
def _col2im_rows_loop(rows, taps, bias, x, shares):
    # One share of the samples per thread: a sample's rows add onto its own planes only, so no
    # two threads ever add to the same element.
    N = x.shape[0]
    for s in numba.prange(shares):
        _col2im_rows_samples(rows, taps, bias, x, N * s // shares, N * (s + 1) // shares)


@numba.njit(nogil=True, cache=True)
def _col2im_rows_serial(rows, taps, bias, x):
    _col2im_rows_samples(rows, taps, bias, x, 0, x.shape[0])


@numba.njit(nogil=True, cache=True)
def _col2im_rows_samples(rows, taps, bias, x, first, last):
    """col2im_rows into the samples ``first <= n < last``, plus the bias."""
    N, C, H, W = x.shape
    L, T = taps.shape
    # one sample's sums, channels last, and a last pixel that takes the taps on the padding
    pixels = np.empty((H * W + 1, C), dtype=x.dtype)
    for n in range(first, last):
        pixels[:] = 0
        for p in range(L):
            row = rows[n * L + p]
            where = taps[p]
            for t in range(T):
                pixel = pixels[where[t]]
                part = row[t * C:(t + 1) * C]
                for c in range(C):
                    pixel[c] += part[c]
        channels_first(pixels[:H * W].reshape(H, W, C), x[n], bias)
