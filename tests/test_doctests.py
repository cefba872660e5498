"""Every example in a docstring runs and prints what it says (the docs cannot drift from the code).

One test per module of the four packages that holds at least one example; a module that cannot
be imported on this machine (the CUDA kernels without a GPU) has no examples by design, and the
test that lists the modules checks that.
"""
import doctest
import importlib
import os
import pkgutil

import numpy as np
import pytest

import minigrad as mg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("minigrad", "layers", "optim", "models")
# Imported only where a GPU is present: they hold kernels, never examples.
GPU_ONLY = ("minigrad.kernels.gpu",)


def _module_names():
    names = []
    for package in PACKAGES:
        names.append(package)
        path = [os.path.join(ROOT, package)]
        for info in pkgutil.walk_packages(path, prefix=package + "."):
            names.append(info.name)
    return sorted(names)


def _has_examples(name):
    path = name.replace(".", os.sep)
    for candidate in (path + ".py", os.path.join(path, "__init__.py")):
        full = os.path.join(ROOT, candidate)
        if os.path.exists(full):
            return ">>>" in open(full, encoding="utf-8").read()
    return False


MODULES = [name for name in _module_names() if _has_examples(name)]


def test_gpu_only_modules_hold_no_examples():
    assert MODULES, "the packages should show some examples"
    assert not [name for name in MODULES if name.startswith(GPU_ONLY)]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that save a file write it here
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name, extraglobs={"np": np, "mg": mg}) if t.examples]
    assert tests, f"{name} has '>>>' in its source but no example was found"
    report = []
    for test in tests:
        runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
