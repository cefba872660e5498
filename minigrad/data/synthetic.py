"""Seeded toy datasets in the plane: interleaved spirals and two moons.

Both are small 2-d classification problems that no linear model solves but a two-layer MLP
does, which makes them the usual first test of a training loop. Points come out grouped by
class (class 0 first); shuffle them with ``DataLoader(..., shuffle=True)``.

Randomness: with ``seed`` given, the points depend on it alone (NumPy's PCG64 generator);
without it, one seed is drawn from NumPy's global generator, which ``mg.manual_seed`` seeds.

Notation
--------
K       number of classes
n       points per class (spirals) or in all (moons)
r, t    radius and angle of a point, in radians
"""
import numbers

import numpy as np


def _rng(seed):
    if seed is None:
        seed = np.random.randint(0, 2**63 - 1, dtype=np.int64)
    return np.random.default_rng(seed)


def _check_count(name, value, least):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
        raise ValueError(f"{name} must be an int >= {least}, got {value!r}")


def _check_noise(name, noise):
    if not (isinstance(noise, numbers.Real) and noise >= 0):
        raise ValueError(f"{name}: noise must be a real number >= 0, got {noise!r}")


def make_spirals(n_per_class, n_classes=2, noise=0.1, seed=None, turns=1.0):
    """Points on K interleaved spiral arms, one arm per class.

    Arm k has the points ``r * (cos t, sin t)`` with radii ``r_i = (i + 1) / n`` and angles
    ``t_i = 2*pi*k / K + 2*pi*turns * r_i``: the angle grows with the radius, and the arms are
    the same curve turned by 2*pi / K. Gaussian noise of standard deviation ``noise`` is then
    added to both coordinates.

    Parameters
    ----------
    n_per_class : int
        Points per arm, n >= 1.
    n_classes : int, default 2
        Number of arms K >= 1.
    noise : float, default 0.1
        Standard deviation of the noise added to x and y.
    seed : int, optional
        Seed of the noise (see the module docstring).
    turns : float, default 1.0
        How many full turns an arm makes from the centre to radius 1.

    Returns
    -------
    points : ndarray of float32, shape (K * n, 2)
    labels : ndarray of int64, shape (K * n,)
        ``n`` points of each class 0..K-1, class by class.

    Examples
    --------
    >>> x, y = make_spirals(50, n_classes=3, seed=0)
    >>> x.shape, x.dtype, np.bincount(y).tolist()
    ((150, 2), dtype('float32'), [50, 50, 50])
    """
    _check_count("make_spirals: n_per_class", n_per_class, 1)
    _check_count("make_spirals: n_classes", n_classes, 1)
    _check_noise("make_spirals", noise)
    K, n = n_classes, n_per_class
    r = np.arange(1, n + 1) / n
    k = np.repeat(np.arange(K), n)
    r = np.tile(r, K)
    t = 2 * np.pi * k / K + 2 * np.pi * turns * r
    points = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    points += noise * _rng(seed).standard_normal(points.shape)
    return (points.astype(np.float32), k.astype(np.int64))


def make_moons(n=200, noise=0.1, seed=None):
    """Two interleaving half circles.

    Class 0 is the upper half of the unit circle, ``(cos t, sin t)``; class 1 is the lower half
    of the unit circle centred at (1, 0.5), ``(1 - cos t, 0.5 - sin t)``; t is evenly spaced
    over [0, pi]. Gaussian noise of standard deviation ``noise`` is added to both coordinates.

    Parameters
    ----------
    n : int, default 200
        Points in all, n >= 2: ``n // 2`` in class 0 and the rest in class 1.
    noise : float, default 0.1
        Standard deviation of the noise added to x and y.
    seed : int, optional
        Seed of the noise (see the module docstring).

    Returns
    -------
    points : ndarray of float32, shape (n, 2)
    labels : ndarray of int64, shape (n,)
        Class 0 first, then class 1.

    Examples
    --------
    >>> x, y = make_moons(100, noise=0.0)
    >>> x.shape, np.bincount(y).tolist()
    ((100, 2), [50, 50])
    """
    _check_count("make_moons: n", n, 2)
    _check_noise("make_moons", noise)
    n_upper = n // 2
    n_lower = n - n_upper
    t_upper = np.linspace(0, np.pi, n_upper)
    t_lower = np.linspace(0, np.pi, n_lower)
    upper = np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1)
    lower = np.stack([1 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)
    points = np.concatenate([upper, lower])
    points += noise * _rng(seed).standard_normal(points.shape)
    labels = np.concatenate([np.zeros(n_upper), np.ones(n_lower)]).astype(np.int64)
    return (points.astype(np.float32), labels)
