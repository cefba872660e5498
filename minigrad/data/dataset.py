"""Datasets: indexable collections of samples, PyTorch's ``Dataset`` protocol.

A dataset is anything with ``len(ds)`` and ``ds[i]`` for ``0 <= i < len(ds)``. The
``DataLoader`` turns one into batches. ``TensorDataset`` is the common case: a few tensors
that share their first dimension, such as images and labels; the loader recognises it and
slices all of its rows for a batch with one fancy index instead of stacking samples one by one.
``Subset``, ``ConcatDataset`` and ``random_split`` build datasets out of datasets.

An ``IterableDataset`` is the other kind PyTorch has: a stream defined by ``__iter__`` alone,
for data read in order (lines of a file, records from a socket, samples drawn on the fly). It
has no indices, so the loader cannot sample or shuffle it; it batches consecutive items
instead. ``ChainDataset`` plays the stream of several of them one after the other.

Notation
--------
N       number of samples, the shared first dimension
sample  what ``ds[i]`` returns; for ``TensorDataset`` a tuple with one row of each tensor
"""
import abc
import bisect
import itertools
import math
import numbers
import operator

import numpy as np

from minigrad.data.sampler import as_index_array, epoch_generator, make_generator


class Dataset(abc.ABC):
    """A map-style dataset: ``len(ds)`` samples, read with ``ds[i]``.

    Subclasses implement ``__getitem__`` and ``__len__``. A sample may be a Tensor, a NumPy
    array, a Python or NumPy number, or a tuple, list or dict of those; the ``DataLoader``
    batches each field separately (see :func:`minigrad.data.default_collate`).
    """

    @abc.abstractmethod
    def __getitem__(self, index):
        """Return sample ``index``, for ``0 <= index < len(self)``."""

    @abc.abstractmethod
    def __len__(self):
        """Return the number of samples."""


class IterableDataset(abc.ABC):
    """A dataset defined by iteration: ``iter(ds)`` yields its samples in order.

    Subclasses implement ``__iter__``, and may implement ``__len__`` so that ``len(loader)``
    works. With ``DataLoader(ds, num_workers=K)`` every worker process iterates its own copy
    of ``ds``, so a dataset that does not split its work yields every sample K times; inside
    ``__iter__``, :func:`minigrad.data.get_worker_info` tells a worker its ``id`` and ``K``
    (and is None in the main process), as in PyTorch.

    It is not a subclass of :class:`Dataset`, whose ``__getitem__`` and ``__len__`` are
    required; ``ds1 + ds2`` gives a ``ChainDataset``.

    Examples
    --------
    >>> from minigrad.data import DataLoader, get_worker_info
    >>> class Range(IterableDataset):
    ...     def __init__(self, N):
    ...         self.N = N
    ...     def __iter__(self):
    ...         info = get_worker_info()
    ...         first, step = (0, 1) if info is None else (info.id, info.num_workers)
    ...         return iter(range(first, self.N, step))
    >>> [b.tolist() for b in DataLoader(Range(5), batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """

    @abc.abstractmethod
    def __iter__(self):
        """Return an iterator over the samples."""

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several iterable datasets played one after the other, without storing them.

    Parameters
    ----------
    datasets : iterable of IterableDataset
        Iterated in order each time the chain is; read into a list here.

    Raises
    ------
    TypeError
        When one of ``datasets`` is not an ``IterableDataset``, naming its position; and from
        ``len()``, when one of them has no ``__len__``.

    Examples
    --------
    >>> class Letters(IterableDataset):
    ...     def __init__(self, text):
    ...         self.text = text
    ...     def __iter__(self):
    ...         return iter(self.text)
    >>> list(ChainDataset([Letters("ab"), Letters("c")]))
    ['a', 'b', 'c']
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        for k, ds in enumerate(self.datasets):
            if not isinstance(ds, IterableDataset):
                raise TypeError(f"ChainDataset: dataset {k} is a {type(ds).__name__}; "
                                "expected an IterableDataset")

    def __iter__(self):
        return itertools.chain.from_iterable(self.datasets)

    def __len__(self):
        for k, ds in enumerate(self.datasets):
            if not hasattr(ds, "__len__"):
                raise TypeError(f"ChainDataset: len() needs the length of every dataset, and "
                                f"dataset {k} of type {type(ds).__name__} has no __len__")
        return sum(len(ds) for ds in self.datasets)


