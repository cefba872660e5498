"""Moving a tensor between devices, recorded in the graph so gradients flow back.

Notation
--------
device   ``'cpu'`` or ``'cuda:N'``: where an array lives
"""
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
