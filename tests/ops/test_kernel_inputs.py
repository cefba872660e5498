"""Bad input to the kernel-backed ops (conv and pool families): a clear error before any kernel.

The cases once crashed the process or gave garbage: an empty (H, W) plane in max_pool2d with
padding (heap corruption), adaptive_avg_pool2d of an empty plane (NaN), float16 into conv2d
(an error from inside Numba). Each op must now refuse an empty plane, an unsupported dtype
or mixed dtypes with a ValueError or TypeError that names the op and the shapes, while an empty
batch or zero channels give an empty result and an empty gradient. Views (transposed,
negative-stride, strided) must give the result of their contiguous copy. The fuzz suite
(``tests/test_fuzz_kernels.py``) draws many more such cases; these are the readable ones.
Resampling has its own file, ``test_resample.py``.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.functional as F
from minigrad.ops.conv import Conv2d
from minigrad.ops.pool import MaxPool2d

POOLS = {
    "max_pool2d": lambda x: F.max_pool2d(x, 2, padding=1),
    "avg_pool2d": lambda x: F.avg_pool2d(x, 2, padding=1),
    "adaptive_avg_pool2d": lambda x: F.adaptive_avg_pool2d(x, 2),
    "max_unpool2d": lambda x: F.max_unpool2d(x, mg.zeros(*x.shape, dtype=np.int64), 2),
    "conv2d": lambda x: F.conv2d(x, mg.ones(3, x.shape[1], 2, 2, dtype=x.dtype), padding=1),
    "conv_transpose2d": lambda x: F.conv_transpose2d(
        x, mg.ones(x.shape[1], 3, 2, 2, dtype=x.dtype)),
}


@pytest.mark.parametrize("op", POOLS)
@pytest.mark.parametrize("shape", [(8, 8, 0, 4), (1, 2, 3, 0), (2, 1, 0, 0)])
def test_an_empty_plane_is_refused_naming_the_op_and_shape(op, shape):
    x = mg.zeros(*shape, requires_grad=True)
    with pytest.raises(ValueError, match=rf"{op}: .*shape \({shape[0]}, {shape[1]}, "
                                         r".* has an empty \(H, W\) plane"):
        POOLS[op](x)


@pytest.mark.parametrize("op", POOLS)
@pytest.mark.parametrize("shape", [(0, 2, 4, 4), (3, 0, 4, 4)])
def test_an_empty_batch_or_no_channels_gives_empty_results_and_gradients(op, shape):
    x = mg.zeros(*shape, requires_grad=op != "max_unpool2d")
    y = POOLS[op](x)
    # a convolution over no channels sums nothing: zeros, for each of its 3 output channels
    empty = y.numpy().size == 0 or (op.startswith("conv") and y.shape[1] == 3)
    assert y.shape[0] == shape[0] and empty and not y.numpy().any()
    if op != "max_unpool2d":
        y.sum().backward()
        assert x.grad.shape == shape and x.grad.numpy().size == 0


@pytest.mark.parametrize("op", POOLS)
@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.bool_])
def test_unsupported_dtypes_are_refused_naming_the_op(op, dtype):
    x = mg.tensor(np.ones((1, 2, 4, 4), dtype=dtype))
    with pytest.raises(TypeError, match=rf"{op}: .*must be floating point \(float32 or float64\),"
                                        rf" got dtype {np.dtype(dtype)}"):
        POOLS[op](x)


@pytest.mark.parametrize("x_dtype, w_dtype, b_dtype", [
    (np.float32, np.float64, None), (np.float64, np.float32, None),
    (np.float32, np.float32, np.float64), (np.float16, np.float16, None)])
def test_conv_refuses_mixed_and_half_dtypes(x_dtype, w_dtype, b_dtype):
    x = mg.tensor(np.ones((1, 2, 4, 4), dtype=x_dtype))
    w = mg.tensor(np.ones((3, 2, 2, 2), dtype=w_dtype))
    b = None if b_dtype is None else mg.tensor(np.ones(3, dtype=b_dtype))
    with pytest.raises(TypeError, match="conv2d: (weight|bias|x) "):
        F.conv2d(x, w, b)
    with pytest.raises(TypeError, match="conv_transpose2d: (weight|bias|x) "):
        F.conv_transpose2d(x, mg.tensor(np.ones((2, 3, 2, 2), dtype=w_dtype)), b)


def test_dilated_windows_of_only_padding_are_refused():
    # Window 0 reads rows -1 and 1 of a 1-row input: both padding, so it has no maximum.
    with pytest.raises(ValueError, match="max_pool2d: along the height, window 0 .* touches "
                                         "only padding"):
        F.max_pool2d(mg.zeros(1, 1, 1, 4), 2, stride=1, padding=1, dilation=2)


def test_functions_take_their_parameters_by_keyword_only():
    x = mg.zeros(1, 1, 4, 4, requires_grad=True)
    with pytest.raises(TypeError, match="positional"):
        MaxPool2d.apply(x, (2, 2, 2, 2, 0, 0, 1, 1), False)
    y, indices = MaxPool2d.apply(x, window=(2, 2, 2, 2, 0, 0, 1, 1), ceil_mode=False)
    assert y.shape == indices.shape == (1, 1, 2, 2)
    with pytest.raises(TypeError, match="positional"):
        Conv2d.apply(x, mg.zeros(1, 1, 1, 1), None, (1, 1, 0, 0, 1, 1), 1)


def views(base):
    """The same values as ``base[:, :, :H]`` three ways: transposed twice, flipped twice, strided."""
    return {"transposed": base.transpose(0, 1, 3, 2).copy().transpose(0, 1, 3, 2),
            "flipped": base[:, :, ::-1].copy()[:, :, ::-1],
            "strided": np.repeat(base, 2, axis=2)[:, :, ::2]}


VIEW_OPS = {
    "max_pool2d": lambda x, w: F.max_pool2d(x, 2, stride=1, padding=1),
    "avg_pool2d": lambda x, w: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
    "adaptive_avg_pool2d": lambda x, w: F.adaptive_avg_pool2d(x, (2, 3)),
    "conv2d": lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2)),
    "conv_transpose2d": lambda x, w: F.conv_transpose2d(x, w.transpose(1, 0, 2, 3), stride=2),
}


@pytest.mark.parametrize("op", VIEW_OPS)
@given(H=st.integers(3, 6), W=st.integers(3, 6), seed=st.integers(0, 2**16))
def test_views_give_the_result_and_gradient_of_their_contiguous_copy(op, H, W, seed):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((2, 2, H, W))
    w = rng.standard_normal((2, 2, 2, 2))
    x0 = mg.tensor(base, requires_grad=True)
    y0 = VIEW_OPS[op](x0, mg.tensor(w))
    g = rng.standard_normal(y0.shape)
    y0.backward(mg.tensor(g))
    for name, view in views(base).items():
        assert not view.flags.c_contiguous, name
        x = mg.tensor(view, requires_grad=True)
        y = VIEW_OPS[op](x, mg.tensor(w))
        y.backward(mg.tensor(g))
        np.testing.assert_allclose(y.numpy(), y0.numpy(), rtol=1e-12, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(x.grad.numpy(), x0.grad.numpy(), rtol=1e-12, atol=1e-12)
