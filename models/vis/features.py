"""What single units respond to: filter grids, feature-map grids and maximally activating
patches, with the receptive field that ties a unit back to its pixels.

Receptive field of a chain of layers (kernel k, stride s, padding p, dilation d), from the
input side, with the field size r, the jump j (input pixels between neighbouring units) and
the input position ``start`` of the first unit's centre:

    k' = d (k - 1) + 1            effective kernel
    r  <- r + (k' - 1) j
    start <- start + ((k' - 1) / 2 - p) j
    j  <- j s

starting from ``r = 1, j = 1, start = 0``. Unit (y, x) of the layer is centred on input pixel
``(start + y j, start + x j)`` and sees an r x r window around it. Layers without a kernel
(ReLU, BatchNorm) leave all three unchanged.

:func:`max_activating_patches` records, with forward hooks, the modules a forward pass calls
before the chosen layer and composes their fields in that order, which is exact for a chain
(LeNet's ``features``, a ResNet's stem and first stage); for a stage with a projection branch,
pass the main path's layers as ``layers``.

Notation
--------
N        images in the data set
C, H, W  image channels, height and width
K        channels (filters) of a layer; h, w its output's height and width
T        patches kept per filter, ``top_k``
r, j     receptive field size and jump (pixels)
"""
from collections import namedtuple

import numpy as np

import minigrad as mg
from minigrad.checks import check_int
from layers import AvgPool2d, Conv2d, MaxPool2d
from models.vis.activations import capture_activations, get_layer

ReceptiveField = namedtuple("ReceptiveField", ["size", "jump", "start"])


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _geometry(module):
    """(kernel, stride, padding, dilation) of a spatial module, as ints; None for the others."""
    if isinstance(module, Conv2d):
        padding = module.padding
        if isinstance(padding, str):  # 'valid' is 0; 'same' (stride 1) pads half the kernel
            padding = tuple(0 if padding == "valid" else d * (k - 1) // 2
                            for k, d in zip(module.kernel_size, module.dilation))
        geometry = (module.kernel_size, module.stride, padding, module.dilation)
    elif isinstance(module, (MaxPool2d, AvgPool2d)):
        stride = module.stride if module.stride is not None else module.kernel_size
        geometry = (module.kernel_size, stride, module.padding, getattr(module, "dilation", 1))
    else:
        return None
    values = [_pair(value) for value in geometry]
    if any(a != b for a, b in values):
        raise ValueError(f"receptive_field: {module!r} is not square; only square kernels, "
                         "strides and paddings are supported")
    return tuple(int(a) for a, _ in values)


def receptive_field(layers):
    """The :class:`ReceptiveField` (size, jump, start) of the last of a chain of ``layers``.

    Examples
    --------
    >>> from layers import Conv2d, MaxPool2d, ReLU
    >>> receptive_field([Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2),
    ...                  Conv2d(4, 8, 3, padding=1)])
    ReceptiveField(size=8, jump=2, start=0.5)
    """
    size, jump, start = 1, 1, 0.0
    for module in layers:
        geometry = _geometry(module)
        if geometry is None:
            continue
        kernel, stride, padding, dilation = geometry
        effective = dilation * (kernel - 1) + 1
        size += (effective - 1) * jump
        start += ((effective - 1) / 2 - padding) * jump
        jump *= stride
    return ReceptiveField(size, jump, start)


def layers_before(model, x, layer):
    """The modules that ``model(x)`` calls up to and including ``layer``, in calling order
    (leaf modules only: containers would count their children twice)."""
    target = get_layer(model, layer)
    order = []
    leaves = [module for module in model.modules() if not list(module.children())]
    if target not in leaves:
        leaves.append(target)

    def record(module, args, output):
        order.append(module)

    handles = [module.register_forward_hook(record) for module in leaves]
    try:
        with mg.no_grad():
            capture_activations(model, x, [target])
    finally:
        for handle in handles:
            handle.remove()
    return order


def _crop(images, rows, cols, size):
    """Patches (T, C, size, size) of ``images`` (T, C, H, W) centred on (rows, cols), zero
    padded where they pass the border."""
    T, C, H, W = images.shape
    pad = size
    padded = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    tops = np.floor(rows - (size - 1) / 2).astype(int) + pad
    lefts = np.floor(cols - (size - 1) / 2).astype(int) + pad
    offsets = np.arange(size)
    r = (tops[:, None] + offsets)[:, None, :, None]
    c = (lefts[:, None] + offsets)[:, None, None, :]
    return padded[np.arange(T)[:, None, None, None], np.arange(C)[None, :, None, None], r, c]


