"""Slow, obvious NumPy references for attention: one query row, one head, one sample at a time.

A row whose keys are all masked gets zero weights (minigrad's definition, and PyTorch's SDPA).
"""
import math

import numpy as np


def masked_softmax(scores, allowed):
    """softmax over the allowed entries of each row; a row with none allowed is all zeros."""
    out = np.zeros_like(scores)
    for idx in np.ndindex(scores.shape[:-1]):
        keep = allowed[idx]
        if keep.any():
            e = np.exp(scores[idx][keep] - scores[idx][keep].max())
            out[idx][keep] = e / e.sum()
    return out


def mask_parts(mask, shape, attend_if_true=True):
    """(allowed bool array, additive float array) of ``shape`` from a bool or float mask."""
    allowed, bias = np.ones(shape, bool), np.zeros(shape)
    if mask is None:
        return allowed, bias
    mask = np.asarray(mask)
    if mask.dtype == bool:
        return allowed & np.broadcast_to(mask if attend_if_true else ~mask, shape), bias
    removed = np.broadcast_to(np.isneginf(mask), shape)
    return allowed & ~removed, bias + np.where(removed, 0.0, np.broadcast_to(mask, shape))


def numpy_uniform(seed, shape):
    """NumPy's global stream seeded with ``seed``: the uniforms minigrad's CPU ops draw after
    ``mg.manual_seed(seed)`` (a GPU draws from CuPy's stream instead)."""
    np.random.seed(seed)
    return np.random.random_sample(shape)


def sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
         dropout_seed=0, uniform=numpy_uniform):
    """Scaled dot-product attention; dropout redraws minigrad's keep mask from the same seed,
    through ``uniform(seed, shape)``."""
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query @ np.swapaxes(key, -1, -2) * scale
    allowed, bias = mask_parts(attn_mask, scores.shape)
    if is_causal:
        allowed = allowed & np.tril(np.ones(scores.shape[-2:], bool))
    weights = masked_softmax(scores + bias, allowed)
    if dropout_p:
        keep = uniform(dropout_seed, weights.shape) >= dropout_p
        weights = weights * keep / (1 - dropout_p)
    return weights @ value, weights


def mha(query, key, value, *weights, num_heads, attn_mask=None, key_padding_mask=None,
        need_weights=True, average_attn_weights=True):
    """nn.MultiheadAttention (sequence first, or unbatched), head by head and sample by sample.

    ``weights``: (in_proj_weight, in_proj_bias, out_w, out_b) or (q_w, k_w, v_w, in_proj_bias,
    out_w, out_b). Boolean masks: True = not allowed.
    """
    if len(weights) == 4:
        w_in, b_in, w_out, b_out = weights
        E = w_in.shape[1]
        w_q, w_k, w_v = w_in[:E], w_in[E:2 * E], w_in[2 * E:]
    else:
        w_q, w_k, w_v, b_in, w_out, b_out = weights
        E = w_q.shape[0]
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = query[:, None], key[:, None], value[:, None]
        key_padding_mask = None if key_padding_mask is None else key_padding_mask[None]
    (L, N, _), S, H = query.shape, key.shape[0], num_heads
    D = E // H
    out, attn = np.zeros((L, N, E)), np.zeros((N, H, L, S))
    for n in range(N):
        q = query[:, n] @ w_q.T + b_in[:E]
        k = key[:, n] @ w_k.T + b_in[E:2 * E]
        v = value[:, n] @ w_v.T + b_in[2 * E:]
        heads = np.zeros((L, E))
        for h in range(H):
            mask = attn_mask if attn_mask is None or np.ndim(attn_mask) == 2 else \
                attn_mask[n * H + h]  # (N * H, L, S): one mask per sample and head
            allowed, bias = mask_parts(mask, (L, S), attend_if_true=False)
            if key_padding_mask is not None:
                pad_allowed, pad_bias = mask_parts(key_padding_mask[n], (L, S),
                                                   attend_if_true=False)
                allowed, bias = allowed & pad_allowed, bias + pad_bias
            cols = slice(h * D, (h + 1) * D)
            attn[n, h] = masked_softmax(q[:, cols] @ k[:, cols].T / math.sqrt(D) + bias, allowed)
            heads[:, cols] = attn[n, h] @ v[:, cols]
        out[:, n] = heads @ w_out.T + b_out
    attn = attn.mean(1) if average_attn_weights else attn
    if unbatched:
        out, attn = out[:, 0], attn[0]
    return (out, attn) if need_weights else out
