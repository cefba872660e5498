"""Affine layers: Linear (x Wᵀ + b) and Bilinear (x1ᵀ W x2 + b).

Parameter names, layouts and default initialisation are PyTorch's, so a converted PyTorch
state dict loads into these layers and gives the same outputs.

Notation
--------
*            any leading (batch) axes, the same on input and output
in, out      ``in_features`` and ``out_features``
in1, in2     the two input sizes of Bilinear
"""
import math

import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad import Tensor
from . import init
from minigrad.checks import check_int
from .module import Module
from .parameter import Parameter


def new_parameter(shape, device=None, dtype=None):
    """An uninitialised (zero) float Parameter; the layer's ``reset_parameters`` fills it."""
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    if dtype.kind != "f":
        raise TypeError(f"layer parameters must be floating point, got dtype {dtype}")
    return Parameter(mg.zeros(shape, dtype=dtype, device=device))


def check_input(layer, x, axis, size, layout):
    """A clear error unless ``x`` is a Tensor whose axis ``axis`` has length ``size``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim == 0 or x.shape[axis] != size:
        raise ValueError(f"{layer}: expected an input of shape {layout} with {size} there, got "
                         f"shape {x.shape}")


class Linear(Module):
    """y = x Wᵀ + b.

    Parameters
    ----------
    in_features : int
    out_features : int
    bias : bool
        Whether to learn the additive bias.
    device, dtype : optional
        Where and in which float type to create the parameters (default CPU, float32).

    Attributes
    ----------
    weight : Parameter, shape (out, in)
        Initialised U(−1/√in, 1/√in) (PyTorch's ``kaiming_uniform_(a=√5)``).
    bias : Parameter, shape (out,), or None
        Initialised U(−1/√in, 1/√in).

    Shape
    -----
    x : Tensor, shape (*, in)
    returns : Tensor, shape (*, out)

    Examples
    --------
    >>> import minigrad as mg
    >>> layer = Linear(4, 3)
    >>> layer(mg.randn(2, 4)).shape
    (2, 3)
    >>> layer
    Linear(in_features=4, out_features=3, bias=True)
    """

    def __init__(self, in_features, out_features, bias=True, *, device=None, dtype=None):
        super().__init__()
        self.in_features = check_int("Linear", "in_features", in_features, low=0)
        self.out_features = check_int("Linear", "out_features", out_features, low=0)
        self.weight = new_parameter((self.out_features, self.in_features), device, dtype)
        if bias:
            self.bias = new_parameter((self.out_features,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_linear_init_(self.weight, self.bias)

    def forward(self, x):
        check_input("Linear", x, -1, self.in_features, "(*, in_features)")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """y_o = Σ_ij x1_i W_oij x2_j + b_o: every product of an x1 and an x2 entry, weighted.

    Parameters
    ----------
    in1_features, in2_features, out_features : int
    bias : bool
    device, dtype : optional

    Attributes
    ----------
    weight : Parameter, shape (out, in1, in2)
        Initialised U(−1/√in1, 1/√in1), as PyTorch.
    bias : Parameter, shape (out,), or None
        Initialised U(−1/√in1, 1/√in1).

    Shape
    -----
    x1 : Tensor, shape (*, in1)
    x2 : Tensor, shape (*, in2)
    returns : Tensor, shape (*, out)
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, *, device=None,
                 dtype=None):
        super().__init__()
        self.in1_features = check_int("Bilinear", "in1_features", in1_features, 1)
        self.in2_features = check_int("Bilinear", "in2_features", in2_features, 1)
        self.out_features = check_int("Bilinear", "out_features", out_features, 1)
        shape = (self.out_features, self.in1_features, self.in2_features)
        self.weight = new_parameter(shape, device, dtype)
        if bias:
            self.bias = new_parameter((self.out_features,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x1, x2):
        check_input("Bilinear", x1, -1, self.in1_features, "(*, in1_features)")
        check_input("Bilinear", x2, -1, self.in2_features, "(*, in2_features)")
        if x1.shape[:-1] != x2.shape[:-1]:
            raise ValueError(f"Bilinear: the leading axes of x1 {x1.shape} and x2 {x2.shape} "
                             "must match")
        out, in1, in2 = self.weight.shape
        # one matmul: (*, in1) @ (in1, out*in2) -> (*, out, in2), then contract with x2
        w = self.weight.permute(1, 0, 2).reshape(in1, out * in2)
        t = (x1 @ w).reshape(x1.shape[:-1] + (out, in2))
        y = (t * x2.unsqueeze(-2)).sum(-1)
        return y + self.bias if self.bias is not None else y

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
