"""Synthetic generators: shapes, balance, seeding, and the geometry each one promises."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigrad.data import make_moons, make_spirals


@given(n=st.integers(1, 40), K=st.integers(1, 5), seed=st.integers(0, 2**32))
def test_spirals_shapes_and_balance(n, K, seed):
    points, labels = make_spirals(n, n_classes=K, seed=seed)
    assert points.shape == (K * n, 2) and points.dtype == np.float32
    assert labels.shape == (K * n,) and labels.dtype == np.int64
    assert np.bincount(labels, minlength=K).tolist() == [n] * K


@given(n=st.integers(2, 60), seed=st.integers(0, 2**32))
def test_moons_shapes_and_balance(n, seed):
    points, labels = make_moons(n, seed=seed)
    assert points.shape == (n, 2) and points.dtype == np.float32
    assert labels.dtype == np.int64
    assert np.bincount(labels, minlength=2).tolist() == [n // 2, n - n // 2]


@pytest.mark.parametrize("make", [lambda seed: make_spirals(30, 3, seed=seed),
                                  lambda seed: make_moons(60, seed=seed)])
def test_seed_fixes_the_points(make):
    a, la = make(7)
    b, lb = make(7)
    c, _ = make(8)
    assert a.tobytes() == b.tobytes() and (la == lb).all()
    assert not np.array_equal(a, c)


def test_without_seed_the_global_generator_decides():
    np.random.seed(3)
    a, _ = make_moons(40)
    b, _ = make_moons(40)
    np.random.seed(3)
    c, _ = make_moons(40)
    assert not np.array_equal(a, b)
    assert np.array_equal(a, c)


def test_spiral_radius_grows_with_angle():
    n, K, turns = 200, 3, 1.5
    points, labels = make_spirals(n, n_classes=K, noise=0.0, turns=turns)
    for k in range(K):
        arm = points[labels == k].astype(np.float64)
        r = np.hypot(arm[:, 0], arm[:, 1])
        np.testing.assert_allclose(r, np.arange(1, n + 1) / n, rtol=1e-5)
        # Unwrap the polar angle along the arm: it rises steadily with the radius,
        # t = 2 pi k / K + 2 pi turns r, so arm k is arm 0 turned by 2 pi k / K.
        t = np.unwrap(np.arctan2(arm[:, 1], arm[:, 0]))
        assert (np.diff(t) > 0).all()
        offset = np.angle(np.exp(1j * (t - 2 * np.pi * turns * r)))
        np.testing.assert_allclose(np.angle(np.exp(1j * (offset - 2 * np.pi * k / K))), 0,
                                   atol=1e-5)


def test_spiral_noise_has_the_requested_spread():
    clean, _ = make_spirals(2000, n_classes=2, noise=0.0)
    noisy, _ = make_spirals(2000, n_classes=2, noise=0.05, seed=0)
    residual = (noisy - clean).astype(np.float64)
    assert abs(residual.std() - 0.05) < 0.005
    assert abs(residual.mean()) < 0.005


def test_moons_lie_on_their_half_circles():
    points, labels = make_moons(101, noise=0.0)
    upper, lower = points[labels == 0], points[labels == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1, atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all() and (lower[:, 1] <= 0.5 + 1e-6).all()
    # The class means sit apart: (0, s) and (1, 0.5 - s), s the mean of sin t over the grid
    # (close to 2 / pi), the lower moon being the upper one mirrored about (0.5, 0.25).
    s_upper = np.sin(np.linspace(0, np.pi, 50)).mean()
    s_lower = np.sin(np.linspace(0, np.pi, 51)).mean()
    np.testing.assert_allclose(upper.mean(0), [0, s_upper], atol=1e-6)
    np.testing.assert_allclose(lower.mean(0), [1, 0.5 - s_lower], atol=1e-6)


def test_noisy_moons_are_separable_by_nearest_neighbour():
    points, labels = make_moons(300, noise=0.1, seed=0)
    d = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    accuracy = (labels[d.argmin(1)] == labels).mean()
    assert accuracy > 0.95
    # A straight line cannot do that well: the best threshold on any axis falls short.
    for axis in (0, 1):
        order = np.argsort(points[:, axis])
        sorted_labels = labels[order]
        best = max(max(((sorted_labels[:i] == c).sum() + (sorted_labels[i:] != c).sum())
                       for i in range(len(labels) + 1)) for c in (0, 1)) / len(labels)
        assert best < 0.9


@pytest.mark.parametrize("call, message", [
    (lambda: make_spirals(0), "n_per_class must be an int >= 1"),
    (lambda: make_spirals(5, n_classes=0), "n_classes must be an int >= 1"),
    (lambda: make_spirals(5, noise=-1.0), "noise must be a real number >= 0"),
    (lambda: make_moons(1), "n must be an int >= 2"),
    (lambda: make_moons(10, noise="lots"), "noise must be a real number >= 0"),
])
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()
