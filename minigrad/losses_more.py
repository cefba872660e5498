"""Four more of PyTorch's losses, re-exported by ``minigrad.functional``: the two-class and
multi-label logistic losses (``soft_margin_loss``, ``multilabel_soft_margin_loss``), the
Poisson negative log-likelihood (``poisson_nll_loss``) and the multi-label hinge
(``multilabel_margin_loss``).

Each is a short composite of the primitives in ``minigrad.ops`` (STYLE C9). The logistic
losses use softplus, finite with a finite gradient for any logit; the hinge is a relu, whose
gradient at the kink is 0, as PyTorch's ``z > 0`` test gives. Every loss takes
``reduction='mean' | 'sum' | 'none'`` and refuses a target shaped unlike its input.

Notation
--------
N batch, C classes (labels), * any further axes
x input (scores, logits or log-rates), y target
"""
import math

import numpy as np

from .backend import xp_of
from .loss_args import as_target, check_same_shape, reduce_loss
from .ops.elementwise import exp, log, relu, softplus, where
from .ops.index import getitem
from .ops.shape import reshape, unsqueeze
from .tensor import raw


def soft_margin_loss(input, target, reduction="mean"):
    """log(1 + exp(−y·x)), the logistic loss of a score x for a label y = ±1.

    Computed as softplus(−y·x), finite with a finite gradient for any x. As in PyTorch, a
    target other than ±1 is not refused: the formula is used as it stands.

    Parameters
    ----------
    input : Tensor, any shape (*)
    target : Tensor or array, the same shape, values 1 or −1

    Returns
    -------
    Tensor, shape () or, with ``reduction='none'``, shape (*)

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.soft_margin_loss(mg.tensor([1e4, -1e4]), mg.tensor([1.0, 1.0]),
    ...                    reduction='none').tolist()
    [0.0, 10000.0]
    """
    target = as_target(target, input)
    check_same_shape(input, target, "soft_margin_loss")
    return reduce_loss(softplus(-(target * input)), reduction, "soft_margin_loss")


def multilabel_soft_margin_loss(input, target, weight=None, reduction="mean"):
    """−(y·log σ(x) + (1 − y)·log σ(−x))·w, averaged over the classes (the last axis): one
    binary cross-entropy with logits per class, one loss per sample.

    Each log σ is −softplus, so the loss and its gradient are finite for any logit.

    Parameters
    ----------
    input : Tensor, shape (N, C), (C,) or (*, C), logits
    target : Tensor or array, the same shape, values in [0, 1] (1 where the label applies)
    weight : Tensor or array, optional, broadcastable to input's shape (usually (C,))

    Returns
    -------
    Tensor, shape () or, with ``reduction='none'``, input's shape without its last axis

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> x = mg.tensor([[1e4, -1e4]])
    >>> F.multilabel_soft_margin_loss(x, mg.tensor([[1.0, 1.0]])).item()  # (0 + 1e4) / 2
    5000.0
    """
    op = "multilabel_soft_margin_loss"
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class axis, (C,) or (N, C), got shape ()")
    target = as_target(target, input)
    check_same_shape(input, target, op)
    loss = target * softplus(-input) + (1 - target) * softplus(input)
    if weight is not None:
        loss = loss * _weight_like(op, weight, input)
    return reduce_loss(loss.sum(-1) / input.shape[-1], reduction, op)


def _weight_like(op, weight, input):
    """``weight`` as a Tensor on input's device, refused unless it broadcasts to input's shape
    (a weight that would enlarge the loss is a mistake, not a broadcast)."""
    weight = as_target(weight, input)
    try:
        fits = np.broadcast_shapes(weight.shape, input.shape) == input.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{op}: weight of shape {weight.shape} does not broadcast to input of "
                         f"shape {input.shape}")
    return weight


