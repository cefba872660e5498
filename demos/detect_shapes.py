"""Detect shapes: train anchor-based detectors on synthetic images and score them with mAP.

Each seeded image holds one to four shapes (square, disc, triangle) of random colours and sizes,
anywhere, overlapping and occluding one another, on a noisy background; the boxes are their
tight bounding boxes. Three detectors see the same data:

1. the lecture's sliding-window baseline: a small classifier run on every window of a few fixed
   sizes (the crops are cut and resized by ``roi_align`` on the image itself), then NMS;
2. a single-stage anchor detector (``models.detection.SingleStageDetector``): one pass of a
   convolutional network gives class scores and box deltas for every anchor;
3. a two-stage detector (``TwoStageDetector``): region proposals, then ``roi_align`` crops of
   the features that are classified and refined.

Each is scored on held-out images with mAP@0.5 and mAP@0.5:0.95 (COCO's 101-point AP), and its
inference is timed. Writes ``detections.png`` (predicted boxes solid, true ones dashed),
``losses.png`` and ``metrics.json`` into ``--out``.

    python demos/detect_shapes.py                 # a few minutes on 2 CPU cores
    python demos/detect_shapes.py --train-images 64 --test-images 16 --epochs 1   # seconds

Shared options (`demos/_common.py`): `--device cpu|cuda|cuda:N`, `--out DIR` (metrics.json
and PNGs), `--quiet`, `--logdir DIR` (TensorBoard).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.functional as F  # noqa: E402
from layers import Conv2d, Flatten, Linear, ReLU, Sequential  # noqa: E402
from models.detection import SingleStageDetector, TwoStageDetector, coco_map  # noqa: E402
from models.detection.metrics import pairwise_iou  # noqa: E402
from models.detection.single_stage import select  # noqa: E402
from optim import Adam  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)

CLASSES = ("square", "disc", "triangle")
WINDOW_SIZES = (8, 12, 16, 20)
CROP = 8


def draw_shape(image, kind, x1, y1, size, colour):
    """Paint one shape into ``image`` (3, S, S); returns its tight xyxy box."""
    S = image.shape[1]
    yy, xx = np.mgrid[0:S, 0:S] + 0.5
    u, v = (xx - x1) / size, (yy - y1) / size
    inside = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    if kind == 1:
        inside &= (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    elif kind == 2:
        inside &= np.abs(u - 0.5) <= v / 2
    image[:, inside] = np.asarray(colour)[:, None]
    rows, cols = np.nonzero(inside)
    return np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=np.float64)


def make_dataset(count, size, seed):
    """``count`` images (count, 3, size, size) in [0, 1] and one target dict per image."""
    rng = np.random.default_rng(seed)
    images = np.empty((count, 3, size, size), dtype=np.float32)
    targets = []
    for i in range(count):
        image = rng.uniform(0, 0.3, (3, size, size))
        boxes, labels = [], []
        for _ in range(rng.integers(1, 5)):
            side = rng.uniform(7, 20)
            x1, y1 = rng.uniform(0, size - side, 2)
            box = np.array([x1, y1, x1 + side, y1 + side])
            # overlaps allowed, but no shape may hide another almost entirely
            if boxes and pairwise_iou(box[None], np.array(boxes)).max() > 0.4:
                continue
            kind = int(rng.integers(3))
            tight = draw_shape(image, kind, x1, y1, side, rng.uniform(0.45, 1.0, 3))
            boxes.append(tight)
            labels.append(kind)
        # a later shape may cover part of an earlier one, whose box stays its full extent
        images[i] = image
        targets.append({"boxes": np.array(boxes), "labels": np.array(labels, dtype=np.int64)})
    return (images, targets)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-images", type=int, default=1200)
    parser.add_argument("--test-images", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=12, help="single-stage training epochs")
    parser.add_argument("--two-stage-epochs", type=int, default=8)
    parser.add_argument("--baseline-epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "detect_shapes")
    args = parser.parse_args(argv)
    check_device(parser, args.device)
    if args.image_size % 4 or args.image_size < 16:
        parser.error("--image-size must be a multiple of 4, at least 16")
    return args


def train(model, images, targets, args, name, epochs, log):
    """Adam on ``model.loss``; returns the mean loss of each epoch."""
    optimizer = Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    losses, step = [], 0
    batches = (len(images) + args.batch_size - 1) // args.batch_size
    for epoch in range(epochs):
        model.train()
        order = rng.permutation(len(images))
        bar = progress_bar(batches, f"{name} {epoch + 1}/{epochs}", args.quiet)
        total = 0.0
        for b in range(batches):
            index = order[b * args.batch_size:(b + 1) * args.batch_size]
            x = mg.tensor(images[index], device=args.device)
            loss = model.loss(x, [targets[i] for i in index])["total"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
            log.add_scalar(f"{name}/loss", loss.item(), step)
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        bar.close()
        losses.append(total / batches)
        if not args.quiet:
            print(f"{name} epoch {epoch + 1}: loss {losses[-1]:.4f}")
    return losses


def detect_all(model, images, args):
    """Detections for every image, in batches; returns (detections, seconds per image)."""
    model.eval()
    out, start = [], time.process_time()
    for b in range(0, len(images), 32):
        out += model.detect(mg.tensor(images[b:b + 32], device=args.device))
    return (out, (time.process_time() - start) / max(len(images), 1))


def windows(size, stride=4):
    """Every square window of WINDOW_SIZES at ``stride`` over a size x size image, (W, 4)."""
    out = []
    for s in WINDOW_SIZES:
        starts = np.arange(0, size - s + 1, stride, dtype=np.float64)
        x, y = np.meshgrid(starts, starts)
        out.append(np.stack([x.ravel(), y.ravel(), x.ravel() + s, y.ravel() + s], axis=1))
    return np.concatenate(out)


class SlidingWindow:
    """The baseline: classify every window's crop (resized to CROP x CROP by roi_align)."""

    def __init__(self, size, num_classes):
        self.boxes = windows(size)
        self.net = Sequential(Conv2d(3, 16, 3, padding=1), ReLU(), Conv2d(16, 16, 3, padding=1),
                              ReLU(), Flatten(), Linear(16 * CROP * CROP, 64), ReLU(),
                              Linear(64, num_classes + 1))

    def crops(self, x, index):
        rois = [mg.tensor(self.boxes[i], dtype=x.dtype) for i in index]
        return F.roi_align(x, rois, CROP, 1.0, 2, True)

    def labels(self, target):
        iou = pairwise_iou(self.boxes, target["boxes"])
        label = np.where(iou.max(1) >= 0.5, target["labels"][iou.argmax(1)] + 1, 0)
        return np.where((iou.max(1) >= 0.3) & (label == 0), -100, label)

    def train(self, images, targets, args, log):
        optimizer = Adam(self.net.parameters(), lr=args.lr)
        rng = np.random.default_rng(args.seed)
        losses = []
        for epoch in range(args.baseline_epochs):
            total = 0.0
            for b in range(0, len(images), args.batch_size):
                index = rng.permutation(len(images))[:args.batch_size]
                picks, labels = [], []
                for i in index:  # every positive window and as many random negatives
                    label = self.labels(targets[i])
                    pos = np.flatnonzero(label > 0)
                    neg = rng.choice(np.flatnonzero(label == 0), max(len(pos), 4))
                    picks.append(np.concatenate([pos, neg]))
                    labels.append(label[picks[-1]])
                x = mg.tensor(images[index], device=args.device)
                loss = F.cross_entropy(self.net(self.crops(x, picks)),
                                       mg.tensor(np.concatenate(labels), device=args.device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item()
            losses.append(total / max(1, len(images) // args.batch_size))
            if not args.quiet:
                print(f"sliding window epoch {epoch + 1}: loss {losses[-1]:.4f}")
        return losses

    def detect_all(self, images, args):
        out, start = [], time.process_time()
        every = np.arange(len(self.boxes))
        with mg.no_grad():
            for image in images:
                x = mg.tensor(image[None], device=args.device)
                scores = F.softmax(self.net(self.crops(x, [every])), dim=-1).numpy()[:, 1:]
                out.append(select(self.boxes, scores, image.shape[1:], 0.05, 0.3, 20))
        return (out, (time.process_time() - start) / max(len(images), 1))


def draw(images, truths, predictions, path, count=6):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colours = ("tab:red", "tab:green", "tab:blue")
    fig, axes = plt.subplots(1, count, figsize=(2.6 * count, 2.8))
    for ax, image, truth, pred in zip(np.atleast_1d(axes), images, truths, predictions):
        ax.imshow(np.clip(image.transpose(1, 2, 0), 0, 1))
        for boxes, labels, style in ((truth["boxes"], truth["labels"], "--"),
                                     (pred["boxes"][pred["scores"] > 0.5],
                                      pred["labels"][pred["scores"] > 0.5], "-")):
            for (x1, y1, x2, y2), label in zip(boxes, labels):
                ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False,
                                           linestyle=style, edgecolor=colours[label], lw=1.5))
        ax.axis("off")
    fig.suptitle("single-stage detections (solid) and true boxes (dashed): "
                 + ", ".join(f"{c[4:]} {n}" for c, n in zip(colours, CLASSES)), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_losses(curves, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, losses in curves.items():
        ax.plot(range(1, len(losses) + 1), losses, marker="o", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary(name, m):
    print(f"{name:15s} mAP@0.5 {m['map50']:.3f}  mAP@0.5:0.95 {m['map50_95']:.3f}  "
          f"train {m['train_cpu_s']:.0f} s CPU  inference {m['infer_ms_per_image']:.1f} ms "
          f"CPU per image", flush=True)


def main(argv=None):
    args = parse_args(argv)
    mg.manual_seed(args.seed)
    train_images, train_targets = make_dataset(args.train_images, args.image_size, args.seed)
    test_images, test_targets = make_dataset(args.test_images, args.image_size, args.seed + 1)
    log = open_logger(args)
    os.makedirs(args.out, exist_ok=True)
    metrics, curves = {}, {}

    for name, model, epochs in (
            ("single_stage", SingleStageDetector(len(CLASSES)), args.epochs),
            ("two_stage", TwoStageDetector(len(CLASSES)), args.two_stage_epochs)):
        model.to(args.device)
        start = time.process_time()
        curves[name.replace("_", "-")] = train(model, train_images, train_targets, args, name,
                                               epochs, log)
        trained = time.process_time() - start
        detections, per_image = detect_all(model, test_images, args)
        metrics[name] = dict(coco_map(detections, test_targets), train_cpu_s=trained,
                             infer_ms_per_image=1e3 * per_image)
        summary(name, metrics[name])
        if name == "single_stage":
            draw(test_images, test_targets, detections, os.path.join(args.out, "detections.png"))

    start = time.process_time()
    baseline = SlidingWindow(args.image_size, len(CLASSES))
    curves["sliding window"] = baseline.train(train_images, train_targets, args, log)
    trained = time.process_time() - start
    detections, per_image = baseline.detect_all(test_images, args)
    metrics["sliding_window"] = dict(coco_map(detections, test_targets), train_cpu_s=trained,
                                     infer_ms_per_image=1e3 * per_image,
                                     windows=len(baseline.boxes))
    summary("sliding_window", metrics["sliding_window"])
    plot_losses(curves, os.path.join(args.out, "losses.png"))
    log.close()
    metrics["settings"] = {k: v for k, v in vars(args).items() if k not in ("out", "logdir")}
    save_metrics(args.out, metrics)
    print(f"held-out images: {args.test_images} ({args.image_size}x{args.image_size}, "
          f"{len(CLASSES)} classes); CPU seconds, so the figures hold on a busy machine")
    print(f"wrote {args.out}/detections.png, losses.png, metrics.json")
    return metrics


if __name__ == "__main__":
    main()
