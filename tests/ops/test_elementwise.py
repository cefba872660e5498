"""Elementwise ops and the functional activations: tie rules, keyword-only Function arguments,
and every documented option of the activations, dropout, embedding, one_hot and attention."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.functional as F
from minigrad.ops.elementwise import Cast, Maximum, Minimum, Where

RNG = np.random.default_rng(1)


@given(x=st.lists(st.sampled_from([-1.0, 0.0, 2.0]), min_size=4, max_size=4),
       y=st.lists(st.sampled_from([-1.0, 0.0, 2.0]), min_size=4, max_size=4))
def test_maximum_and_minimum_split_ties_evenly(x, y):
    x, y = np.array(x), np.array(y)
    for fn, picks in ((mg.maximum, x > y), (mg.minimum, x < y)):
        a, b = mg.tensor(x, requires_grad=True), mg.tensor(y, requires_grad=True)
        ga, gb = mg.grad(fn(a, b).sum(), (a, b))
        share = picks + 0.5 * (x == y)
        np.testing.assert_array_equal(ga.numpy(), share)
        np.testing.assert_array_equal(gb.numpy(), 1 - share)


def test_maximum_minimum_are_separate_functions():
    a = mg.tensor([1.0, 3.0], requires_grad=True)
    assert type(mg.maximum(a, 2.0).grad_fn) is Maximum
    assert type(mg.minimum(a, 2.0).grad_fn) is Minimum
    np.testing.assert_array_equal(mg.minimum(a, 2.0).numpy(), [1.0, 2.0])


def test_functions_take_non_tensor_arguments_by_keyword_and_return_one_grad_per_tensor():
    x = mg.tensor([1.0, -2.0], requires_grad=True)
    y = mg.tensor([5.0, 6.0], requires_grad=True)
    out = Where.apply(x, y, cond=np.array([True, False]))
    assert len(type(out.grad_fn).backward(out.grad_fn, mg.ones(2))) == 2
    gx, gy = mg.grad(out.sum(), (x, y))
    np.testing.assert_array_equal(gx.numpy(), [1.0, 0.0])
    np.testing.assert_array_equal(gy.numpy(), [0.0, 1.0])
    c = Cast.apply(x, dtype=np.float64)
    (g,) = mg.grad((c * c).sum(), (x,))
    assert c.dtype == np.float64 and g.dtype == np.float32
    np.testing.assert_array_equal(g.numpy(), [2.0, -4.0])


@pytest.mark.parametrize("slope", [0.01, 0.2, 1.5])
def test_leaky_relu_negative_slope(slope):
    x = np.array([-2.0, -0.5, 0.0, 3.0])
    t = mg.tensor(x, requires_grad=True)
    out = F.leaky_relu(t, negative_slope=slope)
    (g,) = mg.grad(out.sum(), (t,))
    np.testing.assert_allclose(out.numpy(), np.where(x > 0, x, slope * x), rtol=1e-6)
    np.testing.assert_allclose(g.numpy(), np.where(x > 0, 1.0, slope), rtol=1e-6)


@pytest.mark.parametrize("alpha", [1.0, 0.3, 2.0])
def test_elu_alpha(alpha):
    x = np.array([-3.0, -0.5, 0.5, 2.0])
    np.testing.assert_allclose(F.elu(mg.tensor(x), alpha=alpha).numpy(),
                               np.where(x > 0, x, alpha * np.expm1(x)), rtol=1e-6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_approximate(approximate):
    x = np.linspace(-4, 4, 9)
    erf = np.vectorize(math.erf)
    exact = x * 0.5 * (1 + erf(x / math.sqrt(2)))
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    out = F.gelu(mg.tensor(x, dtype=mg.float64), approximate=approximate).numpy()
    np.testing.assert_allclose(out, exact if approximate == "none" else tanh_form, rtol=1e-12,
                               atol=1e-14)
    assert np.abs(exact - tanh_form).max() > 1e-5  # the two options really differ
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(mg.tensor(x), approximate="fast")


@pytest.mark.parametrize("p", [0.0, 0.3, 0.75, 1.0])
@pytest.mark.parametrize("training", [True, False])
def test_dropout_p_and_training(p, training):
    x = np.ones((200, 50))
    mg.manual_seed(0)
    out = F.dropout(mg.tensor(x), p=p, training=training).numpy()
    if not training or p == 0:
        np.testing.assert_array_equal(out, x)
        return
    kept = out != 0
    if p < 1:
        np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-6)  # inverted scaling
    assert abs(kept.mean() - (1 - p)) < 0.02
    with pytest.raises(ValueError, match=r"^dropout: p must be a probability in \[0, 1\], "
                                         r"got 1.5$"):
        F.dropout(mg.tensor(x), p=1.5)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax_dim_and_axis_alias(dim):
    x = RNG.normal(size=(3, 4))
    e = np.exp(x - x.max(dim, keepdims=True))
    expected = e / e.sum(dim, keepdims=True)
    np.testing.assert_allclose(F.softmax(mg.tensor(x), dim=dim).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(F.softmax(mg.tensor(x), axis=dim).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(F.log_softmax(mg.tensor(x), dim).numpy(), np.log(expected),
                               rtol=1e-6)
    with pytest.raises(TypeError, match="got both dim"):
        F.softmax(mg.tensor(x), dim=0, axis=1)


@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_embedding_padding_idx_gets_no_gradient(padding_idx):
    w = mg.tensor(RNG.normal(size=(4, 3)), requires_grad=True)
    idx = np.array([[0, 3, 3], [1, 0, 2]])
    out = F.embedding(mg.tensor(idx), w, padding_idx=padding_idx)
    np.testing.assert_array_equal(out.numpy(), w.numpy()[idx])
    (g,) = mg.grad(out.sum(), (w,))
    expected = np.bincount(idx.reshape(-1), minlength=4)[:, None] * np.ones(3)
    if padding_idx is not None:
        expected[padding_idx] = 0
    np.testing.assert_array_equal(g.numpy(), expected)


@pytest.mark.parametrize("num_classes", [-1, 3, 6])
def test_one_hot_num_classes(num_classes):
    idx = np.array([[0, 2], [1, 1]])
    out = F.one_hot(mg.tensor(idx), num_classes=num_classes)
    C = 3 if num_classes == -1 else num_classes
    np.testing.assert_array_equal(out.numpy(), np.eye(C, dtype=np.int64)[idx])
    with pytest.raises(IndexError, match=r"indices must be in \[0, 2\)"):
        F.one_hot(mg.tensor(idx), num_classes=2)


def _attention_reference(q, k, v, mask=None, causal=False, scale=None):
    s = q @ np.swapaxes(k, -1, -2) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    L, S = s.shape[-2:]
    if causal:
        s = np.where(np.tril(np.ones((L, S), bool)), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    w = np.exp(s - s.max(-1, keepdims=True))
    w = w / w.sum(-1, keepdims=True)
    return w @ v, w


@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("mask_kind", [None, "bool", "float"])
@pytest.mark.parametrize("scale", [None, 0.2])
def test_attention_mask_causal_and_scale(is_causal, mask_kind, scale):
    q, k, v = (RNG.normal(size=(2, 3, 4)) for _ in range(3))
    mask = None
    if mask_kind == "bool":
        mask = RNG.uniform(size=(3, 3)) > 0.3
        mask[:, 0] = True  # every row keeps a key, so the reference has no 0/0
    elif mask_kind == "float":
        mask = RNG.normal(size=(3, 3))
    out, w = F.scaled_dot_product_attention(mg.tensor(q), mg.tensor(k), mg.tensor(v),
                                            attn_mask=mask, is_causal=is_causal, scale=scale,
                                            return_weights=True)
    ref_out, ref_w = _attention_reference(q, k, v, mask, is_causal, scale)
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(w.numpy(), ref_w, rtol=1e-5, atol=1e-7)


def test_attention_dropout_only_in_training():
    q, k, v = (mg.tensor(RNG.normal(size=(1, 3, 2))) for _ in range(3))
    plain = F.scaled_dot_product_attention(q, k, v).numpy()
    np.testing.assert_array_equal(
        F.scaled_dot_product_attention(q, k, v, dropout_p=0.9, training=False).numpy(), plain)
    mg.manual_seed(0)
    _, w = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, return_weights=True)
    assert (w.numpy() == 0).any()


@pytest.mark.parametrize("is_causal", [False, True])
def test_attention_options_vs_torch(is_causal):
    torch = pytest.importorskip("torch")
    q, k, v = (RNG.normal(size=(2, 3, 4)) for _ in range(3))
    mask = RNG.uniform(size=(3, 3)) > 0.3
    mask[:, 0] = True
    T = torch.tensor
    for kwargs in ({"attn_mask": mask}, {"scale": 0.3}, {"attn_mask": RNG.normal(size=(3, 3))}):
        if is_causal and "attn_mask" in kwargs:
            continue  # torch forbids is_causal together with attn_mask
        ours = F.scaled_dot_product_attention(mg.tensor(q), mg.tensor(k), mg.tensor(v),
                                              is_causal=is_causal, **kwargs)
        theirs = torch.nn.functional.scaled_dot_product_attention(
            T(q), T(k), T(v), is_causal=is_causal,
            **{n: T(a) if n == "attn_mask" else a for n, a in kwargs.items()})
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-9)


def test_activation_options_vs_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = RNG.normal(size=(3, 5)) * 3
    T = torch.tensor
    pairs = [
        (F.leaky_relu(mg.tensor(x), negative_slope=0.2), tf.leaky_relu(T(x), negative_slope=0.2)),
        (F.elu(mg.tensor(x), alpha=0.7), tf.elu(T(x), alpha=0.7)),
        (F.selu(mg.tensor(x)), tf.selu(T(x))),
        (F.gelu(mg.tensor(x), approximate="tanh"), tf.gelu(T(x), approximate="tanh")),
        (F.gelu(mg.tensor(x)), tf.gelu(T(x))),
        (F.logsigmoid(mg.tensor(x)), tf.logsigmoid(T(x))),
        (F.softmax(mg.tensor(x), dim=0), tf.softmax(T(x), dim=0)),
        (F.log_softmax(mg.tensor(x), dim=1), tf.log_softmax(T(x), dim=1)),
        (F.one_hot(mg.tensor([0, 2]), num_classes=5), tf.one_hot(T([0, 2]), num_classes=5)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-12)
    w = RNG.normal(size=(4, 3))
    ours, theirs = mg.tensor(w, requires_grad=True), T(w, requires_grad=True)
    idx = np.array([0, 2, 2, 3])
    F.embedding(mg.tensor(idx), ours, padding_idx=2).sum().backward()
    tf.embedding(T(idx), theirs, padding_idx=2).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())
