"""Classify handwritten digits (or Fashion-MNIST) with an MLP, a LeNet CNN or a small ResNet.

The main demo: the whole workflow of a supervised image classifier in one readable script.

1. Data. The 8x8 digits shipped with minigrad (1,797 images; a fixed 20% is the test set), or
   Fashion-MNIST's 28x28 IDX files (60,000 train, 10,000 test). A seeded tenth of the training
   part is held out as the validation set that is evaluated after every epoch.
2. Model. ``--model cnn`` (the default) is a LeNet, ``mlp`` a two-hidden-layer perceptron,
   ``resnet`` a small residual network with BatchNorm.
3. Training. Cross-entropy, Adam, and a cosine learning-rate schedule stepped every batch
   (after a one-epoch linear warm-up), with a tqdm progress bar showing the running loss and
   accuracy.
4. Results, under ``--out``: ``model.npz`` (the state dict, for ``mg.load`` and
   ``model.load_state_dict``), ``metrics.json``, and three PNGs: ``curves.png`` (loss and
   accuracy per epoch, training and validation), ``confusion_matrix.png`` (test counts) and
   ``predictions.png`` (test images with predicted and true labels, mistakes in red).
5. Seeing inside (optional). ``--logdir runs/digits`` logs the curves, weight and gradient
   histograms, sample images and the autograd graph for TensorBoard (``tensorboard --logdir
   runs``); ``--debug`` first runs the training-debug recipes (model summary, activation
   statistics, gradient flow, learning-rate range test, overfitting one batch) and saves
   their PNGs under ``--out``.

With the defaults, the CNN reaches about 98% test accuracy on the digits in under a minute
on two CPU cores; on Fashion-MNIST, 8 epochs of batch 64 give about 92% in a few minutes::

    python demos/classify_digits.py
    python demos/classify_digits.py --model resnet
    python demos/classify_digits.py --data fashion-mnist --epochs 8 --batch-size 64
    python demos/classify_digits.py --debug --logdir runs/digits

Notation
--------
N       number of images in a split
B       batch size
C, S    image channels and side length (1 and 8 for the digits, 1 and 28 for Fashion-MNIST)
K       number of classes, 10

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
from minigrad.data import (FASHION_MNIST_CLASSES, FASHION_MNIST_DIR,  # noqa: E402
                           TensorDataset, load_digits, load_fashion_mnist, train_test_split)
from models import MLP, LeNet, resnet_small  # noqa: E402
from optim import Adam  # noqa: E402
from optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     log_images, log_parameters, open_logger, progress_bar, run_debug_recipes,
                     save_metrics)
from _distributed import (add_distributed_argument, is_main_process,  # noqa: E402
                          make_loader, setup_distributed, start_epoch, wrap_model)

VAL_FRACTION = 0.1
GRID_ROWS, GRID_COLS = 5, 8

# Per model: epochs, batch size and learning rate that train well in about a minute on two
# CPU cores on the digits. The flags override them.
DEFAULTS = {
    "cnn": {"epochs": 12, "batch_size": 32, "lr": 3e-3},
    "mlp": {"epochs": 30, "batch_size": 32, "lr": 1e-3},
    "resnet": {"epochs": 5, "batch_size": 32, "lr": 3e-3},
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train an image classifier on the 8x8 digits or on Fashion-MNIST, "
                    "then save its weights, metrics and plots.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", choices=sorted(DEFAULTS), default="cnn",
                        help="mlp: 2 hidden layers; cnn: LeNet; resnet: small ResNet")
    parser.add_argument("--data", choices=["digits", "fashion-mnist"], default="digits")
    parser.add_argument("--data-dir", default=FASHION_MNIST_DIR,
                        help="folder of the Fashion-MNIST IDX files (only for fashion-mnist)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="passes over the training set (default: per model, "
                             + ", ".join(f"{m} {d['epochs']}" for m, d in DEFAULTS.items()) + ")")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="images per step (default: per model, 32)")
    parser.add_argument("--lr", type=float, default=None,
                        help="peak Adam learning rate (default: per model, "
                             + ", ".join(f"{m} {d['lr']:g}" for m, d in DEFAULTS.items()) + ")")
    add_device_argument(parser)
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the initial weights, the validation split and the shuffling")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on only the first N training images (quick runs, tests)")
    parser.add_argument("--debug", action="store_true",
                        help="before training, run the debug recipes (summary, activation "
                             "statistics, gradient flow, lr_find, overfit one batch) and save "
                             "their PNGs in --out")
    add_output_arguments(parser, "classify_digits")
    add_distributed_argument(parser)
    args = parser.parse_args(argv)
    for name, value in DEFAULTS[args.model].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("epochs", "batch_size", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if not args.lr > 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    check_device(parser, args.device)
    return args


def load_data(args):
    """Train, validation and test splits as NumPy arrays, plus the class names.

    Returns
    -------
    splits : dict of str -> (images, labels)
        'train', 'val' and 'test'; images float32 of shape (N, C, S, S), standardised with the
        training images' mean and standard deviation; labels int64 of shape (N,).
    class_names : list of str, length K
    """
    if args.data == "digits":
        train = load_digits(split="train")
        test = load_digits(split="test")
        class_names = [str(k) for k in range(10)]
    else:
        try:
            train = load_fashion_mnist(args.data_dir, train=True)
            test = load_fashion_mnist(args.data_dir, train=False)
        except FileNotFoundError as err:
            sys.exit(f"classify_digits: {err}\nInstall the data with "
                     "'apt-get install dataset-fashion-mnist' or pass --data-dir.")
        class_names = list(FASHION_MNIST_CLASSES)
    # Standardising with the training set's statistics centres the inputs, which speeds up
    # the first epochs of every model; validation and test images get the same affine map.
    mean, std = float(train[0].mean()), float(train[0].std())

    def standardise(images):
        return ((images - mean) / std).astype(np.float32)

    fit_idx, val_idx = train_test_split(len(train[1]), VAL_FRACTION, seed=args.seed)
    if args.limit is not None:
        fit_idx = fit_idx[:args.limit]
    splits = {
        "train": (standardise(train[0][fit_idx]), train[1][fit_idx]),
        "val": (standardise(train[0][val_idx]), train[1][val_idx]),
        "test": (standardise(test[0]), test[1]),
    }
    return (splits, class_names)


def build_model(name, channels, side, num_classes):
    """The network for ``--model``, sized for (C, S, S) images."""
    if name == "mlp":
        return MLP(channels * side * side, [256, 128], num_classes, dropout=0.1)
    if name == "cnn":
        # Wider than LeCun's (6, 16): cheap at these sizes, and a point or two more accuracy.
        # A 5x5 kernel would mostly see padding on an 8x8 digit, so small images get 3x3.
        kernel_size = 3 if side < 16 else 5
        return LeNet(channels, num_classes, image_size=side, channels=(16, 32),
                     kernel_size=kernel_size)
    return resnet_small(num_classes, in_channels=channels, width=16, layers=(1, 1, 1))


def evaluate(model, images, labels, batch_size, device):
    """Mean loss, accuracy and predicted labels (N,) of ``model`` in eval mode."""
    model.eval()
    total_loss, predictions = 0.0, []
    with mg.no_grad():
        for start in range(0, len(labels), batch_size):
            xb = mg.tensor(images[start:start + batch_size], device=device)
            yb = mg.tensor(labels[start:start + batch_size], device=device)
            logits = model(xb)
            total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
            predictions.append(logits.argmax(axis=1).numpy())
    model.train()
    predictions = np.concatenate(predictions)
    return (total_loss / len(labels), float((predictions == labels).mean()), predictions)


def train_one_epoch(model, loader, optimizer, scheduler, progress):
    """One pass over ``loader``; returns the running mean loss and accuracy of the epoch."""
    model.train()
    total_loss = total_correct = total_seen = 0
    for xb, yb in loader:
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        B = len(yb)
        total_loss += loss.item() * B
        total_correct += int((logits.data.argmax(axis=1) == yb.data).sum())
        total_seen += B
        progress.update(1)
        progress.set_postfix(loss=f"{total_loss / total_seen:.4f}",
                             acc=f"{total_correct / total_seen:.1%}")
    return (total_loss / total_seen, total_correct / total_seen)


def make_scheduler(optimizer, steps_per_epoch, epochs):
    """Linear warm-up over the first epoch, then cosine decay to 0, stepped every batch."""
    total = steps_per_epoch * epochs
    warmup = min(steps_per_epoch, total // 2)
    if warmup < 1:
        return CosineAnnealingLR(optimizer, T_max=max(total, 1))
    return SequentialLR(optimizer, [LinearLR(optimizer, start_factor=0.1, total_iters=warmup),
                                    CosineAnnealingLR(optimizer, T_max=total - warmup)],
                        milestones=[warmup])


def debug_recipes(args, splits, C, S, K, say):
    """``--debug``: the training-debug recipes on fresh models of the chosen kind."""
    train_x, train_y = splits["train"]
    B = args.batch_size
    batches = [(mg.tensor(train_x[i:i + B], device=args.device),
                mg.tensor(train_y[i:i + B], device=args.device))
               for i in range(0, min(len(train_y), 8 * B), B)]
    return run_debug_recipes(lambda: build_model(args.model, C, S, K).to(args.device),
                             lambda params: Adam(params, lr=args.lr), F.cross_entropy,
                             batches, args.out, say)


def log_epoch(log, model, optimizer, epoch, train, val):
    """TensorBoard: the epoch's losses and accuracies, the learning rate, and histograms of
    the weights and of the last batch's gradients."""
    log.add_scalars("loss", {"train": train[0], "val": val[0]}, epoch)
    log.add_scalars("accuracy", {"train": train[1], "val": val[1]}, epoch)
    log.add_scalar("lr", optimizer.param_groups[0]["lr"], epoch)
    log_parameters(log, model, epoch)


