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
