"""The fused normalisations in the op registry: F.batch_norm over its options (training or
eval, with or without running statistics and an affine map, eps, momentum) and F.layer_norm
over one or two normalized axes, against NumPy, with gradcheck and gradgradcheck (the second
order runs through BatchNormBackward's and LayerNormBackward's backward, written in ops).
F.group_norm and F.instance_norm reach the layer-norm kernel too; op_specs.py declares them.
F.rms_norm and F.local_response_norm, composites, are here too, against loop references."""
import numpy as np

import minigrad as mg
import minigrad.functional as F
from op_specs import spec
from strategies.norm import (batch_norm_inputs, layer_norm_inputs, local_response_norm_inputs,
                            rms_norm_inputs)


def _batch_norm(x, w=None, b=None, *, training, eps, momentum, running_mean=None,
                running_var=None):
    # fresh running statistics at every call: gradcheck calls this many times
    stats = [None if s is None else mg.tensor(s.copy(), device=x.device)
             for s in (running_mean, running_var)]
    return F.batch_norm(x, *stats, w, b, training=training, momentum=momentum, eps=eps)


def _batch_norm_reference(x, w=None, b=None, *, training, eps, momentum, running_mean=None,
                          running_var=None):
    axes = (0,) + tuple(range(2, x.ndim))
    view = (1, -1) + (1,) * (x.ndim - 2)
    if training or running_mean is None:
        mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    else:
        mean, var = running_mean.reshape(view), running_var.reshape(view)
    out = (x - mean) / np.sqrt(var + eps)
    return out if w is None else out * w.reshape(view) + b.reshape(view)


def _layer_norm_reference(x, w=None, b=None, *, normalized_shape, eps):
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    out = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return out if w is None else out * w + b


spec("batch_norm_options", _batch_norm, batch_norm_inputs(), _batch_norm_reference,
     note="training uses the batch's statistics (fused kernel); eval the running ones")
spec("layer_norm_options",
     lambda x, w=None, b=None, *, normalized_shape, eps: F.layer_norm(x, normalized_shape, w, b,
                                                                      eps=eps),
     layer_norm_inputs(), _layer_norm_reference)


def _rms_norm_reference(x, w=None, *, normalized_shape, eps):
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    eps = np.finfo(x.dtype).eps if eps is None else eps
    out = x / np.sqrt((x ** 2).mean(axes, keepdims=True) + eps)
    return out if w is None else out * w


def _local_response_norm_reference(x, *, size, alpha, beta, k):
    """Each channel over the sum of squares of channels c - size//2 ... c + (size-1)//2."""
    C = x.shape[1]
    out = np.empty_like(x)
    for c in range(C):
        window = range(max(0, c - size // 2), min(C, c + (size - 1) // 2 + 1))
        total = sum(x[:, j] ** 2 for j in window)
        out[:, c] = x[:, c] / (k + alpha / size * total) ** beta
    return out


spec("rms_norm",
     lambda x, w=None, *, normalized_shape, eps: F.rms_norm(x, normalized_shape, w, eps),
     rms_norm_inputs(), _rms_norm_reference)
spec("local_response_norm", F.local_response_norm, local_response_norm_inputs(),
     _local_response_norm_reference)
