"""Tests written from the survivors of mutation runs on ``layers/attention.py``,
``layers/transformer.py`` and ``layers/graph.py``: each asserts a value or an error the module
documents and the other tests did not pin down (mask combinations, a float mask given as a
Tensor, mixed key and value widths, the constructors' bounds, the transformer options and the
graph layers' parameters), against the NumPy references of ``attention_reference.py`` or
formulas written out here."""
import math

import numpy as np
import pytest

import minigrad as mg
from layers import MultiheadAttention
from layers.attention import multi_head_attention_forward
import attention_reference as R

RNG = np.random.default_rng(2026)
MIXED = (r"^MultiheadAttention: query, key and value must all be batched \(3 axes\) or all "
         r"unbatched \(2 axes\)")
E, H, L, S, N = 8, 2, 4, 5, 3


def _qkv(kdim=E, vdim=E):
    return RNG.normal(size=(L, N, E)), RNG.normal(size=(S, N, kdim)), RNG.normal(size=(S, N, vdim))


def _weights(mha):
    names = (["in_proj_weight"] if mha.in_proj_weight is not None else
             ["q_proj_weight", "k_proj_weight", "v_proj_weight"])
    return [getattr(mha, n).numpy() for n in names] + [
        mha.in_proj_bias.numpy(), mha.out_proj.weight.numpy(), mha.out_proj.bias.numpy()]


# ----------------------------------------------------------------------------- attention


def test_mha_bool_attn_mask_and_bool_padding_block_the_union():
    """Both masks boolean: a key is blocked when either mask blocks it."""
    mha = MultiheadAttention(E, H, dtype=np.float64)
    q, k, v = _qkv()
    blocked = np.zeros((L, S), bool)
    blocked[:, 1] = True
    blocked[2, 3] = True
    padding = np.zeros((N, S), bool)
    padding[0, 4] = True
    padding[2, 2] = True
    out, attn = mha(mg.tensor(q), mg.tensor(k), mg.tensor(v), attn_mask=blocked,
                    key_padding_mask=padding, average_attn_weights=False)
    ref_out, ref_attn = R.mha(q, k, v, *_weights(mha), num_heads=H, attn_mask=blocked,
                              key_padding_mask=padding, average_attn_weights=False)
    np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-12)
    np.testing.assert_allclose(attn.numpy(), ref_attn, atol=1e-12)
    a = attn.numpy()
    assert (a[:, :, :, 1] == 0).all() and (a[:, :, 2, 3] == 0).all()
    assert (a[0, :, :, 4] == 0).all() and (a[2, :, :, 2] == 0).all()
    assert (a[1, :, :, 4] > 0).all()


def test_mha_float_padding_tensor_with_bool_attn_mask():
    """A float key_padding_mask (a Tensor) and a boolean attn_mask add up as scores."""
    mha = MultiheadAttention(E, H, dtype=np.float64)
    q, k, v = _qkv()
    blocked = np.zeros((L, S), bool)
    blocked[1, 0] = True
    padding = RNG.normal(size=(N, S))
    padding[1, 3] = -np.inf
    out, attn = mha(mg.tensor(q), mg.tensor(k), mg.tensor(v), attn_mask=blocked,
                    key_padding_mask=mg.tensor(padding))
    ref_out, ref_attn = R.mha(q, k, v, *_weights(mha), num_heads=H, attn_mask=blocked,
                              key_padding_mask=padding)
    np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-12)
    np.testing.assert_allclose(attn.numpy(), ref_attn, atol=1e-12)


@pytest.mark.parametrize("options", [{}, {"add_bias_kv": True}, {"add_zero_attn": True},
                                     {"add_bias_kv": True, "add_zero_attn": True}],
                         ids=lambda o: ",".join(o) or "default")
def test_mha_float_mask_tensor_gives_the_array_result_and_its_gradient(options):
    """A float attn_mask passed as a Tensor is added to the scores inside the graph: the
    output equals the one for the same mask as an array, and the mask gets its gradient."""
    mha = MultiheadAttention(4, 2, dtype=np.float64, **options)
    if mha.bias_k is not None:
        mha.bias_k.data[...] = RNG.normal(size=(1, 1, 4))
        mha.bias_v.data[...] = RNG.normal(size=(1, 1, 4))
    q, kv = RNG.normal(size=(3, 2, 4)), RNG.normal(size=(2, 2, 4))
    additive = RNG.normal(size=(3, 2))
    as_array = mha(mg.tensor(q), mg.tensor(kv), mg.tensor(kv), attn_mask=additive)
    mask = mg.tensor(additive, requires_grad=True)
    as_tensor = mha(mg.tensor(q), mg.tensor(kv), mg.tensor(kv), attn_mask=mask)
    for a, b in zip(as_array, as_tensor):
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-12)
    (as_tensor[0] * mg.tensor(RNG.normal(size=(3, 2, 4)))).sum().backward()
    assert mask.grad is not None and np.abs(mask.grad.numpy()).max() > 1e-6
    fn = lambda m: mha(mg.tensor(q), mg.tensor(kv), mg.tensor(kv), attn_mask=m)[0]  # noqa: E731
    assert mg.gradcheck(fn, [mg.tensor(additive, requires_grad=True)])


def test_mha_key_width_equal_value_width_different_uses_separate_projections():
    """kdim == E but vdim != E: the separate q/k/v weights, as PyTorch."""
    mha = MultiheadAttention(E, H, vdim=3, dtype=np.float64)
    assert mha.in_proj_weight is None
    assert mha.q_proj_weight.shape == (E, E) and mha.k_proj_weight.shape == (E, E)
    assert mha.v_proj_weight.shape == (E, 3)
    q, k, v = _qkv(vdim=3)
    padding = np.zeros((N, S), bool)
    padding[1, :2] = True
    out, attn = mha(mg.tensor(q), mg.tensor(k), mg.tensor(v), key_padding_mask=padding)
    ref_out, ref_attn = R.mha(q, k, v, *_weights(mha), num_heads=H, key_padding_mask=padding)
    np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-12)
    np.testing.assert_allclose(attn.numpy(), ref_attn, atol=1e-12)
    only_k = MultiheadAttention(E, H, kdim=3)
    assert only_k.in_proj_weight is None and only_k.k_proj_weight.shape == (E, 3)


