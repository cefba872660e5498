"""Datasets and the DataLoader: batching, the fast path, seeded shuffling, collation, errors."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import backend
from minigrad.data import DataLoader, Dataset, Subset, TensorDataset, default_collate


def _columns(N, seed=0):
    """Features (N, 3) float32 whose row i starts with i, and int64 labels i % 4."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, 3)).astype(np.float32)
    x[:, 0] = np.arange(N)
    return (x, np.arange(N, dtype=np.int64) % 4)


class Squares(Dataset):
    """A dataset that is not a TensorDataset: sample i is (array [i, i*i], label i % 2)."""

    def __init__(self, N):
        self.N = N

    def __getitem__(self, index):
        return (np.array([index, index * index], dtype=np.float64), index % 2)

    def __len__(self):
        return self.N


class Rows(TensorDataset):
    """A TensorDataset whose __getitem__ is overridden, so the loader must call it per sample."""

    def __getitem__(self, index):
        return super().__getitem__(index)


def _first_column(loader):
    return [int(v) for x, _ in loader for v in x.numpy()[:, 0]]


def test_tensor_dataset_rows_and_length():
    x, y = _columns(6)
    ds = TensorDataset(mg.tensor(x), y)
    assert len(ds) == 6
    row, label = ds[4]
    assert isinstance(row, mg.Tensor) and row.shape == (3,)
    np.testing.assert_array_equal(row.numpy(), x[4])
    assert label.dtype == np.int64 and label.item() == 0
    assert ds.tensors[1].dtype == np.int64


