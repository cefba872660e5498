"""Policy gradients: REINFORCE with a learned baseline, and advantage actor-critic (A2C).

A stochastic policy ``pi(a | s; theta)`` (here a softmax over an MLP's logits) is improved by
gradient ascent on the expected return. The policy-gradient theorem turns that gradient into an
average that samples can estimate:

    grad J = E[ grad log pi(a_t | s_t) * A_t ]

where ``A_t`` says how much better the action was than usual. REINFORCE uses the Monte Carlo
return minus a learned baseline, ``A_t = G_t - V(s_t)``: any baseline that does not depend on
the action leaves the gradient unbiased and cuts its variance. A2C runs E environments side by
side for n steps and bootstraps: ``A_t`` is GAE(lambda) of the critic's TD errors, so it learns
from partial episodes. Both minimise one loss per batch,

    loss = -mean(log pi(a | s) * A) + value_coef * mean((V(s) - G)^2)
           - entropy_coef * mean(H(pi(. | s)))

with ``A`` treated as a constant (no gradient flows into the critic through the policy term);
the entropy bonus keeps the policy from collapsing onto one action too early.

The training loops take the environments and the optimiser as arguments (``models`` does not
import ``optim``; the environments are ``gymnasium``'s or anything with the same methods).

Notation
--------
B       batch size (steps in the update)
A       number of actions
T       rollout length, E number of environments
"""
import numpy as np

import minigrad as mg
import minigrad.functional as F
from layers import Module
from models.mlp import MLP
from models.rl.dqn import clip_grad_norm
from models.rl.returns import discounted_returns, gae


class ActorCritic(Module):
    """Two MLPs on the observation: a policy head (logits, A) and a value head (1).

    Separate bodies keep the critic's large regression gradients out of the policy's features.

    Parameters
    ----------
    obs_size : int
    n_actions : int
    hidden_sizes : sequence of int, default (64, 64)
    activation : str, default 'tanh'
    """

    def __init__(self, obs_size, n_actions, hidden_sizes=(64, 64), activation="tanh"):
        super().__init__()
        self.actor = MLP(obs_size, list(hidden_sizes), n_actions, activation=activation)
        self.critic = MLP(obs_size, list(hidden_sizes), 1, activation=activation)

    def forward(self, obs):
        """``obs`` (B, obs_size) -> ``(logits (B, A), values (B,))``."""
        return (self.actor(obs), self.critic(obs).reshape(-1))


def sample_actions(logits, rng):
    """One action per row of ``logits`` (B, A), drawn from softmax(logits); returns (B,) int64."""
    logits = np.asarray(logits, dtype=np.float64)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))  # shift: exp never overflows
    probs /= probs.sum(axis=1, keepdims=True)
    # Inverse-CDF sampling, a row at a time: the first action whose cumulative mass passes u.
    u = rng.random((logits.shape[0], 1))
    return np.minimum((probs.cumsum(axis=1) < u).sum(axis=1), logits.shape[1] - 1)


def policy_gradient_loss(logits, actions, advantages, values=None, returns=None,
                         value_coef=0.5, entropy_coef=0.01):
    """The actor-critic loss above, and its parts for logging.

    Parameters
    ----------
    logits : Tensor, shape (B, A)
    actions : ndarray of int, shape (B,)
    advantages : ndarray, shape (B,)
        Treated as constants.
    values : Tensor, shape (B,), optional
        The critic's ``V(s)``; with ``returns``, adds the value regression term.
    returns : ndarray, shape (B,), optional
    value_coef : float, default 0.5
    entropy_coef : float, default 0.01

    Returns
    -------
    loss : Tensor, one element
    parts : dict of float
        ``policy``, ``value``, ``entropy``.
    """
    B, A = logits.shape
    actions = np.asarray(actions)
    if actions.shape != (B,) or (B and (actions.min() < 0 or actions.max() >= A)):
        raise ValueError(f"policy_gradient_loss: actions must be (B,) = ({B},) integers in "
                         f"[0, {A}), got shape {actions.shape}")
    if np.shape(advantages) != (B,):
        raise ValueError(f"policy_gradient_loss: advantages must have shape ({B},), got "
                         f"{np.shape(advantages)}")
    device = logits.device
    log_probs = F.log_softmax(logits, dim=1)
    log_taken = log_probs[np.arange(B), actions]
    weights = mg.tensor(np.asarray(advantages, dtype=np.float32), device=device)
    policy = -(log_taken * weights).mean()
    entropy = -(log_probs.exp() * log_probs).sum(dim=1).mean()
    loss = policy - entropy_coef * entropy
    parts = {"policy": float(policy.item()), "entropy": float(entropy.item()), "value": 0.0}
    if values is not None and returns is not None:
        target = mg.tensor(np.asarray(returns, dtype=np.float32), device=device)
        value = F.mse_loss(values, target)
        loss = loss + value_coef * value
        parts["value"] = float(value.item())
    return (loss, parts)


