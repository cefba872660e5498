"""The report of bench_scaling.py: slopes, Markdown tables, issue 19's targets and the plot.

Everything here reads ``data``, the dict that ``bench_scaling.collect`` builds from the children's
measurements (and that ``--out`` saves as JSON), so a saved run can be reported again without
timing anything:

    data = {"sizes":   {axis: [n, ...]},
            "seconds": {axis: {phase: {engine: [t per n]}}},
            "memory":  {axis: {engine: {"rss_rise": bytes, "traced_peak": bytes, ...}}}}

Notation
--------
n       size along an axis: ops, batch, pixels per side, or steps
t       median seconds of one run at size n
k       fitted slope, t ~ c n^k
engine  'minigrad' or 'torch';  phase  'forward', 'backward' or 'step'
"""
import math
import statistics

ENGINES = {"minigrad": "minigrad", "torch": "PyTorch"}
UNITS = {"length": ("µs/op", 1e6), "batch": ("ms", 1e3), "image": ("ms", 1e3),
         "steps": ("ms", 1e3)}
FLAT_FORWARD = 1.2  # issue 19: forward µs/op at the longest chain / at the shortest
OPS_VS_TORCH = 1.3  # forward + backward µs/op at 1e5 ops / PyTorch's
SLOPE_GAP = 0.1     # k minigrad - k PyTorch at most this on every axis (growing slower is fine)
RNN_MEMORY = 1.5    # peak RSS rise of the 1,000-step RNN / PyTorch's


def fit_slope(sizes, seconds):
    """Least-squares slope k of log(seconds) on log(sizes), so that seconds ~ c sizes^k.

    Parameters
    ----------
    sizes, seconds : sequences of m >= 2 positive numbers, not all sizes equal

    Returns
    -------
    float, k = cov(log n, log t) / var(log n)
    """
    if len(sizes) != len(seconds) or len(set(sizes)) < 2 or min(*sizes, *seconds) <= 0:
        raise ValueError(f"fit_slope: expected equally long sequences of positive numbers with at "
                         f"least 2 distinct sizes, got sizes={list(sizes)}, "
                         f"seconds={list(seconds)}")
    xs, ys = [math.log(n) for n in sizes], [math.log(t) for t in seconds]
    x_mean, y_mean = statistics.fmean(xs), statistics.fmean(ys)
    return (sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys))
            / sum((x - x_mean) ** 2 for x in xs))


def markdown_table(header, rows):
    """A Markdown table as one string: ``header`` and each row are lists of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def slopes(data):
    """{(axis, phase): {engine: k}} for every measured curve."""
    return {(axis, phase): {engine: fit_slope(data["sizes"][axis], column)
                            for engine, column in by_engine.items()}
            for axis, phases in data["seconds"].items() for phase, by_engine in phases.items()}


def _ratio(ours, theirs):
    """ours / theirs, or None where either is missing or not positive."""
    return ours / theirs if theirs and theirs > 0 and ours > 0 else None


def _check(value, limit, form):
    """The [measured, verdict] cells of the target ``value <= limit`` (three decimals, so that a
    value just over the limit does not print as the limit)."""
    if value is None:
        return ["n/a", "n/a (needs PyTorch)"]
    return [form.format(value), "met" if value <= limit else "MISSED"]


def targets(data):
    """Issue 19's targets, as rows [target, measured, verdict], for what was measured."""
    rows, length, ops = [], data["seconds"].get("length"), data["sizes"].get("length")
    if length:
        forward = length["forward"]["minigrad"]
        growth = (forward[-1] / ops[-1]) / (forward[0] / ops[0])
        rows.append([f"minigrad forward µs/op at {ops[-1]:,} ops <= {FLAT_FORWARD}x that at "
                     f"{ops[0]:,}"] + _check(growth, FLAT_FORWARD, "{:.3f}x"))
        i = min(range(len(ops)), key=lambda j: abs(math.log(ops[j] / 1e5)))  # nearest to 1e5
        total = {e: length["forward"][e][i] + length["backward"][e][i] for e in length["forward"]}
        rows.append([f"forward + backward µs/op at {ops[i]:,} ops <= {OPS_VS_TORCH}x PyTorch"]
                    + _check(_ratio(total["minigrad"], total.get("torch")), OPS_VS_TORCH,
                             "{:.3f}x"))
    for (axis, phase), k in slopes(data).items():
        # One-sided: a cost that grows more slowly than PyTorch's is better, not off target.
        gap = k["minigrad"] - k["torch"] if "torch" in k else None
        rows.append([f"slope on {axis} ({phase}) at most {SLOPE_GAP} above PyTorch's"]
                    + _check(gap, SLOPE_GAP, "{:+.3f}"))
    memory = data["memory"].get("steps")
    if memory:
        rise = _ratio(memory["minigrad"]["rss_rise"], memory.get("torch", {}).get("rss_rise"))
        rows.append([f"peak RSS rise, backward through the {data['sizes']['steps'][-1]:,}-step "
                     f"RNN <= {RNN_MEMORY}x PyTorch"] + _check(rise, RNN_MEMORY, "{:.3f}x"))
    return rows


