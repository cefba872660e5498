"""im2col_rows / col2im_rows (a window per row, channels innermost: kernels/cpu/conv_rows.py)
against the slow, obvious loops of references.py, whose columns they rearrange."""

import numpy as np
import pytest
from hypothesis import given, strategies as st

import references as R
import strategies as S
from minigrad.kernels import cpu

ARGS = ("KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW", "OH", "OW")


def reference_rows(x, *args):
    """R.im2col's columns, (C*T, N*L) with row c*T + t, as rows (N*L, T*C) with column t*C + c."""
    cols = R.im2col(x, *args)
    C, T = x.shape[1], args[0] * args[1]
    return cols.T.reshape(-1, C, T).transpose(0, 2, 1).reshape(-1, T * C)


def as_columns(rows, C, T):
    """The inverse rearrangement: rows (N*L, T*C) as R.col2im's columns (C*T, N*L)."""
    return rows.reshape(-1, T, C).transpose(2, 1, 0).reshape(C * T, -1)


@given(S.im2col_cases(), st.booleans())
def test_im2col_rows_is_the_reference_columns_rearranged(case, serial):
    g, x = case
    args = [g[k] for k in ARGS]
    rows = cpu.im2col_rows(x, *args, serial=serial)
    assert rows.dtype == x.dtype and rows.flags.c_contiguous
    np.testing.assert_array_equal(rows, reference_rows(x, *args))


@given(S.im2col_cases(), st.integers(0, 2**32 - 1), st.booleans())
def test_col2im_rows_matches_reference(case, seed, serial):
    g, x = case
    args = [g[k] for k in ARGS]
    N, C, H, W = x.shape
    shape = (N * g["OH"] * g["OW"], C * g["KH"] * g["KW"])
    rows = np.random.default_rng(seed).standard_normal(shape).astype(x.dtype)
    image = cpu.col2im_rows(rows, N, C, H, W, *args, serial=serial)
    assert image.dtype == x.dtype
    tol = 1e-5 if x.dtype == np.float32 else 1e-12
    expected = R.col2im(as_columns(rows, C, g["KH"] * g["KW"]), N, C, H, W, *args)
    np.testing.assert_allclose(image, expected, rtol=tol, atol=tol)


@given(S.im2col_cases(), st.integers(0, 2**32 - 1))
def test_col2im_rows_is_the_adjoint_of_im2col_rows(case, seed):
    g, x = case
    x = x.astype(np.float64)
    args = [g[k] for k in ARGS]
    rows = np.random.default_rng(seed).standard_normal(
        (x.shape[0] * g["OH"] * g["OW"], x.shape[1] * g["KH"] * g["KW"]))
    lhs = np.vdot(cpu.im2col_rows(x, *args), rows)
    rhs = np.vdot(x, cpu.col2im_rows(rows, *x.shape, *args))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


def test_im2col_rows_of_a_known_image():
    # two channels: each tap's two channels side by side
    x = np.arange(8.0).reshape(1, 2, 2, 2)
    np.testing.assert_array_equal(cpu.im2col_rows(x, 1, 2, 1, 1, 0, 0, 1, 1, 2, 1),
                                  [[0, 4, 1, 5], [2, 6, 3, 7]])
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    rows = cpu.im2col_rows(x, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2)
    # row (oh, ow), column (kh, kw): the pixel at (oh + kh, ow + kw)
    np.testing.assert_array_equal(rows, [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]])
    # stride 2, padding 1 on a 2x2 kernel: the first window sees only the pixel at (0, 0)
    rows = cpu.im2col_rows(x, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2)
    np.testing.assert_array_equal(rows, [[0, 0, 0, 0], [0, 0, 1, 2], [0, 3, 0, 6], [4, 5, 7, 8]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", [(4, 4, 2, 2, 1, 1, 1, 1), (3, 3, 2, 2, 1, 1, 1, 1),
                                      (3, 2, 3, 1, 2, 0, 2, 1)])
def test_padding_is_exactly_zero_next_to_inf_and_nan(dtype, geometry):
    """A tap on the padding reads 0, never a neighbour's inf or NaN, and a row's entries on the
    padding add nothing to the image, not even a NaN."""
    KH, KW, SH, SW, PH, PW, DH, DW = geometry
    H, W = 6, 7
    OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    x = np.random.default_rng(5).standard_normal((2, 3, H, W)).astype(dtype)
    x[0, 0, :, 0], x[0, 1, :, -1], x[1, 2, 0, :] = np.inf, -np.inf, np.nan
    args = (*geometry, OH, OW)
    rows = cpu.im2col_rows(x, *args)
    np.testing.assert_array_equal(rows, reference_rows(x.astype(np.float64), *args).astype(dtype))
    on_padding = reference_rows(np.ones((2, 3, H, W)), *args) == 0
    assert on_padding.any()
    finite = np.random.default_rng(6).standard_normal(rows.shape).astype(dtype)
    image = cpu.col2im_rows(np.where(on_padding, np.nan, finite), 2, 3, H, W, *args)
    expected = R.col2im(as_columns(np.where(on_padding, 0, finite), 3, KH * KW), 2, 3, H, W,
                        *args)
    np.testing.assert_allclose(image, expected, rtol=1e-5)


