"""Shape ops: each Function takes its non-tensor arguments by keyword and its backward returns
exactly one gradient; the wrappers' options (-1 sizes, axis forms, pad value)."""
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.ops.shape import BroadcastTo, Pad, Permute, Reshape, SumTo

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("op, params, out_shape", [
    (Reshape, {"shape": (3, 2)}, (3, 2)),
    (Permute, {"axes": (1, 0)}, (3, 2)),
    (BroadcastTo, {"shape": (4, 2, 3)}, (4, 2, 3)),
    (SumTo, {"shape": (1, 3)}, (1, 3)),
    (Pad, {"pad": ((1, 0), (0, 2)), "value": 0.0}, (3, 5)),
])
def test_shape_functions_return_one_gradient(op, params, out_shape):
    x = mg.tensor(RNG.normal(size=(2, 3)), requires_grad=True)
    out = op.apply(x, **params)
    assert out.shape == out_shape
    g = op.backward(out.grad_fn, mg.ones(*out_shape))
    assert isinstance(g, mg.Tensor) and g.shape == (2, 3)


def test_pad_value_and_reshape_minus_one():
    x = mg.tensor([[1.0, 2.0]], requires_grad=True)
    out = mg.pad(x, ((1, 0), (0, 1)), value=7.0)
    np.testing.assert_array_equal(out.numpy(), [[7, 7, 7], [1, 2, 7]])
    (g,) = mg.grad((out * out).sum(), (x,))
    np.testing.assert_array_equal(g.numpy(), [[2.0, 4.0]])
    assert mg.reshape(mg.zeros(2, 3), (-1, 2)).shape == (3, 2)
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(2, 3\)"):
        mg.reshape(mg.zeros(2, 3), (4, -1))


def test_reshape_takes_integer_sizes_only():
    x = mg.zeros(6)
    # NumPy integers and 0-d integer tensors are sizes; floats are refused, even whole ones
    assert mg.reshape(x, (np.int64(2), mg.tensor(3))).shape == (2, 3)
    for shape in [(2.7, 3), (2, 3.0)]:
        with pytest.raises(TypeError, match=r"reshape: shape entries must be integers, got "
                                            + re.escape(str(shape))):
            mg.reshape(x, shape)
    with pytest.raises(ValueError, match=r"reshape: invalid shape \(-2, -3\): each entry"):
        x.reshape(-2, -3)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cat_and_stack_axis(axis):
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    np.testing.assert_array_equal(mg.cat([mg.tensor(a), mg.tensor(b)], axis).numpy(),
                                  np.concatenate([a, b], axis))
    np.testing.assert_array_equal(mg.stack([mg.tensor(a), mg.tensor(b)], axis).numpy(),
                                  np.stack([a, b], axis))


def test_squeeze_unsqueeze_flatten_axes():
    x = mg.zeros(1, 3, 1, 2)
    assert mg.squeeze(x).shape == (3, 2)
    assert mg.squeeze(x, 2).shape == (1, 3, 2)
    assert mg.squeeze(x, (0, 2)).shape == (3, 2)
    assert mg.unsqueeze(x, -1).shape == (1, 3, 1, 2, 1)
    assert mg.flatten(x, 1).shape == (1, 6)
    assert x.flatten(1, 2).shape == (1, 3, 2)
