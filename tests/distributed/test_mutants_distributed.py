"""minigrad.distributed in this process: a single-process MPI group (world size 1, no mpiexec),
stand-ins for the group, the MPI request and the clock, and the pure helpers of the process
group and the backends. Exact values and the exact wording of every error; the 2-rank runs
under mpiexec are in the other files of this folder."""
import datetime
import re
import sys
import types

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributed as dist
from minigrad.distributed import backend_mpi, backend_nccl, nn, process_group, rank0
from minigrad.distributed.errors import DistributedTimeoutError


def exactly(message):
    """A pattern matching ``message`` and nothing around it."""
    return "^" + re.escape(message) + "$"


NOT_INITIALISED = ("{}: the default process group is not initialised; call "
                   "minigrad.distributed.init_process_group() first")


@pytest.fixture
def group():
    """A real MPI group of one rank, destroyed afterwards."""
    pytest.importorskip("mpi4py", reason="the MPI backend needs mpi4py")
    hook = sys.excepthook
    dist.init_process_group("mpi")
    yield process_group._group
    if dist.is_initialized():
        dist.destroy_process_group()
    assert sys.excepthook is hook


class Done:
    def __init__(self):
        self.waited = 0

    def wait(self, timeout=None):
        self.waited += 1
        return True


class FakeGroup:
    """A group of ``world_size`` ranks in which every rank holds this rank's values."""
    name = "fake"

    def __init__(self, rank=0, world_size=2):
        self.rank, self.world_size = rank, world_size
        self.calls, self.aborted, self.closed = [], [], 0

    def all_reduce(self, array, op):
        self.calls.append(("all_reduce", op))
        array *= self.world_size
        return Done()

    def barrier(self):
        self.calls.append(("barrier",))
        return Done()

    def abort(self, code=1):
        self.aborted.append(code)

    def close(self):
        self.closed += 1


@pytest.fixture
def fake(monkeypatch):
    g = FakeGroup()
    monkeypatch.setattr(process_group, "_group", g)
    return g


# ---------------------------------------------------------------- process group: setup

def test_single_process_group_values(group):
    assert isinstance(group, backend_mpi.MPIBackend)
    assert (dist.is_initialized(), dist.get_backend(), dist.get_rank(),
            dist.get_world_size()) == (True, "mpi", 0, 1)
    assert group.timeout == 1800.0                  # PyTorch's default, 30 minutes
    assert process_group.group_backend() is group
    assert dist.is_available() is True
    with pytest.raises(RuntimeError, match=exactly(
            "init_process_group: the default process group is already initialised; call "
            "destroy_process_group() first")):
        dist.init_process_group("mpi")
    dist.destroy_process_group()
    assert (dist.is_initialized(), dist.get_rank(), dist.get_world_size()) == (False, 0, 1)
    with pytest.raises(RuntimeError, match=exactly(NOT_INITIALISED.format("get_backend"))):
        dist.get_backend()


def test_timeout_is_taken_in_seconds():
    pytest.importorskip("mpi4py", reason="the MPI backend needs mpi4py")
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=2.5))
    try:
        assert process_group._group.timeout == 2.5
    finally:
        dist.destroy_process_group()
    assert process_group._timeout_seconds(None) == 1800.0
    assert process_group._timeout_seconds(datetime.timedelta(microseconds=1)) == 1e-6
    for bad in (datetime.timedelta(0), datetime.timedelta(seconds=-1), 5):
        with pytest.raises(ValueError, match=exactly(
                "init_process_group: timeout must be a positive datetime.timedelta, got "
                f"{bad!r}")):
            process_group._timeout_seconds(bad)


def test_mpi_is_the_default_backend():
    pytest.importorskip("mpi4py", reason="the MPI backend needs mpi4py")
    dist.init_process_group()
    try:
        assert dist.get_backend() == "mpi"
    finally:
        dist.destroy_process_group()


def test_world_size_from_the_environment_is_checked(monkeypatch):
    pytest.importorskip("mpi4py", reason="the MPI backend needs mpi4py")
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(ValueError, match=exactly(
            "init_process_group: world_size=4 (argument or environment) but mpiexec started "
            "this process with world_size 1")):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_bad_backend_message():
    with pytest.raises(ValueError, match=exactly(
            "init_process_group: backend must be 'mpi' or 'nccl', got 'gloo'")):
        dist.init_process_group("gloo")
    assert not dist.is_initialized()


