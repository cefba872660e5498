"""The demos' ``--distributed`` runs on 2 ranks (tiny settings): one rank prints, rank 0 writes
the results, and training reaches a real result."""
import json
import os
import re
import subprocess
import sys

import pytest

ANSI_CODE = re.compile(r"\x1b\[[0-9;]*m")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(run_ranks, script, *args):
    # launch() runs tests/distributed/ranks/<script>; a demo lives in demos/, so go up there
    return run_ranks(os.path.join("..", "..", "..", "demos", script), *args, timeout=300)


def test_classify_digits_distributed_prints_once(run_ranks, tmp_path):
    out = tmp_path / "digits"
    result = run(run_ranks, "classify_digits.py", "--distributed", "--epochs", "4",
                 "--batch-size", "16", "--limit", "600", "--quiet", "--out", str(out))
    assert result.returncode == 0, result.stderr
    # lines with visible text: a terminal colour reset alone (some launchers print one) is none
    lines = [ln for ln in result.stdout.splitlines() if ANSI_CODE.sub("", ln).strip()]
    assert len(lines) == 2, result.stdout                      # the summary, once
    assert lines[0].startswith("cnn on digits: train accuracy")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["lr"] == pytest.approx(2 * 3e-3)           # scaled by the 2 ranks
    assert metrics["batch_size"] == 16                         # per rank
    assert metrics["test_accuracy"] > 0.7                      # chance is 10%
    for name in ("model.npz", "curves.png", "confusion_matrix.png", "predictions.png"):
        assert (out / name).stat().st_size > 0


def test_train_mlp_distributed(run_ranks, tmp_path):
    out = tmp_path / "mlp"
    result = run(run_ranks, "train_mlp.py", "--distributed", "--steps", "150", "--quiet",
                 "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("spirals: loss") == 1, result.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["final_accuracy"] > 0.7
    assert (out / "boundary.png").stat().st_size > 0


@pytest.mark.parametrize("script", ["classify_digits.py", "train_mlp.py"])
def test_help_mentions_distributed(script):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "demos", script), "--help"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0
    assert "--distributed" in result.stdout and "mpiexec" in result.stdout
