"""Batch-norm and layer-norm kernels for the GPU, written with ``numba.cuda``.

Every public function here has a twin of the same name, argument order and return in
``minigrad.kernels.cpu.norm``, which states the formulas; the checks come from
``kernels/norm_shapes.py`` for both. Where the CPU runs one thread per group (a channel, a row)
over all its values, the GPU gives each group a block of REDUCE threads: each thread sums a
strided share of the group, and the block adds the shares in shared memory (``_block_sum``).
The statistics are two-pass and accumulate in float64, as on the CPU. The elementwise passes
(the output, grad_x) then run one thread per cell (``launch``), and layer norm's grad_w and
grad_b one thread per column, summing over the rows.

Notation
--------
N, C, L       batch size, channels, and the spatial size (1 for an (N, C) input)
R, D          layer norm's rows and row length (the product of normalized_shape)
M             the number of values per group: N*L for batch norm, D for layer norm
t             a thread's number in its block (reductions) or in the grid (elementwise)
"""
import math

import numpy as np
from numba import cuda, float64

from minigrad.backend import xp_of
from ..norm_shapes import channels, check_arrays, check_gradient, rows
from .launch import launch, start

REDUCE = 128  # threads per block of a reduction: a power of two, for the halving in _block_sum


def _per_group(kernel, groups, *args):
    """Run ``kernel`` with one block of REDUCE threads per group; nothing for no groups."""
    if groups > 0:
        start(kernel, groups, REDUCE, args)


@cuda.jit(device=True)
def _block_sum(value, shared):
    """The sum of ``value`` over the block's threads, returned to every thread."""
    t = cuda.threadIdx.x
    shared[t] = value
    cuda.syncthreads()
    step = REDUCE // 2
    while step > 0:
        if t < step:
            shared[t] += shared[t + step]
        cuda.syncthreads()
        step //= 2
    total = shared[0]
    cuda.syncthreads()  # every thread has read shared[0] before the next sum overwrites it
    return total


def batch_norm_forward(x, weight, bias, eps):
    """Per-channel statistics and the normalised output; see ``kernels.cpu.norm``.

    Returns
    -------
    y : ndarray, x's shape and dtype
    mean, var : ndarray of float64, shape (C,)
    """
    op = "batch_norm_forward"
    N, C, L = channels(op, x)
    check_arrays(op, x, (("weight", weight), ("bias", bias)), ((C,), (C,)))
    xp = xp_of(x)
    x3 = xp.ascontiguousarray(x).reshape(N, C, L)
    y = xp.empty(x.shape, dtype=x.dtype)
    stats = xp.empty((2, C), dtype=np.float64)  # mean, var
    _per_group(_batch_norm_stats_block, C, x3, stats)
    launch(_batch_norm_forward_thread, x.size, x3, weight, bias, stats, float(eps),
           y.reshape(N, C, L))
    return (y, stats[0].copy(), stats[1].copy())


