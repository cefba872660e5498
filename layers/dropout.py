"""Dropout: zero random entries in training mode, the identity in eval mode.

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
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = p
        self.inplace = bool(inplace)

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"Dropout: expected a Tensor input, got {type(x).__name__}")
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
