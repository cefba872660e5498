"""Softmax, log-softmax and softmax cross-entropy as single Functions (STYLE C9: for speed).

As composites, ``softmax`` is five ops and ``cross_entropy`` about fifteen, each a pass over
the logits and a graph node. Here each is one node, and along the last axis (the common case:
classes last) one fused kernel pass per row (``kernels/cpu/softmax.py``, with a GPU twin).
Other axes, and dtypes the kernels do not take (float16, integers), use the same formula on
the array module. Every row is shifted by its max first, so exp never overflows.

The family is closed under differentiation:

    ====================================  =======================================================
    forward                               backward (vector-Jacobian product)
    ====================================  =======================================================
    Softmax: y = softmax(scale·x)         scale·y·(g − Σ g·y)            arrays, or ops
    LogSoftmax: y = x − lse(x)            g − exp(y)·Σ g                 ops
    CrossEntropy: per-row loss, reduced   CrossEntropyBackward(x, g)     kernel, one pass
    CrossEntropyBackward: s·(a·p − b)     softmax(x) and ops             closed
    ====================================  =======================================================

Notation
--------
R, C     rows (distributions) and classes of the 2-D logits of the cross-entropy
x        logits;  y  the output;  g  ``grad_output``
lse      log Σ exp(x) per row;  p  softmax(x) = exp(x − lse), kept by the cross-entropy
t        a row's target class;  w  class weights (C,);  W  their sum;  eps  label smoothing
a, b     the cross-entropy's gradient per row is a·p − b, with
         a = (1 − eps)·w[t] + eps/C·W  and  b = (1 − eps)·w[t]·onehot(t) + eps/C·w
s        the reduction's scale of g per row: g / Σ w[t] for ``'mean'``, g for ``'sum'``/``'none'``
"""
import math

import numpy as np

from ..autograd import Function
from ..backend import kernels_for, xp_of
from ..grad_mode import is_grad_enabled
from ..tensor import Tensor
from .elementwise import exp
from .shape import normalize_axis, reshape

FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _softmax_array(x, dim, log):
    """softmax (or log-softmax) of the array ``x`` along ``dim``: the fused kernel when ``dim``
    is the last axis and the dtype is float32/float64, otherwise the same steps with xp."""
    if dim == x.ndim - 1 and x.dtype in FUSED_DTYPES:
        kernels = kernels_for(x)
        flat = x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
        out = kernels.log_softmax(flat) if log else kernels.softmax(flat)
        return out.reshape(x.shape)
    xp = xp_of(x)
    if x.shape[dim] == 0:  # no entries to normalise (max of nothing is undefined)
        return xp.empty(x.shape, dtype=xp.result_type(x.dtype, xp.float16))
    shifted = x - x.max(dim, keepdims=True)
    if log:
        return shifted - xp.log(xp.exp(shifted).sum(dim, keepdims=True))
    e = xp.exp(shifted)
    e /= e.sum(dim, keepdims=True)
    return e


class Softmax(Function):
    """y = softmax(scale·x) along ``dim``;  dL/dx = scale·y·(g − Σ g·y).

    ``scale`` (1 by default) serves attention, whose scores are scaled just before their
    softmax: applied here, on the copy the softmax reads anyway, it costs no op of its own.

    Backward needs one sum and no exp. Without ``create_graph`` it runs on the arrays: Σ g·y as
    a batched dot product along ``dim`` (``einsum``, no temporary), then one array for the
    result, scaled in place. With ``create_graph`` the same formula is written in ops, so the
    second derivative comes from it.
    """

    @staticmethod
    def forward(ctx, x, dim, scale=1.0):
        out = _softmax_array(x * scale if scale != 1 else x, dim, log=False)
        ctx.save_for_backward(out)
        ctx.dim, ctx.scale = dim, scale
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        dim, scale = ctx.dim, ctx.scale
        if not is_grad_enabled():
            g, y = grad_output.data, out.data
            xp = xp_of(g)
            g_dot_y = xp.expand_dims(xp.einsum("...i,...i->...", xp.moveaxis(g, dim, -1),
                                               xp.moveaxis(y, dim, -1)), dim)
            grad = g - g_dot_y
            grad *= y
            if scale != 1:
                grad *= scale
            return Tensor._wrap(grad)
        weighted = grad_output * out
        grad = weighted - out * weighted.sum(dim, keepdims=True)
        return grad * scale if scale != 1 else grad


class LogSoftmax(Function):
    """y = x − log Σ exp(x) along ``dim``;  dL/dx = g − softmax(x)·Σ g, with softmax = exp(y)."""

    @staticmethod
    def forward(ctx, x, dim):
        out = _softmax_array(x, dim, log=True)
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output - exp(out) * grad_output.sum(ctx.dim, keepdims=True)


