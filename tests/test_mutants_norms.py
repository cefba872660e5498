"""Documented rules of ``minigrad/norms.py`` that the rest of the suite did not pin down: each
test here fails for a small, realistic change to it (a default read one off, a bound moved by
one, a branch always taken, an error naming no function), each against a NumPy reference."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F


def lrn_reference(x, size, alpha, beta, k):
    """PyTorch's local response norm written with NumPy loops over the channel window."""
    C = x.shape[1]
    out = np.empty_like(x)
    for c in range(C):
        lo, hi = max(c - size // 2, 0), min(c + (size - 1) // 2, C - 1)
        s = (x[:, lo:hi + 1] ** 2).sum(axis=1)
        out[:, c] = x[:, c] / (k + alpha / size * s) ** beta
    return out


def test_local_response_norm_defaults_are_pytorchs():
    # alpha=1e-4, beta=0.75, k=1; inputs of size ~30 make each default show in the values
    x = np.random.default_rng(0).uniform(-30.0, 30.0, (2, 5, 3))
    got = F.local_response_norm(mg.tensor(x), 3).numpy()
    np.testing.assert_allclose(got, lrn_reference(x, 3, 1e-4, 0.75, 1.0), rtol=1e-12)
    assert not np.allclose(got, x, rtol=1e-3)


@pytest.mark.parametrize("size", [1, 4, 5])
def test_local_response_norm_windows_of_any_size(size):
    x = np.random.default_rng(size).standard_normal((2, 6, 2, 3))
    got = F.local_response_norm(mg.tensor(x), size, alpha=0.7, beta=0.6, k=1.5).numpy()
    np.testing.assert_allclose(got, lrn_reference(x, size, 0.7, 0.6, 1.5), rtol=1e-12)


def test_local_response_norm_of_size_1_divides_each_entry_by_its_own_square():
    x = np.array([[[1.0], [2.0]]])
    got = F.local_response_norm(mg.tensor(x), 1, alpha=2.0, beta=1.0, k=1.0).numpy().ravel()
    np.testing.assert_allclose(got, [1 / 3, 2 / 9], rtol=1e-15)


@pytest.mark.parametrize("size", [1.5, 2.0, True, -1])
def test_local_response_norm_refuses_a_size_that_is_not_a_positive_int(size):
    with pytest.raises(ValueError, match=rf"^local_response_norm: size must be an int >= 1, "
                                         rf"got {size!r}$"):
        F.local_response_norm(mg.zeros(1, 2, 3), size)


def test_local_response_norm_refuses_integer_input_naming_itself():
    with pytest.raises(TypeError, match=r"^local_response_norm: expected a floating-point "
                                        r"input, got dtype int64$"):
        F.local_response_norm(mg.zeros(1, 2, 3, dtype=np.int64), 2)


@pytest.mark.parametrize("fn, name", [
    (lambda x: F.group_norm(x, 1), "group_norm"),
    (lambda x: F.instance_norm(x), "instance_norm"),
    (lambda x: F.batch_norm(x, None, None), "batch_norm"),
    (lambda x: F.layer_norm(x, 3), "layer_norm")])
def test_norms_refuse_integer_input_naming_themselves(fn, name):
    with pytest.raises(TypeError, match=rf"^{name}: expected a floating-point input, got dtype "
                                        rf"int32$"):
        fn(mg.zeros(2, 2, 3, dtype=np.int32))


def test_group_norm_refuses_groups_that_do_not_divide_the_channels_saying_why():
    with pytest.raises(ValueError, match=r"^group_norm: 6 channels \(input shape \(2, 6, 3\)\) "
                                         r"cannot be split into 4 groups$"):
        F.group_norm(mg.zeros(2, 6, 3), 4)


def test_instance_norm_uses_the_input_statistics_by_default_even_given_running_ones():
    x = np.random.default_rng(1).standard_normal((2, 3, 5)) * 4.0 + 2.0
    running_mean, running_var = mg.tensor(np.full(3, 10.0)), mg.tensor(np.full(3, 9.0))
    got = F.instance_norm(mg.tensor(x), running_mean, running_var, eps=1e-5).numpy()
    mean, var = x.mean(2, keepdims=True), x.var(2, keepdims=True)
    np.testing.assert_allclose(got, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10)
    # with use_input_stats=False the running statistics are used instead, as in eval mode
    # (eps=0.5, not the default, so that it must reach batch_norm as eps); the call above moved
    # the running statistics, so fresh ones
    running_mean, running_var = mg.tensor(np.full(3, 10.0)), mg.tensor(np.full(3, 9.0))
    got = F.instance_norm(mg.tensor(x), running_mean, running_var, use_input_stats=False,
                          eps=0.5).numpy()
    np.testing.assert_allclose(got, (x - 10.0) / np.sqrt(9.0 + 0.5), rtol=1e-10)
    # ... and left alone
    assert running_mean.tolist() == [10.0] * 3 and running_var.tolist() == [9.0] * 3


@pytest.mark.parametrize("shape", [(2, 3, 5), (4, 2, 3, 2), (1, 1, 2)])
def test_instance_norm_updates_the_running_statistics_it_is_given(shape):
    # PyTorch's rule: move by momentum towards the batch average of the per-instance means and
    # unbiased variances
    x = np.random.default_rng(2).standard_normal(shape) * 3.0 + 1.0
    C, axes = shape[1], tuple(range(2, len(shape)))
    running_mean = mg.tensor(np.full(C, 0.5))
    running_var = mg.tensor(np.full(C, 2.0, dtype=np.float32))
    F.instance_norm(mg.tensor(x), running_mean, running_var, momentum=0.3)
    count = int(np.prod(shape[2:]))
    mean = x.mean(axes).mean(0)
    var = (x.var(axes) * count / (count - 1)).mean(0)
    np.testing.assert_allclose(running_mean.numpy(), 0.7 * 0.5 + 0.3 * mean, rtol=1e-12)
    np.testing.assert_allclose(running_var.numpy(), 0.7 * 2.0 + 0.3 * var, rtol=1e-6)
    assert running_var.dtype == np.float32  # the buffer keeps its dtype


def test_instance_norm_checks_the_running_statistics_it_updates():
    x = mg.zeros(2, 3, 4)
    with pytest.raises(ValueError, match=r"^instance_norm: running_mean must have shape \(3,\), "
                                         r"got \(4,\)$"):
        F.instance_norm(x, mg.zeros(4), mg.ones(4))
    with pytest.raises(ValueError, match="^instance_norm: give both running_mean and "
                                         "running_var, or neither$"):
        F.instance_norm(x, mg.zeros(3), None)


def test_instance_norm_running_statistics_vs_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(4).standard_normal((3, 2, 6))
    mean, var = mg.tensor(np.zeros(2)), mg.tensor(np.ones(2))
    tm, tv = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    for _ in range(2):
        F.instance_norm(mg.tensor(x), mean, var, momentum=0.2)
        torch.nn.functional.instance_norm(torch.tensor(x), tm, tv, momentum=0.2)
    np.testing.assert_allclose(mean.numpy(), tm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(var.numpy(), tv.numpy(), rtol=1e-12)


def test_rms_norm_default_eps_is_the_epsilon_of_float32_for_float32_input():
    # mean(x²) = 5e-9 is far below float32's epsilon (1.19e-7), which then dominates the root
    x = np.array([[1e-4, 0.0]], dtype=np.float32)
    got = F.rms_norm(mg.tensor(x), 2).numpy()
    eps = float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(got, x / np.sqrt(5e-9 + eps), rtol=1e-5)


def layer_norm_reference(x, weight, bias, eps=1e-5):
    x = x.astype(np.float64)
    out = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)
    return out * (1.0 if weight is None else weight) + (0.0 if bias is None else bias)


@pytest.mark.parametrize("with_weight, with_bias", [(True, False), (False, True), (True, True)])
def test_layer_norm_with_float64_parameters_on_float32_input_promotes_like_numpy(with_weight,
                                                                                with_bias):
    # mixed dtypes take the composite, whose float32 * float64 is float64 (the fused kernel
    # would compute in, and return, float32)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    weight = rng.standard_normal(3) if with_weight else None
    bias = rng.standard_normal(3) if with_bias else None
    got = F.layer_norm(mg.tensor(x), 3, None if weight is None else mg.tensor(weight),
                       None if bias is None else mg.tensor(bias))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.numpy(), layer_norm_reference(x, weight, bias), rtol=1e-6)


