"""The activations built on ``ops/unary.Activation`` and the ops' ``where``, forward + backward,
against PyTorch; and ``where`` itself: NumPy's against the ``select`` kernel.

Workloads (float32, x (64, 64, 16, 16), a fixed upstream gradient): leaky_relu(0.2), hardtanh,
softshrink, elu, hardswish, and ``where(x > 0, x, 2x)``. The last rows time the array-level
where alone, on 2**20 float32 elements with a mask that follows the data (x > 0 on random
values, where NumPy's branch is mispredicted half the time) and with a regular mask: NumPy's
``np.where`` in the "PyTorch" column's place, the kernel in minigrad's.

    python -m bench.bench_activation [--threads 1] [--repeats 7] [--cpu-time]
"""

import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad.kernels.cpu import activation
from bench.harness import kernel_bench_arguments, report


def workloads():
    """(name, minigrad fn, torch fn given torch)."""
    return [
        ("leaky_relu(0.2)", lambda x: F.leaky_relu(x, 0.2),
         lambda torch: lambda x: torch.nn.functional.leaky_relu(x, 0.2)),
        ("hardtanh", F.hardtanh, lambda torch: torch.nn.functional.hardtanh),
        ("softshrink", F.softshrink, lambda torch: torch.nn.functional.softshrink),
        ("elu", F.elu, lambda torch: torch.nn.functional.elu),
        ("hardswish", F.hardswish, lambda torch: torch.nn.functional.hardswish),
        ("where(x > 0, x, 2x)", lambda x: mg.where(x.data > 0, x, x * 2),
         lambda torch: lambda x: torch.where(x > 0, x, x * 2)),
    ]


def _runner(fn, x0, g0, make):
    x, g = make(x0, True), make(g0, False)

    def run():
        x.grad = None
        fn(x).backward(g)
    return run


def main(argv=None):
    args, timer, torch = kernel_bench_arguments(__doc__.split("\n")[0], argv)
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((64, 64, 16, 16), dtype=np.float32)
    g0 = rng.standard_normal(x0.shape, dtype=np.float32)
    rows = []
    for name, ours, theirs in workloads():
        run_torch = None
        if torch is not None:
            run_torch = _runner(theirs(torch), x0, g0,
                                lambda a, grad: torch.tensor(a, requires_grad=grad))
        rows.append(timer(f"{name} (64, 64, 16, 16)",
                          _runner(ours, x0, g0, lambda a, grad: mg.tensor(a, requires_grad=grad)),
                          run_torch, repeats=args.repeats))
    flat = rng.standard_normal(2**20, dtype=np.float32)
    other = rng.standard_normal(2**20, dtype=np.float32)
    for label, cond in [("data-dependent mask", flat > 0),
                        ("regular mask", np.arange(2**20) % 2 == 0)]:
        rows.append(timer(f"where alone, 2**20, {label}: select vs np.where",
                          lambda: activation.select(cond, flat, other),
                          lambda: np.where(cond, flat, other), repeats=args.repeats))
    clock = "CPU time" if args.cpu_time else "wall time"
    report(rows, f"activations and where, forward + backward, float32, {args.threads} "
                 f"thread(s), {clock} (the last rows: minigrad's kernel / NumPy's where)")


if __name__ == "__main__":
    main()
