"""The losses of minigrad/losses_more.py and their layers: soft_margin_loss,
multilabel_soft_margin_loss, poisson_nll_loss and multilabel_margin_loss.

Every option and reduction against a NumPy reference written out entry by entry (the loops
follow the definitions, not the vectorised code), over hypothesis-drawn shapes; gradients and
second derivatives against finite differences in float64; logits at ±1e4 (finite values and
gradients, equal to their limits); every error message; and the layers: forward equal to F's,
PyTorch's constructor order and legacy flags, reprs and state dicts. The same calls are
compared with PyTorch in test_losses_more_vs_torch.py.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.functional as F
from layers.loss import (MultiLabelMarginLoss, MultiLabelSoftMarginLoss, PoissonNLLLoss,
                         SoftMarginLoss)
from strategies.losses_more import (label_rows, multilabel_margin_inputs,
                                    multilabel_soft_margin_inputs, poisson_nll_inputs,
                                    soft_margin_inputs)
from strategies.values import values

REDUCTIONS = ["mean", "sum", "none"]
RNG = np.random.default_rng(7)


def t64(array, requires_grad=True):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


def reduce(loss, reduction):
    loss = np.asarray(loss, dtype=np.float64)
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def log1pexp(z):
    """log(1 + e^z) for one float, without overflow."""
    return z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))


def soft_margin_reference(x, y, reduction):
    loss = [log1pexp(-b * a) for a, b in zip(x.reshape(-1), y.reshape(-1))]
    return reduce(np.reshape(loss, x.shape), reduction)


def multilabel_soft_margin_reference(x, y, weight, reduction):
    w = np.broadcast_to(1.0 if weight is None else weight, x.shape)
    C = x.shape[-1]
    rows = []
    for xs, ys, ws in zip(x.reshape(-1, C), y.reshape(-1, C), w.reshape(-1, C)):
        # −(y log σ(x) + (1 − y) log σ(−x)), each log σ(z) = −log(1 + e^−z)
        rows.append(sum(wi * (yi * log1pexp(-xi) + (1 - yi) * log1pexp(xi))
                        for xi, yi, wi in zip(xs, ys, ws)) / C)
    return reduce(np.reshape(rows, x.shape[:-1]), reduction)


def log_factorial_stirling(y):
    return y * math.log(y) - y + 0.5 * math.log(2 * math.pi * y) if y > 1 else 0.0


def poisson_nll_reference(x, y, log_input, full, eps, reduction):
    loss = []
    for a, b in zip(x.reshape(-1), y.reshape(-1)):
        value = math.exp(a) - b * a if log_input else a - b * math.log(a + eps)
        loss.append(value + (log_factorial_stirling(b) if full else 0.0))
    return reduce(np.reshape(loss, x.shape), reduction)


def multilabel_margin_reference(x, target, reduction):
    """PyTorch's rule, loop for loop: labels are read up to the first negative entry; every
    label (a repeat counting again) against every class that is no label."""
    C = x.shape[-1]
    losses = []
    for xs, ts in zip(x.reshape(-1, C), target.reshape(-1, C)):
        labels = []
        for t in ts:
            if t < 0:
                break
            labels.append(int(t))
        total = 0.0
        for j in labels:
            for i in range(C):
                if i not in labels:
                    total += max(0.0, 1 - xs[j] + xs[i])
        losses.append(total / C)
    return reduce(np.reshape(losses, x.shape[:-1]), reduction)


def check_grads(fn, *arrays):
    inputs = tuple(t64(a) for a in arrays)
    assert mg.gradcheck(fn, inputs)
    assert mg.gradgradcheck(fn, inputs)


# ---- values: every option and reduction, over drawn shapes ----------------------------------

@given(soft_margin_inputs())
def test_soft_margin_loss_matches_loops(case):
    (x,), params = case
    out = F.soft_margin_loss(t64(x), **params)
    expected = soft_margin_reference(x, params["target"], params["reduction"])
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-15)


@given(multilabel_soft_margin_inputs())
def test_multilabel_soft_margin_loss_matches_loops(case):
    (x,), params = case
    out = F.multilabel_soft_margin_loss(t64(x), **params)
    expected = multilabel_soft_margin_reference(x, params["target"], params.get("weight"),
                                                params["reduction"])
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-15)


@given(poisson_nll_inputs())
def test_poisson_nll_loss_matches_loops(case):
    (x,), params = case
    out = F.poisson_nll_loss(t64(x), **params)
    expected = poisson_nll_reference(x, params["target"], params["log_input"], params["full"],
                                     params["eps"], params["reduction"])
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)


@given(multilabel_margin_inputs())
def test_multilabel_margin_loss_matches_loops(case):
    (x,), params = case
    out = F.multilabel_margin_loss(t64(x), **params)
    expected = multilabel_margin_reference(x, params["target"], params["reduction"])
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-15)


def test_multilabel_margin_loss_pairs_only_the_label_slots_in_use():
    """Few labels among many classes: the pairs are (N, labels, C), not (N, C, C) (which would
    take 4 * 3000 * 3000 * 8 bytes, 288 MB, here); the value and gradient as the loops give."""
    import tracemalloc
    C = 3000
    x = RNG.normal(size=(4, C))
    target = np.full((4, C), -1)
    target[:, :2] = [[5, 7], [0, 2999], [1, 1], [3, 4]]
    target[2, 1] = -1  # one label in that row
    t = t64(x)
    tracemalloc.start()
    try:
        out = F.multilabel_margin_loss(t, target)
        out.backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, peak
    np.testing.assert_allclose(out.numpy(), multilabel_margin_reference(x, target, "mean"),
                               rtol=1e-12)
    # d/dx of the mean over 4 rows: each (label j, other class i) pair with a positive hinge
    # adds +1 to x[i] and -1 to x[y_j], over C
    expected = np.zeros_like(x)
    for n in range(4):
        labels = [int(v) for v in target[n][:np.argmax(target[n] < 0)]]
        for j in labels:
            for i in set(range(C)) - set(labels):
                if 1 - x[n, j] + x[n, i] > 0:
                    expected[n, i] += 1 / (4 * C)
                    expected[n, j] -= 1 / (4 * C)
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-10, atol=1e-15)


def test_multilabel_margin_loss_of_rows_without_labels_is_zero():
    x = t64(RNG.normal(size=(3, 5)))
    out = F.multilabel_margin_loss(x, np.full((3, 5), -1), reduction="none")
    out.sum().backward()
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 5)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin_loss_reductions(reduction):
    x, y = RNG.normal(size=(3, 4)) * 2, np.where(RNG.random((3, 4)) < 0.5, 1.0, -1.0)
    out = F.soft_margin_loss(t64(x), t64(y, False), reduction)
    np.testing.assert_allclose(out.numpy(), reduce(np.log1p(np.exp(-y * x)), reduction),
                               rtol=1e-12)


def test_soft_margin_loss_uses_other_targets_as_given():
    """A target of 0 or 2 is not refused (PyTorch's behaviour): log(1 + e^0) and
    log(1 + e^−2x)."""
    out = F.soft_margin_loss(t64([1.5, 1.5]), [0.0, 2.0], reduction="none")
    np.testing.assert_allclose(out.numpy(), [math.log(2), math.log1p(math.exp(-3.0))])


def test_soft_margin_loss_default_reduction_is_mean():
    x, y = t64([0.5, -2.0, 3.0]), [1.0, 1.0, -1.0]
    assert F.soft_margin_loss(x, y).item() == pytest.approx(
        np.mean([log1pexp(-0.5), log1pexp(2.0), log1pexp(3.0)]), rel=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, "classes", "full", "list"])
@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 4)])
def test_multilabel_soft_margin_loss_options(reduction, weight, shape):
    x, y = RNG.normal(size=shape) * 3, (RNG.random(shape) < 0.5).astype(float)
    w = {None: None, "classes": RNG.uniform(0.5, 2, 4), "full": RNG.uniform(0.5, 2, shape),
         "list": [0.5, 1.0, 2.0, 3.0]}[weight]
    out = F.multilabel_soft_margin_loss(t64(x), t64(y, False), w, reduction)
    expected = multilabel_soft_margin_reference(x, y, None if w is None else np.asarray(w),
                                                reduction)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_multilabel_soft_margin_loss_averages_over_the_last_axis():
    """Not over every element: one loss per sample, the classes' mean."""
    x = t64(np.zeros((2, 4)))
    out = F.multilabel_soft_margin_loss(x, np.ones((2, 4)), reduction="none")
    np.testing.assert_allclose(out.numpy(), [math.log(2)] * 2, rtol=1e-15)
    weighted = F.multilabel_soft_margin_loss(x, np.ones((2, 4)), [1.0, 1.0, 1.0, 5.0], "sum")
    np.testing.assert_allclose(weighted.item(), 2 * 8 / 4 * math.log(2), rtol=1e-15)


def test_multilabel_soft_margin_loss_weight_is_differentiable():
    x, y = RNG.normal(size=(2, 3)), (RNG.random((2, 3)) < 0.5).astype(float)
    w = t64([0.5, 1.0, 2.0])
    F.multilabel_soft_margin_loss(t64(x), y, w, "sum").backward()
    per_class = y * np.logaddexp(0, -x) + (1 - y) * np.logaddexp(0, x)
    np.testing.assert_allclose(w.grad.numpy(), per_class.sum(0) / 3, rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("eps", [1e-8, 0.25])
def test_poisson_nll_loss_options(reduction, log_input, full, eps):
    x = RNG.normal(size=(3, 4)) if log_input else RNG.uniform(0.0, 3.0, size=(3, 4))
    y = np.array([[0.0, 1.0, 2.0, 3.0], [0.5, 1.5, 4.0, 7.0], [10.0, 0.0, 1.0, 2.5]])
    out = F.poisson_nll_loss(t64(x), t64(y, False), log_input, full, eps, reduction)
    np.testing.assert_allclose(out.numpy(),
                               poisson_nll_reference(x, y, log_input, full, eps, reduction),
                               rtol=1e-12)


def test_poisson_nll_loss_defaults():
    """log_input=True, full=False, eps=1e-8 (unused with log-rates), reduction='mean'."""
    x, y = np.array([0.3, -1.0, 2.0]), np.array([0.0, 2.0, 5.0])
    out = F.poisson_nll_loss(t64(x), y)
    np.testing.assert_allclose(out.item(), np.mean(np.exp(x) - y * x), rtol=1e-14)


def test_poisson_nll_loss_eps_is_added_to_the_rate():
    out = F.poisson_nll_loss(t64([0.0, 2.0]), [3.0, 1.0], log_input=False, eps=0.5,
                             reduction="none")
    np.testing.assert_allclose(out.numpy(), [0 - 3 * math.log(0.5), 2 - math.log(2.5)])


def test_poisson_nll_loss_full_adds_stirling_only_above_one():
    y = np.array([0.0, 0.5, 1.0, 1.0001, 2.0, 20.0])
    x = np.zeros(6)
    base = F.poisson_nll_loss(t64(x), y, reduction="none").numpy()
    full = F.poisson_nll_loss(t64(x), y, full=True, reduction="none").numpy()
    stirling = [0.0, 0.0, 0.0] + [v * math.log(v) - v + 0.5 * math.log(2 * math.pi * v)
                                  for v in (1.0001, 2.0, 20.0)]
    np.testing.assert_allclose(full - base, stirling, rtol=1e-12, atol=1e-15)
    # Stirling's formula is close to log(y!) for large counts
    assert abs((full - base)[-1] - math.lgamma(21.0)) < 5e-3


def test_poisson_nll_loss_target_gradient():
    """d/dy of −y·x is −x, of −y·log(x + eps) is −log(x + eps), and of Stirling's term
    log y + 1/(2y) where y > 1; a count of 0 gets a finite gradient (PyTorch's is nan)."""
    y = t64([0.0, 0.5, 3.0])
    x = np.array([0.4, -0.2, 1.1])
    F.poisson_nll_loss(t64(x), y, full=True, reduction="sum").backward()
    np.testing.assert_allclose(y.grad.numpy(), [-0.4, 0.2, -1.1 + math.log(3.0) + 1 / 6],
                               rtol=1e-12)
    y = t64([0.0, 4.0])
    F.poisson_nll_loss(t64([2.0, 3.0]), y, log_input=False, full=True, eps=0.0,
                       reduction="sum").backward()
    np.testing.assert_allclose(y.grad.numpy(), [-math.log(2.0),
                                                -math.log(3.0) + math.log(4.0) + 1 / 8],
                               rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss_reductions(reduction):
    x = np.array([[0.1, 0.2, 0.4, 0.8], [0.3, -0.5, 0.9, 0.0], [1.0, 2.0, 3.0, 4.0]])
    target = np.array([[3, 0, -1, 1], [1, 2, 3, -1], [-1, 0, 1, 2]])
    out = F.multilabel_margin_loss(t64(x), target, reduction)
    expected = reduce([3.4 / 4, (1.8 + 0.4 + 1.3) / 4, 0.0], reduction)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), multilabel_margin_reference(x, target, reduction),
                               rtol=1e-12)


def test_multilabel_margin_loss_reads_labels_up_to_the_first_minus_one():
    x = t64([[0.1, 0.2, 0.4, 0.8]])
    padded = [F.multilabel_margin_loss(x, [[3, 0, -1, p]]).item() for p in (-1, 0, 1, 2, 3)]
    assert padded == [padded[0]] * 5
    assert F.multilabel_margin_loss(x, [[3, 0, 1, -1]]).item() != padded[0]
    assert F.multilabel_margin_loss(x, [[-1, 0, 1, 2]]).item() == 0.0


def test_multilabel_margin_loss_counts_a_repeated_label_twice():
    x = t64([[0.1, 0.2, 0.4, 0.8]])
    once = F.multilabel_margin_loss(x, [[0, -1, -1, -1]]).item()
    twice = F.multilabel_margin_loss(x, [[0, 0, -1, -1]]).item()
    np.testing.assert_allclose([once, twice], [(1.1 + 1.3 + 1.7) / 4, 2 * (1.1 + 1.3 + 1.7) / 4])


def test_multilabel_margin_loss_every_class_a_label_is_zero():
    x = t64([[5.0, -5.0, 0.0]])
    assert F.multilabel_margin_loss(x, [[2, 0, 1]]).item() == 0.0


def test_multilabel_margin_loss_one_sample():
    x = np.array([0.1, 0.2, 0.4, 0.8])
    for reduction in REDUCTIONS:
        out = F.multilabel_margin_loss(t64(x), np.array([3, 0, -1, 1]), reduction)
        assert out.shape == ()
        np.testing.assert_allclose(out.item(), 0.85, rtol=1e-12)


def test_multilabel_margin_loss_takes_unsigned_and_tensor_targets():
    x = t64([[0.1, 0.2, 0.4, 0.8]])
    expected = (1.1 + 1.3 + 1.7) / 4
    for target in (np.array([[0, 0, 0, 0]], dtype=np.uint8), mg.tensor([[0, -1, 3, 3]])):
        assert F.multilabel_margin_loss(x, target).item() == pytest.approx(
            expected * (4 if target.dtype == np.uint8 else 1), rel=1e-12)


def test_multilabel_margin_loss_gradient_at_the_kink_is_zero():
    """1 − x_j + x_i = 0 exactly: the hinge's gradient there is 0 (PyTorch's z > 0 test)."""
    x = t64([[2.0, 1.0, 0.0]])
    F.multilabel_margin_loss(x, [[0, -1, -1]], "sum").backward()
    # pair (0, 1) at the kink, pair (0, 2) beyond it (1 − 2 + 0 < 0): no gradient at all
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.0, 0.0]])
    x = t64([[0.5, 1.0, 0.0]])
    F.multilabel_margin_loss(x, [[0, -1, -1]], "sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [[-2 / 3, 1 / 3, 1 / 3]])


# ---- gradients and second derivatives ------------------------------------------------------

@given(soft_margin_inputs())
def test_soft_margin_loss_gradients(case):
    (x,), params = case
    check_grads(lambda v: F.soft_margin_loss(v, **params), x)


@given(multilabel_soft_margin_inputs())
def test_multilabel_soft_margin_loss_gradients(case):
    (x,), params = case
    check_grads(lambda v: F.multilabel_soft_margin_loss(v, **params), x)


@given(poisson_nll_inputs())
def test_poisson_nll_loss_gradients(case):
    (x,), params = case
    check_grads(lambda v: F.poisson_nll_loss(v, **params), x)


@given(st.data(), st.booleans(), st.sampled_from(REDUCTIONS))
def test_poisson_nll_loss_gradients_in_input_and_target(data, full, reduction):
    x = data.draw(values((2, 3), low=0.2, high=3.0))
    y = data.draw(values((2, 3), low=0.0, high=5.0, avoid=(1.0,), margin=0.1, salt=1))
    for log_input in (True, False):
        check_grads(lambda v, t: F.poisson_nll_loss(v, t, log_input, full, 1e-8, reduction),
                    x, y)


@given(multilabel_margin_inputs())
def test_multilabel_margin_loss_gradients(case):
    (x,), params = case
    check_grads(lambda v: F.multilabel_margin_loss(v, **params), x)


def test_soft_margin_loss_gradient_formula():
    x, y = np.array([0.5, -1.0, 2.0]), np.array([1.0, -1.0, -1.0])
    v = t64(x)
    F.soft_margin_loss(v, y, "sum").backward()
    np.testing.assert_allclose(v.grad.numpy(), -y / (1 + np.exp(y * x)), rtol=1e-14)


# ---- extreme inputs -------------------------------------------------------------------------

EXTREMES = np.array([-1e4, -1e3, -60.0, 60.0, 1e3, 1e4])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_soft_margin_loss_is_finite_at_extreme_scores(dtype):
    x = mg.tensor(np.concatenate([EXTREMES, EXTREMES]).astype(dtype), requires_grad=True)
    y = np.repeat([1.0, -1.0], 6)
    out = F.soft_margin_loss(x, y, "none")
    out.sum().backward()
    z = -y * np.concatenate([EXTREMES, EXTREMES])
    # log(1 + e^z) is z for large z and 0 for very negative z; its slope σ(z) is 1 or 0
    np.testing.assert_allclose(out.numpy(), np.maximum(z, 0.0), rtol=1e-6, atol=1e-20)
    np.testing.assert_allclose(x.grad.numpy(), -y * (z > 0), atol=1e-20)
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multilabel_soft_margin_loss_is_finite_at_extreme_logits(dtype):
    x = mg.tensor(np.stack([EXTREMES, EXTREMES]).astype(dtype), requires_grad=True)
    y = np.stack([np.ones(6), np.zeros(6)])
    out = F.multilabel_soft_margin_loss(x, y, reduction="none")
    out.sum().backward()
    np.testing.assert_allclose(out.numpy(), [(1e4 + 1e3 + 60) / 6, (1e4 + 1e3 + 60) / 6],
                               rtol=1e-6)
    slopes = np.stack([-(EXTREMES < 0).astype(float), (EXTREMES > 0).astype(float)])
    np.testing.assert_allclose(x.grad.numpy(), slopes / 6, atol=1e-20)


def test_poisson_nll_loss_is_finite_at_very_negative_log_rates():
    """exp(−1e4) underflows to 0, the right value; at +1e4 the loss is e^1e4, beyond every
    float, so only the negative side can be finite."""
    x = t64([-1e4, -1e3])
    out = F.poisson_nll_loss(x, [2.0, 0.0], full=True, reduction="none")
    out.sum().backward()
    np.testing.assert_allclose(out.numpy(), [2e4 + log_factorial_stirling(2.0), 0.0])
    np.testing.assert_allclose(x.grad.numpy(), [-2.0, 0.0])


def test_multilabel_margin_loss_is_finite_at_extreme_scores():
    x = t64([[1e4, -1e4, 0.0]])
    out = F.multilabel_margin_loss(x, [[1, -1, -1]], "sum")
    out.backward()
    np.testing.assert_allclose(out.item(), (2e4 + 1 + 1e4 + 1) / 3)
    np.testing.assert_allclose(x.grad.numpy(), [[1 / 3, -2 / 3, 1 / 3]])


# ---- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, message", [
    (lambda: F.soft_margin_loss(mg.zeros((2, 3)), mg.ones(3)), ValueError,
     r"soft_margin_loss: input shape \(2, 3\) and target shape \(3,\) differ"),
    (lambda: F.multilabel_soft_margin_loss(mg.zeros((2, 3)), mg.ones((2, 1))), ValueError,
     r"multilabel_soft_margin_loss: input shape \(2, 3\) and target shape \(2, 1\) differ"),
    (lambda: F.multilabel_soft_margin_loss(mg.tensor(1.0), mg.tensor(1.0)), ValueError,
     r"multilabel_soft_margin_loss: input must have a class axis"),
    (lambda: F.multilabel_soft_margin_loss(mg.zeros((2, 3)), mg.ones((2, 3)), [1.0, 2.0]),
     ValueError, r"multilabel_soft_margin_loss: weight of shape \(2,\) does not broadcast to "
                 r"input of shape \(2, 3\)"),
    (lambda: F.multilabel_soft_margin_loss(mg.zeros((2, 3)), mg.ones((2, 3)),
                                           np.ones((4, 2, 3))),
     ValueError, r"weight of shape \(4, 2, 3\) does not broadcast"),
    (lambda: F.poisson_nll_loss(mg.zeros(3), mg.ones((3, 1))), ValueError,
     r"poisson_nll_loss: input shape \(3,\) and target shape \(3, 1\) differ"),
    (lambda: F.multilabel_margin_loss(mg.zeros((2, 3, 4)), np.zeros((2, 3, 4), int)),
     ValueError, r"multilabel_margin_loss: input must be \(C,\) or \(N, C\) with C >= 1, got "
                 r"shape \(2, 3, 4\)"),
    (lambda: F.multilabel_margin_loss(mg.tensor(1.0), np.array(0)), ValueError,
     r"multilabel_margin_loss: input must be \(C,\) or \(N, C\) with C >= 1, got shape \(\)"),
    (lambda: F.multilabel_margin_loss(mg.zeros((2, 0)), np.zeros((2, 0), int)), ValueError,
     r"got shape \(2, 0\)"),
    (lambda: F.multilabel_margin_loss(mg.zeros((2, 3)), np.zeros((2, 2), int)), ValueError,
     r"multilabel_margin_loss: input of shape \(2, 3\) needs a target of the same shape, got "
     r"\(2, 2\)"),
    (lambda: F.multilabel_margin_loss(mg.zeros((2, 3)), np.zeros((2, 3))), TypeError,
     r"multilabel_margin_loss: target must hold integer class indices, got float64"),
    (lambda: F.multilabel_margin_loss(mg.zeros((1, 3)), [[0, 3, -1]]), IndexError,
     r"multilabel_margin_loss: target values must be class indices in \[0, 3\) or -1 \(the "
     r"padding after the last label\), got 3"),
    (lambda: F.multilabel_margin_loss(mg.zeros((1, 3)), [[-2, 0, 1]]), IndexError,
     r"in \[0, 3\) or -1 .*got -2"),
    (lambda: F.multilabel_margin_loss(mg.zeros((1, 3)), [[0, -1, 7]]), IndexError,
     r"got 7"),  # checked in the padding too, as PyTorch does
])
def test_bad_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("call", [
    lambda r: F.soft_margin_loss(mg.zeros(2), mg.ones(2), r),
    lambda r: F.multilabel_soft_margin_loss(mg.zeros((1, 2)), mg.ones((1, 2)), reduction=r),
    lambda r: F.poisson_nll_loss(mg.zeros(2), mg.ones(2), reduction=r),
    lambda r: F.multilabel_margin_loss(mg.zeros((1, 2)), [[0, -1]], r),
], ids=["soft_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss",
        "multilabel_margin_loss"])
