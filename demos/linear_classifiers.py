"""The first lecture on image classification: k-nearest neighbours, a multiclass SVM and a
softmax classifier on the shipped 8x8 digits.

1. k-nearest neighbours memorises the training set and labels a test image by a vote of the k
   training images closest in L2 distance. No training, slow testing; k is a hyperparameter,
   chosen on a held-out validation split, never on the test set.
2. A linear classifier scores every class with one template per class, ``s = W x + b``
   (W is (K, D)). Two losses turn scores into training signal:
   - multiclass SVM (hinge): ``Σ_{j≠y} max(0, s_j - s_y + 1)``, zero once the right class wins
     by a margin of 1;
   - softmax (cross-entropy): ``-log(exp(s_y) / Σ_j exp(s_j))``, never quite zero.
   Both add L2 regularisation ``reg · ||W||²`` and are trained with minibatch SGD through the
   engine's autograd.
3. Each row of W, reshaped to 8x8, is a *template*: the picture the classifier matches
   against (``templates.png``, the lecture's figure).

Results under ``--out``: ``metrics.json``, ``templates.png``, ``curves.png`` (training loss
and validation accuracy per epoch) and ``knn.png`` (validation accuracy against k). With the
defaults it runs in well under a minute on two CPU cores::

    python demos/linear_classifiers.py
    python demos/linear_classifiers.py --reg 0.01 --epochs 50

Notation
--------
N   images in a split;  D = 64 pixels per image;  K = 10 classes

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
from optim import SGD  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)

K = 10


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="kNN, a multiclass SVM and a softmax classifier on the 8x8 digits; "
                    "accuracies and the learned class templates.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3, 5, 7, 9],
                        help="neighbour counts tried for kNN (chosen on validation)")
    parser.add_argument("--epochs", type=int, default=60, help="SGD passes for each linear model")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05, help="SGD learning rate")
    parser.add_argument("--reg", type=float, default=1e-3, help="L2 strength on W")
    parser.add_argument("--limit", type=int, default=None,
                        help="use only the first N training images (quick runs, tests)")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "linear_classifiers")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if min(args.k) < 1:
        parser.error(f"--k values must be at least 1, got {args.k}")
    if not args.lr > 0 or args.reg < 0:
        parser.error("--lr must be positive and --reg non-negative")
    check_device(parser, args.device)
    return args


def load_data(limit, seed):
    """Flattened (N, D) train/val/test splits, centred on the training mean image."""
    x, y = load_digits(split="train")
    x_test, y_test = load_digits(split="test")
    fit, val = train_test_split(len(y), 0.15, seed=seed)
    fit = fit[:limit] if limit else fit
    mean = x[fit].reshape(len(fit), -1).mean(0)   # the lecture's "subtract the mean image"

    def flat(images):
        return (images.reshape(len(images), -1) - mean).astype(np.float32)
    return {"train": (flat(x[fit]), y[fit]), "val": (flat(x[val]), y[val]),
            "test": (flat(x_test), y_test)}


def knn_predict(train_x, train_y, query_x, ks, device):
    """Labels of ``query_x`` by a vote of the k nearest training images, for each k in ``ks``.

    Squared distances come from one matrix product: ||q - t||² = ||q||² - 2 q·t + ||t||².
    Ties in the vote go to the class whose nearest member is closest.
    """
    with mg.no_grad():
        q, t = mg.tensor(query_x, device=device), mg.tensor(train_x, device=device)
        d2 = (q * q).sum(axis=1, keepdims=True) - 2 * q @ t.T + (t * t).sum(axis=1)
    order = np.argsort(d2.numpy(), axis=1, kind="stable")
    predictions = {}
    for k in ks:
        labels = train_y[order[:, :k]]                                  # (N, k), nearest first
        votes = np.stack([(labels == c).sum(1) for c in range(K)], 1)   # (N, K)
        # Break ties by rank: subtract a tiny amount growing with the first position of c.
        first = np.stack([np.where(labels == c, np.arange(k), k).min(1) for c in range(K)], 1)
        predictions[k] = np.argmax(votes - first / (k + 1), axis=1)
    return predictions


def svm_loss(scores, y):
    """Multiclass hinge: mean over images of Σ_{j≠y} max(0, s_j - s_y + 1) (Weston-Watkins)."""
    return F.multi_margin_loss(scores, y, margin=1.0) * K   # PyTorch's averages over K classes


def softmax_loss(scores, y):
    return F.cross_entropy(scores, y)


def train_linear(loss_fn, data, args, name, log):
    """Minibatch SGD on ``loss_fn(W x + b, y) + reg · ||W||²``; returns the model and curves."""
    mg.manual_seed(args.seed)
    model = layers.Linear(data["train"][0].shape[1], K, device=args.device)
    optimizer = SGD(model.parameters(), lr=args.lr, momentum=0.9)
    x, y = data["train"]
    rng = np.random.default_rng(args.seed)
    history = {"loss": [], "val_acc": []}
    bar = progress_bar(args.epochs, name, args.quiet)
    for epoch in range(args.epochs):
        order, total = rng.permutation(len(y)), 0.0
        for start in range(0, len(y), args.batch_size):
            idx = order[start:start + args.batch_size]
            xb, yb = mg.tensor(x[idx], device=args.device), mg.tensor(y[idx], device=args.device)
            loss = loss_fn(model(xb), yb) + args.reg * (model.weight ** 2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        history["loss"].append(total / len(y))
        history["val_acc"].append(accuracy(model, *data["val"], args.device))
        log.add_scalar(f"{name}/loss", history["loss"][-1], epoch)
        log.add_scalar(f"{name}/val_acc", history["val_acc"][-1], epoch)
        bar.update(1)
        bar.set_postfix(loss=f"{history['loss'][-1]:.3f}", val=f"{history['val_acc'][-1]:.3f}")
    bar.close()
    return (model, history)


def accuracy(model, x, y, device):
    with mg.no_grad():
        scores = model(mg.tensor(x, device=device))
    return float((scores.numpy().argmax(1) == y).mean())


def plot_templates(models, path):
    """Each class's row of W as an 8x8 picture, one row of panels per model."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(models), K, figsize=(K * 1.1, len(models) * 1.3 + 0.3))
    for row, (name, model) in enumerate(models.items()):
        W = model.weight.numpy().reshape(K, 8, 8)
        for c in range(K):
            ax = axes[row, c]
            ax.imshow(W[c], cmap="RdBu_r", vmin=-abs(W[c]).max(), vmax=abs(W[c]).max())
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(str(c), fontsize=9)
            if c == 0:
                ax.set_ylabel(name, fontsize=9)
    fig.suptitle("Class templates: rows of W (red positive, blue negative)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_curves(histories, knn_val, path_curves, path_knn):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    for name, h in histories.items():
        ax1.plot(h["loss"], label=name)
        ax2.plot(h["val_acc"], label=name)
    ax1.set(xlabel="epoch", ylabel="training loss (with reg)", yscale="log")
    ax2.set(xlabel="epoch", ylabel="validation accuracy")
    ax1.legend()
    fig.tight_layout()
    fig.savefig(path_curves, dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(list(knn_val), list(knn_val.values()), "o-")
    ax.set(xlabel="k", ylabel="validation accuracy", title="k-nearest neighbours")
    fig.tight_layout()
    fig.savefig(path_knn, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    log = open_logger(args)
    data = load_data(args.limit, args.seed)
    train_x, train_y = data["train"]
    ks = sorted(k for k in set(args.k) if k <= len(train_y))
    val_pred = knn_predict(train_x, train_y, data["val"][0], ks, args.device)
    knn_val = {k: float((p == data["val"][1]).mean()) for k, p in val_pred.items()}
    best_k = max(ks, key=lambda k: (knn_val[k], -k))
    test_pred = knn_predict(train_x, train_y, data["test"][0], [best_k], args.device)[best_k]
    results = {"knn": {"best_k": best_k, "val_accuracy_by_k": knn_val,
                       "test_accuracy": float((test_pred == data["test"][1]).mean())}}
    models, histories = {}, {}
    for name, loss_fn in (("svm", svm_loss), ("softmax", softmax_loss)):
        models[name], histories[name] = train_linear(loss_fn, data, args, name, log)
        results[name] = {"train_accuracy": accuracy(models[name], *data["train"], args.device),
                         "val_accuracy": histories[name]["val_acc"][-1],
                         "test_accuracy": accuracy(models[name], *data["test"], args.device),
                         "final_loss": histories[name]["loss"][-1]}
    plot_templates(models, os.path.join(args.out, "templates.png"))
    plot_curves(histories, knn_val, os.path.join(args.out, "curves.png"),
                os.path.join(args.out, "knn.png"))
    results["settings"] = {k: v for k, v in vars(args).items() if k not in ("out", "logdir")}
    save_metrics(args.out, results)
    log.close()
    print(f"{len(train_y)} training images, {len(data['test'][1])} test images")
    print(f"kNN (k={best_k}, chosen on validation)  test accuracy "
          f"{results['knn']['test_accuracy']:.3f}")
    for name in ("svm", "softmax"):
        r = results[name]
        print(f"{name:8s} train {r['train_accuracy']:.3f}  test accuracy {r['test_accuracy']:.3f}")
    print(f"wrote {args.out}/metrics.json, templates.png, curves.png, knn.png")
    return results


if __name__ == "__main__":
    main()
