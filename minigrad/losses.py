"""Loss functions, re-exported by ``minigrad.functional`` (``F.cross_entropy``): regression,
classification and likelihood losses here, the margin and embedding losses and the distances in
margin_losses.py (re-exported here too), and PyTorch's soft-margin, multilabel and Poisson losses
in losses_more.py; ``F.X`` names every one.

Each is a short composite of the primitives in ``minigrad.ops`` (STYLE C9), except binary
cross-entropy on probabilities, whose clamped logs need a backward of their own
(``ops/loss.py``), and cross-entropy with class targets, one fused node for speed
(``ops/softmax.py``). Every loss takes ``reduction='mean' | 'sum' | 'none'``; the arithmetic, the
defaults and the weighting follow PyTorch's.

Notation
--------
N batch, C classes, d1 ... extra axes of a dense prediction (e.g. H, W)
"""
import numpy as np

from .backend import xp_of
from .loss_args import as_target, check_same_shape, class_targets, class_weights, reduce_loss
from .tensor import Tensor, raw
from .ops.elementwise import abs, exp, log, softplus, where
from .ops.index import getitem
from .ops.loss import binary_cross_entropy as _bce
from .ops.softmax import CrossEntropy, FUSED_DTYPES, log_softmax
from .ops.shape import permute, reshape, unsqueeze
from .margin_losses import (multi_margin_loss, cosine_similarity, pairwise_distance,  # noqa: F401
                            contrastive_loss, triplet_margin_loss, margin_ranking_loss,
                            hinge_embedding_loss, cosine_embedding_loss)