def test_rank_and_world_size_must_agree_with_the_launcher(monkeypatch):
    pytest.importorskip("mpi4py", reason="the MPI backend needs mpi4py")
    closed = []
    real_close = backend_mpi.MPIBackend.close
    monkeypatch.setattr(backend_mpi.MPIBackend, "close",
                        lambda self: (closed.append(True), real_close(self)))
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(ValueError, match=exactly(
            "init_process_group: world_size=2 (argument or environment) but mpiexec started "
            "this process with world_size 1")):
        dist.init_process_group("mpi", world_size=2)
    with pytest.raises(ValueError, match=exactly(
            "init_process_group: rank=1 (argument or environment) but mpiexec started this "
            "process with rank 0")):
        dist.init_process_group("mpi", rank=1)
    assert closed == [True, True] and not dist.is_initialized()
    monkeypatch.setenv("RANK", "3")
    with pytest.raises(ValueError, match="rank=3 "):
        dist.init_process_group("mpi")
    # the values that agree are accepted, from arguments or from the environment
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    dist.init_process_group("mpi")
    dist.destroy_process_group()
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    dist.init_process_group("mpi", world_size=1, rank=0)
    dist.destroy_process_group()
    assert closed == [True] * 5


def test_values_from_the_environment(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert process_group._from_env("WORLD_SIZE", -1) == -1
    assert process_group._from_env("WORLD_SIZE", 3) == 3
    monkeypatch.setenv("WORLD_SIZE", "")
    assert process_group._from_env("WORLD_SIZE", -1) == -1
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert process_group._from_env("WORLD_SIZE", -1) == 4
    assert process_group._from_env("WORLD_SIZE", 2) == 2        # an argument wins
    monkeypatch.setenv("WORLD_SIZE", "four")
    with pytest.raises(ValueError, match=exactly(
            "init_process_group: environment variable WORLD_SIZE must be an int, got 'four'")
    ) as info:
        process_group._from_env("WORLD_SIZE", -1)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_nccl_rank_and_size(monkeypatch):
    for name in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert process_group._nccl_rank(-1, -1) == (1, 0)
    assert process_group._nccl_rank(3, 2) == (3, 2)
    assert process_group._nccl_rank(3, -1) == (3, 0)
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "5")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "4")
    assert process_group._nccl_rank(-1, -1) == (5, 4)
    monkeypatch.setenv("PMI_SIZE", "4")
    monkeypatch.setenv("PMI_RANK", "2")
    assert process_group._nccl_rank(-1, -1) == (4, 2)        # PMI first
    assert process_group._nccl_rank(2, 1) == (2, 1)          # given values win
    for size, rank in ((3, 3), (2, -2), (1, 1)):
        with pytest.raises(ValueError, match=exactly(
                f"init_process_group: rank {rank} is not in 0..{size - 1}")):
            process_group._nccl_rank(size, rank)


def test_nccl_without_cupy_message(monkeypatch):
    monkeypatch.setattr(backend_nccl.backend, "cupy", lambda: None)
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ImportError, match=exactly(
            "minigrad.distributed: the 'nccl' backend needs CuPy and a CUDA GPU "
            "(pip install -e \".[gpu]\"); use backend='mpi' on CPUs")):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match=exactly(
            "init_process_group: rank 2 is not in 0..1")):
        dist.init_process_group("nccl", world_size=2, rank=2)
    assert not dist.is_initialized()


