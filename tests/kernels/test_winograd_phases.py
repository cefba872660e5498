"""Winograd's F(2x2, 2x2) on the four phases of stride-2 4x4 convolutions
(kernels/cpu/winograd_phases.py, kernels/im2col_gemm.py).

Each transform against its definition, written out tile by tile in plain NumPy with the
matrices below; the weight map and its adjoint; the serial and parallel loops against each
other; the whole path (forward, input and weight gradients, both families) against the slow
reference convolution and against the im2col path; which convolutions take it; and the errors
raised before a kernel runs. (The op-spec registry gradchecks and gradgradchecks the path,
``conv2d_phases`` and ``conv_transpose2d_phases``, and the fuzzer throws odd sizes, dtypes and
layouts at it, ``test_fuzz_conv2d_phases``.)
"""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
import minigrad.functional as F
import minigrad.kernels.cpu as cpu
from minigrad.kernels import im2col_gemm
from minigrad.kernels.cpu import winograd as W, winograd_phases as P
import references as R

# Bᵀ, G and Aᵀ of F(2, 2) (points 0, 1 and infinity)
B_T = np.array([[1, -1, 0], [0, 1, 0], [0, -1, 1]], dtype=float)
G = np.array([[1, 0], [1, 1], [0, 1]], dtype=float)
A_T = np.array([[1, 1, 0], [0, 1, 1]], dtype=float)


def test_the_matrices_make_a_2x2_block_of_a_2x2_correlation():
    rng = np.random.default_rng(0)
    for _ in range(5):
        d, g = rng.standard_normal((3, 3)), rng.standard_normal((2, 2))
        y = A_T @ ((G @ g @ G.T) * (B_T @ d @ B_T.T)) @ A_T.T
        expected = [[np.sum(g * d[a:a + 2, b:b + 2]) for b in range(2)] for a in range(2)]
        np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def _every_phase_of_every_tile(N, C, TH, TW):
    """(s, c, ty, tx, p, q) for sample s, channel c, tile (ty, tx) and phase (p, q)."""
    return itertools.product(range(N), range(C), range(TH), range(TW), range(2), range(2))


def _slow_phase_input(x, PH, PW, TH, TW):
    """V[e, s*T + ty*TW + tx, (2p + q)*C + c] = (Bᵀ d B)[e] for the patch d of padded rows
    4ty + p + 2i and columns 4tx + q + 2j (i, j = 0, 1, 2) of channel c."""
    N, C, H, Wd = x.shape
    padded = np.zeros((N, C, 4 * TH + 2 + H + PH, 4 * TW + 2 + Wd + PW))
    padded[:, :, PH:PH + H, PW:PW + Wd] = x
    T = TH * TW
    V = np.zeros((9, N * T, 4 * C))
    for s, c, ty, tx, p, q in _every_phase_of_every_tile(N, C, TH, TW):
        d = padded[s, c, 4 * ty + p:4 * ty + p + 5:2, 4 * tx + q:4 * tx + q + 5:2]
        V[:, s * T + ty * TW + tx, (2 * p + q) * C + c] = (B_T @ d @ B_T.T).ravel()
    return V


def _slow_phase_output(M, PH, PW, shape):
    """y[s, c, 4ty - PH%2 + p + 2a, 4tx - PW%2 + q + 2b] = (Aᵀ m A)[a, b] of phase (p, q)'s
    3x3 m of tile (ty, tx), cut to the image."""
    N, C, H, Wd = shape
    TH, TW = P.phase_tiles(H, Wd, PH, PW)
    T = TH * TW
    tiled = np.zeros((N, C, 4 * TH, 4 * TW))
    for s, c, ty, tx, p, q in _every_phase_of_every_tile(N, C, TH, TW):
        m = M[:, s * T + ty * TW + tx, (2 * p + q) * C + c].reshape(3, 3)
        tiled[s, c, 4 * ty + p:4 * ty + p + 3:2, 4 * tx + q:4 * tx + q + 3:2] = A_T @ m @ A_T.T
    return tiled[:, :, PH % 2:PH % 2 + H, PW % 2:PW % 2 + Wd]


