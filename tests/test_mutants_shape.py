"""What ``minigrad/ops/shape.py`` promises, checked where the rest of the suite did not look:
each test here fails for a small, realistic change to the shape primitives (``transpose``'s
three call forms mixed up, a wrong inverse permutation), against NumPy.
"""
import numpy as np
import pytest

import minigrad as mg


def cube():
    return mg.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)


def test_transpose_with_no_axes_reverses_them_all():
    x = cube()
    out = mg.transpose(x)
    assert out.shape == (4, 3, 2)
    np.testing.assert_array_equal(out.numpy(), np.transpose(x.numpy()))


@pytest.mark.parametrize("a, b", [(0, 2), (2, 0), (-1, 1), (1, 1)])
def test_transpose_with_two_ints_swaps_those_axes(a, b):
    x = cube()
    out = mg.transpose(x, a, b)
    np.testing.assert_array_equal(out.numpy(), np.swapaxes(x.numpy(), a, b))
    (out * mg.tensor(np.arange(out.data.size, dtype=np.float64).reshape(out.shape))).sum().backward()
    weights = np.arange(out.data.size, dtype=np.float64).reshape(out.shape)
    np.testing.assert_array_equal(x.grad.numpy(), np.swapaxes(weights, a, b))


@pytest.mark.parametrize("axes", [(1, 2, 0), [2, 0, 1], (0, 1, 2)])
def test_transpose_with_a_full_permutation(axes):
    x = cube()
    for out in (mg.transpose(x, axes), mg.transpose(x, *axes)):
        np.testing.assert_array_equal(out.numpy(), np.transpose(x.numpy(), axes))


def test_transpose_of_a_pair_given_as_one_tuple_swaps_them():
    x = cube()
    np.testing.assert_array_equal(mg.transpose(x, (0, 2)).numpy(),
                                  np.swapaxes(x.numpy(), 0, 2))


def test_transpose_axis_out_of_range_names_transpose():
    with pytest.raises(IndexError, match=r"^transpose: axis 3 is out of range"):
        mg.transpose(cube(), 0, 3)


def test_one_dim_tensor_has_no_axis_1():
    x = mg.tensor([1.0, 2.0])
    with pytest.raises(IndexError, match=r"^sum: axis 1 is out of range for a tensor of 1 "):
        x.sum(dim=1)
    assert x.sum(dim=-1).item() == 3.0


def test_zero_dim_tensor_takes_axis_0_as_in_pytorch():
    x = mg.tensor(3.0, requires_grad=True)
    assert mg.squeeze(x, 0).shape == ()
    assert mg.argmax(x, dim=0).item() == 0
    assert mg.unsqueeze(x, 0).shape == (1,) and mg.unsqueeze(x, -1).shape == (1,)
    with pytest.raises(IndexError, match=r"^squeeze: axis 1 is out of range for a tensor of 0 "):
        mg.squeeze(x, 1)


@pytest.mark.parametrize("shape, expected", [((6,), (6,)), ((-1,), (6,)), ((3, -1), (3, 2)),
                                             ((-1, 1, 3), (2, 1, 3))])
def test_reshape_takes_sizes_as_ints_or_one_tuple(shape, expected):
    x = mg.tensor(np.arange(6.0).reshape(2, 3))
    for out in (mg.reshape(x, *shape), mg.reshape(x, shape), x.reshape(*shape)):
        assert out.shape == expected
        np.testing.assert_array_equal(out.numpy(), np.arange(6.0).reshape(expected))


def test_reshape_of_one_entry_to_no_shape():
    x = mg.tensor([[5.0]])
    assert mg.reshape(x).shape == () and mg.reshape(x).item() == 5.0


@pytest.mark.parametrize("shape", [(4,), (-1, -1), (2, -1, -1), (0, -1), (4, -1), (7, 1)])
def test_reshape_errors_are_ours_and_name_both_shapes(shape):
    x = mg.tensor(np.arange(6.0))
    with pytest.raises(ValueError, match=rf"^reshape: cannot reshape a tensor of shape \(6,\) "
                                         rf"\(6 elements\) into shape {re_shape(shape)}$"):
        mg.reshape(x, shape)


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")
