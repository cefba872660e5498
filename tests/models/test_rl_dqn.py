"""DQN: schedules, epsilon-greedy, exact target-network updates, targets and a learning step."""
import copy

import numpy as np
import pytest

import minigrad as mg
from models import MLP
from models.rl.buffers import ReplayBuffer
from models.rl.dqn import (DQN, LinearSchedule, clip_grad_norm, epsilon_greedy, hard_update,
                           soft_update)
from optim import SGD


def params(net):
    return [p.data.copy() for p in net.parameters()]


def make_nets(seed=0):
    mg.manual_seed(seed)
    return MLP(3, [8], 2), MLP(3, [8], 2)


def test_hard_update_is_an_exact_copy_and_keeps_the_target_independent():
    online, target = make_nets()
    hard_update(target, online)
    for t, s in zip(params(target), params(online)):
        np.testing.assert_array_equal(t, s)
    next(iter(online.parameters())).data += 1.0
    assert not np.array_equal(params(target)[0], params(online)[0])


def test_soft_update_is_exact_polyak():
    online, target = make_nets()
    before_t, before_s = params(target), params(online)
    soft_update(target, online, tau=0.25)
    for after, t, s in zip(params(target), before_t, before_s):
        np.testing.assert_allclose(after, 0.25 * s + 0.75 * t, rtol=1e-6, atol=1e-7)
    soft_update(target, online, tau=1.0)
    for after, s in zip(params(target), before_s):
        np.testing.assert_array_equal(after, s)


def filled(seed=0, n=64):
    rng = np.random.default_rng(seed)
    buffer = ReplayBuffer(n, obs_shape=(3,), seed=seed)
    for _ in range(n):
        buffer.add(rng.normal(size=3), rng.integers(2), rng.normal(), rng.normal(size=3),
                   rng.random() < 0.2)
    return buffer


def test_target_network_copied_every_c_updates_exactly():
    online, target = make_nets()
    agent = DQN(online, target, SGD(online.parameters(), lr=0.1), target_update=3)
    buffer = filled()
    start = params(target)
    for step in range(1, 7):
        agent.update(buffer.sample(16))
        if step % 3 == 0:
            for t, s in zip(params(target), params(online)):
                np.testing.assert_array_equal(t, s)
            start = params(target)
        else:
            for t, s in zip(params(target), start):
                np.testing.assert_array_equal(t, s)  # untouched between copies


def test_polyak_target_follows_each_update_exactly():
    online, target = make_nets()
    agent = DQN(online, target, SGD(online.parameters(), lr=0.1), tau=0.1)
    buffer = filled()
    for _ in range(3):
        before = params(target)
        agent.update(buffer.sample(16))
        for after, t, s in zip(params(target), before, params(online)):
            np.testing.assert_allclose(after, 0.1 * s + 0.9 * t, rtol=1e-6, atol=1e-7)


def test_targets_plain_and_double_by_hand():
    online, target = make_nets(1)
    agent = DQN(online, target, SGD(online.parameters(), lr=0.1), gamma=0.5)
    next(iter(target.parameters())).data *= -1.0   # make the two networks disagree
    next_obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    rewards, dones = np.arange(5.0), np.array([0, 1, 0, 0, 1.0])
    q_target = target(mg.tensor(next_obs)).numpy()
    q_online = online(mg.tensor(next_obs)).numpy()
    expected = rewards + 0.5 * (1 - dones) * q_target.max(axis=1)
    np.testing.assert_allclose(agent.targets(rewards, next_obs, dones), expected, rtol=1e-6)
    agent.double = True
    chosen = q_online.argmax(axis=1)
    expected = rewards + 0.5 * (1 - dones) * q_target[np.arange(5), chosen]
    np.testing.assert_allclose(agent.targets(rewards, next_obs, dones), expected, rtol=1e-6)


def test_update_reduces_the_td_error_on_a_fixed_batch():
    online, target = make_nets(2)
    agent = DQN(online, target, SGD(online.parameters(), lr=0.2), target_update=10_000)
    batch = filled(3).sample(32)
    first, _ = agent.update(batch)
    for _ in range(300):
        last, td = agent.update(batch)
    assert last < 0.5 * first
    assert td.shape == (32,)


def test_epsilon_greedy_and_schedule():
    rng = np.random.default_rng(0)
    q = np.tile([0.0, 1.0, 0.5], (4000, 1))
    assert np.all(epsilon_greedy(q, 0.0, rng) == 1)
    actions = epsilon_greedy(q, 0.3, rng)
    # greedy with 0.7, plus a third of the random 0.3: P(a = 1) = 0.8.
    assert abs((actions == 1).mean() - 0.8) < 0.03
    schedule = LinearSchedule(1.0, 0.05, 100)
    assert schedule(0) == 1.0 and schedule(100) == schedule(1000) == pytest.approx(0.05)
    assert schedule(50) == pytest.approx(0.525)


def test_clip_grad_norm_scales_to_the_limit():
    online, _ = make_nets()
    for p in online.parameters():
        p.grad = mg.ones(*p.shape)
    count = sum(p.data.size for p in online.parameters())
    assert clip_grad_norm(online.parameters(), 1.0) == pytest.approx(np.sqrt(count), rel=1e-6)
    total = np.sqrt(sum(float((p.grad.data ** 2).sum()) for p in online.parameters()))
    assert total == pytest.approx(1.0, rel=1e-4)


def test_dqn_errors_are_clear():
    online, target = make_nets()
    with pytest.raises(ValueError, match="same parameter shapes"):
        hard_update(MLP(3, [4], 2), online)
    with pytest.raises(ValueError, match="tau"):
        soft_update(target, online, 1.5)
    with pytest.raises(ValueError, match="epsilon"):
        epsilon_greedy(np.zeros((2, 2)), 2.0, np.random.default_rng())
    with pytest.raises(ValueError, match=r"shape \(E, A\)"):
        epsilon_greedy(np.zeros(2), 0.1, np.random.default_rng())
    with pytest.raises(ValueError, match="target_update"):
        DQN(online, copy.deepcopy(online), None, target_update=0)
    with pytest.raises(ValueError, match="duration"):
        LinearSchedule(1.0, 0.0, 0)
