"""Semantic segmentation of synthetic shapes with SegNet and U-Net.

Every pixel gets a class: background, disc, square or triangle. The data are generated on the
fly from a seed: each image holds one to three shapes of random colour and size on a faintly
striped background of random colour, angle and frequency, plus pixel noise, so that colour alone
says nothing about the class; the outline does. Two choices make the outline readable: every
shape differs from its background by a minimum contrast (a shape drawn in nearly the background's
colour is invisible, to a person as to the network), and shapes do not touch (a disc that covers
a square's corner leaves a shape that is neither).

1. Training draws fresh batches from the generator for ``--steps`` steps per model (Adam,
   per-pixel cross-entropy, a cosine learning rate), so there is no fixed training set to
   memorise. A separate seed gives the held-out images.
2. Models: SegNet, whose decoder max-unpools with its encoder's pooling indices, and U-Net
   with skip connections, once with each upsampling choice (``--compare``), all on the same
   budget of steps.
3. Results, under ``--out``: ``metrics.json`` (per-class IoU and mIoU of every model),
   ``panels.png`` (input / truth / SegNet / U-Net on held-out images), ``upsampling.png`` (mIoU
   and training loss per upsampling choice) and the table printed at the end.

The intersection-over-union of a class is |predicted ∩ true| / |predicted ∪ true| over all
held-out pixels; mIoU averages it over the classes, background included::

    python demos/segmentation.py
    python demos/segmentation.py --steps 200 --compare unpool nearest bilinear transposed

Notation
--------
B       batch size
S       image side, ``--size`` (a multiple of 2**len(channels): one pool per stage)
K       classes, 4 (background, disc, square, triangle)

Shared options (`demos/_common.py`): `--device cpu|cuda|cuda:N`, `--out DIR` (metrics.json
and PNGs), `--quiet`, `--logdir DIR` (TensorBoard).
"""
import argparse
import os
import sys
import time

# The products here are small (a few thousand columns): a multi-threaded BLAS spends more time
# waking and synchronising its threads than it saves (seven times the CPU time of one thread,
# measured on two loaded cores). minigrad's thread policy gives BLAS one thread when minigrad is
# imported (minigrad/threads.py); an OPENBLAS_NUM_THREADS in the environment wins.

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.functional as F  # noqa: E402
from models import SegNet, UNet  # noqa: E402
from models.segmentation import UPSAMPLE_MODES  # noqa: E402
from optim import Adam  # noqa: E402
from optim.lr_scheduler import CosineAnnealingLR  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)

CLASS_NAMES = ("background", "disc", "square", "triangle")
STRIPE_AMPLITUDE = 0.3  # largest colour difference between the two stripe colours
MIN_CONTRAST = 0.35     # smallest difference, in some channel, of a shape from its background
NOISE = 0.06            # standard deviation of the pixel noise
PANEL_ROWS = 5


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train SegNet and U-Net on seeded synthetic shapes; report per-class IoU "
                    "and compare the upsampling choices on the same budget.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--steps", type=int, default=800, help="training steps per model")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak Adam learning rate")
    parser.add_argument("--size", type=int, default=32,
                        help="image side S, a multiple of 2**len(channels)")
    parser.add_argument("--channels", type=int, nargs="+", default=[8, 16, 32],
                        help="widths of the stages (U-Net: the last is its bottleneck)")
    parser.add_argument("--test-images", type=int, default=200, help="held-out images")
    parser.add_argument("--compare", nargs="*", choices=UPSAMPLE_MODES,
                        default=["unpool", "bilinear", "transposed"],
                        help="U-Net upsampling choices to train and compare")
    parser.add_argument("--segnet", action=argparse.BooleanOptionalAction, default=True,
                        help="also train SegNet (its own max-unpooling decoder)")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "segmentation")
    args = parser.parse_args(argv)
    for name in ("steps", "batch_size", "test_images"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, "
                         f"got {getattr(args, name)}")
    if not args.lr > 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    if len(args.channels) < 2 or min(args.channels) < 1:
        parser.error(f"--channels needs at least two positive widths, got {args.channels}")
    if args.size % 2 ** len(args.channels):
        parser.error(f"--size must be a multiple of 2**{len(args.channels)} (one pool per "
                     f"width), got {args.size}")
    if not args.segnet and not args.compare:
        parser.error("nothing to train: give --compare modes or keep --segnet")
    check_device(parser, args.device)
    return args


