"""Matrix products split over minigrad's threads, each part on one BLAS thread.

minigrad gives BLAS one thread (``minigrad/threads.py``: a second OpenBLAS thread spins between
products and, on a busy machine, made training steps many times slower). A large product then
splits here instead: into n parts, where n is ``threads.gemm_threads()``, each computed by
``numpy.matmul`` on its own Python thread (NumPy releases the GIL inside the product), the
calling thread taking the first part. A thread that waits for the others sleeps instead of
spinning, so a loaded machine costs a split product no more than its slowest part.

How a product ``a @ b -> out`` of shape (..., M, N) splits:

    a leading batch axis of at least n     n groups of whole samples (a conv's per-sample GEMMs)
    otherwise, M >= N                      n blocks of rows of a and of out
    otherwise                              n blocks of columns of b and of out

Each part writes its own block of ``out``, so the parts never touch the same memory, and each
element is the same dot product as in one unsplit call. Small products (under SPLIT_ABOVE
multiply-adds), products that are not 2-D or more or whose shapes do not fit (NumPy's error
then comes from one call), and anything not a NumPy array (CuPy) go to the backend's
``matmul`` whole.

``run_on_threads`` is the pool's general entry: the convolutions (``kernels/im2col_gemm.py``)
hand it one task per thread, each running whole chunks of a batch. A task must not call
``run_on_threads`` itself (its own parts could wait behind it for a pool thread).

Notation
--------
M, K, N     a is (..., M, K), b is (..., K, N), out is (..., M, N)
n           the number of parts, ``threads.gemm_threads()``
"""
import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import threads
from ..backend import xp_of

# Products with fewer multiply-adds than this run whole: handing a part to another thread costs
# tens of microseconds, the time of a product of about this size on one core.
SPLIT_ABOVE = 2**21

_pool = {"executor": None, "workers": 0}
_pool_lock = threading.Lock()


def _forget_pool():
    """In a forked child the pool's threads do not exist (fork copies only the calling thread):
    drop the parent's executor, so that the child makes its own on first use."""
    _pool.update(executor=None, workers=0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _executor(workers):
    """The shared pool of helper threads, made anew (larger) when more are wanted than it has."""
    with _pool_lock:
        if _pool["workers"] < workers:
            if _pool["executor"] is not None:
                _pool["executor"].shutdown(wait=True)
            _pool["executor"] = ThreadPoolExecutor(max_workers=workers,
                                                   thread_name_prefix="minigrad-gemm")
            _pool["workers"] = workers
        return _pool["executor"]


def _bounds(length, n):
    """``n`` contiguous (start, stop) ranges covering ``range(length)``, sizes differing by <= 1."""
    cuts = [length * i // n for i in range(n + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def _parts(a, b, out, n):
    """The (a, b, out) views of each part, per the rule of the module docstring."""
    if out.ndim > 2 and out.shape[0] >= n:
        def along_batch(t, start, stop):  # a broadcast operand (fewer dims or size 1) is shared
            return t[start:stop] if t.ndim == out.ndim and t.shape[0] == out.shape[0] else t
        return [(along_batch(a, i, j), along_batch(b, i, j), out[i:j])
                for i, j in _bounds(out.shape[0], n)]
    M, N = out.shape[-2:]
    if M >= N:
        return [(a[..., i:j, :], b, out[..., i:j, :]) for i, j in _bounds(M, n)]
    return [(a, b[..., i:j], out[..., i:j]) for i, j in _bounds(N, n)]


def matmul(a, b, out=None):
    """``a @ b`` (``numpy.matmul``'s broadcasting and dtype rules), split over minigrad's
    threads when it is large enough; returns ``out`` (a new array when None)."""
    n = threads.gemm_threads()
    if (n < 2 or type(a) is not np.ndarray or type(b) is not np.ndarray
            or a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]):
        return xp_of(a, b).matmul(a, b, out=out)
    shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    if math.prod(shape) * a.shape[-1] < SPLIT_ABOVE or max(shape, default=0) < n:
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty(shape, dtype=np.result_type(a, b))
    run_on_threads([functools.partial(np.matmul, pa, pb, out=po)
                    for pa, pb, po in _parts(a, b, out, n)])
    return out


def run_on_threads(tasks):
    """Call every task (a function of no arguments), the first on this thread and the others
    on the pool's threads at once; returns when all are done, re-raising the first error.
    The tasks must write disjoint memory and release the GIL to run side by side (NumPy's
    products do, and Numba's ``nogil`` kernels)."""
    if len(tasks) == 1:
        tasks[0]()
        return
    futures = [_executor(len(tasks) - 1).submit(task) for task in tasks[1:]]
    try:
        tasks[0]()
    finally:
        for future in futures:
            future.exception()  # wait for every part, even after an error
    for future in futures:
        future.result()
