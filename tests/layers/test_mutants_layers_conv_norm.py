"""The convolution and normalisation layers (layers/conv.py, layers/normalization.py): the
behaviours a mutation run found unchecked, each against a NumPy reference or an exact value.

Convolutions are compared with the loop definitions in ``references`` (R.conv2d,
R.conv_transpose2d; a 1-D layer is the 2-D one on a single row), the norms with the formula
written out. Errors are matched whole, so that a message naming the wrong layer, argument or
shape fails.
"""
import re

import numpy as np
import pytest

import minigrad as mg
import layers as L
import references as R


def exactly(message):
    """A pytest ``match`` pattern for exactly ``message``."""
    return "^" + re.escape(message) + "$"


def seeded(layer, seed):
    """``layer`` in float64 with every parameter drawn from a seeded normal (not its init), so a
    reference built from the same arrays tells the layer's own use of them apart."""
    layer = layer.double()
    rng = np.random.default_rng(seed)
    with mg.no_grad():
        for p in layer.parameters():
            p.data[...] = rng.standard_normal(p.shape)
    return layer


def as_rows(x):
    """(N, C, L) as (N, C, 1, L), so the 2-D references serve the 1-D layers."""
    return x[:, :, None, :]


# ---------------------------------------------------------------------------------------------
# Convolutions

@pytest.mark.parametrize("make, kw", [
    (lambda: L.Conv2d(4, 6, (2, 3), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
     dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)),
    (lambda: L.Conv2d(3, 2, 3, stride=2, padding=1, bias=False),
     dict(stride=2, padding=1)),
    (lambda: L.Conv1d(4, 2, 3, stride=2, padding=2, dilation=2, groups=2),
     dict(stride=(1, 2), padding=(0, 2), dilation=(1, 2), groups=2)),
])
def test_conv_layers_match_the_definition_batched_and_not(make, kw):
    layer = seeded(make(), 0)
    one_d = isinstance(layer, L.Conv1d)
    shape = (2, layer.in_channels, 7) if one_d else (2, layer.in_channels, 5, 6)
    x = np.random.default_rng(1).standard_normal(shape)
    bias = None if layer.bias is None else layer.bias.numpy()
    w = layer.weight.numpy()
    expected = R.conv2d(as_rows(x) if one_d else x, w[:, :, None] if one_d else w, bias, **kw)
    expected = expected[:, :, 0] if one_d else expected
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer(mg.tensor(x[1])).numpy(), expected[1], rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("mode, numpy_mode", [("reflect", "reflect"), ("replicate", "edge"),
                                              ("circular", "wrap")])
@pytest.mark.parametrize("padding, dilation, kernel, widths", [
    ((2, 1), 1, (3, 2), ((2, 2), (1, 1))),        # different widths per axis
    ("same", (1, 2), (2, 3), ((0, 1), (2, 2))),   # per-axis dilation and kernel in 'same'
    ("same", (2, 1), (3, 4), ((2, 2), (1, 2))),
])
def test_conv2d_padding_modes_pad_each_axis_with_its_own_width(mode, numpy_mode, padding,
                                                               dilation, kernel, widths):
    layer = seeded(L.Conv2d(2, 3, kernel, padding=padding, dilation=dilation,
                            padding_mode=mode), 2)
    x = np.random.default_rng(3).standard_normal((2, 2, 5, 6))
    padded = np.pad(x, ((0, 0), (0, 0)) + widths, mode=numpy_mode)
    expected = R.conv2d(padded, layer.weight.numpy(), layer.bias.numpy(), dilation=dilation)
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("mode, numpy_mode", [("reflect", "reflect"), ("circular", "wrap")])
@pytest.mark.parametrize("padding, dilation, kernel, widths", [
    (2, 1, 3, (2, 2)), ("same", 2, 2, (1, 1)), ("same", 1, 4, (1, 2)), ("valid", 1, 3, (0, 0))])
def test_conv1d_padding_modes(mode, numpy_mode, padding, dilation, kernel, widths):
    layer = seeded(L.Conv1d(2, 3, kernel, padding=padding, dilation=dilation,
                            padding_mode=mode), 4)
    x = np.random.default_rng(5).standard_normal((2, 2, 7))
    padded = np.pad(x, ((0, 0), (0, 0), widths), mode=numpy_mode)
    expected = R.conv2d(as_rows(padded), layer.weight.numpy()[:, :, None], layer.bias.numpy(),
                        dilation=(1, dilation))[:, :, 0]
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(layer(mg.tensor(x[0])).numpy(), expected[0], rtol=1e-10)


@pytest.mark.parametrize("make, kw", [
    (lambda: L.ConvTranspose2d(4, 6, (3, 2), stride=(2, 3), padding=(1, 0),
                               output_padding=(1, 2), groups=2, dilation=(1, 2)),
     dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2, dilation=(1, 2))),
    (lambda: L.ConvTranspose2d(2, 3, 3, stride=2, padding=1, bias=False),
     dict(stride=2, padding=1)),
    (lambda: L.ConvTranspose1d(2, 4, 3, stride=3, padding=1, output_padding=2, groups=2,
                               dilation=2),
     dict(stride=(1, 3), padding=(0, 1), output_padding=(0, 2), groups=2, dilation=(1, 2))),
])
def test_conv_transpose_layers_match_the_definition_batched_and_not(make, kw):
    layer = seeded(make(), 6)
    one_d = isinstance(layer, L.ConvTranspose1d)
    shape = (2, layer.in_channels, 4) if one_d else (2, layer.in_channels, 3, 4)
    x = np.random.default_rng(7).standard_normal(shape)
    bias = None if layer.bias is None else layer.bias.numpy()
    w = layer.weight.numpy()
    expected = R.conv_transpose2d(as_rows(x) if one_d else x, w[:, :, None] if one_d else w,
                                  bias, **kw)
    expected = expected[:, :, 0] if one_d else expected
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer(mg.tensor(x[0])).numpy(), expected[0], rtol=1e-10,
                               atol=1e-12)


