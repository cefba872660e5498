"""Transformer layers, stacks and positional encodings: against a NumPy reference built from
attention_reference.py always, and against PyTorch (state dicts through NumPy) when installed."""
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from layers import (LearnedPositionalEncoding, Linear, PositionalEncoding, Transformer,
                    TransformerDecoder, TransformerDecoderLayer, TransformerEncoder,
                    TransformerEncoderLayer)
import attention_reference as R

RNG = np.random.default_rng(3)
E, H, FF = 8, 2, 16


def _layer_norm(x, weight, bias, eps=1e-5):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _reference_encoder_layer(layer, x, mask=None, norm_first=False, activation="relu"):
    """The encoder layer, sequence first, from its parameters as NumPy arrays."""
    p = {n: t.numpy() for n, t in layer.named_parameters()}
    def act(z):
        return np.maximum(z, 0) if activation == "relu" else \
            0.5 * z * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))

    def norm(z, i):
        return _layer_norm(z, p[f"norm{i}.weight"], p[f"norm{i}.bias"])

    def attn(z):
        return R.mha(z, z, z, p["self_attn.in_proj_weight"], p["self_attn.in_proj_bias"],
                     p["self_attn.out_proj.weight"], p["self_attn.out_proj.bias"], num_heads=H,
                     attn_mask=mask, need_weights=False)

    def ff(z):
        hidden = act(z @ p["linear1.weight"].T + p["linear1.bias"])
        return hidden @ p["linear2.weight"].T + p["linear2.bias"]

    if norm_first:
        x = x + attn(norm(x, 1))
        return x + ff(norm(x, 2))
    x = norm(x + attn(x), 1)
    return norm(x + ff(x), 2)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_numpy_reference(norm_first, activation):
    layer = TransformerEncoderLayer(E, H, FF, activation=activation, norm_first=norm_first,
                                    dtype=np.float64).eval()
    x = RNG.normal(size=(5, 2, E))
    mask = np.triu(np.full((5, 5), -np.inf), 1)
    out = layer(mg.tensor(x), src_mask=mask)
    ref = _reference_encoder_layer(layer, x, mask, norm_first, activation)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-10)


def test_encoder_stacks_independent_copies_and_final_norm():
    from layers import LayerNorm
    layer = TransformerEncoderLayer(E, H, FF, dropout=0.0, dtype=np.float64)
    enc = TransformerEncoder(layer, 2, norm=LayerNorm(E, dtype=np.float64)).eval()
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    enc.layers[1].linear1.weight.data[...] += 0.1  # the copies stay independent
    x = RNG.normal(size=(4, 3, E))
    ref = x
    for lay in enc.layers:
        ref = _reference_encoder_layer(lay, ref)
    ref = _layer_norm(ref, enc.norm.weight.numpy(), enc.norm.bias.numpy())
    np.testing.assert_allclose(enc(mg.tensor(x)).numpy(), ref, atol=1e-10)


def test_callable_activation_and_no_bias():
    layer = TransformerEncoderLayer(E, H, FF, activation=F.silu, bias=False, dropout=0.0)
    assert layer.linear1.bias is None and layer.norm1.bias is None
    assert layer.self_attn.in_proj_bias is None
    x = mg.tensor(RNG.normal(size=(3, 2, E)).astype(np.float32))
    assert layer(x).shape == (3, 2, E)
    with pytest.raises(ValueError, match="activation must be 'relu', 'gelu' or a callable"):
        TransformerEncoderLayer(E, H, activation="swish")


def test_decoder_layer_gradcheck_and_gradgradcheck():
    layer = TransformerDecoderLayer(4, 2, 6, dropout=0.0, activation="gelu",
                                    dtype=np.float64)
    tgt = mg.tensor(RNG.normal(size=(2, 1, 4)), requires_grad=True)
    memory = mg.tensor(RNG.normal(size=(3, 1, 4)), requires_grad=True)
    mask = Transformer.generate_square_subsequent_mask(2, dtype=np.float64)
    fn = lambda t, m: layer(t, m, tgt_mask=mask)  # noqa: E731
    assert mg.gradcheck(fn, [tgt, memory])
    assert mg.gradgradcheck(fn, [tgt, memory])


def test_generate_square_subsequent_mask():
    mask = Transformer.generate_square_subsequent_mask(4).numpy()
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(mask, np.triu(np.full((4, 4), -np.inf), 1))


