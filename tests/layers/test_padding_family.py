"""The padding layers over 1, 2 and 3 spatial axes (constant, zero, reflection, replication,
circular): values against numpy.pad, batched and unbatched, the gradient of a border entry,
the errors that name the layer and the side, and PyTorch's values, gradients and reprs."""
import numpy as np
import pytest

import minigrad as mg
import layers as L

NUMPY_MODES = {"ConstantPad": "constant", "ZeroPad": "constant", "ReflectionPad": "reflect",
               "ReplicationPad": "edge", "CircularPad": "wrap"}
FAMILY = [(kind, dims) for kind in NUMPY_MODES for dims in (1, 2, 3)]


def _make(module, kind, dims, padding):
    cls = getattr(module, f"{kind}{dims}d")
    return cls(padding, -1.5) if kind == "ConstantPad" else cls(padding)


def _widths(padding, dims):
    """numpy.pad's widths (first axis first) for a layer's padding (last axis first)."""
    pairs = [(padding[2 * i], padding[2 * i + 1]) for i in range(dims)]
    return [(0, 0), (0, 0)] + pairs[::-1]


@pytest.mark.parametrize("kind, dims", FAMILY)
def test_each_layer_matches_numpy_pad_batched_and_unbatched(kind, dims):
    rng = np.random.default_rng(dims)
    x = rng.standard_normal((2, 3) + (5, 4, 6)[:dims])
    padding = (1, 2, 3, 0, 2, 1)[:2 * dims]
    layer = _make(L, kind, dims, padding)
    kw = {"constant_values": -1.5 if kind == "ConstantPad" else 0.0} \
        if NUMPY_MODES[kind] == "constant" else {}
    expected = np.pad(x, _widths(padding, dims), mode=NUMPY_MODES[kind], **kw)
    np.testing.assert_array_equal(layer(mg.tensor(x)).numpy(), expected)
    np.testing.assert_array_equal(layer(mg.tensor(x[1])).numpy(), expected[1])
    assert layer.padding == padding
    assert _make(L, kind, dims, 2).padding == (2,) * (2 * dims)


def test_circular_padding_sends_both_copies_gradient_home():
    x = mg.tensor(np.array([[1.0, 2.0, 3.0]]), requires_grad=True)
    L.CircularPad1d((2, 1))(x).backward(mg.tensor(np.array([[1.0, 10.0, 100.0, 1000.0,
                                                                  10000.0, 100000.0]])))
    # [b c | a b c | a]: a gets 100 and 100000, b 1 and 1000, c 10 and 10000
    assert x.grad.tolist() == [[100100.0, 1001.0, 10010.0]]


@pytest.mark.parametrize("call, error, message", [
    (lambda: L.ReflectionPad1d((1, 2, 3)), ValueError,
     r"^ReflectionPad1d: padding must be an int or \(left, right\), got \(1, 2, 3\)$"),
    (lambda: L.ZeroPad3d((1, 2)), ValueError,
     r"^ZeroPad3d: padding must be an int or \(left, right, top, bottom, front, back\), got "
     r"\(1, 2\)$"),
    (lambda: L.CircularPad2d(1)(mg.zeros(1, 1, 1, 1, 1)), ValueError,
     r"^CircularPad2d: expected a Tensor of shape \(N, C, H, W\) or \(C, H, W\), got "
     r"\(1, 1, 1, 1, 1\)$"),
    (lambda: L.ConstantPad1d(1, 0.0)([1.0]), TypeError,
     r"^ConstantPad1d: expected a Tensor of shape \(N, C, L\) or \(C, L\), got list$"),
    (lambda: L.CircularPad1d((0, 4))(mg.zeros(1, 3)), ValueError,
     r"^CircularPad1d: padding \(0, 4\) of the width must be in \[0, 3\] \(at most the width, "
     r"3\)$"),
    (lambda: L.ReflectionPad3d((0, 0, 0, 0, 2, 0))(mg.zeros(1, 2, 3, 3)), ValueError,
     r"^ReflectionPad3d: padding \(2, 0\) of the depth must be in \[0, 1\] \(below the depth, "
     r"2\)$"),
    (lambda: L.ReplicationPad1d((1, -1))(mg.zeros(1, 3)), ValueError,
     r"^ReplicationPad1d: padding \(1, -1\) must be >= 0 and the width >= 1, got 3$"),
    (lambda: L.ConstantPad3d((0, 0, 0, 0, -3, 2), 0.0)(mg.zeros(1, 2, 2, 2)), ValueError,
     r"^ConstantPad3d: padding \(0, 0, 0, 0, -3, 2\) crops an input of shape \(1, 2, 2, 2\) "
     r"below zero size$"),
])
def test_errors_name_the_layer_the_side_and_the_numbers(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("kind, dims", FAMILY)
def test_each_layer_vs_torch(kind, dims):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(5).standard_normal((2, 3) + (4, 3, 5)[:dims])
    padding = (2, 1, 0, 2, 1, 1)[:2 * dims]
    ours, theirs = _make(L, kind, dims, padding), _make(torch.nn, kind, dims, padding)
    assert repr(ours) == repr(theirs)
    ours_x, theirs_x = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, t = ours(ours_x), theirs(theirs_x)
    np.testing.assert_array_equal(y.numpy(), t.detach().numpy())
    g = np.arange(1.0, t.numel() + 1).reshape(t.shape)
    y.backward(mg.tensor(g))
    t.backward(torch.tensor(g))
    np.testing.assert_array_equal(ours_x.grad.numpy(), theirs_x.grad.numpy())
