"""The default process group: which backend, which rank, how many ranks, and the collectives.

One process per rank, all running the same script; ``mpiexec -n W python script.py`` starts
them. Each calls :func:`init_process_group` once, then the collectives, in the same order on
every rank (a collective completes only when every rank has called it).

Failure handling, by design:

- every collective is started non-blocking and its ``wait`` polls with a deadline (``timeout``,
  a ``datetime.timedelta``; PyTorch's default, 30 minutes): a rank whose peer died or stopped
  calling collectives raises :class:`DistributedTimeoutError` instead of hanging;
- with several ranks, an exception that nobody catches prints a notice and its traceback, then aborts
  the whole job (``MPI_Abort``), so the other ranks stop at once rather than at the deadline.

Notation
--------
W       world size;  r  rank, 0..W-1 (rank 0 logs and saves)
"""
import datetime
import os
import sys
import time

from .. import backend
from ..tensor import Tensor


class ReduceOp:
    """How :func:`all_reduce` combines the ranks' values (PyTorch's names)."""
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


_ALL_OPS = (ReduceOp.SUM, ReduceOp.AVG, ReduceOp.PRODUCT, ReduceOp.MIN, ReduceOp.MAX)
_group = None               # the backend object once initialised
_previous_excepthook = None
ABORT_GRACE_SECONDS = 0.2  # lets the launcher forward the last lines before MPI_Abort


def init_process_group(backend="mpi", init_method=None, timeout=None, world_size=-1, rank=-1):
    """Join the default process group.

    Parameters
    ----------
    backend : {"mpi", "nccl"}
        "mpi": any device, through mpi4py (the launcher, ``mpiexec``, gives rank and size).
        "nccl": CUDA tensors, through ``cupy.cuda.nccl``, one GPU per rank.
    init_method : str or None
        "nccl" only, without mpiexec: ``"file:///shared/path"`` where the ranks meet.
    timeout : datetime.timedelta or None
        How long one collective may take before it raises; 30 minutes by default.
    world_size, rank : int
        -1: read ``WORLD_SIZE`` / ``RANK`` from the environment, else the launcher's values.
        With "mpi" they must agree with mpiexec's.
    """
    global _group, _previous_excepthook
    if _group is not None:
        raise RuntimeError("init_process_group: the default process group is already "
                           "initialised; call destroy_process_group() first")
    seconds = _timeout_seconds(timeout)
    world_size = _from_env("WORLD_SIZE", world_size)
    rank = _from_env("RANK", rank)
    if backend == "mpi":
        from .backend_mpi import MPIBackend
        group = MPIBackend(seconds)
        for name, given, actual in (("world_size", world_size, group.world_size),
                                    ("rank", rank, group.rank)):
            if given != -1 and given != actual:
                group.close()
                raise ValueError(f"init_process_group: {name}={given} (argument or environment) "
                                 f"but mpiexec started this process with {name} {actual}")
    elif backend == "nccl":
        from .backend_nccl import NCCLBackend
        world_size, rank = _nccl_rank(world_size, rank)
        group = NCCLBackend(rank, world_size, seconds, init_method)
    else:
        raise ValueError(f"init_process_group: backend must be 'mpi' or 'nccl', got {backend!r}")
    _group = group
    if group.world_size > 1:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught


def _timeout_seconds(timeout):
    if timeout is None:
        return 1800.0
    if not isinstance(timeout, datetime.timedelta) or timeout.total_seconds() <= 0:
        raise ValueError("init_process_group: timeout must be a positive datetime.timedelta, "
                         f"got {timeout!r}")
    return timeout.total_seconds()


def _from_env(name, value):
    if value == -1 and os.environ.get(name, "") != "":
        try:
            return int(os.environ[name])
        except ValueError:
            raise ValueError(f"init_process_group: environment variable {name} must be an "
                             f"int, got {os.environ[name]!r}") from None
    return value


