"""Samplers, map-style datasets and the distributed sampler: exact orders against NumPy's
generators, the arguments each one refuses, and its messages word for word."""
import numpy as np
import pytest

from minigrad.data import (BatchSampler, ConcatDataset, DistributedSampler, RandomSampler,
                           Subset, SubsetRandomSampler, TensorDataset, WeightedRandomSampler,
                           load_digits, random_split, train_test_split)


def message_of(error, make):
    with pytest.raises(error) as info:
        make()
    return str(info.value)


def test_subset_random_sampler_draws_from_its_own_generator():
    indices = [10, 20, 30, 40, 50]
    expected = np.array(indices)[np.random.default_rng(3).permutation(5)].tolist()
    np.random.seed(0)
    drawn = list(SubsetRandomSampler(indices, seed=3))
    assert drawn == expected and all(type(i) is int for i in drawn)
    assert SubsetRandomSampler(np.array([2, 1], np.int32)).indices.dtype == np.int64
    gen = np.random.default_rng(8)
    sampler = SubsetRandomSampler(indices, generator=gen)
    reference = np.random.default_rng(8)
    for _ in range(2):
        assert list(sampler) == np.array(indices)[reference.permutation(5)].tolist()


@pytest.mark.parametrize("make, error, message", [
    (lambda: SubsetRandomSampler([1], seed=-2), ValueError,
     "SubsetRandomSampler: seed must be a non-negative int or None, got -2"),
    (lambda: SubsetRandomSampler([1], generator=7), TypeError,
     "SubsetRandomSampler: generator must be a numpy.random.Generator (e.g. "
     "numpy.random.default_rng(0)), got a int"),
    (lambda: SubsetRandomSampler([[1, 2]]), TypeError,
     "SubsetRandomSampler: indices must be a 1-d sequence of integers, got dtype int64 and "
     "shape (1, 2)"),
    (lambda: SubsetRandomSampler([0.5]), TypeError,
     "SubsetRandomSampler: indices must be a 1-d sequence of integers, got dtype float64 and "
     "shape (1,)"),
    (lambda: RandomSampler(range(3), seed=True), ValueError,
     "RandomSampler: seed must be a non-negative int or None, got True"),
    (lambda: RandomSampler(range(3), seed=1.0), ValueError,
     "RandomSampler: seed must be a non-negative int or None, got 1.0"),
    (lambda: RandomSampler(range(3), seed=1, generator=np.random.default_rng()), ValueError,
     "RandomSampler: give generator= or seed=, not both"),
    (lambda: RandomSampler(range(3), replacement=1), TypeError,
     "RandomSampler: replacement must be a bool, got 1"),
    (lambda: RandomSampler(range(3), num_samples=0), ValueError,
     "RandomSampler: num_samples must be a positive int, got 0"),
    (lambda: RandomSampler(range(3), num_samples=True), ValueError,
     "RandomSampler: num_samples must be a positive int, got True"),
    (lambda: RandomSampler(range(3), num_samples=2.0), ValueError,
     "RandomSampler: num_samples must be a positive int, got 2.0"),
    (lambda: list(RandomSampler(range(0), num_samples=2)), ValueError,
     "RandomSampler: cannot draw num_samples=2 indices from an empty dataset"),
    (lambda: WeightedRandomSampler([[1, 2]], 2), ValueError,
     "WeightedRandomSampler: weights must be a non-empty 1-d sequence, got shape (1, 2)"),
    (lambda: WeightedRandomSampler([], 2), ValueError,
     "WeightedRandomSampler: weights must be a non-empty 1-d sequence, got shape (0,)"),
    (lambda: WeightedRandomSampler([1, -1, 3], 2), ValueError,
     "WeightedRandomSampler: weights must be finite and non-negative with a positive sum, got "
     "min -1.0, max 3.0, sum 3.0"),
    (lambda: WeightedRandomSampler([0.0, 0.0], 2), ValueError,
     "WeightedRandomSampler: weights must be finite and non-negative with a positive sum, got "
     "min 0.0, max 0.0, sum 0.0"),
    (lambda: WeightedRandomSampler([1, 2], 0), ValueError,
     "WeightedRandomSampler: num_samples must be a positive int, got 0"),
    (lambda: WeightedRandomSampler([1, 2], 2, replacement=None), TypeError,
     "WeightedRandomSampler: replacement must be a bool, got None"),
    (lambda: WeightedRandomSampler([1, 0, 2], 3, replacement=False), ValueError,
     "WeightedRandomSampler: without replacement num_samples=3 exceeds the 2 positive weights"),
    (lambda: WeightedRandomSampler([1, 2], 1, seed=-1), ValueError,
     "WeightedRandomSampler: seed must be a non-negative int or None, got -1"),
    (lambda: BatchSampler(range(3), 0, False), ValueError,
     "BatchSampler: batch_size must be a positive int, got 0"),
    (lambda: BatchSampler(range(3), 2, None), TypeError,
     "BatchSampler: drop_last must be a bool, got None"),
    (lambda: BatchSampler(5, 2, False), TypeError,
     "BatchSampler: sampler must be an iterable of indices, got a int"),
    (lambda: BatchSampler("abc", 2, False), TypeError,
     "BatchSampler: sampler must be an iterable of indices, got a str"),
])
def test_sampler_errors_word_for_word(make, error, message):
    assert message_of(error, make) == message


