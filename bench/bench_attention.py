"""Self-attention and a transformer encoder on the CPU, forward + backward, against PyTorch.

Workloads (float32, input and parameters requiring grad, a fixed upstream gradient):

- ``MultiheadAttention`` self-attention, batch 32, length 64, width 128, 4 heads, batch first,
  ``need_weights=False`` (target: at most 1.3x PyTorch);
- a 2-layer ``TransformerEncoder`` (d_model 128, 4 heads, feed-forward 512, dropout 0, post-norm)
  on batch 32 x length 64 (target: at most 1.5x).

The time is in matrix products, so both libraries get the same number of BLAS threads: each
thread count runs in a fresh process with ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
``MKL_NUM_THREADS`` set and PyTorch's ``set_num_threads`` matching.

``--cpu-time`` times with the process's CPU clock instead of the wall clock: on a machine
shared with other jobs, a single-threaded run then measures its own work, not its waits for a
core (with 2 threads it would add both threads' time, spin-waits included, so use it at 1).

    python -m bench.bench_attention [--threads 1 2] [--repeats 15] [--cpu-time]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

N, T, E, HEADS, FF = 32, 64, 128, 4, 512
TARGETS = {"attention": 1.3, "encoder": 1.5}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _modules(kind, lib):
    """The workload's module in ``lib`` (``layers`` or ``torch.nn``) and how to call it."""
    if kind == "attention":
        module = lib.MultiheadAttention(E, HEADS, batch_first=True)
        return module, lambda x: module(x, x, x, need_weights=False)[0]
    layer = lib.TransformerEncoderLayer(E, HEADS, FF, dropout=0.0, batch_first=True)
    extra = {} if lib.__name__ == "layers" else {"enable_nested_tensor": False}
    module = lib.TransformerEncoder(layer, 2, **extra)
    return module, module


def _runners(kind, torch):
    """Forward + backward in minigrad and (if installed) PyTorch, same weights, input, gradient."""
    import minigrad as mg
    import layers
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, E)).astype(np.float32)
    grad = rng.standard_normal((N, T, E)).astype(np.float32)
    ours, call_ours = _modules(kind, layers)
    mx, mgrad = mg.tensor(x, requires_grad=True), mg.tensor(grad)

    def run_minigrad():
        ours.zero_grad()
        call_ours(mx).backward(mgrad)

    if torch is None:
        return run_minigrad, None
    theirs, call_theirs = _modules(kind, torch.nn)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    tx, tgrad = torch.tensor(x, requires_grad=True), torch.tensor(grad)

    def run_torch():
        theirs.zero_grad()
        call_theirs(tx).backward(tgrad)
    return run_minigrad, run_torch


def _median_cpu_time(fn, repeats, warmup=3):
    """Median CPU seconds of the process per call of ``fn``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def benchmark(threads, repeats, cpu_time=False):
    from bench.harness import Row, compare, report, torch_or_none
    torch = torch_or_none(threads=threads)
    names = {"attention": f"self-attention N={N} T={T} E={E} heads={HEADS}",
             "encoder": f"2-layer encoder N={N} T={T} E={E} heads={HEADS} ff={FF}"}
    rows = []
    for kind in ("attention", "encoder"):
        ours, theirs = _runners(kind, torch)
        if cpu_time:
            rows.append(Row(names[kind], _median_cpu_time(ours, repeats),
                            theirs and _median_cpu_time(theirs, repeats), target=TARGETS[kind]))
        else:
            rows.append(compare(names[kind], ours, theirs, repeats=repeats, warmup=3,
                                target=TARGETS[kind]))
    clock = "CPU time" if cpu_time else "wall time"
    report(rows, title=f"forward + backward, float32, {threads} thread(s), {clock}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="BLAS / PyTorch thread counts, each run in its own process")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per workload")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time with the process's CPU clock (meaningful at 1 thread)")
    parser.add_argument("--in-process", action="store_true",
                        help=argparse.SUPPRESS)  # the child run, threads already set
    args = parser.parse_args()
    if args.in_process:
        benchmark(args.threads[0], args.repeats, args.cpu_time)
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for n in args.threads:
        env = dict(os.environ, PYTHONPATH=root, **{v: str(n) for v in THREAD_VARIABLES})
        subprocess.run([sys.executable, "-m", "bench.bench_attention", "--in-process",
                        "--threads", str(n), "--repeats", str(args.repeats)]
                       + (["--cpu-time"] if args.cpu_time else []), env=env, check=True,
                       cwd=root)


if __name__ == "__main__":
    main()
