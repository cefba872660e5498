"""Options not covered elsewhere, each against a value worked out here: a test fails if the
option were ignored or implemented another way."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from optim import SGD, Adam
from optim.lr_scheduler import CosineAnnealingLR, LinearLR, ReduceLROnPlateau


def plateau(**options):
    opt = SGD([mg.tensor(np.zeros(1), requires_grad=True)], lr=1.0)
    return ReduceLROnPlateau(opt, patience=0, **options)


def lrs(scheduler, metrics):
    out = []
    for value in metrics:
        scheduler.step(value)
        out.append(scheduler.get_last_lr()[0])
    return out


def test_plateau_eps_skips_changes_smaller_than_it():
    # lr 1.0 -> 0.5 is a change of 0.5: made with eps 0.1, skipped with eps 0.6.
    assert lrs(plateau(factor=0.5, eps=0.1), [1.0, 1.0]) == [1.0, 0.5]
    assert lrs(plateau(factor=0.5, eps=0.6), [1.0, 1.0]) == [1.0, 1.0]


def test_plateau_min_mode_with_an_absolute_threshold():
    # 'abs': 9.5 is not below 10 - 1 = 9, a bad epoch; 'rel' (1e-4) counts it as better.
    assert lrs(plateau(threshold=1.0, threshold_mode="abs"), [10.0, 9.5]) == [1.0, 0.1]
    assert lrs(plateau(threshold=1e-4, threshold_mode="rel"), [10.0, 9.5]) == [1.0, 1.0]


@given(start=st.integers(1, 20))
def test_last_epoch_resumes_each_schedule_on_its_closed_form(start):
    # These two keep the rate they find when built with last_epoch >= 0 (PyTorch's rule), so
    # the optimizer holds the rate of epoch `start`, as a loaded optimizer state would.
    builds = [(lambda o, e: LinearLR(o, 0.2, 1.0, 4, last_epoch=e),
               lambda e: 0.2 + 0.8 * min(e, 4) / 4),
              (lambda o, e: CosineAnnealingLR(o, 6, 0.0, last_epoch=e),
               lambda e: (1 + math.cos(math.pi * e / 6)) / 2)]
    for build, factor in builds:
        opt = SGD([mg.tensor(np.zeros(1), requires_grad=True)], lr=1.0)
        opt.param_groups[0]["initial_lr"] = 1.0
        opt.param_groups[0]["lr"] = factor(start)
        scheduler = build(opt, start - 1)  # resuming: construction steps to `start`
        assert scheduler.last_epoch == start
        for e in range(start + 1, start + 4):
            scheduler.step()
            assert scheduler.get_last_lr()[0] == pytest.approx(factor(e), rel=1e-9, abs=1e-15)


def adam_final(decoupled_weight_decay):
    w = mg.tensor(np.array([0.5, -1.25, 2.0]), requires_grad=True)
    opt = Adam([w], lr=0.05, weight_decay=0.3, decoupled_weight_decay=decoupled_weight_decay)
    for k in range(4):
        w.grad = mg.tensor(np.array([0.3, -0.2, 1.5]) * (k + 1))
        opt.step()
    return w.numpy()


def decoupled_reference(lr=0.05, lam=0.3, beta1=0.9, beta2=0.999, eps=1e-8):
    p, m, v = np.array([0.5, -1.25, 2.0]), np.zeros(3), np.zeros(3)
    for t in range(1, 5):
        g = np.array([0.3, -0.2, 1.5]) * t
        p = p * (1 - lr * lam)  # decoupled: the decay skips m and v
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return p


def test_adam_decoupled_weight_decay_flag_decays_the_weights_directly():
    np.testing.assert_allclose(adam_final(True), decoupled_reference(), rtol=1e-12)
    assert not np.allclose(adam_final(False), decoupled_reference(), rtol=1e-6)
