"""What ``minigrad/ops/elementwise.py`` and ``minigrad/ops/unary.py`` promise, checked where the
rest of the suite did not look: each test here fails for a small, realistic change (a keyword
dropped, a skipped gradient computed anyway, a bound ignored), against NumPy or exact values.

An arithmetic backward runs on raw arrays when the pass is not recorded and on Tensors under
``create_graph``, so the gradient checks below take both paths where an op has both.
"""
import math
import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F


def _grads(fn, arrays, create_graph):
    """The gradients of ``fn(*tensors).sum()`` as arrays, by plain backward or by ``mg.grad``
    with ``create_graph`` (the Tensor path of a ``backward_on_arrays`` op)."""
    tensors = [mg.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors).sum()
    if create_graph:
        return [g.numpy() for g in mg.grad(out, tensors, create_graph=True)]
    out.backward()
    return [t.grad.numpy() for t in tensors]


BOTH_PATHS = pytest.mark.parametrize("create_graph", [False, True], ids=["arrays", "tensors"])


# --- clamp: PyTorch's name and keywords for clip ---------------------------------------------

@BOTH_PATHS
def test_clamp_min_and_max_keywords(create_graph):
    x = np.array([-3.0, -1.0, 0.5, 2.0, 4.0])
    both = lambda t: mg.clamp(t, min=-1.5, max=1.0)  # noqa: E731
    np.testing.assert_array_equal(both(mg.tensor(x)).numpy(), np.clip(x, -1.5, 1.0))
    (g,) = _grads(both, [x], create_graph)
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 0.0, 0.0])

    low = lambda t: mg.clamp(t, min=0.0)  # noqa: E731
    np.testing.assert_array_equal(low(mg.tensor(x)).numpy(), np.maximum(x, 0.0))
    (g,) = _grads(low, [x], create_graph)
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0, 1.0, 1.0])

    high = lambda t: mg.clamp(t, max=0.0)  # noqa: E731
    np.testing.assert_array_equal(high(mg.tensor(x)).numpy(), np.minimum(x, 0.0))
    (g,) = _grads(high, [x], create_graph)
    np.testing.assert_array_equal(g, [1.0, 1.0, 0.0, 0.0, 0.0])


# --- pow: a gradient that is not needed is not computed ----------------------------------------

def test_pow_zero_base_constant_computes_no_base_gradient():
    """With a constant base 0 and 0 < p < 1, only dL/dp = out·log(x) = 0 is wanted: the base's
    p·x**(p-1) = inf (a divide-by-zero warning) must not be computed at all."""
    x = mg.tensor([0.0, 0.0, 4.0])
    p = mg.tensor([0.5, 0.25, 0.5], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = x ** p
        out.sum().backward()
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.0, 2.0])
    np.testing.assert_allclose(p.grad.numpy(), [0.0, 0.0, 2.0 * math.log(4.0)], rtol=1e-6)


# --- erf / gelu: no overflow warning where x² overflows but the answer is finite --------------

@pytest.mark.parametrize("dtype, big", [(np.float32, 1e30), (np.float64, 1e200),
                                        (np.float32, 3e38), (np.float64, 1e308)])
