"""Winograd's F(2x2, 3x3) and F(2x2, 5x5) convolutions (kernels/cpu/winograd.py,
kernels/im2col_gemm.py), and the F(2x2, 2x2) transforms that the phases of a stride-2 4x4
convolution run on (tests/kernels/test_winograd_phases.py tests those phases).

Each transform (and the adjoints the weight gradient runs on) against its definition, an n x n
(or r x r) matrix product per tile computed in plain NumPy with the matrices below, which are
themselves checked to make a convolution; the serial and parallel loops against each other; the
whole path against the slow reference convolution and against the im2col path; which
convolutions take it; and the errors raised before a kernel runs. (The op-spec registry
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

# Bᵀ, G and Aᵀ of F(2x2, r x r), r = 2 (points 0, 1), r = 3 (points 0, 1, -1) and r = 5
# (points 0, 1, -1, 2, -2), each with infinity
MATRICES = {
    2: (np.array([[1, -1, 0], [0, 1, 0], [0, -1, 1]], dtype=float),
        np.array([[1, 0], [1, 1], [0, 1]], dtype=float),
        np.array([[1, 1, 0], [0, 1, 1]], dtype=float)),
    3: (np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=float),
        np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]),
        np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=float)),
    5: (np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                  [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=float),
        np.array([[1 / 4, 0, 0, 0, 0], [-1 / 6] * 5, [-1 / 6, 1 / 6, -1 / 6, 1 / 6, -1 / 6],
                  [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3], [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3],
                  [0, 0, 0, 0, 1]]),
        np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1]], dtype=float)),
}
SIZES = st.sampled_from(sorted(MATRICES))
ROUTED = W.WINOGRAD_KERNEL_SIZES  # the sizes a stride-1 convolution takes the path for


@pytest.mark.parametrize("r", sorted(MATRICES))
def test_the_matrices_make_a_2x2_block_of_an_r_by_r_correlation(r):
    """Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A is y[a, b] = sum g[i, j] d[a + i, b + j] for any d, g: the
    matrices every slow reference below uses are right."""
    B_T, G, A_T = MATRICES[r]
    rng = np.random.default_rng(r)
    for _ in range(5):
        d, g = rng.standard_normal((r + 1, r + 1)), rng.standard_normal((r, r))
        y = A_T @ ((G @ g @ G.T) * (B_T @ d @ B_T.T)) @ A_T.T
        expected = [[np.sum(g * d[a:a + r, b:b + r]) for b in range(2)] for a in range(2)]
        np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def _slow_input(x, PH, PW, TH, TW, r):
    """V[e, s*T + ty*TW + tx, c] = (Bᵀ d B)[e] of channel c's n x n patch at (2ty - PH,
    2tx - PW)."""
    B_T = MATRICES[r][0]
    n = r + 1
    N, C, H, Wd = x.shape
    padded = np.zeros((N, C, 2 * TH + n + H + PH, 2 * TW + n + Wd + PW))
    padded[:, :, PH:PH + H, PW:PW + Wd] = x
    T = TH * TW
    V = np.zeros((n * n, N * T, C))
    for s in range(N):
        for c in range(C):
            for ty in range(TH):
                for tx in range(TW):
                    d = padded[s, c, 2 * ty:2 * ty + n, 2 * tx:2 * tx + n]
                    V[:, s * T + ty * TW + tx, c] = (B_T @ d @ B_T.T).ravel()
    return V


def _slow_output(M, N, K, OH, OW, r):
    """y[s, k, 2ty:2ty+2, 2tx:2tx+2] = Aᵀ m A for each tile's m, cut to OH x OW."""
    A_T = MATRICES[r][2]
    n = r + 1
    TH, TW = (OH + 1) // 2, (OW + 1) // 2
    T = TH * TW
    y = np.zeros((N, K, 2 * TH, 2 * TW))
    for s in range(N):
        for k in range(K):
            for ty in range(TH):
                for tx in range(TW):
                    m = M[:, s * T + ty * TW + tx, k].reshape(n, n)
                    y[s, k, 2 * ty:2 * ty + 2, 2 * tx:2 * tx + 2] = A_T @ m @ A_T.T
    return y[:, :, :OH, :OW]


