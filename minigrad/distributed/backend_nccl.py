"""The NCCL backend: collectives on CuPy arrays through ``cupy.cuda.nccl``, one GPU per rank.

NCCL runs the collective on the GPU, on the current CuPy stream; here each call records an
event after it, and ``Work.wait`` polls that event with a deadline, aborting the communicator
(``ncclCommAbort``) and raising :class:`~minigrad.distributed.DistributedTimeoutError` when
it passes, so a dead peer never leaves a rank spinning inside NCCL.

The ranks meet through a unique id made by rank 0: over MPI when the job was started by
``mpiexec`` (mpi4py is then used for that one message), through a file named by
``init_method="file:///path"`` otherwise, and not at all for a single rank.

Notation
--------
W       world size;  r  this rank, which uses GPU ``r % device_count``
"""
import json
import os
import time

from .. import backend


def nccl():
    """``cupy.cuda.nccl``, or an ImportError that says what is missing."""
    cp = backend.cupy()
    if cp is None:
        raise ImportError("minigrad.distributed: the 'nccl' backend needs CuPy and a CUDA GPU "
                          "(pip install -e \".[gpu]\"); use backend='mpi' on CPUs")
    from cupy.cuda import nccl as module
    if not module.available:
        raise ImportError("minigrad.distributed: this CuPy build has no NCCL "
                          "(cupy.cuda.nccl.available is False)")
    return module


class Work:
    """A collective queued on the GPU: ``wait()`` polls its event until done or timed out."""

    def __init__(self, backend_, event, name, finish=None):
        self.backend, self.event, self.name, self._finish = backend_, event, name, finish
        self._done = False

    def is_completed(self):
        return self._done or self.event.done

    def wait(self, timeout=None):
        from .errors import DistributedTimeoutError
        if self._done:
            return True
        timeout = self.backend.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not self.event.done:
            if time.monotonic() > deadline:
                self.backend.comm.abort()
                raise DistributedTimeoutError(
                    f"minigrad.distributed: {self.name} on rank {self.backend.rank} (nccl) did "
                    f"not complete within {timeout:g} s; the communicator was aborted")
            time.sleep(1e-4)
        self._done = True
        if self._finish is not None:
            self._finish()
        return True


class NCCLBackend:
    """Collectives over an NCCL communicator of ``world_size`` ranks.

    Parameters
    ----------
    rank, world_size : int
    timeout : float
        Seconds a collective may take before its ``wait`` raises.
    init_method : str or None
        ``"file:///path"``: where rank 0 leaves the NCCL id for the others (when not under MPI).
    """

    name = "nccl"

    def __init__(self, rank, world_size, timeout, init_method=None):
        self.nccl = nccl()
        cp = backend.cupy()
        cp.cuda.Device(rank % cp.cuda.runtime.getDeviceCount()).use()
        self.rank, self.world_size, self.timeout = rank, world_size, timeout
        uid = _share_id(self.nccl, rank, world_size, init_method, timeout)
        self.comm = self.nccl.NcclCommunicator(world_size, uid, rank)
        n = self.nccl
        self.ops = {"sum": n.NCCL_SUM, "avg": n.NCCL_SUM, "product": n.NCCL_PROD,
                    "min": n.NCCL_MIN, "max": n.NCCL_MAX}
        self.types = {"float16": n.NCCL_FLOAT16, "float32": n.NCCL_FLOAT32,
                      "float64": n.NCCL_FLOAT64, "int32": n.NCCL_INT32, "int64": n.NCCL_INT64,
                      "int8": n.NCCL_INT8, "uint8": n.NCCL_UINT8}

    def _gpu(self, array, what):
        if not backend.is_cuda_array(array):
            raise TypeError(f"minigrad.distributed: {what} with the 'nccl' backend needs a "
                            "CUDA tensor, got a CPU one; move it with .cuda() or use "
                            "backend='mpi'")
        if array.dtype.name not in self.types:
            raise TypeError(f"minigrad.distributed: {what}: NCCL has no {array.dtype} type; "
                            f"expected one of {sorted(self.types)}")
        if not array.flags.c_contiguous:
            raise ValueError(f"minigrad.distributed: {what} needs a contiguous array")
        return self.types[array.dtype.name]

    def _queued(self, name, finish=None):
        cp = backend.cupy()
        event = cp.cuda.Event(block=False, disable_timing=True)
        event.record()
        return Work(self, event, name, finish)

    def all_reduce(self, array, op):
        kind = self._gpu(array, "all_reduce")
        stream = backend.cupy().cuda.get_current_stream().ptr
        self.comm.allReduce(array.data.ptr, array.data.ptr, array.size, kind, self.ops[op],
                            stream)
        if op == "avg":
            array /= self.world_size   # queued on the same stream, after the reduction
        return self._queued(f"all_reduce({op}) of shape {array.shape}")

    def broadcast(self, array, src):
        kind = self._gpu(array, "broadcast")
        stream = backend.cupy().cuda.get_current_stream().ptr
        self.comm.broadcast(array.data.ptr, array.data.ptr, array.size, kind, src, stream)
        return self._queued(f"broadcast from rank {src} of shape {array.shape}")

    def all_gather(self, arrays, array):
        kind = self._gpu(array, "all_gather")
        cp = backend.cupy()
        gathered = cp.empty((self.world_size,) + array.shape, array.dtype)
        stream = cp.cuda.get_current_stream().ptr
        self.comm.allGather(array.data.ptr, gathered.data.ptr, array.size, kind, stream)
        for out, part in zip(arrays, gathered):
            out[...] = part
        return self._queued(f"all_gather of shape {array.shape}")

    def barrier(self):
        """A one-element all-reduce: it completes only once every rank has reached it."""
        token = backend.cupy().zeros(1, "float32")
        return self.all_reduce(token, "sum")

    def abort(self, code=1):
        self.comm.abort()
        os._exit(code)

    def close(self):
        self.comm.destroy()


def _share_id(nccl_module, rank, world_size, init_method, timeout):
    """The NCCL unique id, made by rank 0 and handed to the others."""
    if world_size == 1:
        return nccl_module.get_unique_id()
    under_mpi = "PMI_RANK" in os.environ or "OMPI_COMM_WORLD_RANK" in os.environ
    if init_method is None and under_mpi:
        from .backend_mpi import mpi
        comm = mpi().COMM_WORLD
        return comm.bcast(nccl_module.get_unique_id() if rank == 0 else None, root=0)
    if not (init_method or "").startswith("file://"):
        raise ValueError("minigrad.distributed: the 'nccl' backend with several ranks needs "
                         "mpiexec or init_method='file:///a/shared/path' to share its id, got "
                         f"init_method={init_method!r}")
    path = init_method[len("file://"):]
    if rank == 0:
        with open(path + ".tmp", "w") as f:
            json.dump(list(nccl_module.get_unique_id()), f)
        os.replace(path + ".tmp", path)
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            from .errors import DistributedTimeoutError
            raise DistributedTimeoutError(f"minigrad.distributed: rank {rank} found no NCCL id "
                                          f"at {path} within {timeout:g} s")
        time.sleep(0.01)
    with open(path) as f:
        return tuple(json.load(f))
