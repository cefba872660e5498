"""Data augmentation on NumPy, shaped like torchvision's ``transforms``.

A transform is a callable object: ``t(img)`` returns a new image. ``Compose`` chains several.
Every transform here takes one image (C, H, W) or a batch (N, C, H, W), as a NumPy array or a
Tensor, and returns the same kind (a Tensor comes back on its device). On a batch each image
draws its own random parameters, and the work is vectorised over the batch, so a training loop
can augment a whole batch with one call: ``x = augment(x)``.

The geometric transforms map output pixels back to input pixels (``inverse warping``): for
every output pixel (x, y) they compute where it came from and read the input there, with the
``fill`` value where that point lies outside the image. Coordinates are pixel indices, x to the
right and y down, and the centre of rotation is the image centre ((W - 1) / 2, (H - 1) / 2), so
a rotation by 90 degrees moves pixels exactly onto pixels (it equals ``np.rot90``).

Randomness. A random transform takes ``generator=`` (a ``numpy.random.Generator``) or
``seed=``, as the samplers do; without either, every call draws from NumPy's global generator,
which ``mg.manual_seed`` seeds and which each ``DataLoader`` worker seeds differently.

The batch-level ``mixup`` and ``cutmix`` mix pairs of samples and their labels; they live in
:mod:`minigrad.data.mixing` and are re-exported here.

Notation
--------
N, C, H, W   batch, channels, height, width
p            the probability that a random transform is applied to an image
"""
import numbers

import numpy as np

from minigrad.data.mixing import cutmix, mix_targets, mixup
from minigrad.data.sampler import epoch_generator, make_generator
from minigrad.data.warp import affine_matrix, warp_affine

__all__ = ["Compose", "ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "RandomAffine", "RandomErasing", "ColorJitter", "GaussianBlur",
           "mixup", "cutmix", "mix_targets", "pad", "affine_matrix", "warp_affine"]


def _as_batch(img, who):
    """(array of shape (N, C, H, W), how to give the result back in the caller's form)."""
    from minigrad.tensor import Tensor
    device = None
    if isinstance(img, Tensor):
        device, img = img.device, img.numpy()
    img = np.asarray(img)
    if img.ndim not in (3, 4):
        raise ValueError(f"{who}: expected an image (C, H, W) or a batch (N, C, H, W), "
                         f"got shape {img.shape}")
    single = img.ndim == 3
    batch = img[None] if single else img

    def give_back(out):
        out = out[0] if single else out
        if device is None:
            return out
        from minigrad.factories import tensor
        return tensor(np.ascontiguousarray(out), dtype=out.dtype, device=device)
    return batch, give_back


def _float(batch):
    return batch if np.issubdtype(batch.dtype, np.floating) else batch.astype(np.float32)


def _in_place(img, who):
    """``img`` itself as a batch that may be written into, for ``inplace=True``: a writeable
    floating NumPy array (or a CPU Tensor's array), else a clear error (torchvision changes
    the tensor it is given; an integer or read-only image cannot hold the result)."""
    from minigrad.tensor import Tensor
    array = img.data if isinstance(img, Tensor) else img
    if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.floating) \
            or not array.flags.writeable or array.ndim not in (3, 4):
        raise ValueError(f"{who}: inplace=True needs a writeable floating NumPy array or CPU "
                         f"Tensor of shape (C, H, W) or (N, C, H, W), got "
                         f"{type(img).__name__} of dtype {getattr(array, 'dtype', None)}")
    if isinstance(img, Tensor):
        img._version += 1  # a change in place: a backward that saved img must see it
    return array[None] if array.ndim == 3 else array


