"""The fused softmax family (``minigrad/ops/softmax.py``, ``ops/linear.py`` and their kernels in
``minigrad/kernels/{cpu,gpu}/softmax.py``): the kernels against slow row-by-row NumPy loops,
the fused Functions against the composites they replace, the edge cases (one class, logits at
±1e4, every target ignored, empty batches) and the GPU twins (through Numba's CUDA simulator
where there is no GPU; tiny shapes, as each row is a Python thread there)."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.functional as F
import minigrad.kernels.cpu as cpu
from minigrad.kernels.cpu.softmax import WIDE_ROWS
from minigrad.loss_args import class_targets
from minigrad.losses import _cross_entropy_composite
from minigrad.ops.reduce import logsumexp
from strategies.softmax import cross_entropy_inputs

FLOATS = st.sampled_from([np.float32, np.float64])


def slow_log_softmax(x):
    """Row by row in Python floats: x − (max + log Σ exp(x − max))."""
    out = np.empty(x.shape)
    for r, row in enumerate(x.astype(np.float64)):
        top = max(row)
        out[r] = row - (top + math.log(sum(math.exp(v - top) for v in row)))
    return out


def slow_cross_entropy(x, target, weight, ignore_index, eps):
    """Per-row loss and gradient of the loss, by the definition: the smoothed target
    q = (1 − eps)·onehot(t) + eps/C, loss = −Σ_c w_c q_c log p_c, gradient Σ_c w_c q_c (p − e_c)."""
    R, C = x.shape
    logp = slow_log_softmax(x)
    loss, grad = np.zeros(R), np.zeros((R, C))
    for r in range(R):
        if target[r] == ignore_index:
            continue
        q = np.full(C, eps / C)
        q[target[r]] += 1 - eps
        loss[r] = -(weight * q * logp[r]).sum()
        grad[r] = (weight * q).sum() * np.exp(logp[r]) - weight * q
    return (loss, grad)


@st.composite
def rows(draw, min_rows=0, max_side=6):
    """Logits (R, C), narrow (the Numba loops) or at least WIDE_ROWS wide (NumPy's passes)."""
    R = draw(st.integers(min_rows, max_side))
    C = draw(st.one_of(st.integers(1, max_side),
                       st.sampled_from([WIDE_ROWS, WIDE_ROWS + 13])))
    dtype = draw(FLOATS)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    offset = draw(st.sampled_from([0.0, 1e4, -1e4, 30.0]))
    return (rng.uniform(-3, 3, (R, C)) + offset).astype(dtype)


@given(rows())
def test_softmax_kernels_match_the_slow_rows(x):
    ref = slow_log_softmax(x)
    tol = 1e-5 if x.dtype == np.float32 else 1e-12
    log = cpu.log_softmax(x)
    soft = cpu.softmax(x)
    assert log.dtype == x.dtype and soft.dtype == x.dtype
    assert np.isfinite(log).all() and np.isfinite(soft).all()
    # float32 logits at 1e4 carry an absolute error of their own ulp (1e-3) into x − lse
    np.testing.assert_allclose(log, ref, rtol=tol, atol=tol * (1 + np.abs(x).max(initial=0)))
    np.testing.assert_allclose(soft, np.exp(ref), rtol=tol, atol=tol)
    np.testing.assert_allclose(soft.sum(1), np.ones(x.shape[0]), rtol=tol)


@given(rows(), st.data())
def test_cross_entropy_kernels_match_the_slow_rows(x, data):
    R, C = x.shape
    target = np.array(data.draw(st.lists(st.integers(0, C - 1), min_size=R, max_size=R)),
                      dtype=np.int64)
    ignore_index = data.draw(st.sampled_from([-100, 0]))
    eps = data.draw(st.sampled_from([0.0, 0.3, 1.0]))
    weight = np.random.default_rng(R).uniform(0.5, 2, C).astype(x.dtype)
    ref_loss, ref_grad = slow_cross_entropy(x, target, weight.astype(np.float64), ignore_index,
                                            eps)
    loss, probs = cpu.cross_entropy(x, target, weight, ignore_index, eps)
    row_scale = np.linspace(0.5, 1.5, R).astype(x.dtype)
    grad = cpu.cross_entropy_backward(probs, target, weight, row_scale, ignore_index, eps)
    tol = 2e-4 if x.dtype == np.float32 else 1e-10
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(loss, ref_loss, rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(probs, np.exp(slow_log_softmax(x)), rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, ref_grad * row_scale[:, None], rtol=tol, atol=tol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_every_target_ignored_gives_zero_loss_and_zero_gradient(reduction):
    x = mg.tensor(np.random.default_rng(0).standard_normal((3, 4, 2)), requires_grad=True)
    target = mg.tensor(np.full((3, 2), 7))
    loss = F.cross_entropy(x, target, ignore_index=7, reduction=reduction,
                           label_smoothing=0.2)
    np.testing.assert_array_equal(loss.numpy(), np.zeros(loss.shape))
    loss.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4, 2)))


