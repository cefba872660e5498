"""Gradient clipping by joint norm and by value."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from optim import clip_grad_norm_, clip_grad_value_


def with_grad(grad, dtype=np.float64, device="cpu"):
    p = mg.tensor(np.zeros(np.shape(grad), dtype=dtype), device=device, requires_grad=True)
    p.grad = mg.tensor(np.array(grad, dtype=dtype), device=device)
    return p


def test_norm_clipping_scales_all_gradients_by_one_factor(device):
    # ||(3, 4, 12)|| = 13; every gradient is multiplied by 6.5 / (13 + 1e-6).
    a, b = with_grad([3.0, 4.0], device=device), with_grad([[12.0]], device=device)
    total = clip_grad_norm_([a, b], max_norm=6.5)
    assert total.item() == 13.0 and total.shape == () and total.device == a.device
    scale = 6.5 / (13.0 + 1e-6)
    np.testing.assert_allclose(a.grad.numpy(), [3.0 * scale, 4.0 * scale], rtol=1e-15)
    np.testing.assert_allclose(b.grad.numpy(), [[12.0 * scale]], rtol=1e-15)


def test_norm_below_the_limit_leaves_gradients_alone():
    a = with_grad([0.3, -0.4])
    total = clip_grad_norm_(a, max_norm=1.0)
    assert total.item() == pytest.approx(0.5, rel=1e-15)
    np.testing.assert_array_equal(a.grad.numpy(), [0.3, -0.4])


@pytest.mark.parametrize("norm_type, expected", [
    (math.inf, 7.0), ("inf", 7.0), (1, 12.0), (2.0, math.sqrt(58.0)), (3, 360.0 ** (1 / 3)),
])
def test_norm_types(device, norm_type, expected):
    a, b = with_grad([1.0, -2.0], device=device), with_grad([-7.0, 2.0], device=device)
    total = clip_grad_norm_([a, b], max_norm=1.0, norm_type=norm_type)
    assert total.item() == pytest.approx(expected, rel=1e-12)
    scale = 1.0 / (expected + 1e-6)
    np.testing.assert_allclose(b.grad.numpy(), [-7.0 * scale, 2.0 * scale], rtol=1e-12)


@given(first=hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=4),
                        elements=st.floats(-1e3, 1e3)),
       second=hnp.arrays(np.float64, st.integers(1, 5), elements=st.floats(-1e3, 1e3)),
       max_norm=st.floats(1e-3, 1e3), norm_type=st.sampled_from([1.0, 1.5, 2.0, 4.0, math.inf]))
def test_norm_clipping_matches_the_norm_of_all_entries(first, second, max_norm, norm_type):
    a, b = with_grad(first), with_grad(second)
    entries = np.abs(np.concatenate([first.ravel(), second.ravel()]))
    expected = entries.max() if norm_type == math.inf else (entries ** norm_type).sum() ** (
        1 / norm_type)
    total = clip_grad_norm_([a, b], max_norm, norm_type)
    assert total.item() == pytest.approx(expected, rel=1e-12, abs=1e-300)
    clipped = np.concatenate([a.grad.numpy().ravel(), b.grad.numpy().ravel()])
    if norm_type == math.inf:
        after = np.abs(clipped).max()
    else:
        after = (np.abs(clipped) ** norm_type).sum() ** (1 / norm_type)
    assert after <= max_norm * (1 + 1e-12)
    factor = min(1.0, max_norm / (expected + 1e-6))
    np.testing.assert_allclose(clipped, np.concatenate([first.ravel(), second.ravel()]) * factor,
                               rtol=1e-12, atol=0)


def test_missing_and_shared_gradients():
    a, b = with_grad([6.0, 8.0]), mg.tensor(np.zeros(2), requires_grad=True)
    assert clip_grad_norm_([b], max_norm=1.0).item() == 0.0
    b.grad = a.grad  # one gradient Tensor reached twice: it must be scaled once
    total = clip_grad_norm_([a, b], max_norm=5.0)
    assert total.item() == 10.0
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0], rtol=1e-6)


def test_float32_gradients_give_a_float32_norm():
    a = with_grad([3.0, 4.0], dtype=np.float32)
    total = clip_grad_norm_([a], max_norm=1.0)
    assert total.dtype == np.float32 and a.grad.dtype == np.float32
    np.testing.assert_allclose(a.grad.numpy(), [0.6, 0.8], rtol=1e-6)


def test_non_finite_norms():
    a = with_grad([np.nan, 1.0])
    with pytest.raises(ValueError, match="total 2.0-norm of the gradients is nan"):
        clip_grad_norm_([a], 1.0, error_if_nonfinite=True)
    assert np.isnan(clip_grad_norm_([a], 1.0).item())
    assert np.all(np.isnan(a.grad.numpy()))  # scaled by NaN, as in PyTorch


@pytest.mark.parametrize("call, error, fragment", [
    (lambda p: clip_grad_norm_([p], max_norm=-1.0), ValueError, "max_norm"),
    (lambda p: clip_grad_norm_([p], 1.0, norm_type=0), ValueError, "norm_type 0.0"),
    (lambda p: clip_grad_norm_([p], 1.0, norm_type="fro"), TypeError, "norm_type"),
    (lambda p: clip_grad_norm_([p, 3.0], 1.0), TypeError, "parameter 1 is a float"),
    (lambda p: clip_grad_norm_(5, 1.0), TypeError, "iterable of Tensors"),
    (lambda p: clip_grad_value_([p], -0.5), ValueError, "clip_value"),
])
def test_invalid_arguments(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call(with_grad([1.0, 2.0]))


def test_value_clipping_clamps_each_entry(device):
    a, b = with_grad([-3.0, 0.5, 2.0], device=device), with_grad([[0.9, -1.1]], device=device)
    grad_of_a = a.grad
    assert clip_grad_value_([a, b, mg.tensor(np.zeros(1), requires_grad=True)], 1.0) is None
    assert a.grad is grad_of_a  # in place, as PyTorch's clip_grad_value_
    np.testing.assert_array_equal(a.grad.numpy(), [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [[0.9, -1.0]])


def stable_norm(arrays, q):
    """The q-norm of all entries through logs: exp(logsumexp(q log|g|) / q), in float64."""
    logs = np.concatenate([np.log(np.abs(a.ravel())) for a in arrays]) * q
    top = logs.max()
    return float(np.exp((top + np.log(np.sum(np.exp(logs - top)))) / q))


@given(st.lists(st.floats(0.5, 2.0), min_size=1, max_size=6),
       st.lists(st.floats(0.5, 2.0), min_size=1, max_size=6),
       st.sampled_from([2.0, 31.0, 1000.0, 1e4]), st.sampled_from([1e10, 1e150, 1e-150]))
def test_large_norm_types_and_extreme_gradients_stay_finite(first, second, q, scale):
    # |g|^q alone overflows (1e10^1000) or underflows (1e-150^31): the scaled form must not.
    grads = [np.array(first) * scale, -np.array(second) * scale]
    params = [mg.tensor(np.zeros(len(g)), requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = mg.tensor(g.copy())
    total = clip_grad_norm_(params, max_norm=1.0, norm_type=q).item()
    expected = stable_norm(grads, q)
    assert np.isfinite(total)
    np.testing.assert_allclose(total, expected, rtol=1e-9)
    coefficient = min(1.0, 1.0 / (expected + 1e-6))
    for p, g in zip(params, grads):
        np.testing.assert_allclose(p.grad.numpy(), g * coefficient, rtol=1e-9)


def test_norm_type_1000_on_1e10_gradients_is_close_to_the_largest_entry():
    w = mg.tensor(np.zeros(3), requires_grad=True)
    w.grad = mg.tensor(np.array([1e10, -3e10, 2e10]))
    # (1 + 3^1000 + 2^1000)^(1/1000) * 1e10 = 3e10 * (1 + (2/3)^1000 + ...)^(1/1000)
    assert clip_grad_norm_([w], max_norm=1e12, norm_type=1000).item() == pytest.approx(
        3e10, rel=1e-12)


def test_a_nan_in_any_gradient_gives_a_nan_norm():
    a, b = (mg.tensor(np.zeros(2), requires_grad=True) for _ in range(2))
    a.grad = mg.tensor(np.array([1.0, 2.0]))
    b.grad = mg.tensor(np.array([np.nan, 1.0]))
    assert np.isnan(clip_grad_norm_([a, b], 1.0, norm_type=np.inf).item())
    a.grad = mg.tensor(np.array([np.inf, 2.0]))
    assert np.isnan(clip_grad_norm_([a, b], 1.0, norm_type=2.0).item())
