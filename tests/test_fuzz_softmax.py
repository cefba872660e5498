"""Fuzzing the fused softmax family (softmax, log_softmax, cross_entropy with class targets): a
correct result or a clear error raised before any kernel ran, never a crash or a silent wrong
answer.

Hypothesis draws cases that mix valid and invalid input on purpose: empty batches, C = 0 and
C = 1, dense predictions (N, C, d1), float16 and integer logits, strided and transposed views,
dims out of range, targets of the wrong length or of dtype bool, values outside [0, C) (negative ones included, which NumPy would silently wrap), ``ignore_index``
taken by none, some or all targets, weights of the wrong length, bad reductions and label
smoothing outside [0, 1]. Each case runs in a worker process (``fuzz_worker.py``).

Verdicts: ``ok`` when the output matches NumPy and, for float32/float64 logits, the gradient
matches the rule of the op (y·(g − Σ g·y) for softmax, g − softmax·Σ g for log-softmax, and
s·((Σ_c w_c q_c)·p − w·q) for the cross-entropy, q the smoothed target); ``rejected`` for a
ValueError, TypeError or IndexError that names the op, raised before any
``minigrad.kernels.cpu`` function ran. Anything else fails, and so does an invalid case that
was not rejected.

Notation
--------
case   a JSON-ready dict: op, seed, rows N, classes C, extra (d1 or nothing), dim, dtype,
       layout, target_dtype, target_shift (length N + shift), low/high (target values drawn
       from [low, C) or [low, C + 2)),
       ignore_index, ignored (none/some/all), reduction, weight (none/ok/short), smoothing
"""
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fuzz_worker import serve, worker_fixture

OPS = ["softmax", "log_softmax", "cross_entropy"]
FLOATS = ("float32", "float64")


BREAKS = {  # one invalid choice per case at most, so that most cases are valid and computed
    "target_dtype": ("target_dtype", ["bool"]), "target_length": ("target_shift", [-1, 1]),
    "negative_target": ("low", [-2]), "large_target": ("high", ["C+2"]),
    "reduction": ("reduction", ["avg"]), "weight": ("weight", ["short"]),
    "smoothing": ("smoothing", [1.5, -0.1]), "dim": ("dim", [-4, 3])}


@st.composite
def softmax_cases(draw, op):
    """A valid case with the options drawn; then, half the time, one thing broken on purpose
    (C = 0 is drawn among the valid sizes: softmax takes it, cross_entropy refuses it)."""
    C = draw(st.integers(0, 4))
    extra = draw(st.sampled_from([[], [], [2]]))
    case = {"op": op, "seed": draw(st.integers(0, 2**31)), "rows": draw(st.integers(0, 4)),
            "classes": C, "extra": extra, "dim": draw(st.integers(-2 - len(extra), 1)),
            "dtype": draw(st.sampled_from(["float32", "float32", "float64", "float16",
                                           "int64"])),
            "layout": draw(st.sampled_from(["contiguous", "strided", "transposed"])),
            "target_dtype": draw(st.sampled_from(["int64", "int64", "int32", "uint8"])),
            "target_shift": 0, "low": 0, "high": "C",
            "ignore_index": draw(st.sampled_from([-100, 0])),
            "ignored": draw(st.sampled_from(["none", "some", "all"])),
            "reduction": draw(st.sampled_from(["mean", "sum", "none"])),
            "weight": draw(st.sampled_from(["none", "ok"])),
            "smoothing": draw(st.sampled_from([0.0, 0.0, 0.3, 1.0]))}
    broken = draw(st.sampled_from([None] * len(BREAKS) + sorted(BREAKS)))
    if broken is not None:
        field, choices = BREAKS[broken]
        case[field] = draw(st.sampled_from(choices))
    return case


def _build(case, mg):
    rng = np.random.default_rng(case["seed"])
    N, C, extra = case["rows"], case["classes"], tuple(case["extra"])
    x = rng.standard_normal((N, C) + extra) * 3
    if case["layout"] == "strided":
        x = np.repeat(x, 2, axis=0)[::2]
    elif case["layout"] == "transposed":
        x = np.asfortranarray(x)
    x = x.astype(case["dtype"]) if case["dtype"] != "int64" else np.round(x).astype(np.int64)
    leaf = mg.tensor(x, requires_grad=case["dtype"] in FLOATS)
    high = {"C": C, "C+2": C + 2}[case["high"]]
    target = rng.integers(case["low"], max(high, case["low"] + 1),
                          (max(0, N + case["target_shift"]),) + extra)
    if case["ignored"] != "none" and target.size:
        hits = rng.random(target.shape) < 0.5 if case["ignored"] == "some" else True
        target[hits] = case["ignore_index"]
    target = target.astype(case["target_dtype"]) if case["target_dtype"] != "uint8" else \
        np.where(target < 0, 255, target).astype(np.uint8)
    weight = {"none": None, "ok": rng.uniform(0.5, 2, C),
              "short": rng.uniform(0.5, 2, max(C - 1, 0) if C != 1 else 2)}[case["weight"]]
    return (x, leaf, target, weight)


def _valid(case, x, target, weight):
    if case["op"] != "cross_entropy":
        return -x.ndim <= case["dim"] < x.ndim
    C = x.shape[1]
    kept = target != case["ignore_index"]
    return (target.dtype.kind in "iu" and target.shape == x.shape[:1] + x.shape[2:]
            and C >= 1 and not (kept & ((target < 0) | (target >= C))).any()
            and (weight is None or weight.shape == (C,))
            and case["reduction"] in ("mean", "sum", "none") and 0 <= case["smoothing"] <= 1)


