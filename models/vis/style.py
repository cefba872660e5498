"""Gram-matrix texture synthesis and neural style transfer (Gatys, Ecker & Bethge, 2015-16).

A layer's feature maps F (K, h*w) say *what* is *where*. Their Gram matrix
``G = F Fᵀ / (K h w)`` keeps only which channels fire together, summed over positions: the
"where" is gone, and what is left describes a texture. Hence:

- texture synthesis: start from noise and match the Gram matrices of a texture image at
  several layers, ``sum_l w_l |G_l(x) - G_l(style)|²``;
- style transfer: also keep the content image's feature maps at a deeper layer,
  ``content_weight |F_l(x) - F_l(content)|² + style_weight * (the style loss above)``,
  plus an optional total-variation term that smooths neighbouring pixels.

The image itself is the only parameter. The optimiser is given as a factory
``optimizer_factory([image]) -> optimizer`` with ``zero_grad()`` and ``step(closure)``
(e.g. ``lambda params: optim.LBFGS(params, lr=1)`` or ``optim.Adam``), so that this module
does not depend on ``optim``.

Notation
--------
N        batch size
K        channels of a layer; h, w its height and width
C, H, W  image channels, height and width
"""
import numpy as np

import minigrad as mg
from minigrad.checks import check_int, check_number
from models.vis.activations import capture_activations


def gram_matrix(features):
    """``F Fᵀ / (K h w)`` per image: (N, K, h, w) -> (N, K, K).

    Examples
    --------
    >>> gram_matrix(mg.ones(1, 2, 3, 3)).tolist()
    [[[0.5, 0.5], [0.5, 0.5]]]
    """
    if features.ndim != 4:
        raise ValueError(f"gram_matrix: features must be (N, K, h, w), got shape "
                         f"{tuple(features.shape)}")
    N, K, h, w = features.shape
    flat = features.reshape(N, K, h * w)
    return (flat @ flat.transpose(1, 2)) / (K * h * w)


def total_variation(x):
    """Mean squared difference of neighbouring pixels of x (N, C, H, W)."""
    return (((x[:, :, 1:, :] - x[:, :, :-1, :]) ** 2).mean()
            + ((x[:, :, :, 1:] - x[:, :, :, :-1]) ** 2).mean())


def _weights(layers, weights):
    if weights is None:
        return [1.0] * len(layers)
    if len(weights) != len(layers):
        raise ValueError(f"{len(weights)} layer weights for {len(layers)} layers")
    return list(weights)


def _optimise(image, objective, optimizer_factory, steps, callback):
    optimizer = optimizer_factory([image])

    def closure():
        optimizer.zero_grad()
        loss = objective(image)
        loss.backward()
        return loss

    for step in range(steps):
        loss = optimizer.step(closure)
        if callback is not None:
            callback(step, float(loss.item()))
    return image.detach().numpy()[0]


def texture_synthesis(model, style_image, layers, optimizer_factory, steps=100,
                      layer_weights=None, init=None, seed=None, callback=None, device="cpu"):
    """A new image with the Gram matrices of ``style_image`` at ``layers``.

    Parameters
    ----------
    model : Module (in eval mode)
    style_image : ndarray, shape (C, H, W)
    layers : sequence of str or Module
    optimizer_factory : callable, ``[image] -> optimizer``
    steps : int, default 100
        Optimiser steps (for LBFGS each step may evaluate the loss several times).
    layer_weights : sequence of float or None (all 1)
    init : ndarray (C, H, W) or None
        Starting image; default small Gaussian noise.
    callback : callable or None
        ``callback(step, loss)`` after each step.

    Returns
    -------
    ndarray, shape (C, H, W)
    """
    check_int("texture_synthesis", "steps", steps, low=1)
    weights = _weights(layers, layer_weights)
    with mg.no_grad():
        style = mg.tensor(np.asarray(style_image, dtype=np.float32)[None], device=device)
        targets = {layer: gram_matrix(a) for layer, a in
                   capture_activations(model, style, layers).items()}

    def objective(x):
        features = capture_activations(model, x, layers)
        return sum(w * ((gram_matrix(features[layer]) - targets[layer]) ** 2).sum()
                   for w, layer in zip(weights, layers))

    rng = np.random.default_rng(seed)
    start = rng.normal(size=np.shape(style_image)) * 0.1 if init is None else init
    image = mg.tensor(np.array(start, dtype=np.float32)[None], device=device,
                      requires_grad=True)
    return _optimise(image, objective, optimizer_factory, steps, callback)


def style_transfer(model, content_image, style_image, content_layers, style_layers,
                   optimizer_factory, steps=100, content_weight=1.0, style_weight=1e3,
                   tv_weight=0.0, style_layer_weights=None, callback=None, device="cpu"):
    """The content of one image drawn with the style (Gram matrices) of another.

    Starts from the content image. ``content_image`` and ``style_image`` are (C, H, W)
    arrays (they may differ in size: Gram matrices do not depend on h, w).

    Returns
    -------
    ndarray, shape (C, H, W) of the content image
    """
    check_int("style_transfer", "steps", steps, low=1)
    for name, value in (("content_weight", content_weight), ("style_weight", style_weight),
                        ("tv_weight", tv_weight)):
        check_number("style_transfer", name, value, low=0)
    weights = _weights(style_layers, style_layer_weights)
    with mg.no_grad():
        content = mg.tensor(np.asarray(content_image, dtype=np.float32)[None], device=device)
        style = mg.tensor(np.asarray(style_image, dtype=np.float32)[None], device=device)
        content_targets = capture_activations(model, content, content_layers)
        style_targets = {layer: gram_matrix(a) for layer, a in
                         capture_activations(model, style, style_layers).items()}
    every_layer = list(dict.fromkeys(list(content_layers) + list(style_layers)))

    def objective(x):
        features = capture_activations(model, x, every_layer)
        content_loss = sum(((features[layer] - content_targets[layer]) ** 2).mean()
                           for layer in content_layers)
        style_loss = sum(w * ((gram_matrix(features[layer]) - style_targets[layer]) ** 2).sum()
                         for w, layer in zip(weights, style_layers))
        return (content_weight * content_loss + style_weight * style_loss
                + tv_weight * total_variation(x))

    # a copy: the optimiser updates the image in place, and the caller's array must survive
    image = mg.tensor(np.array(content_image, dtype=np.float32)[None], device=device,
                      requires_grad=True)
    return _optimise(image, objective, optimizer_factory, steps, callback)
