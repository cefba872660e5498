"""Unfold and Fold: ``F.unfold`` (every window of an image as a column) and ``F.fold`` (its
adjoint, columns added back onto their windows) as layers, with PyTorch's arguments and reprs.
They hold no parameters; ``F`` checks the geometry on every call.

Notation
--------
N batch, C channels, H W image size, KH KW kernel, L windows per image
"""
import minigrad.functional as F
from .module import Module


class Unfold(Module):
    """Every (dilated, strided, zero-padded) window of each image as a column.

    Parameters
    ----------
    kernel_size, dilation, padding, stride : int or (int, int)

    Shape
    -----
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    returns : Tensor, shape (N, C·KH·KW, L) or (C·KH·KW, L)

    Examples
    --------
    >>> import minigrad as mg
    >>> Unfold(2)(mg.ones(1, 3, 4, 4)).shape
    (1, 12, 9)
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, x):
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Unfold):
    """Add each column onto its window of an ``output_size`` image (overlaps add up).

    Parameters
    ----------
    output_size : int or (int, int)
    kernel_size, dilation, padding, stride : int or (int, int)

    Shape
    -----
    x : Tensor, shape (N, C·KH·KW, L) or (C·KH·KW, L)
    returns : Tensor, shape (N, C, H, W) or (C, H, W)
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__(kernel_size, dilation, padding, stride)
        self.output_size = output_size

    def forward(self, x):
        return F.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self):
        return f"output_size={self.output_size}, " + super().extra_repr()
