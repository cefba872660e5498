"""Reinforcement learning on the engine: a tabular warm-up and the two deep families.

    from models.rl import GridWorld, value_iteration, q_learning
    from models.rl import ReplayBuffer, discounted_returns, n_step_returns, gae
    from models.rl import DQN, LinearSchedule, ActorCritic, reinforce_loss, a2c_loss

- ``gridworld``: a small MDP that ships with the module; value iteration, tabular Q-learning,
  value heat maps and policy arrows.
- ``buffers``: a replay buffer in preallocated NumPy arrays (uniform or prioritised sampling).
- ``returns``: discounted returns, n-step returns and GAE(lambda) over (T, E) rollouts.
- ``dqn``: epsilon-greedy schedules, target networks (hard copy every C steps or Polyak),
  Huber loss, gradient clipping and Double DQN.
- ``policy_gradient``: REINFORCE with a learned baseline and an entropy bonus; A2C.

Nothing here imports ``optim``: the training steps take the optimiser as an argument, and the
environments (``gymnasium``'s, from the ``rl`` extra) are made by the caller.
"""
from models.rl.gridworld import GridWorld, greedy_policy, q_learning, value_iteration

__all__ = ["GridWorld", "greedy_policy", "q_learning", "value_iteration"]
