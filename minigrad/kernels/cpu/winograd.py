"""Winograd's F(2x2, 3x3) and F(2x2, 5x5) on the CPU: stride-1 convolutions in fewer products.

An r x r convolution computes each 2x2 block of outputs from an n x n patch d of the input,
n = r + 1. Lavin and Gray (2016, "Fast Algorithms for Convolutional Neural Networks") write that
block as

    y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A

with fixed matrices from the Toom-Cook construction. For r = 3 (points 0, 1, -1 and infinity):

    Bᵀ = [[1, 0, -1, 0],    G = [[1,    0,   0],    Aᵀ = [[1, 1,  1,  0],
          [0, 1,  1, 0],         [1/2,  1/2, 1/2],         [0, 1, -1, -1]]
          [0, -1, 1, 0],         [1/2, -1/2, 1/2],
          [0, 1,  0, -1]]        [0,    0,   1]]

and for r = 5 (points 0, 1, -1, 2, -2 and infinity; the same Bᵀ as Lavin and Gray's F(4x4, 3x3))

    Bᵀ = [[4,  0, -5,  0, 1, 0],    G = [[1/4,   0,     0,    0,    0  ],
          [0, -4, -4,  1, 1, 0],         [-1/6, -1/6,  -1/6, -1/6, -1/6],
          [0,  4, -4, -1, 1, 0],         [-1/6,  1/6,  -1/6,  1/6, -1/6],
          [0, -2, -1,  2, 1, 0],         [1/24,  1/12,  1/6,  1/3,  2/3],
          [0,  2, -1, -2, 1, 0],         [1/24, -1/12,  1/6, -1/3,  2/3],
          [0,  4,  0, -5, 0, 1]]         [0,     0,     0,    0,    1  ]]

    Aᵀ = [[1, 1,  1, 1,  1, 0],
          [0, 1, -1, 2, -2, 1]]

and for r = 2 (points 0, 1 and infinity; not a convolution minigrad routes here by itself, but
each of the four phases of a stride-2 4x4 convolution, ``kernels/cpu/winograd_phases.py``)

    Bᵀ = [[1, -1, 0],    G = [[1, 0],    Aᵀ = [[1, 1, 0],
          [0,  1, 0],         [1, 1],          [0, 1, 1]]
          [0, -1, 1]]         [0, 1]]

n² multiplications per 2x2 block and input channel instead of 4r²: 16 against 36 for r = 3
(2.25x fewer), 36 against 100 for r = 5 (2.8x fewer). Summed over the input channels, the
elementwise products become n² matrix products, one per entry e of the n x n transformed tile:
``M[e] = U[e] @ V[e]`` with ``U[e] = (G g Gᵀ)[e]`` of shape (K, C) and ``V[e] = (Bᵀ d B)[e]``
of shape (C, tiles). This module holds the three transforms; the products and the batching are
in ``kernels/im2col_gemm.py``.

- ``winograd_weight``: U = G g Gᵀ for every (k, c) filter, (n², K, C).
- ``winograd_input``: V = Bᵀ d B for every tile and channel, the zero padding applied on the way
  (a patch that reaches past the image reads zeros).
- ``winograd_output``: y = Aᵀ m A for every tile and output channel, dropping the last row or
  column of a tile that falls outside an odd-sized output.

The weight gradient runs on the same transforms, by the adjoint of each step: with D = A gy Aᵀ
for every 2x2 tile of the output gradient gy (``winograd_output_adjoint``, zero past an
odd-sized output), ``dU[e] = D[e]ᵀ @ V[e]`` summed over the tiles (n² products of (K, tiles) by
(tiles, C)) and ``dw = Gᵀ dU G`` for every filter (``winograd_weight_adjoint``): again n²
multiplications where im2col's (K, N·OH·OW) by (N·OH·OW, r²C) has 4r².

Rounding: the transforms are additions, subtractions and small multiples, so the result is the
convolution's up to rounding. In float32, r = 3 gives about 1e-6 of the outputs' scale, r = 5
(whose points reach 2, and whose G has sixths) about 1e-5 at worst, 2e-6 typically (random
32-channel patches, against 1e-7 for im2col): the price of the 2.8x fewer products, paid in
rounding that training does not notice; float64 stays within 1e-12. The input and output
transforms run in parallel over the samples, or whole on the calling thread without the GIL
(``serial=True``), as the im2col kernels do.

Layout: V and M are entry-major, ``V[e, t, c]`` for entry e of tile ``t = (s*TH + ty)*TW + tx``
of sample s and channel c (M alike with K channels): the product for entry e is one contiguous
``M[e] = V[e] @ U[e]ᵀ``, (tiles, C) by (C, K).

The loops: every loop of the transforms runs over a whole tile row of a channels-last plane,
``q = tx*C + c`` (TW*C values), reading a few rows of one array and writing a few rows of
another at that same q: a loop the compiler vectorises (reading one row at shifted offsets
q, q + C, ... instead, it did not, and ran 6x slower). So each sample is first copied, channels
last and zero padded, into its two *column parities* (``layout.channels_last`` on the even and
on the odd columns): in parity k % 2, shifted by k // 2 pixels, column k of every tile of a row
lies side by side, ``[i, tx*C + c]`` = padded pixel (i, 2*tx + k), a view of that parity with
no copy. For each tile row, Bᵀ then runs down the n rows of each such column (n loops, each
computing all n entries of a column at once) and B across the n columns (n loops). The output
transform and its adjoint work on the output's two column parities the same way.

The previous version of this module was tile-major (a row of n²C per tile) and transformed a
tile at a time, each loop C long (16-64 values: too short to run fast): on 8 samples of the
conv2d benchmark's layer (x (8, 32, 14, 14), 64 filters, 1 thread) its input transform took
0.067-0.074 ms, its output transform 0.11-0.12 and the adjoint 0.097, against 0.051, 0.075 and
0.072 now (2026-11-27). Each step is also its own function (``_apply_bt`` ...): written inline
in the loops over tiles, the same loops ran 2x slower.

The constants 2 and 4 are float32 scalars (``_TWO``, ``_FOUR``): an integer constant would make
Numba compute a float32 kernel in float64 (and vectorise it half as wide).

Notation
--------
N, C, H, W  the input batch, its channels and image size
K           output channels
r           the kernel's size, 2, 3 or 5;  n = r + 1 the tile's;  E = n² entries per tile
PH, PW      zero padding;  OH, OW  output size, ``OH = H + 2*PH - r + 1``
TH, TW      tiles down and across, ``TH = ceil(OH / 2)``;  T = TH * TW tiles per plane
e           an entry of the transformed n x n tile, ``e = n*i + j``
"""
import numba
import numpy as np

