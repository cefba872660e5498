"""The similarity and visualisation demos run end to end with tiny settings."""
import json

import pytest

from test_demos import run_demo

SCRIPTS = ["similarity.py", "visualize.py"]


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_similarity_small_run(tmp_path):
    result = run_demo("similarity.py", "--steps", "30", "--tsne-iter", "30", "--tsne-points",
                      "150", "--quiet", "--out", str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "recall@1 unseen" in result.stdout and "t-SNE of 150 embeddings" in result.stdout
    for name in ("recall.png", "embeddings.png", "tsne.png"):
        assert _is_png(tmp_path / name), name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for method in ("contrastive", "triplet-random", "triplet-hard"):
        r = metrics["results"][method]
        # 30 steps already learn a distance: far above the chance of 1/7 and 1/3
        assert r["recall@1_seen"] > 0.5 and r["recall@1_unseen"] > 0.4
    assert metrics["tsne"]["points"] == 150


def test_visualize_small_run(tmp_path):
    result = run_demo("visualize.py", "--epochs", "1", "--resnet-epochs", "1", "--limit", "100",
                      "--vis-steps", "4", "--samples", "2", "--quiet", "--out", str(tmp_path),
                      timeout=400)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    tools = ["occlusion", "saliency", "smoothgrad", "integrated", "gradcam", "guided",
             "deconvnet", "classvis", "deepdream", "patches", "filters", "texture", "style"]
    for model in ("cnn", "resnet"):
        assert metrics["models"][model]["panels"] == [f"{model}_{t}.png" for t in tools]
        for tool in tools:
            assert _is_png(tmp_path / f"{model}_{tool}.png")
    assert "26 PNGs" in result.stdout


def test_visualize_loads_a_checkpoint(tmp_path):
    trained = tmp_path / "cnn"
    result = run_demo("classify_digits.py", "--epochs", "1", "--limit", "100", "--quiet",
                      "--out", str(trained))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "vis"
    result = run_demo("visualize.py", "--checkpoint", str(trained / "model.npz"), "--models",
                      "cnn", "--vis-steps", "2", "--samples", "2", "--quiet", "--out", str(out),
                      timeout=300)
    assert result.returncode == 0, result.stderr
    accuracy = json.loads((trained / "metrics.json").read_text())["test_accuracy"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["models"]["cnn"]["test_accuracy"] == pytest.approx(accuracy)
    assert list(metrics["models"]) == ["cnn"]


def test_visualize_rejects_a_missing_checkpoint(tmp_path):
    result = run_demo("visualize.py", "--checkpoint", str(tmp_path / "none.npz"))
    assert result.returncode == 2 and "no such file" in result.stderr
