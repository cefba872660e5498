"""``minigrad.functional`` (imported as ``F``): activations, losses, normalisation, attention.

Everything here is a short composite of the primitives in ``minigrad.ops`` (STYLE C9), so its
gradient, and its gradient's gradient, come from theirs. Images are NCHW; sequences are
(T, N, E) unless ``batch_first``.

Notation
--------
N batch, C channels or classes, H W height and width, E embedding size, T sequence length
"""
import math

import numpy as np

from .backend import xp_of
from .tensor import Tensor, raw
from .ops import elementwise as E
from .ops import reduce as R
from .ops import shape as S
from .ops.index import getitem, gather, scatter_add, scatter_mean, scatter_max  # noqa: F401
from .ops.linalg import matmul
from .ops.loss import binary_cross_entropy as _bce
from .ops.conv import conv2d, conv_transpose2d  # noqa: F401  (re-exported as F.conv2d, ...)
from .ops.pool import (max_pool2d, max_unpool2d, avg_pool2d, adaptive_avg_pool2d,  # noqa: F401
                       interpolate)

sigmoid = E.sigmoid
tanh = E.tanh
relu = E.relu
softplus = E.softplus


def leaky_relu(x, negative_slope=0.01):
    """x for x > 0, ``negative_slope * x`` otherwise."""
    return E.where(x.data > 0, x, x * negative_slope)


def elu(x, alpha=1.0):
    """x for x > 0, ``alpha * (exp(x) - 1)`` otherwise (exp only sees x <= 0: no overflow)."""
    return E.where(x.data > 0, x, (E.exp(E.clip(x, high=0.0)) - 1) * alpha)


_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


def selu(x):
    """``scale * elu(x, alpha)`` with the self-normalising constants of Klambauer et al."""
    return elu(x, _SELU_ALPHA) * _SELU_SCALE


def gelu(x, approximate="none"):
    """x·Φ(x), with Φ the standard normal CDF; ``approximate='tanh'`` uses the tanh formula."""
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)
        return x * (E.tanh(inner) + 1) * 0.5
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * (E.erf(x * (1 / math.sqrt(2))) + 1) * 0.5


def silu(x):
    """x·sigmoid(x) (also called swish)."""
    return x * E.sigmoid(x)


def softmax(x, axis=-1):
    """exp(x) / Σ exp(x) along ``axis``, shifted by the (constant) max so exp never overflows."""
    shifted = x - xp_of(x.data).max(x.data, axis=axis, keepdims=True)
    e = E.exp(shifted)
    return e / e.sum(axis, keepdims=True)


def log_softmax(x, axis=-1):
    """x − logsumexp(x): finite for any finite logits, unlike log(softmax(x))."""
    return x - R.logsumexp(x, axis, keepdims=True)


def linear(x, weight, bias=None):
    """x @ weightᵀ + bias.

    Parameters
    ----------
    x : Tensor, shape (..., in_features)
    weight : Tensor, shape (out_features, in_features)
    bias : Tensor, shape (out_features,), optional
    """
    if x.shape[-1:] != weight.shape[-1:]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape "
                         f"{weight.shape} (expected last axis {weight.shape[-1]})")
    out = matmul(x, S.transpose(weight))
    return out + bias if bias is not None else out