def test_mha_smallest_sizes_are_allowed():
    """num_heads = 1, embed_dim = 1, kdim = vdim = 1 are valid; 0 is not."""
    mha = MultiheadAttention(1, 1, kdim=1, vdim=1, dtype=np.float64)
    assert mha.head_dim == 1 and mha.kdim == mha.vdim == 1
    assert mha.in_proj_weight is not None  # widths all equal E = 1
    q, k, v = (RNG.normal(size=(T, 2, 1)) for T in (3, 4, 4))
    out, attn = mha(mg.tensor(q), mg.tensor(k), mg.tensor(v))
    ref_out, ref_attn = R.mha(q, k, v, *_weights(mha), num_heads=1)
    np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-12)
    np.testing.assert_allclose(attn.numpy(), ref_attn, atol=1e-12)
    one_head = MultiheadAttention(E, 1, kdim=1, vdim=1, dtype=np.float64)
    q, k, v = RNG.normal(size=(L, N, E)), RNG.normal(size=(S, N, 1)), RNG.normal(size=(S, N, 1))
    out, attn = one_head(mg.tensor(q), mg.tensor(k), mg.tensor(v))
    ref_out, ref_attn = R.mha(q, k, v, *_weights(one_head), num_heads=1)
    np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-12)
    for kw, name in [({"embed_dim": 0, "num_heads": 1}, "embed_dim"),
                     ({"embed_dim": 4, "num_heads": 0}, "num_heads"),
                     ({"embed_dim": 4, "num_heads": 2, "kdim": 0}, "kdim"),
                     ({"embed_dim": 4, "num_heads": 2, "vdim": 0}, "vdim")]:
        with pytest.raises(ValueError, match=f"^MultiheadAttention: {name} must be"):
            MultiheadAttention(**kw)


def test_mha_dropout_bounds():
    assert MultiheadAttention(4, 2, dropout=1.0).dropout == 1.0
    assert MultiheadAttention(4, 2, dropout=0.0).dropout == 0.0
    with pytest.raises(ValueError, match=r"^MultiheadAttention: invalid dropout .*\[0.0, 1.0\]"):
        MultiheadAttention(4, 2, dropout=-0.1)
    with pytest.raises(ValueError, match=r"^MultiheadAttention: invalid dropout .*\[0.0, 1.0\]"):
        MultiheadAttention(4, 2, dropout=1.01)


def test_mha_initialisation():
    """Xavier-uniform projections within their bound, zero biases (both), Xavier-normal
    bias_k and bias_v (both drawn)."""
    mg.manual_seed(1)
    mha = MultiheadAttention(16, 4, add_bias_kv=True)
    bound = math.sqrt(6 / (16 + 48))
    w = mha.in_proj_weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    np.testing.assert_array_equal(mha.in_proj_bias.numpy(), 0.0)
    np.testing.assert_array_equal(mha.out_proj.bias.numpy(), 0.0)
    for t in (mha.bias_k, mha.bias_v):
        assert (t.numpy() != 0).all()
    assert not np.array_equal(mha.bias_k.numpy(), mha.bias_v.numpy())
    apart = MultiheadAttention(16, 4, kdim=6, vdim=10)
    for name, fan_in in (("q_proj_weight", 16), ("k_proj_weight", 6), ("v_proj_weight", 10)):
        w = getattr(apart, name).numpy()
        b = math.sqrt(6 / (16 + fan_in))
        assert np.abs(w).max() <= b and np.abs(w).max() > 0.7 * b, name


def test_mha_input_errors():
    mha = MultiheadAttention(E, H)
    x = mg.ones(4, 2, E)
    with pytest.raises(ValueError, match="^MultiheadAttention: query must be a Tensor"):
        mha(np.ones((4, 2, E)), x, x)
    with pytest.raises(ValueError, match="^MultiheadAttention: key must be a Tensor"):
        mha(x, mg.ones(1, 4, 2, E), x)
    with pytest.raises(ValueError, match="^MultiheadAttention: value must be a Tensor"):
        mha(x, x, mg.ones(E))
    with pytest.raises(ValueError, match=MIXED):
        mha(x, mg.ones(4, E), mg.ones(4, E))
    with pytest.raises(ValueError, match=MIXED):
        multi_head_attention_forward(x, x, mg.ones(4, E), H, mha.in_proj_weight,
                                     mha.in_proj_bias, None, None, False, 0.0,
                                     mha.out_proj.weight, mha.out_proj.bias)


def test_mha_separate_weights_on_self_attention():
    """use_separate_proj_weight with query is key is value uses the three separate weights
    (the stacked one may be None)."""
    x0 = RNG.normal(size=(L, N, E))
    wq, wk, wv = (RNG.normal(size=(E, E)) for _ in range(3))
    b_in, w_out, b_out = RNG.normal(size=3 * E), RNG.normal(size=(E, E)), RNG.normal(size=E)
    x = mg.tensor(x0)
    T = mg.tensor
    out, attn = multi_head_attention_forward(
        x, x, x, H, None, T(b_in), None, None, False, 0.0, T(w_out), T(b_out),
        use_separate_proj_weight=True, q_proj_weight=T(wq), k_proj_weight=T(wk),
        v_proj_weight=T(wv))
    ref_out, ref_attn = R.mha(x0, x0, x0, wq, wk, wv, b_in, w_out, b_out, num_heads=H)
    np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-10)
    np.testing.assert_allclose(attn.numpy(), ref_attn, atol=1e-12)


def test_mha_unbatched_ignores_batch_first():
    """Unbatched (T, E) input means the same with batch_first True or False."""
    seq = MultiheadAttention(E, H, dtype=np.float64)
    first = MultiheadAttention(E, H, batch_first=True, dtype=np.float64)
    first.load_state_dict({k: v.numpy() for k, v in seq.state_dict().items()})
    q, k = RNG.normal(size=(L, E)), RNG.normal(size=(S, E))
    padding = np.array([False, True, False, False, True])
    ref_out, ref_attn = R.mha(q, k, k, *_weights(seq), num_heads=H, key_padding_mask=padding,
                              average_attn_weights=False)
    for mha in (seq, first):
        out, attn = mha(mg.tensor(q), mg.tensor(k), mg.tensor(k), key_padding_mask=padding,
                        average_attn_weights=False)
        assert out.shape == (L, E) and attn.shape == (H, L, S)
        np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-12)
        np.testing.assert_allclose(attn.numpy(), ref_attn, atol=1e-12)