def test_conv_transpose2d_output_size_in_every_form():
    # H = W = 3, K = (3, 2), S = (3, 2), P = (1, 0), D = (1, 2): OH from 7 to 9, OW from 7 to 8
    layer = seeded(L.ConvTranspose2d(2, 3, (3, 2), stride=(3, 2), padding=(1, 0),
                                     dilation=(1, 2)), 8)
    x = np.random.default_rng(9).standard_normal((2, 2, 3, 3))
    w, b = layer.weight.numpy(), layer.bias.numpy()
    for size, op in [((9, 7), (2, 0)), ([8, 8], (1, 1)), ((2, 3, 7, 8), (0, 1)),
                     ((3, 9, 8), (2, 1))]:
        expected = R.conv_transpose2d(x, w, b, stride=(3, 2), padding=(1, 0), output_padding=op,
                                      dilation=(1, 2))
        got = layer(mg.tensor(x), output_size=size).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-10, err_msg=str(size))
        np.testing.assert_allclose(layer(mg.tensor(x[1]), output_size=size).numpy(),
                                   expected[1], rtol=1e-10, err_msg=str(size))
    assert layer.output_padding == (0, 0)     # output_size does not change the layer
    for size, axis, low, high in [((10, 7), 2, 7, 9), ((6, 7), 2, 7, 9), ((8, 9), 3, 7, 8),
                                  ((8, 6), 3, 7, 8)]:
        message = (f"ConvTranspose2d: output_size {size} is not reachable from an input of "
                   f"shape (2, 2, 3, 3): along axis {axis} it must be between {low} and {high}")
        with pytest.raises(ValueError, match=exactly(message)):
            layer(mg.tensor(x), output_size=size)
    with pytest.raises(TypeError, match=exactly("ConvTranspose2d: output_size must be an int or "
                                                "a pair of ints, got (8,)")):
        layer(mg.tensor(x), output_size=(8,))


def test_conv_transpose1d_output_size_in_every_form():
    # L = 4, K = 3, S = 3, P = 1, D = 2: OL from 12 to 14
    layer = seeded(L.ConvTranspose1d(2, 2, 3, stride=3, padding=1, dilation=2), 10)
    x = np.random.default_rng(11).standard_normal((2, 2, 4))
    w, b = layer.weight.numpy()[:, :, None], layer.bias.numpy()
    for size, op in [(14, 2), ((12,), 0), ([13], 1), ((2, 13), 1), ((2, 2, 14), 2)]:
        expected = R.conv_transpose2d(as_rows(x), w, b, stride=(1, 3), padding=(0, 1),
                                      output_padding=(0, op), dilation=(1, 2))[:, :, 0]
        np.testing.assert_allclose(layer(mg.tensor(x), output_size=size).numpy(), expected,
                                   rtol=1e-10, err_msg=str(size))
        np.testing.assert_allclose(layer(mg.tensor(x[0]), output_size=size).numpy(),
                                   expected[0], rtol=1e-10, err_msg=str(size))
    with pytest.raises(ValueError, match=exactly(
            "ConvTranspose1d: output_size (15,) is not reachable from an input of shape "
            "(2, 2, 4): along axis 2 it must be between 12 and 14")):
        layer(mg.tensor(x), output_size=15)
    with pytest.raises(TypeError, match=exactly("ConvTranspose1d: output_size must be an int or "
                                                "a tuple of one int, got ('a',)")):
        layer(mg.tensor(x), output_size="a")


