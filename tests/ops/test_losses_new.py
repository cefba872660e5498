"""The losses added for PyTorch parity (minigrad/losses.py): smooth_l1_loss, huber_loss,
margin_ranking_loss, hinge_embedding_loss, cosine_embedding_loss, gaussian_nll_loss, and
triplet_margin_loss's ``swap``.

Each is checked three ways: every option against a NumPy reference written out per entry,
gradients and second derivatives against finite differences on hypothesis-drawn float64 inputs
kept away from the kinks, and the same calls against PyTorch in the ``_vs_torch`` tests.
"""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minigrad as mg
from minigrad import losses
from strategies import values

RNG = np.random.default_rng(0)
REDUCTIONS = ["mean", "sum", "none"]


def _reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def t64(array, requires_grad=True):
    return mg.tensor(array, dtype=np.float64, requires_grad=requires_grad)


def check_grads(fn, *inputs):
    inputs = tuple(t64(a) for a in inputs)
    assert mg.gradcheck(fn, inputs)
    assert mg.gradgradcheck(fn, inputs)


def smooth_l1_reference(x, y, beta):
    z = np.abs(x - y)
    return np.abs(x - y) if beta == 0 else np.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta)


def huber_reference(x, y, delta):
    z = np.abs(x - y)
    return np.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta))


def hinge_embedding_reference(x, y, margin):
    return np.where(y == 1, x, 0.0) + np.where(y == -1, np.maximum(0.0, margin - x), 0.0)


def cosine_embedding_reference(a, b, y, margin):
    cos = (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + 1e-12) * ((b * b).sum(-1) + 1e-12))
    return np.where(y == 1, 1 - cos, np.maximum(0.0, cos - margin))


def gaussian_nll_reference(x, y, var, full, eps):
    var = np.maximum(var, eps)
    loss = 0.5 * (np.log(var) + (x - y) ** 2 / var)
    return loss + 0.5 * np.log(2 * np.pi) if full else loss


def triplet_reference(a, p, n, margin, swap, eps=1e-6):
    dist = lambda u, v: np.sqrt(((u - v + eps) ** 2).sum(-1))  # noqa: E731
    d_neg = np.minimum(dist(a, n), dist(p, n)) if swap else dist(a, n)
    return np.maximum(0.0, dist(a, p) - d_neg + margin)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.5])
def test_smooth_l1_loss_options(reduction, beta):
    x, y = RNG.normal(size=(3, 4)) * 2, RNG.normal(size=(3, 4))
    out = losses.smooth_l1_loss(t64(x), t64(y), reduction=reduction, beta=beta)
    np.testing.assert_allclose(out.numpy(), _reduce(smooth_l1_reference(x, y, beta), reduction),
                               rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [0.5, 1.0, 2.5])
def test_huber_loss_options(reduction, delta):
    x, y = RNG.normal(size=(5,)) * 3, RNG.normal(size=(5,))
    out = losses.huber_loss(t64(x), t64(y), reduction=reduction, delta=delta)
    np.testing.assert_allclose(out.numpy(), _reduce(huber_reference(x, y, delta), reduction),
                               rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.7])
def test_margin_ranking_loss_options(reduction, margin):
    x1, x2 = RNG.normal(size=6), RNG.normal(size=6)
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    out = losses.margin_ranking_loss(t64(x1), t64(x2), t64(y, False), margin, reduction)
    expected = np.maximum(0.0, -y * (x1 - x2) + margin)
    np.testing.assert_allclose(out.numpy(), _reduce(expected, reduction), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
def test_hinge_embedding_loss_options(reduction, margin):
    x = RNG.uniform(0, 3, size=(2, 5))
    y = np.where(RNG.random((2, 5)) < 0.5, 1.0, -1.0)
    out = losses.hinge_embedding_loss(t64(x), t64(y, False), margin, reduction)
    np.testing.assert_allclose(out.numpy(),
                               _reduce(hinge_embedding_reference(x, y, margin), reduction),
                               rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.4])
