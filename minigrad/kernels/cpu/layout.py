"""A sample's image turned channels last and back: the first and last steps of the kernels
that move whole pixels.

``kernels/cpu/conv_rows.py`` (windows as rows) and ``kernels/cpu/winograd.py`` (its transforms)
read one sample's (C, H, W) image as (H, W, C) pixels, so that each step of their loops is a
contiguous run of values, which the compiler vectorises, and write their result back channels
first; Winograd's transforms hold the even and odd columns apart (``channels_last`` on a
strided view of each, ``channels_first_from_parities`` back).
"""
import numba

# A sample larger than this (bytes) is copied back row by row (see channels_first): about one
# core's L1 data cache.
ROWS_FIRST_BYTES = 32 * 2**10


@numba.njit(nogil=True, cache=True)
def channels_last(planes, out, top, left):
    """``out[top + i, left + j, c] = planes[c, i, j]`` for the rows and columns of the (C, H, W)
    ``planes`` that fit in the (rows, columns, C) buffer ``out``; the rest of ``out`` is left
    alone (a padded buffer keeps its zero border).

    The copy walks ``out`` pixel by pixel: contiguous writes and strided reads, from an image
    that stays in cache. Plane by plane instead (contiguous reads, writes C apart) took 1.8-1.9x
    the time on 6 samples of 32 and 64 channels of 14x14 (2026-11-27, 1 thread).
    """
    C, H, W = planes.shape
    for i in range(min(H, out.shape[0] - top)):
        for j in range(min(W, out.shape[1] - left)):
            pixel = out[top + i, left + j]
            for c in range(C):
                pixel[c] = planes[c, i, j]


@numba.njit(nogil=True, cache=True)
def channels_first(pixels, planes, bias):
    """``planes[c, i, j] = pixels[i, j, c] + bias[c]`` for the whole (C, H, W) ``planes``, from
    a (rows, columns, C) buffer at least that large (a last odd row or column of tiles, or
    anything past H and W, is dropped). The bias is added in the pass that writes the image.

    The writes are contiguous runs of an image row. Plane by plane, each plane reads the whole
    sample across; once the sample outgrows the L1 cache (ROWS_FIRST_BYTES), row by row is
    faster: one row of pixels stays in L1 while all its planes' rows are written. Measured on
    8-64 samples (2026-11-27, 1 thread): row by row took 0.5-0.62x the time on 64 channels of
    14x14, 32 of 28x28 and 16 of 28x28, 0.94x on 32 of 16x16 and 64 of 8x8, and 1.3x on 128 of
    7x7 (25 KiB a sample, which stays in L1 either way).
    """
    C, H, W = planes.shape
    if C * H * W * planes.itemsize > ROWS_FIRST_BYTES:
        for i in range(H):
            pixel_row = pixels[i]
            for c in range(C):
                image_row = planes[c, i]
                b = bias[c]
                for j in range(W):
                    image_row[j] = pixel_row[j, c] + b
        return
    for c in range(C):
        plane = planes[c]
        b = bias[c]
        for i in range(H):
            image_row = plane[i]
            pixel_row = pixels[i]
            for j in range(W):
                image_row[j] = pixel_row[j, c] + b


@numba.njit(nogil=True, cache=True)
def channels_first_from_parities(parities, planes, bias):
    """``planes[c, i, 2*t + b] = parities[b, i, t, c] + bias[c]`` for the whole (C, H, W)
    ``planes``: an image whose even and odd columns are held apart, channels last, in a
    (2, rows, columns, C) buffer at least that large (kernels/cpu/winograd.py's output).

    Row by row: one row of both parities (2 * columns * C values) stays in L1 while it is
    written out channel by channel, each image row contiguous. Two ``channels_first`` calls on
    the even and odd column views instead (strided writes) took 1.8x the time on 8 samples of
    64 channels of 14x14 (2026-11-27).
    """
    C, H, W = planes.shape
    for i in range(H):
        even, odd = parities[0, i], parities[1, i]
        for c in range(C):
            image_row = planes[c, i]
            b = bias[c]
            for t in range(W // 2):
                image_row[2 * t] = even[t, c] + b
                image_row[2 * t + 1] = odd[t, c] + b
            if W % 2:
                image_row[W - 1] = even[W // 2, c] + b
