"""DistributedSampler: the ranks' shares of an epoch are disjoint and cover the data set
exactly once (padding and drop_last as PyTorch defines them). No MPI needed."""
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from minigrad.data import DataLoader, DistributedSampler, TensorDataset
import minigrad as mg


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), w=st.integers(1, 7), shuffle=st.booleans(), seed=st.integers(0, 9),
       epoch=st.integers(0, 5))
def test_ranks_cover_the_data_once_per_epoch(n, w, shuffle, seed, epoch):
    shares = []
    for r in range(w):
        sampler = DistributedSampler(range(n), num_replicas=w, rank=r, shuffle=shuffle,
                                     seed=seed)
        sampler.set_epoch(epoch)
        shares.append(list(sampler))
        assert len(shares[-1]) == len(sampler) == -(-n // w)
    counts = Counter(i for share in shares for i in share)
    assert set(counts) == set(range(n))               # every sample is seen ...
    padded = len(sampler) * w - n                       # ... and W·M - N of them twice
    assert sum(c - 1 for c in counts.values()) == padded < w
    if n >= w:
        assert max(counts.values()) <= 2


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), w=st.integers(1, 7), shuffle=st.booleans())
def test_drop_last_gives_disjoint_equal_shares(n, w, shuffle):
    shares = [list(DistributedSampler(range(n), w, r, shuffle=shuffle, drop_last=True))
              for r in range(w)]
    flat = [i for share in shares for i in share]
    assert len(flat) == len(set(flat))                   # nobody sees a sample twice
    assert all(len(s) == len(shares[0]) == n // w for s in shares)
    assert n - len(flat) < w                             # at most W - 1 dropped


def test_pytorch_padding_rule():
    # PyTorch: 10 samples over 3 ranks, no shuffle -> pad with the first 2 indices
    shares = [list(DistributedSampler(range(10), 3, r, shuffle=False)) for r in range(3)]
    assert shares == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    # a data set shorter than the padding repeats itself: 2 samples over 5 ranks
    assert [list(DistributedSampler(range(2), 5, r, shuffle=False))
            for r in range(5)] == [[0], [1], [0], [1], [0]]
    assert [list(DistributedSampler(range(10), 3, r, shuffle=False, drop_last=True))
            for r in range(3)] == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]


def test_set_epoch_changes_the_order_the_same_way_on_every_rank():
    a, b = DistributedSampler(range(50), 2, 0, seed=1), DistributedSampler(range(50), 2, 1,
                                                                            seed=1)
    first = list(a)
    a.set_epoch(1)
    b.set_epoch(1)
    assert list(a) != first
    assert sorted(list(a) + list(b)) == list(range(50))
    assert list(DistributedSampler(range(50), 2, 0, seed=1)) == first   # reproducible


def test_works_with_the_dataloader():
    data = TensorDataset(mg.arange(10, dtype=mg.float32))
    loader = DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 2, 1,
                                                                       shuffle=False))
    assert [b[0].tolist() for b in loader] == [[1.0, 3.0], [5.0, 7.0], [9.0]]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_replicas=2, rank=2), ValueError, r"rank must be in 0\.\.1"),
    (dict(num_replicas=0, rank=0), ValueError, "num_replicas must be >= 1"),
    (dict(num_replicas=2, rank=0, seed=-1), ValueError, "seed must be >= 0"),
    (dict(num_replicas=2.5, rank=0), TypeError, "num_replicas must be an int"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        DistributedSampler(range(4), **kwargs)


def test_without_a_process_group_num_replicas_and_rank_are_required():
    import minigrad.distributed as dist
    if dist.is_initialized():
        pytest.skip("a process group is initialised in this process")
    with pytest.raises(RuntimeError, match="no process group is initialised"):
        DistributedSampler(range(4))
