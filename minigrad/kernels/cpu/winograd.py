"""Winograd's F(2x2, 3x3) on the CPU: a 3x3, stride-1 convolution in 2.25x fewer multiplications.

A 3x3 convolution computes each 2x2 block of outputs from a 4x4 patch d of the input. Lavin
and Gray (2016, "Fast Algorithms for Convolutional Neural Networks") write that block as

    y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A

with the fixed matrices

    Bᵀ = [[1, 0, -1, 0],    G = [[1,    0,   0],    Aᵀ = [[1, 1,  1,  0],
          [0, 1,  1, 0],         [1/2,  1/2, 1/2],         [0, 1, -1, -1]]
          [0, -1, 1, 0],         [1/2, -1/2, 1/2],
          [0, 1,  0, -1]]        [0,    0,   1]]

16 multiplications per 2x2 block and input channel instead of 36. Summed over the input
channels, the elementwise products become 16 matrix products, one per entry e of the 4x4
transformed tile: ``M[e] = U[e] @ V[e]`` with ``U[e] = (G g Gᵀ)[e]`` of shape (K, C) and
``V[e] = (Bᵀ d B)[e]`` of shape (C, tiles). This module holds the three transforms; the
products and the batching are in ``kernels/im2col_gemm.py``.

- ``winograd_weight``: U = G g Gᵀ for every (k, c) filter, (16, K, C).
- ``winograd_input``: V = Bᵀ d B for every tile and channel, the zero padding applied on the way
  (a patch that reaches past the image reads zeros).
- ``winograd_output``: y = Aᵀ m A for every tile and output channel, dropping the last row or
  column of a tile that falls outside an odd-sized output.

The weight gradient runs on the same transforms, by the adjoint of each step: with D = A gy Aᵀ
for every 2x2 tile of the output gradient gy (``winograd_output_adjoint``, zero past an
odd-sized output), ``dU[e] = D[e]ᵀ @ V[e]`` summed over the tiles (16 products of (K, tiles) by
(tiles, C)) and ``dw = Gᵀ dU G`` for every filter (``winograd_weight_adjoint``): again 2.25x
fewer multiplications than im2col's (K, N·OH·OW) by (N·OH·OW, 9C).

Each transform is additions and subtractions only (and halvings in G), so the result is the
convolution's up to rounding: about 1e-6 relative in float32 on the benchmark shapes, against
1e-7 for im2col. The input and output transforms run in parallel over the samples, or whole on
the calling thread without the GIL (``serial=True``), as the im2col kernels do.

Layout: V and M are tile-major, one row per tile holding its 16 transformed entries of every
channel, ``V[t, e*C + c]`` with tile ``t = (n*TH + ty)*TW + tx`` (M alike with K channels).
The product for entry e reads the (tiles, C) matrix ``V[:, e*C:(e + 1)*C]``, whose rows are a
row of V apart (BLAS takes the row stride), and writes M's: ``M_e = V_e @ U[e]ᵀ``. A caller
may make the rows longer than 16*C (``kernels/im2col_gemm.py`` pads them to an odd multiple of
64 bytes): rows a power of two apart share cache sets, and the products ran up to 1.4x slower
on them (e.g. (16, 588, 32) @ (16, 32, 64): 0.67 ms against 0.47 with one more entry per row;
none slower). With the channels innermost, both transforms move whole
pixels: each sample is first turned channels last (a small padded buffer that stays in cache),
and each step of a tile's transform is then an addition or subtraction of C (or K) contiguous
values, which the compiler vectorises. The first version of this module was plane-major (each
entry's (C, tiles) matrix a row of a (16, S) array) and transformed one tile of one plane at a
time with scalar arithmetic, writing 16 rows far apart: in the conv2d benchmark's step (1
thread) the transforms took about 6 ms of 18; tile-major, a forward of that layer (x (64, 32,
14, 14), 64 filters) took 0.72-0.8x the time (2026-11-27, isolated, 1 thread).

Notation
--------
N, C, H, W  the input batch (n for a chunk of it), its channels and image size
K           output channels
PH, PW      zero padding;  OH, OW  output size, ``OH = H + 2*PH - 2``
TH, TW      tiles down and across, ``TH = ceil(OH / 2)``;  T = TH * TW tiles per plane
e           an entry of the transformed 4x4 tile, ``e = 4*i + j``
"""
import numba
import numpy as np

