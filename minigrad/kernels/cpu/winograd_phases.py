"""Winograd's F(2x2, 2x2) on the four phases of a stride-2 4x4 convolution, on the CPU.

A stride-2 convolution with a 4x4 kernel (DCGAN's down- and upsampling layers; the transposed
one doubles an image) is four 2x2 convolutions in disguise. Along one axis, with ``xp`` the
input zero padded by P in front,

    y[o] = Σ_k xp[2o + k] w[k] = Σ_p (xp[2(o + 0) + p] w[p] + xp[2(o + 1) + p] w[p + 2]),

so each parity p of the padded input (rows p, p + 2, ...) meets the 2-tap sub-kernel
``(w[p], w[p + 2])`` at stride 1: in 2D, the phase (p, q) of xp meets ``w[:, :, p::2, q::2]``
and y is the sum of the four. Each of those runs as Winograd's F(2x2, 2x2) (Lavin and Gray
2016; points 0, 1 and infinity):

    Bᵀ = [[1, -1, 0],    G = [[1, 0],    Aᵀ = [[1, 1, 0],
          [0,  1, 0],         [1, 1],          [0, 1, 1]]
          [0, -1, 1]]         [0, 1]]

9 multiplications per 2x2 block, phase and channel instead of 16: the four phases' products add
up in the transformed domain, so a stride-2 4x4 convolution needs 9 matrix products, one per
entry e, ``M[e] = V[e] @ U[e]ᵀ`` with the phases side by side along the channels: V[e] is
(tiles, 4C) and U[e] (K, 4C). Its entries are ±1 and sums, so the rounding is that of the sums
(float32: about 1e-6 of the outputs' scale). Its three calls, as in ``kernels/im2col_gemm.py``
(x the image side, with C channels, and g the window side, with K):

- convolution (image to window, stride 2): V = ``phase_input(x)``, the phases' Bᵀ d B;
  y = the plain F(2x2, 2x2) output transform of M (``winograd_output(..., r=2)``).
- transposed convolution (window to image): each 2x2 block of a phase of the image is, by the
  same sum read backwards, a 2x2 correlation of three window rows and columns with the phase's
  flipped sub-kernel; the four phases read the same 3x3 patch, window rows
  ``2t - 1 + P//2 ... 2t + 1 + P//2`` for the image rows ``4t - P%2 ... 4t - P%2 + 3``. So
  V = the plain input transform of g, padded by ``1 - P//2`` (``winograd_input(..., r=2)``),
  M[e] (tiles, 4C) = V[e] @ U'[e] with the flipped phases' U', and ``phase_output`` writes
  each phase's Aᵀ m A into its rows and columns of the image. (With an odd P the tiles start
  a row and a column before the image: on a small image that is many tiles of padding, which
  ``kernels/im2col_gemm.py`` weighs before it takes this path.)
- weight gradient: ``dU[e] = D[e]ᵀ @ V[e]`` with D = A gy Aᵀ of the window gradient's 2x2 tiles
  (``winograd_output_adjoint(..., r=2)``) and V from ``phase_input``; then each phase's
  ``Gᵀ dU G`` is its sub-kernel's gradient (``phase_weight_adjoint``).

Layout: as in ``kernels/cpu/winograd.py``, entry-major, ``V[e, (s*TH + ty)*TW + tx, ph*C + c]``
with the phase ``ph = 2*p + q``: a tile row of V is (TW, 2, 2, C) values, ``[tx, p, q, c]``.
Each sample is copied channels last into a zero-padded buffer (``layout.channels_last``) whose
pixel pairs ``(2u, 2u + 1)`` are 2C contiguous values, ``[q, c]``; the first step of
``phase_input`` reads, for column j of a tile, the pair ``2*tx + j`` of three rows and writes
the (q, c) block of phase row p: every loop runs over 2C contiguous values with the leading
indices fixed, which the compiler vectorises. ``phase_output`` runs the same way backwards.

Notation
--------
N, C, H, W  the image side: batch, channels and size
K, OH, OW   the window side: channels and size, ``OH = (H + 2*P - 4) // 2 + 1``
P           zero padding (PH, PW), 0, 1 or 2
TH, TW      2x2 tiles of the window (``winograd_tiles(OH, OW)``) for the convolution and the
            weight gradient;  ``ceil((H + P % 2) / 4)`` tiles of 4x4 image rows and columns
            for the transposed convolution (``phase_tiles``)
p, q        the parity of a padded image row and column;  ph = 2*p + q the phase
e           an entry of the transformed 3x3 tile, ``e = 3*i + j``
"""
import numba
import numpy as np

