"""Containers and shape helpers: Sequential, ModuleList, ModuleDict, Identity, Flatten, Unflatten.

Containers register their members under string keys (``'0'``, ``'1'``, ... for the list-like
ones), so the state dict names are PyTorch's: ``features.0.weight``.

Notation
--------
N         batch size
*         any number of further axes
"""
import collections
import operator

from minigrad import Tensor
from minigrad.ops.shape import sizes_fit
from .module import Module


def _index(op, idx, length):
    """``idx`` as a position in ``[0, length)``, or an IndexError naming the container."""
    try:
        idx = operator.index(idx)
    except TypeError:
        raise TypeError(f"{op} indices must be integers or slices, got "
                        f"{type(idx).__name__}") from None
    if not -length <= idx < length:
        raise IndexError(f"{op} index {idx} is out of range for length {length}")
    return idx % length


def _insert_position(op, index, length):
    """``index`` as a position in ``[0, length]`` for insert: -1 is before the last member,
    ``length`` appends. Out-of-range raises, where a plain list would silently clamp."""
    try:
        index = operator.index(index)
    except TypeError:
        raise TypeError(f"{op} index must be an integer, got {type(index).__name__}") from None
    if not -length <= index <= length:
        raise IndexError(f"{op} index {index} is out of range for insertion into length "
                         f"{length} (expected {-length} <= index <= {length})")
    return index if index >= 0 else index + length


def _renumber(module, items):
    """Register ``items`` as the members ``'0'``, ``'1'``, ... of ``module``, in order."""
    module._modules.clear()
    for i, item in enumerate(items):
        module.add_module(str(i), item)


class Sequential(Module):
    """Modules applied one after the other: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Parameters
    ----------
    *modules : Module
        Registered as ``'0'``, ``'1'``, ...; or a single ``OrderedDict`` of name -> Module
        to choose the names.

    Examples
    --------
    >>> from layers import Linear, ReLU
    >>> model = Sequential(Linear(4, 8), ReLU(), Linear(8, 2))
    >>> len(model), type(model[1]).__name__, len(model[:2])
    (3, 'ReLU', 2)
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], collections.OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(collections.OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index("Sequential", idx, len(self))]

    def __setitem__(self, idx, module):
        key = list(self._modules)[_index("Sequential", idx, len(self))]
        setattr(self, key, module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        for key in (keys[idx] if isinstance(idx, slice)
                    else [keys[_index("Sequential", idx, len(self))]]):
            del self._modules[key]
        # renumber, so that the names stay '0', '1', ... as PyTorch does
        _renumber(self, list(self._modules.values()))

    def append(self, module):
        """Add ``module`` at the end, named by its position; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        """Insert ``module`` before position ``index`` (``len(self)`` appends); returns self."""
        items = list(self._modules.values())
        items.insert(_insert_position("Sequential.insert", index, len(items)), module)
        _renumber(self, items)
        return self

    def pop(self, index=-1):
        """Remove and return the module at ``index``; the later ones move up one name."""
        module = self[index]
        del self[index]
        return module

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(Module):
    """A list of Modules whose parameters are registered (a plain list would hide them).

    Parameters
    ----------
    modules : iterable of Module, optional
        Registered as ``'0'``, ``'1'``, ...

    It has no forward: the owner decides how to call the members.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(_index("ModuleList", idx, len(self)))]

    def __setitem__(self, idx, module):
        setattr(self, str(_index("ModuleList", idx, len(self))), module)

    def __delitem__(self, idx):
        items = list(self._modules.values())
        if isinstance(idx, slice):
            del items[idx]
        else:
            del items[_index("ModuleList", idx, len(self))]
        _renumber(self, items)

    def __iadd__(self, modules):
        return self.extend(modules)

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError("ModuleList.extend expects an iterable of Modules, got a single "
                            f"{type(modules).__name__}; use append")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        """Insert ``module`` before position ``index`` (``len(self)`` appends)."""
        items = list(self._modules.values())
        items.insert(_insert_position("ModuleList.insert", index, len(items)), module)
        _renumber(self, items)

    def pop(self, index=-1):
        """Remove and return the module at ``index``; the later ones move up one name."""
        module = self[index]
        del self[index]
        return module

    def forward(self, *inputs):
        raise NotImplementedError("ModuleList has no forward(): iterate over it and call the "
                                  "modules yourself (or use Sequential to chain them)")


class ModuleDict(Module):
    """A dict of Modules whose parameters are registered, in insertion order.

    Parameters
    ----------
    modules : mapping or iterable of (str, Module) pairs, optional
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def __getitem__(self, key):
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no key {key!r}; keys are {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key):
        module = self[key]
        del self._modules[key]
        return module

    def update(self, modules):
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            self[key] = module

    def forward(self, *inputs):
        raise NotImplementedError("ModuleDict has no forward(): look up the modules by key and "
                                  "call them yourself")


class Identity(Module):
    """Returns its input unchanged; a placeholder, e.g. to remove a layer from a model.

    Any constructor arguments are accepted and ignored, as in PyTorch.

    Shape
    -----
    x : Tensor, any shape
    returns : Tensor, the same shape (the same object)
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge axes ``start_dim`` through ``end_dim`` into one.

    Parameters
    ----------
    start_dim, end_dim : int
        The default flattens everything but the batch axis.

    Shape
    -----
    x : Tensor, shape (N, C, H, W) for example
    returns : Tensor, shape (N, C*H*W) with the defaults
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size``: the inverse of :class:`Flatten`.

    Parameters
    ----------
    dim : int
    unflattened_size : tuple of int
        Its product must equal the size of axis ``dim``; one entry may be -1.

    Shape
    -----
    x : Tensor, shape (*before, prod(unflattened_size), *after)
    returns : Tensor, shape (*before, *unflattened_size, *after)
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = int(dim)
        try:  # integers only, as reshape takes: int() would cut a size of 2.5 down to 2
            self.unflattened_size = tuple(operator.index(n) for n in unflattened_size)
        except TypeError:
            raise TypeError(f"Unflatten: unflattened_size must hold integers, got "
                            f"{tuple(unflattened_size)}") from None

    def forward(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"Unflatten: expected a Tensor, got {type(x).__name__}")
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"Unflatten: dim {self.dim} is out of range for an input of "
                             f"shape {x.shape}")
        dim = self.dim % x.ndim
        size = self.unflattened_size
        if not sizes_fit(size, x.shape[dim]):
            raise ValueError(f"Unflatten: axis {dim} of size {x.shape[dim]} (input shape "
                             f"{x.shape}) cannot be split into {size}")
        return x.reshape(x.shape[:dim] + size + x.shape[dim + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
