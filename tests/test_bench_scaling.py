"""The scaling benchmark's helpers: the slope fit, the sizes, the tables and targets (its report,
scaling_report.py), the timing and memory probes, the workloads' math, and a tiny end-to-end
run that writes a PNG."""
import gc
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

from bench import bench_scaling as bs, scaling_report as report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [1000, 3000, 10000, 30000, 100000]


@given(k=st.floats(-1, 3), c=st.floats(1e-7, 1e2),
       sizes=st.lists(st.integers(1, 10**6), min_size=2, max_size=8, unique=True))
def test_fit_slope_recovers_a_power_law(k, c, sizes):
    seconds = [c * n ** k for n in sizes]
    assert report.fit_slope(sizes, seconds) == pytest.approx(k, abs=1e-9)


def test_fit_slope_is_least_squares_over_noisy_points():
    # log t = [0, 1, 3] at log n = [0, 1, 2]: the least-squares line has slope 1.5, intercept -1/6.
    sizes = [1, math.e, math.e ** 2]
    seconds = [1, math.e, math.e ** 3]
    assert report.fit_slope(sizes, seconds) == pytest.approx(1.5)
    assert report.fit_slope(sizes, seconds) == pytest.approx(
        np.polyfit([0, 1, 2], [0, 1, 3], 1)[0])


@pytest.mark.parametrize("sizes, seconds", [([10], [1.0]), ([10, 10], [1.0, 2.0]),
                                            ([10, 20], [1.0]), ([10, 20], [1.0, 0.0]),
                                            ([0, 20], [1.0, 2.0])])
def test_fit_slope_rejects_what_has_no_slope(sizes, seconds):
    with pytest.raises(ValueError, match=r"fit_slope: expected .* got sizes=\["):
        report.fit_slope(sizes, seconds)


def test_sizes_go_one_three_ten_up_to_the_largest():
    assert bs.one_three(1000, 100_000) == SIZES
    assert bs.one_three(1000, 1_000_000) == SIZES + [300_000, 1_000_000]
    assert bs.one_three(1000, 50_000) == [1000, 3000, 10000, 30000, 50000]
    sizes = bs.axis_sizes()
    assert sizes["length"] == SIZES and sizes["steps"] == [10, 30, 100, 300, 1000]
    assert sizes["batch"] == [8, 32, 128, 512] and sizes["image"] == [16, 32, 64, 128, 256]
    assert bs.axis_sizes(1_000_000)["length"][-1] == 1_000_000


def test_max_ops_and_threads_are_checked():
    with pytest.raises(SystemExit):
        bs.parse_args(["--max-ops", "1002"])  # not a multiple of 4
    with pytest.raises(SystemExit):
        bs.parse_args(["--max-ops", "1000"])  # one size only: no slope
    with pytest.raises(SystemExit):
        bs.parse_args(["--threads", "0"])
    assert bs.parse_args(["--max-ops", "20000"]).max_ops == 20000


def test_markdown_table():
    assert report.markdown_table(["a", "b"], [[1, "x"], [2.5, "y"]]) == (
        "| a | b |\n|---|---|\n| 1 | x |\n| 2.5 | y |")


def synthetic(torch=True, k_ours=1.0, rnn_rise=(150e6, 100e6)):
    """Results shaped like the children's: minigrad 5 µs/op forward with slope ``k_ours``,
    PyTorch 4 µs/op with slope 1; backward twice the forward; the RNN's peak RSS rises."""
    engines = {"minigrad": 5e-6, "torch": 4e-6} if torch else {"minigrad": 5e-6}
    slope = {"minigrad": k_ours, "torch": 1.0}

    def column(engine, scale):
        return [scale * engines[engine] * 1000 * (n / 1000) ** slope[engine] for n in SIZES]
    seconds = {"length": {"forward": {e: column(e, 1) for e in engines},
                          "backward": {e: column(e, 2) for e in engines}}}
    memory = {"steps": {e: {"rss_rise": rise, "traced_peak": rise / 2}
                        for e, rise in zip(engines, rnn_rise)}}
    return {"sizes": {"length": SIZES, "steps": [10, 1000]}, "seconds": seconds,
            "memory": memory}


def test_targets_met_and_missed():
    rows = {row[0]: row[1:] for row in report.targets(synthetic())}
    assert rows["minigrad forward µs/op at 100,000 ops <= 1.2x that at 1,000"] == ["1.000x", "met"]
    assert rows["forward + backward µs/op at 100,000 ops <= 1.3x PyTorch"] == ["1.250x", "met"]
    assert rows["slope on length (forward) at most 0.1 above PyTorch's"] == ["+0.000", "met"]
    assert rows["peak RSS rise, backward through the 1,000-step RNN <= 1.5x PyTorch"] == [
        "1.500x", "met"]
    rows = {row[0]: row[1:] for row in report.targets(synthetic(k_ours=1.2, rnn_rise=(2, 1)))}
    growth = 100 ** 0.2  # per-op cost grows as n^0.2 over two decades
    assert rows["minigrad forward µs/op at 100,000 ops <= 1.2x that at 1,000"] == [
        f"{growth:.3f}x", "MISSED"]
    assert rows["forward + backward µs/op at 100,000 ops <= 1.3x PyTorch"] == [
        f"{1.25 * growth:.3f}x", "MISSED"]
    assert rows["slope on length (backward) at most 0.1 above PyTorch's"] == ["+0.200", "MISSED"]
    assert rows["peak RSS rise, backward through the 1,000-step RNN <= 1.5x PyTorch"] == [
        "2.000x", "MISSED"]
    rows = {row[0]: row[1:] for row in report.targets(synthetic(k_ours=0.8))}
    # growing more slowly than PyTorch is within the target
    assert rows["slope on length (backward) at most 0.1 above PyTorch's"] == ["-0.200", "met"]


