"""What ``F.scaled_dot_product_attention`` (``minigrad/attention.py``) promises beyond the op-spec
rows: its errors word for word, the conditions of ``enable_gqa``, the mask's shape check, and a
float mask Tensor with -inf entries (those keys removed, the rest added, the mask itself
differentiable). Each test fails for a small, realistic change found by a mutation run.
"""
import re

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F

RNG = np.random.default_rng(0)
Q, K, V = (mg.tensor(RNG.standard_normal(shape)) for shape in ((2, 3, 4), (2, 5, 4), (2, 5, 6)))


def sdpa_reference(q, k, v, bias):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]) + bias
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return weights @ v


def message(text):
    return "^" + re.escape("scaled_dot_product_attention: " + text) + "$"


@pytest.mark.parametrize("position,name", [(0, "query"), (1, "key"), (2, "value")])
def test_each_operand_is_named_when_it_is_not_a_tensor_or_too_flat(position, name):
    operands = [Q, K, V]
    operands[position] = [[1.0]]
    with pytest.raises(TypeError, match=message(f"{name} must be a Tensor, got list")):
        F.scaled_dot_product_attention(*operands)
    operands[position] = mg.tensor(np.ones(4))
    with pytest.raises(ValueError, match=message(
            f"{name} must have shape (..., length, width) with at least 2 axes, got shape (4,)")):
        F.scaled_dot_product_attention(*operands)


def test_widths_and_lengths_must_agree():
    with pytest.raises(ValueError, match=message(
            "query (..., L, E) and key (..., S, E) need the same width E, got shapes (2, 3, 4) "
            "and (2, 5, 3)")):
        F.scaled_dot_product_attention(Q, mg.tensor(np.ones((2, 5, 3))), V)
    with pytest.raises(ValueError, match=message(
            "key (..., S, E) and value (..., S, Ev) need the same length S, got shapes "
            "(2, 5, 4) and (2, 4, 6)")):
        F.scaled_dot_product_attention(Q, K, mg.tensor(np.ones((2, 4, 6))))


@pytest.mark.parametrize("shapes", [
    ((3, 4), (2, 5, 4), (2, 5, 6)),          # query without a head axis
    ((2, 3, 4), (5, 4), (5, 6)),             # key and value without one
    ((4, 3, 4), (2, 5, 4), (1, 5, 6)),       # key and value heads differ
])
def test_enable_gqa_needs_heads_on_axis_minus_3(shapes):
    q, k, v = (mg.tensor(np.ones(s)) for s in shapes)
    with pytest.raises(ValueError, match=message(
            f"enable_gqa needs heads on axis -3 of query, key and value, got shapes "
            f"{shapes[0]}, {shapes[1]}, {shapes[2]}")):
        F.scaled_dot_product_attention(q, k, v, enable_gqa=True)


def test_enable_gqa_needs_a_multiple_of_the_key_heads():
    q, k, v = (mg.tensor(np.ones(s)) for s in ((3, 2, 4), (2, 5, 4), (2, 5, 6)))
    with pytest.raises(ValueError, match=message(
            "enable_gqa needs the query heads (3) to be a multiple of the key/value heads (2)")):
        F.scaled_dot_product_attention(q, k, v, enable_gqa=True)


def test_enable_gqa_shares_each_key_head_among_consecutive_query_heads():
    q = RNG.standard_normal((4, 3, 4))
    k, v = RNG.standard_normal((2, 5, 4)), RNG.standard_normal((2, 5, 6))
    out = F.scaled_dot_product_attention(mg.tensor(q), mg.tensor(k), mg.tensor(v),
                                         enable_gqa=True)
    heads = [0, 0, 1, 1]
    np.testing.assert_allclose(out.numpy(), sdpa_reference(q, k[heads], v[heads], 0.0),
                               rtol=1e-10)


