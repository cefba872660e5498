"""The fused normalisations: kernels against slow NumPy loops, the fused ops against the
composites they replace, and the GPU twins under the CUDA simulator.

- kernels (``minigrad/kernels/cpu/norm.py``) on hypothesis-drawn shapes: N = 1 with spatial
  axes, C = 1, odd sizes, views that are not contiguous, float32 with |mean| = 1e4 over a spread
  of 0.01 (where a one-pass Σx² − (Σx)²/M would lose every digit);
- F.batch_norm / F.layer_norm / F.group_norm / F.instance_norm against ``_batch_norm_composite``
  and ``_normalize_composite`` (the ops they were before): outputs, running statistics, and the
  gradients of first and second order;
- which path each input takes, and the clear errors for bad shapes.

Notation
--------
M        values per group (a channel's N*L, a row's D)
ref_*    the slow reference of the kernel of that name
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.functional as F
from minigrad.backend import to_numpy
from minigrad.kernels.cpu import norm as cpu
from minigrad.norms import _batch_norm_composite, _normalize_composite
from minigrad.ops.norm import BatchNormTrain, LayerNorm
from strategies.norm import norm_problems


def ref_stats(groups):
    """Mean and biased variance of each row of ``groups`` (M values each), in float64, by
    the two textbook sums."""
    mean = np.array([sum(row) / len(row) for row in groups])
    var = np.array([sum((v - m) ** 2 for v in row) / len(row) for row, m in zip(groups, mean)])
    return (mean, var)


def channel_groups(x):
    """(C, N*L) float64: each channel's values in a row."""
    return np.moveaxis(x.astype(np.float64), 1, 0).reshape(x.shape[1], -1)


def ref_batch_norm(x, weight, bias, g, eps):
    """(y, mean, var, grad_x, grad_weight, grad_bias) of batch norm, channel by channel."""
    groups = channel_groups(x)
    mean, var = ref_stats(groups)
    gs = channel_groups(g)
    ys, dxs, dws, dbs = [], [], [], []
    for c in range(x.shape[1]):
        s = 1 / np.sqrt(var[c] + eps)
        xhat = (groups[c] - mean[c]) * s
        ys.append(xhat * weight[c] + bias[c])
        gw = gs[c] * weight[c]
        dxs.append(s * (gw - gw.mean() - xhat * (gw * xhat).mean()))
        dws.append((gs[c] * xhat).sum())
        dbs.append(gs[c].sum())

    def back(rows):
        C, N = x.shape[1], x.shape[0]
        return np.moveaxis(np.array(rows).reshape((C, N) + x.shape[2:]), 0, 1)
    return (back(ys), mean, var, back(dxs), np.array(dws), np.array(dbs))


def ref_layer_norm(x, weight, bias, g, eps):
    """(y, mean, var, grad_x, grad_weight, grad_bias) of layer norm, row by row."""
    D = weight.size
    rows, grows = x.astype(np.float64).reshape(-1, D), g.astype(np.float64).reshape(-1, D)
    w, b = weight.reshape(D).astype(np.float64), bias.reshape(D).astype(np.float64)
    mean, var = ref_stats(rows)
    ys, dxs = [], []
    dw, db = np.zeros(D), np.zeros(D)
    for r in range(rows.shape[0]):
        s = 1 / np.sqrt(var[r] + eps)
        xhat = (rows[r] - mean[r]) * s
        ys.append(xhat * w + b)
        gw = grows[r] * w
        dxs.append(s * (gw - gw.mean() - xhat * (gw * xhat).mean()))
        dw += grows[r] * xhat
        db += grows[r]
    shape = x.shape
    return (np.array(ys).reshape(shape), mean, var, np.array(dxs).reshape(shape),
            dw.reshape(weight.shape), db.reshape(weight.shape))


def _tolerance(dtype):
    return 2e-5 if dtype == np.float32 else 1e-10


