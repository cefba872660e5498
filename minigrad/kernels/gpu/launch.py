"""The one way the GPU kernels start: ``launch(kernel, n_threads, *args)``, one thread per cell.

Every ``_thread`` kernel in this package takes its flat thread number from ``cuda.grid(1)``,
returns when it is past the last cell, and splits the number into an (n, c, i, j) cell with
:func:`unravel`. The block size lives here only.

Notation
--------
t             the flat thread number, ``((n*C + c)*I + i)*J + j``
C, I, J       the channels and the plane (rows I, columns J) that ``t`` runs over
"""
import numpy as np
from numba import cuda

THREADS = 256  # threads per block: a multiple of the warp size that keeps many blocks resident


def launch(kernel, n_threads, *args):
    """Run ``kernel[blocks, THREADS](*args)`` with at least ``n_threads`` threads; nothing for 0
    (a grid of zero blocks is a CUDA error, and an empty batch is a valid input)."""
    if n_threads > 0:
        start(kernel, (n_threads + THREADS - 1) // THREADS, THREADS, args)


def start(kernel, blocks, threads, args):
    """``kernel[blocks, threads](*args)``. A kernel compiles at its first start; a numba-cuda
    release older than the installed NumPy then fails inside its own typing code, on a NumPy
    function that was since removed (numba-cuda 0.x and ``np.row_stack``, gone in NumPy 2.5):
    that is said plainly, with the way out."""
    try:
        kernel[blocks, threads](*args)
    except AttributeError as error:
        if "module 'numpy' has no attribute" not in str(error):
            raise
        major, minor = np.__version__.split(".")[:2]
        raise RuntimeError(
            f"{getattr(kernel, '__name__', 'a GPU kernel')}: Numba's CUDA target could not "
            f"compile it under NumPy {np.__version__} ({error}); this numba-cuda predates that "
            f"NumPy: install 'numpy<{major}.{minor}' or a numba-cuda release that supports "
            f"it") from error


@cuda.jit(device=True)
def unravel(t, C, I, J):
    """Split the flat thread number ``t`` into the cell (n, c, i, j) of an (N, C, I, J) array."""
    j = t % J
    t = t // J
    i = t % I
    t = t // I
    return (t // C, t % C, i, j)
