"""Fuzzing ReLU and ``where``, whose float32/float64 C-contiguous arrays go through the
activation kernels (``relu``, ``relu_backward``, ``select``): a correct result and gradient or a
clear error, never a crash or a silent wrong answer.

Hypothesis draws shapes with zeros and ones (0-d included), float32/float64 (kernel), float16
and integers (the array module's path), every layout (contiguous, transposed, strided: a view
the kernel must not read as if it were contiguous, flipped: a negative stride) and values with
NaNs, infinities and signed zeros. Each case runs in a worker process (``fuzz_worker.py``).

Verdicts: ``ok`` when the output equals ``max(x, 0)`` (NaN kept) and, for float inputs, the
gradient equals g where the output is positive and 0 elsewhere, also for a NaN or infinite g,
on the plain backward (the kernel) and under ``create_graph`` (ops) alike. ReLU accepts every
real dtype, so nothing may be rejected. ``where(cond, x, y)`` is judged against ``np.where``
with y of x's shape, broadcast against it, or a Python number, and its gradients against
``g where cond`` and ``g elsewhere`` (summed over y's broadcast axes).

Notation
--------
case   a JSON-ready dict: op, seed, shape, dtype, layout, special (put NaN/inf/±0 in x and g)
"""
import sys

import numpy as np
from hypothesis import given, settings, strategies as st

from fuzz_worker import serve, worker_fixture

SPECIAL = [0.0, -0.0, np.nan, np.inf, -np.inf]


@st.composite
def relu_cases(draw):
    return {"op": "relu", "seed": draw(st.integers(0, 2**31)),
            "shape": draw(st.lists(st.integers(0, 5), min_size=0, max_size=4)),
            "dtype": draw(st.sampled_from(["float32", "float32", "float64", "float16",
                                           "int64"])),
            "layout": draw(st.sampled_from(["contiguous", "transposed", "strided", "flipped"])),
            "special": draw(st.booleans())}


@st.composite
def where_cases(draw):
    case = draw(relu_cases())
    case["op"] = "where"
    case["other"] = draw(st.sampled_from(["same", "same", "broadcast", "number"]))
    return case


def _leaf(mg, case, rng):
    """The leaf and the view of it the op sees, per ``case['layout']``."""
    shape = tuple(case["shape"])
    dtype = np.dtype(case["dtype"])

    def draw(size_shape):
        values = np.asarray(rng.standard_normal(size_shape) * 3)
        if case["special"] and values.size:
            spots = np.asarray(rng.random(size_shape) < 0.3)
            values[spots] = rng.choice(SPECIAL, size=int(spots.sum()))
        if dtype.kind in "iu":
            values = np.nan_to_num(values, nan=0.0, posinf=7.0, neginf=-7.0)
        return values.astype(dtype)
    layout = case["layout"] if len(shape) >= 1 else "contiguous"
    if layout == "transposed":
        leaf = mg.tensor(draw(shape[::-1]), requires_grad=dtype.kind == "f")
        return leaf, leaf.permute(*range(len(shape) - 1, -1, -1))
    if layout == "strided":
        leaf = mg.tensor(draw(shape[:-1] + (2 * shape[-1],)), requires_grad=dtype.kind == "f")
        return leaf, leaf[..., ::2]
    if layout == "flipped":
        leaf = mg.tensor(draw(shape), requires_grad=dtype.kind == "f")
        return leaf, leaf[..., ::-1]
    leaf = mg.tensor(draw(shape), requires_grad=dtype.kind == "f")
    return leaf, leaf


