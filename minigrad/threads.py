"""How many threads minigrad's CPU work uses: one setting for both of its thread pools.

Two pools of threads do minigrad's CPU work, and each sizes itself to the whole machine:

    Numba's pool    the parallel kernels (im2col / col2im, pooling, scatter, ...); here its
                    threading layer is OpenMP; size bounded by NUMBA_NUM_THREADS, fixed when
                    Numba starts
    BLAS's pool     every matrix product NumPy hands to its BLAS (OpenBLAS, pthreads): the GEMMs
                    of Linear and of the convolutions

They take turns (a kernel, then a GEMM, then a kernel), but an idle OpenBLAS thread does not
sleep at once: it spins, waiting for the next product, and holds a core while it does. With n
threads each, the two pools then want more than n cores.

The policy
----------
``set_num_threads(n)`` gives Numba's pool ``n`` threads and BLAS one thread::

    Numba   n threads, for every parallel kernel (small ones run serially anyway,
            see kernels/cpu/parallel.py)
    BLAS    1 thread, for every GEMM

Measured on 2 cores that other jobs loaded (load average 3 to 8), so rough figures:

Idle spinning (``python -m bench.thread_spin``): the cores a pool keeps busy while the main
thread sleeps right after one of LeNet's GEMMs ((32, 400) @ (400, 2548)) or one of its im2col
kernels, CPU seconds per second of sleep::

    BLAS 2 threads, after a GEMM            0.79 over 5 ms, 0.36 over 50 ms, 0.07 over 0.5 s
    Numba 2 threads, after an im2col        0.01 over 5 ms, 0.00 over 50 ms
    one thread each                         0.01 or less

A LeNet step runs a GEMM every few milliseconds, so a second BLAS thread never sleeps during
a step: it competes with Numba's second thread and with the main thread's NumPy work.

The LeNet step of bench/bench_speed.py (batch 64), ``python -m bench.profile_step --threads 2
--blas-threads B --numba-threads M``, medians of 20 steps, three alternating rounds, ms of
wall time / of CPU time (all threads) per step::

    BLAS 1, Numba 1     35-100 / 35-50
    BLAS 1, Numba 2     37-137 / 35-39
    BLAS 2, Numba 1    470-756 / 246-298
    BLAS 2, Numba 2    523-971 / 313-337

At two BLAS threads the conv GEMMs that run at 90 GFLOP/s on one thread ran at 2 to 5 GFLOP/s:
each product waited for its second thread to get a core. On two free cores the same product
reached 160 GFLOP/s (1.8 times one thread; profile_step's "alone" column, its best call), so a
quiet machine could gain up to about a fifth of the LeNet step (the GEMMs are 40% of it on one
thread) from a second BLAS thread, and a busy one made the step 7 to 14 times slower. One BLAS
thread never loses much; Numba's kernels keep n threads, as their pool does not spin between
kernels. Re-measure on a quiet machine with::

    python -m bench.thread_spin
    for b in 1 2; do for m in 1 2; do
        python -m bench.profile_step --threads 2 --blas-threads $b --numba-threads $m
    done; done

The default
-----------
At import, ``MINIGRAD_NUM_THREADS=n`` in the environment applies ``set_num_threads(n)``. Without
it, the BLAS pool is set to one thread unless the environment sizes it itself
(``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` or ``OMP_NUM_THREADS``: an explicit setting
wins), and Numba's pool keeps its size; Numba is then not loaded until a kernel needs it.

BLAS threads are set through ``threadpoolctl`` (a small pure-Python package, installed with
minigrad). Without it, only Numba's pool is set, and BLAS keeps the size it started with (set
``OPENBLAS_NUM_THREADS=1`` before NumPy loads to get the policy).

Numba's count belongs to the calling thread (a new thread starts with Numba's default), while
the BLAS count is the whole process's.

Matrix products on n threads
----------------------------
With BLAS on one thread, a large product would use one core. ``minigrad.kernels.gemm.matmul``
splits it instead: n parts (rows, columns or samples), each on one BLAS thread, run by a small
pool of Python threads (NumPy lets go of the GIL during a product). A waiting thread sleeps
rather than spins, so a busy machine costs a split product no more than its slowest part.
``gemm_threads()`` says how many parts: the n of ``set_num_threads(n)`` (or of
``MINIGRAD_NUM_THREADS``; by default the cores this process may use) when the policy sized
BLAS, and 1 when the environment sized BLAS itself (then BLAS threads each product).
"""
import os

from .checks import check_int

# Numba's OpenMP pool must wait passively between kernels: with OpenMP's default policy its
# idle threads spin for a while after each parallel loop and steal the cores that the next
# product or NumPy pass needs (a demo-sized training step went from about 2 ms to over 40 ms
# on two cores). The setting is read once, when the OpenMP runtime starts, which may be here
# (MINIGRAD_NUM_THREADS makes set_num_threads start Numba's pool at import), so it is made
# before anything can load Numba. A value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ENVIRONMENT_VARIABLE = "MINIGRAD_NUM_THREADS"
# What the policy last applied: n of set_num_threads (None: not called) and whether it sized
# BLAS's pool (False where the environment did, or threadpoolctl is missing).
_state = {"n": None, "sized_blas": False}
# What sizes the BLAS pool when set before NumPy loads (OpenBLAS falls back on OMP_NUM_THREADS).
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def blas_threads_for(n):
    """The policy: how many BLAS threads go with ``n`` threads in all (None where no count was
    asked for, at import). One, whatever ``n``: see the module."""
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
    >>> previous = mg.get_num_threads()
    >>> mg.set_num_threads(1)
    >>> mg.get_num_threads()
    1
    >>> mg.set_num_threads(previous)
    """
    import numba  # here, not at the top: ``import minigrad`` leaves Numba to the first kernel
    n = check_int("set_num_threads", "n", n, low=1)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    _state["n"] = n
    _state["sized_blas"] = _set_blas_threads(blas_threads_for(n))


def get_num_threads():
    """The number of threads minigrad's parallel kernels use (Numba's, for this thread)."""
    import numba
    return numba.get_num_threads()


def gemm_threads():
    """How many parts ``kernels.gemm.matmul`` splits a large product into: 1 when BLAS was not
    sized by the policy (it threads each product itself), else the n of the last
    ``set_num_threads(n)``, or the cores this process may use."""
    if not _state["sized_blas"]:
        return 1
    if _state["n"] is not None:
        return _state["n"]
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


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
        # The policy's BLAS size does not depend on n, so Numba need not load to know it.
        _state["sized_blas"] = _set_blas_threads(blas_threads_for(None))
    return None


_from_environment()
