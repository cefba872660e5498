"""The benchmark harness: time minigrad and PyTorch on one workload, in one process.

Each benchmark gives a minigrad callable and, optionally, a PyTorch callable that does the same
work (forward + backward). Both are warmed up, then timed over ``repeats`` runs of ``number``
calls each; the median per call is reported, and the ratio minigrad / PyTorch. PyTorch is
optional: without it, only minigrad's figures are printed.

Usage in a benchmark file::

    from bench.harness import compare, torch_or_none, report
    rows = [compare("conv2d 3x3", run_minigrad, run_torch)]
    report(rows)
"""
import os
import statistics
import time


def torch_or_none(threads=None):
    """PyTorch if it is installed (threads set to ``threads`` or the CPU count), else None."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads or len(os.sched_getaffinity(0)))
    return torch


def median_time(fn, number=1, repeats=7, warmup=2, clock=time.perf_counter):
    """Median seconds per call of ``fn`` over ``repeats`` batches of ``number`` calls, read off
    ``clock`` (``time.process_time`` counts the process's CPU seconds: steadier on a shared
    machine at one thread)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = clock()
        for _ in range(number):
            fn()
        times.append((clock() - start) / number)
    return statistics.median(times)


class Row:
    """One line of a report: the workload, both times and their ratio."""

    def __init__(self, name, ours, theirs, unit="ms", scale=1e3, target=None):
        self.name, self.ours, self.theirs = name, ours, theirs
        self.unit, self.scale, self.target = unit, scale, target

    @property
    def ratio(self):
        return self.ours / self.theirs if self.theirs else None

    def cells(self):
        theirs = f"{self.theirs * self.scale:.3f}" if self.theirs else "n/a"
        ratio = f"{self.ratio:.2f}x" if self.ratio else "n/a"
        target = f"<= {self.target}x" if self.target else ""
        return [self.name, f"{self.ours * self.scale:.3f}", theirs, ratio, target]


def compare(name, ours, theirs=None, number=1, repeats=7, warmup=2, unit="ms", scale=1e3,
            target=None, clock=time.perf_counter):
    """Time ``ours`` and (if given) ``theirs``; return a :class:`Row`."""
    t_ours = median_time(ours, number, repeats, warmup, clock)
    t_theirs = median_time(theirs, number, repeats, warmup, clock) if theirs else None
    return Row(name, t_ours, t_theirs, unit, scale, target)


def compare_cpu_time(name, ours, theirs=None, repeats=7, number=5):
    """:func:`compare` in CPU seconds of the process (``time.process_time``) per call."""
    return compare(name, ours, theirs, number, repeats, warmup=1, clock=time.process_time)


def kernel_bench_arguments(description, argv=None):
    """The options shared by the kernel benchmarks (``--threads``, ``--repeats``,
    ``--cpu-time``), applied: Numba's pool sized, PyTorch loaded if installed.
    Returns ``(args, timer, torch)``, ``timer`` being :func:`compare` or
    :func:`compare_cpu_time`."""
    import argparse
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time CPU seconds (process_time), not the wall clock")
    args = parser.parse_args(argv)
    import numba
    numba.set_num_threads(args.threads)
    return args, (compare_cpu_time if args.cpu_time else compare), torch_or_none(args.threads)


def report(rows, title=""):
    """Print the rows as a Markdown table (pasteable into the README)."""
    unit = rows[0].unit if rows else "ms"
    header = ["workload", f"minigrad ({unit})", f"PyTorch ({unit})", "ratio", "target"]
    if title:
        print(f"\n{title}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |")