def test_mpi_without_mpi4py_message(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_mpi4py(name, *args, **kwargs):
        if name == "mpi4py":
            raise ImportError("No module named 'mpi4py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mpi4py)
    with pytest.raises(ImportError, match=exactly(
            "minigrad.distributed: the 'mpi' backend needs mpi4py and an MPI library; "
            "pip install -e \".[dist]\" installs both (mpi4py, mpich)")) as info:
        backend_mpi.mpi()
    assert isinstance(info.value.__cause__, ImportError)


def test_several_ranks_install_the_abort_hook_and_destroy_restores_it(monkeypatch):
    pytest.importorskip("mpi4py", reason="the MPI backend needs mpi4py")
    hook = sys.excepthook
    monkeypatch.setattr(process_group, "_previous_excepthook", None)
    real_init = backend_mpi.MPIBackend.__init__

    def two_ranks(self, timeout):
        real_init(self, timeout)
        self.world_size = 2

    monkeypatch.setattr(backend_mpi.MPIBackend, "__init__", two_ranks)
    dist.init_process_group("mpi")
    try:
        assert sys.excepthook is process_group._abort_on_uncaught
        assert process_group._previous_excepthook is hook
    finally:
        dist.destroy_process_group()
    assert sys.excepthook is hook


def test_one_rank_keeps_the_excepthook(monkeypatch):
    pytest.importorskip("mpi4py", reason="the MPI backend needs mpi4py")
    monkeypatch.setattr(process_group, "_previous_excepthook", None)
    marker = lambda *args: None  # noqa: E731
    monkeypatch.setattr(sys, "excepthook", marker)
    dist.init_process_group("mpi")
    assert sys.excepthook is marker and process_group._previous_excepthook is None
    dist.destroy_process_group()
    assert sys.excepthook is marker


def test_abort_on_uncaught_prints_then_aborts(fake, monkeypatch, capsys):
    fake.rank = 1
    shown, slept = [], []
    monkeypatch.setattr(process_group, "_previous_excepthook",
                        lambda kind, value, tb: shown.append((kind, value, tb)))
    monkeypatch.setattr(process_group.time, "sleep", slept.append)
    error = KeyError("k")
    process_group._abort_on_uncaught(KeyError, error, None)
    assert capsys.readouterr().err == ("minigrad.distributed: rank 1 raised KeyError; aborting "
                                       "all ranks\n")
    assert shown == [(KeyError, error, None)]
    assert slept == [0.2] and fake.aborted == [1]
    # after destroy_process_group there is no group left to name or abort
    monkeypatch.setattr(process_group, "_group", None)
    process_group._abort_on_uncaught(KeyError, error, None)
    assert capsys.readouterr().err == ""
    assert len(shown) == 2 and slept == [0.2] and fake.aborted == [1]


def test_destroy_closes_the_group(fake):
    dist.destroy_process_group()
    assert fake.closed == 1 and not dist.is_initialized()
    with pytest.raises(RuntimeError, match=exactly(
            NOT_INITIALISED.format("destroy_process_group"))):
        dist.destroy_process_group()


def test_without_a_group_every_call_names_itself():
    assert not dist.is_initialized()
    calls = {"all_reduce": lambda: dist.all_reduce(mg.ones(1)),
             "broadcast": lambda: dist.broadcast(mg.ones(1), 0),
             "all_gather": lambda: dist.all_gather([mg.ones(1)], mg.ones(1)),
             "barrier": lambda: dist.barrier(),
             "DistributedDataParallel": process_group.group_backend}
    for what, call in calls.items():
        with pytest.raises(RuntimeError, match=exactly(NOT_INITIALISED.format(what))):
            call()


def test_rank_and_size_of_a_group(fake):
    fake.rank, fake.world_size = 3, 5
    assert (dist.get_rank(), dist.get_world_size(), dist.get_backend()) == (3, 5, "fake")
    assert not rank0.is_main_process()


# ---------------------------------------------------------------- collectives

def test_all_reduce_every_op_on_one_rank(group):
    values = np.array([[1.5, -2.0], [3.0, 0.25]])
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.PRODUCT,
               dist.ReduceOp.MIN, dist.ReduceOp.MAX):
        t = mg.tensor(values.copy())
        assert dist.all_reduce(t, op=op) is None
        np.testing.assert_array_equal(t.numpy(), values)
    assert (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.PRODUCT, dist.ReduceOp.MIN,
            dist.ReduceOp.MAX) == ("sum", "avg", "product", "min", "max")
    ints = mg.tensor(np.array([3, -4]))
    dist.all_reduce(ints)
    np.testing.assert_array_equal(ints.numpy(), [3, -4])


def test_all_reduce_average_divides_by_the_world_size(group):
    group.world_size = 4                    # the division, on one rank's sum
    t = mg.tensor(np.array([[2.0, 4.0], [6.0, 8.0]]))
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    np.testing.assert_array_equal(t.numpy(), [[0.5, 1.0], [1.5, 2.0]])
    t = mg.tensor(np.array([2.0, 4.0]))
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    np.testing.assert_array_equal(t.numpy(), [2.0, 4.0])
    # a transposed (not contiguous) tensor is reduced through a copy, then copied back
    base = np.array([[2.0, 4.0], [6.0, 8.0]])
    t = mg.tensor(base).T
    assert not t.data.flags.c_contiguous
    work = dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True)
    assert isinstance(work, backend_mpi.Work)
    assert work.wait() is True and work.is_completed()
    np.testing.assert_array_equal(t.numpy(), [[0.5, 1.5], [1.0, 2.0]])
    assert work.wait() is True                       # a second wait does not divide again
    np.testing.assert_array_equal(t.numpy(), [[0.5, 1.5], [1.0, 2.0]])


