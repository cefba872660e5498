"""What mutation runs of ``minigrad/backend.py`` and ``minigrad/gradcheck.py`` found unchecked.

backend: the CuPy side runs on a GPU only, so its dispatch is checked here with stand-ins (a
fake ``cupy`` and ``cupyx`` module put in ``sys.modules``, an object with
``__cuda_array_interface__``) that record what the backend asks of them: that CuPy is imported
once, only with a device, and seeded with a seed given before the import; that a CUDA array
routes ``xp_of``, ``device_of``, ``to_device``, ``to_numpy``, ``kernels_for`` and ``index_add``
to it; plus the type names of other dtypes and of CUDA tensors, and the error for a CUDA device
without CuPy, word for word.

gradcheck: its default tolerances and sample size, that the worst entry is the one reported,
and its error messages whole.
"""
import importlib
import re
import sys
import types

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend


# ``minigrad.gradcheck`` the attribute is the function; the module is reached by its name.
gradcheck_module = importlib.import_module("minigrad.gradcheck")


def exactly(message):
    """A pytest ``match`` pattern for exactly ``message``."""
    return "^" + re.escape(message) + "$"


# ---------------------------------------------------------------------------------------------
# backend: stand-ins for CuPy


class FakeCudaArray:
    """Stands in for a CuPy array: the backend looks only at ``__cuda_array_interface__``,
    ``.get()`` (the copy to the host) and ``.device.id``."""
    __cuda_array_interface__ = {}

    def __init__(self, values, device_id=0):
        self.values = np.asarray(values)
        self.device = types.SimpleNamespace(id=device_id)

    def get(self):
        return self.values.copy()


def install_fake_cupy(monkeypatch, device_count=1):
    """A fake ``cupy`` module in ``sys.modules`` with the backend's cache emptied, as on a
    fresh import; returns the module, whose ``calls`` list records what was asked of it."""
    cp = types.ModuleType("cupy")
    cp.calls = []

    def device_count_():
        cp.calls.append(("getDeviceCount",))
        return device_count

    class Device:
        def __init__(self, index):
            self.index = index

        def __enter__(self):
            cp.calls.append(("Device", self.index))

        def __exit__(self, *exc):
            cp.calls.append(("leave", self.index))

    def asarray(array):
        cp.calls.append(("asarray", array))
        return FakeCudaArray(array)

    cp.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=device_count_),
                                    Device=Device)
    cp.random = types.SimpleNamespace(seed=lambda seed: cp.calls.append(("seed", seed)))
    cp.asarray = asarray
    monkeypatch.setitem(sys.modules, "cupy", cp)
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_seed", None)
    return cp


def install_fake_cupyx(monkeypatch):
    cupyx = types.ModuleType("cupyx")
    cupyx.calls = []
    cupyx.scatter_add = lambda *args: cupyx.calls.append(("scatter_add",) + args)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    return cupyx


