"""Adadelta, Adamax, NAdam and RAdam against their recurrences written out here in NumPy.

The references are the published algorithms (the pseudo-code of PyTorch's documentation of
torch.optim), coded independently of ``optim``; gradients are fed by hand so that the rule is
tested alone. A few steps are also worked out by hand, and each rule trains a quadratic through
autograd. The comparison with PyTorch itself is at the end (``_vs_torch``).
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import optim
from optim import SGD, Adadelta, Adamax, NAdam, RAdam
from optim_trajectory import GRADS, P0, assert_trajectories, run


def adadelta_reference(p, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    v, u, out = np.zeros_like(p), np.zeros_like(p), []
    for g in grads:
        g = (-g if maximize else g) + weight_decay * p
        v = v * rho + g ** 2 * (1 - rho)
        dx = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = u * rho + dx ** 2 * (1 - rho)
        p = p - lr * dx
        out.append(p)
    return out


def adamax_reference(p, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                     maximize=False):
    (beta1, beta2), m, u, out = betas, np.zeros_like(p), np.zeros_like(p), []
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        u = np.maximum(beta2 * u, np.abs(g) + eps)
        p = p - lr * m / ((1 - beta1 ** t) * u)
        out.append(p)
    return out


def nadam_reference(p, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                    momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    (beta1, beta2), m, v, out = betas, np.zeros_like(p), np.zeros_like(p), []
    mus = [beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay)) for t in range(len(grads) + 2)]
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat = (mus[t + 1] * m / (1 - math.prod(mus[1:t + 2]))
                 + (1 - mus[t]) * g / (1 - math.prod(mus[1:t + 1])))
        v_hat = v / (1 - beta2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


def radam_reference(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                    decoupled_weight_decay=False, maximize=False):
    (beta1, beta2), m, v, out = betas, np.zeros_like(p), np.zeros_like(p), []
    rho_inf = 2 / (1 - beta2) - 1
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        m_hat = m / (1 - beta1 ** t)
        rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
        if rho_t > 5:
            l_t = math.sqrt(1 - beta2 ** t) / (np.sqrt(v) + eps)
            r_t = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                            / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p = p - lr * m_hat * r_t * l_t
        else:
            p = p - lr * m_hat
        out.append(p)
    return out


rates = st.floats(1e-4, 0.5)
decays = st.floats(0.0, 0.2)
betas = st.tuples(st.floats(0.0, 0.99), st.floats(0.0, 0.9999))


@given(lr=st.floats(1e-3, 2.0), rho=st.floats(0.0, 1.0), eps=st.floats(1e-8, 1e-2),
       weight_decay=decays, maximize=st.booleans())
def test_adadelta_matches_reference(device, lr, rho, eps, weight_decay, maximize):
    options = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
    assert_trajectories(run(lambda ps: Adadelta(ps, **options), device=device),
                        adadelta_reference(P0, GRADS, **options))


@given(lr=rates, betas=betas, eps=st.floats(1e-10, 1e-2), weight_decay=decays,
       maximize=st.booleans())
def test_adamax_matches_reference(device, lr, betas, eps, weight_decay, maximize):
    options = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
    assert_trajectories(run(lambda ps: Adamax(ps, **options), device=device),
                        adamax_reference(P0, GRADS, **options))


@given(lr=rates, betas=betas, eps=st.floats(1e-10, 1e-3), weight_decay=decays,
       momentum_decay=st.floats(0.0, 0.1), decoupled=st.booleans(), maximize=st.booleans())
def test_nadam_matches_reference(device, lr, betas, eps, weight_decay, momentum_decay,
                                 decoupled, maximize):
    options = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                   momentum_decay=momentum_decay, decoupled_weight_decay=decoupled,
                   maximize=maximize)
    assert_trajectories(run(lambda ps: NAdam(ps, **options), device=device),
                        nadam_reference(P0, GRADS, **options))


# beta2 from 0.3 (rho_inf < 5: never rectified) to 0.9999 (rectified from step 6 on for
# 0.999, later for larger ones), so both branches of the rule are drawn.
@given(lr=rates, betas=st.tuples(st.floats(0.0, 0.99), st.floats(0.3, 0.9999)),
       eps=st.floats(1e-10, 1e-3), weight_decay=decays, decoupled=st.booleans(),
       maximize=st.booleans())
def test_radam_matches_reference(device, lr, betas, eps, weight_decay, decoupled, maximize):
    options = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                   decoupled_weight_decay=decoupled, maximize=maximize)
    grads = GRADS * 2  # 16 steps: past the switch for beta2 up to about 0.995
    assert_trajectories(run(lambda ps: RAdam(ps, **options), grads=grads, device=device),
                        radam_reference(P0, grads, **options))


def test_adadelta_first_step_by_hand():
    # v = 0.1 g^2; delta = sqrt(eps) / sqrt(v + eps) * g; with eps = 0.01, g = 2: 0.3123.
    traj = run(lambda ps: Adadelta(ps, lr=1.0, eps=0.01), grads=[np.array([2.0, -4.0, 0.0])])
    expected = P0 - np.array([0.1 / math.sqrt(0.41) * 2, -0.1 / math.sqrt(1.61) * 4, 0.0])
    np.testing.assert_allclose(traj[0], expected, rtol=1e-12)


def test_adamax_first_step_moves_each_coordinate_by_about_lr():
    # m = (1 - beta1) g and u = |g| + eps, so the step is lr * g / (|g| + eps).
    traj = run(lambda ps: Adamax(ps, lr=0.1, eps=0.0), grads=[np.array([0.3, -2.0, 1e-3])])
    np.testing.assert_allclose(traj[0], P0 - 0.1 * np.array([1.0, -1.0, 1.0]), rtol=1e-12)


def test_radam_first_steps_are_plain_momentum_steps():
    # With beta2 = 0.999, rho_1 = 1999 - 2 * 0.999 / 0.001 = 1 <= 5: p <- p - lr * m_hat, and
    # m_hat = g on the first step.
    traj = run(lambda ps: RAdam(ps, lr=0.1), grads=GRADS[:1])
    np.testing.assert_allclose(traj[0], P0 - 0.1 * GRADS[0], rtol=1e-12)


def test_radam_without_rectification_is_sgd_when_beta1_is_zero():
    # beta2 = 0.5: rho_inf = 3 <= 5, so every step is p <- p - lr * g (m_hat = g for beta1 0).
    ours = run(lambda ps: RAdam(ps, lr=0.2, betas=(0.0, 0.5)))
    sgd = run(lambda ps: SGD(ps, lr=0.2))
    assert_trajectories(ours, sgd, rtol=1e-14)


def test_radam_switches_on_the_adaptive_step_when_rho_t_passes_5():
    rho = [1999 - 2 * t * 0.999 ** t / (1 - 0.999 ** t) for t in range(1, 9)]
    first = next(t for t, r in enumerate(rho, start=1) if r > 5)
    assert first == 6
    ours = run(lambda ps: RAdam(ps, lr=0.1))
    plain = run(lambda ps: RAdam(ps, lr=0.1, betas=(0.9, 0.5)))  # never rectified
    assert_trajectories(ours[:first - 1], plain[:first - 1], rtol=1e-14)
    assert not np.allclose(ours[first - 1], plain[first - 1], rtol=1e-3)


def test_nadam_momentum_decay_zero_keeps_mu_at_half_beta1():
    # psi = 0: 0.96^0 = 1, so mu_t = beta1 / 2 at every step; the reference with the same psi.
    options = dict(lr=0.05, momentum_decay=0.0)
    assert_trajectories(run(lambda ps: NAdam(ps, **options)),
                        nadam_reference(P0, GRADS, **options))
    opt = NAdam([mg.tensor(P0.copy(), requires_grad=True)], **options)
    p = opt.param_groups[0]["params"][0]
    for g in GRADS[:3]:
        p.grad = mg.tensor(g)
        opt.step()
    assert opt.state[p]["mu_product"] == pytest.approx(0.45 ** 3, rel=1e-14)


@pytest.mark.parametrize("make, reference", [
    (lambda ps: Adadelta(ps, lr=0.5, weight_decay=0.1), adadelta_reference),
    (lambda ps: Adamax(ps, lr=0.05), adamax_reference),
    (lambda ps: NAdam(ps, lr=0.05, decoupled_weight_decay=True, weight_decay=0.1),
     nadam_reference),
    (lambda ps: RAdam(ps, lr=0.05), radam_reference),
])
def test_float32_parameters_keep_float32_state(device, make, reference):
    w = mg.tensor(P0.astype(np.float32), device=device, requires_grad=True)
    opt = make([w])
    for g in GRADS:
        w.grad = mg.tensor(g.astype(np.float32), device=device)
        opt.step()
    assert w.data.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[w].values() if hasattr(v, "dtype"))
    expected = reference(P0, GRADS, **{k: v for k, v in opt.param_groups[0].items()
                                       if k != "params"})
    np.testing.assert_allclose(w.numpy(), expected[-1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make", [lambda ps: Adadelta(ps, lr=1.0, eps=1e-3),
                                  lambda ps: Adamax(ps, lr=0.05),
                                  lambda ps: NAdam(ps, lr=0.05),
                                  lambda ps: RAdam(ps, lr=0.05)])
def test_quadratic_converges_through_autograd(make):
    target = np.array([1.0, -2.0, 0.5])
    w = mg.tensor(np.zeros(3), requires_grad=True)
    opt = make([w])
    for _ in range(600):
        opt.zero_grad()
        ((w - mg.tensor(target)) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.numpy(), target, atol=2e-2)


@pytest.mark.parametrize("make, error, message", [
    (lambda ps: Adadelta(ps, rho=1.5), ValueError, r"Adadelta: invalid rho 1.5"),
    (lambda ps: Adadelta(ps, lr=-1.0), ValueError, r"Adadelta: invalid lr -1.0"),
    (lambda ps: Adamax(ps, betas=(1.0, 0.9)), ValueError, r"Adamax: invalid betas\[0\] 1.0"),
    (lambda ps: Adamax(ps, eps="small"), TypeError, r"Adamax: eps must be a real number"),
    (lambda ps: NAdam(ps, momentum_decay=-0.1), ValueError, r"NAdam: invalid momentum_decay"),
    (lambda ps: NAdam(ps, betas=0.9), TypeError, r"NAdam: betas must be a pair"),
    (lambda ps: RAdam(ps, betas=(0.9, -0.1)), ValueError, r"RAdam: invalid betas\[1\] -0.1"),
    (lambda ps: RAdam(ps, weight_decay=-1e-2), ValueError, r"RAdam: invalid weight_decay"),
])
def test_bad_hyper_parameters_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make([mg.tensor(P0.copy(), requires_grad=True)])


def test_the_new_rules_are_exported_from_optim():
    assert {"Adadelta", "Adamax", "NAdam", "RAdam", "LBFGS"} <= set(optim.__all__)
    assert optim.NAdam is NAdam and optim.RAdam is RAdam


TORCH_CONFIGS = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1, eps=1e-4)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
]


def gradient(p, k):
    """A bounded gradient that depends on where p is, as a real loss's would, plus a drift."""
    return np.sin(3.0 * p) + 0.5 * np.tanh(p) + 0.05 * math.cos(k)


@pytest.fixture
def torch64():
    """torch with float64 as its default dtype: NAdam keeps its momentum product in the
    default dtype, and in float32 it alone would part the trajectories after 7 digits."""
    torch = pytest.importorskip("torch")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(previous)


@pytest.mark.parametrize("name, options", TORCH_CONFIGS)
def test_twenty_step_trajectories_vs_torch(torch64, name, options):
    torch = torch64
    p0 = [np.linspace(-1.5, 2.0, 6).reshape(2, 3), np.array([0.3, -0.7])]
    ours = [mg.tensor(p.copy(), requires_grad=True) for p in p0]
    theirs = [torch.tensor(p.copy(), requires_grad=True) for p in p0]
    mine = getattr(optim, name)([{"params": ours[:1]}, {"params": ours[1:], "lr": 0.02}],
                                **options)
    reference = getattr(torch.optim, name)([{"params": theirs[:1]},
                                            {"params": theirs[1:], "lr": 0.02}], **options)
    for k in range(20):
        for p, q in zip(ours, theirs):
            p.grad = mg.tensor(gradient(p.numpy(), k))
            q.grad = torch.tensor(gradient(q.detach().numpy(), k))
        mine.step()
        reference.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{name} step {k}")
