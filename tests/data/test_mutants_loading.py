"""The loading path in one process: Fashion-MNIST's default folder, streams (IterableFetcher, ChainDataset), default_convert,
default_collate's number types and device, and the DataLoader's scheduling of worker tasks,
driven through an in-process stand-in for the worker pool that serves each task with the
workers' own ``_serve`` (real worker processes are tested in test_workers.py)."""
import collections
import copy
import gc
import os

import numpy as np
import pytest

from minigrad import backend
from minigrad.data import (ChainDataset, DataLoader, Dataset, IterableDataset, TensorDataset,
                           default_collate, default_convert, load_fashion_mnist, read_idx,
                           train_test_split, write_idx)
from minigrad.data import idx as idx_module
from minigrad.data import loader as loader_module
from minigrad.data.collate import Exhausted, Fetcher, IterableFetcher, make_fetcher, to_device
from minigrad.data.worker import END, _serve
from minigrad.tensor import Tensor


class Stream(IterableDataset):
    """Yields ``start, start + 1, ..., start + N - 1``; raises ValueError at item ``bad``."""

    def __init__(self, N, start=0, bad=None):
        self.N, self.start, self.bad = N, start, bad

    def __iter__(self):
        for j in range(self.N):
            if j == self.bad:
                raise ValueError(f"item {j} is corrupt")
            yield self.start + j


class SizedStream(Stream):
    def __len__(self):
        return self.N


class Relapsing:
    """An iterator that stops once, then (wrongly) yields again: ``1``, stop, ``2``, ..."""

    def __init__(self):
        self.calls = 0

    def __iter__(self):
        return self

    def __next__(self):
        self.calls += 1
        if self.calls == 2:
            raise StopIteration
        return self.calls


class RelapsingStream(IterableDataset):
    def __init__(self):
        self.iterator = Relapsing()

    def __iter__(self):
        return self.iterator


def as_lists(batches):
    return [b.numpy().tolist() if isinstance(b, Tensor) else b for b in batches]


# --- IterableFetcher ----------------------------------------------------------------------

def test_iterable_fetcher_batches_and_ends():
    fetch = IterableFetcher(Stream(7, start=10), None, True, False)
    assert fetch.collate_fn is default_collate and fetch.stage is None
    assert fetch.iterator is None and fetch.count == 0 and fetch.ended is False
    out = [fetch(3).numpy().tolist() for _ in range(3)]
    assert out == [[10, 11, 12], [13, 14, 15], [16]]
    assert fetch.count == 7 and fetch.ended is True
    assert fetch.stage == "collate_fn on items 6 to 6"
    with pytest.raises(Exhausted):
        fetch(3)
    fetch.reset()
    assert fetch.iterator is None and fetch.count == 0 and fetch.ended is False
    assert fetch(2).numpy().tolist() == [10, 11]
    assert fetch.stage == "collate_fn on items 0 to 1"


def test_iterable_fetcher_drop_last_and_empty_stream():
    fetch = IterableFetcher(Stream(5), None, True, True)
    assert fetch(2).numpy().tolist() == [0, 1] and fetch(2).numpy().tolist() == [2, 3]
    with pytest.raises(Exhausted):
        fetch(2)                       # one item left, fewer than B: no batch
    with pytest.raises(Exhausted):
        IterableFetcher(Stream(0), None, True, False)(4)


def test_iterable_fetcher_stays_exhausted():
    # Once the iterator has stopped, the fetcher answers Exhausted without asking it again.
    ds = RelapsingStream()
    fetch = IterableFetcher(ds, lambda items: list(items), True, False)
    assert fetch(4) == [1]
    for _ in range(2):
        with pytest.raises(Exhausted):
            fetch(4)
    assert ds.iterator.calls == 2


def test_iterable_fetcher_one_item_at_a_time():
    fetch = IterableFetcher(Stream(3, start=5), None, False, False)
    assert fetch.collate_fn is default_convert
    assert [fetch(None) for _ in range(3)] == [5, 6, 7]
    assert fetch.stage == "collate_fn on item 2"
    with pytest.raises(Exhausted):
        fetch(None)
    seen = []
    fetch = IterableFetcher(Stream(2, start=1), seen.append, False, True)
    fetch(None)
    assert seen == [1] and fetch.drop_last is True


