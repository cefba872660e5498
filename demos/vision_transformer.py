"""A small vision transformer (ViT) classifies the 8x8 digits from patches and shows where it looks.

The idea of Dosovitskiy et al. (2020), "An image is worth 16x16 words", at the digits' scale:

1. Patches. Each 8x8 image is cut into 2x2 patches, 16 "words" of 4 pixels, read row by row.
   A linear layer embeds each patch in ``--width`` dimensions.
2. Tokens. A learnt class token is put in front (17 tokens), and a learnt position embedding is
   added to every token: attention itself sees a set, not a grid.
3. Encoder. ``--layers`` pre-norm transformer encoder layers (GELU feed-forward net, dropout),
   then a LayerNorm; the class token's output goes through a linear head to the 10 classes.
4. Training. Cross-entropy with label smoothing, AdamW, a linear warm-up then cosine decay.
   ``--shift`` adds random one-pixel shifts of the images (a ViT has no convolution's built-in
   translation invariance and must learn it from the data); on 1,300 digits and this budget
   they slow convergence more than they help, so they are off by default.
5. Results, under ``--out``: ``metrics.json``, ``curves.png`` (loss and accuracy per epoch) and
   ``attention_maps.png``: for a few test digits, the weight the class token gives each patch
   in the last layer, per head, drawn over the image.

With the defaults it reaches about 97% test accuracy (97.5% with seed 0) in under a minute of
CPU time (about 5 minutes of wall time on a busy 2-core machine)::

    python demos/vision_transformer.py
    python demos/vision_transformer.py --epochs 5 --width 32   # a quick look

Notation
--------
N   images in a batch; P = 16 patches of Q = 4 pixels; T = P + 1 tokens; E = ``--width``

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
import layers  # noqa: E402
from minigrad.data import load_digits, train_test_split  # noqa: E402
from optim import AdamW  # noqa: E402
from optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)

SIDE, PATCH, CLASSES = 8, 2, 10


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train a small vision transformer on the 8x8 digits and plot its "
                    "attention maps.", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate")
    parser.add_argument("--width", type=int, default=64, help="E, the token width")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--dropout", type=float, default=0.0,
                        help="in the encoder and on the positions (the digits train best "
                             "without, at this size)")
    parser.add_argument("--shift", action="store_true",
                        help="augment with random one-pixel shifts (slower to converge)")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on only the first N training images (quick runs, tests)")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "vision_transformer")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "width", "heads", "layers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.width % args.heads:
        parser.error(f"--width ({args.width}) must be divisible by --heads ({args.heads})")
    check_device(parser, args.device)
    return args


def patchify(images):
    """(N, 1, 8, 8) images -> (N, P, Q): 2x2 patches in reading order, each flattened."""
    N = images.shape[0]
    grid = SIDE // PATCH
    patches = images.reshape(N, grid, PATCH, grid, PATCH).transpose(0, 1, 3, 2, 4)
    return patches.reshape(N, grid * grid, PATCH * PATCH)


class VisionTransformer(layers.Module):
    """Patch embedding, class token, learnt positions, a pre-norm encoder and a linear head."""

    def __init__(self, width, heads, num_layers, dropout):
        super().__init__()
        tokens = (SIDE // PATCH) ** 2 + 1
        self.embed = layers.Linear(PATCH * PATCH, width)
        self.cls_token = layers.Parameter(mg.zeros(1, 1, width))
        self.position = layers.LearnedPositionalEncoding(width, dropout, max_len=tokens,
                                                         batch_first=True)
        layer = layers.TransformerEncoderLayer(width, heads, 2 * width, dropout,
                                               activation="gelu", batch_first=True,
                                               norm_first=True)
        self.encoder = layers.TransformerEncoder(layer, num_layers,
                                                 norm=layers.LayerNorm(width))
        self.head = layers.Linear(width, CLASSES)

    def tokens(self, patches):
        """(N, P, Q) patches -> (N, T, E) tokens with the class token first and positions."""
        x = self.embed(patches)
        cls = self.cls_token.broadcast_to((x.shape[0], 1, x.shape[2]))
        return self.position(mg.cat([cls, x], 1))

    def forward(self, patches):
        return self.head(self.encoder(self.tokens(patches))[:, 0])

    def last_attention(self, patches):
        """Weights (N, heads, T, T) of the last layer's self-attention (in eval mode)."""
        x = self.tokens(patches)
        for layer in list(self.encoder.layers)[:-1]:
            x = layer(x)
        last = self.encoder.layers[-1]
        h = last.norm1(x)
        return last.self_attn(h, h, h, average_attn_weights=False)[1]


def random_shift(images, rng):
    """Each image moved by -1, 0 or 1 pixel in each direction (zero fill)."""
    N = images.shape[0]
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))
    dy, dx = rng.integers(0, 3, N), rng.integers(0, 3, N)
    return np.stack([padded[i, :, dy[i]:dy[i] + SIDE, dx[i]:dx[i] + SIDE] for i in range(N)])


def evaluate(model, images, labels, device, batch_size=256):
    """Mean loss and accuracy in eval mode."""
    model.eval()
    loss = correct = 0.0
    with mg.no_grad():
        for start in range(0, len(labels), batch_size):
            xb = mg.tensor(patchify(images[start:start + batch_size]), device=device)
            yb = mg.tensor(labels[start:start + batch_size], device=device)
            logits = model(xb)
            loss += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += int((logits.numpy().argmax(1) == labels[start:start + batch_size]).sum())
    model.train()
    return (loss / len(labels), correct / len(labels))