@BOTH_PATHS
def test_gelu_gradient_at_huge_inputs_raises_no_overflow_warning(dtype, big, create_graph):
    """erf'(x) = 2/√π·exp(-x²): x² overflows to inf beyond ~1.8e19 (float32) or ~1.3e154
    (float64), where exp(-inf) = 0 is exact. gelu'(x) = Φ(x) + x·φ(x) is then 1 or 0, and
    gelu(x) itself x or -0, also next to the dtype's largest value (x·(1 + erf) would be 2x)."""
    x = np.array([-big, -1.0, 0.0, 1.0, big], dtype=dtype)
    t = mg.tensor(x, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = F.gelu(t)
        if create_graph:
            (g,) = mg.grad(out.sum(), [t], create_graph=True)
            (g2,) = mg.grad(g.sum(), [t])
        else:
            out.sum().backward()
            g = t.grad
    phi = lambda v: math.exp(-v * v / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda v: 0.5 * math.erfc(-v / math.sqrt(2))  # noqa: E731
    expected = [0.0, cdf(-1.0) - phi(-1.0), 0.5, cdf(1.0) + phi(1.0), 1.0]
    assert g.dtype == dtype
    np.testing.assert_allclose(out.numpy()[[0, -1]], [0.0, big], rtol=1e-6)
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-6, atol=1e-30)
    if create_graph:  # gelu''(x) = φ(x)·(2 - x²): 0 far out, 2φ(0) at 0
        expected2 = [0.0, phi(1.0), 2 * phi(0.0), phi(1.0), 0.0]
        np.testing.assert_allclose(g2.numpy(), expected2, rtol=1e-5, atol=1e-30)


@pytest.mark.parametrize("tensor_exponent", [False, True], ids=["number", "tensor"])
def test_pow_zero_exponent_gives_zero_base_gradient_at_every_base(tensor_exponent):
    """d(x**0)/dx = 0 everywhere, also at x = 0 (where p·x**(p-1) reads 0·inf) and x = inf
    (0·inf again, were the exponent p - 1 = -1 or anything but 0 used at p = 0)."""
    x = mg.tensor([0.0, -2.0, 3.0, np.inf], requires_grad=True)
    p = mg.tensor([0.0, 0.0, 0.0, 0.0]) if tensor_exponent else 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = x ** p
        (g,) = mg.grad(out.sum(), [x], create_graph=True)
    np.testing.assert_array_equal(out.numpy(), [1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0, 0.0, 0.0])


def test_pow_number_exponent_one_and_two():
    """The exponent's p - 1 for a number: x**1 has gradient 1, x**2 has 2x, also at x = 0."""
    x = mg.tensor([0.0, -2.0, 3.0], requires_grad=True)
    (g1,) = mg.grad((x ** 1).sum(), [x])
    (g2,) = mg.grad((x ** 2).sum(), [x])
    np.testing.assert_array_equal(g1.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(g2.numpy(), [0.0, -4.0, 6.0])


# --- gradients for inputs that want none: not computed, so not reported by trace_backward -----

def test_where_sends_a_gradient_only_to_the_input_that_wants_one():
    """trace_backward's |grad in| covers what a node sends to its inputs: where(c, x, y) with a
    constant y sends g·c to x only (norm 2 here, not the 3 of both branches)."""
    cond = np.array([True, False, True, False])
    for wants_x in (True, False):
        a = mg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=wants_x)
        b = mg.tensor([5.0, 6.0, 7.0, 8.0], requires_grad=not wants_x)
        with mg.trace_backward() as t:
            mg.where(cond, a, b).sum().backward()
        (row,) = [r for r in t.rows if r.op == "Where"]
        assert row.grad_input_norm == pytest.approx(math.sqrt(2.0))
        leaf, expected = (a, cond * 1.0) if wants_x else (b, ~cond * 1.0)
        np.testing.assert_array_equal(leaf.grad.numpy(), expected)


@pytest.mark.parametrize("exponent", [3.0, "constant tensor"])
def test_pow_with_a_constant_exponent_sends_only_the_base_gradient(exponent):
    x = mg.tensor([1.0, -2.0], requires_grad=True)
    p = mg.tensor([3.0, 3.0]) if exponent == "constant tensor" else exponent
    with mg.trace_backward() as t:
        (x ** p).sum().backward()
    (row,) = [r for r in t.rows if r.op == "Pow"]
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 12.0])
    assert row.grad_input_norm == pytest.approx(math.hypot(3.0, 12.0))


