"""Each layer's forward pass against a slow, obvious NumPy reference written here."""
import math

import numpy as np
import pytest

import minigrad as mg
from layers import (AdaptiveAvgPool2d, AvgPool2d, Bilinear, Conv2d, ConvTranspose2d, ELU,
                    GELU, LeakyReLU, Linear, LogSoftmax, MaxPool2d, MaxUnpool2d, ReLU, SELU,
                    Sigmoid, SiLU, Softmax, Softplus, Tanh, Upsample)


def as64(layer):
    """The layer in float64, so that references can be compared tightly."""
    return layer.double()


def conv2d_reference(x, w, b, stride, padding, dilation, groups):
    """Cross-correlation by explicit windows, one (group, oh, ow) at a time."""
    N, C, H, W = x.shape
    K, Cg, KH, KW = w.shape
    (SH, SW), (PH, PW), (DH, DW) = stride, padding, dilation
    padded = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    Kg = K // groups
    out = np.zeros((N, K, OH, OW))
    for g in range(groups):
        for oh in range(OH):
            for ow in range(OW):
                patch = padded[:, g * Cg:(g + 1) * Cg,
                               oh * SH:oh * SH + DH * (KH - 1) + 1:DH,
                               ow * SW:ow * SW + DW * (KW - 1) + 1:DW]
                out[:, g * Kg:(g + 1) * Kg, oh, ow] = np.einsum(
                    "nchw,kchw->nk", patch, w[g * Kg:(g + 1) * Kg])
    return out + (0 if b is None else b[None, :, None, None])


def conv_transpose2d_reference(x, w, b, stride, padding, output_padding, dilation, groups):
    """Every input pixel scatters a weighted copy of the kernel onto the output."""
    N, C, H, W = x.shape
    _, Kg, KH, KW = w.shape
    (SH, SW), (PH, PW), (OPH, OPW), (DH, DW) = stride, padding, output_padding, dilation
    Cg = C // groups
    full = np.zeros((N, Kg * groups, (H - 1) * SH + DH * (KH - 1) + 1 + OPH,
                     (W - 1) * SW + DW * (KW - 1) + 1 + OPW))
    for g in range(groups):
        for h in range(H):
            for v in range(W):
                for kh in range(KH):
                    for kw in range(KW):
                        full[:, g * Kg:(g + 1) * Kg, h * SH + kh * DH, v * SW + kw * DW] += \
                            x[:, g * Cg:(g + 1) * Cg, h, v] @ w[g * Cg:(g + 1) * Cg, :, kh, kw]
    OH = (H - 1) * SH - 2 * PH + DH * (KH - 1) + 1 + OPH
    OW = (W - 1) * SW - 2 * PW + DW * (KW - 1) + 1 + OPW
    out = full[:, :, PH:PH + OH, PW:PW + OW]
    return out + (0 if b is None else b[None, :, None, None])


def test_linear_matches_reference_on_any_leading_axes():
    layer = as64(Linear(4, 3))
    x = np.random.default_rng(0).standard_normal((2, 5, 4))
    expected = x @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-12)
    no_bias = as64(Linear(4, 3, bias=False))
    np.testing.assert_allclose(no_bias(mg.tensor(x)).numpy(), x @ no_bias.weight.numpy().T)
    with pytest.raises(ValueError, match=r"Linear: .*\(2, 5\)"):
        layer(mg.zeros(2, 5, dtype=np.float64))


def test_bilinear_matches_einsum():
    layer = as64(Bilinear(3, 4, 2))
    rng = np.random.default_rng(1)
    x1, x2 = rng.standard_normal((5, 3)), rng.standard_normal((5, 4))
    expected = np.einsum("ni,oij,nj->no", x1, layer.weight.numpy(), x2) + layer.bias.numpy()
    np.testing.assert_allclose(layer(mg.tensor(x1), mg.tensor(x2)).numpy(), expected,
                               rtol=1e-12)


@pytest.mark.parametrize("config", [
    dict(stride=1, padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, dilation=1, groups=1),
    dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=2),
])
def test_conv2d_matches_reference(config):
    layer = as64(Conv2d(4, 6, (3, 2), **config))
    x = np.random.default_rng(2).standard_normal((2, 4, 7, 6))
    pairs = {k: (v, v) if isinstance(v, int) else v for k, v in config.items() if k != "groups"}
    expected = conv2d_reference(x, layer.weight.numpy(), layer.bias.numpy(), pairs["stride"],
                                pairs["padding"], pairs["dilation"], config["groups"])
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-10, atol=1e-12)


def test_conv2d_same_padding_and_unbatched_input():
    layer = as64(Conv2d(2, 3, 3, padding="same", bias=False))
    x = np.random.default_rng(3).standard_normal((2, 5, 4))
    expected = conv2d_reference(x[None], layer.weight.numpy(), None, (1, 1), (1, 1), (1, 1), 1)
    out = layer(mg.tensor(x))
    assert out.shape == (3, 5, 4)
    np.testing.assert_allclose(out.numpy(), expected[0], rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="expected 2 input channels"):
        layer(mg.zeros(1, 3, 5, 5, dtype=np.float64))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) or \(C, H, W\)"):
        layer(mg.zeros(5, 5, dtype=np.float64))
    with pytest.raises(ValueError, match="divisible by groups"):
        Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="stride 1"):
        Conv2d(3, 4, 3, stride=2, padding="same")


