"""The shape ops name themselves in every error and read every form of their arguments.

Written from the survivors of a mutation run over ``minigrad/ops/shape.py``: each test fails if
an op reports another op's name, ignores the ``axis=`` spelling, loses the default axis of
``stack``, or misreads a single int where a tuple of sizes is also accepted.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.ops import shape

X = mg.zeros(2, 3)


@pytest.mark.parametrize("name, call, ndim", [
    ("permute", lambda: shape.permute(X, 0, 5), 2),
    ("transpose", lambda: shape.transpose(X, 0, 5), 2),
    ("squeeze", lambda: shape.squeeze(X, 5), 2),
    ("unsqueeze", lambda: shape.unsqueeze(X, 5), 3),
    ("flatten", lambda: shape.flatten(X, 5), 2),
    ("flatten", lambda: shape.flatten(X, 0, 5), 2),
    ("cat", lambda: shape.cat([X, X], 5), 2),
    ("stack", lambda: shape.stack([X, X], 5), 3),
])
def test_an_axis_out_of_range_names_the_op(name, call, ndim):
    with pytest.raises(IndexError) as error:
        call()
    assert str(error.value) == f"{name}: axis 5 is out of range for a tensor of {ndim} dimensions"


@pytest.mark.parametrize("op, args", [
    (shape.squeeze, (X,)), (shape.unsqueeze, (X,)), (shape.stack, ([X, X],))])
def test_both_spellings_of_the_axis_name_the_op(op, args):
    with pytest.raises(TypeError) as error:
        op(*args, dim=0, axis=0)
    assert str(error.value) == f"{op.__name__}: got both dim=0 and axis=0; give one of them"


def test_unsqueeze_without_a_dim_says_what_is_missing():
    with pytest.raises(TypeError) as error:
        shape.unsqueeze(X)
    assert str(error.value) == "unsqueeze: missing the dim at which to insert the new axis"


def test_stack_defaults_to_a_new_first_axis_and_reads_axis_as_dim():
    a, b = mg.tensor(np.arange(6.0).reshape(2, 3)), mg.tensor(-np.arange(6.0).reshape(2, 3))
    expected = np.stack([a.numpy(), b.numpy()])
    np.testing.assert_array_equal(shape.stack([a, b]).numpy(), expected)
    np.testing.assert_array_equal(shape.stack([a, b], axis=2).numpy(),
                                  np.stack([a.numpy(), b.numpy()], axis=2))
    np.testing.assert_array_equal(shape.squeeze(mg.zeros(2, 1, 3), axis=1).numpy(),
                                  np.zeros((2, 3)))
    np.testing.assert_array_equal(shape.unsqueeze(a, axis=1).numpy(), a.numpy()[:, None])


def test_a_single_int_is_one_size_not_a_tuple():
    np.testing.assert_array_equal(shape.expand(mg.tensor([7.0]), 3).numpy(), [7.0, 7.0, 7.0])
    np.testing.assert_array_equal(shape.permute(mg.tensor([1.0, 2.0]), 0).numpy(), [1.0, 2.0])
