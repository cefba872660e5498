"""ResNet: block shapes, parameter counts (torchvision's for ResNet-18/50), initialisation,
BatchNorm's train/eval behaviour, training, checkpoint round trip and gradients."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad.data import load_digits
from models import BasicBlock, Bottleneck, ResNet, resnet18, resnet50, resnet_small
from optim import Adam


def conv(k, c_in, c_out):
    return c_in * c_out * k * k


def bn(c):
    return 2 * c


def block_parameter_count(block, c_in, planes, stride):
    if block is BasicBlock:
        c_out = planes
        body = conv(3, c_in, planes) + bn(planes) + conv(3, planes, planes) + bn(planes)
    else:
        c_out = 4 * planes
        body = (conv(1, c_in, planes) + bn(planes) + conv(3, planes, planes) + bn(planes)
                + conv(1, planes, c_out) + bn(c_out))
    projection = conv(1, c_in, c_out) + bn(c_out) if stride != 1 or c_in != c_out else 0
    return body + projection


def resnet_parameter_count(block, blocks_per_stage, K_out, C, width, small_input):
    total = conv(3 if small_input else 7, C, width) + bn(width)
    channels = width
    for i, count in enumerate(blocks_per_stage):
        planes = width * 2 ** i
        for j in range(count):
            stride = 2 if i > 0 and j == 0 else 1
            total += block_parameter_count(block, channels, planes, stride)
            channels = planes * block.expansion
    return total + channels * K_out + K_out


@pytest.mark.parametrize("block, c_in, planes, stride, shape", [
    (BasicBlock, 4, 4, 1, (2, 4, 6, 6)),
    (BasicBlock, 4, 8, 2, (2, 8, 3, 3)),
    (Bottleneck, 4, 2, 1, (2, 8, 6, 6)),
    (Bottleneck, 8, 2, 1, (2, 8, 6, 6)),
    (Bottleneck, 8, 4, 2, (2, 16, 3, 3)),
])
def test_block_shapes_and_parameter_counts(block, c_in, planes, stride, shape):
    b = block(c_in, planes, stride)
    assert b(mg.randn(2, c_in, 6, 6)).shape == shape
    assert sum(p.numel() for p in b.parameters()) == \
        block_parameter_count(block, c_in, planes, stride)
    has_projection = stride != 1 or c_in != planes * block.expansion
    assert (b.downsample is not None) == has_projection


@pytest.mark.parametrize("block, blocks, C, width, small_input, image", [
    (BasicBlock, (1, 1), 1, 4, True, 8),
    (BasicBlock, (2, 1, 1), 3, 4, True, 8),
    (Bottleneck, (1, 2), 1, 2, True, 8),
    (BasicBlock, (1, 1), 3, 4, False, 32),
])
def test_resnet_shapes_and_parameter_counts(block, blocks, C, width, small_input, image):
    model = ResNet(block, blocks, num_classes=5, in_channels=C, width=width,
                   small_input=small_input)
    assert model(mg.randn(2, C, image, image)).shape == (2, 5)
    assert sum(p.numel() for p in model.parameters()) == \
        resnet_parameter_count(block, blocks, 5, C, width, small_input)


def test_torchvision_sizes():
    # The parameter counts torchvision documents for ResNet-18 and ResNet-50 on ImageNet.
    assert sum(p.numel() for p in resnet18().parameters()) == 11_689_512
    assert sum(p.numel() for p in resnet50().parameters()) == 25_557_032


def test_torchvision_state_dict_names():
    keys = list(resnet18().state_dict())
    assert keys[:3] == ["conv1.weight", "bn1.weight", "bn1.bias"]
    assert "layer2.0.downsample.0.weight" in keys and "layer2.0.downsample.1.running_var" in keys
    assert "layer1.0.downsample.0.weight" not in keys  # stage 1 keeps the shape: no projection
    assert keys[-2:] == ["fc.weight", "fc.bias"]
    assert len(resnet50().state_dict()) == 320  # torchvision's resnet50 has 320 entries


def test_resnet_small_defaults():
    model = resnet_small()
    assert model(mg.randn(2, 1, 8, 8)).shape == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == \
        resnet_parameter_count(BasicBlock, (2, 2, 2), 10, 1, 16, True)


def test_kaiming_fan_out_and_batchnorm_init():
    mg.manual_seed(0)
    model = ResNet(BasicBlock, (1, 1), in_channels=3, width=32, zero_init_residual=True)
    w = model.layer2[0].conv2.weight.numpy()  # (64, 64, 3, 3): fan_out = 64 * 9
    assert abs(w.mean()) < 0.01
    assert w.std() == pytest.approx(np.sqrt(2.0 / (64 * 9)), rel=0.05)
    for name, p in model.named_parameters():
        if "bn" not in name and "downsample.1" not in name:
            continue
        if name.endswith("bias"):
            np.testing.assert_array_equal(p.numpy(), 0.0)
        elif name.endswith("bn2.weight"):  # the last BN of each BasicBlock: zero_init_residual
            np.testing.assert_array_equal(p.numpy(), 0.0)
        else:
            np.testing.assert_array_equal(p.numpy(), 1.0)


def test_zero_init_residual_blocks_start_as_identity():
    mg.manual_seed(0)
    block = ResNet(BasicBlock, (1,), in_channels=4, width=4, zero_init_residual=True).layer1[0]
    x = mg.randn(2, 4, 5, 5)
    np.testing.assert_allclose(block(x).numpy(), np.maximum(x.numpy(), 0), atol=1e-6)


def test_batchnorm_train_and_eval_modes():
    mg.manual_seed(0)
    model = ResNet(BasicBlock, (1, 1), num_classes=3, in_channels=1, width=4)
    x = mg.randn(4, 1, 8, 8)
    other = mg.cat([x[:1], mg.randn(3, 1, 8, 8)])
    running_mean = model.bn1.running_mean.numpy().copy()
    # Training mode: batch statistics, so sample 0's output depends on the rest of the batch,
    # and the running statistics move.
    assert not np.allclose(model(x).numpy()[0], model(other).numpy()[0])
    assert not np.allclose(model.bn1.running_mean.numpy(), running_mean)
    # Eval mode: running statistics, so each sample is independent, and nothing moves.
    model.eval()
    frozen = model.bn1.running_mean.numpy().copy()
    np.testing.assert_allclose(model(x).numpy()[0], model(other).numpy()[0], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(model.bn1.running_mean.numpy(), frozen)


def test_training_steps_lower_the_loss():
    mg.manual_seed(0)
    images, labels = load_digits()
    x, y = mg.tensor(images[:64]), mg.tensor(labels[:64])
    model = ResNet(BasicBlock, (1, 1), num_classes=10, in_channels=1, width=8)
    optimizer = Adam(model.parameters(), lr=3e-2)
    losses = []
    for _ in range(10):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_state_dict_round_trip_with_buffers(tmp_path):
    mg.manual_seed(0)
    model = ResNet(Bottleneck, (1, 1), num_classes=4, in_channels=1, width=2)
    model(mg.randn(4, 1, 8, 8))  # moves the running statistics away from their start
    model.eval()
    assert any(k.endswith("running_var") for k in model.state_dict())
    path = tmp_path / "resnet.npz"
    mg.save(model.state_dict(), path)
    mg.manual_seed(1)
    restored = ResNet(Bottleneck, (1, 1), num_classes=4, in_channels=1, width=2).eval()
    x = mg.randn(3, 1, 8, 8)
    assert not np.allclose(restored(x).numpy(), model(x).numpy())
    restored.load_state_dict(mg.load(path))
    np.testing.assert_array_equal(restored(x).numpy(), model(x).numpy())


def test_wrong_input_raises():
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 3, H, W\)"):
        ResNet(BasicBlock, (1,), width=2)(mg.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match=">= 1"):
        ResNet(BasicBlock, (1, 0))
    with pytest.raises(ValueError, match="at least one stage"):
        ResNet(BasicBlock, ())


def randomise_batchnorm(model, rng):
    """Random BN weights, biases and running statistics instead of the 1, 0, 0, 1 start.

    With zero biases, a channel whose convolution input is all zero (a ReLU output, say) sits
    exactly on the next ReLU's kink in eval mode, where finite differences are meaningless.
    """
    for name, t in model.state_dict(keep_vars=True).items():
        if name.endswith(("bias", "running_mean")) and not name.startswith("fc."):
            t.data[...] = rng.uniform(-0.5, 0.5, t.shape)
        elif name.endswith("running_var") or (name.endswith("weight") and t.ndim == 1):
            t.data[...] = rng.uniform(0.5, 1.5, t.shape)


@pytest.mark.parametrize("block, training", [(BasicBlock, True), (BasicBlock, False),
                                             (Bottleneck, True)])
def test_gradcheck_tiny_float64(block, training):
    mg.manual_seed(0)
    model = ResNet(block, (1, 1), num_classes=3, in_channels=1, width=2).double()
    randomise_batchnorm(model, np.random.default_rng(0))
    model.train(training)
    x = mg.randn(3, 1, 4, 4, dtype=mg.float64, requires_grad=True)
    params = list(model.parameters())
    assert mg.gradcheck(lambda x, *_: model(x), [x, *params], max_entries=12)
