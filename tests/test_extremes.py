"""Extreme inputs: every op whose answer is finite there gives finite values and gradients.

Inputs are drawn from magnitudes where naive formulas overflow or divide by zero: ±1e4 ...
±1e30, exact zeros (both signs) and subnormals, mixed with ordinary values, in float32 and
float64. For each op the test asserts that the output, its gradient and its gradient's
gradient hold no inf or nan, and that output and gradient agree with a stable float64 /
``np.longdouble`` reference.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.functional as F

EXTREMES = [0.0, -0.0, 5e-324, -5e-324, 1e-45, -1e-45, 1e-4, -1e-4, 1.0, -1.0, 1e4, -1e4,
            1e10, -1e10, 1e30, -1e30]
LD = np.longdouble


def extreme_arrays(shape, values=EXTREMES):
    return st.lists(st.sampled_from(values), min_size=int(np.prod(shape)),
                    max_size=int(np.prod(shape))).map(lambda v: np.array(v).reshape(shape))


def _sigmoid(x):
    x = x.astype(LD)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _elu_grad(x, alpha=1.0):
    return np.where(x > 0, 1, alpha * np.exp(np.minimum(x, 0)))


def _gelu_tanh(x):
    x = x.astype(LD)
    u = np.sqrt(LD(2) / LD(np.pi)) * (x + LD(0.044715) * x ** 3)
    return x * _sigmoid(2 * u)


def _gelu_tanh_grad(x):
    x = x.astype(LD)
    c = np.sqrt(LD(2) / LD(np.pi))
    s = _sigmoid(2 * c * (x + LD(0.044715) * x ** 3))
    return s + x * 2 * s * (1 - s) * c * (1 + 3 * LD(0.044715) * x * x)


_ERFC = np.vectorize(math.erfc, otypes=[np.float64])
_PHI = lambda x: 0.5 * _ERFC(-np.asarray(x, np.float64) / math.sqrt(2))  # noqa: E731  Φ without cancelling
_SELU = (1.6732632423543772, 1.0507009873554805)

# name: (fn, forward reference, derivative reference), all elementwise
UNARY = {
    "sigmoid": (mg.sigmoid, _sigmoid, lambda x: _sigmoid(x) * _sigmoid(-x)),
    "tanh": (mg.tanh, np.tanh, lambda x: 1 / np.cosh(np.minimum(np.abs(x), 1e4).astype(LD)) ** 2),
    "softplus": (F.softplus, lambda x: np.logaddexp(0, x.astype(LD)), _sigmoid),
    "logsigmoid": (F.logsigmoid, lambda x: -np.logaddexp(0, -x.astype(LD)),
                   lambda x: _sigmoid(-x)),
    "relu": (F.relu, lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0),
    "leaky_relu": (lambda t: F.leaky_relu(t, 0.1), lambda x: np.where(x > 0, x, 0.1 * x),
                   lambda x: np.where(x > 0, 1.0, 0.1)),
    "elu": (F.elu, _elu, _elu_grad),
    "selu": (F.selu, lambda x: _SELU[1] * _elu(x, _SELU[0]),
             lambda x: _SELU[1] * _elu_grad(x, _SELU[0])),
    "silu": (F.silu, lambda x: x * _sigmoid(x),
             lambda x: _sigmoid(x) * (1 + x * _sigmoid(-x))),
    "gelu": (F.gelu, lambda x: x * _PHI(x),
             lambda x: _PHI(x) + x * np.exp(-np.minimum(x * x, 1e4) / 2) / math.sqrt(2 * math.pi)),
    "gelu_tanh": (lambda t: F.gelu(t, approximate="tanh"), _gelu_tanh, _gelu_tanh_grad),
    "abs": (mg.abs, np.abs, np.sign),
}


def _tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-30) if dtype == np.float64 else dict(rtol=2e-3, atol=1e-30)


def _finite_through_second_order(fn, *tensors):
    """fn's output, first gradients (of the sum) and second gradients (of their sum): all
    finite. Returns the output and the first gradients, as float64 arrays."""
    out = fn(*tensors)
    assert np.isfinite(out.numpy()).all(), out
    grads = mg.grad(out.sum(), tensors, create_graph=True)
    for g in grads:
        assert np.isfinite(g.numpy()).all(), g
    total = sum(g.sum() for g in grads)
    if total.requires_grad:  # piecewise-linear ops (relu, abs) have a constant gradient
        for g2 in mg.grad(total, tensors, allow_unused=True):
            assert g2 is None or np.isfinite(g2.numpy()).all(), g2
    return out.numpy().astype(np.float64), [g.numpy().astype(np.float64) for g in grads]


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(x=extreme_arrays((6,)))
def test_unary_activations_stay_finite(name, dtype, x):
    fn, reference, derivative = UNARY[name]
    x = x.astype(dtype)  # float32 flushes the float64-only subnormals to 0: still extreme
    t = mg.tensor(x, dtype=dtype, requires_grad=True)
    out, (grad,) = _finite_through_second_order(fn, t)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(out, reference(x).astype(np.float64), **_tolerance(dtype))
        np.testing.assert_allclose(grad, derivative(x).astype(np.float64), **_tolerance(dtype))


def _log_softmax_ref(x, axis=-1):
    x = x.astype(LD)
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


LOGIT_EXTREMES = [0.0, -0.0, 5e-324, 1e-45, 1.0, -1.0, 1e4, -1e4, 1e10, -1e10]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(x=extreme_arrays((3, 4), LOGIT_EXTREMES), target=extreme_arrays((3,), [0, 1, 2, 3]))
def test_softmax_family_and_cross_entropy_stay_finite(dtype, x, target):
    x = x.astype(dtype)
    target = target.astype(np.int64)
    tol = _tolerance(dtype)
    ref = _log_softmax_ref(x)
    t = mg.tensor(x, dtype=dtype, requires_grad=True)
    out, (g,) = _finite_through_second_order(lambda a: F.log_softmax(a, dim=1), t)
    np.testing.assert_allclose(out, ref.astype(np.float64), **tol)
    # d Σ log_softmax / dx = 1 - C·softmax(x)
    np.testing.assert_allclose(g, (1 - 4 * np.exp(ref)).astype(np.float64), rtol=1e-3, atol=1e-5)
    out, _ = _finite_through_second_order(lambda a: F.softmax(a, dim=1), t)
    np.testing.assert_allclose(out, np.exp(ref).astype(np.float64), rtol=1e-3, atol=1e-30)
    out, (g,) = _finite_through_second_order(lambda a: a.logsumexp(1), t)
    np.testing.assert_allclose(out, (x.astype(LD) - ref)[:, 0].astype(np.float64), **tol)
    np.testing.assert_allclose(g, np.exp(ref).astype(np.float64), rtol=1e-3, atol=1e-6)
    for smoothing in (0.0, 0.2):
        out, (g,) = _finite_through_second_order(
            lambda a: F.cross_entropy(a, target, label_smoothing=smoothing), t)
        onehot = np.eye(4)[target] * (1 - smoothing) + smoothing / 4
        expected = -(onehot * ref).sum(1).mean()
        np.testing.assert_allclose(out, float(expected), **tol)
        np.testing.assert_allclose(g, (np.exp(ref) - onehot).astype(np.float64) / 3,
                                   rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(x=extreme_arrays((5,)), target=extreme_arrays((5,), [0.0, 0.25, 1.0]))
def test_bce_with_logits_stays_finite(dtype, x, target):
    x = x.astype(dtype)
    t = mg.tensor(x, dtype=dtype, requires_grad=True)
    w = mg.tensor(target, dtype=dtype)
    out, (g,) = _finite_through_second_order(
        lambda a: F.binary_cross_entropy_with_logits(a, w, reduction="none"), t)
    xl = x.astype(LD)
    expected = (1 - target) * xl + np.logaddexp(0, -xl)
    np.testing.assert_allclose(out, expected.astype(np.float64), **_tolerance(dtype))
    np.testing.assert_allclose(g, (_sigmoid(x) - target).astype(np.float64), rtol=1e-3, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(x=extreme_arrays((2, 3), LOGIT_EXTREMES),
       target=extreme_arrays((2, 3), [0.0, 0.0, 1e-30, 0.5, 1.0]))
def test_kl_div_stays_finite(dtype, x, target):
    """Log-probability inputs of any size; targets with exact zeros and tiny values (not
    subnormals: the second derivative of t·log t is 1/t, beyond the float range there)."""
    x = x.astype(dtype)
    target = target.astype(dtype)
    t = mg.tensor(x, dtype=dtype, requires_grad=True)
    p = mg.tensor(target, dtype=dtype, requires_grad=True)
    out, (g_input, _) = _finite_through_second_order(
        lambda a, b: F.kl_div(a, b, reduction="sum"), t, p)
    tl = target.astype(LD)
    with np.errstate(all="ignore"):
        terms = np.where(tl > 0, tl * (np.log(np.where(tl > 0, tl, 1)) - x), 0)
    # a sum of terms of both signs: the rounding error scales with the terms, not the sum
    scale = float(np.abs(terms).sum()) * (1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_allclose(out, float(terms.sum()), rtol=1e-5, atol=scale)
    np.testing.assert_allclose(g_input, -target.astype(np.float64))
    log_target = mg.tensor(-np.abs(x[::-1]), dtype=dtype, requires_grad=True)
    out, _ = _finite_through_second_order(
        lambda a, b: F.kl_div(a, b, reduction="sum", log_target=True), t, log_target)
    xl = x.astype(LD)
    terms = np.exp(-np.abs(xl[::-1])) * (-np.abs(xl[::-1]) - xl)
    scale = float(np.abs(terms).sum()) * (1e-6 if dtype == np.float32 else 1e-14)
    np.testing.assert_allclose(out, float(terms.sum()), rtol=1e-5, atol=scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(x=extreme_arrays((4,), [0.0, 0.0, 1e-30, 1e-4, 1.0, 3.0]),
       p=extreme_arrays((4,), [0.0, 1.0, 2.0, 3.0]))
def test_pow_at_zero_base_and_zero_exponent(dtype, x, p):
    """d(x**p)/dp = 0 at x = 0 for p >= 0, d(x**p)/dx = 0 where p = 0: the limits, not nan.
    (No subnormal x: the second derivative log(x)' = 1/x is beyond the float range there.)"""
    x = x.astype(dtype)
    tx = mg.tensor(x, dtype=dtype, requires_grad=True)
    tp = mg.tensor(p, dtype=dtype, requires_grad=True)
    out, (gx, gp) = _finite_through_second_order(lambda a, b: a ** b, tx, tp)
    xl, pl = x.astype(LD), p.astype(LD)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(out, (xl ** pl).astype(np.float64), **_tolerance(dtype))
        expected_gx = np.where(pl == 0, 0, pl * xl ** np.where(pl == 0, 1, pl - 1))
        expected_gp = np.where(xl == 0, 0, xl ** pl * np.log(np.where(xl == 0, 1, xl)))
    np.testing.assert_allclose(gx, expected_gx.astype(np.float64), **_tolerance(dtype))
    np.testing.assert_allclose(gp, expected_gp.astype(np.float64), **_tolerance(dtype))


def test_pow_gradients_at_zero_match_torch_vs_torch():
    torch = pytest.importorskip("torch")
    x = np.array([0.0, 0.0, 0.0, 2.0])
    p = np.array([0.0, 1.0, 2.5, 0.0])
    tx, tp = mg.tensor(x, requires_grad=True), mg.tensor(p, requires_grad=True)
    gx, gp = mg.grad((tx ** tp).sum(), (tx, tp))
    rx = torch.tensor(x, requires_grad=True)
    rp = torch.tensor(p, requires_grad=True)
    (rx ** rp).sum().backward()
    np.testing.assert_allclose(gx.numpy(), rx.grad.numpy())
    np.testing.assert_allclose(gp.numpy(), rp.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(x1=extreme_arrays((3, 4), [0.0, 0.0, 5e-324, 1e-45, 1.0, -2.0, 1e4]),
       x2=extreme_arrays((3, 4), [0.0, 1.0, -3.0, 0.5, 1e-4]))
def test_cosine_similarity_with_zero_vectors_stays_finite(dtype, x1, x2):
    x1, x2 = x1.astype(dtype), x2.astype(dtype)
    x1[0] = 0.0  # at least one exact zero vector in every draw
    t1 = mg.tensor(x1, dtype=dtype, requires_grad=True)
    t2 = mg.tensor(x2, dtype=dtype, requires_grad=True)
    out, (g1, _) = _finite_through_second_order(F.cosine_similarity, t1, t2)
    a, b = x1.astype(np.float64), x2.astype(np.float64)
    n1 = np.maximum(np.linalg.norm(a, axis=1), 1e-8)[:, None]
    n2 = np.maximum(np.linalg.norm(b, axis=1), 1e-8)[:, None]
    np.testing.assert_allclose(out, ((a / n1) * (b / n2)).sum(1), rtol=1e-4, atol=1e-6)
    # a zero vector: the gradient is x2 / (eps·‖x2‖), from the clamped norm
    np.testing.assert_allclose(g1[0], (b[0] / (n1[0] * n2[0])), rtol=1e-4)


def test_cosine_similarity_zero_vector_gradient_vs_torch():
    torch = pytest.importorskip("torch")
    x1 = np.array([[0.0, 0.0, 0.0], [1e-10, 1e-10, 1e-10], [1.0, -2.0, 0.5]])
    x2 = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    t1, t2 = mg.tensor(x1, requires_grad=True), mg.tensor(x2, requires_grad=True)
    F.cosine_similarity(t1, t2).sum().backward()
    r1, r2 = torch.tensor(x1, requires_grad=True), torch.tensor(x2, requires_grad=True)
    torch.nn.functional.cosine_similarity(r1, r2).sum().backward()
    np.testing.assert_allclose(t1.grad.numpy(), r1.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(t2.grad.numpy(), r2.grad.numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_tanh_at_large_inputs_vs_torch(dtype):
    torch = pytest.importorskip("torch")
    x = np.array([-1e30, -1e10, -1e4, -20.0, -3.0, 0.0, 3.0, 20.0, 1e4, 1e10, 1e30], dtype)
    t = mg.tensor(x, dtype=dtype, requires_grad=True)
    out = F.gelu(t, approximate="tanh")
    (g,) = mg.grad(out.sum(), (t,))
    r = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.gelu(r, approximate="tanh")
    expected.sum().backward()
    # torch's own backward gives nan out here (0 * inf); its forward is the reference there
    finite = np.isfinite(r.grad.numpy())
    # float32: torch's 1 + tanh(u) cancels near u = -2, our sigmoid(2u) does not
    rtol = 1e-4 if dtype == np.float32 else 1e-6
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(g.numpy()[finite], r.grad.numpy()[finite], rtol=rtol, atol=1e-7)
    assert np.isfinite(g.numpy()).all()
