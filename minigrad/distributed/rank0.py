"""Doing things once per job rather than once per rank: printing, logging, progress bars,
checkpoints. Rank 0 does them; the other ranks skip them (or wait for them).

A checkpoint is a plain state dict written by ``mg.save``. Saving ``ddp.module.state_dict()``
(or :func:`save_on_rank0` of the wrapped model, which unwraps it) gives the same keys as the
single-process model, so a checkpoint moves freely between distributed and single-process runs:
each rank of a distributed run loads the same file, and DistributedDataParallel keeps the
ranks identical from then on.
"""
import functools

from .process_group import barrier, get_rank, is_initialized


def is_main_process():
    """True on rank 0, and in a process that never joined a group."""
    return get_rank() == 0


def rank_zero_only(fn):
    """Decorate ``fn`` so that it runs on rank 0 only (elsewhere it returns None)."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        return fn(*args, **kwargs) if is_main_process() else None
    return wrapped


@rank_zero_only
def print0(*args, **kwargs):
    """``print`` on rank 0 only."""
    print(*args, **kwargs)


def progress_bar(iterable=None, **tqdm_kwargs):
    """A tqdm bar drawn by rank 0; on the other ranks the same object, silent
    (``disable=True``), so the calling code is identical on every rank."""
    from tqdm import tqdm
    disable = tqdm_kwargs.pop("disable", False) or not is_main_process()
    return tqdm(iterable, disable=disable, **tqdm_kwargs)


def unwrap_model(model):
    """The module inside a DistributedDataParallel (anything with ``.module``), else ``model``."""
    inner = getattr(model, "module", None)
    return inner if inner is not None and type(model).__name__ == "DistributedDataParallel" \
        else model


def save_on_rank0(obj, path):
    """Write ``obj`` with ``mg.save`` on rank 0, then wait until it is written on every rank
    (so any rank may read it next). A Module is saved as its state dict, unwrapped from
    DistributedDataParallel, so the file loads into the plain single-process model."""
    import minigrad as mg
    if hasattr(obj, "state_dict") and hasattr(obj, "parameters"):
        obj = unwrap_model(obj).state_dict()
    if is_main_process():
        mg.save(obj, path)
    if is_initialized():
        barrier()