@pytest.mark.parametrize("shape", [(3,), (1, 6), (4, 5), (3, 4), (2, 1, 3, 5, 1)])
def test_a_mask_that_does_not_broadcast_to_l_by_s_is_refused(shape):
    with pytest.raises(ValueError, match=message(
            f"attn_mask must broadcast to (..., L, S) = (..., 3, 5), got shape {shape}")):
        F.scaled_dot_product_attention(Q, K, V, attn_mask=np.zeros(shape, dtype=bool))


def test_an_integer_mask_is_refused_naming_its_dtype():
    with pytest.raises(TypeError, match=message(
            "attn_mask must be bool (True = attend) or float (added to the scores), got dtype "
            "int64")):
        F.scaled_dot_product_attention(Q, K, V, attn_mask=np.ones((3, 5), dtype=np.int64))


@pytest.mark.parametrize("as_tensor", [True, False])
def test_a_float_mask_with_minus_inf_removes_those_keys_and_adds_the_rest(as_tensor):
    bias = RNG.standard_normal((3, 5))
    bias[0, 1] = bias[2, 4] = -np.inf
    mask = mg.tensor(bias.copy(), requires_grad=True) if as_tensor else bias.copy()
    out = F.scaled_dot_product_attention(Q, K, V, attn_mask=mask)
    expected = sdpa_reference(Q.numpy(), K.numpy(), V.numpy(), bias)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)
    if not as_tensor:
        return
    out.sum().backward()
    grad = mask.grad.numpy()
    assert grad[0, 1] == 0.0 and grad[2, 4] == 0.0 and np.isfinite(grad).all()
    step, finite = 1e-6, bias.copy()
    finite[0, 1] = finite[2, 4] = -1e300      # the same removal, as a number
    probe = (1, 2)
    up, down = finite.copy(), finite.copy()
    up[probe] += step
    down[probe] -= step
    numeric = (sdpa_reference(Q.numpy(), K.numpy(), V.numpy(), up).sum()
               - sdpa_reference(Q.numpy(), K.numpy(), V.numpy(), down).sum()) / (2 * step)
    assert grad[probe] == pytest.approx(numeric, rel=1e-6)


def test_a_fully_masked_row_gives_zeros_in_the_inputs_dtype_and_leaves_the_others():
    q, k, v = (RNG.standard_normal(s).astype(np.float32) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 6)))
    allowed = np.ones((2, 3, 5), dtype=bool)
    allowed[0, 1, 3] = False
    allowed[1, 2, :] = False                  # only this row, in the second batch, sees nothing
    out = F.scaled_dot_product_attention(mg.tensor(q), mg.tensor(k), mg.tensor(v),
                                         attn_mask=allowed)
    assert out.dtype == np.float32 and np.isfinite(out.numpy()).all()
    np.testing.assert_array_equal(out.numpy()[1, 2], np.zeros(6, np.float32))
    bias = np.where(allowed, 0.0, -np.inf)
    bias[1, 2] = 0.0                           # the reference cannot take an empty row
    expected = sdpa_reference(q.astype(np.float64), k, v, bias)
    expected[1, 2] = 0.0
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_a_float_array_mask_with_a_row_of_minus_inf_gives_zeros_there():
    bias = RNG.standard_normal((3, 5))
    bias[1] = -np.inf
    out = F.scaled_dot_product_attention(Q, K, V, attn_mask=bias).numpy()
    np.testing.assert_array_equal(out[:, 1], np.zeros((2, 6)))
    finite = bias.copy()
    finite[1] = 0.0
    expected = sdpa_reference(Q.numpy(), K.numpy(), V.numpy(), finite)
    np.testing.assert_allclose(out[:, [0, 2]], expected[:, [0, 2]], rtol=1e-10)


def test_dropout_p_of_one_drops_everything_and_above_one_is_refused():
    out = F.scaled_dot_product_attention(Q, K, V, dropout_p=1.0)
    np.testing.assert_array_equal(out.numpy(), np.zeros((2, 3, 6)))
    for p in (1.5, -0.1):
        with pytest.raises(ValueError, match="^" + re.escape(
                f"scaled_dot_product_attention: dropout_p must be in [0, 1], got {p}")):
            F.scaled_dot_product_attention(Q, K, V, dropout_p=p)
