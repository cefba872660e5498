"""Fused optimizer updates for the CPU: the whole rule of SGD or Adam in one pass per parameter.

The NumPy rules in ``optim/`` spell an update as a handful of array expressions (``buf *=
momentum``, ``buf += (1 - dampening) * grad``, ``param -= lr * buf``, ...). Each expression is
a pass over memory and most allocate a temporary, so a step reads and writes every parameter
several times. Here one loop visits each entry once and applies the whole rule to it (the
function of numbers ``updates.sgd_entry`` or ``updates.adam_entry``, compiled): read p, g and
the buffers, write p and the buffers. Every public function has a twin of the same name and
signature in ``minigrad.kernels.gpu.optim``. The loop does the NumPy rule's operations in the
same order and dtype, and LLVM fuses no multiply-add unless asked to, so on the CPU the fused
update and the NumPy rule give the same bits.

One call updates one parameter. Passing all of a group's parameters in one call (a tuple of
arrays) measured no faster, and building a Numba typed list of them costs more than the calls
(about 24 us against about 1 us a call, for an MLP's six parameters). Small parameters run on
the calling thread; from ``PARALLEL_FROM`` entries the loop is split over Numba's threads. The
loop does so little per entry that waking the pool does not pay below that: on a busy two-core
machine Adam on the pool was 1.1-1.4x slower up to 2^20 entries and no faster from 2^21
(``python -m bench.bench_optim_step --threshold``); ``threads_for``'s general threshold is far
lower.

Notation
--------
p, g        the parameter and its gradient, flattened; i an entry
b           SGD's momentum buffer;  m, v, v_max  Adam's moments and the running max of v
"""
import numba
import numpy as np
from numba import prange

from .. import updates
from .parallel import threads_for

PARALLEL_FROM = 1 << 21  # entries of a parameter from which the loop uses the thread pool

_sgd_entry = numba.njit(cache=True, error_model="numpy")(updates.sgd_entry)
_adam_entry = numba.njit(cache=True, error_model="numpy")(updates.adam_entry)


def _flat(a):
    """``a`` as a 1-D C-ordered array: a view when ``a`` is C-contiguous, else a copy."""
    return a.ravel()


def _run(loops, writes, grad, *scalars):
    """Run one of ``loops`` (serial, parallel) over flat views of ``writes`` (the parameter,
    then its buffers) and ``grad``, and copy the results back into strided ``writes``."""
    flats = [_flat(a) for a in writes]
    size = flats[0].shape[0]
    if size < PARALLEL_FROM:
        loops[0](*flats, _flat(grad), *scalars)
    else:
        with threads_for(size * (len(writes) + 1)):
            loops[1](*flats, _flat(grad), *scalars)
    for a, flat in zip(writes, flats):
        if not a.flags.c_contiguous:
            a[...] = flat.reshape(a.shape)


def sgd_update_(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay,
                nesterov, maximize, first):
    """One step of SGD on one parameter, in place, in one pass::

        d = -g if maximize else g;   d <- d + lambda * p          (if lambda != 0)
        b <- d  (first)   or   b <- mu * b + (1 - tau) * d         (if mu != 0)
        d <- d + mu * b  (nesterov)   or   d <- b                  (if mu != 0)
        p <- p - lr * d

    Parameters
    ----------
    param : ndarray, shape S, float32 or float64
        Updated in place.
    grad : ndarray, shape S, param's dtype
        Read only; any layout.
    momentum_buffer : ndarray, shape S, param's dtype, or None
        b, updated in place; ignored (may be None) when ``momentum`` is 0.
    lr, momentum, dampening, weight_decay : float
        Each >= 0.
    nesterov, maximize : bool
    first : bool
        The buffer is new: it is set to d instead of being averaged with it (PyTorch's first
        step), and its old contents are not read.
    """
    if momentum == 0:
        updates.check_update("sgd_update_", param, grad)
        writes = [param]
    else:
        updates.check_update("sgd_update_", param, grad, ("momentum_buffer", momentum_buffer))
        writes = [param, momentum_buffer]
    scalars = updates.sgd_scalars(param, lr, momentum, dampening, weight_decay, maximize)
    flags = (bool(nesterov), bool(first))
    if momentum == 0:
        _run((_sgd_plain_loop, _sgd_plain_loop_parallel), writes, grad, *scalars, *flags)
    else:
        _run((_sgd_loop, _sgd_loop_parallel), writes, grad, *scalars, *flags)


