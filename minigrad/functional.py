"""``minigrad.functional`` (imported as ``F``): activations, normalisation, attention, losses.

Everything here is a short composite of the primitives in ``minigrad.ops`` (STYLE C9), so its
gradient, and its gradient's gradient, come from theirs. The norms live in ``minigrad.norms`` and
the losses in ``minigrad.losses``; both are re-exported here (``F.batch_norm``,
``F.cross_entropy``). Images are NCHW; sequences are (T, N, E) unless ``batch_first``. Where
PyTorch names an axis ``dim``, ``axis`` is accepted as an alias.

Notation
--------
N batch, C channels or classes, H W height and width, E embedding size, T sequence length,
L S query and key lengths in attention
"""
import math

import numpy as np

from .backend import xp_of
from .tensor import Tensor, raw
from .ops.elementwise import clip, erf, exp, sigmoid, softplus, tanh, where
from .ops.elementwise import relu as _relu
from .ops.unary import Activation, ELURule, HardswishRule, PiecewiseLinearRule, select
from .ops.index import getitem  # noqa: F401
from .ops.scatter import gather, scatter_add, scatter_mean, scatter_max, scatter_min, segment_softmax  # noqa: F401,E501
from .ops import softmax as _softmax
from .ops.linear import linear as _linear
from .ops.reduce import dim_or_axis, logsumexp
from .ops.conv import conv2d, conv_transpose2d  # noqa: F401  (re-exported as F.conv2d, ...)
from .ops.pool import (max_pool2d, max_unpool2d, avg_pool2d, adaptive_avg_pool2d,  # noqa: F401
                       adaptive_max_pool2d)
from .ops.conv1d import (adaptive_avg_pool1d, adaptive_max_pool1d, avg_pool1d,  # noqa: F401
                         conv1d, conv_transpose1d, max_pool1d)
from .ops.resample import interpolate  # noqa: F401
from .ops.padding import pad  # noqa: F401  (PyTorch's F.pad)
from .ops.fold import fold, unfold  # noqa: F401  (im2col and col2im as ops)
from .ops.rearrange import channel_shuffle, pixel_shuffle, pixel_unshuffle  # noqa: F401
from .ops.spatial import affine_grid, grid_sample  # noqa: F401  (spatial transformers)
from .dropouts import (alpha_dropout, dropout, dropout1d, dropout2d, dropout3d,  # noqa: F401
                       feature_alpha_dropout)
from .ops.roi import roi_align, roi_pool, nms, batched_nms  # noqa: F401  (detection)
from .ops.boxes import (box_area, box_convert, box_iou, generalized_box_iou,  # noqa: F401
                        generalized_box_iou_loss, encode_boxes, decode_boxes, grid_anchors)
from .ops.linalg import norm as _norm
from .ops.shape import normalize_axis
from .ops.split import narrow
from .norms import (batch_norm, layer_norm, group_norm, instance_norm,  # noqa: F401
                    local_response_norm, rms_norm)
from .attention import scaled_dot_product_attention  # noqa: F401
from .losses import (nll_loss, cross_entropy, mse_loss, l1_loss, binary_cross_entropy,  # noqa: F401
                     binary_cross_entropy_with_logits, kl_div, multi_margin_loss,
                     cosine_similarity, pairwise_distance, contrastive_loss, triplet_margin_loss,
                     smooth_l1_loss, huber_loss, margin_ranking_loss, hinge_embedding_loss,
                     cosine_embedding_loss, gaussian_nll_loss)
from .losses_more import (soft_margin_loss, multilabel_soft_margin_loss,  # noqa: F401
                          poisson_nll_loss, multilabel_margin_loss)


def _piecewise(x, value, mask, slopes):
    """A piecewise-linear activation as one node: ``value`` (computed on raw arrays) forward;
    backward, g times ``slopes[0]`` where ``mask`` and ``slopes[1]`` elsewhere (None: exactly 0),
    kept connected to x so that a second derivative reaches it (``ops/unary.Activation``)."""
    return Activation.apply(x, rule=PiecewiseLinearRule(mask, slopes), value=value)


def relu(x, inplace=False):
    """max(x, 0) (the gradient at 0 is 0); one node with a fused kernel (``ops/unary.py``).

    ``inplace``, here and in the other activations that take it, is accepted for PyTorch code;
    the result is always a new tensor and x is left as it was (an in-place write would bump
    x's version and break the backward of every op that saved x).

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.relu(mg.tensor([-2.0, 3.0]), inplace=True).tolist()
    [0.0, 3.0]
    """
    return _relu(x)