def _slow_phase_weight(w, flip):
    """U[e, k, (2p + q)*C + c] = (G g Gᵀ)[e] of the sub-kernel g = w[k, c, p::2, q::2] (flipped
    in both axes with ``flip``)."""
    K, C = w.shape[:2]
    U = np.zeros((9, K, 4 * C))
    for p in range(2):
        for q in range(2):
            g = w[:, :, p::2, q::2]
            g = g[:, :, ::-1, ::-1] if flip else g
            U[:, :, (2 * p + q) * C:(2 * p + q + 1) * C] = np.einsum(
                "ai,kcij,bj->abkc", G, g, G).reshape(9, K, C)
    return U


def _tiles(count, channels, dtype=np.float64):
    """A (9, count, 4*channels) buffer filled with NaN: every entry a kernel leaves unwritten
    shows."""
    return np.full((9, count, 4 * channels), np.nan, dtype=dtype)


@st.composite
def _images(draw):
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, Wd = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    PH, PW = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    seed = draw(st.integers(0, 2**16))
    return np.random.default_rng(seed).standard_normal((N, C, H, Wd)), PH, PW


@settings(max_examples=60, deadline=None)
@given(case=_images(), serial=st.booleans(), extra=st.integers(0, 1))
def test_phase_input_is_bt_d_b_of_every_phase_of_every_tile(case, serial, extra):
    """Tiles as the convolution's output needs them, and one more row or column of tiles than
    that (which reads only padding)."""
    x, PH, PW = case
    N, C, H, Wd = x.shape
    OH, OW = max(1, (H + 2 * PH - 4) // 2 + 1), max(1, (Wd + 2 * PW - 4) // 2 + 1)
    TH, TW = W.winograd_tiles(OH, OW)
    TH, TW = TH + extra, TW + extra
    out = _tiles(N * TH * TW, C)
    assert P.phase_input(x, PH, PW, TH, TW, out=out, serial=serial) is out
    np.testing.assert_allclose(out, _slow_phase_input(x, PH, PW, TH, TW), rtol=1e-13,
                               atol=1e-13)


@settings(max_examples=60, deadline=None)
@given(N=st.integers(1, 3), C=st.integers(1, 3), H=st.integers(1, 9), Wd=st.integers(1, 9),
       PH=st.integers(0, 2), PW=st.integers(0, 2), serial=st.booleans(),
       seed=st.integers(0, 2**16))
def test_phase_output_is_at_m_a_of_every_phase_of_every_tile(N, C, H, Wd, PH, PW, serial, seed):
    TH, TW = P.phase_tiles(H, Wd, PH, PW)
    M = np.random.default_rng(seed).standard_normal((9, N * TH * TW, 4 * C))
    y = P.phase_output(M, PH, PW, TH, TW, out=np.full((N, C, H, Wd), np.nan), serial=serial)
    np.testing.assert_allclose(y, _slow_phase_output(M, PH, PW, (N, C, H, Wd)), rtol=1e-13,
                               atol=1e-13)


def test_the_tiles_cover_the_image_one_row_early_for_an_odd_padding():
    assert P.phase_tiles(16, 16, 1, 1) == (5, 5)  # image rows -1 ... 18
    assert P.phase_tiles(16, 16, 0, 2) == (4, 4)
    assert P.phase_tiles(15, 13, 1, 0) == (4, 4)
    assert P.phase_tiles(1, 1, 2, 1) == (1, 1)
    with pytest.raises(ValueError, match=r"phase_tiles: the padding must be 0, 1 or 2, got 3"):
        P.phase_tiles(8, 8, 1, 3)


@pytest.mark.parametrize("flip", [False, True])
def test_phase_weight_is_g_g_gt_of_each_phase_and_its_transpose(flip):
    w = np.random.default_rng(1).standard_normal((3, 2, 4, 4))
    U = P.phase_weight(w, flip=flip)
    np.testing.assert_allclose(U, _slow_phase_weight(w, flip), rtol=1e-14, atol=1e-14)
    assert U.shape == (9, 3, 8) and U.flags.c_contiguous
    U_t = P.phase_weight(w, flip=flip, transposed=True)
    assert U_t.shape == (9, 8, 3) and U_t.flags.c_contiguous
    np.testing.assert_array_equal(U_t, U.transpose(0, 2, 1))
    assert P.phase_weight(w.astype(np.float32), flip=flip).dtype == np.float32


def test_phase_weight_adjoint_is_the_adjoint_of_phase_weight():
    rng = np.random.default_rng(2)
    w, dU = rng.standard_normal((3, 2, 4, 4)), rng.standard_normal((9, 3, 8))
    dw = P.phase_weight_adjoint(dU)
    assert dw.shape == (3, 2, 4, 4)
    assert np.vdot(P.phase_weight(w), dU) == pytest.approx(np.vdot(w, dw), rel=1e-13)
    # tap by tap: dw[k, c, 2j + p, 2l + q] = (Gᵀ dU_pq G)[j, l]
    for p in range(2):
        for q in range(2):
            phase = dU[:, :, (2 * p + q) * 2:(2 * p + q + 1) * 2].reshape(3, 3, 3, 2)
            np.testing.assert_allclose(dw[:, :, p::2, q::2],
                                       np.einsum("ia,ijkc,jb->kcab", G, phase, G),
                                       rtol=1e-14, atol=1e-14)
    assert P.phase_weight_adjoint(dU.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("H, Wd, padding", [(8, 8, 1), (9, 6, 0), (7, 10, 2), (5, 5, (2, 1)),
                                            (4, 4, 0)])
def test_the_transforms_make_a_stride_2_convolution_its_transpose_and_its_weight_gradient(
        H, Wd, padding):
    rng = np.random.default_rng(3)
    PH, PW = padding if isinstance(padding, tuple) else (padding, padding)
    x, w = rng.standard_normal((2, 3, H, Wd)), rng.standard_normal((4, 3, 4, 4))
    y_ref = R.conv2d(x, w, stride=2, padding=(PH, PW))
    OH, OW = y_ref.shape[2:]
    TH, TW = W.winograd_tiles(OH, OW)
    V = P.phase_input(x, PH, PW, TH, TW, out=_tiles(2 * TH * TW, 3))
    M = np.ascontiguousarray(V @ P.phase_weight(w, transposed=True))
    y = W.winograd_output(M, TH, TW, out=np.empty((2, 4, OH, OW)), r=2)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    # the weight gradient for an output gradient g
    g = rng.standard_normal(y_ref.shape)
    D = W.winograd_output_adjoint(g, TH, TW, out=np.empty((9, 2 * TH * TW, 4)), r=2)
    dw = P.phase_weight_adjoint(D.transpose(0, 2, 1) @ V)
    x_t, w_t = mg.tensor(x), mg.tensor(w, requires_grad=True)
    with im2col_gemm_off():
        expected = mg.grad([F.conv2d(x_t, w_t, stride=2, padding=(PH, PW))], [w_t],
                           grad_outputs=[mg.tensor(g)])[0].numpy()
    np.testing.assert_allclose(dw, expected, rtol=1e-12, atol=1e-12)
    # the transposed convolution of g back to x's size
    TI, TJ = P.phase_tiles(H, Wd, PH, PW)
    V2 = W.winograd_input(g, 1 - PH // 2, 1 - PW // 2, TI, TJ,
                          out=np.empty((9, 2 * TI * TJ, 4)), r=2)
    M2 = np.ascontiguousarray(V2 @ P.phase_weight(w, flip=True))
    x_back = P.phase_output(M2, PH, PW, TI, TJ, out=np.empty((2, 3, H, Wd)))
    output_padding = (H + 2 * PH - 4 - 2 * (OH - 1), Wd + 2 * PW - 4 - 2 * (OW - 1))
    np.testing.assert_allclose(x_back, R.conv_transpose2d(g, w, stride=2, padding=(PH, PW),
                                                          output_padding=output_padding),
                               rtol=1e-12, atol=1e-12)


class im2col_gemm_off:
    """A context with the Winograd paths off (the reference runs on im2col)."""

    def __enter__(self):
        im2col_gemm.WINOGRAD = False

    def __exit__(self, *exc):
        im2col_gemm.WINOGRAD = True


def test_serial_and_parallel_loops_agree_bit_for_bit():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 9, 8)).astype(np.float32)
    a, b = (_tiles(3 * 4 * 3, 5, np.float32) for _ in range(2))
    P.phase_input(x, 1, 1, 4, 3, out=a, serial=True)
    P.phase_input(x, 1, 1, 4, 3, out=b, serial=False)
    np.testing.assert_array_equal(a, b)
    TH, TW = P.phase_tiles(9, 8, 1, 1)
    M = rng.standard_normal((9, 3 * TH * TW, 20)).astype(np.float32)
    y1, y2 = (np.empty((3, 5, 9, 8), np.float32) for _ in range(2))
    P.phase_output(M, 1, 1, TH, TW, out=y1, serial=True)
    P.phase_output(M, 1, 1, TH, TW, out=y2, serial=False)
    np.testing.assert_array_equal(y1, y2)