def _background(rng, S):
    """A striped texture (S, S, 3) and its mean colour (3,): two colours near a random base
    colour, mixed along a random direction. The stripes stay faint (at most STRIPE_AMPLITUDE
    apart per channel), so that they texture the background without drawing outlines."""
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    angle, freq, phase = rng.uniform(0, np.pi), rng.uniform(0.3, 1.2), rng.uniform(0, 2 * np.pi)
    mix = 0.5 + 0.5 * np.sin(freq * (xx * np.cos(angle) + yy * np.sin(angle)) + phase)
    base = rng.uniform(0.15, 0.85, 3)
    spread = rng.uniform(-STRIPE_AMPLITUDE, STRIPE_AMPLITUDE, 3) / 2
    a, b = base + spread, base - spread
    return ((a * mix[..., None] + b * (1 - mix[..., None])).astype(np.float32), base)


def _shape_colour(rng, base):
    """A random colour that differs from ``base`` by at least MIN_CONTRAST in some channel, so
    that every shape stands out from its background (colour still says nothing of the class)."""
    while True:
        colour = rng.uniform(0, 1, 3)
        if np.abs(colour - base).max() >= MIN_CONTRAST:
            return colour


def _shape_mask(rng, kind, S):
    """A boolean (S, S) mask of one disc, square or triangle of random size and place."""
    yy, xx = np.mgrid[0:S, 0:S]
    r = rng.uniform(0.15, 0.28) * S
    cy, cx = rng.uniform(r, S - r, 2)
    if kind == 1:
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    if kind == 2:
        half = 0.85 * r
        return (np.abs(yy - cy) <= half) & (np.abs(xx - cx) <= half)
    # An upright triangle: apex at the top, its half-width growing linearly towards the base.
    top, bottom = cy - r, cy + r
    half_width = r * (yy - top) / (bottom - top)
    return (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half_width)


def make_shapes(n, S, seed):
    """``n`` seeded images and their per-pixel labels.

    Returns
    -------
    images : ndarray of float32, shape (n, 3, S, S)
    labels : ndarray of int64, shape (n, S, S), values 0..K-1 (a later shape covers an earlier)
    """
    rng = np.random.default_rng(seed)
    images = np.empty((n, 3, S, S), np.float32)
    labels = np.zeros((n, S, S), np.int64)
    for i in range(n):
        image, base = _background(rng, S)
        for _ in range(rng.integers(1, 4)):
            kind = int(rng.integers(1, len(CLASS_NAMES)))
            mask = _shape_mask(rng, kind, S)
            if (labels[i][_grow(mask)] > 0).any():
                continue  # it would touch a shape already drawn: skip it, keep outlines whole
            image[mask] = _shape_colour(rng, base)
            labels[i][mask] = kind
        image += rng.normal(0, NOISE, image.shape).astype(np.float32)
        images[i] = image.transpose(2, 0, 1)
    return (images, labels)