from .. import geometry
from .layout import channels_first, channels_last
from .parallel import threads_for

# kernels/im2col_gemm.py feeds the transforms and the products at most this many bytes of V and M
# at a time (a chunk of the batch). Measured at 1 thread on 3x3 convolutions of 8x8 to 32x32
# images with 32-128 channels: 2 MiB ran 5-30% faster than 4 MiB (V and M stay in the cache
# between the transform that writes them and the product that reads them).
WINOGRAD_CHUNK_BYTES = 2 * 2**20


def winograd_tiles(OH, OW):
    """(TH, TW): the 2x2 output tiles that cover an OH x OW output."""
    return (OH + 1) // 2, (OW + 1) // 2


def winograd_weight(w):
    """U = G g Gᵀ of each 3x3 filter: ``(K, C, 3, 3) -> (16, K, C)``, U[4*i + j, k, c]."""
    if w.ndim != 4 or w.shape[2:] != (3, 3):
        raise ValueError(f"winograd_weight: expected a weight of shape (K, C, 3, 3), got shape "
                         f"{w.shape}")
    K, C = w.shape[:2]
    U = np.empty((16, K, C), dtype=w.dtype)
    _weight_loop(np.ascontiguousarray(w), U)
    return U


def winograd_weight_adjoint(dU):
    """dw = Gᵀ dU G of each filter's 4x4 gradient: ``(16, K, C) -> (K, C, 3, 3)``, the adjoint
    of :func:`winograd_weight` (K*C small products in NumPy: 16 numbers each)."""
    if dU.ndim != 3 or dU.shape[0] != 16:
        raise ValueError(f"winograd_weight_adjoint: expected dU of shape (16, K, C), got shape "
                         f"{dU.shape}")
    K, C = dU.shape[1:]
    g = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=dU.dtype)
    return g.T @ dU.reshape(4, 4, K, C).transpose(2, 3, 0, 1) @ g


def winograd_output_adjoint(g, TH, TW, out, serial=False):
    """D = A g Aᵀ of every 2x2 tile of ``g``: the adjoint of :func:`winograd_output`.

    Parameters
    ----------
    g : ndarray, shape (N, K, OH, OW), float32 or float64
        A convolution's output gradient; a tile past an odd OH or OW reads 0 there.
    TH, TW : int >= 1
        Tiles per plane, ``winograd_tiles(OH, OW)``.
    out : ndarray, shape (N*TH*TW, S), S >= 16*K, g's dtype, C-contiguous
        ``out[(n*TH + ty)*TW + tx, e*K + k] = (A d Aᵀ)[e]`` for channel k's 2x2 tile d; the
        entries past 16*K are left alone.
    serial : bool
        As in :func:`winograd_input`.
    """
    op = "winograd_output_adjoint"
    _check_tiled_image(op, "g", g.shape, g.dtype, TH, TW)
    N, K, OH, OW = g.shape
    _check_tiles(op, "out", out, N * TH * TW, K, g.dtype)
    g = np.ascontiguousarray(g)
    if serial:
        _output_adjoint_serial(g, TH, TW, out)
    else:
        with threads_for(g.size + out.size):  # cells read and written
            _output_adjoint_loop(g, TH, TW, out, numba.get_num_threads())
    return out


def _check_tiles(op, name, tiles, count, channels, dtype):
    """``tiles`` must be a C-contiguous (count, S) array of ``dtype``, S >= 16 * channels."""
    need = 16 * channels
    if (tiles.ndim != 2 or tiles.shape[0] != count or tiles.shape[1] < need
            or tiles.dtype != dtype or not tiles.flags.c_contiguous):
        raise ValueError(f"{op}: {name} must be a C-contiguous {dtype} array of shape ({count}, "
                         f"S) with S >= 16 * {channels} = {need}, got shape {tiles.shape}, dtype "
                         f"{tiles.dtype}")