from .. import geometry
from .layout import channels_first_from_parities, channels_last
from .parallel import threads_for

# kernels/im2col_gemm.py feeds the transforms and the products at most this many bytes of V and M
# at a time (a chunk of the batch). Measured at 1 thread on 3x3 convolutions of 8x8 to 32x32
# images with 32-128 channels: 2 MiB ran 5-30% faster than 4 MiB (V and M stay in the cache
# between the transform that writes them and the product that reads them).
WINOGRAD_CHUNK_BYTES = 2 * 2**20

# The kernel sizes that a stride-1 convolution takes Winograd for (kernels/im2col_gemm.py).
WINOGRAD_KERNEL_SIZES = (3, 5)
# The kernel sizes with a transform, and G of each (Bᵀ and Aᵀ are written out in _bt3 ... _a6).
# r = 2 serves the four phases of a stride-2 4x4 convolution (kernels/cpu/winograd_phases.py).
TRANSFORM_SIZES = (2, 3, 5)
_G = {2: np.array([[1, 0], [1, 1], [0, 1]]),
      3: np.array([[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]]),
      5: np.array([[1 / 4, 0, 0, 0, 0],
                   [-1 / 6, -1 / 6, -1 / 6, -1 / 6, -1 / 6],
                   [-1 / 6, 1 / 6, -1 / 6, 1 / 6, -1 / 6],
                   [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3],
                   [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3],
                   [0, 0, 0, 0, 1]])}


