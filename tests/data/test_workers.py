"""DataLoader with worker processes: the same batches as without, seeding, errors carried back,
and no child process left behind. Kept small: every test starts at most two workers."""
import os
import pickle
import time

import numpy as np
import pytest

from minigrad import backend
from minigrad.data import DataLoader, Dataset, TensorDataset, get_worker_info


class Squares(Dataset):
    """Sample i is (array [i, i*i], label i % 3); raises at ``bad`` and exits at ``fatal``."""

    def __init__(self, N, bad=None, fatal=None, slow=None):
        self.N, self.bad, self.fatal, self.slow = N, bad, fatal, slow

    def __getitem__(self, index):
        if index == self.bad:
            raise ValueError(f"sample {index} is corrupt")
        if index == self.fatal:
            os._exit(3)
        if self.slow and index in self.slow:
            time.sleep(self.slow[index])
        return (np.array([index, index * index], dtype=np.float64), index % 3)

    def __len__(self):
        return self.N


class Noisy(Dataset):
    """Each sample draws from NumPy's global generator and reports the worker's id and seed."""

    offset = 0

    def __getitem__(self, index):
        info = get_worker_info()
        return (np.random.random(), -1 if info is None else info.id,
                -1 if info is None else info.seed, index + self.offset, os.getpid())

    def __len__(self):
        return 12


def _as_lists(loader, epochs=1):
    return [[field.tolist() for field in batch] for _ in range(epochs) for batch in loader]


@pytest.mark.parametrize("make", [lambda: Squares(23),
                                  lambda: TensorDataset(np.arange(46.0).reshape(23, 2),
                                                        np.arange(23))])
def test_workers_give_the_batches_of_the_main_process(make, no_new_children):
    ds = make()
    for kwargs in (dict(shuffle=True, seed=4), dict(shuffle=False, drop_last=True)):
        main = _as_lists(DataLoader(ds, batch_size=3, **kwargs), epochs=2)
        workers = _as_lists(DataLoader(ds, batch_size=3, num_workers=2, **kwargs), epochs=2)
        assert main == workers and len(main) == 2 * (8 if not kwargs.get("drop_last") else 7)


def test_order_is_kept_when_later_batches_arrive_first(no_new_children):
    # Batch 0 (worker 0) is slow, so batches 1 and 3 (worker 1) come back before it.
    loader = DataLoader(Squares(8, slow={0: 0.3}), batch_size=2, num_workers=2)
    assert [b[0].numpy()[:, 0].tolist() for b in loader] == [[0, 1], [2, 3], [4, 5], [6, 7]]


def test_custom_collate_fn_and_pin_memory(no_new_children):
    def collate(samples):
        return {"sum": sum(float(x[0][1]) for x in samples), "n": len(samples)}
    loader = DataLoader(Squares(7), batch_size=3, num_workers=2, collate_fn=collate,
                        pin_memory=True)
    assert list(loader) == [{"sum": 5.0, "n": 3}, {"sum": 50.0, "n": 3}, {"sum": 36.0, "n": 1}]


def test_workers_are_seeded_from_the_base_seed(no_new_children):
    def without_pids(loader):
        return [batch[:4] for batch in _as_lists(loader)]
    loader = DataLoader(Noisy(), batch_size=3, num_workers=2, seed=11)
    first, second = without_pids(loader), without_pids(loader)
    assert first == without_pids(DataLoader(Noisy(), batch_size=3, num_workers=2, seed=11))
    assert first != second  # a new base seed every epoch
    for epoch in (first, second):
        ids = [b[1][0] for b in epoch]
        seeds = [b[2][0] for b in epoch]
        assert ids == [0, 1, 0, 1]
        base = seeds[0]
        assert seeds == [base, base + 1, base, base + 1] and 0 <= base < 2**32
        # Worker k's NumPy generator is seeded with base + k: its draws can be replayed here.
        for k in (0, 1):
            np.random.seed(base + k)
            draws = [x for b in epoch if b[1][0] == k for x in b[0]]
            assert draws == pytest.approx(np.random.random(len(draws)).tolist())
    assert get_worker_info() is None


