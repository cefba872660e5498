"""Winograd's F(2x2, 3x3) convolution (kernels/cpu/winograd.py, kernels/im2col_gemm.py).

Each transform (and the adjoints the weight gradient runs on) against its definition, a 4x4
(or 3x3) matrix product per tile computed in plain NumPy; the serial and parallel loops against
each other; the whole path against the slow reference convolution and against the im2col path;
which convolutions take it; and the errors raised before a kernel runs. (The op-spec registry
gradchecks the path, ``conv2d_winograd``, and the fuzzer throws odd sizes and layouts at it,
``test_fuzz_conv2d_winograd``.)
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
import minigrad.functional as F
import minigrad.kernels.cpu as cpu
from minigrad.kernels import im2col_gemm
from minigrad.kernels.cpu import winograd as W
import references as R

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


def _slow_input(x, PH, PW, TH, TW):
    """V[n*T + ty*TW + tx, e*C + c] = (Bᵀ d B)[e] of channel c's 4x4 patch at (2ty - PH,
    2tx - PW), as a (N*T, 16, C) array."""
    N, C, H, Wd = x.shape
    padded = np.zeros((N, C, 2 * TH + 2 + H + PH, 2 * TW + 2 + Wd + PW))
    padded[:, :, PH:PH + H, PW:PW + Wd] = x
    T = TH * TW
    V = np.zeros((N * T, 16, C))
    for n in range(N):
        for c in range(C):
            for ty in range(TH):
                for tx in range(TW):
                    d = padded[n, c, 2 * ty:2 * ty + 4, 2 * tx:2 * tx + 4]
                    V[n * T + ty * TW + tx, :, c] = (B_T @ d @ B_T.T).ravel()
    return V


def _slow_output(M, N, K, OH, OW):
    """y[n, k, 2ty:2ty+2, 2tx:2tx+2] = Aᵀ m A for each tile's m, cut to OH x OW."""
    TH, TW = (OH + 1) // 2, (OW + 1) // 2
    T = TH * TW
    y = np.zeros((N, K, 2 * TH, 2 * TW))
    for n in range(N):
        for k in range(K):
            for ty in range(TH):
                for tx in range(TW):
                    m = M[n * T + ty * TW + tx, k:16 * K:K].reshape(4, 4)
                    y[n, k, 2 * ty:2 * ty + 2, 2 * tx:2 * tx + 2] = A_T @ m @ A_T.T
    return y[:, :, :OH, :OW]


@st.composite
def _planes(draw):
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, Wd = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    PH, PW = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    OH, OW = max(1, H + 2 * PH - 2), max(1, Wd + 2 * PW - 2)
    seed = draw(st.integers(0, 2**16))
    return np.random.default_rng(seed).standard_normal((N, C, H, Wd)), PH, PW, OH, OW


@settings(max_examples=40, deadline=None)
@given(case=_planes(), serial=st.booleans(), extra=st.integers(0, 5))
def test_input_transform_is_bt_d_b_of_every_tile(case, serial, extra):
    x, PH, PW, OH, OW = case
    TH, TW = W.winograd_tiles(OH, OW)
    N, C = x.shape[:2]
    out = np.full((N * TH * TW, 16 * C + extra), np.nan)
    assert W.winograd_input(x, PH, PW, TH, TW, out=out, serial=serial) is out
    np.testing.assert_allclose(out[:, :16 * C].reshape(-1, 16, C),
                               _slow_input(x, PH, PW, TH, TW), rtol=1e-14, atol=1e-14)
    assert np.isnan(out[:, 16 * C:]).all()  # the row's padding is left alone


@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 3), K=st.integers(1, 3), OH=st.integers(1, 7), OW=st.integers(1, 7),
       serial=st.booleans(), seed=st.integers(0, 2**16))
