"""Dropout, PyTorch's family: one entry at a time (``dropout``), whole channels
(``dropout1d``, ``dropout2d``, ``dropout3d``) and alpha dropout for self-normalising networks
(``alpha_dropout``, ``feature_alpha_dropout``), all re-exported by ``minigrad.functional``.
Each draws a keep mask of some shape and combines it with x in ``_masked``.

Channel dropout draws one keep-or-drop per (sample, channel) and broadcasts it over the
channel's positions: neighbouring pixels of a feature map are correlated, so dropping single
pixels regularises little, and dropping a whole map does (Tompson et al., 2015). Kept channels
are scaled by 1/(1 − p), as in inverted dropout, so nothing changes at evaluation.

Alpha dropout (Klambauer et al., 2017) keeps a SELU network's activations at mean 0 and
variance 1: a dropped entry is set to SELU's negative saturation α' = −λα instead of 0, and an
affine map a·x + b then restores the moments,

    a = ((1 − p)(1 + p·α'²))^(−1/2),    b = −a·α'·p.

Every mask is a constant factor of the graph (drawn from NumPy's or CuPy's global stream,
which ``mg.manual_seed`` seeds), so the gradient is the mask times the upstream gradient.

Notation
--------
p      the probability that an entry (or a channel) is dropped
N, C   batch and channels; the positions of a channel follow (L, or H W, or D H W)
"""
import numbers

from .backend import xp_of
from .tensor import Tensor

# SELU's negative saturation, −λα (Klambauer et al., 2017): λ = 1.0507009873554805,
# α = 1.6732632423543772.
SELU_SATURATION = -1.0507009873554805 * 1.6732632423543772


def _check(op, x, p):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor input, got {type(x).__name__}")
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{op}: p must be a probability in [0, 1], got {p!r}")


def _channel_mask_shape(op, x, spatial):
    """The shape of a per-channel mask for an input with ``spatial`` positions axes after
    (N, C), or after C alone for an unbatched input."""
    if x.ndim not in (spatial + 1, spatial + 2):
        # (dropout2d checks its own input first: a 3-D one is (N, C, L) there)
        layouts = {1: "(N, C, L) or (C, L)", 3: "(N, C, D, H, W) or (C, D, H, W)"}[spatial]
        raise ValueError(f"{op}: expected an input of shape {layouts}, got {x.shape}")
    lead = x.ndim - spatial
    return x.shape[:lead] + (1,) * spatial


def _keep(x, shape, p):
    """A 0/1 mask of ``shape`` in x's dtype, each entry 1 with probability 1 − p."""
    xp = xp_of(x.data)
    return (xp.random.random_sample(shape) >= p).astype(x.dtype)


def _inverted(x, keep, p):
    """Inverted dropout: kept entries scaled by 1/(1 − p), so nothing changes at evaluation."""
    return x * (keep / (1 - p))


def _masked(x, p, training, shape, combine):
    """x itself when not ``training`` or p = 0, zeros when p = 1 (PyTorch's), else
    ``combine(x, keep, p)`` with a keep mask of ``shape`` (broadcast against x)."""
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    return combine(x, _keep(x, shape, p), p)


def _channel_dropout(op, x, p, training, spatial):
    _check(op, x, p)
    return _masked(x, p, training, _channel_mask_shape(op, x, spatial), _inverted)


def dropout(x, p=0.5, training=True):
    """Zero each entry with probability p and scale the rest by 1/(1−p) (inverted dropout);
    the identity when ``training`` is False.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.dropout(mg.ones(3), p=0.5, training=False).tolist()
    [1.0, 1.0, 1.0]
    >>> F.dropout(mg.ones(3), p=1.0).tolist()
    [0.0, 0.0, 0.0]
    """
    _check("dropout", x, p)
    return _masked(x, p, training, x.shape, _inverted)


def dropout1d(x, p=0.5, training=True):
    """Zero whole channels of (N, C, L) or (C, L) with probability p, scaling the others by
    1/(1 − p); the identity when ``training`` is False.

    >>> import minigrad as mg
    >>> dropout1d(mg.ones(1, 2, 3), p=1.0).tolist()
    [[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]
    """
    return _channel_dropout("dropout1d", x, p, training, 1)


def dropout2d(x, p=0.5, training=True):
    """Zero whole channels of (N, C, H, W) with probability p, scaling the others by
    1/(1 − p); the identity when ``training`` is False. As in PyTorch, a 3-D input is read as
    (N, C, L) (PyTorch warns that it does so), not as an unbatched (C, H, W) image."""
    if isinstance(x, Tensor) and x.ndim == 3:
        return _channel_dropout("dropout2d", x, p, training, 1)
    if isinstance(x, Tensor) and x.ndim != 4:
        raise ValueError(f"dropout2d: expected an input of shape (N, C, H, W) or (N, C, L), "
                         f"got {x.shape}")
    return _channel_dropout("dropout2d", x, p, training, 2)


def dropout3d(x, p=0.5, training=True):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability p, scaling the
    others by 1/(1 − p); the identity when ``training`` is False."""
    return _channel_dropout("dropout3d", x, p, training, 3)


def _alpha(x, keep, p):
    """a·(x·keep + α'·(1 − keep)) + b, the moments-preserving affine map of the module
    docstring; ``keep`` broadcasts against x."""
    a = ((1 - p) * (1 + p * SELU_SATURATION ** 2)) ** -0.5
    b = -a * SELU_SATURATION * p
    return x * (keep * a) + (SELU_SATURATION * a) * (1 - keep) + b


def alpha_dropout(x, p=0.5, training=False):
    """Alpha dropout: each entry dropped with probability p is set to SELU's saturation value,
    then an affine map keeps mean 0 and variance 1 (see the module docstring); the identity
    when ``training`` is False (PyTorch's default for this function).

    >>> import minigrad as mg
    >>> alpha_dropout(mg.ones(2), p=0.5, training=False).tolist()
    [1.0, 1.0]
    """
    _check("alpha_dropout", x, p)
    return _masked(x, p, training, x.shape, _alpha)


def feature_alpha_dropout(x, p=0.5, training=False):
    """Alpha dropout of whole channels of an (N, C, ...) input: one draw per (sample,
    channel), broadcast over the channel's positions, as the channel dropouts draw."""
    op = "feature_alpha_dropout"
    _check(op, x, p)
    if x.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C, ...), got {x.shape}")
    return _masked(x, p, training, x.shape[:2] + (1,) * (x.ndim - 2), _alpha)
