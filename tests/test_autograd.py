"""The graph itself: accumulation, retain_graph, hooks, grad modes, higher order, deep graphs,
freeing, anomaly detection, custom Functions and the errors users hit."""
import gc
import math
import weakref

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.functional as F


def leaf(values, device="cpu", dtype=np.float64):
    return mg.tensor(np.asarray(values, dtype=dtype), device=device, requires_grad=True)


def test_gradients_accumulate_across_backward_calls(device):
    x = leaf([1.0, 2.0, 3.0], device)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1, 2, 3]) + 3)


def test_a_tensor_used_twice_gets_both_contributions(device):
    x = leaf([2.0], device)
    y = x * x + x.exp() * x  # x reaches the output along four paths
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * 2 + math.exp(2) * (1 + 2))


def test_broadcast_gradient_is_summed_to_input_shape(device):
    a = leaf(np.ones((3, 1)), device)
    b = leaf(np.arange(4.0), device)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), 6.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, 3.0))


def test_gradient_has_the_tensor_dtype():
    x = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    (x * np.ones(3, np.float64)).sum().backward()  # the product is float64
    assert x.grad.dtype == np.float32


def test_leaf_grads_are_private_writable_arrays():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (a + b).sum().backward()  # Add hands the same gradient to both inputs
    a.grad.data *= 10         # an optimizer scaling in place must not touch b.grad
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_second_backward_through_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_saved_arrays_are_freed_after_backward():
    x = leaf(np.random.rand(50))
    big = x.exp()          # Exp saves its output array
    node = big.grad_fn
    data_ref = weakref.ref(big.data)
    y = big.sum()
    del big
    y.backward()
    assert node._saved is None
    gc.collect()
    assert data_ref() is None, "the saved output array outlived the backward pass"


def test_graph_is_collected_when_output_is_dropped():
    x = leaf(np.random.rand(10))
    y = (x.tanh() * 2).sum()
    node_ref = weakref.ref(y.grad_fn)
    del y
    gc.collect()
    assert node_ref() is None


def test_chain_of_100000_ops_does_not_hit_the_recursion_limit():
    x = leaf([0.5])
    y = x
    for _ in range(100_000):
        y = y + 1e-6
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_no_grad_records_nothing_and_works_as_decorator():
    x = leaf([1.0])
    with mg.no_grad():
        y = x * 2
        assert not mg.is_grad_enabled()
        with mg.enable_grad():
            z = x * 3
    assert mg.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad
    assert z.grad_fn is not None

    @mg.no_grad()
    def f(t):
        return t * t

    assert f(x).grad_fn is None and mg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = leaf([3.0])
    y = x * x.detach()  # d/dx = x (the detached factor is a constant)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0])


def test_hooks_see_and_replace_gradients_and_can_be_removed():
    x = leaf([1.0, 2.0])
    seen = []
    h = x.register_hook(lambda g: seen.append(g.numpy().copy()))
    mid = x * 2
    mid.register_hook(lambda g: g * 10)  # replaces the gradient flowing through mid
    mid.sum().backward()
    np.testing.assert_allclose(seen[0], [20.0, 20.0])
    np.testing.assert_allclose(x.grad.numpy(), [20.0, 20.0])
    h.remove()
    x.grad = None
    (x * 1).sum().backward()
    assert len(seen) == 1


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = leaf([1.0, 2.0])
    mid = x * 3
    mid.retain_grad()
    (mid * mid).sum().backward()
    np.testing.assert_allclose(mid.grad.numpy(), 2 * np.array([3.0, 6.0]))


def test_third_derivative_of_tanh_matches_closed_form(device):
    values = np.array([-1.3, -0.2, 0.4, 1.1])
    x = leaf(values, device)
    y = x.tanh()
    (g1,) = mg.grad(y.sum(), x, create_graph=True)
    (g2,) = mg.grad(g1.sum(), x, create_graph=True)
    (g3,) = mg.grad(g2.sum(), x)
    t = np.tanh(values)
    np.testing.assert_allclose(g1.numpy(), 1 - t ** 2)
    np.testing.assert_allclose(g2.numpy(), -2 * t * (1 - t ** 2))
    np.testing.assert_allclose(g3.numpy(), (6 * t ** 2 - 2) * (1 - t ** 2))


def test_backward_with_create_graph_gives_differentiable_grad():
    x = leaf([2.0])
    y = x ** 3
    y.backward(create_graph=True)
    assert x.grad.requires_grad
    (g2,) = mg.grad(x.grad.sum(), x)
    np.testing.assert_allclose(g2.numpy(), [6 * 2.0])


