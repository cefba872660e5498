"""Deep Q-learning as Mnih et al. (2015) describe it, on the engine.

A network ``Q(s, . ; theta)`` gives one value per action. It is trained to satisfy the Bellman
optimality equation on transitions drawn from a replay buffer:

    y = r + gamma * (1 - done) * max_a' Q(s', a'; theta_target)
    loss = huber(Q(s, a; theta) - y)

Three things make this stable enough to work:

- the target ``y`` comes from a *target network*, a lagged copy of the online one, refreshed by
  a hard copy every C steps or nudged each step by Polyak averaging
  ``theta_target <- tau * theta + (1 - tau) * theta_target``; the regression target then stops
  moving with every update;
- the Huber loss is quadratic for small errors and linear for large ones, so one surprising
  transition gives a gradient of at most ``delta`` (the paper's "error clipping"); the gradient
  norm is clipped as well;
- actions come from an epsilon-greedy policy whose epsilon falls linearly from 1 (explore
  everything) to a small floor.

Double DQN (van Hasselt et al.) removes the max's upward bias by letting the online network
*choose* ``a* = argmax_a' Q(s', a'; theta)`` and the target network *value* it:
``y = r + gamma * (1 - done) * Q(s', a*; theta_target)``.

Notation
--------
B       batch size
A       number of actions
E       number of environments acting at once
"""
import numpy as np

import minigrad as mg
import minigrad.functional as F


class LinearSchedule:
    """A value that moves linearly from ``start`` to ``end`` over ``duration`` steps, then stays.

    Parameters
    ----------
    start, end : float
    duration : int
        Steps of the ramp; ``schedule(step)`` is ``end`` for every ``step >= duration``.

    Examples
    --------
    >>> epsilon = LinearSchedule(1.0, 0.1, duration=10)
    >>> [round(epsilon(step), 2) for step in (0, 5, 10, 50)]
    [1.0, 0.55, 0.1, 0.1]
    """

    def __init__(self, start, end, duration):
        if int(duration) != duration or duration < 1:
            raise ValueError(f"LinearSchedule: duration must be a positive integer, got "
                             f"{duration}")
        self.start, self.end, self.duration = float(start), float(end), int(duration)

    def __call__(self, step):
        fraction = min(max(step, 0) / self.duration, 1.0)
        return self.start + fraction * (self.end - self.start)


def epsilon_greedy(q_values, epsilon, rng):
    """With probability ``epsilon`` a uniformly random action, else the greedy one.

    Parameters
    ----------
    q_values : ndarray, shape (E, A)
    epsilon : float in [0, 1]
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64, shape (E,)
    """
    q_values = np.asarray(q_values)
    if q_values.ndim != 2:
        raise ValueError(f"epsilon_greedy: q_values must have shape (E, A), got "
                         f"{q_values.shape}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon_greedy: epsilon must lie in [0, 1], got {epsilon}")
    E, A = q_values.shape
    explore = rng.random(E) < epsilon
    return np.where(explore, rng.integers(0, A, size=E), q_values.argmax(axis=1))


def _check_same_parameters(op, target, source):
    target_params, source_params = list(target.parameters()), list(source.parameters())
    shapes_t = [p.shape for p in target_params]
    shapes_s = [p.shape for p in source_params]
    if shapes_t != shapes_s:
        raise ValueError(f"{op}: target and source must have the same parameter shapes, got "
                         f"{shapes_t} and {shapes_s}")
    return zip(target_params, source_params)


def hard_update(target, source):
    """Copy every parameter of ``source`` into ``target`` (``theta_target <- theta``)."""
    for t, s in _check_same_parameters("hard_update", target, source):
        t.data[...] = s.data


def soft_update(target, source, tau):
    """Polyak averaging: ``theta_target <- tau * theta + (1 - tau) * theta_target``."""
    if not 0.0 <= tau <= 1.0:
        raise ValueError(f"soft_update: tau must lie in [0, 1], got {tau}")
    for t, s in _check_same_parameters("soft_update", target, source):
        t.data *= 1.0 - tau
        t.data += tau * s.data


def clip_grad_norm(parameters, max_norm):
    """Scale the gradients so that their joint L2 norm is at most ``max_norm``; returns the norm.

    The same rule as ``optim.clip_grad_norm_``, written out here because ``models`` does not
    import ``optim`` (dependencies flow one way).
    """
    grads = [p.grad.data for p in parameters if p.grad is not None]
    total = float(np.sqrt(sum(float((g * g).sum()) for g in grads)))
    if total > max_norm:
        for g in grads:
            g *= max_norm / (total + 1e-6)
    return total