@pytest.mark.parametrize("config", [
    dict(stride=1, padding=0, output_padding=0, dilation=1, groups=1),
    dict(stride=2, padding=1, output_padding=1, dilation=1, groups=1),
    dict(stride=(2, 1), padding=(0, 1), output_padding=(1, 0), dilation=(1, 2), groups=2),
])
def test_conv_transpose2d_matches_reference(config):
    layer = as64(ConvTranspose2d(4, 6, (3, 2), **config))
    assert layer.weight.shape == (4, 3 if config["groups"] == 2 else 6, 3, 2)
    x = np.random.default_rng(4).standard_normal((2, 4, 4, 3))
    pairs = {k: (v, v) if isinstance(v, int) else v for k, v in config.items() if k != "groups"}
    expected = conv_transpose2d_reference(x, layer.weight.numpy(), layer.bias.numpy(),
                                          pairs["stride"], pairs["padding"],
                                          pairs["output_padding"], pairs["dilation"],
                                          config["groups"])
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-10, atol=1e-12)


def test_conv_transpose2d_output_size_picks_output_padding():
    layer = as64(ConvTranspose2d(2, 1, 3, stride=2, padding=1))
    x = mg.randn(1, 2, 4, 4, dtype=np.float64)
    assert layer(x).shape == (1, 1, 7, 7)
    assert layer(x, output_size=(8, 7)).shape == (1, 1, 8, 7)
    reference = as64(ConvTranspose2d(2, 1, 3, stride=2, padding=1, output_padding=(1, 0)))
    reference.load_state_dict(layer.state_dict())
    np.testing.assert_allclose(layer(x, output_size=(1, 1, 8, 7)).numpy(), reference(x).numpy())
    with pytest.raises(ValueError, match="between 7 and 8"):
        layer(x, output_size=(9, 7))


def test_max_pool_and_unpool_match_reference():
    x = np.random.default_rng(5).permutation(2 * 3 * 4 * 6).reshape(2, 3, 4, 6).astype(float)
    pool = MaxPool2d(2, return_indices=True)
    y, indices = pool(mg.tensor(x))
    windows = x.reshape(2, 3, 2, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 2, 3, 4)
    np.testing.assert_array_equal(y.numpy(), windows.max(-1))
    flat = x.reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, indices.numpy().reshape(2, 3, -1), 2),
                                  windows.max(-1).reshape(2, 3, -1))
    restored = MaxUnpool2d(2)(y, indices).numpy()
    np.testing.assert_array_equal(restored, np.where(restored != 0, x, 0))
    assert (restored != 0).sum() == y.numpy().size
    strided = MaxPool2d(3, stride=1, padding=1)(mg.tensor(x))
    assert strided.shape == (2, 3, 4, 6)
    assert MaxPool2d(2)(mg.tensor(x[0])).shape == (3, 2, 3)  # unbatched


def test_avg_and_adaptive_pool_match_reference():
    x = np.random.default_rng(6).standard_normal((2, 3, 6, 5))
    y = AvgPool2d(2, stride=(2, 1))(mg.tensor(x)).numpy()
    expected = np.stack([np.stack([x[:, :, 2 * i:2 * i + 2, j:j + 2].mean((2, 3))
                                   for j in range(4)], -1) for i in range(3)], -2)
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    a = AdaptiveAvgPool2d((4, 3))(mg.tensor(x)).numpy()
    for i in range(4):
        for j in range(3):
            rows = slice(math.floor(i * 6 / 4), math.ceil((i + 1) * 6 / 4))
            cols = slice(math.floor(j * 5 / 3), math.ceil((j + 1) * 5 / 3))
            np.testing.assert_allclose(a[:, :, i, j], x[:, :, rows, cols].mean((2, 3)))
    np.testing.assert_allclose(AdaptiveAvgPool2d(1)(mg.tensor(x)).numpy()[..., 0, 0],
                               x.mean((2, 3)))


