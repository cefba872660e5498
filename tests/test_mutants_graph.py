"""What the backward pass (``minigrad/graph.py``) promises, checked where the rest of the suite
did not look: each test here fails for a small, realistic change to the walk, the gradient
checks or ``mg.grad`` (a dtype dropped, a loop that stops early, an error message cut short).

The custom Functions are written the way a user writes one: raw arrays in ``forward``, Tensors
(or, for the error cases, something else) returned from ``backward``.
"""
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function


def leaf(values, dtype=np.float64):
    return mg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# Multi-output nodes -------------------------------------------------------------------------

class HalvesSeen(Function):
    """Splits x into its two halves; backward records the gradients it was given."""
    seen = None

    @staticmethod
    def forward(ctx, x):
        half = x.shape[0] // 2
        return x[:half].copy(), x[half:].copy()

    @staticmethod
    def backward(ctx, g_front, g_back):
        HalvesSeen.seen = (g_front, g_back)
        return mg.cat([g_front, g_back])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_unused_output_gets_zeros_of_its_own_shape_and_dtype(dtype):
    x = leaf(np.arange(5.0), dtype)
    front, back = HalvesSeen.apply(x)
    (back * 3).sum().backward()
    g_front, g_back = HalvesSeen.seen
    assert g_front.shape == (2,) and g_front.dtype == dtype
    np.testing.assert_array_equal(g_front.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(g_back.numpy(), [3.0, 3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 3, 3, 3])


# What a backward may return -----------------------------------------------------------------

class Returns(Function):
    """Returns, as the gradient of its one input, whatever ``ctx.value`` makes of g."""

    @staticmethod
    def forward(ctx, x, make):
        ctx.make = make
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return ctx.make(g), None


def test_a_backward_returning_a_list_is_named_with_the_type_the_input_and_its_shape():
    x = leaf(np.ones((2, 3)))
    y = Returns.apply(x, lambda g: [1.0, 2.0])
    with pytest.raises(TypeError, match=re.escape(
            "Returns.backward returned a list as the gradient of input 0 (shape (2, 3)); "
            "expected a Tensor or None")):
        y.sum().backward()


@pytest.mark.parametrize("shape", [(3, 2), (6,), (2, 2), (3,), (2, 1, 3, 1)])
def test_a_gradient_of_a_shape_the_input_does_not_broadcast_to_is_refused(shape):
    x = leaf(np.ones((2, 3)))
    y = Returns.apply(x, lambda g: mg.tensor(np.ones(shape)))
    with pytest.raises(RuntimeError, match=re.escape(
            f"Returns.backward returned a gradient of shape {shape} for input 0 of shape "
            "(2, 3); expected that shape, or one it broadcasts to")):
        y.sum().backward()


@pytest.mark.parametrize("shape,expected", [((1, 2, 3), 1.0), ((4, 2, 3), 4.0),
                                            ((4, 1, 3), None)])
def test_a_gradient_the_input_broadcasts_to_is_summed_back(shape, expected):
    x = leaf(np.ones((2, 3)))
    y = Returns.apply(x, lambda g: mg.tensor(np.ones(shape)))
    if expected is None:  # (2, 3) does not broadcast to (4, 1, 3)
        with pytest.raises(RuntimeError, match="expected that shape, or one it broadcasts to"):
            y.sum().backward()
        return
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), expected))


# detect_anomaly ------------------------------------------------------------------------------

