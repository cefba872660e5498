"""Running sums and products along one axis: ``cumsum`` and ``cumprod``.

The adjoint of a running sum is a running sum taken from the other end:
out_i = Σ_{j<=i} x_j gives dL/dx_j = Σ_{i>=j} g_i, the flip of cumsum of the flipped g. So
``Cumsum`` is its own family, closed under differentiation with indexing (the flip).

Notation
--------
dim      the axis the running total runs along;  n  its length
"""
from ..autograd import Function
from ..backend import xp_of
from .dims import dim_or_axis
from .index import getitem
from .reduce import prod
from .shape import normalize_axis, unsqueeze, broadcast_to
from .elementwise import where


def _flip(x, dim):
    return getitem(x, (slice(None),) * dim + (slice(None, None, -1),))


class Cumsum(Function):
    """out_i = Σ_{j<=i} x_j along ``dim``;  dL/dx_j = Σ_{i>=j} g_i (a reversed cumsum)."""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return xp_of(x).cumsum(x, axis=dim)

    @staticmethod
    def backward(ctx, grad_output):
        return _flip(cumsum(_flip(grad_output, ctx.dim), ctx.dim), ctx.dim)


def _dim(op, x, dim, axis):
    dim = dim_or_axis(op, dim, axis)
    if dim is None:
        raise TypeError(f"{op}: missing dim, the axis to accumulate along (tensor of shape "
                        f"{x.shape})")
    # a 0-d tensor takes dim 0 or -1, as one entry (PyTorch's rule)
    return normalize_axis(dim, max(x.ndim, 1), op)


def cumsum(x, dim=None, *, axis=None):
    """Running sum along ``dim``: out[..., i] = x[..., 0] + ... + x[..., i].

    Parameters
    ----------
    x : Tensor, any shape
    dim : int

    Returns
    -------
    Tensor, shape of x

    Examples
    --------
    >>> import minigrad as mg
    >>> mg.cumsum(mg.tensor([1.0, 2.0, 3.0]), dim=0).tolist()
    [1.0, 3.0, 6.0]
    """
    dim = _dim("cumsum", x, dim, axis)
    if x.ndim == 0:
        return x
    return Cumsum.apply(x, dim=dim)


def cumprod(x, dim=None, *, axis=None):
    """Running product along ``dim``: out[..., i] = x[..., 0] · ... · x[..., i].

    Composed from ``prod`` over a lower-triangular selection (x_j where j <= i, else 1), so the
    gradient is exact where entries are 0 (dividing by x would not be) and every derivative
    order comes from ``prod``'s. The price is an (..., n, n) intermediate: quadratic in the
    length of ``dim``, fine for the short axes a running product is used on.

    >>> import minigrad as mg
    >>> mg.cumprod(mg.tensor([2.0, 0.0, 3.0]), dim=0).tolist()
    [2.0, 0.0, 0.0]
    """
    dim = _dim("cumprod", x, dim, axis)
    if x.ndim == 0:
        return x
    n = x.shape[dim]
    xp = xp_of(x.data)
    # rows[..., i, j, ...] = x[..., j, ...]; keep j <= i, put 1 elsewhere, take the product over j
    rows = broadcast_to(unsqueeze(x, dim), x.shape[:dim] + (n,) + x.shape[dim:])
    lower = xp.tril(xp.ones((n, n), dtype=bool)).reshape((n, n) + (1,) * (x.ndim - dim - 1))
    return prod(where(lower, rows, 1.0), dim + 1)