def test_output_transform_is_at_m_a_of_every_tile(N, K, OH, OW, serial, seed):
    TH, TW = W.winograd_tiles(OH, OW)
    M = np.random.default_rng(seed).standard_normal((N * TH * TW, 16 * K + 3))
    y = W.winograd_output(M, TH, TW, out=np.full((N, K, OH, OW), np.nan), serial=serial)
    np.testing.assert_allclose(y, _slow_output(M, N, K, OH, OW), rtol=1e-14, atol=1e-14)


def test_a_sample_beyond_the_first_reads_zeros_on_its_padding():
    """The padded buffer is shared by a call's samples: the second sample's border must read 0,
    not what the first sample's image left there, even where the image is larger than what the
    tiles read (the last rows and columns of an image with no padding)."""
    x = np.random.default_rng(3).standard_normal((3, 2, 7, 6))
    x[0] = np.nan  # a first sample of NaN must leave nothing behind
    for PH, PW, OH, OW in ((2, 1, 9, 6), (0, 0, 2, 2), (1, 3, 7, 10)):
        TH, TW = W.winograd_tiles(OH, OW)
        out = W.winograd_input(x, PH, PW, TH, TW, out=np.empty((3 * TH * TW, 32)))
        np.testing.assert_allclose(out[TH * TW:].reshape(-1, 16, 2),
                                   _slow_input(x, PH, PW, TH, TW)[TH * TW:],
                                   rtol=1e-14, atol=1e-14)


def test_weight_transform_is_g_g_gt():
    w = np.random.default_rng(0).standard_normal((3, 2, 3, 3))
    U = W.winograd_weight(w)
    expected = np.einsum("ai,kcij,bj->abkc", G, w, G).reshape(16, 3, 2)
    np.testing.assert_allclose(U, expected, rtol=1e-15, atol=1e-15)
    assert W.winograd_weight(w.astype(np.float32)).dtype == np.float32


