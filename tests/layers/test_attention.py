"""MultiheadAttention and F.scaled_dot_product_attention: against the step-by-step NumPy
reference always, against PyTorch (state dicts loaded through NumPy arrays) when installed."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from layers import MultiheadAttention
import attention_reference as R

RNG = np.random.default_rng(7)
E, H, L, S, N = 8, 2, 4, 5, 3
OPTIONS = [{}, {"kdim": 5, "vdim": 3}, {"add_bias_kv": True}, {"add_zero_attn": True},
           {"batch_first": True}, {"bias": False}]


def _masks():
    blocked = RNG.random((L, S)) < 0.3
    blocked[:, 0] = False
    padding = RNG.random((N, S)) < 0.3
    return [{}, {"attn_mask": blocked}, {"key_padding_mask": padding},
            {"attn_mask": np.where(blocked, -np.inf, RNG.normal(size=(L, S))),
             "key_padding_mask": padding},
            {"attn_mask": RNG.random((N * H, L, S)) < 0.3}]


def _inputs(kdim=E, vdim=E, batch_first=False):
    shape = (lambda T, d: (N, T, d)) if batch_first else (lambda T, d: (T, N, d))
    return RNG.normal(size=shape(L, E)), RNG.normal(size=shape(S, kdim)), \
        RNG.normal(size=shape(S, vdim))


def _weights(mha):
    names = (["in_proj_weight"] if mha.in_proj_weight is not None else
             ["q_proj_weight", "k_proj_weight", "v_proj_weight"])
    return [getattr(mha, n).numpy() for n in names] + [
        mha.in_proj_bias.numpy(), mha.out_proj.weight.numpy(), mha.out_proj.bias.numpy()]


@pytest.mark.parametrize("average", [True, False])
@pytest.mark.parametrize("kdim", [None, 5])
def test_mha_matches_numpy_reference(average, kdim):
    mha = MultiheadAttention(E, H, kdim=kdim, vdim=kdim, dtype=np.float64)
    q, k, v = _inputs(kdim or E, kdim or E)
    for masks in _masks():
        out, attn = mha(mg.tensor(q), mg.tensor(k), mg.tensor(v), average_attn_weights=average,
                        **masks)
        ref_out, ref_attn = R.mha(q, k, v, *_weights(mha), num_heads=H,
                                  average_attn_weights=average, **masks)
        np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-12)
        np.testing.assert_allclose(attn.numpy(), ref_attn, atol=1e-12)


def test_mha_unbatched_and_no_weights():
    mha = MultiheadAttention(E, H, dtype=np.float64)
    q, k, v = (a[:, 0] for a in _inputs())
    blocked = RNG.random((L, S)) < 0.3
    out, attn = mha(mg.tensor(q), mg.tensor(k), mg.tensor(v), attn_mask=blocked,
                    average_attn_weights=False)
    ref_out, ref_attn = R.mha(q, k, v, *_weights(mha), num_heads=H, attn_mask=blocked,
                              average_attn_weights=False)
    assert out.shape == (L, E) and attn.shape == (H, L, S)
    np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-12)
    np.testing.assert_allclose(attn.numpy(), ref_attn, atol=1e-12)
    out2, none = mha(mg.tensor(q), mg.tensor(k), mg.tensor(v), attn_mask=blocked,
                     need_weights=False)
    assert none is None
    np.testing.assert_allclose(out2.numpy(), ref_out, atol=1e-12)


def test_mha_is_causal_without_mask_is_the_causal_mask():
    mha = MultiheadAttention(E, H, dtype=np.float64)
    x = mg.tensor(RNG.normal(size=(L, N, E)))
    causal = ~np.tril(np.ones((L, L), bool))
    np.testing.assert_allclose(mha(x, x, x, is_causal=True)[0].numpy(),
                               mha(x, x, x, attn_mask=causal)[0].numpy(), atol=1e-12)


def test_mha_fully_masked_row_gives_zero_weights_and_finite_gradients():
    mha = MultiheadAttention(E, H, dtype=np.float64)
    q, k, v = (mg.tensor(a, requires_grad=True) for a in _inputs())
    padding = np.zeros((N, S), bool)
    padding[1] = True  # sample 1 has no key at all
    out, attn = mha(q, k, v, key_padding_mask=padding)
    assert np.isfinite(out.numpy()).all()
    np.testing.assert_array_equal(attn.numpy()[1], 0.0)
    # its rows carry only the output projection's bias
    np.testing.assert_allclose(out.numpy()[:, 1], np.broadcast_to(mha.out_proj.bias.numpy(),
                                                                  (L, E)), atol=1e-12)
    out.sum().backward()
    for t in (q, k, v, mha.in_proj_weight):
        assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_array_equal(q.grad.numpy()[:, 1], 0.0)


def test_mha_dropout_only_in_training():
    mha = MultiheadAttention(E, H, dropout=0.5, dtype=np.float64)
    x = mg.tensor(RNG.normal(size=(L, N, E)))
    mg.manual_seed(0)
    _, attn = mha(x, x, x, average_attn_weights=False)
    assert (attn.numpy() == 0).any()
    mha.eval()
    _, a1 = mha(x, x, x)
    _, a2 = mha(x, x, x)
    np.testing.assert_array_equal(a1.numpy(), a2.numpy())
    np.testing.assert_allclose(a1.numpy().sum(-1), 1.0)


def test_mha_parameter_layout():
    same = MultiheadAttention(E, H, add_bias_kv=True)
    assert [n for n, _ in same.named_parameters()] == [
        "in_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight", "out_proj.bias"]
    assert same.in_proj_weight.shape == (3 * E, E) and same.bias_k.shape == (1, 1, E)
    np.testing.assert_array_equal(same.in_proj_bias.numpy(), 0.0)
    apart = MultiheadAttention(E, H, kdim=5, vdim=3, bias=False)
    assert {n: p.shape for n, p in apart.named_parameters()} == {
        "q_proj_weight": (E, E), "k_proj_weight": (E, 5), "v_proj_weight": (E, 3),
        "out_proj.weight": (E, E)}
    assert apart.in_proj_weight is None and apart.in_proj_bias is None


def test_mha_gradcheck_with_bias_kv_and_zero_attn():
    mha = MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True, dtype=np.float64)
    q = mg.tensor(RNG.normal(size=(2, 1, 4)), requires_grad=True)
    kv = mg.tensor(RNG.normal(size=(3, 1, 4)), requires_grad=True)
    blocked = np.array([[False, True, True], [True, True, True]])
    fn = lambda q, kv, bk: mha(q, kv, kv, attn_mask=blocked)[0]  # noqa: E731
    assert mg.gradcheck(fn, [q, kv, mha.bias_k])
    assert mg.gradgradcheck(fn, [q, kv, mha.bias_k])


@pytest.mark.parametrize("bad, message", [
    (lambda m, x: m(x[..., :3], x, x), "query must be a Tensor of shape"),
    (lambda m, x: m(x, x, x, attn_mask=np.zeros((2, 2), bool)), "attn_mask must have shape"),
    (lambda m, x: m(x, x, x, key_padding_mask=np.zeros((3, 4), bool)), "key_padding_mask"),
    (lambda m, x: m(x, x, x, attn_mask=np.zeros((4, 4), np.int64)), "must be bool"),
])
def test_mha_errors_name_the_layer_and_shapes(bad, message):
    m = MultiheadAttention(E, H)
    with pytest.raises((ValueError, TypeError), match=message):
        bad(m, mg.ones(4, 2, E))


def test_mha_constructor_errors():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="dropout"):
        MultiheadAttention(8, 2, dropout=1.5)


def test_sdpa_errors():
    q = mg.ones(2, 3, 4)
    with pytest.raises(ValueError, match="same width E"):
        F.scaled_dot_product_attention(q, mg.ones(2, 3, 5), mg.ones(2, 3, 5))
    with pytest.raises(ValueError, match="same length S"):
        F.scaled_dot_product_attention(q, q, mg.ones(2, 4, 4))
    with pytest.raises(ValueError, match="broadcast to"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="dropout_p"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=2.0)
    with pytest.raises(ValueError, match="multiple of the key/value heads"):
        F.scaled_dot_product_attention(mg.ones(1, 3, 2, 4), mg.ones(1, 2, 2, 4),
                                       mg.ones(1, 2, 2, 4), enable_gqa=True)


def test_sdpa_extreme_scores_stay_finite():
    q = mg.tensor(np.full((1, 2, 3), 1e150), requires_grad=True)
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=np.array([[True, False],
                                                                      [False, False]]))
    out.sum().backward()
    assert np.isfinite(out.numpy()).all() and np.isfinite(q.grad.numpy()).all()


def test_sdpa_enable_gqa_repeats_key_heads():
    q = RNG.normal(size=(2, 4, 3, 5))
    k, v = RNG.normal(size=(2, 2, 6, 5)), RNG.normal(size=(2, 2, 6, 5))
    out = F.scaled_dot_product_attention(mg.tensor(q), mg.tensor(k), mg.tensor(v),
                                         enable_gqa=True)
    ref, _ = R.sdpa(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1))
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-12)


def _assert_close_where_torch_defined(ours, theirs):
    """Equal where PyTorch's MHA is defined; where a row lost every key PyTorch gives NaN and
    minigrad a finite value (zero weights)."""
    ours, theirs = ours.numpy(), theirs.detach().numpy()
    defined = ~np.isnan(theirs)
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours[defined], theirs[defined], atol=1e-10)


def _load_torch(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "default")
def test_mha_vs_torch(options):
    torch = pytest.importorskip("torch")
    theirs = torch.nn.MultiheadAttention(E, H, **options).double()
    ours = MultiheadAttention(E, H, **options)
    _load_torch(ours, theirs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    q, k, v = _inputs(options.get("kdim", E), options.get("vdim", E),
                      options.get("batch_first", False))
    for mask in _masks():
        for average in (True, False):
            out, attn = ours(mg.tensor(q), mg.tensor(k), mg.tensor(v),
                             average_attn_weights=average, **mask)
            t_out, t_attn = theirs(torch.tensor(q), torch.tensor(k), torch.tensor(v),
                                   average_attn_weights=average,
                                   **{n: torch.tensor(m) for n, m in mask.items()})
            _assert_close_where_torch_defined(out, t_out)
            _assert_close_where_torch_defined(attn, t_attn)
        out, none = ours(mg.tensor(q), mg.tensor(k), mg.tensor(v), need_weights=False, **mask)
        assert none is None
        _assert_close_where_torch_defined(out, t_out)


def test_mha_unbatched_vs_torch():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.MultiheadAttention(E, H, kdim=5, vdim=3).double()
    ours = MultiheadAttention(E, H, kdim=5, vdim=3)
    _load_torch(ours, theirs)
    q, k, v = (a[:, 0] for a in _inputs(5, 3))
    padding = RNG.random(S) < 0.4
    padding[0] = False
    out, attn = ours(mg.tensor(q), mg.tensor(k), mg.tensor(v), key_padding_mask=padding)
    t_out, t_attn = theirs(torch.tensor(q), torch.tensor(k), torch.tensor(v),
                           key_padding_mask=torch.tensor(padding))
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(attn.numpy(), t_attn.detach().numpy(), atol=1e-10)


@pytest.mark.parametrize("is_causal", [False, True])
def test_sdpa_options_vs_torch(is_causal):
    torch = pytest.importorskip("torch")
    q, k, v = RNG.normal(size=(2, 2, 4, 3)), RNG.normal(size=(2, 2, 4, 3)), \
        RNG.normal(size=(2, 2, 4, 5))
    fully_masked = RNG.random((4, 4)) < 0.5
    fully_masked[2] = False
    additive = np.where(RNG.random((4, 4)) < 0.3, -np.inf, RNG.normal(size=(4, 4)))
    additive[:, 0] = 0.0
    T = torch.tensor
    cases = [{"scale": 0.3}, {"attn_mask": fully_masked}, {"attn_mask": additive}, {}]
    for case in cases:
        if is_causal and "attn_mask" in case:
            continue  # PyTorch forbids is_causal together with attn_mask
        ours = F.scaled_dot_product_attention(mg.tensor(q), mg.tensor(k), mg.tensor(v),
                                              is_causal=is_causal, **case)
        theirs = torch.nn.functional.scaled_dot_product_attention(
            T(q), T(k), T(v), is_causal=is_causal,
            **{n: T(a) if n == "attn_mask" else a for n, a in case.items()})
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-10)
    gqa = F.scaled_dot_product_attention(mg.tensor(q), mg.tensor(k[:, :1]), mg.tensor(v[:, :1]),
                                         enable_gqa=True)
    t_gqa = torch.nn.functional.scaled_dot_product_attention(T(q), T(k[:, :1]), T(v[:, :1]),
                                                             enable_gqa=True)
    np.testing.assert_allclose(gqa.numpy(), t_gqa.numpy(), atol=1e-10)


def test_sdpa_fully_masked_row_gradients_vs_torch():
    torch = pytest.importorskip("torch")
    q, k, v = (RNG.normal(size=(1, 3, 4)) for _ in range(3))
    allowed = np.array([[True, False, True], [False, False, False], [True, True, True]])
    ours = [mg.tensor(a, requires_grad=True) for a in (q, k, v)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    F.scaled_dot_product_attention(*ours, attn_mask=allowed).sum().backward()
    torch.nn.functional.scaled_dot_product_attention(
        *theirs, attn_mask=torch.tensor(allowed)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("batch_first", [False, True])
def test_self_attention_fast_path_matches_reference_and_gradchecks(batch_first):
    """query is key is value: one projection, split by Unbind (whose backward is a stack)."""
    mha = MultiheadAttention(4, 2, batch_first=batch_first, dtype=np.float64)
    x0 = RNG.normal(size=(2, 3, 4))
    out, attn = mha(mg.tensor(x0), mg.tensor(x0), mg.tensor(x0.copy()))  # three tensors
    x = mg.tensor(x0, requires_grad=True)
    fast, fast_attn = mha(x, x, x)
    np.testing.assert_allclose(fast.numpy(), out.numpy(), atol=1e-12)
    np.testing.assert_allclose(fast_attn.numpy(), attn.numpy(), atol=1e-12)
    seq_first = x0.transpose(1, 0, 2) if batch_first else x0
    ref, _ = R.mha(seq_first, seq_first, seq_first, *_weights(mha), num_heads=2)
    np.testing.assert_allclose(fast.numpy(), ref.transpose(1, 0, 2) if batch_first else ref,
                               atol=1e-12)
    fn = lambda t, w: mha(t, t, t)[0]  # noqa: E731  (w is mha.in_proj_weight itself)
    assert mg.gradcheck(fn, [x, mha.in_proj_weight])
    assert mg.gradgradcheck(fn, [x, mha.in_proj_weight])


def test_an_unbatched_float_key_padding_mask_tensor_gets_its_gradient():
    # the unbatched path reshapes the mask to one sample; a Tensor mask must stay one
    rng = np.random.default_rng(3)
    mha = MultiheadAttention(4, 2)
    x = rng.normal(size=(3, 4))
    mask = rng.normal(size=3)
    unbatched = mg.tensor(mask, requires_grad=True)
    mha(mg.tensor(x), mg.tensor(x), mg.tensor(x), key_padding_mask=unbatched)[0].sum().backward()
    batched = mg.tensor(mask[None], requires_grad=True)
    x1 = mg.tensor(x[:, None])
    mha(x1, x1, x1, key_padding_mask=batched)[0].sum().backward()
    assert unbatched.grad is not None and np.abs(unbatched.grad.data).sum() > 0
    np.testing.assert_allclose(unbatched.grad.data, batched.grad.data[0], rtol=1e-12)
