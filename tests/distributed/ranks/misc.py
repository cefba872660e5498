"""Smaller DDP behaviours on 2 ranks; rank 0 writes what it saw to OUT.json.

Usage: mpiexec -n 2 python misc.py OUT.json
"""
import io
import json
import sys

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
import minigrad.functional as F
from layers import BatchNorm1d, Linear, Module, Sequential
from layers.parallel import DistributedDataParallel


class TwoHeads(Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = Linear(2, 1), Linear(2, 1)

    def forward(self, x):
        return self.a(x)                      # self.b gets no gradient


def main(out):
    dist.init_process_group("mpi")
    r = dist.get_rank()
    seen = {}
    # 1. a parameter without a gradient: the next forward says which one
    mg.manual_seed(r)
    ddp = DistributedDataParallel(TwoHeads())
    ddp(mg.ones(3, 2)).sum().backward()
    try:
        ddp(mg.ones(3, 2))
        seen["unused"] = None
    except RuntimeError as error:
        seen["unused"] = str(error)
    # 2. forward under no_grad (evaluation) leaves the gradients alone and does not block
    mg.manual_seed(r)
    net = Sequential(Linear(2, 3), BatchNorm1d(3))
    ddp = DistributedDataParallel(net, bucket_cap_mb=0)
    ddp.eval()
    with mg.no_grad():
        ddp(mg.ones(2, 2) * (r + 1))
    ddp.train()
    x = mg.tensor(np.arange(8.0, dtype=np.float32).reshape(4, 2) * (r + 1))
    F.mse_loss(ddp(x), mg.zeros(4, 3)).backward()
    grad = net[0].weight.grad.numpy()
    both = [mg.zeros(grad.shape) for _ in range(2)]
    dist.all_gather(both, mg.tensor(grad))
    seen["grads_equal_on_both_ranks"] = bool(np.array_equal(both[0].numpy(), both[1].numpy()))
    # buffers are rank 0's after each training forward (broadcast_buffers)
    rm = net[1].running_mean.numpy()
    both = [mg.zeros(rm.shape) for _ in range(2)]
    dist.all_gather(both, mg.tensor(rm))
    seen["buffers_differ_after_forward"] = not np.array_equal(both[0].numpy(), both[1].numpy())
    ddp(mg.ones(4, 2))          # starts from rank 0's buffers, then the same update everywhere
    dist.all_gather(both, mg.tensor(net[1].running_mean.numpy()))
    seen["buffers_equal_after_same_input"] = bool(np.array_equal(both[0].numpy(),
                                                                 both[1].numpy()))
    seen["repr"] = repr(ddp).splitlines()[0]
    # 3. rank-0 helpers
    buffer = io.StringIO()
    dist.print0("hello from", r, file=buffer)
    seen_prints = mg.tensor([float(buffer.getvalue() != "")])
    dist.all_reduce(seen_prints)
    seen["prints"] = seen_prints.item()
    bar = dist.progress_bar(range(3), file=io.StringIO())
    seen["bar_disabled_on_rank"] = [bar.disable, r]
    flags = mg.tensor([float(bar.disable) * (r == 1), float(not bar.disable) * (r == 0)])
    dist.all_reduce(flags)
    seen["bar_only_on_rank0"] = flags.tolist()
    seen["is_main"] = dist.is_main_process()
    if r == 0:
        with open(out, "w") as f:
            json.dump(seen, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
