"""Linear algebra: matrix products with NumPy's broadcasting rules, and einsum.

Notation
--------
a, b     operands of ``a @ b``; a 1-D operand is a vector (promoted, then the axis dropped)
...      batch axes, broadcast between the operands
"""
import string

from ..autograd import Function
from ..backend import xp_of
from ..kernels import gemm
from .shape import reshape, transpose, broadcast_to, unsqueeze


def _swap_last(t):
    return transpose(t, -1, -2)


class MatMul(Function):
    """out = a @ b;  dL/da = g @ bᵀ, dL/db = aᵀ @ g (batch axes summed back by the engine)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return gemm.matmul(a, b)

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        # Promote vectors to matrices, as matmul itself does, so one formula covers every case.
        a2 = unsqueeze(a, 0) if a.ndim == 1 else a
        b2 = unsqueeze(b, -1) if b.ndim == 1 else b
        g = grad_output
        if b.ndim == 1:  # b first: for a dot product g is 0-d and gains both axes
            g = unsqueeze(g, -1)
        if a.ndim == 1:
            g = unsqueeze(g, -2)
        grad_a = g @ _swap_last(b2) if need_a else None
        grad_b = _swap_last(a2) @ g if need_b else None
        if grad_a is not None and a.ndim == 1:
            grad_a = reshape(grad_a, grad_a.shape[:-2] + grad_a.shape[-1:])
        if grad_b is not None and b.ndim == 1:
            grad_b = reshape(grad_b, grad_b.shape[:-1])
        return (grad_a, grad_b)


def matmul(a, b):
    """Matrix product with NumPy's rules: batch axes broadcast, 1-D operands are vectors.

    Parameters
    ----------
    a : Tensor, shape (..., N, K) or (K,)
    b : Tensor, shape (..., K, M) or (K,)
    """
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape} "
                         f"({k_a} != {k_b})")
    return MatMul.apply(a, b)


def _parse_einsum(subscripts, shapes):
    """Explicit ``'ij,jk->ik'`` form with any ``...`` spelled out as letters."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        lhs, rhs = subscripts.split("->")
    else:  # implicit output: the letters used once, in alphabetical order
        lhs = subscripts
        letters = lhs.replace(",", "").replace(".", "")
        rhs = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1))
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {subscripts!r} names {len(terms)} operands, got {len(shapes)}")
    unused = [c for c in string.ascii_letters if c not in subscripts]
    ellipsis_ndim = max([len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes)
                         if "..." in t] or [0])
    fill = "".join(unused[:ellipsis_ndim])
    expanded = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            n = len(s) - len(t.replace("...", ""))
            t = t.replace("...", fill[ellipsis_ndim - n:])
        if len(t) != len(s):
            raise ValueError(f"einsum: term {t!r} has {len(t)} letters for an operand of "
                             f"shape {s}")
        expanded.append(t)
    rhs = rhs.replace("...", fill)
    return expanded, rhs


class Einsum(Function):
    """out = einsum(terms -> rhs, *xs);  dL/dx_i = einsum(rhs, other terms -> term_i, g, ...).

    The gradient of one operand contracts g with all the others; letters of term_i that appear
    nowhere else were summed away by the forward pass, so they are broadcast back.
    """

    @staticmethod
    def forward(ctx, *xs, terms, rhs):
        ctx.save_for_backward(*xs)
        ctx.terms, ctx.rhs = terms, rhs
        return xp_of(*xs).einsum(",".join(terms) + "->" + rhs, *xs,
                                 optimize=len(xs) > 2)

    @staticmethod
    def backward(ctx, grad_output):
        xs = ctx.saved_tensors
        grads = []
        for i, (x, term) in enumerate(zip(xs, ctx.terms)):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            if len(set(term)) != len(term):
                raise NotImplementedError(
                    f"einsum: the gradient of term {term!r}, which repeats a letter (a "
                    "diagonal), is not supported")
            others = [t for j, t in enumerate(ctx.terms) if j != i]
            available = set(ctx.rhs).union(*others)
            kept = "".join(c for c in term if c in available)
            g = einsum(",".join([ctx.rhs] + others) + "->" + kept,
                       grad_output, *[t for j, t in enumerate(xs) if j != i])
            for axis, c in enumerate(term):
                if c not in available:
                    g = unsqueeze(g, axis)
            grads.append(broadcast_to(g, x.shape))
        return tuple(grads)


def einsum(subscripts, *operands):
    """Einstein summation, e.g. ``einsum('bij,bjk->bik', a, b)``; ``...`` is supported."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    terms, rhs = _parse_einsum(subscripts, [t.shape for t in operands])
    return Einsum.apply(*operands, terms=tuple(terms), rhs=rhs)


def mm(a, b):
    """Matrix product of two 2-D tensors (PyTorch's ``mm``: no broadcasting)."""
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: expected two 2-D tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def bmm(a, b):
    """Batched matrix product of (B, N, K) and (B, K, M) tensors (no broadcasting)."""
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: expected (B, N, K) and (B, K, M) tensors, got shapes {a.shape} "
                         f"and {b.shape}")
    return matmul(a, b)


def outer(a, b):
    """The outer product of two 1-D tensors: out[i, j] = a[i] * b[j]."""
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: expected two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return unsqueeze(a, 1) * unsqueeze(b, 0)


def _triangle(x, keep, op):
    if x.ndim < 2:
        raise ValueError(f"{op}: expected a tensor of at least 2 dims, got shape {x.shape}")
    from .elementwise import where
    return where(keep(xp_of(x.data).ones(x.shape[-2:], dtype=bool)), x, 0.0)


def tril(x, diagonal=0):
    """x with the entries above the ``diagonal``-th diagonal set to 0 (last two dims)."""
    return _triangle(x, lambda ones: xp_of(ones).tril(ones, diagonal), "tril")


def triu(x, diagonal=0):
    """x with the entries below the ``diagonal``-th diagonal set to 0 (last two dims)."""
    return _triangle(x, lambda ones: xp_of(ones).triu(ones, diagonal), "triu")


def diag(x, diagonal=0):
    """A 1-D x as the ``diagonal``-th diagonal of a square matrix; of a 2-D x, that diagonal."""
    from .index import getitem, index_add_to
    xp = xp_of(x.data)
    if x.ndim == 1:
        n = x.shape[0] + abs(diagonal)
        i = xp.arange(x.shape[0])
        rows, cols = (i, i + diagonal) if diagonal >= 0 else (i - diagonal, i)
        return index_add_to(x, (rows, cols), (n, n))
    if x.ndim != 2:
        raise ValueError(f"diag: expected a 1-D or 2-D tensor, got shape {x.shape}")
    i = xp.arange(x.shape[0])
    rows, cols = (i, i + diagonal) if diagonal >= 0 else (i - diagonal, i)
    keep = (rows < x.shape[0]) & (cols < x.shape[1])
    return getitem(x, (rows[keep], cols[keep]))


def norm(x, p=2, dim=None, keepdim=False):
    """The p-norm (Σ|x|^p)^(1/p) over ``dim`` (all entries when None); p may be 'fro' (2),
    inf or -inf (max or min of |x|)."""
    from .reduce import sum, amax, amin
    from .elementwise import abs, sqrt
    if p == "fro":
        p = 2
    if p == float("inf"):
        return amax(abs(x), dim, keepdim)
    if p == float("-inf"):
        return amin(abs(x), dim, keepdim)
    if p == 2:
        return sqrt(sum(x * x, dim, keepdim))
    if p == 1:
        return sum(abs(x), dim, keepdim)
    return sum(abs(x) ** p, dim, keepdim) ** (1.0 / p)