def _slow_output_adjoint(g, TH, TW, r):
    """D[e, s*T + ty*TW + tx, k] = (A d Aᵀ)[e] of channel k's 2x2 tile d (0 past the edge)."""
    A_T = MATRICES[r][2]
    n = r + 1
    N, K, OH, OW = g.shape
    padded = np.zeros((N, K, 2 * TH, 2 * TW))
    padded[:, :, :OH, :OW] = g
    D = np.zeros((n * n, N * TH * TW, K))
    for s in range(N):
        for k in range(K):
            for ty in range(TH):
                for tx in range(TW):
                    d = padded[s, k, 2 * ty:2 * ty + 2, 2 * tx:2 * tx + 2]
                    D[:, s * TH * TW + ty * TW + tx, k] = (A_T.T @ d @ A_T).ravel()
    return D


def _tiles(r, count, channels, dtype=np.float64, fill=np.nan):
    """An (n², count, channels) buffer for V, M or D, filled with NaN: every entry a kernel
    leaves unwritten shows."""
    return np.full(((r + 1)**2, count, channels), fill, dtype=dtype)


@st.composite
def _planes(draw):
    r = draw(SIZES)
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, Wd = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    PH, PW = draw(st.integers(0, r)), draw(st.integers(0, r))
    OH, OW = max(1, H + 2 * PH - r + 1), max(1, Wd + 2 * PW - r + 1)
    seed = draw(st.integers(0, 2**16))
    return r, np.random.default_rng(seed).standard_normal((N, C, H, Wd)), PH, PW, OH, OW


@settings(max_examples=60, deadline=None)
@given(case=_planes(), serial=st.booleans())
def test_input_transform_is_bt_d_b_of_every_tile(case, serial):
    r, x, PH, PW, OH, OW = case
    TH, TW = W.winograd_tiles(OH, OW)
    N, C = x.shape[:2]
    out = _tiles(r, N * TH * TW, C)
    assert W.winograd_input(x, PH, PW, TH, TW, out=out, serial=serial, r=r) is out
    np.testing.assert_allclose(out, _slow_input(x, PH, PW, TH, TW, r), rtol=1e-13, atol=1e-13)


@settings(max_examples=60, deadline=None)
@given(r=SIZES, N=st.integers(1, 3), K=st.integers(1, 3), OH=st.integers(1, 7),
       OW=st.integers(1, 7), serial=st.booleans(), seed=st.integers(0, 2**16))