def _as_tensor(value, position):
    """A Tensor for ``value``: Tensors pass through, arrays are wrapped with their dtype kept."""
    from minigrad.tensor import Tensor

    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray) or hasattr(value, "__cuda_array_interface__"):
        return Tensor(value, dtype=value.dtype)
    raise TypeError(f"TensorDataset: argument {position} is a {type(value).__name__}; "
                    "expected a Tensor or a NumPy/CuPy array")


class TensorDataset(Dataset):
    """Samples made of one row of each of several tensors.

    Parameters
    ----------
    *tensors : Tensor or ndarray, shapes (N, ...) each
        The columns of the dataset, e.g. images (N, C, H, W) and labels (N,). Arrays are
        wrapped into Tensors with their dtype kept, so integer labels stay int64.
    transform : callable, optional
        Applied to the first column of each sample (the image), as torchvision's datasets do,
        e.g. a :mod:`minigrad.data.transforms` pipeline. With a transform the ``DataLoader``
        reads samples one by one instead of slicing the rows of a batch at once.
    target_transform : callable, optional
        Applied to the second column (the label).

    Attributes
    ----------
    tensors : tuple of Tensor
        The columns, in the order given.

    Raises
    ------
    ValueError
        When no tensor is given, a tensor is 0-d, or the first dimensions differ.

    Examples
    --------
    >>> import numpy as np
    >>> ds = TensorDataset(np.zeros((5, 3), np.float32), np.arange(5))
    >>> len(ds), ds[2][0].shape, ds[2][1].item()
    (5, (3,), 2)
    """

    def __init__(self, *tensors, transform=None, target_transform=None):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(_as_tensor(t, i) for i, t in enumerate(tensors))
        for i, t in enumerate(tensors):
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {i} is 0-d; every tensor needs a "
                                 "first dimension N that indexes the samples")
        N = tensors[0].shape[0]
        if any(t.shape[0] != N for t in tensors):
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"TensorDataset: tensors must share their first dimension, "
                             f"got shapes {shapes}")
        self.tensors = tensors
        if target_transform is not None and len(tensors) < 2:
            raise ValueError("TensorDataset: target_transform needs a second tensor (the targets)")
        self.transform, self.target_transform = transform, target_transform

    def __getitem__(self, index):
        sample = [t[index] for t in self.tensors]
        if self.transform is not None:
            sample[0] = self.transform(sample[0])
        if self.target_transform is not None:
            sample[1] = self.target_transform(sample[1])
        return tuple(sample)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    Parameters
    ----------
    dataset : Dataset
        The full dataset.
    indices : sequence of int, shape (M,)
        Positions in ``dataset``; each must satisfy ``0 <= i < len(dataset)``.

    Examples
    --------
    >>> import numpy as np
    >>> sub = Subset(TensorDataset(np.arange(10)), [7, 3])
    >>> len(sub), sub[0][0].item()
    (2, 7)
    """

    def __init__(self, dataset, indices):
        indices = as_index_array(indices)
        if indices.ndim != 1 or not (indices.size == 0 or np.issubdtype(indices.dtype, np.integer)):
            raise TypeError(f"Subset: indices must be a 1-d sequence of integers, got "
                            f"dtype {indices.dtype} and shape {indices.shape}")
        N = len(dataset)
        if indices.size and (indices.min() < 0 or indices.max() >= N):
            raise IndexError(f"Subset: indices must lie in [0, {N}) for a dataset of {N} "
                             f"samples, got values from {indices.min()} to {indices.max()}")
        self.dataset = dataset
        self.indices = indices.astype(np.int64)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[operator.index(index)])]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several datasets one after the other: sample ``i`` of the first, then of the second, ...

    Parameters
    ----------
    datasets : iterable of Dataset, at least one
        Each with ``len()``; their lengths are read once, here.

    Attributes
    ----------
    cumulative_sizes : list of int
        ``cumulative_sizes[k]`` is the number of samples in datasets 0..k, so sample ``i``
        lies in the first dataset k with ``i < cumulative_sizes[k]``.

    Examples
    --------
    >>> ds = ConcatDataset([TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 12))])
    >>> len(ds), ds[3][0].item(), ds[-1][0].item()
    (5, 10, 11)
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: needs at least one dataset")
        for k, ds in enumerate(self.datasets):
            if not hasattr(ds, "__len__"):
                raise TypeError(f"ConcatDataset: dataset {k} of type {type(ds).__name__} has "
                                "no __len__")
        self.cumulative_sizes = list(itertools.accumulate(len(ds) for ds in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        index = operator.index(index)
        N = len(self)
        if not -N <= index < N:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {N} samples")
        if index < 0:
            index += N
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][index - start]


def _split_lengths(N, lengths):
    """Integer lengths summing to N; fractions summing to 1 are turned into counts first."""
    lengths = list(lengths)
    if not lengths or not all(isinstance(n, numbers.Real) and not isinstance(n, bool)
                              for n in lengths):
        raise TypeError(f"random_split: lengths must be a non-empty list of ints or of "
                        f"fractions, got {lengths!r}")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        # PyTorch's rule: floor(N * f) each, then the remainder one by one from the first part.
        if any(not 0 <= f <= 1 for f in lengths):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {lengths}")
        counts = [int(math.floor(N * f)) for f in lengths]
        for k in range(N - sum(counts)):
            counts[k % len(counts)] += 1
        return counts
    if any(not float(n).is_integer() or n < 0 for n in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints, or fractions that "
                         f"sum to 1, got {lengths}")
    counts = [int(n) for n in lengths]
    if sum(counts) != N:
        raise ValueError(f"random_split: lengths {counts} sum to {sum(counts)}, but the dataset "
                         f"has {N} samples")
    return counts


def random_split(dataset, lengths, generator=None, *, seed=None):
    """Split ``dataset`` into disjoint random ``Subset`` parts of the given lengths.

    Parameters
    ----------
    dataset : Dataset, N samples
    lengths : sequence of int, or of float
        Either the sizes of the parts (summing to N) or fractions (summing to 1): each part
        then gets ``floor(N * f)`` samples and the ``N - sum`` left over go one each to the
        parts in order, as in PyTorch.
    generator : numpy.random.Generator, optional
    seed : int, optional
        The permutation's randomness: the same seed gives the same split. Without either, one
        draw from NumPy's global generator (``mg.manual_seed``) seeds it.

    Returns
    -------
    list of Subset
        Part k holds positions ``perm[sum(lengths[:k]) : sum(lengths[:k+1])]`` of one random
        permutation ``perm`` of 0..N-1.

    Examples
    --------
    >>> train, test = random_split(TensorDataset(np.arange(10)), [0.7, 0.3], seed=0)
    >>> len(train), len(test), sorted(train.indices.tolist() + test.indices.tolist())[:3]
    (7, 3, [0, 1, 2])
    """
    N = len(dataset)
    counts = _split_lengths(N, lengths)
    rng = epoch_generator(make_generator(generator, seed, "random_split"))
    perm = rng.permutation(N)
    stops = list(itertools.accumulate(counts))
    return [Subset(dataset, perm[stop - n:stop]) for stop, n in zip(stops, counts)]
