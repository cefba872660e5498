"""Channel rearrangements as layers: sub-pixel convolution's ``PixelShuffle`` moves r·r
channels into an r-times larger plane and ``PixelUnshuffle`` undoes it (Shi et al., 2016);
``ChannelShuffle`` interleaves channel groups (ShuffleNet). Each layer checks its input, naming
itself, and calls ``F.pixel_shuffle``, ``F.pixel_unshuffle`` or ``F.channel_shuffle``: a
reshape, a permute and a reshape, whose gradient is the same rearrangement run backwards.

Notation
--------
N batch (any number of leading axes), C channels of the larger plane, r upscale factor
H W the smaller plane;  H·r, W·r the larger one
"""
import minigrad.functional as F
from minigrad import Tensor
from .module import Module


def _check(name, x, factor, channels_divisible):
    if not isinstance(x, Tensor) or x.ndim < 3:
        shape = x.shape if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name}: expected a Tensor of shape (*, C, H, W), got {shape}")
    C, H, W = x.shape[-3:]
    if channels_divisible and C % (factor * factor):
        raise ValueError(f"{name}: input of shape {x.shape} needs channels divisible by "
                         f"r*r = {factor * factor}, got {C}")
    if not channels_divisible and (H % factor or W % factor):
        raise ValueError(f"{name}: input of shape {x.shape} needs height and width divisible "
                         f"by r = {factor}")


def _factor(name, value):
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: the factor must be a positive int, got {value!r}")
    return value


class PixelShuffle(Module):
    """(*, C·r², H, W) -> (*, C, H·r, W·r): out[c, h·r + i, w·r + j] = x[c·r² + i·r + j, h, w].

    Examples
    --------
    >>> import minigrad as mg
    >>> PixelShuffle(2)(mg.arange(4.0).reshape(1, 4, 1, 1)).tolist()
    [[[[0.0, 1.0], [2.0, 3.0]]]]
    """

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = _factor("PixelShuffle", upscale_factor)

    def forward(self, x):
        _check("PixelShuffle", x, self.upscale_factor, channels_divisible=True)
        return F.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) -> (*, C·r², H, W), the inverse of :class:`PixelShuffle`.

    Examples
    --------
    >>> import minigrad as mg
    >>> PixelUnshuffle(2)(mg.arange(4.0).reshape(1, 1, 2, 2)).reshape(-1).tolist()
    [0.0, 1.0, 2.0, 3.0]
    """

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = _factor("PixelUnshuffle", downscale_factor)

    def forward(self, x):
        _check("PixelUnshuffle", x, self.downscale_factor, channels_divisible=False)
        return F.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """(N, C, ...) with channel ``g·(C/G) + k`` moved to ``k·G + g``: after a grouped
    convolution, each group of the next one sees channels of every group (Zhang et al., 2018).

    Examples
    --------
    >>> import minigrad as mg
    >>> ChannelShuffle(2)(mg.arange(4.0).reshape(1, 4, 1)).reshape(-1).tolist()
    [0.0, 2.0, 1.0, 3.0]
    """

    def __init__(self, groups):
        super().__init__()
        self.groups = _factor("ChannelShuffle", groups)

    def forward(self, x):
        return F.channel_shuffle(x, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
