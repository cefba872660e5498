"""Normalisation forward + backward: the fused kernels against PyTorch and the old composites.

Workloads (float32, training mode, affine, a fixed upstream gradient):

    batch_norm2d   x (64, 32, 28, 28)      the issue-14 workload (target <= 1.0x)
    batch_norm1d   x (128, 256)            an MLP's BatchNorm1d
    layer_norm     x (64*64, 128)          rows of a transformer's width 128
    group_norm     x (32, 64, 28, 28), 8 groups (the layer-norm kernel on a reshaped input)

Each row times minigrad (fused), PyTorch, and minigrad's composite of ops (what F.batch_norm
and F.layer_norm were before the kernels; ``minigrad.norms._batch_norm_composite``), all in one
process at ``--threads`` threads (Numba's and PyTorch's pools set alike). On a busy machine,
``--cpu-time`` times with ``time.process_time`` instead of the wall clock: at one thread the
CPU a call used does not depend on how often other jobs took the core away.

    python -m bench.bench_norm [--threads 1] [--repeats 7] [--cpu-time]
"""

import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad import norms
from bench.harness import kernel_bench_arguments, report


def _runner(fn, arrays, g, make):
    """A callable doing forward + backward of ``fn`` on tensors that ``make`` builds."""
    ts = [make(a) for a in arrays]
    g = make(g, grad=False)

    def run():
        for t in ts:
            t.grad = None
        fn(*ts).backward(g)
    return run


def workloads():
    """(name, shape, parameter shape, minigrad fn, composite fn, torch fn given torch.F)."""
    def bn(x, w, b):
        return F.batch_norm(x, None, None, w, b, training=True)

    def bn_composite(x, w, b):
        return norms._batch_norm_composite(x, None, None, w, b, True, 0.1, 1e-5)

    def ln(x, w, b):
        return F.layer_norm(x, (128,), w, b)

    def ln_composite(x, w, b):
        return norms._normalize_composite(x, (1,), 1e-5) * w + b

    def gn(x, w, b):
        return F.group_norm(x, 8, w, b)

    def gn_composite(x, w, b):
        out = norms._normalize_composite(x.reshape(32, 8, -1), (2,), 1e-5).reshape(x.shape)
        return norms._affine(out, w, b)
    return [
        ("batch_norm2d training (64,32,28,28)", (64, 32, 28, 28), (32,), bn, bn_composite,
         lambda tF: lambda x, w, b: tF.batch_norm(x, None, None, w, b, training=True)),
        ("batch_norm1d training (128,256)", (128, 256), (256,), bn, bn_composite,
         lambda tF: lambda x, w, b: tF.batch_norm(x, None, None, w, b, training=True)),
        ("layer_norm (4096,128)", (64 * 64, 128), (128,), ln, ln_composite,
         lambda tF: lambda x, w, b: tF.layer_norm(x, (128,), w, b)),
        ("group_norm 8 groups (32,64,28,28)", (32, 64, 28, 28), (64,), gn, gn_composite,
         lambda tF: lambda x, w, b: tF.group_norm(x, 8, w, b)),
    ]


def main(argv=None):
    args, timer, torch = kernel_bench_arguments(__doc__.split("\n")[0], argv)
    rng = np.random.default_rng(0)
    rows = []
    for name, shape, param_shape, ours, composite, theirs in workloads():
        arrays = [rng.standard_normal(shape, dtype=np.float32),
                  rng.random(param_shape, dtype=np.float32) + 0.5,
                  rng.standard_normal(param_shape, dtype=np.float32)]
        g = rng.standard_normal(shape, dtype=np.float32)

        def make_mg(a, grad=True):
            return mg.tensor(a, requires_grad=grad)
        run_torch = None
        if torch is not None:
            def make_torch(a, grad=True):
                return torch.tensor(a, requires_grad=grad)
            run_torch = _runner(theirs(torch.nn.functional), arrays, g, make_torch)
        rows.append(timer(name, _runner(ours, arrays, g, make_mg), run_torch,
                            repeats=args.repeats))
        rows.append(timer("  (the composite of ops, before)",
                            _runner(composite, arrays, g, make_mg), run_torch,
                            repeats=args.repeats))
    clock = "CPU time" if args.cpu_time else "wall time"
    report(rows, f"normalisation forward + backward, float32, {args.threads} thread(s), {clock}")


if __name__ == "__main__":
    main()