def _check_tiled_image(op, name, shape, dtype, TH, TW):
    """An (N, K, OH, OW) image (a convolution's output or its gradient) that TH x TW tiles of
    2x2 cover exactly."""
    _check_image(op, name, shape, dtype)
    OH, OW = shape[2:]
    if winograd_tiles(OH, OW) != (TH, TW):
        raise ValueError(f"{op}: {name} of {OH}x{OW} has {winograd_tiles(OH, OW)} tiles of "
                         f"2x2, got tiles {(TH, TW)}")


def _check_image(op, name, shape, dtype):
    """An (N, C, H, W) image of a dtype the kernels are compiled for (any size may be 0)."""
    if len(shape) != 4:
        raise ValueError(f"{op}: expected {name} of shape (N, C, H, W), got shape {tuple(shape)}")
    geometry.check_float(op, name, dtype)


def winograd_input(x, PH, PW, TH, TW, out, serial=False):
    """V = Bᵀ d B of every 4x4 patch d of the zero-padded x, written into ``out``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    PH, PW : int >= 0
        Zero padding: tile (ty, tx) reads rows ``2*ty - PH ... 2*ty - PH + 3`` and the columns
        alike; what falls outside the image reads 0.
    TH, TW : int >= 1
        Tiles per plane.
    out : ndarray, shape (N*TH*TW, S), S >= 16*C, x's dtype, C-contiguous
        ``out[(n*TH + ty)*TW + tx, e*C + c] = (Bᵀ d B)[e]`` for channel c's patch of that tile;
        the entries past 16*C are left alone.
    serial : bool
        Run on the calling thread alone, without the GIL, instead of over Numba's threads.
    """
    op = "winograd_input"
    _check_image(op, "x", x.shape, x.dtype)
    if min(PH, PW) < 0 or min(TH, TW) < 1:
        raise ValueError(f"{op}: padding {(PH, PW)} must be >= 0 and tiles {(TH, TW)} >= 1")
    N, C = x.shape[:2]
    _check_tiles(op, "out", out, N * TH * TW, C, x.dtype)
    x = np.ascontiguousarray(x)
    if serial:
        _input_serial(x, PH, PW, TH, TW, out)
    else:
        with threads_for(x.size + out.size):  # cells read and written
            _input_loop(x, PH, PW, TH, TW, out, numba.get_num_threads())
    return out


def winograd_output(m, TH, TW, out, serial=False, bias=None):
    """y = Aᵀ m A of every transformed tile m: the convolution's output from the products M.

    Parameters
    ----------
    m : ndarray, shape (N*TH*TW, S), S >= 16*K, C-contiguous
        ``m[t, e*K + k]``: tile t's entry e of the products for output channel k.
    TH, TW : int >= 1
        Tiles per plane: ``TH = ceil(OH / 2)`` and ``TW = ceil(OW / 2)``.
    out : ndarray, shape (N, K, OH, OW), m's dtype, C-contiguous
        Written whole: ``out[n, k, 2*ty + a, 2*tx + b]`` from tile (ty, tx), a, b in {0, 1}.
    serial : bool
        As in :func:`winograd_input`.
    bias : ndarray, shape (K,), optional
        Added to every output of channel k, in the pass that writes the image.
    """
    op = "winograd_output"
    _check_tiled_image(op, "out", out.shape, out.dtype, TH, TW)
    N, K, OH, OW = out.shape
    if not out.flags.c_contiguous:
        raise ValueError(f"{op}: out must be C-contiguous")
    _check_tiles(op, "m", m, N * TH * TW, K, out.dtype)
    bias = geometry.checked_bias(op, bias, K, out.dtype, np)
    if serial:
        _output_serial(m, TH, TW, bias, out)
    else:
        with threads_for(m.size + out.size):  # cells read and written
            _output_loop(m, TH, TW, bias, out, numba.get_num_threads())
    return out


