"""The engine's less travelled branches, each held to its documented behaviour: the Function
base class, the graph walk (repeated roots, a backward that returns None, hooks on an output
no gradient reaches), the grad-mode switches, gradcheck's own guards, and the small helpers of
backend, cuda, checks and the factories.

Each test names the branch it is for in its docstring; the branches that a CPU machine cannot
reach are listed, with the reason, in the README's coverage section.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad import backend, grad_mode
from minigrad.autograd import Function, _check_devices
from minigrad.checks import check_int
from minigrad.tensor import Tensor


def leaf(values):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


class Halves(Function):
    """Two outputs, each a view of its input: out = (x[:n], x[n:]);  dL/dx = cat(g0, g1)."""

    @staticmethod
    def forward(ctx, x):
        n = x.shape[0] // 2
        return (x[:n], x[n:])

    @staticmethod
    def backward(ctx, grad_first, grad_second):
        return mg.cat([grad_first, grad_second])


class Detached(Function):
    """out = x, but backward sends no gradient on: dL/dx = None."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, grad_output):
        return None


class ScaleBy(Function):
    """out = x * w with w a Tensor passed by keyword, saved though it is not an input."""

    @staticmethod
    def forward(ctx, x, *, w):
        ctx.save_for_backward(w)
        return x * w.data

    @staticmethod
    def backward(ctx, grad_output):
        (w,) = ctx.saved_tensors
        return grad_output * w


def test_saved_tensors_after_backward_without_retain_graph_raise():
    """autograd: ``saved_tensors`` of a spent node."""
    x = leaf([1.0, 2.0])
    y = ScaleBy.apply(x, w=mg.tensor([3.0, 4.0], dtype=np.float64))
    node = y.grad_fn
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    with pytest.raises(RuntimeError, match="ScaleBy: trying to backward through the graph a "
                                           "second time.*retain_graph=True"):
        node.saved_tensors


def test_a_function_without_forward_or_backward_says_so():
    """autograd: the base class's ``forward`` and ``backward``."""
    class NoForward(Function):
        pass

    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    with pytest.raises(NotImplementedError):
        NoForward.apply(leaf([1.0]))
    y = NoBackward.apply(leaf([1.0, 2.0]))
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0])
    with pytest.raises(NotImplementedError, match="^NoBackward has no backward$"):
        y.sum().backward()


def test_a_saved_tensor_that_is_no_input_is_checked_for_in_place_changes():
    """autograd: ``save_for_backward`` of a Tensor that is neither an input nor an output."""
    x = leaf([1.0, 2.0])
    w = mg.tensor([3.0, 5.0], dtype=np.float64)
    y = ScaleBy.apply(x, w=w)
    w += 1
    with pytest.raises(RuntimeError, match=r"\[float64 tensor of shape \(2,\)\], which is a "
                                           r"tensor saved of ScaleBy, is at version 1; "
                                           r"expected version 0"):
        y.sum().backward()


def test_each_view_output_of_a_multi_output_op_shares_its_input_version():
    """autograd: a view among several outputs shares the viewed input's version counter."""
    x = mg.tensor(np.arange(4.0))
    first, second = Halves.apply(x)
    assert (first._version, second._version) == (0, 0)
    x += 1
    assert (first._version, second._version) == (1, 1)
    np.testing.assert_array_equal(second.numpy(), [3.0, 4.0])


def test_check_devices_names_the_first_input_on_another_device():
    """autograd: ``_check_devices``, which only a CuPy input reaches; checked here with a
    Tensor that reports another device, so the message is pinned on every machine."""
    class Elsewhere(Tensor):
        @property
        def device(self):
            return backend.device("cuda", 1)

    a, b = mg.tensor([1.0]), mg.tensor([2.0])
    assert _check_devices(Halves, [a, 3.0, b]) == "cpu"
    c = Elsewhere(np.zeros(1))
    with pytest.raises(RuntimeError, match=r"^Halves: expected all tensors on one device, but "
                                           r"input 0 is on cpu and input 2 is on cuda:1$"):
        _check_devices(Halves, [a, 3.0, c])


@given(st.lists(st.floats(-4, 4), min_size=3, max_size=3),
       st.lists(st.floats(-4, 4), min_size=3, max_size=3),
       st.lists(st.floats(-4, 4), min_size=3, max_size=3))