def test_a_sample_beyond_the_first_reads_zeros_on_its_padding():
    """The padded buffer is shared by a call's samples: the second sample's border must read 0,
    not what the first sample (all NaN) left there."""
    x = np.random.default_rng(5).standard_normal((3, 2, 9, 8))
    x[0] = np.nan
    for PH, PW, TH, TW in ((2, 1, 3, 3), (0, 0, 2, 2), (1, 2, 4, 4)):
        out = P.phase_input(x, PH, PW, TH, TW, out=_tiles(3 * TH * TW, 2))
        np.testing.assert_allclose(out[:, TH * TW:],
                                   _slow_phase_input(x, PH, PW, TH, TW)[:, TH * TW:],
                                   rtol=1e-13, atol=1e-13)


def test_phase_output_adds_the_bias_once_per_pixel():
    rng = np.random.default_rng(6)
    TH, TW = P.phase_tiles(7, 6, 1, 2)
    M = rng.standard_normal((9, 2 * TH * TW, 12))
    bias = np.array([1.0, -2.0, 0.5])
    plain = P.phase_output(M, 1, 2, TH, TW, out=np.empty((2, 3, 7, 6)))
    for serial in (False, True):
        y = P.phase_output(M, 1, 2, TH, TW, out=np.empty((2, 3, 7, 6)), serial=serial,
                           bias=bias)
        np.testing.assert_allclose(y, plain + bias.reshape(1, 3, 1, 1), rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match=r"phase_output: bias must be a float64 array of "
                                         r"shape \(3,\)"):
        P.phase_output(M, 1, 2, TH, TW, out=np.empty((2, 3, 7, 6)), bias=np.zeros(4))