@cuda.jit
def _batch_norm_stats_block(x, stats):
    N, C, L = x.shape
    M = N * L
    c = cuda.blockIdx.x
    t = cuda.threadIdx.x
    shared = cuda.shared.array(REDUCE, float64)
    total = 0.0
    for i in range(t, M, REDUCE):
        total += x[i // L, c, i % L]
    mu = _block_sum(total, shared) / M
    squares = 0.0
    for i in range(t, M, REDUCE):
        d = x[i // L, c, i % L] - mu
        squares += d * d
    sigma2 = _block_sum(squares, shared) / M
    if t == 0:
        stats[0, c] = mu
        stats[1, c] = sigma2


@cuda.jit
def _batch_norm_forward_thread(x, weight, bias, stats, eps, y):
    N, C, L = x.shape
    t = cuda.grid(1)
    if t >= N * C * L:
        return
    n, c, l = t // (C * L), (t // L) % C, t % L
    scale = weight[c] / math.sqrt(stats[1, c] + eps)
    y[n, c, l] = (x[n, c, l] - stats[0, c]) * scale + bias[c]


def batch_norm_backward(g, x, weight, mean, invstd):
    """The three gradients of batch norm's training forward; see ``kernels.cpu.norm``.

    Returns
    -------
    grad_x : ndarray, x's shape and dtype
    grad_weight, grad_bias : ndarray, shape (C,), x's dtype
    """
    op = "batch_norm_backward"
    N, C, L = channels(op, x)
    check_gradient(op, g, x)
    check_arrays(op, x, (("weight", weight), ("mean", mean), ("invstd", invstd)),
                 ((C,), (C,), (C,)))
    xp = xp_of(x)
    g3 = xp.ascontiguousarray(g).reshape(N, C, L)
    x3 = xp.ascontiguousarray(x).reshape(N, C, L)
    sums = xp.empty((2, C), dtype=np.float64)  # Σ g, Σ g · (x − mean)
    _per_group(_batch_norm_sums_block, C, g3, x3, mean, sums)
    grad_x = xp.empty(x.shape, dtype=x.dtype)
    launch(_batch_norm_backward_thread, x.size, g3, x3, weight, mean, invstd, sums,
           grad_x.reshape(N, C, L))
    return (grad_x, (sums[1] * invstd).astype(x.dtype), sums[0].astype(x.dtype))


@cuda.jit
def _batch_norm_sums_block(g, x, mean, sums):
    N, C, L = x.shape
    M = N * L
    c = cuda.blockIdx.x
    t = cuda.threadIdx.x
    shared = cuda.shared.array(REDUCE, float64)
    mu = mean[c]
    sum_g = 0.0
    sum_g_centred = 0.0
    for i in range(t, M, REDUCE):
        n, l = i // L, i % L
        sum_g += g[n, c, l]
        sum_g_centred += g[n, c, l] * (x[n, c, l] - mu)
    sum_g = _block_sum(sum_g, shared)
    sum_g_centred = _block_sum(sum_g_centred, shared)
    if t == 0:
        sums[0, c] = sum_g
        sums[1, c] = sum_g_centred


@cuda.jit
def _batch_norm_backward_thread(g, x, weight, mean, invstd, sums, grad_x):
    N, C, L = x.shape
    M = N * L
    t = cuda.grid(1)
    if t >= N * C * L:
        return
    n, c, l = t // (C * L), (t // L) % C, t % L
    s = invstd[c]
    k = weight[c] * s
    mean_g = sums[0, c] / M
    slope = sums[1, c] * s * s / M
    grad_x[n, c, l] = k * (g[n, c, l] - mean_g - (x[n, c, l] - mean[c]) * slope)


def layer_norm_forward(x, weight, bias, D, eps):
    """Per-row statistics over the last D values and the normalised output; see
    ``kernels.cpu.norm``.

    Returns
    -------
    y : ndarray, x's shape and dtype
    mean, var : ndarray of float64, shape (R,)
    """
    op = "layer_norm_forward"
    R = rows(op, x, D)
    check_arrays(op, x, (("weight", weight.reshape(-1)), ("bias", bias.reshape(-1))),
                 ((D,), (D,)))
    xp = xp_of(x)
    x2 = xp.ascontiguousarray(x).reshape(R, D)
    y = xp.empty(x.shape, dtype=x.dtype)
    stats = xp.empty((2, R), dtype=np.float64)  # mean, var
    _per_group(_layer_norm_stats_block, R, x2, stats)
    launch(_layer_norm_forward_thread, x.size, x2, weight.reshape(D), bias.reshape(D), stats,
           float(eps), y.reshape(R, D))
    return (y, stats[0].copy(), stats[1].copy())


@cuda.jit
def _layer_norm_stats_block(x, stats):
    R, D = x.shape
    r = cuda.blockIdx.x
    t = cuda.threadIdx.x
    shared = cuda.shared.array(REDUCE, float64)
    total = 0.0
    for d in range(t, D, REDUCE):
        total += x[r, d]
    mu = _block_sum(total, shared) / D
    squares = 0.0
    for d in range(t, D, REDUCE):
        e = x[r, d] - mu
        squares += e * e
    sigma2 = _block_sum(squares, shared) / D
    if t == 0:
        stats[0, r] = mu
        stats[1, r] = sigma2


@cuda.jit
def _layer_norm_forward_thread(x, weight, bias, stats, eps, y):
    R, D = x.shape
    t = cuda.grid(1)
    if t >= R * D:
        return
    r, d = t // D, t % D
    s = 1.0 / math.sqrt(stats[1, r] + eps)
    y[r, d] = (x[r, d] - stats[0, r]) * s * weight[d] + bias[d]


def layer_norm_backward(g, x, weight, mean, invstd, D):
    """The three gradients of layer norm; see ``kernels.cpu.norm``.

    Returns
    -------
    grad_x : ndarray, x's shape and dtype
    grad_weight, grad_bias : ndarray, weight's shape, x's dtype
    """
    op = "layer_norm_backward"
    R = rows(op, x, D)
    check_gradient(op, g, x)
    check_arrays(op, x, (("weight", weight.reshape(-1)), ("mean", mean), ("invstd", invstd)),
                 ((D,), (R,), (R,)))
    xp = xp_of(x)
    g2 = xp.ascontiguousarray(g).reshape(R, D)
    x2 = xp.ascontiguousarray(x).reshape(R, D)
    w = weight.reshape(D)
    sums = xp.empty((2, R), dtype=np.float64)  # Σ g·w, Σ g·w·xhat per row
    _per_group(_layer_norm_sums_block, R, g2, x2, w, mean, invstd, sums)
    grad_x = xp.empty(x.shape, dtype=x.dtype)
    launch(_layer_norm_backward_thread, x.size, g2, x2, w, mean, invstd, sums,
           grad_x.reshape(R, D))
    params = xp.empty((2, D), dtype=np.float64)  # Σ g·xhat, Σ g over the rows
    launch(_layer_norm_params_thread, D, g2, x2, mean, invstd, params)
    return (grad_x, params[0].astype(x.dtype).reshape(weight.shape),
            params[1].astype(x.dtype).reshape(weight.shape))


@cuda.jit
def _layer_norm_sums_block(g, x, weight, mean, invstd, sums):
    R, D = x.shape
    r = cuda.blockIdx.x
    t = cuda.threadIdx.x
    shared = cuda.shared.array(REDUCE, float64)
    mu = mean[r]
    s = invstd[r]
    sum_gw = 0.0
    sum_gw_xhat = 0.0
    for d in range(t, D, REDUCE):
        xhat = (x[r, d] - mu) * s
        gw = g[r, d] * weight[d]
        sum_gw += gw
        sum_gw_xhat += gw * xhat
    sum_gw = _block_sum(sum_gw, shared)
    sum_gw_xhat = _block_sum(sum_gw_xhat, shared)
    if t == 0:
        sums[0, r] = sum_gw
        sums[1, r] = sum_gw_xhat


@cuda.jit
def _layer_norm_backward_thread(g, x, weight, mean, invstd, sums, grad_x):
    R, D = x.shape
    t = cuda.grid(1)
    if t >= R * D:
        return
    r, d = t // D, t % D
    s = invstd[r]
    xhat = (x[r, d] - mean[r]) * s
    grad_x[r, d] = s * (g[r, d] * weight[d] - sums[0, r] / D - xhat * sums[1, r] / D)


@cuda.jit
def _layer_norm_params_thread(g, x, mean, invstd, params):
    R, D = x.shape
    d = cuda.grid(1)
    if d >= D:
        return
    sum_g_xhat = 0.0
    sum_g = 0.0
    for r in range(R):
        sum_g_xhat += g[r, d] * (x[r, d] - mean[r]) * invstd[r]
        sum_g += g[r, d]
    params[0, d] = sum_g_xhat
    params[1, d] = sum_g
