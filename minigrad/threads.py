"""How many threads minigrad's CPU work uses: one setting for both of its thread pools.

Two pools of threads do minigrad's CPU work, and each sizes itself to the whole machine:

    Numba's pool    the parallel kernels (im2col / col2im, pooling, scatter, ...); here its
                    threading layer is OpenMP; size bounded by NUMBA_NUM_THREADS, fixed when
                    Numba starts
    BLAS's pool     every matrix product NumPy hands to its BLAS (OpenBLAS, pthreads): the GEMMs
                    of Linear and of the convolutions

They take turns (a kernel, then a GEMM, then a kernel), but an idle thread of either pool does
not sleep at once: it spins, waiting for the next task. With n threads each, the two pools can
want 2n cores, and a BLAS thread that must wait for a partner that has no core is very slow.

The policy
----------
``set_num_threads(n)`` gives Numba's pool ``n`` threads and BLAS one thread::

    Numba   n threads, for every parallel kernel (small ones run serially anyway,
            see kernels/cpu/parallel.py)
    BLAS    1 thread, for every GEMM

Measured with ``bench/profile_step.py``, the LeNet step of bench/bench_speed.py (batch 64),
on 2 cores that other jobs loaded (load average 3-7), medians of 20 steps, over three alternating
rounds; wall / CPU time of the whole step in ms:

    BLAS 1, Numba 1       35-94 / 35-38
    BLAS 1, Numba 2       37-137 / 37-39
    BLAS 2, Numba 1      470     / 298
    BLAS 2, Numba 2      523     / 313

A BLAS at two threads made the step 5 to 13 times slower (the same products that take 0.7 ms
at 90 GFLOP/s on one thread took 13 ms at 5 GFLOP/s), and cost 8 times the CPU time: its
threads spin while they wait for each other. On one free core pair the same product runs at
160 GFLOP/s on two BLAS threads, 1.8 times one thread's rate, so a quiet machine would gain
from it, up to the GEMMs' share of the step (40% of LeNet's on one thread); a loaded one loses
ten times more. One BLAS thread is the policy that never loses much; the Numba kernels,
whose parallel loops stop at a barrier but do not spin between kernels as long, keep n threads.
Re-measure on a quiet machine with::

    for b in 1 2; do for m in 1 2; do
        python -m bench.profile_step --threads 2 --blas-threads $b --numba-threads $m
    done; done

The default
-----------
At import, ``MINIGRAD_NUM_THREADS=n`` in the environment applies ``set_num_threads(n)``. Without
it, the BLAS pool is set to one thread unless the environment sizes it itself
(``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` or ``OMP_NUM_THREADS``: an explicit setting
wins), and Numba's pool keeps its size.

BLAS threads are set through ``threadpoolctl`` (a small pure-Python package, installed with
minigrad). Without it, only Numba's pool is set, and BLAS keeps the size it started with (set
``OPENBLAS_NUM_THREADS=1`` before NumPy loads to get the policy).

Numba's count belongs to the calling thread (a new thread starts with Numba's default), while
the BLAS count is the whole process's.
"""
import os

import numba

from .checks import check_int

ENVIRONMENT_VARIABLE = "MINIGRAD_NUM_THREADS"
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def blas_threads_for(n):
    """The policy: how many BLAS threads go with ``n`` threads in all (see the module)."""
    return 1


def set_num_threads(n):
    """Use ``n`` threads for minigrad's CPU work: Numba's pool ``n``, BLAS per the policy.

    Parameters
    ----------
    n : int, >= 1
        Threads for the parallel kernels. Numba's pool cannot grow past its size,
        NUMBA_NUM_THREADS (fixed when Numba starts; the number of cores by default): a larger
        ``n`` gives the kernels the whole pool.

    Examples
    --------
    >>> import minigrad as mg
    >>> mg.set_num_threads(1)
    >>> mg.get_num_threads()
    1
    """
    n = check_int("set_num_threads", "n", n, low=1)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    _set_blas_threads(blas_threads_for(n))


def get_num_threads():
    """The number of threads minigrad's parallel kernels use (Numba's, for this thread)."""
    return numba.get_num_threads()


def _set_blas_threads(k):
    """Limit every BLAS library loaded in the process to ``k`` threads; False without
    threadpoolctl (then nothing is changed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    threadpool_limits(limits=k, user_api="blas")
    return True


def _from_environment(environ=os.environ):
    """Apply ``MINIGRAD_NUM_THREADS`` if set; else the policy's BLAS size, unless a BLAS
    variable is set. Returns the n applied, or None."""
    value = environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"{ENVIRONMENT_VARIABLE} must be a whole number of threads >= 1, "
                             f"got {value!r}") from None
        if n < 1:
            raise ValueError(f"{ENVIRONMENT_VARIABLE} must be >= 1, got {n}")
        set_num_threads(n)
        return n
    if not any(environ.get(name) for name in BLAS_VARIABLES):
        _set_blas_threads(blas_threads_for(get_num_threads()))
    return None


_from_environment()
