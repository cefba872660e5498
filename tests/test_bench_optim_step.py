"""bench/bench_optim_step.py: the steps it times update the parameters they claim, and a tiny
run prints a row for every optimizer and path on both models."""
import numpy as np
import pytest

from bench import bench_optim_step


def test_every_timed_step_moves_the_models_parameters():
    for label, step in bench_optim_step.steps(bench_optim_step.mlp, "Adam", {"lr": 0.1},
                                              None).items():
        optimizer = step.__self__
        params = optimizer.param_groups[0]["params"]
        before = [p.numpy().copy() for p in params]
        step()
        assert [p.shape for p in params] == [(256, 784), (256,), (256, 256), (256,), (10, 256),
                                             (10,)]
        assert all(not np.array_equal(p.numpy(), b) for p, b in zip(params, before)), label
        assert optimizer.param_groups[0]["foreach"] is (None if "None" in label else False)


def test_a_tiny_run_reports_every_rule_and_path(capsys):
    pytest.importorskip("torch", reason="the table's PyTorch column needs PyTorch")
    bench_optim_step.main(["--number", "1", "--repeats", "1"])
    out = capsys.readouterr().out
    for model in ("mlp", "lenet"):
        assert f"optimizer.step() on {model}'s parameters" in out
    for rule in bench_optim_step.RULES:
        for path in ("NumPy rule (foreach=False)", "fused (foreach=None)",
                     "fused vs torch foreach=True"):
            assert out.count(f"| {rule}, {path} |") == 2


def test_the_threshold_table_covers_the_sizes(capsys, monkeypatch):
    monkeypatch.setattr(bench_optim_step, "median_time", lambda fn, clock, number, repeats: 1.0)
    bench_optim_step.threshold(None, 1)
    out = capsys.readouterr().out
    from minigrad.kernels.cpu.optim import PARALLEL_FROM
    assert f"PARALLEL_FROM is 2^{PARALLEL_FROM.bit_length() - 1}" in out
    assert [line.split(" | ")[0] for line in out.splitlines() if line.startswith("| 2^")] == \
        [f"| 2^{k}" for k in range(16, 24)]
