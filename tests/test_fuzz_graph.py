"""Fuzzing the graph ops (gather, the scatters, segment softmax): a correct result or a clear
error raised before any kernel ran, never a crash or a silent wrong answer.

Hypothesis draws cases that mix valid and invalid input on purpose: no rows, empty segments,
features of size 0, every row on one segment, non-contiguous views, float16/int/bool sources,
float/uint8/2-D indices, indices of the wrong length, values outside [0, S) (negative ones
included, which NumPy would silently wrap) and negative sizes. Each case runs in a worker
process (``fuzz_worker.py``), so a kernel that dies on a signal fails one test and names the case.

Verdicts: ``ok`` when the output matches a NumPy loop and the gradient matches the rule of the
op (the adjoint of the reference for the linear ops; g[index] split among ties for max/min;
y (g - Σ g y) for the softmax); ``rejected`` for a ValueError, TypeError or IndexError that
names the op, raised before any ``minigrad.kernels.cpu`` function ran. Anything else fails, and
so does an invalid case that was not rejected.

Notation
--------
case   a JSON-ready dict: op, seed, rows M, tail (trailing dims of src), size S, dtype,
       index_dtype, index_len (M + shift), index_2d, low/high (the index value range), layout
"""
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fuzz_worker import serve, worker_fixture

OPS = ["gather", "scatter_add", "scatter_mean", "scatter_max", "scatter_min", "segment_softmax"]
FLOATS = ("float32", "float64")


@st.composite
def graph_cases(draw, op):
    S = draw(st.integers(-1, 5))
    M = draw(st.integers(0, 6))
    case = {"op": op, "seed": draw(st.integers(0, 2**31)), "rows": M, "size": S,
            "tail": draw(st.sampled_from([[], [0], [1], [3], [2, 2]])),
            "dtype": draw(st.sampled_from(["float64", "float32", "float32", "float16", "int64",
                                           "bool"])),
            "index_dtype": draw(st.sampled_from(["int64", "int64", "int32", "uint8", "float64"])),
            "index_shift": draw(st.sampled_from([0, 0, 0, -1, 1])),
            "index_2d": draw(st.booleans()) and draw(st.booleans()),
            "layout": draw(st.sampled_from(["contiguous", "strided", "transposed"]))}
    top = max(S, 1) if op != "gather" else M
    case["low"] = draw(st.sampled_from([0, 0, 0, -2]))
    case["high"] = draw(st.sampled_from([top, top, top + 2]))
    return case


def _build(case, mg):
    rng = np.random.default_rng(case["seed"])
    op, M, tail = case["op"], case["rows"], tuple(case["tail"])
    src = rng.standard_normal((M,) + tail)
    if case["layout"] == "strided":
        src = np.repeat(src, 2, axis=0)[::2]
    elif case["layout"] == "transposed" and len(tail) == 2:
        src = np.ascontiguousarray(np.swapaxes(src, 1, 2)).swapaxes(1, 2)
    src = src.astype(case["dtype"])
    leaf = mg.tensor(src, requires_grad=case["dtype"] in FLOATS)
    n = max(0, (7 if op == "gather" else M) + case["index_shift"])
    high = max(case["high"], case["low"] + 1)
    index = rng.integers(case["low"], high, (n,)).astype(case["index_dtype"])
    if case["index_2d"]:
        index = index.reshape(n, 1)
    return (src, leaf, index)


def _valid(case, src, index):
    op, S = case["op"], case["size"]
    rows = src.shape[0]
    bound = rows if op == "gather" else S
    return (str(src.dtype) in FLOATS and index.dtype.kind in "iu" and index.ndim == 1
            and (op == "gather" or (S >= 0 and index.shape[0] == rows))
            and (index.size == 0 or (index.min() >= 0 and index.max() < bound)))


def _reference(op, src, index, S):
    """(out, vjp(g)) of a NumPy loop over segments."""
    if op == "gather":
        return (src[index], lambda g: _segment_sum(g, index, src.shape[0]))
    out = np.zeros((S,) + src.shape[1:])
    counts = np.bincount(index, minlength=S)
    if op in ("scatter_add", "scatter_mean"):
        out = _segment_sum(src, index, S)
        scale = 1 / np.maximum(counts, 1) if op == "scatter_mean" else np.ones(S)
        scale = scale.reshape((S,) + (1,) * (src.ndim - 1))
        return (out * scale, lambda g: (g * scale)[index])
    if op in ("scatter_max", "scatter_min"):
        pick = np.max if op == "scatter_max" else np.min
        for s in range(S):
            if counts[s]:
                out[s] = pick(src[index == s], axis=0)
        hit = src == out[index]
        ties = _segment_sum(hit.astype(float), index, S)
        return (out, lambda g: g[index] * hit / np.maximum(ties[index], 1))
    y = np.zeros(src.shape)
    for s in range(S):
        if counts[s]:
            e = np.exp(src[index == s] - src[index == s].max(axis=0))
            y[index == s] = e / e.sum(axis=0)
    return (y, lambda g: y * (g - _segment_sum(g * y, index, S)[index]))


def _segment_sum(values, index, S):
    out = np.zeros((S,) + values.shape[1:])
    for r, s in enumerate(index):
        out[s] += values[r]
    return out


def run_case(case, mg, F, R, calls):
    """The worker's verdict on one case: a dict with 'status' and, unless ok, 'error'."""
    op = case["op"]
    src, leaf, index = _build(case, mg)
    calls.clear()
    try:
        out = F.gather(leaf, index) if op == "gather" else getattr(F, op)(leaf, index,
                                                                           case["size"])
    except (ValueError, TypeError, IndexError) as error:
        if calls:
            return {"status": "fail", "error": f"{error!r} raised after kernels {calls} ran"}
        if op not in str(error):
            return {"status": "fail", "error": f"{error!r} does not name {op}"}
        if _valid(case, src, index):
            return {"status": "fail", "error": f"valid case refused: {error!r}"}
        return {"status": "rejected", "error": repr(error)}
    if not _valid(case, src, index):
        return {"status": "fail", "error": f"{op} accepted an invalid case"}
    expected, vjp = _reference(op, src.astype(np.float64), index, case["size"])
    tol = 1e-5 if src.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.numpy(), expected, rtol=tol, atol=tol)
    g = np.random.default_rng(1).standard_normal(out.shape)
    (grad,) = mg.grad([out], [leaf], grad_outputs=[mg.tensor(g.astype(src.dtype))],
                      allow_unused=True)
    grad = np.zeros(src.shape) if grad is None else grad.numpy()
    np.testing.assert_allclose(grad, vjp(g), rtol=tol * 10, atol=tol * 10)
    return {"status": "ok"}


worker = worker_fixture(__file__)


fuzz = settings(max_examples=max(40, settings.default.max_examples))


@pytest.mark.parametrize("op", OPS)
@fuzz
@given(data=st.data())
def test_fuzz_graph_ops(worker, op, data):
    worker.check(data.draw(graph_cases(op)))


def test_fuzz_worker_names_a_wrong_answer(worker):
    """The verdicts are not vacuous: a negative index (NumPy would wrap it) is rejected."""
    case = {"op": "scatter_add", "seed": 0, "rows": 3, "size": 2, "tail": [2],
            "dtype": "float64", "index_dtype": "int64", "index_shift": 0, "index_2d": False,
            "layout": "contiguous", "low": -2, "high": -1}
    assert worker.check(case)["status"] == "rejected"
    assert worker.check(dict(case, low=0, high=2))["status"] == "ok"


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    serve(run_case)
