"""``ParameterList`` and ``ParameterDict``: a variable number of Parameters registered under
string keys, as ``ModuleList`` and ``ModuleDict`` do for modules.

A Python list of Parameters assigned to a module attribute is invisible to ``parameters()``
and ``state_dict()``; these containers register each entry, so the names are PyTorch's
(``weights.0``, ``scales.alpha``). A plain Tensor put in is wrapped in a Parameter that shares
its data, as PyTorch does.

Notation
--------
key   the registered name: ``'0'``, ``'1'``, ... in a list, the user's string in a dict
"""
from minigrad import Tensor
from .container import _index
from .module import Module
from .parameter import Parameter


def _as_parameter(op, value):
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(f"{op}: entries must be Parameters or Tensors, got {type(value).__name__}")


def _describe(parameters):
    """One line per entry, for the containers' repr: ``(key): Parameter of shape S (dtype)``."""
    return "\n".join(f"({key}): Parameter of shape {tuple(p.shape)} ({p.dtype})"
                     for key, p in parameters.items())


class ParameterList(Module):
    """A list of Parameters, registered as ``'0'``, ``'1'``, ...

    Examples
    --------
    >>> import minigrad as mg
    >>> weights = ParameterList([Parameter(mg.zeros(2)) for _ in range(3)])
    >>> weights.append(mg.ones(1))
    ParameterList(...)
    >>> [name for name, _ in weights.named_parameters()], weights[-1].requires_grad
    (['0', '1', '2', '3'], True)
    """

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList(list(self)[idx])
        return self._parameters[str(_index("ParameterList", idx, len(self)))]

    def __setitem__(self, idx, value):
        key = str(_index("ParameterList", idx, len(self)))
        self._parameters[key] = _as_parameter("ParameterList", value)

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value):
        self.register_parameter(str(len(self)), _as_parameter("ParameterList", value))
        return self

    def extend(self, values):
        if isinstance(values, Tensor):
            raise TypeError("ParameterList.extend: expected an iterable of Parameters, got a "
                            "single Tensor (use append)")
        for value in values:
            self.append(value)
        return self

    def extra_repr(self):
        return _describe(self._parameters)


class ParameterDict(Module):
    """An ordered dict of Parameters, registered under their (string) keys.

    Examples
    --------
    >>> import minigrad as mg
    >>> scales = ParameterDict({"alpha": Parameter(mg.ones(1))})
    >>> scales["beta"] = mg.zeros(2)
    >>> list(scales.keys()), sorted(scales.state_dict())
    (['alpha', 'beta'], ['alpha', 'beta'])
    """

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def __contains__(self, key):
        return key in self._parameters

    def __getitem__(self, key):
        if key not in self._parameters:
            raise KeyError(f"ParameterDict has no key {key!r}; keys are "
                           f"{list(self._parameters)}")
        return self._parameters[key]

    def __setitem__(self, key, value):
        value = _as_parameter("ParameterDict", value)
        if key in self._parameters:
            self._parameters[key] = value  # keeps its position, as a dict does
        else:
            self.register_parameter(key, value)

    def __delitem__(self, key):
        self[key]  # the KeyError above for a missing key
        del self._parameters[key]

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def get(self, key, default=None):
        return self._parameters.get(key, default)

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def update(self, parameters):
        """Add or replace entries from a mapping or an iterable of (key, value) pairs."""
        pairs = parameters.items() if hasattr(parameters, "items") else parameters
        for key, value in pairs:
            self[key] = value

    def extra_repr(self):
        return _describe(self._parameters)
