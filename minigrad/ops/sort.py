"""Sorting along a dim: ``sort``, ``argsort``, ``topk``, with PyTorch's signatures and return
types (a named tuple ``(values, indices)``).

The order is found on the raw array (it is locally constant, so it has no derivative); the values
are then ``gather``-ed at those indices, so the gradient flows back to the entries that were
picked, and every higher order stays in the gather/scatter-add family (``ops/along.py``).

Order, as in PyTorch: NaN counts as the largest value (last ascending, first descending); a
0-d tensor takes dim 0 or -1. Equal entries keep their order when ``stable=True``, and always in
a descending sort (and so in ``topk``); an ascending sort without ``stable`` may reorder them.

Notation
--------
dim      the axis sorted along;  n  its length;  k  how many entries ``topk`` keeps
"""
from ..backend import xp_of
from ..tensor import Tensor
from .along import gather
from .reduce import ValuesIndices
from .shape import normalize_axis


def _order(x, dim, descending, stable):
    xp = xp_of(x.data)
    kind = "stable" if stable or descending else None
    if not descending:
        return xp.argsort(x.data, axis=dim, kind=kind)
    # Descending: a stable ascending sort of x reversed, reversed again and mapped back
    # (position i of the reversed x is n - 1 - i of x), puts the largest first and keeps equal
    # entries in their original order. Unlike sorting -x it works for unsigned integers, the
    # most negative integer and bools, and puts NaN first, as PyTorch does (NaN counts as the
    # largest value; an ascending sort puts it last).
    n = x.shape[dim]
    return n - 1 - xp.flip(xp.argsort(xp.flip(x.data, axis=dim), axis=dim, kind=kind), axis=dim)


def argsort(x, dim=-1, descending=False, stable=False):
    """The indices that sort x along ``dim`` (int64, no grad).

    >>> import minigrad as mg
    >>> mg.argsort(mg.tensor([3.0, 1.0, 2.0]), descending=True).tolist()
    [0, 2, 1]
    """
    dim = normalize_axis(dim, x.ndim, "argsort")
    return Tensor._wrap(_order(x, dim, descending, stable) if x.ndim else
                        xp_of(x.data).zeros((), dtype="int64"))


def sort(x, dim=-1, descending=False, stable=False):
    """x sorted along ``dim``: the named tuple ``(values, indices)``; values are differentiable
    (each entry's gradient goes back to where it came from).

    >>> import minigrad as mg
    >>> values, indices = mg.sort(mg.tensor([3.0, 1.0, 2.0]))
    >>> values.tolist(), indices.tolist()
    ([1.0, 2.0, 3.0], [1, 2, 0])
    """
    indices = argsort(x, dim, descending, stable)
    if x.ndim == 0:
        return ValuesIndices(x, indices)
    return ValuesIndices(gather(x, dim, indices), indices)


def topk(x, k, dim=-1, largest=True, sorted=True):
    """The k largest (or, with ``largest=False``, smallest) entries along ``dim``, as
    ``(values, indices)``, in sorted order (``sorted`` is accepted: they are always sorted).

    >>> import minigrad as mg
    >>> mg.topk(mg.tensor([1.0, 5.0, 3.0, 4.0]), 2).values.tolist()
    [5.0, 4.0]
    """
    dim = normalize_axis(dim, x.ndim, "topk")
    n = x.shape[dim] if x.ndim else 1
    if not 0 <= k <= n:
        raise ValueError(f"topk: k must be in [0, {n}] for dim {dim} of shape {x.shape}, "
                         f"got {k}")
    order = argsort(x, dim, descending=largest, stable=True)
    if x.ndim == 0:
        return ValuesIndices(x, order)
    indices = Tensor._wrap(order.data[(slice(None),) * dim + (slice(0, k),)])
    return ValuesIndices(gather(x, dim, indices), indices)
