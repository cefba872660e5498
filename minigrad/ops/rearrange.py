"""Channel rearrangements of images: sub-pixel convolution's ``pixel_shuffle`` and its inverse
``pixel_unshuffle`` (Shi et al., 2016), and ShuffleNet's ``channel_shuffle`` (Zhang et al.,
2018). Each is a reshape, a permute and a reshape, so its gradient is the same rearrangement run
backwards; pixel_shuffle and pixel_unshuffle are each other's inverse and each other's adjoint.

Notation
--------
*      any number of leading (batch) axes
C      channels of the larger plane;  r  the factor;  H W  the smaller plane, H·r W·r the larger
G      channel groups
"""
import numbers

from ..tensor import Tensor
from .shape import permute, reshape


def _factor(op, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")
    return int(value)


def _image(op, x):
    if not isinstance(x, Tensor) or x.ndim < 3:
        shape = x.shape if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{op}: expected a Tensor of shape (*, C, H, W), got {shape}")


def pixel_shuffle(x, upscale_factor):
    """(*, C·r², H, W) -> (*, C, H·r, W·r): ``out[c, h·r + i, w·r + j] = x[c·r² + i·r + j, h, w]``.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.pixel_shuffle(mg.arange(4.0).reshape(1, 4, 1, 1), 2).tolist()
    [[[[0.0, 1.0], [2.0, 3.0]]]]
    """
    op = "pixel_shuffle"
    r = _factor(op, "upscale_factor", upscale_factor)
    _image(op, x)
    *batch, C, H, W = x.shape
    if C % (r * r):
        raise ValueError(f"{op}: input of shape {x.shape} needs channels divisible by r*r = "
                         f"{r * r}, got {C}")
    B = len(batch)
    x = reshape(x, (*batch, C // (r * r), r, r, H, W))
    x = permute(x, tuple(range(B)) + tuple(B + a for a in (0, 3, 1, 4, 2)))
    return reshape(x, (*batch, C // (r * r), H * r, W * r))


def pixel_unshuffle(x, downscale_factor):
    """(*, C, H·r, W·r) -> (*, C·r², H, W), the inverse of :func:`pixel_shuffle`.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.pixel_unshuffle(mg.arange(4.0).reshape(1, 1, 2, 2), 2).reshape(-1).tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    op = "pixel_unshuffle"
    r = _factor(op, "downscale_factor", downscale_factor)
    _image(op, x)
    *batch, C, H, W = x.shape
    if H % r or W % r:
        raise ValueError(f"{op}: input of shape {x.shape} needs height and width divisible by "
                         f"r = {r}")
    B = len(batch)
    x = reshape(x, (*batch, C, H // r, r, W // r, r))
    x = permute(x, tuple(range(B)) + tuple(B + a for a in (0, 2, 4, 1, 3)))
    return reshape(x, (*batch, C * r * r, H // r, W // r))


def channel_shuffle(x, groups):
    """(N, C, ...) with its channels regrouped: channel ``g·(C/G) + k`` moves to ``k·G + g``,
    so that the next grouped convolution sees channels from every group (ShuffleNet).

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.channel_shuffle(mg.arange(6.0).reshape(1, 6, 1), 2).reshape(-1).tolist()
    [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    """
    op = "channel_shuffle"
    G = _factor(op, "groups", groups)
    if not isinstance(x, Tensor) or x.ndim < 2:
        shape = x.shape if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{op}: expected a Tensor of shape (N, C, ...), got {shape}")
    N, C, *rest = x.shape
    if C % G:
        raise ValueError(f"{op}: {C} channels (input of shape {x.shape}) are not divisible "
                         f"into {G} groups")
    x = reshape(x, (N, G, C // G, *rest))
    x = permute(x, (0, 2, 1) + tuple(range(3, x.ndim)))
    return reshape(x, (N, C, *rest))