class SecondIsNaN(Function):
    """Two inputs: no gradient for the first, NaN for the second."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return None, g * np.nan


def test_detect_anomaly_checks_every_gradient_after_a_missing_one():
    a = mg.tensor(np.ones(3))
    b = leaf(np.ones(3))
    with mg.detect_anomaly():
        y = SecondIsNaN.apply(a, b)
        with pytest.raises(RuntimeError, match=re.escape(
                "detect_anomaly: SecondIsNaN.backward returned NaN or inf in the gradient of "
                "input 1")):
            y.sum().backward()


# mg.grad's errors ----------------------------------------------------------------------------

def test_grad_with_too_few_grad_outputs_says_how_many_of_each():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=re.escape(
            "grad: got 1 grad_outputs for 2 outputs; expected one per output (None for a "
            "one-element output)")):
        mg.grad([x * 2, x * 3], [x], grad_outputs=[mg.tensor(np.ones(2))])


def test_grad_of_a_non_scalar_without_grad_outputs_is_named_grad():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=re.escape(
            "grad: gradient can be created implicitly only for scalar outputs, but the output "
            "has shape (2,); pass the gradient explicitly, e.g. backward(grad)")):
        mg.grad(x * 2, [x])


def test_grad_of_an_unused_input_points_at_allow_unused():
    x, unused = leaf([1.0, 2.0]), leaf([[3.0]])
    with pytest.raises(RuntimeError, match=re.escape(
            "grad: input 1 (shape (1, 1)) was not used to compute the outputs; pass "
            "allow_unused=True to get None for it")):
        mg.grad((x * 2).sum(), [x, unused])
    gx, gu = mg.grad((x * 2).sum(), [x, unused], allow_unused=True)
    np.testing.assert_array_equal(gx.numpy(), [2.0, 2.0])
    assert gu is None


def test_an_integer_gradient_for_a_floating_input_is_refused_with_both_dtypes():
    x = leaf(np.ones((2, 3)))
    y = Returns.apply(x, lambda g: mg.tensor(np.ones((2, 3), dtype=np.int64)))
    with pytest.raises(TypeError, match=re.escape(
            "Returns.backward returned a int64 gradient for input 0 (shape (2, 3)) of dtype "
            "float64; expected a gradient of the same kind (floating for floating, complex for "
            "complex)")):
        y.sum().backward()


def test_a_float32_gradient_for_a_float64_input_is_cast():
    x = leaf(np.ones((2, 3)))
    y = Returns.apply(x, lambda g: mg.tensor(np.full((2, 3), 0.5, dtype=np.float32)))
    y.sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 0.5))


# Hooks ---------------------------------------------------------------------------------------

def returns_a_list(g):
    return [1.0]


class CallableHook:
    """A hook object without ``__qualname__``: messages name it by its repr."""

    def __init__(self, result):
        self.result = result

    def __call__(self, g):
        return self.result(g)

    def __repr__(self):
        return "<CallableHook>"


@pytest.mark.parametrize("where", ["leaf", "node"])
def test_a_hook_returning_a_non_tensor_is_named_by_its_qualname(where):
    x = leaf(np.ones(3))
    target = x if where == "leaf" else x * 2
    target.register_hook(returns_a_list)
    with pytest.raises(TypeError, match=re.escape(
            "hook returns_a_list returned a list for a gradient of shape (3,); expected a "
            "Tensor or None")):
        (target * 1).sum().backward()


def test_a_hook_object_is_named_by_its_repr():
    x = leaf(np.ones(3))
    x.register_hook(CallableHook(lambda g: 7))
    with pytest.raises(TypeError, match=re.escape(
            "hook <CallableHook> returned a int for a gradient of shape (3,); expected a "
            "Tensor or None")):
        x.sum().backward()


@pytest.mark.parametrize("change,shape,dtype", [
    (lambda g: g[:2], "(2,)", "float64"),
    (lambda g: g.float(), "(3,)", "float32"),
])
def test_a_hook_that_changes_shape_or_dtype_is_refused_naming_both(change, shape, dtype):
    x = leaf(np.ones(3))
    x.register_hook(CallableHook(change))
    with pytest.raises(RuntimeError, match=re.escape(
            f"hook <CallableHook> changed the gradient from shape (3,), dtype float64 to shape "
            f"{shape}, dtype {dtype}; a hook must keep both")):
        x.sum().backward()


# What a leaf's .grad may share ---------------------------------------------------------------
# Optimizers and clipping scale .grad in place, so a leaf's gradient must be writable and share
# memory with nothing the caller, a hook or another leaf holds.

def test_a_leaf_hooks_replacement_that_its_caller_holds_is_copied_into_grad():
    held = mg.tensor(np.ones(3))
    x = leaf(np.zeros(3))
    x.register_hook(lambda g: held)
    (x * 2).sum().backward()
    assert not np.shares_memory(x.grad.data, held.data)
    x.grad.data *= 0  # as zero_grad(set_to_none=False) does
    np.testing.assert_array_equal(held.numpy(), [1.0, 1.0, 1.0])


def test_a_root_leafs_gradient_is_not_the_callers_array():
    g = mg.tensor(np.ones(3))
    x = leaf(np.zeros(3))
    x.backward(g)
    assert not np.shares_memory(x.grad.data, g.data)
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])


def test_one_gradient_handed_to_two_leaves_is_shared_by_neither():
    a, b, c = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([5.0, 6.0])
    ((a + b) * c).sum().backward()   # Add hands the one array g*c to both a and b
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data += 1
    np.testing.assert_array_equal(b.grad.numpy(), [5.0, 6.0])
    np.testing.assert_array_equal(a.grad.numpy(), [6.0, 7.0])


def test_a_gradient_that_arrives_as_a_view_is_copied_into_its_own_writable_array():
    x, w = leaf([1.0, 2.0, 3.0]), leaf([[1.0], [1.0], [1.0]])
    (x.reshape(3, 1) + w).sum().backward()
    for t in (x, w):
        assert t.grad.data.base is None and t.grad.data.flags.writeable
    assert not np.shares_memory(x.grad.data, w.grad.data)
    x = leaf(np.ones((2, 3)))
    x.sum().backward()          # Sum's backward broadcasts g: a read-only view
    x.grad.data *= 3            # must not raise
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 3.0))


class ReadOnlyGradient(Function):
    """Its backward returns a fresh but read-only array (base None)."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        out = np.full(g.shape, 2.0)
        out.flags.writeable = False
        return mg.Tensor._wrap(out)


