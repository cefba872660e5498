"""Each constructor option of the models, checked by what it must change: the layer it picks,
the shapes it sets, the values it initialises."""
import math

import numpy as np
import pytest

import minigrad as mg
from layers import (BatchNorm2d, Conv2d, Dropout, Identity, Linear, MaxPool2d, Sequential)
from models import MLP, BasicBlock, Bottleneck, LeNet, ResNet


def _erf(x):
    return np.vectorize(math.erf)(x)


@pytest.mark.parametrize("name, reference", [
    ("relu", lambda h: np.maximum(h, 0)),
    ("tanh", np.tanh),
    ("sigmoid", lambda h: 1 / (1 + np.exp(-h))),
    ("gelu", lambda h: 0.5 * h * (1 + _erf(h / math.sqrt(2)))),
    ("elu", lambda h: np.where(h > 0, h, np.expm1(h))),
    ("leaky_relu", lambda h: np.where(h > 0, h, 0.01 * h)),
])
def test_mlp_activation_names_pick_the_function(name, reference):
    model = MLP(4, [5, 3], 2, activation=name).double()
    x = np.random.default_rng(0).uniform(-3, 3, (6, 4))
    h = x
    linears = [m for m in model.net if isinstance(m, Linear)]
    for i, layer in enumerate(linears):
        h = h @ layer.weight.numpy().T + layer.bias.numpy()
        if i < len(linears) - 1:
            h = reference(h)
    np.testing.assert_allclose(model(mg.tensor(x)).numpy(), h, rtol=1e-10, atol=1e-12)


def test_mlp_dropout_option_places_one_dropout_after_each_hidden_activation():
    model = MLP(3, [4, 4], 2, dropout=0.25)
    kinds = [type(m).__name__ for m in model.net]
    assert kinds == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert all(m.p == 0.25 for m in model.net if isinstance(m, Dropout))
    assert not any(isinstance(m, Dropout) for m in MLP(3, [4, 4], 2).net)


def test_mlp_without_hidden_layers_is_one_linear():
    model = MLP(3, [], 2).double()
    assert len(model.net) == 1 and isinstance(model.net[0], Linear)
    x = np.arange(6.0).reshape(2, 3)
    layer = model.net[0]
    np.testing.assert_allclose(model(mg.tensor(x)).numpy(),
                               x @ layer.weight.numpy().T + layer.bias.numpy(), rtol=1e-12)


def test_lenet_options_set_the_layer_shapes():
    model = LeNet(in_channels=3, num_classes=5, image_size=12, channels=(4, 7), hidden=(9, 8),
                  kernel_size=3)
    conv1, conv2 = [m for m in model.features if isinstance(m, Conv2d)]
    assert conv1.weight.shape == (4, 3, 3, 3) and conv1.padding == (1, 1)
    assert conv2.weight.shape == (7, 4, 3, 3) and conv2.padding == (1, 1)
    shapes = [m.weight.shape for m in model.classifier if isinstance(m, Linear)]
    assert shapes == [(9, 7 * 3 * 3), (8, 9), (5, 8)]
    assert model(mg.randn(2, 3, 12, 12)).shape == (2, 5)
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 3, 12, 12\)"):
        model(mg.randn(2, 3, 8, 8))


def test_resnet_small_input_selects_the_stem():
    small = ResNet(BasicBlock, (1,), in_channels=2, width=4, small_input=True)
    assert small.conv1.weight.shape == (4, 2, 3, 3) and small.conv1.stride == (1, 1)
    assert isinstance(small.maxpool, Identity)
    big = ResNet(BasicBlock, (1,), in_channels=2, width=4, small_input=False)
    assert big.conv1.weight.shape == (4, 2, 7, 7)
    assert (big.conv1.stride, big.conv1.padding) == ((2, 2), (3, 3))
    assert isinstance(big.maxpool, MaxPool2d)
    x = mg.randn(1, 2, 16, 16)
    stem = big.maxpool(big.relu(big.bn1(big.conv1(x))))
    assert stem.shape == (1, 4, 4, 4)                       # H / 4
    assert small.maxpool(small.relu(small.bn1(small.conv1(x)))).shape == (1, 4, 16, 16)


@pytest.mark.parametrize("block, last", [(BasicBlock, "bn2"), (Bottleneck, "bn3")])
def test_zero_init_residual_zeroes_only_the_last_norm_of_each_block(block, last):
    for zero in (False, True):
        model = ResNet(block, (1, 1), in_channels=1, width=4, zero_init_residual=zero)
        for stage in model.stages():
            for b in stage:
                for name, module in b.named_modules():
                    if isinstance(module, BatchNorm2d):
                        expected = 0.0 if zero and name == last else 1.0
                        np.testing.assert_array_equal(module.weight.numpy(), expected,
                                                      err_msg=f"{name} zero={zero}")


def test_resnet_width_and_downsample_follow_the_shapes():
    model = ResNet(Bottleneck, (1, 2), in_channels=1, width=2, num_classes=3)
    first, second = model.layer2[0], model.layer2[1]
    assert isinstance(first.downsample, Sequential)         # stride 2 and new channels
    assert first.downsample[0].stride == (2, 2) and first.downsample[0].weight.shape == \
        (16, 8, 1, 1)
    assert second.downsample is None                         # shape kept: plain skip
    assert model.layer1[0].downsample is not None            # 2 -> 8 channels (expansion 4)
    assert model.fc.weight.shape == (3, 16)
    assert model(mg.randn(2, 1, 8, 8)).shape == (2, 3)


def test_resnet_convolutions_are_kaiming_fan_out():
    mg.manual_seed(0)
    model = ResNet(BasicBlock, (1,), in_channels=16, width=64)
    w = model.conv1.weight.numpy()          # (64, 16, 3, 3): fan_out 576, fan_in only 144
    assert w.std() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.05)
    fc = model.fc.weight.numpy()            # Linear keeps its own default, U(±1/√fan_in)
    assert np.abs(fc).max() <= 1 / math.sqrt(64)
