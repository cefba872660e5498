"""Regularisation, one change at a time: the same small CNN trained on a deliberately small
subset of the digits with no regularisation, weight decay, dropout, data augmentation, and all
three together.

With 200 training images a CNN can memorise them: training accuracy reaches 100% while
validation accuracy stalls, and the difference (the *generalisation gap*) is what
regularisation fights:

- weight decay (decoupled, AdamW) pulls every weight towards zero at each step, preferring
  simple functions;
- dropout zeroes random units in training, so no unit can rely on one other;
- augmentation shows a slightly different image each epoch (small rotations, shifts and
  scalings from ``minigrad.data.transforms.RandomAffine``; no horizontal flips, which would
  turn a 2 into a mirrored 2 that is no digit at all), enlarging the training set for free.

The advanced course's recipe is visible in the curves: watch training and validation together,
and add one regulariser at a time. Results under ``--out``: ``curves.png`` (training and
validation accuracy per epoch for each setting), ``gap.png`` (the final gap, a bar per
setting) and ``metrics.json``; the table is printed. About a minute of CPU::

    python demos/regularization.py
    python demos/regularization.py --train-size 500 --epochs 40

Notation
--------
N   training images (``--train-size``);  B   batch size;  E   epochs

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
from minigrad.data import load_digits, train_test_split  # noqa: E402
from minigrad.data import transforms as T  # noqa: E402
from optim import AdamW  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)

SETTINGS = {
    "none": {"weight_decay": 0.0, "dropout": 0.0, "augment": False},
    "weight decay": {"weight_decay": None, "dropout": 0.0, "augment": False},
    "dropout": {"weight_decay": 0.0, "dropout": None, "augment": False},
    "augmentation": {"weight_decay": 0.0, "dropout": 0.0, "augment": True},
    "all": {"weight_decay": None, "dropout": None, "augment": True},
}


def small_cnn(dropout):
    """conv 3x3 (16) -> ReLU -> conv 3x3 (32) -> ReLU -> max-pool 2 -> dropout -> FC 64 ->
    ReLU -> dropout -> FC 10, for 8x8 images."""
    return layers.Sequential(
        layers.Conv2d(1, 16, 3, padding=1), layers.ReLU(),
        layers.Conv2d(16, 32, 3, padding=1), layers.ReLU(), layers.MaxPool2d(2),
        layers.Flatten(), layers.Dropout(dropout), layers.Linear(32 * 4 * 4, 64), layers.ReLU(),
        layers.Dropout(dropout), layers.Linear(64, 10))


def augmentation(seed):
    return T.Compose([T.RandomAffine(degrees=12, translate=(0.12, 0.12), scale=(0.9, 1.1),
                                     interpolation="bilinear", seed=seed)])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="The same CNN on a small subset of the digits with no regularisation, "
                    "weight decay, dropout, augmentation, and all together; train/validation "
                    "curves and the generalisation gap.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--train-size", type=int, default=200, help="training images N")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3, help="AdamW learning rate")
    parser.add_argument("--weight-decay", type=float, default=0.2,
                        help="AdamW's decoupled decay where a setting uses it")
    parser.add_argument("--dropout", type=float, default=0.4,
                        help="dropout probability where a setting uses it")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS),
                        metavar="NAME", help="which settings: " + ", ".join(SETTINGS))
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "regularization")
    args = parser.parse_args(argv)
    for name in ("train_size", "epochs", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got "
                         f"{getattr(args, name)}")
    if not 0 <= args.dropout < 1 or args.weight_decay < 0 or not args.lr > 0:
        parser.error("--dropout must be in [0, 1), --weight-decay >= 0 and --lr > 0")
    check_device(parser, args.device)
    return args


def load_data(train_size, seed):
    """A small training subset, a validation split and the test set, standardised."""
    x, y = load_digits(split="train")
    x_test, y_test = load_digits(split="test")
    fit, val = train_test_split(len(y), 0.25, seed=seed)
    fit = fit[:train_size]
    mean, std = x[fit].mean(), x[fit].std()

    def norm(a):
        return ((a - mean) / std).astype(np.float32)
    return {"train": (norm(x[fit]), y[fit]), "val": (norm(x[val]), y[val]),
            "test": (norm(x_test), y_test)}, (mean, std)


def accuracy(model, x, y, device):
    model.eval()
    with mg.no_grad():
        predictions = model(mg.tensor(x, device=device)).numpy().argmax(1)
    model.train()
    return float((predictions == y).mean())


def train(setting, data, stats, args, log):
    """Train one setting; returns its per-epoch train/val accuracy and the final test accuracy."""
    options = SETTINGS[setting]
    wd = args.weight_decay if options["weight_decay"] is None else options["weight_decay"]
    p = args.dropout if options["dropout"] is None else options["dropout"]
    mg.manual_seed(args.seed)
    model = small_cnn(p).to(args.device)
    optimizer = AdamW(model.parameters(), lr=args.lr, weight_decay=wd)
    augment = augmentation(args.seed) if options["augment"] else None
    mean, std = stats
    x, y = data["train"]
    rng = np.random.default_rng(args.seed)
    history = {"train": [], "val": []}
    for epoch in range(args.epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), args.batch_size):
            idx = order[start:start + args.batch_size]
            xb = x[idx]
            if augment is not None:
                # The warp fills with 0 in pixel units, the blank background: undo and redo
                # the standardisation around it.
                xb = ((augment(xb * std + mean) - mean) / std).astype(np.float32)
            loss = F.cross_entropy(model(mg.tensor(xb, device=args.device)),
                                   mg.tensor(y[idx], device=args.device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        history["train"].append(accuracy(model, x, y, args.device))
        history["val"].append(accuracy(model, *data["val"], args.device))
        log.add_scalars(f"accuracy/{setting}", {"train": history["train"][-1],
                                                "val": history["val"][-1]}, epoch)
    history["test"] = accuracy(model, *data["test"], args.device)
    return history


def plot(histories, path_curves, path_gap):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, h) in enumerate(histories.items()):
        epochs = np.arange(1, len(h["train"]) + 1)
        ax.plot(epochs, h["train"], "--", color=f"C{i}", lw=1)
        ax.plot(epochs, h["val"], "-", color=f"C{i}", label=name)
    ax.set(xlabel="epoch", ylabel="accuracy",
           title="training (dashed) and validation (solid) accuracy")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path_curves, dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = list(histories)
    gaps = [histories[n]["train"][-1] - histories[n]["val"][-1] for n in names]
    ax.bar(names, gaps, color=[f"C{i}" for i in range(len(names))])
    ax.set(ylabel="train - validation accuracy", title="generalisation gap after training")
    fig.tight_layout()
    fig.savefig(path_gap, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    log = open_logger(args)
    data, stats = load_data(args.train_size, args.seed)
    histories = {}
    bar = progress_bar(len(args.settings), "settings", args.quiet)
    for setting in args.settings:
        histories[setting] = train(setting, data, stats, args, log)
        bar.update(1)
    bar.close()
    plot(histories, os.path.join(args.out, "curves.png"), os.path.join(args.out, "gap.png"))
    table = {name: {"train_accuracy": h["train"][-1], "val_accuracy": h["val"][-1],
                    "gap": h["train"][-1] - h["val"][-1], "test_accuracy": h["test"],
                    "best_val_accuracy": max(h["val"])}
             for name, h in histories.items()}
    save_metrics(args.out, {"results": table, "curves": histories,
                            "settings": {k: v for k, v in vars(args).items()
                                         if k not in ("out", "logdir")}})
    log.close()
    print(f"{len(data['train'][1])} training images, {args.epochs} epochs")
    print(f"{'setting':14s} {'train':>6s} {'val':>6s} {'gap':>6s} {'test':>6s}")
    for name, r in table.items():
        print(f"{name:14s} {r['train_accuracy']:6.3f} {r['val_accuracy']:6.3f} "
              f"{r['gap']:6.3f} {r['test_accuracy']:6.3f}")
    print(f"wrote {args.out}/metrics.json, curves.png, gap.png")
    return table


if __name__ == "__main__":
    main()
