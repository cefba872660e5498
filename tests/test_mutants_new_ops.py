"""Tests written from the surviving mutants of the modules added on 2026-11-26 (dropouts,
ops/rearrange, ops/padding, ops/fold, ops/spatial, ops/conv1d): defaults that no test relied on,
error messages of each function in full, and the shapes at the edges of what each accepts."""
import re

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F


def _exact(text):
    return "^" + re.escape(text) + "$"


# --- dropouts -----------------------------------------------------------------------------

def test_channel_dropout_defaults_drop_half_in_training():
    mg.manual_seed(0)
    x = mg.ones(400, 10, 3)
    y = F.dropout1d(x).numpy()  # p=0.5, training=True
    kept = y[:, :, 0] > 0
    assert abs(kept.mean() - 0.5) < 0.05 and set(np.unique(y)) == {0.0, 2.0}
    for function, shape in ((F.dropout2d, (400, 10, 2, 2)), (F.dropout3d, (400, 10, 1, 2, 1))):
        y = function(mg.ones(*shape)).numpy()
        assert set(np.unique(y)) == {0.0, 2.0} and abs((y > 0).mean() - 0.5) < 0.05


def test_alpha_dropouts_default_to_evaluation_and_p_one_half():
    x = mg.tensor(np.random.default_rng(1).standard_normal((50, 4)))
    assert F.alpha_dropout(x) is x and F.feature_alpha_dropout(x) is x
    mg.manual_seed(2)
    y = F.alpha_dropout(mg.ones(4000, dtype=np.float64), training=True).numpy()
    a = (0.5 * (1 + 0.5 * 1.7580993408473766 ** 2)) ** -0.5
    assert set(np.unique(y.round(4))) == {round(a * 1 + a * 1.7580993408473766 * 0.5, 4),
                                          round(-a * 1.7580993408473766 * 0.5, 4)}


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.dropout1d(mg.ones(2, 3), 1.5), ValueError,
     "dropout1d: p must be a probability in [0, 1], got 1.5"),
    (lambda: F.dropout2d(mg.ones(2, 3, 4), -0.1), ValueError,
     "dropout2d: p must be a probability in [0, 1], got -0.1"),
    (lambda: F.dropout2d(mg.ones(2, 3, 4, 4), 2.0), ValueError,
     "dropout2d: p must be a probability in [0, 1], got 2.0"),
    (lambda: F.dropout3d(mg.ones(2, 3, 1, 1), True), ValueError,
     "dropout3d: p must be a probability in [0, 1], got True"),
    (lambda: F.alpha_dropout(mg.ones(2), "0.5", True), ValueError,
     "alpha_dropout: p must be a probability in [0, 1], got '0.5'"),
    (lambda: F.dropout3d(mg.ones(2, 3), 0.5), ValueError,
     "dropout3d: expected an input of shape (N, C, D, H, W) or (C, D, H, W), got (2, 3)"),
    (lambda: F.dropout1d([1.0], 0.5), TypeError, "dropout1d: expected a Tensor input, got list"),
])
def test_dropout_errors_in_full(call, error, message):
    with pytest.raises(error, match=_exact(message)):
        call()


def test_feature_alpha_dropout_takes_2d_input_and_keeps_the_shape():
    mg.manual_seed(3)
    for shape in ((30, 4), (30, 4, 3), (5, 4, 2, 2)):
        y = F.feature_alpha_dropout(mg.ones(*shape), 0.5, training=True)
        assert y.shape == shape
        flat = y.numpy().reshape(shape[0], shape[1], -1)
        assert np.all(flat.min(-1) == flat.max(-1))  # one draw per (n, c)


# --- rearrange ----------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: F.pixel_unshuffle(mg.zeros(1, 1, 2, 2), 0),
     "pixel_unshuffle: downscale_factor must be a positive int, got 0"),
    (lambda: F.pixel_unshuffle(mg.zeros(1, 1, 2, 2), True),
     "pixel_unshuffle: downscale_factor must be a positive int, got True"),
    (lambda: F.pixel_shuffle(mg.zeros(1, 4, 1, 1), 2.0),
     "pixel_shuffle: upscale_factor must be a positive int, got 2.0"),
    (lambda: F.pixel_unshuffle(mg.zeros(4, 4), 2),
     "pixel_unshuffle: expected a Tensor of shape (*, C, H, W), got (4, 4)"),
    (lambda: F.pixel_shuffle([1.0], 2),
     "pixel_shuffle: expected a Tensor of shape (*, C, H, W), got list"),
    (lambda: F.channel_shuffle(mg.zeros(1, 4), 0),
     "channel_shuffle: groups must be a positive int, got 0"),
    (lambda: F.channel_shuffle([1.0], 2),
     "channel_shuffle: expected a Tensor of shape (N, C, ...), got list"),
])
def test_rearrangement_errors_in_full(call, message):
    with pytest.raises(ValueError, match=_exact(message)):
        call()


def test_channel_shuffle_of_a_2d_input():
    x = mg.tensor(np.arange(12.0).reshape(2, 6))
    assert F.channel_shuffle(x, 3).tolist() == [[0.0, 2.0, 4.0, 1.0, 3.0, 5.0],
                                                [6.0, 8.0, 10.0, 7.0, 9.0, 11.0]]