def test_iterable_fetcher_names_the_failing_stage():
    fetch = IterableFetcher(Stream(9, bad=4), None, True, False)
    fetch(3)
    with pytest.raises(ValueError, match="item 4 is corrupt"):
        fetch(3)
    assert fetch.stage == "next(iter(dataset)) for item 4"

    class NoIter(IterableDataset):
        def __iter__(self):
            raise OSError("cannot open")

    fetch = IterableFetcher(NoIter(), None, True, False)
    with pytest.raises(OSError):
        fetch(2)
    assert fetch.stage == "iter(dataset)"

    def bad_collate(items):
        raise KeyError("x")

    fetch = IterableFetcher(Stream(9), bad_collate, True, False)
    with pytest.raises(KeyError):
        fetch(4)
    assert fetch.stage == "collate_fn on items 0 to 3"


def test_make_fetcher_picks_by_dataset_kind():
    stream = make_fetcher(Stream(4), None, True, True)
    assert type(stream) is IterableFetcher and stream.drop_last is True
    assert stream.auto_batch is True and stream.collate_fn is default_collate
    ds = TensorDataset(np.arange(4))
    plain = make_fetcher(ds, None, False, False)
    assert type(plain) is Fetcher and plain.collate_fn is default_convert
    assert plain.auto_batch is False and plain.fast is False
    assert make_fetcher(ds, None, True, False).fast is True


# --- ChainDataset and the stream loader ---------------------------------------------------

def test_chain_dataset_plays_its_parts_in_order():
    chain = ChainDataset(iter([Stream(2, start=10), Stream(3, start=20)]))
    assert len(chain.datasets) == 2
    assert list(chain) == [10, 11, 20, 21, 22] and list(chain) == [10, 11, 20, 21, 22]
    added = Stream(1, start=7) + Stream(2)
    assert type(added) is ChainDataset and list(added) == [7, 0, 1]
    assert len(ChainDataset([SizedStream(2), SizedStream(4), SizedStream(0)])) == 6
    assert len(ChainDataset([])) == 0 and list(ChainDataset([])) == []


def test_chain_dataset_errors_name_the_part():
    with pytest.raises(TypeError) as info:
        ChainDataset([Stream(1), SizedStream(1), [1, 2]])
    assert str(info.value) == "ChainDataset: dataset 2 is a list; expected an IterableDataset"
    chain = ChainDataset([SizedStream(1), SizedStream(2), Stream(3)])
    with pytest.raises(TypeError) as info:
        len(chain)
    assert str(info.value) == ("ChainDataset: len() needs the length of every dataset, and "
                               "dataset 2 of type Stream has no __len__")


def test_stream_loader_in_the_main_process():
    assert as_lists(DataLoader(Stream(7), batch_size=3)) == [[0, 1, 2], [3, 4, 5], [6]]
    loader = DataLoader(Stream(7), batch_size=3, drop_last=True)
    assert as_lists(loader) == [[0, 1, 2], [3, 4, 5]] and as_lists(loader) == [[0, 1, 2],
                                                                             [3, 4, 5]]
    assert list(DataLoader(Stream(3, start=4), batch_size=None)) == [4, 5, 6]
    assert loader.sampler is None and loader.batch_sampler is None


@pytest.mark.parametrize("kwargs, message", [
    (dict(shuffle=True), "DataLoader with an IterableDataset: shuffle must be left unspecified, "
                         "got shuffle=True; the dataset's own iterator fixes the order "
                         "(shuffle inside __iter__ instead)"),
    (dict(sampler=[0, 1]), "DataLoader with an IterableDataset: sampler must be left "
                           "unspecified, got sampler=[0, 1]; the dataset's own iterator fixes "
                           "the order (shuffle inside __iter__ instead)"),
    (dict(batch_sampler=[[0]]), "DataLoader with an IterableDataset: batch_sampler must be left "
                                "unspecified, got batch_sampler=[[0]]; the dataset's own "
                                "iterator fixes the order (shuffle inside __iter__ instead)"),
])
def test_stream_loader_refuses_orderings_word_for_word(kwargs, message):
    with pytest.raises(ValueError) as info:
        DataLoader(Stream(3), **kwargs)
    assert str(info.value) == message


def test_stream_loader_refuses_an_empty_sampler_but_not_shuffle_false():
    # A sampler counts as given whenever it is not None, even empty; shuffle=False is no option.
    with pytest.raises(ValueError, match="sampler must be left unspecified, got sampler=\\[\\]"):
        DataLoader(Stream(3), sampler=[])
    assert as_lists(DataLoader(Stream(3), shuffle=False, batch_size=2)) == [[0, 1], [2]]


# --- default_convert ----------------------------------------------------------------------

