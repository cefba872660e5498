"""Transfer learning: features learned on a large dataset help a task with few labels.

1. Pretrain a small CNN on a large labelled set: Fashion-MNIST when its files are present
   (shrunk to 8x8: the middle 24x24 averaged over 3x3 blocks), or otherwise a synthetic set of
   8x8 shapes (squares, discs, rings, crosses, bars, ...) generated on the fly.
2. Fine-tune on the shipped digits with only k labelled images per class, three ways:
   - from scratch: a fresh network, all of it trained on the k·10 images;
   - frozen backbone + new head: ``backbone.requires_grad_(False)`` and only a new linear
     layer trained on the pretrained features (a linear probe);
   - full fine-tuning: every layer trained, the backbone with a learning rate ten times
     smaller than the head's (two parameter groups), so the pretrained features move little.
3. Test accuracy on the digits' test set against k (``accuracy_vs_labels.png``).

Whether pretraining helps depends on how close the source task is to the target. Clothes and
synthetic shapes shrunk to 8x8 are far from digits, and a small CNN trained from scratch on
the digits is already strong: with the defaults, training from scratch matches or beats both
transfer methods at every k, and full fine-tuning beats the frozen backbone (its features must
adapt to the new task). The demo is the experiment to change: other sources, more pretraining,
other rates. About a minute of CPU with the defaults::

    python demos/transfer.py
    python demos/transfer.py --pretrain synthetic --shots 1 2 5 10 20 50

Notation
--------
k   labelled digits per class;  K   classes (10 digits);  D   feature size of the backbone

Shared options (`demos/_common.py`): `--device cpu|cuda|cuda:N`, `--out DIR` (metrics.json
and PNGs), `--quiet`, `--logdir DIR` (TensorBoard).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import layers  # noqa: E402
import minigrad as mg  # noqa: E402
import minigrad.functional as F  # noqa: E402
from minigrad.data import FASHION_MNIST_DIR, load_digits, load_fashion_mnist  # noqa: E402
from optim import Adam  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)

D = 64
METHODS = ["from scratch", "frozen backbone + new head", "full fine-tuning"]
SHAPES = ["filled square", "hollow square", "disc", "ring", "plus", "cross", "horizontal bar",
          "vertical bar"]


def backbone():
    """8x8 image -> D features: two 3x3 convolutions, a 2x2 max-pool and a linear layer."""
    return layers.Sequential(
        layers.Conv2d(1, 16, 3, padding=1), layers.ReLU(),
        layers.Conv2d(16, 32, 3, padding=1), layers.ReLU(), layers.MaxPool2d(2),
        layers.Flatten(), layers.Linear(32 * 4 * 4, D), layers.ReLU())


def make_shapes(N, seed):
    """N random 8x8 shapes of the 8 kinds in SHAPES, with random centre, size and noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPES), N)
    cy, cx = rng.uniform(2.5, 4.5, (2, N, 1, 1))
    r = rng.uniform(1.5, 3.0, (N, 1, 1))
    ys, xs = np.mgrid[0:8, 0:8][:, None].astype(np.float64)
    dy, dx = ys - cy, xs - cx
    box, dist = np.maximum(abs(dy), abs(dx)), np.hypot(dy, dx)
    masks = [box <= r, (box <= r) & (box > r - 1.2), dist <= r, (dist <= r) & (dist > r - 1.2),
             ((abs(dy) < 0.6) | (abs(dx) < 0.6)) & (box <= r),
             ((abs(dy - dx) < 0.8) | (abs(dy + dx) < 0.8)) & (box <= r),
             (abs(dy) < 0.8) & (abs(dx) <= r), (abs(dx) < 0.8) & (abs(dy) <= r)]
    images = np.select([labels[:, None, None] == k for k in range(len(SHAPES))], masks)
    images = images + rng.normal(0, 0.1, images.shape)
    return (images[:, None].astype(np.float32), labels)


def load_pretraining(kind, size, seed, data_dir):
    """(images (N, 1, 8, 8), labels, class count, description) for pretraining."""
    if kind in ("auto", "fashion-mnist"):
        try:
            x, y = load_fashion_mnist(data_dir, train=True)
            x = x[:size, :, 2:26, 2:26].reshape(-1, 1, 8, 3, 8, 3).mean(axis=(3, 5))
            return (x.astype(np.float32), y[:size], 10, "Fashion-MNIST (8x8)")
        except FileNotFoundError:
            if kind == "fashion-mnist":
                raise
    x, y = make_shapes(size, seed)
    return (x, y, len(SHAPES), "synthetic shapes")


def standardise(x):
    return ((x - x.mean()) / x.std()).astype(np.float32)


def fit(model, groups, x, y, steps, batch_size, device, rng, desc=None, quiet=True):
    """Adam on cross-entropy over random minibatches; ``groups`` are the optimizer's groups."""
    optimizer = Adam(groups)
    bar = progress_bar(steps, desc, quiet or desc is None)
    for _ in range(steps):
        idx = rng.choice(len(y), size=min(batch_size, len(y)), replace=False)
        loss = F.cross_entropy(model(mg.tensor(x[idx], device=device)),
                               mg.tensor(y[idx], device=device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        bar.update(1)
    bar.close()
    return loss.item()


def accuracy(model, x, y, device):
    with mg.no_grad():
        return float((model(mg.tensor(x, device=device)).numpy().argmax(1) == y).mean())


def few_labels(x, y, k, seed):
    """k images of each digit, chosen at random."""
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.nonzero(y == c)[0], k, replace=False) for c in range(10)])
    return (x[idx], y[idx])


