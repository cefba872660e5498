"""Residual networks (He et al., 2015) with BatchNorm, sized for small images or ImageNet.

A residual block adds its input back to what its convolutions compute, so each block only has
to learn a correction to the identity, and gradients reach early layers through the sums:

    BasicBlock:  y = relu(x' + BN(conv3x3(relu(BN(conv3x3_s(x))))))
    Bottleneck:  y = relu(x' + BN(conv1x1(relu(BN(conv3x3_s(relu(BN(conv1x1(x)))))))))

where ``x'`` is ``x`` itself, or ``downsample(x)``, a strided 1x1 convolution plus BatchNorm,
when the block changes the shape (stride 2 or a new channel count). As in torchvision
("ResNet v1.5"), the stride sits on the 3x3 convolution.

The network is a stem, stages of blocks, global average pooling and one Linear layer:

    x (N, C, H, W)
    ─ conv1 ─ bn1 ─ relu ─ maxpool     small_input: 3x3 stride-1 conv, no pool (size kept)
                                       otherwise:   7x7 stride-2 conv, 3x3 stride-2 pool (H/4)
    ─ layer1 .. layerS                 stage i has B_i blocks of D 2^(i-1) planes; stage 1
                                       keeps the size, each later stage halves it
    ─ avgpool ─ flatten ─ fc           AdaptiveAvgPool2d(1), Linear(D 2^(S-1) e, K_out)

Module names are torchvision's (``conv1``, ``layer1.0.downsample.0``, ``fc`` ...), so a
torchvision state dict converted to NumPy loads into ``resnet18()`` or ``resnet50()``.

Initialisation follows torchvision: Kaiming-normal convolution weights (fan_out, ReLU gain),
BatchNorm weight 1 and bias 0, and optionally 0 for the last BatchNorm weight of each block
(``zero_init_residual``), so that every block starts as the identity.

Notation
--------
N            batch size
C            input channels
H, W         input height and width
D            width of the stem and the first stage, ``width``
S            number of stages, ``len(layers)``; B_i blocks in stage i
e            block expansion: 1 for BasicBlock, 4 for Bottleneck
K_out        number of classes
"""
from minigrad.checks import check_int

from layers import (AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Identity, Linear, MaxPool2d, Module,
                    ReLU, Sequential, init)


def _conv3x3(in_channels, out_channels, stride=1):
    return Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def _conv1x1(in_channels, out_channels, stride=1):
    return Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


def _downsample(in_channels, out_channels, stride):
    """None when the block keeps the shape, else the projection ``BN(conv1x1_s(x))``."""
    if stride == 1 and in_channels == out_channels:
        return None
    return Sequential(_conv1x1(in_channels, out_channels, stride), BatchNorm2d(out_channels))


