"""The thread policy (minigrad/threads.py): Numba's pool n threads, BLAS one, and its defaults."""
import json
import os
import subprocess
import sys

import numba
import pytest

import minigrad as mg
from minigrad import threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POOL = numba.config.NUMBA_NUM_THREADS
TWO_CORES = pytest.mark.skipif((os.cpu_count() or 1) < 2,
                               reason="needs 2 cores: OpenBLAS caps its threads at the core count")


def _blas_sizes():
    """The thread counts of every BLAS library loaded here, from threadpoolctl."""
    from threadpoolctl import threadpool_info
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture
def restore_threads():
    """Put Numba's count and the BLAS limits back as they were."""
    previous = numba.get_num_threads()
    state = dict(threads._state)
    try:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(limits=None, user_api="blas")  # records, changes nothing
    except ImportError:
        limits = None
    yield
    numba.set_num_threads(previous)
    threads._state.update(state)
    if limits is not None:
        limits.restore_original_limits()


def _run(code, **environment):
    """Run ``code`` in a fresh interpreter with ``environment`` (and no thread variables)."""
    env = {k: v for k, v in os.environ.items()
           if k not in threads.BLAS_VARIABLES + (threads.ENVIRONMENT_VARIABLE,)}
    env.update(PYTHONPATH=ROOT, **environment)
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


REPORT = ("import json, minigrad as mg; from threadpoolctl import threadpool_info; "
          "print(json.dumps([mg.get_num_threads(), [p['num_threads'] for p in "
          "threadpool_info() if p['user_api'] == 'blas']]))")


def test_set_and_get_round_trip_through_numba(restore_threads):
    for n in (1, POOL):
        mg.set_num_threads(n)
        assert mg.get_num_threads() == n
        assert numba.get_num_threads() == n


def test_more_threads_than_numbas_pool_gives_the_whole_pool(restore_threads):
    mg.set_num_threads(1)
    mg.set_num_threads(POOL + 3)
    assert mg.get_num_threads() == POOL


@TWO_CORES
def test_blas_gets_one_thread_whatever_n(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="BLAS threads are set "
                                        "through threadpoolctl")
    threadpoolctl.threadpool_limits(limits=2, user_api="blas")
    assert set(_blas_sizes()) == {2}  # the call below has something to change
    mg.set_num_threads(2)
    assert set(_blas_sizes()) == {threads.blas_threads_for(2)} == {1}


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                        (True, TypeError), ("2", TypeError)])
def test_bad_counts_are_refused_naming_the_function(bad, error, restore_threads):
    before = numba.get_num_threads()
    with pytest.raises(error, match="set_num_threads: n must be"):
        mg.set_num_threads(bad)
    assert numba.get_num_threads() == before


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_a_bad_environment_value_is_refused_naming_the_variable(value):
    with pytest.raises(ValueError, match="MINIGRAD_NUM_THREADS must be"):
        threads._from_environment({"MINIGRAD_NUM_THREADS": value})


def test_the_environment_variable_is_applied_at_import():
    pytest.importorskip("threadpoolctl", reason="the BLAS size is read through threadpoolctl")
    done = _run(REPORT, MINIGRAD_NUM_THREADS="1", NUMBA_NUM_THREADS=str(POOL))
    assert done.returncode == 0, done.stderr
    numba_threads, blas = json.loads(done.stdout.strip().splitlines()[-1])
    assert numba_threads == 1 and set(blas) == {1}


@TWO_CORES
def test_without_variables_blas_gets_the_policy_and_a_blas_variable_wins():
    pytest.importorskip("threadpoolctl", reason="the BLAS size is read through threadpoolctl")
    default = _run(REPORT, NUMBA_NUM_THREADS="2")
    assert default.returncode == 0, default.stderr
    numba_threads, blas = json.loads(default.stdout.strip().splitlines()[-1])
    assert numba_threads == 2 and set(blas) == {1}
    explicit = _run(REPORT, NUMBA_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2")
    assert explicit.returncode == 0, explicit.stderr
    assert set(json.loads(explicit.stdout.strip().splitlines()[-1])[1]) == {2}


def test_a_bad_environment_value_stops_the_import_with_its_message():
    done = _run("import minigrad", MINIGRAD_NUM_THREADS="many")
    assert done.returncode != 0
    assert "MINIGRAD_NUM_THREADS must be a whole number of threads >= 1, got 'many'" in done.stderr


def test_gemm_threads_follow_the_policy(restore_threads):
    """Products split into n parts when the policy sized BLAS; n follows set_num_threads."""
    mg.set_num_threads(1)
    assert threads.gemm_threads() == 1
    mg.set_num_threads(3)
    assert threads.gemm_threads() == (3 if threads._state["sized_blas"] else 1)


@pytest.mark.parametrize("environment, parts", [
    ({}, "cores"), ({"MINIGRAD_NUM_THREADS": "3"}, 3), ({"OPENBLAS_NUM_THREADS": "2"}, 1),
    ({"OMP_NUM_THREADS": "1"}, 1)])
def test_gemm_threads_default(environment, parts):
    """By default a product splits over the cores; where the environment sized BLAS itself,
    BLAS threads the products and they are not split."""
    out = _run("from minigrad import threads; print(threads.gemm_threads())", **environment)
    assert out.returncode == 0, out.stderr
    expected = len(os.sched_getaffinity(0)) if parts == "cores" else parts
    assert int(out.stdout) == expected


def test_numbas_pool_waits_passively_even_when_started_at_import():
    """MINIGRAD_NUM_THREADS starts Numba's OpenMP pool while minigrad is imported: the passive
    wait policy must already be in the environment then (a user's own value wins)."""
    code = "import os, minigrad; print(os.environ.get('OMP_WAIT_POLICY'))"
    for environment, expected in (({"MINIGRAD_NUM_THREADS": "2"}, "PASSIVE"),
                                  ({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE")):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        env.update(PYTHONPATH=ROOT, **environment)
        done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == expected