def test_grad_of_one_output_given_twice_sums_both_vectors(x_values, g1, g2):
    """graph: a root whose node is already pending (the same output twice)."""
    x = leaf(x_values)
    y = x * 3.0
    (grad_x,) = mg.grad([y, y], x, grad_outputs=[mg.tensor(g1, dtype=np.float64),
                                                 mg.tensor(g2, dtype=np.float64)])
    np.testing.assert_allclose(grad_x.numpy(), 3.0 * (np.array(g1) + np.array(g2)))


def test_a_backward_returning_none_still_lets_the_graph_finish():
    """graph: a None gradient for a non-leaf input (the walk goes on), and a node that no
    gradient reached (its backward is not called)."""
    x = leaf([1.0, -2.0])
    y = x * 2.0
    z = Detached.apply(y) + y * y
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 8.0 * np.array([1.0, -2.0]))  # d(4x²)/dx only
    x2 = leaf([1.0, -2.0])
    (grad_x2,) = mg.grad(Detached.apply(x2 * 2.0).sum(), x2, allow_unused=True)
    assert grad_x2 is None


def test_detect_anomaly_passes_over_a_none_gradient():
    """graph: ``_check_finite`` skips an input whose gradient is None."""
    x = leaf([1.0, 4.0])
    with mg.detect_anomaly():
        z = Detached.apply(x * 2.0) + x.sqrt()
        z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 0.25])


def test_a_hook_on_an_output_that_gets_no_gradient_is_not_called():
    """graph: a node's hooks when one of its outputs received no gradient."""
    x = leaf([1.0, 2.0, 3.0, 4.0])
    first, second = Halves.apply(x * 1.0)
    seen = []
    second.register_hook(seen.append)
    (first * 5.0).sum().backward()
    assert seen == []
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0, 0.0, 0.0])


def test_a_hook_returning_none_keeps_the_gradient():
    """graph: ``_run_hooks`` with a hook that only observes."""
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    (x * x).sum().backward()
    np.testing.assert_array_equal(seen[0], [2.0, 4.0])
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_grad_refuses_an_input_that_does_not_require_grad():
    """graph: ``grad``'s check of its inputs."""
    x, c = leaf([1.0]), mg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"^grad: input 1 \(shape \(2,\)\) does not require "
                                           r"grad$"):
        mg.grad((x * 2).sum(), [x, c])


def test_set_grad_enabled_as_a_decorator():
    """grad_mode: ``set_grad_enabled`` re-created for each decorated call."""
    @mg.set_grad_enabled(False)
    def double(t):
        return (t * 2, mg.is_grad_enabled())

    x = leaf([1.0])
    for _ in range(2):  # a second call gets a fresh context
        y, enabled = double(x)
        assert (enabled, y.requires_grad, mg.is_grad_enabled()) == (False, False, True)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_user_frame_is_none_when_every_frame_is_inside_the_package(monkeypatch):
    """grad_mode: ``user_frame`` finding no frame outside the package; detect_anomaly's
    message then names the op only."""
    monkeypatch.setattr(grad_mode, "_PACKAGE_DIR", "/")
    assert grad_mode.user_frame() is None
    x = leaf([0.0])
    with mg.detect_anomaly():
        y = x.sqrt()
        with pytest.raises(RuntimeError, match=r"^detect_anomaly: Sqrt.backward returned NaN "
                                               r"or inf in the gradient of input 0$"):
            y.sum().backward()


def test_gradcheck_guards_its_arguments():
    """gradcheck: no input requiring grad; no floating output."""
    with pytest.raises(ValueError, match="^gradcheck: no input requires grad"):
        mg.gradcheck(lambda t: t * 2, (mg.tensor([1.0], dtype=np.float64),))
    with pytest.raises(ValueError, match="^gradcheck: fn returned no floating point tensor$"):
        mg.gradcheck(lambda t: mg.arange(3), (leaf([1.0]),))


