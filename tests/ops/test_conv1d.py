"""1-D convolution and pooling (F.conv1d, F.conv_transpose1d, F.max_pool1d, F.avg_pool1d,
F.adaptive_avg_pool1d and their layers): values by hand and against PyTorch, the layers'
unbatched inputs, padding modes, reprs and state dicts, and the errors, which name the 1-D
function. (Forward, gradcheck and gradgradcheck over drawn geometries run in the op registry.)"""
import numpy as np
import pytest
from hypothesis import given, settings

import minigrad as mg
import minigrad.functional as F
import layers as L
import references as R
import strategies as S
from torch_oracle import same_module_as_torch


def test_values_by_hand():
    x = mg.tensor([[[1.0, 2.0, 4.0, 8.0]]])
    assert F.conv1d(x, mg.tensor([[[1.0, -1.0]]])).tolist() == [[[-1.0, -2.0, -4.0]]]
    assert F.conv1d(x, mg.tensor([[[1.0, 1.0]]]), mg.tensor([0.5]), stride=2,
                    padding=1).tolist() == [[[1.5, 6.5, 8.5]]]
    assert F.conv1d(x, mg.tensor([[[1.0, 1.0]]]), dilation=(2,)).tolist() == [[[5.0, 10.0]]]
    assert F.conv_transpose1d(mg.tensor([[[1.0, 2.0]]]), mg.tensor([[[1.0, 10.0]]]),
                              stride=2).tolist() == [[[1.0, 10.0, 2.0, 20.0]]]
    y, i = F.max_pool1d(x, 3, 1, 1, True)
    assert y.tolist() == [[[2.0, 4.0, 8.0, 8.0]]] and i.tolist() == [[[1, 2, 3, 3]]]
    assert F.avg_pool1d(x, 2, padding=1).tolist() == [[[0.5, 3.0, 4.0]]]
    assert F.avg_pool1d(x, 2, padding=1, count_include_pad=False).tolist() == [[[1.0, 3.0, 8.0]]]
    assert F.adaptive_avg_pool1d(x, 3).tolist() == [[[1.5, 3.0, 6.0]]]


@settings(max_examples=25, deadline=None)
@given(S.conv1d_inputs())
def test_conv1d_gradients_match_the_reference_by_linearity(inputs):
    """dL/dw of Σ g·conv1d(x, w) is, entry by entry, Σ g·conv1d(x, e_i) (conv1d is linear in w)."""
    arrays, kw = inputs
    x, w = arrays[0], arrays[1]
    wt = mg.tensor(w, requires_grad=True)
    y = F.conv1d(mg.tensor(x), wt, **kw)
    g = np.cos(np.arange(y.numpy().size)).reshape(y.shape)
    y.backward(mg.tensor(g))
    expected = np.zeros(w.shape)
    for i in np.ndindex(*w.shape):
        unit = np.zeros(w.shape)
        unit[i] = 1.0
        expected[i] = (R.conv1d(x, unit, **kw) * g).sum()
    np.testing.assert_allclose(wt.grad.numpy(), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.conv1d(mg.zeros(2, 3, 4, 4), mg.zeros(1, 3, 2)), ValueError,
     r"^conv1d: expected x of shape \(N, C, L\), got shape \(2, 3, 4, 4\)$"),
    (lambda: F.conv1d(mg.zeros(2, 3, 4), mg.zeros(1, 3, 2, 2)), ValueError,
     r"^conv1d: expected a weight of shape \(C_out, C_in // groups, KW\), got shape "
     r"\(1, 3, 2, 2\)$"),
    (lambda: F.conv1d([1.0], mg.zeros(1, 3, 2)), TypeError,
     r"^conv1d: expected x to be a Tensor, got list$"),
    (lambda: F.conv1d(mg.zeros(2, 3, 4), mg.zeros(1, 2, 2)), ValueError,
     r"^conv1d: x of shape \(2, 3, 1, 4\) has 3 channels.* \(computed as conv2d over a height "
     r"of 1, so shapes show H = 1\)$"),
    (lambda: F.conv1d(mg.zeros(2, 3, 4), mg.zeros(1, 3, 2), stride=(1, 2)), TypeError,
     r"^conv1d: stride must be an int or a tuple of one int, got \(1, 2\)$"),
    (lambda: F.conv_transpose1d(mg.zeros(2, 3, 4), mg.zeros(3, 1, 2), padding="same"), TypeError,
     r"^conv_transpose1d: padding must be an int or a tuple of one int, got 'same'$"),
    (lambda: F.conv_transpose1d(mg.zeros(2, 3, 4), mg.zeros(3, 1, 2), output_padding=3),
     ValueError, r"^conv_transpose1d: output_padding \(0, 3\) must be >= 0 and smaller than"),
    (lambda: F.max_pool1d(mg.zeros(2, 3), 2), ValueError,
     r"^max_pool1d: expected x of shape \(N, C, L\), got shape \(2, 3\)$"),
    (lambda: F.max_pool1d(mg.zeros(1, 1, 4), 2, padding=2), ValueError, r"^max_pool1d: "),
    (lambda: F.avg_pool1d(mg.zeros(1, 1, 4), (2, 2)), TypeError,
     r"^avg_pool1d: kernel_size must be an int or a tuple of one int, got \(2, 2\)$"),
    (lambda: F.adaptive_avg_pool1d(mg.zeros(1, 1, 4), 0), ValueError,
     r"^adaptive_avg_pool1d: output_size must be >= 1"),
])
def test_errors_name_the_1d_function(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("mode, numpy_mode", [("reflect", "reflect"), ("replicate", "edge"),
                                              ("circular", "wrap"), ("zeros", "constant")])
def test_conv1d_layer_padding_modes_and_unbatched_input(mode, numpy_mode):
    layer = L.Conv1d(2, 3, 4, padding="same", dilation=1, padding_mode=mode).double()
    x = np.random.default_rng(1).standard_normal((2, 2, 7))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 2)), mode=numpy_mode)  # 'same': the odd one after
    expected = R.conv1d(padded, layer.weight.numpy(), layer.bias.numpy())
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(layer(mg.tensor(x[1])).numpy(), expected[1], rtol=1e-10)
    assert layer.weight.shape == (3, 2, 4) and layer.bias.shape == (3,)


