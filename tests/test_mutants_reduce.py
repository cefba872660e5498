"""What ``minigrad/ops/reduce.py`` promises, checked where the rest of the suite did not look:
each test here fails for a small, realistic change to the reductions (an error naming the wrong
op, NumPy's ``axis=``/``keepdims=`` spelling dropped for ``max``/``min``, a tuple ``dim`` of
``all``/``any`` read as one axis, a divisor ``n - correction <= 0`` divided by anyway, a
gradient that loses the input's dtype).
"""
import warnings

import numpy as np
import pytest

import minigrad as mg


def grid(dtype=np.float64):
    return mg.tensor(np.array([[1.0, 5.0, 2.0], [4.0, 0.5, 6.0]], dtype=dtype),
                     requires_grad=True)


@pytest.mark.parametrize("op", ["sum", "mean", "prod", "var", "logsumexp", "max", "min"])
def test_out_of_range_dim_error_names_the_reduction(op):
    with pytest.raises(IndexError, match=rf"^{op}: axis 2 is out of range for a tensor of 2 "):
        getattr(mg, op)(grid(), dim=2)


@pytest.mark.parametrize("op", ["sum", "mean", "prod", "var", "logsumexp"])
def test_out_of_range_entry_of_a_dim_tuple_names_the_reduction(op):
    with pytest.raises(IndexError, match=rf"^{op}: axis -3 is out of range for a tensor of 2 "):
        getattr(mg, op)(grid(), dim=(0, -3))


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_error_for_both_spellings_names_the_op(op):
    with pytest.raises(TypeError, match=rf"^{op}: got both dim=1 and axis=0"):
        getattr(mg, op)(grid(), 1, axis=0)


@pytest.mark.parametrize("op, np_op, np_arg", [("max", np.max, np.argmax),
                                               ("min", np.min, np.argmin)])
def test_max_min_accept_numpy_axis_and_keepdims(op, np_op, np_arg):
    x = grid()
    values, indices = getattr(mg, op)(x, axis=1, keepdims=True)
    assert values.shape == (2, 1) and indices.shape == (2, 1)
    np.testing.assert_array_equal(values.numpy(), np_op(x.numpy(), axis=1, keepdims=True))
    np.testing.assert_array_equal(indices.numpy(), np_arg(x.numpy(), axis=1, keepdims=True))


@pytest.mark.parametrize("op, np_op", [("max", np.max), ("min", np.min)])
def test_max_min_over_all_axes_keep_the_dims_when_asked(op, np_op):
    x = grid()
    out = getattr(mg, op)(x, keepdim=True)
    assert out.shape == (1, 1)
    assert out.item() == np_op(x.numpy())
    assert getattr(mg, op)(x, keepdims=True).shape == (1, 1)
    assert getattr(mg, op)(x).shape == ()


@pytest.mark.parametrize("op", ["max", "min", "amax", "amin"])
def test_extreme_gradient_keeps_float32(op):
    x = grid(np.float32)
    out = getattr(mg, op)(x)
    out.backward()
    assert x.grad.dtype == np.float32
    expected = (x.numpy() == out.item()).astype(np.float32)
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_var_positional_bool_is_unbiased_and_refuses_a_second_unbiased():
    """``var(x, True)`` puts the bool in ``dim``'s place (PyTorch's ``unbiased``); an explicit
    ``unbiased=`` keyword alongside it is refused, as PyTorch does."""
    x = mg.tensor([1.0, 2.0, 4.0])
    with pytest.raises(TypeError, match=r"^var: got unbiased=True in the place of dim"):
        mg.var(x, True, unbiased=False)
    assert mg.var(x, True).item() == pytest.approx(np.var(x.numpy(), ddof=1))
    assert mg.var(x, False).item() == pytest.approx(np.var(x.numpy()))


@pytest.mark.parametrize("n, correction", [(1, 1), (2, 2), (2, 3), (1, 5)])
def test_var_with_no_degrees_of_freedom_is_nan_without_warnings(n, correction):
    """``n - correction <= 0`` gives nan (PyTorch's value), computed without dividing by zero
    or by a negative count (which would give a warning, or -0.0 and a finite number)."""
    x = mg.tensor(np.arange(1.0, n + 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = mg.var(x, correction=correction)
        s = mg.std(x, correction=correction)
    assert np.isnan(v.item()) and np.isnan(s.item())


@pytest.mark.parametrize("op, np_op", [("all", np.all), ("any", np.any)])
@pytest.mark.parametrize("dim", [(0, 2), (-1, 0), [1, -1], (-3,)])
def test_all_any_over_a_tuple_of_dims(op, np_op, dim):
    values = np.array([[[1, 0, 1], [1, 1, 1]], [[0, 0, 0], [1, 1, 0]]], dtype=np.float64)
    x = mg.tensor(values)
    axes = tuple(d % 3 for d in dim)
    for keepdim in (False, True):
        out = getattr(mg, op)(x, dim=dim, keepdim=keepdim)
        np.testing.assert_array_equal(out.numpy(), np_op(values, axis=axes, keepdims=keepdim))


@pytest.mark.parametrize("op", ["all", "any"])
def test_all_any_tuple_dim_out_of_range_names_the_op(op):
    with pytest.raises(IndexError, match=rf"^{op}: axis 3 is out of range"):
        getattr(mg, op)(mg.tensor(np.ones((2, 2, 2))), dim=(0, 3))
