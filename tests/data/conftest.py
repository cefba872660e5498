"""Fixtures of the data tests: a check that worker processes do not outlive their test."""
import gc
import os

import pytest


def _children():
    """Pids whose parent is this process, zombies included (read from /proc).

    multiprocessing's resource tracker is left out: 'spawn' starts it once per interpreter
    and it lives until exit by design.
    """
    pids = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    stat = f.read()
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    command = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() \
                    and b"resource_tracker" not in command:
                pids.add(int(name))
    return pids


@pytest.fixture
def no_new_children():
    """Fails the test when it leaves a child process (running or zombie) behind."""
    before = _children()
    yield
    gc.collect()
    assert _children() - before == set()