def test_empty_batches_and_windows():
    args = (2, 2, 2, 2, 0, 0, 1, 1, 2, 2)
    assert cpu.im2col_rows(np.zeros((0, 3, 4, 4)), *args).shape == (0, 12)
    assert cpu.col2im_rows(np.zeros((0, 12)), 0, 3, 4, 4, *args).shape == (0, 3, 4, 4)
    # no windows at all: an image of zeros, even in a workspace full of NaN
    out = np.full((1, 1, 3, 3), np.nan)
    cpu.col2im_rows(np.zeros((0, 4)), 1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 0, 2, out=out)
    np.testing.assert_array_equal(out, np.zeros((1, 1, 3, 3)))


def test_kernels_write_into_a_given_workspace_and_read_any_layout():
    x = np.random.default_rng(2).standard_normal((3, 2, 4, 5)).transpose(1, 0, 2, 3)
    args = (3, 2, 2, 2, 1, 0, 1, 1, 2, 2)
    rows = np.full((8, 18), np.nan)
    assert cpu.im2col_rows(x, *args, out=rows) is rows
    np.testing.assert_array_equal(rows, reference_rows(x, *args))
    image = np.full(x.shape, np.nan)
    assert cpu.col2im_rows(rows.T.copy().T, *x.shape, *args, out=image) is image
    np.testing.assert_allclose(image, R.col2im(as_columns(rows, 3, 6), *x.shape, *args),
                               rtol=1e-12)


@pytest.mark.parametrize("bad", [dict(KH=0), dict(SW=0), dict(DH=0), dict(PW=-1), dict(OH=-1)])
def test_kernels_reject_bad_geometry(bad):
    args = dict(KH=2, KW=2, SH=1, SW=1, PH=0, PW=0, DH=1, DW=1, OH=2, OW=2) | bad
    with pytest.raises(ValueError, match="im2col_rows: kernel"):
        cpu.im2col_rows(np.zeros((1, 1, 3, 3)), *args.values())
    with pytest.raises(ValueError, match="col2im_rows: kernel"):
        cpu.col2im_rows(np.zeros((4, 4)), 1, 1, 3, 3, *args.values())


def test_kernels_reject_wrong_shapes_and_workspaces():
    with pytest.raises(ValueError, match=r"im2col_rows: expected x of shape \(N, C, H, W\)"):
        cpu.im2col_rows(np.zeros((3, 3)), 2, 2, 1, 1, 0, 0, 1, 1, 2, 2)
    with pytest.raises(TypeError, match=r"im2col_rows: x must be floating point"):
        cpu.im2col_rows(np.zeros((1, 1, 3, 3), np.int64), 2, 2, 1, 1, 0, 0, 1, 1, 2, 2)
    # 2 samples of 1 channel, a 2x2 kernel and 2x2 windows need rows of shape (8, 4)
    with pytest.raises(ValueError, match=r"col2im_rows: cols has shape \(4, 8\).*needs \(8, 4\)"):
        cpu.col2im_rows(np.zeros((4, 8)), 2, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2)
    with pytest.raises(ValueError, match=r"im2col_rows: out must be a C-contiguous float64 "
                                         r"array of shape \(4, 4\)"):
        cpu.im2col_rows(np.zeros((1, 1, 3, 3)), 2, 2, 1, 1, 0, 0, 1, 1, 2, 2,
                        out=np.zeros((4, 4)).T.copy().T[:, :])
    with pytest.raises(ValueError, match=r"col2im_rows: out must be a C-contiguous float32"):
        cpu.col2im_rows(np.zeros((4, 4), np.float32), 1, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2,
                        out=np.zeros((1, 1, 3, 3)))


@pytest.mark.parametrize("serial", [False, True])
def test_col2im_rows_adds_the_bias_once_per_pixel(serial):
    rng = np.random.default_rng(7)
    args = (4, 4, 2, 2, 1, 1, 1, 1, 3, 3)
    rows = rng.standard_normal((2 * 9, 16 * 3)).astype(np.float32)
    bias = np.array([1.5, -2.0, 0.25], np.float32)
    plain = cpu.col2im_rows(rows, 2, 3, 8, 8, *args, serial=serial)
    with_bias = cpu.col2im_rows(rows, 2, 3, 8, 8, *args, serial=serial, bias=bias)
    np.testing.assert_allclose(with_bias, plain + bias.reshape(1, 3, 1, 1), rtol=1e-6)
    # every pixel, also those no window reaches (here the last row and column of 8)
    np.testing.assert_array_equal(with_bias[:, :, -1, -1], np.broadcast_to(bias, (2, 3)))
    for bad in (np.zeros(2, np.float32), np.zeros(3, np.float64)):
        with pytest.raises(ValueError, match=r"col2im_rows: bias must be a float32 array of "
                                             r"shape \(3,\)"):
            cpu.col2im_rows(rows, 2, 3, 8, 8, *args, bias=bad)
