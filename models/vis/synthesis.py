"""Images made by gradient ascent on the input: what a class or a layer "wants to see".

- :func:`class_visualization` (Simonyan et al., 2014, with the regularisers of Yosinski et
  al., 2015): start from small noise and climb ``score_c(x) - l2_reg |x|²``. The raw ascent
  finds high-frequency adversarial patterns; four regularisers push it towards images:
  L2 decay (small pixels), jitter (a random shift before each step, so the pattern must work
  at every offset), a periodic Gaussian blur (no pixel-scale noise) and clipping to the data's
  range.
- :func:`deep_dream` (Mordvintsev et al., 2015): climb the mean square of one layer's
  activations starting from a real image, so that whatever the layer half-sees is amplified.
  *Octaves* do this on a pyramid of scales, smallest first, carrying the added detail up each
  level, so that patterns appear at several sizes.

Steps are normalised gradient ascent, ``x += lr * g / mean|g|``: the step size then does not
depend on the scale of the score, which changes a lot from model to model.

Notation
--------
C, H, W  image channels, height and width
O        octaves
"""
import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad.checks import check_int, check_number
from models.vis.activations import capture_activations, class_scores


def gaussian_blur(images, sigma):
    """Separable Gaussian blur of NumPy images (..., H, W), radius ``ceil(3 sigma)``, edges
    reflected.

    Examples
    --------
    >>> image = np.zeros((11, 11)); image[5, 5] = 1
    >>> blurred = gaussian_blur(image, 1.0)
    >>> round(float(blurred.sum()), 6), bool(blurred[5, 5] < 1)
    (1.0, True)
    """
    if sigma <= 0:
        return images
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = np.asarray(images, dtype=np.float64)
    for axis in (-2, -1):
        padding = [(0, 0)] * out.ndim
        padding[axis] = (radius, radius)
        padded = np.pad(out, padding, mode="reflect" if out.shape[axis] > radius else "edge")
        length = out.shape[axis]
        out = sum(taps[k] * np.take(padded, np.arange(k, k + length), axis=axis)
                  for k in range(len(taps)))
    return out.astype(np.asarray(images).dtype)


def _ascent_step(x, grad, lr):
    return x + lr * grad / (np.abs(grad).mean() + 1e-12)


def class_visualization(model, target, shape, steps=200, lr=0.5, l2_reg=1e-3, jitter=1,
                        blur_every=10, blur_sigma=0.5, clip=None, seed=None, device="cpu"):
    """An image that the model scores highly as class ``target``.

    Parameters
    ----------
    model : Module (in eval mode)
    target : int
    shape : (C, H, W)
    steps : int, default 200
    lr : float, default 0.5
    l2_reg : float, default 1e-3
        L2 penalty weight on the image.
    jitter : int, default 1
        Largest random shift (pixels) before each step, undone after it.
    blur_every : int, default 10
        Blur every so many steps (0: never) with ``blur_sigma``.
    blur_sigma : float, default 0.5
    clip : (float, float) or None
        Clip the pixels to this range after each step.
    seed : int or None

    Returns
    -------
    ndarray, shape (C, H, W)
    """
    check_int("class_visualization", "steps", steps, low=1)
    check_int("class_visualization", "jitter", jitter, low=0)
    check_int("class_visualization", "blur_every", blur_every, low=0)
    check_number("class_visualization", "l2_reg", l2_reg, low=0)
    rng = np.random.default_rng(seed)
    image = (rng.normal(size=(1, *shape)) * 0.01).astype(np.float32)
    for step in range(steps):
        dy, dx = rng.integers(-jitter, jitter + 1, size=2)
        image = np.roll(image, (dy, dx), axis=(2, 3))
        x = mg.tensor(image, device=device, requires_grad=True)
        objective = class_scores(model(x), target).sum() - l2_reg * (x * x).sum()
        (grad,) = mg.grad(objective, x)
        image = _ascent_step(image, grad.numpy(), lr)
        image = np.roll(image, (-dy, -dx), axis=(2, 3))
        if clip is not None:
            image = np.clip(image, *clip)
        if blur_every and (step + 1) % blur_every == 0:
            image = gaussian_blur(image, blur_sigma)
    return image[0]


def _resize(image, size):
    """Bilinear resize of a NumPy image (C, H, W) to ``size`` = (H', W')."""
    x = mg.tensor(image[None].astype(np.float32))
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False).numpy()[0]


def deep_dream(model, image, layer, octaves=3, octave_scale=1.4, steps=10, lr=0.05, jitter=1,
               clip=None, seed=None, device="cpu"):
    """Amplify what ``layer`` responds to in ``image``, on ``octaves`` scales.

    Parameters
    ----------
    image : ndarray, shape (C, H, W)
    layer : str or Module
        Its output is read by a forward hook; the forward pass stops there, so the layers
        after it (and their expected input size) do not matter.
    octaves : int, default 3
        Levels of the pyramid; level o has size ``(H, W) / octave_scale^o``.
    octave_scale : float, default 1.4
    steps : int, default 10
        Ascent steps per octave.
    lr : float, default 0.05

    Returns
    -------
    ndarray, shape (C, H, W)
    """
    check_int("deep_dream", "octaves", octaves, low=1)
    check_int("deep_dream", "steps", steps, low=1)
    check_number("deep_dream", "octave_scale", octave_scale, low=1)
    rng = np.random.default_rng(seed)
    image = np.asarray(image, dtype=np.float32)
    _, H, W = image.shape
    sizes = [(max(1, round(H / octave_scale ** o)), max(1, round(W / octave_scale ** o)))
             for o in reversed(range(octaves))]
    detail = np.zeros((image.shape[0], *sizes[0]), dtype=np.float32)
    for size in sizes:
        base = _resize(image, size) if size != (H, W) else image
        detail = _resize(detail, size) if detail.shape[1:] != size else detail
        dream = base + detail
        for _ in range(steps):
            dy, dx = rng.integers(-jitter, jitter + 1, size=2)
            shifted = np.roll(dream, (dy, dx), axis=(1, 2))
            x = mg.tensor(shifted[None], device=device, requires_grad=True)
            activation = capture_activations(model, x, [layer])[layer]
            (grad,) = mg.grad((activation * activation).mean() / 2, x)
            dream = np.roll(_ascent_step(shifted, grad.numpy()[0], lr), (-dy, -dx), axis=(1, 2))
            if clip is not None:
                dream = np.clip(dream, *clip)
        detail = dream - base
    return dream
