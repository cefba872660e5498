"""Documented rules of ``minigrad.functional`` that the rest of the suite did not pin down:
each test here fails for a small, realistic change to ``minigrad/functional.py`` or
``minigrad/loss_args.py`` (a default read one off, a branch always taken, an error message
left empty, a dtype left to NumPy's choice)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F


def test_one_hot_gives_int64_rows_of_the_identity():
    out = F.one_hot(np.array([2, 0]), num_classes=3)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.data, [[0, 0, 1], [1, 0, 0]])


def test_one_hot_without_num_classes_of_no_indices_is_empty():
    # num_classes=-1 takes max + 1, and no indices have no maximum: zero classes.
    out = F.one_hot(np.zeros((0,), dtype=np.int64))
    assert out.shape == (0, 0)
    assert F.one_hot(np.array([1, 3])).shape == (2, 4)


def test_one_hot_with_zero_classes_refuses_any_index():
    with pytest.raises(IndexError, match=r"one_hot: indices must be in \[0, 0\), got values "
                                         r"in \[0, 1\]"):
        F.one_hot(np.array([0, 1]), num_classes=0)


def test_one_hot_refuses_float_indices_naming_the_dtype():
    with pytest.raises(TypeError, match="^one_hot: indices must be integers, got float64$"):
        F.one_hot(np.array([0.0, 1.0]))


def embedding_weight():
    return mg.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)


def test_embedding_refuses_float_indices_naming_the_dtype():
    with pytest.raises(TypeError, match="^embedding: indices must be integers, got float32$"):
        F.embedding(np.array([0.0], dtype=np.float32), embedding_weight())


@pytest.mark.parametrize("indices, low, high", [([0, 3], 0, 3), ([-1, 2], -1, 2)])
def test_embedding_refuses_an_index_outside_the_table_naming_the_range(indices, low, high):
    with pytest.raises(IndexError, match=rf"^embedding: indices must be in \[0, 3\), got values "
                                         rf"in \[{low}, {high}\]$"):
        F.embedding(np.array(indices), embedding_weight())


def test_embedding_padding_idx_counts_from_the_end_when_negative():
    weight = embedding_weight()
    out = F.embedding(np.array([0, 2, 0]), weight, padding_idx=-3)   # -3 is row 0
    np.testing.assert_array_equal(out.data, [[0.0, 1.0], [4.0, 5.0], [0.0, 1.0]])
    out.sum().backward()
    np.testing.assert_array_equal(weight.grad.data, [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])


@pytest.mark.parametrize("padding_idx", [3, -4])
def test_embedding_refuses_a_padding_idx_outside_the_table(padding_idx):
    with pytest.raises(ValueError, match=rf"^embedding: padding_idx must be in \[-3, 3\), got "
                                         rf"{padding_idx}$"):
        F.embedding(np.array([0]), embedding_weight(), padding_idx=padding_idx)


def test_leaky_relu_default_slope_is_one_hundredth():
    x = mg.tensor([-2.0, 3.0], requires_grad=True)
    y = F.leaky_relu(x)
    np.testing.assert_allclose(y.data, [-0.02, 3.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.01, 1.0])


@pytest.mark.parametrize("fn, name", [(F.softmax, "softmax"), (F.log_softmax, "log_softmax")])
def test_softmax_given_both_dim_and_axis_names_itself(fn, name):
    with pytest.raises(TypeError, match=rf"^{name}: got both dim=0 and axis=1; give one of them$"):
        fn(mg.tensor([[1.0, 2.0]]), dim=0, axis=1)


def test_softmax_and_log_softmax_default_to_the_last_axis():
    logits = np.array([[[0.0, 1.0, 3.0], [2.0, 2.0, -1.0]]])       # (1, 2, 3)
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    expected = e / e.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(F.softmax(mg.tensor(logits)).data, expected, rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(mg.tensor(logits)).data, np.log(expected),
                               rtol=1e-12)


def test_a_loss_refuses_a_target_of_another_shape_saying_why():
    with pytest.raises(ValueError) as info:
        F.mse_loss(mg.tensor(np.zeros((2, 3))), mg.tensor(np.zeros((3,))))
    assert str(info.value) == ("mse_loss: input shape (2, 3) and target shape (3,) differ; they "
                               "must be equal (no implicit broadcasting in losses)")