class BasicBlock(Module):
    """Two 3x3 convolutions with a skip connection; ResNet-18/34's block.

    Parameters
    ----------
    in_channels : int
        C_in of the input.
    planes : int
        Channels of both convolutions; the block outputs ``planes * expansion`` = planes.
    stride : int, default 1
        Stride of the first convolution (and of the projection).

    Input (N, C_in, H, W) gives output (N, planes, OH, OW), ``OH = (H - 1) // stride + 1``.
    """

    expansion = 1

    def __init__(self, in_channels, planes, stride=1):
        super().__init__()
        self.conv1 = _conv3x3(in_channels, planes, stride)
        self.bn1 = BatchNorm2d(planes)
        self.relu = ReLU()
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = BatchNorm2d(planes)
        self.downsample = _downsample(in_channels, planes, stride)

    def last_bn(self):
        """The BatchNorm whose output joins the skip connection (zeroed by zero_init_residual)."""
        return self.bn2

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(Module):
    """1x1 reduce, 3x3, 1x1 expand, with a skip connection; ResNet-50's block.

    Parameters
    ----------
    in_channels : int
        C_in of the input.
    planes : int
        Channels of the two inner convolutions; the block outputs ``planes * 4``.
    stride : int, default 1
        Stride of the 3x3 convolution (and of the projection).

    Input (N, C_in, H, W) gives output (N, 4 * planes, OH, OW), ``OH = (H - 1) // stride + 1``.
    """

    expansion = 4

    def __init__(self, in_channels, planes, stride=1):
        super().__init__()
        out_channels = planes * self.expansion
        self.conv1 = _conv1x1(in_channels, planes)
        self.bn1 = BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, out_channels)
        self.bn3 = BatchNorm2d(out_channels)
        self.relu = ReLU()
        self.downsample = _downsample(in_channels, out_channels, stride)

    def last_bn(self):
        """The BatchNorm whose output joins the skip connection (zeroed by zero_init_residual)."""
        return self.bn3

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(Module):
    """A residual network: stem, stages of residual blocks, global average pool, Linear.

    Parameters
    ----------
    block : BasicBlock or Bottleneck
        The block class, which sets the expansion e.
    layers : sequence of int, default (2, 2, 2, 2)
        B_1 .. B_S, blocks per stage; (2, 2, 2, 2) with BasicBlock is ResNet-18.
    num_classes : int, default 10
        K_out.
    in_channels : int, default 3
        C.
    width : int, default 64
        D, channels of the stem and the first stage; stage i has ``D * 2^(i-1)`` planes.
    small_input : bool, default True
        A 3x3 stride-1 stem that keeps the image size (digits, CIFAR); False gives ImageNet's
        7x7 stride-2 stem with a 3x3 stride-2 max pool.
    zero_init_residual : bool, default False
        Start the last BatchNorm weight of each block at 0, so that each block is the identity.

    Attributes
    ----------
    conv1, bn1, relu, maxpool : Module
        The stem; ``maxpool`` is an Identity for small inputs.
    layer1 .. layerS : Sequential
        The stages; ``stages()`` lists them.
    avgpool, fc : Module
        The head.

    Examples
    --------
    >>> import minigrad as mg
    >>> model = ResNet(BasicBlock, layers=(1, 1), in_channels=1, width=4)
    >>> model(mg.randn(2, 1, 8, 8)).shape
    (2, 10)
    """

    def __init__(self, block, layers=(2, 2, 2, 2), num_classes=10, in_channels=3, width=64,
                 small_input=True, zero_init_residual=False):
        super().__init__()
        blocks_per_stage = [check_int("ResNet", "each entry of layers", b, 1) for b in layers]
        if not blocks_per_stage:
            raise ValueError("ResNet: layers must name at least one stage")
        num_classes = check_int("ResNet", "num_classes", num_classes, 1)
        in_channels = check_int("ResNet", "in_channels", in_channels, 1)
        width = check_int("ResNet", "width", width, 1)
        self.in_channels = in_channels
        if small_input:
            self.conv1 = _conv3x3(in_channels, width)
        else:
            self.conv1 = Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = BatchNorm2d(width)
        self.relu = ReLU()
        self.maxpool = Identity() if small_input else MaxPool2d(3, stride=2, padding=1)
        channels = width
        self.num_stages = len(blocks_per_stage)
        for i, count in enumerate(blocks_per_stage):
            planes = width * 2 ** i
            blocks = []
            for j in range(count):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(block(channels, planes, stride))
                channels = planes * block.expansion
            setattr(self, f"layer{i + 1}", Sequential(*blocks))
        self.avgpool = AdaptiveAvgPool2d(1)
        self.fc = Linear(channels, num_classes)
        self._initialise(zero_init_residual)

    def stages(self):
        """The stages ``[layer1, …, layerS]``."""
        return [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    def _initialise(self, zero_init_residual):
        for m in self.modules():
            if isinstance(m, Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    init.zeros_(m.last_bn().weight)

    def forward(self, x):
        """Map images to logits.

        Parameters
        ----------
        x : Tensor, shape (N, C, H, W)

        Returns
        -------
        Tensor, shape (N, K_out)
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ResNet: expected images of shape (N, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in self.stages():
            x = stage(x)
        return self.fc(self.avgpool(x).flatten(1))


def resnet_small(num_classes=10, in_channels=1, width=16, layers=(2, 2, 2), **kwargs):
    """A small ResNet for tiny images (8x8 digits, 28x28 Fashion-MNIST, 32x32 CIFAR).

    BasicBlocks in three stages of 16, 32 and 64 planes (for ``width=16``) after a 3x3 stem,
    in the spirit of the CIFAR ResNets of He et al.; 174,970 parameters with the defaults.
    Extra keyword arguments go to :class:`ResNet`.
    """
    return ResNet(BasicBlock, layers=layers, num_classes=num_classes, in_channels=in_channels,
                  width=width, **kwargs)


def resnet18(num_classes=1000, in_channels=3, small_input=False, **kwargs):
    """ResNet-18: BasicBlocks (2, 2, 2, 2), width 64 (11,689,512 parameters for 1000 classes)."""
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes=num_classes, in_channels=in_channels,
                  small_input=small_input, **kwargs)


def resnet34(num_classes=1000, in_channels=3, small_input=False, **kwargs):
    """ResNet-34: BasicBlocks (3, 4, 6, 3), width 64 (21,797,672 parameters for 1000 classes)."""
    return ResNet(BasicBlock, (3, 4, 6, 3), num_classes=num_classes, in_channels=in_channels,
                  small_input=small_input, **kwargs)


def resnet50(num_classes=1000, in_channels=3, small_input=False, **kwargs):
    """ResNet-50: Bottlenecks (3, 4, 6, 3), width 64 (25,557,032 parameters for 1000 classes)."""
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes=num_classes, in_channels=in_channels,
                  small_input=small_input, **kwargs)