@pytest.mark.parametrize("call, error, message", [
    (lambda: P.phase_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2, out=np.zeros((9, 4, 6))),
     ValueError, r"phase_input: out must be a C-contiguous float64 array of shape \(9, 4, 8\) "
                 r"\(entries, tiles, channels\), got shape \(9, 4, 6\), dtype float64"),
    (lambda: P.phase_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2,
                           out=np.zeros((9, 4, 8), np.float32)), ValueError, r"float64 array"),
    (lambda: P.phase_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2,
                           out=np.zeros((8, 4, 9)).transpose(2, 1, 0)), ValueError,
     r"C-contiguous"),
    (lambda: P.phase_input(np.zeros((2, 4, 4)), 1, 1, 2, 2, out=np.zeros((9, 4, 8))),
     ValueError, r"phase_input: expected x of shape \(N, C, H, W\), got shape \(2, 4, 4\)"),
    (lambda: P.phase_input(np.zeros((1, 2, 4, 4)), -1, 1, 2, 2, out=np.zeros((9, 4, 8))),
     ValueError, r"phase_input: padding \(-1, 1\) must be >= 0"),
    (lambda: P.phase_input(np.zeros((1, 2, 4, 4)), 1, 1, 0, 2, out=np.zeros((9, 0, 8))),
     ValueError, r"phase_input: padding \(1, 1\) must be >= 0 and tiles \(0, 2\) >= 1"),
    (lambda: P.phase_input(np.zeros((1, 2, 4, 4), np.int64), 1, 1, 2, 2,
                           out=np.zeros((9, 4, 8))),
     TypeError, r"phase_input: x must be floating point \(float32 or float64\), got dtype int64"),
    (lambda: P.phase_output(np.zeros((9, 4, 8)), 1, 1, 2, 2, out=np.zeros((1, 2, 8, 8))),
     ValueError, r"phase_output: out of 8x8 padded by \(1, 1\) has \(3, 3\) tiles of 4x4, got "
                 r"tiles \(2, 2\)"),
    (lambda: P.phase_output(np.zeros((9, 4, 6)), 1, 1, 2, 2, out=np.zeros((1, 2, 6, 6))),
     ValueError, r"phase_output: m must be a C-contiguous float64 array of shape \(9, 4, 8\)"),
    (lambda: P.phase_output(np.zeros((9, 4, 8)), 3, 1, 2, 2, out=np.zeros((1, 2, 6, 6))),
     ValueError, r"phase_output: the padding must be 0, 1 or 2, got 3"),
    (lambda: P.phase_output(np.zeros((9, 4, 8)), 1, 1, 2, 2,
                            out=np.zeros((1, 2, 6, 12))[..., ::2]),
     ValueError, r"phase_output: out must be C-contiguous$"),
    (lambda: P.phase_output(np.zeros((9, 4, 8)), 1, 1, 2, 2,
                            out=np.zeros((1, 2, 6, 6), np.float16)),
     TypeError, r"phase_output: out must be floating point .* float16"),
    (lambda: P.phase_weight(np.zeros((2, 2, 3, 3))), ValueError,
     r"phase_weight: expected a weight of shape \(K, C, 4, 4\), got shape \(2, 2, 3, 3\)"),
    (lambda: P.phase_weight_adjoint(np.zeros((16, 2, 8))), ValueError,
     r"phase_weight_adjoint: expected dU of shape \(9, K, 4C\), got shape \(16, 2, 8\)"),
    (lambda: P.phase_weight_adjoint(np.zeros((9, 2, 6))), ValueError, r"got shape \(9, 2, 6\)"),
    (lambda: P.phase_weight(np.zeros((2, 2, 4, 4), np.int64)), TypeError,
     r"phase_weight: w must be floating point \(float32 or float64\), got dtype int64"),
    (lambda: P.phase_weight_adjoint(np.zeros((9, 2, 8), np.int32)), TypeError,
     r"phase_weight_adjoint: dU must be floating point"),
])
def test_bad_arguments_are_refused_before_the_kernel_runs(call, error, message):
    with pytest.raises(error, match=message):
        call()


