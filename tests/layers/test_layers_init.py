"""layers.init: gains, fans, the empirical spread of each initialiser, and the layers' defaults.

Empirical checks use a few hundred thousand draws, so the sample std is within about 0.5% of
the true one; the tolerances (2-3%) leave a wide margin while still catching a wrong formula
(a wrong gain or fan changes the std by 15% or more).
"""
import math

import numpy as np
import pytest

import minigrad as mg
from layers import (BatchNorm2d, Conv2d, ConvTranspose2d, Embedding, GroupNorm, LayerNorm,
                    Linear, Parameter, init)


def big(*shape):
    return mg.zeros(*shape)


def test_calculate_gain():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative slope"):
        init.calculate_gain("leaky_relu", True)


def test_fans_follow_pytorch():
    assert init.calculate_fan_in_and_fan_out(Linear(7, 3).weight) == (7, 3)
    conv = Conv2d(8, 6, (3, 5), groups=2)
    assert conv.weight.shape == (6, 4, 3, 5)
    assert init.calculate_fan_in_and_fan_out(conv.weight) == (4 * 15, 6 * 15)
    deconv = ConvTranspose2d(8, 6, 3, groups=2)
    assert deconv.weight.shape == (8, 3, 3, 3)
    # PyTorch's rule reads the fans off the weight's axes as they are, transposed layout or not
    assert init.calculate_fan_in_and_fan_out(deconv.weight) == (3 * 9, 8 * 9)
    with pytest.raises(ValueError, match=r"at least 2 axes .* shape \(5,\)"):
        init.calculate_fan_in_and_fan_out(mg.zeros(5))
    with pytest.raises(TypeError, match="expected a Tensor"):
        init.calculate_fan_in_and_fan_out(np.zeros((2, 2)))


def test_functions_write_in_place_and_return_the_tensor():
    p = Parameter(mg.zeros(40, 30))  # requires grad: allowed, since init runs under no_grad
    array = p.data
    for fill in (init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_,
                 init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_,
                 init.trunc_normal_, init.ones_, init.zeros_):
        assert fill(p) is p and p.data is array
    assert init.constant_(p, 0.25) is p and np.all(array == 0.25)
    assert p.dtype == np.float32 and p.requires_grad and p.grad is None
    with pytest.raises(TypeError, match="floating-point"):
        init.normal_(mg.zeros(3, dtype=np.int64))


def test_uniform_and_normal_statistics():
    t = init.uniform_(big(500, 400), -0.5, 1.5)
    assert t.numpy().min() >= -0.5 and t.numpy().max() <= 1.5
    assert t.numpy().mean() == pytest.approx(0.5, abs=0.01)
    assert t.numpy().std() == pytest.approx(2 / math.sqrt(12), rel=0.02)
    t = init.normal_(big(500, 400), 3.0, 0.5)
    assert t.numpy().mean() == pytest.approx(3.0, abs=0.01)
    assert t.numpy().std() == pytest.approx(0.5, rel=0.02)


def test_kaiming_uniform_bound_and_std():
    t = big(256, 64, 3, 3)                       # fan_in 576
    init.kaiming_uniform_(t, a=0, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 576)
    values = t.numpy()
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_kaiming_normal_fan_out_std():
    t = big(128, 512, 2, 2)                      # fan_out 512, fan_in 2048
    init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert t.numpy().std() == pytest.approx(math.sqrt(2 / 512), rel=0.02)
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(t, mode="fan_avg")


def test_xavier_bounds_and_std():
    t = init.xavier_uniform_(big(600, 400), gain=init.calculate_gain("tanh"))
    bound = 5 / 3 * math.sqrt(6 / 1000)
    assert np.abs(t.numpy()).max() <= bound
    assert t.numpy().std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    t = init.xavier_normal_(big(600, 400))
    assert t.numpy().std() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)