def test_tensor_dataset_rejects_mismatched_first_dims():
    with pytest.raises(ValueError, match=r"first dimension, got shapes \(5, 3\), \(4,\)"):
        TensorDataset(np.zeros((5, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()
    with pytest.raises(ValueError, match="tensor 1 is 0-d"):
        TensorDataset(np.zeros(3), np.array(1.0, np.float32))
    with pytest.raises(TypeError, match="argument 0 is a list"):
        TensorDataset([1, 2, 3])


def test_dataset_is_abstract():
    with pytest.raises(TypeError):
        Dataset()


def test_subset_picks_and_checks_indices():
    ds = TensorDataset(np.arange(10) * 10)
    sub = Subset(ds, [7, 3, 3])
    assert len(sub) == 3 and [sub[i][0].item() for i in range(3)] == [70, 30, 30]
    with pytest.raises(IndexError, match=r"\[0, 10\).*from 3 to 10"):
        Subset(ds, [3, 10])
    with pytest.raises(TypeError, match="integers"):
        Subset(ds, [0.5])


@given(N=st.integers(0, 40), B=st.integers(1, 12), drop_last=st.booleans(),
       shuffle=st.booleans(), seed=st.integers(0, 1000))
def test_batches_cover_the_dataset(N, B, drop_last, shuffle, seed):
    x, y = _columns(N)
    loader = DataLoader(TensorDataset(x, y), batch_size=B, shuffle=shuffle, drop_last=drop_last,
                        seed=seed)
    batches = list(loader)
    assert len(batches) == len(loader) == (N // B if drop_last else math.ceil(N / B))
    sizes = [len(b[1]) for b in batches]
    assert all(s == B for s in sizes[:-1])
    if batches:
        assert sizes[-1] == (B if drop_last else N - B * (len(batches) - 1))
    seen = [int(v) for xb, _ in batches for v in xb.numpy()[:, 0]]
    assert len(set(seen)) == len(seen) == sum(sizes)
    if not shuffle:
        assert seen == list(range(len(seen)))
    for xb, yb in batches:
        # Each row still carries its own label: the columns were indexed together.
        np.testing.assert_array_equal(yb.numpy(), xb.numpy()[:, 0].astype(np.int64) % 4)


def test_dtypes_are_kept_and_batches_are_fresh_leaves():
    x, y = _columns(10)
    x64 = x.astype(np.float64)
    for xb, yb in DataLoader(TensorDataset(x64, y), batch_size=4):
        assert xb.dtype == np.float64 and yb.dtype == np.int64
        assert xb.is_leaf and not xb.requires_grad
    xb, _ = next(iter(DataLoader(TensorDataset(x, y), batch_size=4)))
    xb.data[:] = -1  # a batch is a copy: writing to it leaves the dataset alone
    assert x[0, 0] == 0


def test_fast_path_matches_sample_by_sample_path():
    x, y = _columns(23)
    fast = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, seed=11)
    slow = DataLoader(Rows(x, y), batch_size=5, shuffle=True, seed=11)
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        assert xf.dtype == xs.dtype and yf.dtype == ys.dtype
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())


def test_fast_path_does_not_touch_getitem(monkeypatch):
    def forbidden(self, index):
        raise AssertionError("the TensorDataset fast path must not index sample by sample")
    monkeypatch.setattr(TensorDataset, "__getitem__", forbidden)
    x, y = _columns(7)
    assert sum(len(b[1]) for b in DataLoader(TensorDataset(x, y), batch_size=3)) == 7


def test_seed_gives_the_same_epochs_and_epochs_differ():
    ds = TensorDataset(*_columns(50))
    a = DataLoader(ds, batch_size=8, shuffle=True, seed=5)
    b = DataLoader(ds, batch_size=8, shuffle=True, seed=5)
    a1, a2 = _first_column(a), _first_column(a)
    assert a1 == _first_column(b) and a2 == _first_column(b)
    assert a1 != a2 and sorted(a1) == list(range(50))
    assert _first_column(DataLoader(ds, batch_size=8, shuffle=True, seed=6)) != a1


def test_without_seed_the_global_generator_decides():
    ds = TensorDataset(*_columns(50))
    mg.manual_seed(123)
    first = _first_column(DataLoader(ds, batch_size=8, shuffle=True))
    second = _first_column(DataLoader(ds, batch_size=8, shuffle=True))
    mg.manual_seed(123)
    again = _first_column(DataLoader(ds, batch_size=8, shuffle=True))
    assert first == again and first != second


def test_iter_fixes_the_epoch_order():
    loader = DataLoader(TensorDataset(*_columns(20)), batch_size=4, shuffle=True)
    mg.manual_seed(0)
    epoch = iter(loader)
    np.random.random(10)  # other draws between iter() and the batches do not change them
    mg.manual_seed(0)
    assert _first_column(epoch) == _first_column(loader)


def test_general_dataset_is_collated():
    loader = DataLoader(Squares(7), batch_size=3)
    batches = list(loader)
    assert len(batches) == 3
    xb, yb = batches[1]
    assert xb.shape == (3, 2) and xb.dtype == np.float64
    np.testing.assert_array_equal(xb.numpy(), [[3, 9], [4, 16], [5, 25]])
    assert yb.dtype == np.int64 and yb.tolist() == [1, 0, 1]


def test_collate_structures_and_number_types():
    samples = [{"image": mg.tensor(np.full((2, 2), i, np.float32)), "label": i, "weight": 0.5 * i,
                "mask": i > 0, "id": np.int16(i)} for i in range(3)]
    batch = default_collate(samples)
    assert list(batch) == ["image", "label", "weight", "mask", "id"]
    assert batch["image"].shape == (3, 2, 2) and batch["image"].numpy()[2, 1, 1] == 2
    assert batch["label"].dtype == np.int64 and batch["label"].tolist() == [0, 1, 2]
    assert batch["weight"].dtype == np.float32 and batch["weight"].tolist() == [0, 0.5, 1]
    assert batch["mask"].dtype == np.bool_ and batch["mask"].tolist() == [False, True, True]
    assert batch["id"].dtype == np.int16
    mixed = default_collate([1, 2.5])
    assert mixed.dtype == np.float32 and mixed.tolist() == [1.0, 2.5]


@pytest.mark.parametrize("samples, error, message", [
    ([np.zeros(2), np.zeros(3)], ValueError, r"different shapes \[\(2,\), \(3,\)\]"),
    ([(1, 2), (1,)], TypeError, "must all have 2 fields"),
    ([{"a": 1}, {"b": 1}], TypeError, r"keys \['a'\]"),
    ([np.zeros(2), 3], TypeError, "ndarray in one sample and a int in another"),
    ([1, "x"], TypeError, "mixes numbers"),
    ([None, None], TypeError, "cannot batch a field of type NoneType"),
    ([{1, 2}], TypeError, "cannot batch a field of type set"),
    ([], ValueError, "at least one sample"),
])
def test_collate_errors(samples, error, message):
    with pytest.raises(error, match=message):
        default_collate(samples)


def test_device_cpu_and_cuda():
    x, y = _columns(6)
    xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=6, device="cpu")))
    assert xb.device == "cpu" and isinstance(xb.data, np.ndarray)
    if backend.cupy() is None:
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            DataLoader(TensorDataset(x, y), device="cuda")
    else:
        for loader in (DataLoader(TensorDataset(x, y), batch_size=4, device="cuda"),
                       DataLoader(Squares(6), batch_size=4, device="cuda")):
            for xb, yb in loader:
                assert xb.device == "cuda:0" and yb.device == "cuda:0"
        xb, yb = next(iter(DataLoader(TensorDataset(x, y), batch_size=6, device="cuda")))
        np.testing.assert_array_equal(xb.numpy(), x)
        assert yb.dtype == np.int64


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(batch_size=0), ValueError, "batch_size must be a positive int or None, got 0"),
    (dict(batch_size=True), ValueError, "batch_size must be a positive int"),
    (dict(batch_size=2.0), ValueError, "batch_size must be a positive int"),
    (dict(seed=-1), ValueError, "seed must be a non-negative int"),
    (dict(device="tpu"), ValueError, "unknown device 'tpu'"),
])
def test_bad_loader_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        DataLoader(TensorDataset(np.zeros(3)), **kwargs)


def test_loader_needs_a_dataset():
    with pytest.raises(TypeError, match="dataset of type int needs __len__ and __getitem__"):
        DataLoader(5)