def winograd_tiles(OH, OW):
    """(TH, TW): the 2x2 output tiles that cover an OH x OW output."""
    return (OH + 1) // 2, (OW + 1) // 2


def winograd_weight(w):
    """U = G g Gᵀ of each r x r filter: ``(K, C, r, r) -> (n², K, C)``, U[n*i + j, k, c]
    (computed in float64, returned in w's dtype)."""
    if w.ndim != 4 or w.shape[2] != w.shape[3] or w.shape[2] not in TRANSFORM_SIZES:
        raise ValueError(f"winograd_weight: expected a weight of shape (K, C, r, r) with r in "
                         f"{TRANSFORM_SIZES}, got shape {w.shape}")
    K, C, r = w.shape[:3]
    g = _G[r]
    n = r + 1
    w_gt = (w.reshape(K * C * r, r) @ g.T).reshape(K, C, r, n)  # g Gᵀ of every filter
    U = np.tensordot(g, w_gt, axes=(1, 2))  # (n, K, C, n): G (g Gᵀ)
    return np.ascontiguousarray(U.transpose(0, 3, 1, 2), dtype=w.dtype).reshape(n * n, K, C)


def winograd_weight_adjoint(dU):
    """dw = Gᵀ dU G of each filter's n x n gradient: ``(n², K, C) -> (K, C, r, r)``, the
    adjoint of :func:`winograd_weight` (computed in float64, returned in dU's dtype)."""
    sizes = {(r + 1)**2: r for r in TRANSFORM_SIZES}
    if dU.ndim != 3 or dU.shape[0] not in sizes:
        raise ValueError(f"winograd_weight_adjoint: expected dU of shape (E, K, C) with E in "
                         f"{tuple(sizes)}, got shape {dU.shape}")
    r = sizes[dU.shape[0]]
    K, C = dU.shape[1:]
    g = _G[r]
    dU_g = np.tensordot(dU.reshape(r + 1, r + 1, K, C), g, axes=(1, 0))  # (n, K, C, r)
    dw = np.tensordot(g, dU_g, axes=(0, 0))  # (r, K, C, r): Gᵀ (dU G)
    return np.ascontiguousarray(dw.transpose(1, 2, 0, 3), dtype=dU.dtype)


def _check_r(op, r):
    if r not in TRANSFORM_SIZES:
        raise ValueError(f"{op}: the kernel size r must be one of {TRANSFORM_SIZES}, got {r}")


def winograd_output_adjoint(g, TH, TW, out, serial=False, r=3):
    """D = A g Aᵀ of every 2x2 tile of ``g``: the adjoint of :func:`winograd_output`.

    Parameters
    ----------
    g : ndarray, shape (N, K, OH, OW), float32 or float64
        A convolution's output gradient; a tile past an odd OH or OW reads 0 there.
    TH, TW : int >= 1
        Tiles per plane, ``winograd_tiles(OH, OW)``.
    out : ndarray, shape (n², N*TH*TW, K), g's dtype, C-contiguous
        ``out[e, (s*TH + ty)*TW + tx, k] = (A d Aᵀ)[e]`` for channel k's 2x2 tile d.
    serial : bool
        As in :func:`winograd_input`.
    r : 2, 3 or 5
        The kernel size: n = r + 1.
    """
    op = "winograd_output_adjoint"
    _check_r(op, r)
    _check_tiled_image(op, "g", g.shape, g.dtype, TH, TW)
    N, K, OH, OW = g.shape
    _check_tiles(op, "out", out, r, N * TH * TW, K, g.dtype)
    g = np.ascontiguousarray(g)
    if serial:
        _output_adjoint_serial(g, r, TH, TW, out)
    else:
        with threads_for(g.size + out.size):  # cells read and written
            _output_adjoint_loop(g, r, TH, TW, out, numba.get_num_threads())
    return out


