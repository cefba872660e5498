"""Batching: ``DataLoader`` walks a dataset in batches of Tensors, PyTorch's ``DataLoader``.

An epoch is three steps, each replaceable as in PyTorch:

1. the batch sampler (by default ``BatchSampler(sampler, batch_size, drop_last)`` over a
   ``SequentialSampler`` or, with ``shuffle=True``, a ``RandomSampler``) gives lists of indices;
2. each list is fetched into a batch by ``dataset[i]`` and ``collate_fn`` (collate.py), in the
   main process or, with ``num_workers=K``, in K worker processes (worker.py);
3. the batch is moved to ``device`` in the main process.

Two variations, as in PyTorch. With ``batch_size=None`` automatic batching is off: the
sampler's indices are fetched one at a time and ``collate_fn`` (by default
``default_convert``) turns each sample's arrays into Tensors, without a batch axis. An
``IterableDataset`` has no indices, so no sampler: each batch is the next B items of the
dataset's iterator, and with K workers each worker iterates its own copy of the dataset and
the batches come round robin from the workers that still have data (worker.py).

A batch is a fresh Tensor (or a tuple / list / dict of them) that does not require grad;
integer fields stay integers (int64 labels stay int64). The batches come in the sampler's
order whatever K is, and a dataset without randomness of its own gives the same batches for
every K.

Notation
--------
N   number of samples, ``len(dataset)``
B   batch size; the last batch has ``N % B`` samples unless ``drop_last`` drops it
K   number of worker processes, ``num_workers``
"""
import itertools
import multiprocessing
import numbers
import pickle

import numpy as np

from minigrad import backend
from minigrad.data.collate import Exhausted, make_fetcher, to_device
from minigrad.data.dataset import IterableDataset, TensorDataset
from minigrad.data.sampler import BatchSampler, RandomSampler, SequentialSampler, make_generator
from minigrad.data.worker import BATCH, END, WorkerPool

_END = object()


def _is_count(value, low):
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and value >= low


