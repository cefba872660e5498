"""kernels/cpu/layout.py: a sample's (C, H, W) image turned channels last into a buffer, and
back (from pixels, or from the even and odd columns held apart)."""
import numpy as np
import pytest

from minigrad.kernels.cpu.layout import (channels_first, channels_first_from_parities,
                                         channels_last)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channels_last_copies_what_fits_and_leaves_the_rest(dtype):
    planes = np.arange(3 * 4 * 5, dtype=dtype).reshape(3, 4, 5)
    out = np.full((6, 7, 3), -1, dtype=dtype)
    channels_last(planes, out, 1, 2)
    np.testing.assert_array_equal(out[1:5, 2:7], planes.transpose(1, 2, 0))
    untouched = np.ones(out.shape[:2], bool)
    untouched[1:5, 2:7] = False
    assert (out[untouched] == -1).all()
    # a buffer smaller than the image takes its top-left part (what the tiles read)
    small = np.zeros((3, 2, 3), dtype=dtype)
    channels_last(planes, small, 1, 0)
    np.testing.assert_array_equal(small[1:], planes[:, :2, :2].transpose(1, 2, 0))
    assert (small[0] == 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channels_first_writes_the_whole_image_plus_the_bias_from_a_larger_buffer(dtype):
    pixels = np.arange(5 * 6 * 3, dtype=dtype).reshape(5, 6, 3)  # one row and column too many
    planes = np.full((3, 4, 5), np.nan, dtype=dtype)
    bias = np.array([0.5, -1.0, 2.0], dtype=dtype)
    channels_first(pixels, planes, bias)
    np.testing.assert_array_equal(planes, pixels[:4, :5].transpose(2, 0, 1)
                                  + bias.reshape(3, 1, 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C, H, W", [(3, 4, 5), (16, 24, 25), (7, 33, 40)])
def test_channels_first_gives_the_same_image_by_planes_and_by_rows(dtype, C, H, W):
    """Small samples are copied plane by plane, those past layout.ROWS_FIRST_BYTES row by row:
    the same values either way, the bias added once."""
    from minigrad.kernels.cpu import layout
    big = C * H * W * np.dtype(dtype).itemsize > layout.ROWS_FIRST_BYTES
    assert big == ((C, H, W) != (3, 4, 5))
    rng = np.random.default_rng(C)
    pixels = rng.standard_normal((H + 1, W + 2, C)).astype(dtype)
    planes = np.full((C, H, W), np.nan, dtype=dtype)
    bias = rng.standard_normal(C).astype(dtype)
    channels_first(pixels, planes, bias)
    np.testing.assert_array_equal(planes, pixels[:H, :W].transpose(2, 0, 1)
                                  + bias.reshape(C, 1, 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("H, W", [(4, 6), (3, 5), (1, 1), (2, 7)])
def test_channels_first_from_parities_interleaves_the_columns_plus_the_bias(dtype, H, W):
    """planes[c, i, 2t + b] = parities[b, i, t, c] + bias[c], for even and odd widths, from a
    buffer with a row and a column pair too many (a whole last tile)."""
    rng = np.random.default_rng(H * 10 + W)
    parities = rng.standard_normal((2, H + 1, (W + 1) // 2 + 1, 3)).astype(dtype)
    planes = np.full((3, H, W), np.nan, dtype=dtype)
    bias = np.array([0.5, -1.0, 2.0], dtype=dtype)
    channels_first_from_parities(parities, planes, bias)
    expected = np.empty((3, H, W), dtype=dtype)
    for j in range(W):
        expected[:, :, j] = parities[j % 2, :H, j // 2].T
    np.testing.assert_array_equal(planes, expected + bias.reshape(3, 1, 1))
