"""Elementwise arithmetic (+ - * / ** and negation), selection (maximum, minimum, where) and the
dtype cast: the primitives behind the Tensor's operators.

Each Function's docstring gives the forward formula and its vector-Jacobian product. Inputs
broadcast as in NumPy; the engine sums each gradient back to its input's shape. The functions of
one input with a local derivative (exp, log, the activations, clip) are in ``ops/unary.py`` and
re-exported here, so ``elementwise.Exp`` and ``from minigrad.ops.elementwise import relu`` work
as they did before the family was split.

A backward written with operators alone is marked ``backward_on_arrays``: an unrecorded backward
pass runs it on raw arrays, skipping a Tensor and an op's bookkeeping per step (see ``Function``).
Pow and Where call minigrad functions (log, where), so they are not marked.

Notation
--------
x, y     inputs (arrays in forward, Tensors in backward, arrays in one marked
         ``backward_on_arrays`` when the pass is not recorded)
out      the forward result
g        ``grad_output``, dL/d(out)
"""
from ..autograd import Function
from ..backend import xp_of
from ..tensor import Tensor, raw
from .unary import (clamp, select, Abs, Clip, Cos, Erf, Exp, Log, ReLU, Sigmoid, Sin, Softplus,  # noqa: F401,E501
                    Sqrt, Tanh, abs, clip, cos, erf, exp, log, relu, sigmoid, sin, softplus,
                    sqrt, tanh)


class Add(Function):
    """out = x + y;  dL/dx = g, dL/dy = g."""
    backward_on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, grad_output):
        return (grad_output, grad_output)


class Sub(Function):
    """out = x - y;  dL/dx = g, dL/dy = -g."""
    backward_on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        return x - y

    @staticmethod
    def backward(ctx, grad_output):
        return (grad_output, -grad_output if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """out = x * y;  dL/dx = g * y, dL/dy = g * x."""
    backward_on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, grad_output):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        return (grad_output * y if need_x else None, grad_output * x if need_y else None)


class Div(Function):
    """out = x / y;  dL/dx = g / y, dL/dy = -(g / y) * out.

    Written with out rather than as -g·x/y²: y² underflows to 0 (or overflows) long before
    x/y does, e.g. for y = 1e-30 in float32.
    """
    backward_on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        out = x / y
        ctx.save_for_backward(y, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        y, out = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        grad_x = grad_output / y
        return (grad_x if need_x else None, -grad_x * out if need_y else None)


class Neg(Function):
    """out = -x;  dL/dx = -g."""
    backward_on_arrays = True

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, grad_output):
        return -grad_output


class Pow(Function):
    """out = x ** p;  dL/dx = g * p * x**(p-1), dL/dp = g * out * log(x).

    At the points where the formulas read 0 * inf, the limits are finite and taken instead
    (PyTorch's conventions): dL/dx = 0 where p = 0, and dL/dp = 0 where x = 0 and p >= 0.
    """

    @staticmethod
    def forward(ctx, x, p):
        out = x ** p
        ctx.save_for_backward(x, p, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, p, out = ctx.saved_tensors
        need_x, need_p = ctx.needs_input_grad
        grad_x = grad_output * p * x ** _exponent_minus_one(p) if need_x else None
        grad_p = None
        if need_p:
            # log(0) is -inf while out is 0 (p > 0) or the term is 0 by convention (p = 0):
            # log of 1 there gives that 0 without an inf for any derivative order to meet.
            zero_base = (raw(x) == 0) & (raw(p) >= 0)
            grad_p = grad_output * out * log(where(zero_base, 1.0, x))
        return (grad_x, grad_p)


def _exponent_minus_one(p):
    """p - 1, except 0 where p = 0: then the factor p in p * x**(p-1) is 0 anyway, and x**0 = 1
    keeps 0 * x**(-1) = 0 * inf = nan out of x = 0 (and out of every higher derivative)."""
    if isinstance(p, Tensor):
        return where(p.data == 0, 1.0, p) - 1
    return p - 1 if p != 0 else 0


def _split_ties(ctx, out, picks_x, x, y):
    """Keep x's share of the gradient, w = 1 where x is picked, 1/2 on a tie, else 0; return out.

    Splitting ties evenly keeps the gradient symmetric in x and y and a valid subgradient. The
    weight is raw (locally constant, derivative zero) and in out's dtype, so grads keep theirs.
    """
    ctx.weight_x = (picks_x + 0.5 * (x == y)).astype(out.dtype)
    return out


class Maximum(Function):
    """out = max(x, y);  dL/dx = g * w, dL/dy = g * (1 - w), w = [x > y] + [x = y] / 2."""
    backward_on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        return _split_ties(ctx, xp_of(x, y).maximum(x, y), x > y, x, y)

    @staticmethod
    def backward(ctx, grad_output):
        return (grad_output * ctx.weight_x, grad_output * (1 - ctx.weight_x))


class Minimum(Function):
    """out = min(x, y);  dL/dx = g * w, dL/dy = g * (1 - w), w = [x < y] + [x = y] / 2."""
    backward_on_arrays = True

    @staticmethod
    def forward(ctx, x, y):
        return _split_ties(ctx, xp_of(x, y).minimum(x, y), x < y, x, y)

    @staticmethod
    def backward(ctx, grad_output):
        return (grad_output * ctx.weight_x, grad_output * (1 - ctx.weight_x))


class Where(Function):
    """out = x where cond else y;  dL/dx = g where cond, dL/dy = g elsewhere.

    ``cond`` is a keyword argument: a raw boolean array, compared with, never differentiated.
    """

    @staticmethod
    def forward(ctx, x, y, cond):
        # A copy even when cond is already bool: it may be the caller's array or a bool Tensor's,
        # and a change to it in place before backward must not move the gradient.
        ctx.cond = cond.astype(bool)
        return select(ctx.cond, x, y)

    @staticmethod
    def backward(ctx, grad_output):
        need_x, need_y = ctx.needs_input_grad
        grad_x = where(ctx.cond, grad_output, 0) if need_x else None
        grad_y = where(ctx.cond, 0, grad_output) if need_y else None
        return (grad_x, grad_y)


class Cast(Function):
    """out = x converted to ``dtype``;  dL/dx = g converted back to x's dtype."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, grad_output):
        return cast(grad_output, ctx.dtype)


add = Add.apply
sub = Sub.apply
mul = Mul.apply
div = Div.apply
neg = Neg.apply
pow = Pow.apply          # x ** p, p a number or a Tensor
maximum = Maximum.apply  # ties share the gradient evenly
minimum = Minimum.apply


def where(cond, x, y):
    """x where ``cond`` is true, else y. ``cond`` is a boolean array or Tensor (no gradient)."""
    cond = raw(cond)
    return Where.apply(x, y, cond=xp_of(cond, raw(x), raw(y)).asarray(cond))


def cast(x, dtype):
    """x converted to ``dtype``, differentiably (no-op when it already has it)."""
    if x.dtype == dtype:
        return x
    return Cast.apply(x, dtype=dtype)