def test_layers_take_sequences_batched_or_not():
    x = np.random.default_rng(2).standard_normal((2, 4, 9))
    layers = [L.ConvTranspose1d(4, 2, 3, stride=2, output_padding=1).double(),
              L.MaxPool1d(3, 2, 1), L.AvgPool1d(2), L.AdaptiveAvgPool1d(4)]
    functions = [lambda t, m=layers[0]: F.conv_transpose1d(t, m.weight, m.bias, 2, 0, 1),
                 lambda t: F.max_pool1d(t, 3, 2, 1), lambda t: F.avg_pool1d(t, 2),
                 lambda t: F.adaptive_avg_pool1d(t, 4)]
    for layer, function in zip(layers, functions):
        expected = function(mg.tensor(x)).numpy()
        np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-12)
        np.testing.assert_allclose(layer(mg.tensor(x[0])).numpy(), expected[0], rtol=1e-12)
    y, i = L.MaxPool1d(2, return_indices=True)(mg.tensor(x[0]))
    assert y.shape == i.shape == (4, 4)
    with pytest.raises(ValueError, match=r"^MaxPool1d: expected an input of shape \(N, C, L\) "
                                         r"or \(C, L\), got shape \(4,\)$"):
        L.MaxPool1d(2)(mg.zeros(4))
    with pytest.raises(ValueError, match=r"^Conv1d: expected 4 input channels, got an input of "
                                         r"shape \(3, 9\)$"):
        L.Conv1d(4, 2, 3)(mg.zeros(3, 9))


@pytest.mark.parametrize("make", [
    lambda nn: nn.Conv1d(4, 6, 3),
    lambda nn: nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, bias=False),
    lambda nn: nn.Conv1d(4, 6, 4, padding="same", padding_mode="circular"),
    lambda nn: nn.Conv1d(4, 6, (3,), padding="valid", padding_mode="reflect"),
    lambda nn: nn.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1),
    lambda nn: nn.ConvTranspose1d(4, 2, 2, groups=2, dilation=2, bias=False),
    lambda nn: nn.MaxPool1d(3, 2, 1, ceil_mode=True),
    lambda nn: nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False),
    lambda nn: nn.AdaptiveAvgPool1d(4)])
def test_layers_vs_torch(make):
    """The same state dict, the same repr, outputs and every gradient, batched and unbatched."""
    torch = pytest.importorskip("torch")
    theirs, ours = make(torch.nn).double(), make(L).double()
    for shape in ((2, 4, 9), (4, 9)):
        same_module_as_torch(torch, ours, theirs,
                             [np.random.default_rng(3).standard_normal(shape)])


@settings(max_examples=25, deadline=None)
@given(S.pool1d_inputs("max"))
def test_max_pool1d_vs_torch_with_indices(inputs):
    torch = pytest.importorskip("torch")
    (x,), kw = inputs
    kw = {**kw, "return_indices": True}
    y, i = F.max_pool1d(mg.tensor(x), **kw)
    t, ti = torch.nn.functional.max_pool1d(torch.tensor(x), **kw)
    np.testing.assert_array_equal(y.numpy(), t.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
