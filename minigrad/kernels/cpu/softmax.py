"""Softmax, log-softmax and softmax cross-entropy along the last axis, compiled with ``numba.njit``.

Every public function here has a twin of the same name, argument order and return in
``minigrad.kernels.gpu.softmax``. They take raw 2-D arrays, one row per distribution, and run
the rows in parallel. Each row is shifted by its max before ``exp`` (the log-sum-exp trick):
every exponent is then <= 0 and the largest term is exp(0) = 1, so nothing overflows and the
sum is at least 1, whose log is finite. The exponentials are taken in the input's dtype and
summed in float64, and lse stays float64: float32 logits near 1e4 are 1e-3 apart, and an lse
rounded to float32 would carry that error into every loss and probability.

Rows of ``WIDE_ROWS`` entries or more take NumPy's passes instead of the loops: Numba's
``math.exp`` is a scalar call (about 4 ns an entry here), NumPy's is vectorised (about 1 ns),
and from about 40 entries a row that outweighs the extra passes over memory (measured on
4096000 float32 entries: C = 10, kernel 16 ms, NumPy 33 ms; C = 1000, kernel 17 ms, NumPy
7 ms). The GPU twins have no such split.

The callers (``minigrad/ops/softmax.py``) check shapes, dtypes and targets first; these
functions trust them, except that an empty array (R = 0 or C = 0) runs no loop.

Notation
--------
R        rows (distributions);  C  classes (entries per row)
x        the logits, shape (R, C), float32 or float64
top      a row's max;  lse  its log-sum-exp, top + log Σ exp(x - top)
t        a row's target class, or ``ignore_index``
w        class weights, shape (C,);  W  their sum
eps      the label smoothing: the target is (1 - eps)·onehot(t) + eps/C
"""
import math

import numba
import numpy as np
from numba import prange

from .parallel import threads_for

WIDE_ROWS = 48  # from this many entries a row on, NumPy's vectorised exp wins (docstring)


def softmax(x):
    """exp(x - lse) per row.

    Returns
    -------
    out : ndarray, shape (R, C), each row sums to 1
    """
    x = np.ascontiguousarray(x)
    if x.shape[1] >= WIDE_ROWS:
        return _softmax_wide(x, log=False)
    out = np.empty(x.shape, dtype=x.dtype)
    if x.size:
        with threads_for(2 * x.size):
            _softmax_loop(x, out, False)
    return out


def log_softmax(x):
    """x - lse per row.

    Returns
    -------
    out : ndarray, shape (R, C), each row's exp sums to 1
    """
    x = np.ascontiguousarray(x)
    if x.shape[1] >= WIDE_ROWS:
        return _softmax_wide(x, log=True)
    out = np.empty(x.shape, dtype=x.dtype)
    if x.size:
        with threads_for(2 * x.size):
            _softmax_loop(x, out, True)
    return out


def cross_entropy(x, target, weight, ignore_index, label_smoothing):
    """Per-row softmax cross-entropy in one pass over the logits:
    ``loss = (1 - eps)·w[t]·(lse - x[t]) + eps/C · Σ_c w[c]·(lse - x[c])``, 0 where t is
    ``ignore_index``; and the probabilities p = exp(x - lse), which the backward needs (kept,
    as PyTorch keeps its log-softmax, rather than a second exp per entry there).

    Parameters
    ----------
    x : ndarray, shape (R, C)
    target : int64 ndarray, shape (R,), values in [0, C) or ``ignore_index``
    weight : ndarray, shape (C,), x's dtype
    ignore_index : int
    label_smoothing : float in [0, 1]

    Returns
    -------
    loss : ndarray, shape (R,)
    probs : ndarray, shape (R, C)
    """
    x = np.ascontiguousarray(x)
    if x.shape[1] >= WIDE_ROWS:
        return _cross_entropy_wide(x, target, weight, ignore_index, label_smoothing)
    loss = np.empty(x.shape[0], dtype=x.dtype)
    probs = np.empty(x.shape, dtype=x.dtype)
    if x.size:
        with threads_for(2 * x.size):
            _cross_entropy_loop(x, target, weight, ignore_index, label_smoothing, loss, probs)
    return (loss, probs)