@numba.njit(cache=True)
def _weight_loop(w, U):
    K, C = w.shape[:2]
    a = np.empty((4, 3), dtype=U.dtype)
    for k in range(K):
        for c in range(C):
            g = w[k, c]
            for j in range(3):  # a = G g
                a[0, j] = g[0, j]
                a[1, j] = 0.5 * (g[0, j] + g[1, j] + g[2, j])
                a[2, j] = 0.5 * (g[0, j] - g[1, j] + g[2, j])
                a[3, j] = g[2, j]
            for i in range(4):  # U = a Gᵀ
                U[4 * i, k, c] = a[i, 0]
                U[4 * i + 1, k, c] = 0.5 * (a[i, 0] + a[i, 1] + a[i, 2])
                U[4 * i + 2, k, c] = 0.5 * (a[i, 0] - a[i, 1] + a[i, 2])
                U[4 * i + 3, k, c] = a[i, 2]


@numba.njit(inline="always", cache=True)
def _difference(a, b, out):
    """out = a - b, C values (a loop the compiler vectorises)."""
    for c in range(out.shape[0]):
        out[c] = a[c] - b[c]


@numba.njit(inline="always", cache=True)
def _sum(a, b, out):
    """out = a + b."""
    for c in range(out.shape[0]):
        out[c] = a[c] + b[c]


@numba.njit(inline="always", cache=True)
def _sum3(a, b, c, out):
    """out = a + b + c."""
    for k in range(out.shape[0]):
        out[k] = a[k] + b[k] + c[k]


@numba.njit(inline="always", cache=True)
def _difference3(a, b, c, out):
    """out = a - b - c."""
    for k in range(out.shape[0]):
        out[k] = a[k] - b[k] - c[k]


@numba.njit(inline="always", cache=True)
def _copy(a, out):
    """out = a."""
    for c in range(out.shape[0]):
        out[c] = a[c]


@numba.njit(inline="always", cache=True)
def _negative(a, out):
    """out = -a."""
    for c in range(out.shape[0]):
        out[c] = -a[c]


