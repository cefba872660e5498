"""Attribution maps: which input pixels does a class score depend on?

=======================  ================================================================
occlusion                grey out a window, see how far the score falls; every window
                         position is one image of a single batched forward pass (Zeiler &
                         Fergus, 2014)
saliency                 the gradient d score / d x (Simonyan et al., 2014)
smoothgrad               the mean gradient over noisy copies of x: the noise averages away
                         the gradient's pixel-scale jitter (Smilkov et al., 2017)
integrated_gradients     (x - x') times the mean gradient along the straight path from a
                         baseline x' to x; the map sums to F(x) - F(x') (Sundararajan et
                         al., 2017)
grad_cam                 a layer's channels weighted by their mean gradient, ReLU, then
                         upsampled to the image (Selvaraju et al., 2017)
=======================  ================================================================

Each takes the model (put it in ``eval()`` first, so BatchNorm and Dropout are fixed), the
images and the target class, an int or one per image, and returns a map on the images' device.

Notation
--------
N        batch size
C, H, W  image channels, height and width
S        samples (SmoothGrad) or path steps (Integrated Gradients)
P        occluder positions, PH x PW
K        channels of the Grad-CAM layer; h, w its height and width
"""
import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad.checks import check_int, check_number
from models.vis.activations import class_scores, get_layer


def _input_gradient(model, x, target):
    """d (sum of the target scores) / d x, with x a fresh leaf; shape of x."""
    x = x.detach().requires_grad_()
    (grad,) = mg.grad(class_scores(model(x), target).sum(), x)
    return grad


def saliency(model, x, target):
    """The gradient of the target class score with respect to the input.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    target : int or sequence of N ints

    Returns
    -------
    Tensor, shape (N, C, H, W): ``d score_n / d x_n``. Plot ``abs`` and the max over C.
    """
    return _input_gradient(model, x, target).detach()


def smoothgrad(model, x, target, n_samples=25, noise_level=0.15, seed=None):
    """The saliency averaged over ``n_samples`` copies of x with Gaussian noise.

    The noise's standard deviation is ``noise_level * (max(x_n) - min(x_n))``, per image.
    """
    check_int("smoothgrad", "n_samples", n_samples, low=1)
    check_number("smoothgrad", "noise_level", noise_level, low=0)
    rng = np.random.default_rng(seed)
    data = x.numpy()
    spread = (data.max(axis=(1, 2, 3)) - data.min(axis=(1, 2, 3)))[:, None, None, None]
    total = 0
    for _ in range(n_samples):
        noise = rng.normal(size=data.shape) * noise_level * spread
        noisy = mg.tensor((data + noise).astype(data.dtype), device=x.device)
        total = total + _input_gradient(model, noisy, target).detach()
    return total / n_samples


def integrated_gradients(model, x, target, baseline=None, steps=32):
    """``(x - x') * mean_k grad F(x' + (k - 1/2)/S (x - x'))``, the midpoint rule on S steps.

    Parameters
    ----------
    baseline : Tensor of x's shape, or None for zeros (black images)
    steps : int, default 32
        S. The map's sum approaches ``F(x) - F(x')`` (completeness) as S grows.
    """
    check_int("integrated_gradients", "steps", steps, low=1)
    baseline = mg.zeros_like(x) if baseline is None else baseline
    if tuple(baseline.shape) != tuple(x.shape):
        raise ValueError(f"integrated_gradients: baseline has shape {tuple(baseline.shape)}, "
                         f"x has {tuple(x.shape)}")
    difference = (x - baseline).detach()
    total = 0
    for k in range(steps):
        point = baseline + (k + 0.5) / steps * difference
        total = total + _input_gradient(model, point, target).detach()
    return difference * total / steps


