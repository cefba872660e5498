"""SegNet and UNet: shapes for every upsampling choice, gradients (and a float64 gradcheck),
SegNet's unpooling placing each value exactly at its encoder's maximum, and bad input."""
import numpy as np
import pytest

import minigrad as mg
from models import SegNet, UNet
from models.segmentation import UPSAMPLE_MODES, Up


@pytest.mark.parametrize("cls", [SegNet, UNet])
@pytest.mark.parametrize("upsample", UPSAMPLE_MODES)
def test_shapes_and_every_parameter_learns(cls, upsample):
    model = cls(3, 5, channels=(4, 6, 8), upsample=upsample)
    x = mg.randn(2, 3, 16, 8)
    y = model(x)
    assert y.shape == (2, 5, 16, 8)
    (y * mg.randn(*y.shape)).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and np.abs(p.grad.numpy()).sum() > 0, name


@pytest.mark.parametrize("cls, upsample", [(SegNet, "unpool"), (UNet, "bilinear"),
                                           (UNet, "transposed"), (UNet, "unpool")])
def test_gradcheck_float64(cls, upsample):
    model = cls(1, 2, channels=(2, 3), upsample=upsample).double()
    x = mg.tensor(np.random.default_rng(0).normal(size=(2, 1, 4, 4)), requires_grad=True)
    assert mg.gradcheck(model, [x])


def windows_argmax(e):
    """For each 2x2 window of e (N, C, H, W): the flat index (in H*W) of its maximum."""
    N, C, H, W = e.shape
    out = np.empty((N, C, H // 2, W // 2), np.int64)
    for i in range(H // 2):
        for j in range(W // 2):
            block = e[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].reshape(N, C, 4)
            k = block.argmax(axis=2)
            out[:, :, i, j] = (2 * i + k // 2) * W + 2 * j + k % 2
    return out


def test_segnet_unpools_each_value_where_its_encoders_max_was():
    model = SegNet(2, 3, channels=(3, 4), upsample="unpool")
    seen = {}
    for i in range(2):
        model.encoder[i].register_forward_hook(
            lambda m, inputs, out, i=i: seen.__setitem__(("enc", i), out.numpy()))
        model.ups[i].register_forward_hook(
            lambda m, inputs, out, i=i: seen.__setitem__(("up", i), (inputs[0].numpy(),
                                                                    out.numpy())))
    model(mg.randn(2, 2, 8, 8))
    for i in range(2):
        e = seen[("enc", i)]
        pooled, unpooled = seen[("up", i)]
        N, C, H, W = e.shape
        assert unpooled.shape == e.shape
        flat = unpooled.reshape(N, C, H * W)
        where = windows_argmax(e).reshape(N, C, -1)
        expected = np.zeros_like(flat)
        np.put_along_axis(expected, where, pooled.reshape(N, C, -1), axis=2)
        np.testing.assert_array_equal(flat, expected)
    # The deepest decoder stage received the deepest pool's output, unchanged.
    deepest = seen[("enc", 1)]
    N, C, H, W = deepest.shape
    maxima = deepest.reshape(N, C, H // 2, 2, W // 2, 2).max(axis=(3, 5))
    np.testing.assert_array_equal(seen[("up", 1)][0], maxima)


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "transposed"])
def test_up_doubles_the_side_and_maps_channels(mode):
    up = Up(6, 4, mode)
    assert up(mg.randn(2, 6, 3, 5)).shape == (2, 4, 6, 10)


def test_up_nearest_is_interpolation_then_convolution():
    import minigrad.functional as F
    up = Up(2, 3, "nearest")
    x = mg.randn(1, 2, 3, 3)
    repeated = x.numpy().repeat(2, axis=2).repeat(2, axis=3)
    expected = F.conv2d(mg.tensor(repeated), up.conv.weight, up.conv.bias, padding=1).numpy()
    np.testing.assert_allclose(up(x).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="SegNet: upsample must be one of"):
        SegNet(upsample="cubic")
    with pytest.raises(ValueError, match="UNet: channels needs at least two widths"):
        UNet(channels=(8,))
    with pytest.raises(ValueError, match=r"UNet: H and W must be multiples of 2\*\*2 = 4"):
        UNet(1, 2, channels=(2, 3, 4))(mg.randn(1, 1, 6, 8))
    with pytest.raises(ValueError, match=r"SegNet: expected images of shape \(N, 3, H, W\)"):
        SegNet()(mg.randn(1, 1, 8, 8))
