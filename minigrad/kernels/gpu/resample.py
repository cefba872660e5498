"""Bilinear resampling kernels for the GPU, written with ``numba.cuda``.

The twins of ``minigrad.kernels.cpu.resample``: same names, arguments, returns and index math.
One thread per output cell; the adjoint adds with ``cuda.atomic.add``, since neighbouring
outputs share source cells.

Notation
--------
N, C          batch size and channels; a plane is one (n, c) image
H, W          height and width of the input plane
OH, OW        height and width of the resampled plane
oh, ow        an output cell
h0, h1, lh    the two source rows of output row ``oh`` and the weight of ``h1`` (``h0`` gets
              ``1 - lh``);  w0, w1, lw  the same for columns
"""
from numba import cuda

from minigrad.backend import xp_of
from minigrad.kernels import geometry
from .launch import launch, unravel


def upsample_bilinear2d(x, h0, h1, lh, w0, w1, lw):
    """Bilinear interpolation from precomputed source rows, columns and weights.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    h0, h1 : ndarray of int64, shape (OH,), source rows in ``[0, H)``
    lh : ndarray, shape (OH,), weight of row ``h1`` (row ``h0`` gets ``1 - lh``), x's dtype
    w0, w1 : ndarray of int64, shape (OW,);  lw : ndarray, shape (OW,)

    Returns
    -------
    y : ndarray, shape (N, C, OH, OW),
        ``y = (1-lh) ((1-lw) x[h0, w0] + lw x[h0, w1]) + lh ((1-lw) x[h1, w0] + lw x[h1, w1])``
    """
    xp = xp_of(x)
    shape = geometry.bilinear_shape("upsample_bilinear2d", x.shape, h0, h1, lh, w0, w1, lw)
    y = xp.empty(shape, dtype=x.dtype)
    launch(_upsample_bilinear2d_thread, y.size, xp.ascontiguousarray(x), h0, h1, lh, w0, w1, lw,
           y)
    return y


@cuda.jit
def _upsample_bilinear2d_thread(x, h0, h1, lh, w0, w1, lw, y):
    N, C, OH, OW = y.shape
    t = cuda.grid(1)
    if t >= N * C * OH * OW:
        return
    n, c, oh, ow = unravel(t, C, OH, OW)
    top = (1 - lw[ow]) * x[n, c, h0[oh], w0[ow]] + lw[ow] * x[n, c, h0[oh], w1[ow]]
    bottom = (1 - lw[ow]) * x[n, c, h1[oh], w0[ow]] + lw[ow] * x[n, c, h1[oh], w1[ow]]
    y[n, c, oh, ow] = (1 - lh[oh]) * top + lh[oh] * bottom


def upsample_bilinear2d_adjoint(g, h0, h1, lh, w0, w1, lw, H, W):
    """Send each output value back to its four source cells with the bilinear weights.

    Parameters
    ----------
    g : ndarray, shape (N, C, OH, OW)
    h0, h1, lh, w0, w1, lw : ndarray, as in :func:`upsample_bilinear2d`
    H, W : int, at least 1

    Returns
    -------
    out : ndarray, shape (N, C, H, W), the transpose of :func:`upsample_bilinear2d` applied to g
    """
    xp = xp_of(g)
    N, C = g.shape[0], g.shape[1]
    geometry.bilinear_shape("upsample_bilinear2d_adjoint", (N, C, H, W), h0, h1, lh, w0, w1, lw,
                            g.shape)
    out = xp.zeros((N, C, H, W), dtype=g.dtype)
    launch(_upsample_bilinear2d_adjoint_thread, g.size, xp.ascontiguousarray(g),
           h0, h1, lh, w0, w1, lw, out)
    return out


@cuda.jit
def _upsample_bilinear2d_adjoint_thread(g, h0, h1, lh, w0, w1, lw, out):
    N, C, OH, OW = g.shape
    t = cuda.grid(1)
    if t >= N * C * OH * OW:
        return
    n, c, oh, ow = unravel(t, C, OH, OW)
    top = (1 - lh[oh]) * g[n, c, oh, ow]
    bottom = lh[oh] * g[n, c, oh, ow]
    # Neighbouring outputs share source cells: the adds must not race.
    cuda.atomic.add(out, (n, c, h0[oh], w0[ow]), (1 - lw[ow]) * top)
    cuda.atomic.add(out, (n, c, h0[oh], w1[ow]), lw[ow] * top)
    cuda.atomic.add(out, (n, c, h1[oh], w0[ow]), (1 - lw[ow]) * bottom)
    cuda.atomic.add(out, (n, c, h1[oh], w1[ow]), lw[ow] * bottom)
