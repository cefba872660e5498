"""The ReLU kernels (``minigrad/kernels/{cpu,gpu}/activation.py``) against NumPy's definitions.

The CPU kernels run on hypothesis-drawn shapes (empty and single-element included, and sizes
past the serial threshold so the threads run), float32 and float64, with zeros, signed zeros,
infinities and NaNs drawn into the values. The GPU twins run on tiny fixed cases: on a real GPU
with CuPy arrays, otherwise through Numba's CUDA simulator.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from minigrad.backend import to_numpy
from minigrad.kernels.cpu import activation as cpu

SPECIAL = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40]


def ref_relu(x):
    """PyTorch's rule: max(x, 0), NaN kept (np.maximum propagates NaN)."""
    return np.maximum(x, np.zeros_like(x))


def ref_relu_backward(g, out):
    """PyTorch's threshold_backward: 0 wherever out <= 0 (or NaN), g elsewhere, even a NaN g."""
    return np.where(out > 0, g, np.zeros_like(g))


def arrays(dtype, shape):
    return hnp.arrays(dtype, shape, elements=st.one_of(
        st.sampled_from(SPECIAL), st.floats(-3, 3, width=32 if dtype == np.float32 else 64)))


@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6))
def test_relu_and_backward_match_the_definitions(data, dtype, shape):
    x = data.draw(arrays(dtype, shape))
    g = data.draw(arrays(dtype, shape))
    out = cpu.relu(x)
    assert out.dtype == dtype and out.shape == x.shape
    np.testing.assert_array_equal(out, ref_relu(x))
    grad = cpu.relu_backward(g, out)
    assert grad.dtype == dtype and grad.shape == g.shape
    np.testing.assert_array_equal(grad, ref_relu_backward(g, out))


def test_a_large_array_runs_on_the_threads_and_matches():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(cpu.PARALLEL_ABOVE + 1001).astype(np.float32)
    x[::7] = np.nan
    g = rng.standard_normal(x.shape).astype(np.float32)
    g[::5] = np.inf
    out = cpu.relu(x)
    np.testing.assert_array_equal(out, ref_relu(x))
    np.testing.assert_array_equal(cpu.relu_backward(g, out), ref_relu_backward(g, out))


def test_backward_is_zero_where_the_output_is_not_positive_even_for_nan_gradients():
    out = np.array([0.0, -0.0, 2.0, np.nan, 3.0])
    g = np.array([np.nan, np.inf, np.nan, 5.0, -np.inf])
    np.testing.assert_array_equal(cpu.relu_backward(g, out), [0.0, 0.0, np.nan, 0.0, -np.inf])


def gpu_activation_module():
    """The GPU activation module and a host-to-device copy, or a skip naming what is missing."""
    from numba import config
    from minigrad import backend
    if not config.ENABLE_CUDASIM and backend.cupy() is None:
        pytest.skip("no GPU and the CUDA simulator is off (NUMBA_ENABLE_CUDASIM unset)")
    from minigrad.kernels.gpu import activation as gpu
    to_device = (lambda a: a) if config.ENABLE_CUDASIM else backend.cupy().asarray
    return (gpu, to_device)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_twins_match_the_definitions(dtype):
    gpu, to_device = gpu_activation_module()
    x = np.array(SPECIAL + [0.5, -2.0, 7.0], dtype=dtype).reshape(3, 4)
    g = np.array([1.0, np.nan, np.inf, 2.0] * 3, dtype=dtype).reshape(3, 4)
    out = to_numpy(gpu.relu(to_device(x)))
    np.testing.assert_array_equal(out, ref_relu(x))
    grad = to_numpy(gpu.relu_backward(to_device(g), to_device(out)))
    np.testing.assert_array_equal(grad, ref_relu_backward(g, out))
    assert to_numpy(gpu.relu(to_device(np.zeros((0, 3), dtype)))).shape == (0, 3)


# select: np.where without its branch


def _same(out, expected):
    """The same values, dtype and shape (NaN equal to NaN, -0.0 told apart from 0.0)."""
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(np.signbit(out), np.signbit(expected))


@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
       form=st.sampled_from(["arrays", "number else", "number then"]))