def plot_curves(history, path):
    """Training and validation loss (left) and accuracy (right) per epoch."""
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["train_loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history["train_loss"], "o-", label="training")
    ax_loss.plot(epochs, history["val_loss"], "s-", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_acc.plot(epochs, 100 * np.array(history["train_acc"]), "o-", label="training")
    ax_acc.plot(epochs, 100 * np.array(history["val_acc"]), "s-", label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def confusion_matrix(labels, predictions, K):
    """Counts of shape (K, K) from labels and predictions of shape (N,): row = true class,
    column = predicted class."""
    counts = np.zeros((K, K), dtype=np.int64)
    np.add.at(counts, (labels, predictions), 1)
    return counts


def plot_confusion(counts, class_names, path):
    """The confusion matrix as an image, each cell annotated with its count."""
    import matplotlib.pyplot as plt

    K = len(class_names)
    fig, ax = plt.subplots(figsize=(7, 6))
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ax.set_xticks(range(K), class_names, rotation=45, ha="right")
    ax.set_yticks(range(K), class_names)
    ax.set(xlabel="predicted", ylabel="true",
           title=f"Test confusion matrix (accuracy {np.trace(counts) / counts.sum():.1%})")
    # Dark text on light cells and light text on dark ones keeps every count readable.
    threshold = counts.max() / 2
    for i in range(K):
        for j in range(K):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if counts[i, j] > threshold else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_predictions(images, labels, predictions, class_names, path):
    """A grid of test images titled with the predicted label; mistakes in red with the truth.

    The grid shows the first mistakes (at most half of it) and fills the rest with the first
    correctly classified images, so that both kinds are visible.

    Parameters
    ----------
    images : ndarray, shape (N, C, S, S)
        Only channel 0 is drawn (the datasets here are grey).
    labels, predictions : ndarray of int, shape (N,)
    class_names : list of str, length K
    path : str
    """
    import matplotlib.pyplot as plt

    cells = GRID_ROWS * GRID_COLS
    wrong = np.flatnonzero(predictions != labels)[:cells // 2]
    right = np.flatnonzero(predictions == labels)[:cells - len(wrong)]
    chosen = np.sort(np.concatenate([wrong, right]))
    fig, axes = plt.subplots(GRID_ROWS, GRID_COLS, figsize=(GRID_COLS * 1.4, GRID_ROWS * 1.8))
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, chosen):
        ax.imshow(images[i, 0], cmap="gray_r")
        correct = predictions[i] == labels[i]
        title = class_names[predictions[i]]
        if not correct:
            title += f"\n(true: {class_names[labels[i]]})"
        ax.set_title(title, fontsize=8, color="black" if correct else "red")
    fig.suptitle("Test images: predicted label (mistakes in red, with the true label)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    setup_distributed(args)  # --distributed: one rank per mpiexec process (demos/_distributed.py)
    import matplotlib
    matplotlib.use("Agg")  # files only: the demo must run without a display

    mg.manual_seed(args.seed)
    splits, class_names = load_data(args)
    train_x, train_y = splits["train"]
    _, C, S, _ = train_x.shape
    K = len(class_names)
    model = build_model(args.model, C, S, K).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    trained = wrap_model(model, args)  # DistributedDataParallel(model) with --distributed
    loader = make_loader(TensorDataset(train_x, train_y), args)
    optimizer = Adam(model.parameters(), lr=args.lr)
    scheduler = make_scheduler(optimizer, len(loader), args.epochs)
    say = (lambda *a: None) if args.quiet else print
    say(f"{args.data}: {len(train_y)} train / {len(splits['val'][1])} val / "
        f"{len(splits['test'][1])} test images of shape {C}x{S}x{S}; model {args.model} "
        f"with {n_params:,} parameters; {args.epochs} epochs of batch {args.batch_size}, "
        f"peak lr {args.lr:g}, on {args.device}")

    debug_metrics = debug_recipes(args, splits, C, S, K, say) if args.debug else None
    log = open_logger(args)
    log_images(log, "train/samples", train_x[:32])
    log.add_graph(model, mg.tensor(train_x[:2], device=args.device))
    history = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": []}
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        progress = progress_bar(len(loader), f"epoch {epoch}/{args.epochs}", args.quiet)
        start_epoch(loader, epoch)
        train_loss, train_acc = train_one_epoch(trained, loader, optimizer, scheduler, progress)
        progress.close()
        val_loss, val_acc, _ = evaluate(model, *splits["val"], 256, args.device)
        for key, value in zip(history, (train_loss, train_acc, val_loss, val_acc)):
            history[key].append(value)
        log_epoch(log, model, optimizer, epoch, (train_loss, train_acc), (val_loss, val_acc))
        say(f"epoch {epoch:3d}/{args.epochs}  train loss {train_loss:.4f}  acc {train_acc:6.2%}"
            f"  |  val loss {val_loss:.4f}  acc {val_acc:6.2%}")
    train_time = time.perf_counter() - start
    if not is_main_process():
        return None  # with --distributed, rank 0 evaluates and writes the results

    _, final_train_acc, _ = evaluate(model, *splits["train"], 256, args.device)
    test_loss, test_acc, predictions = evaluate(model, *splits["test"], 256, args.device)
    os.makedirs(args.out, exist_ok=True)
    weights_path = os.path.join(args.out, "model.npz")
    mg.save(model.state_dict(), weights_path)
    test_images, test_labels = splits["test"]
    counts = confusion_matrix(test_labels, predictions, K)
    plot_curves(history, os.path.join(args.out, "curves.png"))
    plot_confusion(counts, class_names, os.path.join(args.out, "confusion_matrix.png"))
    plot_predictions(test_images, test_labels, predictions, class_names,
                     os.path.join(args.out, "predictions.png"))
    metrics = {"data": args.data, "model": args.model, "parameters": n_params,
               "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
               "train_seconds": train_time, "train_accuracy": final_train_acc,
               "val_accuracy": history["val_acc"][-1], "test_accuracy": test_acc,
               "test_loss": test_loss, "history": history}
    if debug_metrics is not None:
        metrics["debug"] = debug_metrics
    mistakes = np.flatnonzero(predictions != test_labels)[:32]
    if len(mistakes):
        log_images(log, "test/mistakes", test_images[mistakes])
    log.add_scalar("test/accuracy", test_acc, args.epochs)
    log.close()
    save_metrics(args.out, metrics)

    print(f"{args.model} on {args.data}: train accuracy {final_train_acc:.2%}, "
          f"val {history['val_acc'][-1]:.2%}, test {test_acc:.2%} "
          f"(test loss {test_loss:.4f}); {n_params:,} parameters; trained in {train_time:.1f} s")
    print(f"saved {weights_path}, metrics.json, curves.png, confusion_matrix.png and "
          f"predictions.png in {args.out}")
    return metrics


if __name__ == "__main__":
    main()
