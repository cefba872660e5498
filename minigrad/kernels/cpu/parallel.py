"""When the CPU kernels use Numba's thread pool: small problems stay on the calling thread.

Notation
--------
cells   the number of array elements a kernel call reads plus writes
"""
import contextlib

import numba

# Below this many cells, a loop runs on the calling thread alone: waking the thread pool then
# costs more than the work, and on a busy machine (an idle pool thread that spins steals a
# core from the rest) hundreds of times more.
SERIAL_BELOW = 1 << 15


@contextlib.contextmanager
def threads_for(cells):
    """Run the parallel loops inside on one thread when ``cells`` is below SERIAL_BELOW."""
    if cells >= SERIAL_BELOW:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)
