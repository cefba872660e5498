"""From indices to a batch: ``default_collate`` and the ``Fetcher`` that both loaders use.

A batch of ``B`` samples is built in one of two ways:

- the fast path, for a plain ``TensorDataset`` with the default collation: the batch's
  indices form one integer array and each column is sliced with it at once (``x[idx]``), a
  single copy per column;
- the general path: ``dataset[i]`` for each index, then ``collate_fn`` (by default
  :func:`default_collate`, which stacks the samples field by field).

Both give the same batches. The same ``Fetcher`` runs in the main process (``num_workers=0``)
and in every worker process, so the two cannot drift apart.

Notation
--------
B   batch size, the number of samples collated together
S   the shape of one field of one sample; its batch has shape (B, *S)
"""
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


class Fetcher:
    """Turn a list of dataset indices into one batch, remembering what it was doing.

    Parameters
    ----------
    dataset : Dataset
        Any object with ``__getitem__``.
    collate_fn : callable, optional
        Called with the list of B samples; ``None`` means :func:`default_collate`, and with it
        a plain ``TensorDataset`` takes the fast path.

    Attributes
    ----------
    stage : str or None
        What the last call was doing (``'dataset[7]'``, ``'collate_fn on indices [6, 7]'``),
        so that a worker's error report can name the sample that failed.
    """

    def __init__(self, dataset, collate_fn=None):
        self.dataset = dataset
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        # A subclass that overrides __getitem__ (a transform, say) must see every sample.
        self.fast = (collate_fn is None and isinstance(dataset, TensorDataset)
                     and type(dataset).__getitem__ is TensorDataset.__getitem__)
        self._stage = None

    @property
    def stage(self):
        # Kept as (template, value) and formatted only when asked, i.e. after a failure.
        return None if self._stage is None else self._stage[0].format(self._stage[1])

    def __call__(self, indices):
        """The batch of ``dataset`` at ``indices`` (a sequence of B ints), on the host."""
        if self.fast:
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