def _classes_last(x):
    """(N, C, d1, ...) as (N * d1 * ..., C), so that row m is one prediction."""
    moved = permute(x, (0,) + tuple(range(2, x.ndim)) + (1,))
    return reshape(moved, (-1, x.shape[1]))


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of integer class targets: -w[t]·input[t] per prediction.

    Parameters
    ----------
    input : Tensor, shape (N, C) or (N, C, d1, ...)
        Log-probabilities.
    target : int array or Tensor, shape (N,) or (N, d1, ...), values in [0, C) or ``ignore_index``
    weight : Tensor, shape (C,), optional
        Per-class weights; ``'mean'`` divides by the sum of the targets' weights (PyTorch's
        weighted mean), so ignored entries count neither above nor below the line.

    Returns
    -------
    Tensor, shape () or, with ``reduction='none'``, shape (N, d1, ...)

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> logp = mg.tensor([[-1.0, -2.0], [-3.0, -4.0]])
    >>> F.nll_loss(logp, mg.tensor([0, 1]), reduction='none').tolist()
    [1.0, 4.0]
    >>> F.nll_loss(logp, mg.tensor([0, -100])).item()  # the ignored row is left out
    1.0
    """
    target, valid = class_targets("nll_loss", input, target, ignore_index)
    xp = xp_of(input.data)
    safe = xp.where(valid, target, 0).reshape(-1)
    picked = getitem(_classes_last(input), (xp.arange(safe.size), safe))
    w = valid.reshape(-1).astype(input.dtype)
    if weight is not None:
        w = w * class_weights("nll_loss", input, weight)[safe]
    loss = -picked * w
    if reduction == "mean":
        return _weighted_mean(loss.sum(), float(w.sum()))
    if reduction == "none":
        return reshape(loss, target.shape)
    return reduce_loss(loss, reduction, "nll_loss")


def _weighted_mean(total_loss, total_weight):
    """The weighted mean of a loss: its sum over the sum of the weights, or, when every entry
    is ignored (the weights sum to 0), the sum itself, 0, where PyTorch divides 0 by 0 and
    returns nan."""
    return total_loss / total_weight if total_weight > 0 else total_loss


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Softmax cross-entropy: lse(x) − x[t] per prediction, with lse the log-sum-exp of the
    row, computed from its max so that it is finite for any finite logits.

    With ``label_smoothing`` ε the target is mixed with the uniform distribution, PyTorch's
    way: (1 − ε)·nll + ε/C · Σ_c −w_c log p_c, the second term weighted, ignored and averaged
    exactly like the first.

    Integer targets on float32/float64 logits take one fused node (``ops/softmax.py``): one
    kernel pass over the logits for the loss, one for the gradient (softmax − onehot)·w·g.
    Probability targets and other dtypes use the composite of log-softmax and a weighted sum.

    Parameters
    ----------
    input : Tensor, shape (N, C) or (N, C, d1, ...)
        Unnormalised logits.
    target : Tensor, integer classes of shape (N, d1, ...), or probabilities shaped like input
    weight : Tensor, shape (C,), optional
    ignore_index : int
        Class-index targets equal to it contribute nothing (not used with probabilities).
    label_smoothing : float in [0, 1]

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> logits = mg.tensor([[0.0, 0.0]])
    >>> round(F.cross_entropy(logits, mg.tensor([1])).item(), 4)  # log 2
    0.6931
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    if getattr(raw(target), "dtype", np.dtype(int)).kind == "f":
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing)
    target, valid = class_targets("cross_entropy", input, target, ignore_index)
    if reduction not in ("mean", "sum", "none"):
        reduce_loss(None, reduction, "cross_entropy")  # raises, naming the loss
    C = input.shape[1]
    if C == 0:
        raise ValueError(f"cross_entropy: input of shape {input.shape} has no classes "
                         "(C = 0); expected at least one")
    w = class_weights("cross_entropy", input, weight)
    if input.dtype not in FUSED_DTYPES:
        return _cross_entropy_composite(input, target, valid, w, ignore_index, reduction,
                                        label_smoothing)
    xp = xp_of(input.data)
    rows = target.reshape(-1).astype(np.int64)
    ignored = -1 if ignore_index is None else int(ignore_index)
    denominator = 1.0
    if reduction == "mean":
        # all entries ignored: 0, where PyTorch divides 0 by 0 and returns nan
        total = float((w[xp.where(valid, target, 0)] * valid).sum())
        denominator = total if total > 0 else 1.0  # as _weighted_mean does
    logits = _classes_last(input) if input.ndim > 2 else input
    loss = CrossEntropy.apply(logits, target=rows, weight=w, ignore_index=ignored,
                              label_smoothing=float(label_smoothing), reduction=reduction,
                              denominator=denominator)
    return reshape(loss, target.shape) if reduction == "none" else loss


def _weights_along_classes(weight, input):
    """weight (C,) as a Tensor shaped (1, C, 1, ...) to multiply input's classes axis."""
    C = input.shape[1] if input.ndim >= 2 else 0
    return None if weight is None else reshape(as_target(weight, input),
                                               (1, C) + (1,) * (input.ndim - 2))


def _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing):
    """−Σ_c w_c·t_c·log p_c for probability targets t shaped like input."""
    log_probs = log_softmax(input, 1)
    w = _weights_along_classes(weight, input)
    weighted = log_probs if w is None else log_probs * w
    target = as_target(target, input)
    check_same_shape(input, target, "cross_entropy")
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / input.shape[1]
    return reduce_loss(-(weighted * target).sum(1), reduction, "cross_entropy")


