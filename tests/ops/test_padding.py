"""F.pad, PyTorch's padding: every mode against numpy.pad, the gradient of entries read twice,
the errors, and PyTorch itself where it is installed. (Forward, gradcheck and gradgradcheck over
drawn shapes, widths and modes run in the op registry, tests/op_specs.py: "F.pad".)"""
import numpy as np
import pytest
from hypothesis import given, settings

import minigrad as mg
import minigrad.functional as F
import references as R
import strategies as S


@settings(max_examples=60, deadline=None)
@given(S.torch_pad_inputs())
def test_pad_matches_numpy_pad_in_every_mode(inputs):
    (x,), params = inputs
    out = F.pad(mg.tensor(x), **params)
    np.testing.assert_array_equal(out.numpy(), R.torch_pad(x, **params))


def test_pad_by_hand_in_each_mode():
    x = mg.tensor([[1.0, 2.0, 3.0]])
    assert F.pad(x, (2, 2)).tolist() == [[0.0, 0.0, 1.0, 2.0, 3.0, 0.0, 0.0]]
    assert F.pad(x, (2, 2), mode="reflect").tolist() == [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]
    assert F.pad(x, (2, 2), mode="replicate").tolist() == [[1.0, 1.0, 1.0, 2.0, 3.0, 3.0, 3.0]]
    assert F.pad(x, (2, 2), mode="circular").tolist() == [[2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0]]
    assert F.pad(x, (-1, 1), value=5.0).tolist() == [[2.0, 3.0, 5.0]]
    # Two axes, last axis first: (left, right, top, bottom).
    y = F.pad(mg.tensor([[1.0, 2.0], [3.0, 4.0]]), (1, 0, 0, 1), mode="replicate")
    assert y.tolist() == [[1.0, 1.0, 2.0], [3.0, 3.0, 4.0], [3.0, 3.0, 4.0]]


def test_entries_read_twice_get_both_gradients():
    # replicate (2, 1) on [a b c] reads a three times and c twice; circular (1, 1) reads c and a
    # twice each; a constant crop gives no gradient to what it drops.
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    g = mg.tensor([1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0])
    F.pad(x, (2, 1), mode="replicate").backward(g)
    assert x.grad.tolist() == [111.0, 1000.0, 110000.0]
    x.grad = None
    F.pad(x, (1, 1), mode="circular").backward(mg.tensor([1.0, 10.0, 100.0, 1000.0, 10000.0]))
    assert x.grad.tolist() == [10010.0, 100.0, 1001.0]
    x.grad = None
    F.pad(x, (-1, 2)).backward(mg.tensor([1.0, 10.0, 100.0, 1000.0]))
    assert x.grad.tolist() == [0.0, 1.0, 10.0]


@pytest.mark.parametrize("call, error, message", [
    (lambda x: F.pad(x, (1,)), ValueError, r"^pad: expected an even-length tuple of ints"),
    (lambda x: F.pad(x, (1, 1.5)), ValueError, r"^pad: expected an even-length tuple of ints"),
    (lambda x: F.pad(x, (True, 1)), ValueError, r"^pad: expected an even-length tuple of ints"),
    (lambda x: F.pad(x, 1), ValueError, r"^pad: expected an even-length tuple of ints"),
    (lambda x: F.pad(x, (0, 0) * 3), ValueError,
     r"^pad: \(0, 0, 0, 0, 0, 0\) pads 3 axes, but the input of shape \(2, 3\) has 2"),
    (lambda x: F.pad(x, (1, 1), mode="wrap"), ValueError,
     r"^pad: mode must be one of \('constant', 'reflect', 'replicate', 'circular'\), got 'wrap'"),
    (lambda x: F.pad(x, (1, 1), mode="reflect", value=0.0), ValueError,
     r"^pad: mode='reflect' takes no value"),
    (lambda x: F.pad(x, (-1, 0), mode="replicate"), ValueError,
     r"^pad: mode='replicate' with widths \(-1, 0\) on axis 1 of length 3 \(input \(2, 3\)\): "
     r"widths must be >= 0"),
    (lambda x: F.pad(x, (3, 0), mode="reflect"), ValueError,
     r"^pad: mode='reflect' with widths \(3, 0\) on axis 1 of length 3 .*below the length"),
    (lambda x: F.pad(x, (0, 4), mode="circular"), ValueError,
     r"^pad: mode='circular' with widths \(0, 4\) on axis 1 of length 3 .*at most the length"),
    (lambda x: F.pad(x, (-2, -2)), ValueError,
     r"^pad: widths \(-2, -2\) crop more than axis 1 of length 3 holds \(input \(2, 3\)\)"),
    (lambda x: F.pad(x[:, :0], (1, 1), mode="replicate"), ValueError,
     r"^pad: mode='replicate' .* the axis must not be empty"),
])
def test_pad_errors_name_the_widths_the_axis_and_what_was_expected(call, error, message):
    with pytest.raises(error, match=message):
        call(mg.zeros(2, 3))


def test_the_largest_legal_widths_and_crops():
    x = mg.tensor([1.0, 2.0, 3.0])
    assert F.pad(x, (2, 2), mode="reflect").shape == (7,)
    assert F.pad(x, (3, 3), mode="circular").tolist() == [1.0, 2.0, 3.0] * 3
    assert F.pad(x, (-1, -2)).shape == (0,)
    assert F.pad(x, (-3, 1), value=7.0).tolist() == [7.0]


@settings(max_examples=60, deadline=None)
@given(S.torch_pad_inputs())
def test_pad_vs_torch(inputs):
    """Values and gradients against PyTorch, wherever PyTorch takes the problem (it limits the
    non-constant modes to the last 1-3 axes of an input with 1-2 more; minigrad pads any)."""
    torch = pytest.importorskip("torch")
    (x,), params = inputs
    theirs_x = torch.tensor(x, requires_grad=True)
    try:
        theirs = torch.nn.functional.pad(theirs_x, **params)
    except (RuntimeError, NotImplementedError, ValueError):
        return  # a combination PyTorch does not implement
    ours_x = mg.tensor(x, requires_grad=True)
    ours = F.pad(ours_x, **params)
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())
    g = np.arange(1.0, ours.numpy().size + 1).reshape(ours.shape)
    ours.backward(mg.tensor(g))
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-12)
