"""LeNet: two convolution–ReLU–max-pool stages, then three fully connected layers.

    x (N, C, S, S)
    ─ Conv2d(C, C_1, K, padding=K//2) ─ ReLU ─ MaxPool2d(2)      -> (N, C_1, S/2, S/2)
    ─ Conv2d(C_1, C_2, K, padding=K//2) ─ ReLU ─ MaxPool2d(2)    -> (N, C_2, S/4, S/4)
    ─ Flatten ─ Linear(C_2 (S/4)², F_1) ─ ReLU ─ Linear(F_1, F_2) ─ ReLU ─ Linear(F_2, K_out)

LeCun's original network shrinks the image with an unpadded second convolution (28 -> 10 -> 5).
Here both convolutions keep the size ("same" padding, an odd K), so the only shrinking is the
two pools: the 8x8 digits survive as 2x2 maps and 28x28 images become 7x7, with one rule.

Notation
--------
N              batch size
C              input channels (1 for grey images)
S              image height and width, ``image_size``
K              convolution kernel size (odd)
C_1, C_2       channels of the two convolutions, ``channels``
F_1, F_2       widths of the two hidden Linear layers, ``hidden``
K_out          number of classes, ``num_classes``
"""
from minigrad.checks import check_int

from layers import Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential


class LeNet(Module):
    """A LeNet-style CNN for small square images.

    Parameters
    ----------
    in_channels : int, default 1
        C, channels of the input images.
    num_classes : int, default 10
        K_out, the number of logits.
    image_size : int, default 28
        S, the height and width of the inputs; a multiple of 4 (two 2x2 pools), e.g. 8 or 28.
    channels : (int, int), default (6, 16)
        C_1, C_2, output channels of the two convolutions (LeCun's 6 and 16).
    hidden : (int, int), default (120, 84)
        F_1, F_2, widths of the two hidden Linear layers (LeCun's 120 and 84).
    kernel_size : int, default 5
        K, an odd kernel size; each convolution pads by ``K // 2``.

    Attributes
    ----------
    features : Sequential
        The two convolution stages, (N, C, S, S) -> (N, C_2, S/4, S/4).
    classifier : Sequential
        Flatten and the three Linear layers, (N, C_2, S/4, S/4) -> (N, K_out).

    Notes
    -----
    Parameter count: ``C_1 (C K² + 1) + C_2 (C_1 K² + 1) + F_1 (C_2 (S/4)² + 1)
    + F_2 (F_1 + 1) + K_out (F_2 + 1)``.

    Examples
    --------
    >>> import minigrad as mg
    >>> LeNet(image_size=8)(mg.randn(2, 1, 8, 8)).shape
    (2, 10)
    """

    def __init__(self, in_channels=1, num_classes=10, image_size=28, channels=(6, 16),
                 hidden=(120, 84), kernel_size=5):
        super().__init__()
        in_channels = check_int("LeNet", "in_channels", in_channels, 1)
        num_classes = check_int("LeNet", "num_classes", num_classes, 1)
        image_size = check_int("LeNet", "image_size", image_size, 1)
        kernel_size = check_int("LeNet", "kernel_size", kernel_size, 1)
        if image_size % 4:
            raise ValueError(f"LeNet: image_size must be a multiple of 4 (two 2x2 pools), "
                             f"got {image_size}")
        if kernel_size % 2 == 0:
            raise ValueError(f"LeNet: kernel_size must be odd, so that padding K//2 keeps the "
                             f"image size, got {kernel_size}")
        if len(channels) != 2 or len(hidden) != 2:
            raise ValueError(f"LeNet: channels and hidden take two sizes each, got "
                             f"channels={channels!r}, hidden={hidden!r}")
        C1, C2 = (check_int("LeNet", "channels", c, 1) for c in channels)
        F1, F2 = (check_int("LeNet", "hidden", f, 1) for f in hidden)
        pad = kernel_size // 2
        side = image_size // 4
        self.in_channels = in_channels
        self.image_size = image_size
        self.features = Sequential(
            Conv2d(in_channels, C1, kernel_size, padding=pad), ReLU(),
            MaxPool2d(2),
            Conv2d(C1, C2, kernel_size, padding=pad), ReLU(),
            MaxPool2d(2),
        )
        self.classifier = Sequential(
            Flatten(),
            Linear(C2 * side * side, F1), ReLU(),
            Linear(F1, F2), ReLU(),
            Linear(F2, num_classes),
        )

    def forward(self, x):
        """Map images to logits.

        Parameters
        ----------
        x : Tensor, shape (N, C, S, S)

        Returns
        -------
        Tensor, shape (N, K_out)
        """
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"LeNet: expected images of shape (N, {expected[0]}, "
                             f"{expected[1]}, {expected[2]}), got {tuple(x.shape)}")
        return self.classifier(self.features(x))