def test_unknown_reduction_is_named(call, request):
    name = request.node.callspec.id
    with pytest.raises(ValueError, match=rf"^{name}: reduction must be 'mean', 'sum' or 'none', "
                                         r"got 'avg'$"):
        call("avg")


# ---- layers ---------------------------------------------------------------------------------

def _layer_cases():
    x = RNG.normal(size=(3, 4))
    signs = np.where(RNG.random((3, 4)) < 0.5, 1.0, -1.0)
    soft = (RNG.random((3, 4)) < 0.5).astype(float)
    counts = RNG.poisson(2.0, size=(3, 4)).astype(float)
    labels = np.array([[3, 0, -1, 1], [1, 2, 3, -1], [-1, 0, 1, 2]])
    w = np.array([0.5, 1.0, 2.0, 3.0])
    return [
        (SoftMarginLoss, {}, lambda r: F.soft_margin_loss(t64(x), signs, r), (x, signs)),
        (MultiLabelSoftMarginLoss, {"weight": w},
         lambda r: F.multilabel_soft_margin_loss(t64(x), soft, w, r), (x, soft)),
        (MultiLabelSoftMarginLoss, {},
         lambda r: F.multilabel_soft_margin_loss(t64(x), soft, None, r), (x, soft)),
        (PoissonNLLLoss, {"log_input": False, "full": True, "eps": 0.1},
         lambda r: F.poisson_nll_loss(t64(np.abs(x)), counts, False, True, 0.1, r),
         (np.abs(x), counts)),
        (PoissonNLLLoss, {}, lambda r: F.poisson_nll_loss(t64(x), counts, reduction=r),
         (x, counts)),
        (MultiLabelMarginLoss, {}, lambda r: F.multilabel_margin_loss(t64(x), labels, r),
         (x, labels)),
    ]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_layers_forward_equals_functional(reduction):
    for layer, kwargs, functional, (x, target) in _layer_cases():
        out = layer(**kwargs, reduction=reduction)(t64(x), target)
        np.testing.assert_array_equal(out.numpy(), functional(reduction).numpy())


