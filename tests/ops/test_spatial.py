"""Spatial transformers: F.affine_grid and F.grid_sample against loop references and PyTorch,
by hand (identity, flips, shifts), every padding mode and both align_corners, the errors, and a
transform learned by gradient descent. (Forward, gradcheck and gradgradcheck of the bilinear
path and of affine_grid run in the op registry, tests/op_specs.py.)"""
import numpy as np
import pytest
from hypothesis import given, settings

import minigrad as mg
import minigrad.functional as F
import references as R
import strategies as S
from torch_oracle import same_as_torch

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_the_identity_transform_gives_the_image_back(align_corners, mode):
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 3, 4, 5)))
    grid = F.affine_grid(mg.tensor(np.stack([IDENTITY] * 2)), (2, 3, 4, 5), align_corners=align_corners)
    y = F.grid_sample(x, grid, mode=mode, align_corners=align_corners)
    np.testing.assert_allclose(y.numpy(), x.numpy(), rtol=1e-12, atol=1e-12)


def test_flips_and_a_half_pixel_shift_by_hand():
    x = mg.tensor(np.arange(6.0).reshape(1, 1, 2, 3))
    flip = mg.tensor(np.array([[[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]]))  # 180 degrees
    y = F.grid_sample(x, F.affine_grid(flip, (1, 1, 2, 3), align_corners=True),
                      align_corners=True)
    assert y.tolist() == [[[[5.0, 4.0, 3.0], [2.0, 1.0, 0.0]]]]
    # Read half a pixel to the right (with align_corners=True a pixel is 2 / (W - 1) = 1 wide
    # in normalised units, so 0.5 is half of one): each output averages two neighbours, the last
    # one half from the zero padding, or from the edge pixel again with 'border'.
    shift = mg.tensor(np.array([[[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]]))
    y = F.grid_sample(x, F.affine_grid(shift, (1, 1, 2, 3), align_corners=True),
                      align_corners=True)
    np.testing.assert_allclose(y.numpy(), [[[[0.5, 1.5, 1.0], [3.5, 4.5, 2.5]]]], rtol=1e-12)
    border = F.grid_sample(x, F.affine_grid(shift, (1, 1, 2, 3), align_corners=True),
                           padding_mode="border", align_corners=True)
    np.testing.assert_allclose(border.numpy(), [[[[0.5, 1.5, 2.0], [3.5, 4.5, 5.0]]]],
                               rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(S.grid_sample_inputs())
def test_grid_sample_matches_the_loop_reference(inputs):
    (x, grid), params = inputs
    out = F.grid_sample(mg.tensor(x), mg.tensor(grid), **params)
    np.testing.assert_allclose(out.numpy(), R.grid_sample(x, grid, **params), rtol=1e-12,
                               atol=1e-12)


def test_nearest_sends_the_input_gradient_to_the_pixel_read_and_none_to_the_grid():
    x = mg.tensor(np.zeros((1, 1, 2, 2)), requires_grad=True)
    grid = mg.tensor(np.array([[[[0.6, -0.6], [-0.6, 0.6]]]]), requires_grad=True)
    F.grid_sample(x, grid, mode="nearest", align_corners=True).backward(
        mg.tensor(np.array([[[[1.0, 10.0]]]])))
    assert x.grad.tolist() == [[[[0.0, 1.0], [10.0, 0.0]]]]
    assert grid.grad is None


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.affine_grid(mg.zeros(2, 2, 3), (1, 1, 2, 2)), ValueError,
     r"^affine_grid: expected theta of shape \(N, 2, 3\) = \(1, 2, 3\) for size \(1, 1, 2, 2\), "
     r"got \(2, 2, 3\)$"),
    (lambda: F.affine_grid(mg.zeros(1, 2, 3), (1, 2, 2)), ValueError,
     r"^affine_grid: expected size \(N, C, H, W\) of positive ints, got \(1, 2, 2\)$"),
    (lambda: F.affine_grid(mg.zeros(1, 2, 3, dtype=np.int64), (1, 1, 2, 2)), TypeError,
     r"^affine_grid: theta must be floating point, got int64$"),
    (lambda: F.grid_sample(mg.zeros(1, 1, 2, 2), mg.zeros(2, 1, 1, 2)), ValueError,
     r"^grid_sample: expected grid of shape \(N, Ho, Wo, 2\) with N = 1"),
    (lambda: F.grid_sample(mg.zeros(1, 1, 2, 2), mg.zeros(1, 1, 1, 3)), ValueError,
     r"^grid_sample: expected grid of shape \(N, Ho, Wo, 2\)"),
    (lambda: F.grid_sample(mg.zeros(1, 2, 2), mg.zeros(1, 1, 1, 2)), ValueError,
     r"^grid_sample: expected input of shape \(N, C, H, W\) with H, W >= 1, got \(1, 2, 2\)$"),
    (lambda: F.grid_sample(mg.zeros(1, 1, 2, 2), mg.zeros(1, 1, 1, 2), mode="bicubic"),
     ValueError, r"^grid_sample: mode must be one of \('bilinear', 'nearest'\), got 'bicubic'$"),
    (lambda: F.grid_sample(mg.zeros(1, 1, 2, 2), mg.zeros(1, 1, 1, 2), padding_mode="wrap"),
     ValueError, r"^grid_sample: padding_mode must be one of \('zeros', 'border', 'reflection'\)"),
    (lambda: F.grid_sample(mg.zeros(1, 1, 2, 2, dtype=np.float64),
                           mg.zeros(1, 1, 1, 2, dtype=np.float32)),
     TypeError, r"^grid_sample: input and grid must share one floating dtype, got float64 and "
                r"float32$"),
])
def test_errors_name_the_op_and_the_shapes(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_a_learned_transform_aligns_a_shifted_image():
    """Gradient descent on theta alone undoes a shift: the spatial transformer's premise."""
    rng = np.random.default_rng(1)
    image = np.zeros((1, 1, 12, 12))
    image[0, 0, 3:7, 4:9] = 1.0
    target = np.roll(image, (2, -1), axis=(2, 3))
    source = mg.tensor(image)
    theta = mg.tensor(np.array([IDENTITY]) + rng.normal(0, 0.01, (1, 2, 3)), requires_grad=True)

    def loss():
        grid = F.affine_grid(theta, (1, 1, 12, 12))
        return ((F.grid_sample(source, grid, padding_mode="border") - mg.tensor(target)) ** 2
                ).mean()
    first = loss().item()
    for _ in range(300):
        theta.grad = None
        value = loss()
        value.backward()
        theta.data -= 0.5 * theta.grad.data
    assert loss().item() < 0.2 * first
    # a pixel is 2/12 wide: reading 2 rows up and 1 column right of each output
    np.testing.assert_allclose(theta.numpy()[0, :, 2], [1 / 6, -2 / 6], atol=0.08)


@settings(max_examples=40, deadline=None)
@given(S.grid_sample_inputs())
def test_grid_sample_vs_torch(inputs):
    torch = pytest.importorskip("torch")
    (x, grid), params = inputs
    same_as_torch(torch, lambda a, g: F.grid_sample(a, g, **params),
                  lambda a, g: torch.nn.functional.grid_sample(a, g, **params), [x, grid])


@settings(max_examples=20, deadline=None)
@given(S.affine_grid_inputs())
def test_affine_grid_vs_torch(inputs):
    torch = pytest.importorskip("torch")
    (theta,), params = inputs
    np.testing.assert_allclose(F.affine_grid(mg.tensor(theta), **params).numpy(),
                               torch.nn.functional.affine_grid(torch.tensor(theta),
                                                               **params).numpy(), rtol=1e-12,
                               atol=1e-12)
