"""Fuzzing the kernel-backed ops: any input gives a correct result or a clear error, never a crash.

Hypothesis draws cases (``strategies/fuzz.py``) that mix valid and invalid input on purpose:
sizes of 0 and 1, odd strides, paddings and dilations, windows that cover only padding,
non-contiguous and negative-stride views, float16/int/bool inputs and mixed dtypes, wild
indices and scale factors.
Each case runs in a worker process (this file run as a script; ``fuzz_worker.py``), so that a kernel that corrupts
memory or dies on a signal fails the one test and names the case, instead of killing pytest.
The worker runs the op and its backward and reports one of

- ``ok``: the result matches the slow NumPy reference of ``tests/references.py`` (or PyTorch,
  in the torch tests), and the gradients pass the adjoint test below;
- ``rejected``: a ValueError, TypeError or IndexError that names the op, raised before any
  kernel function was called (the worker counts the calls into ``minigrad.kernels.cpu``);

and anything else fails the test. Inputs of an unsupported dtype must be rejected.

The adjoint test: each op is linear in each tensor input once its argmax is fixed, so the
gradient ``gx`` for an output gradient ``g`` must satisfy ``<gx, v> = <g, f(v)>`` for a random
``v``, with ``f`` the reference. This checks the whole backward against the reference forward.

Notation
--------
case      a JSON-ready dict: op, seed, oracle ('numpy' or 'torch'), inputs (name -> shape,
          dtype, layout) and kwargs
layout    how the op sees a leaf: 'contiguous', 'transposed' (H and W swapped in memory),
          'flipped' (a negative stride along H) or 'strided' (every other row of a taller leaf)
"""
import json
import os
import sys

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from fuzz_worker import serve, worker_fixture
from strategies import kernel_cases
from strategies.fuzz import FLOATS

HERE = os.path.dirname(os.path.abspath(__file__))


worker = worker_fixture(__file__)
_WINOGRAD_DEFAULT = {}  # minigrad's own thresholds, restored after a Winograd or rows case


OPS = ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
       "max_unpool2d", "interpolate"]


def _case(op, shape, **kwargs):
    """A hand-written case: float32, contiguous, seed 0 (for the reported crashes)."""
    return {"op": op, "oracle": "numpy", "seed": 0, "kwargs": kwargs,
            "inputs": {"x": {"shape": shape, "dtype": "float32", "layout": "contiguous"}}}


# Cheap cases (a few ms each in the worker), so more of them than the profile's default.
fuzz = settings(max_examples=max(60, settings.default.max_examples))


HALF_CONV = {"op": "conv2d", "oracle": "numpy", "seed": 0, "kwargs": {},
             "inputs": {name: {"shape": shape, "dtype": "float16", "layout": "contiguous"}
                        for name, shape in (("x", [1, 1, 3, 3]), ("weight", [1, 1, 1, 1]))}}


