"""Adam's NumPy rule (``foreach=False``) down to the details a looser test lets through, each
against a NumPy re-derivation of the documented update."""
import numpy as np
import pytest

import minigrad as mg
import optim


def adam_reference(p, grads, lr, betas, eps, weight_decay, decoupled, amsgrad=False):
    """The update of Adam's docstring, step by step, in float64."""
    beta1, beta2 = betas
    m, v, v_max = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = np.maximum(v_max, v)
        root = np.sqrt(v_max if amsgrad else v) / np.sqrt(1 - beta2 ** t)
        p = p - lr / (1 - beta1 ** t) * m / (root + eps)
    return p


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_numpy_rule_applies_a_weight_decay_of_exactly_one(decoupled):
    start = np.array([1.0, -2.0, 0.5])
    grads = [np.array([0.5, 0.25, -1.0]), np.array([-0.3, 0.1, 0.2]), np.array([1.0, 0.0, 0.5])]
    p = mg.tensor(start.copy(), requires_grad=True)
    opt = optim.Adam([p], lr=0.1, betas=(0.8, 0.9), eps=1e-3, weight_decay=1.0,
                     decoupled_weight_decay=decoupled, foreach=False)
    for g in grads:
        p.grad = mg.tensor(g)
        opt.step()
    want = adam_reference(start, grads, 0.1, (0.8, 0.9), 1e-3, 1.0, decoupled)
    np.testing.assert_allclose(p.numpy(), want, rtol=1e-12, atol=1e-14)


def test_adam_defaults_are_pytorchs():
    p = mg.tensor(np.zeros(2), requires_grad=True)
    group = optim.Adam([p]).param_groups[0]
    assert {key: value for key, value in group.items() if key != "params"} == dict(
        lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
        maximize=False, decoupled_weight_decay=False, foreach=None, fused=None)


@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize("betas, error, message", [
    (0.9, TypeError, "{}: betas must be a pair (beta1, beta2), got 0.9"),
    ((1.0, 0.9), ValueError, "{}: invalid betas[0] 1.0, expected a value in [0.0, 1.0)"),
    ((0.9, -0.1), ValueError, "{}: invalid betas[1] -0.1, expected a value in [0.0, 1.0)"),
])
def test_adam_betas_are_refused_naming_the_optimizer(cls, betas, error, message):
    import re
    p = mg.tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(error, match="^" + re.escape(message.format(cls.__name__)) + "$"):
        cls([p], betas=betas)


def test_centered_rmsprop_keeps_the_running_mean_of_the_gradient():
    # Only gbar^2 enters the step, so the sign of the stored mean is seen only in the state.
    alpha, grads = 0.9, [np.array([0.5, -2.0]), np.array([1.5, 0.25])]
    p = mg.tensor(np.array([1.0, -1.0]), requires_grad=True)
    opt = optim.RMSprop([p], lr=0.01, alpha=alpha, centered=True)
    for g in grads:
        p.grad = mg.tensor(g)
        opt.step()
    want = alpha * (1 - alpha) * grads[0] + (1 - alpha) * grads[1]
    np.testing.assert_allclose(opt.state_dict()["state"][0]["grad_avg"], want, rtol=1e-14)
