"""Data-parallel training over several processes: ``minigrad.distributed`` (PyTorch's
``torch.distributed``), on MPI (``mpi4py``; CPU, or GPU via the host) or NCCL (CuPy; GPU).

    mpiexec -n 2 python train.py                       # two ranks, one script

    import minigrad.distributed as dist
    dist.init_process_group("mpi")
    dist.get_rank(), dist.get_world_size()             # 0 or 1, 2
    t = mg.tensor([1.0 + dist.get_rank()])
    dist.all_reduce(t)                                 # t == [3.] on both ranks

- process group: ``init_process_group``, ``destroy_process_group``, ``is_initialized``,
  ``get_rank``, ``get_world_size``, ``get_backend``;
- collectives (in place, every rank in the same order): ``all_reduce`` (``ReduceOp``),
  ``broadcast``, ``all_gather``, ``barrier``; ``async_op=True`` returns a ``Work`` to ``wait``;
- failure: a collective that does not complete within the group's ``timeout`` raises
  ``DistributedTimeoutError``; an uncaught error on any rank aborts the whole job;
- ``all_reduce_sum``: a differentiable sum over ranks (SyncBatchNorm);
- rank-0 helpers: ``print0``, ``rank_zero_only``, ``progress_bar``, ``save_on_rank0``.

``layers.DistributedDataParallel`` and ``layers.SyncBatchNorm`` build on it, and
``minigrad.data.DistributedSampler`` gives each rank its share of the data.
"""
from .errors import DistributedTimeoutError
from .process_group import (ReduceOp, all_gather, all_reduce, barrier, broadcast,
                            destroy_process_group, get_backend, get_rank, get_world_size,
                            init_process_group, is_available, is_initialized)
from .nn import all_reduce_sum
from .rank0 import (is_main_process, print0, progress_bar, rank_zero_only, save_on_rank0,
                    unwrap_model)

__all__ = ["init_process_group", "destroy_process_group", "is_available", "is_initialized",
           "get_backend", "get_rank", "get_world_size", "ReduceOp", "all_reduce", "broadcast",
           "all_gather", "barrier", "DistributedTimeoutError", "all_reduce_sum",
           "is_main_process", "print0", "rank_zero_only", "progress_bar", "save_on_rank0",
           "unwrap_model"]
