"""Guided backprop and DeconvNet differ from plain backprop exactly at the ReLUs: the same
chain of Jacobians with only each ReLU's rule changed, written out by hand here."""
import numpy as np
import pytest

import minigrad as mg
from layers import Linear, ReLU, Sequential, Sigmoid
from models.vis import deconvnet, guided_backprop, relu_backward_rule, saliency

RULES = {
    "plain": lambda g, x: g * (x > 0),
    "guided": lambda g, x: np.maximum(g, 0) * (x > 0),
    "deconvnet": lambda g, x: np.maximum(g, 0),
}


def _mlp(seed):
    mg.manual_seed(seed)
    return Sequential(Linear(5, 6), ReLU(), Linear(6, 6), ReLU(), Linear(6, 3)).double()


def _by_hand(model, x, target, rule):
    """Backprop through Linear-ReLU-Linear-ReLU-Linear with ``rule`` at both ReLUs."""
    W1, W2, W3 = (model[i].weight.numpy() for i in (0, 2, 4))
    b1, b2 = model[0].bias.numpy(), model[2].bias.numpy()
    z1 = x @ W1.T + b1
    z2 = np.maximum(z1, 0) @ W2.T + b2
    g = np.zeros((len(x), 3))
    g[np.arange(len(x)), target] = 1
    g = RULES[rule](g @ W3, z2)
    g = RULES[rule](g @ W2, z1)
    return g @ W1


@pytest.mark.parametrize("seed", range(5))
def test_each_rule_changes_only_the_relu_step(seed):
    model = _mlp(seed)
    x = np.random.default_rng(seed).normal(size=(4, 5))
    target = [0, 1, 2, 1]
    plain = saliency(model, mg.tensor(x), target).numpy()
    guided = guided_backprop(model, mg.tensor(x), target).numpy()
    deconv = deconvnet(model, mg.tensor(x), target).numpy()
    np.testing.assert_allclose(plain, _by_hand(model, x, target, "plain"), rtol=1e-10)
    np.testing.assert_allclose(guided, _by_hand(model, x, target, "guided"), rtol=1e-10)
    np.testing.assert_allclose(deconv, _by_hand(model, x, target, "deconvnet"), rtol=1e-10)
    assert not np.allclose(plain, guided) and not np.allclose(plain, deconv)


def test_the_forward_pass_is_unchanged_and_the_hooks_leave_with_the_block():
    model = _mlp(1)
    x = mg.tensor(np.random.default_rng(1).normal(size=(3, 5)))
    before = model(x).numpy()
    with relu_backward_rule(model, "guided"):
        np.testing.assert_array_equal(model(x).numpy(), before)
    assert all(not m._forward_hooks for m in model.modules())
    np.testing.assert_allclose(saliency(model, x, 0).numpy(),
                               _by_hand(model, x.numpy(), [0, 0, 0], "plain"), rtol=1e-10)


def test_layers_without_relu_keep_their_gradient():
    # Sigmoid between the ReLU-free layers: the rule has nothing to swap there, so with one
    # ReLU at the end and a positive upstream grad, every rule agrees with plain backprop
    # wherever the ReLU is open.
    mg.manual_seed(3)
    model = Sequential(Linear(4, 4), Sigmoid(), Linear(4, 4), ReLU()).double()
    x = mg.tensor(np.random.default_rng(3).normal(size=(2, 4)))
    z = model[2](model[1](model[0](x))).numpy()
    target = [int(np.argmax(z[0])), int(np.argmax(z[1]))]
    assert z[[0, 1], target].min() > 0                       # open units
    plain = saliency(model, x, target).numpy()
    np.testing.assert_allclose(guided_backprop(model, x, target).numpy(), plain, rtol=1e-12)
    np.testing.assert_allclose(deconvnet(model, x, target).numpy(), plain, rtol=1e-12)


def test_errors_name_the_mechanism():
    with pytest.raises(ValueError, match="no layers.ReLU module"):
        with relu_backward_rule(Sequential(Linear(2, 2)), "guided"):
            pass
    with pytest.raises(ValueError, match="rule must be one of"):
        with relu_backward_rule(_mlp(0), "zeiler"):
            pass
