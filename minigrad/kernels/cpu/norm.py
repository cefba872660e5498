"""Batch-norm and layer-norm kernels for the CPU, compiled with ``numba.njit``.

Every public function here has a twin of the same name, argument order and return in
``minigrad.kernels.gpu.norm``. Both normalisations compute, for each group of M values that
share one mean (a channel over the batch and spatial axes; a row of the trailing axes)::

    mean = Σ x / M      var = Σ (x − mean)² / M      invstd = 1 / √(var + eps)
    xhat = (x − mean) · invstd                       y = xhat · w + b

and, given the output gradient g, the gradients of the same pass::

    grad_b = Σ g      grad_w = Σ g · xhat      (over what shares w: the group, or the rows)
    grad_x = invstd · (g·w − mean(g·w) − xhat · mean(g·w·xhat))        means over the group

Statistics are two-pass (the mean first, then the squared distances from it), which stays
accurate in float32 when |mean| is many times the spread (x = 1e4 + noise), where the one-pass
Σx² − (Σx)²/M cancels to garbage. A group of the benchmark's (64, 32, 28, 28) batch is 200 kB,
so the second and third passes read it from cache. Sums accumulate in float64 whatever the
input dtype: a float32 sum over 50 000 values would keep only about three correct digits.

The loops run in parallel over groups (``prange``): channels for batch norm, rows for layer
norm. Layer norm's grad_w and grad_b sum over rows, so each thread adds into its own partial
row of a (T, D) buffer and the partials are summed at the end; no two threads write one cell.
``fastmath`` allows only re-association (and contraction into fused multiply-adds), so that the
sums vectorise; NaN and inf still propagate.

The wrappers take arrays of any shape, check them with ``kernels/norm_shapes.py`` (dtypes,
shapes; shared with the GPU twins) before a loop runs, make the
input C-contiguous (a copy for a view) and allocate outputs in their final shape, so that the
engine can hand them to a leaf's ``.grad`` without a copy.

Notation
--------
N, C, L       batch size, channels, and the spatial size (H*W, or 1 for an (N, C) input)
R, D          layer norm's rows (the leading axes, flattened) and row length (normalized_shape)
M             the number of values per group: N*L for batch norm, D for layer norm
T             the threads that split the rows of the layer-norm backward
g             the gradient of the output y
"""
import numba
import numpy as np
from numba import prange

from ..norm_shapes import channels, check_arrays, check_gradient, rows
from .parallel import threads_for

FAST = {"reassoc", "contract"}


def batch_norm_forward(x, weight, bias, eps):
    """Per-channel statistics over the batch and spatial axes, and the normalised output.

    Parameters
    ----------
    x : ndarray, shape (N, C, ...), float32 or float64, N * L >= 1
    weight, bias : ndarray, shape (C,), x's dtype (ones and zeros for no affine map)
    eps : float

    Returns
    -------
    y : ndarray, x's shape and dtype, ``(x − mean) / √(var + eps) · weight + bias``
    mean, var : ndarray of float64, shape (C,); var is the biased (1/M) variance
    """
    op = "batch_norm_forward"
    N, C, L = channels(op, x)
    check_arrays(op, x, (("weight", weight), ("bias", bias)), ((C,), (C,)))
    y = np.empty(x.shape, dtype=x.dtype)
    mean = np.empty(C, dtype=np.float64)
    var = np.empty(C, dtype=np.float64)
    with threads_for(2 * x.size):
        if L == 1:
            T = max(1, min(numba.get_num_threads(), C))
            _batch_norm_forward_columns_loop(np.ascontiguousarray(x).reshape(N, C), weight,
                                             bias, float(eps), y.reshape(N, C), mean, var, T)
        else:
            _batch_norm_forward_loop(np.ascontiguousarray(x).reshape(N, C, L), weight, bias,
                                     float(eps), y.reshape(N, C, L), mean, var)
    return (y, mean, var)


@numba.njit(parallel=True, cache=True, fastmath=FAST)
def _batch_norm_forward_loop(x, weight, bias, eps, y, mean, var):
    N, C, L = x.shape
    M = N * L
    for c in prange(C):
        total = 0.0
        for n in range(N):
            for l in range(L):
                total += x[n, c, l]
        mu = total / M
        squares = 0.0
        for n in range(N):
            for l in range(L):
                d = x[n, c, l] - mu
                squares += d * d
        sigma2 = squares / M
        invstd = 1.0 / np.sqrt(sigma2 + eps)
        scale = weight[c] * invstd
        shift = bias[c]
        for n in range(N):
            for l in range(L):
                y[n, c, l] = (x[n, c, l] - mu) * scale + shift
        mean[c] = mu
        var[c] = sigma2


