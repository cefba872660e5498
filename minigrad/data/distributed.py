"""``DistributedSampler``: each rank's share of every epoch, PyTorch's rule.

Every rank builds the same order of the N samples (a permutation seeded by ``seed + epoch``, or
0..N-1), makes its length a multiple of the number of ranks W, then takes every W-th index
starting at its rank, so the ranks' shares are disjoint and together cover the epoch:

- ``drop_last=False``: the order is padded by repeating its first indices (as often as
  needed), so up to W-1 samples are seen twice in an epoch;
- ``drop_last=True``: the tail that does not fill all ranks is dropped (up to W-1 samples
  are not seen this epoch).

Call ``set_epoch(epoch)`` before each epoch when shuffling, or every epoch has the same order.

Notation
--------
N   dataset size;  W  number of ranks (``num_replicas``);  r  this rank
M   samples per rank per epoch, ``len(sampler)``;  T = M·W  the padded or cut total
"""
import math

import numpy as np

from minigrad.checks import check_int
from minigrad.data.sampler import Sampler


class DistributedSampler(Sampler):
    """Yield rank ``rank``'s indices of a dataset shared by ``num_replicas`` ranks.

    Parameters
    ----------
    dataset : sized
    num_replicas : int or None
        W; None asks the process group (``get_world_size``).
    rank : int or None
        r in 0..W-1; None asks the process group (``get_rank``).
    shuffle : bool
        Permute each epoch (seeded by ``seed + epoch``, the same on every rank).
    seed : int
        Must be the same on every rank.
    drop_last : bool
        Cut the tail rather than pad (see the module docstring).
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from minigrad import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: num_replicas and rank were not given "
                                   "and no process group is initialised (call "
                                   "minigrad.distributed.init_process_group first)")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        self.num_replicas = check_int("DistributedSampler", "num_replicas", num_replicas, 1)
        self.rank = check_int("DistributedSampler", "rank", rank, 0)
        if self.rank >= self.num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in 0..{self.num_replicas - 1} "
                             f"(num_replicas={self.num_replicas}), got {self.rank}")
        self.seed = check_int("DistributedSampler", "seed", seed, 0)
        self.dataset, self.shuffle, self.drop_last = dataset, bool(shuffle), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Use the order of epoch ``epoch`` (the same on every rank) from the next ``iter``."""
        self.epoch = check_int("DistributedSampler.set_epoch", "epoch", epoch, 0)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:
            repeats = math.ceil((self.total_size - n) / n)
            order = np.concatenate([order] + [order] * repeats)[:self.total_size]
        return iter(order[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples
