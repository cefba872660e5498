"""Fuzzing the fused optimizer updates: any input gives the NumPy rule's bits or a clear error
raised before anything moved, never a crash.

Hypothesis draws cases (``strategies/optim.py``) of SGD, Adam and AdamW with every setting of
``foreach`` and ``fused``, parameters of any shape (0-d and empty included), float16, float32
and float64, contiguous or not, and gradients that mostly fit but sometimes have another dtype
or shape, or are missing. Each case runs in a worker process (this file run as a script;
``fuzz_worker.py``), so that a kernel that corrupts memory fails the one test and names the case.
The worker reports

- ``ok``: every step gave the same bits as the NumPy rule (``foreach=False``) fed the same
  gradients, and the fused kernel ran whenever the case asked for it;
- ``rejected``: a ValueError or TypeError naming the optimizer, raised when it was built or
  before any kernel in ``minigrad.kernels.cpu`` ran in the step, with every parameter as it was;

and anything else fails the test.
"""
import sys

import numpy as np
from hypothesis import example, given, settings

from fuzz_worker import serve, worker_fixture
from strategies.optim import laid_out, optimizer_cases



worker = worker_fixture(__file__)


HALF_FUSED = {"op": "SGD", "seed": 0, "steps": 1,
              "options": {"lr": 0.1, "foreach": None, "fused": True},
              "params": [{"shape": [2], "dtype": "float16", "layout": "contiguous"}],
              "grads": [{"shape": [2], "dtype": "float16", "layout": "contiguous"}]}
MIXED_GRAD = {"op": "Adam", "seed": 0, "steps": 2,
              "options": {"lr": 0.1, "foreach": True, "fused": None},
              "params": [{"shape": [3], "dtype": "float32", "layout": "contiguous"},
                         {"shape": [2, 2], "dtype": "float32", "layout": "fortran"}],
              "grads": [{"shape": [3], "dtype": "float32", "layout": "strided"},
                        {"shape": [2, 2], "dtype": "float64", "layout": "contiguous"}]}


@settings(max_examples=max(60, settings.default.max_examples))
@given(case=optimizer_cases())
@example(case=HALF_FUSED)
@example(case=MIXED_GRAD)
def test_fuzz_optimizers(worker, case):
    worker.check(case)


def _params(mg, case, rng):
    params = []
    for spec in case["params"]:
        values = np.asarray(rng.standard_normal(spec["shape"]), dtype=spec["dtype"])
        p = mg.tensor(values, requires_grad=True)
        p.data = laid_out(values.copy(), spec["layout"])
        params.append(p)
    return params


def _grads(mg, case, rng):
    grads = []
    for spec in case["grads"]:
        if spec is None:
            grads.append(None)
            continue
        values = np.asarray(10 * rng.standard_normal(spec["shape"]), dtype=spec["dtype"])
        grads.append(mg.tensor(laid_out(values, spec["layout"])))
    return grads


def _optimizer(optim, case, params, **override):
    options = dict(case["options"], **override)
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    return getattr(optim, case["op"])(params, **options)


def run_case(case, mg, F, R, calls):
    """The worker's verdict on one case: a dict with 'status' and, unless ok, 'error'."""
    import optim
    op = case["op"]
    rng = np.random.default_rng(case["seed"])
    params, reference = _params(mg, case, rng), _params(mg, case, np.random.default_rng(
        case["seed"]))
    try:
        fused = _optimizer(optim, case, params)
    except (ValueError, TypeError) as error:
        if op not in str(error):
            return {"status": "fail", "error": f"{error!r} does not name {op}"}
        return {"status": "rejected", "error": repr(error)}
    numpy_rule = _optimizer(optim, case, reference, foreach=False, fused=None)
    for _ in range(case["steps"]):
        grads = _grads(mg, case, rng)
        for p, q, g in zip(params, reference, grads):
            p.grad, q.grad = g, g
        before = [p.numpy().copy() for p in params]
        calls.clear()
        try:
            fused.step()
        except (ValueError, TypeError) as error:
            if calls:
                return {"status": "fail", "error": f"{error!r} raised after kernels {calls} ran"}
            if op not in str(error):
                return {"status": "fail", "error": f"{error!r} does not name {op}"}
            if any(not np.array_equal(p.numpy(), b, equal_nan=True)
                   for p, b in zip(params, before)):
                return {"status": "fail", "error": f"{error!r} raised after a parameter moved"}
            return {"status": "rejected", "error": repr(error)}
        demanded = case["options"]["foreach"] or case["options"]["fused"]
        if demanded and any(p.grad is not None for p in params) and not calls:
            return {"status": "fail", "error": "foreach/fused=True but no kernel ran"}
        with np.errstate(all="ignore"):
            numpy_rule.step()
        for p, q in zip(params, reference):
            if not np.array_equal(p.numpy(), q.numpy(), equal_nan=True):
                return {"status": "fail", "error": f"{op}: fused {p.numpy()!r} but the NumPy "
                                                   f"rule gives {q.numpy()!r}"}
    return {"status": "ok"}


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    serve(run_case)
