"""``run_ranks``: launch a script under ``mpiexec -n 2`` with a timeout (skips without MPI)."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RANKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ranks")


def launch(script, *args, n=2, timeout=180, env=None):
    """Run ``tests/distributed/ranks/<script>`` on ``n`` ranks; the completed process (text)."""
    pytest.importorskip("mpi4py", reason="the distributed tests need mpi4py "
                                         "(pip install -e '.[dist]')")
    mpiexec = shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("the distributed tests need an mpiexec on PATH (pip install mpich)")
    # Open MPI's mpiexec refuses to run as root (a container, a CI machine) unless these say
    # so; MPICH's ignores them.
    environment = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", MPLBACKEND="Agg",
                       OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                       **(env or {}))
    command = [mpiexec, "-n", str(n), sys.executable, os.path.join(RANKS, script), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=environment)


@pytest.fixture(scope="session")
def run_ranks():
    return launch