def _check_tiles(op, name, tiles, r, count, channels, dtype):
    """``tiles`` must be a C-contiguous (n², count, channels) array of ``dtype``."""
    shape = ((r + 1)**2, count, channels)
    if tiles.shape != shape or tiles.dtype != dtype or not tiles.flags.c_contiguous:
        raise ValueError(f"{op}: {name} must be a C-contiguous {dtype} array of shape {shape} "
                         f"(entries, tiles, channels), got shape {tiles.shape}, dtype "
                         f"{tiles.dtype}")


def _check_tiled_image(op, name, shape, dtype, TH, TW):
    """An (N, K, OH, OW) image (a convolution's output or its gradient) that TH x TW tiles of
    2x2 cover exactly."""
    _check_image(op, name, shape, dtype)
    OH, OW = shape[2:]
    if winograd_tiles(OH, OW) != (TH, TW):
        raise ValueError(f"{op}: {name} of {OH}x{OW} has {winograd_tiles(OH, OW)} tiles of "
                         f"2x2, got tiles {(TH, TW)}")


def _check_padding_and_tiles(op, PH, PW, TH, TW):
    """An input transform's padding (>= 0) and tiles (>= 1)."""
    if min(PH, PW) < 0 or min(TH, TW) < 1:
        raise ValueError(f"{op}: padding {(PH, PW)} must be >= 0 and tiles {(TH, TW)} >= 1")


def _check_image(op, name, shape, dtype):
    """An (N, C, H, W) image of a dtype the kernels are compiled for (any size may be 0)."""
    if len(shape) != 4:
        raise ValueError(f"{op}: expected {name} of shape (N, C, H, W), got shape {tuple(shape)}")
    geometry.check_float(op, name, dtype)


def winograd_input(x, PH, PW, TH, TW, out, serial=False, r=3):
    """V = Bᵀ d B of every n x n patch d of the zero-padded x, written into ``out``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    PH, PW : int >= 0
        Zero padding: tile (ty, tx) reads rows ``2*ty - PH ... 2*ty - PH + n - 1`` and the
        columns alike; what falls outside the image reads 0.
    TH, TW : int >= 1
        Tiles per plane.
    out : ndarray, shape (n², N*TH*TW, C), x's dtype, C-contiguous
        ``out[e, (s*TH + ty)*TW + tx, c] = (Bᵀ d B)[e]`` for channel c's patch of that tile.
    serial : bool
        Run on the calling thread alone, without the GIL, instead of over Numba's threads.
    r : 2, 3 or 5
        The kernel size: n = r + 1.
    """
    op = "winograd_input"
    _check_r(op, r)
    _check_image(op, "x", x.shape, x.dtype)
    _check_padding_and_tiles(op, PH, PW, TH, TW)
    N, C = x.shape[:2]
    _check_tiles(op, "out", out, r, N * TH * TW, C, x.dtype)
    x = np.ascontiguousarray(x)
    if serial:
        _input_serial(x, r, PH, PW, TH, TW, out)
    else:
        with threads_for(x.size + out.size):  # cells read and written
            _input_loop(x, r, PH, PW, TH, TW, out, numba.get_num_threads())
    return out


def winograd_output(m, TH, TW, out, serial=False, bias=None, r=3):
    """y = Aᵀ m A of every transformed tile m: the convolution's output from the products M.

    Parameters
    ----------
    m : ndarray, shape (n², N*TH*TW, K), C-contiguous
        ``m[e, t, k]``: tile t's entry e of the products for output channel k.
    TH, TW : int >= 1
        Tiles per plane: ``TH = ceil(OH / 2)`` and ``TW = ceil(OW / 2)``.
    out : ndarray, shape (N, K, OH, OW), m's dtype, C-contiguous
        Written whole: ``out[s, k, 2*ty + a, 2*tx + b]`` from tile (ty, tx), a, b in {0, 1}.
    serial : bool
        As in :func:`winograd_input`.
    bias : ndarray, shape (K,), optional
        Added to every output of channel k, in the pass that writes the image.
    r : 2, 3 or 5
        The kernel size: n = r + 1.
    """
    op = "winograd_output"
    _check_r(op, r)
    _check_tiled_image(op, "out", out.shape, out.dtype, TH, TW)
    N, K, OH, OW = out.shape
    if not out.flags.c_contiguous:
        raise ValueError(f"{op}: out must be C-contiguous")
    _check_tiles(op, "m", m, r, N * TH * TW, K, out.dtype)
    bias = geometry.checked_bias(op, bias, K, out.dtype, np)
    if serial:
        _output_serial(m, r, TH, TW, bias, out)
    else:
        with threads_for(m.size + out.size):  # cells read and written
            _output_loop(m, r, TH, TW, bias, out, numba.get_num_threads())
    return out


