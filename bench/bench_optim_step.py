"""optimizer.step() alone, minigrad against PyTorch, for the MLP's and LeNet's parameters.

The parameters are those of ``bench_speed``'s two training workloads (MLP 784-256-256-10:
6 arrays, 269k floats; LeNet-style CNN: 8 arrays, 216k floats), with fixed random gradients.
Each optimizer is timed three ways: minigrad's NumPy rule (``foreach=False``), minigrad's
fused one-pass kernels (``foreach=None``, the default), and ``torch.optim`` with its default
(on the CPU, a loop over the tensors) or with ``foreach=True``.

Times are CPU seconds of this process (``time.process_time``) by default, which a loaded
machine disturbs less than wall time; ``--clock wall`` measures wall time instead. Thread
counts are set with the usual variables, e.g. for one thread::

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
        python -m bench.bench_optim_step [--repeats 7] [--number 200] [--clock cpu]

``--threshold`` instead times the fused Adam kernel alone on one large parameter, on the
calling thread and on Numba's thread pool (wall time), to choose
``minigrad.kernels.cpu.optim.PARALLEL_FROM`` on a quiet machine with two or more threads.
"""
import argparse
import os
import statistics
import time

import numpy as np

from bench.bench_speed import lenet, mlp
from bench.harness import Row, report, torch_or_none

RULES = {"SGD momentum 0.9": ("SGD", dict(lr=0.01, momentum=0.9)),
         "Adam": ("Adam", dict(lr=1e-3)),
         "AdamW amsgrad": ("AdamW", dict(lr=1e-3, amsgrad=True))}


def median_time(fn, clock, number, repeats):
    """Median seconds per call of ``fn`` over ``repeats`` batches of ``number`` calls."""
    for _ in range(10):
        fn()
    times = []
    for _ in range(repeats):
        start = clock()
        for _ in range(number):
            fn()
        times.append((clock() - start) / number)
    return statistics.median(times)


def steps(build, name, options, torch):
    """{label: step callable} for one model's parameters and one optimizer."""
    import layers
    import minigrad as mg
    import optim
    rng = np.random.default_rng(0)
    model = build(layers)
    grads = [rng.standard_normal(p.shape).astype(np.float32) for p in model.parameters()]
    out = {}
    for foreach in (False, None):
        params = [mg.tensor(p.numpy().copy(), requires_grad=True) for p in model.parameters()]
        for p, g in zip(params, grads):
            p.grad = mg.tensor(g)
        out[f"foreach={foreach}"] = getattr(optim, name)(params, **options, foreach=foreach).step
    if torch is not None:
        for foreach in (None, True):
            params = [torch.tensor(p.numpy().copy(), requires_grad=True)
                      for p in model.parameters()]
            for p, g in zip(params, grads):
                p.grad = torch.from_numpy(g.copy())
            out[f"torch foreach={foreach}"] = getattr(torch.optim, name)(
                params, **options, foreach=foreach).step
    return out


def threshold(clock, repeats):
    """Print serial against parallel fused Adam on parameters of 2^16 to 2^23 entries."""
    from minigrad.kernels.cpu import adam_update_, optim as kernels
    chosen = kernels.PARALLEL_FROM
    print(f"\nfused Adam kernel, wall us per call; PARALLEL_FROM is 2^{chosen.bit_length() - 1}")
    print("| entries | calling thread | thread pool | pool / calling |")
    print("|---|---|---|---|")
    for power in range(16, 24):
        rng = np.random.default_rng(0)
        p, g, m = (rng.standard_normal(1 << power, dtype=np.float32) for _ in range(3))
        v = np.abs(rng.standard_normal(1 << power, dtype=np.float32))

        def step():
            adam_update_(p, g, m, v, None, 1e-3, 0.9, 0.999, 1e-8, 0.0, 10, False, False, False)
        number = max(1, (1 << 22) >> power)
        times = []
        for parallel_from in (1 << 62, 0):  # never, always
            kernels.PARALLEL_FROM = parallel_from
            times.append(median_time(step, clock, number, repeats) * 1e6)
        print(f"| 2^{power} | {times[0]:.1f} | {times[1]:.1f} | {times[1] / times[0]:.2f}x |")
    kernels.PARALLEL_FROM = chosen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=200, help="steps per timed batch")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--threshold", action="store_true",
                        help="time the kernel serial against parallel instead (wall time)")
    args = parser.parse_args(argv)
    if args.threshold:
        threshold(time.perf_counter, args.repeats)
        return
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    torch = torch_or_none(threads=int(os.environ.get("OMP_NUM_THREADS", 0)) or None)
    for build in (mlp, lenet):
        rows = []
        for label, (name, options) in RULES.items():
            timed = {key: median_time(fn, clock, args.number, args.repeats)
                     for key, fn in steps(build, name, options, torch).items()}
            theirs = timed.get("torch foreach=None")
            rows.append(Row(f"{label}, NumPy rule (foreach=False)", timed["foreach=False"],
                            theirs, unit="us", scale=1e6))
            rows.append(Row(f"{label}, fused (foreach=None)", timed["foreach=None"], theirs,
                            unit="us", scale=1e6))
            if theirs:
                rows.append(Row(f"{label}, fused vs torch foreach=True", timed["foreach=None"],
                                timed["torch foreach=True"], unit="us", scale=1e6))
        report(rows, title=f"optimizer.step() on {build.__name__}'s parameters, float32, "
                           f"{args.clock} time per step")


if __name__ == "__main__":
    main()