def test_workers_leave_the_gpu_generator_alone(no_new_children, monkeypatch):
    """A worker forked from a process that started CUDA cannot use CUDA: seeding it must not
    touch CuPy's generator (the first run on a GPU machine failed every worker this way)."""
    class ForkedCuPy:
        class random:
            @staticmethod
            def seed(seed):
                raise RuntimeError("cudaErrorInitializationError: CUDA used in a forked child")
    monkeypatch.setattr(backend, "_cupy", ForkedCuPy)
    batches = _as_lists(DataLoader(Noisy(), batch_size=3, num_workers=2, seed=11))
    assert [b[1][0] for b in batches] == [0, 1, 0, 1]


def test_worker_init_fn_runs_in_each_worker(no_new_children):
    def init(worker_id):
        get_worker_info().dataset.offset = 100 * (worker_id + 1)
    batches = _as_lists(DataLoader(Noisy(), batch_size=6, num_workers=2, worker_init_fn=init))
    assert batches[0][3] == [100, 101, 102, 103, 104, 105]
    assert batches[1][3] == [206, 207, 208, 209, 210, 211]
    assert Noisy.offset == 0  # the main process's dataset is untouched


def test_persistent_workers_live_across_epochs(no_new_children):
    ds = Squares(10)
    loader = DataLoader(ds, batch_size=2, num_workers=2, shuffle=True, seed=1,
                        persistent_workers=True)
    main = _as_lists(DataLoader(ds, batch_size=2, shuffle=True, seed=1), epochs=3)
    for _ in loader:
        break  # an abandoned epoch: its late results must not leak into the next one
    mid = _as_lists(DataLoader(ds, batch_size=2, shuffle=True, seed=1), epochs=1)
    assert _as_lists(loader, epochs=2) == main[len(mid):]
    pids = {w.pid for w in loader._pool.workers}
    pid_loader = DataLoader(Noisy(), batch_size=6, num_workers=2, persistent_workers=True)
    pids_first = {p for b in pid_loader for p in b[4].tolist()}
    assert pids_first == {p for b in pid_loader for p in b[4].tolist()} and len(pids_first) == 2
    assert {w.pid for w in loader._pool.workers} == pids
    del loader, pid_loader


def test_new_workers_every_epoch_without_persistence(no_new_children):
    loader = DataLoader(Noisy(), batch_size=6, num_workers=2)
    first = {p for b in loader for p in b[4].tolist()}
    second = {p for b in loader for p in b[4].tolist()}
    assert len(first) == len(second) == 2 and first.isdisjoint(second)


def test_a_worker_exception_names_the_worker_batch_and_index(no_new_children):
    loader = DataLoader(Squares(20, bad=13), batch_size=4, num_workers=2)
    with pytest.raises(ValueError, match=r"worker 1 failed on batch 3, in dataset\[13\]") as info:
        list(loader)
    assert "sample 13 is corrupt" in str(info.value) and "Traceback" in str(info.value)


def test_errors_in_collate_fn_and_key_errors_are_named(no_new_children):
    def collate(samples):
        raise KeyError("no such field")
    with pytest.raises(KeyError) as info:
        list(DataLoader(Squares(4), batch_size=2, num_workers=1, collate_fn=collate))
    # A KeyError prints its message's repr; the report must still read as lines of text.
    text = str(info.value)
    assert text.startswith("DataLoader worker 0 failed on batch 0, in collate_fn on indices "
                           "[0, 1]:\n") and "no such field" in text


def test_a_break_stops_the_workers(no_new_children):
    for batch in DataLoader(Squares(40), batch_size=2, num_workers=2):
        break
    assert batch[0].shape == (2, 2)


