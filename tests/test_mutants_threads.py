"""The thread policy's state and its environment rules (threads.py), glibc's malloc settings
with a stand-in C library (allocator.py), and the CUDA queries with a stand-in CuPy (cuda.py):
the paths the process-wide tests of test_threads.py and test_allocator.py cannot pin down."""
import ctypes
import ctypes.util
import os
import platform
import sys
import types

import numba
import pytest

import minigrad as mg
from minigrad import allocator, backend, threads

threadpoolctl = pytest.importorskip("threadpoolctl")

POOL = numba.config.NUMBA_NUM_THREADS
TWO_CORES = pytest.mark.skipif((os.cpu_count() or 1) < 2,
                               reason="needs 2 cores: OpenBLAS caps its threads at the core count")
glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                           reason="the settings are glibc's mallopt; other C libraries are left alone")


def _sizes(user_api):
    return [p["num_threads"] for p in threadpoolctl.threadpool_info()
            if p["user_api"] == user_api]


@pytest.fixture
def saved():
    """Put Numba's count, the BLAS and OpenMP limits and the policy's state back afterwards."""
    numba.set_num_threads(1)  # starts Numba's OpenMP pool, so that threadpoolctl sees it
    previous = numba.get_num_threads()
    state = dict(threads._state)
    limits = threadpoolctl.threadpool_limits(limits=None)  # records, changes nothing
    yield
    numba.set_num_threads(previous)
    threads._state.clear()
    threads._state.update(state)
    limits.restore_original_limits()


# ---------------------------------------------------------------- threads: the policy's state

def test_set_num_threads_records_n_and_that_it_sized_blas(saved):
    threads._state.update(n=None, sized_blas=False)
    mg.set_num_threads(2)
    assert threads._state == {"n": 2, "sized_blas": True}
    assert threads.gemm_threads() == 2
    mg.set_num_threads(1)
    assert threads._state == {"n": 1, "sized_blas": True}
    assert threads.gemm_threads() == 1


def test_gemm_threads_without_a_count_are_the_usable_cores(saved):
    threads._state.update(n=None, sized_blas=True)
    assert threads.gemm_threads() == len(os.sched_getaffinity(0))
    threads._state.update(n=None, sized_blas=False)
    assert threads.gemm_threads() == 1
    threads._state.update(n=5, sized_blas=False)
    assert threads.gemm_threads() == 1


def test_gemm_threads_fall_back_on_the_cpu_count_without_affinity(saved, monkeypatch):
    """Not Linux: ``os.sched_getaffinity`` is missing, so the count of cores is used."""
    monkeypatch.delattr(os, "sched_getaffinity")
    threads._state.update(n=None, sized_blas=True)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert threads.gemm_threads() == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert threads.gemm_threads() == 1


@TWO_CORES
def test_set_blas_threads_limits_blas_and_leaves_openmp_alone(saved):
    threadpoolctl.threadpool_limits(limits=2)
    assert set(_sizes("blas")) == {2} and set(_sizes("openmp")) == {2}
    assert threads._set_blas_threads(1) is True
    assert set(_sizes("blas")) == {1}
    assert set(_sizes("openmp")) == {2}


@TWO_CORES
def test_without_threadpoolctl_blas_is_left_as_it_is(saved, monkeypatch):
    threadpoolctl.threadpool_limits(limits=2, user_api="blas")
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # the import raises ImportError
    assert threads._set_blas_threads(1) is False
    assert set(_sizes("blas")) == {2}
    threads._state.update(n=None, sized_blas=True)
    mg.set_num_threads(2)
    assert threads._state == {"n": 2, "sized_blas": False}
    assert threads.gemm_threads() == 1


# ---------------------------------------------------------------- threads: the environment

@pytest.mark.parametrize("environ", [{}, {"MINIGRAD_NUM_THREADS": ""},
                                     {"MINIGRAD_NUM_THREADS": "  "}, {"OMP_NUM_THREADS": ""}])
def test_without_variables_the_policy_sizes_blas(environ, saved):
    threads._state.update(n=None, sized_blas=False)
    assert threads._from_environment(environ) is None
    assert threads._state == {"n": None, "sized_blas": True}


@TWO_CORES
def test_without_variables_blas_gets_one_thread(saved):
    threadpoolctl.threadpool_limits(limits=2, user_api="blas")
    assert threads._from_environment({}) is None
    assert set(_sizes("blas")) == {1}


@TWO_CORES
@pytest.mark.parametrize("name", threads.BLAS_VARIABLES)
def test_a_blas_variable_leaves_blas_to_the_environment(name, saved):
    threadpoolctl.threadpool_limits(limits=2, user_api="blas")
    threads._state.update(n=None, sized_blas=False)
    assert threads._from_environment({name: "2"}) is None
    assert threads._state == {"n": None, "sized_blas": False}
    assert set(_sizes("blas")) == {2}
    assert threads.gemm_threads() == 1


