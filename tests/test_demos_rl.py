"""The RL demos run end to end on tiny settings: what they print and the files they write."""
import json
import re

import numpy as np
import pytest

from test_demos import run_demo

PNG = b"\x89PNG\r\n\x1a\n"


def is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == PNG


def test_gridworld_small_run(tmp_path):
    result = run_demo("gridworld.py", "--episodes", "300", "--quiet", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "value iteration: " in result.stdout
    error = float(re.search(r"max value error (\d+\.\d+)", result.stdout).group(1))
    assert error < 0.5
    for name in ("gridworld.png", "convergence.png"):
        assert is_png(tmp_path / name), name
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert len(metrics["value_error_per_episode"]) == 300
    assert metrics["V_star"][0] == pytest.approx(0.61, abs=0.01)  # the classic world's corner


def test_gridworld_rejects_bad_arguments():
    result = run_demo("gridworld.py", "--gamma", "1.0")
    assert result.returncode == 2 and "--gamma" in result.stderr


def test_cartpole_small_run(tmp_path):
    pytest.importorskip("gymnasium", reason="the 'rl' extra (gymnasium) is not installed")
    result = run_demo("cartpole.py", "--steps", "600", "--seeds", "2", "--eval-episodes", "3",
                      "--frames", "2", "--checkpoints", "2", "--checkpoint-episodes", "2",
                      "--hidden", "16", "--quiet", "--out", str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for name in ("reinforce", "a2c", "dqn"):
        line = re.search(rf"{name}\s+mean\s+(\d+\.\d+)\s+per seed \[(.*)\]", result.stdout)
        assert line, result.stdout
        per_seed = [float(v) for v in line.group(2).split(",")]
        saved = metrics["agents"][name]
        # the summary prints what metrics.json holds, and the mean is the mean of the seeds
        np.testing.assert_allclose(per_seed, saved["greedy_return_per_seed"], atol=0.051)
        np.testing.assert_allclose(float(line.group(1)), np.mean(saved["greedy_return_per_seed"]),
                                   atol=0.051)
        assert all(r >= 1.0 for r in saved["greedy_return_per_seed"])  # an episode lasts a step
    assert is_png(tmp_path / "returns.png") and is_png(tmp_path / "frames.png")
    assert metrics["steps"] == 600 and set(metrics["agents"]) == {"reinforce", "a2c", "dqn"}
    assert len(metrics["agents"]["a2c"]["training_curve"]) == 2