def test_weighted_sampler_accepts_numpy_bools_and_ints():
    sampler = WeightedRandomSampler(np.array([0, 2, 0]), np.int64(2), replacement=np.True_,
                                    seed=1)
    assert list(sampler) == [1, 1] and sampler.replacement is True
    sampler = WeightedRandomSampler([1.0, 1.0, 0.0], 2, replacement=np.False_, seed=1)
    assert sorted(sampler) == [0, 1] and sampler.replacement is False


def test_batch_sampler_takes_numpy_bool_and_plain_iterables():
    sampler = BatchSampler(iter([3, 1, 2]), 2, np.True_)
    assert sampler.drop_last is True and list(sampler) == [[3, 1]]
    assert list(BatchSampler((4, 5, 6), 2, np.False_)) == [[4, 5], [6]]


# --- map-style datasets -------------------------------------------------------------------

@pytest.mark.parametrize("make, error, message", [
    (lambda: TensorDataset(), ValueError, "TensorDataset needs at least one tensor"),
    (lambda: TensorDataset(np.zeros(2), [1, 2]), TypeError,
     "TensorDataset: argument 1 is a list; expected a Tensor or a NumPy/CuPy array"),
    (lambda: TensorDataset(np.zeros(2), np.float64(1.0)), TypeError,
     "TensorDataset: argument 1 is a float64; expected a Tensor or a NumPy/CuPy array"),
    (lambda: TensorDataset(np.zeros(2), np.array(1.0)), ValueError,
     "TensorDataset: tensor 1 is 0-d; every tensor needs a first dimension N that indexes "
     "the samples"),
    (lambda: TensorDataset(np.zeros((2, 3)), np.zeros(3)), ValueError,
     "TensorDataset: tensors must share their first dimension, got shapes (2, 3), (3,)"),
    (lambda: TensorDataset(np.zeros(2), target_transform=abs), ValueError,
     "TensorDataset: target_transform needs a second tensor (the targets)"),
    (lambda: Subset(TensorDataset(np.zeros(4)), [[0, 1]]), TypeError,
     "Subset: indices must be a 1-d sequence of integers, got dtype int64 and shape (1, 2)"),
    (lambda: Subset(TensorDataset(np.zeros(4)), [0.0]), TypeError,
     "Subset: indices must be a 1-d sequence of integers, got dtype float64 and shape (1,)"),
    (lambda: Subset(TensorDataset(np.zeros(4)), [2, 4, 1]), IndexError,
     "Subset: indices must lie in [0, 4) for a dataset of 4 samples, got values from 1 to 4"),
    (lambda: Subset(TensorDataset(np.zeros(4)), [-1, 3]), IndexError,
     "Subset: indices must lie in [0, 4) for a dataset of 4 samples, got values from -1 to 3"),
    (lambda: ConcatDataset([]), ValueError, "ConcatDataset: needs at least one dataset"),
    (lambda: ConcatDataset([TensorDataset(np.zeros(2)), 7]), TypeError,
     "ConcatDataset: dataset 1 of type int has no __len__"),
    (lambda: ConcatDataset([TensorDataset(np.zeros(2))])[2], IndexError,
     "ConcatDataset: index 2 is out of range for 2 samples"),
    (lambda: ConcatDataset([TensorDataset(np.zeros(2))])[-3], IndexError,
     "ConcatDataset: index -3 is out of range for 2 samples"),
])
def test_dataset_errors_word_for_word(make, error, message):
    assert message_of(error, make) == message


def test_tensor_dataset_keeps_tensors_and_applies_both_transforms():
    from minigrad.tensor import Tensor
    x = Tensor(np.arange(6.0).reshape(3, 2))
    ds = TensorDataset(x, np.array([7, 8, 9]), transform=lambda t: t * 2,
                       target_transform=lambda t: t + 100)
    assert ds.tensors[0] is x and ds.tensors[1].dtype == np.int64 and len(ds) == 3
    image, label = ds[1]
    assert image.numpy().tolist() == [4.0, 6.0] and label.item() == 108
    only = TensorDataset(np.arange(3), np.arange(3) * 10, target_transform=lambda t: -t)
    assert only[2][0].item() == 2 and only[2][1].item() == -20


