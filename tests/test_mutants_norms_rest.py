"""What a mutation run of ``minigrad/norms.py`` found unchecked after tests/test_mutants_norms.py:
batch and instance norm's defaults (eval mode, momentum 0.1), the argument each shape error
names, the count of values per channel that training needs, which inputs the fused kernels
take (mixed-dtype bias, empty tensors), and the running-variance check of instance norm. Each
test fails for one small change to the module; values are checked against NumPy formulas and
errors are matched whole.
"""
import re

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F


def exactly(message):
    """A pytest ``match`` pattern for exactly ``message``."""
    return "^" + re.escape(message) + "$"


def batch_norm_reference(x, mean, var, weight=None, bias=None, eps=1e-5):
    """(x − mean) / √(var + eps) · weight + bias, the per-channel (C,) arrays on axis 1."""
    view = (1, -1) + (1,) * (x.ndim - 2)
    out = (x - mean.reshape(view)) / np.sqrt(var.reshape(view) + eps)
    if weight is not None:
        out = out * weight.reshape(view)
    if bias is not None:
        out = out + bias.reshape(view)
    return out


def test_batch_norm_uses_the_running_statistics_by_default():
    # training defaults to False, as in PyTorch: the running statistics normalise and stay put
    x = np.random.default_rng(0).standard_normal((4, 3, 2)) * 2.0 + 1.0
    mean, var = np.array([0.5, -1.0, 2.0]), np.array([0.25, 4.0, 9.0])
    running_mean, running_var = mg.tensor(mean.copy()), mg.tensor(var.copy())
    got = F.batch_norm(mg.tensor(x), running_mean, running_var).numpy()
    np.testing.assert_allclose(got, batch_norm_reference(x, mean, var), rtol=1e-12)
    assert running_mean.tolist() == mean.tolist() and running_var.tolist() == var.tolist()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_default_momentum_is_one_tenth(dtype):
    # float64 input runs the fused kernel, float32 input with the float64 weight the composite;
    # both move the running statistics a tenth of the way to the batch's
    x = np.random.default_rng(1).standard_normal((5, 2, 3)).astype(dtype) * 3.0 - 1.0
    weight = mg.tensor(np.ones(2))  # float64
    running_mean, running_var = mg.tensor(np.array([1.0, -2.0])), mg.tensor(np.array([0.5, 3.0]))
    F.batch_norm(mg.tensor(x), running_mean, running_var, weight, training=True)
    x64 = x.astype(np.float64)
    batch_mean, batch_var = x64.mean((0, 2)), x64.var((0, 2)) * 15 / 14
    np.testing.assert_allclose(running_mean.numpy(), 0.9 * np.array([1.0, -2.0])
                               + 0.1 * batch_mean, rtol=1e-6)
    np.testing.assert_allclose(running_var.numpy(), 0.9 * np.array([0.5, 3.0])
                               + 0.1 * batch_var, rtol=1e-6)


@pytest.mark.parametrize("name", ["running_mean", "running_var", "weight", "bias"])
def test_batch_norm_shape_errors_name_the_argument(name):
    args = {"running_mean": mg.zeros(3), "running_var": mg.ones(3), "weight": mg.ones(3),
            "bias": mg.zeros(3)}
    args[name] = mg.ones(4)
    with pytest.raises(ValueError, match=exactly(f"batch_norm: {name} must have shape (3,), "
                                                 f"got (4,)")):
        F.batch_norm(mg.zeros(2, 3, 5), args["running_mean"], args["running_var"],
                     args["weight"], args["bias"])


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_batch_norm_trains_on_one_sample_with_two_values_per_channel(dtype):
    # the count of values per channel is N times the spatial size: (1, 3, 2) has 2, enough
    x = np.array([[[1.0, 3.0], [-2.0, 2.0], [0.0, 0.5]]], dtype=dtype)
    got = F.batch_norm(mg.tensor(x), None, None, training=True, eps=0.0).numpy()
    np.testing.assert_allclose(got, [[[-1.0, 1.0], [-1.0, 1.0], [-1.0, 1.0]]], rtol=1e-3)
    with pytest.raises(ValueError, match=exactly(
            "batch_norm: expected more than 1 value per channel in training, got input of "
            "shape (1, 3, 1)")):
        F.batch_norm(mg.tensor(x[:, :, :1]), None, None, training=True)