def _nccl_rank(world_size, rank):
    """World size and rank for NCCL: given, from the environment, from mpiexec, or 1 and 0."""
    for size_var, rank_var in (("PMI_SIZE", "PMI_RANK"),
                               ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK")):
        if world_size == -1 and size_var in os.environ:
            world_size, rank = int(os.environ[size_var]), int(os.environ[rank_var])
    world_size = 1 if world_size == -1 else world_size
    rank = 0 if rank == -1 else rank
    if not 0 <= rank < world_size:
        raise ValueError(f"init_process_group: rank {rank} is not in 0..{world_size - 1}")
    return world_size, rank


def _abort_on_uncaught(kind, value, traceback):
    """sys.excepthook with several ranks: show the error, then end every rank of the job.

    The one-line notice goes out before the traceback and both are flushed, then the rank waits
    a moment: the launcher forwards each rank's output through a pipe, and an abort that comes
    right after a write can end the job before the launcher has read it.
    """
    if _group is not None:
        sys.stderr.write(f"minigrad.distributed: rank {_group.rank} raised {kind.__name__}; "
                         "aborting all ranks\n")
        sys.stderr.flush()
    _previous_excepthook(kind, value, traceback)
    if _group is not None:
        sys.stderr.flush()
        time.sleep(ABORT_GRACE_SECONDS)
        _group.abort(1)


def destroy_process_group():
    """Leave the default group (every rank should call it); collectives then raise."""
    global _group
    group = _require("destroy_process_group")
    group.close()
    _group = None
    if _previous_excepthook is not None:
        sys.excepthook = _previous_excepthook


def is_available():
    """True: the package imports everywhere (the backends import their libraries on use)."""
    return True


def is_initialized():
    return _group is not None


def get_backend():
    return _require("get_backend").name


def get_rank():
    """This process's rank; 0 when no group was initialised (a single process is rank 0)."""
    return 0 if _group is None else _group.rank


def get_world_size():
    """The number of ranks; 1 when no group was initialised."""
    return 1 if _group is None else _group.world_size


def group_backend():
    """The backend object of the default group (for DistributedDataParallel's buckets)."""
    return _require("DistributedDataParallel")


def _require(what):
    if _group is None:
        raise RuntimeError(f"{what}: the default process group is not initialised; call "
                           "minigrad.distributed.init_process_group() first")
    return _group


def _array_of(what, tensor, written=False):
    """The array of ``tensor``; ``written``: the collective writes its result into it in place,
    so a read-only array (a NumPy view made read-only, ``np.broadcast_to``) is refused here
    rather than deep inside the transport (mpi4py's BufferError)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what}: expected a Tensor, got {type(tensor).__name__}")
    if written and not getattr(tensor.data.flags, "writeable", True):
        raise ValueError(f"{what}: the tensor of shape {tuple(tensor.shape)} is read-only (its "
                         f"array's writeable flag is off), and {what} writes its result into it; "
                         f"pass a writable copy (tensor.clone())")
    return tensor.data


def _finish(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Replace ``tensor`` on every rank by the reduction (``op``) of all the ranks' tensors.

    Parameters
    ----------
    tensor : Tensor, any shape, same shape and dtype on every rank; changed in place
    op : ReduceOp
    group : None
        Only the default group exists.
    async_op : bool
        Return the started :class:`Work` (call ``.wait()``) instead of waiting here.
    """
    g = _require("all_reduce")
    _check_group("all_reduce", group)
    array = _array_of("all_reduce", tensor, written=True)
    if op not in _ALL_OPS:
        raise ValueError(f"all_reduce: op must be one of ReduceOp.{_ALL_OPS}, got {op!r}")
    if op == ReduceOp.AVG and array.dtype.kind not in "fc":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating tensor, got {array.dtype}")
    return _finish(g.all_reduce(array, op), async_op)


def broadcast(tensor, src, group=None, async_op=False):
    """Overwrite ``tensor`` on every rank with rank ``src``'s (same shape and dtype)."""
    g = _require("broadcast")
    _check_group("broadcast", group)
    if not isinstance(src, int) or not 0 <= src < g.world_size:
        raise ValueError(f"broadcast: src must be a rank in 0..{g.world_size - 1}, got {src!r}")
    return _finish(g.broadcast(_array_of("broadcast", tensor, written=True), src), async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor``, on every rank.

    Parameters
    ----------
    tensor_list : list of W Tensors, each of ``tensor``'s shape and dtype; filled in place
    tensor : Tensor
    """
    g = _require("all_gather")
    _check_group("all_gather", group)
    array = _array_of("all_gather", tensor)
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != g.world_size:
        raise ValueError(f"all_gather: tensor_list must be a list of {g.world_size} Tensors "
                         f"(the world size), got {_describe(tensor_list)}")
    outs = [_array_of("all_gather", t, written=True) for t in tensor_list]
    for out in outs:
        if out.shape != array.shape or out.dtype != array.dtype:
            raise ValueError(f"all_gather: every output must have the input's shape "
                             f"{array.shape} and dtype {array.dtype}, got {out.shape} "
                             f"{out.dtype}")
        if backend.is_cuda_array(out) != backend.is_cuda_array(array):
            raise ValueError("all_gather: the outputs must be on the input's device")
    return _finish(g.all_gather(outs, array), async_op)


def barrier(group=None, async_op=False):
    """Return once every rank has called barrier (or raise after the timeout)."""
    g = _require("barrier")
    _check_group("barrier", group)
    return _finish(g.barrier(), async_op)


def _check_group(what, group):
    if group is not None:
        raise ValueError(f"{what}: only the default process group exists; pass group=None")


def _describe(value):
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"a {type(value).__name__}"

