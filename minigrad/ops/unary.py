"""Elementwise functions of one input with a local derivative: exp, log, sqrt, sin, cos, tanh,
sigmoid, softplus, erf, relu, abs and clip, and ``Activation``, one node for an activation given
by its value, slope and curvature (the piecewise-linear ones, the elu family, hardswish).

Each Function's docstring gives the forward formula and its vector-Jacobian product, which is
the incoming gradient times the derivative at the same point, so each backward is one product.
Where a formula has a kink (relu, abs, clip) the convention at the kink is PyTorch's, and the
mask that carries it is kept as a raw array: it is only multiplied by, never differentiated.
They are re-exported by ``minigrad.ops.elementwise``, where the arithmetic and selection live.
A backward written with operators alone is marked ``backward_on_arrays`` (an unrecorded backward
pass runs it on raw arrays; see ``Function``); those calling sin, cos, exp or sigmoid are not.

Notation
--------
x        the input (an array in forward, a Tensor in backward)
out      the forward result
g        ``grad_output``, dL/d(out)
"""
import math

import numpy as np

from ..autograd import Function
from ..backend import xp_of, kernels_for
from ..grad_mode import is_grad_enabled
from ..tensor import Tensor
from . import elementwise  # where(), at call time: elementwise imports this module


def select(cond, a, b):
    """``a`` where the raw bool array ``cond`` else ``b``, on raw arrays or numbers: the array
    module's where, through the kernels (on the CPU a vectorised select instead of NumPy's
    branching loop; ``kernels/cpu/activation.py``)."""
    kernels = kernels_for(next((v for v in (a, b) if hasattr(v, "shape")), cond))
    if kernels.select_takes(cond, a, b):
        return kernels.select(cond, a, b)
    return xp_of(cond, a, b).where(cond, a, b)


