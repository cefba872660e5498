"""What ``layers/parallel.py`` and ``layers/utils/spectral_norm.py`` promise, checked in one
process.

DistributedDataParallel and SyncBatchNorm run here against a stand-in for a group of two ranks
that hold the same data (``Mirror``): an average over ranks is the value itself, a sum is twice
it. So DDP's gradients equal one process's, and SyncBatchNorm on a batch x equals BatchNorm on
the global batch [x; x]."""
import threading

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad.distributed import process_group
from layers import BatchNorm1d, BatchNorm2d, Conv2d, Linear, Module, ReLU, Sequential
from layers.parallel import DistributedDataParallel, SyncBatchNorm, _reachable_leaves
from layers.utils.spectral_norm import (SpectralNorm, _normalize, remove_spectral_norm,
                                        spectral_norm)


class Done:
    def wait(self, timeout=None):
        return True


class Mirror:
    """Two ranks holding the same arrays: AVG leaves an array as it is, SUM doubles it."""
    name, rank, world_size = "mirror", 0, 2

    def __init__(self):
        self.calls = []

    def broadcast(self, array, src):
        self.calls.append(("broadcast", array.shape, src))
        return Done()

    def all_reduce(self, array, op):
        self.calls.append(("all_reduce", array.shape, op))
        if op == "sum":
            array *= 2
        else:
            assert op == "avg"
        return Done()


@pytest.fixture
def group(monkeypatch):
    fake = Mirror()
    monkeypatch.setattr(process_group, "_group", fake)
    return fake


