"""Multi-head attention: H attentions of width E / H side by side, each on its own projection.

    head_h = softmax(Q_h K_hᵀ / √(E/H) + mask) V_h,   Q = query W_qᵀ + b_q  (K, V alike)
    out    = concat(head_1, ..., head_H) W_oᵀ + b_o

Parameter names and layouts are PyTorch's (``in_proj_weight`` stacks W_q, W_k, W_v when the key
and value widths equal E; otherwise ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight``), so a
PyTorch state dict converted to NumPy loads and gives the same outputs.

Masks follow ``nn.MultiheadAttention``, whose boolean convention is the opposite of
``F.scaled_dot_product_attention``'s: here True means *not allowed* (a padded key, a future
position). Float masks are added to the scores (``-inf`` removes a key). A query row that loses
every key gives zeros, not PyTorch's NaN (see ``minigrad.attention``).

Notation
--------
L S    target (query) and source (key) lengths
N      batch size (absent for unbatched input)
E      ``embed_dim``; H ``num_heads``; D = E // H the width of one head
kdim vdim   key and value widths
"""
import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad import Tensor
from minigrad.autograd import Function
from minigrad.backend import xp_of
from minigrad.tensor import raw
from minigrad.checks import check_int, check_number
from . import init
from .linear import Linear, new_parameter
from .projection import Projection
from .module import Module


def _project(x, weight, bias):
    """x Wᵀ + b over (..., in) as one (rows, in) matrix product: NumPy runs a 3-D @ 2-D product
    as one small product per leading index, and its weight gradient as a batch then a sum."""
    rows = Projection.apply(x.reshape(-1, x.shape[-1]), weight, bias)
    return rows.reshape(*x.shape[:-1], rows.shape[-1])