# An (N, C) input has one value per channel in each row: walking a channel down the rows reads
# one value per cache line. These loops walk the rows instead, each thread over its own block of
# channels [lo, hi) with one accumulator per channel, so the reads are contiguous. They index
# views of the block from 0 (``row[j]``, not ``x[n, lo + j]``): Numba then knows the index is
# not negative, skips the wrap-around test, and the loop vectorises (six times faster).
@numba.njit(parallel=True, cache=True, fastmath=FAST)
def _batch_norm_forward_columns_loop(x, weight, bias, eps, y, mean, var, T):
    N, C = x.shape
    scale = np.empty(C, dtype=np.float64)
    for t in prange(T):
        lo, hi = t * C // T, (t + 1) * C // T
        mu, sigma2, k, b = mean[lo:hi], var[lo:hi], scale[lo:hi], bias[lo:hi]
        mu[:] = 0.0
        sigma2[:] = 0.0
        for n in range(N):
            row = x[n, lo:hi]
            for j in range(hi - lo):
                mu[j] += row[j]
        mu /= N
        for n in range(N):
            row = x[n, lo:hi]
            for j in range(hi - lo):
                d = row[j] - mu[j]
                sigma2[j] += d * d
        sigma2 /= N
        for j in range(hi - lo):
            k[j] = weight[lo + j] / np.sqrt(sigma2[j] + eps)
        for n in range(N):
            row, out = x[n, lo:hi], y[n, lo:hi]
            for j in range(hi - lo):
                out[j] = (row[j] - mu[j]) * k[j] + b[j]


def batch_norm_backward(g, x, weight, mean, invstd):
    """The three gradients of batch norm's training forward, in two passes over (g, x).

    Parameters
    ----------
    g, x : ndarray, shape (N, C, ...), one float dtype
    weight : ndarray, shape (C,), x's dtype (ones for no affine map)
    mean, invstd : ndarray, shape (C,), the forward's statistics (float64)

    Returns
    -------
    grad_x : ndarray, x's shape and dtype
        ``invstd · w · (g − mean(g) − xhat · mean(g · xhat))``
    grad_weight, grad_bias : ndarray, shape (C,), x's dtype: ``Σ g · xhat`` and ``Σ g``
    """
    op = "batch_norm_backward"
    N, C, L = channels(op, x)
    check_gradient(op, g, x)
    check_arrays(op, x, (("weight", weight), ("mean", mean), ("invstd", invstd)),
                 ((C,), (C,), (C,)))
    grad_x = np.empty(x.shape, dtype=x.dtype)
    grad_weight = np.empty(C, dtype=x.dtype)
    grad_bias = np.empty(C, dtype=x.dtype)
    with threads_for(3 * x.size):
        if L == 1:
            T = max(1, min(numba.get_num_threads(), C))
            _batch_norm_backward_columns_loop(np.ascontiguousarray(g).reshape(N, C),
                                              np.ascontiguousarray(x).reshape(N, C), weight,
                                              mean, invstd, grad_x.reshape(N, C), grad_weight,
                                              grad_bias, T)
        else:
            _batch_norm_backward_loop(np.ascontiguousarray(g).reshape(N, C, L),
                                      np.ascontiguousarray(x).reshape(N, C, L), weight, mean,
                                      invstd, grad_x.reshape(N, C, L), grad_weight, grad_bias)
    return (grad_x, grad_weight, grad_bias)


@numba.njit(parallel=True, cache=True, fastmath=FAST)
def _batch_norm_backward_loop(g, x, weight, mean, invstd, grad_x, grad_weight, grad_bias):
    N, C, L = x.shape
    M = N * L
    for c in prange(C):
        mu = mean[c]
        s = invstd[c]
        sum_g = 0.0
        sum_g_centred = 0.0
        for n in range(N):
            for l in range(L):
                sum_g += g[n, c, l]
                sum_g_centred += g[n, c, l] * (x[n, c, l] - mu)
        grad_bias[c] = sum_g
        grad_weight[c] = sum_g_centred * s
        # grad_x = k · (g − mean(g) − (x − mean) · s² · mean(g · (x − mean)))
        k = weight[c] * s
        mean_g = sum_g / M
        slope = sum_g_centred * s * s / M
        for n in range(N):
            for l in range(L):
                grad_x[n, c, l] = k * (g[n, c, l] - mean_g - (x[n, c, l] - mu) * slope)


@numba.njit(parallel=True, cache=True, fastmath=FAST)
def _batch_norm_backward_columns_loop(g, x, weight, mean, invstd, grad_x, grad_weight,
                                      grad_bias, T):
    N, C = x.shape
    sum_g = np.zeros(C, dtype=np.float64)
    sum_g_centred = np.zeros(C, dtype=np.float64)
    k = np.empty(C, dtype=np.float64)
    for t in prange(T):
        lo, hi = t * C // T, (t + 1) * C // T
        mu, s, sg, sgc, kk = mean[lo:hi], invstd[lo:hi], sum_g[lo:hi], sum_g_centred[lo:hi], \
            k[lo:hi]
        for n in range(N):
            row_g, row_x = g[n, lo:hi], x[n, lo:hi]
            for j in range(hi - lo):
                sg[j] += row_g[j]
                sgc[j] += row_g[j] * (row_x[j] - mu[j])
        for j in range(hi - lo):
            grad_bias[lo + j] = sg[j]
            grad_weight[lo + j] = sgc[j] * s[j]
            kk[j] = weight[lo + j] * s[j]
            sg[j] /= N                       # now mean(g)
            sgc[j] *= s[j] * s[j] / N        # now the slope of grad_x in (x − mean)
        for n in range(N):
            row_g, row_x, out = g[n, lo:hi], x[n, lo:hi], grad_x[n, lo:hi]
            for j in range(hi - lo):
                out[j] = kk[j] * (row_g[j] - sg[j] - (row_x[j] - mu[j]) * sgc[j])


