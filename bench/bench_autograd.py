"""Autograd overhead: a chain of 200 elementwise ops on (4, 4) tensors, forward + backward.

With arrays this small, the arithmetic is negligible and the time is the engine's own
bookkeeping: creating Tensors and graph nodes, then walking the graph. Reported in
microseconds per op (the whole step divided by 200).

    python -m bench.bench_autograd
"""
import numpy as np

import minigrad as mg
from bench.harness import compare, report, torch_or_none

OPS = 200


def chain(x, w):
    """200 elementwise ops cycling through mul, add, tanh and sub."""
    y = x
    for i in range(OPS // 4):
        y = y * w
        y = y + x
        y = y.tanh()
        y = y - w
    return y.sum()


def main():
    rng = np.random.default_rng(0)
    x0, w0 = rng.standard_normal((4, 4), dtype=np.float32), rng.standard_normal((4, 4),
                                                                                 dtype=np.float32)
    x = mg.tensor(x0, requires_grad=True)
    w = mg.tensor(w0, requires_grad=True)

    def run_minigrad():
        x.grad = w.grad = None
        chain(x, w).backward()

    torch = torch_or_none(threads=1)
    run_torch = None
    if torch is not None:
        tx = torch.tensor(x0, requires_grad=True)
        tw = torch.tensor(w0, requires_grad=True)

        def run_torch():
            tx.grad = tw.grad = None
            chain(tx, tw).backward()

    row = compare(f"chain of {OPS} elementwise ops on (4, 4), fwd+bwd", run_minigrad,
                  run_torch, number=20, repeats=9, unit="µs per op", scale=1e6 / OPS,
                  target=1.5)
    report([row], "Autograd overhead (CPU)")


if __name__ == "__main__":
    main()
