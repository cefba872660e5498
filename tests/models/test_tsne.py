"""t-SNE: calibrated affinities, the KL objective against its definition, autograd's gradient
against the closed form, and a map that keeps clusters apart."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from models.tsne import (TSNE, conditional_probabilities, joint_probabilities, kl_divergence,
                         kl_gradient, squared_distances)


def _random_P(rng, N):
    A = rng.random((N, N))
    P = A + A.T
    np.fill_diagonal(P, 0)
    return P / P.sum()


@settings(max_examples=15, deadline=None)
@given(N=st.integers(3, 12), components=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_autograd_gradient_matches_the_closed_form(N, components, seed):
    rng = np.random.default_rng(seed)
    P = _random_P(rng, N)
    Y = mg.tensor(rng.normal(size=(N, components)), dtype=mg.float64, requires_grad=True)
    kl_divergence(P, Y).backward()
    np.testing.assert_allclose(Y.grad.numpy(), kl_gradient(P, Y.numpy()), rtol=1e-9, atol=1e-12)


def test_kl_divergence_is_the_definition():
    rng = np.random.default_rng(1)
    N = 7
    P = _random_P(rng, N)
    Y = rng.normal(size=(N, 2))
    d = ((Y[:, None] - Y[None]) ** 2).sum(-1)
    inverse = 1 / (1 + d)
    np.fill_diagonal(inverse, 0)
    Q = inverse / inverse.sum()
    off = ~np.eye(N, dtype=bool)
    expected = (P[off] * np.log(P[off] / Q[off])).sum()
    got = kl_divergence(P, mg.tensor(Y, dtype=mg.float64)).item()
    assert got == pytest.approx(expected, rel=1e-10)
    assert kl_divergence(Q, mg.tensor(Y, dtype=mg.float64)).item() == pytest.approx(0, abs=1e-12)


def test_gradgradcheck_of_the_objective():
    rng = np.random.default_rng(2)
    P = mg.tensor(_random_P(rng, 5), dtype=mg.float64)
    Y = mg.tensor(rng.normal(size=(5, 2)), dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(lambda y: kl_divergence(P, y), (Y,))
    assert mg.gradgradcheck(lambda y: kl_divergence(P, y), (Y,))


@pytest.mark.parametrize("perplexity", [2.0, 5.0, 10.0])
def test_each_row_has_the_asked_perplexity(perplexity):
    X = np.random.default_rng(3).normal(size=(40, 5)) * np.arange(1, 6)
    conditional = conditional_probabilities(X, perplexity, tol=1e-8)
    assert np.allclose(conditional.sum(axis=1), 1) and np.all(conditional.diagonal() == 0)
    p = np.where(conditional > 0, conditional, 1)
    entropy = -(conditional * np.log(p)).sum(axis=1)
    np.testing.assert_allclose(entropy, np.log(perplexity), atol=1e-7)
    # rows are Gaussian in the distance: log p_j|i is affine in |x_i - x_j|² with slope -beta
    d = squared_distances(X)[0, 1:]
    slope = np.polyfit(d, np.log(conditional[0, 1:]), 1)[0]
    assert slope < 0
    np.testing.assert_allclose(np.log(conditional[0, 1:]) - slope * d,
                               np.log(conditional[0, 1]) - slope * d[0], atol=1e-8)


def test_joint_probabilities_symmetrise_the_conditionals():
    X = np.random.default_rng(5).normal(size=(15, 3))
    conditional = conditional_probabilities(X, 4.0)
    P = joint_probabilities(X, 4.0)
    np.testing.assert_allclose(P, (conditional + conditional.T) / 30)
    assert P.sum() == pytest.approx(1.0)


def test_joint_probabilities_rejects_a_perplexity_too_large():
    with pytest.raises(ValueError, match="perplexity must be below N - 1"):
        joint_probabilities(np.zeros((5, 2)), perplexity=10)


def test_tsne_separates_three_clusters():
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(3, 10)) * 10
    labels = np.repeat(np.arange(3), 20)
    X = centres[labels] + rng.normal(size=(60, 10))
    tsne = TSNE(perplexity=10, max_iter=400, random_state=0)
    Y = tsne.fit_transform(X)
    assert Y.shape == (60, 2) and np.all(np.isfinite(Y))
    d = ((Y[:, None] - Y[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nearest = d.argmin(axis=1)
    assert (labels[nearest] == labels).mean() == 1.0
    assert 0 <= tsne.kl_divergence_ < 1.0


def test_tsne_argument_errors():
    with pytest.raises(ValueError, match=r"P must be \(N, N\)"):
        kl_divergence(np.zeros((3, 3)), mg.zeros(4, 2))
    with pytest.raises(ValueError, match="TSNE"):
        TSNE(learning_rate=0)
    with pytest.raises((ValueError, TypeError), match="TSNE"):
        TSNE(max_iter=0)


def test_tsne_options():
    X = np.random.default_rng(6).normal(size=(30, 4))

    def run(**options):
        settings = dict(perplexity=5, max_iter=60, random_state=0, dtype=mg.float64)
        settings.update(options)
        tsne = TSNE(**settings)
        return (tsne.fit_transform(X), tsne)

    first, tsne = run()
    assert tsne.n_iter_ == 60 and first.shape == (30, 2)
    np.testing.assert_array_equal(run()[0], first)                     # random_state
    assert not np.allclose(run(random_state=1)[0], first)
    # no exaggeration (factor 1) and one momentum: the exaggeration phase changes nothing
    plain = run(early_exaggeration=1.0, exaggeration_iter=0, momentum=(0.8, 0.8))[0]
    np.testing.assert_allclose(run(early_exaggeration=1.0, exaggeration_iter=30,
                                   momentum=(0.8, 0.8))[0], plain)
    assert not np.allclose(run(early_exaggeration=4.0, exaggeration_iter=30,
                               momentum=(0.8, 0.8))[0], plain)
    assert not np.allclose(run(min_gain=1.0)[0], first)
    assert not np.allclose(run(learning_rate=10.0)[0], first)
    assert run(n_components=3)[0].shape == (30, 3)
