"""Argument checks shared by the ops, the layers, the optimizers and the models.

Each check raises a TypeError (wrong kind of value) or a ValueError (right kind, wrong value)
whose message starts with ``owner``, the op, layer or optimizer being configured, and names the
argument, so that a bad call is explained where it was made. Plain Python: checking an argument
never imports a compiler.
"""
import numbers
import operator

import numpy as np


def check_int(owner, name, value, low=None):
    """``value`` as an int (a NumPy integer counts, a bool does not) that is at least ``low``.

    Parameters
    ----------
    owner : str
        The op, layer or class being configured, e.g. ``"Conv2d"``; it starts the message.
    name : str
        The argument's name, e.g. ``"out_channels"``.
    value : int
    low : int or None
        The smallest value allowed; None for no bound.
    """
    if isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{owner}: {name} must be an int, got {value!r} "
                        f"of type {type(value).__name__}") from None
    if low is not None and value < low:
        raise ValueError(f"{owner}: {name} must be >= {low}, got {value}")
    return value


def check_bool(owner, name, value):
    """``value`` as a bool if it is one (a NumPy bool counts); a TypeError otherwise.

    A flag given as 0, 1, None or a string is refused rather than read by its truth, as
    PyTorch's ops refuse it: ``ceil_mode=0`` or ``aligned="no"`` is more likely a slip than a
    choice.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be a bool, got {value!r}")
    return bool(value)


def check_number(owner, name, value, low=None, high=None, low_open=False, high_open=False):
    """``value`` unchanged if it is a real number in the given interval, else a clear error.

    Parameters
    ----------
    owner : str
        The class or function being configured, e.g. ``"Adam"``; it starts the message.
    name : str
        The hyper-parameter's name, e.g. ``"betas[0]"``.
    value : float
    low, high : float or None
        The bounds; None leaves that side unbounded.
    low_open, high_open : bool
        Whether the bound itself is excluded.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r} "
                        f"of type {type(value).__name__}")
    # Written as "not inside" so that NaN, which fails every comparison, is rejected too.
    inside = True
    if low is not None:
        inside = inside and (value > low if low_open else value >= low)
    if high is not None:
        inside = inside and (value < high if high_open else value <= high)
    if not inside:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        low_text = "-inf" if low is None else repr(low)
        high_text = "inf" if high is None else repr(high)
        raise ValueError(f"{owner}: invalid {name} {value!r}, expected a value in "
                         f"{left}{low_text}, {high_text}{right}")
    return value


def single(owner, name, value):
    """``value`` as one int (an int, or a tuple or list of one int, as PyTorch's 1-D layers take
    it); a TypeError naming ``owner`` and the argument otherwise."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(items) != 1 or not isinstance(items[0], numbers.Integral) or isinstance(items[0],
                                                                                   bool):
        raise TypeError(f"{owner}: {name} must be an int or a tuple of one int, got {value!r}")
    return int(items[0])


def pair(owner, name, value):
    """``value`` as a pair of ints (one int means the same along H and W); a TypeError naming
    ``owner`` and the argument otherwise."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                  for v in items):
        raise TypeError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
    return (int(items[0]), int(items[1]))