def test_subset_and_concat_read_the_right_samples():
    base = TensorDataset(np.arange(10, 15))
    sub = Subset(base, np.array([4, 0, 2], dtype=np.int32))
    assert sub.indices.dtype == np.int64 and len(sub) == 3
    assert [sub[i][0].item() for i in range(3)] == [14, 10, 12]
    assert sub[np.int64(1)][0].item() == 10
    assert len(Subset(base, [])) == 0
    cat = ConcatDataset([TensorDataset(np.arange(2)), TensorDataset(np.arange(3) + 10),
                         TensorDataset(np.arange(1) + 20)])
    assert cat.cumulative_sizes == [2, 5, 6] and len(cat) == 6
    assert [cat[i][0].item() for i in range(-6, 6)] == [0, 1, 10, 11, 12, 20] * 2


@pytest.mark.parametrize("lengths, error, message", [
    ([], TypeError, "random_split: lengths must be a non-empty list of ints or of fractions, "
                    "got []"),
    ([5, "5"], TypeError, "random_split: lengths must be a non-empty list of ints or of "
                          "fractions, got [5, '5']"),
    ([True, 9], TypeError, "random_split: lengths must be a non-empty list of ints or of "
                           "fractions, got [True, 9]"),
    ([1.5, -0.5], ValueError, "random_split: fractions must lie in [0, 1], got [1.5, -0.5]"),
    ([0.5, 0.6], ValueError, "random_split: lengths must be non-negative ints, or fractions "
                             "that sum to 1, got [0.5, 0.6]"),
    ([12, -2], ValueError, "random_split: lengths must be non-negative ints, or fractions "
                           "that sum to 1, got [12, -2]"),
    ([4, 5], ValueError, "random_split: lengths [4, 5] sum to 9, but the dataset has 10 "
                         "samples"),
])
def test_random_split_errors_word_for_word(lengths, error, message):
    assert message_of(error, lambda: random_split(TensorDataset(np.arange(10)), lengths)) \
        == message
    with pytest.raises(ValueError) as info:
        random_split(TensorDataset(np.arange(10)), [5, 5], seed=-1)
    assert str(info.value) == "random_split: seed must be a non-negative int or None, got -1"


def test_random_split_parts_follow_one_permutation():
    ds = TensorDataset(np.arange(10))
    perm = np.random.default_rng(4).permutation(10)
    parts = random_split(ds, [3, 0, 7], seed=4)
    assert [p.indices.tolist() for p in parts] == [perm[:3].tolist(), [], perm[3:].tolist()]
    parts = random_split(ds, [0.25, 0.25, 0.5], generator=np.random.default_rng(4))
    # floor(2.5), floor(2.5), floor(5) = 2, 2, 5; the one left over goes to the first part.
    assert [p.indices.tolist() for p in parts] == [perm[:3].tolist(), perm[3:5].tolist(),
                                                  perm[5:].tolist()]
    parts = random_split(ds, [4.0, 6.0], seed=4)
    assert [len(p) for p in parts] == [4, 6]
    parts = random_split(ds, [1.0, 0.0], seed=4)
    assert [len(p) for p in parts] == [10, 0]


# --- digits -------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: train_test_split(10, 1.5), "train_test_split: test_fraction must lie in [0, 1], "
                                        "got 1.5"),
    (lambda: train_test_split(10, -0.1), "train_test_split: test_fraction must lie in [0, 1], "
                                         "got -0.1"),
    (lambda: load_digits(split="val"), "load_digits: split must be None, 'train' or 'test', "
                                       "got 'val'"),
])
def test_digits_errors_word_for_word(call, message):
    assert message_of(ValueError, call) == message


def test_train_test_split_edges():
    train, test = train_test_split(4, 1.0, seed=2)
    assert train.tolist() == [] and sorted(test.tolist()) == [0, 1, 2, 3]
    train, test = train_test_split(4, 0.0, seed=2)
    assert test.tolist() == [] and train.tolist() == np.random.default_rng(2).permutation(4).tolist()
    train, test = train_test_split(0)
    assert train.tolist() == [] and test.tolist() == []