@pytest.fixture
def global_numpy_state():
    """manual_seed seeds NumPy's global generator: put it back afterwards."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def test_cupy_is_imported_once_and_seeded_with_a_seed_given_before(monkeypatch,
                                                                   global_numpy_state):
    cp = install_fake_cupy(monkeypatch, device_count=1)
    backend.manual_seed(7)  # CuPy not imported yet: nothing to seed there
    assert cp.calls == []
    assert backend.cupy() is cp
    assert backend.cupy() is cp
    assert cp.calls == [("getDeviceCount",), ("seed", 7)]
    backend.manual_seed(8)  # now it is imported: seeded at once
    assert cp.calls[2:] == [("seed", 8)]


def test_cupy_without_a_device_is_none_and_not_asked_again(monkeypatch):
    cp = install_fake_cupy(monkeypatch, device_count=0)
    assert backend.cupy() is None
    assert backend.cupy() is None
    assert cp.calls == [("getDeviceCount",)]
    with pytest.raises(RuntimeError, match=exactly(
            "device 'cuda:0' requested but CUDA is not available (CuPy is not installed or no "
            "GPU was found)")):
        backend.module_for("cuda")


def test_module_for_a_cuda_device_without_cupy_says_why(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", False)  # as after a failed import
    with pytest.raises(RuntimeError, match=exactly(
            "device 'cuda:1' requested but CUDA is not available (CuPy is not installed or no "
            "GPU was found)")):
        backend.module_for(1)
    assert backend.module_for("cpu") is np


def test_a_cuda_array_routes_xp_of_and_module_for_to_cupy(monkeypatch):
    cp = install_fake_cupy(monkeypatch)
    assert backend.xp_of(np.ones(2), FakeCudaArray([1.0])) is cp
    assert backend.xp_of(np.ones(2), np.zeros(3)) is np
    assert backend.module_for("cuda:0") is cp


def test_device_of_a_cuda_array_names_its_device():
    assert backend.device_of(FakeCudaArray([1.0], device_id=1)) == "cuda:1"
    assert backend.device_of(FakeCudaArray([1.0], device_id=0)) == "cuda:0"
    assert backend.device_of(np.ones(2)) == "cpu"


def test_to_device_and_to_numpy_copy_a_cuda_array_to_the_host_with_get():
    gpu = FakeCudaArray([1.0, 2.0])
    for moved in (backend.to_device(gpu, "cpu"), backend.to_numpy(gpu)):
        assert type(moved) is np.ndarray
        np.testing.assert_array_equal(moved, [1.0, 2.0])


def test_to_device_copies_to_the_cuda_device_it_names(monkeypatch):
    cp = install_fake_cupy(monkeypatch)
    host = np.arange(3.0)
    moved = backend.to_device(host, "cuda:1")
    assert isinstance(moved, FakeCudaArray)
    assert cp.calls[-3:] == [("Device", 1), ("asarray", host), ("leave", 1)]


def test_kernels_for_imports_each_kernel_module_once(monkeypatch):
    imported = []
    modules = {"minigrad.kernels.cpu": object(), "minigrad.kernels.gpu": object()}

    def import_module(name):
        imported.append(name)
        return modules[name]

    monkeypatch.setattr(importlib, "import_module", import_module)
    monkeypatch.setattr(backend, "_kernel_modules", {})
    assert backend.kernels_for(np.ones(2)) is modules["minigrad.kernels.cpu"]
    assert backend.kernels_for(np.ones(3)) is modules["minigrad.kernels.cpu"]
    assert backend.kernels_for(FakeCudaArray([1.0])) is modules["minigrad.kernels.gpu"]
    assert backend.kernels_for(FakeCudaArray([2.0])) is modules["minigrad.kernels.gpu"]
    assert imported == ["minigrad.kernels.cpu", "minigrad.kernels.gpu"]


def test_index_add_on_a_cuda_array_calls_cupyx(monkeypatch):
    cupyx = install_fake_cupyx(monkeypatch)
    target, index, values = FakeCudaArray(np.zeros(3)), np.array([0, 0]), np.ones(2)
    assert backend.index_add(target, index, values) is target
    assert cupyx.calls == [("scatter_add", target, index, values)]


def test_type_names_of_other_dtypes_and_of_cuda_tensors():
    assert backend.type_name(np.complex64, False) == "minigrad.complex64Tensor"
    assert backend.type_name(np.uint16, True) == "minigrad.cuda.uint16Tensor"
    assert backend.type_name(np.float32, True) == "minigrad.cuda.FloatTensor"
    assert backend.type_name(np.int64, False) == "minigrad.LongTensor"


@pytest.mark.parametrize("name, dtype", [("minigrad.cuda.LongTensor", np.int64),
                                         ("torch.cuda.HalfTensor", np.float16),
                                         ("FloatTensor", np.float32)])
def test_dtype_of_name_reads_the_last_dotted_part(name, dtype):
    assert backend.dtype_of_name(name) == dtype


# ---------------------------------------------------------------------------------------------
# gradcheck


def leaf(values):
    return mg.tensor(np.array(values, dtype=np.float64), requires_grad=True)


class Cube(mg.Function):
    """y = x³; the two below change only its backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3


