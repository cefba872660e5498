"""kernels/cpu/layout.py: a sample's (C, H, W) image turned channels last into a buffer."""
import numpy as np
import pytest

from minigrad.kernels.cpu.layout import channels_last


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