def test_the_three_transforms_make_a_convolution():
    """Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A summed over channels is the 3x3 convolution."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3))
    OH, OW = 6, 5  # padding 1
    TH, TW = W.winograd_tiles(OH, OW)
    V = W.winograd_input(x, 1, 1, TH, TW, out=np.empty((2 * TH * TW, 16 * 3)))
    U = W.winograd_weight(w)  # (16, K, C)
    M = np.einsum("tec,ekc->tek", V.reshape(-1, 16, 3), U).reshape(-1, 16 * 4)
    y = W.winograd_output(M, TH, TW, out=np.empty((2, 4, OH, OW)))
    np.testing.assert_allclose(y, R.conv2d(x, w, padding=1), rtol=1e-12, atol=1e-12)


def test_serial_and_parallel_loops_agree_bit_for_bit():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 9, 8)).astype(np.float32)
    TH, TW = W.winograd_tiles(9, 8)
    a, b = (np.empty((3 * TH * TW, 16 * 5), np.float32) for _ in range(2))
    W.winograd_input(x, 1, 1, TH, TW, out=a, serial=True)
    W.winograd_input(x, 1, 1, TH, TW, out=b, serial=False)
    np.testing.assert_array_equal(a, b)
    y1, y2 = (np.empty((3, 5, 9, 8), np.float32) for _ in range(2))
    W.winograd_output(a, TH, TW, out=y1, serial=True)
    W.winograd_output(a, TH, TW, out=y2, serial=False)
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize("call, message", [
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2, out=np.zeros((4, 31))),
     r"winograd_input: out must be a C-contiguous float64 array of shape \(4, S\) with "
     r"S >= 16 \* 2 = 32, got shape \(4, 31\)"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2, out=np.zeros((3, 32))),
     r"shape \(4, S\)"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2, out=np.zeros((4, 16, 2))),
     r"shape \(4, S\)"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2,
                              out=np.zeros((4, 32), np.float32)), r"float64 array"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2, out=np.zeros((32, 4)).T),
     r"C-contiguous"),
    (lambda: W.winograd_input(np.zeros((2, 4, 4)), 1, 1, 2, 2, out=np.zeros((4, 32))),
     r"winograd_input: expected x of shape \(N, C, H, W\), got shape \(2, 4, 4\)"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), -1, 1, 2, 2, out=np.zeros((4, 32))),
     r"winograd_input: padding \(-1, 1\) must be >= 0 and tiles \(2, 2\) >= 1"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 0, 2, out=np.zeros((4, 32))),
     r"tiles \(0, 2\) >= 1"),
    (lambda: W.winograd_output(np.zeros((4, 32)), 2, 2, out=np.zeros((1, 2, 5, 4))),
     r"winograd_output: out of 5x4 has \(3, 2\) tiles of 2x2, got tiles \(2, 2\)"),
    (lambda: W.winograd_output(np.zeros((4, 31)), 2, 2, out=np.zeros((1, 2, 4, 4))),
     r"winograd_output: m must be .* S >= 16 \* 2 = 32"),
    (lambda: W.winograd_output(np.zeros((4, 32)), 2, 2, out=np.zeros((1, 2, 4, 8))[..., ::2]),
     r"winograd_output: out must be C-contiguous"),
    (lambda: W.winograd_output(np.zeros((4, 32)), 2, 2, out=np.zeros((2, 4, 4))),
     r"winograd_output: expected out of shape \(N, C, H, W\)"),
    (lambda: W.winograd_weight(np.zeros((2, 2, 3, 2))),
     r"winograd_weight: expected a weight of shape \(K, C, 3, 3\), got shape \(2, 2, 3, 2\)"),
])
def test_bad_arguments_are_refused_before_the_kernel_runs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_dtypes_without_a_kernel_are_refused_like_the_other_kernels():
    with pytest.raises(TypeError, match=r"winograd_input: x must be floating point \(float32 or "
                                        r"float64\), got dtype int64"):
        W.winograd_input(np.zeros((1, 2, 4, 4), np.int64), 1, 1, 2, 2, out=np.zeros((4, 32)))
    with pytest.raises(TypeError, match=r"winograd_output: out must be floating point .* "
                                        r"float16"):
        W.winograd_output(np.zeros((4, 32)), 2, 2, out=np.zeros((1, 2, 4, 4), np.float16))


def _count(monkeypatch):
    """Count the calls of the CPU Winograd input transform (the path taken)."""
    calls = []
    real = cpu.winograd_input

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)
    monkeypatch.setattr(cpu, "winograd_input", counted)
    return calls


def _conv_problem(x_shape, w_shape, dtype=np.float32, seed=0, transposed=False):
    """x, weight and a bias for the output channels (weight.shape[1] of a transposed one)."""
    rng = np.random.default_rng(seed)
    return (mg.tensor(rng.standard_normal(x_shape).astype(dtype), requires_grad=True),
            mg.tensor(rng.standard_normal(w_shape).astype(dtype), requires_grad=True),
            mg.tensor(rng.standard_normal(w_shape[1 if transposed else 0]).astype(dtype)))


def _with_and_without(monkeypatch, run):
    """``run()`` on the Winograd path and on the im2col path."""
    monkeypatch.setattr(im2col_gemm, "WINOGRAD", True)
    fast = run()
    monkeypatch.setattr(im2col_gemm, "WINOGRAD", False)
    return fast, run()


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_a_wide_convolution_takes_the_path_and_matches_im2col(monkeypatch, dtype, tol):
    x, w, b = _conv_problem((5, 16, 9, 10), (24, 16, 3, 3), dtype)
    calls = _count(monkeypatch)

    def run():
        y = F.conv2d(x, w, b, padding=1)
        g = mg.tensor(np.cos(np.arange(y.numel())).reshape(y.shape).astype(dtype))
        return [y.numpy()] + [t.numpy() for t in mg.grad([y], [x, w], grad_outputs=[g])]
    fast, plain = _with_and_without(monkeypatch, run)
    # the forward, the input gradient (a stride-1 transposed convolution) and the weight
    # gradient took the path
    assert calls == [(5, 16, 9, 10), (5, 24, 9, 10), (5, 16, 9, 10)]
    for a, c in zip(fast, plain):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, c, rtol=tol, atol=tol * np.abs(c).max())


@pytest.mark.parametrize("padding", [0, 1, 2, (2, 0)])
def test_a_transposed_convolution_takes_the_path_up_to_padding_2(monkeypatch, padding):
    x, w, b = _conv_problem((3, 16, 7, 6), (16, 20, 3, 3), np.float64, transposed=True)
    calls = _count(monkeypatch)
    fast, plain = _with_and_without(
        monkeypatch, lambda: F.conv_transpose2d(x, w, b, padding=padding).numpy())
    assert len(calls) == 1
    np.testing.assert_allclose(fast, plain, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast, R.conv_transpose2d(x.numpy(), w.numpy(), b.numpy(),
                                                        padding=padding), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, keywords", [
    ((2, 15, 6, 6), (16, 15, 3, 3), dict(padding=1)),     # 15 input channels
    ((2, 16, 6, 6), (15, 16, 3, 3), dict(padding=1)),     # 15 output channels
    ((2, 16, 6, 6), (16, 16, 3, 3), dict(stride=2)),      # strided
    ((2, 16, 6, 6), (16, 16, 3, 3), dict(dilation=2)),    # dilated
    ((2, 32, 6, 6), (32, 16, 3, 3), dict(groups=2)),      # grouped
    ((2, 16, 6, 6), (16, 16, 5, 5), dict(padding=2)),     # 5x5
    ((2, 16, 3, 6), (16, 16, 3, 3), {}),                  # one output row
])
def test_other_convolutions_keep_im2col(monkeypatch, x_shape, w_shape, keywords):
    x, w, _ = _conv_problem(x_shape, w_shape, np.float64)
    calls = _count(monkeypatch)
    y = F.conv2d(x, w, **keywords)
    assert calls == []
    np.testing.assert_allclose(y.numpy(), R.conv2d(x.numpy(), w.numpy(), **keywords),
                               rtol=1e-12, atol=1e-12)


def test_a_transposed_convolution_with_padding_3_keeps_im2col(monkeypatch):
    x, w, _ = _conv_problem((2, 16, 9, 9), (16, 16, 3, 3), np.float64)
    calls = _count(monkeypatch)
    y = F.conv_transpose2d(x, w, padding=3)
    assert calls == []
    np.testing.assert_allclose(y.numpy(), R.conv_transpose2d(x.numpy(), w.numpy(), padding=3),
                               rtol=1e-12, atol=1e-12)


def test_the_batch_goes_through_in_chunks_and_on_two_threads(monkeypatch):
    """A batch larger than WINOGRAD_CHUNK_BYTES runs chunk by chunk; on two product threads the
    chunks are shared between them (each chunk's kernels serial). The values stay the same."""
    x, w, _ = _conv_problem((7, 16, 8, 8), (16, 16, 3, 3), np.float32)
    monkeypatch.setattr(cpu, "WINOGRAD_CHUNK_BYTES", 16 * 32 * 16 * 4 * 2)  # two samples
    calls = _count(monkeypatch)
    one = F.conv2d(x, w, padding=1).numpy()
    assert calls == [(2, 16, 8, 8)] * 3 + [(1, 16, 8, 8)]
    monkeypatch.setattr(im2col_gemm.threads, "gemm_threads", lambda: 2)
    monkeypatch.setattr(im2col_gemm.gemm, "SPLIT_ABOVE", 0)
    two = F.conv2d(x, w, padding=1).numpy()
    np.testing.assert_allclose(one, two, rtol=1e-6, atol=1e-5)
    monkeypatch.setattr(im2col_gemm, "WINOGRAD", False)
    np.testing.assert_allclose(one, F.conv2d(x, w, padding=1).numpy(), rtol=1e-5, atol=1e-4)


def test_the_tile_rows_do_not_start_a_power_of_two_apart():
    for tiles, channels, dtype in ((294, 32, np.float32), (256, 64, np.float64),
                                   (3, 5, np.float32)):
        buffer = im2col_gemm._winograd_tiles(np, dtype, tiles, channels)
        stride = buffer.strides[0]
        assert buffer.shape == (tiles, buffer.shape[1]) and buffer.shape[1] >= 16 * channels
        assert stride % 64 == 0 and (stride // 64) % 2 == 1, (tiles, channels, stride)
    # entry e's matrix is a strided (tiles, channels) view of the rows
    buffer = im2col_gemm._winograd_tiles(np, np.float64, 4, 3)
    buffer[:] = np.arange(buffer.size).reshape(buffer.shape)
    entries = im2col_gemm._entries(buffer, 3)
    assert entries.shape == (16, 4, 3) and np.shares_memory(entries, buffer)
    np.testing.assert_array_equal(entries[5], buffer[:, 15:18])


def _slow_output_adjoint(g, TH, TW):
    """D[n*T + ty*TW + tx, e*K + k] = (A d Aᵀ)[e] of channel k's 2x2 tile d (0 past the edge),
    as a (N*T, 16, K) array."""
    N, K, OH, OW = g.shape
    padded = np.zeros((N, K, 2 * TH, 2 * TW))
    padded[:, :, :OH, :OW] = g
    D = np.zeros((N * TH * TW, 16, K))
    for n in range(N):
        for k in range(K):
            for ty in range(TH):
                for tx in range(TW):
                    d = padded[n, k, 2 * ty:2 * ty + 2, 2 * tx:2 * tx + 2]
                    D[n * TH * TW + ty * TW + tx, :, k] = (A_T.T @ d @ A_T).ravel()
    return D


@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 3), K=st.integers(1, 3), OH=st.integers(1, 7), OW=st.integers(1, 7),
       serial=st.booleans(), extra=st.integers(0, 3), seed=st.integers(0, 2**16))
