"""ReLU on the CPU, compiled with ``numba.njit``: the forward and its backward, each one pass;
and ``select``, NumPy's ``where`` without its branch.

``relu`` writes ``max(x, 0)``; ``relu_backward`` writes ``g`` where the saved output is positive
and 0 elsewhere, in one pass (NumPy's ``g * (out > 0)`` makes a mask and then multiplies: two
passes and a temporary). Both split the flat array over Numba's threads from PARALLEL_ABOVE
elements up (smaller arrays stay on the calling thread). The twins of the same names and
signatures are in ``minigrad.kernels.gpu.activation``.

The rules are PyTorch's: a NaN input gives a NaN output (``max`` would give 0 for it, so the
test is written ``not (v <= 0)``), and the backward gives 0 wherever the output is not
positive, even where ``g`` is NaN or infinite (a product with a 0/1 mask would give NaN there),
as PyTorch's ``threshold_backward`` does.

``select(cond, a, b)`` is ``np.where(cond, a, b)``. NumPy's where branches on every element, and
on a mask that follows the data (x > 0 on random values) half its branches are mispredicted:
3.7-3.8 ms for 2**20 float32 elements here against 0.6 ms for a regular mask and 0.16 ms for an
addition (NumPy 2.4, 2026-11-27). The loop below is a select, which the compiler vectorises.
It takes a bool ``cond`` and two float32 or float64 operands of one dtype, each an array of
cond's shape or a Python number (which then takes the array's dtype, as NumPy's rule for a
weak scalar says), all C-contiguous (``select_takes`` says); the ops run ``np.where`` for
anything else. The ops' where, the piecewise-linear activations and their gradients use it.

Notation
--------
x, out      the input and the output of ReLU, any shape, C-contiguous, float32 or float64
g           the gradient of the loss with respect to ``out``, of out's shape and dtype
cond, a, b  ``select``'s mask and its two operands
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


_SELECT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def select_takes(cond, a, b):
    """Whether ``select`` takes these operands (see the module docstring); the caller runs
    ``np.where`` for anything else."""
    return _select_dtype(cond, a, b) is not None


def select(cond, a, b):
    """``a`` where ``cond`` else ``b``, elementwise: the array ``np.where(cond, a, b)`` gives
    (values and dtype), in one vectorised pass. Operands ``select_takes`` refuses are a
    ValueError, raised before the loop runs."""
    dtype = _select_dtype(cond, a, b)
    if dtype is None:
        raise ValueError(f"select: expected a C-contiguous bool cond and two float32 or float64 "
                         f"operands of one dtype, each a C-contiguous array of cond's shape or a "
                         f"Python number, got {_describe(cond)}, {_describe(a)} and "
                         f"{_describe(b)}; np.where takes the rest")
    out = np.empty(cond.shape, dtype)
    flat = [cond.reshape(-1), out.reshape(-1)]
    with threads_for(cond.size if cond.size >= PARALLEL_ABOVE else 0):
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            _select_loop(flat[0], a.reshape(-1), b.reshape(-1), flat[1])
        elif isinstance(a, np.ndarray):
            _select_else_loop(flat[0], a.reshape(-1), dtype.type(b), flat[1])
        else:
            _select_else_loop(~flat[0], b.reshape(-1), dtype.type(a), flat[1])
    return out


def _describe(v):
    if isinstance(v, np.ndarray):
        order = "C-contiguous" if v.flags.c_contiguous else "non-contiguous"
        return f"{order} {v.dtype} array of shape {v.shape}"
    return f"{type(v).__name__} {v!r}"


def _select_dtype(cond, a, b):
    """The dtype of select's fast path for these operands, or None where np.where must run."""
    if type(cond) is not np.ndarray or cond.dtype != np.bool_ or not cond.flags.c_contiguous:
        return None
    arrays = [v for v in (a, b) if isinstance(v, np.ndarray)]
    numbers = [v for v in (a, b) if type(v) in (int, float)]
    if not arrays or len(arrays) + len(numbers) != 2:
        return None
    dtype = arrays[0].dtype
    if dtype not in _SELECT_DTYPES or any(
            v.dtype != dtype or v.shape != cond.shape or not v.flags.c_contiguous for v in arrays):
        return None
    return dtype


@numba.njit(parallel=True, cache=True)
def _select_loop(cond, a, b, out):
    for i in prange(cond.shape[0]):
        out[i] = a[i] if cond[i] else b[i]


@numba.njit(parallel=True, cache=True)
def _select_else_loop(cond, a, value, out):
    """``a`` where ``cond``, else the one number ``value`` (of a's dtype)."""
    for i in prange(cond.shape[0]):
        out[i] = a[i] if cond[i] else value