def grad_cam(model, x, target, layer):
    """Grad-CAM of ``layer``: ``relu(sum_k alpha_k A_k)``, ``alpha_k`` = mean of dScore/dA_k.

    Parameters
    ----------
    layer : str or Module
        A layer with an (N, K, h, w) output, usually the last convolutional one.

    Returns
    -------
    Tensor, shape (N, H, W): the map upsampled (bilinear) to the image and scaled to [0, 1]
    per image (all zeros when no channel argues for the class).
    """
    model_name = type(model).__name__
    with mg.enable_grad():
        activations = {}

        def keep(module, args, output):
            activations["A"] = output

        handle = get_layer(model, layer).register_forward_hook(keep)
        try:
            scores = class_scores(model(x), target)
        finally:
            handle.remove()
        A = activations["A"]
        if A.ndim != 4:
            raise ValueError(f"grad_cam: layer {layer!r} of {model_name} gives an output of "
                             f"shape {tuple(A.shape)}, expected (N, K, h, w)")
        (grad,) = mg.grad(scores.sum(), A)
    alpha = grad.mean(dim=(2, 3), keepdim=True)                # (N, K, 1, 1)
    cam = (alpha * A.detach()).sum(dim=1, keepdim=True).relu()   # (N, 1, h, w)
    cam = F.interpolate(cam, size=tuple(x.shape[2:]), mode="bilinear", align_corners=False)
    cam = cam[:, 0]
    peak = cam.amax(dim=(1, 2), keepdim=True)
    return cam / (peak + (peak == 0))


def occluder_masks(H, W, window, stride):
    """Boolean masks (P, H, W) of every ``window`` x ``window`` square at the given stride.

    Examples
    --------
    >>> occluder_masks(3, 3, 2, 1).astype(int)[1].tolist()
    [[0, 1, 1], [0, 1, 1], [0, 0, 0]]
    """
    if window > min(H, W):
        raise ValueError(f"occlusion: window {window} is larger than the image ({H}x{W})")
    tops = np.arange(0, H - window + 1, stride)
    lefts = np.arange(0, W - window + 1, stride)
    top, left = (grid.ravel() for grid in np.meshgrid(tops, lefts, indexing="ij"))
    rows = np.arange(H)[None, :, None]
    cols = np.arange(W)[None, None, :]
    inside_rows = (rows >= top[:, None, None]) & (rows < top[:, None, None] + window)
    inside_cols = (cols >= left[:, None, None]) & (cols < left[:, None, None] + window)
    return inside_rows & inside_cols


def occlusion(model, x, target, window=3, stride=1, fill=0.0, batch_size=256):
    """How far the target score falls when each region is covered: a map (N, H, W).

    For each image, all P occluded copies ``x * (1 - mask_p) + fill * mask_p`` go through the
    model as batches of ``batch_size``; the drop ``score(x) - score(occluded_p)`` is then
    spread back over the pixels, each pixel getting the mean drop of the windows covering it.
    Positive values mark evidence for the class, negative ones evidence against.

    Parameters
    ----------
    window : int, default 3
    stride : int, default 1
    fill : float, default 0.0
        Value of the occluded pixels (the data's mean is a good choice).
    batch_size : int, default 256
    """
    N, C, H, W = x.shape
    check_int("occlusion", "window", window, low=1)
    check_int("occlusion", "stride", stride, low=1)
    check_int("occlusion", "batch_size", batch_size, low=1)
    masks = occluder_masks(H, W, window, stride)                # (P, H, W)
    coverage = masks.sum(axis=0)
    data = x.numpy()
    targets = np.broadcast_to(np.asarray(target), (N,))
    maps = np.zeros((N, H, W))
    with mg.no_grad():
        base = class_scores(model(x), targets).numpy()
        for n in range(N):
            occluded = np.where(masks[:, None], np.asarray(fill, dtype=data.dtype), data[n])
            drops = []
            for start in range(0, len(masks), batch_size):
                chunk = mg.tensor(occluded[start:start + batch_size], device=x.device)
                drops.append(base[n] - class_scores(model(chunk), int(targets[n])).numpy())
            drops = np.concatenate(drops)
            maps[n] = np.tensordot(drops, masks, axes=1) / np.maximum(coverage, 1)
    return mg.tensor(maps.astype(data.dtype), device=x.device)