# --- fold ---------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, message", [
    (lambda: F.unfold(mg.zeros(1, 1, 3, 3), 2, dilation=0), ValueError,
     "unfold: dilation must be >= 1, got (0, 0)"),
    (lambda: F.unfold(mg.zeros(1, 1, 3, 3), 2, stride=(1, 0)), ValueError,
     "unfold: stride must be >= 1, got (1, 0)"),
    (lambda: F.unfold(mg.zeros(1, 1, 3, 4), (4, 2), padding=(0, 1)), ValueError,
     "unfold: the kernel (4, 2) with dilation (1, 1) spans more than the padded image (3, 6) "
     "(input (1, 1, 3, 4), padding (0, 1))"),
    (lambda: F.fold(mg.zeros(1, 4, 1), (1, 1), 2, padding=(1, 0)), ValueError,
     "fold: the kernel (2, 2) with dilation (1, 1) spans more than the padded image (3, 1) "
     "(input of output_size (1, 1), padding (1, 0))"),
    (lambda: F.fold(mg.zeros(1, 4, 1, 1), (2, 2), 2), ValueError,
     "fold: expected an input of shape (N, C·KH·KW, L) or (C·KH·KW, L), got shape "
     "(1, 4, 1, 1)"),
    (lambda: F.fold([1.0], (2, 2), 2), TypeError, "fold: expected a Tensor, got list"),
    (lambda: F.fold(mg.zeros(1, 4, 1), (2, 2, 2), 2), TypeError,
     "fold: output_size must be an int or a pair of ints, got (2, 2, 2)"),
    (lambda: F.fold(mg.zeros(1, 4, 1), (2, 2), 2, stride=0), ValueError,
     "fold: stride must be >= 1, got (0, 0)"),
])
def test_fold_and_unfold_errors_in_full(call, error, message):
    with pytest.raises(error, match=_exact(message)):
        call()


def test_fold_keeps_float32():
    cols = mg.tensor(np.ones((1, 4, 4), np.float32))
    out = F.fold(cols, (3, 3), 2)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy()[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


# --- spatial ------------------------------------------------------------------------------

def test_affine_grid_keeps_float32_and_checks_its_size():
    theta = mg.tensor(np.array([[[1, 0, 0], [0, 1, 0]]], np.float32))
    assert F.affine_grid(theta, (1, 1, 2, 3)).dtype == np.float32
    for size in ((1, 1, 0, 3), (1, 1, 2.0, 3), (1, 1, 2, -1)):
        with pytest.raises(ValueError, match=_exact(
                f"affine_grid: expected size (N, C, H, W) of positive ints, got {size}")):
            F.affine_grid(theta, size)
    with pytest.raises(TypeError, match=_exact("affine_grid: expected theta to be a Tensor, "
                                               "got list")):
        F.affine_grid([[1.0]], (1, 1, 2, 2))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_reflection_folds_points_on_both_sides_several_times(align_corners, mode):
    """Points from two image widths to the left to two to the right, each reflected (again and
    again) into the image: against the loop reference, which follows PyTorch's rule."""
    import references as R
    x = np.random.default_rng(4).standard_normal((1, 2, 3, 4))
    xs = np.array([-4.6, -3.3, -2.15, -1.3, -0.85, -0.2, 0.3, 0.9, 1.15, 1.7, 2.4, 3.3, 4.75])
    grid = np.stack([np.stack([xs, np.full_like(xs, y)], -1) for y in (-2.7, -1.1, 0.35, 2.2)])
    grid = grid[None]                                          # (1, 4, 13, 2)
    out = F.grid_sample(mg.tensor(x), mg.tensor(grid), mode=mode, padding_mode="reflection",
                        align_corners=align_corners).numpy()
    np.testing.assert_allclose(out, R.grid_sample(x, grid, mode, "reflection", align_corners),
                               rtol=1e-12, atol=1e-12)


def test_grid_sample_keeps_float32_in_every_padding_mode():
    x = mg.tensor(np.random.default_rng(5).standard_normal((1, 1, 3, 3)).astype(np.float32))
    grid = mg.tensor(np.array([[[[-1.7, 0.4], [2.3, -2.9]]]], np.float32), requires_grad=True)
    for padding_mode in ("zeros", "border", "reflection"):
        out = F.grid_sample(x, grid, padding_mode=padding_mode)
        assert out.dtype == np.float32, padding_mode
        out.sum().backward()
        assert grid.grad.dtype == np.float32
        grid.grad = None


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.grid_sample([1.0], mg.zeros(1, 1, 1, 2)), TypeError,
     "grid_sample: expected input to be a Tensor, got list"),
    (lambda: F.grid_sample(mg.zeros(1, 1, 2, 2), (1.0, 2.0)), TypeError,
     "grid_sample: expected grid to be a Tensor, got tuple"),
    (lambda: F.grid_sample(mg.zeros(1, 1, 0, 2), mg.zeros(1, 1, 1, 2)), ValueError,
     "grid_sample: expected input of shape (N, C, H, W) with H, W >= 1, got (1, 1, 0, 2)"),
    (lambda: F.grid_sample(mg.zeros(2, 3, 2, 2), mg.zeros(1, 1, 1, 2)), ValueError,
     "grid_sample: expected grid of shape (N, Ho, Wo, 2) with N = 2 (input (2, 3, 2, 2)), got "
     "(1, 1, 1, 2)"),
])
def test_grid_sample_errors_in_full(call, error, message):
    with pytest.raises(error, match=_exact(message)):
        call()


def test_fold_keeps_float16():
    out = F.fold(mg.tensor(np.ones((1, 4, 4), np.float16)), (3, 3), 2)
    assert out.dtype == np.float16 and out.numpy()[0, 0, 1, 1] == 4
