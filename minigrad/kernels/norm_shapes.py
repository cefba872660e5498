"""What the CPU and GPU normalisation kernels share: the input checks and the group sizes.

Plain Python, no Numba (as ``geometry.py`` for the pooling kernels): each public kernel function
in ``kernels/{cpu,gpu}/norm.py`` calls these on what reaches it, before any loop runs, and gets
a ValueError or TypeError that names the kernel, the shapes and what was expected.

Notation
--------
N, C, L       batch size, channels, and the spatial size (1 for an (N, C) input)
R, D          layer norm's rows and row length (the product of normalized_shape)
"""
import numpy as np

from . import geometry


def check_arrays(op, x, named, shapes):
    """A clear error unless ``x`` is float32/float64 and each ``(name, array)`` of ``named`` has
    its shape in ``shapes`` and x's dtype (float64 is also taken: the statistics are float64)."""
    geometry.check_float(op, "x", x.dtype)
    for (name, a), shape in zip(named, shapes):
        if tuple(a.shape) != tuple(shape):
            raise ValueError(f"{op}: {name} must have shape {tuple(shape)} for x of shape "
                             f"{tuple(x.shape)}, got {tuple(a.shape)}")
        if a.dtype != x.dtype and a.dtype != np.float64:
            raise TypeError(f"{op}: {name} must have x's dtype {x.dtype}, got {a.dtype}")


def check_gradient(op, g, x):
    """A clear error unless the output gradient ``g`` has x's shape and dtype."""
    if tuple(g.shape) != tuple(x.shape) or g.dtype != x.dtype:
        raise ValueError(f"{op}: the gradient must match x: shape {tuple(x.shape)} and dtype "
                         f"{x.dtype}, got shape {tuple(g.shape)} and dtype {g.dtype}")


def channels(op, x):
    """(N, C, L) of an (N, C, ...) input with at least one value per channel."""
    if x.ndim < 2:
        raise ValueError(f"{op}: expected x of shape (N, C, ...), got shape {tuple(x.shape)}")
    N, C = x.shape[0], x.shape[1]
    L = 1
    for side in x.shape[2:]:
        L *= side
    if N * L < 1:
        raise ValueError(f"{op}: x of shape {tuple(x.shape)} has no values per channel")
    return (N, C, L)


def rows(op, x, D):
    """R, the number of rows of D trailing values in ``x`` (D >= 1)."""
    if D < 1 or x.size % D:
        raise ValueError(f"{op}: x of shape {tuple(x.shape)} does not split into rows of {D} "
                         "values (D must be at least 1)")
    return x.size // D
