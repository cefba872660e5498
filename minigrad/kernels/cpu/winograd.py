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
- ``winograd_input``: V = Bᵀ d B for every tile of every (n, c) plane, the zero padding applied
  on the way (a patch that reaches past the image reads zeros).
- ``winograd_output``: y = Aᵀ m A for every tile of every (n, k) plane, dropping the last row or
  column of a tile that falls outside an odd-sized output.

Each transform is additions and subtractions only (and halvings in G), so the result is the
convolution's up to rounding: about 1e-6 relative in float32 on the benchmark shapes, against
1e-7 for im2col. The input and output transforms run in parallel over the planes, or whole on
the calling thread without the GIL (``serial=True``), as the im2col kernels do.

Layout: V and M are (16, S) arrays, row e holding the (C, n*T) matrix V[e] (or the (K, n*T)
matrix M[e]) flat in its first C*n*T (K*n*T) entries, tile ``t = (n*TH + ty)*TW + tx``. The
row length S may exceed that: a caller pads it so that the 16 rows, written or read together
tile by tile, do not start a power of two apart (the cache would map them onto the same sets;
such strides made the input transform 3-4x slower).

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


def _check_rows(op, name, rows, matrix_rows, columns, dtype):
    """``rows`` must be a C-contiguous (16, S) array of ``dtype`` with S >= matrix_rows*columns."""
    need = matrix_rows * columns
    if (rows.ndim != 2 or rows.shape[0] != 16 or rows.shape[1] < need or rows.dtype != dtype
            or not rows.flags.c_contiguous):
        raise ValueError(f"{op}: {name} must be a C-contiguous {dtype} array of shape (16, S) "
                         f"with S >= {matrix_rows} * {columns} = {need}, got shape {rows.shape}, "
                         f"dtype {rows.dtype}")


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
    out : ndarray, shape (16, S), S >= C * N*TH*TW, x's dtype, C-contiguous
        Row e receives the (C, N*TH*TW) matrix V[e] in its first C*N*TH*TW entries:
        ``out[e, c*(N*T) + (n*TH + ty)*TW + tx]``.
    serial : bool
        Run on the calling thread alone, without the GIL, instead of over Numba's threads.
    """
    op = "winograd_input"
    _check_image(op, "x", x.shape, x.dtype)
    if min(PH, PW) < 0 or min(TH, TW) < 1:
        raise ValueError(f"{op}: padding {(PH, PW)} must be >= 0 and tiles {(TH, TW)} >= 1")
    N, C = x.shape[:2]
    _check_rows(op, "out", out, C, N * TH * TW, x.dtype)
    x = np.ascontiguousarray(x)
    if serial:
        _input_serial(x, PH, PW, TH, TW, out)
    else:
        with threads_for(x.size + 16 * C * N * TH * TW):  # cells read and written
            _input_loop(x, PH, PW, TH, TW, out, numba.get_num_threads())
    return out


def winograd_output(m, TH, TW, out, serial=False):
    """y = Aᵀ m A of every transformed tile m: the convolution's output from the products M.

    Parameters
    ----------
    m : ndarray, shape (16, S), S >= K * N*TH*TW
        Row e holds the (K, N*TH*TW) matrix M[e] = U[e] @ V[e] in its first K*N*TH*TW entries.
    TH, TW : int >= 1
        Tiles per plane: ``TH = ceil(OH / 2)`` and ``TW = ceil(OW / 2)``.
    out : ndarray, shape (N, K, OH, OW), m's dtype, C-contiguous
        Written whole: ``out[n, k, 2*ty + a, 2*tx + b]`` from tile (ty, tx), a, b in {0, 1}.
    serial : bool
        As in :func:`winograd_input`.
    """
    op = "winograd_output"
    _check_image(op, "out", out.shape, out.dtype)
    N, K, OH, OW = out.shape
    if winograd_tiles(OH, OW) != (TH, TW):
        raise ValueError(f"{op}: an output of {OH}x{OW} has {winograd_tiles(OH, OW)} tiles of "
                         f"2x2, got tiles {(TH, TW)}")
    if not out.flags.c_contiguous:
        raise ValueError(f"{op}: out must be C-contiguous")
    _check_rows(op, "m", m, K, N * TH * TW, out.dtype)
    if serial:
        _output_serial(m, TH, TW, out)
    else:
        with threads_for(16 * K * N * TH * TW + out.size):  # cells read and written
            _output_loop(m, TH, TW, out, numba.get_num_threads())
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
def _bt(d0, d1, d2, d3):
    """Bᵀ times the column (d0, d1, d2, d3)."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@numba.njit(parallel=True, cache=True)
