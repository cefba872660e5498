"""Convolution on raw arrays: the im2col / col2im kernels around matrix products (GEMMs).

The array half of ``minigrad.ops.conv``, for either backend: ``xp`` is NumPy or CuPy, and
``kernels`` the matching module, ``minigrad.kernels.cpu`` or ``.gpu`` (``kernels_for(x)``)::

    conv_arrays            cols = im2col(x);   y = w @ cols                 (one GEMM per group)
    conv_transpose_arrays  cols = wᵀ @ x;      y = col2im(cols)
    grad_weight_arrays     cols = im2col(x);   dw = g @ colsᵀ

A large batch goes through in chunks, so that the column buffer stays in cache (see
``_batch_slices``); the chunks of one call share one workspace. The callers have checked the
operands (``ops/conv.py``); the kernels check what reaches them again.

Threads: where minigrad runs products on n > 1 threads of its own (``threads.gemm_threads``,
NumPy arrays; see ``kernels/gemm.py``) and a call has at least n chunks, each chunk runs whole
on one thread (thread t takes chunks t, t + n, ...): its im2col or col2im on that thread alone
(``serial=True``, without the GIL) and its products on one BLAS thread, each thread with its
own workspace. The threads then meet once per call instead of twice per chunk (after the
kernel's parallel loop and after each split product), and each chunk's columns stay in the
cache of the core that wrote them. With fewer chunks than threads, a chunk's kernel runs over
Numba's threads and its products split over the threads.

Saved columns: the weight gradient needs the very columns the forward built, ``im2col(x)``.
``conv_arrays`` can hand them out (``columns=[]``, a list it fills with one array per chunk,
each in its own buffer instead of the shared workspace), and ``grad_weight_arrays`` takes them
back (``columns=``) and skips its im2col. ``ops/conv.py`` decides when that memory is worth it.

Shared gradient rows: a convolution's backward transposes its incoming gradient g, (n, K, OH*OW)
per chunk, into (K, n*OH*OW) rows twice, once for the input gradient (``conv_transpose_arrays``,
whose x is g) and once for the weight gradient. ``conv_transpose_arrays(..., rows=[])`` hands
its copies out and ``grad_weight_arrays(..., grad_rows=)`` takes them back (0.4 ms of the 19 ms
conv2d benchmark at 1 thread).

Winograd: a 3x3 or 5x5, stride-1, undilated, ungrouped convolution with at least
WINOGRAD_MIN_CHANNELS input and output channels runs on the CPU as Winograd's F(2x2, 3x3) or
F(2x2, 5x5) instead (``kernels/cpu/winograd.py``): per chunk, the input transform V, n² products
``M[e] = V[e] @ U[e]ᵀ`` (n = r + 1: 16 or 36; V and M entry-major, (n², tiles, channels)) and
the output transform. ``conv_transpose_arrays`` takes the same path for a stride-1 transposed
convolution of those sizes (a convolution's input gradient): it is the convolution of its input
with the flipped, transposed weight and padding ``r - 1 - P``; and ``grad_weight_arrays`` for
the weight gradient of such a convolution, on the adjoints of the same transforms
(``winograd_grad_weight_arrays``). CuPy keeps im2col, whose products are where the GPU is
fastest. Set WINOGRAD = False to compare.

Winograd on the phases: a stride-2 4x4 convolution (undilated, ungrouped, padding 0 to 2, at
least WINOGRAD_MIN_CHANNELS channels each side) is the sum of four 2x2 stride-1 convolutions,
one per phase (row and column parity) of its padded input (``kernels/cpu/winograd_phases.py``).
Each runs as F(2x2, 2x2), and the four add up in the transformed domain: 9 products
``M[e] = V[e] @ U[e]ᵀ`` with the phases side by side, (tiles, 4C) by (4C, K), where im2col's
product has 16 taps. The three calls: ``phase_conv_arrays`` (the phases' input transform, then
F(2x2, 2x2)'s plain output transform), ``phase_conv_transpose_arrays`` (the plain input
transform of the window side, then ``phase_output`` writes each phase's 2x2 blocks into the
image) and ``phase_grad_weight_arrays``; the forward's phase transform is kept for the weight
gradient, as im2col's columns are. A transposed one takes it only where its tiles cover at most
PHASE_TILES_MOST times its image (an odd padding starts the tiles one row and column before
the image). This is DCGAN's down- and upsampling layer, and the conv_transpose2d benchmark's.

Windows as rows: a strided (or otherwise not "same") ungrouped convolution with enough
channels builds its windows as rows instead of columns (``_window_rows``,
``kernels/cpu/conv_rows.py``), in all three calls: ``conv_arrays`` (im2col_rows, then
(n*L, KH*KW*C) @ (KH*KW*C, K) and a transposing copy into y), ``conv_transpose_arrays``
((n*L, K) @ (K, KH*KW*Cg), then col2im_rows) and ``grad_weight_arrays``
((KH*KW*C, n*L) @ (n*L, K)).

Notation
--------
N           batch size
C, H, W     channels, height and width of the convolution's input
K           channels of the convolution's output (C_out)
G           groups;  Cg = C // G and Kg = K // G channels per group
KH, KW      kernel height and width;  L = OH * OW windows per sample
OH, OW      output size of the convolution
geometry    the tuple ``(SH, SW, PH, PW, DH, DW)``: stride, zero padding and dilation
"""
import functools
import math