@pytest.mark.parametrize("value, n", [("1", 1), (" 2 ", 2), ("7", 7)])
def test_the_variable_applies_its_count(value, n, saved):
    threads._state.update(n=None, sized_blas=False)
    assert threads._from_environment({"MINIGRAD_NUM_THREADS": value}) == n
    assert threads._state == {"n": n, "sized_blas": True}
    assert mg.get_num_threads() == min(n, POOL)


@pytest.mark.parametrize("value, message", [
    ("0", "MINIGRAD_NUM_THREADS must be >= 1, got 0"),
    ("-3", "MINIGRAD_NUM_THREADS must be >= 1, got -3"),
    ("2.0", "MINIGRAD_NUM_THREADS must be a whole number of threads >= 1, got '2.0'")])
def test_a_bad_variable_is_refused_word_for_word(value, message, saved):
    before = dict(threads._state)
    with pytest.raises(ValueError) as info:
        threads._from_environment({"MINIGRAD_NUM_THREADS": value})
    assert str(info.value) == message
    assert threads._state == before


def test_blas_threads_are_one_whatever_n():
    assert [threads.blas_threads_for(n) for n in (None, 1, 2, 64)] == [1, 1, 1, 1]


# ---------------------------------------------------------------- allocator: a stand-in libc

class FakeLibc:
    """A C library whose ``mallopt`` records its calls and answers from ``answers``."""

    def __init__(self, answers):
        self.calls, self.answers = [], dict(answers)
        libc = self

        def mallopt(param, value):
            libc.calls.append((param, value))
            return libc.answers[param]
        self.mallopt = mallopt


def _libc_named(monkeypatch, found, libc):
    """``ctypes.util.find_library('c')`` answers ``found``; only that name loads, as ``libc``."""
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: found if name == "c" else None)

    def load(name):
        if name != found:
            raise OSError(f"{name}: cannot open shared object file")
        return libc
    monkeypatch.setattr(ctypes, "CDLL", load)


def test_the_c_library_found_by_name_gets_the_thresholds(monkeypatch):
    """glibc on IA-64 and Alpha is ``libc.so.6.1``: the library is the one ctypes finds."""
    libc = FakeLibc({-3: 1, -1: 1})
    _libc_named(monkeypatch, "libc.so.6.1", libc)
    assert allocator.keep_freed_memory({}) is True
    assert libc.calls == [(-3, 32 * 2**20), (-1, 2**30)]
    assert libc.mallopt.argtypes == (ctypes.c_int, ctypes.c_int)
    assert libc.mallopt.restype is ctypes.c_int
    libc.calls.clear()
    assert allocator.keep_freed_memory({"MINIGRAD_MALLOC": "keep"}) is True
    assert len(libc.calls) == 2


@pytest.mark.parametrize("answers", [{-3: 1, -1: 0}, {-3: 0, -1: 1}, {-3: 0, -1: 0}])
def test_a_threshold_that_glibc_refuses_is_reported(answers, monkeypatch):
    _libc_named(monkeypatch, "libc.so.6", FakeLibc(answers))
    assert allocator.keep_freed_memory({}) is False


def test_no_c_library_or_no_mallopt_is_no_error(monkeypatch):
    _libc_named(monkeypatch, "libc.so.7", FakeLibc({}))
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)  # tries libc.so.6
    assert allocator.keep_freed_memory({}) is False
    _libc_named(monkeypatch, "libSystem.dylib", types.SimpleNamespace())  # no mallopt
    assert allocator.keep_freed_memory({}) is False


def test_the_opt_out_loads_nothing(monkeypatch):
    libc = FakeLibc({-3: 1, -1: 1})
    _libc_named(monkeypatch, "libc.so.6", libc)
    assert allocator.keep_freed_memory({"MINIGRAD_MALLOC": "system"}) is False
    assert libc.calls == []


@glibc
def test_glibc_is_found_as_libc_so_6_when_find_library_finds_nothing(monkeypatch):
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert allocator.keep_freed_memory({}) is True


# ---------------------------------------------------------------- cuda: a stand-in CuPy

@pytest.fixture
def two_gpus(monkeypatch):
    """``backend.cupy()`` answers a CuPy that sees two devices, the current one being 1."""
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 2, getDevice=lambda: 1)
    monkeypatch.setattr(backend, "_cupy", types.SimpleNamespace(
        cuda=types.SimpleNamespace(runtime=runtime)))


def test_the_queries_read_cupys_runtime(two_gpus):
    assert mg.cuda.is_available() is True
    assert mg.cuda.device_count() == 2
    assert mg.cuda.current_device() == 1
    current = mg.accelerator.current_accelerator()
    assert isinstance(current, mg.device)
    assert current == "cuda:1" and current.type == "cuda" and current.index == 1


def test_the_queries_without_cuda(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", False)  # CuPy failed to import, or saw no device
    assert mg.cuda.is_available() is False
    assert mg.cuda.device_count() == 0
    assert mg.cuda.current_device() == 0
    assert mg.accelerator.current_accelerator() is None
