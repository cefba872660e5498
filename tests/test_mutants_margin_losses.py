"""What ``minigrad/margin_losses.py`` promises, checked where the rest of the suite did not look:
every loss names itself in its errors (an unknown ``reduction``, shapes that differ), and the
PyTorch defaults hold (the default call equals the call with the defaults spelled out).
"""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F

rng = np.random.default_rng(0)
x2 = mg.tensor(rng.standard_normal((3, 4)))
y2 = mg.tensor(rng.standard_normal((3, 4)))
z2 = mg.tensor(rng.standard_normal((3, 4)))
x1, y1 = mg.tensor([0.3, -0.2, 0.8]), mg.tensor([0.1, 0.5, -0.4])
sign = mg.tensor([1.0, -1.0, 1.0])

CALLS = {
    "multi_margin_loss": lambda **kw: F.multi_margin_loss(x2, mg.tensor([0, 3, 1]), **kw),
    "contrastive_loss": lambda **kw: F.contrastive_loss(x2, y2, mg.tensor([1.0, 0.0, 1.0]), **kw),
    "triplet_margin_loss": lambda **kw: F.triplet_margin_loss(x2, y2, z2, **kw),
    "margin_ranking_loss": lambda **kw: F.margin_ranking_loss(x1, y1, sign, **kw),
    "hinge_embedding_loss": lambda **kw: F.hinge_embedding_loss(x1.abs(), sign, **kw),
    "cosine_embedding_loss": lambda **kw: F.cosine_embedding_loss(x2, y2, sign, **kw),
}
DEFAULTS = {
    "multi_margin_loss": dict(p=1, margin=1.0, reduction="mean"),
    "contrastive_loss": dict(margin=1.0, reduction="mean"),
    "triplet_margin_loss": dict(margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"),
    "margin_ranking_loss": dict(margin=0.0, reduction="mean"),
    "hinge_embedding_loss": dict(margin=1.0, reduction="mean"),
    "cosine_embedding_loss": dict(margin=0.0, reduction="mean"),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_unknown_reduction_error_names_the_loss(name):
    with pytest.raises(ValueError, match=rf"^{name}: reduction must be 'mean', 'sum' or 'none'"):
        CALLS[name](reduction="avg")


@pytest.mark.parametrize("name", sorted(CALLS))
def test_defaults_are_pytorchs(name):
    default = CALLS[name]().item()
    assert default == pytest.approx(CALLS[name](**DEFAULTS[name]).item(), rel=1e-12)
    changed = dict(DEFAULTS[name], margin=DEFAULTS[name]["margin"] + 0.7)
    assert default != pytest.approx(CALLS[name](**changed).item(), rel=1e-6)
    # the mean really is the mean of 'none', and 'sum' its sum
    none = CALLS[name](reduction="none").numpy()
    assert default == pytest.approx(none.mean(), rel=1e-12)
    assert CALLS[name](reduction="sum").item() == pytest.approx(none.sum(), rel=1e-12)


@pytest.mark.parametrize("name, call", [
    ("margin_ranking_loss", lambda: F.margin_ranking_loss(x1, mg.tensor([1.0, 2.0]), sign)),
    ("margin_ranking_loss", lambda: F.margin_ranking_loss(x1, y1, mg.tensor([1.0]))),
    ("hinge_embedding_loss", lambda: F.hinge_embedding_loss(x1, mg.tensor([1.0]))),
    ("cosine_embedding_loss", lambda: F.cosine_embedding_loss(x2, y1, sign)),
])
def test_shape_errors_name_the_loss(name, call):
    with pytest.raises(ValueError, match=rf"^{name}: "):
        call()


def test_cosine_embedding_loss_target_shape_error():
    with pytest.raises(ValueError, match=r"need a target of shape \(3,\), got \(2,\)"):
        F.cosine_embedding_loss(x2, y2, mg.tensor([1.0, -1.0]))


def test_cosine_similarity_both_spellings_error_names_it():
    with pytest.raises(TypeError, match=r"^cosine_similarity: got both dim=1 and axis=1"):
        F.cosine_similarity(x2, y2, dim=1, axis=1)


def test_pairwise_distance_of_3d_inputs_reduces_the_last_axis():
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4))
    for p in (2.0, 1.0, 3.0):
        out = F.pairwise_distance(mg.tensor(a), mg.tensor(b), p=p, eps=0.0)
        np.testing.assert_allclose(out.numpy(), (np.abs(a - b) ** p).sum(-1) ** (1 / p))


def test_triplet_swap_uses_eps_for_the_positive_negative_distance():
    a = mg.tensor([[0.0, 0.0]])
    p = n = mg.tensor([[3.0, 0.0]])  # d(p, n) = 0, so only eps makes it nonzero
    out = F.triplet_margin_loss(a, p, n, margin=0.0, eps=0.5, swap=True, reduction="none")
    # d(a, p) = |(-3 + 0.5, 0.5)|, d(p, n) = |(0.5, 0.5)|
    assert out.item() == pytest.approx(np.hypot(2.5, 0.5) - np.hypot(0.5, 0.5))
