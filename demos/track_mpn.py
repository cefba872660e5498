"""Multi-object tracking as edge classification, with a message-passing network.

Every detection of a seeded pedestrian simulation (misses, jitter, false positives) becomes a
node; edges join detections a few frames apart that could be the same walker. A network of
node and edge updates (``layers.MessagePassing``) scores each edge as "same person" or not:
after L steps an edge has heard about the edges around it, so it can tell that its endpoint
is already better explained by another link, or that a person was missed for a frame and the
track should jump the gap. Rounding the scores (each detection keeps at most one predecessor
and one successor) gives the tracks. The baseline links consecutive frames only, by the
minimum-distance assignment (the Hungarian algorithm, in ``demos/_tracking.py``).

Reports edge precision/recall, identity switches, MOTA and IDF1 on held-out sequences, and
writes ``metrics.json``, ``tracks.png`` (ground truth, baseline and network tracks of one test
sequence) and ``edge_scores.png`` (a histogram of the scores of true and false edges)::

    python demos/track_mpn.py
    python demos/track_mpn.py --steps 6 --epochs 40

Notation
--------
n detections (nodes), E candidate edges (u earlier than v), A appearance size, L steps,
H hidden size

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
from layers import Linear, MessagePassing, Module, ReLU, Sequential  # noqa: E402
from optim import Adam  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)
import _tracking as T  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--train-sequences", type=int, default=8)
    parser.add_argument("--test-sequences", type=int, default=3)
    parser.add_argument("--frames", type=int, default=60, help="frames per sequence")
    parser.add_argument("--people", type=int, default=40, help="people per sequence")
    parser.add_argument("--max-gap", type=int, default=3,
                        help="edges join detections at most this many frames apart")
    parser.add_argument("--steps", type=int, default=4, help="message-passing steps L")
    parser.add_argument("--hidden", type=int, default=16, help="hidden size H")
    parser.add_argument("--epochs", type=int, default=25, help="passes over the training graphs")
    parser.add_argument("--lr", type=float, default=0.005, help="Adam learning rate")
    parser.add_argument("--pos-weight", type=float, default=3.0,
                        help="weight of the true links in the loss")
    parser.add_argument("--seed", type=int, default=0)
    add_device_argument(parser)
    add_output_arguments(parser, "track_mpn")
    args = parser.parse_args(argv)
    for name in ("train_sequences", "test_sequences", "frames", "people", "max_gap", "steps",
                 "hidden", "epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    check_device(parser, args.device)
    return args


class TrackingMPN(Module):
    """Encoders, L shared message-passing steps, and an edge classifier.

    Each candidate edge u -> v is used in both directions (v hears its past, u its future),
    with a direction flag in its features; its logit is the mean of the two directions'.
    """

    def __init__(self, appearance_dim, edge_dim, hidden, steps):
        super().__init__()
        self.node_encoder = Sequential(Linear(appearance_dim, hidden), ReLU(),
                                       Linear(hidden, hidden))
        self.edge_encoder = Sequential(Linear(edge_dim + 1, hidden), ReLU(),
                                       Linear(hidden, hidden))
        self.mpn = MessagePassing(hidden, hidden, num_steps=steps, aggr="sum", shared=True)
        self.classifier = Sequential(Linear(hidden, hidden), ReLU(), Linear(hidden, 1))

    def forward(self, graph):
        """Edge logits (E,) after each of the last half of the steps (a list, last step last)."""
        E = graph["edges"].shape[0]
        per_step = self.mpn(self.node_encoder(graph["app"]), graph["edge_index"],
                            self.edge_encoder(graph["edge_attr"]), return_all=True)
        logits = []
        for h in per_step[len(per_step) // 2:]:
            both = self.classifier(h).reshape(2 * E)
            logits.append((both[:E] + both[E:]) * 0.5)
        return logits


def as_graph(det, max_gap, device):
    """The detection graph of ``det`` with both edge directions, as the model's inputs."""
    edges, feats, labels = T.build_graph(det, max_gap=max_gap)
    reverse = feats.copy()
    reverse[:, :2] *= -1  # the displacement seen from the later detection
    flag = np.repeat([[1.0], [-1.0]], len(edges), axis=0).astype(np.float32)
    attr = np.concatenate([np.concatenate([feats, reverse]), flag], axis=1)
    index = np.concatenate([edges.T, edges.T[::-1]], axis=1)  # (2, 2E): rows source, target
    return {"det": det, "edges": edges, "labels": labels,
            "app": mg.tensor(det["app"].astype(np.float32), device=device),
            "edge_attr": mg.tensor(attr, device=device), "edge_index": index,
            "target": mg.tensor(labels, device=device)}


def train(model, graphs, args, log):
    optimizer = Adam(model.parameters(), lr=args.lr)
    bar = progress_bar(args.epochs * len(graphs), "training", args.quiet)
    rng = np.random.default_rng(args.seed)
    # true links are about one edge in six: weigh them up, so that missing one costs as much
    # as accepting a wrong one
    pos_weight = mg.tensor(args.pos_weight, device=args.device)
    step = 0
    for epoch in range(args.epochs):
        for g in rng.permutation(len(graphs)):
            graph = graphs[g]
            optimizer.zero_grad()
            logits = model(graph)
            loss = sum(F.binary_cross_entropy_with_logits(lg, graph["target"],
                                                          pos_weight=pos_weight)
                       for lg in logits)
            loss = loss / len(logits)
            loss.backward()
            optimizer.step()
            log.add_scalar("train/loss", loss.item(), step)
            bar.set_postfix(loss=f"{loss.item():.3f}")
            bar.update(1)
            step += 1
    bar.close()