def _range(value, name, who, center=0.0, low=None):
    """A (min, max) pair from a number v (meaning center ± v) or a pair, checked."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{who}: {name} must be non-negative, got {value}")
        pair = (center - value, center + value)
    elif len(value) == 2:
        pair = (float(value[0]), float(value[1]))
    else:
        raise ValueError(f"{who}: {name} must be a number or a (min, max) pair, got {value!r}")
    if pair[0] > pair[1] or (low is not None and pair[0] < low):
        raise ValueError(f"{who}: {name} range {pair} must have min <= max"
                         + ("" if low is None else f" and min >= {low}"))
    return pair


class _Random:
    """Base of the random transforms: holds the generator and applies itself with probability p."""

    def __init__(self, generator=None, seed=None):
        self.generator = make_generator(generator, seed, type(self).__name__)

    def _rng(self):
        return epoch_generator(self.generator)


class Compose:
    """Apply ``transforms`` one after the other: ``Compose([a, b])(x) == b(a(x))``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class ToTensor:
    """An image array (H, W) or (H, W, C) to a float32 Tensor (C, H, W); uint8 is scaled to [0, 1].

    As torchvision's, it moves the channels first and divides uint8 values by 255. A Tensor
    passes through unchanged (the shipped datasets are already (C, H, W) in [0, 1]).
    """

    def __call__(self, pic):
        from minigrad.factories import tensor
        from minigrad.tensor import Tensor
        if isinstance(pic, Tensor):
            return pic
        pic = np.asarray(pic)
        if pic.ndim == 2:
            pic = pic[:, :, None]
        if pic.ndim != 3:
            raise ValueError(f"ToTensor: expected an image (H, W) or (H, W, C), got shape "
                             f"{pic.shape}")
        out = pic.transpose(2, 0, 1).astype(np.float32)
        if pic.dtype == np.uint8:
            out /= 255.0
        return tensor(np.ascontiguousarray(out))


class Normalize:
    """Per channel: ``out[c] = (img[c] - mean[c]) / std[c]``.

    Parameters
    ----------
    mean, std : sequence of float, length C
    inplace : bool, default False
        Write the result into ``img`` (a writeable floating array or CPU Tensor) and return it.
    """

    def __init__(self, mean, std, inplace=False):
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1, 1, 1)
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must be non-zero, got {self.std.ravel().tolist()}")
        self.inplace = inplace

    def __call__(self, img):
        batch, give_back = _as_batch(img, "Normalize")
        if batch.shape[1] != len(self.mean) and len(self.mean) != 1:
            raise ValueError(f"Normalize: {len(self.mean)} means for {batch.shape[1]} channels")
        if self.inplace:
            target = _in_place(img, "Normalize")
            target[...] = (target - self.mean) / self.std
            return img
        batch = _float(batch)
        return give_back(((batch - self.mean) / self.std).astype(batch.dtype))


def pad(batch, padding, fill=0.0, padding_mode="constant"):
    """Pad a batch (N, C, H, W) by ``padding``: an int, (left/right, top/bottom) or
    (left, top, right, bottom), torchvision's order; modes are NumPy's ('constant', 'edge',
    'reflect', 'symmetric')."""
    if isinstance(padding, numbers.Integral):
        padding = (padding,) * 4
    elif len(padding) == 2:
        padding = (padding[0], padding[1], padding[0], padding[1])
    if len(padding) != 4 or min(padding) < 0:
        raise ValueError(f"pad: padding must be a non-negative int or a 2- or 4-sequence, "
                         f"got {padding!r}")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError(f"pad: padding_mode must be 'constant', 'edge', 'reflect' or "
                         f"'symmetric', got {padding_mode!r}")
    left, top, right, bottom = padding
    widths = ((0, 0), (0, 0), (top, bottom), (left, right))
    if padding_mode == "constant":
        return np.pad(batch, widths, mode="constant", constant_values=fill)
    return np.pad(batch, widths, mode=padding_mode)


