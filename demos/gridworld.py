"""Value iteration and Q-learning on a small gridworld: the MDP lecture, runnable.

Value iteration knows the model (``P`` and ``R``) and sweeps the Bellman optimality backup until
the values stop moving; Q-learning only sees the transitions it samples, one step at a time, and
still reaches the same answer. Writes under ``--out``: ``gridworld.png`` (value heat maps and
greedy-policy arrows of both, side by side), ``convergence.png`` (Q-learning's largest value
error against value iteration's solution, per episode, and value iteration's sweep changes) and
``metrics.json``. Takes a few CPU seconds::

    python demos/gridworld.py
    python demos/gridworld.py --slip 0 --step-reward -0.1 --episodes 5000

Notation
--------
S       number of states (free cells)
A       number of actions (4)

Shared options (`demos/_common.py`): `--device cpu|cuda|cuda:N`, `--out DIR` (metrics.json
and PNGs), `--quiet`, `--logdir DIR` (TensorBoard).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from models.rl.gridworld import (ACTIONS, GridWorld, greedy_policy, plot_policy,  # noqa: E402
                                 plot_values, q_learning, value_iteration)
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--gamma", type=float, default=0.9, help="discount factor")
    parser.add_argument("--slip", type=float, default=0.2,
                        help="probability of sliding sideways instead of the chosen move")
    parser.add_argument("--step-reward", type=float, default=-0.04,
                        help="reward of every move that does not end the episode")
    parser.add_argument("--episodes", type=int, default=3000, help="Q-learning episodes")
    parser.add_argument("--alpha", type=float, default=0.5, help="Q-learning initial step size")
    parser.add_argument("--epsilon", type=float, default=0.2,
                        help="probability of a random action while learning")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "gridworld")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes must be at least 1, got {args.episodes}")
    if not 0.0 <= args.gamma < 1.0:
        parser.error(f"--gamma must lie in [0, 1), got {args.gamma}")
    if not 0.0 <= args.slip <= 1.0:
        parser.error(f"--slip must lie in [0, 1], got {args.slip}")
    check_device(parser, args.device)  # tabular: everything runs in NumPy on the host
    return args


def plot_side_by_side(env, V_star, Q_star, Q, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    V_q = np.where(env.terminal, 0.0, Q.max(axis=1))
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5))
    plot_values(axes[0, 0], env, V_star, "value iteration: V*(s)")
    plot_policy(axes[1, 0], env, greedy_policy(Q_star), "value iteration: greedy policy")
    plot_values(axes[0, 1], env, V_q, "Q-learning: max_a Q(s, a)")
    plot_policy(axes[1, 1], env, greedy_policy(Q), "Q-learning: greedy policy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_convergence(history, deltas, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax_q, ax_v) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_q.plot(history["error"])
    ax_q.set(xlabel="episode", ylabel="max_s |V_Q(s) - V*(s)|", yscale="log",
             title="Q-learning approaches value iteration's V*")
    ax_v.plot(deltas, marker=".")
    ax_v.set(xlabel="sweep", ylabel="max_s |V_k+1 - V_k|", yscale="log",
             title="value iteration: a gamma-contraction")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    log = open_logger(args)
    env = GridWorld(step_reward=args.step_reward, slip=args.slip)
    V_star, Q_star, deltas = value_iteration(env.P, env.R, gamma=args.gamma)
    print(f"value iteration: {len(deltas)} sweeps to a change below 1e-8")
    bar = progress_bar(1, "Q-learning", args.quiet)
    Q, history = q_learning(env, episodes=args.episodes, alpha=args.alpha, gamma=args.gamma,
                            epsilon=args.epsilon, seed=args.seed, reference_V=V_star)
    bar.update()
    bar.close()
    for episode, error in enumerate(history["error"]):
        if episode % 50 == 0:
            log.add_scalar("q_learning/value_error", error, episode)
    log.close()
    free = ~env.terminal
    agree = float((greedy_policy(Q)[free] == greedy_policy(Q_star)[free]).mean())
    plot_side_by_side(env, V_star, Q_star, Q, os.path.join(args.out, "gridworld.png"))
    plot_convergence(history, deltas, os.path.join(args.out, "convergence.png"))
    V_q = np.where(env.terminal, 0.0, Q.max(axis=1))
    save_metrics(args.out, {
        "value_iteration_sweeps": len(deltas), "V_star": V_star.tolist(),
        "V_q_learning": V_q.tolist(), "final_value_error": history["error"][-1],
        "policy_agreement": agree, "value_error_per_episode": history["error"],
        "actions": list(ACTIONS)})
    print(f"Q-learning after {args.episodes} episodes: max value error "
          f"{history['error'][-1]:.4f}, greedy policies agree on {agree:.0%} of the states")
    print(f"wrote gridworld.png, convergence.png and metrics.json to {args.out}")


if __name__ == "__main__":
    main()
