"""Policy gradients: the loss's parts, a step on a two-armed bandit, and the A2C loop."""
import numpy as np
import pytest

import minigrad as mg
from layers import Parameter
from models.rl.policy_gradient import (ActorCritic, policy_gradient_loss, reinforce_loss,
                                       sample_actions)
from optim import SGD


def bandit_step(logits, rng, entropy_coef=0.0, batch=64):
    """Pull arms from softmax(logits) (arm 1 pays 1, arm 0 pays 0), one REINFORCE step."""
    probs_before = np.exp(logits.data) / np.exp(logits.data).sum()
    actions = sample_actions(np.tile(logits.data, (batch, 1)), rng)
    rewards = (actions == 1).astype(np.float64)
    optimizer = SGD([logits], lr=0.5)
    batch_logits = logits.reshape(1, 2).expand(batch, 2)
    baseline = mg.zeros(batch)  # a constant baseline: plain REINFORCE
    loss, _ = reinforce_loss(batch_logits, actions, rewards, baseline, entropy_coef=entropy_coef)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    probs_after = np.exp(logits.data) / np.exp(logits.data).sum()
    return (probs_before, probs_after)


def test_a_step_on_a_two_armed_bandit_moves_toward_the_better_arm():
    rng = np.random.default_rng(0)
    logits = Parameter(mg.zeros(2))  # both arms equally likely
    before, after = bandit_step(logits, rng)
    assert after[1] > before[1] + 0.01
    for _ in range(30):
        bandit_step(logits, rng)
    _, final = bandit_step(logits, rng)
    assert final[1] > 0.95


def test_the_gradient_equals_the_score_function_formula():
    # d/dz of -mean(log softmax(z)[a] * A) is -mean((onehot(a) - softmax(z)) * A).
    rng = np.random.default_rng(1)
    z = rng.normal(size=(6, 3))
    actions = rng.integers(0, 3, size=6)
    advantages = rng.normal(size=6)
    logits = mg.tensor(z, requires_grad=True)
    loss, parts = policy_gradient_loss(logits, actions, advantages, entropy_coef=0.0)
    loss.backward()
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    expected = -(np.eye(3)[actions] - probs) * advantages[:, None] / 6
    np.testing.assert_allclose(logits.grad.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert parts["value"] == 0.0


def test_entropy_bonus_pushes_toward_uniform():
    logits = mg.tensor(np.array([[2.0, 0.0]]), requires_grad=True)
    loss, parts = policy_gradient_loss(logits, np.array([0]), np.zeros(1), entropy_coef=1.0)
    loss.backward()
    p = np.exp([2.0, 0.0]) / np.exp([2.0, 0.0]).sum()
    assert parts["entropy"] == pytest.approx(-(p * np.log(p)).sum(), rel=1e-5)
    grad = logits.grad.numpy()[0]
    assert grad[0] > 0 > grad[1]    # descent lowers the favoured logit, raises the other


def test_reinforce_baseline_is_regressed_on_the_returns():
    model = ActorCritic(3, 2, hidden_sizes=(8,))
    obs = mg.tensor(np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32))
    logits, values = model(obs)
    returns = np.arange(5.0)
    loss, parts = reinforce_loss(logits, np.zeros(5, dtype=int), returns, values)
    assert parts["value"] == pytest.approx(float(((values.numpy() - returns) ** 2).mean()),
                                           rel=1e-5)
    loss.backward()
    assert all(p.grad is not None for p in model.critic.parameters())


def test_sample_actions_follow_the_softmax():
    rng = np.random.default_rng(0)
    logits = np.tile(np.log([0.2, 0.5, 0.3]), (20_000, 1))
    counts = np.bincount(sample_actions(logits, rng), minlength=3) / 20_000
    np.testing.assert_allclose(counts, [0.2, 0.5, 0.3], atol=0.015)
    assert sample_actions(np.array([[0.0, 1000.0]]), rng).tolist() == [1]


def test_policy_gradient_loss_errors_are_clear():
    logits = mg.zeros(4, 2)
    with pytest.raises(ValueError, match=r"actions must be \(B,\) = \(4,\)"):
        policy_gradient_loss(logits, np.array([0, 1, 2, 0]), np.zeros(4))
    with pytest.raises(ValueError, match=r"advantages must have shape \(4,\)"):
        policy_gradient_loss(logits, np.zeros(4, dtype=int), np.zeros(3))


def test_a2c_and_reinforce_loops_run_on_cartpole():
    gym = pytest.importorskip("gymnasium", reason="the 'rl' extra (gymnasium) is not installed")
    from models.rl.policy_gradient import train_a2c, train_reinforce
    from optim import Adam
    mg.manual_seed(0)
    envs = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(2)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    model = ActorCritic(4, 2, hidden_sizes=(16,))
    optimizer = Adam(model.parameters(), lr=1e-3)
    history = train_a2c(envs, model, optimizer, total_steps=400, n_steps=8, anneal_lr=True)
    assert history and all(0 < ret <= 500 for _, ret in history)
    assert optimizer.param_groups[0]["lr"] < 1e-3
    history = train_reinforce(gym.make("CartPole-v1"), model, optimizer, total_steps=100)
    assert history[-1][0] >= 100 and sum(ret for _, ret in history) == history[-1][0]