def leaky_relu(x, negative_slope=0.01, inplace=False):
    """x for x > 0, ``negative_slope * x`` otherwise (the gradient at 0 is ``negative_slope``).

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.leaky_relu(mg.tensor([-2.0, 3.0]), negative_slope=0.5).tolist()
    [-1.0, 3.0]
    """
    above = x.data > 0
    return _piecewise(x, select(above, x.data, x.data * negative_slope), above,
                      (1, negative_slope))


def elu(x, alpha=1.0, inplace=False):
    """x for x > 0, ``alpha * (exp(x) - 1)`` otherwise (exp only sees x <= 0: no overflow).

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.elu(mg.tensor([-1e4, 2.0]), alpha=2.0).tolist()
    [-2.0, 2.0]
    """
    return Activation.apply(x, rule=ELURule(alpha, 1, 1))


_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


def selu(x, inplace=False):
    """``scale * elu(x, alpha)`` with the self-normalising constants of Klambauer et al.

    >>> import minigrad as mg, minigrad.functional as F
    >>> round(F.selu(mg.tensor([1.0])).item(), 4)
    1.0507
    """
    return Activation.apply(x, rule=ELURule(_SELU_ALPHA, _SELU_SCALE, 1))


# Beyond |x| = 1e4 the tanh form is saturated in every float type (its sigmoid is exactly 0 or
# 1); clipping there keeps x³ from overflowing, which would turn 0 * inf into nan in backward.
_GELU_TANH_RANGE = 1e4


def gelu(x, approximate="none"):
    """x·Φ(x), with Φ the standard normal CDF.

    ``approximate='tanh'`` uses Φ(x) ≈ (1 + tanh(u)) / 2 = sigmoid(2u), u = √(2/π)(x + 0.044715x³),
    written with the sigmoid, which neither cancels (1 + tanh near −1) nor overflows.

    >>> import minigrad as mg, minigrad.functional as F
    >>> [round(v, 4) for v in F.gelu(mg.tensor([-1.0, 1.0])).tolist()]
    [-0.1587, 0.8413]
    >>> F.gelu(mg.tensor([-1e30, 1e30]), approximate='tanh').tolist()
    [-0.0, 1.0000000150474662e+30]
    """
    if approximate == "tanh":
        z = clip(x, -_GELU_TANH_RANGE, _GELU_TANH_RANGE)
        u = (z + z * z * z * 0.044715) * math.sqrt(2 / math.pi)
        return x * sigmoid(u * 2)
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    # x times Φ(x) in [0, 1], never x times 1 + erf (up to 2x: inf for x near the dtype's max)
    return x * ((erf(x * (1 / math.sqrt(2))) + 1) * 0.5)


def silu(x, inplace=False):
    """x·sigmoid(x) (also called swish).

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.silu(mg.tensor([0.0, -1e4])).tolist()
    [0.0, -0.0]
    """
    return x * sigmoid(x)


def logsigmoid(x):
    """log(sigmoid(x)) = −softplus(−x), finite for any x (log of a sigmoid that underflowed
    to 0 would be −inf).

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.logsigmoid(mg.tensor([-1e4, 0.0])).tolist()[0]
    -10000.0
    """
    return -softplus(-x)


def softmax(x, dim=None, axis=None):
    """exp(x) / Σ exp(x) along ``dim`` (default -1), shifted by the row's max so that exp
    never overflows; one node (``ops/softmax.py``), a fused kernel along the last axis.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.softmax(mg.tensor([[1e4, 1e4]]), dim=1).tolist()
    [[0.5, 0.5]]
    """
    return _softmax.softmax(x, dim_or_axis("softmax", dim, axis, default=-1))


def log_softmax(x, dim=None, axis=None):
    """x − logsumexp(x) along ``dim`` (default -1): finite for any finite logits, unlike
    log(softmax(x)); one node (``ops/softmax.py``), a fused kernel along the last axis.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.log_softmax(mg.tensor([0.0, -1e4])).tolist()
    [0.0, -10000.0]
    """
    return _softmax.log_softmax(x, dim_or_axis("log_softmax", dim, axis, default=-1))