def test_output_transform_is_at_m_a_of_every_tile(r, N, K, OH, OW, serial, seed):
    TH, TW = W.winograd_tiles(OH, OW)
    M = np.random.default_rng(seed).standard_normal(((r + 1)**2, N * TH * TW, K))
    y = W.winograd_output(M, TH, TW, out=np.full((N, K, OH, OW), np.nan), serial=serial, r=r)
    np.testing.assert_allclose(y, _slow_output(M, N, K, OH, OW, r), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("r", sorted(MATRICES))
def test_a_sample_beyond_the_first_reads_zeros_on_its_padding(r):
    """The padded buffer is shared by a call's samples: the second sample's border must read 0,
    not what the first sample's image left there, even where the image is larger than what the
    tiles read (the last rows and columns of an image with no padding)."""
    x = np.random.default_rng(3).standard_normal((3, 2, 9, 8))
    x[0] = np.nan  # a first sample of NaN must leave nothing behind
    for PH, PW, OH, OW in ((2, 1, 13 - r, 11 - r), (0, 0, 2, 2), (1, 3, 11 - r, 14 - r)):
        TH, TW = W.winograd_tiles(OH, OW)
        out = W.winograd_input(x, PH, PW, TH, TW, out=_tiles(r, 3 * TH * TW, 2), r=r)
        np.testing.assert_allclose(out[:, TH * TW:],
                                   _slow_input(x, PH, PW, TH, TW, r)[:, TH * TW:],
                                   rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("r", sorted(MATRICES))
def test_weight_transform_is_g_g_gt(r):
    G = MATRICES[r][1]
    w = np.random.default_rng(0).standard_normal((3, 2, r, r))
    U = W.winograd_weight(w)
    expected = np.einsum("ai,kcij,bj->abkc", G, w, G).reshape((r + 1)**2, 3, 2)
    np.testing.assert_allclose(U, expected, rtol=1e-14, atol=1e-14)
    assert U.flags.c_contiguous
    assert W.winograd_weight(w.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("r", sorted(MATRICES))
def test_the_three_transforms_make_a_convolution(r):
    """Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A summed over channels is the r x r convolution."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, r, r))
    P = r // 2  # "same" padding for an odd r, one row and column more for r = 2
    OH, OW = 6 + 2 * P - r + 1, 5 + 2 * P - r + 1
    TH, TW = W.winograd_tiles(OH, OW)
    V = W.winograd_input(x, P, P, TH, TW, out=_tiles(r, 2 * TH * TW, 3), r=r)
    U = W.winograd_weight(w)  # (n², K, C)
    M = np.einsum("etc,ekc->etk", V, U)
    y = W.winograd_output(M, TH, TW, out=np.empty((2, 4, OH, OW)), r=r)
    np.testing.assert_allclose(y, R.conv2d(x, w, padding=P), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("r", sorted(MATRICES))
def test_serial_and_parallel_loops_agree_bit_for_bit(r):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 9, 8)).astype(np.float32)
    TH, TW = W.winograd_tiles(9, 8)
    a, b = (_tiles(r, 3 * TH * TW, 5, np.float32) for _ in range(2))
    W.winograd_input(x, r // 2, r // 2, TH, TW, out=a, serial=True, r=r)
    W.winograd_input(x, r // 2, r // 2, TH, TW, out=b, serial=False, r=r)
    np.testing.assert_array_equal(a, b)
    y1, y2 = (np.empty((3, 5, 9, 8), np.float32) for _ in range(2))
    W.winograd_output(a, TH, TW, out=y1, serial=True, r=r)
    W.winograd_output(a, TH, TW, out=y2, serial=False, r=r)
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize("call, message", [
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2, out=np.zeros((16, 4, 3))),
     r"winograd_input: out must be a C-contiguous float64 array of shape \(16, 4, 2\) "
     r"\(entries, tiles, channels\), got shape \(16, 4, 3\), dtype float64"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2, out=np.zeros((16, 4, 2)),
                              r=5),
     r"shape \(36, 4, 2\) .* got shape \(16, 4, 2\)"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2, out=np.zeros((16, 3, 2))),
     r"shape \(16, 4, 2\)"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2, out=np.zeros((4, 32))),
     r"shape \(16, 4, 2\)"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2,
                              out=np.zeros((16, 4, 2), np.float32)), r"float64 array"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2,
                              out=np.zeros((2, 4, 16)).transpose(2, 1, 0)), r"C-contiguous"),
    (lambda: W.winograd_input(np.zeros((2, 4, 4)), 1, 1, 2, 2, out=np.zeros((16, 4, 2))),
     r"winograd_input: expected x of shape \(N, C, H, W\), got shape \(2, 4, 4\)"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), -1, 1, 2, 2, out=np.zeros((16, 4, 2))),
     r"winograd_input: padding \(-1, 1\) must be >= 0 and tiles \(2, 2\) >= 1"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 0, 2, out=np.zeros((16, 0, 2))),
     r"tiles \(0, 2\) >= 1"),
    (lambda: W.winograd_input(np.zeros((1, 2, 4, 4)), 1, 1, 2, 2, out=np.zeros((25, 4, 2)),
                              r=4),
     r"winograd_input: the kernel size r must be one of \(2, 3, 5\), got 4"),
    (lambda: W.winograd_output(np.zeros((16, 4, 2)), 2, 2, out=np.zeros((1, 2, 5, 4))),
     r"winograd_output: out of 5x4 has \(3, 2\) tiles of 2x2, got tiles \(2, 2\)"),
    (lambda: W.winograd_output(np.zeros((16, 4, 1)), 2, 2, out=np.zeros((1, 2, 4, 4))),
     r"winograd_output: m must be .* shape \(16, 4, 2\)"),
    (lambda: W.winograd_output(np.zeros((16, 4, 2)), 2, 2, out=np.zeros((1, 2, 4, 4)), r=7),
     r"winograd_output: the kernel size r must be one of \(2, 3, 5\), got 7"),
    (lambda: W.winograd_output(np.zeros((16, 4, 2)), 2, 2, out=np.zeros((1, 2, 4, 8))[..., ::2]),
     r"winograd_output: out must be C-contiguous"),
    (lambda: W.winograd_output(np.zeros((16, 4, 2)), 2, 2, out=np.zeros((2, 4, 4))),
     r"winograd_output: expected out of shape \(N, C, H, W\)"),
    (lambda: W.winograd_weight(np.zeros((2, 2, 3, 2))),
     r"winograd_weight: expected a weight of shape \(K, C, r, r\) with r in \(2, 3, 5\), got "
     r"shape \(2, 2, 3, 2\)"),
    (lambda: W.winograd_weight(np.zeros((2, 2, 7, 7))), r"r in \(2, 3, 5\), got shape"),
])
def test_bad_arguments_are_refused_before_the_kernel_runs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_dtypes_without_a_kernel_are_refused_like_the_other_kernels():
    with pytest.raises(TypeError, match=r"winograd_input: x must be floating point \(float32 or "
                                        r"float64\), got dtype int64"):
        W.winograd_input(np.zeros((1, 2, 4, 4), np.int64), 1, 1, 2, 2, out=np.zeros((16, 4, 2)))
    with pytest.raises(TypeError, match=r"winograd_output: out must be floating point .* "
                                        r"float16"):
        W.winograd_output(np.zeros((16, 4, 2)), 2, 2, out=np.zeros((1, 2, 4, 4), np.float16))


def _count(monkeypatch, kernel="winograd_input"):
    """Count the calls of a CPU Winograd kernel, by default the input transform (the path
    taken): (its first array's shape, r) per call."""
    calls = []
    real = getattr(cpu, kernel)

    def counted(*args, **kwargs):
        calls.append((args[0].shape, kwargs["r"]))
        return real(*args, **kwargs)
    monkeypatch.setattr(cpu, kernel, counted)
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


# float32 against im2col, relative to the largest value: F(2x2, 5x5) rounds about ten times
# more than F(2x2, 3x3) (module docstring of kernels/cpu/winograd.py)
@pytest.mark.parametrize("r, dtype, tol", [(3, np.float32, 2e-5), (3, np.float64, 1e-12),
                                           (5, np.float32, 1e-4), (5, np.float64, 1e-11)])
def test_a_wide_convolution_takes_the_path_and_matches_im2col(monkeypatch, r, dtype, tol):
    x, w, b = _conv_problem((5, 16, 9, 10), (24, 16, r, r), dtype)
    calls = _count(monkeypatch)

    def run():
        y = F.conv2d(x, w, b, padding=r // 2)
        g = mg.tensor(np.cos(np.arange(y.numel())).reshape(y.shape).astype(dtype))
        return [y.numpy()] + [t.numpy() for t in mg.grad([y], [x, w], grad_outputs=[g])]
    fast, plain = _with_and_without(monkeypatch, run)
    # the forward, the input gradient (a stride-1 transposed convolution) and the weight
    # gradient took the path, each over the whole batch (in one chunk or more)
    shapes = [shape[1:] for shape, _ in calls]
    passes = [shapes[0]] + [b for a, b in zip(shapes, shapes[1:]) if a != b]
    assert passes == [(16, 9, 10), (24, 9, 10), (16, 9, 10)] and {c[1] for c in calls} == {r}
    assert sum(shape[0] for shape, _ in calls) == 15
    for a, c in zip(fast, plain):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, c, rtol=tol, atol=tol * np.abs(c).max())


@pytest.mark.parametrize("r, padding", [(3, 0), (3, 1), (3, 2), (3, (2, 0)), (5, 0), (5, 2),
                                        (5, 4), (5, (3, 1))])
def test_a_transposed_convolution_takes_the_path_up_to_padding_r_minus_1(monkeypatch, r,
                                                                         padding):
    x, w, b = _conv_problem((3, 16, 7, 6), (16, 20, r, r), np.float64, transposed=True)
    calls = _count(monkeypatch)
    fast, plain = _with_and_without(
        monkeypatch, lambda: F.conv_transpose2d(x, w, b, padding=padding).numpy())
    assert sum(shape[0] for shape, _ in calls) == 3 and {c[1] for c in calls} == {r}
    np.testing.assert_allclose(fast, plain, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(fast, R.conv_transpose2d(x.numpy(), w.numpy(), b.numpy(),
                                                        padding=padding), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("x_shape, w_shape, keywords", [
    ((2, 15, 6, 6), (16, 15, 3, 3), dict(padding=1)),     # 15 input channels
    ((2, 16, 6, 6), (15, 16, 5, 5), dict(padding=2)),     # 15 output channels
    ((2, 16, 6, 6), (16, 16, 3, 3), dict(stride=2)),      # strided
    ((2, 16, 6, 6), (16, 16, 3, 3), dict(dilation=2)),    # dilated
    ((2, 32, 6, 6), (32, 16, 5, 5), dict(groups=2)),      # grouped
    ((2, 16, 6, 6), (16, 16, 7, 7), dict(padding=3)),     # 7x7
    ((2, 16, 6, 6), (16, 16, 4, 4), dict(padding=2)),     # 4x4
    ((2, 16, 6, 6), (16, 16, 3, 5), dict(padding=1)),     # 3x5
    ((2, 16, 3, 6), (16, 16, 3, 3), {}),                  # one output row
])
def test_other_convolutions_keep_im2col(monkeypatch, x_shape, w_shape, keywords):
    x, w, _ = _conv_problem(x_shape, w_shape, np.float64)
    calls = _count(monkeypatch)
    y = F.conv2d(x, w, **keywords)
    assert calls == []
    np.testing.assert_allclose(y.numpy(), R.conv2d(x.numpy(), w.numpy(), **keywords),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("r", ROUTED)
def test_a_transposed_convolution_with_padding_r_keeps_im2col(monkeypatch, r):
    x, w, _ = _conv_problem((2, 16, 9, 9), (16, 16, r, r), np.float64)
    calls = _count(monkeypatch)
    y = F.conv_transpose2d(x, w, padding=r)
    assert calls == []
    np.testing.assert_allclose(y.numpy(), R.conv_transpose2d(x.numpy(), w.numpy(), padding=r),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("r", ROUTED)
def test_the_batch_goes_through_in_chunks_and_on_two_threads(monkeypatch, r):
    """A batch larger than WINOGRAD_CHUNK_BYTES runs chunk by chunk; on two product threads the
    chunks are shared between them (each chunk's kernels serial). The values stay the same."""
    x, w, _ = _conv_problem((7, 16, 8, 8), (16, 16, r, r), np.float32)
    # two samples: n² entries of 16 + 16 channels on 16 tiles, 4 bytes each
    monkeypatch.setattr(cpu, "WINOGRAD_CHUNK_BYTES", (r + 1)**2 * 32 * 16 * 4 * 2)
    monkeypatch.setattr(im2col_gemm.threads, "gemm_threads", lambda: 1)  # the chunks in order
    calls = _count(monkeypatch)
    one = F.conv2d(x, w, padding=r // 2).numpy()
    assert calls == [((2, 16, 8, 8), r)] * 3 + [((1, 16, 8, 8), r)]
    monkeypatch.setattr(im2col_gemm.threads, "gemm_threads", lambda: 2)
    monkeypatch.setattr(im2col_gemm.gemm, "SPLIT_ABOVE", 0)
    two = F.conv2d(x, w, padding=r // 2).numpy()
    np.testing.assert_allclose(one, two, rtol=1e-6, atol=1e-5)
    monkeypatch.setattr(im2col_gemm, "WINOGRAD", False)
    np.testing.assert_allclose(one, F.conv2d(x, w, padding=r // 2).numpy(), rtol=1e-4,
                               atol=1e-4 * np.abs(one).max())


def test_a_chunk_takes_its_entries_from_the_start_of_a_flat_buffer():
    space = np.arange(2 * 36 * 5 * 3, dtype=np.float64)
    entries = im2col_gemm._entries(space, 5, 4, 3)
    assert entries.shape == (36, 4, 3) and entries.flags.c_contiguous
    assert np.shares_memory(entries, space)
    np.testing.assert_array_equal(entries[2, 1], space[2 * 12 + 3:2 * 12 + 6])
    assert im2col_gemm._entries(space, 3, 5, 3).shape == (16, 5, 3)


@settings(max_examples=60, deadline=None)
@given(r=SIZES, N=st.integers(1, 3), K=st.integers(1, 3), OH=st.integers(1, 7),
       OW=st.integers(1, 7), serial=st.booleans(), seed=st.integers(0, 2**16))
def test_output_adjoint_is_a_d_at_of_every_tile_and_the_outputs_adjoint(r, N, K, OH, OW,
                                                                       serial, seed):
    TH, TW = W.winograd_tiles(OH, OW)
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((N, K, OH, OW))
    out = _tiles(r, N * TH * TW, K)
    assert W.winograd_output_adjoint(g, TH, TW, out=out, serial=serial, r=r) is out
    np.testing.assert_allclose(out, _slow_output_adjoint(g, TH, TW, r), rtol=1e-13, atol=1e-13)
    # <output(M), g> = <M, output_adjoint(g)>
    M = rng.standard_normal(out.shape)
    y = W.winograd_output(M, TH, TW, out=np.empty((N, K, OH, OW)), r=r)
    assert np.vdot(y, g) == pytest.approx(np.vdot(M, out), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("r", sorted(MATRICES))
def test_weight_adjoint_is_gt_du_g_and_the_weights_adjoint(r):
    G = MATRICES[r][1]
    n = r + 1
    rng = np.random.default_rng(4)
    dU = rng.standard_normal((n * n, 3, 2))
    dw = W.winograd_weight_adjoint(dU)
    expected = np.einsum("ia,ijkc,jb->kcab", G, dU.reshape(n, n, 3, 2), G)
    np.testing.assert_allclose(dw, expected, rtol=1e-14, atol=1e-14)
    assert dw.shape == (3, 2, r, r) and dw.flags.c_contiguous
    w = rng.standard_normal((3, 2, r, r))
    assert np.vdot(W.winograd_weight(w), dU) == pytest.approx(np.vdot(w, dw), rel=1e-13)
    assert W.winograd_weight_adjoint(dU.astype(np.float32)).dtype == np.float32


def test_the_weight_adjoint_refuses_a_dU_of_no_kernel_size():
    with pytest.raises(ValueError, match=r"winograd_weight_adjoint: expected dU of shape "
                                         r"\(E, K, C\) with E in \(9, 16, 36\), got shape "
                                         r"\(25, 3, 2\)"):
        W.winograd_weight_adjoint(np.zeros((25, 3, 2)))


@pytest.mark.parametrize("r", sorted(MATRICES))
def test_output_adjoint_serial_and_parallel_agree_and_bad_input_is_refused(r):
    g = np.random.default_rng(5).standard_normal((3, 4, 9, 8)).astype(np.float32)
    TH, TW = W.winograd_tiles(9, 8)
    a, b = (_tiles(r, 3 * TH * TW, 4, np.float32) for _ in range(2))
    W.winograd_output_adjoint(g, TH, TW, out=a, serial=True, r=r)
    W.winograd_output_adjoint(g, TH, TW, out=b, serial=False, r=r)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"winograd_output_adjoint: g of 9x8 has "
                                         r"\(5, 4\) tiles of 2x2, got tiles \(4, 4\)"):
        W.winograd_output_adjoint(g, 4, 4, out=a, r=r)
    with pytest.raises(ValueError, match=r"winograd_output_adjoint: out must be a C-contiguous "
                                         rf"float32 array of shape \({(r + 1)**2}, 60, 4\)"):
        W.winograd_output_adjoint(g, TH, TW, out=a[:, :, :3], r=r)
    with pytest.raises(TypeError, match=r"winograd_output_adjoint: g must be floating point"):
        W.winograd_output_adjoint(g.astype(np.int32), TH, TW, out=a, r=r)


@pytest.mark.parametrize("r, shape, padding", [
    (3, (3, 16, 7, 6), 1), (3, (2, 17, 5, 9), 0), (3, (2, 16, 6, 6), 2), (3, (1, 16, 3, 3), 1),
    (5, (3, 16, 7, 6), 2), (5, (2, 17, 6, 9), 0), (5, (2, 16, 6, 6), 4), (5, (1, 16, 3, 3), 2)])
def test_the_weight_gradient_takes_the_path_and_matches_im2col(monkeypatch, r, shape, padding):
    """Odd and even outputs, no padding and more: the weight gradient on the Winograd path
    (its calls of the adjoint counted) gives im2col's, in one chunk and in several shared by
    two threads."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape)
    OH, OW = shape[2] + 2 * padding - r + 1, shape[3] + 2 * padding - r + 1
    g = rng.standard_normal((shape[0], 20, OH, OW))
    geometry = (1, 1, padding, padding, 1, 1)
    calls = _count(monkeypatch, "winograd_output_adjoint")
    fast = im2col_gemm.grad_weight_arrays(cpu, x, g, r, r, geometry, 1)
    assert calls == [(g.shape, r)]
    monkeypatch.setattr(cpu, "WINOGRAD_CHUNK_BYTES", 1)  # a chunk per sample
    monkeypatch.setattr(im2col_gemm.threads, "gemm_threads", lambda: 2)
    monkeypatch.setattr(im2col_gemm.gemm, "SPLIT_ABOVE", 0)
    shared = im2col_gemm.grad_weight_arrays(cpu, x, g, r, r, geometry, 1)
    monkeypatch.setattr(im2col_gemm, "WINOGRAD", False)
    plain = im2col_gemm.grad_weight_arrays(cpu, x, g, r, r, geometry, 1)
    assert fast.shape == (20, shape[1], r, r) and fast.flags.c_contiguous
    np.testing.assert_allclose(fast, plain, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(shared, plain, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("r", sorted(MATRICES))
def test_the_output_transform_adds_the_bias_once_per_output(r):
    rng = np.random.default_rng(9)
    TH, TW = W.winograd_tiles(5, 3)
    M = rng.standard_normal(((r + 1)**2, 2 * TH * TW, 3))
    bias = np.array([1.0, -2.0, 0.5])
    plain = W.winograd_output(M, TH, TW, out=np.empty((2, 3, 5, 3)), r=r)
    for serial in (False, True):
        y = W.winograd_output(M, TH, TW, out=np.empty((2, 3, 5, 3)), serial=serial, bias=bias,
                              r=r)
        np.testing.assert_allclose(y, plain + bias.reshape(1, 3, 1, 1), rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match=r"winograd_output: bias must be a float64 array of "
                                         r"shape \(3,\)"):
        W.winograd_output(M, TH, TW, out=np.empty((2, 3, 5, 3)), bias=np.zeros(4), r=r)


def test_the_5x5_path_rounds_float32_within_its_documented_bound():
    """F(2x2, 5x5) in float32 against the float64 convolution, on a LeNet-like layer: at most
    1e-4 of the largest output (the docstring's "1e-5 at worst, 2e-6 typically" per output, with
    room for the sums over 16 channels), and not much worse than im2col's rounding."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((8, 16, 14, 14))
    w = rng.standard_normal((32, 16, 5, 5)) * 0.1
    fast = F.conv2d(mg.tensor(x.astype(np.float32)), mg.tensor(w.astype(np.float32)),
                    padding=2).numpy()
    im2col_gemm.WINOGRAD = False
    try:  # float64 im2col: the exact value to 1e-15 (the slow reference is slow here)
        exact = F.conv2d(mg.tensor(x), mg.tensor(w), padding=2).numpy()
        plain = F.conv2d(mg.tensor(x.astype(np.float32)), mg.tensor(w.astype(np.float32)),
                         padding=2).numpy()
    finally:
        im2col_gemm.WINOGRAD = True
    error = np.abs(fast - exact).max() / np.abs(exact).max()
    plain_error = np.abs(plain - exact).max() / np.abs(exact).max()
    assert error < 1e-4 and error < 50 * plain_error, (error, plain_error)
