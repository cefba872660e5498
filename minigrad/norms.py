"""Normalisation layers' functional forms: batch, layer, group and instance norm.

Each subtracts a mean and divides by a standard deviation taken over some axes, then applies an
optional per-channel (or per-element) scale and shift; they differ only in the axes. They are
re-exported by ``minigrad.functional`` (``F.batch_norm``).

Batch norm in training (and whenever it uses the batch's statistics) and the normalisation of
layer, group and instance norm run on the fused Functions of ``minigrad/ops/norm.py``: one
kernel pass forward and one backward instead of about ten ops each way (STYLE C9: promoted for
speed). They cover NumPy and CuPy arrays of float32 or float64 with weight and bias (when
given) of the same dtype and at least one value to normalise. Anything else, float16 or integer
input, mixed dtypes, empty tensors, takes the composite of minigrad ops below
(``_batch_norm_composite``, ``_normalize_composite``), which also serves the tests as the
reference the fused path must match. Group and instance norm reach the layer-norm kernel by
normalising the trailing axes of a reshaped input; their per-channel scale and shift stay two
elementwise ops. Batch norm in eval mode is an affine map with constant
statistics, three elementwise ops, and stays a composite (forward + backward on (64, 32, 28,
28) took 1.1-1.5x PyTorch's CPU time at one thread: a fused kernel would still help there).

Notation
--------
N batch, C channels, ... spatial axes (H, W for images), G groups (``num_groups``), each of
C / G channels; statistics are taken over

    batch_norm      N and ...        one mean per channel
    layer_norm      the last axes    one mean per sample (``normalized_shape``)
    group_norm      C / G and ...    one mean per sample and group
    instance_norm   ...              one mean per sample and channel
"""
import math

import numpy as np

from .backend import is_cuda_array
from .ops.elementwise import sqrt
from .ops.norm import BatchNormTrain, LayerNorm
from .ops.shape import pad, reshape
from .tensor import Tensor

_FUSED_DTYPES = (np.float32, np.float64)


def _fused(x, *params):
    """Whether the fused kernels take ``x`` and ``params`` (Tensors or None): float32/float64
    arrays of one dtype, on the CPU (NumPy) or a GPU (CuPy), and x not empty."""
    data = x.data
    if not (type(data) is np.ndarray or is_cuda_array(data)) or data.size == 0 \
            or data.dtype not in _FUSED_DTYPES:
        return False
    return all(p is None or p.data.dtype == data.dtype for p in params)


def _check_input(op, x):
    """A TypeError naming ``op`` unless ``x`` is a floating-point Tensor (as PyTorch, which has
    no normalisation of integers or booleans)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")


def _check_shape(op, name, t, shape):
    """A ValueError naming ``op`` unless ``t`` (a Tensor or None) has ``shape``."""
    if t is not None and tuple(t.shape) != tuple(shape):
        raise ValueError(f"{op}: {name} must have shape {tuple(shape)}, got {tuple(t.shape)}")


def _trailing_shape(op, x, normalized_shape):
    """``normalized_shape`` as a tuple, checked to be the trailing axes of x's shape."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"{op}: input of shape {x.shape} does not end with normalized_shape "
                         f"{shape}")
    return shape


def _normalize(x, axes, eps):
    """(x − mean) / √(var + eps) over ``axes``; fused when they are the trailing axes."""
    k = len(axes)
    if k and _fused(x) and tuple(axes) == tuple(range(x.ndim - k, x.ndim)):
        return LayerNorm.apply(x, None, None, k=k, eps=eps)
    return _normalize_composite(x, axes, eps)


def _normalize_composite(x, axes, eps):
    """(x − mean) / √(var + eps), the statistics taken over ``axes`` (the biased variance)."""
    mean = x.mean(axes, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axes, keepdims=True)
    return centred / sqrt(var + eps)


def _channel_view(t, ndim):
    """A per-channel (C,) tensor shaped (1, C, 1, ...) to broadcast over (N, C, ...)."""
    return reshape(t, (1, -1) + (1,) * (ndim - 2))


