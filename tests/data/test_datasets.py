"""ConcatDataset and random_split against their definitions and PyTorch's; default_collate
against PyTorch's on nested samples."""
import collections

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.data import (ConcatDataset, DataLoader, Subset, TensorDataset, default_collate,
                           random_split)


def _numbered(start, N):
    return TensorDataset(np.arange(start, start + N))


@given(sizes=st.lists(st.integers(0, 6), min_size=1, max_size=5))
def test_concat_dataset_reads_each_part_in_turn(sizes):
    parts = [_numbered(100 * k, n) for k, n in enumerate(sizes)]
    ds = ConcatDataset(parts)
    expected = [100 * k + i for k, n in enumerate(sizes) for i in range(n)]
    assert len(ds) == sum(sizes) and ds.cumulative_sizes == list(np.cumsum(sizes))
    assert [ds[i][0].item() for i in range(len(ds))] == expected
    assert [ds[-i - 1][0].item() for i in range(len(ds))] == expected[::-1]


def test_concat_dataset_errors_and_loader():
    ds = ConcatDataset([_numbered(0, 3), _numbered(10, 2)])
    with pytest.raises(IndexError, match="index 5 is out of range for 5 samples"):
        ds[5]
    with pytest.raises(IndexError, match="index -6"):
        ds[-6]
    with pytest.raises(ValueError, match="at least one dataset"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="dataset 1 of type int has no __len__"):
        ConcatDataset([_numbered(0, 3), 7])
    assert [b[0].tolist() for b in DataLoader(ds, batch_size=4)] == [[0, 1, 2, 10], [11]]


@given(N=st.integers(0, 30), cuts=st.lists(st.integers(0, 30), max_size=3),
       seed=st.integers(0, 2**32))
def test_random_split_by_lengths_is_a_partition(N, cuts, seed):
    bounds = sorted(min(c, N) for c in cuts)
    lengths = np.diff([0, *bounds, N]).tolist()
    parts = random_split(_numbered(0, N), lengths, seed=seed)
    assert [len(p) for p in parts] == lengths and all(isinstance(p, Subset) for p in parts)
    values = [p[i][0].item() for p in parts for i in range(len(p))]
    assert sorted(values) == list(range(N))
    again = random_split(_numbered(0, N), lengths, generator=np.random.default_rng(seed))
    assert [p.indices.tolist() for p in again] == [p.indices.tolist() for p in parts]


@pytest.mark.parametrize("N, fractions, expected", [
    (10, [0.7, 0.3], [7, 3]),
    (10, [0.33, 0.33, 0.34], [4, 3, 3]),   # floors 3, 3, 3; the 1 left over goes to the first
    (5, [0.5, 0.5], [3, 2]),
    (7, [1.0], [7]),
    (3, [0.1, 0.1, 0.8], [1, 0, 2]),
])
def test_random_split_fractions(N, fractions, expected):
    parts = random_split(_numbered(0, N), fractions, seed=0)
    assert [len(p) for p in parts] == expected


def test_random_split_seeding_and_errors():
    ds = _numbered(0, 20)
    mg.manual_seed(3)
    a = [p.indices.tolist() for p in random_split(ds, [10, 10])]
    mg.manual_seed(3)
    assert [p.indices.tolist() for p in random_split(ds, [10, 10])] == a
    with pytest.raises(ValueError, match=r"lengths \[10, 9\] sum to 19, but the dataset has 20"):
        random_split(ds, [10, 9])
    with pytest.raises(ValueError, match="non-negative ints, or fractions that sum to 1"):
        random_split(ds, [0.5, 0.6])
    with pytest.raises(ValueError, match="non-negative ints"):
        random_split(ds, [25, -5])
    with pytest.raises(TypeError, match="non-empty list"):
        random_split(ds, [])
    with pytest.raises(ValueError, match="not both"):
        random_split(ds, [10, 10], generator=np.random.default_rng(), seed=1)


@pytest.mark.parametrize("N, lengths", [(10, [0.7, 0.3]), (10, [0.33, 0.33, 0.34]), (5, [0.5, 0.5]),
                                        (3, [0.1, 0.1, 0.8]), (11, [0.25] * 4), (8, [5, 3])])
@pytest.mark.filterwarnings("ignore:Length of split")  # PyTorch warns of the empty part
def test_random_split_lengths_vs_torch(N, lengths):
    torch = pytest.importorskip("torch")
    theirs = torch.utils.data.random_split(range(N), lengths,
                                           generator=torch.Generator().manual_seed(0))
    ours = random_split(_numbered(0, N), lengths, seed=0)
    assert [len(p) for p in ours] == [len(p) for p in theirs]


def test_concat_dataset_vs_torch():
    torch = pytest.importorskip("torch")
    sizes = [3, 0, 4, 1]
    theirs = torch.utils.data.ConcatDataset([list(range(100 * k, 100 * k + n))
                                             for k, n in enumerate(sizes)])
    ours = ConcatDataset([_numbered(100 * k, n) for k, n in enumerate(sizes)])
    assert len(ours) == len(theirs) and ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i][0].item() for i in range(-8, 8)] == [theirs[i] for i in range(-8, 8)]


Point = collections.namedtuple("Point", "x y")


def _nested_samples():
    return [{"image": np.full((2, 2), i, np.float32), "pair": (i, np.int16(2 * i)),
             "list": [np.arange(3) + i], "point": Point(float(i), True), "name": f"s{i}"}
            for i in range(3)]


def test_default_collate_nested_structures():
    batch = default_collate(_nested_samples())
    assert batch["image"].shape == (3, 2, 2) and batch["image"].numpy()[1, 0, 0] == 1
    assert isinstance(batch["pair"], tuple) and batch["pair"][0].tolist() == [0, 1, 2]
    assert batch["pair"][1].dtype == np.int16 and batch["pair"][1].tolist() == [0, 2, 4]
    assert isinstance(batch["list"], list) and batch["list"][0].shape == (3, 3)
    assert isinstance(batch["point"], Point) and batch["point"].y.dtype == np.bool_
    assert batch["point"].x.dtype == np.float32 and batch["point"].x.tolist() == [0, 1, 2]
    assert batch["name"] == ["s0", "s1", "s2"]


def test_default_collate_vs_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate
    samples = _nested_samples()
    ours, theirs = default_collate(samples), torch_collate(samples)

    def leaves(batch):
        if isinstance(batch, dict):
            return [leaf for k in batch for leaf in leaves(batch[k])]
        if isinstance(batch, (tuple, list)) and not (batch and isinstance(batch[0], str)):
            return [leaf for v in batch for leaf in leaves(v)]
        return [batch]

    a, b = leaves(ours), leaves(theirs)
    assert len(a) == len(b) == 7
    for x, y in zip(a, b):
        if isinstance(y, list):  # strings pass through as a list in both
            assert x == y
            continue
        np.testing.assert_array_equal(x.numpy(), y.numpy())
        # Python floats: float32 here (minigrad's default float), float64 in PyTorch.
        expected = np.float32 if y.dtype == torch.float64 else y.numpy().dtype
        assert x.dtype == expected
    assert isinstance(theirs["point"], Point) and isinstance(ours["point"], Point)
