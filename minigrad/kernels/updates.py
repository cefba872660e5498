"""The rules of the fused optimizer kernels, entry by entry, shared by ``cpu/`` and ``gpu/``.

A fused update reads a parameter, its gradient and the optimizer's buffers once and writes the
parameter and the buffers once, doing the whole rule of SGD or Adam per entry. The rule for one
entry is a plain function of numbers here (:func:`sgd_entry`, :func:`adam_entry`); the CPU
kernels compile it with ``numba.njit`` and loop over the entries, the GPU kernels compile it
with ``cuda.jit(device=True)`` and give each entry a thread.

What does not depend on the entry is computed once per call, in Python floats, by
:func:`sgd_scalars` and :func:`adam_scalars`: ``1 - dampening``, Adam's bias corrections, AdamW's
decay factor. Each is then cast to the parameter's dtype, as NumPy casts a Python float in
``array * 0.9``, so that a float32 update computes in float32, operation for operation like the
NumPy rule of ``optim/``, and gives the same bits (in float64 too). The options become numbers
too where that is exact, so that the loop has few branches left (a loop with many branches,
even ones that never change inside it, was not vectorized and ran about ten times slower):
``maximize`` becomes a sign, -1 or 1, and AdamW's decay a factor that is 1 for Adam.

Notation
--------
p, g        one entry of the parameter and of its gradient
b           SGD's momentum buffer;  m, v, v_max  Adam's moments and the running max of v
d           the gradient as the rule uses it, after maximize and weight decay
t           Adam's step count, 1 on the first update
"""
import functools
import math

from minigrad.checks import check_int, check_number


def sgd_entry(p, b, g, sign, lr, mu, one_minus_tau, wd, nesterov, first):
    """One entry of SGD: returns the new (p, b); b is returned unchanged when ``mu`` is 0."""
    d = sign * g
    if wd != 0:
        d = d + wd * p
    if mu != 0:
        b = d if first else b * mu + one_minus_tau * d
        d = d + mu * b if nesterov else b
    return (p - lr * d, b)


def adam_entry(p, m, v, v_max, g, amsgrad, beta1, one_minus_beta1, beta2, one_minus_beta2,
               step_size, root_correction, eps, sign, wd, decay):
    """One entry of Adam: returns the new (p, m, v, v_max). Without amsgrad, v_max is v (so a
    caller without a v_max buffer may pass v in its place)."""
    d = sign * g
    p = p * decay
    if wd != 0:
        d = d + wd * p
    m = m * beta1 + one_minus_beta1 * d
    v = v * beta2 + one_minus_beta2 * (d * d)
    if not amsgrad or v_max < v or v != v:  # np.maximum's rule: a NaN on either side wins
        v_max = v
    return (p - step_size * (m / (math.sqrt(v_max) / root_correction + eps)), m, v, v_max)


def check_update(op, param, grad, *buffers):
    """Raise unless ``param`` is a writeable float32 or float64 array and ``grad`` and every
    buffer have its shape and dtype.

    Parameters
    ----------
    op : str
        The kernel's name, which starts every message.
    param, grad : ndarray
    buffers : (str, ndarray) pairs
        The optimizer's buffers that the update reads and writes, with their names.
    """
    for name, a in (("param", param), ("grad", grad), *buffers):
        if not (hasattr(a, "shape") and hasattr(a, "dtype")):
            raise TypeError(f"{op}: {name} must be an array, got {type(a).__name__}")
    shape, dtype = param.shape, param.dtype
    if dtype.char not in "fd" or dtype.byteorder == ">":
        raise TypeError(f"{op}: param must be float32 or float64, got {_describe(param)}")
    if not getattr(param.flags, "writeable", True):  # CuPy arrays have no such flag
        raise ValueError(f"{op}: param must be writeable (it is updated in place)")
    for name, a in (("grad", grad), *buffers):
        if a.shape != shape or a.dtype != dtype:
            raise ValueError(f"{op}: {name} must have the parameter's shape {tuple(shape)} "
                             f"and dtype {dtype}, got {_describe(a)}")


def _describe(a):
    return f"shape {tuple(a.shape)} and dtype {a.dtype}"


def sgd_scalars(param, lr, momentum, dampening, weight_decay, maximize):
    """(sign, lr, momentum, 1 - dampening, weight_decay), checked and cast to ``param``'s dtype;
    sign is -1 to maximize (negating by a product with -1 is exact), 1 to minimize."""
    return _cached(_sgd_scalars, param.dtype, lr, momentum, dampening, weight_decay,
                   bool(maximize))


def adam_scalars(param, lr, beta1, beta2, eps, weight_decay, step, maximize, decoupled):
    """Adam's per-call constants, checked and cast to ``param``'s dtype.

    Returns
    -------
    tuple
        ``(beta1, 1 - beta1, beta2, 1 - beta2, step_size, root_correction, eps, sign, wd,
        decay)`` with ``step_size = lr / (1 - beta1^t)`` and ``root_correction =
        sqrt(1 - beta2^t)`` (both moments start at 0, so early on they underestimate by these
        factors), sign -1 to maximize and 1 else, and the weight decay split in two: ``wd`` is
        the L2 penalty added to the gradient (0 when decoupled), ``decay`` the factor
        ``1 - lr * weight_decay`` that AdamW shrinks p by (1, an exact no-op, for Adam).
    """
    return _cached(_adam_scalars, param.dtype, lr, beta1, beta2, eps, weight_decay, step,
                   bool(maximize), bool(decoupled))


def _cached(compute, *key):
    """``compute(*key)``, remembered: every parameter of a group asks for the same constants
    at each step, and checking and casting them costs more than a small parameter's update.
    A key that cannot be hashed (a list, say) is computed, so that its check says what is
    wrong."""
    try:
        return _remembered(compute, *key)
    except TypeError:
        return compute(*key)


@functools.lru_cache(maxsize=256, typed=True)  # typed: 1, 1.0 and True are different keys
def _remembered(compute, *key):
    return compute(*key)


def _sgd_scalars(dtype, lr, momentum, dampening, weight_decay, maximize):
    for name, value in (("lr", lr), ("momentum", momentum), ("dampening", dampening),
                        ("weight_decay", weight_decay)):
        check_number("sgd_update_", name, value, low=0.0)
    cast = dtype.type
    return (cast(-1 if maximize else 1), cast(lr), cast(momentum), cast(1 - dampening),
            cast(weight_decay))


def _adam_scalars(dtype, lr, beta1, beta2, eps, weight_decay, step, maximize, decoupled):
    for name, value in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay)):
        check_number("adam_update_", name, value, low=0.0)
    for name, beta in (("beta1", beta1), ("beta2", beta2)):
        check_number("adam_update_", name, beta, low=0.0, high=1.0, high_open=True)
    t = check_int("adam_update_", "step", step, low=1)
    cast = dtype.type
    step_size = lr / (1 - beta1 ** t)
    root_correction = (1 - beta2 ** t) ** 0.5
    wd, decay = (0.0, 1 - lr * weight_decay) if decoupled else (weight_decay, 1.0)
    return (cast(beta1), cast(1 - beta1), cast(beta2), cast(1 - beta2), cast(step_size),
            cast(root_correction), cast(eps), cast(-1 if maximize else 1), cast(wd), cast(decay))
