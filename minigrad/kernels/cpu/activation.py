"""ReLU on the CPU, compiled with ``numba.njit``: the forward and its backward, each one pass.

``relu`` writes ``max(x, 0)``; ``relu_backward`` writes ``g`` where the saved output is positive
and 0 elsewhere, in one pass (NumPy's ``g * (out > 0)`` makes a mask and then multiplies: two
passes and a temporary). Both split the flat array over Numba's threads from PARALLEL_ABOVE
elements up (smaller arrays stay on the calling thread). The twins of the same names and
signatures are in ``minigrad.kernels.gpu.activation``.

The rules are PyTorch's: a NaN input gives a NaN output (``max`` would give 0 for it, so the
test is written ``not (v <= 0)``), and the backward gives 0 wherever the output is not
positive, even where ``g`` is NaN or infinite (a product with a 0/1 mask would give NaN there),
as PyTorch's ``threshold_backward`` does.

Notation
--------
x, out      the input and the output of ReLU, any shape, C-contiguous, float32 or float64
g           the gradient of the loss with respect to ``out``, of out's shape and dtype
"""
import numba
import numpy as np
from numba import prange

from .parallel import threads_for

# An elementwise pass over fewer elements than this stays on the calling thread: it takes tens
# of microseconds, about what waking the sleeping pool threads costs (PASSIVE waiting), so
# the MLP step of bench_speed ran slower at 2 threads than at 1 with the general threshold.
PARALLEL_ABOVE = 1 << 18


def relu(x):
    """``max(x, 0)`` elementwise (NaN stays NaN); a new array of x's shape and dtype."""
    out = np.empty_like(x)
    with threads_for(x.size if x.size >= PARALLEL_ABOVE else 0):
        _relu_loop(x.reshape(-1), out.reshape(-1))
    return out


def relu_backward(g, out):
    """``g`` where ``out > 0``, else 0: the gradient of ReLU's input, a new array."""
    grad = np.empty_like(g)
    with threads_for(g.size if g.size >= PARALLEL_ABOVE else 0):
        _relu_backward_loop(g.reshape(-1), out.reshape(-1), grad.reshape(-1))
    return grad


@numba.njit(parallel=True, cache=True)
def _relu_loop(x, out):
    for i in prange(x.shape[0]):
        v = x[i]
        out[i] = v if not v <= 0 else 0  # a NaN fails every comparison, so it is kept


@numba.njit(parallel=True, cache=True)
def _relu_backward_loop(g, out, grad):
    for i in prange(g.shape[0]):
        grad[i] = g[i] if out[i] > 0 else 0
