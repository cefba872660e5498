"""Gradient clipping: rescale all gradients by their joint norm, or clamp each entry.

Both functions change ``p.grad`` in place between ``backward()`` and ``optimizer.step()``, as
their PyTorch namesakes do, and skip parameters without a gradient.

Notation
--------
g_i      the gradient array of parameter i
q        the norm type: a real q > 0, or inf for the largest absolute entry
N        the total norm, ||(||g_1||_q, ||g_2||_q, ...)||_q, which equals the q-norm of all
         gradient entries taken together
"""
import math
from collections.abc import Iterable

import minigrad as mg
from minigrad.backend import device_of, xp_of

from minigrad.checks import check_number


def _gradients(parameters, owner):
    """The distinct gradient Tensors of ``parameters`` (a Tensor or an iterable of them)."""
    if isinstance(parameters, mg.Tensor):
        parameters = [parameters]
    elif not isinstance(parameters, Iterable):
        raise TypeError(f"{owner}: parameters must be a Tensor or an iterable of Tensors, "
                        f"got {type(parameters).__name__}")
    grads = {}
    for i, p in enumerate(parameters):
        if not isinstance(p, mg.Tensor):
            raise TypeError(f"{owner}: parameter {i} is a {type(p).__name__}, expected a Tensor")
        # Keyed by identity: a gradient shared by two entries must be scaled only once.
        if p.grad is not None:
            grads[id(p.grad)] = p.grad
    return list(grads.values())


def _largest(array):
    """max |entry| of ``array`` as a Python float (NaN if any entry is NaN, 0.0 if empty)."""
    if array.size == 0:
        return 0.0
    return float(xp_of(array).abs(array).max())


def _scaled_power_sum(array, scale, norm_type):
    """sum (|entry| / scale)^q in float64: every ratio is at most 1, so no power overflows."""
    xp = xp_of(array)
    if array.size == 0:
        return 0.0
    ratio = xp.abs(array.astype(xp.float64, copy=False)) / scale
    return float(xp.sum(ratio ** norm_type))


def _total_norm(arrays, norm_type):
    """N = m * (sum_i sum (|g_i| / m)^q)^(1/q) with m the largest |entry|.

    Written through m because |g|^q alone overflows float64 as soon as q * log10|g| > 308 (a
    gradient of 1e10 with q = 31 already does), and underflows to 0 for small ones; the ratios
    lie in [0, 1], so their powers stay finite and the largest one is exactly 1.
    """
    largest = [_largest(a) for a in arrays]
    # max() skips a NaN that is not first (NaN compares False), so look for one explicitly.
    m = math.nan if any(math.isnan(x) for x in largest) else max(largest)
    if norm_type == math.inf or not math.isfinite(m) or m == 0.0:
        return m
    total = sum(_scaled_power_sum(a, m, norm_type) for a in arrays)
    return m * total ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The gradients are multiplied in place by ``min(1, max_norm / (N + 1e-6))``, the same
    coefficient for every parameter, so the direction of the full gradient is kept. The 1e-6
    (PyTorch's) keeps the division finite when every gradient is zero.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Parameters whose ``.grad`` is clipped; those without a gradient are skipped.
    max_norm : float
        The largest norm allowed, >= 0.
    norm_type : float or str
        q, a real number > 0, or ``inf`` (also the string ``'inf'``) for the largest entry.
    error_if_nonfinite : bool
        Raise instead of scaling when N is NaN or infinite.

    Returns
    -------
    total_norm : Tensor, shape ()
        N, the joint norm before clipping, with the gradients' dtype, on the first gradient's
        device (0.0 when no parameter has a gradient).

    Examples
    --------
    >>> import minigrad as mg
    >>> w = mg.tensor([0.0, 0.0], requires_grad=True)
    >>> w.grad = mg.tensor([3.0, 4.0])
    >>> clip_grad_norm_([w], max_norm=1.0).item()
    5.0
    >>> print(w.grad.numpy().round(4))
    [0.6 0.8]
    """
    owner = "clip_grad_norm_"
    grads = _gradients(parameters, owner)
    check_number(owner, "max_norm", max_norm, low=0.0)
    try:
        norm_type = float(norm_type)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: norm_type must be a number or 'inf', "
                        f"got {norm_type!r}") from None
    if not norm_type > 0:
        raise ValueError(f"{owner}: invalid norm_type {norm_type}, expected a value > 0 "
                         "or inf")
    if not grads:
        return mg.tensor(0.0)
    total = _total_norm([g.data for g in grads], norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise ValueError(f"{owner}: the total {norm_type}-norm of the gradients is {total}, "
                         "so they cannot be clipped; pass error_if_nonfinite=False to scale "
                         "them by it anyway")
    coefficient = max_norm / (total + 1e-6)
    # Written so that a NaN norm still scales (every gradient becomes NaN, as in PyTorch)
    # instead of passing for "small enough"; a coefficient >= 1 would change nothing.
    if not coefficient >= 1.0:
        for g in grads:
            g.data *= coefficient
    first = grads[0].data
    return mg.tensor(total, dtype=first.dtype, device=device_of(first))


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient entry to ``[-clip_value, clip_value]``, in place.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Parameters whose ``.grad`` is clipped; those without a gradient are skipped.
    clip_value : float
        The largest magnitude allowed, >= 0.

    Examples
    --------
    >>> import minigrad as mg
    >>> w = mg.tensor([0.0, 0.0, 0.0], requires_grad=True)
    >>> w.grad = mg.tensor([-3.0, 0.5, 2.0])
    >>> clip_grad_value_(w, 1.0)
    >>> print(w.grad.numpy())
    [-1.   0.5  1. ]
    """
    owner = "clip_grad_value_"
    grads = _gradients(parameters, owner)
    check_number(owner, "clip_value", clip_value, low=0.0)
    for g in grads:
        xp_of(g.data).clip(g.data, -clip_value, clip_value, out=g.data)
