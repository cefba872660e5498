"""Affine warping of a batch of images on NumPy, by inverse mapping.

To warp an image, do not push each input pixel to where it goes: the targets fall between
pixels and leave holes. Instead, for every output pixel p_out find the point it came from,
``p_in = centre + A⁻¹ (p_out - centre - t)``, and read the input there: the nearest pixel, or
the four around it weighted bilinearly. Points outside the image read ``fill``.

Coordinates are pixel indices, x to the right and y down; the centre is ((W - 1) / 2,
(H - 1) / 2), so that a rotation by a multiple of 90 degrees maps pixels onto pixels.

Notation
--------
N, C, H, W   batch, channels, height, width
A            (N, 2, 2) linear part of the forward map, acting on (x, y) columns
t            (N, 2) translation in pixels, (tx, ty)
"""
import numpy as np


def affine_matrix(angle, translate, scale, shear):
    """The linear part A = scale · R(angle) · Shear and the translation t, for N images.

    ``R(θ) = [[cos θ, sin θ], [-sin θ, cos θ]]`` turns the image counter-clockwise as seen on
    screen (y points down); ``Shear = [[1, tan sx], [0, 1]] · [[1, 0], [tan sy, 1]]``.

    Parameters
    ----------
    angle : array, shape (N,)
        Degrees.
    translate : pair of arrays, shape (N,) each
        (tx, ty) in pixels.
    scale : array, shape (N,)
    shear : pair of arrays, shape (N,) each
        (sx, sy) in degrees.

    Returns
    -------
    A : array, shape (N, 2, 2);  t : array, shape (N, 2)
    """
    theta = np.deg2rad(np.asarray(angle, np.float64))
    cos, sin = np.cos(theta), np.sin(theta)
    R = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)
    tx, ty = (np.tan(np.deg2rad(np.asarray(s, np.float64))) for s in shear)
    one, zero = np.ones_like(tx), np.zeros_like(tx)
    shear_x = np.stack([np.stack([one, tx], -1), np.stack([zero, one], -1)], -2)
    shear_y = np.stack([np.stack([one, zero], -1), np.stack([ty, one], -1)], -2)
    A = np.asarray(scale, np.float64)[:, None, None] * R @ shear_x @ shear_y
    t = np.stack([np.asarray(translate[0], np.float64), np.asarray(translate[1], np.float64)], -1)
    return A, t


def source_points(A, t, H, W):
    """Where each output pixel comes from: (xs, ys), each shape (N, H, W)."""
    cx, cy = (W - 1) / 2, (H - 1) / 2
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    d = np.stack([xs - cx, ys - cy], 0).reshape(2, H * W)          # (2, H·W)
    d = d[None] - t[:, :, None]                                     # (N, 2, H·W)
    src = np.linalg.inv(A) @ d
    xs, ys = src[:, 0].reshape(-1, H, W) + cx, src[:, 1].reshape(-1, H, W) + cy
    # cos(90°) is 6e-17, not 0: snap coordinates that are integers up to rounding, so that
    # identity maps and quarter turns copy pixels exactly instead of blending neighbours.
    for coord in (xs, ys):
        near = np.rint(coord)
        snap = np.abs(coord - near) < 1e-6
        coord[snap] = near[snap]
    return xs, ys


def _read(batch, xi, yi, fill):
    """batch[n, :, yi, xi] where the integer point is inside, else fill; shape (N, C, H, W)."""
    N, C, H, W = batch.shape
    inside = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
    n = np.arange(N)[:, None, None]
    values = batch[n, :, np.clip(yi, 0, H - 1), np.clip(xi, 0, W - 1)]   # (N, H', W', C)
    values = np.moveaxis(values, -1, 1)
    return np.where(inside[:, None], values, np.asarray(fill, batch.dtype))


def warp_affine(batch, A, t, interpolation="nearest", fill=0.0):
    """Warp image n of ``batch`` by the forward map p -> centre + t[n] + A[n] (p - centre).

    Parameters
    ----------
    batch : float array, shape (N, C, H, W)
    A : array, shape (N, 2, 2);  t : array, shape (N, 2)
    interpolation : {'nearest', 'bilinear'}
    fill : float
        The value read outside the image.

    Returns
    -------
    array, shape (N, C, H, W), the dtype of ``batch``
    """
    N, C, H, W = batch.shape
    if A.shape != (N, 2, 2) or t.shape != (N, 2):
        raise ValueError(f"warp_affine: expected A (N, 2, 2) and t (N, 2) for N = {N}, got "
                         f"{A.shape} and {t.shape}")
    xs, ys = source_points(A, t, H, W)
    if interpolation == "nearest":
        return _read(batch, np.floor(xs + 0.5).astype(np.int64),
                     np.floor(ys + 0.5).astype(np.int64), fill)
    if interpolation != "bilinear":
        raise ValueError(f"warp_affine: interpolation must be 'nearest' or 'bilinear', "
                         f"got {interpolation!r}")
    x0, y0 = np.floor(xs).astype(np.int64), np.floor(ys).astype(np.int64)
    wx, wy = (xs - x0)[:, None], (ys - y0)[:, None]
    top = (1 - wx) * _read(batch, x0, y0, fill) + wx * _read(batch, x0 + 1, y0, fill)
    bottom = (1 - wx) * _read(batch, x0, y0 + 1, fill) + wx * _read(batch, x0 + 1, y0 + 1, fill)
    out = (1 - wy) * top + wy * bottom
    return out.astype(batch.dtype)
