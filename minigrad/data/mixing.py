"""Batch-level augmentation that mixes samples and their labels: mixup and cutmix.

Both pair each sample i of a batch with sample perm[i] of a random permutation and blend them
with a weight λ drawn from Beta(α, α):

- mixup:  x̃ = λ x + (1 - λ) x[perm]  (the whole images, blended);
- cutmix: x̃ = x with a box pasted from x[perm], of area (1 - λ) H W; λ is then recomputed
  from the box actually pasted (it is clipped at the border).

The label is blended with the same weight, so the loss is
``λ · CE(logits, y) + (1 - λ) · CE(logits, y[perm])``, or equivalently the cross-entropy
against the soft target from :func:`mix_targets`.

Notation
--------
N, C, H, W   batch, channels, height, width
K            number of classes
λ (lam)      the weight of the original sample, in [0, 1]
"""
import numpy as np

from minigrad.data.sampler import epoch_generator, make_generator


def _arrays(x, y, who):
    from minigrad.tensor import Tensor
    device = x.device if isinstance(x, Tensor) else None
    xa = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    ya = y.numpy() if isinstance(y, Tensor) else np.asarray(y)
    if xa.ndim < 1 or ya.ndim < 1 or xa.shape[0] != ya.shape[0]:
        raise ValueError(f"{who}: inputs and targets must share their first dimension N, got "
                         f"shapes {xa.shape} and {ya.shape}")

    def give_back(arr):
        if device is None:
            return arr
        from minigrad.factories import tensor
        return tensor(np.ascontiguousarray(arr), dtype=arr.dtype, device=device)
    return xa, ya, give_back


def _draw(alpha, generator, seed, N, who):
    if alpha <= 0:
        raise ValueError(f"{who}: alpha must be positive, got {alpha}")
    rng = epoch_generator(make_generator(generator, seed, who))
    return rng, float(rng.beta(alpha, alpha)), rng.permutation(N)


def mixup(inputs, targets, alpha=1.0, *, generator=None, seed=None):
    """Blend each sample with a random partner: x̃ = λ x + (1 - λ) x[perm], λ ~ Beta(α, α).

    Parameters
    ----------
    inputs : Tensor or array, shape (N, ...)
    targets : Tensor or array, shape (N,) of class indices (or (N, K) probabilities)
    alpha : float, default 1.0
        Beta(α, α); small α keeps λ near 0 or 1 (little mixing), α = 1 is uniform.
    generator, seed
        The randomness, as for the samplers; NumPy's global generator without either.

    Returns
    -------
    (mixed, targets_a, targets_b, lam): mixed shaped like ``inputs``; ``targets_a`` is
    ``targets``, ``targets_b`` is ``targets[perm]``; lam a float.
    """
    x, y, give_back = _arrays(inputs, targets, "mixup")
    _, lam, perm = _draw(alpha, generator, seed, x.shape[0], "mixup")
    mixed = (lam * x + (1 - lam) * x[perm]).astype(x.dtype)
    return (give_back(mixed), give_back(y), give_back(y[perm]), lam)


def cutmix(inputs, targets, alpha=1.0, *, generator=None, seed=None):
    """Paste a random box from a partner image, of area about (1 - λ) H W, λ ~ Beta(α, α).

    The box's centre is uniform over the image and its sides are H √(1 - λ) and W √(1 - λ),
    clipped to the image; λ is returned as 1 - (pasted area) / (H W), the true share of the
    original image, so the labels weigh exactly the pixels they own.

    Parameters
    ----------
    inputs : Tensor or array, shape (N, C, H, W)
    targets : Tensor or array, shape (N,) or (N, K)
    alpha : float, default 1.0
    generator, seed
        As for :func:`mixup`.

    Returns
    -------
    (mixed, targets_a, targets_b, lam), as for :func:`mixup`.
    """
    x, y, give_back = _arrays(inputs, targets, "cutmix")
    if x.ndim != 4:
        raise ValueError(f"cutmix: inputs must be images (N, C, H, W), got shape {x.shape}")
    rng, lam, perm = _draw(alpha, generator, seed, x.shape[0], "cutmix")
    N, C, H, W = x.shape
    cut_h, cut_w = int(H * np.sqrt(1 - lam)), int(W * np.sqrt(1 - lam))
    cy, cx = int(rng.integers(H)), int(rng.integers(W))
    top, bottom = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, H)
    left, right = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, W)
    mixed = x.copy()
    mixed[:, :, top:bottom, left:right] = x[perm][:, :, top:bottom, left:right]
    lam = 1.0 - (bottom - top) * (right - left) / (H * W)
    return (give_back(mixed), give_back(y), give_back(y[perm]), float(lam))


def mix_targets(targets_a, targets_b, lam, num_classes):
    """The soft target λ·onehot(a) + (1 - λ)·onehot(b), float32 of shape (N, K).

    Pass it to ``F.cross_entropy(logits, soft)``, which takes class probabilities.
    """
    from minigrad.tensor import Tensor
    device = targets_a.device if isinstance(targets_a, Tensor) else None
    a = targets_a.numpy() if isinstance(targets_a, Tensor) else np.asarray(targets_a)
    b = targets_b.numpy() if isinstance(targets_b, Tensor) else np.asarray(targets_b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"mix_targets: expected two class-index arrays of shape (N,), got "
                         f"{a.shape} and {b.shape}")
    if a.size and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= num_classes):
        raise ValueError(f"mix_targets: class indices must lie in [0, {num_classes})")
    eye = np.eye(num_classes, dtype=np.float32)
    soft = (lam * eye[a] + (1 - lam) * eye[b]).astype(np.float32)
    if device is None:
        return soft
    from minigrad.factories import tensor
    return tensor(soft, device=device)