@pytest.mark.parametrize("size_average, reduce, expected", [
    (None, None, "mean"), (True, None, "mean"), (False, None, "sum"), (None, False, "none"),
    (False, False, "none"), (True, True, "mean"), (False, True, "sum")])
def test_layers_take_the_legacy_flags(size_average, reduce, expected):
    """size_average/reduce override reduction (here 'none' when neither is given), PyTorch's
    mapping, in each layer's positional place."""
    reduction = "none" if (size_average, reduce) != (None, None) else "mean"
    layers = [SoftMarginLoss(size_average, reduce, reduction),
              MultiLabelSoftMarginLoss(None, size_average, reduce, reduction),
              PoissonNLLLoss(True, False, size_average, 1e-8, reduce, reduction),
              MultiLabelMarginLoss(size_average, reduce, reduction)]
    assert [layer.reduction for layer in layers] == [expected] * 4


def test_layers_take_pytorchs_positional_order():
    layer = PoissonNLLLoss(False, True, None, 0.25, None, "sum")
    assert (layer.log_input, layer.full, layer.eps, layer.reduction) == (False, True, 0.25,
                                                                          "sum")
    assert (PoissonNLLLoss().log_input, PoissonNLLLoss().full, PoissonNLLLoss().eps) == (
        True, False, 1e-8)
    weighted = MultiLabelSoftMarginLoss([1.0, 2.0], None, None, "none")
    np.testing.assert_array_equal(weighted.weight.numpy(), [1.0, 2.0])
    assert weighted.reduction == "none"