def test_load_digits_split_follows_train_test_split():
    images, labels = load_digits(normalize=False)
    train_idx, test_idx = train_test_split(len(labels), 0.25, 5)
    x, y = load_digits(normalize=False, split="test", test_fraction=0.25, seed=5)
    np.testing.assert_array_equal(x, images[test_idx])
    np.testing.assert_array_equal(y, labels[test_idx])
    x, y = load_digits(split="train", test_fraction=0.25, seed=5)
    np.testing.assert_array_equal(x, images[train_idx] / 16)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert images.max() == 16 and images.dtype == np.float32 and images.shape[1:] == (1, 8, 8)


# --- DistributedSampler -------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, message", [
    (dict(num_replicas=2, rank=2), ValueError,
     "DistributedSampler: rank must be in 0..1 (num_replicas=2), got 2"),
    (dict(num_replicas=0, rank=0), ValueError,
     "DistributedSampler: num_replicas must be >= 1, got 0"),
    (dict(num_replicas=2, rank=-1), ValueError, "DistributedSampler: rank must be >= 0, got -1"),
    (dict(num_replicas=2, rank=0, seed=-1), ValueError,
     "DistributedSampler: seed must be >= 0, got -1"),
    (dict(num_replicas=2.5, rank=0), TypeError,
     "DistributedSampler: num_replicas must be an int, got 2.5 of type float"),
    (dict(num_replicas=2, rank=True), TypeError,
     "DistributedSampler: rank must be an int, got True"),
    (dict(num_replicas=2, rank=0, seed="1"), TypeError,
     "DistributedSampler: seed must be an int, got '1' of type str"),
])
def test_distributed_sampler_errors_word_for_word(kwargs, error, message):
    assert message_of(error, lambda: DistributedSampler(range(4), **kwargs)) == message


def test_distributed_sampler_needs_a_group_or_both_numbers(monkeypatch):
    import minigrad.distributed as dist
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    for kwargs in (dict(), dict(num_replicas=2), dict(rank=0)):
        assert message_of(RuntimeError, lambda: DistributedSampler(range(4), **kwargs)) == (
            "DistributedSampler: num_replicas and rank were not given and no process group "
            "is initialised (call minigrad.distributed.init_process_group first)")
    sampler = DistributedSampler(range(4), 2, 0)
    assert message_of(ValueError, lambda: sampler.set_epoch(-1)) == (
        "DistributedSampler.set_epoch: epoch must be >= 0, got -1")


def reference_share(n, W, r, shuffle, seed, epoch, drop_last):
    """PyTorch's DistributedSampler.__iter__, with NumPy's permutation for torch.randperm."""
    order = (np.random.default_rng(seed + epoch).permutation(n) if shuffle
             else np.arange(n)).tolist()
    if drop_last and n % W:
        total = -(-(n - W) // W) * W        # ceil((n - W) / W) samples per rank
        order = order[:total]
    else:
        total = -(-n // W) * W
        while len(order) < total:             # pad by repeating the order from its start
            order += order[:total - len(order)]
    return order[r:total:W]


@pytest.mark.parametrize("n, W", [(10, 3), (2, 5), (9, 3), (7, 2), (1, 4), (11, 4)])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_shares_match_the_reference(n, W, shuffle, drop_last):
    for r in range(W):
        sampler = DistributedSampler(range(n), W, r, shuffle=shuffle, seed=5,
                                     drop_last=drop_last)
        sampler.set_epoch(2)
        expected = reference_share(n, W, r, shuffle, 5, 2, drop_last)
        assert list(sampler) == expected and len(sampler) == len(expected)
        assert sampler.epoch == 2 and sampler.seed == 5 and sampler.rank == r
        assert sampler.num_replicas == W and sampler.total_size == len(expected) * W
    assert DistributedSampler(range(n), W, 0).shuffle is True
    assert DistributedSampler(range(n), W, 0).drop_last is False


def test_distributed_sampler_asks_the_process_group_for_what_is_missing(monkeypatch):
    import minigrad.distributed as dist
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda: 3)
    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    sampler = DistributedSampler(range(7), shuffle=False)
    assert (sampler.num_replicas, sampler.rank) == (3, 1) and list(sampler) == [1, 4, 0]
    sampler = DistributedSampler(range(7), num_replicas=4, shuffle=False)
    assert (sampler.num_replicas, sampler.rank) == (4, 1) and list(sampler) == [1, 5]
    sampler = DistributedSampler(range(7), rank=2, shuffle=False)
    assert (sampler.num_replicas, sampler.rank) == (3, 2) and list(sampler) == [2, 5, 1]


def test_samplers_of_an_empty_dataset_yield_nothing():
    assert list(RandomSampler(range(0))) == [] and len(RandomSampler(range(0))) == 0
    sampler = DistributedSampler(range(0), 2, 1)
    assert list(sampler) == [] and len(sampler) == 0 and sampler.total_size == 0
