"""More documented rules of ``minigrad.functional`` (the activations added beside the first
ones, F.normalize, F.prelu, F.glu) that the rest of the suite did not pin down: each test here
fails for a small, realistic change to ``minigrad/functional.py``, against exact values or a
NumPy reference."""
import re

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F


def test_celu_refuses_alpha_0_with_exactly_its_message():
    with pytest.raises(ValueError, match=r"^celu: alpha cannot be 0 \(x is divided by it\)$"):
        F.celu(mg.tensor([1.0]), alpha=0.0)


def test_celu_with_a_small_alpha_keeps_positive_inputs_out_of_exp():
    # exp(x / alpha) for x = 2, alpha = 1e-3 overflows: the exp piece must only see x <= 0,
    # or its infinite value meets the zero gradient of the unpicked piece and makes a NaN
    x = mg.tensor([2.0, -0.004], dtype=mg.float64, requires_grad=True)
    y = F.celu(x, alpha=1e-3)
    np.testing.assert_allclose(y.numpy(), [2.0, 1e-3 * np.expm1(-4.0)], rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, np.exp(-4.0)], rtol=1e-12)


def test_glu_refuses_a_0d_tensor_with_exactly_its_message():
    with pytest.raises(ValueError, match=r"^glu: a 0-d tensor has no dim to halve$"):
        F.glu(mg.tensor(1.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_with_p_0_divides_by_the_nonzero_count_in_xs_dtype(dtype):
    x = np.array([[3.0, 0.0, -1.0], [0.0, 0.0, 0.0]], dtype=dtype)
    y = F.normalize(mg.tensor(x), p=0)
    assert y.dtype == dtype
    # the zero row is divided by eps (its count, 0, is below it): zeros
    np.testing.assert_array_equal(y.numpy(), np.array([[1.5, 0.0, -0.5], [0.0, 0.0, 0.0]],
                                                      dtype=dtype))


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, -2.0, float("inf")])
def test_normalize_leaves_rows_of_norm_1_unchanged(p):
    # a one-hot row has Σ|x|^p = 1 and norm 1 for every p > 0 (p < 0: a 0 entry makes the
    # norm 0, so there the row is divided by eps)
    x = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    y = F.normalize(mg.tensor(x), p=p).numpy()
    np.testing.assert_array_equal(y, x if p > 0 else x / 1e-12)


def test_normalize_with_p_inf_passes_the_gradient_through_a_norm_equal_to_eps():
    # PyTorch clamps the norm from below (clamp_min): at norm == eps the norm itself is the
    # divisor, and the gradient flows through it
    x = mg.tensor([[0.25, -0.125]], dtype=mg.float64, requires_grad=True)
    y = F.normalize(x, p=float("inf"), eps=0.25)
    np.testing.assert_array_equal(y.numpy(), [[1.0, -0.5]])
    y.sum().backward()
    # d/dx0 (x0 + x1) / |x0| = 1/n - (x0 + x1) / n² = 4 - 2 = 2;  d/dx1 = 1/n = 4
    np.testing.assert_allclose(x.grad.numpy(), [[2.0, 4.0]], rtol=1e-12)


def test_softmin_defaults_to_the_last_axis_of_a_3d_input():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    e = np.exp(-x - (-x).max(axis=-1, keepdims=True))
    np.testing.assert_allclose(F.softmin(mg.tensor(x)).numpy(), e / e.sum(-1, keepdims=True),
                               rtol=1e-12)


@pytest.mark.parametrize("weight_shape", [(5, 4), (4,)])
def test_linear_names_the_last_axis_it_expected(weight_shape):
    message = (f"linear: input of shape (2, 3) does not match weight of shape {weight_shape} "
               f"(expected last axis 4)")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        F.linear(mg.zeros(2, 3), mg.zeros(*weight_shape))
