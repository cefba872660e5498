"""Benchmarks: minigrad against PyTorch on the CPU, side by side in one process.

Numba and PyTorch each keep an OpenMP thread pool; by default idle threads spin and steal the
other library's cores, which inflates both timings. Passive waiting avoids that, and must be
set before either library starts its pool, hence here, when the package is first imported.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