def _cells(values, form):
    """``values`` (minigrad's, then PyTorch's if measured) formatted, then their ratio."""
    ratio = _ratio(*values) if len(values) == 2 else None
    return [form.format(v) for v in values] + [f"{ratio:.2f}x" if ratio else "n/a"]


def summary(data, engines):
    """The Markdown report: a table per curve, the slopes, peak memory and the targets."""
    names, parts = [ENGINES[e] for e in engines], []
    for axis, phases in data["seconds"].items():
        unit, scale = UNITS[axis]
        for phase, by_engine in phases.items():
            rows = [[f"{n:,}"] + _cells([by_engine[e][i] * scale / (n if axis == "length" else 1)
                                         for e in engines], "{:.3f}")
                    for i, n in enumerate(data["sizes"][axis])]
            parts.append(f"{axis} ({phase})\n" + markdown_table(
                ["n"] + [f"{name} ({unit})" for name in names] + ["ratio"], rows))
    rows = [[f"{axis} ({phase})"] + [f"{k[e]:.2f}" for e in engines]
            + ([f"{k['minigrad'] - k['torch']:+.2f}"] if "torch" in k else [])
            for (axis, phase), k in slopes(data).items()]
    parts.append("slopes k of log t on log n\n" + markdown_table(
        ["axis"] + [f"{name} k" for name in names] + ["difference"] * (len(engines) - 1), rows))
    rows = [[f"{axis} at {data['sizes'][axis][-1]:,}"]
            + _cells([m[e]["rss_rise"] / 2**20 for e in engines], "{:.1f}")
            + [f"{m[e]['traced_peak'] / 2**20:.1f}" for e in engines]
            for axis, m in data["memory"].items()]
    if rows:
        parts.append("peak memory of one step, MiB: rise of the peak RSS over the RSS before the "
                     "step, and tracemalloc's peak (blind to PyTorch's allocator)\n"
                     + markdown_table(["workload"] + [f"{name} RSS" for name in names]
                                      + ["ratio"] + [f"{name} tracemalloc" for name in names],
                                      rows))
    parts.append("targets (issue 19)\n" + markdown_table(["target", "measured", "verdict"],
                                                          targets(data)))
    return "\n\n".join(parts)


def plot(data, path, title):
    """Save one log-log panel of t against n per axis, each curve's slope in the legend."""
    import matplotlib
    matplotlib.use("Agg")  # files only: the benchmark must run without a display
    import matplotlib.pyplot as plt
    measured, fits = list(data["seconds"]), slopes(data)
    columns = min(len(measured), 2)
    rows = -(-len(measured) // columns)
    fig, panels = plt.subplots(rows, columns, figsize=(6 * columns, 4.5 * rows), squeeze=False)
    for panel, axis in zip(panels.flat, measured):
        sizes = data["sizes"][axis]
        for phase, by_engine in data["seconds"][axis].items():
            for engine, column in by_engine.items():
                label = ENGINES[engine] + (f" {phase}" if axis == "length" else "")
                panel.loglog(sizes, column, "o-" if engine == "minigrad" else "s--",
                             label=f"{label}, k = {fits[axis, phase][engine]:.2f}")
        panel.set_xticks(sizes, [f"{n:,}" for n in sizes])
        panel.set_xticks([], minor=True)  # the sizes label the x axis; the y axis keeps its own
        panel.set(title=axis, xlabel=f"n ({axis})", ylabel="seconds per run")
        panel.legend(fontsize="small")
        panel.grid(True, alpha=0.3)
    for panel in panels.flat[len(measured):]:
        panel.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