from .. import threads
from ..backend import xp_of
from . import gemm


# Winograd's F(2x2, 3x3) and F(2x2, 5x5) for 3x3 and 5x5 stride-1 convolutions on the CPU (see
# the module docstring). With fewer channels its products are too thin for BLAS to run well.
# Forward and backward (input and weight gradients) at 1 thread against im2col, "same" padding,
# 7x7 to 28x28 images (2026-11-27): 3x3 took 0.61-0.93x the time from 16 input and output
# channels up, 1.2-1.6x with 8, 2.2-2.4x with 4; 5x5 took 0.43-0.76x from 16 channels up,
# 0.77-1.2x with 8 (slower on 7x7 images), 1.8x with 4.
WINOGRAD = True
WINOGRAD_MIN_CHANNELS = 16

# A transposed stride-2 4x4 convolution takes Winograd on its phases only where its tiles cover
# at most this many times its image: an odd padding starts them a row and a column before the
# image, so a small image pays for up to a whole extra row and column of tiles.
PHASE_TILES_MOST = 1.5

# Strided (and other not-"same") ungrouped convolutions on the CPU, with at least
# WINDOW_ROWS_MIN_CHANNELS channels on the image side and more than one tap, build their windows
# as rows, (N*OH*OW, KH*KW*C), instead of columns (kernels/cpu/conv_rows.py): their three
# products then run with the batch's windows as the long first dimension, and the kernels move
# whole pixels. Forward + backward at 1 thread, in-process A/B, best of 45 (2026-11-27): 0.85x
# the time on the conv_transpose2d benchmark, 0.86x on a DCGAN layer (x (64, 128, 4, 4),
# w (128, 64, 4, 4), stride 2), 0.86-0.96x on stride-2 3x3 and 4x4 convolutions of 32-64
# channels, 0.9x on a transposed one into 16 channels, 1.0x at 16 channels; with 8 channels
# 1.06-1.34x, with 1-6 1.5-4.8x (a tap of a few channels is too short a copy), and 1.2x on a
# 1x1 stride-2 convolution of 64 channels. Set WINDOW_ROWS = False to compare.
WINDOW_ROWS = True
WINDOW_ROWS_MIN_CHANNELS = 16

# The weight gradient of a convolution with at most this many rows of columns per group
# (Cg*KH*KW: a first layer, 1x5x5 or 3x5x5) runs one product per sample and sums them: one long
# product over the chunk has a (Cg*KH*KW, Kg) result so small that BLAS runs it at a third of
# its rate. Measured at 1 thread (CPU time, 4 MB chunks): per sample took 0.3-0.45x the time at
# Cg*KH*KW = 9, 0.4-0.95x at 27, 0.5-1.0x at 75, 0.9-1.1x at 144 and 1.05-1.5x at 288-400.
PER_SAMPLE_WEIGHT_ROWS = 100


