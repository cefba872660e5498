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
        with pytest.raises(ValueError, match=f"MultiheadAttention: {name} must be"):
            MultiheadAttention(**kw)


def test_mha_dropout_bounds():
    assert MultiheadAttention(4, 2, dropout=1.0).dropout == 1.0
    assert MultiheadAttention(4, 2, dropout=0.0).dropout == 0.0
    with pytest.raises(ValueError, match=r"MultiheadAttention: invalid dropout .*\[0.0, 1.0\]"):
        MultiheadAttention(4, 2, dropout=-0.1)
    with pytest.raises(ValueError, match=r"MultiheadAttention: invalid dropout .*\[0.0, 1.0\]"):
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
    with pytest.raises(ValueError, match="MultiheadAttention: query must be a Tensor"):
        mha(np.ones((4, 2, E)), x, x)
    with pytest.raises(ValueError, match="MultiheadAttention: key must be a Tensor"):
        mha(x, mg.ones(1, 4, 2, E), x)
    with pytest.raises(ValueError, match="MultiheadAttention: value must be a Tensor"):
        mha(x, x, mg.ones(E))
    with pytest.raises(ValueError, match="all be batched .* or all unbatched"):
        mha(x, mg.ones(4, E), mg.ones(4, E))
    with pytest.raises(ValueError, match="all be batched .* or all unbatched"):
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
        with pytest.raises(ValueError, match=r"all be batched \(3 axes\) or all unbatched"):
            mha(*args)
    with pytest.raises(ValueError, match=r"all be batched \(3 axes\) or all unbatched"):
        multi_head_attention_forward(mg.ones(4, 2, 2, E), mg.ones(4, 2, 2, E),
                                     mg.ones(4, 2, 2, E), H, mha.in_proj_weight,
                                     mha.in_proj_bias, None, None, False, 0.0,
                                     mha.out_proj.weight, mha.out_proj.bias)
