"""What ``Tensor``'s own methods promise (``minigrad/tensor.py``, ``checks.py``,
``grad_mode.py``), checked where the rest of the suite did not look: each test fails for a
small, realistic change (a repr that drops a field, a default flipped, an error message cut
short), found by a mutation run of those modules.
"""
import re

import numpy as np
import pytest

import minigrad as mg


# repr, len -----------------------------------------------------------------------------------

@pytest.mark.parametrize("make,text", [
    (lambda: mg.tensor([1.0, 2.0]), "tensor([1., 2.])"),
    (lambda: mg.tensor([[1.5, 2.0], [3.0, 4.0]], dtype=np.float64, requires_grad=True),
     "tensor([[1.5, 2. ],\n        [3. , 4. ]], dtype=float64, requires_grad=True)"),
    (lambda: mg.tensor([1.0, 2.0], requires_grad=True) * 2, "tensor([2., 4.], grad_fn=<Mul>)"),
    (lambda: mg.tensor([1.0], dtype=np.float64, requires_grad=True) * 2,
     "tensor([2.], dtype=float64, grad_fn=<Mul>)"),
    (lambda: mg.tensor([1, 2]), "tensor([1, 2], dtype=int64)"),
    (lambda: mg.tensor(3.0), "tensor(3.)"),
])
def test_repr_is_pytorchs_layout(make, text):
    assert repr(make()) == text


@pytest.mark.parametrize("shape,length", [((4,), 4), ((2, 5), 2), ((0, 3), 0), ((1,), 1)])
def test_len_is_the_first_axis(shape, length):
    assert len(mg.tensor(np.zeros(shape))) == length


def test_len_of_a_0d_tensor_is_a_type_error():
    with pytest.raises(TypeError, match=re.escape("len() of a 0-d tensor")):
        len(mg.tensor(1.0))


# new_* ---------------------------------------------------------------------------------------

def test_new_tensor_takes_dtype_and_device_from_self_unless_given():
    base = mg.tensor([1.0], dtype=np.float64)
    t = base.new_tensor([1, 2])
    assert (t.dtype, t.device, t.requires_grad) == (np.float64, "cpu", False)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    t = base.new_tensor([1.5, 2.5], dtype=np.float32, requires_grad=True)
    assert (t.dtype, t.requires_grad, t.is_leaf) == (np.float32, True, True)
    np.testing.assert_array_equal(t.numpy(), [1.5, 2.5])
    assert base.new_tensor([1.0], device="cpu").device == "cpu"


@pytest.mark.parametrize("method,value", [("new_zeros", 0.0), ("new_ones", 1.0),
                                          ("new_empty", None)])
def test_new_filled_tensors_take_sizes_as_ints_or_one_tuple(method, value):
    base = mg.tensor([1.0], dtype=np.float64)
    for t in (getattr(base, method)(2, 3), getattr(base, method)((2, 3)),
              getattr(base, method)([2, 3])):
        assert (t.shape, t.dtype, t.requires_grad) == ((2, 3), np.float64, False)
        if value is not None:
            np.testing.assert_array_equal(t.numpy(), np.full((2, 3), value))
    t = getattr(base, method)(4, dtype=np.float32, requires_grad=True)
    assert (t.shape, t.dtype, t.requires_grad) == ((4,), np.float32, True)


# to ------------------------------------------------------------------------------------------

def test_to_a_dtype_by_position_or_keyword_casts_and_stays_differentiable():
    x = mg.tensor([1.5, -2.0], requires_grad=True)
    for y in (x.to(np.float64), x.to(dtype=np.float64), x.to("cpu", np.float64),
              x.to(device="cpu", dtype=np.float64)):
        assert y.dtype == np.float64 and y.device == "cpu"
        np.testing.assert_array_equal(y.numpy(), [1.5, -2.0])
        (y * mg.tensor([3.0, 4.0], dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [12.0, 16.0])
    assert x.grad.dtype == np.float32


def test_to_the_same_device_and_dtype_is_the_tensor_itself():
    x = mg.tensor([1.0, 2.0])
    assert x.to("cpu") is x and x.to(np.float32) is x and x.to() is x
    assert x.to("cpu", non_blocking=True) is x
