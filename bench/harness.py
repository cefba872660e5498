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


def median_time(fn, number=1, repeats=7, warmup=2):
    """Median seconds per call of ``fn`` over ``repeats`` batches of ``number`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
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
            target=None):
    """Time ``ours`` and (if given) ``theirs``; return a :class:`Row`."""
    t_ours = median_time(ours, number, repeats, warmup)
    t_theirs = median_time(theirs, number, repeats, warmup) if theirs else None
    return Row(name, t_ours, t_theirs, unit, scale, target)


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
