"""A sample's image turned channels last: the first step of the kernels that move whole pixels.

``kernels/cpu/conv_rows.py`` (windows as rows) and ``kernels/cpu/winograd.py`` (tile-major
transforms) both read one sample's (C, H, W) image as (H, W, C) pixels, so that each step of
their loops is a contiguous run of C values, which the compiler vectorises.
"""
import numba


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
