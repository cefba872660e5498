"""Padding layers for images: a constant border (``ZeroPad2d``, ``ConstantPad2d``) or a
mirrored one (``ReflectionPad2d``, ``ReplicationPad2d``).

``padding`` is PyTorch's: one int for all four sides, or ``(left, right, top, bottom)``. Each
layer checks its padding against the input, naming itself, and then calls ``F.pad`` in its
mode: 'constant' (a negative side crops), 'reflect' or 'replicate'. The mirrored modes pick rows
and then columns with an integer index array (a gather), so their gradient is the matching
scatter-add: a border entry sends its gradient back to the interior entry it copies.

Notation
--------
N batch, C channels, H W input height and width
PL PR PT PB  padding on the left, right, top and bottom
OH = H + PT + PB,  OW = W + PL + PR
"""
import minigrad.functional as F
from minigrad import Tensor
from .module import Module


def _four_sides(name, padding):
    if isinstance(padding, int):
        return (padding,) * 4
    padding = tuple(padding)
    if len(padding) != 4 or not all(isinstance(p, int) for p in padding):
        raise ValueError(f"{name}: padding must be an int or (left, right, top, bottom), got "
                         f"{padding!r}")
    return padding


def _check_input(name, x):
    if not isinstance(x, Tensor):  # a TypeError, as every layer gives for a non-Tensor input
        raise TypeError(f"{name}: expected a Tensor of shape (N, C, H, W) or (C, H, W), got "
                        f"{type(x).__name__}")
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a Tensor of shape (N, C, H, W) or (C, H, W), got "
                         f"{x.shape}")


class ConstantPad2d(Module):
    """Pad the last two axes with ``value``; a negative padding crops, as in PyTorch.

    Parameters
    ----------
    padding : int or (PL, PR, PT, PB)
    value : float

    Shape
    -----
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    returns : Tensor, shape (N, C, OH, OW) or (C, OH, OW)

    Examples
    --------
    >>> import minigrad as mg
    >>> ConstantPad2d((1, 0, 0, 1), 9.0)(mg.ones((1, 1, 1, 2))).tolist()
    [[[[9.0, 1.0, 1.0], [9.0, 9.0, 9.0]]]]
    """

    def __init__(self, padding, value):
        super().__init__()
        self.padding = _four_sides(type(self).__name__, padding)
        self.value = float(value)

    def forward(self, x):
        _check_input(type(self).__name__, x)
        PL, PR, PT, PB = self.padding
        H, W = x.shape[-2:]
        # What the negative sides crop must fit in the input: (-5, 5) on 3 rows is refused,
        # not read as 3 rows cropped to none and 5 padded.
        if (H - max(-PT, 0) - max(-PB, 0) < 0) or (W - max(-PL, 0) - max(-PR, 0) < 0):
            raise ValueError(f"{type(self).__name__}: padding {self.padding} crops an input of "
                             f"shape {x.shape} below zero size")
        return F.pad(x, self.padding, value=self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last two axes with zeros; ``padding`` int or (PL, PR, PT, PB)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"padding={self.padding}"


class ReflectionPad2d(Module):
    """Pad the last two axes with their mirror image, the edge row or column not repeated:
    ``[a b c d]`` padded by 2 on each side is ``[c b a b c d c b]``.

    Parameters
    ----------
    padding : int or (PL, PR, PT, PB), each smaller than the padded side (PL, PR < W)

    Shape
    -----
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    returns : Tensor, shape (N, C, OH, OW) or (C, OH, OW)

    Examples
    --------
    >>> import minigrad as mg
    >>> ReflectionPad2d((2, 2, 0, 0))(mg.tensor([[[1.0, 2.0, 3.0, 4.0]]])).tolist()
    [[[3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]]]
    """

    _mode = "reflect"

    def __init__(self, padding):
        super().__init__()
        self.padding = _four_sides(type(self).__name__, padding)

    def _check(self, n, before, after, side):
        """Refuse a padding the mode cannot fill along a side of length n."""
        if min(before, after) < 0 or max(before, after) >= n:
            raise ValueError(f"{type(self).__name__}: padding ({before}, {after}) of the {side} "
                             f"must be in [0, {n - 1}] (below the {side}, {n})")

    def forward(self, x):
        _check_input(type(self).__name__, x)
        PL, PR, PT, PB = self.padding
        H, W = x.shape[-2:]
        self._check(H, PT, PB, "height")
        self._check(W, PL, PR, "width")
        return F.pad(x, self.padding, mode=self._mode)

    def extra_repr(self):
        return f"padding={self.padding}"


class ReplicationPad2d(ReflectionPad2d):
    """Pad the last two axes by repeating the edge row or column: ``[a b c]`` padded by 2 on
    each side is ``[a a a b c c c]``. Any padding >= 0 is allowed, on an input side >= 1."""

    _mode = "replicate"

    def _check(self, n, before, after, side):
        if min(before, after) < 0 or n < 1:
            raise ValueError(f"{type(self).__name__}: padding ({before}, {after}) must be >= 0 "
                             f"and the {side} >= 1, got {n}")
