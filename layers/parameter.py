"""``Parameter``: a Tensor that a Module owns and an optimizer updates.

A Parameter is an ordinary leaf Tensor in every computation; the subclass only marks it, so that
assigning one to a Module attribute registers it (see ``Module.__setattr__``) and so that its
repr says what it is. Results of ops on a Parameter are plain Tensors.

Notation
--------
data    the raw NumPy or CuPy array, shared with the Tensor or array it was built from
"""
import numpy as np

from minigrad import Tensor


class Parameter(Tensor):
    """A leaf Tensor registered as a learnable weight when assigned to a Module attribute.

    Parameters
    ----------
    data : Tensor, array_like or None, any shape
        The initial value. A Tensor or a NumPy/CuPy array is shared, not copied (PyTorch's
        ``nn.Parameter(t)`` shares storage too), and keeps its dtype; nested lists and Python
        numbers become float32. None gives an empty float32 parameter of shape (0,).
    requires_grad : bool
        Whether ``backward`` accumulates a gradient into ``.grad``; False freezes it.

    Examples
    --------
    >>> import minigrad as mg
    >>> w = Parameter(mg.zeros(2))
    >>> w.requires_grad, w.dtype, w.is_leaf
    (True, dtype('float32'), True)
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), dtype=np.float32)
        elif isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
