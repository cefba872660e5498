"""Samplers: the order in which a ``DataLoader`` visits a dataset, PyTorch's ``torch.utils.data``.

A sampler is an iterable of dataset indices; a batch sampler is an iterable of lists of them.
The loader asks its batch sampler for the next list of indices and fetches that batch.

=====================  ================================================================
sampler                yields, per epoch
=====================  ================================================================
SequentialSampler      0, 1, ..., N-1
RandomSampler          a permutation of 0..N-1 (or ``num_samples`` uniform draws)
SubsetRandomSampler    a permutation of the given indices
WeightedRandomSampler  ``num_samples`` draws of i with probability w_i / sum(w)
BatchSampler           lists of B indices taken in turn from another sampler
=====================  ================================================================

Randomness. Every random sampler takes ``generator=`` (a ``numpy.random.Generator``,
minigrad's stand-in for ``torch.Generator``) or ``seed=`` (an int, turned into a generator
once, at construction). A generator is used as it is, so successive epochs differ but the
whole sequence of epochs is fixed by its seed. Without either, each epoch draws a fresh seed
from NumPy's global generator, which ``mg.manual_seed`` seeds, as PyTorch's samplers draw from
``torch``'s global generator. Each ``iter()`` draws its whole epoch at once, so calling
``iter()`` fixes the order even if other random draws happen before the first batch.

Notation
--------
N   number of samples in the dataset, ``len(data_source)``
M   number of indices a sampler yields per epoch, ``len(sampler)``
B   batch size
"""
import abc
import numbers

import numpy as np


def make_generator(generator, seed, who):
    """The ``numpy.random.Generator`` behind ``generator=`` / ``seed=``, or None for the global.

    Parameters
    ----------
    generator : numpy.random.Generator or None
    seed : int or None
        A non-negative int; a generator is made from it here, once.
    who : str
        The caller's name, for error messages.
    """
    if generator is not None and seed is not None:
        raise ValueError(f"{who}: give generator= or seed=, not both")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"{who}: seed must be a non-negative int or None, got {seed!r}")
        return np.random.default_rng(int(seed))
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"{who}: generator must be a numpy.random.Generator (e.g. "
                        f"numpy.random.default_rng(0)), got a {type(generator).__name__}")
    return generator


def epoch_generator(generator):
    """``generator`` itself, or a new one seeded by one draw from NumPy's global generator."""
    if generator is not None:
        return generator
    return np.random.default_rng(np.random.randint(0, 2**63 - 1, dtype=np.int64))


def as_index_array(values):
    """A NumPy array of ``values``: a list, an array or a Tensor (read through ``.numpy()``)."""
    if hasattr(values, "numpy") and not isinstance(values, np.ndarray):
        values = values.numpy()
    return np.asarray(values)


def _check_count(value, name, who):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")
    return int(value)


class Sampler(abc.ABC):
    """Base class of samplers: ``iter(sampler)`` yields indices, ``len(sampler)`` counts them.

    A subclass implements ``__iter__`` and, when it knows its length, ``__len__``. Any iterable
    of ints may be passed to a ``DataLoader`` as ``sampler=``; this class only names the protocol.
    """

    @abc.abstractmethod
    def __iter__(self):
        """An iterator over the indices of one epoch."""


