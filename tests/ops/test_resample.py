"""Resampling (``minigrad/ops/resample.py``): gradients, PyTorch's index rules, errors.

``interpolate`` is checked by ``gradcheck`` and ``gradgradcheck`` in float64 over drawn sizes,
scale factors and modes, and by hand on the index and weight rules; the old import path
``minigrad.ops.pool.interpolate`` still works. PyTorch comparisons live in ``test_pool.py``
(with adaptive pooling) and in ``tests/test_fuzz_kernels.py``.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad.ops.resample import interpolate


def check_gradients(fn, *inputs):
    assert mg.gradcheck(fn, inputs)
    assert mg.gradgradcheck(fn, inputs)


resize = st.one_of(
    st.fixed_dictionaries({"size": st.tuples(st.integers(1, 8), st.integers(1, 8))}),
    st.fixed_dictionaries({"scale_factor": st.one_of(
        st.sampled_from([0.5, 1.5, 2.0, 2.5, 3.0]),
        st.tuples(st.floats(0.6, 3.0), st.floats(0.6, 3.0)))}))


@given(H=st.integers(2, 5), W=st.integers(2, 5), resize=resize,
       mode=st.sampled_from([("nearest", None), ("bilinear", False), ("bilinear", True)]),
       seed=st.integers(0, 2**16))
def test_interpolate_gradients(device, H, W, resize, mode, seed):
    x = mg.tensor(np.random.default_rng(seed).standard_normal((1, 2, H, W)), device=device,
                  requires_grad=True)
    check_gradients(lambda x: interpolate(x, **resize, mode=mode[0], align_corners=mode[1]), x)


def test_interpolate_nearest_index_rule():
    x = mg.tensor(np.arange(5.0).reshape(1, 1, 1, 5))
    # Source column min(floor(o * 5/3), 4) for o = 0, 1, 2.
    assert interpolate(x, size=(1, 3)).tolist() == [[[[0.0, 1.0, 3.0]]]]
    assert interpolate(x, size=(2, 8)).numpy()[0, 0, 1].tolist() == [0, 0, 1, 1, 2, 3, 3, 4]


def test_interpolate_bilinear_by_hand():
    x = mg.tensor(np.array([[[[1.0, 2.0]]]]))
    # Pixel centres aligned: source (o + 0.5)/2 - 0.5, clamped at 0 -> 0, 0.25, 0.75, 1.
    assert interpolate(x, size=(1, 4), mode="bilinear").tolist() == [[[[1.0, 1.25, 1.75, 2.0]]]]
    # Corners aligned: source o * 1/3.
    y = interpolate(x, size=(1, 4), mode="bilinear", align_corners=True)
    np.testing.assert_allclose(y.numpy(), [[[[1.0, 4 / 3, 5 / 3, 2.0]]]])


def test_interpolate_scale_factor_sets_the_source_positions():
    x = mg.tensor(np.array([[[[0.0, 10.0, 20.0]]]]))
    # scale_factor 1.7 gives floor(3 * 1.7) = 5 columns, but the step is 1/1.7, not 3/5.
    y = interpolate(x, scale_factor=(1, 1.7), mode="bilinear").numpy()[0, 0, 0]
    src = np.maximum((np.arange(5) + 0.5) / 1.7 - 0.5, 0)
    np.testing.assert_allclose(y, np.interp(src, [0, 1, 2], [0, 10, 20]))
    resized = interpolate(x, size=(1, 5), mode="bilinear").numpy()[0, 0, 0]
    assert not np.allclose(y, resized)
    recomputed = interpolate(x, scale_factor=(1, 1.7), mode="bilinear", recompute_scale_factor=True)
    np.testing.assert_allclose(recomputed.numpy()[0, 0, 0], resized)


def test_interpolate_keeps_float32_and_reaches_the_gradient():
    x = mg.tensor(np.ones((1, 1, 2, 2), dtype=np.float32), requires_grad=True)
    y = interpolate(x, scale_factor=2, mode="bilinear")
    assert y.dtype == np.float32 and y.shape == (1, 1, 4, 4)
    y.sum().backward()
    # Each input cell receives a quarter of the 16 outputs' weight.
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [[[[4.0, 4.0], [4.0, 4.0]]]]


def test_the_old_import_path_still_works():
    from minigrad.ops import pool
    assert pool.interpolate is interpolate
    with pytest.raises(AttributeError, match="no attribute 'upsample'"):
        pool.upsample


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(scale_factor=float("inf")), ValueError, "interpolate: scale_factor must be finite"),
    (dict(scale_factor=float("nan")), ValueError, "interpolate: scale_factor must be finite"),
    (dict(scale_factor=(2.0, float("-inf"))), ValueError, "finite"),
    (dict(scale_factor=1e300), ValueError, "too large"),
    (dict(scale_factor=0.0), ValueError, "interpolate: invalid scale_factor 0.0"),
    (dict(scale_factor=True), TypeError, "interpolate: scale_factor must be a real number"),
    (dict(scale_factor="2"), TypeError, "interpolate: scale_factor must be a positive number"),
    (dict(size=(2**31, 1)), ValueError, "too large"),
])
def test_bad_scales_and_sizes_name_the_op(kwargs, error, words):
    with pytest.raises(error, match=words):
        interpolate(mg.zeros(1, 1, 3, 3), **kwargs)


@pytest.mark.parametrize("shape", [(1, 1, 0, 4), (2, 3, 4, 0), (1, 1, 0, 0)])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_an_empty_plane_is_refused_before_any_kernel(shape, mode):
    # Once read out of bounds (garbage values, or a crash for wide inputs).
    with pytest.raises(ValueError, match=r"interpolate: the input of shape .* has an empty"):
        interpolate(mg.zeros(*shape), size=(3, 3), mode=mode)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_an_empty_batch_or_no_channels_gives_an_empty_result_and_gradient(mode):
    for shape in [(0, 2, 3, 4), (2, 0, 3, 4)]:
        x = mg.zeros(*shape, requires_grad=True)
        y = interpolate(x, size=(5, 2), mode=mode)
        assert y.shape == shape[:2] + (5, 2)
        y.sum().backward()
        assert x.grad.shape == shape


@given(H=st.integers(1, 4), W=st.integers(1, 4), layout=st.sampled_from(["T", "flip", "step"]),
       mode=st.sampled_from(["nearest", "bilinear"]), seed=st.integers(0, 2**16))
def test_views_give_the_result_of_their_contiguous_copy(H, W, layout, mode, seed):
    base = np.random.default_rng(seed).standard_normal((2, 2, 2 * H, W))
    view = {"T": base.transpose(0, 1, 3, 2), "flip": base[:, :, ::-1], "step": base[:, :, ::2]}
    x = view[layout]
    y = interpolate(mg.tensor(x), size=(3, 5), mode=mode).numpy()
    expected = interpolate(mg.tensor(np.ascontiguousarray(x)), size=(3, 5), mode=mode).numpy()
    np.testing.assert_array_equal(y, expected)
