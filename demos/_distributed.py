"""``--distributed`` for the demos: data-parallel training over the ranks ``mpiexec`` starts.

    mpiexec -n 2 python demos/classify_digits.py --distributed

Every rank runs the whole script. Each builds the same model (DistributedDataParallel copies
rank 0's parameters to the others anyway), reads its own share of every epoch through a
DistributedSampler, and after each backward the gradients are averaged over the ranks, so all
ranks take the same optimizer step. ``--batch-size`` is the batch of one rank; the global batch
is W times larger and has W times fewer steps per epoch, so the learning rate is multiplied by W
(the linear scaling rule: one step on W·B samples then moves about as far as W steps on B).
Only rank 0 prints, draws the progress bar and writes the results.
"""
import os
import sys

import minigrad.distributed as dist
from minigrad.data import DataLoader, DistributedSampler
from layers.parallel import DistributedDataParallel


def add_distributed_argument(parser):
    """``--distributed`` on ``parser``."""
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel over the ranks of mpiexec (mpiexec -n 2 python "
                             "<demo> --distributed): --batch-size per rank, learning rate "
                             "times the number of ranks, output from rank 0 only")


def setup_distributed(args):
    """With ``--distributed``: join the MPI group, scale ``args.lr`` by the world size W and
    silence every rank but 0 (no bar, no prints, no TensorBoard log, no debug recipes).
    Returns W (1 without the flag)."""
    if not args.distributed:
        return 1
    dist.init_process_group("mpi")
    world_size = dist.get_world_size()
    args.lr *= world_size
    if dist.get_rank() != 0:
        args.quiet = True
        for name in ("logdir", "debug"):
            if hasattr(args, name):
                setattr(args, name, None if name == "logdir" else False)
        sys.stdout = open(os.devnull, "w")
    return world_size


def wrap_model(model, args):
    """The model to train: wrapped in DistributedDataParallel with ``--distributed``."""
    return DistributedDataParallel(model) if args.distributed else model


def make_loader(dataset, args):
    """A shuffled, seeded loader of ``--batch-size``; each rank's share with ``--distributed``."""
    if args.distributed:
        sampler = DistributedSampler(dataset, seed=args.seed)
        return DataLoader(dataset, batch_size=args.batch_size, sampler=sampler,
                          device=args.device)
    return DataLoader(dataset, batch_size=args.batch_size, shuffle=True, seed=args.seed,
                      device=args.device)


def start_epoch(loader, epoch):
    """Give the DistributedSampler its epoch (a new order, the same on every rank)."""
    if isinstance(loader.sampler, DistributedSampler):
        loader.sampler.set_epoch(epoch)


def is_main_process():
    """True on rank 0 (and without ``--distributed``): the rank that writes the results."""
    return dist.is_main_process()