# The matrices: Bᵀ x, Aᵀ x and A x of one column x of n (or 2) scalars, returned as a tuple. The
# loops below call them on the values at one q of n rows.

_TWO = np.float32(2)
_FOUR = np.float32(4)


@numba.njit(inline="always", cache=True)
def _bt3(x0, x1, x2):
    return x0 - x1, x1, x2 - x1


@numba.njit(inline="always", cache=True)
def _at3(x0, x1, x2):
    return x0 + x1, x1 + x2


@numba.njit(inline="always", cache=True)
def _a3(x0, x1):
    return x0, x0 + x1, x1


@numba.njit(inline="always", cache=True)
def _bt4(x0, x1, x2, x3):
    return x0 - x2, x1 + x2, x2 - x1, x1 - x3


@numba.njit(inline="always", cache=True)
def _bt6(x0, x1, x2, x3, x4, x5):
    return (_FOUR * (x0 - x2) + x4 - x2, x3 + x4 - _FOUR * (x1 + x2),
            _FOUR * (x1 - x2) + x4 - x3, _TWO * (x3 - x1) + x4 - x2,
            _TWO * (x1 - x3) + x4 - x2, _FOUR * (x1 - x3) + x5 - x3)


@numba.njit(inline="always", cache=True)
def _at4(x0, x1, x2, x3):
    return x0 + x1 + x2, x1 - x2 - x3


@numba.njit(inline="always", cache=True)
def _at6(x0, x1, x2, x3, x4, x5):
    return x0 + x1 + x2 + x3 + x4, x1 - x2 + _TWO * (x3 - x4) + x5


@numba.njit(inline="always", cache=True)
def _a4(x0, x1):
    return x0, x0 + x1, x0 - x1, -x1


@numba.njit(inline="always", cache=True)
def _a6(x0, x1):
    return x0, x0 + x1, x0 - x1, x0 + _TWO * x1, x0 - _TWO * x1, x1


# Each transform step applies one of the matrices to n (or 2) rows of one 2D array, writing n
# (or 2) rows of another, the rows first, first + step, ... of each: a loop over q that the
# compiler vectorises. (Separate functions: written inline in the loops over tiles, the same
# loops ran 2x slower.)

@numba.njit(nogil=True, cache=True)
def _apply_bt(r, src, first, step, dst, to, by):
    """dst[to + l*by] = (Bᵀ x)[l] for x = src[first], src[first + step], ... (n rows)."""
    if r == 2:
        for q in range(dst.shape[1]):
            dst[to, q], dst[to + by, q], dst[to + 2 * by, q] = _bt3(
                src[first, q], src[first + step, q], src[first + 2 * step, q])
    elif r == 3:
        for q in range(dst.shape[1]):
            dst[to, q], dst[to + by, q], dst[to + 2 * by, q], dst[to + 3 * by, q] = _bt4(
                src[first, q], src[first + step, q], src[first + 2 * step, q],
                src[first + 3 * step, q])
    else:
        for q in range(dst.shape[1]):
            (dst[to, q], dst[to + by, q], dst[to + 2 * by, q], dst[to + 3 * by, q],
             dst[to + 4 * by, q], dst[to + 5 * by, q]) = _bt6(
                src[first, q], src[first + step, q], src[first + 2 * step, q],
                src[first + 3 * step, q], src[first + 4 * step, q], src[first + 5 * step, q])