def test_mha_repr():
    assert MultiheadAttention(8, 2, dropout=0.25, batch_first=True).extra_repr() == \
        "embed_dim=8, num_heads=2, dropout=0.25, batch_first=True"


def test_mha_unbatched_query_with_batched_key_is_a_clear_error():
    """A 2-D query with a 3-D key or value is named as such, not left to a reshape."""
    mha = MultiheadAttention(E, H)
    x = mg.ones(4, 2, E)
    for args in ((mg.ones(4, E), x, x), (mg.ones(4, E), mg.ones(4, E), x)):
        with pytest.raises(ValueError, match=MIXED):
            mha(*args)
    with pytest.raises(ValueError, match=MIXED):
        multi_head_attention_forward(mg.ones(4, 2, 2, E), mg.ones(4, 2, 2, E),
                                     mg.ones(4, 2, 2, E), H, mha.in_proj_weight,
                                     mha.in_proj_bias, None, None, False, 0.0,
                                     mha.out_proj.weight, mha.out_proj.bias)


# ----------------------------------------------------------------------------- transformer

from layers import (LayerNorm, LearnedPositionalEncoding, PositionalEncoding,  # noqa: E402
                    Transformer, TransformerDecoder, TransformerDecoderLayer,
                    TransformerEncoder, TransformerEncoderLayer)

FF = 16


def _layer_norm(x, weight, bias, eps=1e-5):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    out = (x - mean) / np.sqrt(var + eps)
    return out * (1.0 if weight is None else weight) + (0.0 if bias is None else bias)


def _attend(p, prefix, q, kv, mask, padding, heads):
    return R.mha(q, kv, kv, p[f"{prefix}.in_proj_weight"], p[f"{prefix}.in_proj_bias"],
                 p[f"{prefix}.out_proj.weight"], p[f"{prefix}.out_proj.bias"], num_heads=heads,
                 attn_mask=mask, key_padding_mask=padding, need_weights=False)


def _reference_layer(layer, x, memory=None, self_mask=None, self_padding=None, cross_mask=None,
                     cross_padding=None, heads=H):
    """An encoder layer (memory None) or a decoder layer, sequence first, relu, from its
    parameters as NumPy arrays."""
    p = {n: t.numpy() for n, t in layer.named_parameters()}
    norm = lambda z, i: _layer_norm(z, p[f"norm{i}.weight"], p[f"norm{i}.bias"],  # noqa: E731
                                    layer.norm1.eps)
    blocks = [lambda z: _attend(p, "self_attn", z, z, self_mask, self_padding, heads)]
    if memory is not None:
        blocks.append(lambda z: _attend(p, "multihead_attn", z, memory, cross_mask,
                                        cross_padding, heads))
    blocks.append(lambda z: np.maximum(z @ p["linear1.weight"].T + p["linear1.bias"], 0)
                  @ p["linear2.weight"].T + p["linear2.bias"])
    for i, block in enumerate(blocks, 1):
        x = x + block(norm(x, i)) if layer.norm_first else norm(x + block(x), i)
    return x


def _causal(T, S=None):
    return ~np.tril(np.ones((T, T if S is None else S), bool))


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_every_mask_against_numpy(norm_first):
    """tgt_mask, memory_mask and both padding masks each reach their own attention."""
    layer = TransformerDecoderLayer(E, H, FF, dropout=0.0, norm_first=norm_first,
                                    dtype=np.float64)
    T_, S_, N_ = 4, 5, 2
    tgt, memory = RNG.normal(size=(T_, N_, E)), RNG.normal(size=(S_, N_, E))
    tgt_mask = np.triu(np.full((T_, T_), -np.inf), 1) + RNG.normal(size=(T_, T_))
    memory_mask = RNG.random((T_, S_)) < 0.4
    memory_mask[:, 0] = False
    tgt_padding = np.array([[False, False, True, False], [False, True, False, False]])
    memory_padding = np.array([[False, True, False, False, True], [False] * 4 + [True]])
    out = layer(mg.tensor(tgt), mg.tensor(memory), tgt_mask=tgt_mask, memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_padding, memory_key_padding_mask=memory_padding)
    ref = _reference_layer(layer, tgt, memory, tgt_mask, tgt_padding, memory_mask,
                           memory_padding)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-10)
    # the causal flags: a causal mask on the self-attention, on the cross-attention
    out = layer(mg.tensor(tgt), mg.tensor(memory), tgt_is_causal=True)
    np.testing.assert_allclose(out.numpy(), _reference_layer(layer, tgt, memory, _causal(T_)),
                               atol=1e-10)
    out = layer(mg.tensor(tgt), mg.tensor(memory), memory_is_causal=True)
    np.testing.assert_allclose(out.numpy(), _reference_layer(layer, tgt, memory,
                                                             cross_mask=_causal(T_, S_)),
                               atol=1e-10)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_padding_and_causal_flag_against_numpy(norm_first):
    layer = TransformerEncoderLayer(E, H, FF, dropout=0.0, norm_first=norm_first,
                                    batch_first=True, dtype=np.float64)
    x = RNG.normal(size=(2, 5, E))
    padding = np.array([[False, True, False, False, True], [False, False, False, True, False]])
    seq = x.transpose(1, 0, 2)
    out = layer(mg.tensor(x), src_key_padding_mask=padding)
    np.testing.assert_allclose(out.numpy(), _reference_layer(layer, seq, self_padding=padding)
                               .transpose(1, 0, 2), atol=1e-10)
    out = layer(mg.tensor(x), src_key_padding_mask=padding, is_causal=True)
    np.testing.assert_allclose(out.numpy(), _reference_layer(
        layer, seq, self_mask=_causal(5), self_padding=padding).transpose(1, 0, 2), atol=1e-10)