def test_positional_encoding_formula():
    pe = PositionalEncoding(6, dropout=0.0, max_len=50)
    out = pe(mg.zeros(7, 2, 6)).numpy()
    t, i = np.arange(7)[:, None], np.arange(3)[None]
    angle = t / 10000 ** (2 * i / 6)
    np.testing.assert_allclose(out[:, 1, 0::2], np.sin(angle), atol=1e-6)
    np.testing.assert_allclose(out[:, 1, 1::2], np.cos(angle), atol=1e-6)
    odd = PositionalEncoding(5, dropout=0.0, batch_first=True)(mg.zeros(1, 3, 5)).numpy()[0]
    np.testing.assert_allclose(odd[:, 4], np.sin(np.arange(3) / 10000 ** (4 / 5)), atol=1e-6)
    assert "pe" not in pe.state_dict()
    with pytest.raises(ValueError, match="exceeds max_len"):
        pe(mg.zeros(51, 1, 6))


def test_learned_positional_encoding_is_trained():
    pe = LearnedPositionalEncoding(4, dropout=0.0, max_len=10, batch_first=True)
    x = mg.zeros(2, 3, 4)
    out = pe(x)
    np.testing.assert_array_equal(out.numpy(), np.broadcast_to(pe.weight.numpy()[:3], (2, 3, 4)))
    out.sum().backward()
    np.testing.assert_array_equal(pe.weight.grad.numpy()[:3], 2.0)
    np.testing.assert_array_equal(pe.weight.grad.numpy()[3:], 0.0)
    assert abs(pe.weight.numpy().std() - 0.02) < 0.01


def test_transformer_subclass_as_in_pytorch_examples():
    class Translator(Transformer):
        def __init__(self, vocab):
            super().__init__(d_model=E, nhead=H, num_encoder_layers=1, num_decoder_layers=1,
                             dim_feedforward=FF, dropout=0.0)
            self.head = Linear(E, vocab)

        def forward(self, src, tgt):
            mask = self.generate_square_subsequent_mask(tgt.shape[0])
            return self.head(super().forward(src, tgt, tgt_mask=mask))

    model = Translator(11)
    out = model(mg.ones(5, 2, E), mg.ones(3, 2, E))
    assert out.shape == (3, 2, 11)
    assert "head.weight" in model.state_dict() and "encoder.layers.0.linear1.weight" in \
        model.state_dict()


def _load_torch(ours, theirs):
    missing = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    return missing


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_and_decoder_layers_vs_torch(norm_first, activation, batch_first):
    torch = pytest.importorskip("torch")
    T = torch.tensor
    kw = {"activation": activation, "norm_first": norm_first, "batch_first": batch_first}
    theirs = torch.nn.TransformerEncoderLayer(E, H, FF, **kw).double().eval()
    ours = TransformerEncoderLayer(E, H, FF, **kw).eval()
    _load_torch(ours, theirs)
    N, S = 3, 5
    x = RNG.normal(size=(N, S, E) if batch_first else (S, N, E))
    mask = np.triu(np.full((S, S), -np.inf), 1)
    padding = RNG.random((N, S)) < 0.3
    padding[:, 0] = False
    out = ours(mg.tensor(x), src_mask=mask, src_key_padding_mask=np.where(padding, -np.inf, 0.0))
    ref = theirs(T(x), src_mask=T(mask), src_key_padding_mask=T(np.where(padding, -np.inf, 0.0)))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), atol=1e-10)

    theirs = torch.nn.TransformerDecoderLayer(E, H, FF, **kw).double().eval()
    ours = TransformerDecoderLayer(E, H, FF, **kw).eval()
    _load_torch(ours, theirs)
    tgt = RNG.normal(size=(N, 4, E) if batch_first else (4, N, E))
    tgt_mask = np.triu(np.ones((4, 4), bool), 1)
    out = ours(mg.tensor(tgt), mg.tensor(x), tgt_mask=tgt_mask, memory_key_padding_mask=padding)
    ref = theirs(T(tgt), T(x), tgt_mask=T(tgt_mask), memory_key_padding_mask=T(padding))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), atol=1e-10)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_vs_torch(norm_first):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Transformer(E, H, 2, 2, FF, norm_first=norm_first,
                                  activation="gelu").double().eval()
    ours = Transformer(E, H, 2, 2, FF, norm_first=norm_first, activation="gelu").eval()
    _load_torch(ours, theirs)
    src, tgt = RNG.normal(size=(6, 2, E)), RNG.normal(size=(4, 2, E))
    mask = Transformer.generate_square_subsequent_mask(4, dtype=np.float64)
    out = ours(mg.tensor(src), mg.tensor(tgt), tgt_mask=mask)
    ref = theirs(torch.tensor(src), torch.tensor(tgt),
                 tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(
                     4, dtype=torch.float64))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), atol=1e-10)
    theirs_mask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    np.testing.assert_array_equal(mask.numpy(), theirs_mask.numpy())