def _batch_slices(kernels, x, bytes_per_sample, n_threads=1, budget=None):
    """Slices that split the batch of ``x`` evenly into chunks of at most ``budget`` bytes of
    columns, by default CONV_CHUNK_BYTES of x's kernel module (at least one sample each; one
    empty slice for an empty batch). Chunks keep the column buffer in cache on a CPU (see
    kernels/cpu/conv.py). With ``n_threads`` > 1 the number of chunks is rounded up to a
    multiple of it (where the batch allows), so that the threads get equal shares."""
    N = x.shape[0]
    if N == 0:
        return [slice(0, 0)]
    budget = kernels.CONV_CHUNK_BYTES if budget is None else budget
    per_chunk = max(1, budget // max(1, bytes_per_sample))
    chunks = -(-N // per_chunk)  # ceil
    chunks = min(N, -(-chunks // n_threads) * n_threads)
    step = -(-N // chunks)
    return [slice(i, min(N, i + step)) for i in range(0, N, step)]


def _chunk_threads(x, multiply_adds):
    """How many threads share a call's chunks: minigrad's product threads for NumPy arrays
    (``threads.gemm_threads``) when the call's products have more than gemm.SPLIT_ABOVE
    multiply-adds, 1 for a smaller call and for anything else (CuPy: one stream of launches)."""
    if type(x).__module__ != "numpy" or multiply_adds <= gemm.SPLIT_ABOVE:
        return 1
    return threads.gemm_threads()


def _each_chunk(slices, n_threads, work):
    """Call ``work(index, batch, serial, thread)`` for each chunk: in order on this thread
    (``serial`` False: the chunk's kernels and products use the threads themselves), or, with
    at least ``n_threads`` > 1 chunks, spread over that many threads (``serial`` True: each
    chunk whole on the thread numbered ``thread``, chunks t, t + n_threads, ... on thread t)."""
    if n_threads < 2 or len(slices) < n_threads:
        for index, batch in enumerate(slices):
            work(index, batch, False, 0)
        return

    def share(thread):
        for index in range(thread, len(slices), n_threads):
            work(index, slices[index], True, thread)
    gemm.run_on_threads([functools.partial(share, t) for t in range(n_threads)])


def _workspaces(xp, dtype, slices, per_sample, n_threads):
    """One flat buffer per thread for the largest slice, which that thread's slices reuse."""
    size = max(b.stop - b.start for b in slices) * per_sample
    return [xp.empty(size, dtype=dtype) for _ in range(min(n_threads, len(slices)))]


def _rows(space, rows, columns):
    """The front of a workspace as a C-contiguous (rows, columns) matrix."""
    return space[:rows * columns].reshape(rows, columns)


def _matmul(xp, serial):
    """The product for one chunk: whole on this thread when the chunks share the threads,
    else split over them (gemm.matmul; CuPy's own for CuPy arrays)."""
    return xp.matmul if serial else gemm.matmul


def _winograd_fits(kernels, x, weight_shape, geometry, G, OH, OW):
    """Does this convolution take the Winograd path? (See the module docstring.)"""
    K, Cg, KH, KW = weight_shape
    return (WINOGRAD and hasattr(kernels, "winograd_input") and type(x).__module__ == "numpy"
            and KH == KW and KH in kernels.WINOGRAD_KERNEL_SIZES and geometry[:2] == (1, 1)
            and geometry[4:] == (1, 1) and G == 1 and min(Cg, K) >= WINOGRAD_MIN_CHANNELS
            and x.shape[0] > 0 and min(OH, OW) >= 2)


def _window_rows(kernels, x, image_shape, kernel, geometry, G, OW):
    """Do this convolution's products take its windows as rows (kernels/cpu/conv_rows.py)?
    ``image_shape`` is the (N, C, H, W) of the image side and ``OW`` the width of the window
    side. One rule for the three calls of a convolution's family, so that what one of them
    hands out (columns, rows) has the layout the next expects."""
    SH, SW = geometry[:2]
    return (WINDOW_ROWS and hasattr(kernels, "im2col_rows") and type(x).__module__ == "numpy"
            and G == 1 and not (SH == 1 and SW == 1 and OW == image_shape[3])
            and image_shape[1] >= WINDOW_ROWS_MIN_CHANNELS and kernel[0] * kernel[1] > 1)


def _winograd_chunks(kernels, x, K, r, OH, OW):
    """The chunking of a Winograd call on ``x`` with K output channels and an r x r kernel:
    (TH, TW, threads, slices, one (V, M) pair of flat buffers per thread, each large enough
    for the biggest chunk's (n², tiles, C) and (n², tiles, K); see ``_entries``)."""
    N, C = x.shape[:2]
    TH, TW = kernels.winograd_tiles(OH, OW)
    return (TH, TW, *_tile_chunks(kernels, x, (r + 1)**2, C, K, TH * TW,
                                  N * K * C * r * r * OH * OW))


def _tile_chunks(kernels, x, E, C_in, C_out, T, multiply_adds):
    """(threads, slices, spaces) of a Winograd call on ``x`` with T tiles per sample and E
    entries per tile: one (V, M) pair of flat buffers per thread, for the biggest chunk's
    (E, tiles, C_in) and (E, tiles, C_out)."""
    n_threads = _chunk_threads(x, multiply_adds)
    slices = _batch_slices(kernels, x, E * (C_in + C_out) * T * x.itemsize, n_threads,
                           budget=kernels.WINOGRAD_CHUNK_BYTES)
    most = max(b.stop - b.start for b in slices) * T
    xp = xp_of(x)
    spaces = [(xp.empty(E * most * C_in, dtype=x.dtype), xp.empty(E * most * C_out,
                                                                   dtype=x.dtype))
              for _ in range(min(n_threads, len(slices)))]
    return n_threads, slices, spaces


def _entries(space, r, tiles, channels):
    """A chunk's entry-major Winograd data in a flat buffer: the (n², tiles, channels) array at
    its start, whose [e] is entry e's matrix."""
    E = (r + 1)**2
    return space[:E * tiles * channels].reshape(E, tiles, channels)


def _phases_fit(kernels, x, weight_shape, geometry, G):
    """Does this stride-2 4x4 convolution (or its transpose, or its weight gradient) take
    Winograd on its four phases? ``weight_shape`` is (K, C, KH, KW) with K the window side's
    channels and C the image side's. (See the module docstring.)"""
    K, Cg, KH, KW = weight_shape
    return (WINOGRAD and hasattr(kernels, "phase_input") and type(x).__module__ == "numpy"
            and (KH, KW) == (4, 4) and geometry[:2] == (2, 2) and geometry[4:] == (1, 1)
            and max(geometry[2:4]) <= 2 and G == 1 and min(Cg, K) >= WINOGRAD_MIN_CHANNELS
            and x.shape[0] > 0)


def _phase_columns(columns, slices, T, C):
    """The kept phase transforms of each chunk, (9, n*T, 4C), if ``columns`` holds them."""
    if columns and _fits(columns, [(9, (b.stop - b.start) * T, 4 * C) for b in slices]):
        return columns
    return None


def phase_conv_arrays(kernels, x, weight, PH, PW, OH, OW, bias=None, columns=None):
    """conv2d with a 4x4 weight, stride 2 and no dilation, by Winograd's F(2x2, 2x2) on its
    four phases: ``(N, C, H, W), (K, C, 4, 4) -> (N, K, OH, OW)``, plus ``bias`` (K,) if given.
    ``columns``, a list, receives each chunk's phase transform V (9, tiles, 4C), which the
    weight gradient of the same x reads again (``phase_grad_weight_arrays``)."""
    xp = xp_of(x)
    N, C = x.shape[:2]
    K = weight.shape[0]
    U_t = kernels.phase_weight(weight, transposed=True)  # (9, 4C, K)
    y = xp.empty((N, K, OH, OW), dtype=x.dtype)
    TH, TW = kernels.winograd_tiles(OH, OW)
    n_threads, slices, spaces = _tile_chunks(kernels, x, 9, 4 * C, K, TH * TW,
                                             N * K * C * 16 * OH * OW)
    chunk_columns = [None] * len(slices)

    def work(index, batch, serial, thread):
        tiles = (batch.stop - batch.start) * TH * TW
        V = (xp.empty((9, tiles, 4 * C), dtype=x.dtype) if columns is not None else
             _entries(spaces[thread][0], 2, tiles, 4 * C))
        M = _entries(spaces[thread][1], 2, tiles, K)
        chunk_columns[index] = kernels.phase_input(x[batch], PH, PW, TH, TW, out=V,
                                                   serial=serial)
        _matmul(xp, serial)(V, U_t, out=M)  # the 9 products, the phases summed
        kernels.winograd_output(M, TH, TW, out=y[batch], serial=serial, bias=bias, r=2)
    _each_chunk(slices, n_threads, work)
    if columns is not None:
        columns.extend(chunk_columns)
    return y


def phase_conv_transpose_arrays(kernels, x, weight, PH, PW, H, W, bias=None):
    """conv_transpose2d with a 4x4 weight, stride 2 and no dilation, by Winograd's F(2x2, 2x2)
    on the four phases of its output: ``(N, K, OH, OW), (K, C, 4, 4) -> (N, C, H, W)``, plus
    ``bias`` (C,) if given (added by the output transform)."""
    xp = xp_of(x)
    N, K = x.shape[:2]
    C = weight.shape[1]
    U = kernels.phase_weight(weight, flip=True)  # (9, K, 4C)
    y = xp.empty((N, C, H, W), dtype=x.dtype)
    TH, TW = kernels.phase_tiles(H, W, PH, PW)
    n_threads, slices, spaces = _tile_chunks(kernels, x, 9, K, 4 * C, TH * TW,
                                             N * K * C * 4 * H * W)

    def work(index, batch, serial, thread):
        tiles = (batch.stop - batch.start) * TH * TW
        V = _entries(spaces[thread][0], 2, tiles, K)
        M = _entries(spaces[thread][1], 2, tiles, 4 * C)
        # window rows 2*ty - 1 + PH // 2 ... 2*ty + 1 + PH // 2 make tile ty's image rows
        kernels.winograd_input(x[batch], 1 - PH // 2, 1 - PW // 2, TH, TW, out=V,
                               serial=serial, r=2)
        _matmul(xp, serial)(V, U, out=M)  # the 9 products, the four phases side by side
        kernels.phase_output(M, PH, PW, TH, TW, out=y[batch], serial=serial, bias=bias)
    _each_chunk(slices, n_threads, work)
    return y


def phase_grad_weight_arrays(kernels, x, grad_y, PH, PW, columns=None):
    """The weight gradient of a stride-2 4x4 convolution on its phases: ``(N, C, H, W),
    (N, K, OH, OW) -> (K, C, 4, 4)``. Per chunk, V = the phases' input transform of x (or the
    forward's, kept in ``columns``) and D = A gy Aᵀ, then ``dU[e] += D[e]ᵀ @ V[e]``; at the
    end each phase's ``Gᵀ dU G``."""
    xp = xp_of(x)
    N, C = x.shape[:2]
    _, K, OH, OW = grad_y.shape
    TH, TW = kernels.winograd_tiles(OH, OW)
    n_threads, slices, spaces = _tile_chunks(kernels, x, 9, 4 * C, K, TH * TW,
                                             N * K * C * 16 * OH * OW)
    columns = _phase_columns(columns, slices, TH * TW, C)
    sums = [None] * len(spaces)

    def work(index, batch, serial, thread):
        tiles = (batch.stop - batch.start) * TH * TW
        if columns:
            V = columns[index]
        else:
            V = kernels.phase_input(x[batch], PH, PW, TH, TW, serial=serial,
                                    out=_entries(spaces[thread][0], 2, tiles, 4 * C))
        D = kernels.winograd_output_adjoint(grad_y[batch], TH, TW, serial=serial, r=2,
                                            out=_entries(spaces[thread][1], 2, tiles, K))
        _add_to(sums, thread, _matmul(xp, serial)(D.transpose(0, 2, 1), V))
    _each_chunk(slices, n_threads, work)
    return kernels.phase_weight_adjoint(_total(sums))


def winograd_conv_arrays(kernels, x, weight, PH, PW, OH, OW, bias=None):
    """conv2d with an r x r weight (r = 3 or 5), stride 1 and no dilation, by Winograd's
    F(2x2, r x r): ``(N, C, H, W), (K, C, r, r) -> (N, K, OH, OW)``, ``OH = H + 2*PH - r + 1``,
    plus ``bias`` (K,) if given (added by the output transform)."""
    xp = xp_of(x)
    N, C = x.shape[:2]
    K, r = weight.shape[0], weight.shape[2]
    # U[e]ᵀ, (n², C, K): the products are M[e] = V[e] @ U[e]ᵀ
    U_t = xp.ascontiguousarray(kernels.winograd_weight(weight).transpose(0, 2, 1))
    y = xp.empty((N, K, OH, OW), dtype=x.dtype)
    TH, TW, n_threads, slices, spaces = _winograd_chunks(kernels, x, K, r, OH, OW)

    def work(index, batch, serial, thread):
        tiles = (batch.stop - batch.start) * TH * TW
        V, M = _entries(spaces[thread][0], r, tiles, C), _entries(spaces[thread][1], r, tiles, K)
        kernels.winograd_input(x[batch], PH, PW, TH, TW, out=V, serial=serial, r=r)
        _matmul(xp, serial)(V, U_t, out=M)  # the n² products
        kernels.winograd_output(M, TH, TW, out=y[batch], serial=serial, bias=bias, r=r)
    _each_chunk(slices, n_threads, work)
    return y


def winograd_grad_weight_arrays(kernels, x, grad_y, r, PH, PW):
    """The weight gradient of a Winograd convolution (r x r, stride 1, no dilation, one group):
    ``(N, C, H, W), (N, K, OH, OW) -> (K, C, r, r)``. Per chunk, V = the input transform of x
    and D = A gy Aᵀ of the output gradient's tiles, then ``dU[e] += D[e]ᵀ @ V[e]``; at the end
    ``dw = Gᵀ dU G`` (see kernels/cpu/winograd.py)."""
    xp = xp_of(x)
    C = x.shape[1]
    _, K, OH, OW = grad_y.shape
    TH, TW, n_threads, slices, spaces = _winograd_chunks(kernels, x, K, r, OH, OW)
    # Each thread sums its chunks' products; the threads' sums are added at the end.
    sums = [None] * len(spaces)

    def work(index, batch, serial, thread):
        tiles = (batch.stop - batch.start) * TH * TW
        V, D = _entries(spaces[thread][0], r, tiles, C), _entries(spaces[thread][1], r, tiles, K)
        kernels.winograd_input(x[batch], PH, PW, TH, TW, out=V, serial=serial, r=r)
        kernels.winograd_output_adjoint(grad_y[batch], TH, TW, out=D, serial=serial, r=r)
        _add_to(sums, thread, _matmul(xp, serial)(D.transpose(0, 2, 1), V))
    _each_chunk(slices, n_threads, work)
    return kernels.winograd_weight_adjoint(_total(sums))


def _add_to(sums, thread, part):
    """Add a chunk's part of a weight gradient to its thread's sum (in place after the first)."""
    sums[thread] = (part if sums[thread] is None else
                    xp_of(part).add(sums[thread], part, out=sums[thread]))


def _total(sums):
    """The threads' sums added up (a thread that got no chunk left None)."""
    total = sums[0]
    for other in sums[1:]:
        if other is not None:
            total = total + other
    return total


def conv_arrays(kernels, x, weight, geometry, G, OH, OW, columns=None, bias=None):
    """conv2d on raw arrays: ``(N, C, H, W), (K, Cg, KH, KW) -> (N, K, OH, OW)``, plus ``bias``
    (K,) if given (in the pass that writes y where one does: Winograd's output transform, the
    rows layout's transposing copy; else afterwards).

    ``columns``, a list, receives the columns of each chunk, ``(C*KH*KW, n*OH*OW)`` arrays, or
    their transposes ``(n*OH*OW, C*KH*KW)`` where the windows are rows (``_window_rows``), or
    the phase transforms ``(9, tiles, 4C)`` of a stride-2 4x4 one on Winograd's phases; a 3x3
    or 5x5 Winograd convolution has none and leaves it empty.
    """
    if _winograd_fits(kernels, x, weight.shape, geometry, G, OH, OW):
        # (its weight gradient takes Winograd too: grad_weight_arrays)
        return winograd_conv_arrays(kernels, x, weight, geometry[2], geometry[3], OH, OW, bias)
    if _phases_fit(kernels, x, weight.shape, geometry, G):
        return phase_conv_arrays(kernels, x, weight, geometry[2], geometry[3], OH, OW, bias,
                                 columns)
    xp = xp_of(x)
    N, C = x.shape[:2]
    K, Cg, KH, KW = weight.shape
    L = OH * OW
    by_rows = _window_rows(kernels, x, x.shape, (KH, KW), geometry, G, OW)
    w = weight.reshape(G, K // G, Cg * KH * KW)
    if by_rows:  # in the rows' order, (K, KH*KW*C), transposed for the product
        w = _taps_outer(weight).T
    y = xp.empty((N, K, OH, OW), dtype=x.dtype)
    n_threads = _chunk_threads(x, N * K * Cg * KH * KW * L)
    slices = _batch_slices(kernels, x, C * KH * KW * L * x.itemsize, n_threads)
    # Kept columns need one buffer for the whole batch; otherwise each thread reuses its own.
    kept = xp.empty(N * C * KH * KW * L, dtype=x.dtype) if columns is not None else None
    spaces = None if kept is not None else _workspaces(xp, x.dtype, slices, C * KH * KW * L,
                                                       n_threads)
    # with the windows as rows, the product gives y windows first, (n*L, K), to transpose into y
    # (adding the bias on the way: zeros without one)
    products = _workspaces(xp, x.dtype, slices, L * K, n_threads) if by_rows else None
    row_bias = (xp.zeros(K, dtype=x.dtype) if bias is None else bias).reshape(K, 1)
    chunk_columns = [None] * len(slices)

    def work(index, batch, serial, thread):
        n = batch.stop - batch.start
        space = kept[batch.start * C * KH * KW * L:] if kept is not None else spaces[thread]
        if by_rows:
            cols = kernels.im2col_rows(x[batch], KH, KW, *geometry, OH, OW,
                                       out=_rows(space, n * L, C * KH * KW), serial=serial)
            chunk_columns[index] = cols
            y_rows = _matmul(xp, serial)(cols, w, out=_rows(products[thread], n * L, K))
            # transposed into y, the bias added on the way
            xp.add(y_rows.reshape(n, L, K).transpose(0, 2, 1), row_bias,
                   out=y[batch].reshape(n, K, L))
            return
        cols = kernels.im2col(x[batch], KH, KW, *geometry, OH, OW,
                              out=_rows(space, C * KH * KW, n * L), serial=serial)
        chunk_columns[index] = cols
        # One GEMM per sample and group, (Kg, Cg*KH*KW) @ (Cg*KH*KW, OH*OW), each reading its
        # sample's columns in place (a strided view: BLAS takes the row stride) and writing
        # straight into y, batch first. One GEMM over the whole chunk would give channels first,
        # (K, n, OH, OW), and need a transposing copy into y; the per-sample products were as
        # fast on LeNet's second conv and 1.5-2x faster where Cg*KH*KW is small (a first layer).
        _matmul(xp, serial)(w, cols.reshape(G, Cg * KH * KW, n, L).transpose(2, 0, 1, 3),
                            out=y[batch].reshape(n, G, K // G, L))
    _each_chunk(slices, n_threads, work)
    if columns is not None:
        columns.extend(chunk_columns)
    return y if by_rows else _plus_bias(y, bias)


def conv_transpose_arrays(kernels, x, weight, geometry, G, H, W, rows=None, bias=None):
    """conv_transpose2d on raw arrays: ``(N, K, OH, OW), (K, Cg, KH, KW) -> (N, C, H, W)``, plus
    ``bias`` (C,) if given (added by col2im_rows where the windows are rows, else afterwards).

    Here x is on the column side (it has the convolution's output shape) and the result on the
    image side; ``weight`` is read as a transposed-convolution weight ``(C_in, C_out // G, ...)``.
    ``rows``, a list, receives each chunk of x as the (G, K // G, n*OH*OW) rows of its product,
    or as (n*OH*OW, K) where the windows are rows (``_window_rows``); the Winograd paths leave
    it empty.
    """
    xp = xp_of(x)
    N, K, OH, OW = x.shape
    _, Cg, KH, KW = weight.shape
    PH, PW = geometry[2:4]
    # (stride 1 allows no output padding, so H = OH + KH - 1 - 2*PH: a convolution padded by
    # KH - 1 - PH)
    if (max(PH, PW) <= KH - 1
            and _winograd_fits(kernels, x, (Cg, K, KH, KW), geometry, G, H, W)):
        # the convolution of x with the flipped, transposed weight, (C_out, C_in, r, r)
        flipped = weight.transpose(1, 0, 2, 3)[:, :, ::-1, ::-1]
        return winograd_conv_arrays(kernels, x, flipped, KH - 1 - PH, KW - 1 - PW, H, W, bias)
    if (_phases_fit(kernels, x, weight.shape, geometry, G)
            and 16 * math.prod(kernels.phase_tiles(H, W, PH, PW)) <= PHASE_TILES_MOST * H * W):
        return phase_conv_transpose_arrays(kernels, x, weight, PH, PW, H, W, bias)
    L = OH * OW
    by_rows = _window_rows(kernels, x, (N, G * Cg, H, W), (KH, KW), geometry, G, OW)
    w = weight.reshape(G, K // G, Cg * KH * KW).transpose(0, 2, 1)
    if by_rows:  # in the rows' order, (K, KH*KW*Cg)
        w = _taps_outer(weight)
    y = xp.empty((N, G * Cg, H, W), dtype=x.dtype)
    n_threads = _chunk_threads(x, N * K * Cg * KH * KW * L)
    slices = _batch_slices(kernels, x, G * Cg * KH * KW * L * x.itemsize, n_threads)
    spaces = _workspaces(xp, x.dtype, slices, G * Cg * KH * KW * L, n_threads)
    chunk_rows = [None] * len(slices)

    def work(index, batch, serial, thread):
        n = batch.stop - batch.start
        x_cols = _windows_first(x[batch]) if by_rows else _channels_first(x[batch], G)
        if rows is not None:
            chunk_rows[index] = x_cols
        if by_rows:
            # (n*L, K) @ (K, KH*KW*Cg): a window per row, added back onto y by col2im_rows
            cols = _matmul(xp, serial)(x_cols, w, out=_rows(spaces[thread], n * L,
                                                            Cg * KH * KW))
            kernels.col2im_rows(cols, n, Cg, H, W, KH, KW, *geometry, OH, OW, out=y[batch],
                                serial=serial, bias=bias)
            return
        cols = _matmul(xp, serial)(w, x_cols, out=_rows(
            spaces[thread], G * Cg * KH * KW, n * L).reshape(G, Cg * KH * KW, n * L))
        kernels.col2im(cols.reshape(G * Cg * KH * KW, n * L), n, G * Cg, H, W, KH, KW,
                       *geometry, OH, OW, out=y[batch], serial=serial)
    _each_chunk(slices, n_threads, work)
    if rows is not None:
        rows.extend(chunk_rows)
    return y if by_rows else _plus_bias(y, bias)


def _plus_bias(y, bias):
    """y + bias over its channels, in place (y is a fresh array)."""
    if bias is not None:
        y += bias.reshape(1, -1, 1, 1)
    return y


def _channels_first(t, G):
    """A chunk ``(n, K, OH, OW)`` as the rows of a product, ``(G, K // G, n*OH*OW)`` (a copy)."""
    n, K, OH, OW = t.shape
    return t.reshape(n, K, OH * OW).transpose(1, 0, 2).reshape(G, K // G, n * OH * OW)


def _taps_outer(weight):
    """A weight ``(A, B, KH, KW)`` as the matrix ``(A, KH*KW*B)`` whose columns follow the
    order of im2col_rows's taps and channels (a copy)."""
    A, B, KH, KW = weight.shape
    return weight.transpose(0, 2, 3, 1).reshape(A, KH * KW * B)


def _windows_first(t):
    """A chunk ``(n, K, OH, OW)`` with a window per row, ``(n*OH*OW, K)`` (a copy)."""
    n, K, OH, OW = t.shape
    return t.reshape(n, K, OH * OW).transpose(0, 2, 1).reshape(n * OH * OW, K)


def _fits(chunks, shapes):
    """Do per-chunk arrays (columns or rows) have the ``shapes`` this call's chunks need? They
    do when both calls split the batch alike; otherwise the caller recomputes."""
    return [c.shape for c in chunks] == shapes


def grad_weight_arrays(kernels, x, grad_y, KH, KW, geometry, G, columns=None, grad_rows=None):
    """The weight gradient on raw arrays: ``(N, C, H, W), (N, K, OH, OW) -> (K, C//G, KH, KW)``.

    ``columns``: what ``conv_arrays(..., columns=[])`` collected for this ``x`` and geometry,
    used instead of a new im2col (the chunks match: both split the batch the same way).
    ``grad_rows``: what ``conv_transpose_arrays(..., rows=[])`` collected for ``grad_y``, used
    instead of transposing it again. A convolution that takes Winograd (``_winograd_fits``)
    has neither and runs ``winograd_grad_weight_arrays``; one on the phases (``_phases_fit``)
    runs ``phase_grad_weight_arrays``, reading ``columns`` as the forward's phase transforms.
    """
    C = x.shape[1]
    _, K, OH, OW = grad_y.shape
    if _winograd_fits(kernels, x, (K, C // G, KH, KW), geometry, G, OH, OW):
        return winograd_grad_weight_arrays(kernels, x, grad_y, KH, geometry[2], geometry[3])
    if _phases_fit(kernels, x, (K, C // G, KH, KW), geometry, G):
        return phase_grad_weight_arrays(kernels, x, grad_y, geometry[2], geometry[3], columns)
    xp = xp_of(x)
    L = OH * OW
    by_rows = _window_rows(kernels, x, x.shape, (KH, KW), geometry, G, OW)
    n_threads = _chunk_threads(x, x.shape[0] * K * C // G * KH * KW * L)
    slices = _batch_slices(kernels, x, C * KH * KW * L * x.itemsize, n_threads)
    sizes = [b.stop - b.start for b in slices]
    # Chunked differently (the chunk size changed since): recompute.
    if columns and not _fits(columns, [(n * L, C * KH * KW) if by_rows else
                                       (C * KH * KW, n * L) for n in sizes]):
        columns = None
    if grad_rows and not _fits(grad_rows, [(n * L, K) if by_rows else (G, K // G, n * L)
                                           for n in sizes]):
        grad_rows = None
    spaces = None if columns else _workspaces(xp, x.dtype, slices, C * KH * KW * L, n_threads)
    # Each thread sums its chunks' parts; the threads' sums are added at the end.
    sums = [None] * max(1, min(n_threads, len(slices)))

    def work(index, batch, serial, thread):
        n = batch.stop - batch.start
        if columns:
            cols = columns[index]
        elif by_rows:
            cols = kernels.im2col_rows(x[batch], KH, KW, *geometry, OH, OW, serial=serial,
                                       out=_rows(spaces[thread], n * L, C * KH * KW))
        else:
            cols = kernels.im2col(x[batch], KH, KW, *geometry, OH, OW, serial=serial,
                                  out=_rows(spaces[thread], C * KH * KW, n * L))
        if by_rows:
            g = grad_rows[index] if grad_rows else _windows_first(grad_y[batch])
            # (KH*KW*C, n*L) @ (n*L, K), in the rows' order (G is 1)
            part = _matmul(xp, serial)(cols.T, g)
        elif C // G * KH * KW <= PER_SAMPLE_WEIGHT_ROWS:
            # a short (Cg*KH*KW, Kg) product per sample, summed: no copy of g
            part = _matmul(xp, serial)(
                cols.reshape(G, C // G * KH * KW, n, L).transpose(2, 0, 1, 3),
                grad_y[batch].reshape(n, G, K // G, L).transpose(0, 1, 3, 2)).sum(axis=0)
        else:
            # The GEMM computes the transpose, (G, Cg*KH*KW, Kg) = cols @ gᵀ, which BLAS runs
            # faster than g @ colsᵀ when the inner dimension n*OH*OW is long (up to 1.3x here).
            g = grad_rows[index] if grad_rows else _channels_first(grad_y[batch], G)
            part = _matmul(xp, serial)(cols.reshape(G, C // G * KH * KW, n * L),
                                       g.transpose(0, 2, 1))
        _add_to(sums, thread, part)
    _each_chunk(slices, n_threads, work)
    grad_weight_t = _total(sums)
    if by_rows:
        return xp.ascontiguousarray(grad_weight_t.reshape(KH, KW, C, K).transpose(3, 2, 0, 1))
    return grad_weight_t.transpose(0, 2, 1).reshape(K, C // G, KH, KW)