def test_output_adjoint_is_a_d_at_of_every_tile_and_the_outputs_adjoint(N, K, OH, OW, serial,
                                                                       extra, seed):
    TH, TW = W.winograd_tiles(OH, OW)
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((N, K, OH, OW))
    out = np.full((N * TH * TW, 16 * K + extra), np.nan)
    assert W.winograd_output_adjoint(g, TH, TW, out=out, serial=serial) is out
    np.testing.assert_allclose(out[:, :16 * K].reshape(-1, 16, K), _slow_output_adjoint(g, TH, TW),
                               rtol=1e-14, atol=1e-14)
    assert np.isnan(out[:, 16 * K:]).all()
    # <output(M), g> = <M, output_adjoint(g)>
    M = rng.standard_normal((N * TH * TW, 16 * K))
    y = W.winograd_output(M, TH, TW, out=np.empty((N, K, OH, OW)))
    assert np.vdot(y, g) == pytest.approx(np.vdot(M, out[:, :16 * K]), rel=1e-12, abs=1e-12)


def test_weight_adjoint_is_gt_du_g_and_the_weights_adjoint():
    rng = np.random.default_rng(4)
    dU = rng.standard_normal((16, 3, 2))
    dw = W.winograd_weight_adjoint(dU)
    expected = np.einsum("ia,ijkc,jb->kcab", G, dU.reshape(4, 4, 3, 2), G)
    np.testing.assert_allclose(dw, expected, rtol=1e-15, atol=1e-15)
    w = rng.standard_normal((3, 2, 3, 3))
    assert np.vdot(W.winograd_weight(w), dU) == pytest.approx(np.vdot(w, dw), rel=1e-13)
    assert W.winograd_weight_adjoint(dU.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match=r"winograd_weight_adjoint: expected dU of shape "
                                         r"\(16, K, C\), got shape \(9, 3, 2\)"):
        W.winograd_weight_adjoint(np.zeros((9, 3, 2)))


