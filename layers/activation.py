"""Activation layers: each wraps one function of ``F`` and stores its settings.

They hold no parameters. Layers that take ``inplace`` in PyTorch accept it so that PyTorch code
ports unchanged, but always compute out of place: minigrad refuses in-place changes to tensors
its graph needs, and the results are the same.

Notation
--------
*      any shape; every layer here returns the shape of its input
x      the input Tensor
"""
import minigrad as mg
import minigrad.functional as F
from minigrad import Tensor
from .module import Module


def _inplace_repr(inplace):
    return "inplace=True" if inplace else ""


def _check_tensor(layer, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a Tensor input, got {type(x).__name__}")


class ReLU(Module):
    """max(x, 0) elementwise.

    Parameters
    ----------
    inplace : bool
        Accepted for PyTorch compatibility; the result is computed out of place.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        _check_tensor("ReLU", x)
        return F.relu(x)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope·x`` otherwise.

    Parameters
    ----------
    negative_slope : float
    inplace : bool
        Accepted for PyTorch compatibility.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = bool(inplace)

    def forward(self, x):
        _check_tensor("LeakyReLU", x)
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return ", ".join(filter(None, [f"negative_slope={self.negative_slope}",
                                       _inplace_repr(self.inplace)]))


class ELU(Module):
    """x for x > 0, ``alpha·(exp(x) − 1)`` otherwise (Clevert et al., 2015).

    Parameters
    ----------
    alpha : float
    inplace : bool
        Accepted for PyTorch compatibility.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = bool(inplace)

    def forward(self, x):
        _check_tensor("ELU", x)
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return ", ".join(filter(None, [f"alpha={self.alpha}", _inplace_repr(self.inplace)]))


class SELU(Module):
    """``scale·elu(x, alpha)`` with the self-normalising constants (Klambauer et al., 2017).

    Parameters
    ----------
    inplace : bool
        Accepted for PyTorch compatibility.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        _check_tensor("SELU", x)
        return F.selu(x)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class GELU(Module):
    """x·Φ(x), Φ the standard normal CDF (Hendrycks & Gimpel, 2016).

    Parameters
    ----------
    approximate : {'none', 'tanh'}
        'tanh' uses ``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        _check_tensor("GELU", x)
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """1 / (1 + exp(−x)).

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*), values in (0, 1)
    """

    def forward(self, x):
        _check_tensor("Sigmoid", x)
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x).

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*), values in (−1, 1)
    """

    def forward(self, x):
        _check_tensor("Tanh", x)
        return F.tanh(x)


class SiLU(Module):
    """x·sigmoid(x) (also called swish).

    Parameters
    ----------
    inplace : bool
        Accepted for PyTorch compatibility.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x):
        _check_tensor("SiLU", x)
        return F.silu(x)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class Softplus(Module):
    """(1/beta)·log(1 + exp(beta·x)), a smooth ReLU; linear where ``beta·x > threshold``.

    Parameters
    ----------
    beta : float
    threshold : float
        Above it the exact value differs from x by less than float precision, so x is used,
        as in PyTorch.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        if not beta > 0:
            raise ValueError(f"Softplus: beta must be > 0, got {beta}")
        self.beta = beta
        self.threshold = threshold

    def forward(self, x):
        _check_tensor("Softplus", x)
        scaled = x * self.beta if self.beta != 1 else x
        smooth = F.softplus(scaled)
        if self.beta != 1:
            smooth = smooth * (1.0 / self.beta)
        return mg.where(scaled.data > self.threshold, x, smooth)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """exp(x) / Σ exp(x) along ``dim``.

    Parameters
    ----------
    dim : int
        The axis that sums to 1. Defaults to the last axis; PyTorch's implicit choice for
        ``dim=None`` is deprecated there.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = -1 if dim is None else int(dim)

    def forward(self, x):
        _check_tensor("Softmax", x)
        return F.softmax(x, dim=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log(softmax(x)) along ``dim``, computed as x − logsumexp(x) (finite for any logits).

    Parameters
    ----------
    dim : int
        Defaults to the last axis.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = -1 if dim is None else int(dim)

    def forward(self, x):
        _check_tensor("LogSoftmax", x)
        return F.log_softmax(x, dim=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"