class SplitQKV(Function):
    """(A, B, 3E) -> q, k, v of shape (N, H, L, D): self-attention's stacked projection cut
    into its three parts and their heads, as views (no copy).

    ``batch_first`` says whether (A, B) is (N, L) or (L, N). Backward writes the three
    gradients straight into one (A, B, 3E) array, in the projection's layout; stacking them
    and permuting back would make two arrays of that size. With ``create_graph`` it is written
    in ops (stack, permute, reshape) instead, so the second derivative comes from it.
    """

    @staticmethod
    def _order(batch_first):
        # (A, B, 3, H, D) -> (3, N, H, L, D)
        return (2, 0, 3, 1, 4) if batch_first else (2, 1, 3, 0, 4)

    @staticmethod
    def forward(ctx, qkv, heads, batch_first):
        A, B, E3 = qkv.shape
        ctx.shape, ctx.heads, ctx.batch_first = qkv.shape, heads, batch_first
        split = qkv.reshape(A, B, 3, heads, E3 // (3 * heads))
        return tuple(split.transpose(SplitQKV._order(batch_first)))

    @staticmethod
    def backward(ctx, *grads):
        A, B, E3 = ctx.shape
        order = SplitQKV._order(ctx.batch_first)
        if not mg.is_grad_enabled():
            data = grads[0].data
            out = xp_of(data).empty((A, B, 3, ctx.heads, E3 // (3 * ctx.heads)), data.dtype)
            parts = out.transpose(order)
            for i in range(3):
                parts[i] = grads[i].data
            return Tensor._wrap(out.reshape(A, B, E3))
        return mg.stack(grads, 0).permute(tuple(np.argsort(order))).reshape(A, B, E3)


def _split_heads(x, H, batch_first):
    """(T, N, E) or (N, T, E) -> (N, H, T, D)."""
    if batch_first:
        N, T, E = x.shape
        return x.reshape(N, T, H, E // H).permute(0, 2, 1, 3)
    T, N, E = x.shape
    return x.reshape(T, N, H, E // H).permute(1, 2, 0, 3)


def _merge_heads(x, batch_first):
    """(N, H, L, D) -> (L, N, E) or (N, L, E)."""
    N, H, L, D = x.shape
    order = (0, 2, 1, 3) if batch_first else (2, 0, 1, 3)
    return x.permute(order).reshape(*((N, L) if batch_first else (L, N)), H * D)


def _blocked(mask, xp):
    """A boolean or float MHA mask as SDPA's: bool "attend" (the negation) or float unchanged."""
    m = xp.asarray(raw(mask))
    if m.dtype == bool:
        return ~m
    if m.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: masks must be bool (True = not allowed) or float "
                        f"(added to the scores), got dtype {m.dtype}")
    return mask if isinstance(mask, Tensor) else m


def _combine(a, b, xp):
    """Both masks in SDPA's convention as one: both bool -> and; else additive floats."""
    if a is None or b is None:
        return a if b is None else b
    if raw(a).dtype == bool and raw(b).dtype == bool:
        return a & b
    as_float = [xp.where(raw(m), 0.0, -np.inf) if raw(m).dtype == bool else m for m in (a, b)]
    return as_float[0] + as_float[1]


def _attention_mask(attn_mask, key_padding_mask, N, H, L, S, xp):
    """The attention and padding masks as one SDPA mask of shape (N, H, L, S) or broadcastable."""
    mask = None
    if attn_mask is not None:
        shape = tuple(raw(attn_mask).shape)
        if shape not in ((L, S), (N * H, L, S)):
            raise ValueError(f"MultiheadAttention: attn_mask must have shape (L, S) = ({L}, {S})"
                             f" or (N * num_heads, L, S) = ({N * H}, {L}, {S}), got {shape}")
        mask = _blocked(attn_mask, xp)
        mask = mask.reshape(N, H, L, S) if len(shape) == 3 else mask
    if key_padding_mask is not None:
        if tuple(raw(key_padding_mask).shape) != (N, S):
            raise ValueError(f"MultiheadAttention: key_padding_mask must have shape (N, S) = "
                             f"({N}, {S}), got {tuple(raw(key_padding_mask).shape)}")
        mask = _combine(mask, _blocked(key_padding_mask, xp).reshape(N, 1, 1, S), xp)
    return mask


def _pad_keys(mask, xp):
    """One more key column (bias_k or the zero key) that every query may attend to."""
    if mask is None:
        return None
    if isinstance(mask, Tensor):
        return mg.pad(mask, [(0, 0)] * (mask.ndim - 1) + [(0, 1)])
    fill = True if mask.dtype == bool else 0.0
    return xp.concatenate([mask, xp.full(mask.shape[:-1] + (1,), fill, dtype=mask.dtype)], -1)


def multi_head_attention_forward(query, key, value, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight,
                                 out_proj_bias, training=True, key_padding_mask=None,
                                 need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None,
                                 average_attn_weights=True, is_causal=False, batch_first=False):
    """Multi-head attention on weights passed in, as ``F.multi_head_attention_forward``.

    Parameters
    ----------
    query : Tensor, shape (L, N, E), (N, L, E) if ``batch_first``, or (L, E) unbatched
    key : Tensor, shape (S, N, kdim), (N, S, kdim) or (S, kdim)
    value : Tensor, shape (S, N, vdim), (N, S, vdim) or (S, vdim)
    in_proj_weight : Tensor, shape (3E, E), or None with ``use_separate_proj_weight``
    in_proj_bias : Tensor, shape (3E,), or None
    bias_k, bias_v : Tensor, shape (1, 1, E), or None
        A learnt extra key and value appended to the source.
    add_zero_attn : bool
        Append a zero key and value (after ``bias_k``/``bias_v``).
    out_proj_weight : Tensor, shape (E, E); out_proj_bias : Tensor, shape (E,), or None
    key_padding_mask : array, shape (N, S) or (S,) unbatched
        True (or ``-inf``) marks a padded key that no query may attend to.
    attn_mask : array, shape (L, S) or (N * num_heads, L, S)
        True (or ``-inf``) where a query may not attend to a key; float values are added.
    is_causal : bool
        A causal mask when ``attn_mask`` is None (with a mask given, PyTorch reads it as a hint
        that the mask is causal, and so does this function: the mask is used as it is).

    Returns
    -------
    (Tensor, shape like query; Tensor or None)
        The weights have shape (N, L, S) averaged over heads or (N, H, L, S), (L, S) / (H, L, S)
        unbatched; None unless ``need_weights``.
    """
    # checked before an unbatched query is given its batch axis: a 2-D query with a 3-D key
    # would otherwise fail in that reshape, with a message that names neither
    if not (query.ndim == key.ndim == value.ndim and query.ndim in (2, 3)):
        raise ValueError(f"MultiheadAttention: query, key and value must all be batched (3 axes) "
                         f"or all unbatched (2 axes), got shapes {query.shape}, {key.shape}, "
                         f"{value.shape}")
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = (t.reshape(t.shape[0], 1, t.shape[1]) for t in (query, key, value))
        if isinstance(key_padding_mask, Tensor):  # a float mask's graph is kept
            key_padding_mask = key_padding_mask.reshape(1, -1)
        elif key_padding_mask is not None:
            key_padding_mask = raw(key_padding_mask).reshape(1, -1)
        batch_first = False
    E, H = query.shape[-1], num_heads
    N, L = (query.shape[0], query.shape[1]) if batch_first else (query.shape[1], query.shape[0])
    S = key.shape[1] if batch_first else key.shape[0]
    if use_separate_proj_weight:
        q_weight, k_weight, v_weight = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        q_weight, k_weight, v_weight = (in_proj_weight[i * E:(i + 1) * E] for i in range(3))
    q_bias, k_bias, v_bias = ((None,) * 3 if in_proj_bias is None else
                              (in_proj_bias[i * E:(i + 1) * E] for i in range(3)))
    if query is key is value and not use_separate_proj_weight:
        # self-attention: one product with the stacked (3E, E) weight instead of three
        qkv = _project(query, in_proj_weight, in_proj_bias)  # (L, N, 3E) or (N, L, 3E)
        q, k, v = SplitQKV.apply(qkv, heads=H, batch_first=batch_first)  # each (N, H, L, D)
    else:
        q = _split_heads(_project(query, q_weight, q_bias), H, batch_first)
        k = _split_heads(_project(key, k_weight, k_bias), H, batch_first)
        v = _split_heads(_project(value, v_weight, v_bias), H, batch_first)
    xp = xp_of(q.data)
    if attn_mask is None and is_causal:
        attn_mask = ~xp.tril(xp.ones((L, S), dtype=bool))
    mask = _attention_mask(attn_mask, key_padding_mask, N, H, L, S, xp)
    if bias_k is not None:
        k = mg.cat([k, bias_k.reshape(1, H, 1, E // H).broadcast_to((N, H, 1, E // H))], 2)
        v = mg.cat([v, bias_v.reshape(1, H, 1, E // H).broadcast_to((N, H, 1, E // H))], 2)
        mask = _pad_keys(mask, xp)
    if add_zero_attn:
        k = mg.cat([k, mg.zeros_like(k[:, :, :1])], 2)
        v = mg.cat([v, mg.zeros_like(v[:, :, :1])], 2)
        mask = _pad_keys(mask, xp)
    out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p,
                                                  training=training, return_weights=True)
    out = _project(_merge_heads(out, batch_first), out_proj_weight, out_proj_bias)
    if not need_weights:
        weights = None
    elif average_attn_weights:
        weights = weights.mean(1)
    if unbatched:
        out = out.reshape(L, E)
        weights = None if weights is None else weights[0]
    return (out, weights)


class MultiheadAttention(Module):
    """Attention from ``query`` to ``key``/``value`` with ``num_heads`` heads (PyTorch's layer).

    Parameters
    ----------
    embed_dim : int
        E, the query width and the output width; divisible by ``num_heads``.
    num_heads : int
    dropout : float
        Dropout on the attention weights while training.
    bias : bool
        Biases on the input and output projections.
    add_bias_kv : bool
        Learn an extra key and value (``bias_k``, ``bias_v``, shape (1, 1, E)).
    add_zero_attn : bool
        Append a zero key and value, so a query may attend to "nothing".
    kdim, vdim : int, optional
        Key and value widths (default E); when either differs from E the projections are the
        separate ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim)
        instead of ``in_proj_weight`` (3E, E).
    batch_first : bool
        Inputs and output are (N, T, E) instead of (T, N, E).

    Examples
    --------
    >>> import minigrad as mg
    >>> from layers import MultiheadAttention
    >>> mha = MultiheadAttention(8, 2)
    >>> out, w = mha(mg.ones(5, 3, 8), mg.ones(4, 3, 8), mg.ones(4, 3, 8))
    >>> out.shape, w.shape
    ((5, 3, 8), (3, 5, 4))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        E = self.embed_dim = check_int("MultiheadAttention", "embed_dim", embed_dim, low=1)
        self.num_heads = check_int("MultiheadAttention", "num_heads", num_heads, low=1)
        if E % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({E}) must be divisible by "
                             f"num_heads ({num_heads})")
        self.head_dim = E // num_heads
        self.dropout = check_number("MultiheadAttention", "dropout", dropout, 0.0, 1.0)
        self.kdim = E if kdim is None else check_int("MultiheadAttention", "kdim", kdim, low=1)
        self.vdim = E if vdim is None else check_int("MultiheadAttention", "vdim", vdim, low=1)
        self._qkv_same_embed_dim = self.kdim == E and self.vdim == E
        self.batch_first = batch_first
        self.add_zero_attn = add_zero_attn
        if self._qkv_same_embed_dim:
            self.in_proj_weight = new_parameter((3 * E, E), device, dtype)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = new_parameter((E, E), device, dtype)
            self.k_proj_weight = new_parameter((E, self.kdim), device, dtype)
            self.v_proj_weight = new_parameter((E, self.vdim), device, dtype)
        if bias:
            self.in_proj_bias = new_parameter((3 * E,), device, dtype)
        else:
            self.register_parameter("in_proj_bias", None)
        if add_bias_kv:
            self.bias_k = new_parameter((1, 1, E), device, dtype)
            self.bias_v = new_parameter((1, 1, E), device, dtype)
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self.out_proj = Linear(E, E, bias=bias, device=device, dtype=dtype)
        self._reset_parameters()

    def _reset_parameters(self):
        """PyTorch's: Xavier-uniform projections, zero biases, Xavier-normal bias_k / bias_v."""
        for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            if getattr(self, name) is not None:
                init.xavier_uniform_(getattr(self, name))
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """(output, weights or None); shapes and masks as in ``multi_head_attention_forward``."""
        for name, t, width in (("query", query, self.embed_dim), ("key", key, self.kdim),
                               ("value", value, self.vdim)):
            if not isinstance(t, Tensor) or t.ndim not in (2, 3) or t.shape[-1] != width:
                raise ValueError(f"MultiheadAttention: {name} must be a Tensor of shape (T, "
                                 f"{width}) or with a batch axis, (T, N, {width}) or (N, T, "
                                 f"{width}) with batch_first, got "
                                 f"{getattr(t, 'shape', type(t).__name__)}")
        return multi_head_attention_forward(
            query, key, value, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight,
            self.out_proj.bias, training=self.training, key_padding_mask=key_padding_mask,
            need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal, batch_first=self.batch_first)

    def extra_repr(self):
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, batch_first={self.batch_first}")