@numba.njit(nogil=True, cache=True)
def _apply_at(r, src, first, step, dst, to, by):
    """dst[to], dst[to + by] = Aᵀ x for x = src[first], src[first + step], ... (n rows)."""
    if r == 2:
        for q in range(dst.shape[1]):
            dst[to, q], dst[to + by, q] = _at3(src[first, q], src[first + step, q],
                                               src[first + 2 * step, q])
    elif r == 3:
        for q in range(dst.shape[1]):
            dst[to, q], dst[to + by, q] = _at4(src[first, q], src[first + step, q],
                                               src[first + 2 * step, q], src[first + 3 * step, q])
    else:
        for q in range(dst.shape[1]):
            dst[to, q], dst[to + by, q] = _at6(
                src[first, q], src[first + step, q], src[first + 2 * step, q],
                src[first + 3 * step, q], src[first + 4 * step, q], src[first + 5 * step, q])


@numba.njit(nogil=True, cache=True)
def _apply_a(r, src, first, step, dst, to, by):
    """dst[to + l*by] = (A x)[l] for x = src[first], src[first + step] (2 rows)."""
    if r == 2:
        for q in range(dst.shape[1]):
            dst[to, q], dst[to + by, q], dst[to + 2 * by, q] = _a3(src[first, q],
                                                                   src[first + step, q])
    elif r == 3:
        for q in range(dst.shape[1]):
            dst[to, q], dst[to + by, q], dst[to + 2 * by, q], dst[to + 3 * by, q] = _a4(
                src[first, q], src[first + step, q])
    else:
        for q in range(dst.shape[1]):
            (dst[to, q], dst[to + by, q], dst[to + 2 * by, q], dst[to + 3 * by, q],
             dst[to + 4 * by, q], dst[to + 5 * by, q]) = _a6(src[first, q],
                                                             src[first + step, q])