def test_a_read_only_gradient_is_copied_before_it_becomes_grad():
    x = leaf([1.0, 2.0])
    ReadOnlyGradient.apply(x).sum().backward()
    assert x.grad.data.flags.writeable
    x.grad.data += 1
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_with_create_graph_a_copied_gradient_stays_differentiable():
    x = leaf([1.0, 2.0, 3.0])
    column = x.reshape(3, 1)
    (column * column).sum().backward(create_graph=True)   # dx arrives through a reshape view
    assert x.grad.requires_grad
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    (second,) = mg.grad(x.grad.sum(), [x])
    np.testing.assert_array_equal(second.numpy(), [2.0, 2.0, 2.0])


def test_a_leaf_used_many_times_sums_its_gradients_into_a_differentiable_total():
    x = leaf([1.0, 2.0])
    y = (x * x).sum() + (x * x * x).sum() + (x * 2).sum() + (x * 5).sum()
    (g,) = mg.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy() + 3 * x.numpy() ** 2 + 7)
    (gg,) = mg.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), 2 + 6 * x.numpy())
    y = (x * x).sum() + (x * x * x).sum() + (x * 2).sum() + (x * 5).sum()
    y.backward(create_graph=True)
    (gg,) = mg.grad(x.grad.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), 2 + 6 * x.numpy())


# Root gradients ------------------------------------------------------------------------------

def test_a_root_gradient_given_as_a_list_takes_the_roots_dtype():
    x = leaf([1.0, 2.0])                 # float64
    x.backward([1.0, 2.0])
    assert x.grad.dtype == np.float64
    y = leaf([1.0, 2.0])
    (y * 2).backward([3.0, 4.0])
    assert y.grad.dtype == np.float64
    np.testing.assert_array_equal(y.grad.numpy(), [6.0, 8.0])


