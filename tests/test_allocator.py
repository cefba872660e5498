"""minigrad.allocator: glibc keeps a training step's freed arrays for the next step."""
import platform
import resource

import numpy as np
import pytest

import minigrad  # noqa: F401  (its import applies the settings)
from minigrad.allocator import keep_freed_memory

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                           reason="the settings are glibc's mallopt; other C libraries are left alone")


@glibc
def test_glibc_takes_the_settings_and_the_opt_out_is_honoured():
    assert keep_freed_memory({}) is True
    assert keep_freed_memory({"MINIGRAD_MALLOC": "system"}) is False


def test_a_bad_setting_is_refused_naming_the_variable():
    with pytest.raises(ValueError, match="MINIGRAD_MALLOC must be 'keep' or 'system', got 'off'"):
        keep_freed_memory({"MINIGRAD_MALLOC": "off"})


def _faults_to_fill(nbytes):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = np.ones(nbytes // 8)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del a
    return faults


@glibc
def test_a_freed_array_comes_back_without_page_faults():
    # 8 MB is above glibc's default mmap threshold: without the settings each fill faults in
    # all of its ~2,000 pages again; with them the freed block is reused.
    keep_freed_memory({})
    nbytes = 8 * 2**20
    _faults_to_fill(nbytes)
    pages = nbytes // resource.getpagesize()
    assert _faults_to_fill(nbytes) < pages // 10
    assert _faults_to_fill(nbytes) < pages // 10