def test_upsample():
    x = np.arange(6, dtype=float).reshape(1, 1, 2, 3)
    near = Upsample(scale_factor=2)(mg.tensor(x)).numpy()
    np.testing.assert_array_equal(near, x.repeat(2, axis=2).repeat(2, axis=3))
    line = Upsample(size=(1, 5), mode="bilinear", align_corners=True)(mg.tensor(x[:, :, :1]))
    np.testing.assert_allclose(line.numpy()[0, 0, 0], [0, 0.5, 1, 1.5, 2])
    assert repr(Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        Upsample()


def _erf(x):
    return np.vectorize(math.erf)(x)


@pytest.mark.parametrize("layer, reference", [
    (ReLU(), lambda x: np.maximum(x, 0)),
    (LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (ELU(0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1))),
    (SELU(), lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772
                                                      * (np.exp(x) - 1))),
    (GELU(), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2)))),
    (GELU("tanh"), lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                     * (x + 0.044715 * x ** 3)))),
    (Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (Tanh(), np.tanh),
    (SiLU(), lambda x: x / (1 + np.exp(-x))),
    (Softplus(), lambda x: np.log1p(np.exp(x))),
    (Softplus(beta=2.0, threshold=3.0),
     lambda x: np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2)),
    (Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (LogSoftmax(dim=0), lambda x: x - np.log(np.exp(x).sum(0, keepdims=True))),
])
def test_activations_match_reference(layer, reference):
    x = np.random.default_rng(7).uniform(-4, 4, (5, 6))
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), reference(x), rtol=1e-10,
                               atol=1e-12)


def test_activation_reprs():
    assert repr(ReLU()) == "ReLU()" and repr(ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(GELU()) == "GELU(approximate='none')"
    assert repr(Softmax(dim=1)) == "Softmax(dim=1)"
    with pytest.raises(ValueError, match="approximate"):
        GELU("fast")
    with pytest.raises(TypeError, match="expected a Tensor"):
        ReLU()(np.ones(3))


def _softmax(x, axis):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2, None])
def test_softmax_and_log_softmax_normalise_along_dim(dim):
    # A 3-D input, so that every dim (and None, which means the last) picks a different axis.
    x = np.random.default_rng(8).uniform(-3, 3, (2, 3, 4))
    axis = -1 if dim is None else dim
    np.testing.assert_allclose(Softmax(dim)(mg.tensor(x)).numpy(), _softmax(x, axis),
                               rtol=1e-12)
    np.testing.assert_allclose(LogSoftmax(dim)(mg.tensor(x)).numpy(), np.log(_softmax(x, axis)),
                               rtol=1e-12, atol=1e-14)


def test_activation_defaults():
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(LeakyReLU()(mg.tensor(x)).numpy(), np.where(x > 0, x, 0.01 * x))
    np.testing.assert_allclose(ELU()(mg.tensor(x)).numpy(), np.where(x > 0, x, np.expm1(x)),
                               rtol=1e-12)
    assert Softmax().dim == -1 and LogSoftmax().dim == -1
    # Softplus: beta 1, threshold 20, so x = 25 takes the linear branch exactly
    np.testing.assert_array_equal(Softplus()(mg.tensor([25.0, 30.0])).numpy(), [25.0, 30.0])


@pytest.mark.parametrize("make", [lambda: ReLU(inplace=True), lambda: LeakyReLU(0.3, True),
                                  lambda: ELU(1.0, True), lambda: SELU(True),
                                  lambda: SiLU(True)])
def test_inplace_flag_gives_the_out_of_place_result_and_keeps_the_input(make):
    layer = make()
    x = mg.tensor(np.linspace(-2, 2, 9), requires_grad=True)
    before = x.numpy().copy()
    y = layer(x)
    np.testing.assert_array_equal(x.numpy(), before)
    plain = type(layer)(**{k: v for k, v in vars(layer).items()
                           if k in ("negative_slope", "alpha")})
    np.testing.assert_array_equal(y.numpy(), plain(x).numpy())
    y.sum().backward()                              # the graph is intact
    assert x.grad is not None and "inplace=True" in repr(layer)


def test_leaky_relu_slope_sets_the_gradient_left_of_zero():
    x = mg.tensor([-2.0, -0.5, 0.5, 2.0], requires_grad=True)
    LeakyReLU(0.25)(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.25, 0.25, 1.0, 1.0])
    x = mg.tensor([-1.0, 1.0], requires_grad=True)
    ELU(0.5)(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5 * math.exp(-1), 1.0])


def test_gelu_approximations_differ_by_the_tanh_error():
    x = mg.tensor([-1.5, 0.7, 2.5], dtype=np.float64)
    exact, tanh = GELU()(x).numpy(), GELU(approximate="tanh")(x).numpy()
    assert 1e-5 < np.abs(exact - tanh).max() < 1e-3   # close, but not the same function


def test_bilinear_without_bias():
    layer = as64(Bilinear(3, 2, 4, bias=False))
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    rng = np.random.default_rng(9)
    x1, x2 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 2))
    expected = np.einsum("abi,oij,abj->abo", x1, layer.weight.numpy(), x2)
    np.testing.assert_allclose(layer(mg.tensor(x1), mg.tensor(x2)).numpy(), expected,
                               rtol=1e-12)
    assert repr(layer) == "Bilinear(in1_features=3, in2_features=2, out_features=4, bias=False)"


def test_linear_without_bias_has_no_bias_entry():
    layer = Linear(3, 2, bias=False)
    assert layer.bias is None and list(layer.state_dict()) == ["weight"]
    assert repr(layer) == "Linear(in_features=3, out_features=2, bias=False)"
