"""Dropout: zero random entries (``Dropout``) or whole channels (``Dropout1d``, ``Dropout2d``,
``Dropout3d``) in training mode, or alpha dropout for SELU networks (``AlphaDropout``,
``FeatureAlphaDropout``); the identity in eval mode.

Inverted dropout (Srivastava et al., 2014): each entry is kept with probability 1 − p and scaled
by 1/(1 − p), so the expected output equals the input and eval mode needs no rescaling.

Notation
--------
p      the probability that an entry is zeroed
*      any shape
"""
from minigrad import Tensor
import minigrad.functional as F
from .module import Module


class Dropout(Module):
    """Zero each entry with probability p during training; identity after ``eval()``.

    Parameters
    ----------
    p : float
        In [0, 1].
    inplace : bool
        Accepted for PyTorch compatibility; the result is computed out of place.

    Shape
    -----
    x : Tensor, shape (*)
    returns : Tensor, shape (*); in training each entry is 0 or ``x / (1 − p)``

    Examples
    --------
    >>> import minigrad as mg
    >>> drop = Dropout(0.5).eval()
    >>> x = mg.ones(3)
    >>> drop(x) is x
    True
    """

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not (isinstance(p, (int, float)) and 0 <= p <= 1):
            raise ValueError(f"{type(self).__name__}: p must be a probability in [0, 1], "
                             f"got {p!r}")
        self.p = p
        self.inplace = bool(inplace)

    _function = "dropout"  # the F function; each variant below names its own

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor input, got "
                            f"{type(x).__name__}")
        return getattr(F, self._function)(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """Zero whole channels with probability p during training (Tompson et al., 2015): in a
    feature map neighbouring pixels are correlated, so dropping single pixels regularises
    little; dropping a channel does. Identity after ``eval()``.

    As in PyTorch, the channel is axis 1 and the first two axes pick the mask: a 3-D input is
    read as (N, C, L), with a warning there, and here without one.

    Parameters
    ----------
    p : float
        In [0, 1].
    inplace : bool
        Accepted for PyTorch compatibility; the result is computed out of place.

    Shape
    -----
    x : Tensor, shape (N, C, H, W) or (N, C, L)
    returns : Tensor, the same shape; each (n, c) plane is all 0 or ``x[n, c] / (1 − p)``
    """

    _function = "dropout2d"

    def forward(self, x):
        if not isinstance(x, Tensor) or x.ndim not in (3, 4):
            shape = x.shape if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"Dropout2d: expected a Tensor of shape (N, C, H, W) or (N, C, L), "
                             f"got {shape}")
        return super().forward(x)


class Dropout1d(Dropout):
    """Zero whole channels of (N, C, L) or (C, L) with probability p during training (one
    draw per channel, as :class:`Dropout2d`); identity after ``eval()``."""

    _function = "dropout1d"


class Dropout3d(Dropout):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability p during
    training; identity after ``eval()``."""

    _function = "dropout3d"


class AlphaDropout(Dropout):
    """Alpha dropout for self-normalising (SELU) networks: a dropped entry takes SELU's
    saturation value, and an affine map keeps the mean 0 and the variance 1 (Klambauer et al.,
    2017; ``F.alpha_dropout``); identity after ``eval()``."""

    _function = "alpha_dropout"


class FeatureAlphaDropout(Dropout):
    """Alpha dropout of whole channels of (N, C, ...) (``F.feature_alpha_dropout``);
    identity after ``eval()``."""

    _function = "feature_alpha_dropout"
