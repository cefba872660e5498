"""Training steps: a LeNet-style CNN and an MLP, minigrad against PyTorch on the CPU.

One step is forward, cross-entropy, backward and an SGD update (momentum 0.9), on one fixed
batch, so data loading is left out. The two frameworks train the same architecture from the
same initial weights, in the same process, PyTorch with as many threads as the machine has
cores. Reported: median milliseconds per step and the ratio minigrad / PyTorch.

    LeNet   (64, 1, 28, 28) ─ Conv2d(1, 6, 5, padding=2) ─ ReLU ─ MaxPool2d(2)     (64, 6, 14, 14)
                            ─ Conv2d(6, 16, 5) ─ ReLU ─ MaxPool2d(2)                (64, 16, 5, 5)
                            ─ Flatten ─ Linear(400, 120) ─ ReLU ─ Linear(120, 10)
    MLP     (128, 784) ─ Linear(784, 256) ─ ReLU ─ Linear(256, 256) ─ ReLU ─ Linear(256, 10)

    python -m bench.bench_train

Notation
--------
B       batch size: 64 for the CNN, 128 for the MLP
K       number of classes, 10
"""
import argparse
import os

import numpy as np

import minigrad as mg
import minigrad.functional as F
from bench.harness import compare, report, torch_or_none
import layers
from optim import SGD

TARGET = 1.5
LR, MOMENTUM = 0.01, 0.9


def lenet(nn):
    """The LeNet-style CNN, built from ``nn`` (the ``layers`` package or ``torch.nn``)."""
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 10))


def mlp(nn):
    """The MLP 784-256-256-10, built from ``nn``."""
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def torch_twin(torch, build, model):
    """``build(torch.nn)`` holding copies of ``model``'s weights (the state dict keys agree)."""
    twin = build(torch.nn)
    twin.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                          for k, v in model.state_dict().items()})
    return twin


def minigrad_step(model, x, y):
    """A closure doing one SGD training step of ``model`` on the batch (x, y)."""
    optimizer = SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    x, y = mg.tensor(x), mg.tensor(y)

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return step


def torch_step(torch, model, x, y):
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    x, y = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return step


def workloads(rng):
    """(name, model builder, batch images, batch labels) for each benchmark."""
    images = rng.random((64, 1, 28, 28), dtype=np.float32)
    vectors = rng.random((128, 784), dtype=np.float32)
    return [("LeNet step, batch 64 x 1x28x28", lenet, images, rng.integers(0, 10, 64)),
            ("MLP 784-256-256-10 step, batch 128", mlp, vectors, rng.integers(0, 10, 128))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per workload")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of 20 minigrad steps of each workload")
    args = parser.parse_args(argv)
    torch = torch_or_none(threads=len(os.sched_getaffinity(0)))
    mg.manual_seed(0)
    rows = []
    for name, build, x, y in workloads(np.random.default_rng(0)):
        model = build(layers)
        ours = minigrad_step(model, x, y)
        theirs = torch_step(torch, torch_twin(torch, build, model), x, y) if torch else None
        rows.append(compare(name, ours, theirs, repeats=args.repeats, warmup=3,
                            target=TARGET))
        if args.profile:
            import cProfile
            import pstats
            profiler = cProfile.Profile()
            profiler.runcall(lambda: [ours() for _ in range(20)])
            print(f"\n{name}: cProfile of 20 steps, by own time")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    report(rows, f"Training steps on the CPU ({len(os.sched_getaffinity(0))} cores)")


if __name__ == "__main__":
    main()