def _count(monkeypatch, *kernels):
    """Count the calls of CPU kernels: (name, first array's shape) per call."""
    calls = []
    for name in kernels:
        def counted(*args, _real=getattr(cpu, name), _name=name, **kwargs):
            calls.append((_name, args[0].shape))
            return _real(*args, **kwargs)
        monkeypatch.setattr(cpu, name, counted)
    return calls


def _passes(calls):
    """The kernels called, a run of calls (the chunks of one pass) counted once."""
    names = [name for name, _ in calls]
    return [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]


def _both_paths(monkeypatch, run):
    """``run()`` with the Winograd paths on and off."""
    monkeypatch.setattr(im2col_gemm, "WINOGRAD", True)
    fast = run()
    monkeypatch.setattr(im2col_gemm, "WINOGRAD", False)
    return fast, run()


def _gradients(op, x, w, b, **keywords):
    """(y, dx, dw, db) of ``op`` for a fixed output gradient."""
    y = op(x, w, b, **keywords)
    g = mg.tensor(np.cos(np.arange(y.numel())).reshape(y.shape).astype(y.dtype))
    return [y.numpy()] + [t.numpy() for t in mg.grad([y], [x, w, b], grad_outputs=[g])]


def _problem(x_shape, w_shape, dtype, transposed=False, seed=0):
    rng = np.random.default_rng(seed)
    return (mg.tensor(rng.standard_normal(x_shape).astype(dtype), requires_grad=True),
            mg.tensor(rng.standard_normal(w_shape).astype(dtype), requires_grad=True),
            mg.tensor(rng.standard_normal(w_shape[1 if transposed else 0]).astype(dtype),
                      requires_grad=True))


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape, padding", [((3, 16, 16, 16), 1), ((2, 16, 9, 13), 0),
                                            ((2, 17, 10, 8), 2), ((2, 16, 16, 12), (1, 2))])
