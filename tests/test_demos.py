"""The demos run end to end: tiny settings in a subprocess, checking what they print and write."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_demo(script, *args, timeout=120):
    """Run ``demos/<script>`` with ``args``; returns the completed process (output as text)."""
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run([sys.executable, os.path.join(ROOT, "demos", script), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


# Every demo behaves alike from the command line (each family's file tests its own runs).
DEMOS = sorted(name for name in os.listdir(os.path.join(ROOT, "demos"))
               if name.endswith(".py") and not name.startswith("_"))


def test_every_demo_is_listed():
    assert len(DEMOS) >= 20 and "classify_digits.py" in DEMOS


@pytest.mark.parametrize("script", DEMOS)
def test_help(script):
    """``--help`` lists the options every demo shares."""
    result = run_demo(script, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
    for option in ("--device", "--out", "--quiet", "--logdir"):
        assert option in result.stdout, f"{script} --help lacks {option}"


@pytest.mark.parametrize("script", DEMOS)
def test_cuda_without_gpu_is_a_clear_error(script, tmp_path):
    """``--device cuda`` without a GPU is a usage error (exit code 2) that says why."""
    import minigrad as mg
    if mg.cuda.is_available():
        pytest.skip("a GPU is present, so --device cuda is valid here")
    result = run_demo(script, "--device", "cuda", "--out", str(tmp_path))
    assert result.returncode == 2, result.stderr
    assert "CUDA is not available" in result.stderr


def test_classify_digits_small_run(tmp_path):
    out = tmp_path / "run"
    result = run_demo("classify_digits.py", "--epochs", "4", "--limit", "300",
                      "--batch-size", "32", "--lr", "0.01", "--out", str(out))
    assert result.returncode == 0, result.stderr
    losses = [float(v) for v in re.findall(r"train loss (\d+\.\d+)", result.stdout)]
    assert len(losses) == 4
    assert losses[-1] < losses[0]
    test_accuracy = float(re.search(r"test (\d+\.\d+)%", result.stdout).group(1))
    assert test_accuracy > 50.0  # 10 classes: chance is 10%
    for name in ("model.npz", "metrics.json", "curves.png", "confusion_matrix.png",
                 "predictions.png"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "curves.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with np.load(out / "model.npz") as weights:
        assert "features.0.weight" in weights.files


def test_classify_digits_quiet_mlp(tmp_path):
    result = run_demo("classify_digits.py", "--model", "mlp", "--epochs", "1", "--limit",
                      "100", "--quiet", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "epoch" not in result.stdout and "test" in result.stdout
    assert (tmp_path / "model.npz").exists()


def test_classify_digits_rejects_bad_values(tmp_path):
    result = run_demo("classify_digits.py", "--epochs", "0", "--out", str(tmp_path))
    assert result.returncode == 2 and "--epochs must be at least 1" in result.stderr


def test_train_mlp_loss_falls_and_writes_its_results(tmp_path):
    result = run_demo("train_mlp.py", "--steps", "120", "--print-every", "40",
                      "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    losses = [float(v) for v in re.findall(r"step +\d+  loss (\d+\.\d+)", result.stdout)]
    assert len(losses) == 3
    assert losses[-1] < losses[0]
    with open(tmp_path / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["history"]["step"] == [40, 80, 120]
    np.testing.assert_allclose(metrics["history"]["loss"], losses, atol=1e-4)
    assert metrics["final_accuracy"] == metrics["history"]["accuracy"][-1] > 0.5
    with open(tmp_path / "boundary.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_train_mlp_quiet_prints_only_the_summary(tmp_path):
    result = run_demo("train_mlp.py", "--steps", "20", "--quiet", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert not re.search(r"^step", result.stdout, re.M) and "accuracy" in result.stdout
    assert result.stderr == ""  # no progress bar
    assert (tmp_path / "metrics.json").exists()
