"""The affine map of a fully connected layer, out = x Wᵀ + b, as one Function (STYLE C9: for speed).

As a composite it is three nodes (transpose, matmul, add) and its backward five more, among
them a transposed weight gradient that has to be copied before a leaf may own it. Here the
forward is one GEMM with the bias added in place, and the backward is two GEMMs and a column
sum, each result a fresh array in the layout of its input. The backward is written in ops
(matmul, transpose, sum), so gradients of gradients come from them.

Notation
--------
x        input, shape (..., K);  x2 the same as rows, shape (R, K) with R the product of ...
W        weight, shape (M, K), PyTorch's (out_features, in_features)
b        bias, shape (M,)
g        ``grad_output``, shape (..., M);  g2 the same as rows, shape (R, M)
"""
import math

from ..autograd import Function
from ..kernels import gemm
from .linalg import matmul
from .shape import reshape, transpose


class Linear(Function):
    """out = x Wᵀ + b;  dL/dx = g W,  dL/dW = g2ᵀ x2,  dL/db = Σ_rows g2."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        K, M = weight.shape[1], weight.shape[0]
        rows = math.prod(x.shape[:-1])  # not -1: reshape cannot infer it when K = 0
        out = gemm.matmul(x.reshape(rows, K), weight.T)
        if bias is not None:
            if out.dtype == bias.dtype:
                out += bias  # in place: no second (R, M) array
            else:
                out = out + bias  # mixed precision: let the array module promote
        ctx.save_for_backward(x, weight)
        return out.reshape(x.shape[:-1] + (M,))

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        need_x, need_weight, need_bias = ctx.needs_input_grad
        K, M = weight.shape[1], weight.shape[0]
        rows = math.prod(x.shape[:-1])
        g2 = reshape(grad_output, (rows, M))
        grad_x = matmul(grad_output, weight) if need_x else None
        grad_weight = matmul(transpose(g2), reshape(x, (rows, K))) if need_weight else None
        grad_bias = g2.sum(0) if need_bias else None
        return (grad_x, grad_weight, grad_bias)


def linear(x, weight, bias=None):
    """x @ weightᵀ + bias in one node; see ``F.linear``. A weight that is not 2-D, or a bias
    that is not one value per output, takes the composite matmul-and-add."""
    if weight.ndim != 2 or (bias is not None and bias.shape != weight.shape[:1]) or x.ndim == 0:
        out = matmul(x, transpose(weight))
        return out + bias if bias is not None else out
    return Linear.apply(x, weight, bias)
