"""IterableDataset, ChainDataset and batch_size=None: exact items and order, PyTorch's
DataLoader run on the same dataset code, and the errors. Worker tests start at most two
workers each and check that no child process is left."""
import collections

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigrad.data import (ChainDataset, DataLoader, IterableDataset, TensorDataset,
                           default_convert, get_worker_info)


def make_stream(base, info_fn):
    """A stream class on ``base`` (ours or PyTorch's IterableDataset), read by both loaders.

    Worker k of K yields ``lengths[k]`` items ``100 * k + j`` (j = 0, 1, ...); in the main
    process it yields ``lengths[0]`` items. With ``split=False`` every worker yields the
    main process's items, as a dataset that ignores ``get_worker_info`` does.
    """

    class Stream(base):
        def __init__(self, lengths, split=True):
            self.lengths, self.split = list(lengths), split

        def __iter__(self):
            info = info_fn()
            k = 0 if info is None or not self.split else info.id
            return iter([100 * k + j for j in range(self.lengths[k])])

    return Stream


Stream = make_stream(IterableDataset, get_worker_info)


def batches(loader):
    """Each batch as a plain list (or an int, for a 0-d batch)."""
    return [np.asarray(b.numpy() if hasattr(b, "numpy") else b).tolist() for b in loader]


def round_robin(per_worker, B, drop_last):
    """The reference: each worker batches its items, then batches are taken round robin."""
    queues = []
    for items in per_worker:
        size = 1 if B is None else B
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        if drop_last and chunks and len(chunks[-1]) < size:
            chunks.pop()
        queues.append(collections.deque(c[0] if B is None else c for c in chunks))
    out = []
    while any(queues):
        out.extend(q.popleft() for q in queues if q)
    return out


