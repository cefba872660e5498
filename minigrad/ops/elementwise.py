"""Elementwise primitives: arithmetic, exp/log, activations with a local derivative, selection.

Each Function's docstring gives the forward formula and its vector-Jacobian product. Inputs
broadcast as in NumPy; the engine sums each gradient back to its input's shape.

Notation
--------
x, y     inputs (arrays in forward, Tensors in backward)
out      the forward result
g        ``grad_output``, dL/d(out)
"""
import math

from ..autograd import Function
from ..backend import xp_of, kernels_for
from ..tensor import Tensor, raw


class Add(Function):
    """out = x + y;  dL/dx = g, dL/dy = g."""

    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, grad_output):
        return (grad_output, grad_output)


class Sub(Function):
    """out = x - y;  dL/dx = g, dL/dy = -g."""

    @staticmethod
    def forward(ctx, x, y):
        return x - y

    @staticmethod
    def backward(ctx, grad_output):
        return (grad_output, -grad_output if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """out = x * y;  dL/dx = g * y, dL/dy = g * x."""

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


class Exp(Function):
    """out = exp(x);  dL/dx = g * out."""

    @staticmethod
    def forward(ctx, x):
        out = xp_of(x).exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * out


class Log(Function):
    """out = log(x);  dL/dx = g / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).log(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output / x


class Sqrt(Function):
    """out = √x;  dL/dx = g / (2 out)."""

    @staticmethod
    def forward(ctx, x):
        out = xp_of(x).sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output / (out * 2)


class Sin(Function):
    """out = sin(x);  dL/dx = g * cos(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).sin(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * cos(x)


class Cos(Function):
    """out = cos(x);  dL/dx = -g * sin(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp_of(x).cos(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return -grad_output * sin(x)


class Tanh(Function):
    """out = tanh(x);  dL/dx = g * (1 - out²)."""

    @staticmethod
    def forward(ctx, x):
        out = xp_of(x).tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * (1 - out * out)


class Sigmoid(Function):
    """out = 1 / (1 + exp(-x));  dL/dx = g * out * (1 - out)."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        # exp(-|x|) never overflows: for x >= 0 it is 1/(1+e), for x < 0 it is e/(1+e).
        e = xp.exp(-xp.abs(x))
        out = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * out * (1 - out)


class Softplus(Function):
    """out = log(1 + exp(x));  dL/dx = g * sigmoid(x).

    Computed as max(x, 0) + log1p(exp(-|x|)), finite for any x, and promoted to a primitive for
    that reason: a composite of relu and abs would put a wrong derivative at exactly x = 0.
    """

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        ctx.save_for_backward(x)
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * sigmoid(x)


class Erf(Function):
    """out = erf(x);  dL/dx = g * 2/√π * exp(-x²)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return kernels_for(x).erf(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * (2 / math.sqrt(math.pi)) * exp(-(x * x))


class ReLU(Function):
    """out = max(x, 0);  dL/dx = g * [x > 0]. At the kink x = 0 the gradient is 0 (PyTorch's)."""

    @staticmethod
    def forward(ctx, x):
        ctx.mask = x > 0  # kept raw: only multiplied as a constant, its derivative is zero
        return xp_of(x).maximum(x, 0)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.mask


class Abs(Function):
    """out = |x|;  dL/dx = g * sign(x), with sign(0) = 0."""

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        ctx.sign = xp.sign(x)
        return xp.abs(x)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.sign


class Clip(Function):
    """out = min(max(x, low), high);  dL/dx = g where low <= x <= high, else 0."""

    @staticmethod
    def forward(ctx, x, low=None, high=None):
        xp = xp_of(x)
        inside = xp.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        ctx.inside = inside
        return xp.clip(x, low, high)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.inside


def _split_ties(ctx, out, picks_x, x, y):
    """Keep x's share of the gradient, w = 1 where x is picked, 1/2 on a tie, else 0; return out.

    Splitting ties evenly keeps the gradient symmetric in x and y and a valid subgradient. The
    weight is raw (locally constant, derivative zero) and in out's dtype, so grads keep theirs.
    """
    ctx.weight_x = (picks_x + 0.5 * (x == y)).astype(out.dtype)
    return out


class Maximum(Function):
    """out = max(x, y);  dL/dx = g * w, dL/dy = g * (1 - w), w = [x > y] + [x = y] / 2."""

    @staticmethod
    def forward(ctx, x, y):
        return _split_ties(ctx, xp_of(x, y).maximum(x, y), x > y, x, y)

    @staticmethod
    def backward(ctx, grad_output):
        return (grad_output * ctx.weight_x, grad_output * (1 - ctx.weight_x))


class Minimum(Function):
    """out = min(x, y);  dL/dx = g * w, dL/dy = g * (1 - w), w = [x < y] + [x = y] / 2."""

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
        ctx.cond = cond.astype(bool, copy=False)
        return xp_of(cond, x, y).where(ctx.cond, x, y)

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
exp = Exp.apply
log = Log.apply
sqrt = Sqrt.apply
sin = Sin.apply
cos = Cos.apply
tanh = Tanh.apply
sigmoid = Sigmoid.apply
softplus = Softplus.apply
erf = Erf.apply
relu = ReLU.apply
abs = Abs.apply


pow = Pow.apply          # x ** p, p a number or a Tensor
maximum = Maximum.apply  # ties share the gradient evenly
minimum = Minimum.apply


def clip(x, low=None, high=None):
    """Limit x to [low, high] (either bound may be None)."""
    return Clip.apply(x, low=low, high=high)


def where(cond, x, y):
    """x where ``cond`` is true, else y. ``cond`` is a boolean array or Tensor (no gradient)."""
    cond = raw(cond)
    return Where.apply(x, y, cond=xp_of(cond, raw(x), raw(y)).asarray(cond))


def cast(x, dtype):
    """x converted to ``dtype``, differentiably (no-op when it already has it)."""
    if x.dtype == dtype:
        return x
    return Cast.apply(x, dtype=dtype)