def test_a_target_just_missed_does_not_print_as_its_limit():
    assert report._check(1.2034, 1.2, "{:.3f}x") == ["1.203x", "MISSED"]
    assert report._check(1.2, 1.2, "{:.3f}x") == ["1.200x", "met"]


def test_targets_without_torch_are_not_applicable():
    rows = report.targets(synthetic(torch=False))
    assert [row[2] for row in rows] == ["met"] + ["n/a (needs PyTorch)"] * 4


def test_summary_tables():
    text = report.summary(synthetic(k_ours=1.2), ["minigrad", "torch"])
    # forward per op at 1e3: 5 µs vs 4 µs; the slope row and the memory row (MiB, ratio).
    assert "| 1,000 | 5.000 | 4.000 | 1.25x |" in text
    assert "| length (forward) | 1.20 | 1.00 | +0.20 |" in text
    assert f"| steps at 1,000 | {150e6 / 2**20:.1f} | {100e6 / 2**20:.1f} | 1.50x |" in text
    assert "| slope on length (forward) at most 0.1 above PyTorch's | +0.200 | MISSED |" in text
    text = report.summary(synthetic(torch=False), ["minigrad"])
    assert "| 1,000 | 5.000 | n/a |" in text and "PyTorch (" not in text


def test_measure_takes_the_median_and_keeps_to_the_budget():
    durations = iter([3.0, 1.0, 2.0, 9.0, 9.0])
    enabled = []

    def run():
        enabled.append(gc.isenabled())
        return {"step": next(durations)}
    assert bs.measure(run, repeats=3, budget=100, no_gc=True) == {"step": 2.0}
    assert enabled == [False] * 3 and gc.isenabled()
    # after one run of 9 s a second would pass 10 s: one sample only
    assert bs.measure(run, repeats=3, budget=10, no_gc=False) == {"step": 9.0}
    assert enabled[-1] is True


PEAK_OF_64_MIB = """
import json
import numpy as np
from bench.bench_scaling import peak_memory

def run():
    block = np.ones(64 * 2**20 // 8)  # ones() writes every page, so the RSS grows
    return block.sum()
print(json.dumps(peak_memory(run, no_gc=False)))
"""


def test_peak_memory_sees_a_numpy_buffer():
    # A fresh process, as in the benchmark: in this one, earlier tests have left freed memory
    # in the allocator's free lists, which a new buffer may reuse without the RSS rising.
    result = subprocess.run([sys.executable, "-c", PEAK_OF_64_MIB], capture_output=True,
                            text=True, cwd=ROOT, check=True)
    memory = json.loads(result.stdout)
    assert memory["traced_peak"] >= 64 * 2**20
    if memory["rss_reset"]:
        assert 0.9 * 64 * 2**20 <= memory["rss_rise"] <= memory["rss_peak"]
    else:
        assert memory["rss_peak"] >= 64 * 2**20


def test_workloads_compute_the_same_math_in_both_engines():
    import minigrad as mg
    rng = np.random.default_rng(0)
    x0, w0 = rng.uniform(-1, 1, (2, 4, 4))
    y = x0
    for _ in range(3):
        y = np.tanh(y * w0 + x0) - w0
    assert bs.chain(mg.tensor(x0), mg.tensor(w0), 12).item() == pytest.approx(y.sum())
    xs, W, U, b = rng.standard_normal((5, 3, 4)), *rng.standard_normal((2, 4, 4)), np.ones(4)
    h = np.zeros((3, 4))
    for t in range(5):
        h = np.tanh(xs[t] @ W + h @ U + b)
    np.testing.assert_allclose(bs.rnn(*map(mg.tensor, (xs, W, U, b, np.zeros((3, 4))))).numpy(),
                               h, rtol=1e-10)
    torch = pytest.importorskip("torch")
    assert bs.chain(torch.tensor(x0), torch.tensor(w0), 12).item() == pytest.approx(y.sum())
    np.testing.assert_allclose(bs.rnn(*map(torch.tensor, (xs, W, U, b, np.zeros((3, 4)))))
                               .numpy(), h, rtol=1e-10)


def test_a_tiny_run_writes_the_plot_and_the_numbers(tmp_path, capsys):
    bs.main(["--quick", "--axes", "length", "--no-torch", "--repeats", "1", "--clock", "cpu",
             "--out", str(tmp_path)])
    with open(tmp_path / "scaling.png", "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"
    data = json.loads((tmp_path / "scaling.json").read_text())
    assert data["sizes"] == {"length": [100, 300, 1000]}
    forward = data["seconds"]["length"]["forward"]["minigrad"]
    assert len(forward) == 3 and min(forward) > 0
    assert data["memory"]["length"]["minigrad"]["traced_peak"] > 0
    printed = capsys.readouterr().out
    assert "scaling, 1 thread(s), cpu clock, cyclic GC on" in printed
    assert "| length (forward) |" in printed and "targets (issue 19)" in printed
