"""Samplers against their definitions: coverage, counts, frequencies, seeding, errors; and
against PyTorch's samplers where the seeds cannot match (lengths, coverage, distributions)."""
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.data import (BatchSampler, DataLoader, RandomSampler, Sampler, SequentialSampler,
                           SubsetRandomSampler, TensorDataset, WeightedRandomSampler)


def _within(count, n, p, sigmas=5):
    """True when a binomial count of n trials is within ``sigmas`` standard deviations of n*p."""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


def test_sampler_is_abstract():
    with pytest.raises(TypeError):
        Sampler()


@given(N=st.integers(0, 30))
def test_sequential_sampler_is_range(N):
    s = SequentialSampler(range(N))
    assert list(s) == list(range(N)) and len(s) == N


@given(N=st.integers(1, 30), seed=st.integers(0, 2**32))
def test_random_sampler_without_replacement_is_a_permutation(N, seed):
    s = RandomSampler(range(N), seed=seed)
    epoch = list(s)
    assert sorted(epoch) == list(range(N)) and len(s) == N
    assert all(type(i) is int for i in epoch)


@given(N=st.integers(1, 12), M=st.integers(1, 60), seed=st.integers(0, 2**32))
def test_random_sampler_num_samples_repeats_whole_permutations(N, M, seed):
    epoch = list(RandomSampler(range(N), num_samples=M, seed=seed))
    assert len(epoch) == M
    for start in range(0, M, N):
        block = epoch[start:start + N]
        assert len(set(block)) == len(block)  # each round is (part of) one permutation
    counts = Counter(epoch)
    assert all(counts[i] in (M // N, M // N + 1) for i in range(N))


@given(N=st.integers(1, 12), M=st.integers(1, 60), seed=st.integers(0, 2**32))
def test_random_sampler_with_replacement_stays_in_range(N, M, seed):
    s = RandomSampler(range(N), replacement=True, num_samples=M, seed=seed)
    epoch = list(s)
    assert len(epoch) == len(s) == M and all(0 <= i < N for i in epoch)


def test_random_sampler_with_replacement_is_uniform():
    N, M = 5, 50_000
    counts = Counter(RandomSampler(range(N), replacement=True, num_samples=M, seed=0))
    assert all(_within(counts[i], M, 1 / N) for i in range(N))
    # With replacement repeats occur: M draws from N values cannot all be distinct.
    short = list(RandomSampler(range(100), replacement=True, num_samples=100, seed=1))
    assert len(set(short)) < 100


def test_random_sampler_seeding():
    a, b = RandomSampler(range(40), seed=3), RandomSampler(range(40), seed=3)
    a1, a2 = list(a), list(a)
    assert a1 == list(b) and a2 == list(b) and a1 != a2
    from_generator = RandomSampler(range(40), generator=np.random.default_rng(3))
    assert list(from_generator) == a1
    mg.manual_seed(7)
    g1 = list(RandomSampler(range(40)))
    mg.manual_seed(7)
    assert list(RandomSampler(range(40))) == g1


def test_iter_fixes_the_epoch():
    s = RandomSampler(range(30))
    mg.manual_seed(0)
    epoch = iter(s)
    np.random.random(5)
    mg.manual_seed(0)
    assert list(epoch) == list(s)


@pytest.mark.parametrize("make, error, message", [
    (lambda: RandomSampler(range(3), num_samples=0), ValueError, "num_samples must be a positive"),
    (lambda: RandomSampler(range(3), replacement=1), TypeError, "replacement must be a bool"),
    (lambda: RandomSampler(range(3), seed=1, generator=np.random.default_rng()), ValueError,
     "not both"),
    (lambda: RandomSampler(range(3), generator=5), TypeError, "numpy.random.Generator"),
    (lambda: RandomSampler(range(3), seed=-2), ValueError, "seed must be a non-negative"),
    (lambda: list(RandomSampler(range(0), num_samples=2)), ValueError, "empty dataset"),
    (lambda: SubsetRandomSampler([0.5]), TypeError, "integers"),
    (lambda: WeightedRandomSampler([1, -1], 2), ValueError, "non-negative"),
    (lambda: WeightedRandomSampler([1, np.nan], 2), ValueError, "finite"),
    (lambda: WeightedRandomSampler([0, 0], 2), ValueError, "positive sum"),
    (lambda: WeightedRandomSampler([[1, 2]], 2), ValueError, r"1-d sequence, got shape \(1, 2\)"),
    (lambda: WeightedRandomSampler([1, 0, 2], 3, replacement=False), ValueError,
     "num_samples=3 exceeds the 2 positive weights"),
    (lambda: WeightedRandomSampler([1, 2], 0), ValueError, "num_samples must be a positive"),
    (lambda: BatchSampler(range(3), 0, False), ValueError, "batch_size must be a positive int"),
    (lambda: BatchSampler(range(3), 2, None), TypeError, "drop_last must be a bool"),
    (lambda: BatchSampler(5, 2, False), TypeError, "iterable of indices, got a int"),
])
def test_sampler_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


@given(indices=st.lists(st.integers(0, 50), max_size=20), seed=st.integers(0, 2**32))
def test_subset_random_sampler_permutes_the_indices(indices, seed):
    s = SubsetRandomSampler(indices, seed=seed)
    assert sorted(s) == sorted(indices) and len(s) == len(indices)


def test_subset_random_sampler_takes_tensors_and_reshuffles():
    s = SubsetRandomSampler(mg.tensor(np.arange(10, 30)), seed=0)
    first, second = list(s), list(s)
    assert sorted(first) == list(range(10, 30)) and first != second


def test_weighted_sampler_with_replacement_follows_the_weights():
    w, M = np.array([1.0, 0.0, 3.0, 6.0]), 40_000
    counts = Counter(WeightedRandomSampler(w, M, seed=0))
    assert counts[1] == 0
    assert all(_within(counts[i], M, w[i] / w.sum()) for i in range(4))


def test_weighted_sampler_without_replacement_is_successive_sampling():
    # Draw 1 takes i with p_i; draw 2 takes j with sum_i p_i p_j / (1 - p_i) over i != j.
    w = np.array([1.0, 2.0, 7.0, 0.0])
    p = w / w.sum()
    s = WeightedRandomSampler(w, 2, replacement=False, seed=0)
    R = 20_000
    epochs = [list(s) for _ in range(R)]
    assert all(len(set(e)) == 2 and 3 not in e for e in epochs)
    first, second = Counter(e[0] for e in epochs), Counter(e[1] for e in epochs)
    for j in range(3):
        p_second = sum(p[i] * p[j] / (1 - p[i]) for i in range(3) if i != j)
        assert _within(first[j], R, p[j]) and _within(second[j], R, p_second)


@given(w=st.lists(st.floats(0, 10), min_size=1, max_size=8).filter(lambda w: sum(w) > 0),
       seed=st.integers(0, 2**32), data=st.data())
def test_weighted_sampler_without_replacement_never_repeats(w, seed, data):
    positive = sum(x > 0 for x in w)
    M = data.draw(st.integers(1, positive))
    w[0] = w[0] if w[0] == 0 else 5e-324  # a subnormal weight is still positive
    epoch = list(WeightedRandomSampler(w, M, replacement=False, seed=seed))
    assert len(epoch) == M and len(set(epoch)) == M and all(w[i] > 0 for i in epoch)


@given(N=st.integers(0, 40), B=st.integers(1, 12), drop_last=st.booleans(),
       seed=st.integers(0, 2**32))
def test_batch_sampler_groups_the_sampler_in_order(N, B, drop_last, seed):
    sampler = RandomSampler(range(N), seed=seed) if N else SequentialSampler(range(0))
    reference = list(RandomSampler(range(N), seed=seed)) if N else []
    batches = list(BatchSampler(sampler, B, drop_last))
    assert len(batches) == len(BatchSampler(sampler, B, drop_last))
    assert len(batches) == (N // B if drop_last else math.ceil(N / B))
    assert all(len(b) == B for b in batches[:-1])
    flat = [i for b in batches for i in b]
    assert flat == reference[:len(flat)]
    assert len(flat) == (N - N % B if drop_last else N)


def test_loader_takes_samplers_and_batch_samplers():
    ds = TensorDataset(np.arange(10) * 10)
    by_sampler = DataLoader(ds, batch_size=3, sampler=[9, 0, 4, 4])
    assert [b[0].tolist() for b in by_sampler] == [[90, 0, 40], [40]]
    by_batches = DataLoader(ds, batch_sampler=[[1, 2], [7]])
    assert [b[0].tolist() for b in by_batches] == [[10, 20], [70]] and len(by_batches) == 2
    assert by_batches.batch_size is None
    assert list(DataLoader(ds, batch_sampler=[])) == []  # an empty batch sampler is still used
    weighted = DataLoader(ds, batch_size=5, sampler=WeightedRandomSampler([0] * 9 + [1], 10, seed=0))
    assert [b[0].tolist() for b in weighted] == [[90] * 5] * 2


def test_sequential_and_batch_samplers_vs_torch():
    torch = pytest.importorskip("torch")
    from torch.utils import data as tdata
    for N, B, drop_last in [(10, 3, False), (10, 3, True), (9, 3, True), (1, 4, False)]:
        ours = list(BatchSampler(SequentialSampler(range(N)), B, drop_last))
        theirs = list(tdata.BatchSampler(tdata.SequentialSampler(range(N)), B, drop_last))
        assert ours == theirs
        assert len(BatchSampler(range(N), B, drop_last)) == len(tdata.BatchSampler(range(N), B,
                                                                                   drop_last))
    del torch


@pytest.mark.parametrize("N, M, replacement", [(7, None, False), (7, 23, False), (7, 23, True),
                                                (5, 3, False), (5, 3, True)])
def test_random_sampler_lengths_and_coverage_vs_torch(N, M, replacement):
    torch = pytest.importorskip("torch")
    from torch.utils import data as tdata
    theirs = tdata.RandomSampler(range(N), replacement=replacement, num_samples=M,
                                 generator=torch.Generator().manual_seed(0))
    ours = RandomSampler(range(N), replacement=replacement, num_samples=M, seed=0)
    assert len(ours) == len(theirs)
    a, b = list(ours), list(theirs)
    assert len(a) == len(b) and set(a) <= set(range(N)) and set(b) <= set(range(N))
    if not replacement:  # without replacement the count of each index is fixed by N and M
        assert sorted(Counter(a).values()) == sorted(Counter(b).values())


def test_weighted_sampler_distributions_vs_torch():
    torch = pytest.importorskip("torch")
    from torch.utils import data as tdata
    w = np.array([0.5, 0.0, 2.0, 1.5])
    p = w / w.sum()
    M = 40_000
    theirs = tdata.WeightedRandomSampler(w.tolist(), M, generator=torch.Generator().manual_seed(0))
    ours = WeightedRandomSampler(w, M, seed=0)
    assert len(ours) == len(theirs) == M
    a, b = Counter(ours), Counter(int(i) for i in theirs)
    assert a[1] == b[1] == 0
    assert all(_within(a[i], M, p[i]) and _within(b[i], M, p[i]) for i in (0, 2, 3))
    # Without replacement both are successive sampling: the second index is drawn from the
    # weights that remain, P(j second) = sum_i p_i p_j / (1 - p_i).
    R = 4000
    theirs = tdata.WeightedRandomSampler(w.tolist(), 2, replacement=False,
                                         generator=torch.Generator().manual_seed(0))
    ours = WeightedRandomSampler(w, 2, replacement=False, seed=0)
    assert len(ours) == len(theirs) == 2
    a = Counter(list(ours)[1] for _ in range(R))
    b = Counter(int(list(theirs)[1]) for _ in range(R))
    for j in (0, 2, 3):
        p_second = sum(p[i] * p[j] / (1 - p[i]) for i in (0, 2, 3) if i != j)
        assert _within(a[j], R, p_second) and _within(b[j], R, p_second), (j, a, b)


def test_subset_random_sampler_vs_torch():
    torch = pytest.importorskip("torch")
    from torch.utils import data as tdata
    idx = [4, 8, 15, 16, 23, 42]
    theirs = tdata.SubsetRandomSampler(idx, generator=torch.Generator().manual_seed(0))
    ours = SubsetRandomSampler(idx, seed=0)
    assert len(ours) == len(theirs)
    assert sorted(ours) == sorted(int(i) for i in theirs) == idx