class SequentialSampler(Sampler):
    """The indices 0, 1, ..., N-1 in order.

    Parameters
    ----------
    data_source : Dataset
        Anything with ``len()``; N = ``len(data_source)`` is read at every epoch.
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """The indices of ``data_source`` in a random order, with or without replacement.

    Without replacement, an epoch is a permutation of 0..N-1; when ``num_samples`` exceeds N,
    whole permutations follow each other and the last is cut short, so every index appears
    ``M // N`` or ``M // N + 1`` times. With replacement, an epoch is M independent uniform
    draws from 0..N-1.

    Parameters
    ----------
    data_source : Dataset
        Anything with ``len()``.
    replacement : bool, default False
        Draw with replacement.
    num_samples : int, optional
        M, the indices per epoch; N by default.
    generator : numpy.random.Generator, optional
    seed : int, optional
        See the module docstring; at most one of the two.

    Examples
    --------
    >>> sorted(RandomSampler(range(5), seed=0))
    [0, 1, 2, 3, 4]
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None, *,
                 seed=None):
        if not isinstance(replacement, (bool, np.bool_)):
            raise TypeError(f"RandomSampler: replacement must be a bool, got {replacement!r}")
        if num_samples is not None:
            _check_count(num_samples, "num_samples", "RandomSampler")
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.generator = make_generator(generator, seed, "RandomSampler")

    @property
    def num_samples(self):
        """M: ``num_samples`` when given, else the current ``len(data_source)``."""
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __iter__(self):
        N, M = len(self.data_source), self.num_samples
        if N == 0 and M > 0:
            raise ValueError(f"RandomSampler: cannot draw num_samples={M} indices from an "
                             "empty dataset")
        rng = epoch_generator(self.generator)
        if self.replacement:
            order = rng.integers(0, N, size=M)
        else:
            rounds = [rng.permutation(N) for _ in range(-(-M // N) if N else 0)]
            order = np.concatenate(rounds + [np.empty(0, np.int64)])[:M]
        return iter(order.astype(np.int64).tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a new random order every epoch, without replacement.

    Parameters
    ----------
    indices : sequence of int, shape (M,)
        Dataset positions, e.g. a validation split.
    generator : numpy.random.Generator, optional
    seed : int, optional
        See the module docstring; at most one of the two.
    """

    def __init__(self, indices, generator=None, *, seed=None):
        indices = as_index_array(indices)
        if indices.ndim != 1 or not (indices.size == 0 or np.issubdtype(indices.dtype, np.integer)):
            raise TypeError(f"SubsetRandomSampler: indices must be a 1-d sequence of integers, "
                            f"got dtype {indices.dtype} and shape {indices.shape}")
        self.indices = indices.astype(np.int64)
        self.generator = make_generator(generator, seed, "SubsetRandomSampler")

    def __iter__(self):
        rng = epoch_generator(self.generator)
        return iter(self.indices[rng.permutation(len(self.indices))].tolist())

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``.

    P(i) = w_i / sum_j w_j for each draw with replacement. Without replacement, each draw
    takes i with probability w_i over the sum of the weights not yet drawn; this is done at
    once with exponential clocks: index i rings at time E_i / w_i, E_i ~ Exp(1), and the first
    M to ring, in ring order, are the sample (a zero weight never rings).

    Parameters
    ----------
    weights : sequence of float, shape (N,)
        Non-negative and finite, with a positive sum; they need not sum to 1.
    num_samples : int
        M, the indices per epoch; at most the number of positive weights without replacement.
    replacement : bool, default True
        Draw with replacement.
    generator : numpy.random.Generator, optional
    seed : int, optional
        See the module docstring; at most one of the two.

    Examples
    --------
    >>> list(WeightedRandomSampler([0.0, 1.0, 0.0], 3, seed=0))
    [1, 1, 1]
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None, *, seed=None):
        who = "WeightedRandomSampler"
        weights = as_index_array(weights).astype(np.float64)
        if weights.ndim != 1 or weights.size == 0:
            raise ValueError(f"{who}: weights must be a non-empty 1-d sequence, got shape "
                             f"{weights.shape}")
        if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
            raise ValueError(f"{who}: weights must be finite and non-negative with a positive "
                             f"sum, got min {weights.min()}, max {weights.max()}, "
                             f"sum {weights.sum()}")
        num_samples = _check_count(num_samples, "num_samples", who)
        if not isinstance(replacement, (bool, np.bool_)):
            raise TypeError(f"{who}: replacement must be a bool, got {replacement!r}")
        positive = int(np.count_nonzero(weights))
        if not replacement and num_samples > positive:
            raise ValueError(f"{who}: without replacement num_samples={num_samples} exceeds "
                             f"the {positive} positive weights")
        self.weights = weights
        self.num_samples = num_samples
        self.replacement = bool(replacement)
        self.generator = make_generator(generator, seed, who)

    def __iter__(self):
        rng = epoch_generator(self.generator)
        w, M = self.weights, self.num_samples
        if self.replacement:
            order = rng.choice(len(w), size=M, p=w / w.sum())
        else:
            # log E_i - log w_i orders the same as E_i / w_i but cannot overflow for a tiny
            # positive weight; a zero weight gives +inf and so is never among the first M.
            with np.errstate(divide="ignore"):
                ring = np.log(rng.standard_exponential(len(w))) - np.log(w)
            order = np.argsort(ring, kind="stable")[:M]
        return iter(order.astype(np.int64).tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``.

    Parameters
    ----------
    sampler : Sampler or iterable of int
        The indices, in the order they are grouped.
    batch_size : int
        B >= 1.
    drop_last : bool
        Drop the last list when it has fewer than B indices.

    Examples
    --------
    >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size, drop_last):
        if isinstance(sampler, (numbers.Number, str)) or not hasattr(sampler, "__iter__"):
            raise TypeError(f"BatchSampler: sampler must be an iterable of indices, got a "
                            f"{type(sampler).__name__}")
        self.sampler = sampler
        self.batch_size = _check_count(batch_size, "batch_size", "BatchSampler")
        if not isinstance(drop_last, (bool, np.bool_)):
            raise TypeError(f"BatchSampler: drop_last must be a bool, got {drop_last!r}")
        self.drop_last = bool(drop_last)

    def __iter__(self):
        # iter() is called here, not at the first batch, so the sampler's epoch is fixed now.
        return self._batches(iter(self.sampler))

    def _batches(self, indices):
        batch = []
        for i in indices:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        M, B = len(self.sampler), self.batch_size
        return M // B if self.drop_last else -(-M // B)
