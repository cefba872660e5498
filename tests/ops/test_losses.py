"""Losses (minigrad/losses.py, minigrad/ops/loss.py): every option against a NumPy reference,
alone and combined, then the same calls against PyTorch in the ``_vs_torch`` tests."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.functional as F

RNG = np.random.default_rng(0)


def _log_softmax(x, axis=1):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


def _reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def _nll_reference(logp, target, weight=None, ignore_index=-100, reduction="mean",
                   label_smoothing=0.0):
    """PyTorch's cross-entropy on log-probabilities (N, C, *), written out per entry."""
    C = logp.shape[1]
    logp = np.moveaxis(logp, 1, -1).reshape(-1, C)
    t = target.reshape(-1)
    w = np.ones(C) if weight is None else weight
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    w_t = w[safe] * valid
    nll = -logp[np.arange(t.size), safe] * w_t
    smooth = -(logp * w).sum(1) * valid
    if reduction == "mean":
        nll, smooth = nll.sum() / w_t.sum(), smooth.sum() / w_t.sum()
    elif reduction == "sum":
        nll, smooth = nll.sum(), smooth.sum()
    else:
        nll, smooth = nll.reshape(target.shape), smooth.reshape(target.shape)
    return (1 - label_smoothing) * nll + label_smoothing / C * smooth


def _case(N=5, C=4, extra=()):
    x = RNG.normal(size=(N, C) + extra)
    t = RNG.integers(0, C, size=(N,) + extra)
    t.reshape(-1)[1] = -100  # one ignored entry
    t.reshape(-1)[2] = 7 if C > 7 else t.reshape(-1)[2]
    return x, t


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("extra", [(), (2, 3)])
def test_cross_entropy_options_combined(reduction, weighted, smoothing, extra):
    """weight + ignore_index + label_smoothing + reduction, on (N, C) and (N, C, d1, d2)."""
    x, t = _case(extra=extra)
    w = RNG.uniform(0.5, 2.0, size=4) if weighted else None
    out = F.cross_entropy(mg.tensor(x), mg.tensor(t), weight=None if w is None else mg.tensor(w),
                          reduction=reduction, label_smoothing=smoothing)
    expected = _nll_reference(_log_softmax(x), t, w, -100, reduction, smoothing)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-7)


def test_cross_entropy_ignore_index_other_value():
    x, t = _case()
    t[0] = 2
    keep = (t != 2) & (t != -100)
    expected = -_log_softmax(x)[np.arange(5)[keep], t[keep]].sum()
    with pytest.raises(IndexError, match="target values must be in"):  # -100 is now a class
        F.cross_entropy(mg.tensor(x), mg.tensor(t), ignore_index=2)
    t[t == -100] = 2
    out = F.cross_entropy(mg.tensor(x), mg.tensor(t), ignore_index=2, reduction="sum")
    np.testing.assert_allclose(out.item(), expected, rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_probability_targets(reduction, smoothing):
    x = RNG.normal(size=(3, 4))
    p = RNG.dirichlet(np.ones(4), size=3)
    w = RNG.uniform(0.5, 2.0, size=4)
    out = F.cross_entropy(mg.tensor(x), mg.tensor(p), weight=mg.tensor(w), reduction=reduction,
                          label_smoothing=smoothing)
    mixed = p * (1 - smoothing) + smoothing / 4
    expected = _reduce(-(_log_softmax(x) * w * mixed).sum(1), reduction)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)