def test_default_convert_arrays_and_numbers():
    x = default_convert(np.arange(6, dtype=np.int16).reshape(2, 3))
    assert isinstance(x, Tensor) and x.dtype == np.int16 and x.numpy().tolist() == [[0, 1, 2],
                                                                                   [3, 4, 5]]
    s = default_convert(np.float32(2.5))
    assert isinstance(s, Tensor) and s.shape == () and s.dtype == np.float32 and s.item() == 2.5
    b = default_convert(np.bool_(True))
    assert isinstance(b, Tensor) and b.dtype == np.bool_ and b.item() is True
    for text in (np.array(["ab", "c"]), np.array([b"ab"]), np.array([{}, 1], dtype=object),
                 np.str_("word")):
        assert default_convert(text) is text
    assert default_convert(3) == 3 and default_convert("s") == "s"
    t = Tensor(np.ones(2))
    assert default_convert(t) is t


def test_default_convert_keeps_each_container():
    Pair = collections.namedtuple("Pair", "a b")
    out = default_convert({"p": Pair(np.int8(3), (np.zeros(2), 1)), "l": [np.ones(1), "w"]})
    assert isinstance(out, dict) and list(out) == ["p", "l"]
    assert type(out["p"]) is Pair and out["p"].a.dtype == np.int8 and out["p"].a.item() == 3
    assert type(out["p"].b) is tuple and out["p"].b[0].numpy().tolist() == [0.0, 0.0]
    assert out["p"].b[1] == 1
    assert type(out["l"]) is list and out["l"][0].numpy().tolist() == [1.0]
    assert out["l"][1] == "w"


def test_to_device_keeps_structure_and_tensors():
    Pair = collections.namedtuple("Pair", "a b")
    t = Tensor(np.arange(3.0))
    assert to_device(t, None) is t and to_device(t, "cpu") is t
    batch = {"p": Pair(t, [t, 4]), "s": "x"}
    out = to_device(batch, "cpu")
    assert type(out["p"]) is Pair and type(out["p"].b) is list
    assert out["p"].a is t and out["p"].b[0] is t and out["p"].b[1] == 4 and out["s"] == "x"


# --- default_collate ----------------------------------------------------------------------

def test_collate_python_ints_give_int64_whatever_the_numpy_mix():
    # PyTorch types a field by its first sample: a Python int gives int64 (torch.tensor).
    batch = default_collate([1, np.uint8(200)])
    assert batch.dtype == np.int64 and batch.numpy().tolist() == [1, 200]
    batch = default_collate([True, np.int8(-3)])
    assert batch.dtype == np.int64 and batch.numpy().tolist() == [1, -3]


def test_collate_numpy_scalars_keep_their_common_dtype():
    batch = default_collate([np.int8(1), np.uint8(255)])
    assert batch.dtype == np.int16 and batch.numpy().tolist() == [1, 255]
    batch = default_collate([np.float16(0.5), np.int8(2)])
    assert batch.dtype == np.float16 and batch.numpy().tolist() == [0.5, 2.0]


def test_collate_mixed_types_error_names_the_types():
    with pytest.raises(TypeError) as info:
        default_collate([1, "a", 2.0])
    assert str(info.value) == ("default_collate: a field mixes numbers with other types "
                               "['float', 'int', 'str']")


@pytest.mark.parametrize("samples", [
    [np.zeros(2, np.float32), np.ones(2, np.float32)],
    [Tensor(np.zeros(2)), Tensor(np.ones(2))],
    [1.5, 2.5],
    [{"k": np.zeros(1)}, {"k": np.ones(1)}],
    [(np.zeros(1),), (np.ones(1),)],
])
def test_collate_moves_every_kind_of_field_to_the_device(samples):
    def leaves(batch):
        if isinstance(batch, dict):
            return list(batch.values())
        return list(batch) if isinstance(batch, tuple) else [batch]

    if backend.cupy() is None:
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            default_collate(samples, device="cuda")
    else:
        assert all(leaf.device == "cuda:0" for leaf in leaves(default_collate(samples, "cuda")))
    assert all(leaf.device == "cpu" for leaf in leaves(default_collate(samples, "cpu")))


def test_collate_nested_fields_on_the_cpu():
    samples = [(np.zeros(2, np.float32), [1, {"k": 2.0}]), (np.ones(2, np.float32), [3, {"k": 4.0}])]
    x, (y, d) = default_collate(samples, device="cpu")
    assert x.device == y.device == d["k"].device == "cpu"
    assert y.numpy().tolist() == [1, 3] and d["k"].numpy().tolist() == [2.0, 4.0]


# --- the worker scheduling, with an in-process pool ---------------------------------------

class FakeWorker:
    def __init__(self):
        self.alive = True

    def is_alive(self):
        return self.alive