def test_encoder_stack_vs_torch():
    torch = pytest.importorskip("torch")
    layer = torch.nn.TransformerEncoderLayer(E, H, FF, batch_first=True)
    theirs = torch.nn.TransformerEncoder(layer, 3, norm=torch.nn.LayerNorm(E),
                                         enable_nested_tensor=False).double().eval()
    from layers import LayerNorm
    ours = TransformerEncoder(TransformerEncoderLayer(E, H, FF, batch_first=True), 3,
                              norm=LayerNorm(E)).eval()
    _load_torch(ours, theirs)
    x = RNG.normal(size=(2, 5, E))
    np.testing.assert_allclose(ours(mg.tensor(x), is_causal=True).numpy(),
                               theirs(torch.tensor(x), mask=torch.nn.Transformer
                                      .generate_square_subsequent_mask(5, dtype=torch.float64),
                                      is_causal=True).detach().numpy(), atol=1e-10)


def test_decoder_stack_applies_its_layers_in_turn():
    layer = TransformerDecoderLayer(E, H, FF, dropout=0.0, dtype=np.float64)
    dec = TransformerDecoder(layer, 2).eval()
    tgt, memory = mg.tensor(RNG.normal(size=(3, 2, E))), mg.tensor(RNG.normal(size=(4, 2, E)))
    padding = np.array([[False, False, True, True], [False, False, False, False]])
    expected = tgt
    for lay in dec.layers:
        expected = lay(expected, memory, memory_key_padding_mask=padding, tgt_is_causal=True)
    out = dec(tgt, memory, memory_key_padding_mask=padding, tgt_is_causal=True)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-12)
    assert [n for n, _ in dec.named_parameters()][:2] == ["layers.0.self_attn.in_proj_weight",
                                                          "layers.0.self_attn.in_proj_bias"]


def test_layer_norm_eps_reaches_every_norm():
    layer = TransformerEncoderLayer(E, H, FF, layer_norm_eps=0.5, dropout=0.0, dtype=np.float64)
    assert layer.norm1.eps == layer.norm2.eps == 0.5
    x = RNG.normal(size=(3, 1, E)) * 0.1  # small spread: eps matters
    h = x + R.mha(x, x, x, layer.self_attn.in_proj_weight.numpy(),
                  layer.self_attn.in_proj_bias.numpy(), layer.self_attn.out_proj.weight.numpy(),
                  layer.self_attn.out_proj.bias.numpy(), num_heads=H, need_weights=False)
    expected = _layer_norm(h, layer.norm1.weight.numpy(), layer.norm1.bias.numpy(), eps=0.5)
    layer.linear2.weight.data[...] = 0.0  # the feed-forward branch adds only linear2's bias
    layer.linear2.bias.data[...] = 0.0
    expected = _layer_norm(expected, layer.norm2.weight.numpy(), layer.norm2.bias.numpy(), eps=0.5)
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, atol=1e-12)


def test_dropout_acts_in_training_only():
    mg.manual_seed(0)
    layer = TransformerEncoderLayer(E, H, FF, dropout=0.5, dtype=np.float64)
    x = mg.tensor(RNG.normal(size=(4, 2, E)))
    a, b = layer(x).numpy(), layer(x).numpy()
    assert not np.allclose(a, b)  # a fresh mask each call
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), layer(x).numpy())
    pe = PositionalEncoding(E, dropout=0.5)
    ones = mg.ones(6, 2, E, dtype=np.float64)
    assert (pe(ones).numpy() == 0).any()
    pe.eval()
    assert not (pe(ones).numpy() == 0).any()