def test_a_strided_4x4_convolution_takes_the_phases_and_matches_im2col(monkeypatch, shape,
                                                                       padding, dtype, tol):
    """The forward and the weight gradient (which reads the forward's phase transform again
    instead of recomputing it) on the phases; the input gradient, a transposed convolution of
    the window gradient, too where its tiles cover its image closely enough."""
    x, w, b = _problem(shape, (20, shape[1], 4, 4), dtype)
    calls = _count(monkeypatch, "phase_input", "phase_output")
    fast, plain = _both_paths(monkeypatch, lambda: _gradients(F.conv2d, x, w, b, stride=2,
                                                              padding=padding))
    PH, PW = padding if isinstance(padding, tuple) else (padding, padding)
    cover = (16 * np.prod(cpu.phase_tiles(*shape[2:], PH, PW))
             <= im2col_gemm.PHASE_TILES_MOST * shape[2] * shape[3])
    assert _passes(calls) == ["phase_input"] + ["phase_output"] * int(cover)
    assert sum(shape[0] for name, shape in calls if name == "phase_input") == shape[0]
    for a, c in zip(fast, plain):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, c, rtol=tol, atol=tol * np.abs(c).max())


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape, padding, output_padding", [
    ((3, 16, 16, 16), 1, 0), ((2, 16, 8, 8), 0, 0), ((2, 17, 9, 7), 2, 1),
    ((2, 16, 12, 16), (1, 2), (1, 0))])
def test_a_strided_4x4_transposed_convolution_takes_the_phases_and_matches_im2col(
        monkeypatch, shape, padding, output_padding, dtype, tol):
    x, w, b = _problem(shape, (shape[1], 24, 4, 4), dtype, transposed=True)
    calls = _count(monkeypatch, "phase_input", "phase_output")
    fast, plain = _both_paths(monkeypatch, lambda: _gradients(
        F.conv_transpose2d, x, w, b, stride=2, padding=padding, output_padding=output_padding))
    # the forward writes the image; the input gradient (a convolution of the image gradient)
    # reads the image's phases, and the weight gradient reuses them
    assert _passes(calls) == ["phase_output", "phase_input"]
    for a, c in zip(fast, plain):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, c, rtol=tol, atol=tol * np.abs(c).max())


def test_a_small_image_with_odd_padding_keeps_the_rows_path_for_the_transposed_convolution(
        monkeypatch):
    """x (2, 16, 4, 4) to 8x8 with padding 1: 3x3 tiles of 4x4 cover 12x12, 2.25x the image,
    past PHASE_TILES_MOST; padding 2 to 6x6: 2x2 tiles, 1.8x, past it too; padding 0 to 10x10:
    3x3 tiles, 1.44x, within it."""
    calls = _count(monkeypatch, "phase_output")
    w = mg.tensor(np.random.default_rng(7).standard_normal((16, 16, 4, 4)))
    x = mg.tensor(np.random.default_rng(8).standard_normal((2, 16, 4, 4)))
    for padding, takes in ((1, False), (2, False), (0, True)):
        calls.clear()
        y = F.conv_transpose2d(x, w, stride=2, padding=padding)
        assert bool(calls) == takes, padding
        np.testing.assert_allclose(y.numpy(), R.conv_transpose2d(x.numpy(), w.numpy(), stride=2,
                                                                 padding=padding),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, keywords", [
    ((2, 15, 8, 8), (16, 15, 4, 4), dict(stride=2, padding=1)),    # 15 input channels
    ((2, 16, 8, 8), (15, 16, 4, 4), dict(stride=2, padding=1)),    # 15 output channels
    ((2, 16, 8, 8), (16, 16, 4, 4), dict(stride=2, padding=3)),    # padding 3
    ((2, 16, 8, 8), (16, 16, 4, 4), dict(stride=(2, 1), padding=1)),  # stride (2, 1)
    ((2, 16, 8, 8), (16, 16, 4, 4), dict(stride=2, dilation=2, padding=1)),  # dilated
    ((2, 32, 8, 8), (32, 16, 4, 4), dict(stride=2, groups=2, padding=1)),    # grouped
    ((2, 16, 8, 8), (16, 16, 3, 3), dict(stride=2, padding=1)),    # 3x3
    ((2, 16, 8, 8), (16, 16, 4, 4), dict(stride=3, padding=1)),    # stride 3
])
def test_other_convolutions_keep_their_paths(monkeypatch, x_shape, w_shape, keywords):
    calls = _count(monkeypatch, "phase_input", "phase_output")
    x, w, _ = _problem(x_shape, w_shape, np.float64)
    y = F.conv2d(x, w, **keywords)
    y.backward(mg.ones(*y.shape, dtype=np.float64))
    assert calls == []
    np.testing.assert_allclose(y.numpy(), R.conv2d(x.numpy(), w.numpy(), **keywords),
                               rtol=1e-12, atol=1e-12)


