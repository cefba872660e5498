"""The MPI backend: collectives on host arrays through ``mpi4py`` (MPICH or Open MPI underneath).

Every collective is started non-blocking (``Iallreduce``, ``Ibcast``, ``Iallgather``,
``Ibarrier``) and handed back as a :class:`Work`. ``Work.wait`` polls the request until it
completes or the group's timeout passes; it never blocks inside MPI, so a rank whose partner
died or raised gets a :class:`~minigrad.distributed.DistributedTimeoutError` instead of hanging.

CuPy arrays are copied to the host, reduced there and copied back (the ``mpich`` wheel is not
CUDA-aware); the NCCL backend is the one that keeps GPU data on the GPU.

Notation
--------
W       world size, the number of ranks (processes)
array   the caller's array (NumPy or CuPy), changed in place
host    the NumPy array MPI reads and writes: ``array`` itself, or a host copy of it
"""
import time

import numpy as np

from .. import backend


def mpi():
    """``mpi4py.MPI``, or an ImportError that says how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError("minigrad.distributed: the 'mpi' backend needs mpi4py and an MPI "
                          "library; pip install -e \".[dist]\" installs both (mpi4py, mpich)"
                          ) from error
    return MPI


class Work:
    """A started collective: ``wait()`` finishes it (copy-back and averaging included).

    Parameters
    ----------
    request : mpi4py.MPI.Request
    name : str
        The collective, for the timeout message.
    timeout : float
        Seconds ``wait`` polls before it gives up.
    rank : int
    finish : callable or None
        Run once after the request completes (copies results back to the caller's array).
    """

    def __init__(self, request, name, timeout, rank, finish=None):
        self.request, self.name, self.timeout, self.rank = request, name, timeout, rank
        self._finish, self._done = finish, False

    def is_completed(self):
        """True once the collective has completed (it does not run the copy-back)."""
        return self._done or bool(self.request.Test())

    def wait(self, timeout=None):
        """Poll until the collective completes; raise DistributedTimeoutError after ``timeout``
        seconds (the group's by default). Returns True, as PyTorch's ``Work.wait`` does."""
        if self._done:
            return True
        wait_for(self.request, self.name, self.rank,
                 self.timeout if timeout is None else timeout)
        self._done = True
        if self._finish is not None:
            self._finish()
        return True


def wait_for(request, name, rank, timeout):
    """Poll ``request`` until it completes or ``timeout`` seconds pass: a few quick tests
    first (MPI makes progress inside them), then with a pause growing to 20 µs, so a rank that
    waits for a slower one leaves the core to it instead of spinning."""
    from .errors import DistributedTimeoutError
    deadline = time.monotonic() + timeout
    spins, pause = 0, 0.0
    while not request.Test():
        if time.monotonic() > deadline:
            raise DistributedTimeoutError(
                f"minigrad.distributed: {name} on rank {rank} did not complete within "
                f"{timeout:g} s: another rank has probably died, raised, or is not calling "
                "the same collectives in the same order. The process group cannot be used "
                "any more; the job should be stopped (an uncaught error aborts all ranks).")
        spins += 1
        if spins > 50:
            pause = min(2 * pause + 1e-6, 2e-5)
            time.sleep(pause)


class MPIBackend:
    """Collectives over ``MPI.COMM_WORLD`` (a duplicate of it, so user MPI code does not mix
    with ours).

    Parameters
    ----------
    timeout : float
        Seconds a collective may take before its ``wait`` raises.
    """

    name = "mpi"

    def __init__(self, timeout):
        MPI = mpi()
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.world_size = self.comm.Get_size()
        self.timeout = timeout
        self.ops = {"sum": MPI.SUM, "avg": MPI.SUM, "product": MPI.PROD, "min": MPI.MIN,
                    "max": MPI.MAX}

    def _work(self, request, name, finish=None):
        return Work(request, name, self.timeout, self.rank, finish)

    def all_reduce(self, array, op):
        """Start reducing ``array`` in place over all ranks with ``op`` (a ReduceOp value)."""
        host = _host(array)
        request = self.comm.Iallreduce(self.MPI.IN_PLACE, host, op=self.ops[op])

        def finish():
            if op == "avg":
                host[...] /= self.world_size
            _copy_back(array, host)
        return self._work(request, f"all_reduce({op}) of shape {array.shape}", finish)

    def broadcast(self, array, src):
        """Start overwriting ``array`` on every rank with rank ``src``'s."""
        host = _host(array)
        request = self.comm.Ibcast(host, root=src)
        return self._work(request, f"broadcast from rank {src} of shape {array.shape}",
                          lambda: _copy_back(array, host))

    def all_gather(self, arrays, array):
        """Start filling ``arrays[r]`` with rank r's ``array``, for every r."""
        host = _host(array)
        gathered = np.empty((self.world_size,) + host.shape, host.dtype)
        request = self.comm.Iallgather(host, gathered)

        def finish():
            for out, part in zip(arrays, gathered):
                _copy_back(out, part)
        return self._work(request, f"all_gather of shape {array.shape}", finish)

    def barrier(self):
        return self._work(self.comm.Ibarrier(), "barrier")

    def abort(self, code=1):
        """End every rank of the job now (used when a rank raises and nobody catches it)."""
        self.MPI.COMM_WORLD.Abort(code)

    def close(self):
        self.comm.Free()


def _host(array):
    """A C-contiguous NumPy array MPI can read and write: ``array`` itself when it is one."""
    if isinstance(array, np.ndarray) and array.flags.c_contiguous and array.flags.writeable:
        return array
    return np.ascontiguousarray(backend.to_numpy(array))


def _copy_back(array, host):
    if host is array:
        return
    xp = backend.xp_of(array)
    array[...] = host if xp is np else xp.asarray(host)