class RandomCrop(_Random):
    """Cut a random (h, w) window, after optional padding (the CIFAR recipe: pad 4, crop 32).

    Parameters
    ----------
    size : int or (h, w)
    padding : int or sequence, optional
        See :func:`pad`.
    pad_if_needed : bool, default False
        Pad an image smaller than ``size`` up to it.
    fill : float, default 0
        The value of constant padding.
    padding_mode : {'constant', 'edge', 'reflect', 'symmetric'}, default 'constant'
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant",
                 *, generator=None, seed=None):
        super().__init__(generator, seed)
        self.size = (size, size) if isinstance(size, numbers.Integral) else tuple(size)
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    def __call__(self, img):
        batch, give_back = _as_batch(img, "RandomCrop")
        if self.padding is not None:
            batch = pad(batch, self.padding, self.fill, self.padding_mode)
        h, w = self.size
        N, C, H, W = batch.shape
        if self.pad_if_needed and (H < h or W < w):
            dw, dh = max(w - W, 0), max(h - H, 0)
            batch = pad(batch, (dw, dh), self.fill, self.padding_mode)
            N, C, H, W = batch.shape
        if H < h or W < w:
            raise ValueError(f"RandomCrop: crop size {(h, w)} is larger than the (padded) "
                             f"image {(H, W)}")
        rng = self._rng()
        top = rng.integers(0, H - h + 1, size=N)
        left = rng.integers(0, W - w + 1, size=N)
        rows = top[:, None] + np.arange(h)                       # (N, h)
        cols = left[:, None] + np.arange(w)                      # (N, w)
        n = np.arange(N)[:, None, None, None]
        c = np.arange(C)[None, :, None, None]
        return give_back(batch[n, c, rows[:, None, :, None], cols[:, None, None, :]])


class RandomHorizontalFlip(_Random):
    """Mirror the image left-right with probability ``p``."""

    def __init__(self, p=0.5, *, generator=None, seed=None):
        super().__init__(generator, seed)
        self.p = p

    def __call__(self, img):
        batch, give_back = _as_batch(img, type(self).__name__)
        flip = self._rng().random(batch.shape[0]) < self.p
        return give_back(np.where(flip[:, None, None, None], self._flipped(batch), batch))

    @staticmethod
    def _flipped(batch):
        return batch[..., ::-1]


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror the image upside-down with probability ``p``."""

    @staticmethod
    def _flipped(batch):
        return batch[..., ::-1, :]