class DataLoader:
    """Iterate over a dataset in batches, optionally loaded by worker processes.

    Parameters
    ----------
    dataset : Dataset or IterableDataset
        Any object with ``__len__`` and ``__getitem__``. A plain ``TensorDataset`` with the
        default ``collate_fn`` takes the fast path: one fancy index per column per batch.
        Or an ``IterableDataset``, whose items are batched in the order its iterator yields
        them; it excludes ``shuffle``, ``sampler`` and ``batch_sampler``.
    batch_size : int or None, default 1
        Samples per batch, ``B >= 1``. None turns automatic batching off: each sample goes
        through ``collate_fn`` alone and keeps its shape; it excludes ``drop_last``.
    shuffle : bool, default False
        Visit the samples in a new random order every epoch (a ``RandomSampler``).
    sampler : Sampler or iterable of int, optional
        The order of the indices; excludes ``shuffle``.
    batch_sampler : BatchSampler or iterable of lists of int, optional
        The indices of each batch; excludes ``batch_size``, ``shuffle``, ``sampler`` and
        ``drop_last``.
    num_workers : int, default 0
        K: 0 loads in the main process; K >= 1 starts K worker processes at ``iter()`` (see
        worker.py for why processes). Worker k seeds Python's ``random`` and NumPy's global
        generator with ``base_seed + k``, where ``base_seed`` is drawn once per epoch from
        ``generator`` (or NumPy's global generator), as PyTorch does.
    collate_fn : callable, optional
        Turns a list of B samples into a batch; :func:`default_collate` by default. With
        ``batch_size=None`` it is called with one sample; :func:`default_convert` by default.
    pin_memory : bool, default False
        Accepted for PyTorch code and ignored: batches stay ordinary NumPy arrays until
        ``device=`` moves them; page-locked host memory is not used.
    drop_last : bool, default False
        Drop the last batch when it has fewer than ``B`` samples.
    timeout : float, default 0
        With workers, seconds to wait for a batch before raising; 0 waits for ever.
    worker_init_fn : callable, optional
        Called as ``worker_init_fn(worker_id)`` in each worker after seeding.
    multiprocessing_context : str, optional
        'fork', 'spawn' or 'forkserver'; by default 'fork' where available, else 'spawn'.
    generator : numpy.random.Generator, optional
        The randomness of the shuffle and of the workers' base seed (``torch.Generator``'s role).
    prefetch_factor : int, optional
        With workers, batches asked for in advance per worker; 2 by default.
    persistent_workers : bool, default False
        With workers, keep them between epochs instead of starting new ones each ``iter()``;
        they keep the seeds and dataset state of the first epoch.
    seed : int, optional
        A minigrad extra: ``generator=numpy.random.default_rng(seed)``, created once here, so
        a loader built with the same seed gives the same sequence of epochs. Without a seed
        or a generator, each epoch draws from NumPy's global generator (``mg.manual_seed``).
    device : str, optional
        A minigrad extra: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``; every batch is moved there.

    Yields
    ------
    batch
        For a ``TensorDataset`` of k tensors, a tuple of k Tensors of shapes (B, ...);
        otherwise ``collate_fn`` of the samples (of one sample with ``batch_size=None``).

    Raises
    ------
    TypeError, ValueError
        Bad arguments, or options that exclude each other, named in the message.
    Exception
        An error in a worker is raised again in the main process, with the same type where
        possible and a message naming the worker, the batch, the sample index and the
        worker's traceback.

    Examples
    --------
    >>> ds = TensorDataset(np.arange(10, dtype=np.float32).reshape(5, 2), np.arange(5))
    >>> loader = DataLoader(ds, batch_size=2)
    >>> len(loader), [y.tolist() for _, y in loader]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, seed=None, device=None):
        iterable = isinstance(dataset, IterableDataset)
        if not iterable and not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: dataset of type {type(dataset).__name__} needs "
                            "__len__ and __getitem__, or to be an IterableDataset")
        if batch_size is not None and not _is_count(batch_size, 1):
            raise ValueError(f"DataLoader: batch_size must be a positive int or None, "
                             f"got {batch_size!r}")
        shuffle = bool(shuffle)
        if iterable:
            self._check_iterable(shuffle, sampler, batch_sampler)
        if batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None turns automatic batching off and "
                             "excludes drop_last=True; there is no last batch to drop")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None
                                          or drop_last):
            raise ValueError("DataLoader: batch_sampler excludes batch_size, shuffle, sampler "
                             "and drop_last; give those to the batch sampler instead")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler excludes shuffle=True; a sampler fixes the "
                             "order itself (use RandomSampler to shuffle)")
        self._check_workers(num_workers, timeout, prefetch_factor, persistent_workers,
                            multiprocessing_context)
        for name, fn in (("collate_fn", collate_fn), ("worker_init_fn", worker_init_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"DataLoader: {name} must be callable, got a "
                                f"{type(fn).__name__}")
        if num_workers and isinstance(dataset, TensorDataset) \
                and any(backend.is_cuda_array(t.data) for t in dataset.tensors):
            raise ValueError("DataLoader: num_workers > 0 needs a dataset in host memory (worker "
                             "processes cannot share CUDA arrays); keep the tensors on the CPU "
                             "and pass device='cuda'")
        if device is not None:
            device = backend.parse_device(device)
            backend.module_for(device)  # fail now, not at the first batch, when CUDA is missing
        self.dataset = dataset
        self.generator = make_generator(generator, seed, "DataLoader")
        if sampler is None and not iterable:
            sampler = (RandomSampler(dataset, generator=self.generator) if shuffle
                       else SequentialSampler(dataset))
        self.sampler = sampler
        self.batch_size = None if batch_sampler is not None or batch_size is None \
            else int(batch_size)
        # PyTorch's "automatic batching": a task is a list of indices (or B items), not one.
        self._auto_batch = batch_sampler is not None or batch_size is not None
        if batch_sampler is None and batch_size is not None and not iterable:
            batch_sampler = BatchSampler(sampler, self.batch_size, bool(drop_last))
        self.batch_sampler = batch_sampler
        self.shuffle = shuffle
        self.drop_last = bool(drop_last)
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn
        self.pin_memory = bool(pin_memory)
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = (prefetch_factor or 2) if num_workers else None
        self.persistent_workers = bool(persistent_workers)
        self.seed = seed
        self.device = device
        self._pool = None

    @staticmethod
    def _check_iterable(shuffle, sampler, batch_sampler):
        # A stream has no indices to reorder or to group; PyTorch refuses these options too.
        for name, value, given in (("shuffle", shuffle, shuffle),
                                   ("sampler", sampler, sampler is not None),
                                   ("batch_sampler", batch_sampler, batch_sampler is not None)):
            if given:
                raise ValueError(f"DataLoader with an IterableDataset: {name} must be left "
                                 f"unspecified, got {name}={value!r}; the dataset's own "
                                 "iterator fixes the order (shuffle inside __iter__ instead)")

    @staticmethod
    def _check_workers(num_workers, timeout, prefetch_factor, persistent_workers, context):
        if not _is_count(num_workers, 0):
            raise ValueError(f"DataLoader: num_workers must be a non-negative int, "
                             f"got {num_workers!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError(f"DataLoader: timeout must be a non-negative number, got {timeout!r}")
        if prefetch_factor is not None and (num_workers == 0 or not _is_count(prefetch_factor, 1)):
            raise ValueError(f"DataLoader: prefetch_factor must be None without workers and a "
                             f"positive int with them, got {prefetch_factor!r} with "
                             f"num_workers={num_workers}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers=True needs num_workers > 0")
        methods = multiprocessing.get_all_start_methods()
        if context is not None and context not in methods:
            raise ValueError(f"DataLoader: multiprocessing_context must be one of {methods}, "
                             f"got {context!r}")

    def __len__(self):
        """The number of batches per epoch.

        For an ``IterableDataset`` this is ``len(dataset)`` (N) turned into batches,
        ``ceil(N / B)`` or ``floor(N / B)`` with ``drop_last``, as in PyTorch; it assumes the
        workers split the stream between them, and raises TypeError if the dataset has no
        ``__len__``.
        """
        if isinstance(self.dataset, IterableDataset):
            if not hasattr(self.dataset, "__len__"):
                raise TypeError(f"DataLoader: len() of a loader over an IterableDataset needs "
                                f"the dataset's __len__, which {type(self.dataset).__name__} "
                                "does not define")
            N = len(self.dataset)
            if self.batch_size is None:
                return N
            return N // self.batch_size if self.drop_last else -(-N // self.batch_size)
        if self.batch_sampler is None:
            return len(self.sampler)
        return len(self.batch_sampler)

    def _tasks(self):
        """This epoch's tasks: lists of indices, single indices, or B for each next batch."""
        if isinstance(self.dataset, IterableDataset):
            return itertools.repeat(self.batch_size)  # until every fetcher is exhausted
        if self.batch_sampler is None:
            return iter(self.sampler)
        return iter(self.batch_sampler)

    def _fetcher(self):
        return make_fetcher(self.dataset, self.collate_fn, self._auto_batch, self.drop_last)

    def __iter__(self):
        # The order and the workers' base seed are drawn here, not at the first next(), so
        # that iter() alone fixes the epoch; both are drawn whatever K is, so K does not
        # change the sequence of epochs.
        tasks = self._tasks()
        if self.generator is not None:
            base_seed = int(self.generator.integers(0, 2**32))
        else:
            base_seed = int(np.random.randint(0, 2**32, dtype=np.int64))
        if self.num_workers == 0:
            return self._single_process(tasks)
        return self._multi_process(tasks, base_seed)

    def _single_process(self, tasks):
        fetch = self._fetcher()
        for task in tasks:
            try:
                batch = fetch(task)
            except Exhausted:
                return
            yield to_device(batch, self.device)

    def _worker_pool(self, base_seed):
        """A new pool, or the persistent one (replaced if one of its workers died)."""
        pool = self._pool
        if pool is not None and all(w.is_alive() for w in pool.workers):
            pool.epoch += 1
            return pool
        if pool is not None:
            pool.shutdown()
        pool = WorkerPool(self._fetcher(), self.worker_init_fn, self.num_workers, base_seed,
                          self.multiprocessing_context)
        self._pool = pool if self.persistent_workers else None
        return pool

    def _multi_process(self, tasks, base_seed):
        pool = self._worker_pool(base_seed)
        K = self.num_workers
        active = [True] * K   # False once a worker's copy of an IterableDataset has run out
        owner = []            # owner[n]: the worker that batch n was sent to
        turn = itertools.cycle(range(K))

        def send_next():
            """Send the next task to the next active worker in turn; False when none is left."""
            if not any(active):
                return False
            task = next(tasks, _END)
            if task is _END:
                return False
            k = next(k for k in turn if active[k])
            pool.send(len(owner), task, k)
            owner.append(k)
            return True

        try:
            while len(owner) < self.prefetch_factor * K and send_next():
                pass
            early = {}    # results that came before their turn, by task number
            yielded = 0   # batches given to the caller; differs from n once a stream ends
            n = 0
            while n < len(owner):
                while n not in early:
                    m, status, payload = pool.receive(n, owner[n], self.timeout)
                    early[m] = (status, payload)
                status, payload = early.pop(n)
                if status == END:
                    # Later tasks already sent to this worker come back END too, and are skipped.
                    active[owner[n]] = False
                n += 1
                # Refill before yielding, so the workers work while the caller trains.
                send_next()
                if status == END:
                    continue
                if status != BATCH:
                    pickle.loads(payload).reraise(yielded)
                yield to_device(pickle.loads(payload), self.device)
                yielded += 1
        finally:
            if not self.persistent_workers:
                pool.shutdown()
