"""REINFORCE, A2C and DQN balance a pole on a cart (gymnasium's CartPole-v1).

The two families of deep RL on one task, each given the same number of environment steps:
REINFORCE with a learned baseline (Monte Carlo returns, one update per episode), A2C (8
environments stepped together, GAE(lambda) advantages, an update every 16 steps) and DQN (a
replay buffer, a Polyak-averaged target network, Huber loss, Double DQN targets). After
training, each policy is scored greedily over 100 fresh episodes; CartPole counts as solved at
an average return of 475 (500 is the most an episode can give). Writes under ``--out``:
``returns.png`` (episode return against environment steps, mean and min-max band over the
seeds), ``frames.png`` (a strip of rendered frames of each trained policy) and
``metrics.json``. Needs the ``rl`` extra (``pip install -e ".[rl]"``). The default run takes
several CPU minutes::

    python demos/cartpole.py
    python demos/cartpole.py --algos a2c dqn --seeds 1
    python demos/cartpole.py --steps 20000 --seeds 2 --out runs/cartpole_short

Notation
--------
E       environments stepped together (A2C)

Shared options (`demos/_common.py`): `--device cpu|cuda|cuda:N`, `--out DIR` (metrics.json
and PNGs), `--quiet`, `--logdir DIR` (TensorBoard).
"""
import argparse
import os
import sys
import time

# Small matrices: BLAS threads cost more than they save, and thrash on a busy machine; minigrad's
# thread policy gives BLAS one thread when minigrad is imported (minigrad/threads.py).
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # rgb_array rendering needs no display

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
from models import MLP  # noqa: E402
from models.rl.buffers import ReplayBuffer  # noqa: E402
from models.rl.dqn import DQN, LinearSchedule, train_dqn  # noqa: E402
from models.rl.evaluation import evaluate  # noqa: E402
from models.rl.policy_gradient import (ActorCritic, greedy_policy, train_a2c,  # noqa: E402
                                       train_reinforce)
from optim import Adam  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)