def evaluate(model, graphs):
    """Per-sequence metrics of the network and of the baseline, and the test edge scores."""
    results = {"mpn": [], "baseline": []}
    scores, labels = [], []
    for graph in graphs:
        det, n = graph["det"], len(graph["det"]["frame"])
        true_edges = graph["edges"][graph["labels"] > 0]
        with mg.no_grad():
            score = F.sigmoid(model(graph)[-1]).numpy()
        links = T.round_to_tracks(n, graph["edges"], score)
        results["mpn"].append(T.mot_metrics(det, T.tracks_from_links(n, links), links,
                                            true_edges))
        base = T.nearest_neighbour_links(det)
        results["baseline"].append(T.mot_metrics(det, T.tracks_from_links(n, base), base,
                                                 true_edges))
        scores.append(score)
        labels.append(graph["labels"])
    mean = {name: {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
            for name, rows in results.items()}
    return (mean, np.concatenate(scores), np.concatenate(labels))


def plot_tracks(graph, model, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    det, n = graph["det"], len(graph["det"]["frame"])
    with mg.no_grad():
        score = F.sigmoid(model(graph)[-1]).numpy()
    panels = {"ground truth": None,
              "baseline (Hungarian per frame pair)": T.nearest_neighbour_links(det),
              "message passing": T.round_to_tracks(n, graph["edges"], score)}
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2))
    cmap = plt.get_cmap("tab20")
    for ax, (title, links) in zip(axes, panels.items()):
        if links is None:
            truth = det["truth"]
            for k, p in enumerate(np.unique(truth[:, 1])):
                rows = truth[truth[:, 1] == p]
                ax.plot(rows[:, 2], rows[:, 3], color=cmap(k % 20), lw=1.2)
        else:
            track = T.tracks_from_links(n, links)
            for k in range(track.max() + 1):
                rows = det["pos"][track == k]
                ax.plot(rows[:, 0], rows[:, 1], color=cmap(k % 20), lw=1.2)
            ax.scatter(*det["pos"][track < 0].T, s=6, c="k", label="dropped")
        ax.set(title=title, xlim=(0, det["size"]), ylim=(0, det["size"]), aspect="equal",
               xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_scores(scores, labels, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, 1, 41)
    ax.hist(scores[labels == 0], bins=bins, alpha=0.6, label="different people", log=True)
    ax.hist(scores[labels == 1], bins=bins, alpha=0.6, label="same person", log=True)
    ax.set(xlabel="edge score", ylabel="edges (log)", title="test edge scores")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    start = time.process_time()
    mg.manual_seed(args.seed)
    sim = dict(frames=args.frames, people=args.people)
    train_graphs = [as_graph(T.simulate(args.seed * 1000 + s, **sim), args.max_gap, args.device)
                    for s in range(args.train_sequences)]
    test_graphs = [as_graph(T.simulate(10**6 + args.seed * 1000 + s, **sim), args.max_gap,
                            args.device) for s in range(args.test_sequences)]
    edge_dim = train_graphs[0]["edge_attr"].shape[1] - 1
    model = TrackingMPN(train_graphs[0]["app"].shape[1], edge_dim, args.hidden, args.steps)
    model.to(args.device)
    log = open_logger(args)
    train(model, train_graphs, args, log)
    results, scores, labels = evaluate(model, test_graphs)
    for name, values in results.items():
        for k, v in values.items():
            log.add_scalar(f"test/{name}/{k}", v, 0)
    log.close()
    os.makedirs(args.out, exist_ok=True)
    plot_tracks(test_graphs[0], model, os.path.join(args.out, "tracks.png"))
    plot_scores(scores, labels, os.path.join(args.out, "edge_scores.png"))
    metrics = {name: {k: round(v, 4) for k, v in values.items()}
               for name, values in results.items()}
    metrics["cpu_seconds"] = round(time.process_time() - start, 1)
    save_metrics(args.out, metrics)
    print(f"{args.test_sequences} held-out sequences, {args.frames} frames, {args.people} people")
    print(f"{'':10s} {'edge P':>7s} {'edge R':>7s} {'ID sw':>6s} {'MOTA':>6s} {'IDF1':>6s}")
    for name, r in results.items():
        print(f"{name:10s} {r['edge_precision']:7.3f} {r['edge_recall']:7.3f} "
              f"{r['id_switches']:6.1f} {r['mota']:6.3f} {r['idf1']:6.3f}")
    better = all(results["mpn"][k] > results["baseline"][k] for k in ("mota", "idf1"))
    print(f"message passing {'beats' if better else 'does not beat'} the baseline on MOTA and "
          f"IDF1; wrote {args.out}/tracks.png, edge_scores.png and metrics.json")
    return metrics


if __name__ == "__main__":
    main()
