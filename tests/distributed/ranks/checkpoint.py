"""Checkpoints between distributed and single-process runs.

Usage: mpiexec -n 2 python checkpoint.py save PATH      train 2 steps with DDP, save on rank 0
       mpiexec -n 2 python checkpoint.py load PATH OUT  every rank loads PATH into its model,
                                                        rank 0 writes what each rank holds
"""
import json
import sys

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
import minigrad.functional as F
from layers import Linear, ReLU, Sequential
from layers.parallel import DistributedDataParallel
from optim import SGD


def model():
    mg.manual_seed(10 + dist.get_rank())       # different on each rank until DDP syncs them
    return Sequential(Linear(3, 5), ReLU(), Linear(5, 2))


def save(path):
    ddp = DistributedDataParallel(model())
    opt = SGD(ddp.parameters(), lr=0.5)
    rng = np.random.default_rng(dist.get_rank())
    for _ in range(2):
        opt.zero_grad()
        F.mse_loss(ddp(mg.tensor(rng.normal(size=(4, 3)), dtype=mg.float32)),
                   mg.zeros(4, 2)).backward()
        opt.step()
    dist.save_on_rank0(ddp, path)
    with open(path) as _:                     # readable on every rank after save_on_rank0
        pass
    dist.print0("saved", sorted(ddp.module.state_dict()))


def load(path, out):
    net = model()
    net.load_state_dict(mg.load(path))
    flat = np.concatenate([p.numpy().ravel() for p in net.parameters()])
    everyone = [mg.zeros(flat.shape, dtype=flat.dtype) for _ in range(2)]
    dist.all_gather(everyone, mg.tensor(flat))
    if dist.get_rank() == 0:
        with open(out, "w") as f:
            json.dump([e.tolist() for e in everyone], f)


if __name__ == "__main__":
    dist.init_process_group("mpi")
    save(sys.argv[2]) if sys.argv[1] == "save" else load(sys.argv[2], sys.argv[3])
    dist.destroy_process_group()
