"""Encoder-decoder networks for semantic segmentation: SegNet and U-Net.

Segmentation labels every pixel, so the network must give back a map as large as its input.
Both models pool their way down (each 2x2 max pool halves the side and widens the view) and
then come back up, and differ in what they carry across:

- SegNet (Badrinarayanan et al., 2017) keeps only *where* each maximum came from: its decoder
  stage ``i`` calls ``max_unpool2d`` with the pooling indices of encoder stage ``i``, which puts
  every value back at its maximum's position (zeros elsewhere), and convolutions fill the gaps.
- U-Net (Ronneberger et al., 2015) keeps the encoder's whole feature maps: each decoder stage
  upsamples, then concatenates the encoder map of the same size (a skip connection), so fine
  detail need not squeeze through the bottleneck.

How to upsample is a choice, ``upsample=``:

- 'unpool': ``max_unpool2d`` with the matching pool's indices (no parameters);
- 'nearest' / 'bilinear': interpolation to twice the size, then a 3x3 convolution;
- 'transposed': ``ConvTranspose2d`` with a 2x2 kernel and stride 2 (learnt upsampling).

    SegNet, L = len(channels)                 UNet
    x ─ [conv-BN-ReLU, pool] x L               x ─ [block, pool] x L ─ block (bottleneck)
      ─ [up(indices), conv-BN-ReLU] x L          ─ [up, cat(skip), block] x L
      ─ Conv2d 1x1 -> logits                     ─ Conv2d 1x1 -> logits
    (block = two conv-BN-ReLU)

Notation
--------
N          batch size
C          input channels, ``in_channels``
K          number of classes, ``num_classes``
H, W       image height and width, each a multiple of 2**L
C_i        channels of stage i, ``channels[i]``
L          number of pooling stages, ``len(channels)``
"""
import minigrad as mg
import minigrad.functional as F
from minigrad.checks import check_int

from layers import (BatchNorm2d, Conv2d, ConvTranspose2d, Identity, MaxPool2d, Module,
                    ModuleList, ReLU, Sequential)

UPSAMPLE_MODES = ("unpool", "nearest", "bilinear", "transposed")


def conv_bn_relu(in_channels, out_channels):
    """3x3 convolution (size kept), BatchNorm and ReLU."""
    return Sequential(Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                      BatchNorm2d(out_channels), ReLU())


class Up(Module):
    """Double the side of a feature map and map its channels ``in_channels -> out_channels``.

    Parameters
    ----------
    in_channels, out_channels : int
    mode : {'unpool', 'nearest', 'bilinear', 'transposed'}
        'unpool' needs the indices of a 2x2 pool over ``out_channels`` channels; when the
        channel counts differ, a 1x1 convolution maps them first.

    Shape
    -----
    x : Tensor, shape (N, in_channels, h, w)
    indices : Tensor of int64, shape (N, out_channels, h, w); only for 'unpool'
    returns : Tensor, shape (N, out_channels, 2h, 2w)
    """

    def __init__(self, in_channels, out_channels, mode):
        super().__init__()
        if mode not in UPSAMPLE_MODES:
            raise ValueError(f"Up: upsample must be one of {UPSAMPLE_MODES}, got {mode!r}")
        self.mode = mode
        if mode == "unpool":
            self.conv = (Identity() if in_channels == out_channels
                         else Conv2d(in_channels, out_channels, 1))
        elif mode == "transposed":
            self.conv = ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        else:
            self.conv = Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x, indices=None):
        if self.mode == "unpool":
            return F.max_unpool2d(self.conv(x), indices, 2)
        if self.mode == "transposed":
            return self.conv(x)
        align = False if self.mode == "bilinear" else None
        return self.conv(F.interpolate(x, scale_factor=2, mode=self.mode, align_corners=align))

    def extra_repr(self):
        return f"mode={self.mode!r}"


def _check_config(owner, in_channels, num_classes, channels, upsample):
    in_channels = check_int(owner, "in_channels", in_channels, 1)
    num_classes = check_int(owner, "num_classes", num_classes, 1)
    if len(channels) < 1:
        raise ValueError(f"{owner}: channels needs at least one stage, got {channels!r}")
    channels = tuple(check_int(owner, "channels", c, 1) for c in channels)
    if upsample not in UPSAMPLE_MODES:
        raise ValueError(f"{owner}: upsample must be one of {UPSAMPLE_MODES}, got {upsample!r}")
    return (in_channels, num_classes, channels)


def _check_input(owner, x, C, L):
    if x.ndim != 4 or x.shape[1] != C:
        raise ValueError(f"{owner}: expected images of shape (N, {C}, H, W), "
                         f"got {tuple(x.shape)}")
    H, W = x.shape[2:]
    if H % 2 ** L or W % 2 ** L:
        raise ValueError(f"{owner}: H and W must be multiples of 2**{L} = {2 ** L} "
                         f"({L} pooling stages), got {H}x{W}")


