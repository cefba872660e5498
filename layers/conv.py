"""Convolution layers: Conv2d and ConvTranspose2d over images, Conv1d and ConvTranspose1d over
sequences, with PyTorch's layouts and defaults.

The arithmetic and the checks of the geometry live in ``F.conv2d`` and ``F.conv_transpose2d``
(and their 1-D versions); a layer owns the weight and bias, checks what sizes them and
remembers its geometry. Each accepts an unbatched (C, H, W) image or (C, L) sequence as PyTorch
does, treating it as a batch of one.

Notation
--------
N             batch size
C_in, C_out   input and output channels; G = groups
H, W          input height and width;  OH, OW  output height and width
KH, KW        kernel size;  SH, SW  stride;  PH, PW  padding;  DH, DW  dilation
OPH, OPW      output padding (transposed convolution only)
"""

import minigrad.functional as F
from minigrad import Tensor
from . import init
from .linear import new_parameter
from .module import Module
from minigrad.checks import check_int, pair, single


# Conv2d's padding modes: zeros, or F.pad's modes applied before an unpadded convolution
# ('zeros' is F.pad's 'constant'). A transposed convolution takes 'zeros' only, as in PyTorch.
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


_LAYOUTS = {1: ("(N, C, L)", "(C, L)"), 2: ("(N, C, H, W)", "(C, H, W)")}


