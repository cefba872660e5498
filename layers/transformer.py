"""The transformer of "Attention is all you need" (Vaswani et al., 2017), in PyTorch's modules.

An encoder layer is two residual blocks, self-attention then a position-wise feed-forward net:

    post-norm (default):  x = norm1(x + SA(x));        x = norm2(x + FF(x))
    norm_first=True:      x = x + SA(norm1(x));        x = x + FF(norm2(x))
    FF(x) = linear2(dropout(activation(linear1(x))))

A decoder layer adds a third block between them, cross-attention from the target to the
encoder's output (``memory``). Pre-norm (``norm_first``) trains more stably when deep; post-norm
is the paper's. Submodule and parameter names are PyTorch's (``self_attn``, ``linear1``,
``norm1``, ``layers.0. ...``), so a PyTorch state dict converted to NumPy loads unchanged.

Attention sees no order: a position enters only through the encodings added to the inputs,
``PositionalEncoding`` (fixed sinusoids) or ``LearnedPositionalEncoding`` (a learnt table).

Notation
--------
S T    source and target lengths; N batch; E = d_model
"""
import copy
import math

import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad.checks import check_int
from minigrad.ops.elementwise import cast
from . import init
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear, new_parameter
from .module import Module
from .normalization import LayerNorm

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _activation(activation, owner):
    if callable(activation):
        return activation
    if activation not in _ACTIVATIONS:
        raise ValueError(f"{owner}: activation must be 'relu', 'gelu' or a callable, "
                         f"got {activation!r}")
    return _ACTIVATIONS[activation]


class _FeedForward:
    """The feed-forward block and layer set-up shared by the encoder and decoder layers."""

    def _build(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
               batch_first, norm_first, bias, norms, kw):
        owner = type(self).__name__
        check_int(owner, "d_model", d_model, low=1)
        check_int(owner, "dim_feedforward", dim_feedforward, low=1)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        for i in range(1, norms + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation, owner)
        self.batch_first = batch_first

    def _ff_block(self, x):
        # on (rows, E): one matrix product per linear layer (see attention._project)
        rows = x.reshape(-1, x.shape[-1])
        rows = self.linear2(self.dropout(self.activation(self.linear1(rows))))
        return getattr(self, self._ff_dropout)(rows.reshape(*x.shape))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=bool(is_causal))[0]
        return self.dropout1(x)


class TransformerEncoderLayer(_FeedForward, Module):
    """Self-attention and a feed-forward net, each in a residual block with a LayerNorm.

    Parameters
    ----------
    d_model : int
        E, the width of every position.
    nhead : int
        Attention heads (E divisible by it).
    dim_feedforward : int
        Hidden width of the feed-forward net.
    dropout : float
        After the attention, inside and after the feed-forward net, on the attention weights.
    activation : 'relu', 'gelu' or callable
    layer_norm_eps : float
    batch_first : bool
        (N, S, E) instead of (S, N, E).
    norm_first : bool
        Pre-norm (normalise inside each residual branch) instead of post-norm.
    bias : bool
        Biases on the linear layers and the LayerNorms.

    Examples
    --------
    >>> import minigrad as mg
    >>> layer = TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
    >>> layer(mg.ones(3, 5, 8)).shape
    (3, 5, 8)
    """

    _ff_dropout = "dropout2"

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self._build(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                    batch_first, norm_first, bias, 2, {"device": device, "dtype": dtype})

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """src : Tensor, shape (S, N, E) or (N, S, E); masks as in MultiheadAttention."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))


class TransformerDecoderLayer(_FeedForward, Module):
    """Self-attention on the target, attention to the encoder's output, then a feed-forward net.

    Parameters are those of ``TransformerEncoderLayer``; the extra block has ``multihead_attn``,
    ``norm2`` and ``dropout2`` (the feed-forward block uses ``norm3``/``dropout3``), as PyTorch.

    Examples
    --------
    >>> import minigrad as mg
    >>> layer = TransformerDecoderLayer(8, 2, dim_feedforward=16)
    >>> layer(mg.ones(4, 2, 8), mg.ones(6, 2, 8)).shape
    (4, 2, 8)
    """

    _ff_dropout = "dropout3"

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self._build(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                    batch_first, norm_first, bias, 3, kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **kw)

    def _mha_block(self, x, memory, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=bool(is_causal))[0]
        return self.dropout2(x)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        """tgt : Tensor, shape (T, N, E); memory : Tensor, shape (S, N, E) (N first if
        ``batch_first``); masks as in MultiheadAttention."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                    memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                           memory_is_causal))
        return self.norm3(x + self._ff_block(x))


def _clones(layer, num_layers, owner):
    check_int(owner, "num_layers", num_layers, low=0)
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])


