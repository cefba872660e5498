"""Dropout: zero random entries (``Dropout``) or whole channels (``Dropout2d``) in training
mode; the identity in eval mode.

Inverted dropout (Srivastava et al., 2014): each entry is kept with probability 1 − p and scaled
by 1/(1 − p), so the expected output equals the input and eval mode needs no rescaling.

Notation
--------
p      the probability that an entry is zeroed
*      any shape
"""
from minigrad import Tensor
from minigrad.backend import xp_of
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

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"Dropout: expected a Tensor input, got {type(x).__name__}")
        return F.dropout(x, self.p, self.training)

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

    def forward(self, x):
        if not isinstance(x, Tensor) or x.ndim not in (3, 4):
            shape = x.shape if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"Dropout2d: expected a Tensor of shape (N, C, H, W) or (N, C, L), "
                             f"got {shape}")
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0
        xp = xp_of(x.data)
        # one draw per (n, c), broadcast over the plane: the raw mask is a constant factor
        mask_shape = x.shape[:2] + (1,) * (x.ndim - 2)
        keep = (xp.random.random_sample(mask_shape) >= self.p).astype(x.dtype) / (1 - self.p)
        return x * keep
