"""Softmax, log-softmax, cross-entropy and linear forward + backward: the fused Functions against
PyTorch and the composites of ops they replaced.

Workloads (float32, a fixed upstream gradient):

    softmax         x (4096, 1000), last axis
    log_softmax     x (4096, 1000), last axis
    cross_entropy   logits (4096, 1000), class targets, mean
    cross_entropy   dense logits (16, 21, 64, 64) (a segmentation head), class targets, mean
    linear          x (128, 784) -> 256, with bias (the MLP's first layer)

Each row times minigrad (fused), PyTorch, and minigrad's composite of ops (what F.softmax,
F.log_softmax, F.cross_entropy and F.linear were before the fused Functions), all in one process
at ``--threads`` threads (Numba's and PyTorch's pools set alike; BLAS is set by the environment,
e.g. ``OPENBLAS_NUM_THREADS=1``). On a busy machine, ``--cpu-time`` times with
``time.process_time``: at one thread the CPU a call used does not depend on how often other
jobs took the core away.

    python -m bench.bench_softmax [--threads 1] [--repeats 7] [--cpu-time]
"""

import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad.ops.linalg import matmul
from minigrad.ops.reduce import logsumexp
from minigrad.ops.shape import transpose
from bench.harness import kernel_bench_arguments, report


def softmax_composite(x):
    e = mg.exp(x - x.data.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def log_softmax_composite(x):
    return x - logsumexp(x, -1, keepdims=True)


def cross_entropy_composite(x, target):
    return F.nll_loss(x - logsumexp(x, 1, keepdims=True), target)


def linear_composite(x, w, b):
    return matmul(x, transpose(w)) + b


def workloads(rng):
    """(name, arrays, target or None, minigrad fn, composite fn, torch fn given torch)."""
    rows = rng.standard_normal((4096, 1000), dtype=np.float32)
    dense = rng.standard_normal((16, 21, 64, 64), dtype=np.float32)
    lin = [rng.standard_normal((128, 784), dtype=np.float32),
           rng.standard_normal((256, 784), dtype=np.float32) * 0.03,
           rng.standard_normal(256, dtype=np.float32)]
    return [
        ("softmax (4096, 1000)", [rows], None, F.softmax, softmax_composite,
         lambda torch: lambda x: torch.softmax(x, -1)),
        ("log_softmax (4096, 1000)", [rows], None, F.log_softmax, log_softmax_composite,
         lambda torch: lambda x: torch.log_softmax(x, -1)),
        ("cross_entropy (4096, 1000)", [rows], rng.integers(0, 1000, 4096), F.cross_entropy,
         cross_entropy_composite, lambda torch: torch.nn.functional.cross_entropy),
        ("cross_entropy dense (16, 21, 64, 64)", [dense], rng.integers(0, 21, (16, 64, 64)),
         F.cross_entropy, cross_entropy_composite,
         lambda torch: torch.nn.functional.cross_entropy),
        ("linear (128, 784) -> 256", lin, None, F.linear, linear_composite,
         lambda torch: torch.nn.functional.linear),
    ]


def _runner(fn, arrays, target, g, make):
    """A callable doing forward + backward of ``fn`` on tensors that ``make`` builds."""
    ts = [make(a) for a in arrays]
    extra = () if target is None else (make(target, grad=False),)
    g = None if g is None else make(g, grad=False)

    def run():
        for t in ts:
            t.grad = None
        fn(*ts, *extra).backward(g)
    return run


def main(argv=None):
    args, timer, torch = kernel_bench_arguments(__doc__.split("\n")[0], argv)
    rng = np.random.default_rng(0)
    rows = []
    for name, arrays, target, ours, composite, theirs in workloads(rng):
        with mg.no_grad():
            out = ours(*[mg.tensor(a) for a in arrays],
                       *(() if target is None else (mg.tensor(target),)))
        g = None if out.ndim == 0 else rng.standard_normal(out.shape, dtype=np.float32)

        def make_mg(a, grad=True):
            return mg.tensor(a, requires_grad=grad and a.dtype.kind == "f")
        run_torch = None
        if torch is not None:
            def make_torch(a, grad=True):
                return torch.tensor(a, requires_grad=grad and a.dtype.kind == "f")
            run_torch = _runner(theirs(torch), arrays, target, g, make_torch)
        rows.append(timer(name, _runner(ours, arrays, target, g, make_mg), run_torch,
                          repeats=args.repeats))
        rows.append(timer("  (the composite of ops, before)",
                          _runner(composite, arrays, target, g, make_mg), run_torch,
                          repeats=args.repeats))
    clock = "CPU time" if args.cpu_time else "wall time"
    report(rows, f"softmax family and linear, forward + backward, float32, {args.threads} "
                 f"thread(s), {clock}")


if __name__ == "__main__":
    main()