class RandomAffine(_Random):
    """Rotate, translate, scale and shear by random amounts, about the image centre.

    The forward map of a point p = (x, y) is ``centre + t + A (p - centre)`` with
    ``A = scale · R(angle) · Shear(sx, sy)``; see :func:`minigrad.data.warp.affine_matrix`.

    Parameters
    ----------
    degrees : float or (min, max)
        Rotation angle range in degrees, counter-clockwise as seen on the image; a number d
        means (-d, d).
    translate : (a, b), optional
        Largest shift as fractions of the width (a) and height (b); shifts are drawn from
        [-a·W, a·W] and [-b·H, b·H].
    scale : (min, max), optional
        Scale factor range; 1 when None.
    shear : float, (min, max) or (xmin, xmax, ymin, ymax), optional
        Shear angles in degrees, parallel to x (and to y with four values).
    interpolation : {'nearest', 'bilinear'}, default 'nearest'
    fill : float, default 0
        The value of output pixels that come from outside the image.
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation="nearest",
                 fill=0, *, generator=None, seed=None):
        super().__init__(generator, seed)
        self.degrees = _range(degrees, "degrees", "RandomAffine")
        if translate is not None and not all(0 <= t <= 1 for t in translate):
            raise ValueError(f"RandomAffine: translate must be two fractions in [0, 1], "
                             f"got {translate!r}")
        self.translate = translate
        self.scale = None if scale is None else _range(scale, "scale", "RandomAffine", low=1e-12)
        if shear is None or isinstance(shear, numbers.Real) or len(shear) == 2:
            self.shear = (None if shear is None
                          else _range(shear, "shear", "RandomAffine") + (0.0, 0.0))
        elif len(shear) == 4:
            self.shear = tuple(float(s) for s in shear)
        else:
            raise ValueError(f"RandomAffine: shear must be a number or 2 or 4 values, "
                             f"got {shear!r}")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"RandomAffine: interpolation must be 'nearest' or 'bilinear', "
                             f"got {interpolation!r}")
        self.interpolation, self.fill = interpolation, fill

    def get_params(self, rng, N, H, W):
        """Draw N parameter sets: angle, (tx, ty), scale, (shear_x, shear_y), each shape (N,)."""
        angle = rng.uniform(*self.degrees, size=N)
        tx = ty = np.zeros(N)
        if self.translate is not None:
            a, b = self.translate[0] * W, self.translate[1] * H
            tx, ty = np.round(rng.uniform(-a, a, size=N)), np.round(rng.uniform(-b, b, size=N))
        scale = np.ones(N) if self.scale is None else rng.uniform(*self.scale, size=N)
        sx = sy = np.zeros(N)
        if self.shear is not None:
            sx = rng.uniform(self.shear[0], self.shear[1], size=N)
            sy = rng.uniform(self.shear[2], self.shear[3], size=N)
        return angle, (tx, ty), scale, (sx, sy)

    def __call__(self, img):
        batch, give_back = _as_batch(img, "RandomAffine")
        N, C, H, W = batch.shape
        angle, translate, scale, shear = self.get_params(self._rng(), N, H, W)
        A, t = affine_matrix(angle, translate, scale, shear)
        return give_back(warp_affine(_float(batch), A, t, self.interpolation, self.fill))


class RandomErasing(_Random):
    """With probability ``p``, set a random rectangle of the image to ``value`` (cutout).

    The rectangle's area is a fraction in ``scale`` of the image, its aspect ratio h/w is
    log-uniform in ``ratio``; as in torchvision, up to 10 draws look for one that fits, and
    the image is left as it is when none does.

    Parameters
    ----------
    p : float, default 0.5
    scale : (min, max), default (0.02, 0.33)
    ratio : (min, max), default (0.3, 3.3)
    value : float, default 0
    inplace : bool, default False
        Write into ``img`` (a writeable floating array or CPU Tensor) and return it.
    """

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False,
                 *, generator=None, seed=None):
        super().__init__(generator, seed)
        if not 0 <= p <= 1:
            raise ValueError(f"RandomErasing: p must be in [0, 1], got {p}")
        self.p, self.scale, self.ratio = p, _range(scale, "scale", "RandomErasing", low=0), \
            _range(ratio, "ratio", "RandomErasing", low=1e-12)
        self.value, self.inplace = value, inplace

    def get_boxes(self, rng, N, H, W):
        """(top, left, h, w) for each of N images, each shape (N,); h = 0 means no erasing."""
        area = rng.uniform(*self.scale, size=(N, 10)) * H * W
        ratio = np.exp(rng.uniform(*np.log(self.ratio), size=(N, 10)))
        h = np.round(np.sqrt(area * ratio)).astype(np.int64)
        w = np.round(np.sqrt(area / ratio)).astype(np.int64)
        fits = (h < H) & (w < W) & (h > 0) & (w > 0)
        first = np.argmax(fits, axis=1)                           # the first draw that fits
        rows = np.arange(N)
        ok = fits[rows, first] & (rng.random(N) < self.p)
        h, w = np.where(ok, h[rows, first], 0), np.where(ok, w[rows, first], 0)
        top = np.floor(rng.random(N) * (H - h + 1)).astype(np.int64)
        left = np.floor(rng.random(N) * (W - w + 1)).astype(np.int64)
        return top, left, h, w

    def __call__(self, img):
        batch, give_back = _as_batch(img, "RandomErasing")
        N, C, H, W = batch.shape
        top, left, h, w = self.get_boxes(self._rng(), N, H, W)
        ys, xs = np.arange(H)[None, :, None], np.arange(W)[None, None, :]
        inside = ((ys >= top[:, None, None]) & (ys < (top + h)[:, None, None])
                  & (xs >= left[:, None, None]) & (xs < (left + w)[:, None, None]))
        if self.inplace:
            target = _in_place(img, "RandomErasing")
            np.copyto(target, np.asarray(self.value, target.dtype),
                      where=np.broadcast_to(inside[:, None], target.shape))
            return img
        return give_back(np.where(inside[:, None], np.asarray(self.value, batch.dtype), batch))


class ColorJitter(_Random):
    """Random brightness and contrast, in a random order per image (as torchvision draws it):
    brightness ``img · b`` and contrast ``(img - mean) · c + mean``, each clipped to [0, 1].

    The factors b and c are drawn uniformly from [max(0, 1 - brightness), 1 + brightness] and
    likewise for contrast; ``mean`` is the mean grey level of the image as the contrast step
    finds it (after the brightness step when that came first). Saturation and hue are not
    offered (the project's images are grey).

    Parameters
    ----------
    brightness, contrast : float or (min, max), default 0
    """

    def __init__(self, brightness=0, contrast=0, *, generator=None, seed=None):
        super().__init__(generator, seed)
        self.brightness = _range(brightness, "brightness", "ColorJitter", center=1.0)
        self.contrast = _range(contrast, "contrast", "ColorJitter", center=1.0)
        self.brightness = (max(self.brightness[0], 0.0), self.brightness[1])
        self.contrast = (max(self.contrast[0], 0.0), self.contrast[1])

    def __call__(self, img):
        batch, give_back = _as_batch(img, "ColorJitter")
        batch = _float(batch)
        rng = self._rng()
        N = batch.shape[0]
        b = rng.uniform(*self.brightness, size=(N, 1, 1, 1))
        c = rng.uniform(*self.contrast, size=(N, 1, 1, 1))
        brightness_first = rng.random((N, 1, 1, 1)) < 0.5

        def brighten(x):
            return np.clip(x * b, 0, 1)

        def contrast(x):
            mean = x.mean(axis=(1, 2, 3), keepdims=True)
            return np.clip((x - mean) * c + mean, 0, 1)
        out = np.where(brightness_first, contrast(brighten(batch)), brighten(contrast(batch)))
        return give_back(out.astype(batch.dtype))


def gaussian_kernel1d(kernel_size, sigma):
    """Normalised Gaussian weights, shape (N, K), for each of N sigmas (shape (N,))."""
    half = (kernel_size - 1) / 2
    x = np.arange(kernel_size) - half
    k = np.exp(-0.5 * (x[None, :] / np.asarray(sigma, np.float64)[:, None]) ** 2)
    return k / k.sum(axis=1, keepdims=True)


class GaussianBlur(_Random):
    """Blur with a Gaussian of standard deviation drawn uniformly from ``sigma``.

    The 2-d kernel is separable, exp(-(x² + y²)/2σ²) = exp(-x²/2σ²)·exp(-y²/2σ²), so the
    image is filtered along rows and then along columns; borders are reflected, as in
    torchvision.

    Parameters
    ----------
    kernel_size : int or (kh, kw)
        Odd and positive.
    sigma : float or (min, max), default (0.1, 2.0)
    """

    def __init__(self, kernel_size, sigma=(0.1, 2.0), *, generator=None, seed=None):
        super().__init__(generator, seed)
        ks = kernel_size
        ks = (ks, ks) if isinstance(ks, numbers.Integral) else tuple(ks)
        if len(ks) != 2 or any(k < 1 or k % 2 == 0 for k in ks):
            raise ValueError(f"GaussianBlur: kernel_size must be odd and positive, "
                             f"got {kernel_size!r}")
        self.kernel_size = ks
        self.sigma = (sigma, sigma) if isinstance(sigma, numbers.Real) else tuple(sigma)
        if self.sigma[0] <= 0 or self.sigma[0] > self.sigma[1]:
            raise ValueError(f"GaussianBlur: sigma must be positive, min <= max, got {sigma!r}")

    def __call__(self, img):
        batch, give_back = _as_batch(img, "GaussianBlur")
        batch = _float(batch)
        N = batch.shape[0]
        sigma = self._rng().uniform(*self.sigma, size=N)
        KH, KW = self.kernel_size
        out = _filter_last_axis(batch, gaussian_kernel1d(KW, sigma))
        out = _filter_last_axis(out.swapaxes(2, 3), gaussian_kernel1d(KH, sigma)).swapaxes(2, 3)
        return give_back(out.astype(batch.dtype))


def _filter_last_axis(batch, kernels):
    """Correlate each image n along its last axis with ``kernels[n]`` (shape (N, K)), reflecting."""
    K = kernels.shape[1]
    half = K // 2
    if half >= batch.shape[-1]:
        raise ValueError(f"GaussianBlur: kernel size {K} needs images wider than {half} pixels, "
                         f"got {batch.shape[-1]}")
    padded = np.pad(batch, ((0, 0), (0, 0), (0, 0), (half, half)), mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, K, axis=-1)   # (N, C, H, W, K)
    return np.einsum("nchwk,nk->nchw", windows, kernels)
