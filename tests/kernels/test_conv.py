"""im2col / col2im kernels (CPU, and GPU through CuPy or Numba's CUDA simulator) against slow,
obvious NumPy loops."""

import numba
import numpy as np
import pytest
from hypothesis import given, strategies as st

import references as R
import strategies as S
from minigrad.backend import cupy, to_numpy
from minigrad.kernels import cpu

ARGS = ("KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW", "OH", "OW")


@given(S.im2col_cases())
def test_im2col_matches_reference(case):
    g, x = case
    args = [g[k] for k in ARGS]
    cols = cpu.im2col(x, *args)
    assert cols.dtype == x.dtype
    np.testing.assert_array_equal(cols, R.im2col(x, *args))


@given(S.im2col_cases(), st.integers(0, 2**32 - 1))
def test_col2im_matches_reference(case, seed):
    g, x = case
    args = [g[k] for k in ARGS]
    N, C, H, W = x.shape
    shape = (C * g["KH"] * g["KW"], N * g["OH"] * g["OW"])
    cols = np.random.default_rng(seed).standard_normal(shape).astype(x.dtype)
    image = cpu.col2im(cols, N, C, H, W, *args)
    assert image.dtype == x.dtype
    tol = 1e-5 if x.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(image, R.col2im(cols, N, C, H, W, *args), rtol=tol,
                               atol=tol)


@given(S.im2col_cases(), st.integers(0, 2**32 - 1))
def test_col2im_is_the_adjoint_of_im2col(case, seed):
    g, x = case
    x = x.astype(np.float64)
    args = [g[k] for k in ARGS]
    cols = np.random.default_rng(seed).standard_normal(
        (x.shape[1] * g["KH"] * g["KW"], x.shape[0] * g["OH"] * g["OW"]))
    lhs = np.vdot(cpu.im2col(x, *args), cols)
    rhs = np.vdot(x, cpu.col2im(cols, *x.shape, *args))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


# Taps that run off the top, bottom, left and right of the plane, dilation, window positions past
# the input, and padding wider than the image.
EDGE_CASES = [
    dict(KH=3, KW=3, SH=1, SW=1, PH=1, PW=1, DH=1, DW=1, OH=5, OW=4),
    dict(KH=3, KW=5, SH=1, SW=1, PH=2, PW=4, DH=2, DW=2, OH=5, OW=4),
    dict(KH=2, KW=1, SH=1, SW=1, PH=0, PW=0, DH=1, DW=1, OH=7, OW=4),
    dict(KH=1, KW=4, SH=1, SW=1, PH=0, PW=3, DH=1, DW=1, OH=5, OW=4),
    dict(KH=2, KW=2, SH=1, SW=1, PH=6, PW=6, DH=1, DW=1, OH=5, OW=4),
]


@pytest.mark.parametrize("geometry", EDGE_CASES)
def test_im2col_edge_cases_match_reference(geometry):
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 4))
    args = [geometry[k] for k in ARGS]
    np.testing.assert_array_equal(cpu.im2col(x, *args), R.im2col(x, *args))


def test_im2col_accepts_non_contiguous_input():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(3, 2, 4, 5).transpose(1, 0, 2, 3)
    args = (2, 3, 1, 2, 1, 0, 1, 1, 5, 2)
    np.testing.assert_array_equal(cpu.im2col(x, *args), R.im2col(x, *args))


def test_im2col_of_a_known_image():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    cols = cpu.im2col(x, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2)
    # row (kh, kw), column (oh, ow): the pixel at (oh + kh, ow + kw)
    np.testing.assert_array_equal(cols, [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]])


@pytest.mark.parametrize("bad", [dict(KH=0), dict(SW=0), dict(DH=0), dict(PW=-1), dict(OH=-1)])
def test_kernels_reject_bad_geometry(bad):
    args = dict(KH=2, KW=2, SH=1, SW=1, PH=0, PW=0, DH=1, DW=1, OH=2, OW=2) | bad
    x = np.zeros((1, 1, 3, 3))
    with pytest.raises(ValueError, match="im2col"):
        cpu.im2col(x, *args.values())
    with pytest.raises(ValueError, match="col2im"):
        cpu.col2im(np.zeros((4, 4)), 1, 1, 3, 3, *args.values())


def test_im2col_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"im2col: expected x of shape \(N, C, H, W\)"):
        cpu.im2col(np.zeros((3, 3)), 2, 2, 1, 1, 0, 0, 1, 1, 2, 2)


def test_col2im_rejects_cols_of_the_wrong_shape():
    # 1 channel, 2x2 kernel, 2x2 windows need cols of shape (4, 4)
    with pytest.raises(ValueError, match=r"cols has shape \(4, 5\).*needs \(4, 4\)"):
        cpu.col2im(np.zeros((4, 5)), 1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2)


def _gpu():
    """The GPU kernel module and a function that moves an array onto its device."""
    from numba import cuda
    if not cuda.is_available():
        pytest.skip("no CUDA GPU and NUMBA_ENABLE_CUDASIM is not set")
    from minigrad.kernels import gpu
    if numba.config.ENABLE_CUDASIM:
        return gpu, np.asarray  # the simulator runs the kernels on NumPy arrays
    cp = cupy()
    if cp is None:
        pytest.skip("numba sees a GPU but CuPy is missing")
    return gpu, cp.asarray


