"""Reading a loss's arguments, shared by losses.py and margin_losses.py: the ``reduction``,
targets given as arrays, and the shape checks whose messages name the loss.

Notation
--------
N batch, C classes, d1 ... extra axes of a dense prediction (e.g. H, W)
op    the loss's name, which starts every error message
"""
import numpy as np

from .backend import xp_of
from .tensor import Tensor, raw


def reduce_loss(loss, reduction, op):
    """The mean, the sum or (``'none'``) the per-element losses, as ``reduction`` asks."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def check_same_shape(a, b, op):
    """Refuse a target whose shape differs from the input's (PyTorch only warns, then
    broadcasts, which silently gives the wrong loss)."""
    if a.shape != b.shape:
        raise ValueError(f"{op}: input shape {a.shape} and target shape {b.shape} differ; "
                         "they must be equal (no implicit broadcasting in losses)")


def as_target(target, like):
    """A target Tensor: ``target`` itself, or an array or list as a constant of ``like``'s
    dtype and device (no gradient)."""
    return target if isinstance(target, Tensor) else Tensor(target, dtype=like.dtype,
                                                            device=like.device)


def class_weights(op, scores, weight):
    """Per-class weights for scores (N, C, d1, ...) as an array of shape (C,), of scores'
    floating dtype (float64 for integer scores) and on scores' device (an array or list given
    moves there, as targets do); ones when ``weight`` is None."""
    C = scores.shape[1]
    xp = xp_of(scores.data)
    dtype = scores.dtype if scores.dtype.kind == "f" else np.float64
    if weight is None:
        return xp.ones(C, dtype=dtype)
    w = xp.asarray(raw(weight)).astype(dtype, copy=False)
    if w.shape != (C,):
        raise ValueError(f"{op}: weight of shape {w.shape} does not fit input of shape "
                         f"{scores.shape}; expected one weight per class, ({C},)")
    return w


def class_targets(op, scores, target, ignore_index=None):
    """Integer targets as a raw array, checked against scores (N, C, d1, ...); and the mask
    of the entries that are not ``ignore_index``."""
    xp = xp_of(scores.data)
    target = xp.asarray(raw(target))
    if scores.ndim < 2 or target.shape != scores.shape[:1] + scores.shape[2:]:
        raise ValueError(f"{op}: input of shape {scores.shape} needs a target of shape "
                         f"{scores.shape[:1] + scores.shape[2:]}, got {target.shape}")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got {target.dtype}")
    C = scores.shape[1]
    valid = xp.ones(target.shape, dtype=bool) if ignore_index is None else target != ignore_index
    bad = valid & ((target < 0) | (target >= C))
    if bool(bad.any()):
        raise IndexError(f"{op}: target values must be in [0, {C}) (or ignore_index="
                         f"{ignore_index}), got {int(target[bad].reshape(-1)[0])}")
    return target, valid
