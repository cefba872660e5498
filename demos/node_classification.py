"""Semi-supervised node classification: GCN and GAT against an MLP on a stochastic block model.

A seeded stochastic-block-model graph: nodes fall into K communities, two nodes of the same
community are joined with probability p_in, of different ones with p_out << p_in. Each node's
features are its community's centre buried in heavy Gaussian noise, so the features alone
classify poorly. Only a few nodes per class are labelled. An MLP sees each node alone; a
graph convolution averages a node with its neighbours, mostly of its own community, which
cancels much of the noise: that is the whole point of message passing, and the accuracy gap
shows it. Writes ``metrics.json`` (test accuracies) and ``embedding.png`` (the GCN's hidden
features projected to 2-D, coloured by community) under ``--out``::

    python demos/node_classification.py
    python demos/node_classification.py --nodes 3000 --labels-per-class 5

Notation
--------
N nodes, K communities (classes), D feature size, E directed edges (each undirected edge twice)

Shared options (`demos/_common.py`): `--device cpu|cuda|cuda:N`, `--out DIR` (metrics.json
and PNGs), `--quiet`, `--logdir DIR` (TensorBoard).
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import minigrad as mg  # noqa: E402
import minigrad.functional as F  # noqa: E402
from layers import GATConv, GCNConv, Linear, Module  # noqa: E402
from optim import Adam  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--nodes", type=int, default=3000, help="nodes N")
    parser.add_argument("--classes", type=int, default=4, help="communities K")
    parser.add_argument("--features", type=int, default=16, help="feature size D")
    parser.add_argument("--degree", type=float, default=10.0,
                        help="mean degree; a fifth of each node's edges leave its community")
    parser.add_argument("--noise", type=float, default=4.0,
                        help="feature noise (std) around the unit-norm community centres")
    parser.add_argument("--labels-per-class", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=150, help="full-graph Adam steps")
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--heads", type=int, default=4, help="GAT heads")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "node_classification")
    args = parser.parse_args(argv)
    for name in ("nodes", "classes", "features", "labels_per_class", "epochs", "hidden",
                 "heads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.nodes < 2 * args.classes * args.labels_per_class:
        parser.error("--nodes must be at least twice classes x labels-per-class")
    check_device(parser, args.device)
    return args


def make_sbm(N, K, D, degree, noise, seed):
    """(features (N, D) float32, labels (N,), edge_index (2, E)) of a seeded SBM graph."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, K, N)
    p_in, p_out = 0.8 * degree / (N / K), 0.2 * degree / (N - N / K)
    i, j = np.triu_indices(N, 1)
    keep = rng.random(i.size) < np.where(labels[i] == labels[j], p_in, p_out)
    i, j = i[keep], j[keep]
    edge_index = np.stack([np.concatenate([i, j]), np.concatenate([j, i])])
    centres = rng.standard_normal((K, D))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[labels] + noise * rng.standard_normal((N, D)) / np.sqrt(D)
    return (x.astype(np.float32), labels, edge_index)