class TransformerEncoder(Module):
    """``num_layers`` independent copies of ``encoder_layer`` in a row, then ``norm`` if given.

    Examples
    --------
    >>> import minigrad as mg
    >>> enc = TransformerEncoder(TransformerEncoderLayer(8, 2, 16), num_layers=2)
    >>> len(enc.layers), enc(mg.ones(5, 1, 8)).shape
    (2, (5, 1, 8))
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers, "TransformerEncoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer``, each attending to the same ``memory``."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers, "TransformerDecoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """An encoder over the source and a decoder over the target that attends to it.

    A subclass may add embeddings and a head around ``self.encoder`` / ``self.decoder`` (as
    PyTorch's examples do); ``custom_encoder`` / ``custom_decoder`` replace the stacks.

    Parameters
    ----------
    d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
    norm_first, bias
        As for ``TransformerEncoderLayer``.
    num_encoder_layers, num_decoder_layers : int

    Examples
    --------
    >>> import minigrad as mg
    >>> model = Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
    ...                     dim_feedforward=16)
    >>> mask = Transformer.generate_square_subsequent_mask(4)
    >>> model(mg.ones(6, 2, 8), mg.ones(4, 2, 8), tgt_mask=mask).shape
    (4, 2, 8)
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        kw = {"dim_feedforward": dim_feedforward, "dropout": dropout, "activation": activation,
              "layer_norm_eps": layer_norm_eps, "batch_first": batch_first,
              "norm_first": norm_first, "bias": bias, "device": device, "dtype": dtype}
        norm = {"eps": layer_norm_eps, "bias": bias, "device": device, "dtype": dtype}
        self.encoder = custom_encoder if custom_encoder is not None else TransformerEncoder(
            TransformerEncoderLayer(d_model, nhead, **kw), num_encoder_layers,
            LayerNorm(d_model, **norm))
        self.decoder = custom_decoder if custom_decoder is not None else TransformerDecoder(
            TransformerDecoderLayer(d_model, nhead, **kw), num_decoder_layers,
            LayerNorm(d_model, **norm))
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first
        self._reset_parameters()

    def _reset_parameters(self):
        """Xavier-uniform on every matrix, as PyTorch's Transformer does."""
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        """src : (S, N, E), tgt : (T, N, E) (N first with ``batch_first``) -> (T, N, E)."""
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: src and tgt must end in d_model = {self.d_model}, "
                             f"got shapes {src.shape} and {tgt.shape}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """A (sz, sz) float mask: 0 where j <= i, ``-inf`` above the diagonal (no peeking ahead).

        >>> Transformer.generate_square_subsequent_mask(3).tolist()
        [[0.0, -inf, -inf], [0.0, 0.0, -inf], [0.0, 0.0, 0.0]]
        """
        sz = check_int("generate_square_subsequent_mask", "sz", sz, low=1)
        mask = np.triu(np.full((sz, sz), -np.inf), k=1)
        return mg.tensor(mask, dtype=np.float32 if dtype is None else dtype, device=device)


def _check_sequence(owner, x, d_model, max_len, batch_first):
    if x.ndim != 3 or x.shape[-1] != d_model:
        layout = "(N, T, E)" if batch_first else "(T, N, E)"
        raise ValueError(f"{owner}: expected an input of shape {layout} with E = {d_model}, "
                         f"got {x.shape}")
    T = x.shape[1] if batch_first else x.shape[0]
    if T > max_len:
        raise ValueError(f"{owner}: sequence length {T} exceeds max_len = {max_len}")
    return T


class PositionalEncoding(Module):
    """x + PE, then dropout; PE[t, 2i] = sin(t / 10000^(2i/E)), PE[t, 2i+1] = cos(same angle).

    Each pair of channels turns at its own frequency, from one turn per 2π steps down to one
    per 10000·2π, so every position has a distinct code and a fixed offset is a rotation.

    Parameters
    ----------
    d_model : int
    dropout : float
    max_len : int
        Longest sequence (the table ``pe`` is a buffer of shape (max_len, E), not saved).
    batch_first : bool

    Examples
    --------
    >>> import minigrad as mg
    >>> pe = PositionalEncoding(4, dropout=0.0)
    >>> [[round(v, 3) for v in row] for row in pe(mg.zeros(2, 1, 4)).numpy()[:, 0].tolist()]
    [[0.0, 1.0, 0.0, 1.0], [0.841, 0.54, 0.01, 1.0]]
    """

    def __init__(self, d_model, dropout=0.1, max_len=5000, batch_first=False):
        super().__init__()
        self.d_model = check_int("PositionalEncoding", "d_model", d_model, low=1)
        self.max_len = check_int("PositionalEncoding", "max_len", max_len, low=1)
        self.batch_first = batch_first
        self.dropout = Dropout(dropout)
        position = np.arange(max_len)[:, None]
        angle = position * np.exp(np.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = np.zeros((max_len, d_model), dtype=np.float32)
        pe[:, 0::2] = np.sin(angle)
        pe[:, 1::2] = np.cos(angle[:, :d_model // 2])
        self.register_buffer("pe", mg.tensor(pe), persistent=False)

    def forward(self, x):
        T = _check_sequence("PositionalEncoding", x, self.d_model, self.max_len,
                            self.batch_first)
        pe = cast(self.pe[:T], x.dtype)
        return self.dropout(x + (pe if self.batch_first else pe.reshape(T, 1, self.d_model)))

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"


class LearnedPositionalEncoding(Module):
    """x + P[t], then dropout, with a learnt table P (``weight``, shape (max_len, E), init
    N(0, 0.02²) as in BERT and GPT-2); it cannot go beyond ``max_len``.

    Examples
    --------
    >>> import minigrad as mg
    >>> LearnedPositionalEncoding(4, max_len=10)(mg.zeros(3, 2, 4)).shape
    (3, 2, 4)
    """

    def __init__(self, d_model, dropout=0.1, max_len=512, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        self.d_model = check_int("LearnedPositionalEncoding", "d_model", d_model, low=1)
        self.max_len = check_int("LearnedPositionalEncoding", "max_len", max_len, low=1)
        self.batch_first = batch_first
        self.dropout = Dropout(dropout)
        self.weight = new_parameter((max_len, d_model), device, dtype)
        init.normal_(self.weight, std=0.02)

    def forward(self, x):
        T = _check_sequence("LearnedPositionalEncoding", x, self.d_model, self.max_len,
                            self.batch_first)
        table = self.weight[:T]
        return self.dropout(x + (table if self.batch_first else table.reshape(T, 1, self.d_model)))

    def extra_repr(self):
        return f"d_model={self.d_model}, max_len={self.max_len}, batch_first={self.batch_first}"
