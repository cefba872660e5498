"""Batching: ``DataLoader`` walks a dataset in (optionally shuffled) batches of Tensors.

Each epoch visits every sample once, in index order or in a seeded random order, and groups
the visits into batches of ``B`` samples. A batch is built in one of two ways:

- the fast path, for a plain ``TensorDataset``: the batch's indices form one integer array,
  and each column is sliced with it at once (``x[idx]``), a single copy per column;
- the general path, for any other dataset: ``dataset[i]`` for each index, then
  :func:`default_collate` stacks the samples field by field.

Both give the same batches. A batch is a fresh Tensor (or a tuple / dict of them) that does not
require grad; integer fields stay integers (int64 labels stay int64).

Notation
--------
N   number of samples, ``len(dataset)``
B   batch size; the last batch has ``N % B`` samples unless ``drop_last`` drops it
"""
import math
import numbers

import numpy as np

from minigrad import backend
from minigrad.data.dataset import TensorDataset


def _wrap(array, device):
    """A Tensor that owns ``array`` (dtype kept), moved to ``device`` when one is given."""
    from minigrad.tensor import Tensor

    if device is not None:
        array = backend.to_device(array, device)
    return Tensor(array, dtype=array.dtype)


def _is_array(value):
    from minigrad.tensor import Tensor

    return isinstance(value, (Tensor, np.ndarray)) or backend.is_cuda_array(value)


def _stack_arrays(samples, device):
    """Stack Tensors or arrays of one shape S into a Tensor of shape (B, *S)."""
    from minigrad.tensor import Tensor

    for s in samples:
        if not _is_array(s):
            raise TypeError(f"default_collate: a field is a {type(samples[0]).__name__} in one "
                            f"sample and a {type(s).__name__} in another")
    arrays = [s.data if isinstance(s, Tensor) else s for s in samples]
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"default_collate: cannot stack fields of different shapes "
                         f"{sorted(shapes)}; every sample must have the same shape")
    xp = backend.xp_of(*arrays)
    return _wrap(xp.stack(arrays), device)


_NUMPY_NUMBERS = (np.number, np.bool_)


def _stack_numbers(samples):
    """A 1-d array of numbers: NumPy's dtype for NumPy scalars, else bool, int64 or float32."""
    if not all(isinstance(s, (numbers.Real, *_NUMPY_NUMBERS)) for s in samples):
        kinds = sorted({type(s).__name__ for s in samples})
        raise TypeError(f"default_collate: a field mixes numbers with other types {kinds}")
    if all(isinstance(s, _NUMPY_NUMBERS) for s in samples):
        return np.array(samples, dtype=np.result_type(*samples))
    if all(isinstance(s, (bool, np.bool_)) for s in samples):
        return np.array(samples, dtype=np.bool_)
    if all(isinstance(s, numbers.Integral) for s in samples):
        return np.array(samples, dtype=np.int64)
    return np.array(samples, dtype=np.float32)


def default_collate(samples, device=None):
    """Stack a list of samples into one batch, field by field.

    Parameters
    ----------
    samples : list of sample, length B >= 1
        All of the same structure. A field is a Tensor or array of shape S (the same S in
        every sample), a Python or NumPy number, or a tuple, list or dict of fields.
    device : str, optional
        ``'cpu'``, ``'cuda'`` or ``'cuda:N'``; the batch's Tensors are moved there.

    Returns
    -------
    batch
        The same structure with every leaf field replaced by a Tensor of shape (B, *S):
        Tensors, arrays and NumPy numbers keep their dtype; Python ``bool`` gives bool,
        ``int`` gives int64 and ``float`` gives float32 (minigrad's default float). Tuples
        and lists give tuples.

    Raises
    ------
    TypeError
        A field of another type, or samples whose structures differ.
    ValueError
        No samples, or fields whose shapes differ between samples.

    Examples
    --------
    >>> b = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
    >>> b[0].shape, b[1].tolist()
    ((2, 3), [1, 0])
    """
    if not samples:
        raise ValueError("default_collate: needs at least one sample")
    first = samples[0]
    if _is_array(first):
        return _stack_arrays(samples, device)
    if isinstance(first, (numbers.Real, *_NUMPY_NUMBERS)):
        return _wrap(_stack_numbers(samples), device)
    if isinstance(first, dict):
        for s in samples:
            if not isinstance(s, dict) or s.keys() != first.keys():
                raise TypeError("default_collate: dict samples must all have the keys "
                                f"{list(first.keys())}")
        return {k: default_collate([s[k] for s in samples], device) for k in first}
    if isinstance(first, (tuple, list)):
        for s in samples:
            if not isinstance(s, (tuple, list)) or len(s) != len(first):
                raise TypeError(f"default_collate: sequence samples must all have "
                                f"{len(first)} fields")
        return tuple(default_collate(list(fields), device) for fields in zip(*samples))
    raise TypeError(f"default_collate: cannot batch a field of type {type(first).__name__}; "
                    "expected a Tensor, an array, a number, or a tuple, list or dict of them")