def test_poisson_layer_forward_takes_its_options():
    layer = PoissonNLLLoss(log_input=False, full=True, eps=0.5, reduction="none")
    out = layer(t64([0.0, 2.0]), [3.0, 1.0])
    np.testing.assert_allclose(out.numpy(), [-3 * math.log(0.5) + log_factorial_stirling(3.0),
                                             2 - math.log(2.5)])


def test_layer_reprs():
    assert repr(SoftMarginLoss()) == "SoftMarginLoss()"
    assert repr(SoftMarginLoss(reduction="sum")) == "SoftMarginLoss(reduction='sum')"
    assert repr(MultiLabelSoftMarginLoss([1.0])) == "MultiLabelSoftMarginLoss()"
    assert repr(PoissonNLLLoss(reduce=False)) == "PoissonNLLLoss(reduction='none')"
    assert repr(MultiLabelMarginLoss()) == "MultiLabelMarginLoss()"


def test_multilabel_soft_margin_weight_is_a_buffer():
    layer = MultiLabelSoftMarginLoss(weight=[0.5, 2.0])
    assert list(layer.state_dict()) == ["weight"]
    np.testing.assert_array_equal(layer.state_dict()["weight"].numpy(), [0.5, 2.0])
    assert list(layer.parameters()) == []
    fresh = MultiLabelSoftMarginLoss(weight=[1.0, 1.0])
    fresh.load_state_dict(layer.state_dict())
    x = t64([[0.3, -0.7]])
    np.testing.assert_array_equal(fresh(x, [[1.0, 0.0]]).numpy(),
                                  layer(x, [[1.0, 0.0]]).numpy())
    assert MultiLabelSoftMarginLoss().weight is None