@given(cross_entropy_inputs(), FLOATS)
def test_fused_cross_entropy_equals_the_composite(inputs, dtype):
    (x,), params = inputs
    x = x - x.max()  # the composite in float32 needs no help at 1e4; the values, compared
    a = mg.tensor(x.astype(dtype), requires_grad=True)
    b = mg.tensor(x.astype(dtype), requires_grad=True)
    ignore_index = params.pop("ignore_index", -100)
    target = mg.tensor(params.pop("target"))
    fused = F.cross_entropy(a, target, ignore_index=ignore_index, **params)
    weight = params.get("weight", np.ones(x.shape[1])).astype(dtype)
    rows, valid = class_targets("cross_entropy", b, target, ignore_index)
    composite = _cross_entropy_composite(b, rows, valid, weight, ignore_index,
                                         params["reduction"], params.get("label_smoothing", 0.0))
    assert fused.grad_fn.__class__.__name__ in ("CrossEntropy", "Reshape")
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(fused.numpy(), composite.numpy(), rtol=tol, atol=tol)
    fused.sum().backward()
    composite.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)


def test_cross_entropy_is_finite_and_exact_at_huge_float32_logits():
    x = mg.tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], np.float32),
                  requires_grad=True)
    loss = F.cross_entropy(x, mg.tensor([1, 2]), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [2e4, math.log(3)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1, -1, 0], [1 / 3, 1 / 3, -2 / 3]], atol=1e-6)


def test_one_class_gives_zero_loss():
    x = mg.tensor(np.array([[5.0], [-1e4]]), requires_grad=True)
    loss = F.cross_entropy(x, mg.tensor([0, 0]), label_smoothing=0.5)
    assert loss.item() == 0.0
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0], [0.0]])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_functions_equal_the_composites(dim):
    rng = np.random.default_rng(dim + 5)
    x = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    x2 = mg.tensor(x.numpy(), requires_grad=True)
    g = rng.standard_normal((3, 4))
    ls = F.log_softmax(x, dim)
    ref = x2 - logsumexp(x2, dim, keepdims=True)
    np.testing.assert_allclose(ls.numpy(), ref.numpy(), rtol=1e-12)
    (ls * g).sum().backward()
    (ref * g).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-10, atol=1e-12)
    s = F.softmax(x, dim)
    assert type(s.grad_fn).__name__ == "Softmax"
    np.testing.assert_allclose(s.numpy(), np.exp(ref.numpy()), rtol=1e-12)


def test_softmax_of_a_scalar_and_of_no_classes():
    assert F.softmax(mg.tensor(3.0)).item() == 1.0
    assert F.log_softmax(mg.tensor(3.0)).item() == 0.0
    for dtype in (np.float32, np.float16, np.int64):
        empty = mg.tensor(np.zeros((2, 0), dtype))
        assert F.softmax(empty).shape == (2, 0) and F.log_softmax(empty, 0).shape == (2, 0)


def test_float16_and_integer_logits_keep_their_old_results():
    x16 = mg.tensor(np.array([[0.0, 1.0, 2.0]], np.float16))
    assert F.softmax(x16).dtype == np.float16
    np.testing.assert_allclose(F.softmax(x16).numpy(), [[0.0900, 0.2447, 0.6652]], atol=1e-3)
    ints = mg.tensor(np.array([[0, 1, 2]]))
    assert F.log_softmax(ints).dtype == np.float64
    np.testing.assert_allclose(F.cross_entropy(ints, mg.tensor([2])).item(), 0.40760596, 1e-7)
    assert F.cross_entropy(x16, mg.tensor([2])).dtype == np.float16


def test_cross_entropy_errors_name_the_op_and_the_bad_value():
    x = mg.tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(IndexError, match=r"cross_entropy: target values must be in \[0, 3\).*got 3"):
        F.cross_entropy(x, mg.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"cross_entropy: weight of shape \(2,\).*expected .*\(3,\)"):
        F.cross_entropy(x, mg.tensor([0, 1]), weight=mg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"cross_entropy: input of shape \(2, 0\) has no classes"):
        F.cross_entropy(mg.tensor(np.zeros((2, 0), np.float32)), mg.tensor([-100, -100]))
    with pytest.raises(ValueError, match=r"cross_entropy: reduction must be 'mean', 'sum' or "
                                         r"'none', got 'avg'"):
        F.cross_entropy(x, mg.tensor([0, 1]), reduction="avg")


