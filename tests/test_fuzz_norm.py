"""Fuzzing batch norm and layer norm: a correct result or a clear error raised before any
kernel ran, never a crash or a silent wrong answer.

Hypothesis draws cases (``strategies/norm.py``) that mix valid and invalid input on purpose:
sizes of 0 (no batch, no channels, an empty spatial axis), one value per channel in training,
float16, int64 and bool inputs, float64 parameters on a float32 input, views that are not
contiguous (every other entry, or the first two axes swapped in memory), weights and running
statistics of the wrong shape, and normalized shapes that do not end the input's. Each case runs
in a worker process (``fuzz_worker.py``), so a kernel that dies on a signal fails one test and
names the case.

Verdicts: ``ok`` when the output, the running statistics and the gradients of the input and
the parameters match NumPy in float64 (tolerances by dtype); ``rejected`` for a ValueError or
TypeError that names the op, raised before any ``minigrad.kernels.cpu`` function ran, for a
case that is invalid. Anything else fails, and so does an invalid case that was not rejected.

Notation
--------
case       a JSON-ready dict: op, seed, shape, dtype, param_dtype, layout, affine, eps, and
           training, running, momentum, param_shape (batch norm) or normalized_shape
axes       the axes one mean is taken over;  view  how parameters broadcast against x
"""
import math
import sys

import numpy as np
from hypothesis import example, given, settings

from fuzz_worker import serve, worker_fixture
from strategies.norm import fuzz_norm_cases

FLOATS = ("float16", "float32", "float64")
TOLERANCE = {"float16": 3e-2, "float32": 1e-4, "float64": 1e-9}


worker = worker_fixture(__file__)


fuzz = settings(max_examples=max(60, settings.default.max_examples))


def _case(op, shape, **kw):
    """A hand-written valid float32 case."""
    case = {"op": op, "seed": 0, "shape": shape, "dtype": "float32", "param_dtype": "same",
            "layout": "contiguous", "affine": True, "eps": 1e-5}
    if op == "batch_norm":
        case.update(training=True, running=True, momentum=0.1, param_shape=[shape[1]])
    else:
        case.update(normalized_shape=shape[-1:], param_shape=shape[-1:])
    return {**case, **kw}


@fuzz
@given(case=fuzz_norm_cases("batch_norm"))
@example(case=_case("batch_norm", [1, 3, 1]))                       # one value per channel
@example(case=_case("batch_norm", [4, 0, 3]))                       # no channels
@example(case=_case("batch_norm", [0, 3, 2]))                       # an empty batch
@example(case=_case("batch_norm", [3, 2, 2, 2], layout="transposed", dtype="float16"))
def test_fuzz_batch_norm(worker, case):
    worker.check(case)


@fuzz
@given(case=fuzz_norm_cases("layer_norm"))
@example(case=_case("layer_norm", [0, 4]))
@example(case=_case("layer_norm", [2, 3, 5], layout="strided", dtype="int64"))
def test_fuzz_layer_norm(worker, case):
    worker.check(case)


def test_valid_cases_run_the_kernels(worker):
    """The fused path is what the fuzzer reaches: a valid float32 case is 'ok' and ran the
    forward and backward kernels (the worker counts them)."""
    result = worker.check(_case("batch_norm", [4, 3, 2]))
    assert result == {"status": "ok", "kernels": ["batch_norm_backward", "batch_norm_forward"]}
    result = worker.check(_case("layer_norm", [4, 3, 2]))
    assert result == {"status": "ok", "kernels": ["layer_norm_backward", "layer_norm_forward"]}


def _valid(case):
    """Whether minigrad should accept the case (PyTorch's rules, with an empty result for
    empty inputs where there are statistics to take)."""
    shape, param_shape = case["shape"], case["param_shape"]
    if case["dtype"] not in FLOATS:
        return False
    if case["op"] == "batch_norm":
        count = math.prod(shape[:1] + shape[2:])
        fits = param_shape == [shape[1]] or not (case["affine"] or case["running"])
        # one value per channel is refused in training; none is an empty batch, returned empty
        return fits and not (case["training"] and count == 1)
    k = len(case["normalized_shape"])
    return (shape[len(shape) - k:] == case["normalized_shape"]
            and (param_shape == case["normalized_shape"] or not case["affine"]))


def _leaf_and_view(mg, case, rng):
    """The leaf Tensor in the case's memory layout, and the (N, C, ...) view the op sees."""
    shape, layout, dtype = list(case["shape"]), case["layout"], case["dtype"]
    if layout == "transposed" and len(shape) < 2:
        layout = "contiguous"
    if layout == "strided":
        memory = shape[:-1] + [2 * shape[-1]]
    elif layout == "transposed":
        memory = [shape[1], shape[0]] + shape[2:]
    else:
        memory = shape
    data = rng.standard_normal(memory) * 2 + 1
    data = data > 1 if dtype == "bool" else (data * 3).astype(dtype)
    leaf = mg.tensor(data, requires_grad=dtype in FLOATS)
    if layout == "strided":
        view = leaf[..., ::2]
    elif layout == "transposed":
        view = leaf.permute(1, 0, *range(2, len(shape)))
    else:
        view = leaf
    return (leaf, view)