@pytest.mark.parametrize("make, message, error", [
    (lambda: L.Conv2d(0, 2, 3), "Conv2d: in_channels must be >= 1, got 0", ValueError),
    (lambda: L.Conv1d(2, 0, 3), "Conv1d: out_channels must be >= 1, got 0", ValueError),
    (lambda: L.Conv2d(2, 2, 3, groups=0), "Conv2d: groups must be >= 1, got 0", ValueError),
    (lambda: L.Conv2d(3, 4, 3, groups=2), "Conv2d: in_channels (3) and out_channels (4) must "
     "both be divisible by groups (2)", ValueError),
    (lambda: L.ConvTranspose2d(4, 3, 3, groups=2), "ConvTranspose2d: in_channels (4) and "
     "out_channels (3) must both be divisible by groups (2)", ValueError),
    (lambda: L.Conv2d(2, 2, (3, 0)), "Conv2d: kernel_size must be >= 1, got (3, 0)",
     ValueError),
    (lambda: L.Conv1d(2, 2, 0), "Conv1d: kernel_size must be >= 1, got (0,)", ValueError),
    (lambda: L.Conv2d(2, 2, (3, 3, 3)), "Conv2d: kernel_size must be an int or a pair of ints, "
     "got (3, 3, 3)", TypeError),
    (lambda: L.Conv1d(2, 2, 3, stride=(1, 1)), "Conv1d: stride must be an int or a tuple of "
     "one int, got (1, 1)", TypeError),
    (lambda: L.Conv2d(2, 2, 3, dilation=1.5), "Conv2d: dilation must be an int or a pair of "
     "ints, got 1.5", TypeError),
    (lambda: L.Conv2d(2, 2, 3, padding=(1, 2, 3)), "Conv2d: padding must be an int or a pair "
     "of ints, got (1, 2, 3)", TypeError),
    (lambda: L.Conv2d(2, 2, 3, stride=(1, 2), padding="same"), "Conv2d: padding='same' needs "
     "stride 1, got (1, 2)", ValueError),
    (lambda: L.Conv1d(2, 2, 3, stride=2, padding="same"), "Conv1d: padding='same' needs "
     "stride 1, got (2,)", ValueError),
    (lambda: L.Conv1d(2, 2, 3, padding_mode="edge"), "Conv1d: padding_mode must be one of "
     "('zeros', 'reflect', 'replicate', 'circular'), got 'edge'", ValueError),
    (lambda: L.ConvTranspose1d(2, 2, 3, padding_mode="circular"), "ConvTranspose1d: "
     "padding_mode must be one of ('zeros',), got 'circular'", ValueError),
    (lambda: L.ConvTranspose2d(2, 2, 3, padding="same"), "ConvTranspose2d: padding must be an "
     "int or a pair of ints, got 'same'", ValueError),
    (lambda: L.ConvTranspose1d(2, 2, 3, padding="valid"), "ConvTranspose1d: padding must be an "
     "int or a tuple of one int, got 'valid'", ValueError),
    (lambda: L.ConvTranspose1d(2, 2, 3, output_padding=(1, 1)), "ConvTranspose1d: "
     "output_padding must be an int or a tuple of one int, got (1, 1)", TypeError),
    (lambda: L.ConvTranspose2d(2, 2, 3, output_padding=(1,)), "ConvTranspose2d: "
     "output_padding must be an int or a pair of ints, got (1,)", TypeError),
])
def test_conv_constructor_errors_name_the_layer_and_the_argument(make, message, error):
    with pytest.raises(error, match=exactly(message)):
        make()


def test_conv_input_errors_name_the_layer_and_the_shape():
    conv1, conv2 = L.Conv1d(2, 2, 3), L.Conv2d(2, 2, 3)
    deconv1, deconv2 = L.ConvTranspose1d(2, 2, 3), L.ConvTranspose2d(2, 2, 3)
    for layer in (conv1, conv2, deconv1, deconv2):
        name = type(layer).__name__
        with pytest.raises(TypeError, match=exactly(f"{name}: expected a Tensor input, got "
                                                    f"ndarray")):
            layer(np.zeros((1, 2, 4, 4)))
    for layer, shape, layouts in [(conv1, (2, 2, 5, 5), "(N, C, L) or (C, L)"),
                                  (deconv1, (5,), "(N, C, L) or (C, L)"),
                                  (conv2, (2, 5), "(N, C, H, W) or (C, H, W)"),
                                  (deconv2, (1, 2, 2, 5, 5), "(N, C, H, W) or (C, H, W)")]:
        with pytest.raises(ValueError, match=exactly(
                f"{type(layer).__name__}: expected an input of shape {layouts}, got shape "
                f"{shape}")):
            layer(mg.zeros(*shape))
    for layer, shape in [(conv1, (3, 5)), (conv1, (1, 3, 5)), (deconv2, (3, 4, 4)),
                         (deconv2, (2, 3, 4, 4))]:
        with pytest.raises(ValueError, match=exactly(
                f"{type(layer).__name__}: expected 2 input channels, got an input of shape "
                f"{shape}")):
            layer(mg.zeros(*shape))


def test_as_batch_adds_a_batch_axis_to_a_single_image_or_sequence():
    from layers.conv import as_batch, as_image_batch
    image = mg.tensor(np.arange(24.0).reshape(2, 3, 4))
    for helper in (as_batch, as_image_batch):          # dims defaults to 2: images
        batch, unbatched = helper("Layer", image)
        assert batch.shape == (1, 2, 3, 4) and unbatched is True
        np.testing.assert_array_equal(batch.numpy()[0], image.numpy())
        batch, unbatched = helper("Layer", image[None], channels=2)
        assert batch.shape == (1, 2, 3, 4) and unbatched is False
        with pytest.raises(ValueError, match=exactly(
                "Layer: expected an input of shape (N, C, H, W) or (C, H, W), got shape (3, 4)")):
            helper("Layer", image[0])
        with pytest.raises(ValueError, match=exactly(
                "Layer: expected 3 input channels, got an input of shape (2, 3, 4)")):
            helper("Layer", image, channels=3)
    batch, unbatched = as_batch("Layer", image, dims=1)  # (N, C, L) sequences
    assert batch.shape == (2, 3, 4) and unbatched is False


