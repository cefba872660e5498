"""The gridworld MDP, value iteration against hand-computed values, and Q-learning reaching them."""
import numpy as np
import pytest

from models.rl.gridworld import GridWorld, greedy_policy, q_learning, value_iteration


def test_value_iteration_deterministic_corridor_by_hand():
    # S . G with gamma 0.9 and a step cost 0.1: next to G, V = 1; at S, V = -0.1 + 0.9 * 1.
    env = GridWorld(["S.G"], step_reward=-0.1, slip=0.0)
    V, Q, _ = value_iteration(env.P, env.R, gamma=0.9)
    np.testing.assert_allclose(V, [0.8, 1.0, 0.0], atol=1e-7)
    # Moving left from S bumps the edge: -0.1 + 0.9 * V(S).
    np.testing.assert_allclose(Q[0, 3], -0.1 + 0.9 * 0.8, atol=1e-7)
    assert greedy_policy(Q)[:2].tolist() == [1, 1]  # both go right


def test_value_iteration_with_slip_by_hand():
    # In one row a sideways slip bumps a wall and stays put, with probability 0.2:
    # V1 = 0.8 * 1 + 0.2 * 0.9 * V1  ->  V1 = 0.8 / 0.82
    # V0 = 0.8 * 0.9 * V1 + 0.2 * 0.9 * V0  ->  V0 = 0.72 * V1 / 0.82
    env = GridWorld(["S.G"], step_reward=0.0, slip=0.2)
    V, _, _ = value_iteration(env.P, env.R, gamma=0.9)
    v1 = 0.8 / 0.82
    np.testing.assert_allclose(V, [0.72 * v1 / 0.82, v1, 0.0], atol=1e-7)


def test_value_iteration_deltas_shrink_by_gamma():
    env = GridWorld()
    _, _, deltas = value_iteration(env.P, env.R, gamma=0.9)
    assert deltas[-1] < 1e-8
    ratios = np.array(deltas[3:-1]) / np.array(deltas[2:-2])
    assert np.all(ratios <= 0.9 + 1e-9)


def test_transition_rows_are_distributions():
    env = GridWorld()
    sums = env.P.sum(axis=2)
    np.testing.assert_allclose(sums[~env.terminal], 1.0)
    assert np.all(sums[env.terminal] == 0.0)


def test_q_learning_reaches_value_iteration():
    env = GridWorld()
    V, Q_star, _ = value_iteration(env.P, env.R, gamma=0.9)
    Q, history = q_learning(env, episodes=2000, gamma=0.9, seed=0, reference_V=V)
    assert history["error"][-1] < 0.08 < history["error"][0]
    free = ~env.terminal
    assert np.array_equal(greedy_policy(Q)[free], greedy_policy(Q_star)[free])


def test_step_samples_the_model():
    env = GridWorld(["S.G"], step_reward=-0.1, slip=0.0)
    env.seed(0)
    assert env.reset() == 0
    assert env.step(1) == (1, -0.1, False)
    assert env.step(1) == (2, 1.0, True)
    with pytest.raises(RuntimeError, match="episode has ended"):
        env.step(1)


@pytest.mark.parametrize("layout, match", [(["S.", "S"], "one length"), (["S?G"], "unknown"),
                                           (["..G"], "start cell")])
def test_bad_layouts_are_clear_errors(layout, match):
    with pytest.raises(ValueError, match=match):
        GridWorld(layout)


def test_bad_arguments_are_clear_errors():
    env = GridWorld()
    with pytest.raises(ValueError, match="gamma"):
        value_iteration(env.P, env.R, gamma=1.0)
    with pytest.raises(ValueError, match="expected P"):
        value_iteration(env.P[0], env.R)
    with pytest.raises(ValueError, match="slip"):
        GridWorld(slip=1.5)
    env.reset()
    with pytest.raises(ValueError, match="action"):
        env.step(4)