# The simulator runs every CUDA thread in Python: a few tiny cases cover the index math, one
# each for stride/padding, dilation, odd windows and extra window positions.
GPU_CASES = [
    ((2, 2, 5, 4), dict(KH=3, KW=2, SH=2, SW=1, PH=1, PW=0, DH=1, DW=1, OH=3, OW=3)),
    ((1, 3, 5, 5), dict(KH=2, KW=2, SH=1, SW=2, PH=0, PW=1, DH=2, DW=1, OH=3, OW=3)),
    ((1, 1, 4, 3), dict(KH=1, KW=3, SH=3, SW=1, PH=2, PW=2, DH=1, DW=2, OH=3, OW=4)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, geometry", GPU_CASES)
def test_gpu_kernels_match_reference(shape, geometry, dtype):
    gpu, to_gpu = _gpu()
    rng = np.random.default_rng(7)
    args = [geometry[k] for k in ARGS]
    x = rng.standard_normal(shape).astype(dtype)
    cols = gpu.im2col(to_gpu(x), *args)
    assert cols.dtype == dtype
    np.testing.assert_array_equal(to_numpy(cols), R.im2col(x, *args))
    cols = rng.standard_normal(cols.shape).astype(dtype)
    image = gpu.col2im(to_gpu(cols), *shape, *args)
    assert image.dtype == dtype
    np.testing.assert_allclose(to_numpy(image), R.col2im(cols, *shape, *args),
                               rtol=1e-5, atol=1e-5)


def test_gpu_col2im_with_no_windows_gives_zeros():
    gpu, to_gpu = _gpu()
    image = gpu.col2im(to_gpu(np.zeros((4, 0))), 1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 0, 2)
    np.testing.assert_array_equal(to_numpy(image), np.zeros((1, 1, 3, 3)))


def test_gpu_kernels_reject_bad_input_like_the_cpu_ones():
    gpu, to_gpu = _gpu()
    with pytest.raises(ValueError, match=r"cols has shape \(4, 5\).*needs \(4, 4\)"):
        gpu.col2im(to_gpu(np.zeros((4, 5))), 1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2)
    with pytest.raises(ValueError, match="im2col"):
        gpu.im2col(to_gpu(np.zeros((1, 1, 3, 3))), 2, 2, 0, 1, 0, 0, 1, 1, 2, 2)


def test_col2im_with_no_windows_gives_zeros():
    image = cpu.col2im(np.zeros((4, 0)), 1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 0, 2)
    np.testing.assert_array_equal(image, np.zeros((1, 1, 3, 3)))


def test_kernels_write_into_a_given_workspace():
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    args = (3, 2, 1, 2, 1, 0, 1, 1, 4, 2)
    cols = np.full((18, 16), np.nan)
    assert cpu.im2col(x, *args, out=cols) is cols
    np.testing.assert_array_equal(cols, R.im2col(x, *args))
    image = np.full(x.shape, np.nan)
    assert cpu.col2im(cols, *x.shape, *args, out=image) is image
    np.testing.assert_allclose(image, R.col2im(cols, *x.shape, *args), rtol=1e-12)


@pytest.mark.parametrize("out", [np.zeros((18, 15)), np.zeros((18, 16), np.float32),
                                 np.zeros((16, 18)).T])
def test_kernels_reject_a_workspace_of_the_wrong_kind(out):
    x = np.zeros((2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"im2col: out must be a C-contiguous float64 array of "
                                         r"shape \(18, 16\)"):
        cpu.im2col(x, 3, 2, 1, 2, 1, 0, 1, 1, 4, 2, out=out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", [(3, 3, 1, 1, 1, 1, 1, 1), (5, 5, 1, 1, 2, 2, 1, 1),
                                      (5, 3, 1, 1, 2, 1, 1, 1), (4, 4, 2, 2, 1, 1, 1, 1)])
def test_padding_stays_exactly_zero_next_to_inf_and_nan(dtype, geometry):
    """The "same" path masks the columns that wrap around to a neighbouring row with a byte
    mask: a padded column must read 0 even next to inf and NaN pixels, and a column on the
    padding must add nothing to the image, even a NaN."""
    KH, KW, SH, SW, PH, PW, DH, DW = geometry
    H, W = 6, 7
    OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    x = np.random.default_rng(5).standard_normal((2, 3, H, W)).astype(dtype)
    x[0, 0, :, 0], x[0, 1, :, -1], x[1, 2, 0, :] = np.inf, -np.inf, np.nan
    args = (*geometry, OH, OW)
    cols = cpu.im2col(x, *args)
    np.testing.assert_array_equal(cols, R.im2col(x.astype(np.float64), *args).astype(dtype))
    on_padding = R.im2col(np.ones((2, 3, H, W)), *args) == 0
    assert on_padding.any()
    finite = np.random.default_rng(6).standard_normal(cols.shape).astype(dtype)
    image = cpu.col2im(np.where(on_padding, np.nan, finite), 2, 3, H, W, *args)
    np.testing.assert_allclose(image, R.col2im(np.where(on_padding, 0, finite), 2, 3, H, W, *args),
                               rtol=1e-5)
