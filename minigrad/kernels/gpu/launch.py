"""The one way the GPU kernels start: ``launch(kernel, n_threads, *args)``, one thread per cell.

Every ``_thread`` kernel in this package takes its flat thread number from ``cuda.grid(1)``,
returns when it is past the last cell, and splits the number into an (n, c, i, j) cell with
:func:`unravel`. The block size lives here only.

Notation
--------
t             the flat thread number, ``((n*C + c)*I + i)*J + j``
C, I, J       the channels and the plane (rows I, columns J) that ``t`` runs over
"""
from numba import cuda

THREADS = 256  # threads per block: a multiple of the warp size that keeps many blocks resident


def launch(kernel, n_threads, *args):
    """Run ``kernel[blocks, THREADS](*args)`` with at least ``n_threads`` threads; nothing for 0
    (a grid of zero blocks is a CUDA error, and an empty batch is a valid input)."""
    if n_threads > 0:
        kernel[(n_threads + THREADS - 1) // THREADS, THREADS](*args)


@cuda.jit(device=True)
def unravel(t, C, I, J):
    """Split the flat thread number ``t`` into the cell (n, c, i, j) of an (N, C, I, J) array."""
    j = t % J
    t = t // J
    i = t % I
    t = t // I
    return (t // C, t % C, i, j)
