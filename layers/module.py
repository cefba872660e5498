"""``Module``: the base class of every layer and model.

A Module holds three kinds of named state, each registered by plain attribute assignment:
Parameters (learnable, returned by ``parameters()``), buffers (Tensors that are state but not
learned, such as BatchNorm's running mean) and sub-Modules. The names nest with dots, so the
state of a whole model is one flat, ordered dict whose keys are PyTorch's (``features.0.weight``,
``bn.running_var``); a PyTorch state dict converted to NumPy therefore loads as is. Forward
hooks, and the handles that remove them, are in ``layers.hooks``; the state dict's gathering,
loading and moving between devices are in ``layers.module_state``.

Notation
--------
name      an attribute name inside one module (no dots)
prefix    the dotted path of a module inside the model, ``''`` for the model itself
state     a state dict: ordered ``dotted name -> Tensor`` for parameters and persistent buffers
"""
import numpy as np

from minigrad import Tensor
from .hooks import RemovableHandle, add_hook, call_with_hooks
from .parameter import Parameter
from .module_state import (IncompatibleKeys, gather_state, load_state_dict, move_state,
                           summarize)

__all__ = ["Module", "RemovableHandle", "IncompatibleKeys"]


class Module:
    """Base class of layers and models: subclass it, assign the parts in ``__init__``, write
    ``forward``, and call the instance.

    Attributes
    ----------
    training : bool
        True after ``train()`` (the default), False after ``eval()``; layers such as Dropout and
        BatchNorm behave differently in the two modes.

    Examples
    --------
    >>> import minigrad as mg
    >>> from layers import Linear
    >>> class TwoLayer(Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = Linear(4, 8)
    ...         self.out = Linear(8, 2)
    ...
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).relu())
    >>> model = TwoLayer()
    >>> [name for name, _ in model.named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    >>> model(mg.randn(3, 4)).shape
    (3, 2)
    """

    def __init__(self):
        # object.__setattr__ because our own __setattr__ looks these dicts up
        set_plain = object.__setattr__
        set_plain(self, "training", True)
        set_plain(self, "_parameters", {})
        set_plain(self, "_buffers", {})
        set_plain(self, "_non_persistent_buffers", set())
        set_plain(self, "_modules", {})
        set_plain(self, "_forward_hooks", {})
        set_plain(self, "_forward_pre_hooks", {})

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(): a subclass of "
                                  "Module must define forward(self, *inputs)")

    def __call__(self, *args, **kwargs):
        # Most modules have no hooks: they pay for one test, not for the hook loop.
        if not (self._forward_pre_hooks or self._forward_hooks):
            return self.forward(*args, **kwargs)
        return call_with_hooks(self, args, kwargs)

    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, inputs)`` before each forward; a non-None return value (a tuple,
        or a single value) replaces the positional inputs. Returns a :class:`RemovableHandle`."""
        return add_hook(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after each forward; a non-None return value
        replaces the output. Returns a :class:`RemovableHandle`."""
        return add_hook(self._forward_hooks, hook)

    def _check_new_name(self, kind, name, registry):
        """``registry`` is the attribute name of the dict that ``name`` goes into: looking the
        dict up before __init__ has made it would raise a plain AttributeError instead."""
        if registry not in self.__dict__:
            raise AttributeError(f"cannot register the {kind} {name!r} before "
                                 f"Module.__init__() has run: call super().__init__() first")
        registry = self.__dict__[registry]
        if not isinstance(name, str):
            raise TypeError(f"{kind} name must be a str, got {type(name).__name__}")
        if not name or "." in name:
            raise ValueError(f"{kind} name must be non-empty and contain no '.', got {name!r}")
        if name not in registry and hasattr(self, name):
            raise ValueError(f"cannot register the {kind} {name!r} on {type(self).__name__}: "
                             "an attribute of that name already exists")

    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter, or None for an absent one such as ``bias=False``)."""
        self._check_new_name("parameter", name, "_parameters")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot register a {type(param).__name__} as the parameter {name!r}"
                            " of " + type(self).__name__ + ": expected a Parameter or None "
                            "(wrap it: Parameter(tensor))")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add a Tensor that is state but not learned (e.g. a running mean).

        Persistent buffers go into ``state_dict()``; non-persistent ones (derived caches) do not.
        ``tensor`` may be None for a buffer that this configuration does not use.
        """
        self._check_new_name("buffer", name, "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot register a {type(tensor).__name__} as the buffer {name!r} "
                            f"of {type(self).__name__}: expected a Tensor or None")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        """Add a sub-Module (or None) under ``name``, as ``self.<name> = module`` does."""
        self._check_new_name("module", name, "_modules")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"cannot add a {type(module).__name__} as the sub-module {name!r} of "
                            f"{type(self).__name__}: expected a Module or None")
        self._modules[name] = module

    register_module = add_module

    def _forget(self, name, keep):
        """Drop ``name`` from every registry but ``keep``, so that it can be registered there;
        a name already in ``keep`` stays at its position, and so in the state dict's order."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, (Parameter, Module)):
            if params is None:
                raise AttributeError(f"cannot assign {type(value).__name__} {name!r} before "
                                     "Module.__init__() has run: call super().__init__() first")
            if isinstance(value, Parameter):
                self._forget(name, keep=self._parameters)
                self.register_parameter(name, value)
            else:
                self._forget(name, keep=self._modules)
                self.add_module(name, value)
            return
        # Assigning to a registered name replaces the entry; None marks it absent.
        for registry, kind, wanted in ((params, "parameter", "a Parameter"),
                                       (d.get("_modules"), "sub-module", "a Module")):
            if registry is not None and name in registry:
                if value is not None:
                    raise TypeError(f"cannot assign a {type(value).__name__} to the {kind} "
                                    f"{name!r} of {type(self).__name__}: expected {wanted} or "
                                    "None")
                registry[name] = None
                return
        buffers = d.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to the buffer {name!r} "
                                f"of {type(self).__name__}: expected a Tensor or None")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # only reached when normal lookup fails, i.e. for registered parameters, buffers, modules
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = d.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def get_submodule(self, target):
        """The sub-module at the dotted path ``target`` (``''`` is the module itself)."""
        module = self
        for part in target.split(".") if target else ():
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no sub-module {part!r} "
                                     f"(looking up {target!r})")
            module = child
        return module

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Yield ``(dotted name, module)`` for this module and every descendant, depth first.

        A module reachable by two paths is yielded once (under its first name) unless
        ``remove_duplicate=False``.
        """
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield (prefix, self)
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                            remove_duplicate)

    def modules(self):
        """This module and every descendant, each once."""
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """Yield ``(name, module)`` for the direct sub-modules, each once."""
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield (name, module)

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        owners = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        seen = set()
        for owner_prefix, owner in owners:
            for name, value in getattr(owner, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{owner_prefix}.{name}" if owner_prefix else name, value)

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(dotted name, Parameter)``; a parameter shared by two layers comes once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        """Every Parameter of this module (and, with ``recurse``, its descendants), each once."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(dotted name, Tensor)`` for every buffer, persistent or not."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def train(self, mode=True):
        """Set training mode on this module and every descendant; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be a bool, got {type(mode).__name__}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode, ``train(False)``: dropout off, batch norm on its running stats."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze (True) every parameter; returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Clear the gradients: drop them (the default, which saves memory), or fill with zeros."""
        for param in self.parameters():
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad = param.grad.detach()
                param.grad.data[...] = 0

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant (children first) and on self; returns self.

        Typical use: a custom initialisation, ``model.apply(init_weights)``.
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def to(self, *args, device=None, dtype=None):
        """Move and/or cast every parameter and buffer IN PLACE; returns self.

        The Parameter objects stay the same (only their ``.data`` and ``.grad`` change), so an
        optimizer built before ``to`` keeps working. Only floating-point tensors are cast:
        integer buffers such as ``num_batches_tracked`` keep their dtype.

        Parameters
        ----------
        *args : device string (``'cpu'``, ``'cuda'``, ``'cuda:N'``), dtype, or a Tensor
            whose device and dtype to take, in any order.
        device, dtype : optional
            The same, by keyword.
        """
        move_state(self, args, device, dtype)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=0):
        return self.to(f"cuda:{device}" if isinstance(device, int) else device)

    def double(self):
        return self.to(np.float64)

    def float(self):
        return self.to(np.float32)

    def half(self):
        return self.to(np.float16)

    def state_dict(self, prefix="", keep_vars=False):
        """The model's state: an ordered dict ``dotted name -> Tensor``.

        Each module contributes its parameters, then its persistent buffers, then its children,
        PyTorch's order and names. The Tensors are detached but share memory with the model
        (``keep_vars=True`` gives the Parameters themselves); ``mg.save(model.state_dict(),
        path)`` writes them to disk. A parameter shared by two layers appears under both names.
        """
        return gather_state(self, prefix, keep_vars)

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` into the parameters and buffers, in place.

        ``state_dict`` maps dotted names to Tensors, NumPy/CuPy arrays or numbers (e.g.
        ``model.state_dict()``, ``mg.load(path)``, or a PyTorch state dict converted with
        ``{k: v.numpy() for k, v in sd.items()}``); values are cast to each target's dtype and
        copied to its device. ``strict`` requires the keys to match exactly. Returns
        ``IncompatibleKeys(missing_keys, unexpected_keys)``. Everything is checked first, so
        when it raises (see :func:`layers.module_state.load_state_dict`) nothing has changed.
        """
        return load_state_dict(self, state_dict, strict)

    def extra_repr(self):
        """The text inside this module's parentheses in its repr, e.g. ``in_features=4, ...``."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        name = type(self).__name__
        if not lines:
            return f"{name}()"
        if len(lines) == 1 and not self._modules:
            return f"{name}({lines[0]})"
        return name + "(\n  " + "\n  ".join(lines) + "\n)"

    def summary(self, input_size=None, dtype=None, device=None):
        """A table of every module, its type and its own parameter count, then the totals.

        The repr shows the structure; this shows where the parameters are. Shared parameters
        and modules are counted once.

        >>> from layers import Linear, ReLU, Sequential
        >>> print(Sequential(Linear(4, 3), ReLU(), Linear(3, 2)).summary())
        module  type        parameters
        ------  ----------  ----------
                Sequential           0
        0       Linear              15
        1       ReLU                 0
        2       Linear               8
        total: 23 parameters (23 trainable) in 4 tensors; 0 buffer entries

        With ``input_size`` (the input batch's shape, batch dimension included; a list of
        shapes for several inputs), the model is run once on zeros of that shape (of
        ``dtype``, on ``device``; eval mode, no grad) and forward hooks record each module's
        output shape, as torchinfo does; see ``layers/summary.py``.
        """
        if input_size is None:
            return summarize(self)
        from .summary import summarize_shapes
        return summarize_shapes(self, input_size, dtype=dtype, device=device)