def split(labels, K, per_class, seed):
    """Boolean masks: ``per_class`` training nodes per class; the rest half validation, half
    test."""
    rng = np.random.default_rng(seed + 1)
    train = np.zeros(labels.size, bool)
    for k in range(K):
        train[rng.permutation(np.flatnonzero(labels == k))[:per_class]] = True
    rest = rng.permutation(np.flatnonzero(~train))
    val = np.zeros(labels.size, bool)
    val[rest[: rest.size // 2]] = True
    return (train, val, ~train & ~val)


class MLP(Module):
    def __init__(self, D, hidden, K):
        super().__init__()
        self.fc1, self.fc2 = Linear(D, hidden), Linear(hidden, K)

    def forward(self, x, edge_index):
        self.hidden = F.relu(self.fc1(x))
        return self.fc2(self.hidden)


class GCN(Module):
    """Two graph convolutions: each node mixes its 2-hop neighbourhood."""

    def __init__(self, D, hidden, K):
        super().__init__()
        self.conv1, self.conv2 = GCNConv(D, hidden), GCNConv(hidden, K)

    def forward(self, x, edge_index):
        self.hidden = F.relu(self.conv1(x, edge_index))
        return self.conv2(self.hidden, edge_index)


class GAT(Module):
    """Two attention layers: ``heads`` heads concatenated, then one averaged head per class."""

    def __init__(self, D, hidden, K, heads):
        super().__init__()
        self.conv1 = GATConv(D, max(1, hidden // heads), heads=heads)
        self.conv2 = GATConv(max(1, hidden // heads) * heads, K, heads=1, concat=False)

    def forward(self, x, edge_index):
        self.hidden = F.elu(self.conv1(x, edge_index))
        return self.conv2(self.hidden, edge_index)


def train(name, model, x, y, edge_index, masks, args, log):
    """Adam on the labelled nodes; returns the test accuracy at the best validation epoch."""
    train_mask, val_mask, test_mask = masks
    optimizer = Adam(model.parameters(), lr=args.lr, weight_decay=5e-4)
    labels = y.numpy()
    best = (-1.0, 0.0)
    bar = progress_bar(args.epochs, name, args.quiet)
    for epoch in range(args.epochs):
        model.train()
        optimizer.zero_grad()
        logits = model(x, edge_index)
        loss = F.cross_entropy(logits[np.flatnonzero(train_mask)], y[np.flatnonzero(train_mask)])
        loss.backward()
        optimizer.step()
        predicted = logits.detach().numpy().argmax(axis=1)
        val, test = ((predicted[m] == labels[m]).mean() for m in (val_mask, test_mask))
        if val > best[0]:
            best = (val, test)
        log.add_scalar(f"{name}/loss", loss.item(), epoch)
        log.add_scalar(f"{name}/val_accuracy", val, epoch)
        bar.update(1)
    bar.close()
    return float(best[1])


def plot_embedding(hidden, labels, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    centred = hidden - hidden.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(xy[:, 0], xy[:, 1], c=labels, s=5, cmap="tab10")
    ax.set(title="GCN hidden features (first two principal axes)", xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    start = time.process_time()
    mg.manual_seed(args.seed)
    x0, labels, edge_index = make_sbm(args.nodes, args.classes, args.features, args.degree,
                                      args.noise, args.seed)
    masks = split(labels, args.classes, args.labels_per_class, args.seed)
    x, y = mg.tensor(x0, device=args.device), mg.tensor(labels, device=args.device)
    log = open_logger(args)
    models = {"mlp": MLP(args.features, args.hidden, args.classes),
              "gcn": GCN(args.features, args.hidden, args.classes),
              "gat": GAT(args.features, args.hidden, args.classes, args.heads)}
    accuracy = {}
    for name, model in models.items():
        model.to(args.device)
        accuracy[name] = train(name, model, x, y, edge_index, masks, args, log)
    log.close()
    os.makedirs(args.out, exist_ok=True)
    with mg.no_grad():
        models["gcn"].eval()
        models["gcn"](x, edge_index)
    plot_embedding(models["gcn"].hidden.numpy(), labels, os.path.join(args.out, "embedding.png"))
    metrics = {"nodes": args.nodes, "edges": int(edge_index.shape[1]),
               "labelled": int(masks[0].sum()),
               **{f"test_accuracy_{k}": round(v, 4) for k, v in accuracy.items()},
               "cpu_seconds": round(time.process_time() - start, 1)}
    save_metrics(args.out, metrics)
    print(f"SBM graph: {args.nodes} nodes, {edge_index.shape[1] // 2} edges, "
          f"{int(masks[0].sum())} labels")
    for k, v in accuracy.items():
        print(f"  {k.upper():4s} test accuracy {v:.3f}")
    verdict = "beat" if min(accuracy["gcn"], accuracy["gat"]) > accuracy["mlp"] else "did not beat"
    print(f"GCN and GAT {verdict} the MLP; wrote {args.out}/embedding.png and metrics.json")
    return metrics


if __name__ == "__main__":
    main()
