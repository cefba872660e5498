"""bench/bench_activation.py runs and prints one row per workload (the README names it)."""
from bench import bench_activation


def test_bench_activation_prints_a_row_per_workload(capsys):
    bench_activation.main(["--repeats", "1"])
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("| ") and "(ms)" not in line]
    names = [name for name, _, _ in bench_activation.workloads()]
    assert len(rows) == len(names) + 2
    for name, row in zip(names, rows):
        assert row.startswith(f"| {name} (64, 64, 16, 16) | ")
        assert float(row.split(" | ")[1]) > 0
    assert "select vs np.where" in rows[-1]