@pytest.mark.parametrize("layer", [SoftMarginLoss, PoissonNLLLoss, MultiLabelMarginLoss])
def test_unweighted_layers_have_no_state(layer):
    assert list(layer().state_dict()) == []


@pytest.mark.parametrize("make", [lambda: SoftMarginLoss(reduction="avg"),
                                  lambda: MultiLabelSoftMarginLoss(reduction="avg"),
                                  lambda: PoissonNLLLoss(reduction="avg"),
                                  lambda: MultiLabelMarginLoss(reduction="avg")])
def test_layers_refuse_unknown_reductions(make):
    with pytest.raises(ValueError, match=r"Loss: reduction must be one of 'mean', 'sum', "
                                         r"'none', got 'avg'"):
        make()


def test_multilabel_soft_margin_layer_refuses_a_weight_of_strings():
    with pytest.raises(TypeError, match=r"MultiLabelSoftMarginLoss: weight must be a Tensor"):
        MultiLabelSoftMarginLoss(weight=["a", "b"])


# ---- the strategies themselves ----------------------------------------------------------------

@given(st.data(), st.integers(1, 4), st.integers(1, 6))
def test_label_rows_are_labels_then_padding(data, N, C):
    rows = data.draw(label_rows(N, C))
    assert rows.shape == (N, C) and rows.dtype == np.int64
    assert ((rows >= -1) & (rows < C)).all()
    for row in rows:
        if (row == -1).any():
            assert (row[:int(np.argmax(row == -1))] >= 0).all()