def test_output_adjoint_serial_and_parallel_agree_and_bad_input_is_refused():
    g = np.random.default_rng(5).standard_normal((3, 4, 9, 8)).astype(np.float32)
    TH, TW = W.winograd_tiles(9, 8)
    a, b = (np.empty((3 * TH * TW, 64), np.float32) for _ in range(2))
    W.winograd_output_adjoint(g, TH, TW, out=a, serial=True)
    W.winograd_output_adjoint(g, TH, TW, out=b, serial=False)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"winograd_output_adjoint: g of 9x8 has "
                                         r"\(5, 4\) tiles of 2x2, got tiles \(4, 4\)"):
        W.winograd_output_adjoint(g, 4, 4, out=a)
    with pytest.raises(ValueError, match=r"winograd_output_adjoint: out must be a C-contiguous "
                                         r"float32 array of shape \(60, S\) with S >= 16 \* 4"):
        W.winograd_output_adjoint(g, TH, TW, out=a[:, :63])
    with pytest.raises(TypeError, match=r"winograd_output_adjoint: g must be floating point"):
        W.winograd_output_adjoint(g.astype(np.int32), TH, TW, out=a)


@pytest.mark.parametrize("shape, padding", [((3, 16, 7, 6), 1), ((2, 17, 5, 9), 0),
                                            ((2, 16, 6, 6), 2), ((1, 16, 3, 3), 1)])