def hardtanh(x, min_val=-1.0, max_val=1.0, inplace=False):
    """x limited to [min_val, max_val].

    The gradient is 1 strictly inside and 0 at the bounds and beyond, PyTorch's hardtanh rule
    (``clip``'s is 1 at the bounds, as torch.clamp's is), so a ``where`` picks the constant
    bound at and beyond them and x elsewhere (a NaN stays NaN, with gradient 1, as in PyTorch).
    ``inplace`` is accepted for PyTorch code; the result is a new tensor.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.hardtanh(mg.tensor([-3.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 1.0]
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val, got min_val="
                         f"{min_val}, max_val={max_val}")
    outside = (x.data <= min_val) | (x.data >= max_val)
    return _piecewise(x, select(outside, xp_of(x.data).clip(x.data, min_val, max_val), x.data),
                      outside, (None, 1))


def relu6(x, inplace=False):
    """min(max(x, 0), 6): ``hardtanh(x, 0, 6)``, so the gradient is 0 at 0 and at 6.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.relu6(mg.tensor([-1.0, 3.0, 8.0])).tolist()
    [0.0, 3.0, 6.0]
    """
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x, inplace=False):
    """relu6(x + 3) / 6: 0 for x <= −3, 1 for x >= 3, (x + 3)/6 between; the gradient is 1/6
    strictly between and 0 at ±3 and at a NaN (PyTorch's rule): outside, a constant is picked.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.hardsigmoid(mg.tensor([-4.0, 0.0, 4.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    inside = (x.data > -3) & (x.data < 3)
    return where(inside, (x + 3) / 6, xp_of(x.data).clip((x.data + 3) / 6, 0.0, 1.0))


def hardswish(x, inplace=False):
    """x · relu6(x + 3) / 6 (MobileNetV3): 0 for x <= −3, x for x >= 3, x(x + 3)/6 between.

    One node (``ops/unary.HardswishRule``) with PyTorch's gradient: 0 at −3 (the left piece) and
    1 at 3 (the right piece), 0 at −inf and 1 at +inf and at a NaN (no 0·inf from the pieces
    not taken); the second derivative is 1/3 strictly between −3 and 3. A NaN stays NaN.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.hardswish(mg.tensor([-4.0, 0.0, 1.5, 4.0])).tolist()
    [0.0, 0.0, 1.125, 4.0]
    """
    return Activation.apply(x, rule=HardswishRule())


def mish(x, inplace=False):
    """x · tanh(softplus(x)) (Misra, 2019), finite for any x: softplus is the stable primitive.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.mish(mg.tensor([-1e4, 0.0, 1e4])).tolist()
    [-0.0, 0.0, 10000.0]
    """
    return x * tanh(softplus(x))


def celu(x, alpha=1.0, inplace=False):
    """max(0, x) + min(0, α(exp(x/α) − 1)) (Barron, 2017): x for x > 0, else α(exp(x/α) − 1).

    exp only sees x <= 0 (clipped), so it cannot overflow for α > 0. α = 0 is refused (it
    divides x), as PyTorch refuses it. At x = 0 both pieces have value 0 and slope 1, and the
    second derivative is 0 there, as in PyTorch (elu with input scale 1/α: ``ops/unary.ELURule``).

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.celu(mg.tensor([-1e4, 2.0]), alpha=2.0).tolist()
    [-2.0, 2.0]
    """
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0 (x is divided by it)")
    return Activation.apply(x, rule=ELURule(alpha, 1, 1.0 / alpha))


def softsign(x):
    """x / (1 + |x|), values in (−1, 1).

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.softsign(mg.tensor([-1.0, 0.0, 3.0])).tolist()
    [-0.5, 0.0, 0.75]
    """
    return x / (x.abs() + 1)


def softmin(x, dim=None, axis=None):
    """softmax(−x) along ``dim`` (default -1): the smallest entries get the largest weights.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.softmin(mg.tensor([[-1e4, -1e4]]), dim=1).tolist()
    [[0.5, 0.5]]
    """
    return _softmax.softmax(-x, dim_or_axis("softmin", dim, axis, default=-1))


def tanhshrink(x):
    """x − tanh(x).

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.tanhshrink(mg.tensor([0.0, 1e4])).tolist()
    [0.0, 9999.0]
    """
    return x - tanh(x)


def softshrink(x, lambd=0.5):
    """x − λ for x > λ, x + λ for x < −λ, 0 between (the soft threshold of L1 shrinkage); the
    gradient is 0 at ±λ. λ must be >= 0, as PyTorch requires. A NaN stays NaN.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.softshrink(mg.tensor([-2.0, 0.25, 2.0])).tolist()
    [-1.5, 0.0, 1.5]
    """
    if not lambd >= 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd}")
    between = (x.data >= -lambd) & (x.data <= lambd)
    shrunk = select(x.data < -lambd, x.data + lambd, x.data - lambd)
    return _piecewise(x, select(between, 0, shrunk).astype(x.dtype, copy=False), between,
                      (None, 1))