class InProcessPool:
    """``WorkerPool``'s interface served in this process by ``_serve``, as a worker would.

    Each worker has its own copy of the fetcher and answers its tasks in the order sent; the
    worker that answers next is the one whose oldest unanswered task is the latest of all, so
    results come back out of order whenever two workers are busy.
    """

    made = []

    def __init__(self, fetcher, worker_init_fn, num_workers, base_seed, context=None):
        assert isinstance(fetcher, (Fetcher, IterableFetcher)) and 1 <= num_workers <= 4
        self.args = (worker_init_fn, num_workers, base_seed, context)
        self.fetchers = [copy.deepcopy(fetcher) for _ in range(num_workers)]
        self.workers = [FakeWorker() for _ in range(num_workers)]
        self.queues = [collections.deque() for _ in range(num_workers)]
        self.seen_epoch = [None] * num_workers
        self.epoch = 0
        self.log = []
        self.shutdowns = 0
        InProcessPool.made.append(self)

    def send(self, n, task, k):
        self.log.append(("send", n, task, k))
        self.queues[k].append((self.epoch, n, task))

    def receive(self, n, k, timeout):
        self.log.append(("receive", n, k, timeout))
        busy = [j for j in range(len(self.queues)) if self.queues[j]]
        assert busy, "receive with no task outstanding"
        j = max(busy, key=lambda j: self.queues[j][0][1])
        epoch, m, task = self.queues[j].popleft()
        if self.seen_epoch[j] != epoch:
            self.seen_epoch[j] = epoch
            self.fetchers[j].reset()
        return (m, *_serve(self.fetchers[j], task, j))

    def shutdown(self):
        self.shutdowns += 1


@pytest.fixture
def pools(monkeypatch):
    InProcessPool.made = []
    monkeypatch.setattr(loader_module, "WorkerPool", InProcessPool)
    return InProcessPool.made


class Squares(Dataset):
    def __init__(self, N, bad=None):
        self.N, self.bad = N, bad

    def __getitem__(self, index):
        if index == self.bad:
            raise ValueError(f"sample {index} is corrupt")
        return (np.array([index, index * index]), index % 3)

    def __len__(self):
        return self.N


def sends(pool):
    return [entry[1:] for entry in pool.log if entry[0] == "send"]


def test_pool_tasks_are_sent_round_robin_with_prefetch(pools):
    loader = DataLoader(Squares(11), batch_size=2, num_workers=2, timeout=1.5)
    it = iter(loader)
    first = next(it)
    pool, = pools
    assert pool.args == (None, 2, pool.args[2], None)
    # Four tasks (2 per worker) before the first receive, then one more after each batch.
    assert pool.log[:5] == [("send", 0, [0, 1], 0), ("send", 1, [2, 3], 1),
                            ("send", 2, [4, 5], 0), ("send", 3, [6, 7], 1),
                            ("receive", 0, 0, 1.5)]
    assert first[0].numpy().tolist() == [[0, 0], [1, 1]] and first[1].numpy().tolist() == [0, 1]
    rest = list(it)
    assert [b[1].numpy().tolist() for b in rest] == [[2, 0], [1, 2], [0, 1], [2, 0], [1]]
    assert sends(pool) == [(0, [0, 1], 0), (1, [2, 3], 1), (2, [4, 5], 0), (3, [6, 7], 1),
                           (4, [8, 9], 0), (5, [10], 1)]
    receives = [entry[1:] for entry in pool.log if entry[0] == "receive"]
    assert all(k == n % 2 and timeout == 1.5 for n, k, timeout in receives)
    assert pool.shutdowns == 1


def test_pool_prefetch_factor_and_worker_init_fn(pools):
    def init(k):
        pass

    loader = DataLoader(Squares(9), batch_size=1, num_workers=3, prefetch_factor=1,
                        worker_init_fn=init, multiprocessing_context="spawn", seed=3)
    it = iter(loader)
    next(it)
    pool, = pools
    assert pool.args[0] is init and pool.args[1] == 3 and pool.args[3] == "spawn"
    assert pool.args[2] == int(np.random.default_rng(3).integers(0, 2**32))
    assert [e[0] for e in pool.log[:4]] == ["send", "send", "send", "receive"]
    assert [b[1].item() for b in it] == [1, 2, 0, 1, 2, 0, 1, 2]


def test_pool_results_that_arrive_early_wait_their_turn(pools):
    loader = DataLoader(Squares(8), batch_size=2, num_workers=2)
    got = [b[0].numpy()[:, 0].tolist() for b in loader]
    assert got == [[0, 1], [2, 3], [4, 5], [6, 7]]
    pool, = pools
    receives = [entry[1:3] for entry in pool.log if entry[0] == "receive"]
    # Batch 1 (worker 1) answers first, so batch 0 needs a second receive.
    assert receives[:2] == [(0, 0), (0, 0)]


