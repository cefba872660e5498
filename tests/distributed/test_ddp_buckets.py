"""DistributedDataParallel's bucket machinery in one process, against a recording stand-in
for the process group: buckets start from the gradient hooks as they fill, in order, before
backward ends, and the averages land in ``.grad``."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad.distributed import process_group
from layers import Linear, ReLU, Sequential
from layers.parallel import DistributedDataParallel


class Done:
    def wait(self, timeout=None):
        return True


class RecordingGroup:
    """Two ranks that hold the same gradients: the average of each bucket is itself."""
    name, rank, world_size = "recording", 0, 2

    def __init__(self):
        self.calls, self.ddp = [], None

    def broadcast(self, array, src):
        return Done()

    def all_reduce(self, array, op):
        self.calls.append((array.size, op, self.ddp._ready, self.ddp._hooked))
        return Done()


@pytest.fixture
def group(monkeypatch):
    fake = RecordingGroup()
    monkeypatch.setattr(process_group, "_group", fake)
    return fake


def nets():
    mg.manual_seed(0)
    net = Sequential(Linear(3, 4), ReLU(), Linear(4, 2)).double()
    twin = Sequential(Linear(3, 4), ReLU(), Linear(4, 2)).double()
    twin.load_state_dict(net.state_dict())
    return net, twin


def loss(model, x):
    return F.mse_loss(model(x), mg.zeros(5, 2, dtype=mg.float64))


def test_one_bucket_per_parameter_starts_as_each_gradient_arrives(group):
    net, twin = nets()
    ddp = DistributedDataParallel(net, bucket_cap_mb=0)
    group.ddp = ddp
    x = mg.randn(5, 3, dtype=mg.float64)
    loss(ddp, x).backward()
    loss(twin, x).backward()
    # reverse registration order: 2.bias (2), 2.weight (8), 0.bias (4), 0.weight (12)
    assert [size for size, *_ in group.calls] == [2, 8, 4, 12]
    assert all(op == "avg" for _, op, *_ in group.calls)
    # Each all-reduce starts as soon as its gradient's hook has run, during backward, not
    # after it: a Linear's weight and bias gradients come from one node (F.linear is one op,
    # as PyTorch's addmm), so they arrive, and their buckets start, in pairs.
    assert [hooked for *_, hooked in group.calls] == [2, 2, 4, 4]
    for p, q in zip(net.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_one_bucket_starts_once_full(group):
    net, twin = nets()
    ddp = DistributedDataParallel(net)
    group.ddp = ddp
    x = mg.randn(5, 3, dtype=mg.float64)
    loss(ddp, x).backward()
    assert [(size, hooked) for size, _, _, hooked in group.calls] == [(26, 4)]


def test_no_sync_accumulates_and_the_next_backward_reduces_the_sum(group):
    net, twin = nets()
    ddp = DistributedDataParallel(net, bucket_cap_mb=0)
    group.ddp = ddp
    x1, x2 = mg.randn(5, 3, dtype=mg.float64), mg.randn(5, 3, dtype=mg.float64)
    with ddp.no_sync():
        loss(ddp, x1).backward()
    assert group.calls == []
    loss(ddp, x2).backward()
    assert len(group.calls) == 4
    loss(twin, x1).backward()
    loss(twin, x2).backward()
    for p, q in zip(net.parameters(), twin.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-15)


def test_a_backward_without_forward_stays_local(group):
    net, _ = nets()
    ddp = DistributedDataParallel(net, bucket_cap_mb=0)
    group.ddp = ddp
    x = mg.randn(5, 3, dtype=mg.float64)
    loss(ddp, x).backward()
    loss(net, x).backward()            # through the inner module: DDP's forward did not run
    assert len(group.calls) == 4
    with mg.no_grad():
        ddp(x)                         # an evaluation forward does not arm the hooks either
    loss(net, x).backward()
    assert len(group.calls) == 4