def hardshrink(x, lambd=0.5):
    """x where |x| > λ, 0 elsewhere (the gradient is 0 at ±λ, as in PyTorch).

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.hardshrink(mg.tensor([-2.0, 0.5, 0.75])).tolist()
    [-2.0, 0.0, 0.75]
    """
    between = (x.data >= -lambd) & (x.data <= lambd)
    return _piecewise(x, select(between, 0, x.data).astype(x.dtype, copy=False), between,
                      (None, 1))


def threshold(x, threshold, value, inplace=False):
    """x where x > ``threshold``, ``value`` elsewhere (the threshold itself included).

    Written as "value where x <= threshold", as PyTorch compares, so a NaN stays NaN.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.threshold(mg.tensor([-1.0, 0.5, 2.0]), 0.5, -7.0).tolist()
    [-7.0, -7.0, 2.0]
    """
    below = x.data <= threshold
    return _piecewise(x, select(below, value, x.data).astype(x.dtype, copy=False), below,
                      (None, 1))


def glu(x, dim=-1):
    """The gated linear unit a · sigmoid(b), where a and b are the two halves of x along ``dim``.

    Parameters
    ----------
    x : Tensor, shape (..., 2M, ...), the axis ``dim`` of even length 2M
    dim : int

    Returns
    -------
    Tensor, shape (..., M, ...)

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.glu(mg.tensor([[3.0, 1e4]]), dim=1).tolist()
    [[3.0]]
    """
    if x.ndim == 0:
        raise ValueError("glu: a 0-d tensor has no dim to halve")
    d = normalize_axis(dim, x.ndim, "glu")
    M, odd = divmod(x.shape[d], 2)
    if odd:
        raise ValueError(f"glu: the halved dim must have even length, but dim {dim} has length "
                         f"{x.shape[d]} (shape {x.shape})")
    return narrow(x, d, 0, M) * sigmoid(narrow(x, d, M, M))


def prelu(x, weight):
    """x for x > 0, ``weight · x`` otherwise, one learned slope per channel (He et al., 2015).

    Parameters
    ----------
    x : Tensor, shape (N, C, ...), or any shape when ``weight`` has one entry
    weight : Tensor, shape (C,) or (1,) or ()
        Broadcast along dim 1 (the channels), as in PyTorch; an input of fewer than 2 dims
        counts as one channel. The gradient at x = 0 is ``weight``.

    Returns
    -------
    Tensor, the shape of x

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.prelu(mg.tensor([[-2.0, 3.0], [-4.0, -1.0]]), mg.tensor([0.5, 0.25])).tolist()
    [[-1.0, 3.0], [-2.0, -0.25]]
    """
    if weight.ndim > 1:
        raise ValueError(f"prelu: weight must be a scalar or a 1-D tensor, got shape "
                         f"{weight.shape}")
    C = x.shape[1] if x.ndim >= 2 else 1
    K = int(np.prod(weight.shape, dtype=np.int64))
    if K == 1:
        slope = weight.reshape(())
    elif K == C:
        slope = weight.reshape((C,) + (1,) * (x.ndim - 2))
    else:
        raise ValueError(f"prelu: weight has {K} entries, but an input of shape {x.shape} has "
                         f"{C} channels (dim 1): give 1 or {C}")
    return where(x.data > 0, x, slope * x)