from .. import geometry
from .layout import channels_first, channels_last
from .parallel import threads_for
from .winograd import _at3, _bt3, _check_image, _check_padding_and_tiles, _check_tiles


def phase_tiles(H, W, PH, PW):
    """(TH, TW): the tiles of 4x4 image rows and columns that cover an H x W image, for
    ``phase_output`` with padding (PH, PW), each in 0, 1, 2. Tile (ty, tx) holds image rows
    ``4*ty - PH % 2 ... 4*ty - PH % 2 + 3`` (an odd padding puts the tiles one row before
    the image: the four phases then read the same window rows) and the columns alike."""
    for P in (PH, PW):
        _check_phase_padding("phase_tiles", P)
    return -(-(H + PH % 2) // 4), -(-(W + PW % 2) // 4)


def _check_phase_padding(op, P):
    if P not in (0, 1, 2):
        raise ValueError(f"{op}: the padding must be 0, 1 or 2, got {P}")


def phase_weight(w, flip=False, transposed=False):
    """U = G g Gᵀ of each phase's 2x2 sub-kernel ``g = w[k, c, p::2, q::2]`` (flipped in both
    axes with ``flip``: the transposed convolution's): ``(K, C, 4, 4) -> (9, K, 4C)``, with
    ``U[e, k, (2*p + q)*C + c]``; with ``transposed``, each entry's transpose, ``(9, 4C, K)``
    (the convolution's product takes ``V[e] @ U[e]ᵀ``). G's entries are 0 and 1, so each
    entry is a sum of one, two or four taps, in w's dtype."""
    if w.ndim != 4 or w.shape[2:] != (4, 4):
        raise ValueError(f"phase_weight: expected a weight of shape (K, C, 4, 4), got shape "
                         f"{w.shape}")
    geometry.check_float("phase_weight", "w", w.dtype)
    K, C = w.shape[:2]
    if transposed:
        U = np.empty((9, 4, C, K), dtype=w.dtype)
        _phase_weight_t_loop(w, bool(flip), U)
        return U.reshape(9, 4 * C, K)
    U = np.empty((9, K, 4, C), dtype=w.dtype)
    _phase_weight_loop(w, bool(flip), U)
    return U.reshape(9, K, 4 * C)


def phase_weight_adjoint(dU):
    """The weight's gradient from each phase's 3x3 gradient dU: ``(9, K, 4C) -> (K, C, 4, 4)``,
    the adjoint of :func:`phase_weight` (unflipped): ``Gᵀ dU G`` of each phase, each tap the
    sum of four entries."""
    if dU.ndim != 3 or dU.shape[0] != 9 or dU.shape[2] % 4:
        raise ValueError(f"phase_weight_adjoint: expected dU of shape (9, K, 4C), got shape "
                         f"{dU.shape}")
    geometry.check_float("phase_weight_adjoint", "dU", dU.dtype)
    K, C = dU.shape[1], dU.shape[2] // 4
    dw = np.empty((K, C, 4, 4), dtype=dU.dtype)
    _phase_weight_adjoint_loop(np.ascontiguousarray(dU).reshape(9, K, 4, C), dw)
    return dw


@numba.njit(inline="always", cache=True)
def _phase_entries(taps, p, q, flip):
    """The 9 entries of G g Gᵀ, e = 3*i + j, for phase (p, q)'s sub-kernel g of one 4x4
    filter's ``taps``."""
    if flip:  # g[a, b] = taps[2*(1 - a) + p, 2*(1 - b) + q]
        g00, g01, g10, g11 = taps[2 + p, 2 + q], taps[2 + p, q], taps[p, 2 + q], taps[p, q]
    else:  # g[a, b] = taps[2*a + p, 2*b + q]
        g00, g01, g10, g11 = taps[p, q], taps[p, 2 + q], taps[2 + p, q], taps[2 + p, 2 + q]
    top, bottom = g00 + g01, g10 + g11  # rows 0 and 2 of g Gᵀ, middle column
    return g00, top, g01, g00 + g10, top + bottom, g01 + g11, g10, bottom, g11


@numba.njit(nogil=True, cache=True)
def _phase_weight_loop(w, flip, U):
    """U[e, k, 2*p + q, c]: the entries of phase (p, q)'s sub-kernel of filter (k, c), c
    innermost (U's contiguous axis)."""
    K, C = w.shape[:2]
    for k in range(K):
        for p in range(2):
            for q in range(2):
                for c in range(C):
                    entries = _phase_entries(w[k, c], p, q, flip)
                    for e in range(9):
                        U[e, k, 2 * p + q, c] = entries[e]


@numba.njit(nogil=True, cache=True)
def _phase_weight_t_loop(w, flip, U):
    """U[e, 2*p + q, c, k], the same entries with k innermost (this U's contiguous axis)."""
    K, C = w.shape[:2]
    for p in range(2):
        for q in range(2):
            for c in range(C):
                for k in range(K):
                    entries = _phase_entries(w[k, c], p, q, flip)
                    for e in range(9):
                        U[e, 2 * p + q, c, k] = entries[e]


@numba.njit(nogil=True, cache=True)
def _phase_weight_adjoint_loop(dU, dw):
    """dw[k, c, 2*a + p, 2*b + q] = (Gᵀ d G)[a, b] for phase (p, q)'s d = dU[:, k, 2*p + q, c]."""
    K, C = dw.shape[:2]
    for k in range(K):
        for p in range(2):
            for q in range(2):
                ph = 2 * p + q
                for c in range(C):
                    # Gᵀ's rows pick entries i (and j) in {0, 1} for a (b) = 0, {1, 2} for 1
                    d11 = dU[4, k, ph, c]
                    dw[k, c, p, q] = dU[0, k, ph, c] + dU[1, k, ph, c] + dU[3, k, ph, c] + d11
                    dw[k, c, p, 2 + q] = dU[1, k, ph, c] + dU[2, k, ph, c] + d11 + dU[5, k, ph, c]
                    dw[k, c, 2 + p, q] = dU[3, k, ph, c] + d11 + dU[6, k, ph, c] + dU[7, k, ph, c]
                    dw[k, c, 2 + p, 2 + q] = (d11 + dU[5, k, ph, c] + dU[7, k, ph, c]
                                              + dU[8, k, ph, c])


def phase_input(x, PH, PW, TH, TW, out, serial=False):
    """V = Bᵀ d B of each phase's 3x3 patch d, for every 2x2 tile of a stride-2 4x4
    convolution's output, written into ``out``.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W), float32 or float64
    PH, PW : int >= 0
        Zero padding: tile (ty, tx) reads padded rows ``4*ty ... 4*ty + 5`` (image rows less
        PH), phase p the rows ``4*ty + p + 2*i``, i = 0, 1, 2; the columns alike. What falls
        outside the image reads 0.
    TH, TW : int >= 1
        Tiles per plane: ``winograd_tiles(OH, OW)`` of the convolution's output.
    out : ndarray, shape (9, N*TH*TW, 4C), x's dtype, C-contiguous
        ``out[e, (s*TH + ty)*TW + tx, (2*p + q)*C + c] = (Bᵀ d B)[e]`` for the patch d of
        channel c, phase (p, q), of that tile.
    serial : bool
        Run on the calling thread alone, without the GIL, instead of over Numba's threads.
    """
    op = "phase_input"
    _check_image(op, "x", x.shape, x.dtype)
    _check_padding_and_tiles(op, PH, PW, TH, TW)
    N, C = x.shape[:2]
    _check_tiles(op, "out", out, 2, N * TH * TW, 4 * C, x.dtype)  # the phases side by side
    x = np.ascontiguousarray(x)
    if serial:
        _input_serial(x, PH, PW, TH, TW, out)
    else:
        with threads_for(x.size + out.size):  # cells read and written
            _input_loop(x, PH, PW, TH, TW, out, numba.get_num_threads())
    return out


def phase_output(m, PH, PW, TH, TW, out, serial=False, bias=None):
    """The transposed convolution's image from the products M: each phase's Aᵀ m A.

    Parameters
    ----------
    m : ndarray, shape (9, N*TH*TW, 4C), C-contiguous
        ``m[e, t, (2*p + q)*C + c]``: tile t's entry e of phase (p, q), image channel c.
    PH, PW : int in 0, 1, 2
        The convolution's zero padding. Tile (ty, tx)'s phase (p, q) writes image rows
        ``4*ty - PH % 2 + p + 2*a`` and columns alike, a, b in {0, 1}: those inside the image
        are kept. (Its m comes from window rows ``2*ty - 1 + PH // 2 ... 2*ty + 1 + PH // 2``,
        the input transform with padding ``1 - PH // 2``.)
    TH, TW : int >= 1
        Tiles per plane: ``phase_tiles(H, W, PH, PW)``.
    out : ndarray, shape (N, C, H, W), m's dtype, C-contiguous
        Written whole.
    serial : bool
        As in :func:`phase_input`.
    bias : ndarray, shape (C,), optional
        Added to every pixel of channel c, in the pass that writes the image.
    """
    op = "phase_output"
    _check_image(op, "out", out.shape, out.dtype)
    if not out.flags.c_contiguous:
        raise ValueError(f"{op}: out must be C-contiguous")
    for P in (PH, PW):
        _check_phase_padding(op, P)
    N, C, H, W = out.shape
    if phase_tiles(H, W, PH, PW) != (TH, TW):
        raise ValueError(f"{op}: out of {H}x{W} padded by {(PH, PW)} has "
                         f"{phase_tiles(H, W, PH, PW)} tiles of 4x4, got tiles {(TH, TW)}")
    _check_tiles(op, "m", m, 2, N * TH * TW, 4 * C, out.dtype)
    bias = geometry.checked_bias(op, bias, C, out.dtype, np)
    if serial:
        _output_serial(m, PH % 2, PW % 2, TH, TW, bias, out)
    else:
        with threads_for(m.size + out.size):  # cells read and written
            _output_loop(m, PH % 2, PW % 2, TH, TW, bias, out, numba.get_num_threads())
    return out


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
    """The phases' input transform of the samples ``first <= s < last``."""
    N, C, H, W = x.shape
    R = N * TH
    # The padded sample, channels last: padded[i, j, c] = x[s, c, i - PH, j - PW], 0 on the
    # padding (zeroed once; each sample rewrites the same part). Viewed as pixel pairs,
    # pairs[i, u, q*C + c] is padded column 2*u + q.
    padded = np.zeros((4 * TH + 2, 4 * TW + 2, C), dtype=x.dtype)
    pairs = padded.reshape(4 * TH + 2, 2 * TW + 1, 2 * C)
    # Bᵀ d of a tile row: bt_d[3*i + j, tx, p, q*C + c], row i and column j of phase (p, q)
    bt_d = np.empty((9, TW, 2, 2 * C), dtype=x.dtype)
    out = V.reshape(9 * R, TW * 4 * C)  # row e*R + s*TH + ty: entry e of tile row ty of s
    flat = bt_d.reshape(9, TW * 4 * C)
    for s in range(first, last):
        channels_last(x[s], padded, PH, PW)
        for ty in range(TH):
            for p in range(2):  # Bᵀ down column j of phase row p of every tile
                top = 4 * ty + p
                for j in range(3):
                    for tx in range(TW):
                        r0, r1, r2 = (pairs[top, 2 * tx + j], pairs[top + 2, 2 * tx + j],
                                      pairs[top + 4, 2 * tx + j])
                        d0, d1, d2 = bt_d[j, tx, p], bt_d[3 + j, tx, p], bt_d[6 + j, tx, p]
                        for u in range(2 * C):
                            d0[u], d1[u], d2[u] = _bt3(r0[u], r1[u], r2[u])
            for i in range(3):  # (Bᵀ d) B: Bᵀ across row i of every tile, entries 3*i + l
                row = 3 * i * R + s * TH + ty
                s0, s1, s2 = flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]
                o0, o1, o2 = out[row], out[row + R], out[row + 2 * R]
                for u in range(TW * 4 * C):
                    o0[u], o1[u], o2[u] = _bt3(s0[u], s1[u], s2[u])