@pytest.mark.parametrize("batched", [True, False])
def test_cosine_embedding_loss_options(reduction, margin, batched):
    shape = (4, 3) if batched else (3,)
    a, b = RNG.normal(size=shape), RNG.normal(size=shape)
    y = np.array([1.0, -1.0, -1.0, 1.0]) if batched else np.array(-1.0)
    out = losses.cosine_embedding_loss(t64(a), t64(b), t64(y, False), margin, reduction)
    np.testing.assert_allclose(out.numpy(),
                               _reduce(cosine_embedding_reference(a, b, y, margin), reduction),
                               rtol=1e-12)


def test_cosine_embedding_loss_zero_vector_is_finite():
    a = t64(np.zeros((1, 3)))
    loss = losses.cosine_embedding_loss(a, t64(np.ones((1, 3))), mg.tensor([1.0]))
    loss.backward()
    assert loss.item() == 1.0
    assert np.isfinite(a.grad.numpy()).all()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", [(3, 4), (3,), (3, 1)])
def test_gaussian_nll_loss_options(reduction, full, var_shape):
    x, y = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    var = RNG.uniform(0.2, 2.0, size=var_shape)
    out = losses.gaussian_nll_loss(t64(x), t64(y), t64(var), full=full, reduction=reduction)
    var_b = var[:, None] if var_shape == (3,) else var
    np.testing.assert_allclose(out.numpy(),
                               _reduce(gaussian_nll_reference(x, y, var_b, full, 1e-6),
                                       reduction), rtol=1e-12)


