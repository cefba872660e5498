"""Two ranks with batch B each against one process with batch 2B, in float64.

Usage: mpiexec -n 2 python equivalence.py OUT.json
Rank 0 also computes the single-process reference and writes the largest parameter difference
of each configuration to OUT.json.
"""
import json
import sys

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
import minigrad.functional as F
from layers import BatchNorm1d, Linear, Module, Sequential, Tanh
from layers.parallel import DistributedDataParallel, SyncBatchNorm
from optim import SGD, Adam

B, STEPS, D, K = 4, 5, 6, 3


class Net(Module):
    def __init__(self, batch_norm=False, spare=False):
        super().__init__()
        layers = [Linear(D, 16)] + ([BatchNorm1d(16)] if batch_norm else []) + [Tanh(),
                                                                                Linear(16, K)]
        self.body = Sequential(*layers)
        self.spare = Linear(2, 2) if spare else None   # never used in forward

    def forward(self, x):
        return self.body(x)


def make_model(config):
    mg.manual_seed(1 + dist.get_rank() * 100 * (not config.get("same_init", False)))
    model = Net(config.get("bn", False), config.get("spare", False)).double()
    if config.get("bn"):
        model = SyncBatchNorm.convert_sync_batchnorm(model) if config.get("ddp") else model
    return model


def make_optimizer(config, params):
    if config["opt"] == "sgd":
        return SGD(params, lr=0.1, momentum=0.9)
    return Adam(params, lr=0.01)


def data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(STEPS, 2 * 2 * B, D))
    y = rng.integers(0, K, size=(STEPS, 2 * 2 * B))
    return x, y


def train(config, distributed):
    """Parameters after STEPS steps; each step takes two micro-batches (accumulated)."""
    model = make_model(dict(config, ddp=distributed))
    x, y = data()
    r = dist.get_rank()
    if distributed:
        wrapper = DistributedDataParallel(model, bucket_cap_mb=config["cap"],
                                          find_unused_parameters=config.get("spare", False))
    else:
        model.load_state_dict(reference_start(config))
        wrapper = model
    opt = make_optimizer(config, wrapper.parameters())
    for step in range(STEPS):
        opt.zero_grad()
        for micro in range(2):                      # gradient accumulation over 2 micro-batches
            xs = x[step, micro * 2 * B:(micro + 1) * 2 * B]
            ys = y[step, micro * 2 * B:(micro + 1) * 2 * B]
            if distributed:
                xs, ys = xs[r * B:(r + 1) * B], ys[r * B:(r + 1) * B]
            last = micro == 1
            if distributed and not last and config.get("no_sync"):
                with wrapper.no_sync():
                    (F.cross_entropy(wrapper(mg.tensor(xs)), mg.tensor(ys)) / 2).backward()
            else:
                if not config.get("no_sync") and not last:
                    continue                        # without no_sync: one micro-batch a step
                scale = 2 if config.get("no_sync") else 1
                (F.cross_entropy(wrapper(mg.tensor(xs)), mg.tensor(ys)) / scale).backward()
        opt.step()
    return {k: v.numpy().copy() for k, v in dist.unwrap_model(wrapper).state_dict().items()}


START = {}


def reference_start(config):
    return START[json.dumps(config, sort_keys=True)]


CONFIGS = [dict(opt=o, cap=c) for o in ("sgd", "adam") for c in (0, 25)] + [
    dict(opt="sgd", cap=0.0005), dict(opt="adam", cap=25, no_sync=True),
    dict(opt="sgd", cap=0, no_sync=True), dict(opt="sgd", cap=25, bn=True),
    dict(opt="adam", cap=0.0005, bn=True), dict(opt="sgd", cap=0, spare=True)]


def main(out):
    dist.init_process_group("mpi")
    results = {}
    for config in CONFIGS:
        key = json.dumps(config, sort_keys=True)
        # rank 0's initial parameters, which DDP copies to every rank
        START[key] = {k: mg.tensor(v.numpy().copy())
                      for k, v in make_model(dict(config, ddp=False)).state_dict().items()}
        after = train(config, distributed=True)
        if dist.get_rank() == 0:
            expected = train(config, distributed=False)
            moved = max(float(np.abs(expected[k] - START[key][k].numpy()).max())
                        for k in expected)
            diff = max(float(np.abs(after[k] - expected[k]).max()) for k in expected)
            results[key] = {"max_diff": diff, "moved": moved}
        # the ranks must agree with each other exactly
        for k, v in after.items():
            gathered = [mg.zeros(v.shape, dtype=v.dtype) for _ in range(2)]
            dist.all_gather(gathered, mg.tensor(v))
            assert np.array_equal(gathered[0].numpy(), gathered[1].numpy()), k
    if dist.get_rank() == 0:
        with open(out, "w") as f:
            json.dump(results, f)
        print("configs", len(results))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
