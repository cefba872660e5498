"""Experience replay: transitions kept in preallocated NumPy arrays, sampled in minibatches.

DQN learns from old transitions drawn at random rather than from the last few steps in order:
consecutive steps are strongly correlated, and a random draw from a large memory breaks that and
reuses each transition many times. The buffer is a ring: ``capacity`` slots allocated once, the
write position wrapping around so the oldest transition is overwritten first. Only the ``size``
filled slots are ever sampled.

Prioritised replay (Schaul et al.) draws transition ``i`` with probability
``P(i) = p_i^alpha / sum_k p_k^alpha``, ``p_i`` its last |TD error| (new transitions get the
largest priority seen, so each is tried at least once), and corrects the bias this brings with
importance weights ``w_i = (size * P(i))^(-beta) / max_k w_k``. Here the draw is a plain
``choice`` over the filled slots, O(size) per batch; a sum tree makes it O(log size) and is the
thing to add when the buffer holds millions.

Notation
--------
N       capacity (slots)
B       batch size
"""
import numpy as np


class ReplayBuffer:
    """A ring buffer of transitions ``(obs, action, reward, next_obs, done)``.

    Parameters
    ----------
    capacity : int
        Number of slots, allocated at once.
    obs_shape : tuple of int
        Shape of one observation.
    obs_dtype : dtype, default float32
    action_shape : tuple of int, default ()
        ``()`` for discrete actions (stored as int64), else a float32 vector.
    prioritized : bool, default False
        Draw in proportion to ``priority ** alpha`` instead of uniformly.
    alpha : float, default 0.6
        How strongly priorities shape the draw (0 is uniform).
    eps : float, default 1e-6
        Added to every new priority so no transition becomes impossible to draw.
    seed : int or None, default None

    Examples
    --------
    >>> buffer = ReplayBuffer(4, obs_shape=(2,), seed=0)
    >>> buffer.add([0.0, 1.0], 1, 0.5, [1.0, 1.0], False)
    >>> len(buffer)
    1
    >>> buffer.sample(3)["actions"].tolist()
    [1, 1, 1]
    """

    def __init__(self, capacity, obs_shape, obs_dtype=np.float32, action_shape=(),
                 prioritized=False, alpha=0.6, eps=1e-6, seed=None):
        if int(capacity) != capacity or capacity < 1:
            raise ValueError(f"ReplayBuffer: capacity must be a positive integer, got {capacity}")
        if alpha < 0:
            raise ValueError(f"ReplayBuffer: alpha must be >= 0, got {alpha}")
        N = int(capacity)
        self.capacity = N
        self.obs_shape = tuple(obs_shape)
        self.action_shape = tuple(action_shape)
        action_dtype = np.int64 if self.action_shape == () else np.float32
        self.obs = np.zeros((N, *self.obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((N, *self.obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((N, *self.action_shape), dtype=action_dtype)
        self.rewards = np.zeros(N, dtype=np.float32)
        self.dones = np.zeros(N, dtype=np.float32)
        self.prioritized = bool(prioritized)
        self.alpha, self.eps = float(alpha), float(eps)
        self.priorities = np.zeros(N, dtype=np.float64)
        self.max_priority = 1.0
        self.position = 0   # the next slot to write
        self.size = 0       # how many slots hold a transition
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return self.size

    def add(self, obs, action, reward, next_obs, done):
        """Store one transition, or a batch of E of them (leading axis E on every argument)."""
        obs = np.asarray(obs, dtype=self.obs.dtype)
        batched = obs.shape != self.obs_shape
        if batched and obs.shape[1:] != self.obs_shape:
            raise ValueError(f"ReplayBuffer.add: obs must have shape {self.obs_shape} or "
                             f"(E, *{self.obs_shape}), got {obs.shape}")
        E = obs.shape[0] if batched else 1
        slots = (self.position + np.arange(E)) % self.capacity
        self.obs[slots] = obs
        self.actions[slots] = action
        self.rewards[slots] = reward
        self.next_obs[slots] = next_obs
        self.dones[slots] = done
        self.priorities[slots] = self.max_priority
        self.position = int((self.position + E) % self.capacity)
        self.size = min(self.size + E, self.capacity)

    def sample(self, batch_size, beta=0.4):
        """Draw ``batch_size`` transitions (with replacement) from the filled slots.

        Returns
        -------
        dict of ndarray
            ``obs`` (B, *obs_shape), ``actions`` (B, *action_shape), ``rewards`` (B,),
            ``next_obs``, ``dones`` (B,) as 0/1 floats, ``indices`` (B,) for
            :meth:`update_priorities`, and ``weights`` (B,): importance weights under
            prioritised replay (annealed by ``beta``), all ones otherwise.
        """
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty; add transitions first")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"ReplayBuffer.sample: batch_size must be a positive integer, "
                             f"got {batch_size}")
        if self.prioritized:
            scaled = self.priorities[:self.size] ** self.alpha
            probs = scaled / scaled.sum()
            indices = self.rng.choice(self.size, size=int(batch_size), p=probs)
            weights = (self.size * probs[indices]) ** (-beta)
            weights = weights / ((self.size * probs.min()) ** (-beta))  # the largest weight is 1
        else:
            indices = self.rng.integers(0, self.size, size=int(batch_size))
            weights = np.ones(int(batch_size))
        return {"obs": self.obs[indices], "actions": self.actions[indices],
                "rewards": self.rewards[indices], "next_obs": self.next_obs[indices],
                "dones": self.dones[indices], "indices": indices,
                "weights": weights.astype(np.float32)}

    def update_priorities(self, indices, priorities):
        """Set the priorities of sampled slots, typically to ``|TD error|`` (+ ``eps``)."""
        indices = np.asarray(indices)
        priorities = np.abs(np.asarray(priorities, dtype=np.float64)) + self.eps
        if indices.shape != priorities.shape:
            raise ValueError(f"ReplayBuffer.update_priorities: indices {indices.shape} and "
                             f"priorities {priorities.shape} must have one shape")
        if indices.size and (indices.min() < 0 or indices.max() >= self.size):
            raise ValueError(f"ReplayBuffer.update_priorities: indices must lie in "
                             f"[0, {self.size}), got [{indices.min()}, {indices.max()}]")
        self.priorities[indices] = priorities
        self.max_priority = max(self.max_priority, float(priorities.max(initial=0.0)))
