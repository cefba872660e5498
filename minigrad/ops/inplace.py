"""In-place changes to a Tensor's memory (``x += y``, ``zero_``, ``copy_``, ``x[key] = v``) and
the version counter they bump, kept here so tensor.py stays a list of one-line delegations.

None of these is recorded in the graph. Each is refused while the graph needs the tensor's
gradient (wrap an update in ``mg.no_grad()``), and each bumps the version counter, so a
backward that saved the old contents raises instead of using the new ones. The in-place fills
(``fill_``, ``normal_``, ...) follow the same rules in fills.py.

Notation
--------
t          the Tensor changed in place
version    ``t._version``: how many in-place changes its memory has seen
"""
from .. import backend
from ..grad_mode import is_grad_enabled
from ..tensor import raw
from .index import _raw_key

# The augmented assignments, by the NumPy method that performs each in place.
ARITHMETIC = {"+": "__iadd__", "-": "__isub__", "*": "__imul__", "/": "__itruediv__"}


class VersionCounter:
    """How many in-place changes a tensor's memory has seen. One mutable object shared by a
    tensor, its ``detach()``es and its views, so a change through any of them is seen by a
    backward that saved another (PyTorch's design)."""
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


def arithmetic(t, symbol, other):
    """``t <symbol>= other`` on the data, e.g. an optimizer's ``p -= lr * g`` under no_grad.

    Parameters
    ----------
    t : Tensor, any shape
    symbol : {'+', '-', '*', '/'}
    other : Tensor, array or number, broadcastable to t's shape

    Returns
    -------
    Tensor
        ``t`` itself, as Python's augmented assignment expects.
    """
    if t.requires_grad and is_grad_enabled():
        kind = "a leaf tensor that requires grad" if t.is_leaf else \
            "a tensor that is part of the graph"
        raise RuntimeError(
            f"in-place {symbol}= on {kind} (shape {t.shape}) would corrupt its gradient; "
            f"use an out-of-place op (x = x {symbol} y) or wrap the update in mg.no_grad()")
    other = raw(other)
    # Called directly, ndarray.__iadd__ returns NotImplemented (rather than raising) for an
    # operand it defers to (one with a higher ``__array_priority__`` and its own reflected
    # operator); Python would fall back to that operator, but here it must be an error.
    if getattr(t.data, ARITHMETIC[symbol])(other) is NotImplemented:
        raise TypeError(f"in-place {symbol}= is not supported between {t.dtype} and "
                        f"{type(other).__name__}")
    return _written(t)


def zero_(t):
    """Set every element of ``t`` to 0; returns ``t``."""
    _writable(t, "in-place zero_ on", "wrap it in mg.no_grad()")
    t.data[...] = 0
    return _written(t)


def copy_(t, src):
    """Overwrite the data of ``t`` with ``src`` (broadcast to t's shape and moved to its device),
    e.g. to load weights; returns ``t``."""
    _writable(t, "in-place copy_ into", "wrap it in mg.no_grad()")
    src = raw(src)
    t.data[...] = backend.to_device(src, t.device) if hasattr(src, "shape") else src
    return _written(t)


def setitem(t, key, value):
    """``t[key] = value``, with the same keys as ``t[key]`` reads (see index.py)."""
    _writable(t, "in-place assignment into", "build a new tensor (e.g. mg.where) instead")
    t.data[_raw_key(key, backend.xp_of(t.data))] = raw(value)
    _written(t)


def _writable(t, what, advice):
    if t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{what} a tensor that requires grad (shape {t.shape}); {advice}")


def _written(t):
    t._version += 1
    return t