def _grow(mask):
    """``mask`` grown by one pixel in each of the four directions."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown


def build(name, upsample, channels):
    """A SegNet or U-Net for RGB images and the K classes."""
    cls = SegNet if name == "segnet" else UNet
    return cls(3, len(CLASS_NAMES), channels=tuple(channels), upsample=upsample)


def predict(model, images, device, batch_size=50):
    """Predicted labels of shape (n, S, S), in eval mode."""
    model.eval()
    out = []
    with mg.no_grad():
        for start in range(0, len(images), batch_size):
            logits = model(mg.tensor(images[start:start + batch_size], device=device))
            out.append(logits.argmax(axis=1).numpy())
    model.train()
    return np.concatenate(out)


def iou_per_class(labels, predictions, K):
    """IoU of each class over all pixels, shape (K,); NaN for a class absent from both."""
    ious = np.full(K, np.nan)
    for k in range(K):
        truth, guess = labels == k, predictions == k
        union = np.logical_or(truth, guess).sum()
        if union:
            ious[k] = np.logical_and(truth, guess).sum() / union
    return ious


def train(model, args, tag, log):
    """``args.steps`` Adam steps on fresh batches; returns the loss per step and the seconds."""
    model.to(args.device)
    optimizer = Adam(model.parameters(), lr=args.lr)
    scheduler = CosineAnnealingLR(optimizer, T_max=args.steps)
    losses = []
    progress = progress_bar(args.steps, tag, args.quiet)
    start = time.process_time()
    for step in range(args.steps):
        # A new seed per step: an endless stream of images, the same for every model.
        images, labels = make_shapes(args.batch_size, args.size, seed=(args.seed, 1, step))
        logits = model(mg.tensor(images, device=args.device))
        loss = F.cross_entropy(logits, mg.tensor(labels, device=args.device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        log.add_scalar(f"{tag}/loss", losses[-1], step)
        progress.update(1)
        progress.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
    progress.close()
    return (losses, time.process_time() - start)


def plot_panels(images, labels, predictions, path):
    """Rows of held-out images: input, truth and each model's prediction."""
    import matplotlib.pyplot as plt

    names = list(predictions)
    rows, cols = min(PANEL_ROWS, len(images)), 2 + len(names)
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2 * rows), squeeze=False)
    for r in range(rows):
        panels = [("input", images[r].transpose(1, 2, 0).clip(0, 1), None),
                  ("truth", labels[r], "tab10")]
        panels += [(name, predictions[name][r], "tab10") for name in names]
        for c, (title, picture, cmap) in enumerate(panels):
            ax = axes[r, c]
            if cmap is None:
                ax.imshow(picture)
            else:
                ax.imshow(picture, cmap=cmap, vmin=0, vmax=9, interpolation="nearest")
            ax.axis("off")
            if r == 0:
                ax.set_title(title, fontsize=9)
    fig.suptitle("Held-out images: 0 background (blue), 1 disc, 2 square, 3 triangle")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_comparison(results, path):
    """mIoU per model (left) and their smoothed training losses (right)."""
    import matplotlib.pyplot as plt

    fig, (ax_bar, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(results)
    ax_bar.bar(names, [results[n]["miou"] for n in names], color="tab:blue")
    for i, name in enumerate(names):
        ax_bar.text(i, results[name]["miou"], f"{results[name]['miou']:.3f}", ha="center",
                    va="bottom")
    ax_bar.set(ylabel="held-out mIoU", ylim=(0, 1), title="Same budget of steps")
    ax_bar.tick_params(axis="x", labelrotation=20)
    for name in names:
        losses = np.asarray(results[name]["losses"])
        window = max(1, len(losses) // 25)
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax_loss.plot(smooth, label=name)
    ax_loss.set(xlabel="step", ylabel="cross-entropy (moving mean)", yscale="log",
                title="Training loss")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")  # files only: the demo must run without a display

    say = (lambda *a: None) if args.quiet else print
    log = open_logger(args)
    test_images, test_labels = make_shapes(args.test_images, args.size, seed=(args.seed, 2))
    K = len(CLASS_NAMES)
    runs = [("segnet", "unpool")] if args.segnet else []
    runs += [("unet", mode) for mode in args.compare]
    say(f"{len(runs)} models, {args.steps} steps of {args.batch_size} fresh {args.size}x"
        f"{args.size} images each; {args.test_images} held-out images; on {args.device}")
    results, predictions = {}, {}
    for name, upsample in runs:
        label = f"{name}-{upsample}"
        mg.manual_seed(args.seed)
        model = build(name, upsample, args.channels)
        losses, seconds = train(model, args, label, log)
        predicted = predict(model, test_images, args.device)
        ious = iou_per_class(test_labels, predicted, K)
        miou = float(np.nanmean(ious))
        results[label] = {"model": name, "upsample": upsample, "miou": miou,
                          "iou": dict(zip(CLASS_NAMES, [float(v) for v in ious])),
                          "pixel_accuracy": float((predicted == test_labels).mean()),
                          "cpu_seconds": seconds,
                          "parameters": sum(p.numel() for p in model.parameters()),
                          "losses": losses}
        predictions[label] = predicted
        log.add_scalar(f"{label}/miou", miou, args.steps)
        say(f"{label:18s} mIoU {miou:.3f}  (" + ", ".join(
            f"{c} {v:.3f}" for c, v in zip(CLASS_NAMES, ious)) + f")  {seconds:.0f} CPU s")
    log.close()

    os.makedirs(args.out, exist_ok=True)
    plot_panels(test_images, test_labels, predictions, os.path.join(args.out, "panels.png"))
    plot_comparison(results, os.path.join(args.out, "upsampling.png"))
    unet = [label for label in results if results[label]["model"] == "unet"]
    best_unet = max(unet, key=lambda label: results[label]["miou"]) if unet else None
    metrics = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
               "size": args.size, "test_images": args.test_images, "classes": CLASS_NAMES,
               "models": results,
               "segnet_miou": results["segnet-unpool"]["miou"] if args.segnet else None,
               "unet_best": best_unet,
               "unet_best_miou": results[best_unet]["miou"] if best_unet else None}
    save_metrics(args.out, metrics)

    print(f"{'model':18s} {'mIoU':>6s} " + " ".join(f"{c:>10s}" for c in CLASS_NAMES)
          + f" {'pixel acc':>9s} {'CPU s':>6s}")
    for label, r in results.items():
        print(f"{label:18s} {r['miou']:6.3f} " + " ".join(f"{v:10.3f}" for v in r["iou"].values())
              + f" {r['pixel_accuracy']:9.3f} {r['cpu_seconds']:6.0f}")
    print(f"saved metrics.json, panels.png and upsampling.png in {args.out}")
    return metrics


if __name__ == "__main__":
    main()