@numba.njit(parallel=True, cache=True)
def _input_loop(x, r, PH, PW, TH, TW, V, shares):
    # One share of the samples per thread: each share allocates its buffers once.
    N = x.shape[0]
    for s in numba.prange(shares):
        _input_samples(x, r, PH, PW, TH, TW, V, N * s // shares, N * (s + 1) // shares)


@numba.njit(nogil=True, cache=True)
def _input_serial(x, r, PH, PW, TH, TW, V):
    _input_samples(x, r, PH, PW, TH, TW, V, 0, x.shape[0])


@numba.njit(nogil=True, cache=True)
def _input_samples(x, r, PH, PW, TH, TW, V, first, last):
    """The input transform of the samples ``first <= s < last``."""
    N, C, H, W = x.shape
    n = r + 1
    L = TW * C  # a tile row of a channels-last plane: every loop's length
    HP, half = 2 * TH + r - 1, TW + r // 2  # the padded rows the tiles read, columns / 2
    # The padded sample, channels last, its even and odd columns apart: parities[p, i, u, c] is
    # x[s, c, i - PH, 2*u + p - PW], 0 on the padding (zeroed once; each sample rewrites the
    # same image part). One spare row, for the shifted views below.
    parities = np.zeros((2, HP + 1, half, C), dtype=x.dtype)
    bt_d = np.empty((n * n, L), dtype=x.dtype)  # Bᵀ d of a tile row: [n*i + k] row i, column k
    R = N * TH
    out = V.reshape(n * n * R, L)  # row e*R + s*TH + ty: entry e of tile row ty of sample s
    for s in range(first, last):
        for p in range(2):  # the first image column j of parity p: j + PW = p (mod 2)
            j = (p - PW) % 2
            channels_last(x[s, :, :, j::2], parities[p], PH, (j + PW) // 2)
        for ty in range(TH):
            for k in range(n):  # Bᵀ d: Bᵀ down column k of every tile of the row
                # Column k of tile tx is padded column 2*tx + k: parity k % 2, u = tx + k // 2,
                # which this view of the parity, shifted by k // 2 pixels, holds at tx*C + c.
                shifted = parities[k % 2].reshape(-1)[(k // 2) * C:(k // 2) * C + HP * half * C]
                _apply_bt(r, shifted.reshape(HP, half * C), 2 * ty, 1, bt_d, k, n)
            for i in range(n):  # (Bᵀ d) B: Bᵀ across row i of every tile, entries n*i + l
                _apply_bt(r, bt_d, n * i, 1, out, n * i * R + s * TH + ty, R)


@numba.njit(parallel=True, cache=True)
def _output_loop(M, r, TH, TW, bias, y, shares):
    N = y.shape[0]
    for s in numba.prange(shares):
        _output_samples(M, r, TH, TW, bias, y, N * s // shares, N * (s + 1) // shares)


@numba.njit(nogil=True, cache=True)
def _output_serial(M, r, TH, TW, bias, y):
    _output_samples(M, r, TH, TW, bias, y, 0, y.shape[0])


@numba.njit(nogil=True, cache=True)
def _output_samples(M, r, TH, TW, bias, y, first, last):
    """The output transform of the samples ``first <= s < last``, plus the bias."""
    N, K, OH, OW = y.shape
    n = r + 1
    L = TW * K
    R = N * TH
    m = M.reshape(n * n * R, L)  # row e*R + s*TH + ty: entry e of tile row ty of sample s
    at_m = np.empty((2 * n, L), dtype=y.dtype)  # Aᵀ m of a tile row: [n*a + j] row a, column j
    # the sample's output by column parity, whole tiles: parities[b, i, tx, k] is pixel
    # (i, 2*tx + b) of channel k (a last odd row or column included)
    parities = np.empty((2, 2 * TH, TW, K), dtype=y.dtype)
    columns = parities.reshape(2 * 2 * TH, L)
    for s in range(first, last):
        for ty in range(TH):
            for j in range(n):  # Aᵀ m: Aᵀ down column j of every tile, entries j, n + j, ...
                _apply_at(r, m, j * R + s * TH + ty, n * R, at_m, j, n)
            for a in range(2):  # (Aᵀ m) A: Aᵀ across row a, into the two parities
                _apply_at(r, at_m, n * a, 1, columns, 2 * ty + a, 2 * TH)
        channels_first_from_parities(parities, y[s], bias)  # dropping a last odd row or column


@numba.njit(parallel=True, cache=True)
def _output_adjoint_loop(g, r, TH, TW, D, shares):
    N = g.shape[0]
    for s in numba.prange(shares):
        _output_adjoint_samples(g, r, TH, TW, D, N * s // shares, N * (s + 1) // shares)


@numba.njit(nogil=True, cache=True)
def _output_adjoint_serial(g, r, TH, TW, D):
    _output_adjoint_samples(g, r, TH, TW, D, 0, g.shape[0])


@numba.njit(nogil=True, cache=True)
def _output_adjoint_samples(g, r, TH, TW, D, first, last):
    """The output transform's adjoint for the samples ``first <= s < last``."""
    N, K, OH, OW = g.shape
    n = r + 1
    L = TW * K
    R = N * TH
    d = D.reshape(n * n * R, L)  # row e*R + s*TH + ty: entry e of tile row ty of sample s
    # the sample's gradient by column parity, whole tiles: a last odd row or column stays 0
    parities = np.zeros((2, 2 * TH, TW, K), dtype=g.dtype)
    columns = parities.reshape(2 * 2 * TH, L)
    a_g = np.empty((2 * n, L), dtype=g.dtype)  # A g of a tile row: [2*i + b] row i, column b
    for s in range(first, last):
        for b in range(2):
            channels_last(g[s, :, :, b::2], parities[b], 0, 0)
        for ty in range(TH):
            for b in range(2):  # A g: A down column b of every tile (its two rows)
                _apply_a(r, columns, b * 2 * TH + 2 * ty, 1, a_g, b, 2)
            for i in range(n):  # (A g) Aᵀ: A across row i of every tile, entries n*i + l
                _apply_a(r, a_g, 2 * i, 1, d, n * i * R + s * TH + ty, R)