def train(args, model, data, log):
    """AdamW with warm-up and cosine decay; returns the history of losses and accuracies."""
    (train_x, train_y), (val_x, val_y) = data["train"], data["val"]
    rng = np.random.default_rng(args.seed)
    steps = -(-len(train_y) // args.batch_size)
    optimizer = AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    warmup = min(steps * 2, steps * args.epochs // 2)
    scheduler = SequentialLR(optimizer, [
        LinearLR(optimizer, start_factor=0.1, total_iters=max(warmup, 1)),
        CosineAnnealingLR(optimizer, T_max=max(steps * args.epochs - warmup, 1))],
        milestones=[max(warmup, 1)])
    history = {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc")}
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(train_y))
        bar = progress_bar(steps, f"epoch {epoch}/{args.epochs}", args.quiet)
        total = correct = 0.0
        for start in range(0, len(order), args.batch_size):
            idx = order[start:start + args.batch_size]
            images = random_shift(train_x[idx], rng) if args.shift else train_x[idx]
            xb = mg.tensor(patchify(images), device=args.device)
            yb = mg.tensor(train_y[idx], device=args.device)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=0.1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(idx)
            correct += int((logits.numpy().argmax(1) == train_y[idx]).sum())
            bar.update(1)
        bar.close()
        val = evaluate(model, val_x, val_y, args.device)
        for key, value in zip(history, (total / len(order), correct / len(order)) + val):
            history[key].append(value)
        log.add_scalars("loss", {"train": history["train_loss"][-1], "val": val[0]}, epoch)
        log.add_scalars("accuracy", {"train": history["train_acc"][-1], "val": val[1]}, epoch)
        if not args.quiet:
            print(f"epoch {epoch:3d}  train loss {history['train_loss'][-1]:.4f}  "
                  f"val accuracy {100 * val[1]:.1f}%")
    return history


def plot_curves(history, path):
    import matplotlib.pyplot as plt
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history["train_loss"], label="training (label-smoothed)")
    ax_loss.plot(epochs, history["val_loss"], label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    ax_acc.plot(epochs, 100 * np.array(history["train_acc"]), label="training (shifted)")
    ax_acc.plot(epochs, 100 * np.array(history["val_acc"]), label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_attention(model, images, labels, device, path):
    """Per test digit: the image, then for each head the class token's attention to the 16
    patches of the last layer (a 4x4 map, drawn over the image)."""
    import matplotlib.pyplot as plt
    model.eval()
    with mg.no_grad():
        weights = model.last_attention(mg.tensor(patchify(images), device=device)).numpy()
        predicted = model(mg.tensor(patchify(images), device=device)).numpy().argmax(1)
    N, H = weights.shape[:2]
    grid = SIDE // PATCH
    fig, axes = plt.subplots(N, H + 1, figsize=(1.6 * (H + 1), 1.6 * N), squeeze=False)
    for i in range(N):
        axes[i, 0].imshow(images[i, 0], cmap="gray_r")
        axes[i, 0].set_title(f"{labels[i]} (pred. {predicted[i]})", fontsize=8)
        for h in range(H):
            cls_to_patches = weights[i, h, 0, 1:].reshape(grid, grid)
            ax = axes[i, h + 1]
            ax.imshow(images[i, 0], cmap="gray_r", extent=(0, SIDE, SIDE, 0))
            ax.imshow(cls_to_patches, cmap="magma", alpha=0.6, extent=(0, SIDE, SIDE, 0))
            if i == 0:
                ax.set_title(f"head {h}", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("class token -> patches, last layer", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    model.train()


def load_data(args):
    train = load_digits(split="train")
    test = load_digits(split="test")
    fit, val = train_test_split(len(train[1]), 0.1, seed=args.seed)
    if args.limit is not None:
        fit = fit[:args.limit]
    pick = lambda split, idx: (split[0][idx].astype(np.float32), split[1][idx])  # noqa: E731
    return {"train": pick(train, fit), "val": pick(train, val),
            "test": (test[0].astype(np.float32), test[1])}


def main(argv=None):
    args = parse_args(argv)
    mg.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    data = load_data(args)
    model = VisionTransformer(args.width, args.heads, args.layers, args.dropout).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"vision_transformer: {n_params} parameters, {len(data['train'][1])} training images")
    log = open_logger(args)
    start, cpu_start = time.perf_counter(), time.process_time()
    history = train(args, model, data, log)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    test_loss, test_acc = evaluate(model, *data["test"], args.device)
    plot_curves(history, os.path.join(args.out, "curves.png"))
    test_x, test_y = data["test"]
    plot_attention(model, test_x[:6], test_y[:6], args.device,
                   os.path.join(args.out, "attention_maps.png"))
    save_metrics(args.out, {"test_accuracy": test_acc, "test_loss": test_loss,
                            "val_accuracy": history["val_acc"][-1], "epochs": args.epochs,
                            "parameters": n_params, "train_seconds": seconds,
                            "train_cpu_seconds": cpu_seconds})
    log.close()
    print(f"vision_transformer: test accuracy {100 * test_acc:.2f}% (loss {test_loss:.4f}) "
          f"after {args.epochs} epochs, {seconds:.0f} s ({cpu_seconds:.0f} s CPU); "
          f"files in {args.out}")


if __name__ == "__main__":
    main()
