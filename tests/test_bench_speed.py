"""bench/bench_speed.py: the workloads compute what they claim, and one tiny end-to-end run
prints a table and writes figures for both libraries at the thread count asked."""
import json

import numpy as np
import pytest

from bench import bench_speed


def test_unknown_workload_is_a_clear_error():
    with pytest.raises(ValueError, match="bench_speed: unknown workload 'resnet'"):
        bench_speed.runners("resnet", None)


@pytest.mark.parametrize("name", ["conv2d", "batch_norm2d", "max_pool2d", "overhead"])
def test_each_minigrad_runner_leaves_gradients(name):
    # The closures keep their leaves in cells; one call must fill a finite gradient in each.
    ours, theirs, scale = bench_speed.runners(name, None)
    assert theirs is None and scale > 0
    ours()
    leaves = [cell.cell_contents for cell in ours.__closure__
              if isinstance(cell.cell_contents, list)][0]
    assert leaves and all(t.grad is not None and np.isfinite(t.grad.numpy()).all()
                          for t in leaves)


def test_lenet_is_the_issue_architecture():
    import layers
    model = bench_speed.lenet(layers)
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(16, 1, 5, 5), (16,), (32, 16, 5, 5), (32,), (128, 1568), (128,),
                      (10, 128), (10,)]


def test_a_tiny_run_reports_both_libraries(tmp_path, capsys):
    pytest.importorskip("torch", reason="the table's PyTorch column needs PyTorch")
    out = tmp_path / "speed.json"
    bench_speed.main(["--threads", "1", "--repeats", "1", "--rounds", "1", "--only", "overhead",
                      "--json", str(out)])
    figures = json.loads(out.read_text())["results"]["overhead"]["1"]
    assert figures["minigrad"] > 0 and figures["torch"] > 0
    row = [line for line in capsys.readouterr().out.splitlines() if "overhead" in line][0]
    assert f"{figures['minigrad'] / figures['torch']:.2f}x" in row


@pytest.mark.parametrize("blas, library", [("policy", "minigrad"), ("threads", "minigrad"),
                                           ("policy", "torch")])
def test_child_environment_per_blas_choice(monkeypatch, blas, library):
    """Under --blas policy minigrad's process gets MINIGRAD_NUM_THREADS and no BLAS variable (its
    policy sizes BLAS); otherwise, and always for PyTorch, every thread variable is n."""
    seen = {}

    class Done:
        stdout = "{}"

    def fake_run(command, env, **kwargs):
        seen.update(env)
        return Done()
    monkeypatch.setattr(bench_speed.subprocess, "run", fake_run)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "7")
    monkeypatch.delenv("MINIGRAD_NUM_THREADS", raising=False)
    args = bench_speed.argparse.Namespace(repeats=1, only=["overhead"], blas=blas)
    bench_speed._child(library, 2, args, "/root")
    if blas == "policy" and library == "minigrad":
        assert seen["MINIGRAD_NUM_THREADS"] == "2" and seen["NUMBA_NUM_THREADS"] == "2"
        assert not set(bench_speed.POLICY_UNSET) & set(seen)
    else:
        assert all(seen[v] == "2" for v in bench_speed.THREAD_VARIABLES)
        assert "MINIGRAD_NUM_THREADS" not in seen


def test_bench_gpu_measures_on_a_gpu_and_says_why_not_without_one(tmp_path, capsys):
    """bench/bench_gpu.py: without a GPU it stops with status 2 and says why; with one, a tiny
    run prints the row and writes the figures."""
    import minigrad as mg
    from bench import bench_gpu
    out = tmp_path / "gpu.json"
    if not mg.cuda.is_available():
        with pytest.raises(SystemExit) as stop:
            bench_gpu.main(["--only", "overhead", "--repeats", "2", "--json", str(out)])
        assert stop.value.code == 2
        assert "no CUDA GPU here" in capsys.readouterr().out and not out.exists()
        return
    bench_gpu.main(["--only", "overhead", "--repeats", "2", "--json", str(out)])
    assert "| autograd overhead" in capsys.readouterr().out
    assert json.loads(out.read_text())["results"]["overhead"]["minigrad"] > 0
