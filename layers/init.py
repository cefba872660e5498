"""Weight initialisation, with PyTorch's names, formulas and fan computation.

Each ``*_`` function overwrites ``tensor.data`` in place (under ``no_grad``, so it is allowed on a
Parameter), keeps the Tensor object and its array, and returns the tensor. Random values come
from the global generator of the tensor's array module (NumPy or CuPy), which
``mg.manual_seed`` seeds.

Why the scales: a layer with ``fan_in`` inputs of unit variance and weights of variance ``s²``
has outputs of variance ``fan_in·s²``. Kaiming (He et al., 2015) picks ``s = gain/√fan_in`` so
the variance survives a ReLU stack (gain √2 makes up for the half that ReLU zeroes); Xavier
(Glorot & Bengio, 2010) compromises between the forward and backward pass with
``s = gain·√(2/(fan_in + fan_out))``. A uniform U(−b, b) has standard deviation ``b/√3``.

Notation
--------
fan_in     inputs feeding one output: ``shape[1] * KH * KW`` for a weight (out, in, KH, KW)
fan_out    outputs fed by one input: ``shape[0] * KH * KW``
gain       the factor recommended for the nonlinearity that follows (see calculate_gain)
"""
import math

from minigrad import Tensor, no_grad
from minigrad.backend import xp_of


def calculate_gain(nonlinearity, param=None):
    """The recommended scale for weights followed by ``nonlinearity``.

    Parameters
    ----------
    nonlinearity : str
        'linear', 'identity', 'conv1d', 'conv2d', 'conv3d', 'conv_transpose1d',
        'conv_transpose2d', 'conv_transpose3d', 'sigmoid' (all 1), 'tanh' (5/3), 'relu' (√2),
        'leaky_relu' (√(2 / (1 + slope²))) or 'selu' (3/4).
    param : float, optional
        The negative slope of 'leaky_relu' (default 0.01).

    >>> calculate_gain('relu') == math.sqrt(2)
    True
    """
    unit = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
            "conv_transpose2d", "conv_transpose3d", "sigmoid")
    if nonlinearity in unit:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: the negative slope {param!r} of leaky_relu must "
                             "be a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one "
                     f"of {', '.join(unit + ('tanh', 'relu', 'leaky_relu', 'selu'))}")


def calculate_fan_in_and_fan_out(tensor):
    """``(fan_in, fan_out)`` of a weight of shape (out, in, *kernel), PyTorch's rule.

    Parameters
    ----------
    tensor : Tensor, shape (A, B, *K) with at least 2 axes
        A Linear weight (out, in), a Conv2d weight (C_out, C_in // groups, KH, KW), or a
        ConvTranspose2d weight (C_in, C_out // groups, KH, KW), whose axes 0 and 1 are swapped
        relative to the data flow, so its "fan_in" here is ``C_out // groups * KH * KW``,
        exactly as PyTorch computes it.

    Returns
    -------
    (int, int)
        ``fan_in = B * prod(K)``, ``fan_out = A * prod(K)``.
    """
    shape = _shape_of(tensor, "calculate_fan_in_and_fan_out")
    if len(shape) < 2:
        raise ValueError(f"calculate_fan_in_and_fan_out: fans are defined for tensors with at "
                         f"least 2 axes (out, in, *kernel), got shape {shape}")
    receptive_field = math.prod(shape[2:])
    return (shape[1] * receptive_field, shape[0] * receptive_field)


def _shape_of(tensor, op):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    return tuple(tensor.shape)


def _fan(tensor, mode, op):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor, values):
    """Write ``values`` (an array on the tensor's device) into ``tensor`` in place."""
    with no_grad():
        tensor.copy_(values.astype(tensor.dtype, copy=False))
    return tensor