def max_activating_patches(model, layer, images, top_k=9, channels=None, batch_size=256,
                           layers=None, device="cpu"):
    """For each filter of ``layer``, the ``top_k`` image patches that excite it most.

    Each image counts once per filter, at its strongest position; the patch is the unit's
    receptive field around that position.

    Parameters
    ----------
    images : ndarray, shape (N, C, H, W)
    top_k : int, default 9
    channels : sequence of int or None
        Filters to report (default: all K).
    layers : sequence of Module or None
        The chain for the receptive field (default: recorded with forward hooks).

    Returns
    -------
    patches : ndarray, shape (K', T, C, r, r)
    values : ndarray, shape (K', T), the activations, largest first
    field : ReceptiveField
    """
    check_int("max_activating_patches", "top_k", top_k, low=1)
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or len(images) < top_k:
        raise ValueError(f"max_activating_patches: images must be (N, C, H, W) with N >= "
                         f"top_k={top_k}, got shape {images.shape}")
    target = get_layer(model, layer)
    if layers is None:
        layers = layers_before(model, mg.tensor(images[:1], device=device), target)
    field = receptive_field(layers)
    best, where = [], []
    with mg.no_grad():
        for start in range(0, len(images), batch_size):
            x = mg.tensor(images[start:start + batch_size], device=device)
            A = capture_activations(model, x, [target])[target].numpy()      # (B, K, h, w)
            flat = A.reshape(A.shape[0], A.shape[1], -1)
            best.append(flat.max(axis=2))
            where.append(flat.argmax(axis=2))
    best, where = np.concatenate(best), np.concatenate(where)                # (N, K)
    w = A.shape[3]
    channels = range(best.shape[1]) if channels is None else channels
    patches, values = [], []
    for k in channels:
        order = np.argsort(-best[:, k], kind="stable")[:top_k]
        y, x = np.divmod(where[order, k], w)
        rows, cols = field.start + y * field.jump, field.start + x * field.jump
        patches.append(_crop(images[order], rows, cols, field.size))
        values.append(best[order, k])
    return (np.stack(patches), np.stack(values), field)


def make_grid(tiles, ncol=None, padding=1, normalize=True, pad_value=np.nan):
    """Tile (B, h, w) arrays into one 2-D image, ``ncol`` per row (default ~sqrt(B)).

    With ``normalize`` each tile is scaled to [0, 1] on its own. The padding is NaN, which
    matplotlib draws as the background.

    Examples
    --------
    >>> make_grid(np.ones((3, 2, 2)), ncol=2, normalize=False).shape
    (5, 5)
    """
    tiles = np.asarray(tiles, dtype=np.float64)
    if tiles.ndim != 3:
        raise ValueError(f"make_grid: tiles must be (B, h, w), got shape {tiles.shape}")
    B, h, w = tiles.shape
    ncol = int(np.ceil(np.sqrt(B))) if ncol is None else ncol
    nrow = int(np.ceil(B / ncol))
    if normalize:
        low = tiles.min(axis=(1, 2), keepdims=True)
        span = tiles.max(axis=(1, 2), keepdims=True) - low
        tiles = (tiles - low) / np.where(span > 0, span, 1)
    grid = np.full((nrow * (h + padding) - padding, ncol * (w + padding) - padding), pad_value)
    for index, tile in enumerate(tiles):
        row, col = divmod(index, ncol)
        grid[row * (h + padding):row * (h + padding) + h,
             col * (w + padding):col * (w + padding) + w] = tile
    return grid


def filter_grid(weight, ncol=None, padding=1):
    """A first-layer convolution's filters as one image; ``weight`` (K, C_in, kh, kw).

    With C_in = 1 each filter is a grey tile; otherwise the mean over input channels.
    """
    weight = weight.numpy() if isinstance(weight, mg.Tensor) else np.asarray(weight)
    if weight.ndim != 4:
        raise ValueError(f"filter_grid: weight must be (K, C_in, kh, kw), got {weight.shape}")
    return make_grid(weight.mean(axis=1), ncol, padding)


def feature_map_grid(activations, ncol=None, padding=1):
    """One image's feature maps (K, h, w) (or (1, K, h, w)) tiled into one image."""
    activations = activations.numpy() if isinstance(activations, mg.Tensor) else \
        np.asarray(activations)
    if activations.ndim == 4:
        activations = activations[0]
    return make_grid(activations, ncol, padding)