def test_trunc_normal_stays_in_bounds_with_the_truncated_std():
    t = init.trunc_normal_(big(500, 400), mean=0.0, std=1.0, a=-2.0, b=2.0)
    values = t.numpy()
    assert values.min() >= -2 and values.max() <= 2
    phi = math.exp(-2) / math.sqrt(2 * math.pi)          # density at ±2
    mass = math.erf(2 / math.sqrt(2))                    # P(|z| <= 2)
    assert values.std() == pytest.approx(math.sqrt(1 - 4 * phi / mass), rel=0.02)
    assert values.mean() == pytest.approx(0, abs=0.01)
    narrow = init.trunc_normal_(big(1000), mean=0.0, std=1.0, a=2.0, b=3.0)  # 2% of the mass
    assert narrow.numpy().min() >= 2 and narrow.numpy().max() <= 3
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(big(3), a=1.0, b=0.0)


@pytest.mark.parametrize("shape", [(3, 7), (7, 3), (4, 2, 3, 3)])
def test_orthogonal(shape):
    t = init.orthogonal_(big(*shape), gain=2.0)
    m = t.numpy().reshape(shape[0], -1).astype(np.float64)
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(gram, 4 * np.eye(gram.shape[0]), atol=1e-5)


def test_constant_fills():
    assert init.ones_(big(2, 3)).tolist() == [[1.0] * 3] * 2
    assert init.zeros_(mg.ones(4)).tolist() == [0.0] * 4
    assert init.constant_(big(2), -3.5).tolist() == [-3.5, -3.5]


def test_linear_and_conv_defaults_match_pytorch_formulas():
    linear = Linear(500, 400)
    bound = 1 / math.sqrt(500)
    w = linear.weight.numpy()
    assert np.abs(w).max() <= bound and w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert np.abs(linear.bias.numpy()).max() <= bound
    assert linear.bias.numpy().std() > 0.5 * bound / math.sqrt(3)
    conv = Conv2d(32, 256, 3, groups=2)            # fan_in = 16 * 9
    bound = 1 / math.sqrt(144)
    w = conv.weight.numpy()
    assert np.abs(w).max() <= bound and w.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert np.abs(conv.bias.numpy()).max() <= bound
    deconv = ConvTranspose2d(256, 64, 3, groups=2)  # weight (256, 32, 3, 3): fan_in = 32 * 9
    bound = 1 / math.sqrt(288)
    w = deconv.weight.numpy()
    assert np.abs(w).max() <= bound and w.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert np.abs(deconv.bias.numpy()).max() <= bound


def test_norm_and_embedding_defaults():
    for layer in (BatchNorm2d(5), GroupNorm(1, 5), LayerNorm(5)):
        assert layer.weight.tolist() == [1.0] * 5 and layer.bias.tolist() == [0.0] * 5
    bn = BatchNorm2d(3)
    assert bn.running_mean.tolist() == [0.0] * 3 and bn.running_var.tolist() == [1.0] * 3
    assert bn.num_batches_tracked.item() == 0 and bn.num_batches_tracked.shape == ()
    table = Embedding(2000, 100, padding_idx=-1).weight.numpy()
    assert table.mean() == pytest.approx(0, abs=0.01)
    assert table.std() == pytest.approx(1, rel=0.02)
    assert not table[-1].any()


def test_manual_seed_makes_init_reproducible():
    mg.manual_seed(7)
    a = Linear(5, 4)
    mg.manual_seed(7)
    b = Linear(5, 4)
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())


def drawn_like_numpy(fill, shape, expected_draw, seed=11):
    """Run ``fill`` on a fresh float64 tensor and the NumPy draw it documents from the same
    seed (the init functions draw from the global generator that mg.manual_seed seeds)."""
    t = mg.zeros(*shape, dtype=np.float64)
    mg.manual_seed(seed)
    fill(t)
    mg.manual_seed(seed)
    return (t.numpy(), expected_draw())


