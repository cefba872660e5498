"""Choosing hyperparameters: random search against grid search with the same budget.

Both search the learning rate and the weight decay of an MLP on the shipped digits, on log
scales (a rate of 0.01 and 0.02 differ as much as 0.1 and 0.2), and both judge a trial by its
validation accuracy, never the test set's. With a budget of B trials:

- grid search tries √B values of each hyperparameter, every combination;
- random search draws B points log-uniformly from the same box.

When one hyperparameter matters much more than the other (here the learning rate), grid
search spends its budget repeating the same √B learning rates, while random search tries B
different ones (Bergstra & Bengio, 2012): it usually finds a better rate for the same cost.
The best configuration found is then retrained from scratch for longer and tested once.

Results under ``--out``: ``search.png`` (validation accuracy of every trial over the
(lr, weight decay) plane, log axes, grid beside random), ``best_so_far.png`` and
``metrics.json``. Under a minute of CPU::

    python demos/hyperparameter_search.py
    python demos/hyperparameter_search.py --budget 25 --epochs 6

Notation
--------
B   trials per search;  lr   SGD learning rate;  wd   weight decay

Shared options (`demos/_common.py`): `--device cpu|cuda|cuda:N`, `--out DIR` (metrics.json
and PNGs), `--quiet`, `--logdir DIR` (TensorBoard).
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import layers  # noqa: E402
import minigrad as mg  # noqa: E402
import minigrad.functional as F  # noqa: E402
from minigrad.data import load_digits, train_test_split  # noqa: E402
from optim import SGD  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)

LR_RANGE = (1e-4, 1.0)
WD_RANGE = (1e-6, 1e-1)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Random search against grid search over learning rate and weight decay "
                    "with the same budget; the best configuration retrained and tested.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--budget", type=int, default=16,
                        help="trials per search (grid: the nearest square below)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per trial")
    parser.add_argument("--final-epochs", type=int, default=20,
                        help="epochs when retraining the best configuration")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on only the first N images (quick runs, tests)")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "hyperparameter_search")
    args = parser.parse_args(argv)
    for name in ("budget", "epochs", "final_epochs", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    check_device(parser, args.device)
    return args


def grid_points(budget):
    """⌊√B⌋ log-spaced values of each hyperparameter, every pair."""
    n = max(1, math.isqrt(budget))
    lrs = np.geomspace(*LR_RANGE, n)
    wds = np.geomspace(*WD_RANGE, n)
    return [(float(lr), float(wd)) for lr in lrs for wd in wds]


def random_points(budget, seed):
    """B points drawn log-uniformly from the same box."""
    rng = np.random.default_rng(seed)
    lrs = np.exp(rng.uniform(*np.log(LR_RANGE), budget))
    wds = np.exp(rng.uniform(*np.log(WD_RANGE), budget))
    return [(float(lr), float(wd)) for lr, wd in zip(lrs, wds)]


def load_data(limit, seed):
    x, y = load_digits(split="train")
    x_test, y_test = load_digits(split="test")
    x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    fit, val = train_test_split(len(y), 0.2, seed=seed)
    fit = fit[:limit] if limit else fit
    mean, std = x[fit].mean(0), x[fit].std(0) + 0.1

    def norm(a):
        return ((a - mean) / std).astype(np.float32)
    return {"train": (norm(x[fit]), y[fit]), "val": (norm(x[val]), y[val]),
            "test": (norm(x_test), y_test)}


def train_and_score(lr, wd, data, epochs, seed, device, split="val"):
    """Train an MLP 64-128-10 with SGD (momentum 0.9); its accuracy on ``split``."""
    mg.manual_seed(seed)
    model = layers.Sequential(layers.Linear(64, 128), layers.ReLU(),
                              layers.Linear(128, 10)).to(device)
    optimizer = SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
    x, y = data["train"]
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), 32):
            idx = order[start:start + 32]
            loss = F.cross_entropy(model(mg.tensor(x[idx], device=device)),
                                   mg.tensor(y[idx], device=device))
            if not math.isfinite(loss.item()):
                return 0.0                        # diverged: the rate is far too large
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with mg.no_grad():
        predictions = model(mg.tensor(data[split][0], device=device)).numpy().argmax(1)
    return float((predictions == data[split][1]).mean())


def plot(trials, path_search, path_best):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, (name, results) in zip(axes, trials.items()):
        lr, wd, acc = (np.array(v) for v in zip(*[(t["lr"], t["weight_decay"], t["val_accuracy"])
                                                 for t in results]))
        points = ax.scatter(lr, wd, c=acc, cmap="viridis", vmin=0, vmax=1, s=60,
                            edgecolors="k")
        best = int(np.argmax(acc))
        ax.scatter(lr[best], wd[best], marker="*", s=300, c="red", label="best")
        ax.set(xscale="log", yscale="log", xlabel="learning rate", title=f"{name} search")
        ax.legend(loc="lower left")
    axes[0].set_ylabel("weight decay")
    fig.colorbar(points, ax=axes, label="validation accuracy")
    fig.savefig(path_search, dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, results in trials.items():
        acc = [t["val_accuracy"] for t in results]
        ax.plot(np.arange(1, len(acc) + 1), np.maximum.accumulate(acc), "o-", label=name)
    ax.set(xlabel="trials so far", ylabel="best validation accuracy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path_best, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    log = open_logger(args)
    data = load_data(args.limit, args.seed)
    searches = {"grid": grid_points(args.budget), "random": random_points(args.budget, args.seed)}
    trials = {}
    bar = progress_bar(sum(len(p) for p in searches.values()), "trials", args.quiet)
    for name, points in searches.items():
        trials[name] = []
        for k, (lr, wd) in enumerate(points):
            acc = train_and_score(lr, wd, data, args.epochs, args.seed, args.device)
            trials[name].append({"lr": lr, "weight_decay": wd, "val_accuracy": acc})
            log.add_scalar(f"{name}/val_accuracy", acc, k)
            bar.update(1)
    bar.close()
    best = {name: max(results, key=lambda t: t["val_accuracy"])
            for name, results in trials.items()}
    winner = max(best, key=lambda name: best[name]["val_accuracy"])
    config = best[winner]
    test_acc = train_and_score(config["lr"], config["weight_decay"], data, args.final_epochs,
                               args.seed, args.device, split="test")
    plot(trials, os.path.join(args.out, "search.png"), os.path.join(args.out, "best_so_far.png"))
    save_metrics(args.out, {"trials": trials, "best": best, "winner": winner,
                            "retrained_test_accuracy": test_acc,
                            "settings": {k: v for k, v in vars(args).items()
                                         if k not in ("out", "logdir")}})
    log.close()
    for name, b in best.items():
        print(f"{name:6s} search, {len(trials[name]):2d} trials: best validation accuracy "
              f"{b['val_accuracy']:.3f} at lr {b['lr']:.2e}, weight decay "
              f"{b['weight_decay']:.1e}")
    print(f"best configuration ({winner}) retrained for {args.final_epochs} epochs: test "
          f"accuracy {test_acc:.3f}")
    print(f"wrote {args.out}/metrics.json, search.png, best_so_far.png")
    return best


if __name__ == "__main__":
    main()
