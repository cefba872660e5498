"""conv2d and conv_transpose2d on the CPU, forward + backward, against PyTorch in one process.

Workloads (float32, every input requiring grad, a fixed upstream gradient):

- conv2d x (64, 32, 14, 14), w (64, 32, 3, 3), padding 1
- conv2d x (32, 64, 32, 32), w (128, 64, 3, 3), padding 1
- conv_transpose2d x (32, 64, 8, 8), w (64, 32, 4, 4), stride 2, padding 1

``--phases`` compares minigrad with itself instead: forward + backward of stride-2 4x4
convolutions (DCGAN's layers) with Winograd on their phases and without it (the windows as
rows), ``im2col_gemm.WINOGRAD`` on and off in alternating rounds of one process, medians of the
rounds (the README's figures for the phases' path).

PyTorch runs on as many threads as Numba. Most of minigrad's time is in NumPy's BLAS products
(OpenBLAS), whose kernel choice ``OPENBLAS_CORETYPE`` can pin (e.g. ``Haswell`` runs AVX2 code
even on an AVX-512 CPU, where ``SkylakeX`` makes the GEMMs about 1.5x faster); the title line
shows the setting. ``--compile`` instead measures the cost of Numba's first compilation: one
fresh process with an empty kernel cache, then one that finds the cache.

    python -m bench.bench_conv [--repeats 15] [--compile] [--phases [--rounds 5]]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numba
import numpy as np

import minigrad as mg
from bench.harness import compare, median_time, report, torch_or_none
from minigrad.ops.conv import conv2d, conv_transpose2d

TARGET = 1.5  # at most this many times PyTorch's time

WORKLOADS = [  # name, op, x shape, weight shape, keywords
    ("conv2d 64x32x14x14, 3x3 pad 1", "conv2d", (64, 32, 14, 14), (64, 32, 3, 3),
     dict(padding=1)),
    ("conv2d 32x64x32x32, 3x3 pad 1", "conv2d", (32, 64, 32, 32), (128, 64, 3, 3),
     dict(padding=1)),
    ("conv_transpose2d 32x64x8x8, 4x4 s2 pad 1", "conv_transpose2d", (32, 64, 8, 8),
     (64, 32, 4, 4), dict(stride=2, padding=1)),
]


# Stride-2 4x4 layers, padding 1 (name, op, x shape, weight shape): the benchmark's transposed
# one, DCGAN generators' (4 -> 8, 16 -> 32, 32 -> 64) and discriminators' convolutions.
PHASE_WORKLOADS = [
    ("conv_transpose2d 32x64x8x8 -> 32", "conv_transpose2d", (32, 64, 8, 8), (64, 32, 4, 4)),
    ("conv_transpose2d 64x128x4x4 -> 64", "conv_transpose2d", (64, 128, 4, 4), (128, 64, 4, 4)),
    ("conv_transpose2d 64x64x16x16 -> 32", "conv_transpose2d", (64, 64, 16, 16), (64, 32, 4, 4)),
    ("conv_transpose2d 16x32x32x32 -> 16", "conv_transpose2d", (16, 32, 32, 32), (32, 16, 4, 4)),
    ("conv2d 32x32x16x16 -> 64", "conv2d", (32, 32, 16, 16), (64, 32, 4, 4)),
    ("conv2d 64x64x32x32 -> 128", "conv2d", (64, 64, 32, 32), (128, 64, 4, 4)),
    ("conv2d 64x128x16x16 -> 256", "conv2d", (64, 128, 16, 16), (256, 128, 4, 4)),
    ("conv2d 64x256x8x8 -> 512", "conv2d", (64, 256, 8, 8), (512, 256, 4, 4)),
    ("conv2d 32x16x28x28 -> 16", "conv2d", (32, 16, 28, 28), (16, 16, 4, 4)),
]


def _runners(op, x_shape, w_shape, keywords, torch):
    """Closures that run forward + backward once in minigrad and (if present) in PyTorch."""
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(x_shape, dtype=np.float32)
    w0 = rng.standard_normal(w_shape, dtype=np.float32) * 0.1
    out_channels = w_shape[1] if op == "conv_transpose2d" else w_shape[0]
    b0 = rng.standard_normal(out_channels, dtype=np.float32)
    function = conv_transpose2d if op == "conv_transpose2d" else conv2d
    x, w, b = (mg.tensor(a, requires_grad=True) for a in (x0, w0, b0))
    with mg.no_grad():
        g = mg.tensor(rng.standard_normal(function(x, w, b, **keywords).shape, dtype=np.float32))

    def run_minigrad():
        x.grad = w.grad = b.grad = None
        function(x, w, b, **keywords).backward(g)

    if torch is None:
        return run_minigrad, None
    torch_function = getattr(torch.nn.functional, op)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x0, w0, b0))
    tg = torch.tensor(g.numpy())

    def run_torch():
        tx.grad = tw.grad = tb.grad = None
        torch_function(tx, tw, tb, **keywords).backward(tg)

    return run_minigrad, run_torch


def benchmark(repeats):
    torch = torch_or_none(threads=numba.get_num_threads())
    rows = []
    for name, op, x_shape, w_shape, keywords in WORKLOADS:
        ours, theirs = _runners(op, x_shape, w_shape, keywords, torch)
        rows.append(compare(name, ours, theirs, repeats=repeats, warmup=3, target=TARGET))
    settings = ", ".join(f"{name}={os.environ[name]}" for name in
                         ("OPENBLAS_CORETYPE", "OMP_WAIT_POLICY", "NUMBA_THREADING_LAYER")
                         if name in os.environ)
    report(rows, title=f"forward + backward, float32, {numba.get_num_threads()} threads"
                       + (f" ({settings})" if settings else ""))


def phase_comparison(rounds, repeats, workloads=PHASE_WORKLOADS):
    """Per workload: (name, ms with the phases' path, ms without, ratio), the medians over
    ``rounds`` alternating rounds of the median of ``repeats`` calls each."""
    from minigrad.kernels import im2col_gemm
    rows = []
    for name, op, x_shape, w_shape in workloads:
        run, _ = _runners(op, x_shape, w_shape, dict(stride=2, padding=1), None)
        times = {True: [], False: []}
        try:
            for _ in range(rounds):
                for on in (True, False):
                    im2col_gemm.WINOGRAD = on
                    times[on].append(median_time(run, repeats=repeats, warmup=2) * 1e3)
        finally:
            im2col_gemm.WINOGRAD = True
        fast, plain = statistics.median(times[True]), statistics.median(times[False])
        rows.append((name, fast, plain, fast / plain))
    return rows


def compile_cost():
    """Seconds for a fresh process to import minigrad and run every conv kernel once (float32
    and float64, forward and backward), with an empty Numba cache and then with the cache that
    the first run wrote; a process that only imports minigrad gives the baseline."""
    imports = ("import numpy as np, minigrad as mg\n"
               "from minigrad.ops.conv import conv2d, conv_transpose2d\n")
    work = ("for dtype in (np.float32, np.float64):\n"
            "    x = mg.tensor(np.ones((1, 2, 5, 5), dtype), requires_grad=True)\n"
            "    w = mg.tensor(np.ones((2, 2, 3, 3), dtype), requires_grad=True)\n"
            "    conv2d(x, w).sum().backward(); conv_transpose2d(x, w).sum().backward()\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=root)
        seconds = []
        for script in (imports, imports + work, imports + work):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", script], env=env, check=True)
            seconds.append(time.perf_counter() - start)
    print(f"import only:                        {seconds[0]:.2f} s")
    print(f"first process (empty Numba cache):  {seconds[1]:.2f} s")
    print(f"second process (cached kernels):    {seconds[2]:.2f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per workload")
    parser.add_argument("--compile", action="store_true",
                        help="measure Numba's first-compile cost instead")
    parser.add_argument("--phases", action="store_true",
                        help="stride-2 4x4 layers with Winograd on their phases and without")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (--phases)")
    args = parser.parse_args()
    if args.compile:
        compile_cost()
    elif args.phases:
        print(f"forward + backward, float32, {numba.get_num_threads()} threads; medians of "
              f"{args.rounds} alternating rounds")
        print("| workload | phases (ms) | rows (ms) | ratio |\n| --- | ---: | ---: | ---: |")
        for name, fast, plain, ratio in phase_comparison(args.rounds, args.repeats):
            print(f"| {name} | {fast:.3g} | {plain:.3g} | {ratio:.2f}x |")
    else:
        benchmark(args.repeats)


if __name__ == "__main__":
    main()