class Exp(Function):
    """out = exp(x);  dL/dx = g * out."""
    backward_on_arrays = True

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
    backward_on_arrays = True

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
    backward_on_arrays = True

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
    backward_on_arrays = True

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
    backward_on_arrays = True

    @staticmethod
    def forward(ctx, x):
        xp = xp_of(x)
        # exp(-|x|) never overflows: for x >= 0 it is 1/(1+e), for x < 0 it is e/(1+e).
        e = xp.exp(-xp.abs(x))
        out = select(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
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
        # x² overflows to inf beyond |x| ~ 1.8e19 in float32 (1.3e154 in float64), where
        # exp(-inf) = 0 is the right factor: NumPy's overflow warning there is noise. CuPy never
        # warns, and np.errstate touches only NumPy's state, so this serves both backends.
        with np.errstate(over="ignore"):
            return grad_output * (2 / math.sqrt(math.pi)) * exp(-(x * x))


def _relu_kernel_takes(*arrays):
    """Whether the ReLU kernels take these arrays: float32/float64, C-contiguous, one dtype."""
    return (arrays[0].dtype in _RELU_KERNEL_DTYPES and len({a.dtype for a in arrays}) == 1
            and all(a.flags.c_contiguous for a in arrays))


_RELU_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class ReLU(Function):
    """out = max(x, 0);  dL/dx = g where out > 0, else 0. At the kink x = 0 the gradient is 0,
    and it stays 0 where out is not positive even for a NaN or infinite g (PyTorch's rules).

    C-contiguous float32/float64 arrays take one kernel pass each way (kernels/*/activation.py:
    NumPy's ``g * (out > 0)`` is a mask pass and a product pass); other arrays, and the
    backward under ``create_graph`` (written in ops, so it can be differentiated again), take
    the same rule from the array module.
    """

    @staticmethod
    def forward(ctx, x):
        # The output tells where x > 0, so forward makes one array, not a second (mask) one.
        out = kernels_for(x).relu(x) if _relu_kernel_takes(x) else xp_of(x).maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        if not is_grad_enabled() and _relu_kernel_takes(grad_output.data, out.data):
            return Tensor._wrap(kernels_for(out.data).relu_backward(grad_output.data, out.data))
        return ActivationSlope.apply(grad_output, out,
                                     rule=PiecewiseLinearRule(out.data > 0, (1, None)))


class Activation(Function):
    """An elementwise activation f given by a rule:  out = f(x);  dL/dx = ``ActivationSlope(g, x)``,
    g · f'(x).

    A rule (``PiecewiseLinearRule``, ``ELURule``, ``HardswishRule``) holds f's three pieces:

    value(x)            f(x), on raw arrays (``value=`` gives it instead, computed by the caller)
    times_slope(g, x)   g · f'(x), on raw arrays: exactly 0 on a constant piece, even for an
                        infinite or NaN g (PyTorch's rule)
    curvature(x)        f''(x) from the saved Tensor x: ops or a raw array, None where f is
                        piecewise linear (0)

    Why one node with its own gradient node rather than a ``where`` over the pieces: the piece
    not taken never meets the gradient (as a where, x·(x + 3) in hardswish sent 0·inf = NaN back
    from an infinite x); the masks are PyTorch's even where a composition cannot give them (elu's
    slope takes the exp piece at 0, its curvature does not); and the gradient stays connected to
    x, as PyTorch's backward nodes keep their input, so a second ``grad`` with respect to x gives
    the zeros it is for a piecewise-linear f (a Hessian of a ReLU net) instead of an error that
    x was never reached.
    """

    @staticmethod
    def forward(ctx, x, *, rule, value=None):
        ctx.save_for_backward(x)
        ctx.rule = rule
        return rule.value(x) if value is None else value

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return ActivationSlope.apply(grad_output, x, rule=ctx.rule)


class ActivationSlope(Function):
    """out = g · f'(x) for ``rule``'s f (see ``Activation``).
    Linear in g: dL/dg = ActivationSlope(gg, x);  dL/dx = gg · g · f''(x), zeros where f is
    piecewise linear."""

    @staticmethod
    def forward(ctx, g, x, *, rule):
        ctx.save_for_backward(g, x)
        ctx.rule = rule
        return rule.times_slope(g, x)

    @staticmethod
    def backward(ctx, grad_output):
        g, x = ctx.saved_tensors
        grad_g = grad_x = None
        if ctx.needs_input_grad[0]:
            grad_g = ActivationSlope.apply(grad_output, x, rule=ctx.rule)
        if ctx.needs_input_grad[1]:
            curvature = ctx.rule.curvature(x)
            grad_x = (Tensor._wrap(xp_of(x.data).zeros_like(x.data)) if curvature is None
                      else grad_output * g * curvature)
        return (grad_g, grad_x)


class PiecewiseLinearRule:
    """f linear on each of two pieces: ``mask`` (a raw bool array) says which piece each element
    is on, ``slopes = (on True, on False)`` the slope there: None for a constant piece, 1, or a
    number g is multiplied by. relu's gradient, leaky_relu, hardtanh, relu6, hardshrink,
    softshrink and threshold use it; their values are the caller's."""

    def __init__(self, mask, slopes):
        self.mask, self.slopes = mask, slopes

    def times_slope(self, g, x):
        with np.errstate(invalid="ignore"):  # inf * 0 is NaN, as in PyTorch's leaky_relu
            on, off = [0 if s is None else g if s == 1 else g * s for s in self.slopes]
        return select(self.mask, on, off).astype(g.dtype, copy=False)

    def curvature(self, x):
        return None


class ELURule:
    """elu, selu and celu: f(x) = scale·x for x > 0, else scale·α·(exp(s·x) − 1), with
    s = ``input_scale`` (1, or 1/α for celu). PyTorch's masks: the slope takes the exp piece
    where x <= 0 (α·s·scale at 0; a NaN x takes the x piece, slope scale), the curvature only
    where x < 0, so f'' at 0 is 0. exp only sees min(x, 0): no overflow for s > 0."""

    def __init__(self, alpha, scale, input_scale):
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale

    def _exp(self, x):
        """exp(s·min(x, 0)) in x's dtype."""
        xp = xp_of(x)
        return xp.exp(xp.minimum(x, 0) * self.input_scale).astype(x.dtype, copy=False)

    def value(self, x):
        out = select(x <= 0, (self._exp(x) - 1) * self.alpha, x)
        return out * self.scale if self.scale != 1 else out

    def times_slope(self, g, x):
        steep = self._exp(x) * (self.scale * self.alpha * self.input_scale)
        return g * select(x <= 0, steep, float(self.scale))

    def curvature(self, x):
        s = self.input_scale
        return elementwise.where(x.data < 0, (x.clip(None, 0.0) * s).exp() * (
            self.scale * self.alpha * s * s), 0.0)


class HardswishRule:
    """f(x) = 0 for x <= −3, x·(x + 3)/6 for −3 < x < 3, x for x >= 3 (a NaN stays NaN);
    PyTorch's gradient: f' = 0 for x <= −3, x/3 + 1/2 between, 1 for x >= 3 and for a NaN;
    f'' = 1/3 strictly between −3 and 3, 0 elsewhere."""

    def value(self, x):
        middle = select(x < 3, (x * (x + 3) / 6).astype(x.dtype, copy=False), x)
        return select(x <= -3, 0, middle).astype(x.dtype, copy=False)

    def times_slope(self, g, x):
        inside = select(x < 3, (x / 3 + 0.5).astype(x.dtype, copy=False), 1.0)
        return g * select(x <= -3, 0.0, inside.astype(x.dtype, copy=False))

    def curvature(self, x):
        return ((x.data > -3) & (x.data < 3)).astype(x.dtype) / 3


class Abs(Function):
    """out = |x|;  dL/dx = g * sign(x), with sign(0) = 0."""
    backward_on_arrays = True

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
    backward_on_arrays = True

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


def clip(x, low=None, high=None):
    """Limit x to [low, high] (either bound may be None)."""
    return Clip.apply(x, low=low, high=high)


def clamp(x, min=None, max=None):
    """:func:`clip` under PyTorch's name and keywords: ``clamp(x, min=0.0)``."""
    return Clip.apply(x, low=min, high=max)
