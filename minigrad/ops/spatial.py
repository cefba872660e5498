"""Spatial transformers (Jaderberg et al., 2015): ``affine_grid`` and ``grid_sample``, PyTorch's.

``affine_grid(theta, size)`` maps every output pixel's normalised coordinates (x, y) in
[-1, 1] through a 2x3 matrix per sample; ``grid_sample(input, grid)`` reads the input at those
(fractional) places. Together they warp images by a transform a network can learn, since the
output is differentiable in the input and in the grid (hence in theta).

Coordinates: -1 and 1 are the centres of the edge pixels with ``align_corners=True``, and the
outer edges of the edge pixels with ``align_corners=False`` (the default), so

    align_corners=True     ix = (x + 1) / 2 · (W − 1)
    align_corners=False    ix = ((x + 1) · W − 1) / 2

and likewise iy from y and H. Reading at (iy, ix):

    bilinear   the four neighbours weighted by (1 − fx, fx) x (1 − fy, fy), fx = ix − ⌊ix⌋
    nearest    the nearest pixel (halves to even, as PyTorch rounds)

and where that falls outside the image, ``padding_mode`` decides: 'zeros' reads 0 there,
'border' clamps the coordinate to the edge pixel, 'reflection' reflects it about the edges
(about the edge pixels' centres with ``align_corners=True``, their outer edges without) and
then clamps it.

Everything is written in ops: the floor, the neighbour indices and the reflection's fold are
constants taken from the data (piecewise constant), the weights are differentiable functions
of the grid, and the reads are ``gather``s, whose gradient is a scatter-add into the input.

Notation
--------
N batch, C channels, H W input size, Ho Wo output (grid) size
(x, y)    normalised coordinates in the grid's last axis, x along W first
(ix, iy)  the same in pixels of the input
"""
import numpy as np

from ..backend import xp_of
from ..tensor import Tensor
from .elementwise import clip, where
from .along import gather

MODES = ("bilinear", "nearest")
PADDING_MODES = ("zeros", "border", "reflection")


