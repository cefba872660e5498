"""``interpolate`` modes 'nearest-exact', 'linear' and 'bicubic': references, PyTorch, gradients.

Each mode is checked against a slow NumPy loop written from PyTorch's coordinate formulas (in
float64), against PyTorch itself for sizes and scale factors up and down, and by ``gradcheck``
and ``gradgradcheck`` in float64 over drawn sizes.

Notation
--------
L, O      one input axis and its output length;  o  an output row;  src  its source coordinate
t         ``src - floor(src)``, which sets the 4 cubic weights
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from layers import Upsample
from minigrad.ops.resample import interpolate


def ratio(L, O, scale, align_corners):
    if align_corners:
        return (L - 1) / (O - 1) if O > 1 else 0.0
    return 1.0 / scale if scale else L / O


def cubic(d):
    """The cubic convolution kernel with A = -0.75, at distance d."""
    A, d = -0.75, abs(d)
    if d <= 1:
        return (A + 2) * d ** 3 - (A + 3) * d ** 2 + 1
    return A * d ** 3 - 5 * A * d ** 2 + 8 * A * d - 4 * A if d < 2 else 0.0


def matrix(L, O, scale, mode, align_corners):
    """The (O, L) matrix that resamples one axis, row by row from the formulas."""
    M = np.zeros((O, L))
    for o in range(O):
        r = ratio(L, O, scale, align_corners)
        if mode == "nearest-exact":
            M[o, min(math.floor((o + 0.5) * r), L - 1)] = 1
        elif mode == "linear":
            src = o * r if align_corners else max((o + 0.5) * r - 0.5, 0.0)
            i = min(math.floor(src), L - 1)
            M[o, i] += 1 - (src - i)
            M[o, min(i + 1, L - 1)] += src - i
        else:
            src = o * r if align_corners else (o + 0.5) * r - 0.5
            i = math.floor(src)
            for k in range(-1, 3):
                M[o, min(max(i + k, 0), L - 1)] += cubic(src - (i + k))
    return M


def reference(x, sizes, scales, mode, align_corners=None):
    """Resample the last one or two axes of ``x`` (float64) with the per-axis matrices."""
    if x.ndim == 3:
        return x @ matrix(x.shape[2], sizes[0], scales[0], mode, align_corners).T
    rows = matrix(x.shape[2], sizes[0], scales[0], mode, align_corners)
    cols = matrix(x.shape[3], sizes[1], scales[1], mode, align_corners)
    return rows @ x @ cols.T


MODES_4D = [("nearest-exact", None), ("bicubic", False), ("bicubic", True)]
MODES_3D = [("nearest-exact", None), ("linear", False), ("linear", True)]


def drawn_resize(draw, axes):
    """``(kwargs, sizes, scales)``: a size per axis, or a scale factor (down or up)."""
    if draw(st.booleans()):
        sizes = tuple(draw(st.integers(1, 7)) for _ in axes)
        return ({"size": sizes}, sizes, (None,) * len(axes))
    scales = tuple(draw(st.sampled_from([0.5, 0.75, 1.0, 1.5, 1.7, 2.0, 3.0])) for _ in axes)
    sizes = tuple(int(L * s) for L, s in zip(axes, scales))
    return ({"scale_factor": scales}, sizes, scales)


@given(data=st.data(), H=st.integers(2, 6), W=st.integers(2, 6),
       mode=st.sampled_from(MODES_4D), seed=st.integers(0, 2**16))
def test_image_modes_match_the_reference(data, H, W, mode, seed):
    kwargs, sizes, scales = drawn_resize(data.draw, (H, W))
    x = np.random.default_rng(seed).standard_normal((2, 3, H, W))
    y = interpolate(mg.tensor(x), **kwargs, mode=mode[0], align_corners=mode[1])
    np.testing.assert_allclose(y.numpy(), reference(x, sizes, scales, *mode), atol=1e-12)


@given(data=st.data(), L=st.integers(2, 8), mode=st.sampled_from(MODES_3D),
       seed=st.integers(0, 2**16))
def test_sequence_modes_match_the_reference(data, L, mode, seed):
    kwargs, sizes, scales = drawn_resize(data.draw, (L,))
    if "size" in kwargs and data.draw(st.booleans()):
        kwargs = {"size": sizes[0]}
    x = np.random.default_rng(seed).standard_normal((2, 3, L))
    y = interpolate(mg.tensor(x), **kwargs, mode=mode[0], align_corners=mode[1])
    np.testing.assert_allclose(y.numpy(), reference(x, sizes, scales, *mode), atol=1e-12)


@given(H=st.integers(1, 4), W=st.integers(1, 4),
       size=st.tuples(st.integers(1, 6), st.integers(1, 6)),
       mode=st.sampled_from(MODES_4D), seed=st.integers(0, 2**16))
def test_image_mode_gradients(device, H, W, size, mode, seed):
    x = mg.tensor(np.random.default_rng(seed).standard_normal((1, 2, H, W)), device=device,
                  requires_grad=True)
    fn = lambda x: interpolate(x, size=size, mode=mode[0], align_corners=mode[1])  # noqa: E731
    assert mg.gradcheck(fn, (x,))
    assert mg.gradgradcheck(fn, (x,))


@given(L=st.integers(1, 5), scale=st.sampled_from([0.5, 1.5, 2.0, 2.5]),
       mode=st.sampled_from(MODES_3D), seed=st.integers(0, 2**16))
def test_sequence_mode_gradients(device, L, scale, mode, seed):
    x = mg.tensor(np.random.default_rng(seed).standard_normal((2, 2, max(L, 2))), device=device,
                  requires_grad=True)
    fn = lambda x: interpolate(x, scale_factor=scale, mode=mode[0],  # noqa: E731
                               align_corners=mode[1])
    assert mg.gradcheck(fn, (x,))
    assert mg.gradgradcheck(fn, (x,))


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("mode", MODES_4D + [("nearest", None), ("bilinear", False)])
@pytest.mark.parametrize("shape, resize", [
    ((2, 3, 5, 4), {"size": (9, 3)}), ((1, 2, 3, 5), {"scale_factor": 1.7}),
    ((1, 2, 8, 6), {"scale_factor": 0.6}), ((1, 1, 4, 4), {"scale_factor": (2.0, 0.5)}),
    ((1, 1, 3, 3), {"scale_factor": 3}), ((1, 1, 1, 1), {"size": (4, 2)}),
    ((1, 2, 5, 7), {"scale_factor": 1.3, "recompute_scale_factor": True}),
])
def test_image_modes_vs_torch(dtype, tol, mode, shape, resize):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    g = np.random.default_rng(1)
    ours = mg.tensor(x, requires_grad=True)
    y = interpolate(ours, **resize, mode=mode[0], align_corners=mode[1])
    theirs = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.interpolate(theirs, **resize, mode=mode[0],
                                               align_corners=mode[1])
    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), rtol=tol, atol=tol)
    grad_output = g.standard_normal(y.shape).astype(dtype)
    y.backward(mg.tensor(grad_output))
    expected.backward(torch.tensor(grad_output))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=tol, atol=10 * tol)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("mode", MODES_3D + [("nearest", None)])
@pytest.mark.parametrize("L, resize", [(5, {"size": 9}), (5, {"size": (3,)}),
                                       (3, {"scale_factor": 1.7}), (8, {"scale_factor": 0.6}),
                                       (1, {"scale_factor": 4.0})])
def test_sequence_modes_vs_torch(dtype, tol, mode, L, resize):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, L)).astype(dtype)
    y = interpolate(mg.tensor(x), **resize, mode=mode[0], align_corners=mode[1])
    expected = torch.nn.functional.interpolate(torch.tensor(x), **resize, mode=mode[0],
                                               align_corners=mode[1])
    np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("mode, shape", [("linear", (2, 3, 6)), ("bicubic", (2, 3, 4, 6)),
                                         ("nearest-exact", (3, 4, 6))])
def test_upsample_layer_vs_torch(mode, shape):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = Upsample(scale_factor=1.5, mode=mode)(mg.tensor(x)).numpy()
    # The layer reads a 3-D image as unbatched (C, H, W), except for 'linear' sequences.
    batched = x if len(shape) == 4 or mode == "linear" else x[None]
    expected = torch.nn.Upsample(scale_factor=1.5, mode=mode)(torch.tensor(batched)).numpy()
    np.testing.assert_allclose(y, expected.reshape(y.shape), rtol=1e-5, atol=1e-5)


def test_nearest_exact_lines_up_pixel_centres_by_hand():
    x = mg.tensor(np.arange(4.0).reshape(1, 1, 1, 4))
    # Source min(floor((o + 0.5) * 4/3), 3): 0, 2, 3 ('nearest' reads floor(o * 4/3): 0, 1, 2).
    assert interpolate(x, size=(1, 3), mode="nearest-exact").tolist() == [[[[0.0, 2.0, 3.0]]]]
    assert interpolate(x, size=(1, 3), mode="nearest").tolist() == [[[[0.0, 1.0, 2.0]]]]


def test_bicubic_by_hand():
    x = mg.tensor(np.array([[[[0.0, 1.0]]]]))
    y = interpolate(x, size=(1, 4), mode="bicubic").numpy()[0, 0, 0]
    # Output 1: src = (1 + 0.5) * 2/4 - 0.5 = 0.25, so t = 0.25 and the taps -1, 0, 1, 2 clamp
    # to columns 0, 0, 1, 1; only the last two (value 1) count, at distances 1 - t and 2 - t.
    t = 0.25
    np.testing.assert_allclose(y[1], cubic(1 - t) + cubic(2 - t), atol=1e-15)
    # Output 0 (t = 0.75) gets x[1] at distance 1.25 only, a negative lobe: it undershoots;
    # output 3 mirrors it and overshoots.
    np.testing.assert_allclose([y[0], y[3]], [cubic(1.25), 1 - cubic(1.25)], atol=1e-15)
    assert y[0] < 0


@given(t=st.floats(0, 1))
def test_cubic_weights_sum_to_one(t):
    x = mg.tensor(np.full((1, 1, 3, 5), 2.5))
    # A constant image stays constant whatever the coordinates, since the weights sum to 1.
    y = interpolate(x, scale_factor=1 + t, mode="bicubic").numpy()
    np.testing.assert_allclose(y, 2.5, atol=1e-12)


@pytest.mark.parametrize("mode", ["nearest-exact", "bicubic", "linear"])
def test_an_empty_batch_gives_an_empty_result_and_gradient(mode):
    shape = (0, 2, 4) if mode == "linear" else (2, 0, 3, 4)
    x = mg.zeros(*shape, requires_grad=True)
    y = interpolate(x, scale_factor=2, mode=mode)
    assert y.shape == shape[:2] + tuple(2 * L for L in shape[2:])
    y.sum().backward()
    assert x.grad.shape == shape


@pytest.mark.parametrize("shape, kwargs, error, words", [
    ((1, 1, 2, 2, 2), dict(mode="trilinear"), ValueError,
     r"interpolate: mode 'trilinear' is not implemented; the modes are 'nearest', "
     r"'nearest-exact' and 'linear'"),
    ((1, 1, 2, 2), dict(mode="area"), ValueError, "'bilinear' and 'bicubic' for"),
    ((1, 1, 2, 2, 2), dict(mode="nearest"), ValueError,
     r"\(N, C, L\) or \(N, C, H, W\), got shape \(1, 1, 2, 2, 2\) \(5-D volumes and "
     r"'trilinear' are not implemented\)"),
    ((1, 1, 2, 2), dict(mode="linear"), ValueError,
     r"mode 'linear' expects an input of shape \(N, C, L\), got shape \(1, 1, 2, 2\)"),
    ((1, 1, 4), dict(mode="bicubic"), ValueError, r"mode 'bicubic' expects .*\(N, C, H, W\)"),
    ((1, 1, 4), dict(mode="bilinear"), ValueError, "mode 'bilinear' expects"),
    ((1, 1, 2, 2), dict(mode="nearest-exact", align_corners=False), ValueError,
     "align_corners applies to modes 'linear', 'bilinear' and 'bicubic' only"),
    ((1, 1, 0), dict(mode="linear"), ValueError,
     r"the input of shape \(1, 1, 0\) has an empty L axis"),
    ((1, 1, 0, 3), dict(mode="bicubic"), ValueError, "has an empty"),
    ((1, 1, 3, 0), dict(mode="nearest-exact"), ValueError, "has an empty"),
])
def test_bad_modes_and_shapes_name_the_op(shape, kwargs, error, words):
    with pytest.raises(error, match=words):
        interpolate(mg.zeros(*shape), scale_factor=2, **kwargs)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(size=(2, 3)), TypeError, r"size must be an int or a 1-tuple for an input of shape"),
    (dict(size=True), TypeError, "size must be an int or a 1-tuple"),
    (dict(size=0), ValueError, "must be at least 1x1"),
    (dict(scale_factor=(2.0, 2.0)), TypeError, "a positive number or 1 of them"),
    (dict(scale_factor=float("nan")), ValueError, "interpolate: scale_factor must be finite"),
    (dict(scale_factor=0.1), ValueError, "must be at least 1x1"),
])
def test_bad_sequence_sizes_name_the_op(kwargs, error, words):
    with pytest.raises(error, match=words):
        interpolate(mg.zeros(1, 2, 4), mode="linear", **kwargs)


def test_float32_stays_float32_and_int_input_is_refused():
    x = mg.tensor(np.ones((1, 1, 3, 3), dtype=np.float32), requires_grad=True)
    y = interpolate(x, scale_factor=2, mode="bicubic")
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    with pytest.raises(TypeError, match="interpolate: the input must be floating point"):
        interpolate(mg.tensor(np.ones((1, 1, 3), dtype=np.int64)), size=4, mode="linear")