def test_pool_stream_round_robin_until_each_worker_runs_out(pools):
    class PerWorker(IterableDataset):
        """Worker k's copy yields lengths[k] items 100 k + j (set by the pool's copies)."""

        def __init__(self, N, base):
            self.N, self.base = N, base

        def __iter__(self):
            return iter(range(self.base, self.base + self.N))

    loader = DataLoader(PerWorker(0, 0), batch_size=2, num_workers=2)
    real_init = InProcessPool.__init__

    def init(self, fetcher, *args):
        real_init(self, fetcher, *args)
        for k, (N, base) in enumerate([(5, 0), (2, 100)]):
            self.fetchers[k].dataset.N, self.fetchers[k].dataset.base = N, base

    InProcessPool.__init__ = init
    try:
        got = [b.numpy().tolist() for b in loader]
    finally:
        InProcessPool.__init__ = real_init
    assert got == [[0, 1], [100, 101], [2, 3], [4]]
    pool, = pools
    # Worker 1 answers END to task 3 and leaves the round: the tasks sent after that (7, 8
    # and 9, which would alternate) all go to worker 0, until its END to task 6 leaves none.
    owners = [0, 1, 0, 1, 0, 1, 0, 0, 0, 0]
    assert sends(pool) == [(n, 2, k) for n, k in enumerate(owners)]
    assert pool.shutdowns == 1


def test_pool_stream_without_items_ends_at_once(pools):
    assert list(DataLoader(Stream(0), batch_size=3, num_workers=2)) == []
    pool, = pools
    # Task 0's END takes worker 0 out, so task 4 goes to worker 1; task 1's END ends the round.
    assert sends(pool) == [(n, 3, k) for n, k in enumerate([0, 1, 0, 1, 1])]


def test_pool_stream_one_item_at_a_time(pools):
    assert list(DataLoader(Stream(2, start=4), batch_size=None, num_workers=1)) == [4, 5]


def test_pool_failure_names_the_worker_and_the_batch_given(pools):
    loader = DataLoader(Squares(8, bad=5), batch_size=2, num_workers=2)
    it = iter(loader)
    assert [next(it)[1].numpy().tolist() for _ in range(2)] == [[0, 1], [2, 0]]
    with pytest.raises(ValueError) as info:
        next(it)
    message = str(info.value)
    assert message.startswith("DataLoader worker 0 failed on batch 2, in dataset[5]:\n")
    assert "sample 5 is corrupt" in message
    assert pools[0].shutdowns == 1


def test_pool_failure_counts_only_the_batches_yielded(pools):
    class Ends(IterableDataset):
        def __init__(self):
            self.N, self.bad = 1, None

        def __iter__(self):
            for j in range(self.N):
                if j == self.bad:
                    raise ValueError("broken")
                yield j

    real_init = InProcessPool.__init__

    def init(self, fetcher, *args):
        real_init(self, fetcher, *args)
        self.fetchers[0].dataset.N = 1                  # worker 0: one item, then END
        self.fetchers[1].dataset.N, self.fetchers[1].dataset.bad = 5, 2

    InProcessPool.__init__ = init
    try:
        it = iter(DataLoader(Ends(), batch_size=1, num_workers=2))
        assert [next(it).numpy().tolist() for _ in range(3)] == [[0], [0], [1]]
        with pytest.raises(ValueError) as info:
            next(it)
    finally:
        InProcessPool.__init__ = real_init
    # Task 2 (worker 0's END) is not a batch: the failing one is the fourth batch yielded.
    assert str(info.value).startswith("DataLoader worker 1 failed on batch 3, in "
                                      "next(iter(dataset)) for item 2:\n")


def test_pool_persistent_workers_are_kept_and_replaced_when_dead(pools):
    loader = DataLoader(Squares(4), batch_size=2, num_workers=2, persistent_workers=True)
    first = [b[1].numpy().tolist() for b in loader]
    assert len(pools) == 1 and loader._pool is pools[0] and pools[0].epoch == 0
    assert pools[0].shutdowns == 0
    second = [b[1].numpy().tolist() for b in loader]
    assert first == second == [[0, 1], [2, 0]]
    assert len(pools) == 1 and pools[0].epoch == 1 and pools[0].shutdowns == 0
    assert [e[1] for e in pools[0].log if e[0] == "send"] == [0, 1, 0, 1]
    assert [b[1].numpy().tolist() for b in loader] == [[0, 1], [2, 0]]
    assert len(pools) == 1 and pools[0].epoch == 2 and pools[0].shutdowns == 0
    pools[0].workers[1].alive = False
    assert [b[1].numpy().tolist() for b in loader] == [[0, 1], [2, 0]]
    assert len(pools) == 2 and pools[0].shutdowns == 1 and loader._pool is pools[1]
    assert pools[1].epoch == 0 and pools[1].shutdowns == 0