def test_cross_entropy_rejects_bad_options():
    x, t = mg.tensor(np.zeros((2, 3))), mg.tensor([0, 1])
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        F.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction must be"):
        F.cross_entropy(x, t, reduction="max")
    with pytest.raises(ValueError, match=r"needs a target of shape \(2,\)"):
        F.cross_entropy(x, mg.tensor([0, 1, 2]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_weight_and_ignore_index(reduction):
    x, t = _case(extra=(3,))
    logp = _log_softmax(x)
    w = RNG.uniform(0.5, 2.0, size=4)
    out = F.nll_loss(mg.tensor(logp), mg.tensor(t), weight=mg.tensor(w), reduction=reduction)
    np.testing.assert_allclose(out.numpy(), _nll_reference(logp, t, w, -100, reduction),
                               rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_losses_reductions(reduction):
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    np.testing.assert_allclose(F.mse_loss(mg.tensor(a), mg.tensor(b), reduction).numpy(),
                               _reduce((a - b) ** 2, reduction), rtol=1e-6)
    np.testing.assert_allclose(F.l1_loss(mg.tensor(a), mg.tensor(b), reduction).numpy(),
                               _reduce(np.abs(a - b), reduction), rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_weight_and_reduction(reduction, weighted):
    p, t = RNG.uniform(0.05, 0.95, size=(3, 4)), RNG.uniform(size=(3, 4))
    w = RNG.uniform(0.5, 2, size=(4,)) if weighted else None
    out = F.binary_cross_entropy(mg.tensor(p), mg.tensor(t),
                                 weight=None if w is None else mg.tensor(w), reduction=reduction)
    loss = -(t * np.log(p) + (1 - t) * np.log1p(-p)) * (1 if w is None else w)
    np.testing.assert_allclose(out.numpy(), _reduce(loss, reduction), rtol=1e-5)


def test_binary_cross_entropy_clamps_each_log_at_minus_100():
    out = F.binary_cross_entropy(mg.tensor([0.0, 1.0, 0.0, 1e-50], dtype=mg.float64),
                                 mg.tensor([1.0, 0.0, 0.5, 1.0], dtype=mg.float64),
                                 reduction="none")
    np.testing.assert_allclose(out.numpy(), [100.0, 100.0, 50.0, 100.0])
    with pytest.raises(ValueError, match="must be probabilities in"):
        F.binary_cross_entropy(mg.tensor([1.5]), mg.tensor([1.0]))


def _bce_forward(p, t):
    """The forward as written, in float64: each log clamped at -100."""
    with np.errstate(divide="ignore"):
        return -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))


@given(p=st.one_of(st.floats(1e-40, 1e-3), st.floats(1 - 1e-3, 1 - 1e-8)),
       t=st.floats(0, 1))
def test_binary_cross_entropy_backward_is_the_derivative_of_its_forward(p, t):
    """Near p = 0 and p = 1, both gradients equal central differences of the forward, with a
    step relative to the distance from the edge (the old backward clipped p at 1e-12 and
    disagreed below it)."""
    tp = mg.tensor([p], dtype=mg.float64, requires_grad=True)
    tt = mg.tensor([t], dtype=mg.float64, requires_grad=True)
    gp, gt = mg.grad(F.binary_cross_entropy(tp, tt, reduction="sum"), (tp, tt))
    h = 1e-3 * min(p, 1 - p)
    fd_p = (_bce_forward(p + h, t) - _bce_forward(p - h, t)) / (2 * h)
    fd_t = (_bce_forward(p, t + 1e-6) - _bce_forward(p, t - 1e-6)) / 2e-6
    # Central differences err by about h²·f'''/6 = h²·(t/p³ + (1-t)/(1-p)³)/3, which matters
    # where the derivative itself is near 0 (p = t): an absolute tolerance of that size.
    curvature_error = 1e-6 * (t / p + (1 - t) / (1 - p))
    np.testing.assert_allclose(gp.item(), fd_p, rtol=1e-4, atol=curvature_error)
    np.testing.assert_allclose(gt.item(), fd_t, rtol=1e-6, atol=1e-6)


def test_binary_cross_entropy_gradients_where_the_logs_are_clamped():
    """At p = 0 (or 1) the clamped log is constant: only the other term moves with p, and the
    target's gradient sees exactly -100."""
    p = mg.tensor([0.0, 1.0, 1e-50], dtype=mg.float64, requires_grad=True)
    t = mg.tensor([0.25, 0.25, 0.25], dtype=mg.float64, requires_grad=True)
    gp, gt = mg.grad(F.binary_cross_entropy(p, t, reduction="sum"), (p, t),
                     create_graph=True)
    np.testing.assert_allclose(gp.numpy(), [0.75, -0.25, 0.75])
    np.testing.assert_allclose(gt.numpy(), [100.0, -100.0, 100.0])
    assert mg.gradgradcheck(lambda a, b: F.binary_cross_entropy(a, b),
                            (mg.tensor([1e-3, 0.5, 1 - 1e-3], dtype=mg.float64,
                                       requires_grad=True),
                             mg.tensor([0.3, 0.6, 0.9], dtype=mg.float64, requires_grad=True)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_weight_and_pos_weight(reduction):
    x, t = RNG.normal(size=(3, 4)) * 3, RNG.uniform(size=(3, 4))
    w, pw = RNG.uniform(0.5, 2, size=(3, 1)), RNG.uniform(0.5, 3, size=(4,))
    out = F.binary_cross_entropy_with_logits(mg.tensor(x), mg.tensor(t), weight=mg.tensor(w),
                                             reduction=reduction, pos_weight=mg.tensor(pw))
    log_sig = -np.logaddexp(0, -x)
    loss = -(pw * t * log_sig + (1 - t) * (log_sig - x)) * w
    np.testing.assert_allclose(out.numpy(), _reduce(loss, reduction), rtol=1e-5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_reduction_and_log_target(reduction, log_target):
    logq = _log_softmax(RNG.normal(size=(3, 4)))
    p = RNG.dirichlet(np.ones(4), size=3)
    p[0, 1] = 0.0
    target = np.log(np.where(p > 0, p, 1e-300)) if log_target else p
    out = F.kl_div(mg.tensor(logq), mg.tensor(target), reduction=reduction,
                   log_target=log_target)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = np.where(p > 0, p * (np.log(p) - logq), 0.0)
    expected = loss.sum() / 3 if reduction == "batchmean" else _reduce(loss, reduction)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-12)
    with pytest.raises(ValueError, match="reduction must be"):
        F.kl_div(mg.tensor(logq), mg.tensor(p), reduction="batchsum")


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("margin", [1.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multi_margin_loss_options(p, margin, weighted, reduction):
    x, y = RNG.normal(size=(5, 4)), RNG.integers(0, 4, size=5)
    w = RNG.uniform(0.5, 2, size=4) if weighted else np.ones(4)
    out = F.multi_margin_loss(mg.tensor(x), mg.tensor(y), p=p, margin=margin,
                              weight=mg.tensor(w) if weighted else None, reduction=reduction)
    hinge = np.maximum(0, margin - x[np.arange(5), y][:, None] + x) ** p
    hinge[np.arange(5), y] = 0
    np.testing.assert_allclose(out.numpy(), _reduce((hinge * w[y][:, None]).sum(1) / 4,
                                                    reduction), rtol=1e-6)
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        F.multi_margin_loss(mg.tensor(x), mg.tensor(y), p=3)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("eps", [1e-8, 0.5])
def test_cosine_similarity_dim_and_eps(dim, eps):
    a, b = RNG.normal(size=(3, 4)) * 0.2, RNG.normal(size=(3, 4))
    out = F.cosine_similarity(mg.tensor(a), mg.tensor(b), dim=dim, eps=eps)
    n1 = np.maximum(np.linalg.norm(a, axis=dim, keepdims=True), eps)
    n2 = np.maximum(np.linalg.norm(b, axis=dim, keepdims=True), eps)
    np.testing.assert_allclose(out.numpy(), ((a / n1) * (b / n2)).sum(dim), rtol=1e-6)
    np.testing.assert_allclose(F.cosine_similarity(mg.tensor(a), mg.tensor(b), axis=dim).numpy(),
                               F.cosine_similarity(mg.tensor(a), mg.tensor(b), dim=dim).numpy())


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("eps", [1e-6, 0.1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance_options(p, eps, keepdim):
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    out = F.pairwise_distance(mg.tensor(a), mg.tensor(b), p=p, eps=eps, keepdim=keepdim)
    expected = (np.abs(a - b + eps) ** p).sum(-1, keepdims=keepdim) ** (1 / p)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("margin", [1.0, 3.0])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_contrastive_and_triplet_margin_options(margin, reduction):
    a, b, c = (RNG.normal(size=(4, 3)) for _ in range(3))
    same = np.array([1.0, 0.0, 0.0, 1.0])
    d = np.linalg.norm(a - b + 1e-6, axis=-1)
    out = F.contrastive_loss(mg.tensor(a), mg.tensor(b), same, margin=margin,
                             reduction=reduction)
    expected = same * d ** 2 + (1 - same) * np.maximum(0, margin - d) ** 2
    np.testing.assert_allclose(out.numpy(), _reduce(expected, reduction), rtol=1e-6)
    for p, eps in [(2.0, 1e-6), (1.0, 0.1)]:
        out = F.triplet_margin_loss(mg.tensor(a), mg.tensor(b), mg.tensor(c), margin=margin,
                                    p=p, eps=eps, reduction=reduction)
        dp = (np.abs(a - b + eps) ** p).sum(-1) ** (1 / p)
        dn = (np.abs(a - c + eps) ** p).sum(-1) ** (1 / p)
        np.testing.assert_allclose(out.numpy(), _reduce(np.maximum(0, dp - dn + margin),
                                                        reduction), rtol=1e-6)


def _torch_pair(torch, x, grad=True):
    return mg.tensor(x, requires_grad=grad), torch.tensor(x, requires_grad=grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("extra", [(), (2,)])
def test_cross_entropy_options_combined_vs_torch(reduction, smoothing, extra):
    torch = pytest.importorskip("torch")
    x, t = _case(extra=extra)
    w = RNG.uniform(0.5, 2.0, size=4)
    ours, theirs = _torch_pair(torch, x)
    out = F.cross_entropy(ours, mg.tensor(t), weight=mg.tensor(w), reduction=reduction,
                          label_smoothing=smoothing)
    ref = torch.nn.functional.cross_entropy(theirs, torch.tensor(t), weight=torch.tensor(w),
                                            reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-6)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_losses_with_options_vs_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, y = RNG.normal(size=(5, 4)), np.array([0, 3, 1, 0, 2])
    p, t = RNG.uniform(0.05, 0.95, size=(5, 4)), RNG.uniform(size=(5, 4))
    w4, logq = RNG.uniform(0.5, 2, size=4), _log_softmax(RNG.normal(size=(5, 4)))
    T = torch.tensor
    cases = [
        (F.multi_margin_loss(mg.tensor(x), y, p=2, margin=0.5, weight=mg.tensor(w4)),
         tf.multi_margin_loss(T(x), T(y), p=2, margin=0.5, weight=T(w4))),
        (F.binary_cross_entropy(mg.tensor(p), mg.tensor(t), weight=mg.tensor(w4),
                                reduction="sum"),
         tf.binary_cross_entropy(T(p), T(t), weight=T(w4), reduction="sum")),
        (F.binary_cross_entropy_with_logits(mg.tensor(x), mg.tensor(t), pos_weight=mg.tensor(w4)),
         tf.binary_cross_entropy_with_logits(T(x), T(t), pos_weight=T(w4))),
        (F.kl_div(mg.tensor(logq), mg.tensor(np.log(p)), reduction="batchmean", log_target=True),
         tf.kl_div(T(logq), T(np.log(p)), reduction="batchmean", log_target=True)),
        (F.cosine_similarity(mg.tensor(x), mg.tensor(p), dim=0, eps=0.5),
         tf.cosine_similarity(T(x), T(p), dim=0, eps=0.5)),
        (F.pairwise_distance(mg.tensor(x), mg.tensor(p), p=3.0, eps=0.1, keepdim=True),
         tf.pairwise_distance(T(x), T(p), p=3.0, eps=0.1, keepdim=True)),
        (F.triplet_margin_loss(mg.tensor(x), mg.tensor(p), mg.tensor(t), margin=2.0, p=1.0,
                               reduction="none"),
         tf.triplet_margin_loss(T(x), T(p), T(t), margin=2.0, p=1.0, reduction="none")),
        (F.nll_loss(mg.tensor(logq), mg.tensor(np.where(y == 0, 3, -1)), ignore_index=-1,
                    weight=mg.tensor(w4)),
         tf.nll_loss(T(logq), T(np.where(y == 0, 3, -1)), ignore_index=-1, weight=T(w4))),
    ]
    for ours, theirs in cases:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-12)


def test_binary_cross_entropy_gradient_vs_torch():
    """Away from the clamp, the exact derivative and PyTorch's (p - t)/max(p(1-p), 1e-12) agree."""
    torch = pytest.importorskip("torch")
    p, t = RNG.uniform(0.01, 0.99, size=6), RNG.uniform(size=6)
    ours, theirs = _torch_pair(torch, p)
    ours_t, theirs_t = _torch_pair(torch, t)
    F.binary_cross_entropy(ours, ours_t).backward()
    torch.nn.functional.binary_cross_entropy(theirs, theirs_t).backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours_t.grad.numpy(), theirs_t.grad.numpy(), rtol=1e-6)
