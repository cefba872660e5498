"""Fuzzing the detection kernels: any input gives a correct result or a clear error, never a crash.

Cases from ``strategies/detection.py`` (``fuzz_cases``) mix valid and invalid input: empty maps
and box sets, boxes off the map or reversed, batch indices out of range or fractional, NaN and
inf coordinates and scales, output sizes of 0, float16/int/bool inputs. Each runs in a worker
process (``fuzz_worker.py``), so that a kernel that corrupts memory fails one test and names the
case. The verdict is ``ok`` when the result matches the NumPy reference
(``references_detection.py``) and the gradient passes the adjoint test (``<gx, v> = <g, f(v)>``,
the ops being linear in the map once the argmax is fixed), or ``rejected`` when a ValueError,
TypeError or IndexError that names the op was raised before any kernel in
``minigrad.kernels.cpu`` ran.

Notation
--------
case      a JSON-ready dict: op, seed, shapes, dtype and the op's options
"""
import sys

import numpy as np
from hypothesis import example, given, settings

from fuzz_worker import serve, worker_fixture
from strategies.detection import fuzz_cases



worker = worker_fixture(__file__)


fuzz = settings(max_examples=max(60, settings.default.max_examples))


@fuzz
@given(case=fuzz_cases("roi_align"))
# reversed corners under aligned=True: two negative adaptive grid sizes once sized a table of
# sampling points that was never written, and the kernel read garbage indices (a segfault)
@example(case={"op": "roi_align", "seed": 1, "shape": [1, 1, 1, 1], "dtype": "float32",
               "box_shape": [1, 5], "batch": "inside", "coordinates": "reversed",
               "output_size": 1, "spatial_scale": 1.0, "sampling_ratio": 0, "aligned": True})
def test_fuzz_roi_align(worker, case):
    worker.check(case)


@fuzz
@given(case=fuzz_cases("roi_pool"))
def test_fuzz_roi_pool(worker, case):
    worker.check(case)


@fuzz
@given(case=fuzz_cases("nms"))
def test_fuzz_nms(worker, case):
    worker.check(case)


def test_a_valid_case_is_judged_ok_and_a_bad_one_rejected(worker):
    case = {"op": "roi_align", "seed": 0, "shape": [1, 2, 4, 4], "dtype": "float32",
            "box_shape": [2, 5], "batch": "inside", "coordinates": "plain", "output_size": 2,
            "spatial_scale": 1.0, "sampling_ratio": -1, "aligned": True}
    assert worker.check(case)["status"] == "ok"
    assert worker.check(dict(case, batch="outside"))["status"] == "rejected"


def _number(v):
    return float(v) if isinstance(v, str) else v


def _boxes(case, rng, N, H, W):
    K, cols = case["box_shape"]
    corner = rng.uniform(-2, max(H, W) + 1, (K, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(0, 5, (K, 2))], axis=1)
    if case["coordinates"] == "reversed":
        boxes = boxes[:, [2, 3, 0, 1]]
    if K and case["coordinates"] in ("nan", "inf"):
        boxes[rng.integers(K), rng.integers(4)] = float(case["coordinates"])
    batch = rng.integers(0, max(N, 1), K).astype(np.float64)
    if K and case["batch"] == "outside":
        batch[0] = N
    if K and case["batch"] == "fraction":
        batch[0] = 0.5
    rois = np.concatenate([batch[:, None], boxes], axis=1)
    return rois[:, :cols] if cols == 4 else rois


def _run_nms(case, mg, F, RD, calls):
    rng = np.random.default_rng(case["seed"])
    K, cols = case["box_shape"]
    corner = rng.integers(0, 5, (K, 2))
    boxes = np.concatenate([corner, corner + rng.integers(1, 3, (K, 2)),
                            np.zeros((K, cols - 4))], axis=1)
    scores = rng.integers(0, 3, case["score_len"]) / 2
    dtype = case["dtype"]
    calls.clear()
    try:
        keep = F.nms(mg.tensor(boxes.astype(dtype)), mg.tensor(scores.astype(dtype)),
                     _number(case["iou_threshold"]))
    except (ValueError, TypeError, IndexError) as error:
        return _rejected("nms", error, calls)
    expected = RD.nms(boxes.astype(dtype).astype(np.float64),
                      scores.astype(dtype).astype(np.float64), _number(case["iou_threshold"]))
    np.testing.assert_array_equal(keep.numpy(), expected)
    return {"status": "ok"}


def _rejected(op, error, calls):
    if calls:
        return {"status": "fail", "error": f"{error!r} raised after kernels {calls} ran"}
    if op not in str(error):
        return {"status": "fail", "error": f"{error!r} does not name {op}"}
    return {"status": "rejected", "error": repr(error)}


def run_case(case, mg, F, R, calls):
    """The worker's verdict on one case: a dict with 'status' and, unless ok, 'error'."""
    import references_detection as RD
    op = case["op"]
    if op == "nms":
        return _run_nms(case, mg, F, RD, calls)
    rng = np.random.default_rng(case["seed"])
    N, C, H, W = case["shape"]
    data = rng.standard_normal(case["shape"])
    data = data > 0 if case["dtype"] == "bool" else data.astype(case["dtype"])
    x = mg.tensor(data, requires_grad=case["dtype"] in ("float32", "float64"))
    rois = _boxes(case, rng, N, H, W)
    kwargs = {"output_size": case["output_size"], "spatial_scale": _number(case["spatial_scale"])}
    if op == "roi_align":
        kwargs.update(sampling_ratio=case["sampling_ratio"], aligned=case["aligned"])
    calls.clear()
    try:
        y = getattr(F, op)(x, mg.tensor(rois), **kwargs)
    except (ValueError, TypeError, IndexError) as error:
        return _rejected(op, error, calls)
    if case["dtype"] not in ("float32", "float64") or rois.shape[1] != 5:
        return {"status": "fail", "error": f"{op} accepted {case['dtype']} / boxes {rois.shape}"}
    tol = 1e-4 if case["dtype"] == "float32" else 1e-10
    reference = getattr(RD, op)
    x64 = data.astype(np.float64)
    np.testing.assert_allclose(y.numpy(), reference(x64, rois.astype(data.dtype), **kwargs),
                               rtol=tol, atol=tol)
    g = rng.standard_normal(y.shape)
    y.backward(mg.tensor(g.astype(data.dtype)))
    v = rng.standard_normal(x64.shape)
    if op == "roi_pool":  # linear once the argmax is fixed: read v at the same positions
        _, argmax = RD.roi_pool(x64, rois.astype(data.dtype), **kwargs, return_argmax=True)
        flat = v.reshape(N, C, -1)
        fv = np.zeros(argmax.shape)
        for k, c, ph, pw in zip(*np.nonzero(argmax >= 0)):
            fv[k, c, ph, pw] = flat[int(rois[k, 0]), c, argmax[k, c, ph, pw]]
    else:
        fv = reference(v, rois.astype(data.dtype), **kwargs)
    np.testing.assert_allclose((x.grad.numpy().astype(np.float64) * v).sum(), (g * fv).sum(),
                               rtol=tol * 10, atol=tol * 10)
    return {"status": "ok"}


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    serve(run_case)
