"""Convolution on raw arrays: the im2col / col2im kernels around matrix products (GEMMs).

The array half of ``minigrad.ops.conv``, for either backend: ``xp`` is NumPy or CuPy, and
``kernels`` the matching module, ``minigrad.kernels.cpu`` or ``.gpu`` (``kernels_for(x)``)::

    conv_arrays            cols = im2col(x);   y = w @ cols                 (one GEMM per group)
    conv_transpose_arrays  cols = wᵀ @ x;      y = col2im(cols)
    grad_weight_arrays     cols = im2col(x);   dw = g @ colsᵀ

A large batch goes through in chunks, so that the column buffer stays in cache (see
``_batch_slices``); the chunks of one call share one workspace. The callers have checked the
operands (``ops/conv.py``); the kernels check what reaches them again.

Saved columns: the weight gradient needs the very columns the forward built, ``im2col(x)``.
``conv_arrays`` can hand them out (``columns=[]``, a list it fills with one array per chunk,
each in its own buffer instead of the shared workspace), and ``grad_weight_arrays`` takes them
back (``columns=``) and skips its im2col. ``ops/conv.py`` decides when that memory is worth it.

Notation
--------
N           batch size
C, H, W     channels, height and width of the convolution's input
K           channels of the convolution's output (C_out)
G           groups;  Cg = C // G and Kg = K // G channels per group
KH, KW      kernel height and width;  L = OH * OW windows per sample
OH, OW      output size of the convolution
geometry    the tuple ``(SH, SW, PH, PW, DH, DW)``: stride, zero padding and dilation
"""
from ..backend import xp_of
from . import gemm


# The weight gradient of a convolution with at most this many rows of columns per group
# (Cg*KH*KW: a first layer, 1x5x5 or 3x5x5) runs one product per sample and sums them: one long
# product over the chunk has a (Cg*KH*KW, Kg) result so small that BLAS runs it at a third of
# its rate. Measured at 1 thread (CPU time, 4 MB chunks): per sample took 0.3-0.45x the time at
# Cg*KH*KW = 9, 0.4-0.95x at 27, 0.5-1.0x at 75, 0.9-1.1x at 144 and 1.05-1.5x at 288-400.
PER_SAMPLE_WEIGHT_ROWS = 100


