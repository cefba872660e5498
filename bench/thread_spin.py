"""How long each thread pool keeps a core busy after its work is done: the measure behind
minigrad/threads.py's policy.

An idle thread of Numba's pool (OpenMP) or of OpenBLAS does not sleep at once: it spins,
waiting for the next task. While it spins it holds a core, and another pool's threads, or the
main thread's NumPy work, must share the cores with it. This bench runs one piece of LeNet's
work in each pool, the second convolution's im2col (a Numba kernel, 13 samples of 16x14x14,
5x5, padding 2) and its GEMM ((32, 400) @ (400, 2548), BLAS), then lets the main thread sleep
and reads the process's CPU time over the sleep: the cores that the idle pool kept busy. Each
(BLAS threads, Numba threads) setting runs in a fresh process, the variables set before NumPy
and Numba start. The figure is the median over ``--repeats`` sleeps; CPU time counts what the
spinning threads got, so it is meaningful on a loaded machine too (there they get less).

    python -m bench.thread_spin [--sleep 0.005 0.05 0.5] [--repeats 7]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS = ((1, 1), (1, 2), (2, 1), (2, 2))  # (BLAS threads, Numba threads)


def _idle_cores(work, sleep, repeats):
    """Median CPU seconds per second of sleep right after ``work()``: the cores kept busy."""
    busy = []
    for _ in range(repeats):
        work()
        start = time.process_time()
        time.sleep(sleep)
        busy.append((time.process_time() - start) / sleep)
    return statistics.median(busy)


def measure(sleeps, repeats):
    """{after: {sleep: cores}} for 'GEMM', 'Numba kernel' and 'nothing', in this process."""
    import numpy as np
    from minigrad.kernels import cpu
    rng = np.random.default_rng(0)
    x = rng.random((13, 16, 14, 14), dtype=np.float32)
    w = rng.random((32, 400), dtype=np.float32)
    cols = cpu.im2col(x, 5, 5, 1, 1, 2, 2, 1, 1, 14, 14)
    work = {"GEMM": lambda: np.matmul(w, cols),
            "Numba kernel": lambda: cpu.im2col(x, 5, 5, 1, 1, 2, 2, 1, 1, 14, 14, out=cols),
            "nothing": lambda: None}
    for fn in work.values():
        fn()
    return {name: {str(s): _idle_cores(fn, s, repeats) for s in sleeps}
            for name, fn in work.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sleep", type=float, nargs="+", default=[0.005, 0.05, 0.5],
                        help="seconds the main thread sleeps after the work")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.in_process:
        print(json.dumps(measure(args.sleep, args.repeats)))
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"Cores kept busy while the main thread sleeps, after one piece of work "
          f"(CPU s per s of sleep); {time.strftime('%Y-%m-%d')}")
    print("| BLAS, Numba threads | after | " + " | ".join(f"sleep {s:g} s" for s in args.sleep)
          + " |")
    print("| --- | --- |" + " ---: |" * len(args.sleep))
    for blas, numba_threads in SETTINGS:
        env = dict(os.environ, PYTHONPATH=root, OPENBLAS_NUM_THREADS=str(blas),
                   MKL_NUM_THREADS=str(blas), NUMBA_NUM_THREADS=str(numba_threads),
                   OMP_NUM_THREADS=str(numba_threads))
        out = subprocess.run([sys.executable, "-m", "bench.thread_spin", "--in-process",
                              "--repeats", str(args.repeats), "--sleep",
                              *map(str, args.sleep)],
                             env=env, cwd=root, check=True, capture_output=True, text=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        for after, cores in result.items():
            print(f"| {blas}, {numba_threads} | {after} | "
                  + " | ".join(f"{cores[str(s)]:.2f}" for s in args.sleep) + " |")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