def test_host_copies_and_work_names(group):
    group.world_size = 2
    array = np.array([2.0, 6.0])
    assert backend_mpi._host(array) is array
    expanded = np.broadcast_to(array, (2, 2))           # read-only, not contiguous: a copy
    host = backend_mpi._host(expanded)
    assert host is not expanded and host.flags.writeable and host.flags.c_contiguous
    np.testing.assert_array_equal(host, [[2.0, 6.0], [2.0, 6.0]])
    work = group.all_reduce(np.array([2.0, 6.0]), "avg")
    assert work.name == "all_reduce(avg) of shape (2,)" and work.rank == 0
    assert work.timeout == 1800.0


def test_all_reduce_arguments(group):
    with pytest.raises(TypeError, match=exactly("all_reduce: expected a Tensor, got ndarray")):
        dist.all_reduce(np.ones(2))
    with pytest.raises(ValueError, match=exactly(
            "all_reduce: op must be one of ReduceOp.('sum', 'avg', 'product', 'min', 'max'), "
            "got 'mean'")):
        dist.all_reduce(mg.ones(2), op="mean")
    with pytest.raises(TypeError, match=exactly(
            "all_reduce: ReduceOp.AVG needs a floating tensor, got int64")):
        dist.all_reduce(mg.tensor(np.array([1, 2])), op=dist.ReduceOp.AVG)
    with pytest.raises(ValueError, match=exactly(
            "all_reduce: only the default process group exists; pass group=None")):
        dist.all_reduce(mg.ones(2), group="world")
    z = mg.tensor(np.array([1.0 + 2.0j]))
    dist.all_reduce(z, op=dist.ReduceOp.AVG)           # complex is floating
    np.testing.assert_array_equal(z.numpy(), [1.0 + 2.0j])


def test_broadcast_on_one_rank(group):
    t = mg.tensor(np.array([1.0, -3.0]))
    assert dist.broadcast(t, 0) is None
    np.testing.assert_array_equal(t.numpy(), [1.0, -3.0])
    t = mg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]])).T
    work = dist.broadcast(t, 0, async_op=True)
    assert work.name == "broadcast from rank 0 of shape (2, 2)"
    work.wait()
    np.testing.assert_array_equal(t.numpy(), [[1.0, 3.0], [2.0, 4.0]])
    for src in (1, -1, 0.0, "0"):
        with pytest.raises(ValueError, match=exactly(
                f"broadcast: src must be a rank in 0..0, got {src!r}")):
            dist.broadcast(mg.ones(2), src)
    with pytest.raises(ValueError, match=exactly(
            "broadcast: only the default process group exists; pass group=None")):
        dist.broadcast(mg.ones(2), 0, group="world")
    with pytest.raises(TypeError, match=exactly("broadcast: expected a Tensor, got list")):
        dist.broadcast([1.0], 0)


def test_broadcast_src_range_with_several_ranks(fake):
    fake.world_size = 3
    with pytest.raises(ValueError, match=exactly(
            "broadcast: src must be a rank in 0..2, got 3")):
        dist.broadcast(mg.ones(2), 3)


def test_all_gather_on_one_rank(group):
    out = [mg.zeros(2, 2)]
    source = mg.tensor([[1.0, 2.0], [3.0, 4.0]])             # float32
    assert dist.all_gather(out, source) is None
    np.testing.assert_array_equal(out[0].numpy(), source.numpy())
    out = (mg.zeros(2, 2),)
    work = dist.all_gather(out, source.T, async_op=True)
    assert work.name == "all_gather of shape (2, 2)"
    work.wait()
    np.testing.assert_array_equal(out[0].numpy(), [[1.0, 3.0], [2.0, 4.0]])


