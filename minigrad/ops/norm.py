"""Batch norm and layer norm as fused primitives, on the kernels of ``kernels/*/norm.py``.

Written as composites (``minigrad/norms.py``), a normalisation is about ten ops and as many
passes over the data, forward and backward. Promoted to primitives for speed (STYLE C9), each
is one kernel pass forward and one backward. The family is closed under differentiation in the
way of Chainer's ``*Grad`` nodes: the backward of each op is a second Function whose forward is
the fused backward kernel, and whose own backward is written in minigrad ops, so gradients of
every order exist (a gradient penalty through a normalised critic needs the second)::

    BatchNormTrain(x, w, b).backward(g)      -> BatchNormBackward(g, x, w): (grad_x, grad_w, grad_b)
    LayerNorm(x, w, b).backward(g)           -> LayerNormBackward(g, x, w): (grad_x, grad_w, grad_b)
    *Backward.backward(gg_x, gg_w, gg_b)     -> normalization_double_backward(...), in ops

The forward's statistics (mean, invstd) are kept on ``ctx`` as raw arrays although the backward
kernel multiplies by them: they are a cache of what ``x`` determines, and the ``*Backward``
nodes differentiate through them by recomputing them from ``x`` in ops (STYLE C2's rule is about
what second derivatives flow through, and they flow through ``x``).

Notation
--------
N, C          batch size and channels; batch norm normalises each channel over N and the rest
R, D          layer norm's rows and the D = prod(normalized_shape) values of each
M             values per group (one mean each): N * H * W for batch norm, D for layer norm
mean, invstd  per group: the mean and 1 / sqrt(var + eps), var the biased variance
xhat          (x − mean) · invstd, the normalised input
g             the gradient of the output;  gg_*  the gradients of the gradients (second order)
"""
import math

from ..autograd import Function
from ..backend import kernels_for, xp_of
from .elementwise import sqrt
from .shape import reshape


def _ones_or(param, x, shape):
    """``param``, or ones of ``shape`` in x's dtype for no scale (zeros: see ``_zeros_or``)."""
    return xp_of(x).ones(shape, dtype=x.dtype) if param is None else param


def _zeros_or(param, x, shape):
    return xp_of(x).zeros(shape, dtype=x.dtype) if param is None else param


def _invstd(var, eps):
    return 1.0 / xp_of(var).sqrt(var + eps)