def cross_entropy_backward(probs, target, weight, row_scale, ignore_index, label_smoothing):
    """d loss / d x scaled per row: ``row_scale·((1 - eps)·w[t]·(p - onehot(t)) + eps/C·(W·p -
    w))``; 0 in the rows whose t is ``ignore_index``.

    Returns
    -------
    grad_x : ndarray, shape (R, C)
    """
    grad_x = np.empty(probs.shape, dtype=probs.dtype)
    if probs.size:
        with threads_for(2 * probs.size):
            _cross_entropy_backward_loop(probs, target, weight, row_scale, ignore_index,
                                         label_smoothing, grad_x)
    return grad_x


def _softmax_wide(x, log):
    """The same as the loop, in NumPy's passes: shift by the row max, exp, normalise."""
    out = x - x.max(1, keepdims=True)
    if log:
        out -= np.log(np.exp(out).sum(1, keepdims=True))
        return out
    np.exp(out, out=out)
    out /= out.sum(1, keepdims=True)
    return out


def _cross_entropy_wide(x, target, weight, ignore_index, label_smoothing):
    """The loop's loss and probabilities in NumPy's passes. Σ_c w[c]·(lse − x[c]) is taken as
    W·(lse − top) − Σ_c w[c]·(x[c] − top), on the shifted logits, which stay small: on the raw
    ones the two terms would be near 1e4·W and cancel in float32."""
    kept = target != ignore_index
    safe = np.where(kept, target, 0)
    shifted = x - x.max(1, keepdims=True)
    probs = np.exp(shifted)
    total = probs.sum(1, dtype=np.float64)
    probs /= total.astype(x.dtype)[:, None]
    log_total = np.log(total)
    loss = (1.0 - label_smoothing) * weight[safe] * (log_total - shifted[np.arange(x.shape[0]),
                                                                          safe])
    if label_smoothing != 0.0:
        loss += label_smoothing / x.shape[1] * (weight.sum() * log_total - shifted @ weight)
    return (np.where(kept, loss, 0.0).astype(x.dtype), probs)


@numba.njit(parallel=True, cache=True)
def _softmax_loop(x, out, log):
    R, C = x.shape
    for r in prange(R):
        top = x[r, 0]
        for c in range(1, C):
            top = max(top, x[r, c])
        total = 0.0
        for c in range(C):
            e = math.exp(x[r, c] - top)
            out[r, c] = e
            total += e
        if log:
            lse = float(top) + math.log(total)
            for c in range(C):
                out[r, c] = float(x[r, c]) - lse
        else:
            for c in range(C):
                out[r, c] /= total


@numba.njit(parallel=True, cache=True)
def _cross_entropy_loop(x, target, weight, ignore_index, label_smoothing, loss, probs):
    R, C = x.shape
    for r in prange(R):
        top = x[r, 0]
        for c in range(1, C):
            top = max(top, x[r, c])
        total = 0.0
        for c in range(C):
            e = math.exp(x[r, c] - top)
            probs[r, c] = e
            total += e
        for c in range(C):
            probs[r, c] /= total
        lse = float(top) + math.log(total)
        t = target[r]
        if t == ignore_index:
            loss[r] = 0.0
            continue
        value = (1.0 - label_smoothing) * weight[t] * (lse - float(x[r, t]))
        if label_smoothing != 0.0:
            smooth = 0.0
            for c in range(C):
                smooth += weight[c] * (lse - float(x[r, c]))
            value += label_smoothing / C * smooth
        loss[r] = value


@numba.njit(parallel=True, cache=True)
def _cross_entropy_backward_loop(probs, target, weight, row_scale, ignore_index,
                                 label_smoothing, grad_x):
    R, C = probs.shape
    W = 0.0
    for c in range(C):
        W += weight[c]
    for r in prange(R):
        t = target[r]
        if t == ignore_index:
            for c in range(C):
                grad_x[r, c] = 0.0
            continue
        hard = (1.0 - label_smoothing) * weight[t]
        soft = label_smoothing / C
        for c in range(C):
            p = probs[r, c]
            grad_x[r, c] = row_scale[r] * (hard * p + soft * (W * p - weight[c]))
        grad_x[r, t] -= row_scale[r] * hard
