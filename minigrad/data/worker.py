"""Worker processes for ``DataLoader(num_workers=K)``: a pool, its protocol, its shutdown.

Why processes and not threads: a sample is usually built by many small NumPy calls (crop,
flip, blur, normalise) glued together by Python, and the glue holds the GIL, so threads take
turns instead of running side by side. Measured on two cores shared with other work, over an
epoch of 3,072 such samples (0.2 to 0.5 ms of NumPy work each, batches of 32), two worker
threads ran at 0.9x to 1.1x the speed of the main process alone, and two worker processes at
1.3x to 2.1x (best of 4 or 5 runs each). A forked process costs a few milliseconds to start and
one pickle of each batch on the way back, which is small next to the work it takes over.

The protocol, for K workers and a pool shared by one or more epochs::

    main                                         worker k (k = 0 .. K-1)
    ----                                         ------------------------
    index_queues[k].put(((epoch, n), task))      seeded once: random, NumPy <- base_seed + k
                                                 batch = fetcher(task)   (on the host)
    result_queue.get() -> ((epoch, n), status,   result_queue.put(((epoch, n), status, pickle))
                           payload)
    index_queues[k].put(None)                    exit

A task is a list of indices, one index (``batch_size=None``), or for an ``IterableDataset``
the number of items to take (None for one item, unbatched). The main process sends task n to
the next worker in turn that still has data, and keeps results that arrive early until their
turn, so batches come out in the sampler's order, and for a stream in PyTorch's order: round
robin over the workers whose copy of the dataset is not exhausted. A worker whose iterator has
run out answers ``END`` to that task and to every later one of the epoch; the first ``END``
takes it out of the round. A worker pickles its result itself, so a batch that cannot be
pickled is reported as an error instead of being lost in a queue's feeder thread. A failure
in a worker comes back as a ``_Failure`` that names the worker, the batch and the sample (or
the item of the stream), and is raised again in the main process.

Start method: 'fork' where the platform has it (Linux, macOS), so the dataset is shared, not
copied, and a worker starts in milliseconds; else 'spawn', which pickles the fetcher (with
the dataset and ``collate_fn``) and ``worker_init_fn`` to each worker (they must then be
importable).

Notation
--------
K       number of worker processes, ``num_workers``
n       a batch's position in its epoch, 0, 1, ...
epoch   a counter of the pool's epochs; results of an abandoned epoch are dropped; a worker
        restarts its dataset's iterator when it sees a new epoch
"""
import multiprocessing
import os
import pickle
import queue
import random
import signal
import time
import traceback
import weakref
from dataclasses import dataclass

import numpy as np

from minigrad.data.collate import Exhausted

