"""Gradients through the layers, input and parameters together, against finite differences.

Each test draws a small geometry, builds the layer in float64 and passes its parameters to
``mg.gradcheck`` as inputs: gradcheck perturbs them in place, which is exactly what the layer
reads, so one check covers dL/dx, dL/dweight and dL/dbias.
"""
import numpy as np
from hypothesis import given, settings, strategies as st

import minigrad as mg
from layers import (Bilinear, BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Embedding,
                    GroupNorm, InstanceNorm1d, InstanceNorm2d, LayerNorm, Linear)
from strategies import conv_geometry, values


def tensor(array):
    return mg.tensor(array, dtype=np.float64, requires_grad=True)


def check(layer, *inputs, second_order=False, max_entries=1000):
    """gradcheck (and optionally gradgradcheck) of ``layer`` in its inputs and parameters,
    perturbing at most ``max_entries`` (seeded, random) entries of each."""
    params = list(layer.parameters())
    n = len(inputs)
    fn = lambda *args: layer(*args[:n])  # noqa: E731  (the parameters are read by the layer)
    assert mg.gradcheck(fn, tuple(inputs) + tuple(params), max_entries=max_entries)
    if second_order:
        assert mg.gradgradcheck(fn, tuple(inputs) + tuple(params))


@given(st.data(), st.integers(1, 3), st.integers(1, 4), st.integers(1, 3), st.booleans())
def test_linear(data, N, IN, OUT, bias):
    layer = Linear(IN, OUT, bias=bias).double()
    check(layer, tensor(data.draw(values((N, IN)))), second_order=True)


@settings(max_examples=6)
@given(st.data(), st.integers(1, 2), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2))
def test_bilinear(data, N, IN1, IN2, OUT):
    layer = Bilinear(IN1, IN2, OUT).double()
    check(layer, tensor(data.draw(values((N, IN1)))), tensor(data.draw(values((N, IN2), salt=1))))


def conv_layer(layer_class, g, bias):
    """A float64 layer with the geometry ``g`` drawn by ``strategies.conv_geometry``."""
    extra = {"output_padding": (g["OPH"], g["OPW"])} if layer_class is ConvTranspose2d else {}
    return layer_class(g["C"], g["K"], (g["KH"], g["KW"]), stride=(g["SH"], g["SW"]),
                       padding=(g["PH"], g["PW"]), dilation=(g["DH"], g["DW"]), groups=g["G"],
                       bias=bias, **extra).double()


@settings(max_examples=8)
@given(st.data(), conv_geometry(max_size=3), st.booleans())
def test_conv2d(data, g, bias):
    x = tensor(data.draw(values((g["N"], g["C"], g["H"], g["W"]))))
    layer = conv_layer(Conv2d, g, bias)
    assert layer(x).shape == (g["N"], g["K"], g["OH"], g["OW"])
    check(layer, x, max_entries=48)


@settings(max_examples=8)
@given(st.data(), conv_geometry(transposed=True, max_size=3), st.booleans())
def test_conv_transpose2d(data, g, bias):
    x = tensor(data.draw(values((g["N"], g["C"], g["H"], g["W"]))))
    layer = conv_layer(ConvTranspose2d, g, bias)
    assert layer(x).shape == (g["N"], g["K"], g["OH"], g["OW"])
    check(layer, x, max_entries=48)


@settings(max_examples=8)
@given(st.data(), st.integers(2, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))
def test_batchnorm2d_training(data, N, C, H, W):
    layer = BatchNorm2d(C).double()
    check(layer, tensor(data.draw(values((N, C, H, W)))))


@settings(max_examples=6)
@given(st.data(), st.integers(2, 4), st.integers(1, 3))
def test_batchnorm1d_training_and_eval(data, N, C):
    layer = BatchNorm1d(C).double()
    x = tensor(data.draw(values((N, C))))
    check(layer, x)
    check(layer.eval(), x)


@settings(max_examples=8)
@given(st.data(), st.integers(1, 3), st.lists(st.integers(1, 3), min_size=1, max_size=2))
def test_layer_norm(data, N, trailing):
    shape = tuple(trailing)
    if int(np.prod(shape)) == 1:
        shape = (2,) + shape
    layer = LayerNorm(shape).double()
    with mg.no_grad():  # away from the init (1, 0), so that a dropped term would show
        layer.weight.data[...] = data.draw(values(shape, low=0.5, high=2.0, salt=1))
    check(layer, tensor(data.draw(values((N,) + shape))), second_order=True)


@settings(max_examples=8)
@given(st.data(), st.integers(1, 2), st.integers(1, 2), st.integers(1, 2), st.integers(1, 3))
def test_group_norm(data, N, G, per_group, HW):
    C = G * per_group
    if per_group * HW == 1:
        HW = 2
    layer = GroupNorm(G, C).double()
    check(layer, tensor(data.draw(values((N, C, HW)))))


@settings(max_examples=6)
@given(st.data(), st.integers(1, 2), st.integers(1, 2), st.integers(2, 3))
def test_instance_norm(data, N, C, H):
    layer = InstanceNorm2d(C, affine=True).double()
    check(layer, tensor(data.draw(values((N, C, H, 2)))))


@settings(max_examples=6)
@given(st.data(), st.integers(1, 2), st.integers(1, 3), st.integers(2, 5))
def test_instance_norm_1d(data, N, C, L):
    layer = InstanceNorm1d(C, affine=True).double()
    check(layer, tensor(data.draw(values((N, C, L)))))


@settings(max_examples=8)
@given(st.integers(2, 5), st.integers(1, 3), st.data())
def test_embedding(V, E, data):
    layer = Embedding(V, E).double()
    idx = np.array(data.draw(st.lists(st.integers(0, V - 1), min_size=1, max_size=6)))
    assert mg.gradcheck(lambda w: layer(idx), (layer.weight,))
    # With a padding row, the other rows' gradients are unchanged and the padding row's is 0
    # (on purpose: finite differences would see it, so this compares with the plain layer).
    padding_idx = data.draw(st.integers(0, V - 1))
    padded = Embedding(V, E, padding_idx=padding_idx).double()
    padded.weight.data[...] = layer.weight.data
    g = mg.tensor(data.draw(values(idx.shape + (E,))))
    (layer(idx) * g).sum().backward()
    (padded(idx) * g).sum().backward()
    expected = layer.weight.grad.numpy().copy()
    expected[padding_idx] = 0
    np.testing.assert_allclose(padded.weight.grad.numpy(), expected, rtol=1e-12)