class CubeDetachedGradOutput(Cube):
    """A backward right in value and in x, but computed from a detached grad_output: its
    derivative with respect to the grad_output is lost, which only the check of the
    grad_outputs in gradgradcheck sees."""

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output.detach() * 3 * x * x


class CubeRecordingGradOutput(Cube):
    """The right backward, noting each grad_output it is given."""
    seen = []

    @staticmethod
    def backward(ctx, grad_output):
        CubeRecordingGradOutput.seen.append(grad_output.numpy().copy())
        (x,) = ctx.saved_tensors
        return grad_output * 3 * x * x


def perturbed_entries(x, calls):
    """A function for gradcheck that records, at each call, which entries of its input differ
    from ``x``'s values now (the entry gradcheck is perturbing, or none)."""
    start = x.numpy().copy()

    def fn(t):
        calls.append(tuple(np.flatnonzero(t.numpy() != start)))
        return (t * t * t).sum()
    return fn


def test_gradcheck_refuses_a_float32_input_saying_why():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=exactly("gradcheck: input 0 has dtype float32; finite "
                                                "differences need float64 inputs")):
        mg.gradcheck(lambda t: t * 2, (x,))


def test_gradcheck_checks_up_to_1000_entries_by_default():
    calls = []
    x = leaf(np.linspace(-1.0, 1.0, 1001))
    assert mg.gradcheck(perturbed_entries(x, calls), (x,))
    assert len(calls) == 1 + 2 * 1000
    calls.clear()
    assert mg.gradgradcheck(perturbed_entries(x, calls), (x,))
    # one call for gradgradcheck's outputs, one for gradcheck's, two per entry of x and of v
    assert len(calls) == 2 + 2 * (1000 + 1)


def test_gradcheck_samples_distinct_entries():
    calls = []
    x = leaf(np.linspace(-1.0, 1.0, 100))
    assert mg.gradcheck(perturbed_entries(x, calls), (x,), max_entries=50)
    seen = [c for c in calls if c]
    assert len(seen) == 100 and len(set(seen)) == 50


def test_gradcheck_resolves_the_gradient_of_a_function_of_tiny_values():
    # L is about 1e-9: summing the projection from 0, its central difference keeps its digits
    x = leaf([0.3, -0.7, 1.1])
    assert mg.gradcheck(lambda t: t * t * 1e-9, (x,), atol=0.0, rtol=1e-4)


def test_gradcheck_passes_an_entry_exactly_at_the_tolerance():
    # |analytic − numeric| <= atol passes. The function is linear and its values exact in
    # binary (inputs 0, eps 0.5), so the numeric gradient is exactly v (the projection, seeded
    # as gradcheck draws it) and the analytic one is 0 (detached)
    v = np.random.default_rng(0).standard_normal(3)
    x = leaf([0.0, 0.0, 0.0])
    assert mg.gradcheck(lambda t: t.detach() * 1.0, (x,), eps=0.5, atol=float(abs(v).max()),
                        rtol=0.0)
    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(lambda t: t.detach() * 1.0, (x,), eps=0.5,
                     atol=float(abs(v).max()) * (1 - 1e-12), rtol=0.0)


@pytest.mark.parametrize("weights, index", [([3.0, 1.0, 2.0], 0), ([2.0, 5.0, 5.0], 1),
                                            ([1.0, 1.0, 1.0], 0)])
def test_gradcheck_names_the_worst_entry_and_the_first_of_equals(weights, index):
    # one scalar output, so one projection value v for every entry: the numeric gradient is
    # exactly v·weight (inputs 0, eps 0.5), the analytic one 0
    v = float(np.random.default_rng(0).standard_normal(()))
    w = mg.tensor(np.array(weights))
    x = leaf([0.0, 0.0, 0.0])
    with pytest.raises(mg.GradcheckError, match=exactly(
            f"gradcheck failed for input 0 (shape (3,)) at index ({index},): analytic 0.0 vs "
            f"numeric {v * weights[index]!r} (atol=1e-05, rtol=0.001, eps=0.5)")):
        mg.gradcheck(lambda t: (t.detach() * w).sum(), (x,), eps=0.5)


