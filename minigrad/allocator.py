"""Keep freed array memory in the process: glibc's malloc settings for a training loop.

A training step allocates and frees the same large arrays (activations, gradients) every
step. glibc serves a request above ``M_MMAP_THRESHOLD`` (128 KiB at first) with a fresh
``mmap`` and returns it to the system on free, and it trims the heap's free top above
``M_TRIM_THRESHOLD``: every step then pays page faults to touch brand-new pages. On batch norm
over a (64, 32, 28, 28) float32 batch, half of the forward + backward time was those faults
(5.6 -> 3.2 ms at 1 thread, 6.4 -> 1.4 ms at 2 threads once memory is kept; 2026-11-25, quiet
2-core machine, ``python -m bench.bench_speed``).

So, at import, on glibc only: arrays up to ``MMAP_THRESHOLD`` come from the heap, and up to
``TRIM_THRESHOLD`` of free heap top is kept for the next step rather than returned. The cost
is memory that the process keeps after a peak (at most the peak itself, as with PyTorch's
caching allocators). ``MINIGRAD_MALLOC=system`` in the environment leaves malloc as it is.
Another C library (macOS, Windows, musl) is left alone.

Notation
--------
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD   glibc's ``mallopt`` parameters, -1 and -3 (malloc.h)
"""
import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 2**20    # glibc's largest allowed value on 64-bit (HEAP_MAX_SIZE / 2)
TRIM_THRESHOLD = 1 * 2**30


def keep_freed_memory(environ=os.environ):
    """Apply the settings above; returns True when glibc took them, False otherwise."""
    choice = environ.get("MINIGRAD_MALLOC", "keep")
    if choice not in ("keep", "system"):
        raise ValueError(f"MINIGRAD_MALLOC must be 'keep' or 'system', got {choice!r}")
    if choice == "system":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):   # not glibc: nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
