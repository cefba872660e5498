"""The README's mutation scores add up: each module row's counts and scores agree with each
other, every module it names exists, and the per-package summary is the sum of its module rows.

The figures themselves come from mutmut runs (README, "Test strength"), too slow to repeat here;
what this file checks is that the table reports them without arithmetic slips, so that a row
edited by hand cannot claim a score its own counts do not give.
"""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# | `path` [+ `other`] [(partial)] | run of total | killed | survived | equivalent | CuPy-only |
#   score% (score counting the CuPy-only ones%) |
MODULE_ROW = re.compile(
    r"^\| `(?P<path>[^`]+)`(?P<rest>[^|]*)\| (?P<run>\d+) of (?P<total>\d+) \| (?P<killed>\d+) \| "
    r"(?P<survived>\d+) \| (?P<equivalent>\d+) \| (?P<cupy>\d+) \| (?P<score>[\d.]+)% "
    r"\((?P<with_cupy>[\d.]+)%[^)]*\) \|$")
# | `package` | modules measured of those mutmut mutates | run | killed |
#   non-equivalent CPU-reachable | score% | target% |
SUMMARY_ROW = re.compile(
    r"^\| (?P<package>`[^|]+`[^|]*) \| (?P<modules>\d+) of (?P<of>\d+) \| (?P<run>\d+) \| "
    r"(?P<killed>\d+) \| (?P<reachable>\d+) \| (?P<score>[\d.]+)% \| (?P<target>\d+)% \|$")
# What setup.cfg's [mutmut] section leaves out (Numba kernels, the garbage collector's callback)
NOT_MUTATED = ("minigrad/kernels/", "minigrad/gc_policy.py")

# Which module rows each summary row adds up: a prefix of the module's path, or the path itself.
PACKAGES = {
    "`minigrad/ops/`": lambda path: path.startswith("minigrad/ops/"),
    "`minigrad/autograd.py`": lambda path: path == "minigrad/autograd.py",
    "`minigrad/functional.py`": lambda path: path == "minigrad/functional.py",
    "`optim/`": lambda path: path.startswith("optim/"),
    "`layers/`": lambda path: path.startswith("layers/"),
    "`minigrad/` (the other modules)": lambda path: (
        path.startswith("minigrad/") and not path.startswith("minigrad/ops/")
        and path not in ("minigrad/autograd.py", "minigrad/functional.py")),
}


def _has_a_function(path):
    """mutmut mutates functions and methods only: a module of bare classes and constants
    (``minigrad/distributed/errors.py``) has no mutants, so it gets no row."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return any(line.lstrip().startswith(("def ", "async def ")) for line in f)


def _mutated_modules():
    """The .py files mutmut mutates (package ``__init__`` files and modules without a function
    aside), relative to the root."""
    found = []
    for top in ("minigrad", "layers", "optim"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                path = os.path.relpath(os.path.join(folder, name), ROOT).replace(os.sep, "/")
                if (name.endswith(".py") and name != "__init__.py"
                        and not path.startswith(NOT_MUTATED) and _has_a_function(path)):
                    found.append(path)
    return sorted(found)


def _readme_lines():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return f.read().splitlines()


def _module_rows():
    return [m.groupdict() for m in map(MODULE_ROW.match, _readme_lines()) if m]


def _summary_rows():
    return [m.groupdict() for m in map(SUMMARY_ROW.match, _readme_lines()) if m]


def _percent(numerator, denominator):
    return 100.0 * numerator / denominator


def test_the_module_table_is_there_and_names_each_module_once():
    paths = [row["path"] for row in _module_rows()]
    assert len(paths) >= 60
    assert len(paths) == len(set(paths)), [p for p in paths if paths.count(p) > 1]
    missing = [p for p in paths if not os.path.isfile(os.path.join(ROOT, p))]
    assert not missing, f"README's mutation table names modules that do not exist: {missing}"


@pytest.mark.parametrize("row", _module_rows(), ids=lambda row: row["path"])
def test_each_module_row_adds_up(row):
    run, total, killed, survived, equivalent, cupy = (
        int(row[key]) for key in ("run", "total", "killed", "survived", "equivalent", "cupy"))
    assert 0 < run <= total
    assert killed + survived == run, "killed + survived must be the mutants run"
    assert equivalent + cupy <= survived, "equivalent and CuPy-only ones are among the survivors"
    assert (run < total) == ("partial" in row["rest"]), "a partial run says so, a whole one not"
    # README scores are rounded to one decimal
    assert float(row["score"]) == pytest.approx(
        _percent(killed, run - equivalent - cupy), abs=0.051)
    assert float(row["with_cupy"]) == pytest.approx(_percent(killed, run - equivalent), abs=0.051)


def test_the_summary_has_every_package_once_and_adds_up_its_module_rows():
    modules = _module_rows()
    summary = {row["package"]: row for row in _summary_rows()}
    assert sorted(summary) == sorted(PACKAGES)
    counted = set()
    for package, belongs in PACKAGES.items():
        rows = [row for row in modules if belongs(row["path"])]
        counted.update(row["path"] for row in rows)
        run = sum(int(row["run"]) for row in rows)
        killed = sum(int(row["killed"]) for row in rows)
        reachable = sum(int(row["run"]) - int(row["equivalent"]) - int(row["cupy"])
                        for row in rows)
        figures = summary[package]
        of = sum(1 for path in _mutated_modules() if belongs(path))
        assert (int(figures["modules"]), int(figures["of"]), int(figures["run"]),
                int(figures["killed"]), int(figures["reachable"])) == (
                    len(rows), of, run, killed, reachable), package
        assert float(figures["score"]) == pytest.approx(_percent(killed, reachable), abs=0.051)
    assert counted == {row["path"] for row in modules}, "a module row belongs to no package"


def summary_rows():
    """The summary table's rows, as the module rows give them (``python3
    tests/test_readme_mutation_table.py`` prints them, to paste after a new run)."""
    targets = {"`minigrad/ops/`": 95, "`minigrad/autograd.py`": 95,
               "`minigrad/functional.py`": 95, "`optim/`": 95}
    modules = _module_rows()
    lines = []
    for package, belongs in PACKAGES.items():
        rows = [row for row in modules if belongs(row["path"])]
        run = sum(int(row["run"]) for row in rows)
        killed = sum(int(row["killed"]) for row in rows)
        reachable = sum(int(row["run"]) - int(row["equivalent"]) - int(row["cupy"])
                        for row in rows)
        of = sum(1 for path in _mutated_modules() if belongs(path))
        lines.append(f"| {package} | {len(rows)} of {of} | {run} | {killed} | {reachable} | "
                     f"{_percent(killed, reachable):.1f}% | {targets.get(package, 90)}% |")
    return lines


if __name__ == "__main__":
    print("\n".join(summary_rows()))
