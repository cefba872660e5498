"""Multi-object tracking as a graph problem: the pedestrian simulator, the detection graph,
the assignment algorithm, the rounding of edge scores into tracks, and the metrics.

``demos/track_mpn.py`` trains a message-passing network on these graphs; everything here is
plain NumPy, so that the baseline and the metrics do not depend on the model.

- ``simulate``: pedestrians walk across a square scene, turning a little each frame; each has
  an appearance vector (a stand-in for what a re-identification network would give). The
  detector misses some people, jitters positions and appearances, and adds false positives.
- ``build_graph``: one node per detection, an edge between detections up to ``max_gap``
  frames apart and close enough to be the same walker; an edge is a true link when both
  detections come from the same person with no detection of that person in between.
- ``hungarian``: the minimum-cost assignment (Kuhn-Munkres with potentials, O(n^2 m)).
- ``round_to_tracks``: greedy rounding of edge scores: every node keeps at most one
  predecessor and one successor, so the accepted edges form chains, the tracks.
- ``mot_metrics``: edge precision/recall, MOTA, IDF1 and identity switches. A detection is
  matched to the person it came from (the simulator knows), so MOTA's per-frame matching is
  exact: false positives are kept detections of nobody, misses are people with no kept
  detection, a switch is a person whose track id changes.

Notation
--------
T frames;  n detections (nodes);  E candidate edges, each (u, v) with frame[u] < frame[v]
frame, pid  per detection: its frame and the person it came from (-1: a false positive)
track       per detection: the predicted track id (-1: dropped)
"""
import numpy as np


