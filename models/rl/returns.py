"""Returns and advantages of a rollout, for E environments at once.

A rollout is T steps of E environments: ``rewards[t, e]`` is the reward of step ``t``,
``dones[t, e]`` is 1 when that step ended the episode (so nothing after it belongs to the same
return), and ``values[t, e]`` is the critic's ``V(s_t)``. The value after the last step,
``last_value[e] = V(s_T)``, bootstraps what the rollout cut off. Each helper runs over time
(a return looks ahead) and is vectorised over the E environments; the n-step return is
vectorised over time as well, as a sum of n shifted arrays.

    discounted return   G_t = r_t + gamma * (1 - d_t) * G_{t+1}                  G_T = last_value
    n-step return       G_t = sum_{k<m} gamma^k r_{t+k} + gamma^m V(s_{t+m}),    m = min(n, T - t),
                        every term after a done dropped
    GAE(lambda)         delta_t = r_t + gamma * (1 - d_t) * V(s_{t+1}) - V(s_t)
                        A_t = delta_t + gamma * lambda * (1 - d_t) * A_{t+1}

GAE interpolates between the one-step TD error (lambda = 0: low variance, biased by the critic)
and the Monte Carlo return minus the baseline (lambda = 1: unbiased, high variance).

Notation
--------
T       rollout length (steps)
E       number of environments
"""
import numpy as np


def _check_rollout(op, rewards, dones, values=None, last_value=None):
    """Float64 arrays of shape (T, E) (a 1-D rollout becomes (T, 1)), checked; and 1-D flag."""
    rewards = np.asarray(rewards, dtype=np.float64)
    one_d = rewards.ndim == 1
    shape = rewards.shape
    if rewards.ndim not in (1, 2) or rewards.shape[0] == 0:
        raise ValueError(f"{op}: rewards must have shape (T,) or (T, E) with T >= 1, got "
                         f"{rewards.shape}")
    dones = np.asarray(dones, dtype=np.float64)
    if dones.shape != shape:
        raise ValueError(f"{op}: dones must have the rewards' shape {shape}, got {dones.shape}")
    arrays = [rewards.reshape(shape[0], -1), dones.reshape(shape[0], -1)]
    if values is not None:
        values = np.asarray(values, dtype=np.float64)
        if values.shape != shape:
            raise ValueError(f"{op}: values must have the rewards' shape {shape}, got "
                             f"{values.shape}")
        arrays.append(values.reshape(shape[0], -1))
    if last_value is None:
        last_value = np.zeros(shape[1:])
    last_value = np.asarray(last_value, dtype=np.float64)
    if last_value.shape != shape[1:]:
        raise ValueError(f"{op}: last_value must have shape {shape[1:]} (one per environment), "
                         f"got {last_value.shape}")
    arrays.append(last_value.reshape(-1))
    return (arrays, one_d)


def _check_gamma(op, gamma):
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"{op}: gamma must lie in [0, 1], got {gamma}")


def discounted_returns(rewards, dones, gamma=0.99, last_value=None):
    """``G_t = r_t + gamma * (1 - d_t) * G_{t+1}``, starting from ``G_T = last_value``.

    Parameters
    ----------
    rewards, dones : ndarray, shape (T,) or (T, E)
    gamma : float, default 0.99
    last_value : ndarray, shape () or (E,), optional
        ``V(s_T)``, the value of what follows the rollout; 0 when omitted (episodes complete).

    Returns
    -------
    ndarray, shape of ``rewards``, float64

    Examples
    --------
    >>> discounted_returns([1.0, 1.0, 1.0], [0, 0, 1], gamma=0.5).tolist()
    [1.75, 1.5, 1.0]
    """
    _check_gamma("discounted_returns", gamma)
    (rewards2, dones2, last), one_d = _check_rollout("discounted_returns", rewards, dones,
                                                    last_value=last_value)
    returns = np.zeros_like(rewards2)
    running = last
    for t in range(rewards2.shape[0] - 1, -1, -1):
        running = rewards2[t] + gamma * (1.0 - dones2[t]) * running
        returns[t] = running
    return returns[:, 0] if one_d else returns