def as_batch(layer, x, channels=None, dims=2):
    """``(x with a batch axis, unbatched)`` for a layer over ``dims`` spatial axes: a (C, H, W)
    image (dims 2) or (C, L) sequence (dims 1) becomes a batch of one; ``channels``, when
    given, is checked on axis 1."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected a Tensor input, got {type(x).__name__}")
    if x.ndim not in (dims + 1, dims + 2):
        batched, single = _LAYOUTS[dims]
        raise ValueError(f"{layer}: expected an input of shape {batched} or {single}, got "
                         f"shape {x.shape}")
    unbatched = x.ndim == dims + 1
    if unbatched:
        x = x.unsqueeze(0)
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{layer}: expected {channels} input channels, got an input of shape "
                         f"{x.shape if not unbatched else x.shape[1:]}")
    return (x, unbatched)


def as_image_batch(layer, x, channels=None):
    """``(x as (N, C, H, W), unbatched)``: a (C, H, W) input becomes a batch of one."""
    return as_batch(layer, x, channels, dims=2)


def _ints(layer, name, value, dims):
    """One int per spatial axis: ``(int,)`` for a 1-D layer, a pair for a 2-D one."""
    return (single(layer, name, value),) if dims == 1 else pair(layer, name, value)


class _ConvBase(Module):
    """What the convolution layers share: argument checks, init and the repr. ``_dims`` is the
    number of spatial axes (1: (N, C, L) sequences, 2: (N, C, H, W) images); the geometry
    attributes are tuples of that length, as in PyTorch."""

    _dims = 2

    def _setup(self, layer, in_channels, out_channels, kernel_size, stride, padding, dilation,
               groups, bias, padding_mode, transposed, device, dtype):
        self.in_channels = check_int(layer, "in_channels", in_channels, 1)
        self.out_channels = check_int(layer, "out_channels", out_channels, 1)
        self.groups = check_int(layer, "groups", groups, 1)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{layer}: in_channels ({self.in_channels}) and out_channels "
                             f"({self.out_channels}) must both be divisible by groups "
                             f"({self.groups})")
        # The kernel size shapes the weight, so it is checked here; the stride, padding and
        # dilation are checked by F.conv2d / F.conv_transpose2d on every call. 'same' with a
        # stride is refused now rather than at the first forward, as PyTorch does.
        dims = self._dims
        self.kernel_size = _ints(layer, "kernel_size", kernel_size, dims)
        if min(self.kernel_size) < 1:
            raise ValueError(f"{layer}: kernel_size must be >= 1, got {self.kernel_size}")
        self.stride = _ints(layer, "stride", stride, dims)
        self.dilation = _ints(layer, "dilation", dilation, dims)
        if isinstance(padding, str) and padding not in ("valid", "same"):
            kind = "a pair of ints" if dims == 2 else "a tuple of one int"
            raise ValueError(f"{layer}: padding must be an int, {kind}, 'valid' or 'same', got "
                             f"{padding!r}")
        self.padding = padding if isinstance(padding, str) else _ints(layer, "padding", padding,
                                                                      dims)
        if padding == "same" and self.stride != (1,) * dims:
            raise ValueError(f"{layer}: padding='same' needs stride 1, got {self.stride}")
        modes = ("zeros",) if transposed else PADDING_MODES
        if padding_mode not in modes:
            raise ValueError(f"{layer}: padding_mode must be one of {modes}, got "
                             f"{padding_mode!r}")
        self.padding_mode = padding_mode
        G = self.groups
        weight_shape = ((self.in_channels, self.out_channels // G) if transposed
                        else (self.out_channels, self.in_channels // G)) + self.kernel_size
        self.weight = new_parameter(weight_shape, device, dtype)
        if bias:
            self.bias = new_parameter((self.out_channels,), device, dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # For ConvTranspose2d this takes fan_in from weight.shape[1] * KH * KW (= C_out/G*KH*KW),
        # which is what PyTorch does, so the two draw from the same distribution.
        init.default_linear_init_(self.weight, self.bias)

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        zeros, ones = (0,) * self._dims, (1,) * self._dims
        if self.padding != zeros:
            text += f", padding={self.padding}"
        if self.dilation != ones:
            text += f", dilation={self.dilation}"
        if getattr(self, "output_padding", zeros) != zeros:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv2d(_ConvBase):
    """2-D convolution (cross-correlation, as in PyTorch) over a batch of images.

    Parameters
    ----------
    in_channels, out_channels : int
        Both divisible by ``groups``.
    kernel_size, stride, dilation : int or (int, int)
    padding : int, (int, int), 'valid' or 'same'
        Zeros added on each side; 'same' keeps H and W (stride 1 only).
    groups : int
        Splits the channels into ``groups`` independent convolutions.
    bias : bool
    padding_mode : 'zeros', 'reflect', 'replicate' or 'circular'
        What the padding holds: zeros, or the image mirrored, its edge repeated, or its other
        side (``F.pad``'s modes, applied before an unpadded convolution).
    device, dtype : optional

    Attributes
    ----------
    weight : Parameter, shape (C_out, C_in // G, KH, KW)
        Initialised U(−1/√fan_in, 1/√fan_in), ``fan_in = C_in // G * KH * KW``.
    bias : Parameter, shape (C_out,), or None
        Initialised U(−1/√fan_in, 1/√fan_in).

    Shape
    -----
    x : Tensor, shape (N, C_in, H, W) or (C_in, H, W)
    returns : Tensor, shape (N, C_out, OH, OW) or (C_out, OH, OW),
        ``OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1``, OW alike.

    Examples
    --------
    >>> import minigrad as mg
    >>> conv = Conv2d(3, 8, 3, padding=1)
    >>> conv(mg.randn(2, 3, 5, 5)).shape
    (2, 8, 5, 5)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", *, device=None, dtype=None):
        super().__init__()
        self._setup(type(self).__name__, in_channels, out_channels, kernel_size, stride, padding,
                    dilation, groups, bias, padding_mode, False, device, dtype)

    _conv = "conv2d"  # the F function (Conv1d: conv1d)

    def forward(self, x):
        x, unbatched = as_batch(type(self).__name__, x, self.in_channels, self._dims)
        padding = self.padding
        if self.padding_mode != "zeros":  # F.pad first, then an unpadded convolution
            x = F.pad(x, self._padding_widths(), mode=self.padding_mode)
            padding = 0
        y = getattr(F, self._conv)(x, self.weight, self.bias, self.stride, padding,
                                   self.dilation, self.groups)
        return y[0] if unbatched else y

    def _padding_widths(self):
        """The padding as F.pad's widths, last axis first: (left, right[, top, bottom]), P on
        both sides, or for 'same' the total D*(K - 1) split with the odd one at the end."""
        if self.padding == "valid":
            return (0, 0) * self._dims
        widths = ()
        for axis in reversed(range(self._dims)):
            if self.padding == "same":
                total = self.dilation[axis] * (self.kernel_size[axis] - 1)
                widths += (total // 2, total - total // 2)
            else:
                widths += (self.padding[axis],) * 2
        return widths


class ConvTranspose2d(_ConvBase):
    """2-D transposed convolution: the adjoint of Conv2d, the usual learned upsampling.

    Parameters
    ----------
    in_channels, out_channels : int
        Both divisible by ``groups``.
    kernel_size, stride, padding, dilation : int or (int, int)
        Those of the convolution that this one transposes.
    output_padding : int or (int, int)
        Extra rows/columns at the bottom/right, smaller than the stride or the dilation; it
        picks one of the output sizes that a strided convolution maps to the same input size.
    groups : int
    bias : bool
    padding_mode : 'zeros'
    device, dtype : optional

    Attributes
    ----------
    weight : Parameter, shape (C_in, C_out // G, KH, KW)
        Initialised U(−1/√fan, 1/√fan), ``fan = C_out // G * KH * KW`` (PyTorch's rule, which
        reads the fan from weight.shape[1]).
    bias : Parameter, shape (C_out,), or None

    Shape
    -----
    x : Tensor, shape (N, C_in, H, W) or (C_in, H, W)
    returns : Tensor, shape (N, C_out, OH, OW) or (C_out, OH, OW),
        ``OH = (H - 1)*SH - 2*PH + DH*(KH - 1) + 1 + OPH``, OW alike.

    ``forward(x, output_size=None)``: giving ``output_size`` ((OH, OW) or the full shape)
    chooses the output padding that produces it, as in PyTorch.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros", *,
                 device=None, dtype=None):
        super().__init__()
        layer, dims = type(self).__name__, self._dims
        if isinstance(padding, str):
            kind = "a pair of ints" if dims == 2 else "a tuple of one int"
            raise ValueError(f"{layer}: padding must be an int or {kind}, got {padding!r}")
        self.output_padding = _ints(layer, "output_padding", output_padding, dims)
        self._setup(layer, in_channels, out_channels, kernel_size, stride, padding, dilation,
                    groups, bias, padding_mode, True, device, dtype)

    _conv = "conv_transpose2d"  # the F function (ConvTranspose1d: conv_transpose1d)

    def _output_padding_for(self, x, output_size):
        """The output padding that makes the output's spatial size ``output_size``."""
        layer, dims = type(self).__name__, self._dims
        size = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,)
        if len(size) in (dims + 1, dims + 2):  # the full shape, batched or not
            size = size[-dims:]
        size = _ints(layer, "output_size", size, dims)
        padding = []
        for axis in range(dims):
            L, K = x.shape[2 + axis], self.kernel_size[axis]
            S, P, D = self.stride[axis], self.padding[axis], self.dilation[axis]
            smallest = (L - 1) * S - 2 * P + D * (K - 1) + 1
            largest = smallest + S - 1
            if not smallest <= size[axis] <= largest:
                raise ValueError(f"{layer}: output_size {size} is not reachable from an "
                                 f"input of shape {x.shape}: along axis {2 + axis} it must be "
                                 f"between {smallest} and {largest}")
            padding.append(size[axis] - smallest)
        return tuple(padding)

    def forward(self, x, output_size=None):
        x, unbatched = as_batch(type(self).__name__, x, self.in_channels, self._dims)
        output_padding = self.output_padding if output_size is None \
            else self._output_padding_for(x, output_size)
        y = getattr(F, self._conv)(x, self.weight, self.bias, self.stride, self.padding,
                                   output_padding, self.groups, self.dilation)
        return y[0] if unbatched else y


class Conv1d(Conv2d):
    """1-D convolution over a batch of sequences; every option is :class:`Conv2d`'s with one
    int (or a tuple of one) per geometry argument, and ``padding_mode`` likewise.

    Attributes
    ----------
    weight : Parameter, shape (C_out, C_in // G, KW)
        Initialised U(−1/√fan_in, 1/√fan_in), ``fan_in = C_in // G * KW``.
    bias : Parameter, shape (C_out,), or None

    Shape
    -----
    x : Tensor, shape (N, C_in, L) or (C_in, L)
    returns : Tensor, shape (N, C_out, OL) or (C_out, OL),
        ``OL = (L + 2*P - D*(KW - 1) - 1) // S + 1``.

    Examples
    --------
    >>> import minigrad as mg
    >>> Conv1d(4, 8, 3, padding="same", padding_mode="reflect")(mg.randn(2, 4, 10)).shape
    (2, 8, 10)
    """

    _dims, _conv = 1, "conv1d"


class ConvTranspose1d(ConvTranspose2d):
    """1-D transposed convolution, the adjoint of :class:`Conv1d` (learned upsampling of
    sequences); the options are :class:`ConvTranspose2d`'s with one int per geometry argument.

    Attributes
    ----------
    weight : Parameter, shape (C_in, C_out // G, KW)
    bias : Parameter, shape (C_out,), or None

    Shape
    -----
    x : Tensor, shape (N, C_in, L) or (C_in, L)
    returns : Tensor, shape (N, C_out, OL) or (C_out, OL),
        ``OL = (L - 1)*S - 2*P + D*(KW - 1) + 1 + OP``; ``forward(x, output_size=None)``
        chooses the output padding that gives ``output_size``, as in PyTorch.
    """

    _dims, _conv = 1, "conv_transpose1d"
