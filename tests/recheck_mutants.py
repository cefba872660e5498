"""Re-run surviving mutants against chosen test files, all in one process.

mutmut runs each mutant in a fresh child with the tests its statistics say cover the mutated
function. To check survivors against other tests (a wider selection, or new tests written from
them), this runs ``pytest.main`` once per mutant in a single process: mutmut's trampolines read
``MUTANT_UNDER_TEST`` at every call, so one import serves every mutant.

Usage, from the ``mutants/`` directory of a finished mutmut run::

    mutmut results | grep survived | awk '{print $1}' | tr -d : > /tmp/names
    cd mutants && cp ../tests/test_new.py tests/ && \\
        PYTHONPATH=$PWD python3 ../tests/recheck_mutants.py /tmp/names tests/test_new.py

prints ``KILLED``, ``SURVIVED`` or ``TIMEOUT`` and the name, one line per mutant. It refuses to
start if the tests fail with no mutant active (a test that fails anyway would count every
mutant as killed). Arguments after the names file go to pytest unchanged (files, ``-k``,
``--deselect``).

A mutant can loop for ever or draw memory without end (a rejection sampler whose acceptance
test a mutant turned false, say). Two limits guard the run, given before the names file:
``--seconds S`` stops a mutant's tests after S seconds of wall time and reports ``TIMEOUT`` (a
mutant that the tests catch by never finishing, as mutmut counts a timeout), and
``--memory-gb G`` caps the process's address space, so that a runaway allocation fails inside
the tests (a MemoryError: ``KILLED``) instead of taking the machine's memory.
"""
import contextlib
import io
import os
import signal
import sys

import pytest


class _OutOfTime(BaseException):
    """Raised by the alarm; a BaseException, so that no test's ``except Exception`` eats it.
    pytest may still report it as a failed test, so the alarm also leaves a mark."""


_rang = []  # the alarm appends here: the run ran out of time, whatever pytest made of it


def _alarm(signum, frame):
    _rang.append(True)
    raise _OutOfTime


def run_tests(mutant, pytest_args, seconds=0):
    """pytest's exit code with ``mutant`` active ("" for none), and what it printed; the code is
    None when the tests ran past ``seconds`` (0: no limit)."""
    os.environ["MUTANT_UNDER_TEST"] = mutant
    printed = io.StringIO()
    _rang.clear()
    previous = signal.signal(signal.SIGALRM, _alarm) if seconds else None
    try:
        if seconds:
            signal.alarm(seconds)
        with contextlib.redirect_stdout(printed):
            code = pytest.main(["-q", "-x", "-p", "no:cacheprovider", "-W", "ignore",
                                *pytest_args])
    except _OutOfTime:
        code = None
    finally:
        if seconds:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    return (None if _rang else code), printed.getvalue()


def _limits(args):
    """(seconds, memory in GB, the remaining arguments) from leading ``--seconds S`` and
    ``--memory-gb G`` options."""
    seconds, memory = 0, 0.0
    while args and args[0] in ("--seconds", "--memory-gb"):
        if len(args) < 2:
            sys.exit(f"{args[0]} needs a value")
        if args[0] == "--seconds":
            seconds = int(args[1])
        else:
            memory = float(args[1])
        args = args[2:]
    return seconds, memory, args


def main(*argv):
    seconds, memory, argv = _limits(list(argv))
    if len(argv) < 2:
        sys.exit(__doc__)
    names_file, *pytest_args = argv
    if memory:
        import resource
        cap = int(memory * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    with open(names_file) as f:
        names = [line.strip() for line in f if line.strip()]
    code, printed = run_tests("", pytest_args, seconds)
    if code != 0:
        sys.exit("the tests fail with no mutant active:\n" + printed[-3000:])
    for name in names:
        code, _ = run_tests(name, pytest_args, seconds)
        verdict = "TIMEOUT" if code is None else "SURVIVED" if code == 0 else "KILLED"
        print(verdict, name, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
