"""Bilinear resampling kernels for the CPU, compiled with ``numba.njit``.

The twins of ``minigrad.kernels.gpu.resample``: same names, arguments and returns. Nearest
resampling needs no kernel of its own (it is ``gather_at_indices`` at fixed indices, in
``pool.py``). The source tables are built and range-checked by ``minigrad.ops.resample``; the
wrappers here check their shapes against the image (``kernels/geometry.py``).

Notation
--------
N, C          batch size and channels; a plane is one (n, c) image
H, W          height and width of the input plane
OH, OW        height and width of the resampled plane
oh, ow        an output cell
h0, h1, lh    the two source rows of output row ``oh`` and the weight of ``h1`` (``h0`` gets
              ``1 - lh``);  w0, w1, lw  the same for columns
"""
import numba
import numpy as np
from numba import prange

from .. import geometry
from .parallel import threads_for


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
    shape = geometry.bilinear_shape("upsample_bilinear2d", x.shape, h0, h1, lh, w0, w1, lw)
    y = np.empty(shape, dtype=x.dtype)
    with threads_for(x.size + y.size):
        _upsample_bilinear2d_loop(np.ascontiguousarray(x), h0, h1, lh, w0, w1, lw, y)
    return y


@numba.njit(parallel=True, cache=True)
def _upsample_bilinear2d_loop(x, h0, h1, lh, w0, w1, lw, y):
    N, C, OH, OW = y.shape
    for p in prange(N * C):
        n, c = p // C, p % C
        for oh in range(OH):
            for ow in range(OW):
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
    N, C = g.shape[0], g.shape[1]
    geometry.bilinear_shape("upsample_bilinear2d_adjoint", (N, C, H, W), h0, h1, lh, w0, w1, lw,
                            g.shape)
    out = np.zeros((N, C, H, W), dtype=g.dtype)
    with threads_for(g.size + out.size):
        _upsample_bilinear2d_adjoint_loop(np.ascontiguousarray(g), h0, h1, lh, w0, w1, lw, out)
    return out


@numba.njit(parallel=True, cache=True)
def _upsample_bilinear2d_adjoint_loop(g, h0, h1, lh, w0, w1, lw, out):
    N, C, OH, OW = g.shape
    for p in prange(N * C):
        n, c = p // C, p % C
        for oh in range(OH):
            for ow in range(OW):
                top = (1 - lh[oh]) * g[n, c, oh, ow]
                bottom = lh[oh] * g[n, c, oh, ow]
                out[n, c, h0[oh], w0[ow]] += (1 - lw[ow]) * top
                out[n, c, h0[oh], w1[ow]] += lw[ow] * top
                out[n, c, h1[oh], w0[ow]] += (1 - lw[ow]) * bottom
                out[n, c, h1[oh], w1[ow]] += lw[ow] * bottom