def fine_tune(method, pretrained, data, k, args):
    """Train the digits classifier for one method on k labels per class; its test accuracy."""
    mg.manual_seed(args.seed + k)
    x, y = few_labels(*data["train"], k, args.seed + k)
    features = backbone()
    if method != "from scratch":
        features.load_state_dict(pretrained.state_dict())
    model = layers.Sequential(features, layers.Linear(D, 10)).to(args.device)
    head = list(model[1].parameters())
    if method == "frozen backbone + new head":
        features.requires_grad_(False)
        groups = [{"params": head, "lr": args.lr}]
    elif method == "full fine-tuning":
        groups = [{"params": list(features.parameters()), "lr": args.lr / 10},
                  {"params": head, "lr": args.lr}]
    else:
        groups = [{"params": list(model.parameters()), "lr": args.lr}]
    fit(model, groups, x, y, args.finetune_steps, 64, args.device,
        np.random.default_rng(args.seed))
    return accuracy(model, *data["test"], args.device)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Pretrain a CNN on Fashion-MNIST or synthetic shapes, then fine-tune on "
                    "few labels of the digits: from scratch, frozen backbone + new head, full "
                    "fine-tuning.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--pretrain", choices=["auto", "fashion-mnist", "synthetic"],
                        default="auto", help="auto: Fashion-MNIST when present, else synthetic")
    parser.add_argument("--data-dir", default=FASHION_MNIST_DIR)
    parser.add_argument("--pretrain-size", type=int, default=20000)
    parser.add_argument("--pretrain-steps", type=int, default=600)
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 3, 10, 30],
                        help="labelled digits per class k")
    parser.add_argument("--finetune-steps", type=int, default=150)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam rate of the head")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "transfer")
    args = parser.parse_args(argv)
    for name in ("pretrain_size", "pretrain_steps", "finetune_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got "
                         f"{getattr(args, name)}")
    if min(args.shots) < 1 or max(args.shots) > 100:
        parser.error(f"--shots must lie in [1, 100], got {args.shots}")
    check_device(parser, args.device)
    return args


def plot(results, shots, path, source):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for method in METHODS:
        ax.plot(shots, [results[method][str(k)] for k in shots], "o-", label=method)
    ax.set(xscale="log", xlabel="labelled digits per class", ylabel="test accuracy",
           title=f"fine-tuning on the digits, pretrained on {source}")
    ax.set_xticks(shots)
    ax.set_xticklabels([str(k) for k in shots])
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    log = open_logger(args)
    try:
        x, y, K, source = load_pretraining(args.pretrain, args.pretrain_size, args.seed,
                                           args.data_dir)
    except FileNotFoundError as err:
        sys.exit(f"transfer: {err}")
    mg.manual_seed(args.seed)
    pretrained = backbone()
    model = layers.Sequential(pretrained, layers.Linear(D, K)).to(args.device)
    x = standardise(x)
    fit(model, [{"params": list(model.parameters()), "lr": args.lr}], x, y, args.pretrain_steps,
        128, args.device, np.random.default_rng(args.seed), "pretraining", args.quiet)
    pretrain_acc = accuracy(model, x[-2000:], y[-2000:], args.device)
    digits = {"train": load_digits(split="train"), "test": load_digits(split="test")}
    mean, std = digits["train"][0].mean(), digits["train"][0].std()
    digits = {s: (((a - mean) / std).astype(np.float32), b) for s, (a, b) in digits.items()}
    shots = sorted(set(args.shots))
    results = {m: {} for m in METHODS}
    bar = progress_bar(len(shots) * len(METHODS), "fine-tuning", args.quiet)
    for k in shots:
        for method in METHODS:
            results[method][str(k)] = fine_tune(method, pretrained, digits, k, args)
            log.add_scalar(f"test_accuracy/{method}", results[method][str(k)], k)
            bar.update(1)
    bar.close()
    plot(results, shots, os.path.join(args.out, "accuracy_vs_labels.png"), source)
    save_metrics(args.out, {"pretraining": {"data": source, "classes": K,
                                            "train_accuracy_last_2000": pretrain_acc},
                            "test_accuracy": results,
                            "settings": {k: v for k, v in vars(args).items()
                                         if k not in ("out", "logdir")}})
    log.close()
    print(f"pretrained on {source} ({K} classes): accuracy {pretrain_acc:.3f} on its last "
          f"2000 training images")
    print("test accuracy on the digits, by labelled images per class:")
    print(f"{'':28s}" + "".join(f"{k:>7d}" for k in shots))
    for method in METHODS:
        print(f"{method:28s}" + "".join(f"{results[method][str(k)]:7.3f}" for k in shots))
    print(f"wrote {args.out}/metrics.json, accuracy_vs_labels.png")
    return results


if __name__ == "__main__":
    main()
