"""The fuzz suites' worker process: one case per line in, one verdict per line out.

A fuzz test file (``test_fuzz_*.py``) defines ``run_case(case, mg, F, R, calls)`` and ends with

    if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
        serve(run_case)

Its tests send JSON cases through ``Worker(__file__).check(case)`` (the fixture
``worker = worker_fixture(__file__)`` makes one per module). Each case runs in that
long-lived child process, so a kernel that corrupts memory or dies on a signal fails the one test
and names the case, instead of killing pytest. ``calls`` lists the ``minigrad.kernels.cpu``
functions the case called: a ``rejected`` verdict is only valid while it is empty (the error
was raised before any kernel ran).

Verdicts: ``{"status": "ok"}``, ``{"status": "rejected", ...}``, or anything else, which fails.
The cases ``{"op": "abort"}`` and ``{"op": "ping"}`` test the worker itself.
"""
import json
import os
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


class Worker:
    """One long-lived worker process running ``script --worker``; restarted after it dies,
    which fails the current case."""

    def __init__(self, script):
        self.script = os.path.abspath(script)
        self.process = None
        self.log = tempfile.TemporaryFile(mode="w+")

    def check(self, case):
        if self.process is None:
            # stderr goes to a file: a pipe nobody reads could fill up and block the worker
            self.process = subprocess.Popen(
                [sys.executable, self.script, "--worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=self.log, text=True, cwd=os.path.dirname(HERE))
        self.process.stdin.write(json.dumps(case) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait()
            self.process = None
            self.log.seek(0)
            tail = self.log.read()[-3000:]
            pytest.fail(f"the worker died with exit code {code} (negative: a signal) on case "
                        f"{json.dumps(case)}\n{tail}")
        result = json.loads(line)
        assert result["status"] in ("ok", "rejected"), f"{json.dumps(case)}\n{result['error']}"
        return result

    def close(self):
        if self.process is not None:
            self.process.stdin.close()
            self.process.wait(timeout=60)
        self.log.close()


def worker_fixture(script):
    """A module-scoped pytest fixture giving one ``Worker(script)``, closed after the module:
    a fuzz file writes ``worker = worker_fixture(__file__)``."""
    @pytest.fixture(scope="module")
    def worker():
        w = Worker(script)
        yield w
        w.close()
    return worker


def serve(run_case):
    """The worker's loop: counts the calls into ``minigrad.kernels.cpu``, then judges each case
    read from stdin with ``run_case`` and prints its verdict."""
    import traceback
    sys.path.insert(0, HERE)
    # The project's root before tests/: the script's folder (tests/) holds test folders named
    # optim/ and layers/, which would otherwise be imported as those packages.
    sys.path.insert(0, os.path.dirname(HERE))
    import minigrad as mg
    import minigrad.functional as F
    import minigrad.kernels.cpu as kernels
    import references as R
    calls = []
    for name in [n for n in dir(kernels) if callable(getattr(kernels, n)) and n[0] != "_"]:
        def counted(*args, _kernel=getattr(kernels, name), _name=name, **kwargs):
            calls.append(_name)
            return _kernel(*args, **kwargs)
        setattr(kernels, name, counted)
    for line in sys.stdin:
        case = json.loads(line)
        try:
            if case["op"] == "abort":
                os.abort()
            verdict = ({"status": "ok"} if case["op"] == "ping"
                       else run_case(case, mg, F, R, calls))
        except Exception:
            verdict = {"status": "fail", "error": traceback.format_exc()}
        print(json.dumps(verdict), flush=True)