def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    """The negative log-likelihood of counts y under Poisson rates: exp(x) − y·x for log-rates
    x (``log_input``), or x − y·log(x + eps) for rates x; the constant log(y!) is left out.

    With ``full`` it is added back, by Stirling's formula y·log y − y + ½·log(2πy), where
    y > 1 (PyTorch's rule: log(0!) = log(1!) = 0, and the formula is poor below 1).

    Parameters
    ----------
    input : Tensor, any shape (*), log-rates (or rates, ``log_input=False``)
    target : Tensor or array, the same shape, counts y >= 0
    eps : float, keeps log(x + eps) finite at a rate x = 0

    Returns
    -------
    Tensor, shape () or, with ``reduction='none'``, shape (*)

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.poisson_nll_loss(mg.tensor([0.0]), mg.tensor([3.0])).item()  # exp(0) - 3·0
    1.0
    >>> F.poisson_nll_loss(mg.tensor([1.0]), mg.tensor([1.0]), log_input=False).item()
    1.0
    """
    target = as_target(target, input)
    check_same_shape(input, target, "poisson_nll_loss")
    if log_input:
        loss = exp(input) - target * input
    else:
        loss = input - target * log(input + eps)
    if full:
        loss = loss + _stirling(target)
    return reduce_loss(loss, reduction, "poisson_nll_loss")


def _stirling(y):
    """y·log y − y + ½·log(2πy) where y > 1, else 0. The logs see only numbers above 1, so a
    count of 0 gives a gradient of 0, not 0·log 0 = nan (as PyTorch's masked term gives)."""
    above = y.data > 1
    big = where(above, y, 2.0)
    return where(above, big * log(big) - big + 0.5 * log(big * (2 * math.pi)), 0.0)


def multilabel_margin_loss(input, target, reduction="mean"):
    """Σ_j Σ_{i ∉ labels} max(0, 1 − x[y_j] + x[i]) / C per sample: every label's score should
    beat every other class's score by a margin of 1.

    The labels y_j of a sample are the entries of its target row before the first −1; what
    follows it is padding, not read (but still checked to be in [−1, C), as PyTorch does). A
    label given twice counts twice, as in PyTorch.

    The pairs are formed as one (N, L, C) array, L the most labels any sample lists, so memory
    grows as N·L·C (N·C² only where a row lists every class).

    Parameters
    ----------
    input : Tensor, shape (N, C) or (C,)
    target : int Tensor or array, the same shape, class indices in [0, C), padded with −1

    Returns
    -------
    Tensor, shape () or, with ``reduction='none'``, shape (N,) (shape () for a (C,) input)

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> x = mg.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> y = mg.tensor([[3, 0, -1, 1]])  # labels 3 and 0; the 1 after -1 is padding
    >>> # label 3 against classes 1, 2: 0.4 + 0.6; label 0 against them: 1.1 + 1.3
    >>> round(F.multilabel_margin_loss(x, y).item(), 4)  # 3.4 / 4
    0.85
    """
    op = "multilabel_margin_loss"
    if input.ndim not in (1, 2) or input.shape[-1] == 0:
        raise ValueError(f"{op}: input must be (C,) or (N, C) with C >= 1, got shape "
                         f"{input.shape}")
    xp = xp_of(input.data)
    target = xp.asarray(raw(target))
    if target.shape != input.shape:
        raise ValueError(f"{op}: input of shape {input.shape} needs a target of the same "
                         f"shape, got {target.shape}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got {target.dtype}")
    C = input.shape[-1]
    bad = (target < -1) | (target >= C)
    if bool(bad.any()):
        raise IndexError(f"{op}: target values must be class indices in [0, {C}) or -1 (the "
                         f"padding after the last label), got {int(target[bad].reshape(-1)[0])}")
    scores, target = reshape(input, (-1, C)), target.reshape(-1, C)
    N = scores.shape[0]
    labelled = xp.cumprod(target >= 0, axis=1).astype(bool)  # before the first -1
    # Labels sit in the first slots of a row: the pairs need only the first L slots, L the most
    # labels any row lists.
    L = int(labelled.sum(axis=1).max()) if N else 0
    labelled, target = labelled[:, :L], target[:, :L]
    labels = xp.where(labelled, target, 0)
    is_label = ((labels[:, :, None] == xp.arange(C)) & labelled[:, :, None]).any(1)
    label_scores = getitem(scores, (xp.arange(N)[:, None], labels))
    # hinge[n, j, i] = 1 − x[n, y_j] + x[n, i], kept for a label j against a non-label i
    hinge = relu(1 - unsqueeze(label_scores, 2) + unsqueeze(scores, 1))
    pairs = labelled[:, :, None] & ~is_label[:, None, :]
    loss = where(pairs, hinge, 0.0).sum((1, 2)) / C
    if input.ndim == 1:
        loss = reshape(loss, ())
    return reduce_loss(loss, reduction, op)
