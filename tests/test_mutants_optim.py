"""Documented rules of the optimizers that the rest of the suite did not pin down: each test
here fails for a small, realistic change to ``optim/sgd.py`` or ``optim/adaptive.py`` (a step
counter started at one, a buffer kept when the option is off, a penalty skipped for one value,
a default flipped)."""
import numpy as np
import pytest

import minigrad as mg
import optim


def param(values):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def step_with(opt, p, grad, times=1):
    for _ in range(times):
        p.grad = mg.tensor(np.asarray(grad, dtype=np.float64))
        opt.step()


def test_rmsprop_counts_steps_from_one_and_keeps_only_what_its_options_need():
    p = param([1.0, -2.0])
    opt = optim.RMSprop([p], lr=0.1)
    step_with(opt, p, [0.5, 0.5])
    state = opt.state_dict()["state"][0]
    assert state["step"] == 1
    assert sorted(state) == ["square_avg", "step"]   # momentum=0: no momentum buffer
    step_with(opt, p, [0.5, 0.5], times=2)
    assert opt.state_dict()["state"][0]["step"] == 3


def test_rmsprop_with_momentum_keeps_a_buffer_from_the_first_step():
    p = param([1.0])
    opt = optim.RMSprop([p], lr=0.1, momentum=0.5)
    step_with(opt, p, [2.0])
    assert sorted(opt.state_dict()["state"][0]) == ["momentum_buffer", "square_avg", "step"]


def test_rmsprop_weight_decay_of_exactly_one_is_applied():
    start, grad, lr, alpha, eps = np.array([1.0, -2.0]), np.array([0.5, 0.25]), 0.1, 0.99, 1e-8
    p = param(start.copy())
    step_with(optim.RMSprop([p], lr=lr, alpha=alpha, eps=eps, weight_decay=1.0), p, grad)
    g = grad + 1.0 * start
    v = (1 - alpha) * g * g
    np.testing.assert_allclose(p.data, start - lr * g / (np.sqrt(v) + eps),
                               rtol=1e-12, atol=1e-12)


def test_adamw_defaults_are_pytorchs():
    group = optim.AdamW([param([1.0])]).param_groups[0]
    assert group["amsgrad"] is False and group["maximize"] is False
    assert group["lr"] == 1e-3 and group["betas"] == (0.9, 0.999) and group["eps"] == 1e-8
    assert group["weight_decay"] == 1e-2


def test_rmsprop_momentum_and_centering_switched_on_after_a_step_start_from_zero():
    start, grad, lr, alpha = np.array([1.0, -2.0]), np.array([0.5, -0.25]), 0.1, 0.9
    p = param(start.copy())
    opt = optim.RMSprop([p], lr=lr, alpha=alpha, eps=0.0)
    step_with(opt, p, grad)
    after_one = start - lr * grad / np.sqrt((1 - alpha) * grad * grad)
    np.testing.assert_allclose(p.data, after_one, rtol=1e-12)
    opt.param_groups[0]["momentum"] = 0.5
    opt.param_groups[0]["centered"] = True
    step_with(opt, p, grad)
    v = alpha * (1 - alpha) * grad * grad + (1 - alpha) * grad * grad
    gbar = (1 - alpha) * grad                     # its buffer starts at zero now
    buf = grad / np.sqrt(v - gbar * gbar)         # and so does the momentum buffer
    np.testing.assert_allclose(p.data, after_one - lr * buf, rtol=1e-12)


def test_adagrad_weight_decay_of_exactly_one_is_applied():
    start, grad, lr, eps = np.array([1.0, -2.0]), np.array([0.5, 0.25]), 0.1, 1e-10
    p = param(start.copy())
    step_with(optim.Adagrad([p], lr=lr, eps=eps, weight_decay=1.0), p, grad)
    g = grad + start
    np.testing.assert_allclose(p.data, start - lr * g / (np.abs(g) + eps), rtol=1e-12)


@pytest.mark.parametrize("cls, option", [
    (optim.Adagrad, "lr"), (optim.Adagrad, "lr_decay"), (optim.Adagrad, "eps"),
    (optim.Adagrad, "weight_decay"), (optim.Adagrad, "initial_accumulator_value"),
    (optim.RMSprop, "lr"), (optim.RMSprop, "alpha"), (optim.RMSprop, "momentum"),
    (optim.RMSprop, "eps"), (optim.RMSprop, "weight_decay")])
def test_a_negative_option_is_refused_naming_the_optimizer(cls, option):
    with pytest.raises(ValueError, match=rf"^{cls.__name__}: invalid {option} -1.0, expected "
                                         r"a value in \[0.0, inf\]$"):
        cls([param([1.0])], **{option: -1.0})


def test_adagrad_and_rmsprop_defaults_are_pytorchs():
    adagrad = optim.Adagrad([param([1.0])]).param_groups[0]
    assert (adagrad["lr"], adagrad["lr_decay"], adagrad["weight_decay"]) == (1e-2, 0.0, 0.0)
    assert (adagrad["initial_accumulator_value"], adagrad["eps"]) == (0.0, 1e-10)
    rmsprop = optim.RMSprop([param([1.0])]).param_groups[0]
    assert (rmsprop["lr"], rmsprop["alpha"], rmsprop["eps"]) == (1e-2, 0.99, 1e-8)
    assert (rmsprop["weight_decay"], rmsprop["momentum"], rmsprop["centered"]) == (0.0, 0.0,
                                                                                    False)