def dropout(x, p=0.5, training=True):
    """Zero each entry with probability p and scale the rest by 1/(1−p) (inverted dropout)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    xp = xp_of(x.data)
    keep = (xp.random.random_sample(x.shape) >= p).astype(x.dtype) / (1 - p)
    return x * keep


def _reduce(loss, reduction, op):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_same_shape(a, b, op):
    if a.shape != b.shape:
        raise ValueError(f"{op}: input shape {a.shape} and target shape {b.shape} differ; "
                         "they must be equal (no implicit broadcasting in losses)")


def _as_target(target, like):
    return target if isinstance(target, Tensor) else Tensor(target, dtype=like.dtype,
                                                            device=like.device)


def nll_loss(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of integer class targets.

    Parameters
    ----------
    log_probs : Tensor, shape (N, C) or (N, C, d1, ...)
    target : Tensor of int, shape (N,) or (N, d1, ...), values in [0, C) or ``ignore_index``
    weight : Tensor, shape (C,), optional
        Per-class weights; the mean divides by the sum of the targets' weights.
    """
    target = target.data if isinstance(target, Tensor) else np.asarray(target)
    if log_probs.ndim < 2 or target.shape != log_probs.shape[:1] + log_probs.shape[2:]:
        raise ValueError(f"nll_loss: input of shape {log_probs.shape} needs a target of shape "
                         f"{log_probs.shape[:1] + log_probs.shape[2:]}, got {target.shape}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold integer class indices, got {target.dtype}")
    C = log_probs.shape[1]
    xp = xp_of(log_probs.data)
    valid = target != ignore_index
    bad = valid & ((target < 0) | (target >= C))
    if bool(bad.any()):
        raise IndexError(f"nll_loss: target values must be in [0, {C}) (or ignore_index="
                         f"{ignore_index}), got {int(target[bad].reshape(-1)[0])}")
    # classes last, everything else flattened: picked[m] = log_probs[m, target[m]]
    moved = S.permute(log_probs, (0,) + tuple(range(2, log_probs.ndim)) + (1,))
    flat = S.reshape(moved, (-1, C))
    safe = xp.where(valid, target, 0).reshape(-1)
    picked = getitem(flat, (xp.arange(safe.size), safe))
    w = valid.reshape(-1).astype(log_probs.dtype)
    if weight is not None:
        w = w * raw(weight)[safe]
    loss = -picked * w
    if reduction == "mean":  # PyTorch's weighted mean: divide by the targets' total weight
        return loss.sum() / max(float(w.sum()), 1e-12)
    if reduction == "none":
        return S.reshape(loss, target.shape)
    return _reduce(loss, reduction, "nll_loss")


def cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Softmax cross-entropy, computed from log_softmax for stability.

    Parameters
    ----------
    logits : Tensor, shape (N, C) or (N, C, d1, ...)
    target : Tensor, integer classes of shape (N, d1, ...), or probabilities shaped like logits
    label_smoothing : float
        Mixes the one-hot target with the uniform distribution, as in PyTorch.
    """
    log_probs = log_softmax(logits, axis=1)
    target_data = raw(target)
    if hasattr(target_data, "dtype") and target_data.dtype.kind == "f":
        _check_same_shape(logits, target, "cross_entropy")
        return _reduce(-(log_probs * target).sum(1), reduction, "cross_entropy")
    loss = nll_loss(log_probs, target, weight, ignore_index, reduction)
    if label_smoothing:
        smooth = _reduce(-log_probs.mean(1), reduction, "cross_entropy")
        loss = loss * (1 - label_smoothing) + smooth * label_smoothing
    return loss


def mse_loss(input, target, reduction="mean"):
    """Mean squared error, (input − target)²."""
    target = _as_target(target, input)
    _check_same_shape(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error, |input − target|."""
    target = _as_target(target, input)
    _check_same_shape(input, target, "l1_loss")
    return _reduce(E.abs(input - target), reduction, "l1_loss")


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """−(t log p + (1−t) log(1−p)) for probabilities p, with log clamped at −100 (PyTorch's)."""
    target = _as_target(target, input)
    _check_same_shape(input, target, "binary_cross_entropy")
    lo, hi = float(input.data.min(initial=0.5)), float(input.data.max(initial=0.5))
    if lo < 0 or hi > 1:
        raise ValueError(f"binary_cross_entropy: input must be probabilities in [0, 1], got "
                         f"values in [{lo}, {hi}]; use binary_cross_entropy_with_logits for "
                         "logits")
    loss = _bce(input, target)
    return _reduce(loss * weight if weight is not None else loss, reduction,
                   "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """Sigmoid + binary cross-entropy in one stable formula:
    (1 − t)·x + (1 + (w_pos − 1)·t)·softplus(−x), finite for any logit x."""
    target = _as_target(target, input)
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    scale = 1 if pos_weight is None else (pos_weight - 1) * target + 1
    loss = (1 - target) * input + E.softplus(-input) * scale
    return _reduce(loss * weight if weight is not None else loss, reduction,
                   "binary_cross_entropy_with_logits")


def kl_div(input, target, reduction="mean", log_target=False):
    """KL(target ‖ exp(input)) pointwise: t·(log t − input), with 0·log 0 = 0.
    ``input`` holds log-probabilities; use ``reduction='batchmean'`` for the true KL."""
    target = _as_target(target, input)
    if log_target:
        loss = E.exp(target) * (target - input)
    else:
        positive = target.data > 0
        safe_log = E.log(E.where(positive, target, 1.0))
        loss = E.where(positive, target * (safe_log - input), 0.0)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0]
    return _reduce(loss, reduction, "kl_div")


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """The multiclass SVM hinge: Σ_{j≠y} max(0, margin − x_y + x_j)^p / C per sample.

    Parameters
    ----------
    input : Tensor, shape (N, C)
    target : Tensor of int, shape (N,)
    """
    target = target.data if isinstance(target, Tensor) else np.asarray(target)
    N, C = input.shape
    xp = xp_of(input.data)
    correct = getitem(input, (xp.arange(N), target))
    hinge = E.relu(input - S.unsqueeze(correct, 1) + margin)
    if p == 2:
        hinge = hinge * hinge
    others = (xp.arange(C)[None, :] != target[:, None]).astype(input.dtype)
    if weight is not None:
        others = others * raw(weight)[target][:, None]
    return _reduce((hinge * others).sum(1) / C, reduction, "multi_margin_loss")


def cosine_similarity(x1, x2, axis=1, eps=1e-8):
    """⟨x1, x2⟩ / (max(‖x1‖, eps) · max(‖x2‖, eps)) along ``axis``."""
    n1 = E.clip(E.sqrt((x1 * x1).sum(axis)), eps)
    n2 = E.clip(E.sqrt((x2 * x2).sum(axis)), eps)
    return (x1 * x2).sum(axis) / (n1 * n2)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """‖x1 − x2 + eps‖_p over the last axis (eps keeps the gradient finite at x1 = x2)."""
    diff = E.abs(x1 - x2 + eps)
    if p == 2:
        return E.sqrt((diff * diff).sum(-1, keepdims=keepdim))
    return (diff ** p).sum(-1, keepdims=keepdim) ** (1.0 / p)


def contrastive_loss(a, b, same, margin=1.0, reduction="mean"):
    """Hadsell, Chopra & LeCun (2006): same·d² + (1 − same)·max(0, margin − d)², d = ‖a − b‖."""
    same = _as_target(same, a)
    d = pairwise_distance(a, b)
    apart = E.relu(margin - d)
    return _reduce(same * d * d + (1 - same) * apart * apart, reduction, "contrastive_loss")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6,
                        reduction="mean"):
    """max(0, d(a, p) − d(a, n) + margin), the distances as in :func:`pairwise_distance`."""
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    return _reduce(E.relu(d_pos - d_neg + margin), reduction, "triplet_margin_loss")


def _normalize(x, axes, eps):
    mean = x.mean(axes, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axes, keepdims=True)
    return centred / E.sqrt(var + eps)


def _channel_view(t, ndim):
    """A per-channel (C,) tensor shaped (1, C, 1, ...) to broadcast over (N, C, ...)."""
    return S.reshape(t, (1, -1) + (1,) * (ndim - 2))


def _affine(out, weight, bias):
    if weight is not None:
        out = out * _channel_view(weight, out.ndim)
    if bias is not None:
        out = out + _channel_view(bias, out.ndim)
    return out


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel over the batch (and spatial axes), then scale and shift.

    Parameters
    ----------
    x : Tensor, shape (N, C) or (N, C, ...)
    running_mean, running_var : Tensor, shape (C,), or None
        Updated in place in training mode (with the unbiased variance, as PyTorch does); used
        instead of the batch statistics in eval mode.
    """
    axes = (0,) + tuple(range(2, x.ndim))
    if training or running_mean is None:
        count = x.data.size // x.shape[1]
        if training and count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel in training, "
                             f"got input of shape {x.shape}")
        mean = x.mean(axes, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axes, keepdims=True)
        if training and running_mean is not None:
            batch_mean = mean.data.reshape(-1)
            batch_var = var.data.reshape(-1) * (count / max(count - 1, 1))
            running_mean.data *= 1 - momentum
            running_mean.data += momentum * batch_mean
            running_var.data *= 1 - momentum
            running_var.data += momentum * batch_var
        out = centred / E.sqrt(var + eps)
    else:
        mean = _channel_view(running_mean, x.ndim).detach()
        std = (running_var.data + eps) ** 0.5
        out = (x - mean) / _channel_view(Tensor._wrap(std), x.ndim)
    return _affine(out, weight, bias)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` axes, then scale and shift elementwise."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) \
        else tuple(normalized_shape)
    k = len(normalized_shape)
    if x.shape[x.ndim - k:] != normalized_shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end with "
                         f"normalized_shape {normalized_shape}")
    out = _normalize(x, tuple(range(x.ndim - k, x.ndim)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of C/num_groups channels over its channels and spatial axes."""
    N, C = x.shape[:2]
    if C % num_groups:
        raise ValueError(f"group_norm: {C} channels (input shape {x.shape}) cannot be split "
                         f"into {num_groups} groups")
    grouped = S.reshape(x, (N, num_groups, -1))
    out = S.reshape(_normalize(grouped, (2,), eps), x.shape)
    return _affine(out, weight, bias)


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) plane over its spatial axes."""
    if not use_input_stats and running_mean is not None:
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    out = _normalize(x, tuple(range(2, x.ndim)), eps)
    return _affine(out, weight, bias)


def embedding(indices, weight):
    """Rows of ``weight`` (num_embeddings, E) picked by integer ``indices`` of any shape."""
    idx = raw(indices)
    idx = xp_of(weight.data).asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= weight.shape[0]):
        raise IndexError(f"embedding: indices must be in [0, {weight.shape[0]}), got values "
                         f"in [{int(idx.min())}, {int(idx.max())}]")
    return getitem(weight, idx)


def one_hot(indices, num_classes=-1):
    """Integer ``indices`` of shape S as an int64 tensor of shape S + (num_classes,)."""
    idx = raw(indices)
    xp = xp_of(idx)
    idx = xp.asarray(idx)
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
        raise IndexError(f"one_hot: indices must be in [0, {num_classes})")
    return Tensor._wrap(xp.eye(num_classes, dtype=np.int64)[idx])


def scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, training=True, return_weights=False):
    """softmax(q kᵀ / √d + mask) v.

    Parameters
    ----------
    q : Tensor, shape (..., L, d)
    k : Tensor, shape (..., S, d)
    v : Tensor, shape (..., S, d_v)
    attn_mask : bool array (True = may attend, PyTorch's convention) or float additive mask,
        broadcastable to (..., L, S)
    is_causal : bool
        Position i attends to positions j <= i only.
    return_weights : bool
        Also return the attention weights, shape (..., L, S), e.g. to plot them.
    """
    d = q.shape[-1]
    scores = matmul(q, S.transpose(k, -1, -2)) * (scale if scale is not None else 1 / math.sqrt(d))
    xp = xp_of(q.data)
    L, S_len = scores.shape[-2:]
    # a large finite negative rather than -inf: a fully masked row becomes uniform, not NaN
    very_negative = float(np.finfo(scores.dtype).min) / 2
    if is_causal:
        scores = E.where(xp.tril(xp.ones((L, S_len), dtype=bool)), scores, very_negative)
    if attn_mask is not None:
        mask = raw(attn_mask)
        if mask.dtype == bool:
            scores = E.where(mask, scores, very_negative)
        else:
            scores = scores + attn_mask
    weights = softmax(scores, axis=-1)
    weights = dropout(weights, dropout_p, training) if dropout_p else weights
    out = matmul(weights, v)
    return (out, weights) if return_weights else out
