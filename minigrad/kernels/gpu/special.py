"""Special functions NumPy lacks, on the GPU: ``erf``.

Notation
--------
x    any float array; the result has its shape and dtype
"""
import math

from numba import cuda

from ...backend import xp_of
from .launch import launch


@cuda.jit
def _erf_thread(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = math.erf(x[i])


def erf(x):
    """The error function, elementwise, one thread per element."""
    xp = xp_of(x)
    flat = xp.ascontiguousarray(x).reshape(-1)
    out = xp.empty_like(flat)
    launch(_erf_thread, flat.size, flat, out)
    return out.reshape(x.shape)