def test_gradient_penalty_style_double_backward():
    # d/dw of ||d(w·x²)/dx||² = d/dw (2wx)² = 8 w x²
    w = leaf([0.7])
    x = leaf([1.5])
    y = (w * x * x).sum()
    (gx,) = mg.grad(y, x, create_graph=True)
    penalty = (gx * gx).sum()
    penalty.backward()
    np.testing.assert_allclose(w.grad.numpy(), [8 * 0.7 * 1.5 ** 2])


def test_grad_allow_unused_and_error():
    x, unused = leaf([1.0]), leaf([2.0])
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="not used"):
        mg.grad(y, [x, unused], retain_graph=True)
    gx, gu = mg.grad(y, [x, unused], allow_unused=True)
    np.testing.assert_allclose(gx.numpy(), [2.0])
    assert gu is None
    assert x.grad is None, "mg.grad must not accumulate into .grad"


def test_grad_of_a_non_leaf_input():
    x = leaf([1.0, 2.0])
    mid = x * x
    out = (mid * 3).sum()
    (gmid,) = mg.grad(out, mid)
    np.testing.assert_allclose(gmid.numpy(), [3.0, 3.0])


def test_backward_on_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(2,\)"):
        y.backward()
    y.backward(mg.tensor(np.array([1.0, -1.0])))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -2.0])


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).sum().backward()


def test_shape_mismatch_names_the_op_and_both_shapes():
    a, b = leaf(np.ones((2, 3))), leaf(np.ones((4,)))
    with pytest.raises(ValueError, match=r"Add.*\(2, 3\).*\(4,\)"):
        a + b
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4,\)"):
        a @ b


def test_in_place_on_a_tensor_the_graph_needs_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="in-place"):
        x += 1
    y = x * 2
    with pytest.raises(RuntimeError, match="in-place"):
        y *= 3
    with mg.no_grad():
        x += 1  # allowed when no graph is being recorded (an optimizer step)
    np.testing.assert_allclose(x.numpy(), [2.0, 3.0])


def test_in_place_change_of_saved_input_is_detected_at_backward():
    x = leaf([1.0, 2.0])
    c = mg.tensor(np.array([3.0, 4.0]))  # a constant, saved by Mul
    y = (x * c).sum()
    c += 1
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: \[float64 tensor "
                       r"of shape \(2,\)\], which is input 1 of Mul, is at version 1; expected"):
        y.backward()


@pytest.mark.filterwarnings("ignore:divide by zero")  # the inf this test provokes on purpose
def test_detect_anomaly_names_the_op_and_the_user_line():
    x = leaf([0.0, 1.0])
    with mg.detect_anomaly():
        y = x.sqrt()  # d sqrt/dx at 0 is inf
        with pytest.raises(RuntimeError, match=r"Sqrt.*test_autograd.py:\d+"):
            y.sum().backward()


def test_custom_function_in_the_public_shape():
    class Cube(mg.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return scale * x ** 3

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return (grad_output * 3 * ctx.scale * x * x, None)

    x = leaf([1.0, -2.0])
    y = Cube.apply(x, 2.0)
    np.testing.assert_allclose(y.numpy(), [2.0, -16.0])
    assert mg.gradcheck(lambda t: Cube.apply(t, 2.0), (x,))
    assert mg.gradgradcheck(lambda t: Cube.apply(t, 2.0), (x,))


def test_gradcheck_reports_a_wrong_gradient():
    class Wrong(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * 3

    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(mg.GradcheckError, match=r"input 0.*index \(\d,\).*analytic.*numeric"):
        mg.gradcheck(Wrong.apply, (x,))


def test_gradcheck_requires_float64():
    x = mg.tensor([1.0], requires_grad=True)  # float32
    with pytest.raises(TypeError, match="float64"):
        mg.gradcheck(lambda t: t * 2, (x,))


def test_gradcheck_samples_large_inputs():
    x = leaf(np.random.rand(3000))
    calls = []

    def f(t):
        calls.append(1)
        return (t * t).sum()

    assert mg.gradcheck(f, (x,), max_entries=50)
    assert len(calls) == 1 + 2 * 50


def test_max_splits_gradient_evenly_among_ties():
    x = leaf([1.0, 3.0, 3.0, 2.0])
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0.5, 0.5, 0])


def test_getitem_with_repeated_indices_accumulates():
    x = leaf([1.0, 2.0, 3.0])
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 0.0, 1.0])


def test_getitem_with_boolean_mask():
    x = leaf([1.0, -2.0, 3.0])
    y = x[x > 0]
    np.testing.assert_allclose(y.numpy(), [1.0, 3.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0, 1.0])


