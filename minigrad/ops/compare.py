"""Comparisons and rounding: the ops whose result is locally constant in x.

Comparisons (``eq ne lt le gt ge``) and ``nonzero`` give bool or integer tensors outside the
graph, as in PyTorch. Rounding (``sign floor ceil round``) keeps the input's float dtype and has
gradient 0 almost everywhere, so it stays in the graph with that gradient: it is written as
``where(never, x, rounded)``, which sends 0 back to x (and never multiplies an inf by 0).

Notation
--------
x, other    a Tensor and a Tensor, array or number, broadcast together
"""
from ..backend import xp_of
from ..tensor import Tensor, raw
from .elementwise import where


def _compare(fn, x, other):
    return Tensor._wrap(fn(raw(x), raw(other)))


def eq(x, other):
    """x == other, elementwise; a bool tensor without grad."""
    return _compare(xp_of(raw(x)).equal, x, other)


def ne(x, other):
    return _compare(xp_of(raw(x)).not_equal, x, other)


def lt(x, other):
    return _compare(xp_of(raw(x)).less, x, other)


def le(x, other):
    return _compare(xp_of(raw(x)).less_equal, x, other)


def gt(x, other):
    return _compare(xp_of(raw(x)).greater, x, other)


def ge(x, other):
    return _compare(xp_of(raw(x)).greater_equal, x, other)


def allclose(x, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    """True when |x - other| <= atol + rtol·|other| everywhere (PyTorch's and NumPy's rule)."""
    return bool(xp_of(raw(x)).allclose(raw(x), raw(other), rtol=rtol, atol=atol,
                                       equal_nan=equal_nan))


def _locally_constant(x, fn):
    xp = xp_of(x.data)
    return where(xp.zeros(x.shape, dtype=bool), x, fn(x.data))


def sign(x):
    """-1, 0 or 1 by the sign of x; gradient 0."""
    return _locally_constant(x, xp_of(x.data).sign)


def floor(x):
    return _locally_constant(x, xp_of(x.data).floor)


def ceil(x):
    return _locally_constant(x, xp_of(x.data).ceil)


def round(x, decimals=0):
    """Round half to even (PyTorch's and NumPy's rule); gradient 0."""
    return _locally_constant(x, lambda a: xp_of(a).round(a, decimals))


def nonzero(x, as_tuple=False):
    """The indices of the nonzero entries: an int64 tensor of shape (count, ndim), or with
    ``as_tuple`` one 1-D tensor per dim (NumPy's ``nonzero``)."""
    xp = xp_of(x.data)
    if x.ndim == 0:  # one entry, indexed by no dims: PyTorch's (1, 0) if nonzero, else (0, 0)
        n = int(bool(x.data))
        return ((Tensor._wrap(xp.zeros(n, dtype="int64")),) if as_tuple
                else Tensor._wrap(xp.zeros((n, 0), dtype="int64")))
    found = xp.nonzero(x.data)
    if as_tuple:
        return tuple(Tensor._wrap(i) for i in found)
    return Tensor._wrap(xp.stack(found, axis=1))