def test_pool_is_new_each_epoch_without_persistence(pools):
    loader = DataLoader(Squares(3), batch_size=2, num_workers=1)
    list(loader)
    list(loader)
    assert len(pools) == 2 and [p.shutdowns for p in pools] == [1, 1]
    assert loader._pool is None and all(p.epoch == 0 for p in pools)


def test_pool_break_shuts_the_pool_down(pools):
    loader = DataLoader(Squares(20), batch_size=2, num_workers=2)
    for batch in loader:
        break
    gc.collect()
    assert pools[0].shutdowns == 1
    assert len(sends(pools[0])) == 4 + 1


# --- Fashion-MNIST's default folder -------------------------------------------------------

def _write_parts(folder, labels_by_part):
    """The four IDX files in ``folder``: part p has len(labels) 2x3 images of value label."""
    folder.mkdir()
    for prefix, labels in labels_by_part.items():
        labels = np.asarray(labels, dtype=np.uint8)
        images = np.repeat(labels, 6).reshape(len(labels), 2, 3)
        write_idx(str(folder / f"{prefix}-images-idx3-ubyte.gz"), images)
        write_idx(str(folder / f"{prefix}-labels-idx1-ubyte"), labels)


def test_load_fashion_mnist_reads_the_default_folder(tmp_path, monkeypatch):
    folder = tmp_path / "fashion"
    _write_parts(folder, {"train": [3, 1, 4], "t10k": [9, 2]})
    monkeypatch.setattr(idx_module, "FASHION_MNIST_DIR", str(folder))
    images, labels = load_fashion_mnist()
    assert labels.tolist() == [3, 1, 4] and labels.dtype == np.int64
    assert images.shape == (3, 1, 2, 3) and images.dtype == np.float32
    np.testing.assert_array_equal(images[:, 0, 0, 0], np.array([3, 1, 4], np.float32) / 255)
    images, labels = load_fashion_mnist(train=False)
    assert labels.tolist() == [9, 2] and images.shape == (2, 1, 2, 3)
    images, labels = load_fashion_mnist(str(folder))
    assert labels.tolist() == [3, 1, 4]


def test_load_fashion_mnist_errors_name_the_function(tmp_path, monkeypatch):
    missing = str(tmp_path / "absent")
    monkeypatch.setattr(idx_module, "FASHION_MNIST_DIR", missing)
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist()
    assert str(info.value) == (f"load_fashion_mnist: the default folder {missing!r} does not "
                               "exist; install it with 'apt-get install dataset-fashion-mnist' "
                               "or pass the folder holding train-images-idx3-ubyte[.gz] and the "
                               "other IDX files")
    folder = tmp_path / "bad"
    _write_parts(folder, {"train": [1, 12], "t10k": [0]})
    monkeypatch.setattr(idx_module, "FASHION_MNIST_DIR", str(folder))
    labels_path = os.path.join(str(folder), "train-labels-idx1-ubyte")
    with pytest.raises(ValueError) as info:
        load_fashion_mnist()
    assert str(info.value) == (f"load_fashion_mnist: {labels_path!r} holds label 12; expected "
                               "classes 0..9")


def test_an_empty_batch_of_indices_is_refused_alike_on_the_fast_and_the_general_path():
    """A batch sampler that yields an empty list: the fast path (a plain TensorDataset) used to
    give an empty batch where the general path (here a subclass, which must see every sample)
    raised default_collate's ValueError; both raise it now, after the batches before it."""
    class Subclass(TensorDataset):
        pass

    x = Tensor(np.arange(6.0).reshape(3, 2))
    for dataset in (TensorDataset(x), Subclass(x)):
        batches = iter(DataLoader(dataset, batch_sampler=[[0, 2], []]))
        np.testing.assert_array_equal(next(batches)[0].numpy(), [[0.0, 1.0], [4.0, 5.0]])
        with pytest.raises(ValueError, match=r"^default_collate: needs at least one sample$"):
            next(batches)


