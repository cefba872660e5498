"""Pooling and unpooling ops (``minigrad/ops/pool.py``): gradients, semantics, errors.

Every op is checked by ``gradcheck`` and ``gradgradcheck`` in float64 over hypothesis-drawn
geometries (odd sizes, overlapping windows, padding, dilation, ceil mode). Max pooling draws
distinct values, so that no tie makes the argmax (and the finite differences) ambiguous.
PyTorch, when installed, is an extra oracle for values, indices and gradients.

Notation
--------
geometry  a dict from ``strategies.pool_geometry``: N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW,
          ceil_mode
"""
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.functional as F
from minigrad.ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d, max_unpool2d
from minigrad.ops.resample import interpolate
from strategies import pool_geometry


def window(geometry):
    """The (kernel_size, stride, padding) arguments of a geometry."""
    g = geometry
    return ((g["KH"], g["KW"]), (g["SH"], g["SW"]), (g["PH"], g["PW"]))


def distinct_image(geometry, seed, dtype=np.float64):
    """Values 0.1 apart in a random order: the max of every window is unique, and far from the
    runner-up compared with the finite-difference step."""
    shape = (geometry["N"], geometry["C"], geometry["H"], geometry["W"])
    values = np.random.default_rng(seed).permutation(int(np.prod(shape))) * 0.1
    return values.reshape(shape).astype(dtype)


def check_gradients(fn, *inputs):
    assert mg.gradcheck(fn, inputs)
    assert mg.gradgradcheck(fn, inputs)


@given(geometry=pool_geometry(dilation=True, ceil_mode=True), seed=st.integers(0, 2**16))
def test_max_pool2d_gradients(device, geometry, seed):
    x = mg.tensor(distinct_image(geometry, seed), device=device, requires_grad=True)
    dilation = (geometry["DH"], geometry["DW"])
    check_gradients(lambda x: max_pool2d(x, *window(geometry), dilation=dilation,
                                         ceil_mode=geometry["ceil_mode"]), x)


@given(geometry=pool_geometry(), seed=st.integers(0, 2**16))
def test_max_unpool2d_gradients(device, geometry, seed):
    x = mg.tensor(distinct_image(geometry, seed), device=device)
    pooled, indices = max_pool2d(x, *window(geometry), return_indices=True)
    values = mg.tensor(np.random.default_rng(seed).standard_normal(pooled.shape), device=device,
                       requires_grad=True)
    size = (geometry["H"], geometry["W"])
    check_gradients(lambda v: max_unpool2d(v, indices, *window(geometry), output_size=size), values)


@given(geometry=pool_geometry(ceil_mode=True), count_include_pad=st.booleans(),
       seed=st.integers(0, 2**16))
def test_avg_pool2d_gradients(device, geometry, count_include_pad, seed):
    shape = (geometry["N"], geometry["C"], geometry["H"], geometry["W"])
    x = mg.tensor(np.random.default_rng(seed).standard_normal(shape), device=device,
                  requires_grad=True)
    check_gradients(lambda x: avg_pool2d(x, *window(geometry), ceil_mode=geometry["ceil_mode"],
                                         count_include_pad=count_include_pad), x)


@given(H=st.integers(1, 7), W=st.integers(1, 7), OH=st.integers(1, 5), OW=st.integers(1, 5),
       seed=st.integers(0, 2**16))
def test_adaptive_avg_pool2d_gradients(device, H, W, OH, OW, seed):
    x = mg.tensor(np.random.default_rng(seed).standard_normal((2, 2, H, W)), device=device,
                  requires_grad=True)
    check_gradients(lambda x: adaptive_avg_pool2d(x, (OH, OW)), x)


def test_max_pool2d_values_indices_and_gradient_by_hand():
    x = mg.tensor([[[[1., 5., 2.], [7., 3., 9.], [4., 8., 6.]]]], dtype=np.float64,
                  requires_grad=True)
    y, indices = max_pool2d(x, 2, stride=1, return_indices=True)
    assert y.tolist() == [[[[7.0, 9.0], [8.0, 9.0]]]]
    assert indices.tolist() == [[[[3, 5], [7, 5]]]]
    assert indices.dtype == np.int64 and not indices.requires_grad
    y.sum().backward()
    # 9 wins two overlapping windows, so its gradient is 2: pool backward must add.
    assert x.grad.tolist() == [[[[0.0, 0.0, 0.0], [1.0, 0.0, 2.0], [0.0, 1.0, 0.0]]]]


def test_max_pool2d_padding_counts_as_minus_infinity():
    x = mg.tensor(-np.arange(1.0, 5.0).reshape(1, 1, 2, 2))
    y, indices = max_pool2d(x, 3, stride=1, padding=1, return_indices=True)
    assert y.tolist() == [[[[-1.0, -1.0], [-1.0, -1.0]]]]
    assert indices.tolist() == [[[[0, 0], [0, 0]]]]