@numba.njit(parallel=True, cache=True)
def _input_loop(x, PH, PW, TH, TW, V, shares):
    # One share of the samples per thread: each share allocates its buffers once.
    N = x.shape[0]
    for s in numba.prange(shares):
        _input_samples(x, PH, PW, TH, TW, V, N * s // shares, N * (s + 1) // shares)


@numba.njit(nogil=True, cache=True)
def _input_serial(x, PH, PW, TH, TW, V):
    _input_samples(x, PH, PW, TH, TW, V, 0, x.shape[0])


@numba.njit(nogil=True, cache=True)
def _input_samples(x, PH, PW, TH, TW, V, first, last):
    """The input transform of the samples ``first <= n < last``."""
    N, C, H, W = x.shape
    T = TH * TW
    # The rows and columns the tiles read, zero padded and channels last: padded[r, s, c] is
    # x[n, c, r - PH, s - PW]. Its border is zeroed once; only the image part is rewritten.
    HP, WP = 2 * TH + 2, 2 * TW + 2
    padded = np.zeros((HP, WP, C), dtype=x.dtype)
    a = np.empty((4, 4, C), dtype=x.dtype)  # one tile's Bᵀ d
    for n in range(first, last):
        channels_last(x[n], padded, PH, PW)
        for ty in range(TH):
            r = 2 * ty
            d0, d1, d2, d3 = padded[r], padded[r + 1], padded[r + 2], padded[r + 3]
            for tx in range(TW):
                v = V[n * T + ty * TW + tx, :16 * C].reshape(16, C)
                for j in range(4):  # Bᵀ d: Bᵀ applied to each column j of the patch
                    s = 2 * tx + j
                    _difference(d0[s], d2[s], a[0, j])
                    _sum(d1[s], d2[s], a[1, j])
                    _difference(d2[s], d1[s], a[2, j])
                    _difference(d1[s], d3[s], a[3, j])
                for i in range(4):  # (Bᵀ d) B: row i of V is Bᵀ applied to row i of Bᵀ d
                    _difference(a[i, 0], a[i, 2], v[4 * i])
                    _sum(a[i, 1], a[i, 2], v[4 * i + 1])
                    _difference(a[i, 2], a[i, 1], v[4 * i + 2])
                    _difference(a[i, 1], a[i, 3], v[4 * i + 3])


@numba.njit(parallel=True, cache=True)
def _output_loop(M, TH, TW, bias, y, shares):
    N = y.shape[0]
    for s in numba.prange(shares):
        _output_samples(M, TH, TW, bias, y, N * s // shares, N * (s + 1) // shares)


@numba.njit(nogil=True, cache=True)
def _output_serial(M, TH, TW, bias, y):
    _output_samples(M, TH, TW, bias, y, 0, y.shape[0])


@numba.njit(nogil=True, cache=True)
def _output_samples(M, TH, TW, bias, y, first, last):
    """The output transform of the samples ``first <= n < last``, plus the bias."""
    N, K, OH, OW = y.shape
    T = TH * TW
    s = np.empty((2, 4, K), dtype=y.dtype)  # one tile's Aᵀ m
    # the sample's output, channels last and whole tiles (a last odd row or column included)
    out = np.empty((2 * TH, 2 * TW, K), dtype=y.dtype)
    for n in range(first, last):
        for ty in range(TH):
            for tx in range(TW):
                m = M[n * T + ty * TW + tx, :16 * K].reshape(16, K)
                for j in range(4):  # Aᵀ m, column by column
                    _sum3(m[j], m[4 + j], m[8 + j], s[0, j])
                    _difference3(m[4 + j], m[8 + j], m[12 + j], s[1, j])
                for a in range(2):  # (Aᵀ m) A
                    _sum3(s[a, 0], s[a, 1], s[a, 2], out[2 * ty + a, 2 * tx])
                    _difference3(s[a, 1], s[a, 2], s[a, 3], out[2 * ty + a, 2 * tx + 1])
        channels_first(out, y[n], bias)  # dropping a last odd row or column


@numba.njit(parallel=True, cache=True)
def _output_adjoint_loop(g, TH, TW, D, shares):
    N = g.shape[0]
    for s in numba.prange(shares):
        _output_adjoint_samples(g, TH, TW, D, N * s // shares, N * (s + 1) // shares)


@numba.njit(nogil=True, cache=True)
def _output_adjoint_serial(g, TH, TW, D):
    _output_adjoint_samples(g, TH, TW, D, 0, g.shape[0])


@numba.njit(nogil=True, cache=True)
def _output_adjoint_samples(g, TH, TW, D, first, last):
    """The output transform's adjoint for the samples ``first <= n < last``."""
    N, K, OH, OW = g.shape
    T = TH * TW
    # the sample's gradient, channels last and whole tiles: a last odd row or column stays 0
    padded = np.zeros((2 * TH, 2 * TW, K), dtype=g.dtype)
    a = np.empty((4, 2, K), dtype=g.dtype)  # one tile's A d
    for n in range(first, last):
        channels_last(g[n], padded, 0, 0)
        for ty in range(TH):
            top, bottom = padded[2 * ty], padded[2 * ty + 1]
            for tx in range(TW):
                d = D[n * T + ty * TW + tx, :16 * K].reshape(16, K)
                for j in range(2):  # A d: A applied to each column (top, bottom) of the tile
                    u = 2 * tx + j
                    _copy(top[u], a[0, j])
                    _sum(top[u], bottom[u], a[1, j])
                    _difference(top[u], bottom[u], a[2, j])
                    _negative(bottom[u], a[3, j])
                for i in range(4):  # (A d) Aᵀ: A applied to each row of A d
                    _copy(a[i, 0], d[4 * i])
                    _sum(a[i, 0], a[i, 1], d[4 * i + 1])
                    _difference(a[i, 0], a[i, 1], d[4 * i + 2])
                    _negative(a[i, 1], d[4 * i + 3])