def _batch_slices(kernels, x, bytes_per_sample):
    """Slices that split the batch of ``x`` evenly into chunks of at most CONV_CHUNK_BYTES of
    columns, the budget of x's kernel module (at least one sample each; one empty slice for an
    empty batch). Chunks keep the column buffer in cache on a CPU (see kernels/cpu/conv.py)."""
    N = x.shape[0]
    if N == 0:
        return [slice(0, 0)]
    per_chunk = max(1, kernels.CONV_CHUNK_BYTES // max(1, bytes_per_sample))
    chunks = -(-N // per_chunk)  # ceil
    step = -(-N // chunks)
    return [slice(i, min(N, i + step)) for i in range(0, N, step)]


def _workspace(xp, dtype, slices, per_sample):
    """One flat buffer for the largest slice, which every slice of a call reuses."""
    return xp.empty(max(b.stop - b.start for b in slices) * per_sample, dtype=dtype)


def _rows(space, rows, columns):
    """The front of a workspace as a C-contiguous (rows, columns) matrix."""
    return space[:rows * columns].reshape(rows, columns)


def conv_arrays(kernels, x, weight, geometry, G, OH, OW, columns=None):
    """conv2d on raw arrays, no bias: ``(N, C, H, W), (K, Cg, KH, KW) -> (N, K, OH, OW)``.

    ``columns``, a list, receives the columns of each chunk, ``(C*KH*KW, n*OH*OW)`` arrays.
    """
    xp = xp_of(x)
    N, C = x.shape[:2]
    K, Cg, KH, KW = weight.shape
    L = OH * OW
    w = weight.reshape(G, K // G, Cg * KH * KW)
    y = xp.empty((N, K, OH, OW), dtype=x.dtype)
    slices = _batch_slices(kernels, x, C * KH * KW * L * x.itemsize)
    # Kept columns need one buffer for the whole batch; otherwise the chunks share one.
    cols_space = (xp.empty(N * C * KH * KW * L, dtype=x.dtype) if columns is not None else
                  _workspace(xp, x.dtype, slices, C * KH * KW * L))
    for batch in slices:
        n = batch.stop - batch.start
        space = (cols_space[batch.start * C * KH * KW * L:] if columns is not None else
                 cols_space)
        cols = kernels.im2col(x[batch], KH, KW, *geometry, OH, OW,
                              out=_rows(space, C * KH * KW, n * L))
        if columns is not None:
            columns.append(cols)
        # One GEMM per sample and group, (Kg, Cg*KH*KW) @ (Cg*KH*KW, OH*OW), each reading its
        # sample's columns in place (a strided view: BLAS takes the row stride) and writing
        # straight into y, batch first. One GEMM over the whole chunk would give channels first,
        # (K, n, OH, OW), and need a transposing copy into y; the per-sample products were as
        # fast on LeNet's second conv and 1.5-2x faster where Cg*KH*KW is small (a first layer).
        gemm.matmul(w, cols.reshape(G, Cg * KH * KW, n, L).transpose(2, 0, 1, 3),
                  out=y[batch].reshape(n, G, K // G, L))
    return y


def conv_transpose_arrays(kernels, x, weight, geometry, G, H, W):
    """conv_transpose2d on raw arrays, no bias: ``(N, K, OH, OW), (K, Cg, KH, KW) -> (N, C, H, W)``.

    Here x is on the column side (it has the convolution's output shape) and the result on the
    image side; ``weight`` is read as a transposed-convolution weight ``(C_in, C_out // G, ...)``.
    """
    xp = xp_of(x)
    N, K, OH, OW = x.shape
    _, Cg, KH, KW = weight.shape
    L = OH * OW
    w = weight.reshape(G, K // G, Cg * KH * KW).transpose(0, 2, 1)
    y = xp.empty((N, G * Cg, H, W), dtype=x.dtype)
    slices = _batch_slices(kernels, x, G * Cg * KH * KW * L * x.itemsize)
    cols_space = _workspace(xp, x.dtype, slices, G * Cg * KH * KW * L)
    for batch in slices:
        n = batch.stop - batch.start
        x_cols = x[batch].reshape(n, K, L).transpose(1, 0, 2).reshape(G, K // G, n * L)
        cols = gemm.matmul(w, x_cols, out=_rows(cols_space, G * Cg * KH * KW, n * L).reshape(
            G, Cg * KH * KW, n * L))
        kernels.col2im(cols.reshape(G * Cg * KH * KW, n * L), n, G * Cg, H, W, KH, KW,
                              *geometry, OH, OW, out=y[batch])
    return y


def grad_weight_arrays(kernels, x, grad_y, KH, KW, geometry, G, columns=None):
    """The weight gradient on raw arrays: ``(N, C, H, W), (N, K, OH, OW) -> (K, C//G, KH, KW)``.

    ``columns``: what ``conv_arrays(..., columns=[])`` collected for this ``x`` and geometry,
    used instead of a new im2col (the chunks match: both split the batch the same way).
    """
    xp = xp_of(x)
    C = x.shape[1]
    _, K, OH, OW = grad_y.shape
    L = OH * OW
    slices = _batch_slices(kernels, x, C * KH * KW * L * x.itemsize)
    if columns and [c.shape[1] for c in columns] != [(b.stop - b.start) * L for b in slices]:
        columns = None  # chunked differently (the chunk size changed since): recompute
    cols_space = None if columns else _workspace(xp, x.dtype, slices, C * KH * KW * L)
    # The GEMM computes the transpose, (G, Cg*KH*KW, Kg) = cols @ gᵀ, which BLAS runs faster
    # than g @ colsᵀ when the inner dimension n*OH*OW is long (up to 1.3x here).
    grad_weight_t = None
    for index, batch in enumerate(slices):
        n = batch.stop - batch.start
        cols = (columns[index] if columns else
                kernels.im2col(x[batch], KH, KW, *geometry, OH, OW,
                               out=_rows(cols_space, C * KH * KW, n * L)))
        if C // G * KH * KW <= PER_SAMPLE_WEIGHT_ROWS:
            # a short (Cg*KH*KW, Kg) product per sample, summed: no copy of g
            part = gemm.matmul(cols.reshape(G, C // G * KH * KW, n, L).transpose(2, 0, 1, 3),
                             grad_y[batch].reshape(n, G, K // G, L).transpose(0, 1, 3, 2)
                             ).sum(axis=0)
        else:
            g = grad_y[batch].reshape(n, K, L).transpose(1, 0, 2).reshape(G, K // G, n * L)
            part = gemm.matmul(cols.reshape(G, C // G * KH * KW, n * L), g.transpose(0, 2, 1))
        grad_weight_t = part if grad_weight_t is None else xp.add(grad_weight_t, part,
                                                                  out=grad_weight_t)
    return grad_weight_t.transpose(0, 2, 1).reshape(K, C // G, KH, KW)