def test_select_is_np_where_on_its_fast_path(data, dtype, shape, form):
    cond = data.draw(hnp.arrays(np.bool_, shape))
    a, b = data.draw(arrays(dtype, shape)), data.draw(arrays(dtype, shape))
    number = data.draw(st.sampled_from([0, 1, -7, 0.5, -0.0, float("inf"), float("nan"), 1e300]))
    a, b = {"arrays": (a, b), "number else": (a, number), "number then": (number, b)}[form]
    assert cpu._select_dtype(cond, a, b) == np.dtype(dtype)  # the kernel runs
    with np.errstate(over="ignore"):
        _same(cpu.select(cond, a, b), np.where(cond, a, b))


@pytest.mark.parametrize("make", [
    lambda c, x: (c, x, x.astype(np.float32)),            # mixed dtypes: float64 result
    lambda c, x: (c, x, x[:, :1]),                        # broadcasting
    lambda c, x: (c[:, :1], x, x),                        # broadcast mask
    lambda c, x: (c, x.T.copy().T, x),                    # a Fortran-ordered operand
    lambda c, x: (c, x, np.float32(2.0)),                 # a NumPy scalar (not weak: float64)
    lambda c, x: (c, 1.0, 2.0),                           # no array at all
    lambda c, x: (c.astype(np.int8), x, x),               # a non-bool mask
    lambda c, x: (c, x.astype(np.int64), x.astype(np.int64)),  # integers
    lambda c, x: (c, x.astype(np.float16), 0.0),          # float16
    lambda c, x: (c, x, True),                            # a bool is not a weak float
])
def test_select_refuses_every_other_case_before_its_loop_runs(make):
    """The ops hand these to np.where (``select_takes`` says no); select itself refuses them
    with an error naming what it expected and what it got."""
    rng = np.random.default_rng(1)
    cond, x = rng.random((3, 4)) < 0.5, rng.standard_normal((3, 4))
    operands = make(cond, x)
    assert not cpu.select_takes(*operands)
    with pytest.raises(ValueError, match=r"select: expected a C-contiguous bool cond and two "
                                         r"float32 or float64 operands .*, got .*np.where takes"):
        cpu.select(*operands)


def test_the_ops_where_gives_np_where_on_both_paths():
    import minigrad as mg
    rng = np.random.default_rng(5)
    cond, x = rng.random((3, 4)) < 0.5, rng.standard_normal((3, 4)).astype(np.float32)
    for a, b in [(x, -x), (x, 0.5), (x, x[:, :1]), (x.astype(np.float16), 0.0), (x.T, x.T)]:
        c = cond if a.shape == cond.shape else cond.T
        _same(mg.where(c, mg.tensor(a), b if isinstance(b, float) else mg.tensor(b)).numpy(),
              np.where(c, a, b))


def test_select_on_a_large_array_runs_on_the_threads_and_matches():
    rng = np.random.default_rng(2)
    n = cpu.PARALLEL_ABOVE + 777
    cond, a, b = rng.random(n) < 0.5, rng.standard_normal(n), rng.standard_normal(n)
    a[::11] = np.nan
    _same(cpu.select(cond, a, b), np.where(cond, a, b))
    _same(cpu.select(cond, 0, b), np.where(cond, 0, b))
    _same(cpu.select(cond, a, -2.5), np.where(cond, a, -2.5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_select_matches_np_where(dtype):
    gpu, to_device = gpu_activation_module()
    rng = np.random.default_rng(3)
    cond, a = rng.random((3, 4)) < 0.5, rng.standard_normal((3, 4)).astype(dtype)
    _same(to_numpy(gpu.select(to_device(cond), to_device(a), 0)), np.where(cond, a, 0))
    _same(to_numpy(gpu.select(to_device(cond), to_device(a), to_device(-a))),
          np.where(cond, a, -a))


def test_the_ops_where_and_the_activations_take_the_select_kernel(monkeypatch):
    """On contiguous floats the ops call the kernel (not np.where): one call per where."""
    import minigrad as mg
    import minigrad.functional as F
    import minigrad.kernels.cpu as kernels
    seen = []
    real = kernels.select
    monkeypatch.setattr(kernels, "select", lambda *a: seen.append(1) or real(*a))
    x = mg.tensor(np.linspace(-2, 2, 12).reshape(3, 4), requires_grad=True)
    g = mg.tensor(np.ones((3, 4)))  # contiguous (a sum's gradient is a broadcast view)
    mg.where(x.data > 0, x, -x).backward(g)
    assert len(seen) == 3  # the forward and the two gradients
    seen.clear()
    F.leaky_relu(x).backward(g)
    assert len(seen) == 2  # the value and the gradient