def test_the_batch_goes_through_in_chunks_and_on_two_threads(monkeypatch):
    """A batch larger than WINOGRAD_CHUNK_BYTES runs chunk by chunk, and the weight gradient
    reads each chunk's kept transform; on two product threads the chunks are shared between
    them. The values stay the same."""
    x, w, b = _problem((7, 16, 8, 8), (16, 16, 4, 4), np.float64)
    # two samples: 9 entries of 64 + 16 channels on 4 tiles, 8 bytes each
    monkeypatch.setattr(cpu, "WINOGRAD_CHUNK_BYTES", 9 * 80 * 4 * 8 * 2)
    monkeypatch.setattr(im2col_gemm.threads, "gemm_threads", lambda: 1)  # the chunks in order
    calls = _count(monkeypatch, "phase_input")
    one = _gradients(F.conv2d, x, w, b, stride=2, padding=1)
    assert calls == [("phase_input", (2, 16, 8, 8))] * 3 + [("phase_input", (1, 16, 8, 8))]
    monkeypatch.setattr(im2col_gemm.threads, "gemm_threads", lambda: 2)
    monkeypatch.setattr(im2col_gemm.gemm, "SPLIT_ABOVE", 0)
    two = _gradients(F.conv2d, x, w, b, stride=2, padding=1)
    monkeypatch.setattr(im2col_gemm, "WINOGRAD", False)
    plain = _gradients(F.conv2d, x, w, b, stride=2, padding=1)
    for a, c, d in zip(one, two, plain):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a, d, rtol=1e-12, atol=1e-12)


def test_kept_transforms_of_another_chunking_are_recomputed(monkeypatch):
    """The weight gradient reads kept transforms only when their chunks match its own."""
    rng = np.random.default_rng(9)
    x, g = rng.standard_normal((4, 16, 8, 8)), rng.standard_normal((4, 16, 4, 4))
    geometry = (2, 2, 1, 1, 1, 1)
    w = rng.standard_normal((16, 16, 4, 4))
    kept = []
    im2col_gemm.conv_arrays(cpu, x, w, geometry, 1, 4, 4, columns=kept)
    assert [c.shape for c in kept] == [(9, 4 * 4, 64)]  # 4 samples of 2x2 tiles
    calls = _count(monkeypatch, "phase_input")
    reused = im2col_gemm.grad_weight_arrays(cpu, x, g, 4, 4, geometry, 1, columns=kept)
    assert calls == []
    monkeypatch.setattr(cpu, "WINOGRAD_CHUNK_BYTES", 1)  # a chunk per sample now
    again = im2col_gemm.grad_weight_arrays(cpu, x, g, 4, 4, geometry, 1, columns=kept)
    assert len(calls) == 4
    monkeypatch.setattr(im2col_gemm, "WINOGRAD", False)
    plain = im2col_gemm.grad_weight_arrays(cpu, x, g, 4, 4, geometry, 1)
    np.testing.assert_allclose(reused, plain, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(again, plain, rtol=1e-12, atol=1e-12)


def test_float32_rounds_like_im2col():
    """F(2x2, 2x2)'s transforms are sums with ±1 entries: in float32 the path stays within a
    few times im2col's rounding of the float64 convolution (a DCGAN-like layer)."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((8, 32, 16, 16))
    w = rng.standard_normal((64, 32, 4, 4)) * 0.1

    def conv(dtype):
        return F.conv2d(mg.tensor(x.astype(dtype)), mg.tensor(w.astype(dtype)), stride=2,
                        padding=1).numpy()
    # float64 on im2col is the exact value to about 1e-15 (and quicker than the slow reference,
    # which the tests above hold both paths to on smaller shapes)
    with im2col_gemm_off():
        exact = conv(np.float64)
        plain_error = np.abs(conv(np.float32) - exact).max() / np.abs(exact).max()
    error = np.abs(conv(np.float32) - exact).max() / np.abs(exact).max()
    assert error < 1e-5 and error < 10 * plain_error, (error, plain_error)
