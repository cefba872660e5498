"""In-place changes against the graph: version counters shared by a tensor, its detach()es and
its views, checked for saved inputs and saved outputs alike, with PyTorch's error."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from strategies import shapes, values

# Ops that save their own output for backward, with the op name the error must give.
SAVES_OUTPUT = [("Exp", lambda x: x.exp()), ("Tanh", lambda x: x.tanh()),
                ("Sigmoid", lambda x: x.sigmoid()), ("Sqrt", lambda x: (x * x + 1).sqrt())]

# Every way of changing a tensor in place; each must bump the shared version counter.
IN_PLACE = {
    "imul": lambda t: t.__imul__(0.0),
    "iadd": lambda t: t.__iadd__(10.0),
    "isub": lambda t: t.__isub__(1.0),
    "itruediv": lambda t: t.__itruediv__(2.0),
    "zero_": lambda t: t.zero_(),
    "copy_": lambda t: t.copy_(np.full(t.shape, 3.0)),
    "setitem": lambda t: t.__setitem__(..., 5.0),
}

MESSAGE = ("one of the variables needed for gradient computation has been modified by an "
           "inplace operation")


def leaf(array):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


@given(data=st.data(), op=st.sampled_from(SAVES_OUTPUT), change=st.sampled_from(sorted(IN_PLACE)))
def test_changing_a_saved_output_in_place_raises_naming_the_op(data, op, change):
    name, fn = op
    x = leaf(data.draw(values(data.draw(shapes(max_dims=3)))))
    y = fn(x)
    with mg.no_grad():
        IN_PLACE[change](y)
    with pytest.raises(RuntimeError, match=rf"{MESSAGE}: \[float64 tensor of shape "
                                           rf".*\], which is output 0 of {name}, is at version "
                                           r"1; expected version 0 instead"):
        y.sum().backward()


@given(data=st.data(), change=st.sampled_from(sorted(IN_PLACE)))
def test_changing_a_detached_copy_of_a_saved_input_raises(data, change):
    x = leaf(data.draw(values(data.draw(shapes(max_dims=3)))))
    w = leaf(np.ones(x.shape))
    y = (x * w).sum()          # Mul saves x
    IN_PLACE[change](x.detach())
    assert x._version == 1
    with pytest.raises(RuntimeError, match=rf"{MESSAGE}: .* which is input 0 of Mul, is at "
                                           "version 1; expected version 0"):
        y.backward()


def test_changing_a_view_of_a_saved_tensor_raises():
    x = leaf(np.arange(6.0).reshape(2, 3))
    y = x * 2
    z = (y * y).sum()          # Mul saves y
    flat = y.reshape(-1)       # a view of y's memory
    with mg.no_grad():
        flat[0] = 100.0
    assert y._version == flat._version == 1
    with pytest.raises(RuntimeError, match="input 0 of Mul, is at version 1; expected version 0"):
        z.backward()


def test_a_saved_output_left_alone_gives_the_right_gradient():
    x = leaf([0.5, -1.0])
    y = x.exp()
    y.detach()                 # sharing the counter without changing anything is fine
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, -1.0]))


def test_a_change_before_the_save_is_no_error():
    x = leaf([1.0, 2.0])
    c = mg.tensor(np.array([3.0, 4.0]))
    c += 1                     # version 1 when Mul saves it: that is the version backward sees
    (x * c).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 5.0])


def test_a_fresh_result_does_not_share_its_inputs_counter():
    x = leaf([1.0, 2.0])
    y = x * 2                  # a new array, not a view
    with mg.no_grad():
        y += 1
    assert x._version == 0 and y._version == 1


def test_bumping_version_by_hand_is_seen_through_detach():
    # optimizers and Module.load_state_dict write ``p._version += 1`` after an in-place step
    p = leaf([1.0])
    d = p.detach()
    p._version += 1
    assert d._version == 1
