"""Special functions NumPy lacks, on the GPU: ``erf``.

Notation
--------
x    any float array; the result has its shape and dtype
"""
import math

from numba import cuda

from ...backend import xp_of


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
    threads = 256
    if flat.size:
        _erf_thread[(flat.size + threads - 1) // threads, threads](flat, out)
    return out.reshape(x.shape)
