"""PyTorch's ``F.unfold`` (im2col as an op) and ``F.fold`` (col2im, its adjoint).

``unfold`` copies every kernel-sized window of an image into a column, so that a convolution
becomes one matrix product: ``conv2d(x, w) == (w.reshape(K, -1) @ unfold(x, k)).reshape(...)``.
``fold`` adds columns back onto their windows, summing where windows overlap: for a
non-overlapping geometry it undoes ``unfold``, and in general ``fold(unfold(x))`` is x times the
number of windows that cover each pixel.

Both are written in ops, on one table of where each tap of each window reads in the padded
plane (``_taps``): ``unfold`` is a gather with it (``x[..., taps]``), ``fold`` a scatter-add
(``scatter_add``). Their gradients are each other, and the second gradients come the same way.
(The convolutions themselves use the Numba im2col / col2im kernels, ``kernels/*/conv.py``,
whose columns put the batch inside the rows; these ops keep PyTorch's (N, C·KH·KW, L).)

Notation
--------
N batch, C channels, H W image size, KH KW kernel, DH DW dilation, PH PW padding, SH SW stride
OH OW   window positions along each axis;  L = OH·OW windows per image
Hp Wp   the padded plane, H + 2·PH and W + 2·PW
"""
import numpy as np

from ..checks import pair
from ..factories import zeros
from ..tensor import Tensor
from .along import scatter_add
from .index import getitem
from .shape import pad as pad_constant


def _geometry(op, kernel_size, dilation, padding, stride):
    """Validated ((KH, KW), (DH, DW), (PH, PW), (SH, SW))."""
    geometry = []
    for name, value, low in (("kernel_size", kernel_size, 1), ("dilation", dilation, 1),
                             ("padding", padding, 0), ("stride", stride, 1)):
        sides = pair(op, name, value)
        if min(sides) < low:
            raise ValueError(f"{op}: {name} must be >= {low}, got {sides}")
        geometry.append(sides)
    return tuple(geometry)


def _positions(op, size, geometry, shape):
    """(OH, OW): the windows along each axis of an image of ``size`` (H, W), at least one."""
    (KH, KW), (DH, DW), (PH, PW), (SH, SW) = geometry
    counts = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                   for n, k, d, p, s in zip(size, (KH, KW), (DH, DW), (PH, PW), (SH, SW)))
    if min(counts) < 1:
        raise ValueError(f"{op}: the kernel {(KH, KW)} with dilation {(DH, DW)} spans more than "
                         f"the padded image {(size[0] + 2 * PH, size[1] + 2 * PW)} (input "
                         f"{shape}, padding {(PH, PW)})")
    return counts


def _taps(geometry, OH, OW, Wp):
    """Flat positions in the padded plane, (KH·KW·L,): tap (kh, kw) of window (oh, ow) at
    index (kh·KW + kw)·L + oh·OW + ow reads (oh·SH + kh·DH)·Wp + ow·SW + kw·DW."""
    (KH, KW), (DH, DW), _, (SH, SW) = geometry
    rows = np.arange(KH)[:, None, None, None] * DH + np.arange(OH)[None, None, :, None] * SH
    cols = np.arange(KW)[None, :, None, None] * DW + np.arange(OW)[None, None, None, :] * SW
    return (rows * Wp + cols).reshape(-1)


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Every (dilated, strided, zero-padded) window of each image as a column.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    kernel_size, dilation, padding, stride : int or (int, int)
        PyTorch's order (``dilation`` before ``padding``).

    Returns
    -------
    Tensor, shape (N, C·KH·KW, L) (or (C·KH·KW, L)): entry ``((c·KH + kh)·KW + kw, oh·OW + ow)``
    is ``x[c, oh·SH − PH + kh·DH, ow·SW − PW + kw·DW]``, 0 on the padding.

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.unfold(mg.tensor([[[[1.0, 2.0, 3.0]]]]), (1, 2)).tolist()
    [[[1.0, 2.0], [2.0, 3.0]]]
    """
    op = "unfold"
    x, unbatched = _batched(op, x, 4, "(N, C, H, W) or (C, H, W)")
    geometry = _geometry(op, kernel_size, dilation, padding, stride)
    (KH, KW), _, (PH, PW), _ = geometry
    N, C, H, W = x.shape
    OH, OW = _positions(op, (H, W), geometry, x.shape)
    padded = pad_constant(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    Hp, Wp = H + 2 * PH, W + 2 * PW
    taps = _taps(geometry, OH, OW, Wp)
    columns = getitem(padded.reshape(N, C, Hp * Wp), (slice(None), slice(None), taps))
    columns = columns.reshape(N, C * KH * KW, OH * OW)
    return columns[0] if unbatched else columns


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Add each column onto its window of an image of ``output_size``: the adjoint of
    :func:`unfold` (overlapping windows add up; taps on the padding are dropped).

    Parameters
    ----------
    x : Tensor, shape (N, C·KH·KW, L) or (C·KH·KW, L), L the windows of that image
    output_size : int or (int, int)
        (H, W).
    kernel_size, dilation, padding, stride : int or (int, int)

    Returns
    -------
    Tensor, shape (N, C, H, W) (or (C, H, W))

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.fold(mg.tensor([[[1.0, 2.0], [2.0, 3.0]]]), (1, 3), (1, 2)).tolist()
    [[[[1.0, 4.0, 3.0]]]]
    """
    op = "fold"
    x, unbatched = _batched(op, x, 3, "(N, C·KH·KW, L) or (C·KH·KW, L)")
    geometry = _geometry(op, kernel_size, dilation, padding, stride)
    (KH, KW), _, (PH, PW), _ = geometry
    H, W = pair(op, "output_size", output_size)
    if min(H, W) < 1:
        raise ValueError(f"{op}: output_size must be >= 1, got {(H, W)}")
    N, CKK, L = x.shape
    if CKK % (KH * KW):
        raise ValueError(f"{op}: the input's second axis, {CKK} for shape {x.shape}, must be a "
                         f"multiple of KH·KW = {KH * KW}")
    OH, OW = _positions(op, (H, W), geometry, f"of output_size {(H, W)}")
    if L != OH * OW:
        raise ValueError(f"{op}: an image of {(H, W)} has {OH}x{OW} = {OH * OW} windows of "
                         f"kernel {(KH, KW)}, but the input of shape {x.shape} has L = {L}")
    C = CKK // (KH * KW)
    Hp, Wp = H + 2 * PH, W + 2 * PW
    taps = _taps(geometry, OH, OW, Wp)
    index = np.broadcast_to(taps, (N, C, taps.size))
    plane = zeros(N, C, Hp * Wp, dtype=x.dtype, device=x.device)
    image = scatter_add(plane, 2, index, x.reshape(N, C, KH * KW * L)).reshape(N, C, Hp, Wp)
    image = getitem(image, (slice(None), slice(None), slice(PH, PH + H), slice(PW, PW + W)))
    return image[0] if unbatched else image


def _batched(op, x, rank, layout):
    """``(x with a batch axis, whether one was added)``, for a batched or unbatched input."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.ndim not in (rank - 1, rank):
        raise ValueError(f"{op}: expected an input of shape {layout}, got shape {x.shape}")
    return (x.unsqueeze(0), True) if x.ndim == rank - 1 else (x, False)
