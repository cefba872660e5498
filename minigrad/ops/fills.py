"""The in-place fills of the Tensor (``fill_``, ``zero_``, ``normal_``, ``uniform_``,
``masked_fill_``), kept here so tensor.py stays a list of one-line delegations.

Each writes into ``t.data`` and bumps the version counter; like every in-place change, it is
refused on a tensor whose gradient the graph needs (wrap initialisation in ``mg.no_grad()``).

Notation
--------
t       the Tensor changed in place;  mask  a bool tensor or array broadcast to t's shape
"""
from ..backend import xp_of
from ..tensor import raw
from . import inplace
from .inplace import _written


def _writable(t, op):
    inplace._writable(t, f"in-place {op} on", "wrap it in mg.no_grad()")


def fill_(t, value):
    _writable(t, "fill_")
    t.data[...] = raw(value)
    return _written(t)


def normal_(t, mean, std):
    """Fill with draws from N(mean, std²), from the global generator ``mg.manual_seed`` seeds."""
    _writable(t, "normal_")
    xp = xp_of(t.data)
    t.data[...] = xp.random.standard_normal(t.shape) * std + mean
    return _written(t)


def uniform_(t, a, b):
    """Fill with draws from U[a, b)."""
    _writable(t, "uniform_")
    xp = xp_of(t.data)
    t.data[...] = xp.random.random_sample(t.shape) * (b - a) + a
    return _written(t)


def masked_fill_(t, mask, value):
    _writable(t, "masked_fill_")
    mask = _mask("masked_fill_", t, mask)
    t.data[...] = xp_of(t.data).where(mask, raw(value), t.data)
    return _written(t)


def _mask(op, t, mask):
    mask = xp_of(t.data).asarray(raw(mask))
    if mask.dtype.kind != "b":
        raise TypeError(f"{op}: mask must be a bool tensor, got {mask.dtype}")
    return mask


def masked_fill(t, mask, value):
    """t with ``value`` where ``mask`` is True (differentiable in t; 0 gradient there)."""
    from .elementwise import where
    return where(_mask("masked_fill", t, mask), value, t)