def test_stacks_pass_every_mask_to_every_layer():
    enc = TransformerEncoder(TransformerEncoderLayer(E, H, FF, dropout=0.0, dtype=np.float64),
                             2).eval()
    dec = TransformerDecoder(TransformerDecoderLayer(E, H, FF, dropout=0.0, dtype=np.float64),
                             2).eval()
    src, tgt = RNG.normal(size=(5, 2, E)), RNG.normal(size=(4, 2, E))
    src_mask = RNG.normal(size=(5, 5))
    src_padding = np.array([[False, False, True, False, False], [False] * 4 + [True]])
    ref = src
    for lay in enc.layers:
        ref = _reference_layer(lay, ref, self_mask=src_mask, self_padding=src_padding)
    memory = enc(mg.tensor(src), mask=src_mask, src_key_padding_mask=src_padding)
    np.testing.assert_allclose(memory.numpy(), ref, atol=1e-10)
    causal = enc(mg.tensor(src), is_causal=True).numpy()
    ref = src
    for lay in enc.layers:
        ref = _reference_layer(lay, ref, self_mask=_causal(5))
    np.testing.assert_allclose(causal, ref, atol=1e-10)
    tgt_mask, memory_mask = RNG.normal(size=(4, 4)), RNG.random((4, 5)) < 0.3
    memory_mask[:, 1] = False
    tgt_padding = np.array([[False, True, False, False], [False, False, False, True]])
    out = dec(mg.tensor(tgt), memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
              tgt_key_padding_mask=tgt_padding, memory_key_padding_mask=src_padding)
    ref = tgt
    for lay in dec.layers:
        ref = _reference_layer(lay, ref, memory.numpy(), tgt_mask, tgt_padding, memory_mask,
                               src_padding)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-10)
    out = dec(mg.tensor(tgt), memory, tgt_is_causal=True, memory_is_causal=True)
    ref = tgt
    for lay in dec.layers:
        ref = _reference_layer(lay, ref, memory.numpy(), _causal(4), None, _causal(4, 5))
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-10)
    assert enc.num_layers == dec.num_layers == 2
    assert len(TransformerEncoder(TransformerEncoderLayer(E, H, FF), 0).layers) == 0
    with pytest.raises(ValueError, match="^TransformerDecoder: num_layers must be >= 0"):
        TransformerDecoder(TransformerDecoderLayer(E, H, FF), -1)


def test_transformer_passes_every_mask_and_flag_to_its_stacks():
    model = Transformer(E, H, 1, 2, FF, dropout=0.0, dtype=np.float64).eval()
    src, tgt = mg.tensor(RNG.normal(size=(5, 2, E))), mg.tensor(RNG.normal(size=(4, 2, E)))
    masks = {"src_mask": RNG.normal(size=(5, 5)), "tgt_mask": RNG.normal(size=(4, 4)),
             "memory_mask": RNG.normal(size=(4, 5)),
             "src_key_padding_mask": np.array([[False, True, False, False, False],
                                               [False, False, False, False, True]]),
             "tgt_key_padding_mask": np.array([[False, False, True, False],
                                               [False, True, False, False]]),
             "memory_key_padding_mask": np.array([[False, False, False, True, False],
                                                  [True, False, False, False, False]])}
    out = model(src, tgt, **masks)
    memory = model.encoder(src, mask=masks["src_mask"],
                           src_key_padding_mask=masks["src_key_padding_mask"])
    expected = model.decoder(tgt, memory, tgt_mask=masks["tgt_mask"],
                             memory_mask=masks["memory_mask"],
                             tgt_key_padding_mask=masks["tgt_key_padding_mask"],
                             memory_key_padding_mask=masks["memory_key_padding_mask"])
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-12)
    out = model(src, tgt, src_is_causal=True, tgt_is_causal=True, memory_is_causal=True)
    memory = model.encoder(src, mask=_causal(5))
    expected = model.decoder(tgt, memory, tgt_mask=_causal(4), memory_mask=_causal(4, 5))
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-12)


def test_transformer_options_reach_the_stacks():
    model = Transformer(E, H, 1, 1, FF, layer_norm_eps=0.25, bias=False, batch_first=True,
                        dtype=np.float64)
    assert (model.d_model, model.nhead, model.batch_first) == (E, H, True)
    for norm in (model.encoder.norm, model.decoder.norm):
        assert isinstance(norm, LayerNorm) and norm.eps == 0.25 and norm.bias is None
        assert norm.weight.dtype == np.float64
    assert model.encoder.layers[0].norm2.eps == 0.25
    assert model.decoder.layers[0].batch_first and model.decoder.layers[0].linear1.bias is None
    enc = TransformerEncoder(TransformerEncoderLayer(E, H, FF), 1)
    custom = Transformer(E, H, custom_encoder=enc, num_decoder_layers=1, dim_feedforward=FF)
    assert custom.encoder is enc and len(custom.decoder.layers) == 1
    dec = TransformerDecoder(TransformerDecoderLayer(E, H, FF), 1)
    custom = Transformer(E, H, num_encoder_layers=1, custom_decoder=dec, dim_feedforward=FF)
    assert custom.decoder is dec and len(custom.encoder.layers) == 1


def test_transformer_xavier_initialises_every_matrix():
    """Xavier-uniform on every matrix (Linear's own init would give linear2, fan_in 128, a
    bound of 1/sqrt(128)); vectors keep their init."""
    mg.manual_seed(4)
    model = Transformer(8, 2, 1, 1, 128)
    lin2 = model.encoder.layers[0].linear2.weight.numpy()
    bound = math.sqrt(6 / (8 + 128))
    assert np.abs(lin2).max() <= bound and np.abs(lin2).max() > 0.9 * bound
    for name, p in model.named_parameters():
        if p.ndim > 1:
            fan_out, fan_in = p.shape
            assert np.abs(p.numpy()).max() <= math.sqrt(6 / (fan_in + fan_out)) + 1e-7, name
    np.testing.assert_array_equal(model.encoder.norm.weight.numpy(), 1.0)
    np.testing.assert_array_equal(model.decoder.layers[0].norm1.bias.numpy(), 0.0)


def test_transformer_input_width_errors():
    model = Transformer(E, H, 1, 1, FF)
    for src, tgt in ((mg.ones(3, 1, E + 1), mg.ones(2, 1, E)),
                     (mg.ones(3, 1, E), mg.ones(2, 1, E - 1))):
        with pytest.raises(ValueError, match=f"^Transformer: src and tgt must end in d_model = "
                                             f"{E}"):
            model(src, tgt)


def test_layer_sizes_lower_bounds():
    layer = TransformerEncoderLayer(1, 1, 1, dropout=0.0, dtype=np.float64)
    x = RNG.normal(size=(3, 2, 1))
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(),
                               _reference_layer(layer, x, heads=1), atol=1e-10)
    for kw, name in (({"d_model": 0, "nhead": 1}, "d_model"),
                     ({"d_model": 4, "nhead": 2, "dim_feedforward": 0}, "dim_feedforward")):
        for cls in (TransformerEncoderLayer, TransformerDecoderLayer):
            with pytest.raises(ValueError, match=f"^{cls.__name__}: {name} must be >= 1"):
                cls(**kw)
    with pytest.raises(ValueError, match="^TransformerDecoderLayer: activation must be"):
        TransformerDecoderLayer(4, 2, activation="tanh")