def test_a_dead_worker_and_a_timeout_are_reported(no_new_children):
    with pytest.raises(RuntimeError, match="worker 0 .* exited unexpectedly with exit code 3"):
        list(DataLoader(Squares(8, fatal=1), batch_size=2, num_workers=2))
    with pytest.raises(RuntimeError, match="timed out after 0.2 s waiting for batch 1 from "
                                           "worker 1"):
        list(DataLoader(Squares(8, slow={2: 0.6}), batch_size=2, num_workers=2, timeout=0.2))


class Unpicklable(Exception):
    def __reduce__(self):
        raise pickle.PicklingError("not this one")


def test_failures_that_cannot_travel_are_still_reported(no_new_children):
    def bad_collate(samples):
        return lambda: samples  # a batch that cannot be pickled back to the main process
    with pytest.raises(Exception, match="worker 0 failed on batch 0, in pickling the batch"):
        list(DataLoader(Squares(4), batch_size=2, num_workers=1, collate_fn=bad_collate))

    def init(worker_id):
        class Local(Exception):
            pass
        raise Local("init broke")
    with pytest.raises(RuntimeError, match=r"in worker_init_fn\(0\)(.|\n)*init broke"):
        list(DataLoader(Squares(4), batch_size=2, num_workers=1, worker_init_fn=init))


def test_spawn_start_method(no_new_children):
    ds = TensorDataset(np.arange(12.0).reshape(6, 2), np.arange(6))
    loader = DataLoader(ds, batch_size=4, num_workers=1, multiprocessing_context="spawn")
    assert _as_lists(loader) == _as_lists(DataLoader(ds, batch_size=4))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(num_workers=-1), ValueError, "num_workers must be a non-negative int, got -1"),
    (dict(num_workers=1.5), ValueError, "num_workers must be a non-negative int"),
    (dict(timeout=-1), ValueError, "timeout must be a non-negative number, got -1"),
    (dict(prefetch_factor=2), ValueError, "prefetch_factor must be None without workers"),
    (dict(num_workers=1, prefetch_factor=0), ValueError, "positive int with them, got 0"),
    (dict(persistent_workers=True), ValueError, "persistent_workers=True needs num_workers > 0"),
    (dict(num_workers=1, multiprocessing_context="thread"), ValueError,
     "multiprocessing_context must be one of"),
    (dict(collate_fn=3), TypeError, "collate_fn must be callable, got a int"),
    (dict(worker_init_fn="f"), TypeError, "worker_init_fn must be callable"),
    (dict(sampler=[0, 1], shuffle=True), ValueError, "sampler excludes shuffle=True"),
    (dict(batch_sampler=[[0]], batch_size=2), ValueError, "batch_sampler excludes batch_size"),
    (dict(batch_sampler=[[0]], drop_last=True), ValueError, "batch_sampler excludes"),
    (dict(generator=3), TypeError, "generator must be a numpy.random.Generator"),
    (dict(generator=np.random.default_rng(), seed=1), ValueError, "not both"),
])
def test_bad_worker_and_sampler_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        DataLoader(Squares(3), **kwargs)


def test_pytorch_argument_order():
    # DataLoader(dataset, batch_size, shuffle, sampler, batch_sampler, num_workers, collate_fn,
    #            pin_memory, drop_last, ...), as a PyTorch call written positionally passes them.
    loader = DataLoader(Squares(7), 3, False, None, None, 0, None, False, True)
    assert loader.batch_size == 3 and loader.drop_last and len(loader) == 2


@pytest.mark.parametrize("drop_last", [False, True])
def test_batches_vs_torch(drop_last, no_new_children):
    torch = pytest.importorskip("torch")
    x, y = np.arange(26.0).reshape(13, 2), np.arange(13) % 3
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x),
                                                                        torch.tensor(y)),
                                         batch_size=4, drop_last=drop_last)
    for num_workers in (0, 2):
        ours = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=drop_last,
                          num_workers=num_workers)
        assert len(ours) == len(theirs)
        for (xa, ya), (xb, yb) in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(xa.numpy(), xb.numpy())
            np.testing.assert_array_equal(ya.numpy(), yb.numpy())