def test_collate_errors_word_for_word():
    with pytest.raises(ValueError) as info:
        default_collate([])
    assert str(info.value) == "default_collate: needs at least one sample"
    with pytest.raises(TypeError) as info:
        default_collate([None, None])
    assert str(info.value) == ("default_collate: cannot batch a field of type NoneType; "
                               "expected a Tensor, an array, a number, a string, or a tuple, "
                               "list or dict of them")


# --- the digits split ---------------------------------------------------------------------

def test_train_test_split_defaults_are_a_fifth_and_seed_0():
    train, test = train_test_split(10)
    order = np.random.default_rng(0).permutation(10)
    assert test.tolist() == order[:2].tolist() and train.tolist() == order[2:].tolist()
    assert train.dtype == np.int64 and test.dtype == np.int64


@pytest.mark.parametrize("n", [True, 2.0, -1])
def test_train_test_split_refuses_what_is_not_a_count(n):
    with pytest.raises(ValueError) as info:
        train_test_split(n)
    assert str(info.value) == f"train_test_split: n must be a non-negative int, got {n!r}"


def test_missing_idx_file_lists_every_name_sought(tmp_path):
    folder = tmp_path / "part"
    _write_parts(folder, {"train": [1], "t10k": [2]})
    os.remove(str(folder / "t10k-labels-idx1-ubyte"))
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(str(folder), train=False)
    assert str(info.value) == (
        f"load_fashion_mnist: none of t10k-labels-idx1-ubyte, t10k-labels-idx1-ubyte.gz, "
        f"t10k-labels.idx1-ubyte, t10k-labels.idx1-ubyte.gz found in {str(folder)!r}; expected "
        "the IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (each possibly .gz)")


def test_to_device_moves_a_tensor_to_another_device():
    t = Tensor(np.arange(3.0))
    if backend.cupy() is None:
        for batch in ((t,), {"x": t}):
            with pytest.raises(RuntimeError, match="CUDA is not available"):
                to_device(batch, "cuda")
    else:
        moved, = to_device((t,), "cuda")
        assert moved.device == "cuda:0" and moved.numpy().tolist() == [0.0, 1.0, 2.0]
        assert to_device({"x": t}, "cuda")["x"].device == "cuda:0"


# --- Fetcher's stages and fast path -------------------------------------------------------

class Broken(Dataset):
    """Sample i is i * 10; reading sample ``bad`` raises."""

    def __init__(self, bad=None):
        self.bad = bad

    def __getitem__(self, index):
        if index == self.bad:
            raise ValueError("bad sample")
        return index * 10

    def __len__(self):
        return 6


def test_fetcher_stage_names_what_it_was_doing():
    fetch = Fetcher(Broken())
    assert fetch.stage is None
    assert fetch([1, 2]).numpy().tolist() == [10, 20]
    assert fetch.stage == "collate_fn on indices [1, 2]"
    fetch = Fetcher(Broken(bad=4))
    with pytest.raises(ValueError):
        fetch([3, 4])
    assert fetch.stage == "dataset[4]"
    one = Fetcher(Broken(bad=5), auto_batch=False)
    assert one(2) == 20 and one.stage == "collate_fn on the sample at index 2"
    with pytest.raises(ValueError):
        one(5)
    assert one.stage == "dataset[5]"
    fast = Fetcher(TensorDataset(np.arange(4) * 2))
    assert fast.fast and fast([3, 1])[0].numpy().tolist() == [6, 2]
    assert fast.stage == "indexing the tensors at [3, 1]"


def test_fast_path_refuses_an_empty_index_list_as_the_general_path_does():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    with pytest.raises(ValueError, match=r"^default_collate: needs at least one sample$"):
        Fetcher(TensorDataset(x, np.arange(3)))([])


def test_len_of_a_stream_loader_counts_its_batches():
    assert len(DataLoader(SizedStream(7), batch_size=3)) == 3
    assert len(DataLoader(SizedStream(7), batch_size=3, drop_last=True)) == 2
    assert len(DataLoader(SizedStream(6), batch_size=3, drop_last=True)) == 2
    assert len(DataLoader(SizedStream(7), batch_size=None)) == 7
    with pytest.raises(TypeError) as info:
        len(DataLoader(Stream(7)))
    assert str(info.value) == ("DataLoader: len() of a loader over an IterableDataset needs the "
                               "dataset's __len__, which Stream does not define")


# --- DataLoader's arguments ---------------------------------------------------------------