def test_layers_dropout_probability_reaches_every_dropout():
    for cls, count in ((TransformerEncoderLayer, 2), (TransformerDecoderLayer, 3)):
        layer = cls(E, H, FF, dropout=0.3)
        assert [getattr(layer, f"dropout{i}").p for i in range(1, count + 1)] == [0.3] * count
        assert layer.dropout.p == 0.3 and layer.self_attn.dropout == 0.3
        assert not hasattr(layer, f"dropout{count + 1}") and not hasattr(layer, f"norm{count + 1}")
    assert TransformerDecoderLayer(E, H, FF, dropout=0.3).multihead_attn.dropout == 0.3


def test_generate_square_subsequent_mask_sizes_and_dtype():
    np.testing.assert_array_equal(Transformer.generate_square_subsequent_mask(1).numpy(),
                                  [[0.0]])
    mask = Transformer.generate_square_subsequent_mask(3, dtype=np.float64)
    assert mask.dtype == np.float64
    with pytest.raises(ValueError, match="^generate_square_subsequent_mask: sz must be >= 1"):
        Transformer.generate_square_subsequent_mask(0)


def test_positional_encodings_shapes_bounds_and_dtype():
    pe = PositionalEncoding(1, dropout=0.0, max_len=3)
    out = pe(mg.zeros(3, 2, 1, dtype=np.float64))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy()[:, 0, 0], np.sin(np.arange(3)), atol=1e-7)
    for bad in (mg.zeros(3, 2, 2), mg.zeros(3, 1), mg.zeros(1, 3, 2, 1)):
        with pytest.raises(ValueError, match=r"^PositionalEncoding: expected an input of shape "
                                             r"\(T, N, E\) with E = 1"):
            pe(bad)
    with pytest.raises(ValueError, match=r"^LearnedPositionalEncoding: expected an input of "
                                         r"shape \(N, T, E\) with E = 4"):
        LearnedPositionalEncoding(4, batch_first=True)(mg.zeros(2, 3, 5))
    with pytest.raises(ValueError,
                       match="^PositionalEncoding: sequence length 4 exceeds max_len = 3"):
        pe(mg.zeros(4, 1, 1))
    for cls in (PositionalEncoding, LearnedPositionalEncoding):
        for kw, name in (({"d_model": 0}, "d_model"), ({"d_model": 2, "max_len": 0}, "max_len")):
            with pytest.raises(ValueError, match=f"^{cls.__name__}: {name} must be >= 1"):
                cls(**kw)
    assert pe.extra_repr() == "d_model=1, max_len=3, batch_first=False"
    learned = LearnedPositionalEncoding(4, dropout=0.0, max_len=3, dtype=np.float64)
    assert learned.extra_repr() == "d_model=4, max_len=3, batch_first=False"
    assert learned.weight.shape == (3, 4) and learned.weight.dtype == np.float64
    x = RNG.normal(size=(3, 2, 4))
    np.testing.assert_allclose(learned(mg.tensor(x)).numpy(),
                               x + learned.weight.numpy()[:, None], atol=1e-12)
    np.testing.assert_allclose(learned(mg.tensor(x[:2])).numpy(),
                               x[:2] + learned.weight.numpy()[:2, None], atol=1e-12)
    assert PositionalEncoding(4, dropout=0.25).dropout.p == 0.25
    assert LearnedPositionalEncoding(4, dropout=0.25).dropout.p == 0.25


# ----------------------------------------------------------------------------- graph

from layers import (EdgeModel, GATConv, GCNConv, GINConv, Linear, MessagePassing,  # noqa: E402
                    NodeModel, global_add_pool, global_max_pool, global_mean_pool)
from layers.graph import add_self_loops, check_edge_index, mlp  # noqa: E402

GRAPH = np.array([[0, 1, 2, 2, 3, 1], [1, 2, 0, 1, 1, 1]])  # node 3 has no incoming edge


def _to64(module):
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


def _mlp_np(seq, z):
    lin1, lin2 = seq[0], seq[2]
    hidden = np.maximum(z @ lin1.weight.numpy().T + lin1.bias.numpy(), 0)
    return hidden @ lin2.weight.numpy().T + lin2.bias.numpy()


def _aggregate(values, target, N, aggr):
    out = np.zeros((N,) + values.shape[1:])
    for i in range(N):
        rows = values[target == i]
        if len(rows):
            out[i] = {"sum": np.sum, "add": np.sum, "mean": np.mean, "max": np.max}[aggr](rows, 0)
    return out


def test_check_edge_index_accepts_lists_and_unsigned_and_rejects_the_rest():
    out = check_edge_index("L", [[0, 1], [1, 0]], 2)
    assert out.dtype == np.int64 and out.tolist() == [[0, 1], [1, 0]]
    out = check_edge_index("L", np.array([[0, 1], [1, 1]], np.uint8), 2)
    assert out.dtype == np.int64 and out.tolist() == [[0, 1], [1, 1]]
    out = check_edge_index("L", mg.tensor(np.array([[0], [1]])), 2)
    assert out.tolist() == [[0], [1]]
    assert check_edge_index("L", np.zeros((2, 0), np.int32), 0).shape == (2, 0)
    for bad in (np.zeros((3, 2), np.int64), np.zeros((2, 2)), np.zeros((2, 2, 1), np.int64)):
        with pytest.raises(ValueError, match=r"^L: edge_index must be an integer array"):
            check_edge_index("L", bad, 3)
    with pytest.raises(IndexError, match=r"^L: edge_index values must be in \[0, 3\), got "
                                         r"\[-1, 2\]"):
        check_edge_index("L", np.array([[0, -1], [2, 1]]), 3)
    with pytest.raises(IndexError, match=r"^L: edge_index values must be in \[0, 3\), got "
                                         r"\[0, 3\]"):
        check_edge_index("L", np.array([[0, 1], [3, 1]]), 3)
    loops = add_self_loops(np.array([[0], [1]], np.int32), 3)
    assert loops.dtype == np.int64 and loops.tolist() == [[0, 0, 1, 2], [1, 0, 1, 2]]


