"""Sub-pixel convolution's rearrangements (Shi et al., 2016): ``PixelShuffle`` moves r·r
channels into an r-times larger plane, ``PixelUnshuffle`` undoes it.

Both are a reshape, a permute and a reshape, so their gradients are the same rearrangement run
backwards, and the two layers are each other's inverse and each other's adjoint.

Notation
--------
N batch (any number of leading axes), C channels of the larger plane, r upscale factor
H W the smaller plane;  H·r, W·r the larger one
"""
from minigrad import Tensor
from minigrad.ops.shape import permute, reshape
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
        r = self.upscale_factor
        _check("PixelShuffle", x, r, channels_divisible=True)
        *batch, C, H, W = x.shape
        B = len(batch)
        x = reshape(x, (*batch, C // (r * r), r, r, H, W))
        x = permute(x, tuple(range(B)) + tuple(B + a for a in (0, 3, 1, 4, 2)))
        return reshape(x, (*batch, C // (r * r), H * r, W * r))

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
        r = self.downscale_factor
        _check("PixelUnshuffle", x, r, channels_divisible=False)
        *batch, C, H, W = x.shape
        B = len(batch)
        x = reshape(x, (*batch, C, H // r, r, W // r, r))
        x = permute(x, tuple(range(B)) + tuple(B + a for a in (0, 2, 4, 1, 3)))
        return reshape(x, (*batch, C * r * r, H // r, W // r))

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"