def _gradient_scale(g, weight, var, eps):
    """The size of grad_x's terms, g · w · invstd: its entries cancel to far less when a
    group has two values, so a tolerance relative to the result would be too tight."""
    return np.abs(g).max() * np.abs(weight).max() / np.sqrt(var.min() + eps)


def _close(got, expected, dtype, what, scale=1.0):
    tol = _tolerance(dtype)
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale, err_msg=what)


@given(norm_problems("batch"))
def test_batch_norm_kernels_match_the_loops(problem):
    x, weight, bias, g, eps = problem
    y, mean, var = cpu.batch_norm_forward(x, weight, bias, eps)
    ref = ref_batch_norm(x, weight, bias, g, eps)
    assert y.shape == x.shape and y.dtype == x.dtype and mean.dtype == np.float64
    # the statistics are float64 sums of the float32 values themselves: exact to ~1e-12
    np.testing.assert_allclose(mean, ref[1], rtol=1e-12, atol=1e-12 * np.abs(ref[1]).max())
    np.testing.assert_allclose(var, ref[2], rtol=1e-9, atol=1e-12)
    _close(y, ref[0], x.dtype, "y", scale=1 + np.abs(ref[0]).max())
    grad_x, grad_weight, grad_bias = cpu.batch_norm_backward(g, x, weight, mean,
                                                            1 / np.sqrt(var + eps))
    _close(grad_x, ref[3], x.dtype, "grad_x", scale=_gradient_scale(g, weight, var, eps))
    M = x.size // x.shape[1]
    _close(grad_weight, ref[4], x.dtype, "grad_weight", scale=M)
    _close(grad_bias, ref[5], x.dtype, "grad_bias", scale=M)


@given(norm_problems("layer"))
def test_layer_norm_kernels_match_the_loops(problem):
    x, weight, bias, g, eps = problem
    D = weight.size
    y, mean, var = cpu.layer_norm_forward(x, weight, bias, D, eps)
    ref = ref_layer_norm(x, weight, bias, g, eps)
    np.testing.assert_allclose(mean, ref[1], rtol=1e-12, atol=1e-12 * np.abs(ref[1]).max())
    np.testing.assert_allclose(var, ref[2], rtol=1e-9, atol=1e-12)
    _close(y, ref[0], x.dtype, "y", scale=1 + np.abs(ref[0]).max())
    grad_x, grad_weight, grad_bias = cpu.layer_norm_backward(g, x, weight, mean,
                                                            1 / np.sqrt(var + eps), D)
    assert grad_weight.shape == weight.shape and grad_weight.dtype == x.dtype
    R = x.size // D
    _close(grad_x, ref[3], x.dtype, "grad_x", scale=_gradient_scale(g, weight, var, eps))
    _close(grad_weight, ref[4], x.dtype, "grad_weight", scale=R)
    _close(grad_bias, ref[5], x.dtype, "grad_bias", scale=R)


def test_float32_statistics_stay_exact_far_from_zero():
    """x = 1e4 + 0.01·noise in float32: the spread is 1e-6 of the mean. The kernel's variance
    matches float64 to 1e-9 relative, and the output is the standardised noise."""
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((64, 3, 30, 30))
    x = (1e4 + 0.01 * noise).astype(np.float32)
    ones, zeros = np.ones(3, np.float32), np.zeros(3, np.float32)
    y, mean, var = cpu.batch_norm_forward(x, ones, zeros, 0.0)
    exact = channel_groups(x)
    np.testing.assert_allclose(var, exact.var(1), rtol=1e-9)
    np.testing.assert_allclose(mean, exact.mean(1), rtol=1e-14)
    assert np.isfinite(y).all() and abs(float(y.std()) - 1) < 1e-3
    # and through the op: the output has mean 0 and std 1 per channel to float32 precision
    out = F.batch_norm(mg.tensor(x), None, None, training=True, eps=0.0).numpy()
    np.testing.assert_allclose(out.mean((0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std((0, 2, 3)), 1, atol=1e-4)


def test_large_batch_runs_in_parallel_and_matches():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 8, 40, 40)).astype(np.float32) * 3 + 2
    w, b = rng.random(8).astype(np.float32) + 0.5, rng.standard_normal(8).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    ref = ref_batch_norm(x, w, b, g, 1e-5)
    y, mean, var = cpu.batch_norm_forward(x, w, b, 1e-5)
    _close(y, ref[0], np.float32, "y", 10)
    grad_x, grad_w, grad_b = cpu.batch_norm_backward(g, x, w, mean, 1 / np.sqrt(var + 1e-5))
    _close(grad_x, ref[3], np.float32, "grad_x", 10)
    _close(grad_w, ref[4], np.float32, "grad_w", 1e4)