def test_mlp_and_models_default_sizes():
    seq = mlp(3, 5, 2)
    assert (seq[0].in_features, seq[0].out_features, seq[2].in_features,
            seq[2].out_features) == (3, 5, 5, 2)
    assert type(seq[1]).__name__ == "ReLU"
    edge = EdgeModel(3, 2, 4)
    assert (edge.mlp[0].in_features, edge.mlp[0].out_features) == (8, 4)
    assert EdgeModel(3, 2, 4, hidden_features=7).mlp[0].out_features == 7
    node = NodeModel(3, 2, 4)
    assert (node.mlp[0].in_features, node.mlp[0].out_features) == (5, 4)
    assert NodeModel(3, 2, 4, hidden_features=6).mlp[2].in_features == 6
    assert node.extra_repr() == "aggr='sum'"
    mp = MessagePassing(3, 5)
    assert mp.edge_models[0].mlp[0].out_features == 5 and len(mp.edge_models) == 1
    assert MessagePassing(6, 2).node_models[0].mlp[0].out_features == 6
    assert MessagePassing(3, 2, hidden_features=9).node_models[0].mlp[0].out_features == 9
    assert MessagePassing(3, 2, num_steps=2, shared=False).extra_repr() == \
        "num_steps=2, shared=False"
    assert MessagePassing(3, 2, num_steps=1).num_steps == 1
    for bad in ({"num_steps": 0}, ):
        with pytest.raises(ValueError, match="^MessagePassing: num_steps must be >= 1"):
            MessagePassing(3, 2, **bad)
    with pytest.raises(ValueError, match="^EdgeModel: node_features must be >= 1"):
        EdgeModel(0, 2, 4)
    with pytest.raises(ValueError, match="^EdgeModel: edge_features must be >= 0"):
        EdgeModel(3, -1, 4)


def test_edge_model_without_edge_features():
    model = _to64(EdgeModel(3, 0, 2))
    x = RNG.normal(size=(4, 3))
    out = model(mg.tensor(x), GRAPH, mg.zeros(GRAPH.shape[1], 0, dtype=np.float64)).numpy()
    source, target = GRAPH
    expected = _mlp_np(model.mlp, np.concatenate([x[target], x[source]], 1))
    np.testing.assert_allclose(out, expected, atol=1e-12)


@pytest.mark.parametrize("aggr", ["sum", "add", "mean", "max"])
def test_node_model_aggregates_incoming_edges(aggr):
    """m_i over the edges j -> i (row 1 of edge_index), then MLP([m_i, h_i]); 0 for a node
    with no incoming edge."""
    model = _to64(NodeModel(3, 2, 4, aggr=aggr))
    x, attr = RNG.normal(size=(4, 3)), RNG.normal(size=(GRAPH.shape[1], 2))
    out = model(mg.tensor(x), GRAPH, mg.tensor(attr)).numpy()
    m = _aggregate(attr, GRAPH[1], 4, aggr)
    np.testing.assert_allclose(out, _mlp_np(model.mlp, np.concatenate([m, x], 1)), atol=1e-12)


@pytest.mark.parametrize("shared", [True, False])
def test_message_passing_steps_against_numpy(shared):
    model = _to64(MessagePassing(3, 2, num_steps=3, aggr="max", shared=shared))
    assert len(model.edge_models) == len(model.node_models) == (1 if shared else 3)
    assert model.shared is shared
    x, attr = RNG.normal(size=(4, 3)), RNG.normal(size=(GRAPH.shape[1], 2))
    out_x, out_attr = model(mg.tensor(x), GRAPH, mg.tensor(attr))
    steps = model(mg.tensor(x), GRAPH, mg.tensor(attr), return_all=True)
    source, target = GRAPH
    h, e, expected_steps = x, attr, []
    for step in range(3):
        k = 0 if shared else step
        e = _mlp_np(model.edge_models[k].mlp, np.concatenate([h[target], e, h[source]], 1))
        h = _mlp_np(model.node_models[k].mlp,
                    np.concatenate([_aggregate(e, target, 4, "max"), h], 1))
        expected_steps.append(e)
    np.testing.assert_allclose(out_x.numpy(), h, atol=1e-10)
    np.testing.assert_allclose(out_attr.numpy(), e, atol=1e-10)
    assert len(steps) == 3
    for got, want in zip(steps, expected_steps):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-10)


def _gcn_dense(x, edge_index, weight, w, loops, normalize):
    N = x.shape[0]
    A = np.zeros((N, N))
    np.add.at(A, (edge_index[1], edge_index[0]), weight)
    if loops:
        A += np.eye(N)
    if normalize:
        d = A.sum(1)
        s = np.where(d > 0, d, 1) ** -0.5
        A = s[:, None] * A * s[None, :]
    return A @ x @ w.T


@pytest.mark.parametrize("loops", [True, False])
@pytest.mark.parametrize("normalize", [True, False])
def test_gcn_options_against_the_dense_formula(loops, normalize):
    layer = _to64(GCNConv(3, 2, add_self_loops=loops, normalize=normalize))
    layer.bias.data[...] = RNG.normal(size=2)
    x, w = RNG.normal(size=(4, 3)), RNG.uniform(0.5, 2.0, GRAPH.shape[1])
    for weight, given in ((np.ones(GRAPH.shape[1]), None), (w, list(w)), (w, mg.tensor(w))):
        out = layer(mg.tensor(x), GRAPH, edge_weight=given).numpy()
        expected = _gcn_dense(x, GRAPH, weight, layer.lin.weight.numpy(), loops, normalize)
        np.testing.assert_allclose(out, expected + layer.bias.numpy(), atol=1e-12)
    assert np.isfinite(out).all()


def test_gcn_parameters_and_repr():
    mg.manual_seed(2)
    layer = GCNConv(6, 10)
    assert (layer.in_channels, layer.out_channels) == (6, 10)
    assert layer.add_self_loops is True and layer.normalize is True
    bound = math.sqrt(6 / 16)
    w = np.abs(layer.lin.weight.numpy())
    assert w.max() <= bound and w.max() > 0.8 * bound and layer.lin.bias is None
    assert layer.bias.shape == (10,)
    np.testing.assert_array_equal(layer.bias.numpy(), 0.0)
    assert layer.extra_repr() == "6, 10"
    with pytest.raises(ValueError, match=r"^GCNConv: edge_weight must have shape \(6,\)"):
        layer(mg.randn(4, 6), GRAPH, edge_weight=np.ones((6, 2)))