def n_step_returns(rewards, values, dones, last_value, gamma=0.99, n=5):
    """``G_t = sum_{k<m} gamma^k r_{t+k} + gamma^m V(s_{t+m})`` with ``m = min(n, T - t)``.

    A done at step ``t + k`` stops the sum there and drops the bootstrap. Computed as n shifted
    copies of the rollout added up, so every t is done at once.

    Parameters
    ----------
    rewards, values, dones : ndarray, shape (T,) or (T, E)
        ``values[t] = V(s_t)``.
    last_value : ndarray, shape () or (E,)
        ``V(s_T)``.
    gamma : float, default 0.99
    n : int, default 5
        Steps before bootstrapping; ``n >= T`` gives the discounted return from the end.

    Returns
    -------
    ndarray, shape of ``rewards``, float64
    """
    _check_gamma("n_step_returns", gamma)
    if int(n) != n or n < 1:
        raise ValueError(f"n_step_returns: n must be a positive integer, got {n}")
    (rewards2, dones2, values2, last), one_d = _check_rollout(
        "n_step_returns", rewards, dones, values, last_value)
    T = rewards2.shape[0]
    # Pad one row past the end: V(s_T) = last_value, and rewards/dones beyond T never count.
    next_values = np.concatenate([values2, last[None]], axis=0)
    returns = np.zeros_like(rewards2)
    alive = np.ones_like(rewards2)      # 1 while no done has been met in [t, t + k)
    discount = 1.0
    t = np.arange(T)
    for k in range(int(n)):
        inside = t + k < T               # rows whose k-th step lies within the rollout
        rows = np.minimum(t + k, T - 1)
        step_alive = alive * inside[:, None]
        returns += discount * step_alive * rewards2[rows]
        alive = step_alive * (1.0 - dones2[rows])
        discount *= gamma
        ends_here = (t + k + 1 == T) | (k == int(n) - 1)  # bootstrap after m = min(n, T - t)
        returns += np.where(ends_here[:, None] & inside[:, None],
                            discount * alive * next_values[np.minimum(t + k + 1, T)], 0.0)
    return returns[:, 0] if one_d else returns


def gae(rewards, values, dones, last_value, gamma=0.99, lam=0.95):
    """Generalised advantage estimation, and the returns ``A_t + V(s_t)`` a critic regresses on.

    ``delta_t = r_t + gamma * (1 - d_t) * V(s_{t+1}) - V(s_t)`` and
    ``A_t = delta_t + gamma * lam * (1 - d_t) * A_{t+1}``, with ``V(s_T) = last_value``.

    Parameters
    ----------
    rewards, values, dones : ndarray, shape (T,) or (T, E)
    last_value : ndarray, shape () or (E,)
    gamma : float, default 0.99
    lam : float, default 0.95
        lambda in [0, 1]: 0 gives the TD error, 1 the discounted return minus V(s_t).

    Returns
    -------
    advantages : ndarray, shape of ``rewards``, float64
    returns : ndarray, shape of ``rewards``, float64
    """
    _check_gamma("gae", gamma)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"gae: lam must lie in [0, 1], got {lam}")
    (rewards2, dones2, values2, last), one_d = _check_rollout(
        "gae", rewards, dones, values, last_value)
    next_values = np.concatenate([values2[1:], last[None]], axis=0)
    not_done = 1.0 - dones2
    deltas = rewards2 + gamma * not_done * next_values - values2
    advantages = np.zeros_like(rewards2)
    running = np.zeros_like(last)
    for t in range(rewards2.shape[0] - 1, -1, -1):
        running = deltas[t] + gamma * lam * not_done[t] * running
        advantages[t] = running
    returns = advantages + values2
    if one_d:
        return (advantages[:, 0], returns[:, 0])
    return (advantages, returns)
