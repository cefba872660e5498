"""The collectives on 2 ranks: values of all_reduce (every op), broadcast, all_gather, the
differentiable sum, and the errors for bad arguments."""
import json

import numpy as np


def test_collective_values(run_ranks, tmp_path):
    out = tmp_path / "seen.json"
    result = run_ranks("collectives.py", str(out), timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(out.read_text())
    assert (seen["rank"], seen["world_size"], seen["backend"]) == (0, 2, "mpi")
    assert seen["initialized"]
    # rank r holds [[1 + r, -2r], [3, 0.5 + r]]
    assert seen["all_reduce_sum"] == [[3.0, -2.0], [6.0, 2.0]]
    assert seen["all_reduce_avg"] == [[1.5, -1.0], [3.0, 1.0]]
    assert seen["all_reduce_product"] == [[2.0, 0.0], [9.0, 0.75]]
    assert seen["all_reduce_min"] == [[1.0, -2.0], [3.0, 0.5]]
    assert seen["all_reduce_max"] == [[2.0, 0.0], [3.0, 1.5]]
    assert seen["all_reduce_int"] == [21, 41]
    assert seen["all_reduce_async"] == [14.0, 14.0, 14.0]
    assert seen["broadcast_from_1"] == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    assert seen["all_gather"] == [[0.0, 0.25, 0.0], [1.5, 1.25, -1.0]]
    # s = Σ_r x_r = [3, 4]; Σ_r (r + 1)·s·s has gradient Σ_r 2(r + 1)·s = 6·s on each x_r
    assert seen["differentiable_sum"] == [3.0, 4.0]
    np.testing.assert_allclose(seen["differentiable_sum_grad"], [18.0, 24.0])
    assert seen["both_ranks_reached_the_end"] == [1.0, 1.0]
    assert "after destroy (False, 0, 1)" in result.stdout


def test_bad_arguments_are_clear_errors(run_ranks, tmp_path):
    out = tmp_path / "seen.json"
    result = run_ranks("collectives.py", str(out), timeout=120)
    assert result.returncode == 0, result.stderr
    errors = json.loads(out.read_text())["errors"]
    assert errors[0] == "all_reduce: expected a Tensor, got ndarray"
    assert "src must be a rank in 0..1, got 5" in errors[1]
    assert "list of 2 Tensors" in errors[2] and "length 1" in errors[2]
    assert "shape (2,)" in errors[3] and "(3,)" in errors[3]
    assert "AVG needs a floating tensor" in errors[4]
    assert "op must be one of" in errors[5] and "'mean'" in errors[5]
    assert "only the default process group exists" in errors[6]
    # a read-only tensor is refused before the transport sees it (mpi4py raised BufferError)
    assert errors[7] == ("all_reduce: the tensor of shape (2,) is read-only (its array's "
                         "writeable flag is off), and all_reduce writes its result into it; "
                         "pass a writable copy (tensor.clone())")
    assert errors[8].startswith("broadcast: the tensor of shape (3,) is read-only")
    assert errors[9].startswith("all_gather: the tensor of shape (2,) is read-only")
    assert len(errors) == 10
