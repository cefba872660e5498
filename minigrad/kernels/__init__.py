"""Numba kernels: ``cpu`` (numba.njit) and ``gpu`` (numba.cuda) modules with identical functions.

Ops reach them through ``minigrad.backend.kernels_for(array)``; kernels take raw arrays and ints only.
"""