def _tensors(arrays, requires_grad=True):
    return [None if a is None else mg.tensor(a, requires_grad=requires_grad) for a in arrays]


def _grads(out, inputs, g):
    return mg.grad([out], [t for t in inputs if t is not None], [mg.tensor(g)])


@given(norm_problems("batch"), st.booleans(), st.sampled_from([0.1, 1.0]))
def test_fused_batch_norm_matches_the_composite(problem, affine, momentum):
    """Output, running statistics, and the gradients of x, weight and bias."""
    x, weight, bias, g, eps = problem
    x = x.astype(np.float64)  # the composite is exact only in float64
    w, b = (weight.astype(np.float64), bias.astype(np.float64)) if affine else (None, None)
    results = []
    for fused in (True, False):
        xt, wt, bt = _tensors([x, w, b])
        stats = [mg.tensor(np.zeros(x.shape[1])), mg.tensor(np.ones(x.shape[1]))]
        if fused:
            out = F.batch_norm(xt, *stats, wt, bt, training=True, momentum=momentum, eps=eps)
            assert isinstance(out.grad_fn, BatchNormTrain)
        else:
            out = _batch_norm_composite(xt, *stats, wt, bt, True, momentum, eps)
        results.append([out.numpy()] + [s.numpy() for s in stats]
                       + [t.numpy() for t in _grads(out, [xt, wt, bt], g.astype(np.float64))])
    for name, a, b in zip(["y", "running_mean", "running_var", "x", "w", "b"], *results):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-8 * (1 + np.abs(b).max()),
                                   err_msg=name)


@given(norm_problems("layer"), st.booleans())
def test_fused_layer_norm_matches_the_composite(problem, affine):
    x, weight, bias, g, eps = problem
    x, g = x.astype(np.float64), g.astype(np.float64)
    w, b = (weight.astype(np.float64), bias.astype(np.float64)) if affine else (None, None)
    shape = weight.shape
    xt, wt, bt = _tensors([x, w, b])
    out = F.layer_norm(xt, shape, wt, bt, eps=eps)
    assert isinstance(out.grad_fn, LayerNorm)
    xc, wc, bc = _tensors([x, w, b])
    ref = _normalize_composite(xc, tuple(range(x.ndim - len(shape), x.ndim)), eps)
    ref = ref if w is None else ref * wc + bc
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-8, atol=1e-8)
    for a, c in zip(_grads(out, [xt, wt, bt], g), _grads(ref, [xc, wc, bc], g)):
        np.testing.assert_allclose(a.numpy(), c.numpy(), rtol=1e-8, atol=1e-8)


def _second_order(fn, inputs, g, v):
    """⟨∂(⟨g, fn⟩)/∂inputs, v⟩ differentiated again: the gradients of a gradient penalty."""
    first = mg.grad([fn(*inputs)], inputs, [mg.tensor(g)], create_graph=True)
    penalty = sum(((a * mg.tensor(b)).sum() for a, b in zip(first, v)), mg.tensor(0.0))
    # the bias's first gradient, Σ g, does not depend on the inputs: None for it
    return [None if t is None else t.numpy()
            for t in mg.grad([penalty], inputs, allow_unused=True)]