def test_the_weight_gradient_takes_the_path_and_matches_im2col(monkeypatch, shape, padding):
    """Odd and even outputs, no padding and more: the weight gradient on the Winograd path
    (its calls of the adjoint counted) gives im2col's, in one chunk and in several shared by
    two threads."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape)
    OH, OW = shape[2] + 2 * padding - 2, shape[3] + 2 * padding - 2
    g = rng.standard_normal((shape[0], 20, OH, OW))
    geometry = (1, 1, padding, padding, 1, 1)
    calls = []
    real = cpu.winograd_output_adjoint

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)
    monkeypatch.setattr(cpu, "winograd_output_adjoint", counted)
    fast = im2col_gemm.grad_weight_arrays(cpu, x, g, 3, 3, geometry, 1)
    assert calls == [g.shape]
    monkeypatch.setattr(cpu, "WINOGRAD_CHUNK_BYTES", 1)  # a chunk per sample
    monkeypatch.setattr(im2col_gemm.threads, "gemm_threads", lambda: 2)
    monkeypatch.setattr(im2col_gemm.gemm, "SPLIT_ABOVE", 0)
    shared = im2col_gemm.grad_weight_arrays(cpu, x, g, 3, 3, geometry, 1)
    monkeypatch.setattr(im2col_gemm, "WINOGRAD", False)
    plain = im2col_gemm.grad_weight_arrays(cpu, x, g, 3, 3, geometry, 1)
    assert fast.shape == (20, shape[1], 3, 3) and fast.flags.c_contiguous
    np.testing.assert_allclose(fast, plain, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(shared, plain, rtol=1e-12, atol=1e-12)


def test_the_output_transform_adds_the_bias_once_per_output():
    rng = np.random.default_rng(9)
    TH, TW = W.winograd_tiles(5, 3)
    M = rng.standard_normal((2 * TH * TW, 16 * 3))
    bias = np.array([1.0, -2.0, 0.5])
    plain = W.winograd_output(M, TH, TW, out=np.empty((2, 3, 5, 3)))
    for serial in (False, True):
        y = W.winograd_output(M, TH, TW, out=np.empty((2, 3, 5, 3)), serial=serial, bias=bias)
        np.testing.assert_allclose(y, plain + bias.reshape(1, 3, 1, 1), rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match=r"winograd_output: bias must be a float64 array of "
                                         r"shape \(3,\)"):
        W.winograd_output(M, TH, TW, out=np.empty((2, 3, 5, 3)), bias=np.zeros(4))
