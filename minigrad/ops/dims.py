"""PyTorch's ``dim``/``keepdim`` and NumPy's ``axis``/``keepdims``: one place that reconciles them.

Every op that takes an axis accepts both spellings, as PyTorch does: ``x.sum(dim=1,
keepdim=True)`` and ``x.sum(axis=1, keepdims=True)`` are the same call. Giving both spellings of
one argument is an error rather than a silent choice between them.

Notation
--------
dim       PyTorch's name for an axis (int, tuple of ints, or None for all)
axis      NumPy's name for the same thing
"""


def dim_or_axis(op, dim, axis, default=None):
    """PyTorch's ``dim``, or NumPy's ``axis`` given instead (not both); ``default`` if neither.

    >>> dim_or_axis('softmax', None, 1, default=-1)
    1
    """
    if axis is None:
        return default if dim is None else dim
    if dim is not None:
        raise TypeError(f"{op}: got both dim={dim!r} and axis={axis!r}; give one of them")
    return axis


def dim_args(op, dim, keepdim, axis, keepdims):
    """Resolve ``(dim, keepdim)`` from either spelling; ``keepdim`` defaults to False.

    The signatures default ``keepdim`` to None (meaning False) so that a ``keepdims=`` given
    alongside an explicit ``keepdim=`` is caught, whatever their values.

    >>> dim_args('sum', None, None, 1, True)
    (1, True)
    """
    dim = dim_or_axis(op, dim, axis)
    if keepdims is not None:
        if keepdim is not None:
            raise TypeError(f"{op}: got both keepdim={keepdim!r} and keepdims={keepdims!r}; "
                            f"give one of them")
        keepdim = keepdims
    return dim, bool(keepdim)