def _gat_dense(layer, x, edge_index, loops=True):
    H, C, N = layer.heads, layer.out_channels, x.shape[0]
    z = (x @ layer.lin.weight.numpy().T).reshape(N, H, C)
    s_src = (z * layer.att_src.numpy()).sum(-1)
    s_dst = (z * layer.att_dst.numpy()).sum(-1)
    edges = add_self_loops(edge_index, N) if loops else edge_index
    out = np.zeros((N, H, C))
    for i in range(N):
        incoming = edges[0][edges[1] == i]
        if not len(incoming):
            continue
        e = s_src[incoming] + s_dst[i]
        e = np.where(e > 0, e, layer.negative_slope * e)
        alpha = np.exp(e - e.max(0)) / np.exp(e - e.max(0)).sum(0)
        out[i] = (alpha[:, :, None] * z[incoming]).sum(0)
    out = out.reshape(N, H * C) if layer.concat else out.mean(1)
    return out if layer.bias is None else out + layer.bias.numpy()


@pytest.mark.parametrize("concat", [True, False])
def test_gat_slope_heads_and_bias_against_the_dense_formula(concat):
    layer = _to64(GATConv(3, 2, heads=3, concat=concat, negative_slope=0.7))
    layer.bias.data[...] = RNG.normal(size=layer.bias.shape)
    assert layer.bias.shape == ((6,) if concat else (2,))
    assert layer.att_src.shape == layer.att_dst.shape == (1, 3, 2)
    assert (layer.att_src.numpy() != 0).all() and (layer.att_dst.numpy() != 0).all()
    x = RNG.normal(size=(4, 3))
    np.testing.assert_allclose(layer(mg.tensor(x), GRAPH).numpy(), _gat_dense(layer, x, GRAPH),
                               atol=1e-12)
    bare = _to64(GATConv(3, 2, heads=2, add_self_loops=False, bias=False))
    assert bare.bias is None and bare.add_self_loops is False
    out, edges, alpha = bare(mg.tensor(x), GRAPH, return_attention_weights=True)
    np.testing.assert_array_equal(edges, GRAPH)
    np.testing.assert_allclose(out.numpy(), _gat_dense(bare, x, GRAPH, loops=False), atol=1e-12)
    assert alpha.shape == (GRAPH.shape[1], 2)


def test_gat_parameters_and_bounds():
    layer = GATConv(3, 4, heads=1)
    assert layer.heads == 1 and layer.extra_repr() == "3, 4, heads=1"
    assert GATConv(3, 4, negative_slope=0.0).negative_slope == 0.0
    with pytest.raises(ValueError, match="^GATConv: heads must be >= 1"):
        GATConv(3, 4, heads=0)
    with pytest.raises(ValueError, match="^GATConv: invalid negative_slope"):
        GATConv(3, 4, negative_slope=-0.1)
    mg.manual_seed(3)
    wide = GATConv(10, 6, heads=2)
    bound = math.sqrt(6 / (10 + 12))
    w = np.abs(wide.lin.weight.numpy())
    assert w.max() <= bound and w.max() > 0.8 * bound and wide.lin.bias is None
    np.testing.assert_array_equal(wide.bias.numpy(), 0.0)


@pytest.mark.parametrize("train_eps", [False, True])
def test_gin_sums_sources_into_targets(train_eps):
    nn = _to64(Linear(3, 2))
    layer = GINConv(nn, eps=0.25, train_eps=train_eps)
    assert float(layer.eps.numpy()[0]) == 0.25
    x = RNG.normal(size=(4, 3))
    neighbours = np.zeros_like(x)
    np.add.at(neighbours, GRAPH[1], x[GRAPH[0]])
    expected = (1.25 * x + neighbours) @ nn.weight.numpy().T + nn.bias.numpy()
    np.testing.assert_allclose(layer(mg.tensor(x), GRAPH).numpy(), expected, atol=1e-6)
    assert GINConv(nn).eps.numpy().tolist() == [0.0]
    with pytest.raises(TypeError, match="^GINConv: eps must be a real number"):
        GINConv(nn, eps="0.1")


def test_global_pools_sizes_and_lists():
    x = RNG.normal(size=(5, 2))
    batch = [0, 0, 2, 2, 2]
    np.testing.assert_allclose(global_add_pool(mg.tensor(x), batch).numpy(),
                               [x[:2].sum(0), [0, 0], x[2:].sum(0)], atol=1e-12)
    np.testing.assert_allclose(global_mean_pool(mg.tensor(x), np.array(batch, np.uint8),
                                                size=4).numpy(),
                               [x[:2].mean(0), [0, 0], x[2:].mean(0), [0, 0]], atol=1e-12)
    np.testing.assert_allclose(global_max_pool(mg.tensor(x), tuple(batch)).numpy()[[0, 2]],
                               [x[:2].max(0), x[2:].max(0)], atol=1e-12)
    assert global_add_pool(mg.zeros(0, 2), np.zeros(0, np.int64)).shape == (0, 2)
    assert global_add_pool(mg.zeros(0, 2), np.zeros(0, np.int64), size=2).shape == (2, 2)
    for pool in (global_add_pool, global_mean_pool, global_max_pool):
        with pytest.raises(ValueError, match=f"^{pool.__name__}: batch must be an integer array "
                                             r"of shape \(5,\)"):
            pool(mg.tensor(x), np.zeros(5))


def test_every_graph_layer_names_itself_in_edge_index_errors():
    x, attr, bad = mg.randn(3, 3), mg.randn(2, 2), np.array([[0, 1], [1, 5]])
    layers = {"EdgeModel": lambda: EdgeModel(3, 2, 2)(x, bad, attr),
              "NodeModel": lambda: NodeModel(3, 2, 2)(x, bad, attr),
              "MessagePassing": lambda: MessagePassing(3, 2)(x, bad, attr),
              "GCNConv": lambda: GCNConv(3, 2)(x, bad),
              "GATConv": lambda: GATConv(3, 2)(x, bad),
              "GINConv": lambda: GINConv(Linear(3, 2))(x, bad)}
    for name, call in layers.items():
        with pytest.raises(IndexError, match=rf"^{name}: edge_index values must be in \[0, 3\)"):
            call()


