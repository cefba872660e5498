"""The graph demos with tiny settings (they print their summary and write their files), and
the tracking helpers of ``demos/_tracking.py``: the Hungarian algorithm against brute force,
the rounding rule, and the metrics on known answers."""
import itertools
import json
import os
import re
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

from test_demos import run_demo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "demos"))
import _tracking as T  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("script", ["track_mpn.py", "node_classification.py"])
def test_bad_values_are_usage_errors(script, tmp_path):
    result = run_demo(script, "--epochs", "0", "--out", str(tmp_path))
    assert result.returncode == 2 and "--epochs must be at least 1" in result.stderr


def _png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG


def test_track_mpn_tiny_run(tmp_path):
    result = run_demo("track_mpn.py", "--train-sequences", "1", "--test-sequences", "1",
                      "--frames", "12", "--people", "8", "--epochs", "2", "--steps", "2",
                      "--quiet", "--out", str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "MOTA" in result.stdout and "baseline" in result.stdout
    with open(tmp_path / "metrics.json") as f:
        metrics = json.load(f)
    for name in ("mpn", "baseline"):
        assert set(metrics[name]) >= {"edge_precision", "edge_recall", "mota", "idf1",
                                      "id_switches"}
        assert 0 <= metrics[name]["idf1"] <= 1 and metrics[name]["mota"] <= 1
    assert _png(tmp_path / "tracks.png") and _png(tmp_path / "edge_scores.png")


def test_node_classification_tiny_run(tmp_path):
    result = run_demo("node_classification.py", "--nodes", "160", "--epochs", "5",
                      "--labels-per-class", "5", "--quiet", "--out", str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr
    printed = {name: float(re.search(rf"{name}\s+test accuracy (\d\.\d+)", result.stdout)
                           .group(1)) for name in ("MLP", "GCN", "GAT")}
    with open(tmp_path / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["nodes"] == 160 and metrics["labelled"] == 20
    for name in ("mlp", "gcn", "gat"):
        assert 0 <= metrics[f"test_accuracy_{name}"] <= 1
        assert abs(metrics[f"test_accuracy_{name}"] - printed[name.upper()]) < 1e-3
    assert _png(tmp_path / "embedding.png")


@given(st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_hungarian_finds_the_cheapest_assignment(n, m, seed):
    cost = np.random.default_rng(seed).integers(0, 5, (n, m)).astype(float)  # ties on purpose
    rows, cols = T.hungarian(cost)
    assert len(rows) == min(n, m) == len(set(rows)) == len(set(cols))
    if n <= m:
        best = min(sum(cost[i, p[i]] for i in range(n))
                   for p in itertools.permutations(range(m), n))
    else:
        best = min(sum(cost[p[j], j] for j in range(m))
                   for p in itertools.permutations(range(n), m))
    assert cost[rows, cols].sum() == best


def test_rounding_keeps_one_predecessor_and_one_successor():
    edges = np.array([[0, 2], [1, 2], [0, 3], [2, 4], [3, 4]])
    scores = np.array([0.9, 0.95, 0.8, 0.7, 0.6])
    kept = T.round_to_tracks(5, edges, scores)
    assert kept.tolist() == [[1, 2], [0, 3], [2, 4]]  # [0, 2] lost to [1, 2]; [3, 4] to [2, 4]
    assert T.tracks_from_links(5, kept).tolist() == [0, 1, 1, 0, 1]


def test_metrics_of_the_true_links_and_of_no_links():
    det = T.simulate(3, frames=20, people=10, miss=0.0, false_positives=0.0)
    edges, _, labels = T.build_graph(det)
    true_edges = edges[labels > 0]
    n = len(det["frame"])
    perfect = T.mot_metrics(det, T.tracks_from_links(n, true_edges), true_edges, true_edges)
    assert perfect["mota"] == 1.0 and perfect["idf1"] == 1.0 and perfect["id_switches"] == 0
    assert perfect["edge_precision"] == 1.0 and perfect["edge_recall"] == 1.0
    nothing = np.zeros((0, 2), dtype=np.int64)
    empty = T.mot_metrics(det, T.tracks_from_links(n, nothing), nothing, true_edges)
    assert empty["mota"] == 0.0 and empty["idf1"] == 0.0 and empty["misses"] == n
