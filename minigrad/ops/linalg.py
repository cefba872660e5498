"""Linear algebra: matrix products with NumPy's broadcasting rules, and einsum.

Notation
--------
a, b     operands of ``a @ b``; a 1-D operand is a vector (promoted, then the axis dropped)
...      batch axes, broadcast between the operands
"""
import string

from ..autograd import Function
from ..backend import xp_of
from .shape import reshape, transpose, broadcast_to, unsqueeze


def _swap_last(t):
    return transpose(t, -1, -2)


class MatMul(Function):
    """out = a @ b;  dL/da = g @ bᵀ, dL/db = aᵀ @ g (batch axes summed back by the engine)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return xp_of(a, b).matmul(a, b)

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