@given(multilabel_margin_inputs())
def test_multilabel_margin_scores_stay_off_the_kink(case):
    (x,), _ = case
    rows = x.reshape(-1, x.shape[-1])
    gaps = rows[:, :, None] - rows[:, None, :]
    assert np.abs(np.abs(gaps) - 1).min() >= 0.1 - 1e-12


@pytest.mark.parametrize("name", ["soft_margin_loss", "multilabel_soft_margin_loss",
                                  "poisson_nll_loss", "multilabel_margin_loss"])
def test_float32_in_float32_out(name):
    x = mg.tensor(np.array([[0.3, -1.2, 2.0]], dtype=np.float32), requires_grad=True)
    target = {"soft_margin_loss": [[1.0, -1.0, 1.0]], "multilabel_soft_margin_loss":
              [[1.0, 0.0, 0.5]], "poisson_nll_loss": [[0.0, 2.0, 3.5]],
              "multilabel_margin_loss": [[2, -1, 0]]}[name]
    out = getattr(F, name)(x, target, reduction="none")
    out.sum().backward()
    assert (out.dtype, x.grad.dtype) == (np.float32, np.float32)
    reference = {
        "soft_margin_loss": soft_margin_reference,
        "multilabel_soft_margin_loss":
            lambda a, y, r: multilabel_soft_margin_reference(a, y, None, r),
        "poisson_nll_loss": lambda a, y, r: poisson_nll_reference(a, y, True, False, 1e-8, r),
        "multilabel_margin_loss": multilabel_margin_reference}[name]
    expected = reference(x.numpy().astype(np.float64), np.array(target), "none")
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
