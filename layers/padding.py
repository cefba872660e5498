"""Padding layers, PyTorch's family over 1, 2 or 3 spatial axes: a constant border
(``ConstantPad{1,2,3}d``, ``ZeroPad{1,2,3}d``), a mirrored one (``ReflectionPad{1,2,3}d``), the
edge repeated (``ReplicationPad{1,2,3}d``) or the other side wrapped round
(``CircularPad{1,2,3}d``).

``padding`` is PyTorch's: one int for every side, or a tuple of (before, after) widths, last
axis first: ``(left, right)`` for 1-D, ``(left, right, top, bottom)`` for 2-D, and ``(left,
right, top, bottom, front, back)`` for 3-D. Each layer checks its padding against the input,
naming itself and the side, and then calls ``F.pad`` in its mode: 'constant' (a negative side
crops), 'reflect', 'replicate' or 'circular'. The non-constant modes pick entries with an
integer index array (a gather), so their gradient is the matching scatter-add: a border entry
sends its gradient back to the interior entry it copies.

Examples
--------
>>> import minigrad as mg
>>> ReflectionPad2d((2, 2, 0, 0))(mg.tensor([[[1.0, 2.0, 3.0, 4.0]]])).tolist()
[[[3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0]]]
>>> ConstantPad1d((1, -1), 9.0)(mg.tensor([[1.0, 2.0]])).tolist()
[[9.0, 1.0]]

Notation
--------
N batch, C channels, then the spatial axes: L (1-D), H W (2-D), D H W (3-D)
PL PR PT PB PF PK   padding on the left, right, top, bottom, front and back
"""
import numbers

import minigrad.functional as F
from minigrad import Tensor
from .module import Module

_SIDES = {1: "(left, right)", 2: "(left, right, top, bottom)",
          3: "(left, right, top, bottom, front, back)"}
_LAYOUTS = {1: ("(N, C, L)", "(C, L)"), 2: ("(N, C, H, W)", "(C, H, W)"),
            3: ("(N, C, D, H, W)", "(C, D, H, W)")}
_AXIS_NAMES = ("width", "height", "depth")  # the last axis first, as the padding lists them