def test_conv_weights_have_the_documented_shapes_and_init_bounds():
    mg.manual_seed(0)
    cases = [(L.Conv2d(8, 64, (3, 2), groups=2), (64, 4, 3, 2), 4 * 3 * 2),
             (L.Conv1d(6, 60, 5, groups=3), (60, 2, 5), 2 * 5),
             (L.ConvTranspose2d(8, 64, (3, 2), groups=2), (8, 32, 3, 2), 32 * 3 * 2),
             (L.ConvTranspose1d(4, 60, 5, groups=2), (4, 30, 5), 30 * 5)]
    for layer, shape, fan in cases:
        assert layer.weight.shape == shape and layer.bias.shape == (layer.out_channels,)
        assert layer.weight.dtype == np.float32
        bound = 1 / np.sqrt(fan)
        for p in (layer.weight, layer.bias):
            values = np.abs(p.numpy())
            # U(-bound, bound): at least 60 draws, so the largest is near the bound
            assert 0.8 * bound < values.max() <= bound, type(layer).__name__
    layer = L.Conv2d(2, 4, 3, bias=False, dtype=np.float64)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    assert "bias" in layer._parameters and layer.weight.dtype == np.float64
    assert [n for n, _ in L.ConvTranspose1d(2, 4, 3, bias=False).named_parameters()] == [
        "weight"]


def test_conv_attributes_hold_the_normalised_geometry():
    layer = L.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 3), groups=2,
                     padding_mode="reflect")
    assert (layer.in_channels, layer.out_channels, layer.groups) == (4, 6, 2)
    assert (layer.kernel_size, layer.stride, layer.padding, layer.dilation) == (
        (3, 2), (2, 1), (1, 1), (1, 3))
    assert layer.padding_mode == "reflect"
    one = L.ConvTranspose1d(2, 4, [3], stride=2, padding=(1,), output_padding=1, dilation=2)
    assert (one.kernel_size, one.stride, one.padding, one.output_padding, one.dilation) == (
        (3,), (2,), (1,), (1,), (2,))
    assert L.Conv1d(2, 2, 3, padding="same").padding == "same"


@pytest.mark.parametrize("layer, text", [
    (L.Conv2d(2, 4, 3), "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1))"),
    (L.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(0, 1), dilation=(2, 1), groups=2,
              bias=False, padding_mode="replicate"),
     "Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 1), padding=(0, 1), dilation=(2, 1), "
     "groups=2, bias=False, padding_mode=replicate)"),
    (L.Conv2d(2, 2, 3, dilation=(1, 2)),
     "Conv2d(2, 2, kernel_size=(3, 3), stride=(1, 1), dilation=(1, 2))"),
    (L.Conv1d(2, 4, 3, padding="valid"),
     "Conv1d(2, 4, kernel_size=(3,), stride=(1,), padding=valid)"),
    (L.Conv1d(2, 4, 3, padding=1, dilation=2),
     "Conv1d(2, 4, kernel_size=(3,), stride=(1,), padding=(1,), dilation=(2,))"),
    (L.ConvTranspose2d(2, 4, 3, stride=2, output_padding=(0, 1)),
     "ConvTranspose2d(2, 4, kernel_size=(3, 3), stride=(2, 2), output_padding=(0, 1))"),
    (L.ConvTranspose2d(2, 4, 3, stride=2, output_padding=(1, 0), groups=2),
     "ConvTranspose2d(2, 4, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 0), "
     "groups=2)"),
    (L.ConvTranspose1d(2, 4, 3, padding=1), "ConvTranspose1d(2, 4, kernel_size=(3,), "
     "stride=(1,), padding=(1,))"),
])
def test_conv_reprs(layer, text):
    assert repr(layer) == text


# ---------------------------------------------------------------------------------------------
# Normalisation

def normalized(x, axes, eps=1e-5):
    mean = x.mean(axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axes, keepdims=True) + eps)


@pytest.mark.parametrize("make, names", [
    (lambda **k: L.BatchNorm1d(3, **k), ["weight", "bias", "running_mean", "running_var",
                                         "num_batches_tracked"]),
    (lambda **k: L.InstanceNorm2d(3, affine=True, track_running_stats=True, **k),
     ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]),
])
def test_norm_buffers_start_at_zero_mean_unit_variance_in_the_given_dtype(make, names):
    layer = make()
    assert list(layer.state_dict()) == names
    assert layer.running_mean.dtype == np.float32 and layer.running_var.dtype == np.float32
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.running_mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(layer.running_var.numpy(), np.ones(3))
    np.testing.assert_array_equal(layer.weight.numpy(), np.ones(3))
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(3))
    count = layer.num_batches_tracked
    assert count.dtype == np.int64 and count.shape == () and count.item() == 0
    double = make(dtype=np.float64)
    assert double.running_mean.dtype == np.float64 and double.running_var.dtype == np.float64
    assert double.weight.dtype == np.float64 and double.num_batches_tracked.dtype == np.int64


def test_norm_reset_parameters_restores_every_buffer_and_parameter():
    bn = L.BatchNorm2d(2)
    for _ in range(2):
        bn(mg.tensor(np.random.default_rng(20).standard_normal((3, 2, 2, 2)) * 3 + 1))
    with mg.no_grad():
        bn.weight.data[...] = 5.0
        bn.bias.data[...] = -5.0
    bn.reset_parameters()
    np.testing.assert_array_equal(bn.running_mean.numpy(), [0, 0])
    np.testing.assert_array_equal(bn.running_var.numpy(), [1, 1])
    np.testing.assert_array_equal(bn.weight.numpy(), [1, 1])
    np.testing.assert_array_equal(bn.bias.numpy(), [0, 0])
    assert bn.num_batches_tracked.item() == 0
    plain = L.BatchNorm2d(2, affine=False, track_running_stats=False)
    plain.reset_parameters()           # nothing to reset: no error
    assert plain.running_mean is None and plain.weight is None
    for layer in (L.LayerNorm(3), L.GroupNorm(1, 3), L.RMSNorm(3)):
        with mg.no_grad():
            for p in layer.parameters():
                p.data[...] = 7.0
        layer.reset_parameters()
        np.testing.assert_array_equal(layer.weight.numpy(), np.ones(3))
        if getattr(layer, "bias", None) is not None:
            np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(3))


