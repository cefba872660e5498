"""Learn a distance, not a set of classes: retrieval of digits the network never saw.

An embedding network is trained on the digit classes 0-6 only. Classes 7, 8 and 9 are then
embedded with the same weights, put in an ``EmbeddingIndex``, and each of their images
retrieves its nearest neighbour among the others: a new class costs no training at all, only
examples. Three training signals are compared, with the same network, steps and batches
(P classes x K images each, so every batch holds positives and negatives):

- ``contrastive``: a Siamese pair loss on random pairs of the batch, half of them matching;
- ``triplet-random``: the triplet loss on random (anchor, positive, negative) triplets;
- ``triplet-hard``: the triplet loss with batch-hard mining (the farthest positive and the
  closest negative of each anchor, read off the batch's distance matrix).

Reported: recall@1 on seen classes (test images of 0-6 against the training images) and on
unseen classes (leave-one-out among all images of 7-9), and the mean average precision on the
unseen ones. Hard mining spends every step on the triplets that still teach something, so it
generalises best to the new classes. Writes ``metrics.json``, ``recall.png`` (the table as
bars), ``embeddings.png`` (the triplet-hard embeddings of the test images, projected on their
first two principal components, unseen classes marked) and ``tsne.png`` (a t-SNE map, computed
on the engine, of the triplet-hard embeddings of all 1,797 digits). About two minutes
of CPU on two cores, a third of it the t-SNE::

    python demos/similarity.py
    python demos/similarity.py --steps 600 --embedding-dim 32

Notation
--------
P, K    classes per batch and images per class; B = P K
D       embedding dimension

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
from minigrad.data import load_digits, train_test_split  # noqa: E402
from models.similarity import (EmbeddingIndex, EmbeddingNet, SiameseNet,  # noqa: E402
                               random_pairs, triplet_loss)
from models.tsne import TSNE  # noqa: E402
from optim import Adam  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)

SEEN, UNSEEN = list(range(7)), [7, 8, 9]
METHODS = ("contrastive", "triplet-random", "triplet-hard")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--steps", type=int, default=400, help="training steps per method")
    parser.add_argument("--classes-per-batch", type=int, default=7, help="P (at most 7)")
    parser.add_argument("--per-class", type=int, default=8, help="K, images of each class")
    parser.add_argument("--embedding-dim", type=int, default=16, help="D")
    parser.add_argument("--margin", type=float, default=0.5,
                        help="triplet margin (embeddings lie on the unit sphere)")
    parser.add_argument("--contrastive-margin", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    parser.add_argument("--tsne-iter", type=int, default=1000, help="t-SNE iterations")
    parser.add_argument("--tsne-points", type=int, default=1797,
                        help="digits in the t-SNE map (the first N)")
    parser.add_argument("--perplexity", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "similarity")
    args = parser.parse_args(argv)
    for name in ("steps", "per_class", "embedding_dim", "tsne_iter"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 2 <= args.classes_per_batch <= len(SEEN):
        parser.error(f"--classes-per-batch must be in [2, {len(SEEN)}]")
    if args.per_class < 2:
        parser.error("--per-class must be at least 2 (an anchor needs a positive)")
    if not 10 <= args.tsne_points <= 1797:
        parser.error("--tsne-points must be in [10, 1797]")
    check_device(parser, args.device)
    return args


def load_data(seed):
    """Standardised digits and labels: the seen classes split into train and test, and every
    image of the unseen classes."""
    images, labels = load_digits()
    images = ((images - images.mean()) / images.std()).astype(np.float32)
    train_idx, test_idx = train_test_split(len(labels), 0.2, seed=seed)
    seen = np.isin(labels, SEEN)
    return {
        "train": (images[train_idx][seen[train_idx]], labels[train_idx][seen[train_idx]]),
        "test": (images[test_idx][seen[test_idx]], labels[test_idx][seen[test_idx]]),
        "unseen": (images[~seen], labels[~seen]),
        "all": (images, labels),
    }


def sample_batch(labels, P, K, rng):
    """Indices of a P x K batch: P random classes, K random images of each."""
    classes = rng.choice(np.unique(labels), P, replace=False)
    return np.concatenate([rng.choice(np.flatnonzero(labels == c), K, replace=False)
                           for c in classes])


def batch_loss(method, net, xb, yb, args, rng):
    """The training loss of ``method`` on one batch."""
    if method == "contrastive":
        first, second, same = random_pairs(yb, len(yb), seed=rng.integers(2**31))
        e1, e2 = SiameseNet(net)(xb[first], xb[second])
        return F.contrastive_loss(e1, e2, mg.tensor(same, device=e1.device),
                                  margin=args.contrastive_margin)
    mining = "random" if method == "triplet-random" else "hard"
    return triplet_loss(net(xb), yb, margin=args.margin, mining=mining,
                        seed=rng.integers(2**31))


def train(method, data, args, log):
    """An EmbeddingNet trained with ``method``; returns it (in eval mode) and its losses."""
    mg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    images, labels = data["train"]
    net = EmbeddingNet(embedding_dim=args.embedding_dim).to(args.device)
    optimizer = Adam(net.parameters(), lr=args.lr)
    progress = progress_bar(args.steps, method, args.quiet)
    losses = []
    for step in range(args.steps):
        idx = sample_batch(labels, args.classes_per_batch, args.per_class, rng)
        xb = mg.tensor(images[idx], device=args.device)
        loss = batch_loss(method, net, xb, labels[idx], args, rng)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        log.add_scalar(f"loss/{method}", losses[-1], step)
        progress.update(1)
        progress.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
    progress.close()
    return (net.eval(), losses)


def embed(net, images, device, batch_size=512):
    with mg.no_grad():
        return np.concatenate([net(mg.tensor(images[i:i + batch_size], device=device)).numpy()
                               for i in range(0, len(images), batch_size)])


def evaluate(net, data, device):
    """Recall@1 seen and unseen, and mAP unseen, of one trained network."""
    index = EmbeddingIndex(embed(net, data["train"][0], device), data["train"][1])
    seen_recall = index.recall_at_k(embed(net, data["test"][0], device), data["test"][1], 1)
    unseen_images, unseen_labels = data["unseen"]
    unseen = EmbeddingIndex(embed(net, unseen_images, device), unseen_labels)
    return {"recall@1_seen": seen_recall,
            "recall@1_unseen": unseen.recall_at_k(unseen.embeddings, unseen_labels, 1,
                                                  exclude_self=True),
            "mAP_unseen": unseen.mean_average_precision(unseen.embeddings, unseen_labels,
                                                        exclude_self=True)}


def plot_recall(results, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.27
    keys = ("recall@1_seen", "recall@1_unseen", "mAP_unseen")
    for i, key in enumerate(keys):
        values = [100 * results[m][key] for m in METHODS]
        bars = ax.bar(np.arange(len(METHODS)) + (i - 1) * width, values, width, label=key)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(METHODS)), METHODS)
    ax.set(ylabel="%", ylim=(0, 105),
           title="Retrieval: trained on digits 0-6, unseen 7-9 retrieved with no retraining")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _scatter_by_class(ax, points, labels):
    import matplotlib.pyplot as plt

    colours = plt.get_cmap("tab10")
    for c in range(10):
        mask = labels == c
        marker = "x" if c in UNSEEN else "o"
        ax.scatter(points[mask, 0], points[mask, 1], s=8 if c in SEEN else 14, marker=marker,
                   color=colours(c), label=f"{c}{' (unseen)' if c in UNSEEN else ''}",
                   alpha=0.8, linewidths=1)
    ax.legend(fontsize=7, markerscale=1.5, ncol=2)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_embeddings(embeddings, labels, path):
    """The embeddings projected on their first two principal components."""
    import matplotlib.pyplot as plt

    centred = embeddings - embeddings.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    fig, ax = plt.subplots(figsize=(6, 5.5))
    _scatter_by_class(ax, centred @ components[:2].T, labels)
    ax.set_title("triplet-hard embeddings (first two principal components)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_tsne(points, labels, seconds, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5.5))
    _scatter_by_class(ax, points, labels)
    ax.set_title(f"t-SNE of the triplet-hard embeddings ({len(labels)} digits, "
                 f"{seconds:.0f} s CPU)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")

    data = load_data(args.seed)
    say = (lambda *a: None) if args.quiet else print
    say(f"digits: {len(data['train'][1])} training images of classes 0-6, "
        f"{len(data['test'][1])} seen test images, {len(data['unseen'][1])} images of the "
        f"unseen classes 7-9; {args.steps} steps of {args.classes_per_batch}x{args.per_class}"
        f" per method on {args.device}")
    log = open_logger(args)
    results, nets = {}, {}
    for method in METHODS:
        start = time.process_time()
        nets[method], losses = train(method, data, args, log)
        results[method] = evaluate(nets[method], data, args.device)
        results[method].update(final_loss=float(np.mean(losses[-20:])),
                               train_cpu_seconds=time.process_time() - start)
        say(f"{method:15s} recall@1 seen {results[method]['recall@1_seen']:6.1%}  unseen "
            f"{results[method]['recall@1_unseen']:6.1%}  mAP unseen "
            f"{results[method]['mAP_unseen']:6.1%}")

    os.makedirs(args.out, exist_ok=True)
    plot_recall(results, os.path.join(args.out, "recall.png"))
    best = nets["triplet-hard"]
    test_images = np.concatenate([data["test"][0], data["unseen"][0]])
    test_labels = np.concatenate([data["test"][1], data["unseen"][1]])
    plot_embeddings(embed(best, test_images, args.device), test_labels,
                    os.path.join(args.out, "embeddings.png"))

    images, labels = data["all"]
    images, labels = images[:args.tsne_points], labels[:args.tsne_points]
    perplexity = min(args.perplexity, (len(labels) - 2) / 3)
    progress = progress_bar(args.tsne_iter, "t-SNE", args.quiet)
    start = time.process_time()
    tsne = TSNE(perplexity=perplexity, max_iter=args.tsne_iter,
                exaggeration_iter=min(250, args.tsne_iter // 4), random_state=args.seed,
                device=args.device)
    points = tsne.fit_transform(embed(best, images, args.device),
                                callback=lambda i, kl: progress.update(1))
    tsne_seconds = time.process_time() - start
    progress.close()
    plot_tsne(points, labels, tsne_seconds, os.path.join(args.out, "tsne.png"))
    log.close()

    hard, rand = results["triplet-hard"], results["triplet-random"]
    metrics = {"steps": args.steps, "batch": [args.classes_per_batch, args.per_class],
               "embedding_dim": args.embedding_dim, "margin": args.margin,
               "results": results, "tsne": {"points": len(labels), "iterations": args.tsne_iter,
                                            "cpu_seconds": tsne_seconds,
                                            "kl_divergence": tsne.kl_divergence_},
               "hard_beats_random_on_unseen": hard["recall@1_unseen"] > rand["recall@1_unseen"]}
    save_metrics(args.out, metrics)
    print("method           recall@1 seen  recall@1 unseen  mAP unseen")
    for method in METHODS:
        r = results[method]
        print(f"{method:15s}  {r['recall@1_seen']:13.1%}  {r['recall@1_unseen']:15.1%}  "
              f"{r['mAP_unseen']:10.1%}")
    print(f"t-SNE of {len(labels)} embeddings: {args.tsne_iter} iterations in "
          f"{tsne_seconds:.1f} s CPU, KL {tsne.kl_divergence_:.3f}")
    print(f"saved metrics.json, recall.png, embeddings.png and tsne.png in {args.out}")
    return metrics


if __name__ == "__main__":
    main()