def _group_norm_composite(x, w, b):
    out = _normalize_composite(x.reshape(x.shape[0], 2, -1), (2,), 1e-5).reshape(x.shape)
    view = (1, -1) + (1,) * (x.ndim - 2)
    return out * w.reshape(view) + b.reshape(view)


# (fused, composite) pairs of f(x, weight, bias)
SECOND_ORDER = {
    "batch": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
              lambda x, w, b: _batch_norm_composite(x, None, None, w, b, True, 0.1, 1e-5)),
    "layer": (lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b),
              lambda x, w, b: _normalize_composite(x, (x.ndim - 1,), 1e-5) * w + b),
    "group": (lambda x, w, b: F.group_norm(x, 2, w, b), _group_norm_composite),
}


@pytest.mark.parametrize("shape, kind", [((3, 2, 2, 3), "batch"), ((4, 3), "batch"),
                                         ((2, 3, 4), "layer"), ((2, 4, 3), "group")])
def test_second_order_matches_the_composite(shape, kind):
    """Grad of grad (WGAN-GP's penalty through a normalised critic) as the composite gives it."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    C = shape[-1] if kind == "layer" else shape[1]
    w, b = rng.random(C) + 0.5, rng.standard_normal(C)
    g = rng.standard_normal(shape)
    v = [rng.standard_normal(shape), rng.standard_normal(C), rng.standard_normal(C)]
    fused, composite = SECOND_ORDER[kind]
    got = _second_order(fused, _tensors([x, w, b]), g, v)
    expected = _second_order(composite, _tensors([x, w, b]), g, v)
    assert got[2] is None and expected[2] is None
    for a, c in zip(got[:2], expected[:2]):
        assert np.abs(c).max() > 1e-3  # a real second derivative, not zeros on both sides
        np.testing.assert_allclose(a, c, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 2, 2), (2, 1, 2, 2, 3)])
def test_group_and_instance_norm_use_the_layer_norm_kernel(shape):
    """Both normalise trailing axes of a reshaped input, so they reach LayerNorm, and match
    the composite (and instance_norm of an (N, C) input, with nothing to average, too)."""
    rng = np.random.default_rng(3)
    x = mg.tensor(rng.standard_normal(shape), requires_grad=True)
    out = F.instance_norm(x)
    axes = tuple(range(2, x.ndim))
    np.testing.assert_allclose(out.numpy(), _normalize_composite(x, axes, 1e-5).numpy(),
                               atol=1e-10)
    assert isinstance(out.grad_fn, LayerNorm) == (len(shape) > 2)
    groups = 1 if shape[1] == 1 else 3 if shape[1] == 3 else 1
    out = F.group_norm(x, groups)
    ref = _normalize_composite(x.reshape(shape[0], groups, -1), (2,), 1e-5).reshape(shape)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-10)


def test_which_inputs_take_the_fused_path():
    """float32/float64 with matching parameters: fused; float16, mixed dtypes and eval mode
    with running statistics: the composite, with the same values."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3, 2)).astype(np.float32)
    w32 = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    w64 = mg.tensor(np.ones(3), requires_grad=True)
    fused = F.batch_norm(mg.tensor(x, requires_grad=True), None, None, w32, training=True)
    mixed = F.batch_norm(mg.tensor(x, requires_grad=True), None, None, w64, training=True)
    half = F.batch_norm(mg.tensor(x.astype(np.float16), requires_grad=True), None, None,
                        training=True)
    assert isinstance(fused.grad_fn, BatchNormTrain)
    assert not isinstance(mixed.grad_fn, BatchNormTrain) and mixed.dtype == np.float64
    assert not isinstance(half.grad_fn, BatchNormTrain) and half.dtype == np.float16
    np.testing.assert_allclose(mixed.numpy(), fused.numpy(), atol=1e-5)
    np.testing.assert_allclose(half.numpy(), fused.numpy(), atol=1e-2)
    rm, rv = mg.tensor(np.zeros(3, np.float32)), mg.tensor(np.ones(3, np.float32))
    evaluated = F.batch_norm(mg.tensor(x, requires_grad=True), rm, rv, training=False)
    assert not isinstance(evaluated.grad_fn, BatchNormTrain)
    np.testing.assert_allclose(evaluated.numpy(), x / np.sqrt(1 + 1e-5), rtol=1e-6)
    # eval mode without running statistics uses the batch's: fused, with no count check
    one = F.batch_norm(mg.tensor(x[:1, :, :1]), None, None, training=False)
    np.testing.assert_array_equal(one.numpy(), np.zeros((1, 3, 1), np.float32))


