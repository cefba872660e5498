"""From indices to a batch: ``default_collate`` and the fetchers that both loaders use.

A batch of ``B`` samples is built in one of two ways:

- the fast path, for a plain ``TensorDataset`` with the default collation: the batch's
  indices form one integer array and each column is sliced with it at once (``x[idx]``), a
  single copy per column;
- the general path: ``dataset[i]`` for each index, then ``collate_fn`` (by default
  :func:`default_collate`, which stacks the samples field by field).

Both give the same batches. The same ``Fetcher`` runs in the main process (``num_workers=0``)
and in every worker process, so the two cannot drift apart. An ``IterableDataset`` has no
indices: its ``IterableFetcher`` takes the next B items of the dataset's iterator instead.

With ``batch_size=None`` (automatic batching off) a task is one index, or one item of the
stream, and ``collate_fn`` (by default :func:`default_convert`) sees that one sample.

Notation
--------
B   batch size, the number of samples collated together
S   the shape of one field of one sample; its batch has shape (B, *S)
"""
import numbers

import numpy as np

from minigrad import backend
from minigrad.data.dataset import IterableDataset, TensorDataset


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


def _collate_sequences(samples, device):
    """Transpose B samples of k fields each into k batches, keeping the container type."""
    first = samples[0]
    for s in samples:
        if not isinstance(s, (tuple, list)) or len(s) != len(first):
            raise TypeError(f"default_collate: sequence samples must all have "
                            f"{len(first)} fields")
    fields = [default_collate(list(column), device) for column in zip(*samples)]
    if isinstance(first, tuple) and hasattr(first, "_fields"):
        return type(first)(*fields)  # a namedtuple batch keeps its field names
    return fields if isinstance(first, list) else tuple(fields)


def default_collate(samples, device=None):
    """Stack a list of samples into one batch, field by field, as PyTorch's does.

    Parameters
    ----------
    samples : list of sample, length B >= 1
        All of the same structure. A field is a Tensor or array of shape S (the same S in
        every sample), a Python or NumPy number, a string, or a tuple, namedtuple, list or dict
        of fields, nested to any depth.
    device : str, optional
        ``'cpu'``, ``'cuda'`` or ``'cuda:N'``; the batch's Tensors are moved there.

    Returns
    -------
    batch
        The same structure with every leaf field replaced by a Tensor of shape (B, *S):
        Tensors, arrays and NumPy numbers keep their dtype; Python ``bool`` gives bool,
        ``int`` gives int64 and ``float`` gives float32 (minigrad's default float, where
        PyTorch gives float64). Strings stay a list of B strings. A tuple gives a tuple (PyTorch
        gives a list; both unpack the same), a namedtuple the same namedtuple, a list a list.

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
    if isinstance(first, (str, bytes)):
        return list(samples)
    if isinstance(first, (numbers.Real, *_NUMPY_NUMBERS)):
        return _wrap(_stack_numbers(samples), device)
    if isinstance(first, dict):
        for s in samples:
            if not isinstance(s, dict) or s.keys() != first.keys():
                raise TypeError("default_collate: dict samples must all have the keys "
                                f"{list(first.keys())}")
        return {k: default_collate([s[k] for s in samples], device) for k in first}
    if isinstance(first, (tuple, list)):
        return _collate_sequences(samples, device)
    raise TypeError(f"default_collate: cannot batch a field of type {type(first).__name__}; "
                    "expected a Tensor, an array, a number, a string, or a tuple, list or dict "
                    "of them")


def default_convert(sample):
    """Turn the arrays in one sample into Tensors, without a batch axis: PyTorch's default_convert.

    Parameters
    ----------
    sample : any
        A NumPy array or NumPy number, or a tuple, namedtuple, list or dict of them, nested to
        any depth; other values (Tensors, Python numbers, strings) pass through.

    Returns
    -------
    The same structure with each array of shape S replaced by a Tensor of shape S (dtype
    kept) and each NumPy number by a 0-d Tensor. As in PyTorch, Python numbers stay Python
    numbers and string arrays stay arrays; a tuple stays a tuple (PyTorch gives a list).

    Examples
    --------
    >>> x, y = default_convert((np.arange(3), 7))
    >>> x.shape, x.dtype == np.arange(3).dtype, y
    ((3,), True, 7)
    """
    if isinstance(sample, (np.ndarray, np.number, np.bool_)):
        if sample.dtype.kind in "USO":
            return sample  # Tensors hold numbers only
        return _wrap(np.asarray(sample), None)
    if backend.is_cuda_array(sample):
        return _wrap(sample, None)
    if isinstance(sample, dict):
        return {k: default_convert(v) for k, v in sample.items()}
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*(default_convert(v) for v in sample))
    if isinstance(sample, (tuple, list)):
        return type(sample)(default_convert(v) for v in sample)
    return sample


def to_device(batch, device):
    """``batch`` with every Tensor in it moved to ``device`` (the structure kept)."""
    from minigrad.tensor import Tensor

    if device is None:
        return batch
    if isinstance(batch, Tensor):
        return batch if batch.device == device else _wrap(batch.data, device)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


class Exhausted(Exception):
    """Raised by an ``IterableFetcher`` when its dataset's iterator has no batch left."""


