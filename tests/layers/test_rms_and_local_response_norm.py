"""RMSNorm and LocalResponseNorm (and F.rms_norm, F.local_response_norm): values by hand, the
layers' parameters, reprs and errors, and PyTorch's values and gradients. (Forward, gradcheck
and gradgradcheck over drawn shapes and options run in the op registry, op_specs_norm.py.)"""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
import layers as L
from torch_oracle import same_module_as_torch


def test_rms_norm_by_hand_and_its_default_eps():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    y = F.rms_norm(mg.tensor(x), 2, eps=0.0).numpy()
    np.testing.assert_allclose(y[0], [3.0, 4.0] / np.sqrt(12.5), rtol=1e-15)
    # eps=None is the dtype's epsilon: a zero row stays finite (0), in float32 and float64
    for dtype in (np.float32, np.float64):
        out = F.rms_norm(mg.tensor(x.astype(dtype)), 2).numpy()
        assert out.dtype == dtype and np.all(np.isfinite(out)) and out[1].tolist() == [0.0, 0.0]
        np.testing.assert_allclose(out[0], x[0] / np.sqrt(12.5 + np.finfo(dtype).eps),
                                   rtol=1e-6)


def test_rms_norm_layer_scales_by_its_weight_and_has_no_bias():
    layer = L.RMSNorm((2, 3)).double()
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert layer.weight.tolist() == [[1.0] * 3] * 2 and layer.bias is None
    with mg.no_grad():
        layer.weight.data[...] = np.arange(1.0, 7.0).reshape(2, 3)
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    rms = np.sqrt((x ** 2).mean((1, 2), keepdims=True) + np.finfo(np.float64).eps)
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(),
                               x / rms * np.arange(1.0, 7.0).reshape(2, 3), rtol=1e-12)
    assert L.RMSNorm(3, elementwise_affine=False).weight is None
    assert repr(L.RMSNorm(3, eps=0.1)) == "RMSNorm((3,), eps=0.1, elementwise_affine=True)"


def test_local_response_norm_by_hand():
    # channels 1, 2, 3; size 3 takes the neighbours on both sides, a missing one counting 0
    x = mg.tensor(np.array([[[1.0], [2.0], [3.0]]]))
    y = L.LocalResponseNorm(3, alpha=3.0, beta=1.0, k=1.0)(x).numpy()[0, :, 0]
    np.testing.assert_allclose(y, [1 / (1 + 5), 2 / (1 + 14), 3 / (1 + 13)], rtol=1e-15)
    # size 2 looks one channel back (PyTorch's window: size // 2 before, (size - 1) // 2 after)
    y = F.local_response_norm(x, 2, alpha=2.0, beta=1.0, k=1.0).numpy()[0, :, 0]
    np.testing.assert_allclose(y, [1 / (1 + 1), 2 / (1 + 5), 3 / (1 + 13)], rtol=1e-15)
    assert repr(L.LocalResponseNorm(2)) == "LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)"


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.rms_norm(mg.zeros(2, 3), (2,)), ValueError,
     r"^rms_norm: input of shape \(2, 3\) does not end with normalized_shape \(2,\)$"),
    (lambda: F.rms_norm(mg.zeros(2, 3), 3, weight=mg.ones(2)), ValueError,
     r"^rms_norm: weight must have shape \(3,\), got \(2,\)$"),
    (lambda: F.rms_norm(mg.zeros(2, 3), 3, eps=-1.0), ValueError,
     r"^rms_norm: eps must be >= 0, got -1.0$"),
    (lambda: F.rms_norm(mg.zeros(2, 3, dtype=np.int64), 3), TypeError,
     r"^rms_norm: expected a floating-point input, got dtype int64$"),
    (lambda: L.RMSNorm(3)(mg.zeros(3, 2)), ValueError,
     r"^RMSNorm: expected an input whose trailing axes are normalized_shape \(3,\), got "
     r"\(3, 2\)$"),
    (lambda: F.local_response_norm(mg.zeros(2, 3), 2), ValueError,
     r"^local_response_norm: expected an input of shape \(N, C, \.\.\.\) with at least 3 axes, "
     r"got shape \(2, 3\)$"),
    (lambda: F.local_response_norm(mg.zeros(1, 2, 3), 0), ValueError,
     r"^local_response_norm: size must be an int >= 1, got 0$"),
    (lambda: L.LocalResponseNorm(1.5), TypeError, r"^LocalResponseNorm: size"),
])
def test_errors_name_the_function(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("make", [
    lambda nn: nn.RMSNorm(4), lambda nn: nn.RMSNorm((3, 4), eps=1e-3),
    lambda nn: nn.RMSNorm(4, elementwise_affine=False),
    lambda nn: nn.LocalResponseNorm(3), lambda nn: nn.LocalResponseNorm(2, 0.5, 1.2, 0.7)])
def test_layers_vs_torch(make):
    torch = pytest.importorskip("torch")
    ours, theirs = make(L).double(), make(torch.nn).double()
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(0.5, 2.0)
    same_module_as_torch(torch, ours, theirs,
                         [np.random.default_rng(4).standard_normal((2, 5, 3, 4))],
                         rtol=1e-10, atol=1e-12)