def test_eval_mode_is_exact_far_from_zero():
    """Eval in float32 with |mean| = 1e4 and std 0.01: subtracting the mean before scaling
    keeps the output to float32 precision (folding it into the shift would lose 1e-3 · 100)."""
    rng = np.random.default_rng(8)
    noise = rng.standard_normal((8, 2, 5))
    x = (1e4 + 0.01 * noise).astype(np.float32)
    rm, rv = np.full(2, 1e4, np.float32), np.full(2, 1e-4, np.float32)
    w, b = np.array([2.0, 0.5], np.float32), np.array([1.0, -1.0], np.float32)
    out = F.batch_norm(mg.tensor(x), mg.tensor(rm), mg.tensor(rv), mg.tensor(w), mg.tensor(b),
                       training=False, eps=0.0).numpy()
    exact = (x.astype(np.float64) - 1e4) / 0.01 * w[:, None] + b[:, None]
    np.testing.assert_allclose(out, exact, atol=1e-3)


def test_running_statistics_in_float32_follow_pytorchs_rule():
    """running ← (1 − m)·running + m·stat, the variance unbiased (M / (M − 1))."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32) * 2 + 1
    rm, rv = mg.tensor(np.full(2, 0.5, np.float32)), mg.tensor(np.full(2, 2.0, np.float32))
    F.batch_norm(mg.tensor(x), rm, rv, training=True, momentum=0.3)
    groups = channel_groups(x)
    np.testing.assert_allclose(rm.numpy(), 0.7 * 0.5 + 0.3 * groups.mean(1), rtol=1e-6)
    np.testing.assert_allclose(rv.numpy(), 0.7 * 2.0 + 0.3 * groups.var(1, ddof=1), rtol=1e-6)
    assert rm.dtype == np.float32 and rv.dtype == np.float32


def test_bad_shapes_are_clear_errors():
    x = mg.tensor(np.ones((4, 3, 2), np.float32))
    with pytest.raises(ValueError, match=r"batch_norm: weight must have shape \(3,\), got \(4,\)"):
        F.batch_norm(x, None, None, mg.tensor(np.ones(4, np.float32)), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_var must have shape \(3,\)"):
        F.batch_norm(x, mg.zeros(3), mg.ones(1, 3), training=True)
    with pytest.raises(ValueError, match=r"expected more than 1 value per channel"):
        F.batch_norm(mg.tensor(np.ones((1, 3, 1), np.float32)), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: expected an input of shape \(N, C\)"):
        F.batch_norm(mg.tensor(np.ones(3, np.float32)), None, None, training=True)
    with pytest.raises(TypeError, match=r"layer_norm: expected a floating-point input, got "
                                        r"dtype int64"):
        F.layer_norm(mg.tensor(np.ones((2, 3), np.int64)), 3)
    with pytest.raises(ValueError, match=r"layer_norm: bias must have shape \(2,\), got \(3,\)"):
        F.layer_norm(x, 2, None, mg.tensor(np.ones(3, np.float32)))


def test_kernels_refuse_bad_input_before_running():
    x = np.ones((2, 3, 4), np.float32)
    w = np.ones(3, np.float32)
    with pytest.raises(TypeError, match=r"batch_norm_forward: x must be floating point"):
        cpu.batch_norm_forward(x.astype(np.float16), w, w, 1e-5)
    with pytest.raises(ValueError, match=r"batch_norm_forward: bias must have shape \(3,\)"):
        cpu.batch_norm_forward(x, w, np.ones(2, np.float32), 1e-5)
    with pytest.raises(ValueError, match=r"batch_norm_forward: x of shape \(0, 3, 4\) has no"):
        cpu.batch_norm_forward(x[:0], w, w, 1e-5)
    with pytest.raises(ValueError, match=r"batch_norm_backward: the gradient must match x"):
        cpu.batch_norm_backward(x[:1], x, w, np.zeros(3), np.ones(3))
    with pytest.raises(TypeError, match=r"layer_norm_forward: weight must have x's dtype"):
        cpu.layer_norm_forward(x, np.ones(4, np.float16), np.ones(4, np.float32), 4, 1e-5)
    with pytest.raises(ValueError, match=r"layer_norm_backward: x of shape \(2, 3, 4\) does "
                                         r"not split into rows of 5"):
        cpu.layer_norm_backward(x, x, np.ones(5, np.float32), np.zeros(5), np.ones(5), 5)


def gpu_norm_module():
    """The GPU norm module and a host-to-device copy, or a skip naming what is missing."""
    from numba import config
    from minigrad import backend
    if not config.ENABLE_CUDASIM and backend.cupy() is None:
        pytest.skip("no GPU and the CUDA simulator is off (NUMBA_ENABLE_CUDASIM unset)")
    from minigrad.kernels.gpu import norm as gpu
    to_device = (lambda a: a) if config.ENABLE_CUDASIM else backend.cupy().asarray
    return (gpu, to_device)


# Tiny shapes: under the simulator every thread of a block is a Python thread.
@pytest.mark.parametrize("shape, dtype", [((3, 2, 5), np.float64), ((1, 2, 3, 2), np.float32),
                                          ((5, 1), np.float64)])
def test_gpu_batch_norm_twins_match_the_loops(shape, dtype):
    gpu, to_device = gpu_norm_module()
    rng = np.random.default_rng(6)
    x = (100 + rng.standard_normal(shape)).astype(dtype)
    C = shape[1]
    w, b = (rng.random(C) + 0.5).astype(dtype), rng.standard_normal(C).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    ref = ref_batch_norm(x, w, b, g, 1e-5)
    y, mean, var = gpu.batch_norm_forward(to_device(x), to_device(w), to_device(b), 1e-5)
    _close(to_numpy(y), ref[0], dtype, "y", 10)
    np.testing.assert_allclose(to_numpy(var), ref[2], rtol=1e-9)
    invstd = to_device(1 / np.sqrt(ref[2] + 1e-5))
    got = gpu.batch_norm_backward(to_device(g), to_device(x), to_device(w), mean, invstd)
    for name, a, c in zip(["grad_x", "grad_weight", "grad_bias"], got, ref[3:]):
        _close(to_numpy(a), c, dtype, name, 10)


@pytest.mark.parametrize("shape, D, dtype", [((2, 3, 4), 12, np.float64), ((3, 5), 5, np.float32),
                                             ((4, 1), 1, np.float64)])
def test_gpu_layer_norm_twins_match_the_loops(shape, D, dtype):
    gpu, to_device = gpu_norm_module()
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(shape) - 50).astype(dtype)
    tail = shape[1:] if D == x[0].size else shape[-1:]
    w, b = (rng.random(tail) + 0.5).astype(dtype), rng.standard_normal(tail).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    ref = ref_layer_norm(x, w, b, g, 1e-5)
    y, mean, var = gpu.layer_norm_forward(to_device(x), to_device(w), to_device(b), D, 1e-5)
    _close(to_numpy(y), ref[0], dtype, "y", 10)
    invstd = to_device(1 / np.sqrt(ref[2] + 1e-5))
    got = gpu.layer_norm_backward(to_device(g), to_device(x), to_device(w), mean, invstd, D)
    for name, a, c in zip(["grad_x", "grad_weight", "grad_bias"], got, ref[3:]):
        assert a.shape == c.shape
        _close(to_numpy(a), c, dtype, name, 10)
