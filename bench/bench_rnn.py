"""LSTM and GRU layers on the CPU, forward + backward through time, against PyTorch.

Workload (float32, the input and every parameter requiring grad, a fixed upstream gradient on
the output): T = 35 steps, batch 32, input 128, hidden 256, one layer, as in a small word-level
language model. The time is in the matrix products (one for the inputs of all steps, one per
step for the hidden state, and their transposes in backward), so both libraries are held to
the same number of BLAS threads: each thread count runs in a fresh process with
``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` set, and PyTorch's
``set_num_threads`` matching. ``--clock cpu`` times with the process's CPU time instead of the
wall clock, alternating the two libraries run by run: on a machine shared with other jobs the
time they hold the cores is then left out.

    python -m bench.bench_rnn [--threads 1 2] [--repeats 15] [--clock cpu]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

T, N, I, H = 35, 32, 128, 256
TARGET = 1.5
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _runners(kind, torch):
    """Forward + backward of one layer in minigrad and (if installed) in PyTorch, with the same
    weights, input and upstream gradient."""
    import minigrad as mg
    import layers
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    grad = rng.standard_normal((T, N, H)).astype(np.float32)
    ours = getattr(layers, kind)(I, H)
    mx, mgrad = mg.tensor(x, requires_grad=True), mg.tensor(grad)

    def run_minigrad():
        out, _ = ours(mx)
        out.backward(mgrad)

    if torch is None:
        return run_minigrad, None
    theirs = getattr(torch.nn, kind)(I, H)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    tx, tgrad = torch.tensor(x, requires_grad=True), torch.tensor(grad)

    def run_torch():
        out, _ = theirs(tx)
        out.backward(tgrad)
    return run_minigrad, run_torch


def cpu_row(name, ours, theirs, repeats):
    """A harness Row from the median CPU time of ``repeats`` runs, the libraries alternating."""
    from bench.harness import Row
    times = {ours: [], theirs: []}
    for fn in times:
        fn(), fn()                                  # warm up
    for _ in range(repeats):
        for fn in times:
            start = time.process_time()
            fn()
            times[fn].append(time.process_time() - start)
    return Row(name, statistics.median(times[ours]), statistics.median(times[theirs]),
               target=TARGET)


def benchmark(threads, repeats, clock):
    from bench.harness import compare, report, torch_or_none
    torch = torch_or_none(threads=threads)
    rows = []
    for kind in ("LSTM", "GRU"):
        ours, theirs = _runners(kind, torch)
        name = f"{kind} T={T} N={N} I={I} H={H}"
        if clock == "cpu" and theirs is not None:
            rows.append(cpu_row(name, ours, theirs, repeats))
        else:
            rows.append(compare(name, ours, theirs, repeats=repeats, warmup=3, target=TARGET))
    report(rows, title=f"forward + backward, float32, {threads} thread(s), {clock} time")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="BLAS / PyTorch thread counts, each run in its own process")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per workload")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall-clock time (the harness) or the process's CPU time")
    parser.add_argument("--in-process", action="store_true",
                        help=argparse.SUPPRESS)  # the child run, threads already set
    args = parser.parse_args()
    if args.in_process:
        benchmark(args.threads[0], args.repeats, args.clock)
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for n in args.threads:
        env = dict(os.environ, PYTHONPATH=root, **{v: str(n) for v in THREAD_VARIABLES})
        subprocess.run([sys.executable, "-m", "bench.bench_rnn", "--in-process", "--threads",
                        str(n), "--repeats", str(args.repeats), "--clock", args.clock],
                       env=env, check=True, cwd=root)


if __name__ == "__main__":
    main()
