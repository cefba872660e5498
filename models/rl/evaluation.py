"""Scoring a trained policy: many episodes in lockstep, one batched forward per step.

CartPole is "solved" when a policy averages a return of at least 475 over 100 episodes. Played
one after another, 100 episodes of up to 500 steps are 50,000 single-row forwards; played side
by side, they are at most 500 forwards of up to 100 rows, which is what :func:`evaluate` does.
"""
import numpy as np


def evaluate(make_env, act, episodes=100, seed=0, max_steps=None):
    """Run ``episodes`` episodes of ``act`` at once; returns their returns, shape (episodes,).

    Parameters
    ----------
    make_env : callable () -> gymnasium.Env
        Called once per episode; environment ``i`` is reset with ``seed + i``.
    act : callable (obs (B, *obs_shape)) -> actions (B,)
        Typically greedy: :func:`models.rl.policy_gradient.greedy_policy`, or a DQN's argmax.
    episodes : int, default 100
    seed : int, default 0
    max_steps : int or None, default None
        Stop every episode after this many steps (None: the environment's own limit).
    """
    if int(episodes) != episodes or episodes < 1:
        raise ValueError(f"evaluate: episodes must be a positive integer, got {episodes}")
    envs = [make_env() for _ in range(int(episodes))]
    obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    returns = np.zeros(len(envs))
    active = list(range(len(envs)))
    step = 0
    while active and (max_steps is None or step < max_steps):
        actions = act(np.stack([obs[i] for i in active]))
        still = []
        for i, action in zip(active, actions):
            obs[i], reward, terminated, truncated, _ = envs[i].step(int(action))
            returns[i] += reward
            if not (terminated or truncated):
                still.append(i)
        active, step = still, step + 1
    for env in envs:
        env.close()
    return returns