ALGOS = ("reinforce", "a2c", "dqn")
SOLVED = 475.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--algos", nargs="+", choices=ALGOS, default=list(ALGOS),
                        help="which agents to train")
    parser.add_argument("--steps", type=int, default=100_000,
                        help="environment steps per agent and seed (the same for every agent)")
    parser.add_argument("--seeds", type=int, default=3,
                        help="independent runs per agent (the curves show mean and spread)")
    parser.add_argument("--eval-episodes", type=int, default=100,
                        help="greedy episodes that score each trained policy")
    parser.add_argument("--frames", type=int, default=8,
                        help="rendered frames of each trained policy in frames.png")
    parser.add_argument("--hidden", type=int, default=64, help="width of the hidden layers")
    parser.add_argument("--envs", type=int, default=8, help="environments stepped together (A2C)")
    parser.add_argument("--checkpoints", type=int, default=10,
                        help="greedy check-ups during training (0: keep the final policy)")
    parser.add_argument("--checkpoint-episodes", type=int, default=20,
                        help="episodes per check-up; the best check-up's weights are kept")
    parser.add_argument("--seed", type=int, default=0, help="first seed; runs use seed, seed+1..")
    add_device_argument(parser)
    add_output_arguments(parser, "cartpole")
    args = parser.parse_args(argv)
    for name in ("steps", "seeds", "eval_episodes", "hidden", "envs", "checkpoint_episodes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got "
                         f"{getattr(args, name)}")
    for name in ("frames", "checkpoints"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be at least 0, got {getattr(args, name)}")
    check_device(parser, args.device)
    try:
        import gymnasium  # noqa: F401
    except ImportError:
        parser.error("this demo needs gymnasium: pip install -e \".[rl]\"")
    return args


def make_env(render=False):
    import gymnasium as gym
    return gym.make("CartPole-v1", render_mode="rgb_array" if render else None)


class BestKeeper:
    """Scores the greedy policy at evenly spaced steps and keeps the best weights seen.

    Deep RL's learning curves are noisy: a policy that balances for 500 steps can be knocked
    back by a few updates. Like an early-stopping callback, this checks the policy
    ``checkpoints`` times on its own episodes (seeds apart from the final test's) and restores
    the best weights at the end; the final score is then measured on fresh episodes.
    """

    def __init__(self, args, seed):
        self.every = args.steps // args.checkpoints if args.checkpoints else None
        self.episodes, self.seed = args.checkpoint_episodes, 50_000 + 1000 * seed
        self.next, self.best, self.saved = self.every, -np.inf, None

    def attach(self, act, parameters):
        self.act, self.parameters = act, list(parameters)
        return act

    def check(self, step):
        if self.every is None or step < self.next:
            return
        self.next = (step // self.every + 1) * self.every
        self.score()

    def score(self):
        score = float(evaluate(make_env, self.act, self.episodes, seed=self.seed).mean())
        if score >= self.best:
            self.best, self.saved = score, [p.data.copy() for p in self.parameters]

    def restore(self):
        """Score the final weights too, then put the best weights back."""
        if self.every is None:
            return
        self.score()
        for p, saved in zip(self.parameters, self.saved):
            p.data[...] = saved


def run_reinforce(args, seed, on_episode, keeper):
    """REINFORCE with a learned baseline; returns (history, greedy act function)."""
    model = ActorCritic(4, 2, (args.hidden, args.hidden)).to(args.device)
    act = keeper.attach(greedy_policy(model), model.parameters())
    optimizer = Adam(model.parameters(), lr=1e-3)
    history = train_reinforce(make_env(), model, optimizer, args.steps, gamma=0.99,
                              entropy_coef=0.01, seed=seed, on_episode=on_episode)
    return (history, act)


def run_a2c(args, seed, on_episode, keeper):
    """A2C over ``--envs`` environments, GAE(0.95), learning rate annealed to zero."""
    import gymnasium as gym
    envs = gym.vector.SyncVectorEnv([make_env for _ in range(args.envs)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    model = ActorCritic(4, 2, (args.hidden, args.hidden)).to(args.device)
    act = keeper.attach(greedy_policy(model), model.parameters())
    optimizer = Adam(model.parameters(), lr=1e-3)
    history = train_a2c(envs, model, optimizer, args.steps, n_steps=16, gamma=0.99, lam=0.95,
                        entropy_coef=0.01, anneal_lr=True, seed=seed, on_episode=on_episode)
    envs.close()
    return (history, act)


def run_dqn(args, seed, on_episode, keeper):
    """Double DQN with a Polyak-averaged target, Huber loss and gradient clipping."""
    q_net = MLP(4, [4 * args.hidden] * 2, 2).to(args.device)
    target_net = MLP(4, [4 * args.hidden] * 2, 2).to(args.device)
    # Two gradient steps after every 4 environment steps; the target network trails the online
    # one by Polyak averaging (tau = 0.005: a lag of about 200 updates) instead of hard copies.
    agent = DQN(q_net, target_net, Adam(q_net.parameters(), lr=1e-3), gamma=0.99, tau=0.005,
                double=True, max_grad_norm=10.0)
    act = keeper.attach(lambda obs: agent.q_values(obs).argmax(axis=1), q_net.parameters())
    buffer = ReplayBuffer(min(50_000, args.steps), obs_shape=(4,), seed=seed)
    history = train_dqn(make_env(), agent, buffer, args.steps,
                        LinearSchedule(1.0, 0.05, max(1, int(0.1 * args.steps))),
                        batch_size=128, learning_starts=min(1000, args.steps // 2),
                        train_every=4, gradient_steps=2, seed=seed, on_episode=on_episode)
    return (history, act)


RUNNERS = {"reinforce": run_reinforce, "a2c": run_a2c, "dqn": run_dqn}


def binned_curve(history, steps, bins=50):
    """Mean return of the episodes that ended in each of ``bins`` equal step ranges (carried
    forward through empty bins)."""
    edges = np.linspace(0, steps, bins + 1)
    ends = np.array([s for s, _ in history])
    returns = np.array([r for _, r in history])
    curve, last = np.zeros(bins), 0.0
    for b in range(bins):
        inside = (ends > edges[b]) & (ends <= edges[b + 1])
        last = float(returns[inside].mean()) if inside.any() else last
        curve[b] = last
    return (edges[1:], curve)


def plot_returns(curves, steps, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, runs in curves.items():
        x = runs[0][0]
        ys = np.stack([y for _, y in runs])
        line, = ax.plot(x, ys.mean(axis=0), label=f"{name} ({len(runs)} seeds)")
        ax.fill_between(x, ys.min(axis=0), ys.max(axis=0), color=line.get_color(), alpha=0.2)
    ax.axhline(SOLVED, color="gray", linestyle="--", linewidth=1, label="solved (475)")
    ax.set(xlabel="environment steps", ylabel="episode return (training)", xlim=(0, steps),
           title="CartPole-v1: mean and min-max over seeds")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def render_frames(act, count, seed):
    """``count`` frames spread over one greedy episode, as (H, W, 3) uint8 arrays."""
    env = make_env(render=True)
    obs, _ = env.reset(seed=seed)
    frames, done = [env.render()], False
    while not done and len(frames) <= 500:
        obs, _, terminated, truncated, _ = env.step(int(act(obs[None])[0]))
        done = terminated or truncated
        frames.append(env.render())
    env.close()
    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    return ([frames[i] for i in picks], picks.tolist(), len(frames) - 1)


def plot_frames(strips, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows, cols = len(strips), max(len(frames) for frames, _, _ in strips.values())
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.5 * rows), squeeze=False)
    for r, (name, (frames, picks, length)) in enumerate(strips.items()):
        for c in range(cols):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(frames):
                ax.imshow(frames[c][60:330])   # crop the empty sky and ground
                ax.set_title(f"t={picks[c]}", fontsize=7)
        axes[r, 0].text(-0.1, 0.5, f"{name}\n({length} steps)", transform=axes[r, 0].transAxes,
                        ha="right", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    log = open_logger(args)
    curves, metrics, strips = {}, {"steps": args.steps, "seeds": args.seeds, "agents": {}}, {}
    for name in args.algos:
        runs, scores, seconds, checkpoint_scores = [], [], [], []
        best = (-np.inf, None, None)
        for k in range(args.seeds):
            seed = args.seed + k
            mg.manual_seed(seed)
            bar = progress_bar(args.steps, f"{name} seed {seed}", args.quiet)
            done = [0]

            keeper = BestKeeper(args, seed)

            def on_episode(step, episode_return, bar=bar, done=done, tag=f"{name}/{seed}",
                           keeper=keeper):
                keeper.check(step)
                bar.update(min(step, args.steps) - done[0])
                done[0] = min(step, args.steps)
                bar.set_postfix(ret=f"{episode_return:.0f}")
                log.add_scalar(f"return/{tag}", episode_return, step)

            start = time.process_time()
            history, act = RUNNERS[name](args, seed, on_episode, keeper)
            keeper.restore()
            checkpoint_scores.append(float(keeper.best) if keeper.saved is not None else None)
            seconds.append(time.process_time() - start)
            bar.close()
            score = evaluate(make_env, act, args.eval_episodes, seed=10_000 + 1000 * k)
            scores.append(float(score.mean()))
            runs.append(binned_curve(history, args.steps))
            if not args.quiet:
                print(f"{name} seed {seed}: {len(history)} episodes, greedy return "
                      f"{score.mean():.1f} over {args.eval_episodes} episodes "
                      f"({seconds[-1]:.0f} s CPU)")
            if scores[-1] > best[0]:
                best = (scores[-1], act, seed)
        curves[name] = runs
        metrics["agents"][name] = {
            "greedy_return_per_seed": scores, "greedy_return_mean": float(np.mean(scores)),
            "solved_seeds": int(sum(s >= SOLVED for s in scores)),
            "best_checkpoint_score_per_seed": checkpoint_scores,
            "cpu_seconds_per_seed": seconds, "training_curve": [y.tolist() for _, y in runs]}
        if args.frames:
            strips[name] = render_frames(best[1], args.frames, seed=best[2])
    log.close()
    plot_returns(curves, args.steps, os.path.join(args.out, "returns.png"))
    written = ["returns.png"]
    if strips:
        plot_frames(strips, os.path.join(args.out, "frames.png"))
        written.append("frames.png")
    save_metrics(args.out, metrics)
    print(f"CartPole-v1, {args.steps} environment steps per run, {args.seeds} seed(s); "
          f"greedy return over {args.eval_episodes} episodes (solved: >= {SOLVED:.0f}):")
    for name, result in metrics["agents"].items():
        per_seed = ", ".join(f"{s:.1f}" for s in result["greedy_return_per_seed"])
        print(f"  {name:9s} mean {result['greedy_return_mean']:6.1f}  per seed [{per_seed}]  "
              f"solved {result['solved_seeds']}/{args.seeds}")
    print(f"wrote {', '.join(written)} and metrics.json to {args.out}")


if __name__ == "__main__":
    main()
