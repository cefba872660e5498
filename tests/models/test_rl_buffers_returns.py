"""Replay buffer sampling and the return/advantage helpers, each against a plain loop."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from models.rl.buffers import ReplayBuffer
from models.rl.returns import discounted_returns, gae, n_step_returns

# Upper 0.1% point of the chi-square distribution with 29 degrees of freedom (tables).
CHI2_29_999 = 58.30


def chi_square(counts, expected):
    return float(((counts - expected) ** 2 / expected).sum())


def filled_buffer(capacity, count, **kwargs):
    buffer = ReplayBuffer(capacity, obs_shape=(2,), **kwargs)
    for i in range(count):
        # Slot contents name the transition: obs = (i + 1, i + 1); empty slots are zeros.
        buffer.add([i + 1.0, i + 1.0], i % 3, float(i), [i + 2.0, i + 2.0], i % 7 == 0)
    return buffer


def test_uniform_sampling_passes_chi_square():
    buffer = filled_buffer(50, 30, seed=0)
    batch = buffer.sample(30_000)
    counts = np.bincount(batch["indices"], minlength=50)
    assert counts[30:].sum() == 0                      # never an unfilled slot
    assert chi_square(counts[:30], 1000.0) < CHI2_29_999
    np.testing.assert_array_equal(batch["weights"], 1.0)


def test_sampling_a_skewed_draw_fails_the_same_test():
    # The test has power: drawing slot 0 twice as often is rejected.
    rng = np.random.default_rng(0)
    probs = np.full(30, 1.0)
    probs[0] = 2.0
    counts = np.bincount(rng.choice(30, 30_000, p=probs / probs.sum()), minlength=30)
    assert chi_square(counts, 1000.0) > CHI2_29_999


def test_samples_hold_what_was_added_and_never_unfilled_slots():
    buffer = filled_buffer(10, 4, seed=1)
    batch = buffer.sample(500)
    assert set(batch["obs"][:, 0].tolist()) <= {1.0, 2.0, 3.0, 4.0}
    i = batch["obs"][:, 0].astype(int) - 1
    np.testing.assert_array_equal(batch["rewards"], i)
    np.testing.assert_array_equal(batch["actions"], i % 3)
    np.testing.assert_array_equal(batch["next_obs"][:, 0], i + 2)
    np.testing.assert_array_equal(batch["dones"], (i % 7 == 0).astype(np.float32))


def test_ring_overwrites_the_oldest():
    buffer = filled_buffer(5, 7, seed=0)
    assert len(buffer) == 5 and buffer.position == 2
    assert sorted(buffer.obs[:, 0].tolist()) == [3.0, 4.0, 5.0, 6.0, 7.0]


def test_batched_add_wraps_around():
    buffer = ReplayBuffer(4, obs_shape=(1,))
    buffer.add(np.arange(3.0)[:, None], [0, 1, 2], [0.0, 1.0, 2.0], np.zeros((3, 1)), [0, 0, 1])
    buffer.add(np.arange(3.0, 6.0)[:, None], [3, 4, 5], [3.0, 4.0, 5.0], np.zeros((3, 1)),
               [0, 0, 0])
    assert len(buffer) == 4 and buffer.position == 2
    np.testing.assert_array_equal(buffer.rewards, [4.0, 5.0, 2.0, 3.0])


def test_prioritized_sampling_follows_priorities_and_weights():
    buffer = filled_buffer(40, 30, prioritized=True, alpha=1.0, seed=0)
    priorities = np.arange(1, 31, dtype=np.float64)
    buffer.update_priorities(np.arange(30), priorities)
    batch = buffer.sample(60_000, beta=1.0)
    probs = (priorities + buffer.eps) / (priorities + buffer.eps).sum()
    counts = np.bincount(batch["indices"], minlength=40)
    assert counts[30:].sum() == 0
    assert chi_square(counts[:30], 60_000 * probs) < CHI2_29_999
    # w_i = (N P(i))^-beta / max_k w_k: with beta = 1, the lowest-priority slot weighs 1.
    expected = (30 * probs[batch["indices"]]) ** -1.0 / (30 * probs.min()) ** -1.0
    np.testing.assert_allclose(batch["weights"], expected, rtol=1e-5)


def test_new_transitions_get_the_largest_priority():
    buffer = filled_buffer(10, 3, prioritized=True, seed=0)
    buffer.update_priorities([0], [5.0])
    buffer.add([9.0, 9.0], 0, 0.0, [0.0, 0.0], False)
    assert buffer.priorities[3] == pytest.approx(5.0 + buffer.eps)


def test_buffer_errors_are_clear():
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(0, obs_shape=(2,))
    buffer = ReplayBuffer(3, obs_shape=(2,))
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(1)
    with pytest.raises(ValueError, match=r"obs must have shape \(2,\)"):
        buffer.add([1.0, 2.0, 3.0], 0, 0.0, [0.0, 0.0, 0.0], False)
    buffer.add([1.0, 2.0], 0, 0.0, [0.0, 0.0], False)
    with pytest.raises(ValueError, match="batch_size"):
        buffer.sample(0)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 1\)"):
        buffer.update_priorities([2], [1.0])


def loop_discounted(rewards, dones, gamma, last):
    T, E = rewards.shape
    out = np.zeros((T, E))
    for e in range(E):
        for t in range(T):
            total, discount = 0.0, 1.0
            for k in range(t, T):
                total += discount * rewards[k, e]
                if dones[k, e]:
                    break
                discount *= gamma
            else:
                total += discount * last[e]
            out[t, e] = total
    return out


def loop_n_step(rewards, values, dones, last, gamma, n):
    T, E = rewards.shape
    out = np.zeros((T, E))
    for e in range(E):
        for t in range(T):
            total, discount, ended = 0.0, 1.0, False
            for k in range(t, min(t + n, T)):
                total += discount * rewards[k, e]
                discount *= gamma
                if dones[k, e]:
                    ended = True
                    break
            if not ended:
                end = min(t + n, T)
                total += discount * (last[e] if end == T else values[end, e])
            out[t, e] = total
    return out


def loop_gae(rewards, values, dones, last, gamma, lam):
    T, E = rewards.shape
    out = np.zeros((T, E))
    for e in range(E):
        for t in range(T):
            total, weight = 0.0, 1.0
            for k in range(t, T):
                v_next = last[e] if k + 1 == T else values[k + 1, e]
                delta = rewards[k, e] + gamma * (1 - dones[k, e]) * v_next - values[k, e]
                total += weight * delta
                if dones[k, e]:
                    break
                weight *= gamma * lam
            out[t, e] = total
    return out


rollouts = st.tuples(st.integers(1, 12), st.integers(1, 4), st.integers(0, 10_000))


def make_rollout(T, E, seed):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(T, E)), rng.normal(size=(T, E)),
            (rng.random((T, E)) < 0.25).astype(np.float64), rng.normal(size=E))


@settings(max_examples=40, deadline=None)
@given(rollouts, st.floats(0.0, 1.0))
def test_discounted_returns_match_loop(shape_seed, gamma):
    rewards, _, dones, last = make_rollout(*shape_seed)
    np.testing.assert_allclose(discounted_returns(rewards, dones, gamma, last),
                               loop_discounted(rewards, dones, gamma, last), atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(rollouts, st.floats(0.0, 1.0), st.integers(1, 15))
def test_n_step_returns_match_loop(shape_seed, gamma, n):
    rewards, values, dones, last = make_rollout(*shape_seed)
    np.testing.assert_allclose(n_step_returns(rewards, values, dones, last, gamma, n),
                               loop_n_step(rewards, values, dones, last, gamma, n), atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(rollouts, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_gae_matches_loop(shape_seed, gamma, lam):
    rewards, values, dones, last = make_rollout(*shape_seed)
    advantages, returns = gae(rewards, values, dones, last, gamma, lam)
    np.testing.assert_allclose(advantages, loop_gae(rewards, values, dones, last, gamma, lam),
                               atol=1e-10)
    np.testing.assert_allclose(returns, advantages + values)


def test_gae_limits_are_td_error_and_monte_carlo():
    rewards, values, dones, last = make_rollout(9, 3, 7)
    advantages0, _ = gae(rewards, values, dones, last, 0.9, lam=0.0)
    next_values = np.concatenate([values[1:], last[None]])
    np.testing.assert_allclose(advantages0, rewards + 0.9 * (1 - dones) * next_values - values)
    advantages1, _ = gae(rewards, values, dones, last, 0.9, lam=1.0)
    np.testing.assert_allclose(advantages1,
                               discounted_returns(rewards, dones, 0.9, last) - values)
    # n >= T makes the n-step return the full discounted return.
    np.testing.assert_allclose(n_step_returns(rewards, values, dones, last, 0.9, n=9),
                               discounted_returns(rewards, dones, 0.9, last))


def test_one_dimensional_rollouts_keep_their_shape():
    assert discounted_returns([1.0, 1.0], [0, 0], 0.5, last_value=4.0).tolist() == [2.5, 3.0]
    advantages, returns = gae([1.0], [0.5], [1], 0.0, 0.9, 0.9)
    assert advantages.tolist() == [0.5] and returns.tolist() == [1.0]


def test_return_errors_are_clear():
    with pytest.raises(ValueError, match=r"gae: dones must have the rewards' shape \(3,\)"):
        gae(np.zeros(3), np.zeros(3), np.zeros(2), 0.0)
    with pytest.raises(ValueError, match="last_value must have shape"):
        n_step_returns(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="gamma"):
        discounted_returns(np.zeros(3), np.zeros(3), gamma=1.5)
    with pytest.raises(ValueError, match="n must be"):
        n_step_returns(np.zeros(3), np.zeros(3), np.zeros(3), 0.0, n=0)
