"""Margin, ranking and embedding losses, and the distances they are built on
(``cosine_similarity``, ``pairwise_distance``); re-exported by ``minigrad.losses`` and
``minigrad.functional``.

Each is a hinge ``max(0, margin − ...)`` (a ``relu``) over scores or distances, composed of
the primitives in ``minigrad.ops`` (STYLE C9); ``reduction`` and the defaults follow PyTorch's.
At the hinge's kink the gradient is 0, as relu's is.

Notation
--------
N batch, C classes, D feature size
d(a, b)   the distance ‖a − b + eps‖_p of :func:`pairwise_distance`
y         a target of 1 (similar, ranked above) or −1 (dissimilar, ranked below)
"""
from .backend import xp_of
from .loss_args import as_target, check_same_shape, class_targets, class_weights, reduce_loss
from .ops.elementwise import abs, minimum, relu, sqrt, where
from .ops.index import getitem
from .ops.reduce import dim_or_axis
from .ops.shape import unsqueeze


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, reduction="mean"):
    """The multiclass SVM hinge: Σ_{j≠y} w_y·max(0, margin − x_y + x_j)^p / C per sample.

    Parameters
    ----------
    input : Tensor, shape (N, C)
    target : int array or Tensor, shape (N,)
    p : 1 or 2
    weight : Tensor, shape (C,), optional; w_y scales every term of a sample of class y

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.multi_margin_loss(mg.tensor([[2.0, 1.5]]), mg.tensor([0])).item()  # (1 - 0.5) / 2
    0.25
    """
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: p must be 1 or 2, got {p!r}")
    target, _ = class_targets("multi_margin_loss", input, target)
    N, C = input.shape
    xp = xp_of(input.data)
    correct = getitem(input, (xp.arange(N), target))
    hinge = relu(input - unsqueeze(correct, 1) + margin)
    if p == 2:
        hinge = hinge * hinge
    others = (xp.arange(C)[None, :] != target[:, None]).astype(input.dtype)
    if weight is not None:
        others = others * class_weights("multi_margin_loss", input, weight)[target][:, None]
    return reduce_loss((hinge * others).sum(1) / C, reduction, "multi_margin_loss")


def _norm(x, axis):
    """‖x‖₂ along ``axis`` (kept), with gradient 0 at x = 0 as PyTorch's vector norm has: the
    square root is only ever taken of a positive number, so no order of derivative sees 1/0."""
    squares = (x * x).sum(axis, keepdims=True)
    positive = squares.data > 0
    return where(positive, sqrt(where(positive, squares, 1.0)), 0.0)


def cosine_similarity(x1, x2, dim=None, eps=1e-8, axis=None):
    """Σ (x1 / max(‖x1‖, eps)) · (x2 / max(‖x2‖, eps)) along ``dim`` (PyTorch's formula).

    As in PyTorch, the clamp by ``eps`` changes the norms' values but not their gradient, so
    a zero vector gets a finite gradient (x2 / (eps·‖x2‖)) instead of 0/0.

    Parameters
    ----------
    x1, x2 : Tensor, broadcastable shapes (..., D, ...), D at axis ``dim`` (default 1)

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.cosine_similarity(mg.tensor([[1.0, 0.0]]), mg.tensor([[2.0, 0.0]])).tolist()
    [1.0]
    """
    dim = dim_or_axis("cosine_similarity", dim, axis, default=1)
    n1, n2 = _norm(x1, dim), _norm(x2, dim)
    xp = xp_of(n1.data, n2.data)
    # the clamp as a constant offset: the value of max(n, eps), the gradient of n
    n1 = n1 + (xp.maximum(n1.data, eps) - n1.data)
    n2 = n2 + (xp.maximum(n2.data, eps) - n2.data)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """‖x1 − x2 + eps‖_p over the last axis (eps keeps the gradient finite at x1 = x2).

    Parameters
    ----------
    x1, x2 : Tensor, shape (N, D) or (D,)

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.pairwise_distance(mg.tensor([[3.0, 4.0]]), mg.tensor([[0.0, 0.0]]), eps=0).tolist()
    [5.0]
    """
    diff = abs(x1 - x2 + eps)
    if p == 2:
        return sqrt((diff * diff).sum(-1, keepdims=keepdim))
    return (diff ** p).sum(-1, keepdims=keepdim) ** (1.0 / p)