def _check_float(tensor, op):
    _shape_of(tensor, op)
    if tensor.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {tensor.dtype}")


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with samples of U(a, b)."""
    _check_float(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b, got a={a}, b={b}")
    xp = xp_of(tensor.data)
    return _fill(tensor, xp.random.uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with samples of N(mean, std²)."""
    _check_float(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    xp = xp_of(tensor.data)
    return _fill(tensor, xp.random.normal(mean, std, tensor.shape))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0):
    """Fill with N(mean, std²) conditioned on [a, b] (bounds in absolute units, as PyTorch).

    Sampled by rejection: draw normals, keep those inside [a, b], repeat for the rest. Each round
    draws enough for all missing entries given the interval's probability, so it ends in a few.
    """
    _check_float(tensor, "trunc_normal_")
    if not (std > 0 and a < b):
        raise ValueError(f"trunc_normal_: expected std > 0 and a < b, got std={std}, a={a}, "
                         f"b={b}")
    def cdf(z):
        return 0.5 * (1 + math.erf((z - mean) / (std * math.sqrt(2))))

    mass = cdf(b) - cdf(a)
    if mass < 1e-6:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] holds probability {mass:.2e} of "
                         f"N({mean}, {std}²); the rejection sampler would not finish")
    xp = xp_of(tensor.data)
    need = tensor.numel()
    kept = []
    while need > 0:
        draw = xp.random.normal(mean, std, int(need / mass * 1.2) + 16)
        inside = draw[(draw >= a) & (draw <= b)][:need]
        kept.append(inside)
        need -= int(inside.size)
    return _fill(tensor, xp.concatenate(kept).reshape(tensor.shape))


def constant_(tensor, val):
    """Fill with the value ``val``."""
    _shape_of(tensor, "constant_")
    with no_grad():
        tensor.copy_(val)
    return tensor


def zeros_(tensor):
    """Fill with 0."""
    return constant_(tensor, 0)


def ones_(tensor):
    """Fill with 1."""
    return constant_(tensor, 1)


def xavier_uniform_(tensor, gain=1.0):
    """Fill with U(−b, b), ``b = gain·√(6/(fan_in + fan_out))`` (Glorot & Bengio, 2010).

    Parameters
    ----------
    tensor : Tensor, shape (out, in, *kernel)
    gain : float
    """
    _check_float(tensor, "xavier_uniform_")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """Fill with N(0, s²), ``s = gain·√(2/(fan_in + fan_out))``.

    Parameters
    ----------
    tensor : Tensor, shape (out, in, *kernel)
    gain : float
    """
    _check_float(tensor, "xavier_normal_")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """Fill with U(−b, b), ``b = gain·√(3/fan)`` (He et al., 2015).

    Parameters
    ----------
    tensor : Tensor, shape (out, in, *kernel)
    a : float
        The negative slope of the leaky ReLU that follows (0 for ReLU); used only when
        ``nonlinearity='leaky_relu'``. Linear and Conv layers use ``a=√5``, which makes
        ``b = 1/√fan_in``, PyTorch's default.
    mode : {'fan_in', 'fan_out'}
        Preserve the variance of the forward pass ('fan_in') or of the backward pass.
    nonlinearity : str
        As in :func:`calculate_gain`.
    """
    _check_float(tensor, "kaiming_uniform_")
    if tensor.numel() == 0:
        return tensor
    fan = _fan(tensor, mode, "kaiming_uniform_")
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """Fill with N(0, s²), ``s = gain/√fan``; arguments as in :func:`kaiming_uniform_`.

    Parameters
    ----------
    tensor : Tensor, shape (out, in, *kernel)
    """
    _check_float(tensor, "kaiming_normal_")
    if tensor.numel() == 0:
        return tensor
    fan = _fan(tensor, mode, "kaiming_normal_")
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


def orthogonal_(tensor, gain=1.0):
    """Fill with a (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013).

    The tensor is viewed as a matrix (shape[0], prod(shape[1:])). QR of a Gaussian matrix gives
    an orthonormal Q; multiplying each column by the sign of R's diagonal makes Q uniformly
    (Haar) distributed instead of biased by the QR convention.

    Parameters
    ----------
    tensor : Tensor, shape (rows, *rest) with at least 2 axes
    """
    _check_float(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: expected at least 2 axes, got shape {tensor.shape}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    xp = xp_of(tensor.data)
    flat = xp.random.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))


def default_linear_init_(weight, bias=None):
    """PyTorch's default init of Linear and Conv layers; used by the layers here.

    ``weight`` gets ``kaiming_uniform_(a=√5)``, i.e. U(−1/√fan_in, 1/√fan_in), and ``bias``
    gets U(−1/√fan_in, 1/√fan_in) with the same fan_in (0 bound when fan_in is 0).

    Parameters
    ----------
    weight : Tensor, shape (out, in, *kernel)
    bias : Tensor, shape (out,), optional
    """
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound)
    return weight


__all__ = ["calculate_gain", "calculate_fan_in_and_fan_out", "uniform_", "normal_",
           "trunc_normal_", "constant_", "zeros_", "ones_", "xavier_uniform_", "xavier_normal_",
           "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "default_linear_init_"]
