"""Cutting a tensor into pieces along a dim: ``split``, ``chunk``, ``unbind``, ``narrow``.

Each piece is a slice (``getitem``), so gradients flow back to the part it was cut from.

Notation
--------
dim      the axis cut along;  n  its length
"""
from .index import getitem
from .shape import normalize_axis


def narrow(x, dim, start, length):
    """The slice ``start:start + length`` of x along ``dim``."""
    dim = normalize_axis(dim, x.ndim, "narrow")
    n = x.shape[dim]
    start = start + n if start < 0 else start
    if not (0 <= start <= n and 0 <= length <= n - start):
        raise ValueError(f"narrow: start {start} and length {length} do not fit dim {dim} of "
                         f"length {n} (shape {x.shape})")
    return getitem(x, (slice(None),) * dim + (slice(start, start + length),))


def split(x, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be shorter), or of the listed sizes.

    >>> import minigrad as mg
    >>> [p.tolist() for p in mg.split(mg.arange(5), 2)]
    [[0, 1], [2, 3], [4]]
    """
    dim = normalize_axis(dim, x.ndim, "split")
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} sum to {sum(sizes)}, but dim {dim} has "
                             f"length {n} (shape {x.shape})")
    pieces, start = [], 0
    for size in sizes:
        pieces.append(narrow(x, dim, start, size))
        start += size
    return tuple(pieces)


def chunk(x, chunks, dim=0):
    """At most ``chunks`` pieces of equal size ceil(n / chunks) along ``dim`` (PyTorch's rule)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[normalize_axis(dim, x.ndim, "chunk")]
    return split(x, max(-(-n // chunks), 1), dim)


def unbind(x, dim=0):
    """The slices of x along ``dim``, each without that dim."""
    dim = normalize_axis(dim, x.ndim, "unbind")
    return tuple(getitem(x, (slice(None),) * dim + (i,)) for i in range(x.shape[dim]))