def test_momentum_bounds_are_inclusive():
    for momentum in (0.0, 1.0, None):
        assert L.BatchNorm1d(2, momentum=momentum).momentum == momentum
    assert L.InstanceNorm1d(2, momentum=1.0, track_running_stats=True).momentum == 1.0
    for momentum in (-0.1, 1.1):
        with pytest.raises(ValueError, match=exactly(
                f"BatchNorm2d: momentum must be in [0, 1] or None, got {momentum}")):
            L.BatchNorm2d(2, momentum=momentum)
        with pytest.raises(ValueError, match=exactly(
                f"InstanceNorm1d: momentum must be in [0, 1] or None, got {momentum}")):
            L.InstanceNorm1d(2, momentum=momentum)


@pytest.mark.parametrize("make, message, error", [
    (lambda: L.BatchNorm1d(0), "BatchNorm1d: num_features must be >= 1, got 0", ValueError),
    (lambda: L.InstanceNorm2d(2.0), "InstanceNorm2d: num_features must be an int, got 2.0 of "
     "type float", TypeError),
    (lambda: L.BatchNorm2d(2, eps=0), "BatchNorm2d: eps must be > 0, got 0", ValueError),
    (lambda: L.InstanceNorm1d(2, eps=-1e-5), "InstanceNorm1d: eps must be > 0, got -1e-05",
     ValueError),
    (lambda: L.InstanceNorm1d(2, momentum=None, track_running_stats=True),
     "InstanceNorm1d: momentum=None is not supported with track_running_stats=True; give a "
     "number in [0, 1]", ValueError),
    (lambda: L.LayerNorm(3, eps=0.0), "LayerNorm: eps must be > 0, got 0.0", ValueError),
    (lambda: L.LayerNorm((3, 0)), "LayerNorm: normalized_shape must be >= 1, got 0",
     ValueError),
    (lambda: L.RMSNorm([2, True]), "RMSNorm: normalized_shape must be an int, got True",
     TypeError),
    (lambda: L.RMSNorm(3, eps=-0.5), "RMSNorm: eps must be >= 0 or None, got -0.5", ValueError),
    (lambda: L.GroupNorm(0, 4), "GroupNorm: num_groups must be >= 1, got 0", ValueError),
    (lambda: L.GroupNorm(2, 0), "GroupNorm: num_channels must be >= 1, got 0", ValueError),
    (lambda: L.GroupNorm(3, 4), "GroupNorm: num_channels (4) must be divisible by num_groups "
     "(3)", ValueError),
    (lambda: L.GroupNorm(2, 4, eps=0), "GroupNorm: eps must be > 0, got 0", ValueError),
    (lambda: L.LocalResponseNorm(0), "LocalResponseNorm: size must be >= 1, got 0",
     ValueError),
])
def test_norm_constructor_errors(make, message, error):
    with pytest.raises(error, match=exactly(message)):
        make()


def test_norm_constructors_store_floats_and_flags():
    bn = L.BatchNorm1d(3, eps=1, momentum=0.5, affine=0, track_running_stats=1)
    assert (bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats) == (
        3, 1.0, 0.5, False, True)
    assert type(bn.eps) is float and bn.affine is False and bn.track_running_stats is True
    ln = L.LayerNorm([2, 3], eps=1, elementwise_affine=0)
    assert (ln.normalized_shape, ln.eps, ln.elementwise_affine) == ((2, 3), 1.0, False)
    assert type(ln.eps) is float and ln.weight is None and ln.bias is None
    rms = L.RMSNorm(4, eps=1)
    assert rms.normalized_shape == (4,) and type(rms.eps) is float and rms.eps == 1.0
    assert L.RMSNorm(4).eps is None and L.RMSNorm(4, eps=0).eps == 0.0
    assert rms.weight.shape == (4,) and rms.bias is None and "bias" in rms._parameters
    gn = L.GroupNorm(2, 4, eps=1, affine=1)
    assert (gn.num_groups, gn.num_channels, gn.eps, gn.affine) == (2, 4, 1.0, True)
    assert type(gn.eps) is float and gn.affine is True and gn.weight.shape == (4,)
    lrn = L.LocalResponseNorm(3, alpha=1, beta=2, k=3)
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (3, 1.0, 2.0, 3.0)
    assert all(type(v) is float for v in (lrn.alpha, lrn.beta, lrn.k))