class SegNet(Module):
    """SegNet: an encoder of conv-pool stages and a decoder that unpools with their indices.

    Parameters
    ----------
    in_channels : int, default 3
        C.
    num_classes : int, default 2
        K, the number of logits per pixel.
    channels : tuple of int, default (16, 32, 64)
        C_i of the L encoder stages; decoder stage i mirrors encoder stage i.
    upsample : {'unpool', 'nearest', 'bilinear', 'transposed'}, default 'unpool'
        How the decoder doubles the side; 'unpool' is SegNet's own.

    Shape
    -----
    x : Tensor, shape (N, C, H, W), H and W multiples of 2**L
    returns : Tensor, shape (N, K, H, W), per-pixel logits

    Examples
    --------
    >>> import minigrad as mg
    >>> SegNet(1, 3, channels=(4, 8))(mg.randn(2, 1, 8, 8)).shape
    (2, 3, 8, 8)
    """

    def __init__(self, in_channels=3, num_classes=2, channels=(16, 32, 64), upsample="unpool"):
        super().__init__()
        C, K, channels = _check_config("SegNet", in_channels, num_classes, channels, upsample)
        self.in_channels, self.num_classes, self.upsample = C, K, upsample
        widths = (C,) + channels
        self.encoder = ModuleList(conv_bn_relu(widths[i], widths[i + 1])
                                  for i in range(len(channels)))
        self.pool = MaxPool2d(2, return_indices=True)
        # Decoder stage i (run deepest first) upsamples C_i channels with encoder stage i's
        # indices, then maps them to C_{i-1} (C_1 for the last stage, before the classifier).
        self.ups = ModuleList(Up(c, c, upsample) for c in channels)
        self.decoder = ModuleList(conv_bn_relu(channels[i], channels[max(i - 1, 0)])
                                  for i in range(len(channels)))
        self.classifier = Conv2d(channels[0], K, 1)

    def forward(self, x):
        _check_input("SegNet", x, self.in_channels, len(self.encoder))
        indices = []
        for stage in self.encoder:
            x, idx = self.pool(stage(x))
            indices.append(idx)
        for i in reversed(range(len(self.encoder))):
            x = self.decoder[i](self.ups[i](x, indices[i]))
        return self.classifier(x)

    def extra_repr(self):
        return f"upsample={self.upsample!r}"


class UNet(Module):
    """U-Net: conv blocks down, a bottleneck, and up again with skip connections.

    Parameters
    ----------
    in_channels : int, default 3
        C.
    num_classes : int, default 2
        K.
    channels : tuple of int, default (16, 32, 64)
        Widths C_0 .. C_L: the first L are the encoder stages (each followed by a pool), the
        last the bottleneck.
    upsample : {'unpool', 'nearest', 'bilinear', 'transposed'}, default 'transposed'
        How each decoder stage doubles the side before the concatenation.

    Shape
    -----
    x : Tensor, shape (N, C, H, W), H and W multiples of 2**L
    returns : Tensor, shape (N, K, H, W)

    Examples
    --------
    >>> import minigrad as mg
    >>> UNet(1, 3, channels=(4, 8), upsample='bilinear')(mg.randn(2, 1, 8, 8)).shape
    (2, 3, 8, 8)
    """

    def __init__(self, in_channels=3, num_classes=2, channels=(16, 32, 64),
                 upsample="transposed"):
        super().__init__()
        C, K, channels = _check_config("UNet", in_channels, num_classes, channels, upsample)
        if len(channels) < 2:
            raise ValueError(f"UNet: channels needs at least two widths (a stage and the "
                             f"bottleneck), got {channels!r}")
        self.in_channels, self.num_classes, self.upsample = C, K, upsample
        L = len(channels) - 1
        widths = (C,) + channels

        def block(c_in, c_out):
            return Sequential(conv_bn_relu(c_in, c_out), conv_bn_relu(c_out, c_out))

        self.encoder = ModuleList(block(widths[i], widths[i + 1]) for i in range(L))
        self.pool = MaxPool2d(2, return_indices=True)
        self.bottleneck = block(channels[L - 1], channels[L])
        # Decoder stage i: up C_{i+1} -> C_i, concatenate the C_i skip, block 2 C_i -> C_i.
        self.ups = ModuleList(Up(channels[i + 1], channels[i], upsample) for i in range(L))
        self.decoder = ModuleList(block(2 * channels[i], channels[i]) for i in range(L))
        self.classifier = Conv2d(channels[0], K, 1)

    def forward(self, x):
        _check_input("UNet", x, self.in_channels, len(self.encoder))
        skips, indices = [], []
        for stage in self.encoder:
            x = stage(x)
            skips.append(x)
            x, idx = self.pool(x)
            indices.append(idx)
        x = self.bottleneck(x)
        for i in reversed(range(len(self.encoder))):
            x = self.ups[i](x, indices[i])
            x = self.decoder[i](mg.cat([x, skips[i]], dim=1))
        return self.classifier(x)

    def extra_repr(self):
        return f"upsample={self.upsample!r}"