def layer_norm_forward(x, weight, bias, D, eps):
    """Per-row statistics over the last D values of each row, and the normalised output.

    Parameters
    ----------
    x : ndarray, shape (..., *normalized_shape), float32 or float64; D = prod(normalized_shape)
    weight, bias : ndarray of D values (any shape), x's dtype (ones and zeros for none)
    D : int
    eps : float

    Returns
    -------
    y : ndarray, x's shape and dtype
    mean, var : ndarray of float64, shape (R,), R = x.size // D
    """
    op = "layer_norm_forward"
    R = rows(op, x, D)
    check_arrays(op, x, (("weight", weight.reshape(-1)), ("bias", bias.reshape(-1))),
                 ((D,), (D,)))
    y = np.empty(x.shape, dtype=x.dtype)
    mean = np.empty(R, dtype=np.float64)
    var = np.empty(R, dtype=np.float64)
    with threads_for(2 * x.size):
        _layer_norm_forward_loop(np.ascontiguousarray(x).reshape(R, D), weight.reshape(D),
                                 bias.reshape(D), float(eps), y.reshape(R, D), mean, var)
    return (y, mean, var)


@numba.njit(parallel=True, cache=True, fastmath=FAST)
def _layer_norm_forward_loop(x, weight, bias, eps, y, mean, var):
    R, D = x.shape
    for r in prange(R):
        total = 0.0
        for d in range(D):
            total += x[r, d]
        mu = total / D
        squares = 0.0
        for d in range(D):
            e = x[r, d] - mu
            squares += e * e
        sigma2 = squares / D
        s = 1.0 / np.sqrt(sigma2 + eps)
        for d in range(D):
            y[r, d] = (x[r, d] - mu) * s * weight[d] + bias[d]
        mean[r] = mu
        var[r] = sigma2


def layer_norm_backward(g, x, weight, mean, invstd, D):
    """The three gradients of layer norm, parallel over rows.

    Parameters
    ----------
    g, x : ndarray, shape (..., *normalized_shape), one float dtype
    weight : ndarray of D values, x's dtype (ones for no affine map)
    mean, invstd : ndarray, shape (R,), the forward's statistics (float64)
    D : int

    Returns
    -------
    grad_x : ndarray, x's shape and dtype
    grad_weight, grad_bias : ndarray, weight's shape, x's dtype: ``Σ g · xhat`` and ``Σ g``
        over the rows
    """
    op = "layer_norm_backward"
    R = rows(op, x, D)
    check_gradient(op, g, x)
    check_arrays(op, x, (("weight", weight.reshape(-1)), ("mean", mean), ("invstd", invstd)),
                 ((D,), (R,), (R,)))
    grad_x = np.empty(x.shape, dtype=x.dtype)
    with threads_for(3 * x.size):
        T = max(1, min(numba.get_num_threads(), R))
        partial_weight = np.zeros((T, D), dtype=np.float64)
        partial_bias = np.zeros((T, D), dtype=np.float64)
        _layer_norm_backward_loop(np.ascontiguousarray(g).reshape(R, D),
                                  np.ascontiguousarray(x).reshape(R, D), weight.reshape(D),
                                  mean, invstd, grad_x.reshape(R, D), partial_weight,
                                  partial_bias)
    grad_weight = partial_weight.sum(0).astype(x.dtype).reshape(weight.shape)
    grad_bias = partial_bias.sum(0).astype(x.dtype).reshape(weight.shape)
    return (grad_x, grad_weight, grad_bias)


@numba.njit(parallel=True, cache=True, fastmath=FAST)
def _layer_norm_backward_loop(g, x, weight, mean, invstd, grad_x, partial_weight,
                              partial_bias):
    R, D = x.shape
    T = partial_weight.shape[0]
    for t in prange(T):
        for r in range(t * R // T, (t + 1) * R // T):
            mu = mean[r]
            s = invstd[r]
            sum_gw = 0.0
            sum_gw_xhat = 0.0
            for d in range(D):
                xhat = (x[r, d] - mu) * s
                gw = g[r, d] * weight[d]
                sum_gw += gw
                sum_gw_xhat += gw * xhat
                partial_weight[t, d] += g[r, d] * xhat
                partial_bias[t, d] += g[r, d]
            mean_gw = sum_gw / D
            mean_gw_xhat = sum_gw_xhat / D
            for d in range(D):
                xhat = (x[r, d] - mu) * s
                grad_x[r, d] = s * (g[r, d] * weight[d] - mean_gw - xhat * mean_gw_xhat)
