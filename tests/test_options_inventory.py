"""tests/OPTIONS.md stays true: every test it names exists, so the inventory cannot point at a
test that was renamed or deleted."""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def _references():
    """(line number, file, test name or None) for each reference in the inventory's last column.

    ``file.py::name`` names a test; ``::name`` is another test in the file named just before it;
    a bare ``file.py`` names the whole file.
    """
    text = open(os.path.join(HERE, "OPTIONS.md"), encoding="utf-8").read()
    references = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("| ") or line.startswith("| ---") or "test that checks" in line:
            continue
        cell = line.rstrip(" |").rsplit(" | ", 1)[-1]
        current = None
        for token in re.findall(r"[\w/]+\.py(?:::\w+)?|::\w+", cell):
            if token.startswith("::"):
                references.append((number, current, token[2:]))
                continue
            current, _, name = token.partition("::")
            references.append((number, current, name or None))
    return references


def test_the_inventory_has_rows_for_every_package():
    text = open(os.path.join(HERE, "OPTIONS.md"), encoding="utf-8").read()
    for heading in ("minigrad.functional", "minigrad ops", "autograd", "layers", "optim",
                    "data", "serialization"):
        section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
        assert section.count("\n| ") >= 3, f"OPTIONS.md: no rows under '{heading}'"


def test_every_test_named_in_the_inventory_exists():
    references = _references()
    assert len(references) > 100
    missing = []
    for number, path, name in references:
        full = os.path.join(HERE, path)
        if not os.path.exists(full):
            missing.append(f"line {number}: no file tests/{path}")
        elif name is not None and not re.search(rf"^def {name}\(", open(full).read(), re.M):
            missing.append(f"line {number}: no test {name} in tests/{path}")
    assert not missing, "\n".join(missing)
