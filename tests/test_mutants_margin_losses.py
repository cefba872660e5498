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


@pytest.mark.parametrize("target, message", [
    ([0, 4, 1], r"^multi_margin_loss: .*4"),          # a class past C = 4
    ([0, 1], r"^multi_margin_loss: .*\(2,\)"),         # one target short
])
def test_multi_margin_loss_target_errors_name_it(target, message):
    with pytest.raises((ValueError, IndexError), match=message):
        F.multi_margin_loss(x2, mg.tensor(target))


def test_multi_margin_loss_keeps_float32():
    # the mask of the other classes takes the input's dtype, so float32 stays float32
    x = mg.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    loss = F.multi_margin_loss(x, mg.tensor([0, 3, 1]), reduction="none")
    assert loss.dtype == np.float32
    loss.sum().backward()
    assert x.grad.dtype == np.float32


def test_cosine_similarity_clamps_a_norm_below_eps_to_eps():
    # ‖x1‖ = 1e-9 < eps = 1e-8: the norm counts as eps, so the cosine is 1e-9 / 1e-8 = 0.1
    a, b = mg.tensor(np.array([[1e-9, 0.0]])), mg.tensor(np.array([[3.0, 0.0]]))
    assert F.cosine_similarity(a, b, eps=1e-8).item() == pytest.approx(0.1, rel=1e-9)
    assert F.cosine_similarity(b, a, eps=1e-8).item() == pytest.approx(0.1, rel=1e-9)
    # above eps nothing is clamped: the plain cosine, 1
    assert F.cosine_similarity(a, b, eps=1e-12).item() == pytest.approx(1.0, rel=1e-9)


def test_cosine_similarity_gradient_at_a_zero_vector_is_finite():
    # PyTorch's value: the clamp changes the norm's value, not its gradient, and ‖0‖ has gradient
    # 0, so d/dx1 = x2 / (eps · ‖x2‖)
    zero = mg.tensor(np.zeros((1, 2)), requires_grad=True)
    other = mg.tensor(np.array([[3.0, 4.0]]), requires_grad=True)
    F.cosine_similarity(zero, other, eps=1e-8).sum().backward()
    np.testing.assert_allclose(zero.grad.numpy(), [[0.6e8, 0.8e8]], rtol=1e-9)
    np.testing.assert_array_equal(other.grad.numpy(), [[0.0, 0.0]])


@pytest.mark.parametrize("name, call", [
    ("margin_ranking_loss", lambda t: F.margin_ranking_loss(x1, y1, t, margin=0.1)),
    ("hinge_embedding_loss", lambda t: F.hinge_embedding_loss(x1.abs(), t, margin=0.5)),
])
def test_a_target_given_as_a_list_or_array_acts_as_the_tensor(name, call):
    # the target becomes a constant of the input's dtype: a list, an array and a Tensor agree
    expected = call(sign).item()
    assert call([1.0, -1.0, 1.0]).item() == pytest.approx(expected, rel=1e-12)
    assert call(np.array([1, -1, 1])).item() == pytest.approx(expected, rel=1e-12)


def test_cosine_embedding_loss_takes_a_list_target_and_names_a_0d_one_in_its_error():
    expected = F.cosine_embedding_loss(x2, y2, sign).item()
    assert F.cosine_embedding_loss(x2, y2, [1.0, -1.0, 1.0]).item() == pytest.approx(
        expected, rel=1e-12)
    # one pair of vectors (D,) takes a 0-d target
    with pytest.raises(ValueError, match=r"^cosine_embedding_loss: inputs of shape \(3,\) need a "
                                         r"target of shape \(\), got \(2,\)$"):
        F.cosine_embedding_loss(x1, y1, mg.tensor([1.0, -1.0]))