def test_multi_output_function_with_unused_output():
    class Split(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return (x * 2, x * 3)

        @staticmethod
        def backward(ctx, g_a, g_b):
            return g_a * 2 + g_b * 3

    x = leaf([1.0])
    a, _ = Split.apply(x)
    a.sum().backward()  # the second output's gradient counts as zero
    np.testing.assert_allclose(x.grad.numpy(), [2.0])


def test_mixing_devices_names_both(device):
    if device == "cpu":
        pytest.skip("needs a second device: runs in the cuda case")
    a = leaf([1.0], "cpu")
    b = leaf([1.0], device)
    with pytest.raises(RuntimeError, match=r"cpu.*cuda|cuda.*cpu"):
        a + b


def test_to_device_round_trip_keeps_gradients(device):
    x = leaf([1.0, 2.0])
    y = (x.to(device) * 2).to("cpu").sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_cuda_availability_is_a_plain_bool():
    assert mg.cuda.is_available() in (True, False)
    assert mg.cuda.device_count() >= (1 if mg.cuda.is_available() else 0)
    if not mg.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            mg.zeros(2, device="cuda")


def test_stability_at_extreme_logits_float32():
    logits = mg.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], np.float32),
                       requires_grad=True)
    target = np.array([1, 2])
    for value in (F.log_softmax(logits, 1), F.softmax(logits, 1), logits.sigmoid()):
        assert np.isfinite(value.numpy()).all()
    loss = F.cross_entropy(logits, target)
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(logits.grad.numpy()).all()
    np.testing.assert_allclose(loss.item(), 2e4 / 2, rtol=1e-6)
    z = mg.tensor(np.array([1e4, -1e4, 0.0], np.float32), requires_grad=True)
    t = mg.tensor(np.array([0.0, 1.0, 1.0], np.float32))
    bce = F.binary_cross_entropy_with_logits(z, t, reduction="none")
    np.testing.assert_allclose(bce.numpy(), [1e4, 1e4, math.log(2)], rtol=1e-6)
    bce.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [1.0, -1.0, -0.5], atol=1e-6)


def test_binary_cross_entropy_clamps_log_like_pytorch():
    p = mg.tensor(np.array([0.0, 1.0, 0.5]), requires_grad=True)
    t = mg.tensor(np.array([1.0, 1.0, 0.0]))
    loss = F.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [100.0, 0.0, math.log(2)], rtol=1e-12)
    loss.sum().backward()
    assert np.isfinite(p.grad.numpy()).all()


def test_scatter_ops_reject_bad_indices():
    src = leaf(np.ones((3, 2)))
    with pytest.raises(IndexError, match=r"scatter_add.*\[0, 2\)"):
        F.scatter_add(src, np.array([0, 1, 2]), 2)
    with pytest.raises(ValueError, match=r"scatter_max.*one entry per row.*\(3, 2\)"):
        F.scatter_max(src, np.array([0, 1]), 2)
    with pytest.raises(IndexError, match="gather"):
        F.gather(src, np.array([3]))


def test_scatter_max_splits_ties_and_leaves_empty_rows_zero():
    src = leaf([[1.0], [3.0], [3.0], [2.0]])
    out = F.scatter_max(src, np.array([0, 0, 0, 2]), 3)
    np.testing.assert_allclose(out.numpy(), [[3.0], [0.0], [2.0]])
    out.sum().backward()
    np.testing.assert_allclose(src.grad.numpy(), [[0.0], [0.5], [0.5], [1.0]])


def test_cast_is_differentiable_and_grads_keep_the_input_dtype():
    x = leaf([1.5, -2.0])                      # float64
    y = x.astype(np.float32) * mg.tensor(np.array([3.0, 4.0], np.float32))
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 4.0])
    (g,) = mg.grad((x.astype(np.float32) ** 2).sum(), x, create_graph=True)
    (gg,) = mg.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), [2.0, 2.0])


class _ScaledGrad(mg.autograd.Function):
    """out = 2 x; its backward returns the gradient in a chosen shape and dtype, to exercise
    both of the walk's paths: kept as is, or summed and cast by _fit_to_input."""

    @staticmethod
    def forward(ctx, x, *, grad_shape, grad_dtype):
        ctx.grad_shape, ctx.grad_dtype = grad_shape, grad_dtype
        return 2 * x

    @staticmethod
    def backward(ctx, grad_output):
        return (grad_output * 2).broadcast_to(ctx.grad_shape).astype(ctx.grad_dtype)


@given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple),
       lead=st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple),
       dtype=st.sampled_from(["float32", "float64"]), grad_dtype=st.sampled_from(["float32",
                                                                                    "float64"]))
def test_a_gradient_is_brought_to_its_input_shape_and_dtype(shape, lead, dtype, grad_dtype):
    x = mg.tensor(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape), dtype=dtype,
                  requires_grad=True)
    grad_shape = lead + shape
    _ScaledGrad.apply(x, grad_shape=grad_shape, grad_dtype=grad_dtype).sum().backward()
    assert x.grad.shape == shape and x.grad.dtype == np.dtype(dtype)
    np.testing.assert_allclose(x.grad.numpy(), np.full(shape, 2.0 * max(1, np.prod(lead))))