def _affine(out, weight, bias):
    """``out * weight + bias`` per channel, either part skipped when None."""
    if weight is not None:
        out = out * _channel_view(weight, out.ndim)
    if bias is not None:
        out = out + _channel_view(bias, out.ndim)
    return out


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel over the batch (and spatial axes), then scale and shift.

    Parameters
    ----------
    x : Tensor, shape (N, C) or (N, C, ...)
    running_mean, running_var : Tensor, shape (C,), or None
        Updated in place in training mode (with the unbiased variance, as PyTorch does); used
        instead of the batch statistics in eval mode.
    weight, bias : Tensor, shape (C,), optional

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.batch_norm(mg.tensor([[1.0], [3.0]]), None, None, eps=0.0).tolist()
    [[-1.0], [1.0]]
    """
    _check_input("batch_norm", x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C) or (N, C, ...), got "
                         f"{x.shape}")
    C = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_shape("batch_norm", name, t, (C,))
    if training or running_mean is None:
        count = math.prod(x.shape[:1] + x.shape[2:])
        if training and count == 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel in training, "
                             f"got input of shape {x.shape}")
        if count == 0:
            # an empty batch comes back empty and leaves the running statistics alone, as in
            # PyTorch (their mean over no values would be NaN)
            return _affine(x, weight, bias)
        if _fused(x, weight, bias):
            update = training and running_mean is not None
            return BatchNormTrain.apply(
                x, weight, bias, eps=eps, momentum=momentum,
                running_mean=running_mean.data if update else None,
                running_var=running_var.data if update else None)
    return _batch_norm_composite(x, running_mean, running_var, weight, bias, training,
                                 momentum, eps)


def _batch_norm_composite(x, running_mean, running_var, weight, bias, training, momentum, eps):
    """batch_norm written in minigrad ops: the fallback for what the kernels do not take, the
    eval mode, and the tests' reference for the fused path."""
    axes = (0,) + tuple(range(2, x.ndim))
    if training or running_mean is None:
        count = math.prod(x.shape[:1] + x.shape[2:])
        mean = x.mean(axes, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axes, keepdims=True)
        if training and running_mean is not None:
            batch_mean = mean.data.reshape(-1)
            batch_var = var.data.reshape(-1) * (count / max(count - 1, 1))
            running_mean.data *= 1 - momentum
            running_mean.data += momentum * batch_mean
            running_var.data *= 1 - momentum
            running_var.data += momentum * batch_var
        out = centred / sqrt(var + eps)
        return _affine(out, weight, bias)
    # Eval: an affine map with constant statistics, (x − mean) · (weight · invstd) + bias, three
    # passes over x. The scale is folded on the C values; the mean is subtracted first, not
    # folded into the shift as x · scale + (bias − mean · scale), which cancels when
    # |mean| >> std (float32 x = 1e4 + noise would lose three digits).
    mean = _channel_view(running_mean, x.ndim).detach()
    scale = Tensor._wrap((running_var.data + eps) ** -0.5)
    if weight is not None:
        scale = scale * weight
    out = (x - mean) * _channel_view(scale, x.ndim)
    return out if bias is None else out + _channel_view(bias, x.ndim)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` axes, then scale and shift elementwise.

    Parameters
    ----------
    x : Tensor, shape (..., *normalized_shape)
    normalized_shape : int or tuple of ints
    weight, bias : Tensor, shape normalized_shape, optional

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.layer_norm(mg.tensor([[1.0, 3.0]]), 2, eps=0.0).tolist()
    [[-1.0, 1.0]]
    """
    _check_input("layer_norm", x)
    normalized_shape = _trailing_shape("layer_norm", x, normalized_shape)
    k = len(normalized_shape)
    _check_shape("layer_norm", "weight", weight, normalized_shape)
    _check_shape("layer_norm", "bias", bias, normalized_shape)
    if k and _fused(x, weight, bias):
        return LayerNorm.apply(x, weight, bias, k=k, eps=eps)
    out = _normalize_composite(x, tuple(range(x.ndim - k, x.ndim)), eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each group of C/num_groups channels over its channels and spatial axes.

    Parameters
    ----------
    x : Tensor, shape (N, C, ...), C divisible by ``num_groups``
    weight, bias : Tensor, shape (C,), optional

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.group_norm(mg.tensor([[1.0, 3.0, 5.0, 9.0]]), 2, eps=0.0).tolist()
    [[-1.0, 1.0, -1.0, 1.0]]
    """
    _check_input("group_norm", x)
    N, C = x.shape[:2]
    if C % num_groups:
        raise ValueError(f"group_norm: {C} channels (input shape {x.shape}) cannot be split "
                         f"into {num_groups} groups")
    # the group's length written out: an empty batch leaves -1 nothing to infer from
    grouped = reshape(x, (N, num_groups, C // num_groups * math.prod(x.shape[2:])))
    out = reshape(_normalize(grouped, (2,), eps), x.shape)
    return _affine(out, weight, bias)


def instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) plane over its spatial axes; with
    ``use_input_stats=False`` and running statistics, use those instead (as batch_norm in eval).

    Parameters
    ----------
    x : Tensor, shape (N, C, ...)
    running_mean, running_var : Tensor, shape (C,), optional
        With ``use_input_stats``, updated in place as PyTorch does: each moves by ``momentum``
        towards the batch's average of the per-instance means and unbiased variances.
    weight, bias : Tensor, shape (C,), optional

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> F.instance_norm(mg.tensor([[[1.0, 3.0]]]), eps=0.0).tolist()
    [[[-1.0, 1.0]]]
    """
    op = "instance_norm"
    _check_input(op, x)
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: give both running_mean and running_var, or neither")
    if not use_input_stats and running_mean is not None:
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    if running_mean is not None:
        _update_instance_running_stats(op, x, running_mean, running_var, momentum)
    out = _normalize(x, tuple(range(2, x.ndim)), eps)
    return _affine(out, weight, bias)


def _update_instance_running_stats(op, x, running_mean, running_var, momentum):
    """running = (1 − m)·running + m·(batch mean of the per-instance statistics)."""
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        _check_shape(op, name, t, x.shape[1:2])
    axes = tuple(range(2, x.ndim))
    count = math.prod(x.shape[2:])
    mean = x.data.mean(axis=axes)
    var = x.data.var(axis=axes) * (count / max(count - 1, 1))
    for running, batch in ((running_mean, mean), (running_var, var)):
        running.data *= 1 - momentum
        running.data += (momentum * batch.mean(axis=0)).astype(running.dtype)


def rms_norm(x, normalized_shape, weight=None, eps=None):
    """Divide by the root mean square over the last ``len(normalized_shape)`` axes, then scale
    elementwise (Zhang & Sennrich, 2019): ``x / √(mean(x²) + eps) · weight``. No centring and
    no shift, unlike :func:`layer_norm`.

    Parameters
    ----------
    x : Tensor, shape (..., *normalized_shape)
    normalized_shape : int or tuple of ints
    weight : Tensor, shape normalized_shape, optional
    eps : float, optional
        Added under the root; None takes the machine epsilon of x's dtype, as PyTorch does.

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> [round(v, 4) for v in F.rms_norm(mg.tensor([[3.0, 4.0]]), 2, eps=0.0).tolist()[0]]
    [0.8485, 1.1314]
    """
    op = "rms_norm"
    _check_input(op, x)
    normalized_shape = _trailing_shape(op, x, normalized_shape)
    k = len(normalized_shape)
    _check_shape(op, "weight", weight, normalized_shape)
    eps = float(np.finfo(x.dtype).eps) if eps is None else float(eps)
    if eps < 0:
        raise ValueError(f"{op}: eps must be >= 0, got {eps}")
    axes = tuple(range(x.ndim - k, x.ndim))
    out = x / sqrt((x * x).mean(axes, keepdims=True) + eps)
    return out if weight is None else out * weight


def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    """Divide each channel by the activity of its ``size`` neighbouring channels (AlexNet's
    normalisation, Krizhevsky et al., 2012), PyTorch's form:

        y_c = x_c / (k + alpha / size · Σ_{c'} x_{c'}²) ** beta

    the sum over channels c − size // 2 ... c + (size − 1) // 2, missing channels counting as 0.

    Parameters
    ----------
    x : Tensor, shape (N, C, ...), at least 3-D
    size : int
        The channels in each window, >= 1.
    alpha, beta, k : float

    Examples
    --------
    >>> import minigrad as mg, minigrad.functional as F
    >>> y = F.local_response_norm(mg.tensor([[[1.0], [2.0]]]), 2, alpha=2.0, beta=1.0)
    >>> [round(v, 4) for v in y.numpy().ravel().tolist()]
    [0.5, 0.3333]
    """
    op = "local_response_norm"
    _check_input(op, x)
    if x.ndim < 3:
        raise ValueError(f"{op}: expected an input of shape (N, C, ...) with at least 3 axes, "
                         f"got shape {x.shape}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"{op}: size must be an int >= 1, got {size!r}")
    C = x.shape[1]
    squares = pad(x * x, ((0, 0), (size // 2, (size - 1) // 2)) + ((0, 0),) * (x.ndim - 2))
    window = squares[:, 0:C]
    for shift in range(1, size):
        window = window + squares[:, shift:shift + C]
    return x / (k + (alpha / size) * window) ** beta