class BatchNormTrain(Function):
    """y = (x − mean) · invstd · w + b, with the batch's per-channel statistics;
    dL/d(x, w, b) = BatchNormBackward(g, x, w).

    When ``running_mean`` and ``running_var`` (raw (C,) arrays) are given, forward also updates
    them in place: ``running ← (1 − momentum) · running + momentum · batch statistic``, with the
    unbiased variance ``var · M / (M − 1)``, as PyTorch does.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, *, eps, running_mean=None, running_var=None,
                momentum=0.1):
        C = x.shape[1]
        y, mean, var = kernels_for(x).batch_norm_forward(x, _ones_or(weight, x, C),
                                                         _zeros_or(bias, x, C), eps)
        if running_mean is not None:
            M = x.size // C
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * (M / max(M - 1, 1))
        ctx.save_for_backward(x, weight)
        ctx.mean, ctx.invstd, ctx.eps = mean, _invstd(var, eps), eps
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        grad_x, grad_weight, grad_bias = BatchNormBackward.apply(
            grad_output, x, weight, mean=ctx.mean, invstd=ctx.invstd, eps=ctx.eps)
        return (grad_x, None if weight is None else grad_weight,
                grad_bias if ctx.has_bias else None)


class BatchNormBackward(Function):
    """(grad_x, grad_w, grad_b) = invstd · w · (g − mean(g) − xhat · mean(g · xhat)), Σ g · xhat,
    Σ g (per channel);  its backward: normalization_double_backward, in ops."""

    @staticmethod
    def forward(ctx, grad_output, x, weight, *, mean, invstd, eps):
        g = grad_output.astype(x.dtype, copy=False)
        ctx.save_for_backward(grad_output, x, weight)
        ctx.eps = eps
        return kernels_for(x).batch_norm_backward(g, x, _ones_or(weight, x, x.shape[1]), mean,
                                                  invstd)

    @staticmethod
    def backward(ctx, grad_grad_x, grad_grad_weight, grad_grad_bias):
        g, x, weight = ctx.saved_tensors
        axes = (0,) + tuple(range(2, x.ndim))
        view = (1, -1) + (1,) * (x.ndim - 2)
        return normalization_double_backward(
            g, x, weight, grad_grad_x, grad_grad_weight, grad_grad_bias, axes, ctx.eps,
            to_view=lambda p: reshape(p, view), to_param=lambda t: t.sum(axes))


class LayerNorm(Function):
    """y = (x − mean) · invstd · w + b over the last ``k`` axes (w, b elementwise there);
    dL/d(x, w, b) = LayerNormBackward(g, x, w)."""

    @staticmethod
    def forward(ctx, x, weight, bias, *, k, eps):
        shape = x.shape[x.ndim - k:]
        D = math.prod(shape)
        y, mean, var = kernels_for(x).layer_norm_forward(x, _ones_or(weight, x, shape),
                                                         _zeros_or(bias, x, shape), D, eps)
        ctx.save_for_backward(x, weight)
        ctx.mean, ctx.invstd, ctx.k, ctx.eps = mean, _invstd(var, eps), k, eps
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        grad_x, grad_weight, grad_bias = LayerNormBackward.apply(
            grad_output, x, weight, mean=ctx.mean, invstd=ctx.invstd, k=ctx.k, eps=ctx.eps)
        return (grad_x, None if weight is None else grad_weight,
                grad_bias if ctx.has_bias else None)


class LayerNormBackward(Function):
    """(grad_x, grad_w, grad_b) per row as in BatchNormBackward, w elementwise, and grad_w,
    grad_b summed over the rows;  its backward: normalization_double_backward, in ops."""

    @staticmethod
    def forward(ctx, grad_output, x, weight, *, mean, invstd, k, eps):
        g = grad_output.astype(x.dtype, copy=False)
        shape = x.shape[x.ndim - k:]
        ctx.save_for_backward(grad_output, x, weight)
        ctx.k, ctx.eps = k, eps
        return kernels_for(x).layer_norm_backward(g, x, _ones_or(weight, x, shape), mean,
                                                  invstd, math.prod(shape))

    @staticmethod
    def backward(ctx, grad_grad_x, grad_grad_weight, grad_grad_bias):
        g, x, weight = ctx.saved_tensors
        axes = tuple(range(x.ndim - ctx.k, x.ndim))
        rows = tuple(range(x.ndim - ctx.k))
        return normalization_double_backward(
            g, x, weight, grad_grad_x, grad_grad_weight, grad_grad_bias, axes, ctx.eps,
            to_view=lambda p: p, to_param=lambda t: t.sum(rows) if rows else t)


def normalization_double_backward(g, x, weight, gg_x, gg_w, gg_b, axes, eps, to_view, to_param):
    """The gradients of (grad_x, grad_w, grad_b) = VJP of a normalisation, in minigrad ops.

    With P(v) = invstd · (v − mean(v) − xhat · mean(v · xhat)), the Jacobian of xhat (a
    symmetric map, so it is its own transpose), the first-order gradients are grad_x = P(g·w),
    grad_w = Σ g·xhat, grad_b = Σ g. Differentiating ⟨gg_x, P(g·w)⟩ + ⟨gg_w, Σ g·xhat⟩ +
    ⟨gg_b, Σ g⟩ gives, per group of M values, with u = g·w, a = Σ u·xhat, b = Σ gg_x·xhat and
    Q = ⟨u, P(gg_x)⟩::

        d/dg  = w · P(gg_x) + gg_w · xhat + gg_b
        d/dw  = Σ g · P(gg_x)
        d/dx  = P(g · gg_w) − (invstd / M) · (Q · xhat + b · P(u) + a · P(gg_x))

    The last line: d invstd/dx = −invstd² · xhat / M and dxhat/dx = P, applied to
    Q = invstd · (Σ (u − mean u) · gg_x − a · b / M).

    Parameters
    ----------
    g, x : Tensor, one shape;  weight : Tensor or None
    gg_x : Tensor, x's shape;  gg_w, gg_b : Tensor, weight's shape (or that of the scale)
    axes : tuple of int, the axes of a group;  eps : float
    to_view : callable, a parameter-shaped Tensor to one that broadcasts against x
    to_param : callable, an x-shaped Tensor summed over the groups' axes to a parameter's shape
    """
    M = math.prod(x.shape[a] for a in axes)
    mean = x.mean(axes, keepdims=True)
    centred = x - mean
    invstd = 1.0 / sqrt((centred * centred).mean(axes, keepdims=True) + eps)
    xhat = centred * invstd

    def P(v):
        return invstd * (v - v.mean(axes, keepdims=True)
                         - xhat * (v * xhat).mean(axes, keepdims=True))

    u = g if weight is None else g * to_view(weight)
    P_gg_x = P(gg_x)
    grad_g = P_gg_x if weight is None else P_gg_x * to_view(weight)
    grad_g = grad_g + to_view(gg_w) * xhat + to_view(gg_b)
    a = (u * xhat).sum(axes, keepdims=True)
    b = (gg_x * xhat).sum(axes, keepdims=True)
    Q = invstd * (((u - u.mean(axes, keepdims=True)) * gg_x).sum(axes, keepdims=True) - a * b / M)
    grad_x = P(g * to_view(gg_w)) - (invstd / M) * (Q * xhat + b * P(u) + a * P_gg_x)
    grad_weight = None if weight is None else to_param(g * P_gg_x)
    return (grad_g, grad_x, grad_weight)