def _cross_entropy_composite(input, target, valid, weight, ignore_index, reduction,
                             label_smoothing):
    """Class-index cross-entropy from log-softmax and ``nll_loss``, for the dtypes the fused
    kernel does not take (float16, integer logits); ``target`` and ``valid`` are what
    ``class_targets`` gave, ``weight`` is the (C,) array of ``class_weights``, floating even for
    integer logits."""
    C = input.shape[1]
    log_probs = log_softmax(input, 1)
    loss = nll_loss(log_probs, target, weight, ignore_index, reduction)
    if not label_smoothing:
        return loss
    weighted = log_probs * reshape(Tensor._wrap(weight), (1, C) + (1,) * (input.ndim - 2))
    smooth = where(valid, -weighted.sum(1), 0.0)
    if reduction == "mean":
        safe = xp_of(input.data).where(valid, target, 0)
        smooth = _weighted_mean(smooth.sum(), float((weight[safe] * valid).sum()))
    else:
        smooth = reduce_loss(smooth, reduction, "cross_entropy")
    return loss * (1 - label_smoothing) + smooth * (label_smoothing / C)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error, (input − target)², for tensors of one shape.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.mse_loss(mg.tensor([1.0, 2.0]), mg.tensor([0.0, 0.0]), reduction='sum').item()
    5.0
    """
    target = as_target(target, input)
    check_same_shape(input, target, "mse_loss")
    diff = input - target
    return reduce_loss(diff * diff, reduction, "mse_loss")


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error, |input − target|, for tensors of one shape.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.l1_loss(mg.tensor([1.0, -2.0]), mg.tensor([0.0, 0.0])).item()
    1.5
    """
    target = as_target(target, input)
    check_same_shape(input, target, "l1_loss")
    return reduce_loss(abs(input - target), reduction, "l1_loss")


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """−w·(t log p + (1−t) log(1−p)) for probabilities p, each log clamped at −100 (PyTorch's).

    Parameters
    ----------
    input : Tensor, any shape, values in [0, 1]
    target : Tensor, the same shape, values in [0, 1]; differentiable too
    weight : Tensor, broadcastable to input's shape, optional

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.binary_cross_entropy(mg.tensor([0.0]), mg.tensor([1.0])).item()  # log 0 -> -100
    100.0
    """
    target = as_target(target, input)
    check_same_shape(input, target, "binary_cross_entropy")
    lo, hi = (float(input.data.min()), float(input.data.max())) if input.data.size else (0, 1)
    if lo < 0 or hi > 1:
        raise ValueError(f"binary_cross_entropy: input must be probabilities in [0, 1], got "
                         f"values in [{lo}, {hi}]; use binary_cross_entropy_with_logits for "
                         "logits")
    return reduce_loss(_weighted(_bce(input, target), weight, input), reduction,
                       "binary_cross_entropy")


def _weighted(loss, weight, input):
    """loss · weight; an array or list weight becomes a constant on input's device."""
    return loss if weight is None else loss * as_target(weight, input)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean",
                                     pos_weight=None):
    """Sigmoid and binary cross-entropy in one stable formula, finite for any logit x:
    w·((1 − t)·x + (1 + (w_pos − 1)·t)·softplus(−x)).

    Parameters
    ----------
    input : Tensor, shape (N, ..., K) of logits
    target : Tensor, the same shape, values in [0, 1]
    weight : Tensor, broadcastable to input's shape, optional
    pos_weight : Tensor, shape (K,) (broadcast over the last axis), optional
        Weight of the positive term, e.g. #negatives / #positives for an unbalanced class.

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.binary_cross_entropy_with_logits(mg.tensor([-1e4]), mg.tensor([0.0])).item()
    0.0
    """
    target = as_target(target, input)
    check_same_shape(input, target, "binary_cross_entropy_with_logits")
    scale = 1 if pos_weight is None else (as_target(pos_weight, input) - 1) * target + 1
    loss = (1 - target) * input + softplus(-input) * scale
    return reduce_loss(_weighted(loss, weight, input), reduction,
                       "binary_cross_entropy_with_logits")


def kl_div(input, target, reduction="mean", log_target=False):
    """KL(target ‖ exp(input)) pointwise: t·(log t − input), with 0·log 0 = 0.

    Parameters
    ----------
    input : Tensor, shape (N, ...), log-probabilities
    target : Tensor, the same shape: probabilities, or log-probabilities if ``log_target``
    reduction : 'mean' | 'sum' | 'none' | 'batchmean'
        ``'batchmean'`` divides the sum by N, which gives the true KL divergence per sample;
        ``'mean'`` divides by every element, as in PyTorch.

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> logq = mg.tensor([[0.5, 0.5]]).log()
    >>> F.kl_div(logq, mg.tensor([[1.0, 0.0]]), reduction='batchmean').item() == -logq[0, 0].item()
    True
    """
    target = as_target(target, input)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        positive = target.data > 0
        safe_log = log(where(positive, target, 1.0))
        loss = where(positive, target * (safe_log - input), 0.0)
    if reduction == "batchmean":
        return loss.sum() / input.shape[0]
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"kl_div: reduction must be 'mean', 'sum', 'none' or 'batchmean', "
                         f"got {reduction!r}")
    return reduce_loss(loss, reduction, "kl_div")


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5·z²/beta where z = |input − target| < beta, z − 0.5·beta elsewhere (Girshick, 2015).

    The two pieces meet with equal value and slope at z = beta; ``beta=0`` is the L1 loss.

    >>> import minigrad as mg
    >>> from minigrad.losses import smooth_l1_loss
    >>> smooth_l1_loss(mg.tensor([0.5, 3.0]), mg.tensor([0.0, 0.0]), reduction='none').tolist()
    [0.125, 2.5]
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    return _smooth_l1(input, target, reduction, beta, "smooth_l1_loss")