def run_where_case(case, mg, rng, calls):
    """where(x > 0.5, x, y) for one case: values, dtype and both gradients."""
    leaf, x = _leaf(mg, case, rng)
    xs = x.numpy()
    cond = xs > 0.5
    if case["other"] == "number":
        other, ys = -2.5, -2.5
    else:
        shape = xs.shape if case["other"] == "same" else xs.shape[:-1] + (1,) * min(1, xs.ndim)
        ys = (rng.standard_normal(shape) * 3).astype(xs.dtype)
        other = mg.tensor(ys, requires_grad=leaf.requires_grad)
    calls.clear()
    out = mg.where(cond, x, other)
    expected = np.where(cond, xs, ys)
    np.testing.assert_array_equal(out.numpy(), expected)
    assert out.dtype == expected.dtype, (out.dtype, expected.dtype)
    forward_kernels = sorted(set(calls) - {"select_takes"})  # a predicate, not a kernel
    if not leaf.requires_grad:
        return {"status": "ok", "kernels": forward_kernels}
    g = rng.standard_normal(out.shape).astype(expected.dtype)
    if case["special"] and g.size:
        g.flat[::3] = np.nan
    inputs = [x] + ([other] if isinstance(other, mg.Tensor) else [])
    grads = mg.grad([out], inputs, grad_outputs=[mg.tensor(g)])
    np.testing.assert_array_equal(grads[0].numpy(), np.where(cond, g, 0))
    if len(grads) == 2:
        wanted = np.where(cond, 0, g)
        if wanted.shape != ys.shape:
            wanted = wanted.sum(axis=-1, keepdims=True)
        np.testing.assert_allclose(grads[1].numpy(), wanted, rtol=1e-6)
    return {"status": "ok", "kernels": forward_kernels}


def run_case(case, mg, F, R, calls):
    """The worker's verdict on one case: a dict with 'status' and, unless ok, 'error'."""
    rng = np.random.default_rng(case["seed"])
    if case["op"] == "where":
        return run_where_case(case, mg, rng, calls)
    leaf, x = _leaf(mg, case, rng)
    calls.clear()
    try:
        out = F.relu(x)
    except (ValueError, TypeError, IndexError) as error:
        return {"status": "fail", "error": f"relu refused {case}: {error!r}"}
    xs = x.numpy()
    np.testing.assert_array_equal(out.numpy(), np.maximum(xs, np.zeros_like(xs)))
    assert out.dtype == xs.dtype, (out.dtype, xs.dtype)
    if not leaf.requires_grad:
        return {"status": "ok"}
    g = rng.standard_normal(out.shape).astype(xs.dtype)
    if case["special"] and g.size:
        g.flat[::3] = np.nan
        g.flat[1::3] = np.inf
    expected = np.where(out.numpy() > 0, g, np.zeros_like(g))
    for create_graph in (False, True):
        (grad_view,) = mg.grad([out], [x], grad_outputs=[mg.tensor(g)], retain_graph=True,
                               create_graph=create_graph)
        np.testing.assert_array_equal(grad_view.numpy(), expected)
        assert grad_view.dtype == xs.dtype
    return {"status": "ok", "kernels": sorted(set(calls) - {"select_takes"})}


worker = worker_fixture(__file__)


@settings(max_examples=max(60, settings.default.max_examples))
@given(case=relu_cases())
def test_fuzz_relu(worker, case):
    worker.check(case)


def test_the_kernels_run_for_contiguous_floats_and_not_for_views(worker):
    """The fuzz verdicts cover both paths: a contiguous float32 case calls both CPU kernels; a
    strided view takes the array module's forward, whose output (a new, contiguous array) the
    backward kernel then takes; the backward under create_graph is a select; float16 stays with
    the array module."""
    for layout in ("contiguous", "strided"):
        for dtype in ("float32", "float16"):
            case = {"op": "relu", "seed": 3, "shape": [4, 6], "dtype": dtype, "layout": layout,
                    "special": True}
            result = worker.check(case)
            assert result["status"] == "ok"
            # select: the backward under create_graph (ActivationSlope)
            expected = ([] if dtype == "float16" else ["relu", "relu_backward", "select"]
                        if layout == "contiguous" else ["relu_backward", "select"])
            assert result["kernels"] == expected, result


@settings(max_examples=max(60, settings.default.max_examples))
@given(case=where_cases())
def test_fuzz_where(worker, case):
    worker.check(case)


def test_where_takes_the_select_kernel_for_contiguous_floats_of_one_shape(worker):
    for layout, other, dtype, expected in [("contiguous", "same", "float32", ["select"]),
                                           ("contiguous", "number", "float64", ["select"]),
                                           ("transposed", "same", "float32", []),
                                           ("contiguous", "broadcast", "float64", []),
                                           ("contiguous", "same", "float16", [])]:
        case = {"op": "where", "seed": 4, "shape": [3, 5], "dtype": dtype, "layout": layout,
                "special": True, "other": other}
        result = worker.check(case)
        assert result == {"status": "ok", "kernels": expected}, (case, result)


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    serve(run_case)
