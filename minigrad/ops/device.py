"""Moving a tensor between devices, recorded in the graph so gradients flow back; and the
reading of PyTorch's ``Tensor.to(...)`` forms.

Notation
--------
device   a ``backend.device``, ``'cpu'`` or ``'cuda:N'``: where an array lives
dtype    a NumPy dtype; ``mg.float32`` and PyTorch's aliases ``mg.float``, ``mg.long``, ... are
         the NumPy scalar types, which ``numpy.dtype`` reads
"""
import numpy as np

from .. import backend
from ..autograd import Function


class ToDevice(Function):
    """out = x copied to ``device``;  dL/dx = g copied back to x's device."""

    @staticmethod
    def forward(ctx, x, *, device):
        ctx.device = backend.device_of(x)
        return backend.to_device(x, device)

    @staticmethod
    def backward(ctx, grad_output):
        # Reached across devices only (to_device makes no node for a move to the same one),
        # so a GPU run covers it: tests/test_autograd.py's device round trip.
        return ToDevice.apply(grad_output, device=ctx.device)


def to_device(x, device):
    """``x`` on ``device`` (the same Tensor when it is already there).

    Parameters
    ----------
    x : Tensor, any shape
    device : {'cpu', 'cuda', 'cuda:N'}

    Returns
    -------
    Tensor, shape of x
    """
    device = backend.parse_device(device)
    return x if x.device == device else ToDevice.apply(x, device=device)


def to_args(tensor_type, args, device, dtype):
    """``(device, dtype)`` from PyTorch's forms of ``x.to(...)``: ``to(device)``, ``to(dtype)``,
    ``to(device, dtype)``, ``to(other_tensor)`` (its device and dtype), or keywords. A device is
    a string, a ``device`` or a CUDA ordinal; anything else positional must be a dtype."""
    for arg in args:
        if isinstance(arg, tensor_type):
            device = arg.device if device is None else device
            dtype = arg.dtype if dtype is None else dtype
        elif isinstance(arg, (str, int)) and not isinstance(arg, bool):
            device = arg
        else:
            try:
                dtype = np.dtype(arg)
            except TypeError:
                raise TypeError(f"to: expected a device, a dtype or a Tensor, got "
                                f"{arg!r}") from None
    return (None if device is None else backend.parse_device(device),
            None if dtype is None else np.dtype(dtype))