def test_cross_entropy_of_an_empty_batch():
    x = mg.tensor(np.zeros((0, 3), np.float32), requires_grad=True)
    loss = F.cross_entropy(x, mg.tensor(np.zeros(0, np.int64)))
    assert loss.item() == 0.0
    loss.backward()
    assert x.grad.shape == (0, 3)
    assert F.cross_entropy(x, mg.tensor(np.zeros(0, np.int64)), reduction="none").shape == (0,)


@pytest.mark.parametrize("lead", [(), (5,), (2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_equals_matmul_plus_bias(lead, bias):
    rng = np.random.default_rng(len(lead))
    x = rng.standard_normal(lead + (4,)).astype(np.float32)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    args = [mg.tensor(a, requires_grad=True) for a in ((x, w, b) if bias else (x, w))]
    out = F.linear(*args)
    assert type(out.grad_fn).__name__ == "Linear"
    np.testing.assert_allclose(out.numpy(), x @ w.T + (b if bias else 0), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(mg.tensor(g))
    g2, x2 = g.reshape(-1, 3), x.reshape(-1, 4)
    np.testing.assert_allclose(args[0].grad.numpy(), g @ w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(args[1].grad.numpy(), g2.T @ x2, rtol=1e-5, atol=1e-5)
    # the weight's gradient is made in the weight's own layout, ready for the optimizer
    assert args[1].grad.data.flags.c_contiguous
    if bias:
        np.testing.assert_allclose(args[2].grad.numpy(), g2.sum(0), rtol=1e-5, atol=1e-5)


def test_linear_with_a_float64_bias_promotes_as_the_composite_does():
    x, w = mg.tensor(np.ones((2, 3), np.float32)), mg.tensor(np.ones((4, 3), np.float32))
    out = F.linear(x, w, mg.tensor(np.arange(4.0), dtype=np.float64))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.numpy(), np.full((2, 4), 3.0) + np.arange(4.0))


def test_relu_gradient_comes_from_its_output():
    x = mg.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    y = F.relu(x)
    assert y.grad_fn.saved_tensors[0].data is y.data  # no mask array of its own
    y.backward(mg.tensor([5.0, 5.0, 5.0]))
    assert x.grad.tolist() == [0.0, 0.0, 5.0]  # 0 at the kink, as in PyTorch


def gpu_softmax_module():
    """The GPU softmax module and a host-to-device copy, or a skip naming what is missing."""
    from numba import config
    from minigrad import backend
    if not config.ENABLE_CUDASIM and backend.cupy() is None:
        pytest.skip("no GPU and the CUDA simulator is off (NUMBA_ENABLE_CUDASIM unset)")
    import minigrad.kernels.gpu as gpu
    to_device = (lambda a: a) if config.ENABLE_CUDASIM else backend.cupy().asarray
    return (gpu, to_device)


def to_numpy(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_twins_match_the_cpu_kernels(dtype):
    gpu, to_device = gpu_softmax_module()
    x = (np.random.default_rng(1).uniform(-3, 3, (3, 4)) + [[0], [1e4], [-1e4]]).astype(dtype)
    target = np.array([1, -100, 3])
    weight = np.array([1.0, 0.5, 2.0, 1.5], dtype)
    row_scale = np.array([0.5, 1.0, 2.0], dtype)
    d = [to_device(a) for a in (x, target, weight, row_scale)]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for name in ("softmax", "log_softmax"):
        np.testing.assert_allclose(to_numpy(getattr(gpu, name)(d[0])),
                                   getattr(cpu, name)(x), rtol=tol, atol=tol)
    loss, probs = gpu.cross_entropy(d[0], d[1], d[2], -100, 0.25)
    ref_loss, ref_probs = cpu.cross_entropy(x, target, weight, -100, 0.25)
    np.testing.assert_allclose(to_numpy(loss), ref_loss, rtol=tol, atol=tol)
    np.testing.assert_allclose(to_numpy(probs), ref_probs, rtol=tol, atol=tol)
    grad = gpu.cross_entropy_backward(probs, d[1], d[2], d[3], -100, 0.25)
    np.testing.assert_allclose(
        to_numpy(grad), cpu.cross_entropy_backward(ref_probs, target, weight, row_scale,
                                                   -100, 0.25), rtol=tol, atol=tol)
    assert gpu.softmax(to_device(np.zeros((0, 4), dtype))).shape == (0, 4)


def test_cross_entropy_retain_graph_then_frees_its_probabilities():
    x = mg.tensor(np.random.default_rng(2).standard_normal((4, 3)), requires_grad=True)
    loss = F.cross_entropy(x, mg.tensor([0, 1, 2, 0]))
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    assert loss.grad_fn._saved is None  # the saved logits and probabilities are gone
    with pytest.raises(RuntimeError, match="CrossEntropy: trying to backward through the graph"):
        loss.backward()
