"""Each collective on known values; rank 0 writes what every rank saw to OUT.json.

Usage: mpiexec -n 2 python collectives.py OUT.json
"""
import json
import sys

import numpy as np

import minigrad as mg
import minigrad.distributed as dist


def main(out):
    dist.init_process_group("mpi")
    r, w = dist.get_rank(), dist.get_world_size()
    seen = {"rank": r, "world_size": w, "backend": dist.get_backend(),
            "initialized": dist.is_initialized()}
    for op in ("sum", "avg", "product", "min", "max"):
        t = mg.tensor([[1.0 + r, -2.0 * r], [3.0, 0.5 + r]], dtype=mg.float64)
        dist.all_reduce(t, op=op)
        seen["all_reduce_" + op] = t.tolist()
    t = mg.tensor([10 + r, 20 + r], dtype=mg.int64)
    dist.all_reduce(t)
    seen["all_reduce_int"] = t.tolist()
    t = mg.tensor([7.0 * (r + 1)] * 3, dtype=mg.float32)
    work = dist.all_reduce(t, op=dist.ReduceOp.MAX, async_op=True)
    work.wait()
    seen["all_reduce_async"] = t.tolist()
    t = mg.arange(6, dtype=mg.float32).reshape(2, 3) * (r + 1)
    dist.broadcast(t, src=1)
    seen["broadcast_from_1"] = t.tolist()
    t = mg.tensor([r * 1.5, r + 0.25, -r])
    outs = [mg.zeros(3) for _ in range(w)]
    dist.all_gather(outs, t)
    seen["all_gather"] = [o.tolist() for o in outs]
    x = mg.tensor([1.0 + r, 2.0], dtype=mg.float64, requires_grad=True)
    s = dist.all_reduce_sum(x)
    (s * s * (r + 1)).sum().backward()
    seen["differentiable_sum"] = s.tolist()
    seen["differentiable_sum_grad"] = x.grad.tolist()
    dist.barrier()
    errors = []
    for call in (lambda: dist.all_reduce(np.ones(2)),
                 lambda: dist.broadcast(mg.ones(2), src=5),
                 lambda: dist.all_gather([mg.zeros(2)], mg.ones(2)),
                 lambda: dist.all_gather([mg.zeros(3), mg.zeros(3)], mg.ones(2)),
                 lambda: dist.all_reduce(mg.ones(2, dtype=mg.int64), op=dist.ReduceOp.AVG),
                 lambda: dist.all_reduce(mg.ones(2), op="mean"),
                 lambda: dist.all_reduce(mg.ones(2), group="world"),
                 lambda: dist.all_reduce(_read_only(2)),
                 lambda: dist.broadcast(_read_only(3), src=0),
                 lambda: dist.all_gather([mg.zeros(2), _read_only(2)], mg.ones(2))):
        try:
            call()
            errors.append(None)
        except (TypeError, ValueError) as error:
            errors.append(str(error))
    seen["errors"] = errors
    everyone = mg.zeros(2, dtype=mg.float64)
    everyone.data[r] = 1.0
    dist.all_reduce(everyone)
    seen["both_ranks_reached_the_end"] = everyone.tolist()
    if r == 0:
        with open(out, "w") as f:
            json.dump(seen, f)
    dist.destroy_process_group()
    seen_after = (dist.is_initialized(), dist.get_rank(), dist.get_world_size())
    if r == 0:
        print("after destroy", seen_after)


def _read_only(n):
    array = np.zeros(n)
    array.flags.writeable = False
    return mg.from_numpy(array)


if __name__ == "__main__":
    main(sys.argv[1])