@pytest.mark.parametrize("layer, text", [
    (L.BatchNorm1d(3, eps=1e-3, momentum=None, affine=False),
     "BatchNorm1d(3, eps=0.001, momentum=None, affine=False, bias=False, "
     "track_running_stats=True)"),
    (L.BatchNorm2d(2, bias=False, track_running_stats=False),
     "BatchNorm2d(2, eps=1e-05, momentum=0.1, affine=True, bias=False, "
     "track_running_stats=False)"),
    (L.InstanceNorm1d(4, momentum=0.3, affine=True),
     "InstanceNorm1d(4, eps=1e-05, momentum=0.3, affine=True, bias=True, "
     "track_running_stats=False)"),
    (L.LayerNorm([2, 3], eps=0.5, bias=False),
     "LayerNorm((2, 3), eps=0.5, elementwise_affine=True, bias=False)"),
    (L.LayerNorm(4, elementwise_affine=False),
     "LayerNorm((4,), eps=1e-05, elementwise_affine=False, bias=False)"),
    (L.RMSNorm((2, 2), eps=0.25, elementwise_affine=False),
     "RMSNorm((2, 2), eps=0.25, elementwise_affine=False)"),
    (L.RMSNorm(3), "RMSNorm((3,), eps=None, elementwise_affine=True)"),
    (L.GroupNorm(2, 6, eps=0.1, affine=False),
     "GroupNorm(2, 6, eps=0.1, affine=False, bias=False)"),
    (L.GroupNorm(3, 6, bias=False), "GroupNorm(3, 6, eps=1e-05, affine=True, bias=False)"),
    (L.LocalResponseNorm(5, alpha=0.5, beta=2, k=3),
     "LocalResponseNorm(5, alpha=0.5, beta=2.0, k=3.0)"),
])
def test_norm_reprs(layer, text):
    assert repr(layer) == text


def test_batchnorm_input_errors_name_the_layer():
    for layer, bad, layout in [(L.BatchNorm1d(3), (2, 3, 4, 5), "(N, C) or (N, C, L)"),
                               (L.BatchNorm2d(3), (2, 3, 4), "(N, C, H, W)")]:
        name = type(layer).__name__
        with pytest.raises(ValueError, match=exactly(
                f"{name}: expected an input of shape {layout}, got {bad}")):
            layer(mg.zeros(*bad))
        with pytest.raises(ValueError, match=exactly(
                f"{name}: expected an input of shape {layout}, got list")):
            layer([1.0, 2.0])
    with pytest.raises(ValueError, match=exactly(
            "BatchNorm2d: expected 3 channels (num_features) on axis 1, got an input of shape "
            "(2, 4, 3, 3)")):
        L.BatchNorm2d(3)(mg.zeros(2, 4, 3, 3))


def test_batchnorm_training_without_tracking_leaves_no_statistics_and_counts_nothing():
    bn = L.BatchNorm1d(2, momentum=0.5, track_running_stats=False).double()
    x = np.random.default_rng(21).standard_normal((5, 2)) * 2 + 3
    np.testing.assert_allclose(bn(mg.tensor(x)).numpy(), normalized(x, 0), rtol=1e-10)
    assert bn.running_mean is None and bn.num_batches_tracked is None
    # Statistics put back by hand after construction are still left alone in training
    bn.running_mean, bn.running_var = mg.zeros(2, dtype=np.float64), mg.ones(2, dtype=np.float64)
    bn(mg.tensor(x))
    np.testing.assert_array_equal(bn.running_mean.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(bn.running_var.numpy(), [1.0, 1.0])


def test_batchnorm_momentum_none_first_batch_replaces_the_initial_statistics():
    bn = L.BatchNorm1d(2, momentum=None).double()
    xs = [np.random.default_rng(22 + i).standard_normal((4, 2)) * (i + 1) + i for i in range(2)]
    bn(mg.tensor(xs[0]))
    np.testing.assert_allclose(bn.running_mean.numpy(), xs[0].mean(0), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), xs[0].var(0, ddof=1), rtol=1e-12)
    bn(mg.tensor(xs[1]))
    np.testing.assert_allclose(bn.running_mean.numpy(), (xs[0].mean(0) + xs[1].mean(0)) / 2,
                               rtol=1e-12)
    assert bn.num_batches_tracked.item() == 2
    bn.eval()                          # momentum None in eval: the running stats, unchanged
    x = np.random.default_rng(30).standard_normal((3, 2))
    mean, var = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    np.testing.assert_allclose(bn(mg.tensor(x)).numpy(), (x - mean) / np.sqrt(var + 1e-5),
                               rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean.numpy(), mean)


def test_instance_norm_input_errors_and_channel_checks():
    for layer, bad, message in [
            (L.InstanceNorm1d(2), (2, 2, 3, 3), "(N, C, L) or (C, L), got (2, 2, 3, 3)"),
            (L.InstanceNorm2d(2), (3, 3), "(N, C, H, W) or (C, H, W), got (3, 3)"),
            (L.InstanceNorm2d(2), None, "(N, C, H, W) or (C, H, W), got list")]:
        name = type(layer).__name__
        with pytest.raises(ValueError, match=exactly(f"{name}: expected an input of shape "
                                                     f"{message}")):
            layer([0.0, 1.0] if bad is None else mg.zeros(*bad))
    x = np.random.default_rng(23).standard_normal((2, 3, 4))
    # Without weights or running statistics any channel count goes
    np.testing.assert_allclose(L.InstanceNorm1d(2).double()(mg.tensor(x)).numpy(),
                               normalized(x, 2), rtol=1e-10)
    for layer in (L.InstanceNorm1d(2, affine=True), L.InstanceNorm1d(2, track_running_stats=True)):
        with pytest.raises(ValueError, match=exactly(
                "InstanceNorm1d: expected 2 channels (num_features) on axis 1, got an input of "
                "shape (2, 3, 4)")):
            layer(mg.tensor(x))
    with pytest.raises(ValueError, match=exactly(
            "InstanceNorm2d: expected more than 1 spatial element per plane in training, got "
            "an input of shape (1, 2, 1, 1)")):
        L.InstanceNorm2d(2)(mg.zeros(2, 1, 1))
    eval_one = L.InstanceNorm2d(2, track_running_stats=True).double().eval()
    out = eval_one(mg.tensor(np.array([[[[3.0]], [[-1.0]]]])))   # eval: a single pixel is fine
    np.testing.assert_allclose(out.numpy().ravel(), [3.0 / np.sqrt(1 + 1e-5),
                                                     -1.0 / np.sqrt(1 + 1e-5)], rtol=1e-12)