def test_message_passing_defaults():
    mp = MessagePassing(3, 2)
    assert mp.num_steps == 1 and mp.shared is True and len(mp.node_models) == 1
    assert mp.node_models[0].aggr == "sum" and NodeModel(3, 2, 2).aggr == "sum"
    gat = GATConv(3, 2)
    assert (gat.heads, gat.concat, gat.negative_slope, gat.add_self_loops) == (1, True, 0.2, True)
    assert gat.bias is not None and GCNConv(3, 2).bias is not None
    assert float(GINConv(Linear(3, 2)).eps.numpy()[0]) == 0.0
    assert "eps" not in dict(GINConv(Linear(3, 2)).named_parameters())


@pytest.mark.parametrize("cls", [TransformerEncoderLayer, TransformerDecoderLayer])
def test_transformer_layer_defaults_are_pytorchs(cls):
    """dim_feedforward 2048, dropout 0.1, relu, eps 1e-5, sequence first, post-norm, biases."""
    import minigrad.functional as F
    layer = cls(8, 2)
    assert layer.linear1.out_features == 2048 and layer.linear2.in_features == 2048
    assert layer.dropout.p == 0.1 and layer.self_attn.dropout == 0.1
    assert layer.activation is F.relu and layer.norm1.eps == 1e-5
    assert layer.batch_first is False and layer.self_attn.batch_first is False
    assert layer.norm_first is False
    assert layer.linear1.bias is not None and layer.norm1.bias is not None
    assert layer.linear1.weight.dtype == np.float32


def test_transformer_defaults_are_pytorchs():
    import inspect
    defaults = {k: p.default for k, p in inspect.signature(Transformer).parameters.items()}
    assert defaults == {"d_model": 512, "nhead": 8, "num_encoder_layers": 6,
                        "num_decoder_layers": 6, "dim_feedforward": 2048, "dropout": 0.1,
                        "activation": "relu", "custom_encoder": None, "custom_decoder": None,
                        "layer_norm_eps": 1e-5, "batch_first": False, "norm_first": False,
                        "bias": True, "device": None, "dtype": None}
    small = Transformer(8, 2, 1, 1, 16)
    layer = small.encoder.layers[0]
    assert layer.dropout.p == 0.1 and layer.norm_first is False and layer.batch_first is False
    assert small.decoder.layers[0].linear1.bias is not None
    assert small.encoder.norm.eps == 1e-5 and small.encoder.norm.bias is not None


def test_mha_query_is_key_but_value_differs():
    """Only query is key is value takes the stacked projection; query is key alone does not."""
    mha = MultiheadAttention(E, H, dtype=np.float64)
    x0, v0 = RNG.normal(size=(L, N, E)), RNG.normal(size=(L, N, E))
    x = mg.tensor(x0)
    out, attn = mha(x, x, mg.tensor(v0))
    ref_out, ref_attn = R.mha(x0, x0, v0, *_weights(mha), num_heads=H)
    np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-12)
    np.testing.assert_allclose(attn.numpy(), ref_attn, atol=1e-12)
    out, _ = mha(mg.tensor(v0), x, x)
    np.testing.assert_allclose(out.numpy(), R.mha(v0, x0, x0, *_weights(mha), num_heads=H)[0],
                               atol=1e-12)


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_self_attention_uses_the_input_bias(batch_first):
    """The stacked self-attention projection adds in_proj_bias (zero after init, so set)."""
    mha = MultiheadAttention(E, H, batch_first=batch_first, dtype=np.float64)
    mha.in_proj_bias.data[...] = RNG.normal(size=3 * E)
    mha.out_proj.bias.data[...] = RNG.normal(size=E)
    x0 = RNG.normal(size=(L, N, E))
    given = x0.transpose(1, 0, 2) if batch_first else x0
    x = mg.tensor(given)
    out, attn = mha(x, x, x)
    ref_out, ref_attn = R.mha(x0, x0, x0, *_weights(mha), num_heads=H)
    np.testing.assert_allclose(out.numpy(), ref_out.transpose(1, 0, 2) if batch_first else ref_out,
                               atol=1e-12)
    np.testing.assert_allclose(attn.numpy(), ref_attn, atol=1e-12)


def test_mha_dtype_reaches_every_parameter():
    for kw in ({}, {"kdim": 5, "vdim": 3}, {"vdim": 3}):
        for dtype in (np.float64, np.float32):
            mha = MultiheadAttention(E, H, add_bias_kv=True, dtype=dtype, **kw)
            assert {n: p.dtype for n, p in mha.named_parameters()} == \
                {n: np.dtype(dtype) for n, _ in mha.named_parameters()}
    assert all(p.dtype == np.float32 for p in MultiheadAttention(E, H, kdim=2).parameters())


def test_edge_model_with_one_node_feature():
    model = _to64(EdgeModel(1, 2, 3))
    assert model.node_features == 1 and model.edge_features == 2
    x, attr = RNG.normal(size=(4, 1)), RNG.normal(size=(GRAPH.shape[1], 2))
    source, target = GRAPH
    np.testing.assert_allclose(model(mg.tensor(x), GRAPH, mg.tensor(attr)).numpy(),
                               _mlp_np(model.mlp, np.concatenate([x[target], attr, x[source]], 1)),
                               atol=1e-12)


def test_transformer_dtype_reaches_every_parameter():
    for module in (TransformerEncoderLayer(E, H, FF, dtype=np.float64),
                   TransformerDecoderLayer(E, H, FF, dtype=np.float64),
                   Transformer(E, H, 1, 1, FF, dtype=np.float64),
                   LearnedPositionalEncoding(E, max_len=4, dtype=np.float64)):
        dtypes = {n: p.dtype for n, p in module.named_parameters()}
        assert dtypes == {n: np.dtype(np.float64) for n in dtypes}, type(module).__name__


def test_global_pools_keep_the_given_size():
    x, batch = RNG.normal(size=(3, 2)), np.array([0, 1, 1])
    for pool in (global_add_pool, global_mean_pool, global_max_pool):
        out = pool(mg.tensor(x), batch, size=4).numpy()
        assert out.shape == (4, 2), pool.__name__
        np.testing.assert_array_equal(out[2:], 0.0)
        np.testing.assert_allclose(out[0], x[0], atol=1e-12)


def test_mha_non_tensor_input_error_names_its_type():
    mha = MultiheadAttention(E, H)
    x = mg.ones(4, 2, E)
    with pytest.raises(ValueError, match=r"^MultiheadAttention: key must be a Tensor .*got list$"):
        mha(x, [[0.0] * E], x)