class DataLoader:
    """Iterate over a dataset in batches, PyTorch's ``DataLoader`` without worker processes.

    Parameters
    ----------
    dataset : Dataset
        Any object with ``__len__`` and ``__getitem__``. A ``TensorDataset`` takes the fast
        path: one fancy index per column per batch.
    batch_size : int, default 1
        Samples per batch, ``B >= 1``.
    shuffle : bool, default False
        Visit the samples in a new random order every epoch.
    drop_last : bool, default False
        Drop the last batch when it has fewer than ``B`` samples.
    seed : int, optional
        Seed of the loader's own generator, created once here, so a loader built with the
        same seed gives the same sequence of epochs. Without it, each epoch's order is drawn
        from NumPy's global generator, which ``mg.manual_seed`` seeds.
    device : str, optional
        ``'cpu'``, ``'cuda'`` or ``'cuda:N'``: every batch is moved there.

    Yields
    ------
    batch
        For a ``TensorDataset`` of k tensors, a tuple of k Tensors of shapes (B, ...);
        otherwise ``default_collate`` of the samples.

    Raises
    ------
    TypeError, ValueError
        A dataset without ``__len__``/``__getitem__``, or a bad batch size, seed or device.

    Examples
    --------
    >>> ds = TensorDataset(np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5))
    >>> loader = DataLoader(ds, batch_size=2)
    >>> len(loader), [y.tolist() for _, y in loader]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 device=None):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: dataset of type {type(dataset).__name__} needs "
                            "__len__ and __getitem__")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                                 or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative int or None, got {seed!r}")
        if device is not None:
            device = backend.parse_device(device)
            backend.module_for(device)  # fail now, not at the first batch, when CUDA is missing
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.device = device
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def __len__(self):
        N, B = len(self.dataset), self.batch_size
        return N // B if self.drop_last else math.ceil(N / B)

    def _epoch_order(self):
        N = len(self.dataset)
        if not self.shuffle:
            return np.arange(N, dtype=np.int64)
        rng = self._rng
        if rng is None:
            # One draw from the global generator seeds this epoch, so mg.manual_seed fixes it.
            rng = np.random.default_rng(np.random.randint(0, 2**63 - 1, dtype=np.int64))
        return rng.permutation(N).astype(np.int64)

    def _fast_path(self):
        # A subclass that overrides __getitem__ (a transform, say) must see every sample.
        return isinstance(self.dataset, TensorDataset) \
            and type(self.dataset).__getitem__ is TensorDataset.__getitem__

    def __iter__(self):
        # The order is drawn here, not at the first next(), so that iter() alone fixes the epoch.
        order = self._epoch_order()
        return self._batches(order)

    def _batches(self, order):
        B = self.batch_size
        stop = len(self) * B if self.drop_last else len(order)
        fast = self._fast_path()
        for start in range(0, stop, B):
            idx = order[start:start + B]
            if fast:
                columns = []
                for t in self.dataset.tensors:
                    xp = backend.xp_of(t.data)
                    columns.append(_wrap(t.data[xp.asarray(idx)], self.device))
                yield tuple(columns)
            else:
                yield default_collate([self.dataset[int(i)] for i in idx], self.device)
