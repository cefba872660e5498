"""Scaled dot-product attention, ``softmax(q kᵀ · scale + mask) v``, as a composite of ops.

Every query position scores every key position by a dot product, turns its row of scores into
weights with a softmax, and returns the weighted average of the values. Masks remove keys from a
row before the softmax, so the weights of the keys that remain still sum to one.

Masks, in PyTorch's convention for ``F.scaled_dot_product_attention``:

- a boolean mask says which keys a query may attend to (True = attend);
- a float mask is added to the scores (0 keeps a key, ``-inf`` removes it, anything else tilts
  the weights);
- ``is_causal`` keeps key j for query i only where j <= i (top-left aligned when L != S).

A row whose keys are all removed has no softmax (0 / 0). Here it is defined: its weights, its
output and every gradient through it are zeros, which is what PyTorch's math path returns too
(it used to return NaN). Masked scores are replaced by a large finite negative number rather
than ``-inf`` before the softmax, so no ``inf - inf`` is ever formed and the gradients stay finite.

Notation
--------
...   leading (batch, head) axes, broadcast between query, key, value and mask
L     query length (target)
S     key / value length (source)
E     query and key width; Ev value width
Hq Hk query and key/value heads (``enable_gqa``)
"""
import math

import numpy as np

from .backend import xp_of
from .tensor import Tensor, raw
from .ops.elementwise import where
from .ops.linalg import matmul
from .ops.shape import transpose
from .ops.softmax import Softmax


def _check_shapes(query, key, value):
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention: {name} must be a Tensor, "
                            f"got {type(t).__name__}")
        if t.ndim < 2:
            raise ValueError(f"scaled_dot_product_attention: {name} must have shape (..., "
                             f"length, width) with at least 2 axes, got shape {t.shape}")
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention: query (..., L, E) and key (..., S, E) "
                         f"need the same width E, got shapes {query.shape} and {key.shape}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: key (..., S, E) and value (..., S, Ev) "
                         f"need the same length S, got shapes {key.shape} and {value.shape}")


def _repeat_heads(query, key, value):
    """``enable_gqa``: each key/value head serves Hq // Hk consecutive query heads."""
    if query.ndim < 3 or key.ndim < 3 or key.shape[-3] != value.shape[-3]:
        raise ValueError(f"scaled_dot_product_attention: enable_gqa needs heads on axis -3 of "
                         f"query, key and value, got shapes {query.shape}, {key.shape}, "
                         f"{value.shape}")
    Hq, Hk = query.shape[-3], key.shape[-3]
    if Hq % Hk:
        raise ValueError(f"scaled_dot_product_attention: enable_gqa needs the query heads "
                         f"({Hq}) to be a multiple of the key/value heads ({Hk})")
    heads = np.arange(Hq) // (Hq // Hk)
    return key[..., heads, :, :], value[..., heads, :, :]


def _allowed_and_bias(attn_mask, is_causal, L, S, xp):
    """The mask as (allowed keys: bool array or None, additive bias: Tensor/array or None)."""
    allowed = xp.tril(xp.ones((L, S), dtype=bool)) if is_causal else None
    if attn_mask is None:
        return allowed, None
    mask = xp.asarray(raw(attn_mask))
    try:
        fits = np.broadcast_shapes(mask.shape[-2:], (L, S)) == (L, S)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"scaled_dot_product_attention: attn_mask must broadcast to (..., L, S)"
                         f" = (..., {L}, {S}), got shape {mask.shape}")
    if mask.dtype == bool:
        return (mask if allowed is None else allowed & mask), None
    if mask.dtype.kind != "f":
        raise TypeError(f"scaled_dot_product_attention: attn_mask must be bool (True = attend) "
                        f"or float (added to the scores), got dtype {mask.dtype}")
    removed = xp.isneginf(mask)
    if not removed.any():
        # a Tensor mask keeps its graph; an array is added on the scores' device
        return allowed, (attn_mask if isinstance(attn_mask, Tensor) else mask)
    # -inf entries remove keys; the rest of the float mask is added as usual
    kept = ~removed if allowed is None else allowed & ~removed
    bias = where(~removed, attn_mask, 0.0) if isinstance(attn_mask, Tensor) else \
        xp.where(removed, 0.0, mask)
    return kept, bias


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False, *, training=True,
                                 return_weights=False):
    """softmax(query keyᵀ · scale + mask) value, over any leading batch (and head) axes.

    Parameters
    ----------
    query : Tensor, shape (..., L, E)
    key : Tensor, shape (..., S, E)
    value : Tensor, shape (..., S, Ev)
    attn_mask : bool or float array or Tensor, broadcastable to (..., L, S), optional
        Boolean: True where the query may attend to the key (PyTorch's convention). Float: added
        to the scores; ``-inf`` entries remove keys.
    dropout_p : float
        Dropout on the attention weights (PyTorch applies it whenever ``dropout_p > 0``; here
        only while ``training``, so a module in eval mode may pass its rate unchanged).
    is_causal : bool
        Query i attends to keys j <= i only; may be combined with ``attn_mask`` (both apply).
    scale : float, optional
        Multiplies the scores; default 1/√E.
    enable_gqa : bool
        Grouped-query attention: key and value have Hk heads on axis -3, each shared by
        Hq // Hk consecutive query heads.
    training : bool, keyword only
        Whether ``dropout_p`` applies.
    return_weights : bool, keyword only
        Also return the attention weights, shape (..., L, S), e.g. to plot them.

    Returns
    -------
    Tensor, shape (..., L, Ev)
        A query row with every key masked gives zeros (and zero weights and gradients).

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> q = k = mg.ones(1, 2, 1)
    >>> v = mg.tensor([[[1.0], [3.0]]])
    >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).tolist()  # row 0 sees v[0] only
    [[[1.0], [2.0]]]
    >>> F.scaled_dot_product_attention(q, k, v, attn_mask=mg.tensor([[False, False],
    ...                                                              [True, True]])).tolist()
    [[[0.0], [2.0]]]
    """
    from .functional import dropout  # functional re-exports this module
    _check_shapes(query, key, value)
    if not 0 <= dropout_p <= 1:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], "
                         f"got {dropout_p}")
    if enable_gqa:
        key, value = _repeat_heads(query, key, value)
    L, S = query.shape[-2], key.shape[-2]
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else float(scale)  # keeps the dtype
    scores = matmul(query, transpose(key, -1, -2))  # key's transposed view: matmul takes strides
    xp = xp_of(scores.data)
    allowed, bias = _allowed_and_bias(attn_mask, is_causal, L, S, xp)
    if bias is None and allowed is None:
        weights = Softmax.apply(scores, dim=scores.ndim - 1, scale=scale)  # scaled inside
    else:
        scores = scores * scale  # the mask is added to the scaled scores
        if bias is not None:
            scores = scores + bias
        if allowed is not None:
            # finite, and halved so that subtracting the row max cannot overflow either
            very_negative = float(np.finfo(scores.dtype).min) / 2
            scores = where(allowed, scores, very_negative)
        weights = Softmax.apply(scores, dim=scores.ndim - 1)
    if allowed is not None and not allowed.any(-1).all():
        # a fully masked row: uniform weights from the softmax, replaced by zeros (see module doc)
        weights = weights * allowed.any(-1, keepdims=True).astype(scores.dtype)
    if dropout_p and training:
        weights = dropout(weights, dropout_p)
    out = matmul(weights, value)
    return (out, weights) if return_weights else out
