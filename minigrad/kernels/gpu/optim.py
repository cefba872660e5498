"""Fused optimizer updates for the GPU: the whole rule of SGD or Adam in one pass per parameter.

The twin of ``minigrad.kernels.cpu.optim``: the same public functions, arguments and checks,
and the same rule for one entry (``updates.sgd_entry``, ``updates.adam_entry``, compiled here as
device functions). Where the CPU loops over the entries, each entry gets a thread, so one
launch reads p, g and the buffers once and writes p and the buffers once. Arrays are CuPy
arrays on a GPU, NumPy arrays under Numba's CUDA simulator.

Under the simulator the twins give the CPU kernels' bits. On a GPU, NVVM by default contracts
a multiply followed by an add into one fused multiply-add (Numba's ``cuda.jit`` has no option
against it), so a result may differ from the CPU's by a rounding, about one unit in the last
place per step.

One launch updates one parameter. Launches cost microseconds each, so a model with hundreds of
parameters pays for them; packing a group's parameters into one launch is left for later.

Notation
--------
p, g        the parameter and its gradient, flattened; i an entry (a thread)
b           SGD's momentum buffer;  m, v, v_max  Adam's moments and the running max of v
"""
from numba import cuda

from minigrad.backend import xp_of
from .. import updates
from .launch import launch

_sgd_entry = cuda.jit(device=True)(updates.sgd_entry)
_adam_entry = cuda.jit(device=True)(updates.adam_entry)


def _flat(a):
    """``a`` as a 1-D C-ordered array: a view when ``a`` is C-contiguous, else a copy."""
    return a.ravel()


def _run(kernel, writes, grad, *scalars):
    """Launch ``kernel`` with one thread per entry over flat views of ``writes`` (the
    parameter, then its buffers) and ``grad``; copy the results back into strided ``writes``."""
    flats = [_flat(a) for a in writes]
    launch(kernel, flats[0].shape[0], *flats, _flat(grad), *scalars)
    for a, flat in zip(writes, flats):
        if not a.flags.c_contiguous:
            a[...] = flat.reshape(a.shape)


def sgd_update_(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay,
                nesterov, maximize, first):
    """One step of SGD on one parameter, in place, in one pass (see the CPU twin for the rule).

    Parameters
    ----------
    param : ndarray, shape S, float32 or float64
    grad : ndarray, shape S, param's dtype
    momentum_buffer : ndarray, shape S, param's dtype, or None
    lr, momentum, dampening, weight_decay : float
    nesterov, maximize, first : bool
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
        _run(_sgd_plain_thread, writes, grad, *scalars, *flags)
    else:
        _run(_sgd_thread, writes, grad, *scalars, *flags)


@cuda.jit
def _sgd_thread(p, b, g, sign, lr, mu, one_minus_tau, wd, nesterov, first):
    i = cuda.grid(1)
    if i < p.shape[0]:
        p[i], b[i] = _sgd_entry(p[i], b[i], g[i], sign, lr, mu, one_minus_tau, wd, nesterov,
                                first)


@cuda.jit
def _sgd_plain_thread(p, g, sign, lr, mu, one_minus_tau, wd, nesterov, first):
    # without momentum there is no buffer: the rule gets p in its place and returns it unused
    i = cuda.grid(1)
    if i < p.shape[0]:
        p[i] = _sgd_entry(p[i], p[i], g[i], sign, lr, mu, one_minus_tau, wd, nesterov,
                          first)[0]


def adam_update_(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps,
                 weight_decay, step, amsgrad, maximize, decoupled_weight_decay):
    """One step of Adam (or AdamW) on one parameter, in place, in one pass (see the CPU twin).

    Parameters
    ----------
    param : ndarray, shape S, float32 or float64
    grad, exp_avg, exp_avg_sq : ndarray, shape S, param's dtype
    max_exp_avg_sq : ndarray, shape S, param's dtype, or None (without amsgrad)
    lr, beta1, beta2, eps, weight_decay : float
    step : int
    amsgrad, maximize, decoupled_weight_decay : bool
    """
    buffers = [("exp_avg", exp_avg), ("exp_avg_sq", exp_avg_sq)]
    if amsgrad:
        buffers.append(("max_exp_avg_sq", max_exp_avg_sq))
    updates.check_update("adam_update_", param, grad, *buffers)
    scalars = updates.adam_scalars(param, lr, beta1, beta2, eps, weight_decay, step, maximize,
                                   decoupled_weight_decay)
    v_max = max_exp_avg_sq if amsgrad else xp_of(param).empty(0, param.dtype)  # not read
    _run(_adam_thread, [param, exp_avg, exp_avg_sq, v_max], grad, bool(amsgrad), *scalars)


@cuda.jit
def _adam_thread(p, m, v, v_max, g, amsgrad, beta1, one_minus_beta1, beta2, one_minus_beta2,
                 step_size, root_correction, eps, sign, wd, decay):
    i = cuda.grid(1)
    if i < p.shape[0]:
        # without amsgrad there is no v_max buffer: the rule gets v in its place
        w = v_max[i] if amsgrad else v[i]
        p[i], m[i], v[i], w = _adam_entry(p[i], m[i], v[i], w, g[i], amsgrad, beta1,
                                          one_minus_beta1, beta2, one_minus_beta2, step_size,
                                          root_correction, eps, sign, wd, decay)
        if amsgrad:
            v_max[i] = w