class TwoHeads(Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = Linear(2, 1).double(), Linear(2, 1).double()

    def forward(self, x):
        return self.a(x)                      # self.b gets no gradient


# ---------------------------------------------------------------- DistributedDataParallel

def test_ddp_argument_errors(group):
    with pytest.raises(TypeError, match="DistributedDataParallel: expected a Module, got int"):
        DistributedDataParallel(3)
    with pytest.raises(ValueError, match="only the default process group exists; pass "
                                         "process_group=None"):
        DistributedDataParallel(Linear(2, 1), process_group="world")
    with pytest.raises(ValueError, match=r"device_ids must name at most one device \(one "
                                         r"device per process\), got \[0, 1\]"):
        DistributedDataParallel(Linear(2, 1), device_ids=[0, 1])
    with pytest.raises(ValueError, match=r"output_device must name at most one device"):
        DistributedDataParallel(Linear(2, 1), output_device=[0, 1])
    with pytest.raises(ValueError, match="bucket_cap_mb"):
        DistributedDataParallel(Linear(2, 1), bucket_cap_mb=-1)
    # one device, as an int or a list of one, is accepted
    for ids in (0, [0], []):
        ddp = DistributedDataParallel(Linear(2, 1), device_ids=ids, output_device=ids)
        assert ddp.bucket_cap_mb == 25


def test_ddp_broadcasts_rank0_parameters_and_buffers_then_buffers_each_training_forward(group):
    net = Sequential(Linear(2, 3), BatchNorm1d(3)).double()
    ddp = DistributedDataParallel(net, bucket_cap_mb=0)
    shapes = [(3, 2), (3,), (3,), (3,), (3,), (3,), ()]   # 4 parameters, then 3 buffers
    assert group.calls == [("broadcast", s, 0) for s in shapes]
    assert ddp.broadcast_buffers is True and ddp.find_unused_parameters is False
    assert ddp.require_backward_grad_sync is True
    group.calls.clear()
    x = mg.randn(4, 2, dtype=mg.float64)
    F.mse_loss(ddp(x), mg.zeros(4, 3, dtype=mg.float64)).backward()
    assert group.calls[:3] == [("broadcast", s, 0) for s in [(3,), (3,), ()]]
    assert [c[0] for c in group.calls[3:]] == ["all_reduce"] * 4
    group.calls.clear()
    ddp.eval()
    with mg.no_grad():
        ddp(x)
    assert group.calls == []                  # no buffer broadcast in evaluation
    ddp.train()
    quiet = DistributedDataParallel(Sequential(Linear(2, 3), BatchNorm1d(3)).double(),
                                    broadcast_buffers=False)
    assert quiet.broadcast_buffers is False
    group.calls.clear()
    with mg.no_grad():
        quiet(x)
    assert group.calls == []


def test_ddp_gradients_are_the_single_process_ones(group):
    mg.manual_seed(0)
    net = Sequential(Linear(3, 4), ReLU(), Linear(4, 2)).double()
    twin = Sequential(Linear(3, 4), ReLU(), Linear(4, 2)).double()
    twin.load_state_dict(net.state_dict())
    ddp = DistributedDataParallel(net, bucket_cap_mb=0.0001)      # 105 B: 3 buckets
    assert len(ddp._buckets) == 3
    for step in range(2):
        x = mg.randn(5, 3, dtype=mg.float64)
        F.mse_loss(ddp(x), mg.zeros(5, 2, dtype=mg.float64)).backward()
        F.mse_loss(twin(x), mg.zeros(5, 2, dtype=mg.float64)).backward()
        for p, q in zip(net.parameters(), twin.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-14)
    assert [c[2] for c in group.calls if c[0] == "all_reduce"] == ["avg"] * 6
    assert ddp._syncing is False and ddp._ready == 0 and ddp._next_bucket == 0


def test_ddp_repr(group):
    ddp = DistributedDataParallel(Sequential(Linear(2, 3), Linear(3, 1)), bucket_cap_mb=0)
    assert ddp.extra_repr() == "world_size=2, buckets=4, bucket_cap_mb=0"
    assert repr(ddp).splitlines()[1] == "  world_size=2, buckets=4, bucket_cap_mb=0"


def test_a_parameter_without_gradient_is_named_at_the_next_forward(group):
    ddp = DistributedDataParallel(TwoHeads(), bucket_cap_mb=0)
    x = mg.ones(3, 2, dtype=mg.float64)
    ddp(x).sum().backward()
    message = ("DistributedDataParallel: the last backward produced no gradient for the "
               "parameters ['b.weight', 'b.bias'], so their all-reduce never started and the "
               "ranks may now differ. Use every parameter in forward, or pass "
               "find_unused_parameters=True.")
    with pytest.raises(RuntimeError) as error:
        ddp(x)
    assert str(error.value) == message


def test_a_forward_without_backward_is_not_an_error(group):
    ddp = DistributedDataParallel(TwoHeads(), bucket_cap_mb=0)
    x = mg.ones(3, 2, dtype=mg.float64)
    ddp(x)
    ddp(x)                                    # no hook ran: nothing to complain about
    with ddp.no_sync():
        ddp(x).sum().backward()
    ddp(x)                                    # the local backward did not sync either


def test_no_sync_restores_the_previous_setting_even_after_an_error(group):
    ddp = DistributedDataParallel(Linear(2, 1), bucket_cap_mb=0)
    with pytest.raises(KeyError):
        with ddp.no_sync():
            assert ddp.require_backward_grad_sync is False
            raise KeyError("x")
    assert ddp.require_backward_grad_sync is True
    ddp.require_backward_grad_sync = False
    with ddp.no_sync():
        pass
    assert ddp.require_backward_grad_sync is False


def test_find_unused_parameters_completes_the_round(group):
    mg.manual_seed(0)
    net = TwoHeads()
    ddp = DistributedDataParallel(net, bucket_cap_mb=0, find_unused_parameters=True)
    assert ddp.find_unused_parameters is True
    x = mg.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]], dtype=mg.float64)
    ddp(x).sum().backward()
    np.testing.assert_allclose(net.a.weight.grad.numpy(), [[4.5, 1.5]], rtol=1e-15)
    np.testing.assert_allclose(net.a.bias.grad.numpy(), [3.0], rtol=1e-15)
    # no rank gave b a gradient: it keeps none, as in PyTorch
    assert net.b.weight.grad is None and net.b.bias.grad is None
    # flags of use were summed over the ranks
    sums = [c for c in group.calls if c[0] == "all_reduce" and c[2] == "sum"]
    assert sums == [("all_reduce", (4,), "sum")]
    ddp(x).sum().backward()                   # the next round needs no extra step
    np.testing.assert_allclose(net.a.weight.grad.numpy(), [[9.0, 3.0]], rtol=1e-15)
    # a parameter with a gradient from an earlier backward keeps it (zero added this round)
    net.b.weight.grad = mg.tensor([[2.0, 5.0]], dtype=mg.float64)
    ddp(x).sum().backward()
    np.testing.assert_allclose(net.b.weight.grad.numpy(), [[2.0, 5.0]], rtol=1e-15)
    np.testing.assert_allclose(net.a.weight.grad.numpy(), [[13.5, 4.5]], rtol=1e-15)


