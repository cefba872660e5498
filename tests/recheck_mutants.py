"""Re-run surviving mutants against chosen test files, all in one process.

mutmut runs each mutant in a fresh child with the tests its statistics say cover the mutated
function. To check survivors against other tests (a wider selection, or new tests written from
them), this runs ``pytest.main`` once per mutant in a single process: mutmut's trampolines read
``MUTANT_UNDER_TEST`` at every call, so one import serves every mutant.

Usage, from the ``mutants/`` directory of a finished mutmut run::

    mutmut results | grep survived | awk '{print $1}' | tr -d : > /tmp/names
    cd mutants && cp ../tests/test_new.py tests/ && \\
        PYTHONPATH=$PWD python3 ../tests/recheck_mutants.py /tmp/names tests/test_new.py

prints ``KILLED`` or ``SURVIVED`` and the name, one line per mutant. It refuses to start if the
tests fail with no mutant active (a test that fails anyway would count every mutant as killed).
Arguments after the names file go to pytest unchanged (files, ``-k``, ``--deselect``).
"""
import contextlib
import io
import os
import sys

import pytest


def run_tests(mutant, pytest_args):
    """pytest's exit code with ``mutant`` active ("" for none), and what it printed."""
    os.environ["MUTANT_UNDER_TEST"] = mutant
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = pytest.main(["-q", "-x", "-p", "no:cacheprovider", "-W", "ignore", *pytest_args])
    return code, printed.getvalue()


def main(names_file, *pytest_args):
    with open(names_file) as f:
        names = [line.strip() for line in f if line.strip()]
    code, printed = run_tests("", pytest_args)
    if code != 0:
        sys.exit("the tests fail with no mutant active:\n" + printed[-3000:])
    for name in names:
        code, _ = run_tests(name, pytest_args)
        print("SURVIVED" if code == 0 else "KILLED", name, flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