def test_max_pool2d_without_indices_returns_a_tensor_and_keeps_float32():
    x = mg.tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4), requires_grad=True)
    y = max_pool2d(x, 2)
    assert isinstance(y, mg.Tensor) and y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    assert np.flatnonzero(x.grad.numpy()).tolist() == [5, 7, 13, 15]


def test_max_pool2d_under_no_grad_records_nothing():
    x = mg.tensor(np.random.default_rng(0).standard_normal((1, 2, 4, 4)), requires_grad=True)
    with mg.no_grad():
        y, indices = max_pool2d(x, 2, return_indices=True)
    assert not y.requires_grad and y.grad_fn is None and indices.shape == (1, 2, 2, 2)


def test_max_unpool2d_puts_maxima_back_and_zeros_elsewhere():
    x = mg.tensor(np.array([[1., 5., 2., 0.], [7., 3., 9., 4.], [4., 8., 6., 1.]])[None, None])
    y, indices = max_pool2d(x, 2, return_indices=True)
    out = max_unpool2d(y, indices, 2, output_size=(3, 4))
    assert out.tolist() == [[[[0.0, 0.0, 0.0, 0.0], [7.0, 0.0, 9.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]]
    # The default size is (h - 1)*S - 2P + K = 2 rows; output_size may also be (N, C, H, W).
    assert max_unpool2d(y, indices, 2).shape == (1, 1, 2, 4)
    assert max_unpool2d(y, indices, 2, output_size=(1, 1, 3, 5)).shape == (1, 1, 3, 5)


def test_max_unpool2d_adds_colliding_indices():
    # Overlapping windows: 9 is the max of both windows, so it is unpooled twice and added.
    x = mg.tensor(np.array([[1., 9., 2.]])[None, None])
    y, indices = max_pool2d(x, (1, 2), stride=1, return_indices=True)
    assert indices.tolist() == [[[[1, 1]]]]
    assert max_unpool2d(y, indices, (1, 2), stride=1).tolist() == [[[[0.0, 18.0, 0.0]]]]


def test_max_unpool2d_accepts_indices_as_an_array():
    out = max_unpool2d(mg.tensor([[[[3.0]]]]), np.array([[[[2]]]], dtype=np.int32), 2)
    assert out.tolist() == [[[[0.0, 0.0], [3.0, 0.0]]]]


@pytest.mark.parametrize("as_tensor", [True, False])
def test_max_unpool2d_keeps_its_own_copy_of_the_indices(as_tensor):
    # Indices changed after the forward (in place, here to other valid positions) must not
    # move the forward's scatter in backward: the gradient gathers where the forward put x.
    x = mg.tensor([[[[3.0, 4.0]]]], requires_grad=True)
    indices = np.array([[[[0, 3]]]], dtype=np.int64)
    y = max_unpool2d(x, mg.tensor(indices) if as_tensor else indices, (1, 2), output_size=(1, 4))
    assert y.tolist() == [[[[3.0, 0.0, 0.0, 4.0]]]]
    indices[...] = [[[[1, 2]]]]  # the Tensor wraps this very array (mg.tensor does not copy ints)
    y.backward(mg.tensor([[[[10.0, 20.0, 30.0, 40.0]]]]))
    assert x.grad.tolist() == [[[[10.0, 40.0]]]]


def test_avg_pool2d_divisors_by_hand():
    x = mg.tensor(np.arange(1.0, 10.0).reshape(1, 1, 3, 3))
    # The corner 3x3 window with padding 1 covers 1, 2, 4, 5 (sum 12) and 5 padding cells.
    assert avg_pool2d(x, 3, stride=2, padding=1).numpy()[0, 0, 0, 0] == pytest.approx(12 / 9)
    corner = avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False).numpy()[0, 0, 0, 0]
    assert corner == pytest.approx(12 / 4)
    # ceil_mode adds a last window that hangs past the input: it covers 3 only, divisor 1*2.
    assert avg_pool2d(x, 2, ceil_mode=True).tolist() == [[[[3.0, 4.5], [7.5, 9.0]]]]


def test_adaptive_avg_pool2d_windows_by_hand():
    x = mg.tensor(np.arange(5.0).reshape(1, 1, 1, 5))
    # Windows [0, 2), [1, 4), [3, 5): floor(i*5/3) to ceil((i+1)*5/3); they overlap.
    assert adaptive_avg_pool2d(x, (1, 3)).tolist() == [[[[0.5, 2.0, 3.5]]]]
    assert adaptive_avg_pool2d(x, (None, 1)).tolist() == [[[[2.0]]]]
    assert adaptive_avg_pool2d(x, 1).shape == (1, 1, 1, 1)


@pytest.mark.parametrize("call, error, words", [
    (lambda x: max_pool2d(x[0], 2), ValueError, "4-D"),
    (lambda x: max_pool2d(x, 6), ValueError, "padded input"),
    (lambda x: max_pool2d(x, 3, padding=2), ValueError, "at most half"),
    (lambda x: max_pool2d(x, 2, stride=0), ValueError, "stride must be >= 1"),
    (lambda x: max_pool2d(x, (2, 2, 2)), TypeError, "kernel_size"),
    (lambda x: max_pool2d(x, 2.5), TypeError, "kernel_size"),
    (lambda x: max_pool2d(x, 2, 2, 0, 1), TypeError, "dilation and ceil_mode by keyword"),
    (lambda x: max_pool2d(x, 2, padding=1, dilation=5), ValueError, "only padding"),
    (lambda x: max_pool2d(mg.zeros(1, 1, 4, 4, dtype=np.int64), 2), TypeError, "floating"),
    (lambda x: avg_pool2d(x, 7, padding=1), ValueError, "padded input"),
    (lambda x: avg_pool2d(x, 2, padding=2), ValueError, "at most half"),
    (lambda x: adaptive_avg_pool2d(x, (0, 2)), ValueError, "output_size"),
    (lambda x: adaptive_avg_pool2d(x, (1, 2, 3)), TypeError, "output_size"),
    (lambda x: interpolate(x), ValueError, "exactly one"),
    (lambda x: interpolate(x, size=2, scale_factor=2), ValueError, "exactly one"),
    (lambda x: interpolate(x, size=2, mode="trilinear"), ValueError, "mode"),
    (lambda x: interpolate(x, size=2, align_corners=True), ValueError, "align_corners"),
    (lambda x: interpolate(x, scale_factor=-1), ValueError, "scale_factor"),
    (lambda x: interpolate(x, scale_factor=0.1), ValueError, "at least 1x1"),
    (lambda x: interpolate(x, size=(0, 3)), ValueError, "at least 1x1"),
])
def test_bad_arguments_raise_clear_errors(call, error, words):
    x = mg.tensor(np.zeros((1, 2, 4, 5)))
    with pytest.raises(error, match=words):
        call(x)


@pytest.mark.parametrize("indices, output_size, error, words", [
    (np.array([[[[16]]]]), None, IndexError, r"\[0, 16\)"),
    (np.array([[[[-1]]]]), None, IndexError, r"\[-1, -1\]"),
    (np.array([[[[0, 1]]]]), None, ValueError, "shape"),
    (np.array([[[[0.0]]]]), None, TypeError, "integer"),
    (np.array([[[[0]]]]), (9, 4), ValueError, "strictly between"),
    (np.array([[[[0]]]]), (4, 4, 4), TypeError, "output_size"),
])
def test_max_unpool2d_checks_indices_and_size_before_the_kernel(indices, output_size, error, words):
    with pytest.raises(error, match=words):
        max_unpool2d(mg.tensor([[[[1.0]]]]), indices, 4, output_size=output_size)


@given(geometry=pool_geometry(dilation=True, ceil_mode=True), seed=st.integers(0, 2**16))
def test_max_pool2d_matches_torch(geometry, seed):
    torch = pytest.importorskip("torch")
    x = distinct_image(geometry, seed)
    kwargs = dict(dilation=(geometry["DH"], geometry["DW"]), ceil_mode=geometry["ceil_mode"])
    mine = mg.tensor(x, requires_grad=True)
    y, indices = max_pool2d(mine, *window(geometry), return_indices=True, **kwargs)
    theirs = torch.tensor(x, requires_grad=True)
    y_torch, indices_torch = torch.nn.functional.max_pool2d(theirs, *window(geometry),
                                                            return_indices=True, **kwargs)
    np.testing.assert_array_equal(indices.numpy(), indices_torch.numpy())
    np.testing.assert_array_equal(y.numpy(), y_torch.detach().numpy())
    g = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(mg.tensor(g))
    y_torch.backward(torch.tensor(g))
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@given(geometry=pool_geometry(), seed=st.integers(0, 2**16))
def test_max_unpool2d_matches_torch_without_overlap(geometry, seed):
    torch = pytest.importorskip("torch")
    # stride == kernel: windows do not overlap, where assigning (PyTorch) and adding agree.
    kernel = (geometry["KH"], geometry["KW"])
    padding = (geometry["PH"], geometry["PW"])
    x = distinct_image(geometry, seed)
    pooled, indices = max_pool2d(mg.tensor(x), kernel, kernel, padding, return_indices=True)
    values = np.random.default_rng(seed).standard_normal(pooled.shape)
    size = (geometry["H"], geometry["W"])
    mine = mg.tensor(values, requires_grad=True)
    out = max_unpool2d(mine, indices, kernel, kernel, padding, output_size=size)
    theirs = torch.tensor(values, requires_grad=True)
    out_torch = torch.nn.functional.max_unpool2d(theirs, torch.tensor(indices.numpy()), kernel,
                                                 kernel, padding, output_size=size)
    np.testing.assert_array_equal(out.numpy(), out_torch.detach().numpy())
    g = np.random.default_rng(seed + 1).standard_normal(out.shape)
    out.backward(mg.tensor(g))
    out_torch.backward(torch.tensor(g))
    np.testing.assert_array_equal(mine.grad.numpy(), theirs.grad.numpy())


@given(geometry=pool_geometry(ceil_mode=True), count_include_pad=st.booleans(),
       seed=st.integers(0, 2**16))
def test_avg_pool2d_matches_torch(geometry, count_include_pad, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((geometry["N"], geometry["C"], geometry["H"], geometry["W"]))
    kwargs = dict(ceil_mode=geometry["ceil_mode"], count_include_pad=count_include_pad)
    mine, theirs = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = avg_pool2d(mine, *window(geometry), **kwargs)
    y_torch = torch.nn.functional.avg_pool2d(theirs, *window(geometry), **kwargs)
    np.testing.assert_allclose(y.numpy(), y_torch.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(mg.tensor(g))
    y_torch.backward(torch.tensor(g))
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_adaptive_avg_pool2d_and_interpolate_match_torch(dtype, tolerance):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    cases = []
    for H, W in [(1, 3), (4, 4), (5, 7), (9, 2)]:
        for OH, OW in [(1, 1), (2, 3), (3, 5), (7, 4)]:
            cases.append((H, W, lambda t, s=(OH, OW): adaptive_avg_pool2d(t, s),
                          lambda t, s=(OH, OW): F.adaptive_avg_pool2d(t, s)))
        for resize in [dict(size=(3, 5)), dict(size=(2 * H, 2 * W)), dict(size=(H, W + 1)),
                       dict(size=(11, 1)), dict(scale_factor=1.5), dict(scale_factor=(2.3, 0.7)),
                       dict(scale_factor=3)]:
            for mode, align_corners in [("nearest", None), ("bilinear", False), ("bilinear", True)]:
                kwargs = dict(resize, mode=mode, align_corners=align_corners)
                cases.append((H, W, lambda t, k=kwargs: interpolate(t, **k),
                              lambda t, k=kwargs: F.interpolate(t, **k)))
    for H, W, mine_fn, torch_fn in cases:
        x = rng.standard_normal((2, 3, H, W)).astype(dtype)
        mine, theirs = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, y_torch = mine_fn(mine), torch_fn(theirs)
        close = dict(rtol=tolerance, atol=tolerance)
        np.testing.assert_allclose(y.numpy(), y_torch.detach().numpy(), **close)
        g = rng.standard_normal(y.shape).astype(dtype)
        y.backward(mg.tensor(g))
        y_torch.backward(torch.tensor(g))
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), **close)


@pytest.mark.parametrize("call, message", [
    (lambda x: max_pool2d(x, 2, ceil_mode=1), "max_pool2d: ceil_mode must be a bool, got 1"),
    (lambda x: avg_pool2d(x, 2, ceil_mode=None),
     "avg_pool2d: ceil_mode must be a bool, got None"),
    (lambda x: avg_pool2d(x, 2, count_include_pad=0),
     "avg_pool2d: count_include_pad must be a bool, got 0"),
    (lambda x: F.avg_pool1d(x[:, :, 0], 2, ceil_mode="yes"),
     "avg_pool1d: ceil_mode must be a bool, got 'yes'"),
])
def test_pooling_flags_must_be_bools_as_in_pytorch(call, message):
    # a flag read by its truth would take ceil_mode=0 for False and "no" for True
    x = mg.tensor(np.arange(25.0).reshape(1, 1, 5, 5))
    with pytest.raises(TypeError, match="^" + re.escape(message)):
        call(x)


def test_numpy_bools_are_bools_for_the_pooling_flags():
    x = mg.tensor(np.arange(25.0).reshape(1, 1, 5, 5))
    assert max_pool2d(x, 2, ceil_mode=np.bool_(True)).shape == (1, 1, 3, 3)
    # the window over padded row -1 and cells x[0, 1] = 1, x[0, 2] = 2: 3 over 2 cells or over 4
    assert avg_pool2d(x, 2, 2, 1, count_include_pad=np.bool_(False)).data[0, 0, 0, 1] == 1.5
    assert avg_pool2d(x, 2, 2, 1, count_include_pad=np.bool_(True)).data[0, 0, 0, 1] == 0.75