def test_gaussian_nll_loss_eps_clamps_value_not_gradient():
    var = t64([1e-9, 0.5])
    out = losses.gaussian_nll_loss(t64([0.0, 0.0]), t64([1.0, 1.0]), var, eps=1e-3,
                                   reduction="sum")
    np.testing.assert_allclose(out.item(),
                               gaussian_nll_reference(np.zeros(2), np.ones(2),
                                                      np.array([1e-3, 0.5]), False, 1e-3).sum())
    out.backward()
    # d/dvar of 0.5 (log v + 1/v), evaluated at the clamped value 1e-3 for the first entry
    v = np.array([1e-3, 0.5])
    np.testing.assert_allclose(var.grad.numpy(), 0.5 * (1 / v - 1 / v ** 2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_loss_swap(reduction, swap):
    a, p, n = (RNG.normal(size=(6, 3)) for _ in range(3))
    out = losses.triplet_margin_loss(t64(a), t64(p), t64(n), margin=1.5, swap=swap,
                                     reduction=reduction)
    np.testing.assert_allclose(out.numpy(),
                               _reduce(triplet_reference(a, p, n, 1.5, swap), reduction),
                               rtol=1e-10)


@pytest.mark.parametrize("call, message", [
    (lambda: losses.smooth_l1_loss(mg.zeros(3), mg.zeros(3), beta=-1.0), "beta must be >= 0"),
    (lambda: losses.huber_loss(mg.zeros(3), mg.zeros(3), delta=0.0), "delta must be > 0"),
    (lambda: losses.smooth_l1_loss(mg.zeros(3), mg.zeros(2)), r"smooth_l1_loss: input shape"),
    (lambda: losses.margin_ranking_loss(mg.zeros(3), mg.zeros(3), mg.ones(2)),
     r"margin_ranking_loss: input shape \(3,\) and target shape \(2,\)"),
    (lambda: losses.cosine_embedding_loss(mg.zeros((2, 3)), mg.zeros((2, 3)), mg.ones(3)),
     r"cosine_embedding_loss: inputs of shape \(2, 3\) need a target of shape \(2,\)"),
    (lambda: losses.cosine_embedding_loss(mg.zeros((2, 3, 1)), mg.zeros((2, 3, 1)), mg.ones(2)),
     r"must be \(N, D\) or \(D,\)"),
    (lambda: losses.gaussian_nll_loss(mg.zeros((2, 3)), mg.zeros((2, 3)), mg.ones((3, 2))),
     r"var of shape \(3, 2\) does not fit input of shape \(2, 3\)"),
    (lambda: losses.gaussian_nll_loss(mg.zeros(2), mg.zeros(2), mg.tensor([1.0, -1.0])),
     "var has negative entries"),
    (lambda: losses.huber_loss(mg.zeros(2), mg.zeros(2), reduction="avg"),
     "reduction must be 'mean', 'sum' or 'none'"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@given(st.data(), st.sampled_from([0.0, 0.5, 1.0, 2.0]), st.sampled_from(REDUCTIONS))
def test_smooth_l1_and_huber_gradients(data, beta, reduction):
    y = data.draw(values((2, 3), salt=1))
    # differences kept away from the kinks at 0 (for beta = 0) and ±beta
    d = data.draw(values((2, 3), avoid=(0.0, beta, -beta), margin=0.05))
    check_grads(lambda x, t: losses.smooth_l1_loss(x, t, reduction, beta), y + d, y)
    if beta > 0:
        check_grads(lambda x, t: losses.huber_loss(x, t, reduction, beta), y + d, y)


@given(st.data(), st.sampled_from([0.0, 0.5]), st.sampled_from(REDUCTIONS))
def test_margin_ranking_loss_gradients(data, margin, reduction):
    x2 = data.draw(values((4,), salt=1))
    d = data.draw(values((4,), avoid=(margin, -margin), margin=0.05))
    y = np.where(data.draw(values((4,), salt=2)) > 0, 1.0, -1.0)
    check_grads(lambda a, b: losses.margin_ranking_loss(a, b, mg.tensor(y, dtype=np.float64),
                                                        margin, reduction), x2 + d, x2)


@given(st.data(), st.sampled_from([0.5, 1.0]), st.sampled_from(REDUCTIONS))
def test_hinge_embedding_loss_gradients(data, margin, reduction):
    x = data.draw(values((3, 2), low=0.0, high=3.0, avoid=(margin,), margin=0.05))
    y = np.where(data.draw(values((3, 2), salt=1)) > 0, 1.0, -1.0)
    check_grads(lambda v: losses.hinge_embedding_loss(v, mg.tensor(y, dtype=np.float64),
                                                      margin, reduction), x)


@given(st.data(), st.sampled_from([0.0, 0.2]), st.sampled_from(REDUCTIONS))
def test_cosine_embedding_loss_gradients(data, margin, reduction):
    a, b = data.draw(values((3, 4))), data.draw(values((3, 4), salt=1))
    y = np.where(data.draw(values((3,), salt=2)) > 0, 1.0, -1.0)
    assume(np.abs(cosine_embedding_reference(a, b, -np.ones(3), 0.0) - margin).min() > 0.05)
    check_grads(lambda u, v: losses.cosine_embedding_loss(u, v, mg.tensor(y, dtype=np.float64),
                                                          margin, reduction), a, b)


@given(st.data(), st.booleans(), st.sampled_from([(2, 3), (2,), (2, 1)]),
       st.sampled_from(REDUCTIONS))
def test_gaussian_nll_loss_gradients(data, full, var_shape, reduction):
    x, y = data.draw(values((2, 3))), data.draw(values((2, 3), salt=1))
    var = data.draw(values(var_shape, low=0.2, high=3.0, salt=2))
    check_grads(lambda m, t, v: losses.gaussian_nll_loss(m, t, v, full=full,
                                                         reduction=reduction), x, y, var)


@given(st.data(), st.sampled_from(REDUCTIONS))
def test_triplet_margin_loss_swap_gradients(data, reduction):
    a, p, n = (data.draw(values((3, 2), salt=s)) for s in range(3))
    dist = lambda u, v: np.sqrt(((u - v + 1e-6) ** 2).sum(-1))  # noqa: E731
    d_neg = np.minimum(dist(a, n), dist(p, n))
    # away from the hinge, from a tie between the two negatives, and from zero distances
    assume(np.abs(dist(a, p) - d_neg + 1.0).min() > 0.05)
    assume(np.abs(dist(a, n) - dist(p, n)).min() > 0.05 and d_neg.min() > 0.05)
    assume(dist(a, p).min() > 0.05)
    check_grads(lambda u, v, w: losses.triplet_margin_loss(u, v, w, swap=True,
                                                           reduction=reduction), a, p, n)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_new_losses_vs_torch(reduction):
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    T = torch.tensor
    x, y = RNG.normal(size=(4, 3)) * 2, RNG.normal(size=(4, 3))
    var = RNG.uniform(1e-7, 2.0, size=(4, 3))
    s = np.array([1.0, -1.0, -1.0, 1.0])
    s_full = np.where(RNG.random((4, 3)) < 0.5, 1.0, -1.0)
    cases = [
        (losses.smooth_l1_loss(t64(x), t64(y), reduction, beta=0.7),
         TF.smooth_l1_loss(T(x), T(y), reduction=reduction, beta=0.7)),
        (losses.smooth_l1_loss(t64(x), t64(y), reduction, beta=0.0),
         TF.smooth_l1_loss(T(x), T(y), reduction=reduction, beta=0.0)),
        (losses.huber_loss(t64(x), t64(y), reduction, delta=1.3),
         TF.huber_loss(T(x), T(y), reduction=reduction, delta=1.3)),
        (losses.margin_ranking_loss(t64(x[:, 0]), t64(y[:, 0]), t64(s), 0.4, reduction),
         TF.margin_ranking_loss(T(x[:, 0]), T(y[:, 0]), T(s), 0.4, reduction=reduction)),
        (losses.hinge_embedding_loss(t64(x), t64(s_full), 0.8, reduction),
         TF.hinge_embedding_loss(T(x), T(s_full), 0.8, reduction=reduction)),
        (losses.cosine_embedding_loss(t64(x), t64(y), t64(s), 0.1, reduction),
         TF.cosine_embedding_loss(T(x), T(y), T(s), 0.1, reduction=reduction)),
        (losses.gaussian_nll_loss(t64(x), t64(y), t64(var), True, 1e-3, reduction),
         TF.gaussian_nll_loss(T(x), T(y), T(var), True, 1e-3, reduction=reduction)),
        (losses.gaussian_nll_loss(t64(x), t64(y), t64(var[:, :1]), False, 1e-6, reduction),
         TF.gaussian_nll_loss(T(x), T(y), T(var[:, :1]), False, 1e-6, reduction=reduction)),
        (losses.triplet_margin_loss(t64(x), t64(y), t64(var), swap=True, reduction=reduction),
         TF.triplet_margin_loss(T(x), T(y), T(var), swap=True, reduction=reduction)),
    ]
    for ours, theirs in cases:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_new_losses_gradients_vs_torch():
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    x, y = RNG.normal(size=(4, 3)) * 2, RNG.normal(size=(4, 3))
    var = RNG.uniform(1e-7, 2.0, size=(4, 3))
    s = np.array([1.0, -1.0, -1.0, 1.0])
    pairs = [
        (lambda a, b, c: losses.smooth_l1_loss(a, b, beta=0.7) * c.sum(),
         lambda a, b, c: TF.smooth_l1_loss(a, b, beta=0.7) * c.sum()),
        (lambda a, b, c: losses.huber_loss(a, b, delta=1.3) * c.sum(),
         lambda a, b, c: TF.huber_loss(a, b, delta=1.3) * c.sum()),
        (lambda a, b, c: losses.cosine_embedding_loss(a, b, mg.tensor(s, dtype=np.float64), 0.1),
         lambda a, b, c: TF.cosine_embedding_loss(a, b, torch.tensor(s), 0.1)),
        (lambda a, b, c: losses.gaussian_nll_loss(a, b, c, eps=1e-3),
         lambda a, b, c: TF.gaussian_nll_loss(a, b, c, eps=1e-3)),
        (lambda a, b, c: losses.triplet_margin_loss(a, b, c, swap=True),
         lambda a, b, c: TF.triplet_margin_loss(a, b, c, swap=True)),
    ]
    for ours, theirs in pairs:
        mine = [t64(v) for v in (x, y, var)]
        ref = [torch.tensor(v, requires_grad=True) for v in (x, y, var)]
        ours(*mine).backward()
        theirs(*ref).backward()
        for m, r in zip(mine, ref):
            if r.grad is None:  # an input the loss does not read
                assert m.grad is None
                continue
            np.testing.assert_allclose(m.grad.numpy(), r.grad.numpy(), rtol=1e-9, atol=1e-12)
