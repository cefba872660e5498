"""A spatial transformer network (Jaderberg et al., 2015) learns to undo the distortions of
digits it classifies: rotated, scaled and moved on a larger canvas.

The data: each 8x8 digit that ships with the package, upsampled to 16x16 and warped onto a
24x24 canvas by a random affine map (rotation, scale, translation; ``--rotation``, ``--scale``,
``--shift``), the same distortion every epoch so that both models see one fixed dataset. The
models share one small classifier (two 3x3 convolutions with pooling, then two linear layers):

- **cnn**: the classifier alone, on the distorted canvas;
- **stn**: a localisation network (a small CNN) predicts six numbers, the 2x3 matrix theta of
  an affine map; ``F.affine_grid(theta)`` gives, for every output pixel, where to read the
  input, and ``F.grid_sample`` reads it (bilinear), so the classifier sees a re-sampled canvas.
  theta starts at the identity (its layer's weight 0 and bias (1, 0, 0, 0, 1, 0)), and nothing
  tells the network what a canonical digit looks like: the transform is learned only through
  the classification loss, because grid_sample is differentiable in the grid.

Results under ``--out``: ``curves.png`` (test accuracy per epoch of both models),
``transformed.png`` (test canvases and what the transformer made of them) and
``metrics.json``; the table is printed. About a minute of CPU::

    python demos/spatial_transformer.py
    python demos/spatial_transformer.py --epochs 30 --rotation 60

Notation
--------
N images, B batch size, E epochs, S canvas side (24)
theta   (N, 2, 3), the affine map from output to input coordinates, both in [-1, 1]

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
from minigrad.data import load_digits  # noqa: E402
from optim import Adam  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)

CANVAS = 24


def distort(digits, rotation, scale, shift, seed):
    """Each 8x8 digit, upsampled to 16x16, warped onto a CANVAS x CANVAS canvas by a random
    rotation (±``rotation`` degrees), zoom (in [1 − scale, 1 + scale]) and shift (±``shift``
    of the half-width), one draw per digit from ``seed``."""
    rng = np.random.default_rng(seed)
    N = len(digits)
    angle = np.deg2rad(rng.uniform(-rotation, rotation, N))
    zoom = rng.uniform(1 - scale, 1 + scale, N)
    move = rng.uniform(-shift, shift, (N, 2))
    return warp(digits, angle, zoom, move)


def warp(digits, angle, zoom, move):
    """The digits (N, 1, 8, 8), upsampled to 16x16, turned by ``angle`` (radians; a positive
    angle turns the digit clockwise as drawn, since image rows grow downwards), zoomed by
    ``zoom`` and moved by ``move`` ((x, y) in canvas half-widths) onto the canvas, all (N,).
    affine_grid wants the map from canvas to digit coordinates, the inverse: undo the shift,
    the rotation, the zoom; the digit covers 16/24 of the canvas, so a canvas unit is 24/16
    digit units."""
    cos, sin = np.cos(angle), np.sin(angle)
    inverse = np.stack([np.stack([cos, sin], 1), np.stack([-sin, cos], 1)], 1)  # R^-1
    inverse *= (CANVAS / 16) / np.asarray(zoom)[:, None, None]
    theta = np.concatenate([inverse, -inverse @ np.asarray(move)[:, :, None]], axis=2)
    big = F.interpolate(mg.tensor(digits.astype(np.float64)), size=(16, 16), mode="bilinear")
    grid = F.affine_grid(mg.tensor(theta), (len(digits), 1, CANVAS, CANVAS))
    with mg.no_grad():
        return F.grid_sample(big, grid).numpy().astype(np.float32)


def classifier():
    """conv 3x3 (8) -> ReLU -> max-pool 2 -> conv 3x3 (16) -> ReLU -> max-pool 2 -> FC 64 ->
    ReLU -> FC 10, for CANVAS x CANVAS images."""
    side = CANVAS // 4
    return layers.Sequential(
        layers.Conv2d(1, 8, 3, padding=1), layers.ReLU(), layers.MaxPool2d(2),
        layers.Conv2d(8, 16, 3, padding=1), layers.ReLU(), layers.MaxPool2d(2),
        layers.Flatten(), layers.Linear(16 * side * side, 64), layers.ReLU(),
        layers.Linear(64, 10))


class SpatialTransformer(layers.Module):
    """A localisation network -> theta -> affine_grid -> grid_sample, then the classifier."""

    def __init__(self):
        super().__init__()
        self.localise = layers.Sequential(
            layers.MaxPool2d(2), layers.Conv2d(1, 8, 5, padding=2), layers.ReLU(),
            layers.MaxPool2d(2), layers.Conv2d(8, 8, 3, padding=1), layers.ReLU(),
            layers.Flatten(), layers.Linear(8 * (CANVAS // 4) ** 2, 32), layers.ReLU())
        self.theta = layers.Linear(32, 6)
        with mg.no_grad():  # start at the identity transform
            self.theta.weight.data[...] = 0
            self.theta.bias.data[...] = [1, 0, 0, 0, 1, 0]
        self.classify = classifier()

    def transform(self, x):
        theta = self.theta(self.localise(x)).reshape(x.shape[0], 2, 3)
        return F.grid_sample(x, F.affine_grid(theta, x.shape))

    def forward(self, x):
        return self.classify(self.transform(x))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="A spatial transformer learns to undo rotations, scalings and shifts of "
                    "digits, trained only through their classification; compared with the "
                    "same CNN without it.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    parser.add_argument("--limit", type=int, default=None,
                        help="use only the first LIMIT training images")
    parser.add_argument("--rotation", type=float, default=45.0, help="largest rotation, degrees")
    parser.add_argument("--scale", type=float, default=0.2, help="zoom in [1 - s, 1 + s]")
    parser.add_argument("--shift", type=float, default=0.25,
                        help="largest shift, as a fraction of the canvas half-width")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "spatial_transformer")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got "
                         f"{getattr(args, name)}")
    if args.limit is not None and args.limit < 10:
        parser.error(f"--limit must be at least 10, got {args.limit}")
    if not (0 <= args.rotation <= 180 and 0 <= args.scale < 1 and 0 <= args.shift <= 1):
        parser.error("--rotation must be in [0, 180], --scale in [0, 1) and --shift in [0, 1]")
    if not args.lr > 0:
        parser.error(f"--lr must be > 0, got {args.lr}")
    check_device(parser, args.device)
    return args


def accuracy(model, x, y, device, batch=256):
    model.eval()
    with mg.no_grad():
        predictions = np.concatenate([model(mg.tensor(x[i:i + batch], device=device))
                                      .numpy().argmax(1) for i in range(0, len(y), batch)])
    model.train()
    return float((predictions == y).mean())


def train(name, data, args, log, bar):
    """Train one model; returns it and its test accuracy after each epoch."""
    mg.manual_seed(args.seed)
    model = (SpatialTransformer() if name == "stn" else classifier()).to(args.device)
    optimizer = Adam(model.parameters(), lr=args.lr)
    x, y = data["train"]
    rng = np.random.default_rng(args.seed)
    curve = []
    for epoch in range(args.epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), args.batch_size):
            idx = order[start:start + args.batch_size]
            loss = F.cross_entropy(model(mg.tensor(x[idx], device=args.device)),
                                   mg.tensor(y[idx], device=args.device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        curve.append(accuracy(model, *data["test"], args.device))
        log.add_scalar(f"test_accuracy/{name}", curve[-1], epoch)
        bar.update(1)
    return model, curve


def plot(curves, model, test_x, args, path_curves, path_transformed):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        ax.plot(np.arange(1, len(curve) + 1), curve, marker="o", ms=3, label=name)
    ax.set(xlabel="epoch", ylabel="test accuracy",
           title=f"distorted digits (±{args.rotation:g}°, zoom ±{args.scale:g}, "
                 f"shift ±{args.shift:g})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path_curves, dpi=100)
    plt.close(fig)
    shown = test_x[:8]
    model.eval()
    with mg.no_grad():
        out = model.transform(mg.tensor(shown, device=args.device)).numpy()
    fig, axes = plt.subplots(2, len(shown), figsize=(1.3 * len(shown), 3))
    for i in range(len(shown)):
        for row, images in enumerate((shown, out)):
            axes[row, i].imshow(images[i, 0], cmap="gray_r", vmin=0, vmax=1)
            axes[row, i].axis("off")
    axes[0, 0].set_title("input", loc="left", fontsize=9)
    axes[1, 0].set_title("after the transformer", loc="left", fontsize=9)
    fig.tight_layout()
    fig.savefig(path_transformed, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    log = open_logger(args)
    x, y = load_digits(split="train")
    x_test, y_test = load_digits(split="test")
    if args.limit is not None:
        x, y = x[:args.limit], y[:args.limit]
    data = {"train": (distort(x, args.rotation, args.scale, args.shift, args.seed), y),
            "test": (distort(x_test, args.rotation, args.scale, args.shift, args.seed + 1),
                     y_test)}
    curves, models = {}, {}
    bar = progress_bar(2 * args.epochs, "epochs", args.quiet)
    for name in ("cnn", "stn"):
        models[name], curves[name] = train(name, data, args, log, bar)
    bar.close()
    plot(curves, models["stn"], data["test"][0], args, os.path.join(args.out, "curves.png"),
         os.path.join(args.out, "transformed.png"))
    table = {name: {"test_accuracy": curve[-1], "best_test_accuracy": max(curve)}
             for name, curve in curves.items()}
    save_metrics(args.out, {"results": table, "curves": curves,
                            "settings": {k: v for k, v in vars(args).items()
                                         if k not in ("out", "logdir")}})
    log.close()
    print(f"{len(y)} training and {len(y_test)} test digits on a {CANVAS}x{CANVAS} canvas, "
          f"rotated up to {args.rotation:g} degrees, {args.epochs} epochs")
    for name, r in table.items():
        print(f"{name}  test accuracy {r['test_accuracy']:.3f} "
              f"(best {r['best_test_accuracy']:.3f})")
    print(f"wrote {args.out}/metrics.json, curves.png, transformed.png")
    return table


if __name__ == "__main__":
    main()
