"""The training-lecture demos with tiny settings: each prints its summary and writes its
metrics.json and PNGs; --help, usage errors, and --device cuda without a GPU."""
import json
import re

import pytest

from test_demos import run_demo

PNG = b"\x89PNG\r\n\x1a\n"
SCRIPTS = ["linear_classifiers.py", "optimizer_landscapes.py", "initialization.py",
           "regularization.py", "transfer.py", "hyperparameter_search.py"]


def _png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG


def _metrics(out):
    with open(out / "metrics.json") as f:
        return json.load(f)


def test_linear_classifiers_small_run(tmp_path):
    out = tmp_path / "lc"
    result = run_demo("linear_classifiers.py", "--limit", "300", "--epochs", "5", "--k", "1", "3",
                      "--quiet", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert re.search(r"kNN \(k=[13], chosen on validation\)  test accuracy 0\.\d+", result.stdout)
    metrics = _metrics(out)
    # Even 300 images and 5 epochs put every method far above chance (0.1).
    for name in ("knn", "svm", "softmax"):
        assert metrics[name]["test_accuracy"] > 0.7, (name, metrics[name])
    assert set(metrics["knn"]["val_accuracy_by_k"]) == {"1", "3"}
    for png in ("templates.png", "curves.png", "knn.png"):
        assert _png(out / png)


def test_linear_classifiers_usage_errors(tmp_path):
    result = run_demo("linear_classifiers.py", "--epochs", "0", "--out", str(tmp_path))
    assert result.returncode == 2 and "--epochs must be at least 1" in result.stderr


def test_optimizer_landscapes_small_run(tmp_path):
    out = tmp_path / "ol"
    result = run_demo("optimizer_landscapes.py", "--steps", "60", "--surfaces",
                      "ill-conditioned quadratic", "saddle", "--quiet", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "f - f* after 60 steps" in result.stdout and "saddle" in result.stdout
    surfaces = _metrics(out)["surfaces"]
    assert set(surfaces) == {"ill-conditioned quadratic", "saddle"}
    quad = surfaces["ill-conditioned quadratic"]
    # LBFGS solves a quadratic in a handful of steps; every method moves downhill from 5.8.
    assert quad["LBFGS"]["steps_to_1e-3"] is not None and quad["LBFGS"]["steps_to_1e-3"] < 20
    assert all(m["final_gap"] < 5.8 and not m["diverged"] for m in quad.values())
    for png in ("trajectories.png", "loss.png"):
        assert _png(out / png)


def test_initialization_small_run(tmp_path):
    out = tmp_path / "init"
    result = run_demo("initialization.py", "--depth", "6", "--width", "48", "--batch", "64",
                      "--train-width", "32", "--epochs", "2", "--limit", "256", "--quiet",
                      "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Part 1" in result.stdout and "Part 2" in result.stdout
    metrics = _metrics(out)
    tanh = metrics["layer_std"]["tanh"]
    # The lecture's figure in numbers: std 0.01 weights shrink the signal about tenfold per
    # layer at width 48 (√48 · 0.01 ≈ 0.07), Xavier keeps it within an order of magnitude.
    assert tanh["small random"]["activations"][-1] < 1e-5
    assert tanh["Xavier"]["activations"][-1] > 0.1
    relu = metrics["layer_std"]["relu"]
    # Under ReLU, Xavier halves the variance per layer: after 6 layers the std is about
    # (1/√2)^6 ≈ 1/8 of Kaiming's.
    assert relu["Kaiming"]["activations"][-1] > 4 * relu["Xavier"]["activations"][-1] > 0
    assert len(metrics["training"]) == 12
    assert all(len(r["loss"]) == 2 for r in metrics["training"].values())
    for png in ("activations_tanh.png", "activations_relu.png", "layer_stats.png",
                "training.png"):
        assert _png(out / png)


def test_regularization_small_run(tmp_path):
    out = tmp_path / "reg"
    result = run_demo("regularization.py", "--train-size", "64", "--epochs", "3",
                      "--settings", "none", "augmentation", "all", "--quiet", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert re.search(r"none\s+\d\.\d{3}\s+\d\.\d{3}", result.stdout)
    metrics = _metrics(out)
    assert list(metrics["results"]) == ["none", "augmentation", "all"]
    for r in metrics["results"].values():
        assert r["gap"] == pytest.approx(r["train_accuracy"] - r["val_accuracy"])
        assert 0 <= r["test_accuracy"] <= 1
    # Three epochs on 64 images already lift the unregularised model above chance.
    assert metrics["results"]["none"]["train_accuracy"] > 0.2
    assert len(metrics["curves"]["all"]["val"]) == 3
    for png in ("curves.png", "gap.png"):
        assert _png(out / png)


def test_regularization_usage_errors(tmp_path):
    result = run_demo("regularization.py", "--dropout", "1.0", "--out", str(tmp_path))
    assert result.returncode == 2 and "--dropout must be in [0, 1)" in result.stderr


def test_transfer_small_run_on_synthetic_shapes(tmp_path):
    out = tmp_path / "tr"
    result = run_demo("transfer.py", "--pretrain", "synthetic", "--pretrain-size", "600",
                      "--pretrain-steps", "40", "--finetune-steps", "15", "--shots", "1", "5",
                      "--quiet", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "pretrained on synthetic shapes (8 classes)" in result.stdout
    metrics = _metrics(out)
    assert metrics["pretraining"]["data"] == "synthetic shapes"
    # 40 steps on 8 shape classes already beat their chance level of 1/8.
    assert metrics["pretraining"]["train_accuracy_last_2000"] > 0.3
    for method, by_k in metrics["test_accuracy"].items():
        assert set(by_k) == {"1", "5"} and all(0 <= v <= 1 for v in by_k.values()), method
    assert _png(out / "accuracy_vs_labels.png")


def test_transfer_synthetic_shapes():
    """The fallback pretraining set: 8x8 images of the 8 kinds, each with some pixels drawn."""
    import sys
    import numpy as np
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1] / "demos"))
    import transfer
    x, y = transfer.make_shapes(64, seed=1)
    assert x.shape == (64, 1, 8, 8) and set(np.unique(y)) <= set(range(8))
    # Every kind of shape draws some pixels, and not the whole image.
    clean = transfer.make_shapes(400, seed=2)
    on = (clean[0] > 0.5).sum(axis=(1, 2, 3))
    assert on.min() > 0 and on.max() < 64


def test_hyperparameter_search_small_run(tmp_path):
    out = tmp_path / "hp"
    result = run_demo("hyperparameter_search.py", "--budget", "4", "--epochs", "1",
                      "--final-epochs", "2", "--limit", "200", "--quiet", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert re.search(r"retrained for 2 epochs: test accuracy 0\.\d{3}", result.stdout)
    metrics = _metrics(out)
    grid, rand = metrics["trials"]["grid"], metrics["trials"]["random"]
    assert len(grid) == len(rand) == 4
    # The grid repeats 2 learning rates; random search tries 4 different ones.
    assert len({t["lr"] for t in grid}) == 2 and len({t["lr"] for t in rand}) == 4
    assert all(1e-4 <= t["lr"] <= 1 and 1e-6 <= t["weight_decay"] <= 0.1 for t in rand)
    for png in ("search.png", "best_so_far.png"):
        assert _png(out / png)