def _smooth_l1(input, target, reduction, beta, op):
    """smooth_l1_loss for a checked beta, its errors naming ``op`` (huber_loss uses it too)."""
    target = as_target(target, input)
    check_same_shape(input, target, op)
    diff = input - target
    if beta == 0:
        return reduce_loss(abs(diff), reduction, op)
    # d·d rather than |d|², so the quadratic piece is smooth through d = 0 at every order
    loss = where(xp_of(diff.data).abs(diff.data) < beta, diff * diff * (0.5 / beta),
                 abs(diff) - 0.5 * beta)
    return reduce_loss(loss, reduction, op)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5·z² where z = |input − target| < delta, delta·(z − 0.5·delta) elsewhere (Huber, 1964).

    Equal to ``delta * smooth_l1_loss(..., beta=delta)``: quadratic near 0, then linear with
    slope ``delta``, so an outlier pulls with a bounded force.

    >>> import minigrad as mg
    >>> from minigrad.losses import huber_loss
    >>> huber_loss(mg.tensor([0.5, 3.0]), mg.tensor([0.0, 0.0]), reduction='none').tolist()
    [0.125, 2.5]
    """
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    return _smooth_l1(input, target, reduction, delta, "huber_loss") * delta


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5·(log max(var, eps) + (input − target)² / max(var, eps)), + 0.5·log 2π if ``full``:
    the negative log-likelihood of ``target`` under N(input, var).

    As in PyTorch, the clamp at ``eps`` changes the variance's value but not its gradient.

    Parameters
    ----------
    input : Tensor, shape (N, *), the predicted means
    target : Tensor, the same shape
    var : Tensor, positive, shaped like input, or like input without its last axis, or with
        a last axis of 1 (one variance shared by the last axis)

    >>> import minigrad as mg
    >>> from minigrad.losses import gaussian_nll_loss
    >>> # 0.5 * (log 4 + (1 - 3)**2 / 4)
    >>> round(gaussian_nll_loss(mg.tensor([1.0]), mg.tensor([3.0]), mg.tensor([4.0])).item(), 4)
    1.1931
    """
    target = as_target(target, input)
    var = as_target(var, input)
    check_same_shape(input, target, "gaussian_nll_loss")
    if var.shape != input.shape:
        if var.shape == input.shape[:-1]:
            var = unsqueeze(var, -1)
        elif not (var.shape[:-1] == input.shape[:-1] and var.shape[-1:] == (1,)):
            raise ValueError(f"gaussian_nll_loss: var of shape {var.shape} does not fit input "
                             f"of shape {input.shape}; expected {input.shape}, "
                             f"{input.shape[:-1]} or {input.shape[:-1] + (1,)}")
    if bool((var.data < 0).any()):
        raise ValueError("gaussian_nll_loss: var has negative entries; variances must be >= 0")
    # the clamp as a constant offset: the value of max(var, eps), the gradient of var
    var = var + (xp_of(var.data).maximum(var.data, eps) - var.data)
    diff = input - target
    loss = (log(var) + diff * diff / var) * 0.5
    if full:
        loss = loss + 0.5 * np.log(2 * np.pi)
    return reduce_loss(loss, reduction, "gaussian_nll_loss")