def test_all_gather_arguments(group):
    x = mg.ones(2)
    with pytest.raises(ValueError, match=exactly(
            "all_gather: tensor_list must be a list of 1 Tensors (the world size), got a list "
            "of length 2")):
        dist.all_gather([mg.ones(2), mg.ones(2)], x)
    with pytest.raises(ValueError, match=exactly(
            "all_gather: tensor_list must be a list of 1 Tensors (the world size), got a "
            "Tensor")):
        dist.all_gather(mg.ones(2), x)
    with pytest.raises(ValueError, match=exactly(
            "all_gather: tensor_list must be a list of 1 Tensors (the world size), got a "
            "tuple of length 0")):
        dist.all_gather((), x)
    with pytest.raises(ValueError, match=exactly(
            "all_gather: every output must have the input's shape (2,) and dtype float32, "
            "got (3,) float32")):
        dist.all_gather([mg.ones(3)], x)
    with pytest.raises(ValueError, match=exactly(
            "all_gather: every output must have the input's shape (2,) and dtype float32, "
            "got (2,) float64")):
        dist.all_gather([mg.ones(2, dtype=mg.float64)], x)
    with pytest.raises(TypeError, match=exactly("all_gather: expected a Tensor, got ndarray")):
        dist.all_gather([np.ones(2)], x)
    with pytest.raises(TypeError, match=exactly("all_gather: expected a Tensor, got float")):
        dist.all_gather([mg.ones(1)], 1.0)
    with pytest.raises(ValueError, match=exactly(
            "all_gather: only the default process group exists; pass group=None")):
        dist.all_gather([mg.ones(2)], x, group=0)


def test_all_gather_outputs_on_another_device(group, monkeypatch):
    x = mg.ones(2)
    out = mg.zeros(2)
    monkeypatch.setattr(process_group.backend, "is_cuda_array", lambda a: a is out.data)
    with pytest.raises(ValueError, match=exactly(
            "all_gather: the outputs must be on the input's device")):
        dist.all_gather([out], x)


def test_barrier(group):
    assert dist.barrier() is None
    work = dist.barrier(async_op=True)
    assert work.name == "barrier" and work.wait() is True
    with pytest.raises(ValueError, match=exactly(
            "barrier: only the default process group exists; pass group=None")):
        dist.barrier(group="world")


def test_describe():
    assert process_group._describe([1, 2]) == "a list of length 2"
    assert process_group._describe((1,)) == "a tuple of length 1"
    assert process_group._describe({1: 2}) == "a dict"


def test_mpi_backend_abort_and_close(group, monkeypatch):
    aborted = []
    world = types.SimpleNamespace(Abort=aborted.append)
    monkeypatch.setattr(group, "MPI", types.SimpleNamespace(COMM_WORLD=world))
    group.abort()
    group.abort(7)
    assert aborted == [1, 7]
    freed = []
    monkeypatch.setattr(group, "comm", types.SimpleNamespace(Free=lambda: freed.append(1)))
    group.close()
    assert freed == [1]
    monkeypatch.setattr(process_group, "_group", None)


# ---------------------------------------------------------------- Work and wait_for

class Request:
    """Completes at the ``after``-th Test (never when None)."""

    def __init__(self, after=None):
        self.after, self.tests = after, 0

    def Test(self):
        self.tests += 1
        return self.after is not None and self.tests >= self.after


class Clock:
    """A clock that moves only when slept on (or by ``tick`` per reading)."""

    def __init__(self, tick=0.0, sleep_moves=True):
        self.now, self.tick, self.sleeps = 100.0, tick, []
        self.sleep_moves = sleep_moves

    def monotonic(self):
        self.now += self.tick
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        if self.sleep_moves:
            self.now += seconds


