"""A Module's state as a whole: its state dict, loading one back, moving, casting, counting.

``Module.state_dict``, ``Module.load_state_dict``, ``Module.to`` and ``Module.summary`` are thin
delegations to ``gather_state``, ``load_state_dict``, ``move_state`` and ``summarize`` here. Both of the last two change
every parameter and buffer or none: each converts all values before it writes the first.
Loading checks every entry (names, types, shapes, dtypes) and converts every value before it
writes the first one, so a refused state dict leaves the model exactly as it was: no half-loaded
model whose first layers come from one checkpoint and the rest from the random init.

Notation
--------
prefix    the dotted path of a module inside the model, ``''`` for the model itself
state     a state dict: ordered ``dotted name -> Tensor`` for parameters and persistent buffers
target    the model's own Tensor (Parameter or buffer) that a saved value is loaded into
"""
import collections
import itertools

import numpy as np

from minigrad import Tensor, backend

IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

# Casting a float into an integer buffer (num_batches_tracked) would truncate it silently, and
# complex or string values have no place in a real-valued model.
_LOADABLE_KINDS = {"f": "biuf", "i": "biu", "u": "biu", "b": "b"}


def _state_into(module, state, prefix, keep_vars):
    for name, param in module._parameters.items():
        if param is not None:
            state[prefix + name] = param if keep_vars else param.detach()
    for name, buffer in module._buffers.items():
        if buffer is not None and name not in module._non_persistent_buffers:
            state[prefix + name] = buffer if keep_vars else buffer.detach()
    for name, child in module._modules.items():
        if child is not None:
            _state_into(child, state, f"{prefix}{name}.", keep_vars)


def gather_state(module, prefix="", keep_vars=False):
    """The state of ``module``: an ordered dict ``dotted name -> Tensor``.

    Each module contributes its parameters, then its persistent buffers, then its children,
    PyTorch's order and names. A parameter shared by two layers appears under both names.
    """
    state = collections.OrderedDict()
    _state_into(module, state, prefix, keep_vars)
    return state


def _as_array(key, value):
    """The raw array of a state-dict value, or a TypeError naming ``key``."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray) or backend.is_cuda_array(value):
        return value
    if isinstance(value, (np.generic, bool, int, float)):
        return np.asarray(value)
    raise TypeError(f"load_state_dict: the value of {key!r} is a {type(value).__name__}; "
                    "expected a Tensor, an array or a number")


def _mismatch(key, array, target):
    """Why ``array`` cannot be loaded into ``target``, or None when it can."""
    if tuple(array.shape) != tuple(target.shape):
        return (f"size mismatch for {key}: the checkpoint has shape {tuple(array.shape)}, "
                f"the model has shape {target.shape}")
    allowed = _LOADABLE_KINDS.get(np.dtype(target.dtype).kind, "")
    if np.dtype(array.dtype).kind not in allowed:
        return (f"dtype mismatch for {key}: the checkpoint has dtype {array.dtype}, which "
                f"cannot be cast safely into the model's {target.dtype}")
    return None


def load_state_dict(module, state_dict, strict=True):
    """Copy values from ``state_dict`` into the parameters and buffers of ``module``, in place.

    Parameters
    ----------
    module : Module
    state_dict : mapping of dotted name -> Tensor, NumPy/CuPy array or number
    strict : bool
        Require the keys to match exactly. A shape or dtype mismatch is an error either way.

    Returns
    -------
    IncompatibleKeys
        A named tuple ``(missing_keys, unexpected_keys)`` of lists of names.

    Raises
    ------
    ValueError
        Naming every missing and unexpected key (``strict=True``) and every shape or dtype
        mismatch. Nothing is copied when it raises.
    TypeError
        A value that is not a Tensor, an array or a number; nothing is copied either.
    """
    if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
        raise TypeError(f"load_state_dict: expected a mapping of names to arrays, got a "
                        f"{type(state_dict).__name__}")
    own = gather_state(module, keep_vars=True)  # the Parameters and buffers themselves
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    arrays, problems = {}, []
    if strict and missing:
        problems.append("missing keys: " + ", ".join(repr(k) for k in missing))
    if strict and unexpected:
        problems.append("unexpected keys: " + ", ".join(repr(k) for k in unexpected))
    for key, target in own.items():
        if key not in state_dict:
            continue
        array = _as_array(key, state_dict[key])
        problem = _mismatch(key, array, target)
        if problem is not None:
            problems.append(problem)
        arrays[key] = array
    if problems:
        raise ValueError(f"load_state_dict: cannot load into {type(module).__name__}:\n  "
                         + "\n  ".join(problems))
    # Every value is converted before the first is written, so a failure here (a device
    # transfer, say) still leaves the model untouched.
    converted = {key: backend.to_device(array, own[key].device).astype(own[key].dtype,
                                                                        copy=False)
                 for key, array in arrays.items()}
    for key, array in converted.items():
        target = own[key]
        # Writing into .data keeps both the Parameter and its array, so views stay valid.
        target.data[...] = array
        target._version += 1
    return IncompatibleKeys(missing, unexpected)



def move_state(module, args, device=None, dtype=None):
    """Move and/or cast every parameter, buffer and gradient of ``module`` in place.

    Parameters
    ----------
    module : Module
    args : tuple
        Device strings (``'cpu'``, ``'cuda'``, ``'cuda:N'``), dtypes, or Tensors whose device
        and dtype to take, in any order (``Module.to``'s positional arguments).
    device, dtype : optional
        The same, by keyword. Only floating-point tensors are cast, so integer buffers such as
        ``num_batches_tracked`` keep their dtype.
    """
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, str) and (arg == "cpu" or arg.startswith("cuda")):
            device = arg
        else:
            dtype = arg
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"Module.to: expected a device ('cpu', 'cuda', 'cuda:N') or a "
                            f"dtype, got {dtype!r}") from None
        if dtype.kind != "f":
            raise TypeError(f"Module.to only casts to floating-point dtypes, got {dtype}")
    if device is not None:
        device = backend.parse_device(device)

    def convert(array):
        if dtype is not None and array.dtype.kind == "f":
            array = array.astype(dtype, copy=False)
        if device is not None:
            array = backend.to_device(array, device)
        return array

    holders = []
    for owner in module.modules():
        for tensor in itertools.chain(owner._parameters.values(), owner._buffers.values()):
            if tensor is not None:
                holders.append(tensor)
                if tensor.grad is not None:
                    holders.append(tensor.grad)
    # Converted first, assigned after: a failed transfer leaves every tensor where it was.
    converted = [convert(tensor.data) for tensor in holders]
    for tensor, array in zip(holders, converted):
        tensor.data = array


def summarize(module):
    """The table of ``Module.summary``: each module's type and own parameter count, then the
    totals of parameters (shared ones counted once) and buffer entries."""
    rows, counted = [], set()
    for name, sub in module.named_modules():
        own = 0
        for param in sub.parameters(recurse=False):
            if id(param) not in counted:
                counted.add(id(param))
                own += param.numel()
        rows.append((name, type(sub).__name__, str(own)))
    header = ("module", "type", "parameters")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(3)]
    out = [f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]:>{widths[2]}}",
           "  ".join("-" * w for w in widths)]
    for name, kind, count in rows:
        out.append(f"{name:<{widths[0]}}  {kind:<{widths[1]}}  {count:>{widths[2]}}")
    params = list(module.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    buffered = sum(b.numel() for b in module.buffers())
    out.append(f"total: {total:,} parameters ({trainable:,} trainable) in {len(params)} "
               f"tensors; {buffered:,} buffer entries")
    return "\n".join(out)
