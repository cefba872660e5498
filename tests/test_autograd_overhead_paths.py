"""The engine's fast paths give what the plain paths give.

- ``backward_on_arrays``: an op whose backward is operators only runs it on raw arrays when the
  backward pass is not recorded; with ``create_graph`` the same backward runs on Tensors. Both
  must give the same gradients, the same dtypes and the same version checks.
- Version checks of saved inputs and outputs hold on both paths: a change made through the
  output, a view of it, a detach() or the Tensor rebuilt by ``saved_tensors`` is seen.
- The dependency count of the backward walk, with roots that feed one another.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad import autograd
from minigrad.autograd import Function
from minigrad.ops import elementwise as E

RNG = np.random.default_rng(0)
POSITIVE = {"log", "sqrt", "div"}  # ops whose (second) input must stay away from zero


def _marked_ops():
    """(name, function of two tensors) for every op marked backward_on_arrays in the two
    families; unary ops ignore the second tensor."""
    return [
        ("add", lambda x, y: x + y), ("sub", lambda x, y: x - y), ("mul", lambda x, y: x * y),
        ("div", lambda x, y: x / y), ("neg", lambda x, y: -x),
        ("maximum", E.maximum), ("minimum", E.minimum),
        ("exp", lambda x, y: x.exp()), ("log", lambda x, y: x.log()),
        ("sqrt", lambda x, y: x.sqrt()), ("tanh", lambda x, y: x.tanh()),
        ("sigmoid", lambda x, y: x.sigmoid()), ("abs", lambda x, y: abs(x)),
        ("clip", lambda x, y: x.clip(-0.5, 0.5)),
    ]


def test_every_marked_op_is_marked_and_the_others_are_not():
    marked = {E.Add, E.Sub, E.Mul, E.Div, E.Neg, E.Maximum, E.Minimum, E.Exp, E.Log, E.Sqrt,
              E.Tanh, E.Sigmoid, E.Abs, E.Clip}
    for cls in marked:
        assert cls.backward_on_arrays is True, cls.__name__
    for cls in (E.Pow, E.Where, E.Cast, E.Sin, E.Cos, E.Softplus, E.Erf):
        assert cls.backward_on_arrays is False, cls.__name__  # they call minigrad functions


def _inputs(name, dtype, x_shape=(3, 4), y_shape=(4,)):
    x = RNG.standard_normal(x_shape).astype(dtype)
    y = RNG.standard_normal(y_shape).astype(dtype)
    if name in POSITIVE:
        x, y = np.abs(x) + 0.5, np.abs(y) + 0.5
    return x, y


@pytest.mark.parametrize("name, fn", _marked_ops())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_on_arrays_equal_those_on_tensors(name, fn, dtype):
    x0, y0 = _inputs(name, dtype)
    v = RNG.standard_normal((3, 4)).astype(dtype)  # the vector of the vector-Jacobian product

    def grads(create_graph):
        x, y = mg.tensor(x0, requires_grad=True), mg.tensor(y0, requires_grad=True)
        out = fn(x, y)
        return mg.grad(out, [x, y], mg.tensor(v), create_graph=create_graph,
                       allow_unused=True)

    on_arrays, on_tensors = grads(False), grads(True)
    for a, t in zip(on_arrays, on_tensors):
        assert (a is None) == (t is None)
        if a is None:
            continue
        assert type(a) is mg.Tensor and not a.requires_grad
        assert a.dtype == t.dtype == dtype and a.shape == t.shape
        np.testing.assert_array_equal(a.numpy(), t.numpy())


def test_an_unrecorded_backward_of_marked_ops_runs_no_op(monkeypatch):
    x = mg.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    w = mg.tensor([[1.5, 0.5], [-0.5, 2.0]], requires_grad=True)
    loss = ((x * w + x).tanh() - w) / w
    calls = []
    original = Function.apply.__func__

    def counting(cls, *inputs, **params):
        calls.append(cls.__name__)
        return original(cls, *inputs, **params)
    monkeypatch.setattr(Function, "apply", classmethod(counting))
    loss.backward(mg.ones(2, 2))
    assert calls == []
    t = np.tanh(x.numpy() * w.numpy() + x.numpy())
    expected_x = (1 - t * t) * (w.numpy() + 1) / w.numpy()
    np.testing.assert_allclose(x.grad.numpy(), expected_x, rtol=1e-6)


def test_a_recorded_backward_of_marked_ops_records_its_ops():
    x = mg.tensor([0.5, -1.0], requires_grad=True)
    (g,) = mg.grad(x.tanh().sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (gg,) = mg.grad(g.sum(), x)  # d/dx (1 - tanh²) = -2 tanh (1 - tanh²)
    t = np.tanh([0.5, -1.0])
    np.testing.assert_allclose(gg.numpy(), -2 * t * (1 - t * t), rtol=1e-6)


class ScaleOnArrays(Function):
    """out = x * c (c a Python number);  dL/dx = g * c, written with operators only."""
    backward_on_arrays = True
    seen = []

    @staticmethod
    def forward(ctx, x, c):
        ctx.save_for_backward(x, c)
        return x * c

    @staticmethod
    def backward(ctx, grad_output):
        x, c = ctx.saved_tensors
        ScaleOnArrays.seen.append((type(grad_output), type(x)))
        return (grad_output * c, None)


def test_a_user_function_may_mark_its_backward_and_sees_arrays_only_when_unrecorded():
    ScaleOnArrays.seen.clear()
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    ScaleOnArrays.apply(x, 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    (g,) = mg.grad(ScaleOnArrays.apply(x, 3.0).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.numpy(), [3.0, 3.0])
    assert ScaleOnArrays.seen == [(np.ndarray, np.ndarray), (mg.Tensor, mg.Tensor)]


class FailsOnce(Function):
    """out = 2 x, whose backward raises the first time it runs."""
    backward_on_arrays = True
    failed = []

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 2 * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        if not FailsOnce.failed:
            FailsOnce.failed.append(type(x))
            raise ValueError("first call fails")
        return grad_output * 2


def test_saved_tensors_are_tensors_again_after_a_backward_on_arrays_raised():
    FailsOnce.failed.clear()
    x = mg.tensor([1.0], requires_grad=True)
    y = FailsOnce.apply(x)
    with pytest.raises(ValueError, match="first call fails"):
        y.backward(mg.ones(1), retain_graph=True)
    assert FailsOnce.failed == [np.ndarray]
    (saved,) = y.grad_fn.saved_tensors
    assert saved is x
    (g,) = mg.grad(y, x, mg.ones(1), create_graph=True)
    np.testing.assert_array_equal(g.numpy(), [2.0])


def test_a_backward_returning_a_number_on_arrays_is_named_in_the_error():
    class ReturnsNumber(Function):
        backward_on_arrays = True

        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad_output):
            return 1.0

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"ReturnsNumber.backward returned a gradient of "
                                           r"shape \(\) for input 0 of shape \(2,\)"):
        ReturnsNumber.apply(x).sum().backward()


def test_a_zero_dim_gradient_on_arrays_comes_back_as_a_zero_dim_tensor():
    x = mg.tensor(2.0, requires_grad=True)
    y = mg.tensor(3.0, requires_grad=True)
    (x * y).tanh().backward()
    t = np.tanh(np.float32(6.0))
    assert x.grad.shape == () and x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), (1 - t * t) * 3.0, rtol=1e-6)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("change", ["output", "view", "detach"])
def test_a_saved_output_changed_in_place_is_seen_by_backward(change, create_graph):
    x = mg.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()  # Exp saves its output
    with mg.no_grad():
        if change == "output":
            y += 1
        elif change == "view":
            v = y.reshape(2, 1)
            v += 1
        else:
            y.detach().zero_()
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*output 0 of "
                                           r"Exp, is at version 1; expected version 0"):
        mg.grad(y.sum(), x, create_graph=create_graph)


def test_a_saved_output_changed_through_the_rebuilt_saved_tensor_is_seen():
    x = mg.tensor([0.5, 1.0], requires_grad=True)
    y = x.tanh()
    (rebuilt,) = y.grad_fn.saved_tensors
    with mg.no_grad():
        rebuilt *= 2
    assert y._version == 1  # the output and the rebuilt Tensor share one counter
    with pytest.raises(RuntimeError, match="output 0 of Tanh, is at version 1"):
        y.sum().backward()


def test_an_output_that_was_not_saved_keeps_its_version_and_its_gradient():
    x = mg.tensor([0.5, 1.0], requires_grad=True)
    y = x + 1  # Add saves nothing
    with mg.no_grad():
        y += 1
    assert y._version == 1
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_a_saved_input_changed_in_place_is_seen_on_arrays():
    x = mg.tensor([0.5, 1.0], requires_grad=True)
    w = mg.tensor([2.0, 3.0], requires_grad=True)
    y = x * w
    with mg.no_grad():
        w += 1
    with pytest.raises(RuntimeError, match="input 1 of Mul, is at version 1; expected version 0"):
        y.sum().backward()


def test_roots_that_feed_one_another_are_walked_once_each():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    a = x * x           # root 1
    b = (a * 3).tanh()  # root 2, a consumer of root 1
    from minigrad.graph import run_backward
    run_backward([b, a], [mg.ones(2), mg.ones(2)])
    t = np.tanh(3 * np.array([1.0, 2.0]) ** 2)
    expected = (1 - t * t) * 3 * 2 * np.array([1.0, 2.0]) + 2 * np.array([1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5)


def test_hooks_on_a_marked_op_see_tensors_and_may_replace_the_gradient():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(type(g)) or g * 10)
    (y * y).sum().backward()
    assert seen == [mg.Tensor]
    np.testing.assert_allclose(x.grad.numpy(), 10 * 2 * (2 * np.array([1.0, 2.0])) * 2)


def test_module_keeps_the_unpack_switch_off_between_backwards():
    x = mg.tensor([1.0], requires_grad=True)
    y = x * x
    y.backward(mg.ones(1), retain_graph=True)
    assert y.grad_fn._unpack_arrays is False
    assert autograd.Function._unpack_arrays is False