@pytest.mark.parametrize("weight_dtype", [None, np.float32])
def test_batch_norm_with_a_float64_bias_on_float32_input_promotes_like_numpy(weight_dtype):
    # a bias of another dtype keeps the input off the fused kernel (which would compute in, and
    # return, float32); the composite promotes as NumPy does
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    weight = None if weight_dtype is None else rng.uniform(0.5, 2.0, 3).astype(weight_dtype)
    bias = rng.standard_normal(3)
    got = F.batch_norm(mg.tensor(x), None, None,
                       None if weight is None else mg.tensor(weight), mg.tensor(bias),
                       training=True)
    assert got.dtype == np.float64
    x64 = x.astype(np.float64)
    expected = batch_norm_reference(x64, x64.mean(0), x64.var(0), weight, bias)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norms_of_empty_tensors_are_empty(dtype):
    # the fused kernels refuse tensors without values; the composite returns them, gradient and
    # all (PyTorch does the same for these shapes)
    for fn, shape in [(lambda x: F.batch_norm(x, None, None), (0, 3, 2)),
                      (lambda x: F.batch_norm(x, None, None), (2, 3, 0)),
                      (lambda x: F.instance_norm(x), (2, 3, 0)),
                      (lambda x: F.group_norm(x, 3), (2, 3, 0)),
                      (lambda x: F.layer_norm(x, (3, 0)), (2, 3, 0))]:
        x = mg.tensor(np.zeros(shape, dtype=dtype), requires_grad=True)
        y = fn(x)
        assert y.shape == shape and y.dtype == dtype
        y.sum().backward()
        assert x.grad.shape == shape


@pytest.mark.parametrize("shape", [(0, 4, 3), (0, 4)])
def test_group_norm_of_an_empty_batch_is_empty(shape):
    # as PyTorch's: reshaping to (0, groups, -1) had no size to infer the last axis from
    x = mg.tensor(np.zeros(shape), requires_grad=True)
    y = F.group_norm(x, 2, mg.ones(4), mg.zeros(4))
    assert y.shape == shape and y.dtype == np.float64
    y.sum().backward()
    assert x.grad.shape == shape


def test_instance_norm_default_momentum_is_one_tenth():
    x = np.random.default_rng(3).standard_normal((3, 2, 4)) * 2.0 + 0.5
    running_mean, running_var = mg.tensor(np.array([1.0, -1.0])), mg.tensor(np.array([2.0, 0.5]))
    F.instance_norm(mg.tensor(x), running_mean, running_var)
    mean, var = x.mean(2).mean(0), (x.var(2) * 4 / 3).mean(0)
    np.testing.assert_allclose(running_mean.numpy(), 0.9 * np.array([1.0, -1.0]) + 0.1 * mean,
                               rtol=1e-12)
    np.testing.assert_allclose(running_var.numpy(), 0.9 * np.array([2.0, 0.5]) + 0.1 * var,
                               rtol=1e-12)


def test_instance_norm_names_a_running_var_of_the_wrong_shape():
    with pytest.raises(ValueError, match=exactly("instance_norm: running_var must have shape "
                                                 "(3,), got (4,)")):
        F.instance_norm(mg.zeros(2, 3, 4), mg.zeros(3), mg.ones(4))


@pytest.mark.parametrize("shape", [(0, 3), (0, 3, 4), (2, 3, 0)])
def test_batch_norm_of_an_empty_batch_in_training_is_empty_and_keeps_the_statistics(shape):
    # PyTorch returns the empty tensor and leaves running_mean and running_var as they were
    # (their mean over no values would be NaN); one value per channel is still refused above
    running_mean, running_var = mg.tensor([0.5, -1.0, 2.0]), mg.tensor([1.5, 2.0, 0.25])
    x = mg.zeros(*shape, requires_grad=True)
    weight, bias = mg.ones(3, requires_grad=True), mg.zeros(3, requires_grad=True)
    y = F.batch_norm(x, running_mean, running_var, weight, bias, training=True)
    assert y.shape == shape and y.dtype == np.float32
    np.testing.assert_array_equal(running_mean.numpy(), [0.5, -1.0, 2.0])
    np.testing.assert_array_equal(running_var.numpy(), [1.5, 2.0, 0.25])
    y.sum().backward()
    assert x.grad.shape == shape
    np.testing.assert_array_equal(weight.grad.numpy(), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(bias.grad.numpy(), [0.0, 0.0, 0.0])
    assert F.batch_norm(mg.zeros(*shape), None, None).shape == shape