def _input_loop(x, PH, PW, TH, TW, V, shares):
    # One share of the planes per thread: each share allocates its padded plane once.
    planes = x.shape[0] * x.shape[1]
    for s in numba.prange(shares):
        _input_planes(x, PH, PW, TH, TW, V, planes * s // shares, planes * (s + 1) // shares)


@numba.njit(nogil=True, cache=True)
def _input_serial(x, PH, PW, TH, TW, V):
    _input_planes(x, PH, PW, TH, TW, V, 0, x.shape[0] * x.shape[1])


@numba.njit(nogil=True, cache=True)
def _input_planes(x, PH, PW, TH, TW, V, first, last):
    """The input transform of the (n, c) planes ``first <= n*C + c < last``."""
    N, C, H, W = x.shape
    nT = N * TH * TW
    HP = 2 * TH + 2  # rows of the padded plane the tiles read
    # The padded plane, its even columns in `ev` and its odd ones in `od`: ev[r, u] is column
    # 2u. A tile's four columns are then ev[., tx], od[., tx], ev[., tx+1], od[., tx+1], read
    # with unit stride across the tiles of a row.
    ev = np.empty((HP, TW + 1), dtype=x.dtype)
    od = np.empty((HP, TW + 1), dtype=x.dtype)
    for nc in range(first, last):
        n = nc // C
        c = nc - n * C
        for r in range(HP):
            ih = r - PH
            inside = 0 <= ih < H
            for u in range(TW + 1):
                iw = 2 * u - PW
                ev[r, u] = x[n, c, ih, iw] if inside and 0 <= iw < W else 0.0
                od[r, u] = x[n, c, ih, iw + 1] if inside and 0 <= iw + 1 < W else 0.0
        row = c * nT + n * TH * TW
        for ty in range(TH):
            r = 2 * ty
            for tx in range(TW):
                # the columns of Bᵀ d (d's columns are ev[., tx], od[., tx], ev[., tx+1] and
                # od[., tx+1], rows r to r + 3)
                c0 = _bt(ev[r, tx], ev[r + 1, tx], ev[r + 2, tx], ev[r + 3, tx])
                c1 = _bt(od[r, tx], od[r + 1, tx], od[r + 2, tx], od[r + 3, tx])
                c2 = _bt(ev[r, tx + 1], ev[r + 1, tx + 1], ev[r + 2, tx + 1], ev[r + 3, tx + 1])
                c3 = _bt(od[r, tx + 1], od[r + 1, tx + 1], od[r + 2, tx + 1], od[r + 3, tx + 1])
                t = row + ty * TW + tx
                for i in range(4):  # row i of V = (Bᵀ d) B is Bᵀ applied to row i of Bᵀ d
                    v0, v1, v2, v3 = _bt(c0[i], c1[i], c2[i], c3[i])
                    V[4 * i, t] = v0
                    V[4 * i + 1, t] = v1
                    V[4 * i + 2, t] = v2
                    V[4 * i + 3, t] = v3


@numba.njit(parallel=True, cache=True)
def _output_loop(M, TH, TW, y, shares):
    planes = y.shape[0] * y.shape[1]
    for s in numba.prange(shares):
        _output_planes(M, TH, TW, y, planes * s // shares, planes * (s + 1) // shares)


@numba.njit(nogil=True, cache=True)
def _output_serial(M, TH, TW, y):
    _output_planes(M, TH, TW, y, 0, y.shape[0] * y.shape[1])


@numba.njit(nogil=True, cache=True)
def _output_planes(M, TH, TW, y, first, last):
    """The output transform of the (n, k) planes ``first <= n*K + k < last``."""
    N, K, OH, OW = y.shape
    T = TH * TW
    nT = N * T
    # A plane's tiles are T consecutive entries of each row of M: one pass over them (unit
    # stride, so the compiler vectorises it; twice as fast as tile by tile into the image) puts
    # each tile's four outputs into `out`, out[2*a + b, t] for y[2*ty + a, 2*tx + b]; a second
    # pass interleaves them into the plane, dropping a last odd row or column.
    out = np.empty((4, T), dtype=y.dtype)
    for nk in range(first, last):
        n = nk // K
        k = nk - n * K
        row = k * nT + n * T
        m0, m1, m2, m3 = M[0, row:row + T], M[1, row:row + T], M[2, row:row + T], M[3, row:row + T]
        m4, m5, m6, m7 = M[4, row:row + T], M[5, row:row + T], M[6, row:row + T], M[7, row:row + T]
        m8, m9, m10, m11 = (M[8, row:row + T], M[9, row:row + T], M[10, row:row + T],
                            M[11, row:row + T])
        m12, m13, m14, m15 = (M[12, row:row + T], M[13, row:row + T], M[14, row:row + T],
                              M[15, row:row + T])
        y00, y01, y10, y11 = out[0], out[1], out[2], out[3]
        for t in range(T):
            # s = Aᵀ m, column by column
            s00 = m0[t] + m4[t] + m8[t]
            s01 = m1[t] + m5[t] + m9[t]
            s02 = m2[t] + m6[t] + m10[t]
            s03 = m3[t] + m7[t] + m11[t]
            s10 = m4[t] - m8[t] - m12[t]
            s11 = m5[t] - m9[t] - m13[t]
            s12 = m6[t] - m10[t] - m14[t]
            s13 = m7[t] - m11[t] - m15[t]
            # y = s A
            y00[t] = s00 + s01 + s02
            y01[t] = s01 - s02 - s03
            y10[t] = s10 + s11 + s12
            y11[t] = s11 - s12 - s13
        for ty in range(TH):
            for a in range(2):
                i = 2 * ty + a
                if i < OH:
                    even, odd = out[2 * a], out[2 * a + 1]
                    image_row = y[n, k, i]
                    for u in range(OW // 2):
                        image_row[2 * u] = even[ty * TW + u]
                        image_row[2 * u + 1] = odd[ty * TW + u]
                    if OW % 2:
                        image_row[OW - 1] = even[ty * TW + OW // 2]
