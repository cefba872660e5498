"""The shipped handwritten digits and the reproducible train/test split."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigrad.data import load_digits, train_test_split

# Images per digit 0..9 in the UCI test part (optdigits.tes).
CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]

# The first sample of the CSV, a 0.
FIRST_IMAGE = [[0, 0, 5, 13, 9, 1, 0, 0],
               [0, 0, 13, 15, 10, 15, 5, 0],
               [0, 3, 15, 2, 0, 11, 8, 0],
               [0, 4, 12, 0, 0, 8, 8, 0],
               [0, 5, 8, 0, 0, 9, 8, 0],
               [0, 4, 11, 0, 1, 12, 7, 0],
               [0, 2, 14, 5, 10, 12, 0, 0],
               [0, 0, 6, 13, 10, 0, 0, 0]]


def test_digits_shapes_dtypes_and_counts():
    images, labels = load_digits()
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == CLASS_COUNTS
    assert images.min() == 0.0 and images.max() == 1.0


def test_digits_values_are_the_uci_counts():
    raw, labels = load_digits(normalize=False)
    assert raw.dtype == np.float32
    assert raw[0, 0].tolist() == FIRST_IMAGE and labels[0] == 0
    assert labels[:10].tolist() == list(range(10))
    assert set(np.unique(raw).tolist()) == set(range(17))
    np.testing.assert_array_equal(load_digits()[0] * 16, raw)


def test_digits_images_differ_by_class():
    images, labels = load_digits()
    means = np.stack([images[labels == k].mean(0) for k in range(10)])
    gaps = np.abs(means[:, None] - means[None]).reshape(10, 10, -1).max(-1)
    assert (gaps[~np.eye(10, dtype=bool)] > 0.2).all()


@given(n=st.integers(0, 300), fraction=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_split_is_a_partition(n, fraction, seed):
    train, test = train_test_split(n, fraction, seed)
    assert train.dtype == np.int64 and test.dtype == np.int64
    assert len(test) == round(n * fraction)
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(n))


def test_split_is_reproducible():
    a = train_test_split(100, 0.25, seed=4)
    b = train_test_split(100, 0.25, seed=4)
    c = train_test_split(100, 0.25, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])


def test_load_digits_split_argument():
    images, labels = load_digits()
    x_train, y_train = load_digits(split="train", test_fraction=0.3, seed=2)
    x_test, y_test = load_digits(split="test", test_fraction=0.3, seed=2)
    train_idx, test_idx = train_test_split(1797, 0.3, seed=2)
    assert len(y_test) == 539 and len(y_train) == 1797 - 539
    np.testing.assert_array_equal(x_train, images[train_idx])
    np.testing.assert_array_equal(y_test, labels[test_idx])
    # A random fifth of the digits still holds every class.
    assert (np.bincount(y_test, minlength=10) > 30).all()


@pytest.mark.parametrize("call, error, message", [
    (lambda: load_digits(split="valid"), ValueError, "split must be None, 'train' or 'test'"),
    (lambda: train_test_split(-1), ValueError, "n must be a non-negative int"),
    (lambda: train_test_split(10, 1.5), ValueError, r"test_fraction must lie in \[0, 1\]"),
])
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()