def test_stream_batches_consecutive_items():
    assert batches(DataLoader(Stream([7]), batch_size=3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert batches(DataLoader(Stream([7]), batch_size=3, drop_last=True)) == [[0, 1, 2],
                                                                              [3, 4, 5]]
    assert batches(DataLoader(Stream([3]), batch_size=None)) == [0, 1, 2]
    assert batches(DataLoader(Stream([0]), batch_size=2)) == []


def test_stream_of_arrays_keeps_dtype_and_shape():
    class Rows(IterableDataset):
        def __iter__(self):
            return iter(np.arange(12, dtype=np.int32).reshape(4, 3))

    (first, second) = list(DataLoader(Rows(), batch_size=2))
    assert first.shape == (2, 3) and first.dtype == np.int32
    assert second.tolist() == [[6, 7, 8], [9, 10, 11]]
    unbatched = list(DataLoader(Rows(), batch_size=None))
    assert [u.shape for u in unbatched] == [(3,)] * 4 and unbatched[3].tolist() == [9, 10, 11]


@settings(max_examples=30, deadline=None)
@given(N=st.integers(0, 20), B=st.one_of(st.none(), st.integers(1, 6)), drop_last=st.booleans())
def test_stream_matches_reference(N, B, drop_last):
    drop_last = drop_last and B is not None
    loader = DataLoader(Stream([N]), batch_size=B, drop_last=drop_last)
    assert batches(loader) == round_robin([list(range(N))], B, drop_last)


@pytest.mark.parametrize("lengths, B, drop_last", [
    ([5, 2], 2, False),    # worker 1 runs out first: worker 0 finishes alone
    ([1, 6], 2, False),    # worker 0 runs out after one partial batch
    ([5, 2], 2, True),     # each worker drops its own short last batch
    ([3, 0], None, False), # worker 1 has nothing at all; unbatched items
])
def test_workers_interleave_round_robin(no_new_children, lengths, B, drop_last):
    loader = DataLoader(Stream(lengths), batch_size=B, drop_last=drop_last, num_workers=2)
    per_worker = [[100 * k + j for j in range(n)] for k, n in enumerate(lengths)]
    assert batches(loader) == round_robin(per_worker, B, drop_last)


def test_each_worker_iterates_its_own_copy(no_new_children):
    loader = DataLoader(Stream([3], split=False), batch_size=2, num_workers=2)
    assert batches(loader) == [[0, 1], [0, 1], [2], [2]]


def test_persistent_workers_restart_the_stream(no_new_children):
    loader = DataLoader(Stream([3, 1]), batch_size=2, num_workers=2, persistent_workers=True)
    first, second = batches(loader), batches(loader)
    assert first == second == [[0, 1], [100], [2]]
    loader._pool.shutdown()


def test_worker_error_in_iter_names_the_item(no_new_children):
    class Broken(IterableDataset):
        def __iter__(self):
            yield 1
            raise KeyError("record 1 is missing")

    with pytest.raises(KeyError, match=r"(?s)worker 0 failed on batch 0.*next\(iter\(dataset\)\) "
                                       r"for item 1:.*record 1 is missing"):
        list(DataLoader(Broken(), batch_size=2, num_workers=1))


@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("lengths, split, B, drop_last", [
    ([5, 2], True, 2, False), ([5, 2], True, 2, True), ([1, 4], True, None, False),
    ([3], False, 2, False), ([4, 4], True, 3, False)])
def test_stream_vs_torch(no_new_children, num_workers, lengths, split, B, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils import data as tdata

    lengths = lengths + [0] * (2 - len(lengths))
    TorchStream = make_stream(tdata.IterableDataset, tdata.get_worker_info)
    theirs = tdata.DataLoader(TorchStream(lengths, split), batch_size=B, drop_last=drop_last,
                              num_workers=num_workers)
    ours = DataLoader(Stream(lengths, split), batch_size=B, drop_last=drop_last,
                      num_workers=num_workers)
    assert batches(ours) == [torch.as_tensor(b).tolist() for b in theirs]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_batch_size_none_on_a_map_dataset_vs_torch(no_new_children, num_workers):
    torch = pytest.importorskip("torch")
    from torch.utils import data as tdata

    class Pairs(tdata.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return (np.arange(3, dtype=np.int64) + i, i * 10)

    theirs = list(tdata.DataLoader(Pairs(), batch_size=None, num_workers=num_workers))
    loader = DataLoader(Pairs(), batch_size=None, num_workers=num_workers)
    ours = list(loader)
    assert len(loader) == 4
    for (x, y), (tx, ty) in zip(ours, theirs, strict=True):
        assert x.shape == (3,) and x.dtype == np.int64
        assert x.tolist() == tx.tolist() and y == ty and type(y) is int


def test_batch_size_none_with_a_sampler_and_a_collate_fn():
    ds = TensorDataset(np.arange(6) * 2)
    loader = DataLoader(ds, batch_size=None, sampler=[4, 0, 2], collate_fn=lambda s: s[0].item())
    assert list(loader) == [8, 0, 4] and len(loader) == 3


def test_default_convert_keeps_structure():
    Point = collections.namedtuple("Point", "x y")
    out = default_convert({"p": Point(np.float64(1.5), [np.arange(2)]), "s": "a", "n": 3,
                           "words": np.array(["u", "v"])})
    assert out["p"].x.shape == () and out["p"].x.item() == 1.5
    assert out["p"].x.dtype == np.float64 and isinstance(out["p"], Point)
    assert out["p"].y[0].tolist() == [0, 1] and isinstance(out["p"].y, list)
    assert out["s"] == "a" and out["n"] == 3 and out["words"].tolist() == ["u", "v"]


def test_len_of_a_stream_loader():
    class Sized(Stream):
        def __len__(self):
            return self.lengths[0]

    assert len(DataLoader(Sized([7]), batch_size=3)) == 3
    assert len(DataLoader(Sized([7]), batch_size=3, drop_last=True)) == 2
    assert len(DataLoader(Sized([7]), batch_size=None)) == 7
    with pytest.raises(TypeError, match="len\\(\\) of a loader over an IterableDataset needs "
                                        "the dataset's __len__, which Stream"):
        len(DataLoader(Stream([7])))


def test_chain_dataset():
    class Sized(Stream):
        def __len__(self):
            return self.lengths[0]

    chain = ChainDataset([Stream([2]), Stream([3])])
    assert list(chain) == [0, 1, 0, 1, 2]
    assert batches(DataLoader(Stream([1]) + Stream([2]), batch_size=2)) == [[0, 0], [1]]
    assert len(ChainDataset([Sized([2]), Sized([4])])) == 6
    with pytest.raises(TypeError, match="dataset 1 of type Stream has no __len__"):
        len(ChainDataset([Sized([2]), Stream([4])]))
    with pytest.raises(TypeError, match="ChainDataset: dataset 0 is a list; expected an "
                                        "IterableDataset"):
        ChainDataset([[1, 2]])


@pytest.mark.parametrize("kwargs, message", [
    (dict(shuffle=True), "IterableDataset: shuffle must be left unspecified, got shuffle=True"),
    (dict(sampler=[0, 1]), "sampler must be left unspecified, got sampler=\\[0, 1\\]"),
    (dict(batch_sampler=[[0]]), "batch_sampler must be left unspecified"),
])
def test_stream_refuses_orderings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(Stream([3]), **kwargs)


def test_batch_size_none_refuses_drop_last():
    with pytest.raises(ValueError, match="batch_size=None turns automatic batching off and "
                                         "excludes drop_last=True"):
        DataLoader(TensorDataset(np.arange(3)), batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="batch_size must be a positive int or None, got -1"):
        DataLoader(Stream([3]), batch_size=-1)


def test_plain_iterable_is_refused():
    with pytest.raises(TypeError, match="dataset of type generator needs __len__ and "
                                        "__getitem__, or to be an IterableDataset"):
        DataLoader(i for i in range(3))
