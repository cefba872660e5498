"""Why initialisation matters: a deep tanh or ReLU network with small-random, Xavier and
Kaiming weights, with and without batch norm.

Each layer computes ``h_l = φ(W_l h_{l-1})``. If W has entries of standard deviation s and
fan-in n, the variance of a pre-activation is about ``n s² Var(h)``: with ``n s² < 1`` the
signal shrinks geometrically with depth, with ``n s² > 1`` it grows, and the gradients flowing
back shrink or grow the same way. So the scale must match the layer:

- small random, s = 0.01: every layer divides the signal by about 10; after a few layers the
  activations (and the gradients of the weights) are all near zero, and nothing learns;
- Xavier (Glorot), s = √(2 / (n_in + n_out)): keeps the variance for a linear or tanh layer;
- Kaiming (He), s = √(2 / n_in): the 2 makes up for ReLU zeroing half of its inputs.

Batch norm re-standardises every layer's pre-activations, which makes the network far less
sensitive to the scale of W.

Part 1 pushes one batch through an untrained ``--depth``-layer network of width ``--width`` and
draws, per layer, the histogram of activations and of their gradients (the lecture's
vanishing-activation figure: ``activations_tanh.png``, ``activations_relu.png``, and their
standard deviations per layer in ``layer_stats.png``). Part 2 trains each combination on the
shipped digits and draws the training curves (``training.png``). A minute or two of CPU::

    python demos/initialization.py
    python demos/initialization.py --depth 20 --epochs 5

Notation
--------
L   depth (hidden layers);  n   width (units per hidden layer);  B   batch size

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
from layers import init  # noqa: E402
from minigrad.data import load_digits  # noqa: E402
from optim import SGD  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)

ACTIVATIONS = {"tanh": layers.Tanh, "relu": layers.ReLU}
INITS = {
    "small random": lambda w: init.normal_(w, 0.0, 0.01),
    "Xavier": lambda w: init.xavier_normal_(w),
    "Kaiming": lambda w: init.kaiming_normal_(w, nonlinearity="relu"),
}


class DeepMLP(layers.Module):
    """L hidden layers ``Linear -> [BatchNorm1d] -> φ`` and a linear head.

    ``forward`` keeps each hidden activation in ``self.activations`` (detached copies are
    not needed: they are read after backward, through hooks that store their gradients).
    """

    def __init__(self, in_features, width, depth, out_features, activation, init_name,
                 batch_norm):
        super().__init__()
        blocks, n_in = [], in_features
        for _ in range(depth):
            linear = layers.Linear(n_in, width, bias=not batch_norm)
            INITS[init_name](linear.weight)
            if linear.bias is not None:
                init.zeros_(linear.bias)
            parts = [linear] + ([layers.BatchNorm1d(width)] if batch_norm else [])
            blocks.append(layers.Sequential(*parts, ACTIVATIONS[activation]()))
            n_in = width
        self.blocks = layers.ModuleList(blocks)
        self.head = layers.Linear(n_in, out_features)
        self.activations, self.gradients = [], []

    def forward(self, x, record=False):
        self.activations, self.gradients = [], [None] * len(self.blocks)
        for k, block in enumerate(self.blocks):
            x = block(x)
            if record:
                self.activations.append(x.numpy().ravel())
                x.register_hook(self._store_gradient(k))
        return self.head(x)

    def _store_gradient(self, k):
        def hook(grad):
            self.gradients[k] = grad.numpy().ravel()
        return hook


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Activation and gradient histograms per layer of a deep tanh/ReLU MLP "
                    "under small-random, Xavier and Kaiming initialisation, and the training "
                    "curves that follow, with and without batch norm.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--depth", type=int, default=10, help="hidden layers L")
    parser.add_argument("--width", type=int, default=256, help="units per hidden layer n")
    parser.add_argument("--batch", type=int, default=512,
                        help="samples of the batch whose statistics are drawn (part 1)")
    parser.add_argument("--train-width", type=int, default=128,
                        help="hidden width of the networks trained in part 2")
    parser.add_argument("--epochs", type=int, default=8, help="training epochs per network")
    parser.add_argument("--lr", type=float, default=0.02, help="SGD (momentum 0.9) rate")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on only the first N digits (quick runs, tests)")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "initialization")
    args = parser.parse_args(argv)
    for name in ("depth", "width", "batch", "train_width", "epochs", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    check_device(parser, args.device)
    return args


def layer_statistics(args, activation, init_name):
    """Per layer: activations and their gradients for one batch of N(0, 1) inputs."""
    mg.manual_seed(args.seed)
    net = DeepMLP(args.width, args.width, args.depth, 10, activation, init_name, False)
    net.to(args.device)
    x = mg.randn(args.batch, args.width, device=args.device)
    y = mg.tensor(np.random.default_rng(args.seed).integers(0, 10, args.batch),
                  device=args.device)
    F.cross_entropy(net(x, record=True), y).backward()
    return (net.activations, net.gradients)


def plot_histograms(stats, activation, path):
    """Rows: initialisations; columns: layers; each panel the histogram of activations, and
    the gradients' as a second row per initialisation."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    L = len(next(iter(stats.values()))[0])
    fig, axes = plt.subplots(2 * len(INITS), L, figsize=(1.6 * L, 1.3 * 2 * len(INITS)),
                             squeeze=False)
    for r, init_name in enumerate(INITS):
        acts, grads = stats[init_name]
        for k in range(L):
            for row, values, color in ((2 * r, acts[k], "C0"), (2 * r + 1, grads[k], "C3")):
                ax = axes[row, k]
                ax.hist(values, bins=40, color=color)
                ax.set_yticks([])
                ax.tick_params(labelsize=5)
                ax.set_title(f"std {values.std():.1e}", fontsize=6)
            if k == 0:
                axes[2 * r, 0].set_ylabel(f"{init_name}\nactivations", fontsize=7)
                axes[2 * r + 1, 0].set_ylabel("gradients", fontsize=7)
    for k in range(L):
        axes[-1, k].set_xlabel(f"layer {k + 1}", fontsize=7)
    fig.suptitle(f"{activation}: activations (blue) and their gradients (red), per layer")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_layer_stats(all_stats, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(9, 6))
    for c, (activation, stats) in enumerate(all_stats.items()):
        for init_name, (acts, grads) in stats.items():
            layers_axis = np.arange(1, len(acts) + 1)
            axes[0, c].semilogy(layers_axis, [a.std() + 1e-30 for a in acts], "o-", label=init_name)
            axes[1, c].semilogy(layers_axis, [g.std() + 1e-30 for g in grads], "o-",
                                label=init_name)
        axes[0, c].set(title=activation, ylabel="std of activations")
        axes[1, c].set(xlabel="layer", ylabel="std of gradients")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(args, data, activation, init_name, batch_norm):
    """SGD on the digits; returns the training loss per epoch and the test accuracy."""
    (x, y), (x_test, y_test) = data
    mg.manual_seed(args.seed)
    net = DeepMLP(x.shape[1], args.train_width, args.depth, 10, activation, init_name,
                  batch_norm).to(args.device)
    optimizer = SGD(net.parameters(), lr=args.lr, momentum=0.9)
    rng = np.random.default_rng(args.seed)
    losses = []
    for _ in range(args.epochs):
        order, total = rng.permutation(len(y)), 0.0
        net.train()
        for start in range(0, len(y), 64):
            idx = order[start:start + 64]
            loss = F.cross_entropy(net(mg.tensor(x[idx], device=args.device)),
                                   mg.tensor(y[idx], device=args.device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / len(y))
    net.eval()
    with mg.no_grad():
        predictions = net(mg.tensor(x_test, device=args.device)).numpy().argmax(1)
    return (losses, float((predictions == y_test).mean()))


def load_data(limit):
    """Standardised, flattened digits: ((train x, y), (test x, y))."""
    x, y = load_digits(split="train")
    x_test, y_test = load_digits(split="test")
    x, x_test = x.reshape(len(x), -1), x_test.reshape(len(x_test), -1)
    mean, std = x.mean(0), x.std(0) + 1e-3
    x = ((x - mean) / std).astype(np.float32)
    x_test = ((x_test - mean) / std).astype(np.float32)
    return ((x[:limit], y[:limit]) if limit else (x, y), (x_test, y_test))


def plot_training(curves, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for c, activation in enumerate(ACTIVATIONS):
        for i, init_name in enumerate(INITS):
            for bn, style in ((False, "-"), (True, "--")):
                losses = curves[(activation, init_name, bn)]
                axes[c].plot(np.arange(1, len(losses) + 1), losses, style, color=f"C{i}",
                             label=f"{init_name}{' + BN' if bn else ''}")
        axes[c].set(title=f"{activation}, training loss", xlabel="epoch", yscale="log")
    axes[0].set_ylabel("cross-entropy")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    log = open_logger(args)
    all_stats, metrics = {}, {"layer_std": {}, "training": {}}
    for activation in ACTIVATIONS:
        all_stats[activation] = {name: layer_statistics(args, activation, name) for name in INITS}
        plot_histograms(all_stats[activation], activation,
                        os.path.join(args.out, f"activations_{activation}.png"))
        metrics["layer_std"][activation] = {
            name: {"activations": [float(a.std()) for a in acts],
                   "gradients": [float(g.std()) for g in grads]}
            for name, (acts, grads) in all_stats[activation].items()}
    plot_layer_stats(all_stats, os.path.join(args.out, "layer_stats.png"))
    data = load_data(args.limit)
    curves = {}
    runs = [(a, i, bn) for a in ACTIVATIONS for i in INITS for bn in (False, True)]
    bar = progress_bar(len(runs), "training", args.quiet)
    for activation, init_name, bn in runs:
        losses, test_acc = train(args, data, activation, init_name, bn)
        curves[(activation, init_name, bn)] = losses
        key = f"{activation} / {init_name}{' + BN' if bn else ''}"
        metrics["training"][key] = {"loss": losses, "test_accuracy": test_acc}
        for epoch, value in enumerate(losses):
            log.add_scalar(f"loss/{key}", value, epoch)
        bar.update(1)
    bar.close()
    plot_training(curves, os.path.join(args.out, "training.png"))
    metrics["settings"] = {k: v for k, v in vars(args).items() if k not in ("out", "logdir")}
    save_metrics(args.out, metrics)
    log.close()
    print(f"Part 1: std of the activations of the last of {args.depth} layers and of the "
          f"gradient reaching the first (width {args.width}):")
    for activation, stats in metrics["layer_std"].items():
        for name, s in stats.items():
            print(f"  {activation:5s} {name:13s} {s['activations'][-1]:9.2e} "
                  f"{s['gradients'][0]:9.2e}")
    print(f"Part 2: digits, {args.epochs} epochs; final training loss, test accuracy:")
    for key, r in metrics["training"].items():
        print(f"  {key:30s} {r['loss'][-1]:.3f}  {r['test_accuracy']:.3f}")
    print(f"wrote {args.out}/metrics.json, activations_tanh.png, activations_relu.png, "
          "layer_stats.png, training.png")
    return metrics


if __name__ == "__main__":
    main()