@BOTH_PATHS
@pytest.mark.parametrize("op, wants_a, expected", [
    ("sub", True, [1.0, 1.0]),
    ("mul", True, [4.0, -8.0]), ("mul", False, [2.0, 3.0]),
    ("div", True, [0.25, -0.125]), ("div", False, [-0.125, -0.046875])])
def test_arithmetic_sends_a_gradient_only_to_the_input_that_wants_one(op, wants_a, expected,
                                                                      create_graph):
    """a - b, a * b, a / b with one side constant: the node's |grad in| (trace_backward) is the
    norm of the other side's gradient alone, on the array path and under create_graph alike.
    (Sub hands g itself to a whether or not a wants it: nothing is computed for it.)"""
    fn = {"sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b}[op]
    a = mg.tensor([2.0, 3.0], requires_grad=wants_a)
    b = mg.tensor([4.0, -8.0], requires_grad=not wants_a)
    leaf = a if wants_a else b
    with mg.trace_backward() as t:
        (g,) = _grads_of(fn(a, b).sum(), leaf, create_graph)
    (row,) = [r for r in t.rows if r.op == op.capitalize()]
    np.testing.assert_allclose(g, expected, rtol=1e-7)
    assert row.grad_input_norm == pytest.approx(float(np.linalg.norm(expected)), rel=1e-7)


def _grads_of(out, leaf, create_graph):
    if create_graph:
        return [mg.grad(out, [leaf], create_graph=True)[0].numpy()]
    out.backward()
    return [leaf.grad.numpy()]


# --- dtypes and conventions at the edges ------------------------------------------------------

@BOTH_PATHS
def test_sigmoid_keeps_float32(create_graph):
    x = np.array([-30.0, -1.0, 0.0, 2.0, 30.0], dtype=np.float32)
    t = mg.tensor(x, requires_grad=True)
    out = mg.sigmoid(t)
    assert out.dtype == np.float32
    expected = (1 / (1 + np.exp(-x.astype(np.float64))))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    (g,) = _grads_of(out.sum(), t, create_graph)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, expected * (1 - expected), rtol=1e-5, atol=1e-12)


@BOTH_PATHS
def test_clip_passes_the_gradient_at_both_bounds(create_graph):
    """low <= x <= high, bounds included (PyTorch's clamp): x exactly at a bound gets g."""
    x = np.array([-2.0, -1.0, 0.0, 1.5, 3.0])
    (g,) = _grads(lambda t: mg.clip(t, -1.0, 1.5) * 3.0, [x], create_graph)
    np.testing.assert_array_equal(g, [0.0, 3.0, 3.0, 3.0, 0.0])
    (g,) = _grads(lambda t: mg.clip(t, low=-1.0), [x], create_graph)
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 1.0])
    (g,) = _grads(lambda t: mg.clip(t, high=1.5), [x], create_graph)
    np.testing.assert_array_equal(g, [1.0, 1.0, 1.0, 1.0, 0.0])


@BOTH_PATHS
@pytest.mark.parametrize("mask_kind", ["array", "bool tensor"])
def test_where_gradient_follows_the_mask_as_it_was_in_forward(mask_kind, create_graph):
    """A mask changed in place after where() ran (the caller's array, or a bool Tensor through
    item assignment) does not move the gradient: backward uses the mask forward used."""
    a = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = mg.tensor([4.0, 5.0, 6.0], requires_grad=True)
    mask = np.array([True, False, True])
    if mask_kind == "bool tensor":
        mask = mg.tensor(mask)
    out = mg.where(mask, a, b)
    mask[0] = False
    np.testing.assert_array_equal(out.numpy(), [1.0, 5.0, 3.0])
    if create_graph:
        ga, gb = (g.numpy() for g in mg.grad(out.sum(), [a, b], create_graph=True))
    else:
        out.sum().backward()
        ga, gb = a.grad.numpy(), b.grad.numpy()
    np.testing.assert_array_equal(ga, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(gb, [0.0, 1.0, 0.0])