def normalize(x, p=2.0, dim=1, eps=1e-12):
    """x / max(‖x‖_p, eps), the p-norm taken along ``dim`` (PyTorch's F.normalize).

    Parameters
    ----------
    x : Tensor, any shape with the axis ``dim``
    p : float
        Any real p or ±inf, as in PyTorch: p = 0 divides by the count of nonzero entries (a
        constant), p < 0 gives (Σ|x|^p)^(1/p), which is 0 for a row holding a 0.
    dim : int
    eps : float
        The smallest divisor: a row of norm below it is divided by ``eps`` (a constant there).

    Returns
    -------
    Tensor, the shape of x

    Notes
    -----
    The gradient of |x|^p at an entry x = 0 is taken as 0 (PyTorch's). A row whose norm is
    below eps (a row of zeros, say) is divided by the constant eps, so it never reaches the
    powers: the norm is found on the arrays first, and those rows enter the graph as ones. The
    power 1/p at 0 has an infinite slope, and |x|^(p−1) of a tiny x overflows for p < 0; times
    the zero gradient such a row sends back, either would make a NaN (PyTorch's float32 gives
    one there). The gradient of such a row is g / eps, as in PyTorch.

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.normalize(mg.tensor([[3.0, 4.0], [0.0, 0.0]], dtype=mg.float64)).tolist()
    [[0.6, 0.8], [0.0, 0.0]]
    >>> F.normalize(mg.tensor([[3.0, -1.0]]), p=1).tolist()
    [[0.75, -0.25]]
    """
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)):
        raise TypeError(f"normalize: p must be a real number, got {p!r}")
    d = normalize_axis(dim, x.ndim, "normalize")
    if p == 0:
        count = (x.data != 0).sum(axis=d, keepdims=True).astype(x.dtype)
        return x / xp_of(x.data).maximum(count, eps)
    if math.isinf(p):
        n = _norm(x, p, d, keepdim=True)
        return x / where(n.data < eps, eps, n)
    xp = xp_of(x.data)
    zero = x.data == 0
    with np.errstate(over="ignore", divide="ignore"):  # inf and 0 ** negative mean norm 0
        powers = xp.where(zero, 0.0, xp.abs(xp.where(zero, 1.0, x.data)) ** p)
        total = powers.sum(axis=d, keepdims=True)
        small = (total ** (1.0 / p) < eps) | (total == 0)
    if p < 0:  # one |x| = 0 makes Σ|x|^p infinite and the norm 0
        small |= zero.any(axis=d, keepdims=True)
    ones = zero | small
    total = where(zero, 0.0, where(ones, 1.0, x).abs() ** p).sum(d, keepdim=True)
    return x / where(small, eps, where(small, 1.0, total) ** (1.0 / p))


def linear(x, weight, bias=None):
    """x @ weightᵀ + bias, one node (``ops/linear.py``): one GEMM, the bias added in place.

    Parameters
    ----------
    x : Tensor, shape (..., in_features)
    weight : Tensor, shape (out_features, in_features)
    bias : Tensor, shape (out_features,), optional

    Returns
    -------
    Tensor, shape (..., out_features)

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.linear(mg.tensor([[1.0, 2.0]]), mg.tensor([[1.0, 1.0]]), mg.tensor([0.5])).tolist()
    [[3.5]]
    """
    if x.shape[-1:] != weight.shape[-1:]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape "
                         f"{weight.shape} (expected last axis {weight.shape[-1]})")
    return _linear(x, weight, bias)


def embedding(indices, weight, padding_idx=None):
    """Rows of ``weight`` picked by integer ``indices``.

    Parameters
    ----------
    indices : int array or Tensor, any shape S, values in [0, num_embeddings)
    weight : Tensor, shape (num_embeddings, E)
    padding_idx : int, optional
        Entries equal to it still read their row, but send it no gradient (PyTorch's rule).

    Returns
    -------
    Tensor, shape S + (E,)

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> w = mg.tensor([[0.0, 0.0], [1.0, 2.0]])
    >>> F.embedding(mg.tensor([1, 0, 1]), w).tolist()
    [[1.0, 2.0], [0.0, 0.0], [1.0, 2.0]]
    """
    idx = xp_of(weight.data).asarray(raw(indices))
    V = weight.shape[0]
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= V):
        raise IndexError(f"embedding: indices must be in [0, {V}), got values "
                         f"in [{int(idx.min())}, {int(idx.max())}]")
    out = getitem(weight, idx)
    if padding_idx is None:
        return out
    if not -V <= padding_idx < V:
        raise ValueError(f"embedding: padding_idx must be in [-{V}, {V}), got {padding_idx}")
    is_padding = (idx == padding_idx % V)[..., None]
    return where(is_padding, out.detach(), out)


def one_hot(indices, num_classes=-1):
    """Integer ``indices`` of shape S as an int64 tensor of shape S + (num_classes,).

    ``num_classes=-1`` takes one more than the largest index.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.one_hot(mg.tensor([0, 2]), num_classes=4).tolist()
    [[1, 0, 0, 0], [0, 0, 1, 0]]
    """
    idx = raw(indices)
    xp = xp_of(idx)
    idx = xp.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must be integers, got {idx.dtype}")
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
        raise IndexError(f"one_hot: indices must be in [0, {num_classes}), got values in "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    return Tensor._wrap(xp.eye(num_classes, dtype=np.int64)[idx])