def _softmax_reference(op, x, dim):
    """(out, vjp(g)) in float64 NumPy."""
    x = x.astype(np.float64)
    if x.shape[dim] == 0:
        return (np.zeros(x.shape), lambda g: np.zeros(x.shape))
    shifted = x - x.max(dim, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(dim, keepdims=True))
    p = np.exp(logp)
    if op == "softmax":
        return (p, lambda g: p * (g - (g * p).sum(dim, keepdims=True)))
    return (logp, lambda g: g - p * g.sum(dim, keepdims=True))


def _cross_entropy_reference(x, target, weight, ignore_index, reduction, eps):
    """(loss, vjp(g)) in float64 NumPy, on rows moved classes-last; a mean over no kept
    weight is 0."""
    C = x.shape[1]
    rows = np.moveaxis(x.astype(np.float64), 1, -1).reshape(-1, C)
    t = target.reshape(-1).astype(np.int64)
    w = np.ones(C) if weight is None else weight
    kept = t != ignore_index
    q = np.full(rows.shape, eps / C)
    q[np.arange(t.size), np.where(kept, t, 0)] += 1 - eps
    q[~kept] = 0.0
    shifted = rows - rows.max(1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    per_row = -(w * q * logp).sum(1)
    total = (w[np.where(kept, t, 0)] * kept).sum()
    scale = 1 / total if reduction == "mean" and total else 0.0 if reduction == "mean" else 1.0
    grad_rows = ((w * q).sum(1, keepdims=True) * np.exp(logp) - w * q) * scale

    def back(rows_grad):
        moved = rows_grad.reshape((x.shape[0],) + x.shape[2:] + (C,))
        return np.moveaxis(moved, -1, 1)

    if reduction == "none":
        return (per_row.reshape(target.shape),
                lambda g: back(grad_rows * g.reshape(-1, 1)))
    return (per_row.sum() * scale, lambda g: back(grad_rows * g))


def _run(case, F, leaf, target, weight):
    if case["op"] != "cross_entropy":
        return getattr(F, case["op"])(leaf, case["dim"])
    return F.cross_entropy(leaf, target, weight=weight, ignore_index=case["ignore_index"],
                           reduction=case["reduction"], label_smoothing=case["smoothing"])


def run_case(case, mg, F, R, calls):
    """The worker's verdict on one case: a dict with 'status' and, unless ok, 'error'."""
    op = case["op"]
    x, leaf, target, weight = _build(case, mg)
    calls.clear()
    try:
        out = _run(case, F, leaf, target, weight)
    except (ValueError, TypeError, IndexError) as error:
        if calls:
            return {"status": "fail", "error": f"{error!r} raised after kernels {calls} ran"}
        if op not in str(error):
            return {"status": "fail", "error": f"{error!r} does not name {op}"}
        if _valid(case, x, target, weight):
            return {"status": "fail", "error": f"valid case refused: {error!r}"}
        return {"status": "rejected", "error": repr(error)}
    if not _valid(case, x, target, weight):
        return {"status": "fail", "error": f"{op} accepted an invalid case"}
    if op == "cross_entropy":
        expected, vjp = _cross_entropy_reference(x, target, weight, case["ignore_index"],
                                                 case["reduction"], case["smoothing"])
    else:
        expected, vjp = _softmax_reference(op, x, case["dim"])
    tol = {"float32": 1e-5, "float64": 1e-12, "float16": 3e-3, "int64": 1e-12}[case["dtype"]]
    scale = 1 + np.abs(x).max(initial=0) if op == "log_softmax" else 1
    np.testing.assert_allclose(out.numpy().astype(np.float64), expected, rtol=tol * 10,
                               atol=tol * 10 * scale)
    if case["dtype"] not in FLOATS:
        return {"status": "ok"}
    g = np.random.default_rng(1).standard_normal(out.shape)
    (grad,) = mg.grad([out], [leaf], grad_outputs=[mg.tensor(g.astype(x.dtype))],
                      allow_unused=True)
    grad = np.zeros(x.shape) if grad is None else grad.numpy()
    np.testing.assert_allclose(grad, vjp(g), rtol=tol * 100, atol=tol * 100)
    return {"status": "ok"}


worker = worker_fixture(__file__)


fuzz = settings(max_examples=max(40, settings.default.max_examples))


@pytest.mark.parametrize("op", OPS)
@fuzz
@given(data=st.data())
def test_fuzz_softmax_family(worker, op, data):
    worker.check(data.draw(softmax_cases(op)))


def test_fuzz_worker_names_a_wrong_answer(worker):
    """The verdicts are not vacuous: a negative target (NumPy would wrap it) is rejected, and
    the same case with targets in range is computed and checked."""
    case = {"op": "cross_entropy", "seed": 0, "rows": 3, "classes": 4, "extra": [],
            "dim": -1, "dtype": "float32", "layout": "contiguous", "target_dtype": "int64",
            "target_shift": 0, "low": -2, "high": "C", "ignore_index": -100, "ignored": "none",
            "reduction": "mean", "weight": "ok", "smoothing": 0.3}
    rejected = worker.check(dict(case, seed=1))  # targets [2, -1, 0]
    assert rejected["status"] == "rejected" and "target values must be in [0, 4)" in \
        rejected["error"] and "got -1" in rejected["error"]
    assert worker.check(dict(case, low=0))["status"] == "ok"
    assert worker.check(dict(case, low=0, classes=0))["status"] == "rejected"


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    serve(run_case)
