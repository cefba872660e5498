"""The op families' less travelled branches (ops/shape.py, ops/linalg.py, ops/index.py): the
argument forms that only some callers use, each checked against NumPy, and the bad calls,
each checked for its exact message."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad.ops import index, linalg, scatter, shape


def leaf(values):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def refused(error, message, fn, *args, **kwargs):
    """``fn(*args)`` raises ``error`` with exactly ``message``."""
    with pytest.raises(error) as info:
        fn(*args, **kwargs)
    assert str(info.value) == message


def test_shape_ops_refuse_bad_arguments():
    x = mg.zeros(2, 3)
    refused(ValueError, "permute: (0, 0) is not a permutation of the 2 axes of a tensor of "
            "shape (2, 3)", shape.permute, x, 0, 0)
    refused(ValueError, "broadcast_to: cannot broadcast shape (2, 3) to (4, 3)",
            shape.broadcast_to, x, (4, 3))
    refused(ValueError, "repeat: got 1 sizes for a tensor of 2 dimensions (shape (2, 3)); give "
            "at least one size per dimension", shape.repeat, x, 2)
    refused(ValueError, "cat: expected a non-empty sequence of tensors", shape.cat, [])
    refused(ValueError, "cat: shapes (2, 3) and (2, 4) differ outside axis 0", shape.cat,
            [x, mg.zeros(2, 4)])
    refused(ValueError, "stack: expected a non-empty sequence of tensors", shape.stack, [])
    refused(ValueError, "stack: all tensors must have one shape, got (2, 3) and (3, 2)",
            shape.stack, [x, mg.zeros(3, 2)])
    refused(ValueError, "pad: expected 2 non-negative (before, after) pairs for shape (2, 3), "
            "got ((1, 1), (0, -1))", shape.pad, x, ((1, 1), (0, -1)))


def test_shape_ops_take_their_sizes_as_one_tuple():
    """transpose, expand and repeat accept ``f(x, (a, b))`` as well as ``f(x, a, b)``."""
    values = np.arange(24.0).reshape(2, 3, 4)
    x = mg.tensor(values)
    np.testing.assert_array_equal(shape.transpose(x, (2, 0, 1)).numpy(),
                                  values.transpose(2, 0, 1))
    column = mg.tensor([[1.0], [2.0]])
    np.testing.assert_array_equal(shape.expand(column, (2, -1, 3)).numpy(),
                                  np.broadcast_to([[1.0], [2.0]], (2, 2, 3)))
    np.testing.assert_array_equal(shape.repeat(column, (2, 3)).numpy(),
                                  np.tile([[1.0], [2.0]], (2, 3)))


def test_sum_to_its_own_shape_is_the_same_tensor():
    x = leaf([[1.0, 2.0]])
    assert shape.sum_to(x, (1, 2)) is x


def test_flatten_of_a_zero_dim_tensor_is_one_element():
    x = leaf(3.0)
    y = shape.flatten(x)
    assert y.shape == (1,)
    (y * 5.0).sum().backward()
    assert x.grad.shape == () and x.grad.item() == 5.0


def test_linalg_refuses_bad_shapes():
    refused(ValueError, "matmul: operands must have at least 1 dimension, got shapes () and "
            "(2,)", linalg.matmul, mg.tensor(2.0), mg.zeros(2))
    refused(ValueError, "einsum: 'ij,jk->ik' names 2 operands, got 1", linalg.einsum,
            "ij,jk->ik", mg.zeros(2, 2))
    refused(ValueError, "einsum: term 'ijk' has 3 letters for an operand of shape (2, 3)",
            linalg.einsum, "ijk->i", mg.zeros(2, 3))
    refused(ValueError, "bmm: expected (B, N, K) and (B, K, M) tensors, got shapes (2, 3, 4) "
            "and (3, 4, 5)", linalg.bmm, mg.zeros(2, 3, 4), mg.zeros(3, 4, 5))
    refused(ValueError, "outer: expected two 1-D tensors, got shapes (2, 2) and (2,)",
            linalg.outer, mg.zeros(2, 2), mg.zeros(2))
    refused(ValueError, "tril: expected a tensor of at least 2 dims, got shape (3,)",
            linalg.tril, mg.zeros(3))
    refused(ValueError, "diag: expected a 1-D or 2-D tensor, got shape (2, 2, 2)",
            linalg.diag, mg.zeros(2, 2, 2))


finite = st.floats(-3, 3, allow_nan=False)


@given(st.lists(finite, min_size=6, max_size=6), st.lists(finite, min_size=12, max_size=12),
       st.lists(finite, min_size=8, max_size=8))
def test_einsum_gradient_of_one_operand_with_the_other_constant(a_values, b_values, g_values):
    """Einsum's backward skips an operand that needs no gradient; the other gets g @ bᵀ."""
    a, b = leaf(np.reshape(a_values, (2, 3))), mg.tensor(np.reshape(b_values, (3, 4)))
    g = np.reshape(g_values, (2, 4))
    out = linalg.einsum("ij,jk->ik", [a, b])  # the list form of the operands
    np.testing.assert_allclose(out.numpy(), a.numpy() @ b.numpy())
    out.backward(mg.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), g @ b.numpy().T)
    assert b.grad is None


def test_einsum_gradient_of_a_diagonal_is_refused():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = linalg.einsum("ii->i", x)
    np.testing.assert_array_equal(y.numpy(), [1.0, 4.0])
    refused(NotImplementedError, "einsum: the gradient of term 'ii', which repeats a letter (a "
            "diagonal), is not supported", y.sum().backward)


@given(st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=6))
def test_norm_fro_and_minus_inf(values):
    x = mg.tensor(np.asarray(values, dtype=np.float64))
    np.testing.assert_allclose(linalg.norm(x, "fro").item(), np.linalg.norm(values))
    assert linalg.norm(x, float("-inf")).item() == np.min(np.abs(values))


@given(st.lists(st.integers(0, 3), min_size=1, max_size=8))
def test_a_list_index_reads_repeats_and_sums_their_gradients(picks):
    """``x[list]``: the list becomes an index array; an entry read k times gets k gradients."""
    values = np.array([1.0, -2.0, 3.5, 0.25])
    x = leaf(values)
    y = index.getitem(x, picks)
    np.testing.assert_array_equal(y.numpy(), values[picks])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.bincount(picks, minlength=4))


def test_gather_refuses_an_index_that_is_not_one_row_number_per_entry():
    src = mg.zeros(3, 2)
    refused(ValueError, "gather: index must be a 1-D integer array, got shape (2, 1) and dtype "
            "int64", scatter.gather, src, np.zeros((2, 1), dtype=np.int64))
    refused(ValueError, "gather: index must be a 1-D integer array, got shape (2,) and dtype "
            "float64", scatter.gather, src, np.zeros(2))