def _window_rows_as_expected(case, verdict):
    """Did an accepted case take its windows as rows (``im2col_gemm._window_rows``: one group,
    not stride 1 with the output as wide as the input, more than one tap, and here a
    "window_rows" case with at least one channel on the image side) exactly when it should?
    The forward's kernel tells: im2col_rows for conv2d, col2im_rows for conv_transpose2d."""
    if verdict["status"] != "ok":
        return True
    kwargs = case["kwargs"]
    x_shape, weight_shape = case["inputs"]["x"]["shape"], case["inputs"]["weight"]["shape"]
    (SH, SW), (_, PW), (_, DW) = ([v, v] if isinstance(v, int) else v for v in
                                  (kwargs["stride"], kwargs["padding"], kwargs["dilation"]))
    KW = weight_shape[3]
    if case["op"] == "conv2d":
        kernel, image, channels = "im2col_rows", x_shape[3], x_shape[1]
        windows = (image + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    else:
        OPW = kwargs["output_padding"]
        OPW = OPW if isinstance(OPW, int) else OPW[1]
        kernel, windows, channels = "col2im_rows", x_shape[3], weight_shape[1]
        image = (windows - 1) * SW - 2 * PW + DW * (KW - 1) + 1 + OPW
    rows = (case.get("window_rows", False) and kwargs["groups"] == 1 and channels > 0
            and weight_shape[2] * KW > 1 and not (SH == 1 and SW == 1 and windows == image))
    return (kernel in verdict["kernels"]) == rows


def _strided(op, x_shape, weight_shape):
    """A valid stride-2 case (float64, a transposed view of x) that takes the windows as rows."""
    case = _case(op, x_shape, stride=[2, 2], padding=1, dilation=1, groups=1)
    case["window_rows"] = True
    case["inputs"]["x"].update(dtype="float64", layout="transposed")
    case["inputs"]["weight"] = {"shape": weight_shape, "dtype": "float64",
                                "layout": "contiguous"}
    if op == "conv_transpose2d":
        case["kwargs"]["output_padding"] = 1
    return case


@fuzz
@given(case=kernel_cases("conv2d"))
@example(case=HALF_CONV)  # failed inside Numba
@example(case=_strided("conv2d", [2, 3, 5, 6], [2, 3, 3, 3]))
def test_fuzz_conv2d(worker, case):
    assert _window_rows_as_expected(case, worker.check(case))


@fuzz
@given(case=kernel_cases("conv_transpose2d"))
@example(case=_strided("conv_transpose2d", [2, 3, 3, 4], [3, 2, 4, 4]))
def test_fuzz_conv_transpose2d(worker, case):
    assert _window_rows_as_expected(case, worker.check(case))


def _took_winograd(case, verdict):
    """Did a case that the Winograd path can take (every size and the output at least 2 wide,
    a float dtype throughout, the transposed path's padding at most r - 1) run its kernels?"""
    x, weight = case["inputs"]["x"], case["inputs"]["weight"]
    padding = case["kwargs"]["padding"]
    PH, PW = padding if isinstance(padding, list) else (padding, padding)
    N, C, H, W = x["shape"]
    r = weight["shape"][2]
    if case["op"] == "conv2d":
        OH, OW = H + 2 * PH - r + 1, W + 2 * PW - r + 1
    else:
        OH, OW = H + r - 1 - 2 * PH, W + r - 1 - 2 * PW
    fits = (verdict["status"] == "ok" and min(N, C, weight["shape"][0], weight["shape"][1]) > 0
            and min(H, W) > 0 and min(OH, OW) >= 2
            and (case["op"] == "conv2d" or max(PH, PW) <= r - 1))
    return "winograd_input" in verdict["kernels"] if fits else None


@fuzz
@given(case=kernel_cases("conv2d", winograd=True))
@example(case={"op": "conv2d", "oracle": "numpy", "seed": 0, "winograd": True,
               "kwargs": {"padding": 1},
               "inputs": {"x": {"shape": [2, 3, 5, 4], "dtype": "float32", "layout": "strided"},
                          "weight": {"shape": [2, 3, 3, 3], "dtype": "float32",
                                     "layout": "contiguous"}}})
def test_fuzz_conv2d_winograd(worker, case):
    assert _took_winograd(case, worker.check(case)) in (True, None)


@fuzz
@given(case=kernel_cases("conv_transpose2d", winograd=True))
@example(case={"op": "conv_transpose2d", "oracle": "numpy", "seed": 0, "winograd": True,
               "kwargs": {"padding": [2, 0]},
               "inputs": {"x": {"shape": [1, 2, 6, 3], "dtype": "float64", "layout": "flipped"},
                          "weight": {"shape": [2, 3, 3, 3], "dtype": "float64",
                                     "layout": "transposed"}}})
def test_fuzz_conv_transpose2d_winograd(worker, case):
    assert _took_winograd(case, worker.check(case)) in (True, None)


def _took_phases(case, verdict):
    """Did a case that the phases' path can take (every size and channel count at least 1, a
    float dtype throughout, padding at most 2) run its forward kernel: phase_input for conv2d,
    phase_output for conv_transpose2d?"""
    x, weight = case["inputs"]["x"], case["inputs"]["weight"]
    padding = case["kwargs"]["padding"]
    fits = (verdict["status"] == "ok" and min(x["shape"] + weight["shape"]) > 0
            and max(padding if isinstance(padding, list) else [padding]) <= 2)
    kernel = "phase_input" if case["op"] == "conv2d" else "phase_output"
    return kernel in verdict["kernels"] if fits else None


@fuzz
@given(case=kernel_cases("conv2d", phases=True))
@example(case={"op": "conv2d", "oracle": "numpy", "seed": 0, "winograd": True,
               "kwargs": {"stride": 2, "padding": [1, 2]},
               "inputs": {"x": {"shape": [2, 3, 7, 4], "dtype": "float32", "layout": "strided"},
                          "weight": {"shape": [2, 3, 4, 4], "dtype": "float32",
                                     "layout": "contiguous"}}})
def test_fuzz_conv2d_phases(worker, case):
    assert _took_phases(case, worker.check(case)) in (True, None)


@fuzz
@given(case=kernel_cases("conv_transpose2d", phases=True))
@example(case={"op": "conv_transpose2d", "oracle": "numpy", "seed": 0, "winograd": True,
               "kwargs": {"stride": [2, 2], "padding": 1, "output_padding": [1, 0]},
               "inputs": {"x": {"shape": [1, 2, 3, 5], "dtype": "float64", "layout": "flipped"},
                          "weight": {"shape": [2, 3, 4, 4], "dtype": "float64",
                                     "layout": "transposed"}}})
def test_fuzz_conv_transpose2d_phases(worker, case):
    assert _took_phases(case, worker.check(case)) in (True, None)


@fuzz
@given(case=kernel_cases("max_pool2d"))
@example(case=_case("max_pool2d", [8, 8, 0, 4], kernel_size=2, padding=1))  # "corrupted size"
@example(case=_case("max_pool2d", [2, 3, 4, 4], kernel_size=3, padding=1, dilation=3))
def test_fuzz_max_pool2d(worker, case):
    worker.check(case)


@fuzz
@given(case=kernel_cases("avg_pool2d"))
def test_fuzz_avg_pool2d(worker, case):
    worker.check(case)


@fuzz
@given(case=kernel_cases("adaptive_avg_pool2d"))
@example(case=_case("adaptive_avg_pool2d", [1, 1, 0, 4], output_size=2))  # was NaN
def test_fuzz_adaptive_avg_pool2d(worker, case):
    worker.check(case)


@fuzz
@given(case=kernel_cases("max_unpool2d"))
def test_fuzz_max_unpool2d(worker, case):
    worker.check(case)


@fuzz
@given(case=kernel_cases("interpolate"))
@example(case=_case("interpolate", [1, 1, 0, 4], size=3, mode="nearest"))  # read garbage
@example(case=_case("interpolate", [1, 2, 3, 0], size=[3, 3], mode="bilinear"))
@example(case=_case("interpolate", [1, 1, 3, 3], scale_factor=float("inf")))  # OverflowError
def test_fuzz_interpolate(worker, case):
    worker.check(case)


@pytest.mark.parametrize("op", OPS)
@given(data=st.data())
def test_fuzz_against_torch(worker, op, data):
    """The same cases with PyTorch as the oracle: values, gradients, and which inputs it refuses."""
    pytest.importorskip("torch")
    worker.check(data.draw(kernel_cases(op, oracle="torch")))


@pytest.mark.parametrize("op", OPS)
@given(data=st.data())
def test_the_cases_are_plain_json_for_their_op(op, data):
    """What the worker receives is what hypothesis drew: the case survives a JSON round trip."""
    case = data.draw(kernel_cases(op))
    assert json.loads(json.dumps(case)) == case
    assert (case["op"], case["oracle"]) == (op, "numpy")
    assert "x" in case["inputs"] and all(len(spec["shape"]) in (1, 4)
                                         for spec in case["inputs"].values())


def test_the_worker_reports_a_crash_as_a_failure(worker):
    """A case that kills the worker with a signal fails the test that sent it, naming the case;
    the next case gets a fresh worker."""
    with pytest.raises(pytest.fail.Exception, match=r"exit code -6 .*\"op\": \"abort\""):
        worker.check({"op": "abort"})
    assert worker.check({"op": "ping"})["status"] == "ok"


def _layout(spec):
    return spec["layout"] if len(spec["shape"]) == 4 else "contiguous"  # a bias stays as it is


def _leaf(mg, spec, rng):
    """A leaf Tensor and the view of it that the op sees, laid out as ``spec`` says."""
    shape, layout = list(spec["shape"]), _layout(spec)
    if layout == "transposed":
        shape[2], shape[3] = shape[3], shape[2]
    if layout == "strided":
        shape[2] *= 2
    data = rng.standard_normal(shape)
    data = data > 0 if spec["dtype"] == "bool" else data.astype(spec["dtype"])
    leaf = mg.tensor(data, requires_grad=spec["dtype"] in FLOATS)
    return (leaf, _view(leaf, layout))


def _view(a, layout):
    """The same layout on a Tensor (differentiable) or a NumPy array."""
    if layout == "transposed":
        return a.transpose(0, 1, 3, 2) if isinstance(a, np.ndarray) else a.permute(0, 1, 3, 2)
    if layout == "flipped":
        return a[:, :, ::-1]
    return a[:, :, ::2] if layout == "strided" else a


def _unpool_size(x_shape, kwargs):
    K, S, P = kwargs["kernel_size"], kwargs["stride"] or kwargs["kernel_size"], kwargs["padding"]
    size = kwargs.get("output_size") or [(L - 1) * S - 2 * P + K for L in x_shape[2:]]
    return (max(size[0], 1), max(size[1], 1))


def _inputs(mg, case, rng):
    """(leaves, views): the Tensors with gradients, and every argument the op takes."""
    leaves, views = {}, {}
    for name, spec in case["inputs"].items():
        if name == "indices":
            H, W = _unpool_size(spec["shape"], case["kwargs"])
            low, high = (0, H * W) if spec["range"] == "inside" else (-3, H * W + 3)
            views[name] = mg.tensor(rng.integers(low, high, spec["shape"]).astype(spec["dtype"]))
            continue
        leaves[name], views[name] = _leaf(mg, spec, rng)
    return (leaves, views)


def _reference(R, op, views, kwargs, absolute=False):
    """The NumPy reference on the views' values (on their absolute values, for a bound)."""
    arrays = {k: np.ascontiguousarray(v.numpy()).astype(np.float64) for k, v in views.items()}
    if absolute:
        arrays = {k: np.abs(v) if k != "indices" else v for k, v in arrays.items()}
    x = arrays["x"]
    if op in ("conv2d", "conv_transpose2d"):
        return getattr(R, op)(x, arrays["weight"], arrays.get("bias"), **kwargs)
    if op == "max_pool2d":
        return R.max_pool2d(x, **dict(kwargs, return_indices=True))
    if op == "adaptive_avg_pool2d":
        size = kwargs["output_size"]
        size = size if isinstance(size, list) else [size, size]
        return R.adaptive_avg_pool2d(x, [x.shape[2 + i] if s is None else s
                                         for i, s in enumerate(size)])
    if op == "max_unpool2d":
        return R.max_unpool2d(x, arrays["indices"].astype(np.int64),
                              _unpool_size(x.shape, kwargs))
    if op == "interpolate":
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
    return getattr(R, op)(x, **kwargs)


def run_case(case, mg, F, R, calls):
    """The worker's verdict on one case: a dict with 'status' and, unless ok, 'error'."""
    op, kwargs = case["op"], dict(case.get("kwargs", {}))
    if "scale_factor" in kwargs:
        scales = kwargs["scale_factor"]
        kwargs["scale_factor"] = ([float(s) for s in scales] if isinstance(scales, list)
                                  else float(scales))
    rng = np.random.default_rng(case["seed"])
    leaves, views = _inputs(mg, case, rng)
    # a Winograd case takes that path from one channel up (the drawn sizes are small)
    from minigrad.kernels import im2col_gemm
    default = _WINOGRAD_DEFAULT.setdefault("min", im2col_gemm.WINOGRAD_MIN_CHANNELS)
    im2col_gemm.WINOGRAD_MIN_CHANNELS = 1 if case.get("winograd") else default
    # (and a transposed stride-2 4x4 one on its phases whatever its tiles' cover)
    default = _WINOGRAD_DEFAULT.setdefault("cover", im2col_gemm.PHASE_TILES_MOST)
    im2col_gemm.PHASE_TILES_MOST = float("inf") if case.get("winograd") else default
    # and a "window_rows" case takes the windows as rows from one channel up
    default = _WINOGRAD_DEFAULT.setdefault("rows", im2col_gemm.WINDOW_ROWS_MIN_CHANNELS)
    im2col_gemm.WINDOW_ROWS_MIN_CHANNELS = 1 if case.get("window_rows") else default
    calls.clear()
    try:
        out = getattr(F, op)(**views, **kwargs)
    except (ValueError, TypeError, IndexError) as error:
        if calls:
            return {"status": "fail", "error": f"{error!r} raised after kernels {calls} ran"}
        if op not in str(error):
            return {"status": "fail", "error": f"{error!r} does not name {op}"}
        # Differences we choose: PyTorch skips its size checks on an empty input, and has
        # more dtypes and modes.
        if case["oracle"] == "torch" and _torch_run(case, leaves, kwargs) is not None:
            empty = 0 in case["inputs"]["x"]["shape"][:2]
            no_output = op == "adaptive_avg_pool2d" and 0 in np.ravel(kwargs["output_size"])
            if not (empty or no_output or isinstance(error, TypeError)
                    or kwargs.get("mode") == "bicubic"):
                return {"status": "fail", "error": f"PyTorch accepts what {error!r} refused"}
        return {"status": "rejected", "error": repr(error)}
    ran = sorted(set(calls))
    if case["oracle"] == "torch":
        return _compare_with_torch(case, leaves, kwargs, out)
    dtypes = {spec["dtype"] for spec in case["inputs"].values() if "range" not in spec}
    if len(dtypes) > 1 or not dtypes <= set(FLOATS):
        return {"status": "fail", "error": f"{op} accepted dtypes {sorted(dtypes)}"}
    y = out[0] if isinstance(out, tuple) else out
    ref = _reference(R, op, views, kwargs)
    if op == "max_pool2d":
        ref, ref_indices = ref
        if kwargs.get("return_indices"):
            np.testing.assert_array_equal(out[1].numpy(), ref_indices)
    tol = 1e-4 if dtypes == {"float32"} else 1e-9
    bound = _reference(R, op, views, kwargs, absolute=True)
    bound = bound[0] if op == "max_pool2d" else bound
    np.testing.assert_allclose(y.numpy(), ref, rtol=tol, atol=tol * (1 + bound.max(initial=0)))
    g = rng.standard_normal(y.shape)
    grads = mg.grad([y], list(leaves.values()), grad_outputs=[mg.tensor(g.astype(y.dtype))],
                    allow_unused=True)
    for (name, leaf), grad in zip(leaves.items(), grads):
        assert grad is None or grad.shape == leaf.shape, (name, grad.shape, leaf.shape)
        v = rng.standard_normal(leaf.shape)
        # the op is linear in each input without the bias, which only shifts it
        probe = {k: a for k, a in views.items() if k != "bias"}
        probe[name] = mg.tensor(_view(v, _layout(case["inputs"][name])))
        if name == "bias":
            forward = g.sum((0, 2, 3))
            expected, bound = np.vdot(forward, v), np.vdot(np.abs(forward), np.abs(v))
        elif op == "max_pool2d":  # linear at the reference's argmax
            N, C, H, W = probe["x"].shape
            flat = np.ascontiguousarray(probe["x"].numpy()).reshape(N, C, H * W)
            picked = np.take_along_axis(flat, ref_indices.reshape(N, C, y.shape[2] * y.shape[3]),
                                        2).reshape(y.shape)
            expected, bound = np.vdot(g, picked), np.vdot(np.abs(g), np.abs(picked))
        else:
            expected = np.vdot(g, _reference(R, op, probe, kwargs))
            bound = np.vdot(np.abs(g), _reference(R, op, probe, kwargs, absolute=True))
        got = 0.0 if grad is None else np.vdot(grad.numpy().astype(np.float64), v)
        assert abs(got - expected) <= 10 * tol * (1 + bound), (name, got, expected)
    return {"status": "ok", "kernels": ran}


def _torch_run(case, leaves, kwargs):
    """(torch leaves, output) of PyTorch on the same values, or None where it refuses them."""
    import torch
    tensors, views = {}, {}
    for name, spec in case["inputs"].items():
        if name == "indices":
            continue
        tensors[name] = torch.tensor(leaves[name].numpy(), requires_grad=spec["dtype"] in FLOATS)
        layout, t = _layout(spec), tensors[name]
        views[name] = (t.flip(2) if layout == "flipped" else t.permute(0, 1, 3, 2)
                       if layout == "transposed" else t[:, :, ::2] if layout == "strided" else t)
    if "indices" in case["inputs"]:
        rng = np.random.default_rng(case["seed"])
        _, ours = _inputs(__import__("minigrad"), case, rng)
        views["indices"] = torch.tensor(ours["indices"].numpy())
        kwargs = dict(kwargs, output_size=_unpool_size(case["inputs"]["x"]["shape"], kwargs))
    try:
        return (tensors, getattr(torch.nn.functional, case["op"])(**{
            ("input" if k == "x" else k): v for k, v in views.items()}, **kwargs))
    except (RuntimeError, ValueError, TypeError, IndexError, OverflowError):
        return None


def _compare_with_torch(case, leaves, kwargs, out):
    """Our values and gradients against PyTorch's. We accept two inputs it refuses: 0 channels
    anywhere (an empty result), and int32 indices for max_unpool2d."""
    theirs = _torch_run(case, leaves, kwargs)
    if theirs is None:
        channels = case["inputs"]["x"]["shape"][1:2] + case["inputs"].get(
            "weight", {"shape": [1, 1]})["shape"][:2]
        if 0 in channels or case["inputs"].get("indices", {}).get("dtype") == "int32":
            return {"status": "ok"}
        return {"status": "fail", "error": f"{case['op']} accepted what PyTorch refuses"}
    tensors, out_torch = theirs
    ours = out if isinstance(out, tuple) else (out,)
    outs_torch = out_torch if isinstance(out_torch, tuple) else (out_torch,)
    tol = 1e-4 if ours[0].dtype == np.float32 else 1e-9
    for a, b in zip(ours, outs_torch):
        if a.numpy().size or b.numel():  # PyTorch's conv2d of (0, 0, H, W) has 0 channels
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=tol, atol=tol)
    if ours[0].numpy().size == 0:  # and PyTorch's empty conv output can have the wrong shape
        return {"status": "ok"}
    import torch
    g = np.random.default_rng(case["seed"] + 1).standard_normal(ours[0].shape)
    names = [n for n in tensors if tensors[n].requires_grad]
    grads = __import__("minigrad").grad([ours[0]], [leaves[n] for n in names],
                                        grad_outputs=[ours[0].__class__(g.astype(ours[0].dtype))],
                                        allow_unused=True)
    grads_torch = torch.autograd.grad([outs_torch[0]], [tensors[n] for n in names],
                                      [torch.tensor(g.astype(ours[0].dtype))], allow_unused=True)
    for name, a, b in zip(names, grads, grads_torch):
        a = np.zeros(leaves[name].shape) if a is None else a.numpy()
        b = np.zeros(leaves[name].shape) if b is None else b.numpy()
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * 10, err_msg=name)
    return {"status": "ok"}


if __name__ == "__main__" and sys.argv[1:] == ["--worker"]:
    serve(run_case)