def test_used_parameter_without_a_local_gradient_gets_the_average(monkeypatch):
    """A parameter unused here but used on the other rank receives the average of the
    buckets (here zero from this rank, the other's share stood in for by the mirror)."""
    class OtherUsesAll(Mirror):
        def all_reduce(self, array, op):      # the flags' sum: the other rank used every one
            if op == "sum":
                array += 1
            return Done()
    monkeypatch.setattr(process_group, "_group", OtherUsesAll())
    net = TwoHeads()
    ddp = DistributedDataParallel(net, bucket_cap_mb=0, find_unused_parameters=True)
    ddp(mg.ones(3, 2, dtype=mg.float64)).sum().backward()
    np.testing.assert_array_equal(net.b.weight.grad.numpy(), [[0.0, 0.0]])
    np.testing.assert_array_equal(net.b.bias.grad.numpy(), [0.0])
    np.testing.assert_array_equal(net.a.weight.grad.numpy(), [[3.0, 3.0]])
    # the copy is the parameter's own: changing it leaves the bucket alone
    assert not np.shares_memory(net.b.weight.grad.data, ddp._buckets[0].flat)
    assert not np.shares_memory(net.b.weight.grad.data, ddp._buckets[1].flat)


def test_reachable_leaves_walks_nested_outputs():
    a = mg.tensor([1.0], requires_grad=True)
    b = mg.tensor([2.0], requires_grad=True)
    c = mg.tensor([3.0], requires_grad=True)
    d = mg.tensor([4.0], requires_grad=True)
    plain = mg.tensor([5.0])
    out = {"x": [a * 2, (b + c,)], "y": plain, "z": "text", "w": None}
    assert _reachable_leaves(out) == {id(a), id(b), id(c), id(plain)}
    shared = a * b
    assert _reachable_leaves((shared + 1, shared * 2)) == {id(a), id(b)}
    assert _reachable_leaves(d) == {id(d)}
    assert _reachable_leaves([]) == set()


# ---------------------------------------------------------------- SyncBatchNorm

@pytest.mark.parametrize("shape, plain", [((3, 4), BatchNorm1d), ((3, 2, 2, 2), BatchNorm2d),
                                          ((2, 2, 3), BatchNorm1d)])
def test_sync_batchnorm_is_batchnorm_over_the_global_batch(group, shape, plain):
    mg.manual_seed(1)
    C = shape[1]
    x = mg.randn(*shape, dtype=mg.float64) * 3 + 1
    sync, ref = SyncBatchNorm(C).double(), plain(C).double()
    with mg.no_grad():
        sync.weight.data[...] = np.arange(1.0, C + 1)
        sync.bias.data[...] = -np.arange(C) * 0.5
    ref.load_state_dict(sync.state_dict())
    xs = x.detach().requires_grad_()
    xr = mg.cat([x, x]).detach().requires_grad_()
    y = sync(xs)
    yr = ref(xr)
    N = shape[0]
    np.testing.assert_allclose(y.numpy(), yr.numpy()[:N], rtol=1e-12, atol=1e-12)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(sync, name).numpy(), getattr(ref, name).numpy(),
                                   rtol=1e-12)
    y2 = sync(xs)                          # a second step: the running averages keep going
    ref(xr)
    np.testing.assert_allclose(sync.running_var.numpy(), ref.running_var.numpy(), rtol=1e-12)
    np.testing.assert_allclose(sync.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-12)
    # gradients: the input's is that of the global loss (the backward sums over ranks); the
    # weight's is this rank's share, half of the global one (DDP averages it afterwards)
    v = mg.randn(*shape, dtype=mg.float64)
    (y2 * v).sum().backward()
    (yr * mg.cat([v, v])).sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xr.grad.numpy()[:N], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sync.weight.grad.numpy() * 2, ref.weight.grad.numpy(),
                               rtol=1e-9)
    np.testing.assert_allclose(sync.bias.grad.numpy() * 2, ref.bias.grad.numpy(), rtol=1e-9)