def reinforce_loss(logits, actions, returns, values, value_coef=0.5, entropy_coef=0.01):
    """REINFORCE with a learned baseline: advantages ``G_t - V(s_t)``, and V regressed on G.

    Parameters
    ----------
    logits : Tensor, shape (B, A)
    actions : ndarray of int, shape (B,)
    returns : ndarray, shape (B,)
        Monte Carlo returns ``G_t`` of the episode(s).
    values : Tensor, shape (B,)
        The baseline ``V(s_t)``; pass zeros (a constant Tensor) for plain REINFORCE.
    """
    returns = np.asarray(returns, dtype=np.float64)
    advantages = returns - values.numpy()
    return policy_gradient_loss(logits, actions, advantages, values,
                                returns if values.requires_grad else None,
                                value_coef=value_coef, entropy_coef=entropy_coef)


def _device_of(model):
    return next(iter(model.parameters())).device


def _step_model(model, optimizer, loss, max_grad_norm):
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        clip_grad_norm(model.parameters(), max_grad_norm)
    optimizer.step()


def train_reinforce(env, model, optimizer, total_steps, gamma=0.99, value_coef=0.5,
                    entropy_coef=0.01, max_grad_norm=1.0, seed=0, on_episode=None):
    """REINFORCE with a learned baseline: one update per complete episode.

    Parameters
    ----------
    env : gymnasium.Env
        Discrete actions; ``reset(seed=)`` and ``step(a)`` with gymnasium's five results.
    model : ActorCritic
    optimizer : Optimizer on ``model.parameters()``
    total_steps : int
        Environment steps to run (the last episode may finish past it).
    gamma, value_coef, entropy_coef, max_grad_norm : see :func:`policy_gradient_loss`
    seed : int, default 0
    on_episode : callable (step, episode_return) or None
        Called as each episode ends.

    Returns
    -------
    list of (int, float)
        ``(environment steps so far, episode return)`` per episode.
    """
    rng = np.random.default_rng(seed)
    device = _device_of(model)
    history, steps = [], 0
    obs, _ = env.reset(seed=seed)
    while steps < total_steps:
        observations, actions, rewards = [], [], []
        done = False
        while not done:
            with mg.no_grad():
                logits, _ = model(mg.tensor(np.asarray(obs, np.float32)[None], device=device))
            action = int(sample_actions(logits.numpy(), rng)[0])
            observations.append(obs)
            actions.append(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            rewards.append(reward)
            done = terminated or truncated
            steps += 1
        obs, _ = env.reset()
        ends = np.zeros(len(rewards))
        ends[-1] = 1.0
        returns = discounted_returns(np.asarray(rewards), ends, gamma)
        logits, values = model(mg.tensor(np.asarray(observations, np.float32), device=device))
        loss, _ = reinforce_loss(logits, np.asarray(actions), returns, values,
                                 value_coef=value_coef, entropy_coef=entropy_coef)
        _step_model(model, optimizer, loss, max_grad_norm)
        history.append((steps, float(np.sum(rewards))))
        if on_episode is not None:
            on_episode(steps, history[-1][1])
    return history


def train_a2c(envs, model, optimizer, total_steps, n_steps=16, gamma=0.99, lam=0.95,
              value_coef=0.5, entropy_coef=0.01, max_grad_norm=0.5, normalize_advantages=True,
              anneal_lr=False, seed=0, on_episode=None):
    """Advantage actor-critic over E environments stepped together.

    Each update uses a rollout of ``n_steps`` steps of every environment (``n_steps * E``
    transitions) with GAE(lambda) advantages. An episode cut by a time limit (``truncated``)
    is not a real end: its last reward gets ``gamma * V(final observation)`` added, so the
    return is bootstrapped rather than treated as zero from there on.

    Parameters
    ----------
    envs : gymnasium.vector.VectorEnv
        Built with ``autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP``, so a finished
        environment restarts in the same step and ``info['final_obs']`` holds its last
        observation. Observations are flat vectors (E, obs_size).
    model : ActorCritic
    optimizer : Optimizer on ``model.parameters()``
    total_steps : int
        Environment steps over all E environments.
    n_steps : int, default 16
    gamma, lam : float, default 0.99 and 0.95
    value_coef, entropy_coef, max_grad_norm : see :func:`policy_gradient_loss`
    normalize_advantages : bool, default True
        Scale each batch's advantages to mean 0 and std 1 (a per-batch step-size control).
    anneal_lr : bool, default False
        Lower every parameter group's learning rate linearly to 0 at ``total_steps``: late
        updates then only polish, so a good policy is not knocked off by one noisy batch.
    seed : int, default 0
    on_episode : callable (step, episode_return) or None

    Returns
    -------
    list of (int, float)
        ``(environment steps so far, episode return)`` per finished episode.
    """
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"train_a2c: n_steps must be a positive integer, got {n_steps}")
    rng = np.random.default_rng(seed)
    device = _device_of(model)
    E = envs.num_envs
    obs, _ = envs.reset(seed=seed)
    running_return = np.zeros(E)
    history, steps = [], 0
    base_lrs = [group["lr"] for group in optimizer.param_groups]

    def critic(batch):
        with mg.no_grad():
            return model(mg.tensor(np.asarray(batch, np.float32), device=device))

    while steps < total_steps:
        observations = np.zeros((n_steps, E, *obs.shape[1:]), dtype=np.float32)
        actions = np.zeros((n_steps, E), dtype=np.int64)
        rewards = np.zeros((n_steps, E))
        dones = np.zeros((n_steps, E))
        values = np.zeros((n_steps, E))
        for t in range(n_steps):
            logits, value = critic(obs)
            action = sample_actions(logits.numpy(), rng)
            next_obs, reward, terminated, truncated, info = envs.step(action)
            observations[t], actions[t], values[t] = obs, action, value.numpy()
            rewards[t], dones[t] = reward, terminated | truncated
            running_return += reward
            cut = truncated & ~terminated
            if cut.any():
                final = np.stack([info["final_obs"][e] for e in np.flatnonzero(cut)])
                rewards[t, cut] += gamma * critic(final)[1].numpy()
            steps += E
            for e in np.flatnonzero(terminated | truncated):
                history.append((steps, float(running_return[e])))
                if on_episode is not None:
                    on_episode(steps, history[-1][1])
                running_return[e] = 0.0
            obs = next_obs
        last_value = critic(obs)[1].numpy()
        advantages, returns = gae(rewards, values, dones, last_value, gamma, lam)
        advantages = advantages.reshape(-1)
        if normalize_advantages:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        logits, value_pred = model(mg.tensor(observations.reshape(n_steps * E, -1),
                                              device=device))
        loss, _ = policy_gradient_loss(logits, actions.reshape(-1), advantages, value_pred,
                                       returns.reshape(-1), value_coef, entropy_coef)
        if anneal_lr:
            for group, base in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base * max(0.0, 1.0 - steps / total_steps)
        _step_model(model, optimizer, loss, max_grad_norm)
    return history


def greedy_policy(model):
    """A function obs (B, obs_size) -> the most probable actions (B,), for evaluation."""
    device = _device_of(model)

    def act(obs):
        with mg.no_grad():
            logits, _ = model(mg.tensor(np.asarray(obs, np.float32), device=device))
        return logits.numpy().argmax(axis=1)
    return act