def contrastive_loss(a, b, same, margin=1.0, reduction="mean"):
    """Hadsell, Chopra & LeCun (2006): same·d² + (1 − same)·max(0, margin − d)², d = ‖a − b‖.

    Parameters
    ----------
    a, b : Tensor, shape (N, D)
    same : Tensor or array, shape (N,), 1 for a matching pair and 0 otherwise

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> a, b = mg.tensor([[0.0, 0.0]]), mg.tensor([[0.5, 0.0]])
    >>> round(F.contrastive_loss(a, b, mg.tensor([0.0])).item(), 4)  # (1 - 0.5)^2
    0.25
    """
    same = as_target(same, a)
    d = pairwise_distance(a, b)
    apart = relu(margin - d)
    return reduce_loss(same * d * d + (1 - same) * apart * apart, reduction, "contrastive_loss")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction="mean"):
    """max(0, d(a, p) − d(a, n) + margin), the distances as in :func:`pairwise_distance`.

    Parameters
    ----------
    anchor, positive, negative : Tensor, shape (N, D)
    swap : bool
        Use min(d(a, n), d(p, n)) as the negative distance (Balntas et al., 2016): the harder
        of the two negatives.

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> a = mg.tensor([[0.0, 0.0]])
    >>> F.triplet_margin_loss(a, a, mg.tensor([[3.0, 4.0]]), eps=0).item()  # 0 - 5 + 1 < 0
    0.0
    """
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return reduce_loss(relu(d_pos - d_neg + margin), reduction, "triplet_margin_loss")


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """max(0, −y·(x1 − x2) + margin): x1 should rank above x2 by ``margin`` where y = 1, below
    where y = −1.

    Parameters
    ----------
    input1, input2 : Tensor, shape (N,) or ()
    target : Tensor, the same shape, values 1 or −1

    >>> import minigrad as mg
    >>> from minigrad.losses import margin_ranking_loss
    >>> x1, x2 = mg.tensor([2.0, 2.0]), mg.tensor([1.0, 1.0])
    >>> margin_ranking_loss(x1, x2, mg.tensor([1.0, -1.0]), reduction='none').tolist()
    [0.0, 1.0]
    """
    target = as_target(target, input1)
    check_same_shape(input1, input2, "margin_ranking_loss")
    check_same_shape(input1, target, "margin_ranking_loss")
    return reduce_loss(relu(-target * (input1 - input2) + margin), reduction, "margin_ranking_loss")


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """x where y = 1, max(0, margin − x) where y = −1; ``input`` is usually a distance.

    As in PyTorch, a target that is neither 1 nor −1 gets both terms.

    Parameters
    ----------
    input : Tensor, any shape
    target : Tensor, the same shape, values 1 or −1

    >>> import minigrad as mg
    >>> from minigrad.losses import hinge_embedding_loss
    >>> hinge_embedding_loss(mg.tensor([0.25, 0.25]), mg.tensor([1.0, -1.0]),
    ...                        reduction='none').tolist()
    [0.25, 0.75]
    """
    target = as_target(target, input)
    check_same_shape(input, target, "hinge_embedding_loss")
    y = target.data
    loss = where(y != -1, input, 0.0) + where(y != 1, relu(margin - input), 0.0)
    return reduce_loss(loss, reduction, "hinge_embedding_loss")


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """1 − cos(x1, x2) where y = 1, max(0, cos(x1, x2) − margin) where y = −1.

    The cosine is Σ x1·x2 / sqrt((‖x1‖² + ε)(‖x2‖² + ε)) with ε = 1e-12 (PyTorch's), which keeps
    it, and its gradient, finite for a zero vector.

    Parameters
    ----------
    input1, input2 : Tensor, shape (N, D) or (D,)
    target : Tensor, shape (N,) or (), values 1 or −1

    >>> import minigrad as mg
    >>> from minigrad.losses import cosine_embedding_loss
    >>> a = mg.tensor([[1.0, 0.0], [1.0, 0.0]])
    >>> cosine_embedding_loss(a, a, mg.tensor([1.0, -1.0]), reduction='none').tolist()
    [0.0, 1.0]
    """
    check_same_shape(input1, input2, "cosine_embedding_loss")
    if input1.ndim not in (1, 2):
        raise ValueError(f"cosine_embedding_loss: inputs must be (N, D) or (D,), got "
                         f"{input1.shape}")
    target = as_target(target, input1)
    if target.shape != input1.shape[:-1]:
        raise ValueError(f"cosine_embedding_loss: inputs of shape {input1.shape} need a target "
                         f"of shape {input1.shape[:-1]}, got {target.shape}")
    dim = input1.ndim - 1
    dot = (input1 * input2).sum(dim)
    cos = dot / sqrt(((input1 * input1).sum(dim) + 1e-12) * ((input2 * input2).sum(dim) + 1e-12))
    y = target.data
    loss = where(y == 1, 1 - cos, 0.0) + where(y == -1, relu(cos - margin), 0.0)
    return reduce_loss(loss, reduction, "cosine_embedding_loss")
