"""Softmax, log-softmax and softmax cross-entropy along the last axis, compiled with ``numba.njit``.

Every public function here has a twin of the same name, argument order and return in
``minigrad.kernels.gpu.softmax``. They take raw 2-D arrays, one row per distribution, and run
the rows in parallel. Each row is shifted by its max before ``exp`` (the log-sum-exp trick):
every exponent is then <= 0 and the largest term is exp(0) = 1, so nothing overflows and the
sum is at least 1, whose log is finite. The exponentials are taken in the input's dtype and
summed in float64, and lse stays float64: float32 logits near 1e4 are 1e-3 apart, and an lse
rounded to float32 would carry that error into every loss and probability.

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


def softmax(x):
    """exp(x - lse) per row.

    Returns
    -------
    out : ndarray, shape (R, C), each row sums to 1
    """
    x = np.ascontiguousarray(x)
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
    out = np.empty(x.shape, dtype=x.dtype)
    if x.size:
        with threads_for(2 * x.size):
            _softmax_loop(x, out, True)
    return out


def cross_entropy(x, target, weight, ignore_index, label_smoothing):
    """Per-row softmax cross-entropy in one pass over the logits:
    ``loss = (1 - eps)·w[t]·(lse - x[t]) + eps/C · Σ_c w[c]·(lse - x[c])``, 0 where t is
    ``ignore_index``.

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
    lse : float64 ndarray, shape (R,), kept for the backward
    """
    R = x.shape[0]
    loss = np.empty(R, dtype=x.dtype)
    lse = np.empty(R, dtype=np.float64)
    if x.size:
        with threads_for(x.size):
            _cross_entropy_loop(np.ascontiguousarray(x), target, weight, ignore_index,
                                label_smoothing, loss, lse)
    return (loss, lse)


def cross_entropy_backward(x, lse, target, weight, row_scale, ignore_index, label_smoothing):
    """d loss / d x scaled per row: ``row_scale·((1 - eps)·w[t]·(p - onehot(t)) + eps/C·(W·p -
    w))`` with p = exp(x - lse); 0 in the rows whose t is ``ignore_index``.

    Returns
    -------
    grad_x : ndarray, shape (R, C)
    """
    grad_x = np.empty(x.shape, dtype=x.dtype)
    if x.size:
        with threads_for(2 * x.size):
            _cross_entropy_backward_loop(np.ascontiguousarray(x), lse, target, weight,
                                         row_scale, ignore_index, label_smoothing, grad_x)
    return grad_x


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
def _cross_entropy_loop(x, target, weight, ignore_index, label_smoothing, loss, lse):
    R, C = x.shape
    for r in prange(R):
        top = x[r, 0]
        for c in range(1, C):
            top = max(top, x[r, c])
        total = 0.0
        for c in range(C):
            total += math.exp(x[r, c] - top)
        lse[r] = float(top) + math.log(total)
        t = target[r]
        if t == ignore_index:
            loss[r] = 0.0
            continue
        value = (1.0 - label_smoothing) * weight[t] * (lse[r] - x[r, t])
        if label_smoothing != 0.0:
            smooth = 0.0
            for c in range(C):
                smooth += weight[c] * (lse[r] - x[r, c])
            value += label_smoothing / C * smooth
        loss[r] = value


@numba.njit(parallel=True, cache=True)
def _cross_entropy_backward_loop(x, lse, target, weight, row_scale, ignore_index,
                                 label_smoothing, grad_x):
    R, C = x.shape
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
            p = math.exp(x[r, c] - lse[r])
            grad_x[r, c] = row_scale[r] * (hard * p + soft * (W * p - weight[c]))
        grad_x[r, t] -= row_scale[r] * hard