def test_sync_batchnorm_momentum_none_is_a_cumulative_average(group):
    mg.manual_seed(2)
    sync = SyncBatchNorm(2, momentum=None, affine=False).double()
    ref = BatchNorm1d(2, momentum=None, affine=False).double()
    for _ in range(3):
        x = mg.randn(3, 2, dtype=mg.float64)
        sync(x)
        ref(mg.cat([x, x]))
    np.testing.assert_allclose(sync.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(sync.running_var.numpy(), ref.running_var.numpy(), rtol=1e-12)
    assert sync.running_var.dtype == mg.float64


def test_sync_batchnorm_float32_running_stats_stay_float32(group):
    sync = SyncBatchNorm(2)
    sync(mg.randn(4, 2))
    assert sync.running_mean.dtype == mg.float32 and sync.running_var.dtype == mg.float32


def test_sync_batchnorm_without_running_stats_or_affine(group):
    mg.manual_seed(3)
    x = mg.randn(4, 3, dtype=mg.float64)
    sync = SyncBatchNorm(3, affine=False, track_running_stats=False).double()
    xn = x.numpy()
    expected = (xn - xn.mean(0)) / np.sqrt(xn.var(0) + 1e-5)
    np.testing.assert_allclose(sync(x).numpy(), expected, rtol=1e-12)
    only_bias = SyncBatchNorm(3, bias=False).double()
    assert only_bias.bias is None
    np.testing.assert_allclose(only_bias(x).numpy(), expected, rtol=1e-12)


def test_sync_batchnorm_errors(group):
    with pytest.raises(ValueError, match="SyncBatchNorm: only the default process group "
                                         "exists; pass process_group=None"):
        SyncBatchNorm(3, process_group="world")
    sync = SyncBatchNorm(3)
    with pytest.raises(ValueError, match=r"SyncBatchNorm: expected an input of shape "
                                         r"\(N, C, \.\.\.\), got \(3,\)"):
        sync(mg.ones(3))
    with pytest.raises(ValueError, match=r"SyncBatchNorm: expected an input of shape "
                                         r"\(N, C, \.\.\.\), got list"):
        sync([1.0, 2.0])
    with pytest.raises(ValueError, match="SyncBatchNorm: expected an input of shape"):
        sync(mg.ones(1, 3, 1, 1, 1, 1))
    with pytest.raises(ValueError):
        sync(mg.ones(2, 4))                   # wrong number of channels
    sync(mg.ones(1, 3, 1, 1, 1))              # 5-D is accepted; 2 values over both ranks


def test_sync_batchnorm_needs_two_values_per_channel_over_all_ranks(monkeypatch):
    class One(Mirror):
        world_size = 2

        def all_reduce(self, array, op):      # the other rank contributes nothing
            return Done()
    monkeypatch.setattr(process_group, "_group", One())
    with pytest.raises(ValueError, match="SyncBatchNorm: expected more than 1 value per "
                                         "channel over all ranks in training, got 1"):
        SyncBatchNorm(3)(mg.ones(1, 3))


def test_sync_batchnorm_in_eval_or_alone_is_batchnorm(group):
    mg.manual_seed(4)
    x = mg.randn(4, 3, dtype=mg.float64)
    sync, ref = SyncBatchNorm(3).double(), BatchNorm1d(3).double()
    sync.eval(), ref.eval()
    np.testing.assert_allclose(sync(x).numpy(), ref(x).numpy(), rtol=1e-12)
    assert group.calls == []


def test_convert_sync_batchnorm_copies_settings_and_mode():
    bn = BatchNorm1d(4, eps=1e-3, momentum=0.3, affine=False, track_running_stats=False)
    bn.eval()
    sync = SyncBatchNorm.convert_sync_batchnorm(bn)
    assert isinstance(sync, SyncBatchNorm)
    assert (sync.num_features, sync.eps, sync.momentum, sync.affine,
            sync.track_running_stats, sync.training) == (4, 1e-3, 0.3, False, False, False)
    net = Sequential(Linear(2, 4), BatchNorm2d(4))
    net[1].running_mean.data[...] = 7.0
    converted = SyncBatchNorm.convert_sync_batchnorm(net)
    assert converted is net and isinstance(net[1], SyncBatchNorm)
    assert net[1].training is True
    np.testing.assert_array_equal(net[1].running_mean.numpy(), [7.0] * 4)
    assert net[0].__class__ is Linear


# ---------------------------------------------------------------- spectral_norm

def test_normalize_divides_by_the_norm_with_a_floor():
    np.testing.assert_allclose(_normalize(mg.tensor([3.0, 4.0]), 1e-12).numpy(), [0.6, 0.8])
    np.testing.assert_allclose(_normalize(mg.tensor([3e-3, 4e-3]), 0.1).numpy(),
                               [0.03, 0.04])
    np.testing.assert_allclose(_normalize(mg.tensor([3.0, 4.0]), 5.0).numpy(), [0.6, 0.8])


def test_reshape_weight_to_matrix_moves_dim_first():
    w = mg.tensor(np.arange(24.0).reshape(2, 3, 4))
    for dim in range(3):
        fn = SpectralNorm("weight", 1, dim, 1e-12)
        expected = np.moveaxis(w.numpy(), dim, 0).reshape(w.shape[dim], -1)
        np.testing.assert_array_equal(fn.reshape_weight_to_matrix(w).numpy(), expected)
    fn = SpectralNorm("w", 3, 1, 1e-5)
    assert (fn.name, fn.n_power_iterations, fn.dim, fn.eps) == ("w", 3, 1, 1e-5)


def test_spectral_norm_buffers_are_unit_vectors_and_dim_is_wrapped():
    mg.manual_seed(5)
    layer = spectral_norm(Conv2d(2, 3, 3).double(), dim=-3)
    hook = [h for h in layer._forward_pre_hooks.values() if isinstance(h, SpectralNorm)][0]
    assert hook.dim == 1
    assert layer.weight_u.shape == (2,) and layer.weight_v.shape == (27,)
    np.testing.assert_allclose(np.linalg.norm(layer.weight_u.numpy()), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(layer.weight_v.numpy()), 1.0, rtol=1e-12)
    assert layer.weight_u.dtype == mg.float64
    assert not layer.weight.requires_grad
    np.testing.assert_array_equal(layer.weight.numpy(), layer.weight_orig.numpy())
    with pytest.raises(ValueError, match=r"spectral_norm: dim must be in \[-4, 4\) for weight "
                                         r"of shape \(3, 2, 3, 3\), got 4"):
        spectral_norm(Conv2d(2, 3, 3), dim=4)
    with pytest.raises(ValueError, match=r"dim must be in \[-4, 4\)"):
        spectral_norm(Conv2d(2, 3, 3), dim=-5)
    spectral_norm(Conv2d(2, 3, 3), dim=-4)


def test_spectral_norm_messages():
    layer = spectral_norm(Linear(2, 3))
    with pytest.raises(RuntimeError, match=r"^spectral_norm: Linear.weight is already "
                                           r"spectrally normalised$"):
        spectral_norm(layer)
    with pytest.raises(ValueError, match=r"^spectral_norm: Linear has no parameter 'w' \(its "
                                         r"parameters: \['bias', 'weight'\]\)$"):
        spectral_norm(Linear(2, 3), name="w")
    with pytest.raises(ValueError, match=r"its parameters: \['weight'\]"):
        spectral_norm(Linear(2, 3, bias=False), name="bias")
    with pytest.raises(TypeError, match=r"^spectral_norm: module must be a Module, got int$"):
        spectral_norm(3)
    with pytest.raises(ValueError, match=r"^remove_spectral_norm: spectral_norm of 'weight' "
                                         r"not found in Linear$"):
        remove_spectral_norm(Linear(2, 3))
    spectral_norm(Linear(2, 3), n_power_iterations=0)
    with pytest.raises(ValueError):
        spectral_norm(Linear(2, 3), n_power_iterations=-1)
    with pytest.raises(ValueError):
        spectral_norm(Linear(2, 3), eps=0)


def test_two_names_on_one_module_are_separate():
    mg.manual_seed(6)
    layer = Linear(3, 4).double()
    spectral_norm(layer)
    spectral_norm(layer, name="bias")
    layer(mg.randn(2, 3, dtype=mg.float64))
    remove_spectral_norm(layer, "bias")
    assert "bias_orig" not in dict(layer.named_parameters())
    assert "weight_orig" in dict(layer.named_parameters())
    remove_spectral_norm(layer)
    assert sorted(n for n, _ in layer.named_parameters()) == ["bias", "weight"]


def test_power_iteration_runs_n_steps_from_the_stored_vectors():
    mg.manual_seed(7)
    layer = spectral_norm(Linear(3, 4).double(), n_power_iterations=2)
    W = layer.weight_orig.numpy().copy()
    u, v = layer.weight_u.numpy().copy(), layer.weight_v.numpy().copy()
    for _ in range(2):
        v = W.T @ u
        v /= np.linalg.norm(v)
        u = W @ v
        u /= np.linalg.norm(u)
    layer(mg.randn(2, 3, dtype=mg.float64))
    np.testing.assert_allclose(layer.weight_u.numpy(), u, rtol=1e-12)
    np.testing.assert_allclose(layer.weight_v.numpy(), v, rtol=1e-12)
    np.testing.assert_allclose(layer.weight.numpy(), W / (u @ W @ v), rtol=1e-12)
    assert not layer.weight_u.requires_grad and not layer.weight_v.requires_grad
    # remove: the weight with the current u and v, no further iteration
    remove_spectral_norm(layer)
    np.testing.assert_allclose(layer.weight.numpy(), W / (u @ W @ v), rtol=1e-12)
    assert layer.weight.requires_grad and not hasattr(layer, "weight_u")
    assert len(layer._forward_pre_hooks) == 0


# ---------------------------------------------------------------- two ranks in two threads

class ThreadPair:
    """A group of two ranks, each a thread of this process: a collective waits for both, then
    each rank takes the sum, the average or rank ``src``'s array."""
    name, world_size = "threads", 2

    def __init__(self):
        self.local = threading.local()
        self.slots = [None, None]
        self.barrier = threading.Barrier(2, timeout=20)

    @property
    def rank(self):
        return self.local.rank

    def _exchange(self, array):
        self.slots[self.rank] = array.copy()
        self.barrier.wait()
        both = list(self.slots)
        self.barrier.wait()
        return both

    def broadcast(self, array, src):
        array[...] = self._exchange(array)[src]
        return Done()

    def all_reduce(self, array, op):
        a, b = self._exchange(array)
        array[...] = a + b if op == "sum" else (a + b) / 2
        return Done()


def on_two_ranks(monkeypatch, work):
    """Run ``work(rank)`` in two threads sharing a ThreadPair; their results, by rank."""
    pair = ThreadPair()
    monkeypatch.setattr(process_group, "_group", pair)
    results, errors = [None, None], []

    def run(rank):
        pair.local.rank = rank
        try:
            results[rank] = work(rank)
        except BaseException as error:          # reported below, in the test's thread
            errors.append(error)
            pair.barrier.abort()
    threads = [threading.Thread(target=run, args=(r,)) for r in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results


def test_two_ranks_average_gradients_over_the_global_batch(monkeypatch):
    mg.manual_seed(0)
    x = mg.randn(6, 3, dtype=mg.float64)
    target = mg.randn(6, 2, dtype=mg.float64)
    net0 = Sequential(Linear(3, 4), ReLU(), Linear(4, 2)).double()
    states = [net0.state_dict(), Sequential(Linear(3, 4), ReLU(), Linear(4, 2)).double()
              .state_dict()]

    def work(rank):
        net = Sequential(Linear(3, 4), ReLU(), Linear(4, 2)).double()
        net.load_state_dict(states[rank])         # rank 1 starts different: broadcast fixes it
        ddp = DistributedDataParallel(net, bucket_cap_mb=0.0001)
        part = slice(3 * rank, 3 * rank + 3)
        F.mse_loss(ddp(x[part]), target[part]).backward()
        return [p.grad.numpy() for p in net.parameters()]
    grads = on_two_ranks(monkeypatch, work)
    F.mse_loss(net0(x), target).backward()
    for g0, g1, p in zip(*grads, net0.parameters()):
        np.testing.assert_array_equal(g0, g1)
        np.testing.assert_allclose(g0, p.grad.numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("used_on_rank1", [True, False])
def test_a_parameter_used_on_one_rank_only(monkeypatch, used_on_rank1):
    """find_unused_parameters: a parameter that only rank 1 uses gets the average of rank 1's
    gradient and rank 0's zero on both ranks; one that no rank uses keeps no gradient."""
    class Switch(Module):
        def __init__(self, use_b):
            super().__init__()
            self.a, self.b = Linear(2, 1).double(), Linear(2, 1).double()
            self.use_b = use_b

        def forward(self, x):
            return self.a(x) + (self.b(x) if self.use_b else 0)

    x = mg.tensor([[1.0, 2.0], [3.0, -1.0]], dtype=mg.float64)

    def work(rank):
        net = Switch(use_b=used_on_rank1 and rank == 1)
        ddp = DistributedDataParallel(net, bucket_cap_mb=0, find_unused_parameters=True)
        ddp(x).sum().backward()
        return net.a.weight.grad.numpy(), net.b.weight.grad, net.b.bias.grad
    (a0, bw0, bb0), (a1, bw1, bb1) = on_two_ranks(monkeypatch, work)
    np.testing.assert_array_equal(a0, [[4.0, 1.0]])
    np.testing.assert_array_equal(a1, [[4.0, 1.0]])
    if used_on_rank1:
        for bw, bb in ((bw0, bb0), (bw1, bb1)):
            np.testing.assert_array_equal(bw.numpy(), [[2.0, 0.5]])
            np.testing.assert_array_equal(bb.numpy(), [1.0])
    else:
        assert bw0 is None and bw1 is None and bb0 is None and bb1 is None


def test_sync_batchnorm_on_two_ranks_is_batchnorm_on_both_batches(monkeypatch):
    mg.manual_seed(8)
    x = mg.randn(5, 3, 2, dtype=mg.float64) * 2 + 1
    v = mg.randn(5, 3, 2, dtype=mg.float64)

    def work(rank):
        bn = SyncBatchNorm(3).double()
        part = slice(0, 2) if rank == 0 else slice(2, 5)     # 2 and 3 samples
        xr = x[part].detach().requires_grad_()
        y = bn(xr)
        (y * v[part]).sum().backward()
        return y.numpy(), xr.grad.numpy(), bn.running_var.numpy(), bn.running_mean.numpy()
    (y0, g0, rv0, rm0), (y1, g1, rv1, rm1) = on_two_ranks(monkeypatch, work)
    ref = BatchNorm1d(3).double()
    xr = x.detach().requires_grad_()
    y = ref(xr)
    (y * v).sum().backward()
    np.testing.assert_allclose(np.concatenate([y0, y1]), y.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([g0, g1]), xr.grad.numpy(), rtol=1e-10,
                               atol=1e-12)
    for rv, rm in ((rv0, rm0), (rv1, rm1)):
        np.testing.assert_allclose(rv, ref.running_var.numpy(), rtol=1e-12)
        np.testing.assert_allclose(rm, ref.running_mean.numpy(), rtol=1e-12)


def test_buckets_never_mix_dtypes_and_frozen_parameters_stay_out(group):
    from layers.parallel import _make_buckets
    net = Sequential(Linear(2, 3), Linear(3, 1).double())
    params = list(net.parameters())[::-1]
    buckets = _make_buckets(params, 2 ** 30)
    assert [[p.dtype for p in b.params] for b in buckets] == [[mg.float64] * 2,
                                                              [mg.float32] * 2]
    assert [b.flat.dtype for b in buckets] == [mg.float64, mg.float32]
    assert [b.offsets for b in buckets] == [[0, 1, 4], [0, 3, 9]]
    np.testing.assert_array_equal(buckets[0].view(1), np.zeros((1, 3)))
    buckets[1].flat[...] = np.arange(9)
    np.testing.assert_array_equal(buckets[1].view(1), [[3, 4], [5, 6], [7, 8]])
    assert _make_buckets([], 100) == []
    net[0].bias.requires_grad_(False)
    ddp = DistributedDataParallel(net)
    assert [n for n in ddp._names.values()] == ["0.weight", "1.weight", "1.bias"]
    ddp(mg.ones(2, 2)).sum().backward()
    assert net[0].bias.grad is None and net[0].weight.grad is not None
    assert net[1].weight.grad.dtype == mg.float64


def test_convert_sync_batchnorm_passes_the_process_group_on():
    for module in (BatchNorm1d(3), Sequential(Linear(2, 3), Sequential(BatchNorm2d(3)))):
        with pytest.raises(ValueError, match="SyncBatchNorm: only the default process group "
                                             "exists"):
            SyncBatchNorm.convert_sync_batchnorm(module, process_group="world")


def test_sync_batchnorm_float32_statistics_from_float64_input_round_once_per_step(group):
    """Each running update adds m·batch rounded to the statistics' dtype (float32), as
    BatchNorm does: running = running·(1 − m) + float32(m·batch)."""
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 16)) * 3 + 1
    sync = SyncBatchNorm(16, affine=False)
    sync(mg.tensor(x))
    n = 6.0
    mean = (x.sum(0) * 2) / n
    centred = x - mean
    var = ((centred * centred).sum(0) * 2) / n
    expected_mean = np.zeros(16, np.float32)
    expected_mean *= 1 - 0.1
    expected_mean += (0.1 * mean).astype(np.float32)
    expected_var = np.ones(16, np.float32)
    expected_var *= 1 - 0.1
    expected_var += (0.1 * (var * n / (n - 1))).astype(np.float32)
    np.testing.assert_array_equal(sync.running_mean.numpy(), expected_mean)
    np.testing.assert_array_equal(sync.running_var.numpy(), expected_var)
    assert sync.running_var.dtype == mg.float32


def test_reachable_leaves_visits_a_shared_node_once():
    """A chain of 60 nodes that each use the previous one twice: walking every path would take
    2**60 steps."""
    a = mg.tensor([1.0], requires_grad=True)
    y = a
    for _ in range(60):
        y = y * y
    assert _reachable_leaves(y) == {id(a)}


def test_spectral_norm_defaults():
    from layers import ConvTranspose2d
    layer = spectral_norm(Linear(2, 3))
    (hook,) = [h for h in layer._forward_pre_hooks.values() if isinstance(h, SpectralNorm)]
    assert (hook.name, hook.n_power_iterations, hook.eps, hook.dim) == ("weight", 1, 1e-12, 0)
    up = spectral_norm(ConvTranspose2d(4, 2, 3))
    (hook,) = [h for h in up._forward_pre_hooks.values() if isinstance(h, SpectralNorm)]
    assert hook.dim == 1 and up.weight_u.shape == (2,) and up.weight_v.shape == (36,)
    assert remove_spectral_norm(up) is up and remove_spectral_norm(layer) is layer


def test_an_earlier_gradient_on_one_rank_is_averaged_onto_both(monkeypatch):
    """b is unused on both ranks, but rank 0 holds a gradient from an earlier backward: both
    ranks end with the average of it and rank 1's nothing (zero), so they stay equal."""
    x = mg.tensor([[1.0, 2.0]], dtype=mg.float64)

    def work(rank):
        net = TwoHeads()
        ddp = DistributedDataParallel(net, bucket_cap_mb=0, find_unused_parameters=True)
        if rank == 0:
            net.b.weight.grad = mg.tensor([[2.0, 4.0]], dtype=mg.float64)
        ddp(x).sum().backward()
        return net.b.weight.grad, net.b.bias.grad
    (w0, b0), (w1, b1) = on_two_ranks(monkeypatch, work)
    np.testing.assert_array_equal(w0.numpy(), [[1.0, 2.0]])
    np.testing.assert_array_equal(w1.numpy(), [[1.0, 2.0]])
    assert b0 is None and b1 is None
