"""Reinforcement learning on the engine: a tabular warm-up and the two deep families.

    from models.rl import GridWorld, value_iteration, q_learning
    from models.rl import ReplayBuffer, discounted_returns, n_step_returns, gae
    from models.rl import DQN, LinearSchedule, train_dqn, ActorCritic, train_a2c, evaluate

- ``gridworld``: a small MDP that ships with the module; value iteration, tabular Q-learning,
  value heat maps and policy arrows.
- ``buffers``: a replay buffer in preallocated NumPy arrays (uniform or prioritised sampling).
- ``returns``: discounted returns, n-step returns and GAE(lambda) over (T, E) rollouts.
- ``dqn``: epsilon-greedy schedules, target networks (hard copy every C steps or Polyak),
  Huber loss, gradient clipping and Double DQN.
- ``policy_gradient``: REINFORCE with a learned baseline and an entropy bonus; A2C.
- ``evaluation``: many greedy episodes side by side, one batched forward per step.

Nothing here imports ``optim``: the training steps take the optimiser as an argument, and the
environments (``gymnasium``'s, from the ``rl`` extra) are made by the caller.
"""
from models.rl.buffers import ReplayBuffer
from models.rl.dqn import (DQN, LinearSchedule, clip_grad_norm, epsilon_greedy, hard_update,
                           soft_update, train_dqn)
from models.rl.evaluation import evaluate
from models.rl.gridworld import GridWorld, greedy_policy, q_learning, value_iteration
from models.rl.policy_gradient import (ActorCritic, policy_gradient_loss, reinforce_loss,
                                       sample_actions, train_a2c, train_reinforce)
from models.rl.returns import discounted_returns, gae, n_step_returns

__all__ = ["GridWorld", "greedy_policy", "q_learning", "value_iteration", "ReplayBuffer",
           "discounted_returns", "n_step_returns", "gae", "DQN", "LinearSchedule",
           "epsilon_greedy", "hard_update", "soft_update", "clip_grad_norm", "train_dqn",
           "ActorCritic", "policy_gradient_loss", "reinforce_loss", "sample_actions",
           "train_reinforce", "train_a2c", "evaluate"]