def softmax(x, dim=-1):
    """exp(x) / Σ exp(x) along ``dim``, one node; see ``F.softmax``."""
    if x.ndim == 0:  # one entry: treat it as a row of one
        normalize_axis(dim, 1, "softmax")  # 0 and -1 name its one entry, as in PyTorch
        return reshape(Softmax.apply(reshape(x, (1,)), dim=0), ())
    return Softmax.apply(x, dim=normalize_axis(dim, x.ndim, "softmax"))


def log_softmax(x, dim=-1):
    """x − log Σ exp(x) along ``dim``, one node; see ``F.log_softmax``."""
    if x.ndim == 0:
        normalize_axis(dim, 1, "log_softmax")
        return reshape(LogSoftmax.apply(reshape(x, (1,)), dim=0), ())
    return LogSoftmax.apply(x, dim=normalize_axis(dim, x.ndim, "log_softmax"))


class CrossEntropy(Function):
    """loss_r = (1 − eps)·w[t]·(lse − x[t]) + eps/C·Σ_c w[c]·(lse − x[c]), reduced over rows;
    dL/dx = s·(a·p − b) (Notation), computed by ``CrossEntropyBackward``.

    One kernel pass over the logits gives every row's loss and its probabilities p, which
    are kept, as PyTorch keeps its log-softmax: the backward is then one pass without exp.
    Rows whose target is ``ignore_index`` give 0 and no gradient.
    """

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, label_smoothing, reduction, denominator):
        loss, probs = kernels_for(x).cross_entropy(x, target, weight, ignore_index,
                                                   label_smoothing)
        # p is saved (so it is freed with the node's other saved arrays once backward ran) but
        # only handed to a kernel: a second derivative gets p from softmax(x), in ops
        ctx.save_for_backward(x, probs)
        # kept raw: compared with or handed to a kernel, never differentiated (the weights
        # are constants, as in PyTorch)
        ctx.rows = (target, weight, ignore_index, label_smoothing)
        ctx.scale = 1.0 / denominator if reduction == "mean" else 1.0
        if reduction == "none":
            return loss
        return xp_of(x).asarray(loss.sum() * ctx.scale, dtype=loss.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (x, probs) = ctx.saved_tensors
        return CrossEntropyBackward.apply(x, grad_output, probs=probs.data, rows=ctx.rows,
                                          scale=ctx.scale)


class CrossEntropyBackward(Function):
    """grad_x = s·(a·p − b), one kernel pass (Notation);  its own vector-Jacobian product, for an
    upstream G of shape (R, C): dL/dx = p·(H − Σ H·p) with H = G·s·a (softmax's), and
    dL/dg = the reduction's scale · Σ_c G·(a·p − b), summed over rows when g is a scalar."""

    @staticmethod
    def forward(ctx, x, grad_output, probs, rows, scale):
        target, weight, ignore_index, label_smoothing = rows
        row_scale = xp_of(x).empty(x.shape[0], dtype=x.dtype)
        row_scale[...] = grad_output * scale  # a scalar g (mean, sum) or one per row (none)
        ctx.save_for_backward(x, grad_output)
        ctx.rows, ctx.scale = rows, scale
        return kernels_for(x).cross_entropy_backward(probs, target, weight, row_scale,
                                                     ignore_index, label_smoothing)

    @staticmethod
    def backward(ctx, grad_grad_x):
        x, grad_output = ctx.saved_tensors
        a, b = _gradient_terms(x.data, ctx.rows)
        p = Softmax.apply(x, dim=1)
        s = grad_output * ctx.scale
        h = grad_grad_x * (s * a if s.ndim == 0 else reshape(s, (-1, 1)) * a)
        grad_x = p * (h - (h * p).sum(1, keepdims=True))
        per_row = (grad_grad_x * (p * a - b)).sum(1) * ctx.scale
        return (grad_x, per_row.sum() if grad_output.ndim == 0 else per_row)


def _gradient_terms(x, rows):
    """The constants a (R, 1) and b (R, C) of the gradient s·(a·p − b); 0 in ignored rows."""
    target, weight, ignore_index, label_smoothing = rows
    xp = xp_of(x)
    R, C = x.shape
    valid = target != ignore_index
    safe = xp.where(valid, target, 0)
    hard = (1.0 - label_smoothing) * weight[safe] * valid
    a = (hard + label_smoothing / C * weight.sum() * valid)[:, None]
    b = xp.zeros((R, C), dtype=x.dtype)
    b[xp.arange(R), safe] = hard
    b += (label_smoothing / C) * weight[None, :] * valid[:, None]
    return (a.astype(x.dtype), b)
