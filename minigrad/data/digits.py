"""The handwritten digits shipped with minigrad, and a reproducible train/test split.

The images are the 1,797 digits of the UCI "Optical Recognition of Handwritten Digits" data
(Alpaydin & Kaynak, 1998; CC BY 4.0, see ``DIGITS_LICENSE`` beside this file): 32x32 bitmaps
cut into 4x4 blocks whose counts of set pixels give an 8x8 image with values 0..16. They fit in
a 45 kB file, so every image demo can train offline in seconds.

Notation
--------
N       number of images, 1797
H, W    image height and width, 8 and 8
K       number of classes, 10 (the digits 0..9)
"""
import importlib.resources
import numbers

import numpy as np

DIGITS_FILE = "digits.npz"
DIGITS_MAX = 16  # each pixel counts the set pixels of a 4x4 block


def train_test_split(n, test_fraction=0.2, seed=0):
    """Split the positions ``0 .. n-1`` into shuffled train and test index arrays.

    The same ``(n, test_fraction, seed)`` always gives the same split, on every machine:
    the permutation comes from NumPy's PCG64 generator seeded with ``seed``.

    Parameters
    ----------
    n : int
        Number of samples.
    test_fraction : float, default 0.2
        Share of the samples in the test part, ``0 <= test_fraction <= 1``; the test part
        has ``round(n * test_fraction)`` samples.
    seed : int, default 0
        Seed of the permutation.

    Returns
    -------
    train_idx : ndarray of int64, shape (n - n_test,)
    test_idx : ndarray of int64, shape (n_test,)
        Disjoint; together they hold every position once.

    Examples
    --------
    >>> train, test = train_test_split(10, 0.3, seed=1)
    >>> len(train), len(test), sorted(np.concatenate([train, test]).tolist()) == list(range(10))
    (7, 3, True)
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"train_test_split: n must be a non-negative int, got {n!r}")
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"train_test_split: test_fraction must lie in [0, 1], "
                         f"got {test_fraction!r}")
    n_test = int(round(n * test_fraction))
    order = np.random.default_rng(seed).permutation(n).astype(np.int64)
    return (order[n_test:], order[:n_test])


def load_digits(normalize=True, split=None, test_fraction=0.2, seed=0):
    """Load the 8x8 handwritten digits as NumPy arrays.

    Parameters
    ----------
    normalize : bool, default True
        Divide the pixel values 0..16 by 16, so that they lie in [0, 1].
    split : {None, 'train', 'test'}, default None
        None returns all N images in the file's order; 'train' and 'test' return the two
        parts of ``train_test_split(N, test_fraction, seed)``.
    test_fraction : float, default 0.2
        Share of the images in the test part (only used with ``split``).
    seed : int, default 0
        Seed of the split (only used with ``split``).

    Returns
    -------
    images : ndarray of float32, shape (N, 1, H, W)
        NCHW with one channel; in [0, 1] when normalized, else the raw counts 0..16.
    labels : ndarray of int64, shape (N,)
        The digit shown, 0..9.

    Examples
    --------
    >>> x, y = load_digits()
    >>> x.shape, x.dtype, y.dtype, float(x.max())
    ((1797, 1, 8, 8), dtype('float32'), dtype('int64'), 1.0)
    >>> len(load_digits(split='train')[0]) + len(load_digits(split='test')[0])
    1797
    """
    if split not in (None, "train", "test"):
        raise ValueError(f"load_digits: split must be None, 'train' or 'test', got {split!r}")
    resource = importlib.resources.files(__package__).joinpath(DIGITS_FILE)
    with resource.open("rb") as f, np.load(f, allow_pickle=False) as archive:
        raw_images = archive["images"]
        labels = archive["labels"].astype(np.int64)
    N, H, W = raw_images.shape
    images = raw_images.reshape(N, 1, H, W).astype(np.float32)
    if normalize:
        images /= DIGITS_MAX
    if split is not None:
        train_idx, test_idx = train_test_split(N, test_fraction, seed)
        idx = train_idx if split == "train" else test_idx
        images, labels = images[idx], labels[idx]
    return (images, labels)
