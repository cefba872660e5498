"""im2col and col2im on the GPU, with the names, arguments and results of ``kernels/cpu/conv.py``.

Each kernel runs one CUDA thread per output element. ``im2col`` gives each thread one entry of
``cols`` to fetch; ``col2im`` gives each thread one pixel of the image, which gathers the columns
that cover it. Gathering (instead of the CPU's scatter-add) means no two threads write the same
address, so no atomics are needed and the sum over taps is deterministic.

Arrays come in as CuPy arrays, which ``numba.cuda`` kernels accept through
``__cuda_array_interface__``. Outputs are allocated with the input's own array module, so the
same code also runs on NumPy arrays under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).

Column layout
-------------
``cols`` has shape ``(C*KH*KW, N*OH*OW)``: row ``r = (c*KH + kh)*KW + kw``, column
``j = (n*OH + oh)*OW + ow``, as on the CPU (see that module for why).

Notation
--------
N           batch size
C, H, W     channels, height and width of the image side (the convolution's input)
KH, KW      kernel height and width
SH, SW      stride
PH, PW      zero padding on each side
DH, DW      dilation
OH, OW      height and width of the column side (the convolution's output)
ih, iw      input row and column of a kernel tap: ``ih = oh*SH - PH + kh*DH``
"""
from numba import cuda

from minigrad.backend import xp_of
from minigrad.kernels import geometry
from .launch import launch

# ops/conv.py feeds im2col and the GEMM at most this many bytes of columns at a time. On a GPU
# the limit is memory, not cache: large GEMMs keep the device busy.
CONV_CHUNK_BYTES = 512 * 2**20


def im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, out=None, serial=False):
    """Copy every (dilated, strided, zero-padded) kernel window of ``x`` into a column.

    Parameters
    ----------
    x : cupy.ndarray, shape (N, C, H, W)
    KH, KW, SH, SW, PH, PW, DH, DW : int
        Kernel size, stride, padding and dilation.
    OH, OW : int
        Number of window positions along each axis; windows that reach past the padded
        input read zeros.
    out : cupy.ndarray, shape (C*KH*KW, N*OH*OW), optional
        A C-contiguous array of x's dtype to write into (a reused workspace), instead of a
        new one.
    serial : bool
        The CPU twin's switch to the calling thread alone; a launch here is the same either way.

    Returns
    -------
    cols : cupy.ndarray, shape (C*KH*KW, N*OH*OW), dtype of ``x``
        ``cols[(c*KH + kh)*KW + kw, (n*OH + oh)*OW + ow] = x[n, c, ih, iw]`` with
        ``ih = oh*SH - PH + kh*DH`` and ``iw = ow*SW - PW + kw*DW``, zero outside the input.
    """
    geometry.check_im2col("im2col", x.shape, x.dtype, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    xp = xp_of(x)
    N, C, H, W = x.shape
    x = xp.ascontiguousarray(x)
    cols = geometry.checked_out("im2col", out, (C * KH * KW, N * OH * OW), x.dtype, xp)
    launch(_im2col_thread, cols.size, x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, cols)
    return cols


def col2im(cols, N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, out=None, serial=False):
    """Add every column of ``cols`` back onto its kernel window: the adjoint of :func:`im2col`.

    Parameters
    ----------
    cols : cupy.ndarray, shape (C*KH*KW, N*OH*OW)
    N, C, H, W : int
        Shape of the image to build.
    KH, KW, SH, SW, PH, PW, DH, DW, OH, OW : int
        As in :func:`im2col`.
    out : cupy.ndarray, shape (N, C, H, W), optional
        A C-contiguous array of cols' dtype to write into, instead of a new one.
    serial : bool
        As in :func:`im2col`: no effect here.

    Returns
    -------
    x : cupy.ndarray, shape (N, C, H, W), dtype of ``cols``
        ``x[n, c, ih, iw] = sum of cols[(c*KH + kh)*KW + kw, (n*OH + oh)*OW + ow]`` over the taps
        with ``ih = oh*SH - PH + kh*DH`` and ``iw = ow*SW - PW + kw*DW``.
    """
    geometry.check_col2im(cols.shape, cols.dtype, N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW,
                          OH, OW)
    xp = xp_of(cols)
    cols = xp.ascontiguousarray(cols)
    x = geometry.checked_out("col2im", out, (N, C, H, W), cols.dtype, xp)
    if cols.size == 0:  # no windows: nothing lands on the image
        x[...] = 0
    else:
        launch(_col2im_thread, x.size, cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, x)
    return x


@cuda.jit
def _im2col_thread(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, cols):
    N, C, H, W = x.shape
    t = cuda.grid(1)
    if t >= cols.shape[0] * cols.shape[1]:
        return
    r = t // cols.shape[1]
    j = t % cols.shape[1]
    c = r // (KH * KW)
    kh = (r // KW) % KH
    kw = r % KW
    n = j // (OH * OW)
    oh = (j // OW) % OH
    ow = j % OW
    ih = oh * SH - PH + kh * DH
    iw = ow * SW - PW + kw * DW
    if 0 <= ih < H and 0 <= iw < W:
        cols[r, j] = x[n, c, ih, iw]
    else:
        cols[r, j] = 0


@cuda.jit
def _col2im_thread(cols, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, x):
    N, C, H, W = x.shape
    t = cuda.grid(1)
    if t >= N * C * H * W:
        return
    n = t // (C * H * W)
    c = (t // (H * W)) % C
    ih = (t // W) % H
    iw = t % W
    total = cols[0, 0] * 0  # a zero of the array's dtype, so float32 sums stay in float32
    for kh in range(KH):
        # The tap kh covers row ih from output row oh = (ih + PH - kh*DH) / SH, when that is whole.
        dh = ih + PH - kh * DH
        if dh < 0 or dh % SH != 0 or dh // SH >= OH:
            continue
        oh = dh // SH
        for kw in range(KW):
            dw = iw + PW - kw * DW
            if dw < 0 or dw % SW != 0 or dw // SW >= OW:
                continue
            ow = dw // SW
            total += cols[(c * KH + kh) * KW + kw, (n * OH + oh) * OW + ow]
    x[n, c, ih, iw] = total