def test_instance_norm_running_statistics_average_the_instances_in_the_buffer_dtype():
    x = np.random.default_rng(24).standard_normal((3, 2, 2, 3)) * 2 + 1
    layer = L.InstanceNorm2d(2, momentum=0.25, track_running_stats=True)    # float32 buffers
    layer(mg.tensor(x))                                                    # a float64 input
    assert layer.running_mean.dtype == np.float32 and layer.running_var.dtype == np.float32
    mean, var = 0.25 * x.mean((2, 3)).mean(0), 0.75 + 0.25 * x.var((2, 3), ddof=1).mean(0)
    np.testing.assert_allclose(layer.running_mean.numpy(), mean, rtol=1e-6)
    np.testing.assert_allclose(layer.running_var.numpy(), var, rtol=1e-6)
    assert layer.num_batches_tracked.item() == 0      # InstanceNorm does not count, as PyTorch
    layer(mg.tensor(x))
    np.testing.assert_allclose(layer.running_mean.numpy(), 0.75 * mean + 0.25 * x.mean((2, 3))
                               .mean(0), rtol=1e-6)
    np.testing.assert_allclose(layer.running_var.numpy(), 0.75 * var + 0.25 * x.var(
        (2, 3), ddof=1).mean(0), rtol=1e-6)
    layer.eval()
    layer(mg.tensor(x))                               # eval leaves the statistics alone
    np.testing.assert_allclose(layer.running_mean.numpy(), 0.75 * mean + 0.25 * x.mean((2, 3))
                               .mean(0), rtol=1e-6)
    one_d = L.InstanceNorm1d(1, momentum=1.0, track_running_stats=True).double()
    seq = np.array([[[1.0, 2.0, 6.0]], [[0.0, 0.0, 3.0]]])
    one_d(mg.tensor(seq[0]))                          # unbatched: a batch of one
    np.testing.assert_allclose(one_d.running_mean.numpy(), [3.0], rtol=1e-12)
    np.testing.assert_allclose(one_d.running_var.numpy(), [7.0], rtol=1e-12)
    one_d(mg.tensor(seq))
    np.testing.assert_allclose(one_d.running_mean.numpy(), [(3.0 + 1.0) / 2], rtol=1e-12)
    np.testing.assert_allclose(one_d.running_var.numpy(), [(7.0 + 3.0) / 2], rtol=1e-12)


def test_layer_norm_and_rms_norm_check_the_trailing_axes():
    for layer in (L.LayerNorm((2, 3)), L.RMSNorm([2, 3])):
        name = type(layer).__name__
        for bad, shown in [((4, 3, 2), "(4, 3, 2)"), ((3,), "(3,)"), (None, "list"),
                           ((2, 2, 3, 1), "(2, 2, 3, 1)")]:
            with pytest.raises(ValueError, match=exactly(
                    f"{name}: expected an input whose trailing axes are normalized_shape "
                    f"(2, 3), got {shown}")):
                layer([0.0, 1.0] if bad is None else mg.zeros(*bad))
    x = np.random.default_rng(25).standard_normal((2, 3))         # exactly the trailing shape
    ln = L.LayerNorm((2, 3), eps=0.5).double()
    np.testing.assert_allclose(ln(mg.tensor(x)).numpy(), normalized(x, (0, 1), 0.5), rtol=1e-12)
    rms = seeded(L.RMSNorm(3, eps=0.25), 26)
    expected = x / np.sqrt((x * x).mean(1, keepdims=True) + 0.25) * rms.weight.numpy()
    np.testing.assert_allclose(rms(mg.tensor(x)).numpy(), expected, rtol=1e-12)


def test_layer_norm_and_group_norm_apply_their_weight_and_bias():
    x = np.random.default_rng(27).standard_normal((2, 4, 3))
    ln = seeded(L.LayerNorm(3, eps=0.1), 28)
    np.testing.assert_allclose(ln(mg.tensor(x)).numpy(), normalized(x, 2, 0.1)
                               * ln.weight.numpy() + ln.bias.numpy(), rtol=1e-12)
    gn = seeded(L.GroupNorm(2, 4, eps=0.1), 29)
    grouped = normalized(x.reshape(2, 2, 6), 2, 0.1).reshape(x.shape)
    np.testing.assert_allclose(gn(mg.tensor(x)).numpy(), grouped * gn.weight.numpy()[:, None]
                               + gn.bias.numpy()[:, None], rtol=1e-12)
    for bad, shown in [((2, 3, 3), "(2, 3, 3)"), ((4,), "(4,)"), (None, "list")]:
        with pytest.raises(ValueError, match=exactly(
                f"GroupNorm: expected an input of shape (N, 4, *), got {shown}")):
            gn([0.0, 1.0] if bad is None else mg.zeros(*bad))
    flat = np.random.default_rng(31).standard_normal((3, 4))      # (N, C): no spatial axes
    np.testing.assert_allclose(gn(mg.tensor(flat)).numpy(),
                               normalized(flat.reshape(3, 2, 2), 2, 0.1).reshape(3, 4)
                               * gn.weight.numpy() + gn.bias.numpy(), rtol=1e-12)