def test_projection_tensors_do_not_require_grad_unless_asked():
    like = mg.zeros(2, dtype=np.float64)
    assert not gradcheck_module._on_device_of(np.ones(2), like).requires_grad
    assert gradcheck_module._on_device_of(np.ones(2), like, requires_grad=True).requires_grad


def test_gradgradcheck_checks_the_derivative_in_the_grad_outputs():
    x = leaf([0.5, -1.5])
    assert mg.gradcheck(CubeDetachedGradOutput.apply, (x,))
    # input 1 is the drawn grad_output: the first derivative's dependence on it is lost
    with pytest.raises(mg.GradcheckError, match=r"^gradcheck failed for input 1 \(shape "
                                                r"\(2,\)\) at index "):
        mg.gradgradcheck(CubeDetachedGradOutput.apply, (x,))


def test_gradgradcheck_takes_inputs_that_are_not_tensors_or_not_used():
    x, unused = leaf([0.5, -1.5]), leaf([2.0])
    assert mg.gradgradcheck(lambda t, k: t ** k, (x, 3))
    assert mg.gradgradcheck(lambda t, u: t ** 3, (x, unused))


def test_gradgradcheck_passes_its_tolerances_and_step_to_gradcheck():
    # with eps=0.1 the central difference of the first derivative 4t³ is 12t² + 4·eps², off by
    # 0.04 per unit of v: a tolerance that covers it passes, none fails
    x = leaf([0.5, -1.5])
    fn = lambda t: t ** 4  # noqa: E731
    assert mg.gradgradcheck(fn, (x,), eps=1e-6)
    with pytest.raises(mg.GradcheckError):
        mg.gradgradcheck(fn, (x,), eps=0.1, atol=1e-4, rtol=0.0)
    assert mg.gradgradcheck(fn, (x,), eps=0.1, atol=1.0, rtol=0.0)
    assert mg.gradgradcheck(fn, (x,), eps=0.1, atol=0.0, rtol=0.5)


def test_gradgradcheck_passes_max_entries_and_seed_to_gradcheck():
    x = leaf(np.linspace(-1.0, 1.0, 50))

    def sampled(**kwargs):
        calls = []
        assert mg.gradgradcheck(perturbed_entries(x, calls), (x,), max_entries=3, **kwargs)
        return calls

    calls = sampled()
    assert len(calls) == 2 + 2 * (3 + 1)  # 3 entries of x, the 1 of v
    assert sampled() == calls and sampled(seed=0) == calls  # seeded: the same entries
    assert sampled(seed=5) != calls


def test_gradgradcheck_draws_the_same_grad_outputs_for_the_same_seed():
    x = leaf([0.5, -1.5, 2.0])
    runs = []
    for _ in range(2):
        CubeRecordingGradOutput.seen = []
        assert mg.gradgradcheck(CubeRecordingGradOutput.apply, (x,))
        runs.append(CubeRecordingGradOutput.seen[0])
    np.testing.assert_array_equal(runs[0], runs[1])


def test_gradcheck_fails_where_the_numeric_gradient_is_nan():
    # log at 5e-7 with a step of 1e-6: x − eps is negative, log of it NaN, so the check cannot
    # be made there; the analytic v/x is finite. As PyTorch's gradcheck, this fails (it
    # passed, since NaN > tolerance is False)
    v = np.random.default_rng(0).standard_normal(2)  # the projection gradcheck draws
    x = leaf([1.0, 5e-7])
    with pytest.raises(mg.GradcheckError, match=r"^gradcheck failed for input 0 \(shape "
                                                r"\(2,\)\) at index \(1,\): analytic (\S+) vs "
                                                r"numeric nan \(atol=1e-05, rtol=0\.001, "
                                                r"eps=1e-06\)$") as info:
        with np.errstate(invalid="ignore"):
            mg.gradcheck(lambda t: t.log(), (x,))
    analytic = float(re.search(r"analytic (\S+) vs", str(info.value)).group(1))
    assert analytic == pytest.approx(v[1] / 5e-7, rel=1e-12)