def _base(n, align_corners):
    """The normalised coordinates of n pixel positions along one axis."""
    if n == 1:
        return np.zeros(1)
    if align_corners:
        return np.linspace(-1.0, 1.0, n)
    return (2.0 * np.arange(n) + 1.0) / n - 1.0


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of an affine transform per sample, for :func:`grid_sample`.

    Parameters
    ----------
    theta : Tensor, shape (N, 2, 3)
        Maps output coordinates (x, y, 1) to input coordinates, both normalised to [-1, 1].
    size : (N, C, H, W)
        The output's size.
    align_corners : bool, optional
        False (the default, PyTorch's since 1.3) or True; see the module docstring.

    Returns
    -------
    Tensor, shape (N, H, W, 2): ``grid[n, h, w] = theta[n] @ (x_w, y_h, 1)``.

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> identity = mg.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    >>> F.affine_grid(identity, (1, 1, 1, 2), align_corners=True).tolist()
    [[[[-1.0, 0.0], [1.0, 0.0]]]]
    """
    op = "affine_grid"
    if not isinstance(theta, Tensor):
        raise TypeError(f"{op}: expected theta to be a Tensor, got {type(theta).__name__}")
    size = tuple(size)
    if len(size) != 4 or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in size):
        raise ValueError(f"{op}: expected size (N, C, H, W) of positive ints, got {size}")
    N, _, H, W = size
    if theta.shape != (N, 2, 3):
        raise ValueError(f"{op}: expected theta of shape (N, 2, 3) = {(N, 2, 3)} for size "
                         f"{size}, got {theta.shape}")
    if theta.dtype.kind != "f":
        raise TypeError(f"{op}: theta must be floating point, got {theta.dtype}")
    corners = bool(align_corners)
    xs, ys = np.meshgrid(_base(W, corners), _base(H, corners))
    base = np.stack([xs.ravel(), ys.ravel(), np.ones(H * W)], axis=1)   # (H·W, 3)
    base = xp_of(theta.data).asarray(base, dtype=theta.dtype)
    grid = Tensor._wrap(base) @ theta.transpose(1, 2)                 # (N, H·W, 2)
    return grid.reshape(N, H, W, 2)


def _unnormalize(coord, n, align_corners):
    """Normalised coordinates to pixels of an axis of n pixels."""
    if align_corners:
        return (coord + 1) * ((n - 1) / 2)
    return ((coord + 1) * n - 1) / 2


def _reflect(coord, n, align_corners):
    """``coord`` (pixels) reflected into the axis and clamped to [0, n − 1]. The axis and its
    mirror images tile the line in spans of ``span``; a point ``flips`` spans from ``low``
    keeps its offset into the span (``flips`` even) or mirrors it (odd). That is piecewise
    linear, ``sign·(coord − low) + offset``, with sign and offset read from the data (the
    floor takes care of points below ``low`` as well)."""
    low, high = (0.0, n - 1.0) if align_corners else (-0.5, n - 0.5)
    if high > low:
        span = high - low
        c = coord.data
        xp = xp_of(c)
        flips = xp.floor((c - low) / span)
        even = flips % 2 == 0
        sign = xp.where(even, 1.0, -1.0).astype(c.dtype)
        offset = xp.where(even, low - flips * span, (flips + 1) * span + low).astype(c.dtype)
        coord = (coord - low) * Tensor._wrap(sign) + Tensor._wrap(offset)
    return clip(coord, 0, n - 1)


def _read(flat, iy, ix, H, W, zeros):
    """input[n, :, iy, ix] for integer pixel arrays (N, Ho·Wo), 0 where they fall outside and
    ``zeros`` is set (else they are inside already). Returns (N, C, Ho·Wo)."""
    xp = xp_of(iy)
    inside = (iy >= 0) & (iy < H) & (ix >= 0) & (ix < W)
    index = (xp.clip(iy, 0, H - 1) * W + xp.clip(ix, 0, W - 1)).astype(np.int64)
    N, C = flat.shape[:2]
    values = gather(flat, 2, xp.broadcast_to(index[:, None, :], (N, C, index.shape[1])))
    if zeros:
        values = where(xp.broadcast_to(inside[:, None, :], values.shape), values, 0.0)
    return values


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Read ``input`` at the fractional pixel places that ``grid`` names.

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W)
    grid : Tensor, shape (N, Ho, Wo, 2)
        Normalised (x, y) per output pixel; values outside [-1, 1] read the padding.
    mode : 'bilinear' or 'nearest'
    padding_mode : 'zeros', 'border' or 'reflection'
    align_corners : bool, optional
        False by default; see the module docstring.

    Returns
    -------
    Tensor, shape (N, C, Ho, Wo); differentiable in ``input`` and, with 'bilinear', in ``grid``
    (with 'nearest' the output does not depend on the grid smoothly: the grid gets no gradient,
    where PyTorch gives it zeros).

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> image = mg.tensor([[[[0.0, 10.0]]]])
    >>> F.grid_sample(image, mg.tensor([[[[0.0, 0.0]]]]), align_corners=True).tolist()
    [[[[5.0]]]]
    """
    op = "grid_sample"
    for name, t in (("input", input), ("grid", grid)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(t).__name__}")
    if input.ndim != 4 or min(input.shape[2:], default=0) < 1:
        raise ValueError(f"{op}: expected input of shape (N, C, H, W) with H, W >= 1, got "
                         f"{input.shape}")
    if grid.ndim != 4 or grid.shape[3] != 2 or grid.shape[0] != input.shape[0]:
        raise ValueError(f"{op}: expected grid of shape (N, Ho, Wo, 2) with N = "
                         f"{input.shape[0]} (input {input.shape}), got {grid.shape}")
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {MODES}, got {mode!r}")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"{op}: padding_mode must be one of {PADDING_MODES}, got "
                         f"{padding_mode!r}")
    if input.dtype != grid.dtype or input.dtype.kind != "f":
        raise TypeError(f"{op}: input and grid must share one floating dtype, got "
                        f"{input.dtype} and {grid.dtype}")
    N, C, H, W = input.shape
    _, Ho, Wo, _ = grid.shape
    corners = bool(align_corners)
    points = grid.reshape(N, Ho * Wo, 2)
    ix = _unnormalize(points[:, :, 0], W, corners)
    iy = _unnormalize(points[:, :, 1], H, corners)
    if padding_mode == "border":
        ix, iy = clip(ix, 0, W - 1), clip(iy, 0, H - 1)
    elif padding_mode == "reflection":
        ix, iy = _reflect(ix, W, corners), _reflect(iy, H, corners)
    flat = input.reshape(N, C, H * W)
    zeros = padding_mode == "zeros"
    xp = xp_of(ix.data)
    if mode == "nearest":
        out = _read(flat, xp.rint(iy.data), xp.rint(ix.data), H, W, zeros)
        return out.reshape(N, C, Ho, Wo)
    x0, y0 = xp.floor(ix.data), xp.floor(iy.data)
    fx = (ix - Tensor._wrap(x0)).unsqueeze(1)          # (N, 1, Ho·Wo), differentiable in grid
    fy = (iy - Tensor._wrap(y0)).unsqueeze(1)
    corners_read = [_read(flat, y0 + dy, x0 + dx, H, W, zeros) for dy in (0, 1) for dx in (0, 1)]
    top = corners_read[0] * (1 - fx) + corners_read[1] * fx
    bottom = corners_read[2] * (1 - fx) + corners_read[3] * fx
    out = top * (1 - fy) + bottom * fy
    return out.reshape(N, C, Ho, Wo)

