"""Pooling and resizing layers: MaxPool2d, MaxUnpool2d, AvgPool2d, AdaptiveAvgPool2d,
AdaptiveMaxPool2d, Upsample, and the 1-D pools of sequences, MaxPool1d, AvgPool1d,
AdaptiveAvgPool1d, AdaptiveMaxPool1d.

These hold no parameters: each stores its geometry and calls the matching function of ``F``,
which checks it on every call (so a bad kernel size is reported at the first forward, naming the
function). All accept an unbatched (C, H, W) image as PyTorch does.

Notation
--------
N, C          batch size and channels
H, W          input height and width;  OH, OW  output height and width
KH, KW        window size;  SH, SW  stride (default: the window size);  PH, PW  padding
"""
import numpy as np

import minigrad.functional as F
from minigrad.checks import check_bool, single
from .conv import as_batch, as_image_batch
from .module import Module


def _squeezed(y, unbatched):
    return y[0] if unbatched else y


class MaxPool2d(Module):
    """Maximum over sliding windows of each plane; padding counts as −∞.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size`` (windows side by side).
    padding : int or (int, int)
        At most half the window.
    return_indices : bool
        Also return where each maximum came from, for :class:`MaxUnpool2d`.
    dilation : int or (int, int), keyword-only
    ceil_mode : bool, keyword-only
        Round the output size up instead of down. These two are keyword-only because the
        argument order is the API's (and ``F.max_pool2d``'s): PyTorch's fourth positional
        argument is ``dilation``, here it is ``return_indices``.

    Shape
    -----
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    returns : Tensor, shape (N, C, OH, OW), ``OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1``;
        with ``return_indices`` also int64 indices of that shape, flat positions ``h*W + w``.
    """

    def __init__(self, kernel_size, stride=None, padding=0, return_indices=False, *,
                 dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        name = type(self).__name__
        if not isinstance(return_indices, (bool, np.bool_)):
            # PyTorch's fourth argument is dilation: MaxPool2d(2, 2, 0, 2) would read as True
            raise TypeError(f"{name}: return_indices must be a bool, got {return_indices!r}; "
                            "pass dilation and ceil_mode by keyword")
        self.return_indices = bool(return_indices)
        self.ceil_mode = check_bool(name, "ceil_mode", ceil_mode)

    _dims, _pool = 2, "max_pool2d"  # the spatial axes and the F function (1-D: MaxPool1d)

    def forward(self, x):
        x, unbatched = as_batch(type(self).__name__, x, dims=self._dims)
        out = getattr(F, self._pool)(x, self.kernel_size, self.stride, self.padding,
                                     self.return_indices, dilation=self.dilation,
                                     ceil_mode=self.ceil_mode)
        if self.return_indices:
            return (_squeezed(out[0], unbatched), _squeezed(out[1], unbatched))
        return _squeezed(out, unbatched)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxUnpool2d(Module):
    """Put each value back where :class:`MaxPool2d` found its maximum, zeros elsewhere.

    Where pooling windows overlap, colliding values are added (see ``F.max_unpool2d``); PyTorch
    keeps one of them. The two agree when stride >= kernel_size, the usual case.

    Parameters
    ----------
    kernel_size, stride, padding : int or (int, int)
        As given to the MaxPool2d; ``stride`` defaults to ``kernel_size``.

    Shape
    -----
    x : Tensor, shape (N, C, h, w) or (C, h, w)
    indices : Tensor of int64, the same shape, from ``MaxPool2d(return_indices=True)``
    output_size : (int, int) or a full shape, optional
        Picks the output plane among those that pool to (h, w).
    returns : Tensor, shape (N, C, H, W), ``H = (h - 1)*SH - 2*PH + KH`` by default
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x, indices, output_size=None):
        x, unbatched = as_image_batch("MaxUnpool2d", x)
        if unbatched:
            indices = indices.unsqueeze(0) if hasattr(indices, "unsqueeze") else indices[None]
        y = F.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding, output_size)
        return _squeezed(y, unbatched)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Mean over sliding windows of each plane.

    Parameters
    ----------
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int)
    ceil_mode : bool
    count_include_pad : bool
        Divide by the full window size (PyTorch's default) or by the input cells it covers.

    Shape
    -----
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    returns : Tensor, shape (N, C, OH, OW), ``OH = (H + 2*PH - KH) // SH + 1``
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = check_bool(type(self).__name__, "ceil_mode", ceil_mode)
        self.count_include_pad = check_bool(type(self).__name__, "count_include_pad",
                                            count_include_pad)

    _dims, _pool = 2, "avg_pool2d"

    def forward(self, x):
        x, unbatched = as_batch(type(self).__name__, x, dims=self._dims)
        y = getattr(F, self._pool)(x, self.kernel_size, self.stride, self.padding,
                                   self.ceil_mode, self.count_include_pad)
        return _squeezed(y, unbatched)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Mean over windows that tile each plane into an OH x OW grid, whatever H and W are.

    Parameters
    ----------
    output_size : int or (int or None, int or None)
        (OH, OW); None keeps that side of the input. ``AdaptiveAvgPool2d(1)`` is global
        average pooling.

    Shape
    -----
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    returns : Tensor, shape (N, C, OH, OW)
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    _dims, _pool = 2, "adaptive_avg_pool2d"

    def forward(self, x):
        x, unbatched = as_batch(type(self).__name__, x, dims=self._dims)
        return _squeezed(getattr(F, self._pool)(x, self.output_size), unbatched)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Maximum over windows that tile each plane into an OH x OW grid, whatever H and W are;
    the gradient goes to each window's first maximum.

    Parameters
    ----------
    output_size : int or (int or None, int or None)
        (OH, OW); None keeps that side of the input.
    return_indices : bool
        Also return the maxima's flat positions ``h*W + w`` (for :class:`MaxUnpool2d`).

    Shape
    -----
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    returns : Tensor, shape (N, C, OH, OW) (and int64 indices of that shape)
    """

    _dims, _pool = 2, "adaptive_max_pool2d"

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = check_bool(type(self).__name__, "return_indices", return_indices)

    def forward(self, x):
        x, unbatched = as_batch(type(self).__name__, x, dims=self._dims)
        out = getattr(F, self._pool)(x, self.output_size, self.return_indices)
        if self.return_indices:
            return (_squeezed(out[0], unbatched), _squeezed(out[1], unbatched))
        return _squeezed(out, unbatched)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Upsample(Module):
    """Resize each plane (or sequence), by a target size or a scale factor.

    Parameters
    ----------
    size : int or (int, int), optional
        (OH, OW), or OL for 'linear'; give exactly one of ``size`` and ``scale_factor``.
    scale_factor : float or (float, float), optional
        ``OH = floor(H * scale_factor)``.
    mode : {'nearest', 'nearest-exact', 'bilinear', 'bicubic', 'linear'}
        Source coordinates as in ``F.interpolate``.
    align_corners : bool, optional
        'linear', 'bilinear' and 'bicubic' only; None means False.
    recompute_scale_factor : bool, optional
        As in ``F.interpolate``.

    Shape
    -----
    x : Tensor, shape (N, C, H, W) or (C, H, W); (N, C, L) for 'linear'
    returns : Tensor, shape (N, C, OH, OW), or (N, C, OL) for 'linear'
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError(f"Upsample: give exactly one of size and scale_factor, got "
                             f"size={size!r} and scale_factor={scale_factor!r}")
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(s) for s in scale_factor)
        else:
            self.scale_factor = None if scale_factor is None else float(scale_factor)
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x):
        if self.mode == "linear":
            # Sequences are always batched, as in PyTorch; the other modes take images.
            return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                                 self.recompute_scale_factor)
        x, unbatched = as_image_batch("Upsample", x)
        y = F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                          self.recompute_scale_factor)
        return _squeezed(y, unbatched)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None \
            else f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class MaxPool1d(MaxPool2d):
    """Maximum over sliding windows of each sequence; the options are :class:`MaxPool2d`'s,
    one int each (``return_indices`` fourth, ``dilation`` and ``ceil_mode`` by keyword).

    Shape
    -----
    x : Tensor, shape (N, C, L) or (C, L)
    returns : Tensor, shape (N, C, OL), ``OL = (L + 2*P - D*(K - 1) - 1) // S + 1``; with
        ``return_indices`` also int64 positions in each input sequence.
    """

    _dims, _pool = 1, "max_pool1d"


class AvgPool1d(AvgPool2d):
    """Mean over sliding windows of each sequence; the options are :class:`AvgPool2d`'s, one
    int each.

    Shape
    -----
    x : Tensor, shape (N, C, L) or (C, L)
    returns : Tensor, shape (N, C, OL), ``OL = (L + 2*P - K) // S + 1``
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        # One-int tuples, as PyTorch keeps them (and shows them in the repr).
        def one(name, value):
            return (single("AvgPool1d", name, value),)
        super().__init__(one("kernel_size", kernel_size),
                         None if stride is None else one("stride", stride),
                         one("padding", padding), ceil_mode, count_include_pad)

    _dims, _pool = 1, "avg_pool1d"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Mean over windows that tile each sequence into ``output_size`` cells, whatever L is.

    Shape
    -----
    x : Tensor, shape (N, C, L) or (C, L)
    returns : Tensor, shape (N, C, output_size)
    """

    _dims, _pool = 1, "adaptive_avg_pool1d"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Maximum over windows that tile each sequence into ``output_size`` cells, whatever L is.

    Shape
    -----
    x : Tensor, shape (N, C, L) or (C, L)
    returns : Tensor, shape (N, C, output_size) (and int64 indices of that shape)
    """

    _dims, _pool = 1, "adaptive_max_pool1d"
