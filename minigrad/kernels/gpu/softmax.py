"""Softmax, log-softmax and softmax cross-entropy along the last axis, written with ``numba.cuda``.

Every public function here has a twin of the same name, argument order and return in
``minigrad.kernels.cpu.softmax``, with the loops written in the same order: one thread per row
here where the CPU runs rows in parallel there. Each row is shifted by its max before ``exp``,
so nothing overflows; the exponentials are taken in the input's dtype and summed in float64,
and lse is a float64 (rounded to float32 near 1e4 it would be 1e-3 off).

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

from numba import cuda

from minigrad.backend import xp_of
from .launch import launch


def softmax(x):
    """exp(x - lse) per row; shape (R, C), each row sums to 1."""
    xp = xp_of(x)
    x = xp.ascontiguousarray(x)
    out = xp.empty(x.shape, dtype=x.dtype)
    if x.size:
        launch(_softmax_thread, x.shape[0], x, out, False)
    return out


def log_softmax(x):
    """x - lse per row; shape (R, C)."""
    xp = xp_of(x)
    x = xp.ascontiguousarray(x)
    out = xp.empty(x.shape, dtype=x.dtype)
    if x.size:
        launch(_softmax_thread, x.shape[0], x, out, True)
    return out


def cross_entropy(x, target, weight, ignore_index, label_smoothing):
    """Per-row loss ``(1 - eps)·w[t]·(lse - x[t]) + eps/C · Σ_c w[c]·(lse - x[c])`` (0 where t
    is ``ignore_index``) and the probabilities exp(x - lse): ``(loss, probs)``, shapes (R,)
    and (R, C)."""
    xp = xp_of(x)
    x = xp.ascontiguousarray(x)
    loss = xp.empty(x.shape[0], dtype=x.dtype)
    probs = xp.empty(x.shape, dtype=x.dtype)
    if x.size:
        launch(_cross_entropy_thread, x.shape[0], x, target, weight, ignore_index,
               label_smoothing, loss, probs)
    return (loss, probs)


def cross_entropy_backward(probs, target, weight, row_scale, ignore_index, label_smoothing):
    """``row_scale·((1 - eps)·w[t]·(p - onehot(t)) + eps/C·(W·p - w))``, 0 in ignored rows;
    shape (R, C)."""
    grad_x = xp_of(probs).empty(probs.shape, dtype=probs.dtype)
    if probs.size:
        launch(_cross_entropy_backward_thread, probs.shape[0], probs, target, weight,
               row_scale, ignore_index, label_smoothing, grad_x)
    return grad_x


@cuda.jit
def _softmax_thread(x, out, log):
    R, C = x.shape
    r = cuda.grid(1)
    if r >= R:
        return
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


@cuda.jit
def _cross_entropy_thread(x, target, weight, ignore_index, label_smoothing, loss, probs):
    R, C = x.shape
    r = cuda.grid(1)
    if r >= R:
        return
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
        return
    value = (1.0 - label_smoothing) * weight[t] * (lse - float(x[r, t]))
    if label_smoothing != 0.0:
        smooth = 0.0
        for c in range(C):
            smooth += weight[c] * (lse - float(x[r, c]))
        value += label_smoothing / C * smooth
    loss[r] = value


@cuda.jit
def _cross_entropy_backward_thread(probs, target, weight, row_scale, ignore_index,
                                   label_smoothing, grad_x):
    R, C = probs.shape
    r = cuda.grid(1)
    if r >= R:
        return
    W = 0.0
    for c in range(C):
        W += weight[c]
    t = target[r]
    if t == ignore_index:
        for c in range(C):
            grad_x[r, c] = 0.0
        return
    hard = (1.0 - label_smoothing) * weight[t]
    soft = label_smoothing / C
    for c in range(C):
        p = probs[r, c]
        grad_x[r, c] = row_scale[r] * (hard * p + soft * (W * p - weight[c]))
    grad_x[r, t] -= row_scale[r] * hard