def test_layer_norm_of_float16_input_stays_float16():
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float16)
    got = F.layer_norm(mg.tensor(x), 4)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.numpy(), layer_norm_reference(x, None, None), atol=5e-3)


@pytest.mark.parametrize("call, message", [
    (lambda: F.layer_norm(mg.zeros(2, 3), 2),
     r"^layer_norm: input of shape \(2, 3\) does not end with normalized_shape \(2,\)$"),
    (lambda: F.layer_norm(mg.zeros(2, 3), 3, weight=mg.ones(2)),
     r"^layer_norm: weight must have shape \(3,\), got \(2,\)$"),
    (lambda: F.layer_norm(mg.zeros(2, 3), 3, bias=mg.ones(1)),
     r"^layer_norm: bias must have shape \(3,\), got \(1,\)$"),
])
def test_layer_norm_refuses_shapes_naming_itself_and_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_layer_norm_composite_over_two_trailing_axes_with_its_eps_weight_and_bias():
    # float64 parameters on float32 input take the composite path, here over the last two axes
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32) * 3.0 + 1.0
    weight, bias = rng.uniform(0.5, 2.0, (3, 4)), rng.standard_normal((3, 4))
    got = F.layer_norm(mg.tensor(x), (3, 4), mg.tensor(weight), mg.tensor(bias), eps=0.25)
    x64 = x.astype(np.float64)
    mean, var = x64.mean((1, 2), keepdims=True), x64.var((1, 2), keepdims=True)
    np.testing.assert_allclose(got.numpy(), (x64 - mean) / np.sqrt(var + 0.25) * weight + bias,
                               rtol=1e-5)