def test_wait_for_polls_then_backs_off(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(backend_mpi, "time", clock)
    request = Request(after=60)
    backend_mpi.wait_for(request, "x", 0, 1.0)
    assert request.tests == 60
    # 50 quick tests, then pauses doubling (plus 1 µs) up to 20 µs
    assert clock.sleeps == pytest.approx([1e-6, 3e-6, 7e-6, 15e-6, 2e-5, 2e-5, 2e-5, 2e-5,
                                          2e-5], abs=1e-12)
    done = Request(after=1)
    backend_mpi.wait_for(done, "x", 0, 0.0)          # a completed request never times out
    assert done.tests == 1


def test_wait_for_raises_after_the_timeout(monkeypatch):
    clock = Clock(tick=0.25)
    monkeypatch.setattr(backend_mpi, "time", clock)
    request = Request()
    with pytest.raises(DistributedTimeoutError, match=exactly(
            "minigrad.distributed: all_reduce(sum) of shape (3,) on rank 2 did not complete "
            "within 1.5 s: another rank has probably died, raised, or is not calling the same "
            "collectives in the same order. The process group cannot be used any more; the "
            "job should be stopped (an uncaught error aborts all ranks).")):
        backend_mpi.wait_for(request, "all_reduce(sum) of shape (3,)", 2, 1.5)
    # the deadline is start + 1.5 (readings every 0.25): tests at 100.5 .. 101.75 pass it
    assert request.tests == 7
    assert issubclass(DistributedTimeoutError, RuntimeError)


def test_work_waits_once_and_finishes_once(monkeypatch):
    clock = Clock(tick=1.0)
    monkeypatch.setattr(backend_mpi, "time", clock)
    finished = []
    work = backend_mpi.Work(Request(after=3), "op", 10.0, 1, lambda: finished.append(1))
    assert (work.name, work.timeout, work.rank) == ("op", 10.0, 1)
    assert not work.is_completed()
    assert work.is_completed() is False
    assert work.wait() is True and finished == [1]
    assert work.is_completed() is True
    assert work.wait() is True and finished == [1]
    plain = backend_mpi.Work(Request(after=1), "op", 10.0, 0)
    assert plain.wait() is True and plain.is_completed()
    # the group's timeout by default, or the one given to wait
    slow = backend_mpi.Work(Request(), "slow", 2.0, 0)
    with pytest.raises(DistributedTimeoutError, match="within 2 s"):
        slow.wait()
    with pytest.raises(DistributedTimeoutError, match="within 0.5 s"):
        slow.wait(timeout=0.5)
    assert not slow._done


def test_is_completed_asks_the_request():
    request = Request(after=2)
    work = backend_mpi.Work(request, "op", 1.0, 0)
    assert work.is_completed() is False
    assert work.is_completed() is True and request.tests == 2


def test_copy_back():
    array = np.zeros(3)
    backend_mpi._copy_back(array, array)
    backend_mpi._copy_back(array, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(array, [1.0, 2.0, 3.0])
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    host = backend_mpi._host(fortran)
    assert host.flags.c_contiguous and host is not fortran
    np.testing.assert_array_equal(host, fortran)


# ---------------------------------------------------------------- all_reduce_sum

def test_all_reduce_sum_forward_and_backward(fake):
    x = mg.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    y = dist.all_reduce_sum(x)
    np.testing.assert_array_equal(y.numpy(), [2.0, -4.0, 6.0])      # two ranks holding x
    np.testing.assert_array_equal(x.numpy(), [1.0, -2.0, 3.0])      # x itself is unchanged
    (y * mg.tensor(np.array([1.0, 2.0, 3.0]))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])  # the sum of the ranks' grads
    assert fake.calls == [("all_reduce", "sum"), ("all_reduce", "sum")]
    assert isinstance(y.grad_fn, nn.AllReduceSum)


# ---------------------------------------------------------------- rank-0 helpers

def test_rank_zero_only_and_print0(fake, capsys):
    @rank0.rank_zero_only
    def twice(a, b=1):
        """Doc."""
        return 2 * a + b

    assert twice.__name__ == "twice" and twice.__doc__ == "Doc."
    fake.rank = 0
    assert rank0.is_main_process() is True
    assert twice(3, b=4) == 10
    rank0.print0("hello", 2, sep="-")
    assert capsys.readouterr().out == "hello-2\n"
    fake.rank = 1
    assert rank0.is_main_process() is False
    assert twice(3, b=4) is None
    rank0.print0("hello")
    assert capsys.readouterr().out == ""


def test_progress_bar_draws_on_rank_zero_only(fake):
    bar = rank0.progress_bar(range(3))
    assert bar.disable is False and list(bar) == [0, 1, 2]
    bar = rank0.progress_bar(range(3), disable=True)
    assert bar.disable is True
    bar = rank0.progress_bar(total=5, desc="x")
    assert bar.disable is False and bar.total == 5 and bar.desc == "x"
    fake.rank = 1
    bar = rank0.progress_bar(range(3))
    assert bar.disable is True and list(bar) == [0, 1, 2]


def test_unwrap_model():
    from layers import Linear
    net = Linear(2, 1)
    DistributedDataParallel = type("DistributedDataParallel", (), {})
    wrapper = DistributedDataParallel()
    wrapper.module = net
    assert rank0.unwrap_model(wrapper) is net
    other = types.SimpleNamespace(module=net)
    assert rank0.unwrap_model(other) is other              # only DDP is unwrapped
    empty = DistributedDataParallel()
    empty.module = None
    assert rank0.unwrap_model(empty) is empty
    assert rank0.unwrap_model(net) is net


def test_save_on_rank0(fake, tmp_path):
    from layers import Linear
    net = Linear(2, 1)
    DistributedDataParallel = type("DistributedDataParallel", (), {})
    wrapper = DistributedDataParallel()
    wrapper.module = net
    wrapper.state_dict = lambda: {"module.weight": net.weight}
    wrapper.parameters = net.parameters
    path = str(tmp_path / "a.npz")
    rank0.save_on_rank0(wrapper, path)
    assert sorted(mg.load(path)) == ["bias", "weight"]       # unwrapped
    np.testing.assert_array_equal(mg.load(path)["weight"].numpy(), net.weight.numpy())
    assert fake.calls == [("barrier",)]
    # a plain dict is saved as it is; an object with state_dict but no parameters too
    rank0.save_on_rank0({"a": mg.ones(2)}, str(tmp_path / "b.npz"))
    assert sorted(mg.load(str(tmp_path / "b.npz"))) == ["a"]
    fake.rank = 1
    rank0.save_on_rank0({"a": mg.ones(2)}, str(tmp_path / "c.npz"))
    assert not (tmp_path / "c.npz").exists()
    assert fake.calls == [("barrier",)] * 3


def test_save_on_rank0_without_a_group(tmp_path, monkeypatch):
    monkeypatch.setattr(process_group, "_group", None)
    called = []
    monkeypatch.setattr(rank0, "barrier", lambda: called.append(1))
    state = types.SimpleNamespace(state_dict=lambda: {"w": mg.ones(1)})
    path = str(tmp_path / "d.npz")
    with pytest.raises(TypeError, match="obj is a SimpleNamespace"):
        rank0.save_on_rank0(state, path)     # no parameters: not a Module, saved as it is
    rank0.save_on_rank0({"w": mg.ones(1)}, path)
    assert sorted(mg.load(path)) == ["w"] and called == []


# ---------------------------------------------------------------- NCCL's pure parts
# The NCCL backend itself needs CuPy and a GPU; its Work and the sharing of the unique id are
# plain Python, checked here with stand-ins for the CUDA event and the nccl module.

class Event:
    def __init__(self, after=None):
        self.after, self.polls = after, 0

    @property
    def done(self):
        self.polls += 1
        return self.after is not None and self.polls >= self.after


class FakeNccl:
    def __init__(self):
        self.made = 0

    def get_unique_id(self):
        self.made += 1
        return (7, 8, self.made)


def nccl_group(timeout=5.0, rank=1):
    aborted = []
    comm = types.SimpleNamespace(abort=lambda: aborted.append(True))
    return types.SimpleNamespace(timeout=timeout, rank=rank, comm=comm), aborted


def test_nccl_work_waits_for_its_event(monkeypatch):
    clock = Clock(tick=1.0)
    monkeypatch.setattr(backend_nccl, "time", clock)
    group, aborted = nccl_group()
    finished = []
    work = backend_nccl.Work(group, Event(after=3), "barrier", lambda: finished.append(1))
    assert (work.backend, work.name) == (group, "barrier")
    assert work.is_completed() is False
    assert work.wait() is True and finished == [1]
    assert work.is_completed() is True and work.wait() is True and finished == [1]
    assert clock.sleeps == [1e-4] and aborted == []
    assert backend_nccl.Work(group, Event(after=1), "x").wait() is True
    assert backend_nccl.Work(group, Event(after=1), "x").is_completed() is True


def test_nccl_work_times_out_and_aborts(monkeypatch):
    clock = Clock(tick=1.0, sleep_moves=False)
    monkeypatch.setattr(backend_nccl, "time", clock)
    group, aborted = nccl_group(timeout=2.0, rank=3)
    work = backend_nccl.Work(group, Event(), "all_reduce(sum) of shape (2,)")
    with pytest.raises(DistributedTimeoutError, match=exactly(
            "minigrad.distributed: all_reduce(sum) of shape (2,) on rank 3 (nccl) did not "
            "complete within 2 s; the communicator was aborted")):
        work.wait()
    # deadline 101 + 2; the readings 102 and 103 are not past it, 104 is
    assert aborted == [True] and clock.sleeps == [1e-4, 1e-4]
    with pytest.raises(DistributedTimeoutError, match="within 0.5 s"):
        work.wait(timeout=0.5)
    assert not work.is_completed()


def test_nccl_id_for_one_rank_and_under_mpiexec(monkeypatch):
    module = FakeNccl()
    for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert backend_nccl._share_id(module, 0, 1, None, 1.0) == (7, 8, 1)
    assert backend_nccl._share_id(module, 0, 1, "file:///nowhere/x", 1.0) == (7, 8, 2)
    pytest.importorskip("mpi4py", reason="sharing the id over MPI needs mpi4py")
    for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        monkeypatch.setenv(name, "0")
        assert backend_nccl._share_id(module, 0, 2, None, 1.0) == (7, 8, module.made)
        monkeypatch.delenv(name)
    made = module.made
    monkeypatch.setenv("PMI_RANK", "0")
    # only rank 0 makes an id; here MPI's root is this process, which passes rank 1's None
    assert backend_nccl._share_id(module, 1, 2, None, 1.0) is None
    assert module.made == made


def test_nccl_id_through_a_file(monkeypatch, tmp_path):
    for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        monkeypatch.delenv(name, raising=False)
    module = FakeNccl()
    path = tmp_path / "id"
    assert backend_nccl._share_id(module, 0, 2, f"file://{path}", 1.0) == (7, 8, 1)
    assert path.read_text() == "[7, 8, 1]" and not (tmp_path / "id.tmp").exists()
    assert backend_nccl._share_id(module, 1, 2, f"file://{path}", 1.0) == (7, 8, 1)
    assert module.made == 1                          # rank 1 reads rank 0's id
    monkeypatch.setenv("PMI_RANK", "1")              # a file wins over mpiexec
    assert backend_nccl._share_id(module, 1, 2, f"file://{path}", 1.0) == (7, 8, 1)


def test_nccl_id_waits_for_rank_0_then_gives_up(monkeypatch, tmp_path):
    for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        monkeypatch.delenv(name, raising=False)
    clock = Clock(tick=0.5)
    path = tmp_path / "late"
    real_exists = backend_nccl.os.path.exists
    checks = []

    def exists(p):
        checks.append(p)
        if len(checks) == 3:
            path.write_text("[1, 2]")
        return real_exists(p)

    monkeypatch.setattr(backend_nccl, "time", clock)
    monkeypatch.setattr(backend_nccl.os.path, "exists", exists)
    assert backend_nccl._share_id(FakeNccl(), 2, 3, f"file://{path}", 10.0) == (1, 2)
    assert checks == [str(path)] * 3 and clock.sleeps == [0.01, 0.01]
    missing = tmp_path / "never"
    clock = Clock(tick=0.5, sleep_moves=False)
    monkeypatch.setattr(backend_nccl, "time", clock)
    with pytest.raises(DistributedTimeoutError, match=exactly(
            f"minigrad.distributed: rank 2 found no NCCL id at {missing} within 1.5 s")):
        backend_nccl._share_id(FakeNccl(), 2, 3, f"file://{missing}", 1.5)
    # deadline 100.5 + 1.5: the readings 101, 101.5 and 102 are not past it, 102.5 is
    assert clock.sleeps == [0.01] * 3


def test_nccl_id_needs_a_way_to_meet(monkeypatch):
    for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        monkeypatch.delenv(name, raising=False)
    for init_method in (None, "", "tcp://host:1234"):
        with pytest.raises(ValueError, match=exactly(
                "minigrad.distributed: the 'nccl' backend with several ranks needs mpiexec or "
                "init_method='file:///a/shared/path' to share its id, got "
                f"init_method={init_method!r}")):
            backend_nccl._share_id(FakeNccl(), 0, 2, init_method, 1.0)


def test_nccl_module_without_nccl(monkeypatch):
    fake_nccl = types.SimpleNamespace(available=False)
    fake_cuda = types.ModuleType("cupy.cuda")
    fake_cuda.nccl = fake_nccl
    fake_cupy = types.ModuleType("cupy")
    fake_cupy.cuda = fake_cuda
    monkeypatch.setattr(backend_nccl.backend, "cupy", lambda: fake_cupy)
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    monkeypatch.setitem(sys.modules, "cupy.cuda", fake_cuda)
    with pytest.raises(ImportError, match=exactly(
            "minigrad.distributed: this CuPy build has no NCCL (cupy.cuda.nccl.available is "
            "False)")):
        backend_nccl.nccl()
    fake_nccl.available = True
    assert backend_nccl.nccl() is fake_nccl