@numba.njit(cache=True, error_model="numpy")
def _sgd_loop(p, b, g, *scalars):
    for i in range(p.shape[0]):
        p[i], b[i] = _sgd_entry(p[i], b[i], g[i], *scalars)


@numba.njit(cache=True, error_model="numpy", parallel=True)
def _sgd_loop_parallel(p, b, g, *scalars):
    for i in prange(p.shape[0]):
        p[i], b[i] = _sgd_entry(p[i], b[i], g[i], *scalars)


@numba.njit(cache=True, error_model="numpy")
def _sgd_plain_loop(p, g, *scalars):
    # without momentum there is no buffer: the rule gets p in its place and returns it unused
    for i in range(p.shape[0]):
        p[i] = _sgd_entry(p[i], p[i], g[i], *scalars)[0]


@numba.njit(cache=True, error_model="numpy", parallel=True)
def _sgd_plain_loop_parallel(p, g, *scalars):
    for i in prange(p.shape[0]):
        p[i] = _sgd_entry(p[i], p[i], g[i], *scalars)[0]


def adam_update_(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps,
                 weight_decay, step, amsgrad, maximize, decoupled_weight_decay):
    """One step of Adam (or AdamW) on one parameter, in place, in one pass::

        d = -g if maximize else g
        p <- p * (1 - lr * lambda)  (decoupled)   or   d <- d + lambda * p   (if lambda != 0)
        m <- beta1 * m + (1 - beta1) * d
        v <- beta2 * v + (1 - beta2) * d^2
        v_max <- max(v_max, v)                      (amsgrad; v_max then replaces v below)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Parameters
    ----------
    param : ndarray, shape S, float32 or float64
        Updated in place.
    grad : ndarray, shape S, param's dtype
        Read only; any layout.
    exp_avg, exp_avg_sq : ndarray, shape S, param's dtype
        m and v, updated in place.
    max_exp_avg_sq : ndarray, shape S, param's dtype, or None
        v_max, updated in place; ignored (may be None) without ``amsgrad``.
    lr, eps, weight_decay : float
        Each >= 0.
    beta1, beta2 : float
        Each in [0, 1).
    step : int
        t, the step count of this parameter including this update, >= 1.
    amsgrad, maximize, decoupled_weight_decay : bool
    """
    buffers = [("exp_avg", exp_avg), ("exp_avg_sq", exp_avg_sq)]
    if amsgrad:
        buffers.append(("max_exp_avg_sq", max_exp_avg_sq))
    updates.check_update("adam_update_", param, grad, *buffers)
    scalars = updates.adam_scalars(param, lr, beta1, beta2, eps, weight_decay, step, maximize,
                                   decoupled_weight_decay)
    v_max = max_exp_avg_sq if amsgrad else np.empty(0, param.dtype)  # not read without amsgrad
    _run((_adam_loop, _adam_loop_parallel), [param, exp_avg, exp_avg_sq, v_max], grad,
         bool(amsgrad), *scalars)


@numba.njit(cache=True, error_model="numpy")
def _adam_loop(p, m, v, v_max, g, amsgrad, *scalars):
    for i in range(p.shape[0]):
        # without amsgrad there is no v_max buffer: the rule gets v in its place
        w = v_max[i] if amsgrad else v[i]
        p[i], m[i], v[i], w = _adam_entry(p[i], m[i], v[i], w, g[i], amsgrad, *scalars)
        if amsgrad:
            v_max[i] = w


@numba.njit(cache=True, error_model="numpy", parallel=True)
def _adam_loop_parallel(p, m, v, v_max, g, amsgrad, *scalars):
    for i in prange(p.shape[0]):
        w = v_max[i] if amsgrad else v[i]
        p[i], m[i], v[i], w = _adam_entry(p[i], m[i], v[i], w, g[i], amsgrad, *scalars)
        if amsgrad:
            v_max[i] = w
