"""DistributedDataParallel on 2 ranks with batch B each reaches the parameters of one process
with batch 2B (float64): SGD with momentum and Adam, one bucket per parameter, a few buckets
and one bucket, gradient accumulation under no_sync, SyncBatchNorm, and an unused parameter
(find_unused_parameters)."""
import json

import numpy as np
import pytest

import minigrad as mg
from layers import BatchNorm1d, BatchNorm2d, Linear, Sequential
from layers.parallel import DistributedDataParallel, SyncBatchNorm


@pytest.fixture(scope="module")
def equivalence(run_ranks, tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp") / "results.json"
    result = run_ranks("equivalence.py", str(out), timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text())


CASES = ['{"cap": 0, "opt": "sgd"}', '{"cap": 25, "opt": "sgd"}', '{"cap": 0, "opt": "adam"}',
         '{"cap": 25, "opt": "adam"}', '{"cap": 0.0005, "opt": "sgd"}',
         '{"cap": 25, "no_sync": true, "opt": "adam"}',
         '{"cap": 0, "no_sync": true, "opt": "sgd"}', '{"bn": true, "cap": 25, "opt": "sgd"}',
         '{"bn": true, "cap": 0.0005, "opt": "adam"}',
         '{"cap": 0, "opt": "sgd", "spare": true}']


@pytest.mark.parametrize("case", CASES)
def test_two_ranks_match_one_process_with_twice_the_batch(equivalence, case):
    result = equivalence[case]
    assert result["moved"] > 1e-2            # training really changed the parameters
    # Adam divides by sqrt(v): rounding differences of 1e-16 in the batch-norm statistics
    # grow to about 1e-10 after five steps; everything else agrees to rounding.
    tolerance = 1e-9 if '"bn": true' in case and "adam" in case else 1e-13
    assert result["max_diff"] < tolerance, result


def test_buckets_respect_the_cap_in_reverse_order():
    from layers.parallel import _make_buckets
    net = Sequential(Linear(100, 50), Linear(50, 10))     # float32: 20000, 200, 2000, 40 B
    params = list(net.parameters())[::-1]
    sizes = [[p.shape for p in b.params] for b in _make_buckets(params, 2100)]
    assert sizes == [[(10,), (10, 50)], [(50,)], [(50, 100)]]
    assert [len(b.params) for b in _make_buckets(params, 0)] == [1, 1, 1, 1]
    assert [len(b.params) for b in _make_buckets(params, 25 * 2 ** 20)] == [4]


def test_needs_a_process_group():
    import minigrad.distributed as dist
    if dist.is_initialized():
        pytest.skip("a process group is initialised in this process")
    with pytest.raises(RuntimeError, match="process group is not initialised"):
        DistributedDataParallel(Linear(2, 2))


def test_convert_sync_batchnorm_shares_parameters_and_buffers():
    net = Sequential(Linear(3, 4), BatchNorm1d(4), Sequential(BatchNorm2d(2)))
    weight, running = net[1].weight, net[1].running_mean
    converted = SyncBatchNorm.convert_sync_batchnorm(net)
    assert isinstance(converted[1], SyncBatchNorm) and isinstance(converted[2][0], SyncBatchNorm)
    assert converted[1].weight is weight and converted[1].running_mean is running
    assert sorted(converted.state_dict()) == sorted(Sequential(
        Linear(3, 4), BatchNorm1d(4), Sequential(BatchNorm2d(2))).state_dict())


def test_sync_batchnorm_alone_is_batchnorm():
    mg.manual_seed(0)
    x = mg.randn(6, 3, 2, 2, dtype=mg.float64)
    sync, plain = SyncBatchNorm(3).double(), BatchNorm2d(3).double()
    np.testing.assert_allclose(sync(x).numpy(), plain(x).numpy(), rtol=1e-12)
    np.testing.assert_allclose(sync.running_var.numpy(), plain.running_var.numpy(), rtol=1e-12)
