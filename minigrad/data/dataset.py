"""Datasets: indexable collections of samples, PyTorch's ``Dataset`` protocol.

A dataset is anything with ``len(ds)`` and ``ds[i]`` for ``0 <= i < len(ds)``. The
``DataLoader`` turns one into batches. ``TensorDataset`` is the common case: a few tensors
that share their first dimension, such as images and labels; the loader recognises it and
slices all of its rows for a batch with one fancy index instead of stacking samples one by one.

Notation
--------
N       number of samples, the shared first dimension
sample  what ``ds[i]`` returns; for ``TensorDataset`` a tuple with one row of each tensor
"""
import abc
import operator

import numpy as np


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

    def __init__(self, *tensors):
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

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

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
        indices = np.asarray(indices)
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