def simulate(seed, frames=60, people=40, size=20.0, speed=0.25, turn=0.08, noise=0.08,
             miss=0.2, false_positives=1.0, appearance_dim=4, appearance_noise=0.6):
    """Detections of a seeded scene: a dict of arrays ``frame``, ``pos`` (n, 2), ``app`` (n, A),
    ``pid``, plus ``truth`` (frame, pid, x, y) of every person in the scene at every frame."""
    rng = np.random.default_rng(seed)
    detections, truth = [], []
    for pid in range(people):
        start = rng.integers(-frames // 2, frames)
        side = rng.integers(4)  # enter from one side, head roughly across
        along = rng.uniform(0.1, 0.9) * size
        pos = np.array([[0.0, along], [size, along], [along, 0.0], [along, size]][side])
        heading = [0.0, np.pi, np.pi / 2, -np.pi / 2][side] + rng.normal(0, 0.4)
        identity = rng.standard_normal(appearance_dim)
        for t in range(start, frames):
            heading += rng.normal(0, turn)
            pos = pos + speed * np.array([np.cos(heading), np.sin(heading)])
            if not (0 <= pos[0] <= size and 0 <= pos[1] <= size):
                break
            if t < 0:
                continue
            truth.append((t, pid, pos[0], pos[1]))
            if rng.random() > miss:
                detections.append((t, pid, *(pos + rng.normal(0, noise, 2)),
                                   *(identity + rng.normal(0, appearance_noise, appearance_dim))))
    for t in range(frames):
        for _ in range(rng.poisson(false_positives)):
            detections.append((t, -1, *rng.uniform(0, size, 2),
                               *rng.standard_normal(appearance_dim) * 1.2))
    d = np.array(sorted(detections, key=lambda row: (row[0], row[1])))
    return {"frame": d[:, 0].astype(np.int64), "pid": d[:, 1].astype(np.int64),
            "pos": d[:, 2:4], "app": d[:, 4:], "truth": np.array(truth), "size": size}


def build_graph(det, max_gap=3, radius=1.2):
    """Candidate edges (E, 2) joining detections 1..max_gap frames apart within ``radius`` per
    frame of gap, their features (E, 5) and their labels (E,) (1: a true link)."""
    frame, pos = det["frame"], det["pos"]
    edges = []
    for gap in range(1, max_gap + 1):
        for t in np.unique(frame):
            u, v = np.flatnonzero(frame == t), np.flatnonzero(frame == t + gap)
            if u.size and v.size:
                dist = np.linalg.norm(pos[u][:, None] - pos[v][None], axis=2)
                a, b = np.nonzero(dist < radius * gap)
                edges.append(np.stack([u[a], v[b]], axis=1))
    edges = np.concatenate(edges) if edges else np.zeros((0, 2), np.int64)
    return (edges, edge_features(det, edges, max_gap, radius), true_links(det, edges))


def edge_features(det, edges, max_gap, radius):
    """Per edge u -> v: displacement and its length in units of the gate, the frame gap, and
    the appearance distance."""
    u, v = edges[:, 0], edges[:, 1]
    delta = (det["pos"][v] - det["pos"][u]) / radius
    gap = (det["frame"][v] - det["frame"][u])[:, None].astype(float)
    appearance = np.linalg.norm(det["app"][v] - det["app"][u], axis=1, keepdims=True)
    return np.concatenate([delta / gap, np.linalg.norm(delta, axis=1, keepdims=True) / gap,
                           gap / max_gap, appearance / 2], axis=1).astype(np.float32)


def true_links(det, edges):
    """1 for an edge between consecutive detections of one person, else 0."""
    pid = det["pid"]
    successor = {}
    for p in np.unique(pid[pid >= 0]):
        rows = np.flatnonzero(pid == p)  # sorted by frame already
        successor.update(zip(rows[:-1].tolist(), rows[1:].tolist()))
    return np.array([successor.get(int(u)) == int(v) for u, v in edges], dtype=np.float32)


def hungarian(cost):
    """The minimum-cost assignment of rows to columns of ``cost`` (n, m): (rows, cols) arrays.

    Kuhn-Munkres with dual potentials u (rows) and v (columns): rows join one by one; each
    grows a shortest augmenting path over the reduced costs cost - u - v >= 0 (Dijkstra-like,
    ``slack`` holds the best reduced cost reaching each column), then flips the path. Every
    row is matched when n <= m; a wider-than-tall problem is solved transposed.
    """
    cost = np.asarray(cost, dtype=float)
    if cost.shape[0] > cost.shape[1]:
        cols, rows = hungarian(cost.T)
        order = np.argsort(rows)
        return (rows[order], cols[order])
    n, m = cost.shape
    u, v = np.zeros(n + 1), np.zeros(m + 1)
    owner = np.zeros(m + 1, dtype=np.int64)  # owner[j]: the row (1-based) holding column j
    back = np.zeros(m + 1, dtype=np.int64)   # the previous column on the augmenting path
    for row in range(1, n + 1):
        owner[0], col = row, 0               # column 0 is a virtual start holding the new row
        slack = np.full(m + 1, np.inf)
        done = np.zeros(m + 1, dtype=bool)
        while owner[col] != 0:
            done[col] = True
            i = owner[col]
            reduced = cost[i - 1] - u[i] - v[1:]
            better = ~done[1:] & (reduced < slack[1:])
            slack[1:][better] = reduced[better]
            back[1:][better] = col
            candidates = np.where(done[1:], np.inf, slack[1:])
            nxt = int(np.argmin(candidates)) + 1
            delta = candidates[nxt - 1]
            u[owner[done]] += delta          # keep reduced costs of the tree at 0
            v[done] -= delta
            slack[~done] -= delta
            col = nxt
        while col != 0:                      # flip the path back to the virtual start
            prev = back[col]
            owner[col] = owner[prev]
            col = prev
    matched = np.flatnonzero(owner[1:]) + 1
    return (owner[matched] - 1, matched - 1)


def nearest_neighbour_links(det, gate=1.2):
    """The baseline: between each pair of consecutive frames, the minimum-distance assignment
    of detections (Hungarian), keeping pairs closer than ``gate``. Returns edges (k, 2)."""
    frame, pos = det["frame"], det["pos"]
    links = []
    for t in np.unique(frame):
        u, v = np.flatnonzero(frame == t), np.flatnonzero(frame == t + 1)
        if u.size and v.size:
            dist = np.linalg.norm(pos[u][:, None] - pos[v][None], axis=2)
            rows, cols = hungarian(dist)
            keep = dist[rows, cols] < gate
            links += list(zip(u[rows[keep]], v[cols[keep]]))
    return np.array(links, dtype=np.int64).reshape(-1, 2)


def round_to_tracks(n, edges, scores, threshold=0.5):
    """Accepted edges (k, 2): by falling score above ``threshold``, an edge u -> v is kept when
    u has no successor yet and v no predecessor, so tracks never split or merge."""
    has_succ, has_pred = np.zeros(n, bool), np.zeros(n, bool)
    kept = []
    for e in np.argsort(-scores, kind="stable"):
        if scores[e] <= threshold:
            break
        u, v = edges[e]
        if not has_succ[u] and not has_pred[v]:
            has_succ[u] = has_pred[v] = True
            kept.append((u, v))
    return np.array(kept, dtype=np.int64).reshape(-1, 2)


def tracks_from_links(n, links, min_length=2):
    """A track id per detection from the chains of ``links``; chains shorter than
    ``min_length`` detections are dropped (id -1), as a tracker drops one-off blips."""
    successor = dict(zip(links[:, 0].tolist(), links[:, 1].tolist()))
    has_pred = np.zeros(n, bool)
    has_pred[links[:, 1]] = True
    track = np.full(n, -1, dtype=np.int64)
    next_id = 0
    for start in np.flatnonzero(~has_pred):
        chain = [int(start)]
        while chain[-1] in successor:
            chain.append(successor[chain[-1]])
        if len(chain) >= min_length:
            track[chain] = next_id
            next_id += 1
    return track


def mot_metrics(det, track, links, true_edges):
    """Edge precision / recall of ``links`` against the true links, and MOTA, IDF1 and
    identity switches of the per-detection ``track`` ids against the people."""
    truth_set = {tuple(e) for e in true_edges.tolist()}
    found = {tuple(e) for e in links.tolist()}
    hit = len(found & truth_set)
    pid = det["pid"]
    gt = det["truth"]
    kept = track >= 0
    fp = int(np.sum(kept & (pid < 0)))
    matched = kept & (pid >= 0)
    fn = len(gt) - int(matched.sum())
    switches, last = 0, {}
    for i in np.flatnonzero(matched):  # detections are sorted by frame
        p = int(pid[i])
        if p in last and last[p] != track[i]:
            switches += 1
        last[p] = int(track[i])
    mota = 1 - (fn + fp + switches) / max(len(gt), 1)
    # IDF1: the one-to-one person <-> track matching that shares the most detections
    people, tracks = np.unique(pid[matched]), np.unique(track[kept])
    overlap = np.zeros((people.size, tracks.size))
    np.add.at(overlap, (np.searchsorted(people, pid[matched]),
                        np.searchsorted(tracks, track[matched])), 1)
    rows, cols = hungarian(-overlap) if overlap.size else (np.array([], int),) * 2
    idtp = overlap[rows, cols].sum()
    idf1 = 2 * idtp / max(len(gt) + int(kept.sum()), 1)
    return {"edge_precision": hit / max(len(found), 1), "edge_recall": hit / max(len(truth_set), 1),
            "mota": float(mota), "idf1": float(idf1), "id_switches": switches,
            "false_positives": fp, "misses": fn}