_BATCH_SAMPLER = ("DataLoader: batch_sampler excludes batch_size, shuffle, sampler and "
                  "drop_last; give those to the batch sampler instead")


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(batch_sampler=[[0]], drop_last=True), ValueError, _BATCH_SAMPLER),
    (dict(batch_sampler=[[0]], batch_size=2), ValueError, _BATCH_SAMPLER),
    (dict(batch_sampler=[[0]], shuffle=True), ValueError, _BATCH_SAMPLER),
    (dict(batch_sampler=[[0]], sampler=[0]), ValueError, _BATCH_SAMPLER),
    (dict(sampler=[0], shuffle=True), ValueError,
     "DataLoader: sampler excludes shuffle=True; a sampler fixes the order itself (use "
     "RandomSampler to shuffle)"),
    (dict(batch_size=None, drop_last=True), ValueError,
     "DataLoader: batch_size=None turns automatic batching off and excludes drop_last=True; "
     "there is no last batch to drop"),
    (dict(batch_size=0), ValueError, "DataLoader: batch_size must be a positive int or None, "
                                     "got 0"),
    (dict(collate_fn=3), TypeError, "DataLoader: collate_fn must be callable, got a int"),
    (dict(worker_init_fn="f"), TypeError, "DataLoader: worker_init_fn must be callable, got a "
                                          "str"),
    (dict(num_workers=-1), ValueError, "DataLoader: num_workers must be a non-negative int, "
                                       "got -1"),
    (dict(num_workers=True), ValueError, "DataLoader: num_workers must be a non-negative int, "
                                         "got True"),
    (dict(timeout=True), ValueError, "DataLoader: timeout must be a non-negative number, got "
                                     "True"),
    (dict(timeout="1"), ValueError, "DataLoader: timeout must be a non-negative number, got "
                                    "'1'"),
    (dict(timeout=-0.5), ValueError, "DataLoader: timeout must be a non-negative number, got "
                                     "-0.5"),
    (dict(prefetch_factor=2), ValueError,
     "DataLoader: prefetch_factor must be None without workers and a positive int with them, "
     "got 2 with num_workers=0"),
    (dict(prefetch_factor=0, num_workers=1), ValueError,
     "DataLoader: prefetch_factor must be None without workers and a positive int with them, "
     "got 0 with num_workers=1"),
    (dict(persistent_workers=True), ValueError,
     "DataLoader: persistent_workers=True needs num_workers > 0"),
    (dict(num_workers=1, multiprocessing_context="thread"), ValueError,
     "DataLoader: multiprocessing_context must be one of "
     f"{__import__('multiprocessing').get_all_start_methods()}, got 'thread'"),
])
def test_loader_argument_errors_word_for_word(kwargs, error, message):
    with pytest.raises(error) as info:
        DataLoader(TensorDataset(np.arange(3)), **kwargs)
    assert str(info.value) == message


def test_loader_defaults_and_a_custom_collate_fn():
    ds = TensorDataset(np.arange(5))
    loader = DataLoader(ds)
    assert loader.timeout == 0.0 and loader.batch_size == 1 and loader.drop_last is False
    assert loader.prefetch_factor is None and loader.collate_fn is None
    assert loader.pin_memory is False and DataLoader(ds, pin_memory=1).pin_memory is True
    assert DataLoader(ds, num_workers=2).prefetch_factor == 2

    def total(samples):
        return sum(int(s[0].item()) for s in samples)

    assert list(DataLoader(ds, batch_size=2, collate_fn=total)) == [1, 5, 4]
    stream = DataLoader(Stream(5), batch_size=2, collate_fn=lambda items: sum(items))
    assert list(stream) == [1, 5, 4]
    assert make_fetcher(Stream(2), total, True, False).collate_fn is total


def test_pool_with_a_tensor_dataset_and_the_default_timeout(pools):
    ds = TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5))
    got = [y.numpy().tolist() for _, y in DataLoader(ds, batch_size=2, num_workers=2)]
    assert got == [[0, 1], [2, 3], [4]]
    assert {e[3] for e in pools[0].log if e[0] == "receive"} == {0.0}


# --- IDX headers ----------------------------------------------------------------------------

def test_idx_magic_needs_both_leading_bytes_zero(tmp_path):
    path = str(tmp_path / "odd")
    with open(path, "wb") as f:
        f.write(bytes([1, 0, 0x08, 1, 0, 0, 0, 2, 7, 9]))
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert str(info.value) == (f"IDX file {path!r} does not start with the IDX magic number "
                               "0x0000: found 01000801")


def test_idx_header_cut_inside_its_sizes(tmp_path):
    path = str(tmp_path / "short")
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, 4, 0, 0, 0, 2]))
    with pytest.raises(ValueError) as info:
        read_idx(path)
    assert str(info.value) == (f"IDX file {path!r} is truncated inside its header: 4 dimensions "
                               "need 20 bytes, the file has 8")
