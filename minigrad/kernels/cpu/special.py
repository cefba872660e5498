"""Special functions NumPy lacks, as Numba ufuncs: ``erf``.

Notation
--------
x    any float array; the result has its shape and dtype
"""
import math

import numba


@numba.vectorize(["float32(float32)", "float64(float64)"], cache=True)
def _erf(x):
    return math.erf(x)


def erf(x):
    """The error function, elementwise (``math.erf`` compiled into a ufunc)."""
    return _erf(x)
