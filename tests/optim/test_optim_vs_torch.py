"""PyTorch as an oracle: 20-step trajectories of every optimizer and scheduler side by side.

The core checks are the hand-written references in the other files; this one only runs where
torch is installed.
"""
import math

import numpy as np
import pytest

import minigrad as mg
import optim
from optim import lr_scheduler

torch = pytest.importorskip("torch")

STEPS = 20
P0 = [np.linspace(-1.5, 2.0, 6).reshape(2, 3), np.array([0.3, -0.7])]


def gradient(p, k):
    """A bounded gradient that depends on where p is, as a real loss's would, plus a drift."""
    return np.sin(3.0 * p) + 0.5 * np.tanh(p) + 0.05 * math.cos(k)


def mine_trajectory(name, options, dtype):
    params = [mg.tensor(p.astype(dtype), requires_grad=True) for p in P0]
    optimizer = getattr(optim, name)([{"params": params[:1]}, {"params": params[1:], "lr": 0.02}],
                                     **options)
    out = []
    for k in range(STEPS):
        for p in params:
            p.grad = mg.tensor(gradient(p.numpy(), k).astype(dtype))
        optimizer.step()
        out.append([p.numpy().copy() for p in params])
    return out


def torch_trajectory(name, options, dtype):
    params = [torch.tensor(p.astype(dtype), requires_grad=True) for p in P0]
    optimizer = getattr(torch.optim, name)([{"params": params[:1]},
                                            {"params": params[1:], "lr": 0.02}], **options)
    out = []
    for k in range(STEPS):
        for p in params:
            p.grad = torch.tensor(gradient(p.detach().numpy(), k).astype(dtype))
        optimizer.step()
        out.append([p.detach().numpy().copy() for p in params])
    return out


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=1e-2)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=1e-2, initial_accumulator_value=0.3)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.7, centered=True, weight_decay=1e-2)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True, eps=1e-6)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True, maximize=True)),
]


@pytest.mark.parametrize("name, options", CONFIGS)
def test_optimizer_trajectories_match_torch(name, options):
    for step, (mine, theirs) in enumerate(zip(mine_trajectory(name, options, np.float64),
                                              torch_trajectory(name, options, np.float64))):
        for a, b in zip(mine, theirs):
            assert np.all(np.isfinite(a))
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"step {step}")


@pytest.mark.parametrize("name, options", [CONFIGS[1], CONFIGS[5], CONFIGS[7], CONFIGS[9]])
def test_float32_trajectories_match_torch(name, options):
    mine = mine_trajectory(name, options, np.float32)[-1]
    theirs = torch_trajectory(name, options, np.float32)[-1]
    for a, b in zip(mine, theirs):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def build_pair(build):
    """The same schedule on a minigrad and a torch optimizer, each with two groups."""
    ours = optim.SGD([{"params": [mg.tensor(np.zeros(1), requires_grad=True)]},
                      {"params": [mg.tensor(np.zeros(1), requires_grad=True)], "lr": 0.3}],
                     lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                              {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.3}],
                             lr=0.1, momentum=0.9)
    return (build(lr_scheduler, ours), build(torch.optim.lr_scheduler, theirs))


SCHEDULES = {
    "StepLR": lambda m, opt: m.StepLR(opt, step_size=4, gamma=0.5),
    "MultiStepLR": lambda m, opt: m.MultiStepLR(opt, [3, 7, 7, 12], gamma=0.3),
    "ExponentialLR": lambda m, opt: m.ExponentialLR(opt, gamma=0.85),
    "CosineAnnealingLR": lambda m, opt: m.CosineAnnealingLR(opt, T_max=7, eta_min=0.01),
    "LinearLR": lambda m, opt: m.LinearLR(opt, start_factor=0.1, end_factor=0.8, total_iters=6),
    "LambdaLR": lambda m, opt: m.LambdaLR(opt, [lambda e: 0.9 ** e, lambda e: 1 / (1 + e)]),
    "SequentialLR": lambda m, opt: m.SequentialLR(
        opt, [m.LinearLR(opt, 0.01, 1.0, 5), m.CosineAnnealingLR(opt, T_max=10),
              m.ExponentialLR(opt, 0.9)], milestones=[5, 15]),
    "ChainedScheduler": lambda m, opt: m.ChainedScheduler(
        [m.LinearLR(opt, 0.2, 1.0, 4), m.StepLR(opt, 3, 0.5), m.CosineAnnealingLR(opt, 6)]),
}


@pytest.mark.parametrize("kind", sorted(SCHEDULES))
def test_scheduler_sequences_match_torch(kind):
    ours, theirs = build_pair(SCHEDULES[kind])
    for epoch in range(STEPS + 1):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12,
                                   atol=1e-15, err_msg=f"epoch {epoch}")
        ours.optimizer.step()
        theirs.optimizer.step()
        ours.step()
        theirs.step()


def test_reduce_on_plateau_matches_torch():
    options = dict(mode="min", factor=0.5, patience=2, threshold=0.01, cooldown=1, min_lr=0.01)
    ours, theirs = build_pair(lambda m, opt: m.ReduceLROnPlateau(opt, **options))
    metrics = [5.0, 4.0, 3.99, 3.98, 3.97, 3.0, 3.0, 3.0, 3.0, 2.99, 2.0, 2.0, 2.0, 2.0, 2.0,
               2.0, 2.0, 2.0, 2.0, 2.0]
    for value in metrics:
        ours.step(value)
        theirs.step(value)
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
    assert ours.get_last_lr() != [0.1, 0.3]  # the metrics above do trigger reductions


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.5, math.inf])
def test_clip_grad_norm_matches_torch(norm_type):
    grads = [np.random.default_rng(4).normal(size=s) for s in [(3, 4), (5,)]]
    ours = [mg.tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = mg.tensor(g.copy()), torch.tensor(g.copy())
    total = optim.clip_grad_norm_(ours, 0.5, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 0.5, norm_type)
    assert total.item() == pytest.approx(expected.item(), rel=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