@numba.njit(parallel=True, cache=True)
def _output_loop(M, lead_h, lead_w, TH, TW, bias, y, shares):
    N = y.shape[0]
    for s in numba.prange(shares):
        _output_samples(M, lead_h, lead_w, TH, TW, bias, y, N * s // shares,
                        N * (s + 1) // shares)


@numba.njit(nogil=True, cache=True)
def _output_serial(M, lead_h, lead_w, TH, TW, bias, y):
    _output_samples(M, lead_h, lead_w, TH, TW, bias, y, 0, y.shape[0])


@numba.njit(nogil=True, cache=True)
def _output_samples(M, lead_h, lead_w, TH, TW, bias, y, first, last):
    """The phases' output transform of the samples ``first <= s < last``, plus the bias; the
    tiles start ``lead_h`` rows and ``lead_w`` columns before the image."""
    N, C, H, W = y.shape
    R = N * TH
    m = M.reshape(9 * R, TW * 4 * C)  # row e*R + s*TH + ty: entry e of tile row ty of s
    # Aᵀ m of a tile row: at_m[3*a + j, tx, p, q*C + c], row a and column j of phase (p, q)
    at_m = np.empty((6, TW, 2, 2 * C), dtype=y.dtype)
    flat = at_m.reshape(6, TW * 4 * C)
    # the sample's tiles, channels last, by pixel pairs: pairs[i, u, q*C + c] is tile pixel
    # (i, 2*u + q), image pixel (i - lead_h, 2*u + q - lead_w)
    tiled = np.empty((4 * TH, 4 * TW, C), dtype=y.dtype)
    pairs = tiled.reshape(4 * TH, 2 * TW, 2 * C)
    for s in range(first, last):
        for ty in range(TH):
            row = s * TH + ty
            for j in range(3):  # Aᵀ m: Aᵀ down column j of every tile, entries j, 3 + j, 6 + j
                m0, m1, m2 = m[j * R + row], m[(3 + j) * R + row], m[(6 + j) * R + row]
                a0, a1 = flat[j], flat[3 + j]
                for u in range(TW * 4 * C):
                    a0[u], a1[u] = _at3(m0[u], m1[u], m2[u])
            for a in range(2):  # (Aᵀ m) A: across row a, into tile rows 4*ty + p + 2*a
                for p in range(2):
                    top = 4 * ty + p + 2 * a
                    for tx in range(TW):  # columns 4*tx + q + 2*b: pairs 2*tx + b
                        s0, s1, s2 = (at_m[3 * a, tx, p], at_m[3 * a + 1, tx, p],
                                      at_m[3 * a + 2, tx, p])
                        left, right = pairs[top, 2 * tx], pairs[top, 2 * tx + 1]
                        for u in range(2 * C):
                            left[u], right[u] = _at3(s0[u], s1[u], s2[u])
        channels_first(tiled[lead_h:, lead_w:], y[s], bias)  # dropping what is outside
