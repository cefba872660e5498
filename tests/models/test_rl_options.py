"""Each option of the RL pieces changes what it should, so none can be silently ignored."""
import numpy as np
import pytest

import minigrad as mg
from models import MLP
from models.rl.buffers import ReplayBuffer
from models.rl.dqn import DQN
from models.rl.gridworld import GridWorld, q_learning, value_iteration
from models.rl.policy_gradient import policy_gradient_loss
from optim import SGD


def test_gridworld_rewards_and_step_reward():
    env = GridWorld(["S.G"], step_reward=-0.5, slip=0.0, goal_reward=3.0)
    assert env.entry_reward.tolist() == [-0.5, -0.5, 3.0]
    V, _, _ = value_iteration(env.P, env.R, gamma=0.5)
    np.testing.assert_allclose(V, [-0.5 + 0.5 * 3.0, 3.0, 0.0])
    assert GridWorld(["SX"], pit_reward=-7.0).entry_reward[1] == -7.0


def test_value_iteration_tol_and_max_iterations():
    env = GridWorld()
    _, _, loose = value_iteration(env.P, env.R, tol=1e-2)
    _, _, tight = value_iteration(env.P, env.R, tol=1e-10)
    assert len(loose) < len(tight) and loose[-1] < 1e-2 <= loose[-2]
    assert len(value_iteration(env.P, env.R, max_iterations=3)[2]) == 3


def test_q_learning_exploring_starts_max_steps_epsilon_alpha():
    env = GridWorld()
    # From 'S' only, with no exploration, the cell beside the pit is never the start.
    starts = []
    original = env.reset

    def spy(state=None):
        starts.append(state)
        return original(state)
    env.reset = spy
    q_learning(env, episodes=30, exploring_starts=False)
    assert set(starts) == {None}
    starts.clear()
    q_learning(env, episodes=30, exploring_starts=True)
    assert len({int(s) for s in starts}) > 3
    _, history = q_learning(GridWorld(step_reward=-1.0, slip=0.0), episodes=5, max_steps=2,
                            exploring_starts=False)
    assert all(r >= -2.0 for r in history["returns"])   # two steps at most
    Q_zero_alpha, _ = q_learning(GridWorld(), episodes=20, alpha=0.0)
    assert np.all(Q_zero_alpha == 0.0)
    # epsilon = 1 and epsilon = 0 behave differently from the same seed.
    Q_random, _ = q_learning(GridWorld(), episodes=20, epsilon=1.0, seed=3)
    Q_greedy, _ = q_learning(GridWorld(), episodes=20, epsilon=0.0, seed=3)
    assert not np.allclose(Q_random, Q_greedy)


def test_replay_buffer_dtypes_and_action_shape():
    buffer = ReplayBuffer(4, obs_shape=(2, 2), obs_dtype=np.uint8, action_shape=(3,))
    buffer.add(np.full((2, 2), 7), [0.5, -1.0, 2.0], 1.0, np.zeros((2, 2)), True)
    batch = buffer.sample(2)
    assert batch["obs"].dtype == np.uint8 and batch["obs"].shape == (2, 2, 2)
    assert batch["actions"].dtype == np.float32 and batch["actions"].shape == (2, 3)
    np.testing.assert_array_equal(batch["actions"][0], [0.5, -1.0, 2.0])


def test_replay_buffer_eps_and_alpha_zero():
    buffer = ReplayBuffer(4, obs_shape=(1,), prioritized=True, alpha=0.0, eps=0.25, seed=0)
    for i in range(4):
        buffer.add([i], 0, 0.0, [i], False)
    buffer.update_priorities([0, 1], [0.0, 100.0])
    assert buffer.priorities[0] == 0.25
    counts = np.bincount(buffer.sample(8000)["indices"], minlength=4)
    assert counts.min() > 1800    # alpha = 0: uniform whatever the priorities


def make_agent(**kwargs):
    mg.manual_seed(0)
    q, t = MLP(3, [8], 2), MLP(3, [8], 2)
    return DQN(q, t, SGD(q.parameters(), lr=0.0), **kwargs)


def batch_of(scale):
    rng = np.random.default_rng(0)
    return {"obs": rng.normal(size=(8, 3)).astype(np.float32), "actions": np.zeros(8, int),
            "rewards": np.full(8, scale, np.float32), "next_obs": np.zeros((8, 3), np.float32),
            "dones": np.ones(8, np.float32), "weights": np.ones(8, np.float32)}


def test_dqn_huber_delta_and_max_grad_norm_and_gamma():
    batch = batch_of(100.0)   # errors near 100: on Huber's linear part
    loss_1, td = make_agent(huber_delta=1.0).update(batch)
    np.testing.assert_allclose(loss_1, np.mean(np.abs(td) - 0.5), rtol=1e-4)
    loss_big, td = make_agent(huber_delta=1000.0).update(batch)
    np.testing.assert_allclose(loss_big, np.mean(0.5 * td ** 2), rtol=1e-4)
    clipped = make_agent(max_grad_norm=0.01)
    clipped.update(batch)
    norm = np.sqrt(sum(float((p.grad.data ** 2).sum()) for p in clipped.q_net.parameters()))
    assert norm == pytest.approx(0.01, rel=1e-3)
    free = make_agent(max_grad_norm=None)
    free.update(batch)
    assert np.sqrt(sum(float((p.grad.data ** 2).sum()) for p in free.q_net.parameters())) > 1
    agent = make_agent(gamma=0.0)
    np.testing.assert_allclose(agent.targets(np.ones(2), np.ones((2, 3)), np.zeros(2)), 1.0)


def test_dqn_importance_weights_scale_the_loss():
    batch = batch_of(1.0)
    loss, _ = make_agent().update(batch)
    batch["weights"] = np.full(8, 2.0, np.float32)
    doubled, _ = make_agent().update(batch)
    assert doubled == pytest.approx(2 * loss, rel=1e-5)


def test_policy_gradient_loss_value_coef():
    logits = mg.zeros(3, 2)
    values = mg.tensor(np.array([1.0, 2.0, 3.0]))
    base, _ = policy_gradient_loss(logits, np.zeros(3, int), np.zeros(3), values, np.zeros(3),
                                   value_coef=0.0, entropy_coef=0.0)
    with_value, parts = policy_gradient_loss(logits, np.zeros(3, int), np.zeros(3), values,
                                             np.zeros(3), value_coef=2.0, entropy_coef=0.0)
    assert parts["value"] == pytest.approx(14.0 / 3)
    assert with_value.item() - base.item() == pytest.approx(2.0 * 14.0 / 3, rel=1e-5)


def test_evaluate_max_steps_and_episodes():
    gym = pytest.importorskip("gymnasium", reason="the 'rl' extra (gymnasium) is not installed")
    from models.rl.evaluation import evaluate
    returns = evaluate(lambda: gym.make("CartPole-v1"), lambda obs: (obs[:, 2] > 0).astype(int),
                       episodes=4, max_steps=5)
    assert returns.shape == (4,) and np.all(returns == 5.0)
    full = evaluate(lambda: gym.make("CartPole-v1"), lambda obs: np.zeros(len(obs), int),
                    episodes=3)
    assert np.all((full > 5) & (full < 30))   # always pushing left falls within a few steps
    with pytest.raises(ValueError, match="episodes"):
        evaluate(lambda: gym.make("CartPole-v1"), None, episodes=0)