# (fill, the distribution it must draw from) for a weight of shape (6, 4, 3, 2):
# fan_in = 4·6 = 24, fan_out = 6·6 = 36.
SHAPE = (6, 4, 3, 2)
FAN_IN, FAN_OUT = 24, 36
EXACT_CASES = [
    ("kaiming_uniform_ default: leaky_relu gain with a=0, fan_in",
     lambda t: init.kaiming_uniform_(t),
     lambda: np.random.uniform(-math.sqrt(6 / FAN_IN), math.sqrt(6 / FAN_IN), SHAPE)),
    ("kaiming_uniform_ a=0.3 uses the slope in the gain",
     lambda t: init.kaiming_uniform_(t, a=0.3),
     lambda: np.random.uniform(-math.sqrt(6 / (1.09 * FAN_IN)), math.sqrt(6 / (1.09 * FAN_IN)),
                               SHAPE)),
    ("kaiming_uniform_ fan_out, relu",
     lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"),
     lambda: np.random.uniform(-math.sqrt(6 / FAN_OUT), math.sqrt(6 / FAN_OUT), SHAPE)),
    ("kaiming_uniform_ tanh ignores a",
     lambda t: init.kaiming_uniform_(t, a=5.0, nonlinearity="tanh"),
     lambda: np.random.uniform(-5 / 3 * math.sqrt(3 / FAN_IN), 5 / 3 * math.sqrt(3 / FAN_IN),
                               SHAPE)),
    ("kaiming_normal_ default",
     lambda t: init.kaiming_normal_(t),
     lambda: np.random.normal(0, math.sqrt(2 / FAN_IN), SHAPE)),
    ("kaiming_normal_ a=0.5, fan_out",
     lambda t: init.kaiming_normal_(t, a=0.5, mode="fan_out"),
     lambda: np.random.normal(0, math.sqrt(2 / 1.25) / math.sqrt(FAN_OUT), SHAPE)),
    ("kaiming_normal_ linear",
     lambda t: init.kaiming_normal_(t, nonlinearity="linear"),
     lambda: np.random.normal(0, 1 / math.sqrt(FAN_IN), SHAPE)),
    ("xavier_uniform_ gain 2",
     lambda t: init.xavier_uniform_(t, gain=2.0),
     lambda: np.random.uniform(-2 * math.sqrt(6 / 60), 2 * math.sqrt(6 / 60), SHAPE)),
    ("xavier_normal_ gain 0.5",
     lambda t: init.xavier_normal_(t, gain=0.5),
     lambda: np.random.normal(0, 0.5 * math.sqrt(2 / 60), SHAPE)),
    ("uniform_ a, b", lambda t: init.uniform_(t, -0.25, 3.0),
     lambda: np.random.uniform(-0.25, 3.0, SHAPE)),
    ("normal_ mean, std", lambda t: init.normal_(t, 2.0, 0.1),
     lambda: np.random.normal(2.0, 0.1, SHAPE)),
    ("Linear default: kaiming_uniform_(a=√5)",
     lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)),
     lambda: np.random.uniform(-1 / math.sqrt(FAN_IN), 1 / math.sqrt(FAN_IN), SHAPE)),
]


@pytest.mark.parametrize("label, fill, expected", EXACT_CASES, ids=[c[0] for c in EXACT_CASES])
def test_init_draws_exactly_the_documented_distribution(label, fill, expected):
    got, want = drawn_like_numpy(fill, SHAPE, expected)
    np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=label)


def test_default_linear_init_bias_bound_uses_the_weight_fan_in():
    weight, bias = mg.zeros(3, 5, 2, 2, dtype=np.float64), mg.zeros(3, dtype=np.float64)
    mg.manual_seed(4)
    init.default_linear_init_(weight, bias)
    mg.manual_seed(4)
    bound = 1 / math.sqrt(20)
    np.testing.assert_allclose(weight.numpy(), np.random.uniform(-bound, bound, (3, 5, 2, 2)),
                               rtol=1e-12)
    np.testing.assert_allclose(bias.numpy(), np.random.uniform(-bound, bound, 3), rtol=1e-12)


def test_kaiming_and_xavier_reject_bad_options():
    t = mg.zeros(3, 4)
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_uniform_(t, mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.kaiming_normal_(t, nonlinearity="swish")
    with pytest.raises(ValueError, match="at least 2 axes"):
        init.xavier_uniform_(mg.zeros(4))
    with pytest.raises(ValueError, match=r"expected a <= b, got a=1, b=0"):
        init.uniform_(t, 1, 0)
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal_(t, 0.0, -1.0)
