"""Each optimizer's update rule against its recurrence written out here in NumPy.

The references below are the published algorithms (PyTorch's documentation of torch.optim),
coded independently of ``optim``. Gradients are fed by hand, so the rule is tested alone; the
convergence tests at the end close the loop through autograd.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from optim import SGD, Adagrad, Adam, AdamW, RMSprop
from optim_trajectory import GRADS, P0, assert_trajectories, run


def sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                  nesterov=False, maximize=False):
    buf, out = None, []
    for g in grads:
        g = -g if maximize else g
        d = g + weight_decay * p
        if momentum != 0:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
        out.append(p)
    return out


def adagrad_reference(p, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                      initial_accumulator_value=0.0, eps=1e-10, maximize=False):
    s, out = np.full_like(p, initial_accumulator_value), []
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        g = g + weight_decay * p
        s = s + g ** 2
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
        out.append(p)
    return out


def rmsprop_reference(p, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                      centered=False, maximize=False):
    v, gbar, b, out = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p), []
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g ** 2
        if centered:
            gbar = alpha * gbar + (1 - alpha) * g
            d = np.sqrt(v - gbar ** 2) + eps
        else:
            d = np.sqrt(v) + eps
        if momentum > 0:
            b = momentum * b + g / d
            p = p - lr * b
        else:
            p = p - lr * g / d
        out.append(p)
    return out


def adam_reference(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   amsgrad=False, maximize=False, decoupled=False):
    beta1, beta2 = betas
    m, v, v_max, out = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - beta1 ** t)
        v_hat = (v_max if amsgrad else v) / (1 - beta2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


def test_sgd_two_steps_by_hand():
    # lr 0.1, momentum 0.9, p0 = 1, g = 2 then 4:
    # b1 = 2, p1 = 1 - 0.2 = 0.8; b2 = 0.9*2 + 4 = 5.8, p2 = 0.8 - 0.58 = 0.22.
    traj = run(lambda ps: SGD(ps, lr=0.1, momentum=0.9), np.array([1.0]),
               [np.array([2.0]), np.array([4.0])])
    np.testing.assert_allclose(np.concatenate(traj), [0.8, 0.22], rtol=1e-12)


def test_adam_first_step_moves_each_coordinate_by_lr():
    # With m and v bias-corrected, step 1 is lr * g / (|g| + eps): lr times the sign of g.
    traj = run(lambda ps: Adam(ps, lr=0.01, eps=0.0), grads=GRADS[:1])
    np.testing.assert_allclose(traj[0], P0 - 0.01 * np.sign(GRADS[0]), rtol=1e-12)


def test_adagrad_and_rmsprop_first_step_by_hand():
    g = GRADS[0]
    traj = run(lambda ps: Adagrad(ps, lr=0.1, eps=0.0), grads=[g])
    np.testing.assert_allclose(traj[0], P0 - 0.1 * np.sign(g), rtol=1e-12)
    traj = run(lambda ps: RMSprop(ps, lr=0.1, alpha=0.75, eps=0.0), grads=[g])
    np.testing.assert_allclose(traj[0], P0 - 0.1 * np.sign(g) / np.sqrt(0.25), rtol=1e-12)


def test_adamw_decays_the_weights_even_without_gradient_signal():
    # With a zero gradient Adam's m is 0, so AdamW's only move is p <- p * (1 - lr * lambda).
    zero = [np.zeros(3), np.zeros(3)]
    traj = run(lambda ps: AdamW(ps, lr=0.1, weight_decay=0.5), grads=zero)
    np.testing.assert_allclose(traj[-1], P0 * 0.95 ** 2, rtol=1e-12)
    traj = run(lambda ps: Adam(ps, lr=0.1, weight_decay=0.5), grads=zero)
    assert not np.allclose(traj[-1], P0 * 0.95 ** 2)  # Adam's L2 decay goes through m / sqrt(v)


unit = st.floats(0.0, 0.95)
rates = st.floats(1e-4, 0.5)
decays = st.floats(0.0, 0.2)


@given(lr=rates, momentum=unit, dampening=unit, weight_decay=decays, nesterov=st.booleans(),
       maximize=st.booleans())
def test_sgd_matches_reference(device, lr, momentum, dampening, weight_decay, nesterov,
                               maximize):
    if nesterov:
        momentum, dampening = max(momentum, 0.1), 0.0
    options = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                   nesterov=nesterov, maximize=maximize)
    assert_trajectories(run(lambda ps: SGD(ps, **options), device=device),
                        sgd_reference(P0, GRADS, **options))


@given(lr=rates, lr_decay=st.floats(0.0, 0.5), weight_decay=decays,
       initial_accumulator_value=st.floats(0.0, 1.0), eps=st.floats(1e-10, 1e-3),
       maximize=st.booleans())
def test_adagrad_matches_reference(device, lr, lr_decay, weight_decay,
                                   initial_accumulator_value, eps, maximize):
    options = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                   initial_accumulator_value=initial_accumulator_value, maximize=maximize)
    assert_trajectories(run(lambda ps: Adagrad(ps, **options), device=device),
                        adagrad_reference(P0, GRADS, **options))


@given(lr=rates, alpha=st.floats(0.1, 0.99), eps=st.floats(1e-8, 1e-3), weight_decay=decays,
       momentum=unit, centered=st.booleans(), maximize=st.booleans())
def test_rmsprop_matches_reference(device, lr, alpha, eps, weight_decay, momentum, centered,
                                   maximize):
    options = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                   centered=centered, maximize=maximize)
    assert_trajectories(run(lambda ps: RMSprop(ps, **options), device=device),
                        rmsprop_reference(P0, GRADS, **options))


@given(lr=rates, beta1=st.floats(0.0, 0.99), beta2=st.floats(0.0, 0.9999),
       eps=st.floats(1e-10, 1e-3), weight_decay=decays, amsgrad=st.booleans(),
       maximize=st.booleans(), decoupled=st.booleans())
def test_adam_and_adamw_match_reference(device, lr, beta1, beta2, eps, weight_decay, amsgrad,
                                        maximize, decoupled):
    options = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay,
                   amsgrad=amsgrad, maximize=maximize)
    kind = AdamW if decoupled else Adam
    assert_trajectories(run(lambda ps: kind(ps, **options), device=device),
                        adam_reference(P0, GRADS, decoupled=decoupled, **options))


@pytest.mark.parametrize("make, reference", [
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
     lambda: sgd_reference(P0, GRADS, lr=0.1, momentum=0.9, nesterov=True)),
    (lambda ps: Adagrad(ps, lr=0.1), lambda: adagrad_reference(P0, GRADS, lr=0.1)),
    (lambda ps: RMSprop(ps, momentum=0.5, centered=True),
     lambda: rmsprop_reference(P0, GRADS, momentum=0.5, centered=True)),
    (lambda ps: Adam(ps, lr=0.01, amsgrad=True),
     lambda: adam_reference(P0, GRADS, lr=0.01, amsgrad=True)),
    (lambda ps: AdamW(ps), lambda: adam_reference(P0, GRADS, weight_decay=1e-2, decoupled=True)),
])
def test_float32_parameters_keep_float32_state(device, make, reference):
    w = mg.tensor(P0.astype(np.float32), device=device, requires_grad=True)
    optimizer = make([w])
    for g in GRADS:
        w.grad = mg.tensor(g.astype(np.float32), device=device)
        optimizer.step()
    assert w.dtype == np.float32
    buffers = [v for v in optimizer.state[w].values() if hasattr(v, "dtype")]
    assert buffers and all(b.dtype == np.float32 for b in buffers)
    np.testing.assert_allclose(w.numpy(), reference()[-1], rtol=1e-5, atol=1e-6)


def rosenbrock_grad(p):
    x, y = p
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


@pytest.mark.parametrize("make, steps", [
    (lambda ps: Adam(ps, lr=0.02), 3000),
    (lambda ps: SGD(ps, lr=1e-3, momentum=0.9), 3000),
])
def test_rosenbrock_reaches_the_minimum(make, steps):
    w = mg.tensor(np.array([-1.5, 2.0]), requires_grad=True)
    optimizer = make([w])
    for _ in range(steps):
        w.grad = mg.tensor(rosenbrock_grad(w.numpy()))
        optimizer.step()
    np.testing.assert_allclose(w.numpy(), [1.0, 1.0], atol=1e-2)


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1),
    lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    lambda ps: Adagrad(ps, lr=0.5),
    lambda ps: RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    lambda ps: Adam(ps, lr=0.05, amsgrad=True),
    lambda ps: AdamW(ps, lr=0.05, weight_decay=0.0),
])
def test_quadratic_converges_through_autograd(make):
    # f(w) = 1/2 sum a (w - c)^2 has its minimum at c; a spreads the curvature over 1..4.
    a = mg.tensor(np.array([1.0, 2.0, 3.0, 4.0]))
    c = mg.tensor(np.array([1.0, -2.0, 0.5, 3.0]))
    w = mg.tensor(np.zeros(4), requires_grad=True)
    optimizer = make([w])

    def closure():
        optimizer.zero_grad()
        loss = (a * (w - c) ** 2).sum() * 0.5
        loss.backward()
        return loss

    for _ in range(400):
        optimizer.step(closure)
    np.testing.assert_allclose(w.numpy(), c.numpy(), atol=1e-3)