_POLL_S = 0.1     # how often a waiting process checks that the other side is still alive
_JOIN_S = 2.0     # how long shutdown waits for a worker to finish its batch before killing it
_worker_info = None
BATCH, FAILURE, END = "batch", "failure", "end"  # the status of a result


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker process.

    Attributes
    ----------
    id : int
        The worker's number, 0 .. K-1.
    num_workers : int
        K.
    seed : int
        ``base_seed + id``: Python's ``random`` and NumPy's global generator were seeded with
        it (NumPy with ``seed % 2**32``) before ``worker_init_fn`` ran.
    dataset : Dataset
        This worker's copy of the dataset.
    """

    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info():
    """The ``WorkerInfo`` of the current worker process, or None in the main process.

    A dataset can use it to split its work between workers, or to seed its own generator
    differently in each one.
    """
    return _worker_info


class _PlainRepr(str):
    def __repr__(self):
        return str(self)


@dataclass
class _Failure:
    """An exception raised in a worker, carried to the main process as text and a type."""

    worker_id: int
    stage: str
    exc_type: type
    text: str

    def reraise(self, batch_number):
        message = (f"DataLoader worker {self.worker_id} failed on batch {batch_number}, in "
                   f"{self.stage}:\n{self.text}")
        if issubclass(self.exc_type, KeyError):
            message = _PlainRepr(message)  # KeyError prints repr(message): keep the newlines
        try:
            error = self.exc_type(message)
        except Exception:  # an exception type whose constructor wants more than a message
            error = RuntimeError(message)
        raise error


def _failure(worker_id, stage, error):
    text = "".join(traceback.format_exception(error))
    try:
        pickle.dumps(type(error))
        exc_type = type(error)
    except Exception:  # a class defined inside a function cannot travel between processes
        exc_type = RuntimeError
    return _Failure(worker_id, stage, exc_type, text)


def _worker_loop(worker_id, num_workers, seed, fetcher, worker_init_fn, index_queue,
                 result_queue, parent_pid):
    """Serve batches from ``index_queue`` until told to stop or the main process is gone."""
    global _worker_info
    # Ctrl-C goes to the whole process group; the main process handles it and shuts us down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Exit without waiting for results that the main process will never read.
    result_queue.cancel_join_thread()
    _worker_info = WorkerInfo(worker_id, num_workers, seed, fetcher.dataset)
    # The host generators only, never CuPy's: a worker builds batches on the host, and a child
    # forked after its parent started CUDA cannot use CUDA at all (its first call fails).
    random.seed(seed)
    np.random.seed(seed % 2**32)
    init_failure = None
    epoch = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(worker_id)
        except Exception as error:
            init_failure = _failure(worker_id, f"worker_init_fn({worker_id})", error)
    while True:
        try:
            task = index_queue.get(timeout=_POLL_S)
        except queue.Empty:
            if os.getppid() != parent_pid:
                return  # the main process died: exit rather than linger as an orphan
            continue
        if task is None:
            return
        key, task = task
        if key[0] != epoch:
            epoch = key[0]
            fetcher.reset()
        if init_failure is not None:
            result_queue.put((key, FAILURE, pickle.dumps(init_failure)))
        else:
            result_queue.put((key, *_serve(fetcher, task, worker_id)))


def _serve(fetcher, task, worker_id):
    """``(BATCH, pickled batch)``, ``(END, None)``, or ``(FAILURE, pickled _Failure)``."""
    try:
        batch = fetcher(task)
    except Exhausted:
        return (END, None)
    except Exception as error:
        return (FAILURE, pickle.dumps(_failure(worker_id, fetcher.stage, error)))
    try:
        return (BATCH, pickle.dumps(batch))
    except Exception as error:
        stage = f"pickling the batch of task {task!r} for the main process"
        return (FAILURE, pickle.dumps(_failure(worker_id, stage, error)))


def _shutdown(workers, index_queues, result_queue):
    """Stop the workers, wait for them (so none is left a zombie), and close the queues."""
    for q in index_queues:
        try:
            q.put(None)
        except (OSError, ValueError):
            pass  # already closed
    deadline = time.monotonic() + _JOIN_S
    for w in workers:
        w.join(timeout=max(0.0, deadline - time.monotonic()))
    for w in workers:
        if w.is_alive():  # still busy with a batch nobody wants any more
            w.terminate()
            w.join()
    for q in (*index_queues, result_queue):
        q.cancel_join_thread()
        q.close()


def start_method():
    """'fork' where the platform offers it, else 'spawn'."""
    return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


class WorkerPool:
    """K worker processes that turn tasks (lists of indices, say) into batches.

    Parameters
    ----------
    fetcher : Fetcher or IterableFetcher
        Each worker gets its own copy, and so its own copy of ``fetcher.dataset``.
    worker_init_fn
        As given to the ``DataLoader``.
    num_workers : int
        K >= 1.
    base_seed : int
        Worker k seeds itself with ``base_seed + k``.
    context : str, optional
        A multiprocessing start method; ``start_method()`` by default.

    The pool is shut down by ``shutdown()``, or when it is garbage collected, or at exit.
    """

    def __init__(self, fetcher, worker_init_fn, num_workers, base_seed, context=None):
        ctx = multiprocessing.get_context(context or start_method())
        self.num_workers = num_workers
        self.result_queue = ctx.Queue()
        self.index_queues = [ctx.Queue() for _ in range(num_workers)]
        self.workers = []
        for k in range(num_workers):
            w = ctx.Process(target=_worker_loop, daemon=True,
                            args=(k, num_workers, base_seed + k, fetcher, worker_init_fn,
                                  self.index_queues[k], self.result_queue, os.getpid()))
            w.start()
            self.workers.append(w)
        self.epoch = 0
        self._finalizer = weakref.finalize(self, _shutdown, self.workers, self.index_queues,
                                           self.result_queue)

    def send(self, n, task, k):
        """Ask worker ``k`` for batch ``n`` of the current epoch."""
        self.index_queues[k].put(((self.epoch, n), task))

    def receive(self, n, k, timeout):
        """The next result of the current epoch: ``(m, status, payload)``, for any batch m.

        Waits at most ``timeout`` seconds (0: for ever); raises RuntimeError naming batch ``n``
        and its worker ``k`` when the wait runs out, or naming a worker that died.
        """
        start = time.monotonic()
        while True:
            try:
                (epoch, m), status, payload = self.result_queue.get(timeout=_POLL_S)
            except queue.Empty:
                self._check_alive()
                if timeout and time.monotonic() - start > timeout:
                    raise RuntimeError(f"DataLoader timed out after {timeout} s waiting for "
                                       f"batch {n} from worker {k}")
                continue
            if epoch == self.epoch:
                return (m, status, payload)

    def _check_alive(self):
        for k, w in enumerate(self.workers):
            if not w.is_alive():
                raise RuntimeError(f"DataLoader worker {k} (pid {w.pid}) exited unexpectedly "
                                   f"with exit code {w.exitcode}")

    def shutdown(self):
        self._finalizer()
