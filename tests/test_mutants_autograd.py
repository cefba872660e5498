"""What ``Function.apply`` and its bookkeeping promise, checked where the rest of the suite
did not look: each test here fails for a small, realistic change to ``minigrad/autograd.py``
(a flag left as None, a branch always taken, a view that stops sharing its version counter, an
error message cut short).

The custom Functions below are written the way a user writes one, PyTorch-style: tensors and
plain values positionally, raw arrays in ``forward``, Tensors in ``backward``.
"""
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function
from minigrad.gc_policy import live_nodes


def leaf(values):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


class Full(Function):
    """A Function with no Tensor input at all: a constant filled with ``value``."""

    @staticmethod
    def forward(ctx, value):
        return np.full(3, value)


class Scale(Function):
    """``x * factor``, with the factor a plain positional number (PyTorch's style)."""

    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x * factor

    @staticmethod
    def backward(ctx, grad):
        ctx.seen = ctx.needs_input_grad
        return grad * ctx.factor, None


class TailView(Function):
    """A view of its second input (``b[1:]``); the first input is a plain number."""

    @staticmethod
    def forward(ctx, scale, b):
        return b[1:]


class Affine(Function):
    """``x * a + b``: saves the input, a new array it made, and a dtype (plain values)."""

    @staticmethod
    def forward(ctx, x, a, b):
        doubled = 2.0 * x
        ctx.save_for_backward(x, doubled, np.dtype(np.float32))
        return x * a + b

    @staticmethod
    def backward(ctx, grad):
        ctx.saved = ctx.saved_tensors
        return grad, None, None


class Fails(Function):
    @staticmethod
    def forward(ctx, x, width):
        raise ValueError(f"width {width} is too large")


def test_an_output_of_inputs_that_need_no_gradient_has_requires_grad_false():
    y = Scale.apply(mg.tensor([1.0, 2.0]), 3.0)
    assert y.requires_grad is False
    assert (mg.tensor([1.0]) * 2).requires_grad is False


def test_a_function_with_no_tensor_input_runs_forward():
    out = Full.apply(2.5)
    np.testing.assert_array_equal(out.data, [2.5, 2.5, 2.5])
    assert out.requires_grad is False


def test_needs_input_grad_is_a_tuple_of_bools_per_positional_input():
    x = leaf([1.0, 2.0])
    Scale.apply(x, 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    node = Scale.apply(x, 3.0).grad_fn
    assert node.needs_input_grad == (True, False)
    assert all(type(flag) is bool for flag in node.needs_input_grad)
    a, b = leaf([1.0]), mg.tensor([2.0])
    assert (a * b).grad_fn.needs_input_grad == (True, False)
    assert (b * a).grad_fn.needs_input_grad == (False, True)


def test_saved_arrays_come_back_as_constant_tensors_and_plain_values_as_themselves():
    x = leaf([1.0, -2.0])
    Affine.apply(x, 3.0, 1.0).sum().backward()
    node = Affine.apply(x, 3.0, 1.0).grad_fn
    saved_x, doubled, dtype = node.saved_tensors
    assert saved_x is x
    assert type(doubled) is mg.Tensor and not doubled.requires_grad
    np.testing.assert_array_equal(doubled.data, [2.0, -4.0])
    assert dtype == np.dtype(np.float32) and isinstance(dtype, np.dtype)


def test_an_intermediate_result_is_not_kept_alive_by_the_node_that_consumes_it():
    # The edge to a non-leaf input names the node that made it, never the Tensor itself.
    x = leaf([1.0, 2.0, 3.0])
    y = x + 1
    alive = weakref.ref(y)
    z = y.sum()
    del y
    assert alive() is None
    z.backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 1.0])


def test_each_recorded_node_is_counted_live_until_backward_spends_it():
    x = leaf([1.0, 2.0])
    before = live_nodes()
    y = (x * 2.0) * 3.0
    assert live_nodes() - before == 2
    y.sum().backward()
    assert live_nodes() - before == 0


def test_detect_anomaly_records_where_the_forward_was_called():
    x = leaf([0.0, 1.0])
    with mg.autograd.detect_anomaly():
        y = x.sqrt()
        assert y.grad_fn._trace is not None
        with np.errstate(divide="ignore"), \
                pytest.raises(RuntimeError, match="its forward was called at "):
            y.sum().backward()
    assert (x.sqrt()).grad_fn._trace is None


def test_a_view_of_a_view_shares_the_version_counter_of_the_original():
    base = mg.tensor(np.arange(5.0))
    view = base[1:]
    view_of_view = view[1:]
    base += 1.0
    assert base._version == view._version == view_of_view._version == 1
    view_of_view *= 2.0
    assert base._version == 2
    np.testing.assert_array_equal(base.data, [1.0, 2.0, 6.0, 8.0, 10.0])


def test_a_view_of_a_later_input_shares_its_counter_after_a_plain_number_argument():
    b = mg.tensor(np.arange(4.0))
    out = TailView.apply(2.0, b)
    b += 1.0
    assert out._version == b._version == 1
    np.testing.assert_array_equal(out.data, [2.0, 3.0, 4.0])


def test_the_inplace_error_ends_with_how_to_avoid_it():
    x = leaf([1.0, 2.0])
    y = x.exp()
    with mg.no_grad():
        y *= 0.0
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    assert str(info.value).endswith(
        "is output 0 of Exp, is at version 1; expected version 0 instead. Change a copy, or "
        "compute the new value out of place (y = y * 0) rather than in place (y *= 0).")


def test_the_freed_graph_error_says_how_to_keep_the_graph():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError) as info:
        y.backward()
    assert str(info.value).endswith(
        ": trying to backward through the graph a second time, but its saved arrays were freed "
        "after the first backward. Pass retain_graph=True to the first backward() if you need "
        "to go through it twice.")


def test_a_forward_error_names_the_op_and_every_input():
    with pytest.raises(ValueError) as info:
        Fails.apply(mg.tensor(np.zeros((2, 3))), 7)
    assert str(info.value) == "Fails: width 7 is too large (input shapes (2, 3), 7)"


class ExpAndSquare(Function):
    """Two outputs, ``exp(x)`` and ``x**2``; backward multiplies by the saved first output."""

    @staticmethod
    def forward(ctx, x):
        e = np.exp(x)
        ctx.save_for_backward(x, e)
        return e, x * x

    @staticmethod
    def backward(ctx, grad_e, grad_sq):
        x, e = ctx.saved_tensors
        return grad_e * e + grad_sq * 2.0 * x


def test_a_function_with_two_outputs_may_save_one_of_them():
    x = leaf([0.0, 1.0])
    e, sq = ExpAndSquare.apply(x)
    saved_x, saved_e = e.grad_fn.saved_tensors
    assert saved_x is x
    assert saved_e.grad_fn is e.grad_fn and np.shares_memory(saved_e.data, e.data)
    (e + sq).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp([0.0, 1.0]) + 2.0 * np.array([0.0, 1.0]))