class DQN:
    """The DQN learner: acting, one gradient step on a batch, and the target-network schedule.

    Parameters
    ----------
    q_net : Module
        Maps observations (B, *obs_shape) to action values (B, A).
    target_net : Module
        A second network of the same architecture; it is set equal to ``q_net`` here.
    optimizer : Optimizer
        Built on ``q_net.parameters()`` by the caller.
    gamma : float, default 0.99
    target_update : int, default 500
        Hard copy into the target network every this many :meth:`update` calls (C in the paper);
        ignored when ``tau`` is given.
    tau : float or None, default None
        Polyak coefficient: after every update ``theta_target <- tau theta + (1 - tau)
        theta_target``.
    double : bool, default False
        Double DQN targets.
    max_grad_norm : float or None, default 10.0
        Clip the gradient norm to this before each step; None leaves it.
    huber_delta : float, default 1.0
        Where the Huber loss turns from quadratic to linear.
    """

    def __init__(self, q_net, target_net, optimizer, gamma=0.99, target_update=500, tau=None,
                 double=False, max_grad_norm=10.0, huber_delta=1.0):
        if int(target_update) != target_update or target_update < 1:
            raise ValueError(f"DQN: target_update must be a positive integer, got "
                             f"{target_update}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"DQN: gamma must lie in [0, 1], got {gamma}")
        self.q_net, self.target_net, self.optimizer = q_net, target_net, optimizer
        self.gamma, self.target_update, self.tau = float(gamma), int(target_update), tau
        self.double, self.max_grad_norm, self.huber_delta = bool(double), max_grad_norm, huber_delta
        self.updates = 0
        hard_update(target_net, q_net)
        self.device = next(iter(q_net.parameters())).device

    def _tensor(self, array):
        return mg.tensor(np.asarray(array, dtype=np.float32), device=self.device)

    def q_values(self, obs):
        """``Q(s, .)`` as a host array (E, A), without recording a graph."""
        with mg.no_grad():
            return self.q_net(self._tensor(obs)).numpy()

    def act(self, obs, epsilon, rng):
        """Epsilon-greedy actions (E,) for a batch of observations (E, *obs_shape)."""
        return epsilon_greedy(self.q_values(obs), epsilon, rng)

    def targets(self, rewards, next_obs, dones):
        """``y = r + gamma (1 - done) Q_target(s', a*)``, a* from the online net when double."""
        with mg.no_grad():
            next_target = self.target_net(self._tensor(next_obs)).numpy()
            if self.double:
                chosen = self.q_net(self._tensor(next_obs)).numpy().argmax(axis=1)
            else:
                chosen = next_target.argmax(axis=1)
        best = next_target[np.arange(len(chosen)), chosen]
        return np.asarray(rewards) + self.gamma * (1.0 - np.asarray(dones)) * best

    def update(self, batch):
        """One gradient step on a batch from :meth:`ReplayBuffer.sample`, then the target
        schedule. Returns ``(loss, td_errors)``: a float and (B,) array for the priorities."""
        y = self.targets(batch["rewards"], batch["next_obs"], batch["dones"])
        q = self.q_net(self._tensor(batch["obs"]))
        q_taken = q[np.arange(len(y)), np.asarray(batch["actions"])]
        per_sample = F.huber_loss(q_taken, self._tensor(y), reduction="none",
                                  delta=self.huber_delta)
        # Importance weights (all ones under uniform replay) undo prioritised sampling's bias.
        loss = (per_sample * self._tensor(batch["weights"])).mean()
        self.optimizer.zero_grad()
        loss.backward()
        if self.max_grad_norm is not None:
            clip_grad_norm(self.q_net.parameters(), self.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        if self.tau is not None:
            soft_update(self.target_net, self.q_net, self.tau)
        elif self.updates % self.target_update == 0:
            hard_update(self.target_net, self.q_net)
        return (float(loss.item()), q_taken.numpy() - y)


def train_dqn(env, agent, buffer, total_steps, epsilon, batch_size=64, learning_starts=1000,
              train_every=1, gradient_steps=1, beta=None, seed=0, on_episode=None):
    """The DQN loop: act epsilon-greedily, store, and every ``train_every`` steps update.

    Parameters
    ----------
    env : gymnasium.Env
        Discrete actions; gymnasium's ``reset(seed=)`` and five-result ``step``.
    agent : DQN
    buffer : ReplayBuffer
    total_steps : int
        Environment steps.
    epsilon : callable (step) -> float
        E.g. ``LinearSchedule(1.0, 0.05, total_steps // 5)``.
    batch_size : int, default 64
    learning_starts : int, default 1000
        Steps of acting (at epsilon's value) before the first update, to fill the buffer.
    train_every, gradient_steps : int, default 1 and 1
        ``gradient_steps`` updates after every ``train_every`` environment steps.
    beta : callable (step) -> float, or None
        Importance-weight exponent for a prioritised buffer (annealed toward 1); when given,
        the buffer's priorities are set to the new |TD errors| after each update.
    seed : int, default 0
    on_episode : callable (step, episode_return) or None

    Returns
    -------
    list of (int, float)
        ``(environment steps so far, episode return)`` per finished episode.

    A step that ends by the time limit (``truncated``) is stored with ``done = 0``: the state
    is not terminal, so its target still bootstraps from ``Q(s')``.
    """
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    history, episode_return = [], 0.0
    for step in range(1, int(total_steps) + 1):
        action = int(agent.act(np.asarray(obs)[None], epsilon(step), rng)[0])
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, reward, next_obs, terminated)
        episode_return += reward
        obs = next_obs
        if terminated or truncated:
            history.append((step, episode_return))
            if on_episode is not None:
                on_episode(step, episode_return)
            obs, _ = env.reset()
            episode_return = 0.0
        if step >= learning_starts and step % train_every == 0:
            for _ in range(gradient_steps):
                batch = buffer.sample(batch_size, beta=beta(step) if beta else 0.0)
                _, td_errors = agent.update(batch)
                if beta is not None:
                    buffer.update_priorities(batch["indices"], td_errors)
    return history
