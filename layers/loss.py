"""Loss modules: PyTorch's ``nn`` loss classes, each a thin wrapper over ``minigrad.losses``.

A loss module holds its options (``reduction`` and the loss's own) and, where it has them, the
class weights ``weight`` and ``pos_weight`` as buffers, as PyTorch does: they are state, not
learned, so ``state_dict()`` saves them and ``to(device)`` moves them, but ``parameters()`` does
not return them. The constructor arguments keep PyTorch's names and positional order, the
deprecated ``size_average`` and ``reduce`` included, so a tutorial's
``nn.CrossEntropyLoss(weight)`` or ``nn.MarginRankingLoss(0.5)`` means the same here.

Notation
--------
N batch, C classes, D feature size, *  any further axes
"""
from minigrad import Tensor, losses, losses_more
from minigrad.ops.reduce import dim_or_axis
from .module import Module


def _legacy_reduction(size_average, reduce, reduction):
    """PyTorch's mapping of the deprecated flags: either given overrides ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(name, reduction, allowed=("mean", "sum", "none")):
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {', '.join(map(repr, allowed))}, "
                         f"got {reduction!r}")
    return reduction


def _as_buffer(name, arg, value):
    """``value`` as a Tensor of numbers (None stays None), for a weight buffer."""
    if value is None:
        return None
    message = (f"{name}: {arg} must be a Tensor, an array of numbers or None, got "
               f"{type(value).__name__}")
    try:
        tensor = value if isinstance(value, Tensor) else Tensor(value)
    except (TypeError, ValueError) as err:
        raise TypeError(message) from err
    if tensor.dtype.kind not in "fiu":
        raise TypeError(f"{message} of dtype {tensor.dtype}")
    return tensor


class _Loss(Module):
    """The shared part of every loss module: ``reduction`` ('mean' | 'sum' | 'none')."""

    _reductions = ("mean", "sum", "none")

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = _check_reduction(type(self).__name__,
                                          _legacy_reduction(size_average, reduce, reduction),
                                          self._reductions)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """A loss with per-class weights, registered as the buffer ``weight`` (None if absent)."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _as_buffer(type(self).__name__, "weight", weight))


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy of logits against class indices or class probabilities.

    Parameters
    ----------
    weight : Tensor, shape (C,), optional
    ignore_index : int
    reduction : 'mean' | 'sum' | 'none'
    label_smoothing : float in [0, 1]

    Shape
    -----
    input : Tensor, shape (N, C) or (N, C, *), logits
    target : int Tensor, shape (N,) or (N, *); or probabilities shaped like input
    returns : Tensor, shape (), or the target's shape with ``reduction='none'``

    Examples
    --------
    >>> import minigrad as mg
    >>> loss_fn = CrossEntropyLoss()
    >>> round(loss_fn(mg.tensor([[0.0, 0.0]]), mg.tensor([1])).item(), 4)  # log 2
    0.6931
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return losses.cross_entropy(input, target, self.weight, self.ignore_index,
                                    self.reduction, self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices, given log-probabilities (after LogSoftmax).

    Shape
    -----
    input : Tensor, shape (N, C) or (N, C, *)
    target : int Tensor, shape (N,) or (N, *)
    """

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return losses.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """(input − target)², input and target of one shape (*)."""

    def forward(self, input, target):
        return losses.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """|input − target|, input and target of one shape (*)."""

    def forward(self, input, target):
        return losses.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """0.5·z²/beta for z = |input − target| < beta, z − 0.5·beta beyond; shapes (*)."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return losses.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """0.5·z² for z = |input − target| < delta, delta·(z − 0.5·delta) beyond; shapes (*)."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return losses.huber_loss(input, target, self.reduction, self.delta)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (after Sigmoid); ``weight`` broadcasts to (*)."""

    def forward(self, input, target):
        return losses.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid and binary cross-entropy in one stable step.

    Parameters
    ----------
    weight : Tensor, broadcastable to the input's shape, optional
    pos_weight : Tensor, shape (K,), optional
        Weight of the positive term for each of the K entries of the last axis; a buffer.

    Shape
    -----
    input, target : Tensor, shape (*, K)
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(weight, size_average, reduce, reduction)
        self.register_buffer("pos_weight", _as_buffer("BCEWithLogitsLoss", "pos_weight",
                                                      pos_weight))

    def forward(self, input, target):
        return losses.binary_cross_entropy_with_logits(input, target, self.weight,
                                                       self.reduction, self.pos_weight)


class KLDivLoss(_Loss):
    """KL(target ‖ exp(input)) pointwise; ``reduction='batchmean'`` gives the true KL per sample.

    Shape
    -----
    input : Tensor, shape (N, *), log-probabilities
    target : Tensor, the same shape; log-probabilities too if ``log_target``
    """

    _reductions = ("mean", "sum", "none", "batchmean")

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return losses.kl_div(input, target, self.reduction, self.log_target)


class MarginRankingLoss(_Loss):
    """max(0, −y·(x1 − x2) + margin); forward(input1, input2, target), all of shape (N,)."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return losses.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class HingeEmbeddingLoss(_Loss):
    """x where y = 1, max(0, margin − x) where y = −1; input and target of one shape (*)."""

    def __init__(self, margin=1.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input, target):
        return losses.hinge_embedding_loss(input, target, self.margin, self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """The multiclass SVM hinge; input (N, C), integer target (N,), ``weight`` (C,)."""

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.p = p
        self.margin = margin

    def forward(self, input, target):
        return losses.multi_margin_loss(input, target, self.p, self.margin, self.weight,
                                        self.reduction)


class CosineEmbeddingLoss(_Loss):
    """1 − cos where y = 1, max(0, cos − margin) where y = −1; inputs (N, D), target (N,)."""

    def __init__(self, margin=0.0, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1, input2, target):
        return losses.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)


class TripletMarginLoss(_Loss):
    """max(0, d(a, p) − d(a, n) + margin) with the p-norm distance; anchor, positive and
    negative of shape (N, D); ``swap`` takes the harder of d(a, n) and d(p, n)."""

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return losses.triplet_margin_loss(anchor, positive, negative, self.margin, self.p,
                                          self.eps, self.swap, self.reduction)


class GaussianNLLLoss(_Loss):
    """Negative log-likelihood of ``target`` under N(input, var); forward(input, target, var).

    ``var`` is shaped like input (N, *), or without its last axis, or with a last axis of 1.
    Keyword-only arguments, as in PyTorch.
    """

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):
        return losses.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)



class SoftMarginLoss(_Loss):
    """log(1 + exp(−y·x)), the logistic loss for targets y = ±1; input and target of one
    shape (*)."""

    def forward(self, input, target):
        return losses_more.soft_margin_loss(input, target, self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Binary cross-entropy with logits per class, averaged over the classes.

    Parameters
    ----------
    weight : Tensor, shape (C,) (or broadcastable to the input's shape), optional; a buffer

    Shape
    -----
    input, target : Tensor, shape (N, C) or (C,); target values in [0, 1]
    returns : Tensor, shape (), or (N,) with ``reduction='none'``
    """

    def forward(self, input, target):
        return losses_more.multilabel_soft_margin_loss(input, target, self.weight,
                                                       self.reduction)


class PoissonNLLLoss(_Loss):
    """exp(x) − y·x for log-rates x (or x − y·log(x + eps) for rates, ``log_input=False``),
    plus Stirling's log(y!) where y > 1 if ``full``; input and target of one shape (*)."""

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return losses_more.poisson_nll_loss(log_input, target, self.log_input, self.full,
                                            self.eps, self.reduction)


class MultiLabelMarginLoss(_Loss):
    """Σ_j Σ_{i ∉ labels} max(0, 1 − x[y_j] + x[i]) / C per sample; input (N, C) or (C,),
    integer target of the same shape holding the labels, padded with −1 after the last."""

    def forward(self, input, target):
        return losses_more.multilabel_margin_loss(input, target, self.reduction)

class CosineSimilarity(Module):
    """Cosine similarity of x1 and x2 along ``dim`` (NumPy's ``axis`` accepted instead).

    Shape
    -----
    x1, x2 : Tensor, broadcastable shapes with D at axis ``dim``
    returns : Tensor, the broadcast shape without axis ``dim``
    """

    def __init__(self, dim=None, eps=1e-8, axis=None):
        super().__init__()
        self.dim = dim_or_axis("CosineSimilarity", dim, axis, default=1)
        self.eps = eps

    def forward(self, x1, x2):
        return losses.cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self):
        return f"dim={self.dim}, eps={self.eps}"


class PairwiseDistance(Module):
    """‖x1 − x2 + eps‖_p over the last axis; x1, x2 of shape (N, D) or (D,)."""

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return losses.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
