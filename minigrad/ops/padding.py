"""PyTorch's ``F.pad``: pad (or, with negative widths, crop) the trailing axes of a tensor.

``pad`` lists (before, after) widths for the last axis first, then the one before it, and so
on: ``(left, right)`` pads the last axis, ``(left, right, top, bottom)`` the last two. The modes:

    constant    the value (0 by default); negative widths crop     [a b c] -> [0 0 a b c 0 0]
    reflect     the mirror image, the edge not repeated            [a b c] -> [c b a b c b a]
    replicate   the edge entry repeated                            [a b c] -> [a a a b c c c]
    circular    the other end of the axis, as if it wrapped round  [a b c] -> [b c a b c a b]

The three non-constant modes are a gather along each padded axis (``x[..., source, ...]``),
so their gradient is the matching scatter-add that indexing already has: an entry read twice
(an edge under ``replicate``) gets both gradients. The constant mode is ``ops.shape.pad`` after
slicing off any negative widths. ``minigrad.pad`` is NumPy's spelling (one (before, after) pair
per axis, first axis first) of the constant mode.

Notation
--------
n            the length of a padded axis
b, a         its widths before and after
"""
import numbers

import numpy as np

from .index import getitem
from .shape import pad as pad_constant

MODES = ("constant", "reflect", "replicate", "circular")


def _pairs(x, pad):
    """``pad`` as [(axis, before, after), ...], last axis first, checked."""
    if not isinstance(pad, (tuple, list)) or len(pad) % 2 or not all(
            isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in pad):
        raise ValueError(f"pad: expected an even-length tuple of ints (left, right, top, "
                         f"bottom, ...), got {pad!r}")
    if len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {pad!r} pads {len(pad) // 2} axes, but the input of shape "
                         f"{x.shape} has {x.ndim}")
    return [(x.ndim - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1]))
            for i in range(len(pad) // 2)]


def _source(mode, n, before, after, axis, shape):
    """Where each entry of a padded axis of length ``n`` reads from, checked for ``mode``."""
    where = f"pad: mode={mode!r} with widths ({before}, {after}) on axis {axis} of length {n}"
    if min(before, after) < 0:
        raise ValueError(f"{where} (input {shape}): widths must be >= 0 (only 'constant' crops)")
    positions = np.arange(-before, n + after)
    if mode == "reflect":
        if max(before, after) >= n:
            raise ValueError(f"{where} (input {shape}): each width must be below the length")
        positions = np.abs(positions)  # one fold about 0 and one about n - 1 suffice
        return np.where(positions > n - 1, 2 * (n - 1) - positions, positions)
    if n < 1:
        raise ValueError(f"{where} (input {shape}): the axis must not be empty")
    if mode == "replicate":
        return np.clip(positions, 0, n - 1)
    if max(before, after) > n:  # circular: each side wraps round at most once, as in PyTorch
        raise ValueError(f"{where} (input {shape}): each width must be at most the length")
    return positions % n


def pad(x, pad, mode="constant", value=None):
    """Pad the trailing axes of ``x`` (PyTorch's ``F.pad``).

    Parameters
    ----------
    x : Tensor
    pad : tuple of ints
        (before, after) widths, last axis first: ``(left, right)``, ``(left, right, top,
        bottom)``, ... Negative widths crop, in the constant mode only.
    mode : 'constant', 'reflect', 'replicate' or 'circular'
        See the module docstring. 'reflect' needs each width below its axis' length,
        'circular' at most that length.
    value : float, optional
        The fill of the constant mode (default 0); the other modes take none.

    Returns
    -------
    Tensor, x's shape with each padded axis ``n + before + after`` long.

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> x = mg.tensor([[1.0, 2.0, 3.0]])
    >>> F.pad(x, (2, 1), mode="reflect").tolist(), F.pad(x, (1, -1), value=9.0).tolist()
    ([[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]], [[9.0, 1.0, 2.0]])
    """
    if mode not in MODES:
        raise ValueError(f"pad: mode must be one of {MODES}, got {mode!r}")
    pairs = _pairs(x, pad)
    if mode != "constant":
        if value is not None:
            raise ValueError(f"pad: mode={mode!r} takes no value (it fills from the input), "
                             f"got value={value!r}")
        for axis, before, after in pairs:
            source = _source(mode, x.shape[axis], before, after, axis, x.shape)
            x = getitem(x, (slice(None),) * axis + (source,))
        return x
    crop = [slice(None)] * x.ndim
    widths = [(0, 0)] * x.ndim
    for axis, before, after in pairs:
        n = x.shape[axis]
        if n - max(-before, 0) - max(-after, 0) < 0:
            raise ValueError(f"pad: widths ({before}, {after}) crop more than axis {axis} of "
                             f"length {n} holds (input {x.shape})")
        crop[axis] = slice(max(-before, 0), n - max(-after, 0))
        widths[axis] = (max(before, 0), max(after, 0))
    if any(s != slice(None) for s in crop):
        x = getitem(x, tuple(crop))
    return pad_constant(x, widths, 0.0 if value is None else value)