def _params(mg, case, rng, x_dtype):
    """(weight, bias, running_mean, running_var), each a Tensor or None."""
    dtype = x_dtype if case["param_dtype"] == "same" else case["param_dtype"]
    if dtype not in FLOATS:
        dtype = "float32"
    shape = case["param_shape"]
    w = b = rm = rv = None
    if case["affine"]:
        w = mg.tensor((rng.random(shape) + 0.5).astype(dtype), requires_grad=True)
        b = mg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    if case.get("running"):
        rm = mg.tensor(rng.standard_normal(shape).astype(dtype))
        rv = mg.tensor((rng.random(shape) + 0.5).astype(dtype))
    return (w, b, rm, rv)


def _reference(case, x, w, b, rm, rv, g):
    """(y, grad_x, grad_w, grad_b, new running_mean, new running_var) in float64."""
    eps = case["eps"]
    if case["op"] == "batch_norm":
        axes = (0,) + tuple(range(2, x.ndim))
        view = (1, -1) + (1,) * (x.ndim - 2)
        param_axes = axes
    else:
        k = len(case["normalized_shape"])
        axes = tuple(range(x.ndim - k, x.ndim))
        view = tuple(case["normalized_shape"])
        param_axes = tuple(range(x.ndim - k))
    w_ = np.ones(1) if w is None else w.reshape(view)
    b_ = np.zeros(1) if b is None else b.reshape(view)
    batch = case["op"] == "layer_norm" or case["training"] or rm is None
    new_rm, new_rv = rm, rv
    if batch:
        M = math.prod(x.shape[a] for a in axes)
        mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
        if case["op"] == "batch_norm" and case["training"] and rm is not None and M > 0:
            m = case["momentum"]
            new_rm = (1 - m) * rm + m * mean.reshape(-1)
            new_rv = (1 - m) * rv + m * var.reshape(-1) * M / max(M - 1, 1)
    else:
        mean, var = rm.reshape(view), rv.reshape(view)
    s = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * s
    gw = g * w_
    if batch:
        grad_x = s * (gw - gw.mean(axes, keepdims=True)
                      - xhat * (gw * xhat).mean(axes, keepdims=True))
    else:
        grad_x = gw * s
    return (xhat * w_ + b_, grad_x, (g * xhat).sum(param_axes), g.sum(param_axes), new_rm,
            new_rv)


def run_case(case, mg, F, R, calls):
    """The worker's verdict on one case: a dict with 'status' and, unless ok, 'error'."""
    op = case["op"]
    rng = np.random.default_rng(case["seed"])
    leaf, x = _leaf_and_view(mg, case, rng)
    w, b, rm, rv = _params(mg, case, rng, case["dtype"])
    before = [None if t is None else t.numpy().astype(np.float64) for t in (rm, rv)]
    calls.clear()
    try:
        if op == "batch_norm":
            y = F.batch_norm(x, rm, rv, w, b, training=case["training"],
                             momentum=case["momentum"], eps=case["eps"])
        else:
            y = F.layer_norm(x, case["normalized_shape"], w, b, eps=case["eps"])
    except (ValueError, TypeError) as error:
        if calls:
            return {"status": "fail", "error": f"{error!r} raised after kernels {calls} ran"}
        if op not in str(error):
            return {"status": "fail", "error": f"{error!r} does not name {op}"}
        if _valid(case):
            return {"status": "fail", "error": f"a valid case was refused: {error!r}"}
        return {"status": "rejected", "error": repr(error)}
    if not _valid(case):
        return {"status": "fail", "error": f"{op} accepted an invalid case"}
    tol = max(TOLERANCE[case["dtype"]], TOLERANCE.get(case["param_dtype"], 0))
    g = rng.standard_normal(y.shape)
    arrays = [None if t is None else t.numpy().astype(np.float64) for t in (x, w, b)]
    ref = _reference(case, arrays[0], arrays[1], arrays[2], *before, g)
    np.testing.assert_allclose(y.numpy().astype(np.float64), ref[0], rtol=tol, atol=tol * 10)
    for t, expected in zip((rm, rv), ref[4:]):
        if t is not None:
            np.testing.assert_allclose(t.numpy().astype(np.float64), expected, rtol=tol,
                                       atol=tol)
    wanted = [t for t in (x, w, b) if t is not None]
    grads = mg.grad([y], wanted, [mg.tensor(g.astype(y.dtype))], allow_unused=True)
    for name, t, grad, expected in zip(("x", "weight", "bias"), wanted, grads, ref[1:4]):
        got = np.zeros(t.shape) if grad is None else grad.numpy().astype(np.float64)
        bound = np.abs(g).sum() / max(1, g.size) * 10 + 1
        np.testing.assert_allclose(got, np.broadcast_to(expected, t.shape), rtol=tol * 10,
                                   atol=tol * 10 * bound, err_msg=name)
    return {"status": "ok", "kernels": sorted(set(calls))}


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    serve(run_case)