def test_gradcheck_of_an_output_outside_the_graph():
    """gradcheck: outputs that do not require grad count as a zero analytic gradient, right
    for a constant and wrong for a detached function of the input."""
    x = leaf([1.0, 2.0])
    assert mg.gradcheck(lambda t: mg.ones(3, dtype=np.float64), (x,))
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(lambda t: t.detach() * 2, (x,))
    # The numeric side is the projection 2·v with gradcheck's seeded v; the worst entry is
    # where |v| is largest.
    v = np.random.default_rng(0).standard_normal(2)
    worst = int(np.argmax(abs(v)))
    message = str(info.value)
    assert message.startswith(f"gradcheck failed for input 0 (shape (2,)) at index ({worst},): "
                              "analytic 0.0 vs numeric ")
    numeric = float(message.split("vs numeric ")[1].split(" ")[0])
    assert numeric == pytest.approx(2 * v[worst], rel=1e-6)


def test_gradcheck_of_a_non_contiguous_input():
    """gradcheck: a Fortran-ordered input is made C-ordered, values unchanged, so that the
    perturbations reach it."""
    values = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    x = mg.from_numpy(values.copy(order="F")).requires_grad_(True)
    assert not x.data.flags.c_contiguous
    assert mg.gradcheck(lambda t: t * t, (x,))
    assert x.data.flags.c_contiguous
    np.testing.assert_array_equal(x.numpy(), values)


class CubeFrozenSlope(Function):
    """out = x³ with a backward that is right to first order but detaches the slope, so its
    own derivative is wrong: only gradgradcheck can tell."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * (3 * x * x).detach()


def test_gradgradcheck_with_given_grad_outputs():
    """gradcheck: ``gradgradcheck`` with explicit ``grad_outputs``; it catches a wrong second
    derivative that gradcheck passes."""
    x = leaf([0.5, -1.5])
    v = leaf([1.0, 2.0])
    assert mg.gradgradcheck(lambda t: t ** 3, (x,), grad_outputs=(v,))
    assert mg.gradcheck(CubeFrozenSlope.apply, (x,))
    with pytest.raises(mg.GradcheckError, match="input 0"):
        mg.gradgradcheck(CubeFrozenSlope.apply, (x,), grad_outputs=(v,))


def test_gradgradcheck_of_a_function_outside_the_graph():
    """gradcheck: ``gradgradcheck`` when no output requires grad (the first derivative is 0)."""
    assert mg.gradgradcheck(lambda t: mg.ones(2, dtype=np.float64), (leaf([1.0, 2.0]),))


def test_current_device_without_a_gpu_is_zero():
    """cuda: ``current_device`` is 0 both on a machine without CUDA (the default it documents)
    and on a GPU machine, where new arrays go to device 0 unless told otherwise."""
    assert mg.cuda.current_device() == 0


def test_check_int_refuses_a_bool():
    """checks: ``True`` is an int to Python, never a size to a layer."""
    with pytest.raises(TypeError, match=r"^Conv2d: out_channels must be an int, got True$"):
        check_int("Conv2d", "out_channels", True)
    assert check_int("Conv2d", "out_channels", np.int64(3), low=1) == 3


def test_factories_less_used_forms():
    """factories: a negative size, ``empty``, ``arange`` with a dtype, ``randint(high)`` and
    the ``*_like`` forms, which take the model's dtype and device."""
    with pytest.raises(ValueError, match=r"^negative dimension in shape \(2, -1\)$"):
        mg.zeros(2, -1)
    e = mg.empty(2, 3, dtype=np.float64, requires_grad=True)
    assert (e.shape, e.dtype, e.requires_grad) == ((2, 3), np.float64, True)
    np.testing.assert_array_equal(mg.arange(0, 3, dtype=np.float64).numpy(), [0.0, 1.0, 2.0])
    assert mg.arange(0, 3, dtype=np.float64).dtype == np.float64
    mg.manual_seed(0)
    r = mg.randint(3, size=(200,))
    assert r.dtype == np.int64 and set(r.numpy().tolist()) == {0, 1, 2}
    like = mg.zeros(2, 2, dtype=np.float64)
    f = mg.full_like(like, 7.0)
    np.testing.assert_array_equal(f.numpy(), np.full((2, 2), 7.0))
    assert f.dtype == np.float64 and f.device == "cpu"
    u = mg.rand_like(like, dtype=np.float32)
    assert u.dtype == np.float32 and u.shape == (2, 2)
    assert ((u.numpy() >= 0) & (u.numpy() < 1)).all()
    mg.manual_seed(1)
    n = mg.randn_like(like, requires_grad=True)
    mg.manual_seed(1)
    np.testing.assert_array_equal(n.numpy(), np.random.standard_normal((2, 2)))
    assert n.requires_grad and n.dtype == np.float64