def test_local_response_norm_layer_passes_its_size_and_constants():
    x = np.random.default_rng(32).standard_normal((2, 5, 3))
    layer = L.LocalResponseNorm(3, alpha=0.5, beta=0.6, k=2.0)
    squares = np.pad(x * x, ((0, 0), (1, 1), (0, 0)))
    window = squares[:, 0:5] + squares[:, 1:6] + squares[:, 2:7]
    expected = x / (2.0 + 0.5 / 3 * window) ** 0.6
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-12)
    even = L.LocalResponseNorm(2, alpha=1.0, beta=1.0, k=0.5)     # window c-1 .. c
    squares = np.pad(x * x, ((0, 0), (1, 0), (0, 0)))
    expected = x / (0.5 + 1.0 / 2 * (squares[:, 0:5] + squares[:, 1:6]))
    np.testing.assert_allclose(even(mg.tensor(x)).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda dtype: L.Conv2d(2, 2, 3, dtype=dtype), lambda dtype: L.Conv1d(2, 2, 3, dtype=dtype),
    lambda dtype: L.ConvTranspose2d(2, 2, 3, dtype=dtype),
    lambda dtype: L.ConvTranspose1d(2, 2, 3, dtype=dtype),
    lambda dtype: L.BatchNorm2d(2, dtype=dtype),
    lambda dtype: L.InstanceNorm1d(2, affine=True, track_running_stats=True, dtype=dtype),
    lambda dtype: L.LayerNorm(2, dtype=dtype), lambda dtype: L.RMSNorm(2, dtype=dtype),
    lambda dtype: L.GroupNorm(1, 2, dtype=dtype)])
def test_every_layer_makes_its_parameters_and_statistics_in_the_given_dtype(make):
    for dtype in (np.float64, np.float32):
        layer = make(dtype)
        tensors = list(layer.parameters()) + [b for n, b in layer.named_buffers()
                                              if n != "num_batches_tracked"]
        assert tensors and all(t.dtype == dtype for t in tensors), type(layer).__name__


@pytest.mark.parametrize("make, message", [
    (lambda: L.Conv2d(1, 1, 3, padding="full"),
     "Conv2d: padding must be an int, a pair of ints, 'valid' or 'same', got 'full'"),
    (lambda: L.Conv2d(1, 1, 3, padding="Same", padding_mode="reflect"),
     "Conv2d: padding must be an int, a pair of ints, 'valid' or 'same', got 'Same'"),
    (lambda: L.Conv1d(1, 1, 3, padding="full", padding_mode="circular"),
     "Conv1d: padding must be an int, a tuple of one int, 'valid' or 'same', got 'full'")])
def test_conv_refuses_an_unknown_padding_string_when_built(make, message):
    # Not at the first forward, where a padding mode would read the string's letters as widths
    with pytest.raises(ValueError, match=exactly(message)):
        make()


@pytest.mark.parametrize("make", [
    lambda: L.Conv2d(2, 2, 3, bias=False, device="cuda"),
    lambda: L.Conv1d(2, 2, 3, bias=False, device="cuda"),
    lambda: L.ConvTranspose2d(2, 2, 3, bias=False, device="cuda"),
    lambda: L.ConvTranspose1d(2, 2, 3, bias=False, device="cuda"),
    lambda: L.BatchNorm2d(2, bias=False, track_running_stats=False, device="cuda"),
    lambda: L.BatchNorm1d(2, affine=False, device="cuda"),
    lambda: L.InstanceNorm1d(2, affine=True, bias=False, device="cuda"),
    lambda: L.InstanceNorm2d(2, track_running_stats=True, device="cuda"),
    lambda: L.LayerNorm(2, bias=False, device="cuda"), lambda: L.RMSNorm(2, device="cuda"),
    lambda: L.GroupNorm(1, 2, bias=False, device="cuda")])
def test_every_layer_passes_its_device_on(make):
    # Without CUDA, asking for it must fail: a layer that dropped ``device`` on its way to the
    # parameters or buffers would build on the CPU without complaint (each case has one kind
    # of tensor: parameters only, or buffers only)
    if not mg.cuda.is_available():
        with pytest.raises(RuntimeError, match="^device 'cuda:0' requested but CUDA is not "
                                               "available"):
            make()
        return
    layer = make()
    tensors = list(layer.parameters()) + [b for _, b in layer.named_buffers()]
    assert tensors and all(t.device.type == "cuda" for t in tensors)


def test_a_one_by_one_kernel_mixes_channels_pixel_by_pixel():
    layer = seeded(L.Conv2d(3, 2, 1), 33)
    x = np.random.default_rng(34).standard_normal((2, 3, 2, 3))
    expected = np.einsum("nchw,kc->nkhw", x, layer.weight.numpy()[:, :, 0, 0]) \
        + layer.bias.numpy()[:, None, None]
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-12)
    assert L.Conv1d(3, 2, (1,)).kernel_size == (1,)
    assert L.ConvTranspose2d(3, 2, (1, 2)).weight.shape == (3, 2, 1, 2)
