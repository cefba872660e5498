"""Activation layers: each wraps one function of ``F`` and stores its settings.

They hold no parameters, except PReLU's learned slopes (``weight``). Layers that take
``inplace`` in PyTorch accept it so that PyTorch code ports unchanged, but always compute out of
place: minigrad refuses in-place changes to tensors its graph needs, and the results are the
same.

Notation
--------
*      any shape; every layer here returns the shape of its input
x      the input Tensor
"""
import warnings

import minigrad as mg
import minigrad.functional as F
from minigrad import Tensor
from minigrad.checks import check_int
from . import init as init_
from .linear import new_parameter
from .module import Module


def _inplace_repr(inplace, settings=""):
    """``settings`` followed by ", inplace=True" when ``inplace`` is set (PyTorch's repr)."""
    return ", ".join(filter(None, [settings, "inplace=True" if inplace else ""]))


def _check_tensor(layer, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a Tensor input, got {type(x).__name__}")


class _Pointwise(Module):
    """An activation layer: ``forward`` checks x and calls ``F.<_function>(x, *settings)``,
    the settings being the attributes named in ``_settings``."""

    _function = ""
    _settings = ()

    def forward(self, x):
        _check_tensor(type(self).__name__, x)
        return getattr(F, self._function)(x, *(getattr(self, name) for name in self._settings))


class _InplacePointwise(_Pointwise):
    """An activation that takes PyTorch's ``inplace`` (accepted, computed out of place); its
    repr lists its ``_settings`` and then ``inplace=True`` when set."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def extra_repr(self):
        return _inplace_repr(self.inplace, ", ".join(f"{name}={getattr(self, name)}"
                                                     for name in self._settings))


class _AlongDim(_Pointwise):
    """An activation along one axis ``dim`` (softmax and its kin)."""

    _settings = ("dim",)
    _none_is_last = True  # GLU takes no None

    def __init__(self, dim=-1):
        super().__init__()
        # None is the last axis here (PyTorch's implicit dim for None is deprecated there);
        # int() refuses what is not an axis before the first forward
        self.dim = -1 if dim is None and self._none_is_last else int(dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class ReLU(_InplacePointwise):
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

    _function = "relu"


class LeakyReLU(_InplacePointwise):
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

    _function, _settings = "leaky_relu", ("negative_slope",)

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__(inplace)
        self.negative_slope = negative_slope


class ELU(_InplacePointwise):
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

    _function, _settings = "elu", ("alpha",)

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        self.alpha = alpha


class SELU(_InplacePointwise):
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

    _function = "selu"


class GELU(_Pointwise):
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

    _function, _settings = "gelu", ("approximate",)

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Sigmoid(_Pointwise):
    """1 / (1 + exp(−x)).

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*), values in (0, 1)
    """

    _function = "sigmoid"


class Tanh(_Pointwise):
    """tanh(x).

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*), values in (−1, 1)
    """

    _function = "tanh"


class SiLU(_InplacePointwise):
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

    _function = "silu"


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


class Softmax(_AlongDim):
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

    _function = "softmax"


class LogSoftmax(_AlongDim):
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

    _function = "log_softmax"


class Hardtanh(_InplacePointwise):
    """x limited to [min_val, max_val]; the gradient is 0 at the bounds (PyTorch's rule).

    Parameters
    ----------
    min_val, max_val : float
        The bounds, min_val < max_val. ``min_value`` and ``max_value`` are their deprecated
        PyTorch spellings, accepted with a warning.
    inplace : bool
        Accepted for PyTorch compatibility.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*), values in [min_val, max_val]
    """

    _function, _settings = "hardtanh", ("min_val", "max_val")

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None,
                 max_value=None):
        super().__init__(inplace)
        if min_value is not None:
            warnings.warn("Hardtanh: min_value is deprecated, use min_val", DeprecationWarning,
                          stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("Hardtanh: max_value is deprecated, use max_val", DeprecationWarning,
                          stacklevel=2)
            max_val = max_value
        if not max_val > min_val:
            raise ValueError(f"{type(self).__name__}: max_val must be greater than min_val, got "
                             f"min_val={min_val}, max_val={max_val}")
        self.min_val = min_val
        self.max_val = max_val


class ReLU6(Hardtanh):
    """min(max(x, 0), 6): a Hardtanh with bounds 0 and 6, as in PyTorch (MobileNet's ReLU).

    Parameters
    ----------
    inplace : bool
        Accepted for PyTorch compatibility.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*), values in [0, 6]
    """

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_repr(self.inplace)


class Hardsigmoid(_InplacePointwise):
    """relu6(x + 3) / 6, a piecewise-linear sigmoid.

    Parameters
    ----------
    inplace : bool
        Accepted for PyTorch compatibility (PyTorch's repr does not show it either).

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*), values in [0, 1]
    """

    _function = "hardsigmoid"

    def extra_repr(self):
        return ""  # PyTorch shows no inplace here


class Hardswish(_InplacePointwise):
    """x · relu6(x + 3) / 6 (MobileNetV3's swish).

    Parameters
    ----------
    inplace : bool
        Accepted for PyTorch compatibility (PyTorch's repr does not show it either).

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    _function = "hardswish"

    def extra_repr(self):
        return ""  # PyTorch shows no inplace here


class Mish(_InplacePointwise):
    """x · tanh(softplus(x)) (Misra, 2019).

    Parameters
    ----------
    inplace : bool
        Accepted for PyTorch compatibility.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    _function = "mish"


class CELU(_InplacePointwise):
    """x for x > 0, ``alpha·(exp(x/alpha) − 1)`` otherwise (Barron, 2017).

    Parameters
    ----------
    alpha : float, not 0
    inplace : bool
        Accepted for PyTorch compatibility.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    _function, _settings = "celu", ("alpha",)

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        if alpha == 0:
            raise ValueError("CELU: alpha cannot be 0 (x is divided by it)")
        self.alpha = alpha


class Softsign(_Pointwise):
    """x / (1 + |x|).

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*), values in (−1, 1)
    """

    _function = "softsign"


class Softmin(_AlongDim):
    """softmax(−x) along ``dim``.

    Parameters
    ----------
    dim : int
        The axis that sums to 1. Defaults to the last axis, as ``Softmax`` does here.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    _function = "softmin"


class Tanhshrink(_Pointwise):
    """x − tanh(x).

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    _function = "tanhshrink"


class Softshrink(_Pointwise):
    """x − λ above λ, x + λ below −λ, 0 between.

    Parameters
    ----------
    lambd : float, >= 0

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    _function, _settings = "softshrink", ("lambd",)

    def __init__(self, lambd=0.5):
        super().__init__()
        if not lambd >= 0:
            raise ValueError(f"Softshrink: lambd must be >= 0, got {lambd}")
        self.lambd = lambd

    def extra_repr(self):
        return str(self.lambd)


class Hardshrink(_Pointwise):
    """x where |x| > λ, 0 elsewhere.

    Parameters
    ----------
    lambd : float

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    _function, _settings = "hardshrink", ("lambd",)

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def extra_repr(self):
        return str(self.lambd)


class Threshold(_InplacePointwise):
    """x where x > ``threshold``, ``value`` elsewhere.

    Parameters
    ----------
    threshold : float
    value : float
    inplace : bool
        Accepted for PyTorch compatibility.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*)
    """

    _function, _settings = "threshold", ("threshold", "value")

    def __init__(self, threshold, value, inplace=False):
        super().__init__(inplace)
        self.threshold = threshold
        self.value = value


class GLU(_AlongDim):
    """The gated linear unit a · sigmoid(b), a and b the halves of x along ``dim``.

    Parameters
    ----------
    dim : int

    Shape
    -----
    x : Tensor, shape (*, 2M, *) with 2M along ``dim``
    returns : Tensor, shape (*, M, *)
    """

    _function = "glu"
    _none_is_last = False


class LogSigmoid(_Pointwise):
    """log(sigmoid(x)) = −softplus(−x), finite for any x.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*), values <= 0
    """

    _function = "logsigmoid"


class PReLU(Module):
    """x for x > 0, ``weight·x`` otherwise, with learned slopes (He et al., 2015).

    Parameters
    ----------
    num_parameters : int
        1 (one slope shared by every entry) or the number of channels C (dim 1 of the input).
    init : float
        The initial slope.
    device, dtype : optional
        Where and in which float type to create the weight (default CPU, float32).

    Attributes
    ----------
    weight : Parameter, shape (num_parameters,)
        PyTorch's name, so state dicts exchange.

    Shape
    -----
    x : Tensor, shape (N, C, *), or any shape when num_parameters is 1
    returns : Tensor, shape of x

    Examples
    --------
    >>> import minigrad as mg
    >>> layer = PReLU(2, init=0.5)
    >>> layer(mg.tensor([[-2.0, -4.0]])).tolist()
    [[-1.0, -2.0]]
    >>> layer
    PReLU(num_parameters=2)
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = check_int("PReLU", "num_parameters", num_parameters, low=1)
        self.init = init
        self.weight = new_parameter((self.num_parameters,), device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        init_.constant_(self.weight, self.init)

    def forward(self, x):
        _check_tensor("PReLU", x)
        return F.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"
