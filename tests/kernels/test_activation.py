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