def test_root_errors_name_the_operation_exactly():
    with pytest.raises(RuntimeError, match=re.escape(
            "backward: the tensor (shape (2,)) does not require grad and has no grad_fn, so "
            "there is nothing to differentiate")):
        mg.tensor([1.0, 2.0]).backward()
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=re.escape(
            "backward: gradient can be created implicitly only for scalar outputs, but the "
            "output has shape (2,); pass the gradient explicitly, e.g. backward(grad)")):
        (x * 2).backward()


def test_a_node_hooks_replacement_is_not_shared_with_the_leaf_it_flows_to():
    held = mg.tensor(np.ones(2))
    x = leaf([1.0, 2.0])
    y = x + 0.0                 # Add hands its gradient on unchanged
    y.register_hook(lambda g: held)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    assert not np.shares_memory(x.grad.data, held.data)


def test_a_second_backward_through_a_freed_graph_names_the_node():
    x = leaf([1.0, 2.0])
    y = x.exp().sum()
    y.backward()
    with pytest.raises(RuntimeError, match=re.escape(
            "Sum: trying to backward through the graph a second time, but its saved arrays "
            "were freed after the first backward. Pass retain_graph=True to the first "
            "backward() if you need to go through it twice.")):
        y.backward()


class TooManyGradients(Function):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g, g, None


def test_a_backward_returning_the_wrong_number_of_gradients_says_how_many():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=re.escape(
            "TooManyGradients.backward returned 3 gradients for 1 inputs (one per positional "
            "input of apply, None for those that need none)")):
        TooManyGradients.apply(x).sum().backward()


def test_detect_anomaly_names_the_user_line_that_applied_a_custom_function():
    # Not run under mutmut (setup.cfg): its trampolines add frames outside the package.
    import inspect
    b = leaf([1.0, 2.0])
    with mg.detect_anomaly():
        line = inspect.currentframe().f_lineno + 1
        y = SecondIsNaN.apply(mg.tensor([0.0, 0.0]), b)
        with pytest.raises(RuntimeError, match=re.escape(
                f"test_mutants_graph.py:{line} (y = SecondIsNaN.apply(mg.tensor([0.0, 0.0]), "
                "b))")):
            y.sum().backward()


def test_a_view_of_the_callers_root_gradient_is_copied():
    x = leaf([1.0, 2.0, 3.0])
    g = mg.tensor(np.array([[4.0], [5.0], [6.0]]))
    x.reshape(3, 1).backward(g)     # Reshape's backward hands on a view of g
    assert not np.shares_memory(x.grad.data, g.data)
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 5.0, 6.0])


def test_a_leaf_that_is_also_a_root_gets_both_gradients():
    x = leaf([1.0, 2.0])
    gx, = mg.grad([x, x * 3], [x], grad_outputs=[mg.tensor(np.ones(2)), mg.tensor(np.ones(2))])
    np.testing.assert_array_equal(gx.numpy(), [4.0, 4.0])
    gx, = mg.grad([x * 3, x], [x], grad_outputs=[mg.tensor(np.ones(2)), mg.tensor(np.ones(2))])
    np.testing.assert_array_equal(gx.numpy(), [4.0, 4.0])


@pytest.mark.parametrize("where", ["leaf", "node"])
def test_a_gradient_a_hook_recorded_is_not_the_leafs_grad(where):
    seen = []
    x = leaf([1.0, 2.0, 3.0])
    target = x if where == "leaf" else x + 0.0      # Add hands its gradient on unchanged
    target.register_hook(seen.append)
    (target * 2).sum().backward()
    assert not np.shares_memory(x.grad.data, seen[0].data)
    x.grad.data[:] = 0                               # as zero_grad(set_to_none=False) does
    np.testing.assert_array_equal(seen[0].numpy(), [2.0, 2.0, 2.0])