class _Pad(Module):
    """What the padding layers share: ``padding`` read and kept, the input's rank checked,
    each axis's widths checked by ``_check``, then ``F.pad`` in ``_mode``."""

    _dims = 2
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        name, dims = type(self).__name__, self._dims
        if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
            padding = (int(padding),) * (2 * dims)
        padding = tuple(padding)
        if len(padding) != 2 * dims or not all(
                isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in padding):
            raise ValueError(f"{name}: padding must be an int or {_SIDES[dims]}, got "
                             f"{padding!r}")
        self.padding = tuple(int(p) for p in padding)

    def _check(self, n, before, after, side, shape):
        """Refuse widths this mode cannot fill along an axis of length n of an input of
        ``shape`` (here: none)."""

    def _pad(self, x):
        return F.pad(x, self.padding, mode=self._mode)

    def forward(self, x):
        name, dims = type(self).__name__, self._dims
        batched, unbatched = _LAYOUTS[dims]
        if not isinstance(x, Tensor):  # a TypeError, as every layer gives for a non-Tensor
            raise TypeError(f"{name}: expected a Tensor of shape {batched} or {unbatched}, got "
                            f"{type(x).__name__}")
        if x.ndim not in (dims + 1, dims + 2):
            raise ValueError(f"{name}: expected a Tensor of shape {batched} or {unbatched}, got "
                             f"{x.shape}")
        for i in range(dims):
            self._check(x.shape[-1 - i], self.padding[2 * i], self.padding[2 * i + 1],
                        _AXIS_NAMES[i], x.shape)
        return self._pad(x)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPad(_Pad):
    """Pad with ``value``; a negative width crops, as in PyTorch."""

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = float(value)

    def _check(self, n, before, after, side, shape):
        # What the negative sides crop must fit in the input: (-5, 5) on 3 rows is refused,
        # not read as 3 rows cropped to none and 5 padded.
        if n - max(-before, 0) - max(-after, 0) < 0:
            raise ValueError(f"{type(self).__name__}: padding {self.padding} crops an input of "
                             f"shape {shape} below zero size")

    def _pad(self, x):
        return F.pad(x, self.padding, value=self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPad(_ConstantPad):
    """Pad with zeros; a negative width crops."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class _ReflectionPad(_Pad):
    """Pad with the mirror image, the edge entry not repeated: ``[a b c d]`` padded by 2 on each
    side is ``[c b a b c d c b]``; each width must be below its axis' length."""

    _mode = "reflect"

    def _check(self, n, before, after, side, shape):
        if min(before, after) < 0 or max(before, after) >= n:
            raise ValueError(f"{type(self).__name__}: padding ({before}, {after}) of the {side} "
                             f"must be in [0, {n - 1}] (below the {side}, {n})")


class _ReplicationPad(_Pad):
    """Pad by repeating the edge entry: ``[a b c]`` padded by 2 on each side is
    ``[a a a b c c c]``; any width >= 0, on an axis of length >= 1."""

    _mode = "replicate"

    def _check(self, n, before, after, side, shape):
        if min(before, after) < 0 or n < 1:
            raise ValueError(f"{type(self).__name__}: padding ({before}, {after}) must be >= 0 "
                             f"and the {side} >= 1, got {n}")


class _CircularPad(_Pad):
    """Pad with the other end of the axis, as if it wrapped round: ``[a b c]`` padded by 2 on
    each side is ``[b c a b c a b]``; each width at most its axis' length."""

    _mode = "circular"

    def _check(self, n, before, after, side, shape):
        if min(before, after) < 0 or max(before, after) > n:
            raise ValueError(f"{type(self).__name__}: padding ({before}, {after}) of the {side} "
                             f"must be in [0, {n}] (at most the {side}, {n})")


class ConstantPad1d(_ConstantPad):
    """Pad the last axis of (N, C, L) or (C, L) with ``value`` (a negative width crops);
    ``padding`` an int or (left, right)."""

    _dims = 1


class ConstantPad2d(_ConstantPad):
    """Pad the last two axes of (N, C, H, W) or (C, H, W) with ``value`` (a negative width crops);
    ``padding`` an int or (left, right, top, bottom)."""

    _dims = 2


class ConstantPad3d(_ConstantPad):
    """Pad the last three axes of (N, C, D, H, W) or (C, D, H, W) with ``value`` (a negative width
    crops); ``padding`` an int or (left, right, top, bottom, front, back)."""

    _dims = 3


class ZeroPad1d(_ZeroPad):
    """Pad the last axis of (N, C, L) or (C, L) with zeros (a negative width crops); ``padding`` an
    int or (left, right)."""

    _dims = 1


class ZeroPad2d(_ZeroPad):
    """Pad the last two axes of (N, C, H, W) or (C, H, W) with zeros (a negative width crops);
    ``padding`` an int or (left, right, top, bottom)."""

    _dims = 2


class ZeroPad3d(_ZeroPad):
    """Pad the last three axes of (N, C, D, H, W) or (C, D, H, W) with zeros (a negative width
    crops); ``padding`` an int or (left, right, top, bottom, front, back)."""

    _dims = 3


class ReflectionPad1d(_ReflectionPad):
    """Pad the last axis of (N, C, L) or (C, L) with its mirror image, the edge not repeated;
    ``padding`` an int or (left, right)."""

    _dims = 1


class ReflectionPad2d(_ReflectionPad):
    """Pad the last two axes of (N, C, H, W) or (C, H, W) with its mirror image, the edge not
    repeated; ``padding`` an int or (left, right, top, bottom)."""

    _dims = 2


class ReflectionPad3d(_ReflectionPad):
    """Pad the last three axes of (N, C, D, H, W) or (C, D, H, W) with its mirror image, the edge
    not repeated; ``padding`` an int or (left, right, top, bottom, front, back)."""

    _dims = 3


class ReplicationPad1d(_ReplicationPad):
    """Pad the last axis of (N, C, L) or (C, L) by repeating the edge entry; ``padding`` an int or
    (left, right)."""

    _dims = 1


class ReplicationPad2d(_ReplicationPad):
    """Pad the last two axes of (N, C, H, W) or (C, H, W) by repeating the edge entry; ``padding``
    an int or (left, right, top, bottom)."""

    _dims = 2


class ReplicationPad3d(_ReplicationPad):
    """Pad the last three axes of (N, C, D, H, W) or (C, D, H, W) by repeating the edge entry;
    ``padding`` an int or (left, right, top, bottom, front, back)."""

    _dims = 3


class CircularPad1d(_CircularPad):
    """Pad the last axis of (N, C, L) or (C, L) with the other end, as if it wrapped round;
    ``padding`` an int or (left, right)."""

    _dims = 1


class CircularPad2d(_CircularPad):
    """Pad the last two axes of (N, C, H, W) or (C, H, W) with the other end, as if it wrapped
    round; ``padding`` an int or (left, right, top, bottom)."""

    _dims = 2


class CircularPad3d(_CircularPad):
    """Pad the last three axes of (N, C, D, H, W) or (C, D, H, W) with the other end, as if it
    wrapped round; ``padding`` an int or (left, right, top, bottom, front, back)."""

    _dims = 3