@pytest.mark.parametrize("momentum", [0.3, 1.0])
def test_batch_norm_composite_in_training_updates_nonzero_running_statistics(momentum):
    # float64 weight on float32 input takes the composite path; the running statistics start
    # away from 0 and 1 so that every term of (1 - m)·running + m·batch shows
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3, 2)).astype(np.float32) * 2.0 + 0.5
    weight, bias = rng.uniform(0.5, 2.0, 3), rng.standard_normal(3)
    start_mean, start_var = np.array([1.0, -2.0, 3.0]), np.array([0.5, 2.0, 4.0])
    running_mean, running_var = mg.tensor(start_mean.copy()), mg.tensor(start_var.copy())
    got = F.batch_norm(mg.tensor(x), running_mean, running_var, mg.tensor(weight),
                       mg.tensor(bias), training=True, momentum=momentum, eps=0.1)
    x64 = x.astype(np.float64)
    mean, var = x64.mean((0, 2)), x64.var((0, 2))
    expected = ((x64 - mean[:, None]) / np.sqrt(var[:, None] + 0.1) * weight[:, None]
                + bias[:, None])
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(running_mean.numpy(), (1 - momentum) * start_mean
                               + momentum * mean, rtol=1e-6)
    np.testing.assert_allclose(running_var.numpy(), (1 - momentum) * start_var
                               + momentum * var * 8 / 7, rtol=1e-6)


def test_norms_refuse_a_non_tensor_naming_the_type():
    with pytest.raises(TypeError, match=r"^layer_norm: expected a Tensor input, got ndarray$"):
        F.layer_norm(np.zeros((2, 3)), 3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_of_an_empty_batch_is_empty(dtype):
    x = mg.tensor(np.zeros((0, 3), dtype=dtype))
    assert F.layer_norm(x, 3).shape == (0, 3)
    assert F.layer_norm(x, 3).dtype == dtype
