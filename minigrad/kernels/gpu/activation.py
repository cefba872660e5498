"""ReLU on the GPU with ``numba.cuda``: twins of ``minigrad.kernels.cpu.activation``.

One thread per element of the flat array; the same rules as the CPU loops (a NaN input stays
NaN, the backward is 0 wherever the output is not positive). Arrays are CuPy arrays (NumPy
arrays under Numba's CUDA simulator).

Notation
--------
x, out, g   as in ``kernels/cpu/activation.py``
t           the flat thread number, one element
"""
from numba import cuda

from minigrad.backend import xp_of
from .launch import launch


def relu(x):
    """``max(x, 0)`` elementwise (NaN stays NaN); a new array of x's shape and dtype."""
    out = xp_of(x).empty_like(x)
    launch(_relu_thread, x.size, x.reshape(-1), out.reshape(-1))
    return out


def relu_backward(g, out):
    """``g`` where ``out > 0``, else 0: the gradient of ReLU's input, a new array."""
    grad = xp_of(g).empty_like(g)
    launch(_relu_backward_thread, g.size, g.reshape(-1), out.reshape(-1), grad.reshape(-1))
    return grad


def select_takes(cond, a, b):
    """CuPy's where takes every operand its broadcasting rules allow."""
    return True


def select(cond, a, b):
    """``a`` where ``cond`` else ``b``: CuPy's where, already one elementwise kernel without a
    branch to mispredict (the CPU twin exists because NumPy's has one)."""
    return xp_of(cond, a, b).where(cond, a, b)


@cuda.jit
def _relu_thread(x, out):
    t = cuda.grid(1)
    if t < x.shape[0]:
        v = x[t]
        out[t] = v if not v <= 0 else 0


@cuda.jit
def _relu_backward_thread(g, out, grad):
    t = cuda.grid(1)
    if t < g.shape[0]:
        grad[t] = g[t] if out[t] > 0 else 0