def make_fetcher(dataset, collate_fn, auto_batch, drop_last):
    """The fetcher for ``dataset``: an ``IterableFetcher`` for a stream, else a ``Fetcher``."""
    if isinstance(dataset, IterableDataset):
        return IterableFetcher(dataset, collate_fn, auto_batch, drop_last)
    return Fetcher(dataset, collate_fn, auto_batch)


class Fetcher:
    """Turn a list of dataset indices into one batch, remembering what it was doing.

    Parameters
    ----------
    dataset : Dataset
        Any object with ``__getitem__``.
    collate_fn : callable, optional
        Called with the list of B samples; ``None`` means :func:`default_collate`, and with it
        a plain ``TensorDataset`` takes the fast path. With ``auto_batch=False`` it is called
        with one sample, and ``None`` means :func:`default_convert`.
    auto_batch : bool, default True
        False for ``batch_size=None``: a task is then one index, not a list of them.

    Attributes
    ----------
    stage : str or None
        What the last call was doing (``'dataset[7]'``, ``'collate_fn on indices [6, 7]'``),
        so that a worker's error report can name the sample that failed.
    """

    def __init__(self, dataset, collate_fn=None, auto_batch=True):
        self.dataset = dataset
        self.auto_batch = auto_batch
        if collate_fn is None:
            collate_fn = default_collate if auto_batch else default_convert
        self.collate_fn = collate_fn
        # A subclass that overrides __getitem__ (a transform, say) must see every sample.
        self.fast = (auto_batch and collate_fn is default_collate
                     and isinstance(dataset, TensorDataset)
                     and type(dataset).__getitem__ is TensorDataset.__getitem__
                     and getattr(dataset, "transform", None) is None
                     and getattr(dataset, "target_transform", None) is None)
        self._stage = None

    def reset(self):
        """Start a new epoch; an index needs no state, so there is nothing to do."""

    @property
    def stage(self):
        # Kept as (template, value) and formatted only when asked, i.e. after a failure.
        return None if self._stage is None else self._stage[0].format(self._stage[1])

    def __call__(self, indices):
        """The batch of ``dataset`` at ``indices`` (a sequence of B ints), on the host.

        With ``auto_batch=False``, ``indices`` is one index and the result is
        ``collate_fn(dataset[indices])``.
        """
        if not self.auto_batch:
            self._stage = ("dataset[{}]", indices)
            sample = self.dataset[indices]
            self._stage = ("collate_fn on the sample at index {}", indices)
            return self.collate_fn(sample)
        if self.fast:
            if len(indices) == 0:  # as default_collate says on the general path
                raise ValueError("default_collate: needs at least one sample")
            self._stage = ("indexing the tensors at {}", indices)
            columns = []
            for t in self.dataset.tensors:
                xp = backend.xp_of(t.data)
                columns.append(_wrap(t.data[xp.asarray(indices, dtype=np.int64)], None))
            return tuple(columns)
        samples = []
        for i in indices:
            self._stage = ("dataset[{}]", i)
            samples.append(self.dataset[i])
        self._stage = ("collate_fn on indices {}", indices)
        return self.collate_fn(samples)


class IterableFetcher:
    """Turn the next items of an ``IterableDataset``'s iterator into one batch.

    Parameters
    ----------
    dataset : IterableDataset
        Iterated from its start at the first call after ``reset()``.
    collate_fn : callable, optional
        As for ``Fetcher``: :func:`default_collate` of B items, or with ``auto_batch=False``
        :func:`default_convert` of one item.
    auto_batch : bool
        True: a task is B, the batch size. False: a task is None, one item.
    drop_last : bool
        A last batch of fewer than B items counts as no batch.

    Attributes
    ----------
    stage : str or None
        What the last call was doing, for error reports (``'next(iter(dataset)) for item 7'``).
    """

    def __init__(self, dataset, collate_fn, auto_batch, drop_last):
        self.dataset = dataset
        self.auto_batch = auto_batch
        if collate_fn is None:
            collate_fn = default_collate if auto_batch else default_convert
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.stage = None
        self.reset()

    def reset(self):
        """Forget the iterator, so that the next call iterates the dataset from its start."""
        self.iterator = None
        self.count = 0      # items taken from the iterator so far
        self.ended = False

    def _next_item(self):
        """The next item, or ``Exhausted`` once (and every time after) the iterator stops."""
        if self.iterator is None:
            self.stage = "iter(dataset)"
            self.iterator = iter(self.dataset)
        self.stage = f"next(iter(dataset)) for item {self.count}"
        try:
            item = next(self.iterator)
        except StopIteration:
            self.ended = True
            raise Exhausted from None
        self.count += 1
        return item

    def __call__(self, B):
        """The next batch: ``collate_fn`` of the next B items (of one item when B is None).

        Raises ``Exhausted`` when there is none: no item is left, or fewer than B with
        ``drop_last``.
        """
        if self.ended:
            raise Exhausted
        if not self.auto_batch:
            item = self._next_item()
            self.stage = f"collate_fn on item {self.count - 1}"
            return self.collate_fn(item)
        items = []
        try:
            while len(items) < B:
                items.append(self._next_item())
        except Exhausted:
            if not items or self.drop_last:
                raise
        self.stage = f"collate_fn on items {self.count - len(items)} to {self.count - 1}"
        return self.collate_fn(items)
