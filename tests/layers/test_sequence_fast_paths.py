"""The array fast paths of the sequence Functions against their op-written twins.

The softmax (``ops/softmax.py``, which attention calls with its scale), SplitQKV and the LSTM
cell have a backward that runs on plain arrays
(in place) when no graph is recorded, and the same formula in ops under ``create_graph``. The
two must agree; gradgradcheck (tests/test_op_specs.py) only exercises the second.
"""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from layers import LSTM, MultiheadAttention
from layers.attention import SplitQKV
from minigrad.ops.softmax import Softmax

RNG = np.random.default_rng(11)


def _both_backwards(make, inputs, grad):
    """Gradients of the inputs from the fast path (plain backward) and from the ops path
    (``create_graph=True``)."""
    results = []
    for create_graph in (False, True):
        ts = [mg.tensor(a, requires_grad=True) for a in inputs]
        outs = make(*ts)
        outs = outs if isinstance(outs, tuple) else (outs,)
        loss = sum((o * mg.tensor(g)).sum() for o, g in zip(outs, grad))
        grads = mg.grad(loss, ts, create_graph=create_graph)
        results.append([g.numpy() for g in grads])
    return results


@pytest.mark.parametrize("dim", [2, 1, 0])
@pytest.mark.parametrize("scale", [1.0, 0.35, -2.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_fast_backward_matches_ops_and_formula(scale, dtype, dim):
    x = RNG.normal(size=(2, 3, 5)).astype(dtype)
    g = RNG.normal(size=x.shape).astype(dtype)
    fast, ops = _both_backwards(lambda t: Softmax.apply(t, dim=dim, scale=scale), [x], [g])
    e = np.exp(scale * x - (scale * x).max(dim, keepdims=True))
    w = e / e.sum(dim, keepdims=True)
    expected = scale * w * (g - (g * w).sum(dim, keepdims=True))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fast[0], expected, atol=tol)
    np.testing.assert_allclose(ops[0], expected, atol=tol)
    assert fast[0].dtype == dtype


@pytest.mark.parametrize("batch_first", [False, True])
def test_split_qkv_backward_writes_the_projection_layout(batch_first):
    A, B, heads, D = 3, 4, 2, 5
    qkv = RNG.normal(size=(A, B, 3 * heads * D))
    shape = (A, heads, B, D) if batch_first else (B, heads, A, D)  # (N, H, L, D)
    grads = [RNG.normal(size=shape) for _ in range(3)]
    fast, ops = _both_backwards(
        lambda t: SplitQKV.apply(t, heads=heads, batch_first=batch_first), [qkv], grads)
    # the reference: q, k, v are the three E-wide column blocks, heads of width D inside each
    expected = np.empty_like(qkv)
    for i, g in enumerate(grads):
        per_row = g.transpose(0, 2, 1, 3) if batch_first else g.transpose(2, 0, 1, 3)
        expected[..., i * heads * D:(i + 1) * heads * D] = per_row.reshape(A, B, heads * D)
    np.testing.assert_array_equal(fast[0], expected)
    np.testing.assert_array_equal(ops[0], expected)


def test_attention_keeps_float32_with_a_numpy_scale():
    q = mg.tensor(RNG.normal(size=(2, 3, 4)).astype(np.float32))
    out = F.scaled_dot_product_attention(q, q, q, scale=np.float64(0.5))
    assert out.dtype == np.float32


def test_self_attention_fast_paths_match_separate_inputs():
    """MultiheadAttention(x, x, x) (fused projection, SplitQKV, scale in the softmax) against
    the same module on three distinct tensors (three projections): outputs and gradients."""
    mha = MultiheadAttention(8, 2, batch_first=True, dtype=np.float64)
    x0 = RNG.normal(size=(3, 4, 8))
    g = RNG.normal(size=(3, 4, 8))
    x = mg.tensor(x0, requires_grad=True)
    mha(x, x, x, need_weights=False)[0].backward(mg.tensor(g))
    fast = [x.grad.numpy()] + [p.grad.numpy() for p in mha.parameters()]
    mha.zero_grad()
    xs = [mg.tensor(x0, requires_grad=True) for _ in range(3)]
    mha(*xs, need_weights=False)[0].backward(mg.tensor(g))
    slow = [sum(t.grad.numpy() for t in xs)] + [p.grad.numpy() for p in mha.parameters()]
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_lstm_layer_gradients_match_create_graph_path():
    """The LSTM layer's per-step node (hidden product with the input term, bias and weight
    route added in place) gives the same gradients on the array path and the ops path."""
    lstm = LSTM(3, 4, dtype=np.float64)
    x0 = RNG.normal(size=(5, 2, 3))
    g = RNG.normal(size=(5, 2, 4))
    grads = []
    for create_graph in (False, True):
        x = mg.tensor(x0, requires_grad=True)
        params = list(lstm.parameters())
        loss = (lstm(x)[0] * mg.tensor(g)).sum()
        grads.append([t.numpy() for t in mg.grad(loss, [x] + params,
                                                 create_graph=create_graph)])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, atol=1e-12)
