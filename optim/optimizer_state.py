"""What an optimizer remembers, and how a saved copy of it is checked before it is loaded.

``ParamState`` holds the running buffers of each parameter. ``pack`` turns an optimizer's groups
and buffers into a state dict of plain values; ``unpack`` checks such a dict against an
optimizer *completely* (its kind, its keys, the group and parameter counts, every type, shape and
dtype) and only then builds the new groups and buffers, so that ``load_state_dict`` either
replaces everything or, when it raises, has changed nothing.

Notation
--------
p          a parameter Tensor; ``p.data`` its raw array
position   a parameter's index, counted across the groups in order (PyTorch's naming)
kind       the optimizer's class name, e.g. ``"Adam"``; a state dict records it under ``"kind"``
"""
import math
import numbers
from collections.abc import MutableMapping

import numpy as np

from minigrad import backend

_KEYS = ("state", "param_groups")


class ParamState(MutableMapping):
    """Per-parameter state, keyed by the parameter's identity.

    Tensors overload ``==`` to compare element by element, so they cannot key a plain dict by
    value. This mapping keys by ``id(p)`` and keeps a reference to ``p`` so that the id stays
    valid. Like PyTorch's ``defaultdict(dict)``, reading a parameter that has no state yet gives
    it an empty dict.
    """

    def __init__(self):
        self._entries = {}  # id(p) -> (p, state dict of p)

    def __getitem__(self, param):
        entry = self._entries.get(id(param))
        if entry is None:
            entry = (param, {})
            self._entries[id(param)] = entry
        return entry[1]

    def __setitem__(self, param, value):
        self._entries[id(param)] = (param, value)

    def __delitem__(self, param):
        del self._entries[id(param)]

    def __contains__(self, param):
        return id(param) in self._entries

    def __iter__(self):
        return (param for param, _ in list(self._entries.values()))

    def __len__(self):
        return len(self._entries)

    def get(self, param, default=None):
        entry = self._entries.get(id(param))
        return default if entry is None else entry[1]


def copy_value(value):
    """A copy of a state or hyper-parameter value that shares no memory with the original."""
    if hasattr(value, "copy") and hasattr(value, "shape"):
        return value.copy()
    if isinstance(value, list):
        return [copy_value(v) for v in value]
    if isinstance(value, dict):
        return {k: copy_value(v) for k, v in value.items()}
    return value


def pack(optimizer):
    """The state dict of ``optimizer``: its kind, its groups and its buffers, all copied.

    Returns
    -------
    dict
        ``{"state": {position: {name: array or int}}, "param_groups": [group, ...],
        "kind": class name}``; each group lists positions under ``"params"``.
    """
    position = {}
    groups = []
    for group in optimizer.param_groups:
        packed = {key: copy_value(value) for key, value in group.items() if key != "params"}
        for p in group["params"]:
            position.setdefault(id(p), len(position))
        packed["params"] = [position[id(p)] for p in group["params"]]
        groups.append(packed)
    state = {}
    for p in optimizer.state:
        if id(p) in position and optimizer.state.get(p):
            state[position[id(p)]] = {key: copy_value(value)
                                      for key, value in optimizer.state.get(p).items()}
    return {"state": state, "param_groups": groups, "kind": type(optimizer).__name__}


def unpack(optimizer, state_dict):
    """The groups and buffers that loading ``state_dict`` gives ``optimizer``; nothing is set.

    Parameters
    ----------
    optimizer : Optimizer
    state_dict : dict
        As returned by :func:`pack`; ``"kind"`` may be missing (an older file), and then the
        kind is inferred from the names of the per-parameter buffers.

    Returns
    -------
    groups : list of dict
        The new ``param_groups``, holding ``optimizer``'s own parameters.
    state : ParamState
        The new buffers: arrays copied, cast to each parameter's dtype, on its device.

    Raises
    ------
    ValueError or TypeError
        Naming the optimizer and the first entry that does not fit.
    """
    name = type(optimizer).__name__
    if not isinstance(state_dict, dict) or not set(_KEYS) <= set(state_dict) \
            or not set(state_dict) <= {*_KEYS, "kind"}:
        found = sorted(map(str, state_dict)) if isinstance(state_dict, dict) \
            else type(state_dict).__name__
        raise ValueError(f"{name}: load_state_dict expects a dict with the keys 'state' and "
                         f"'param_groups' (and 'kind'), as returned by state_dict(); got {found}")
    kind = state_dict.get("kind")
    if kind is not None and kind != name:
        raise ValueError(f"{name}: load_state_dict got the state of a {kind} optimizer; an "
                         f"optimizer loads only the state of its own kind")
    saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
    if not isinstance(saved_groups, (list, tuple)) or not isinstance(saved_state, dict):
        raise TypeError(f"{name}: load_state_dict expects 'param_groups' to be a list and "
                        f"'state' a dict, got a {type(saved_groups).__name__} and a "
                        f"{type(saved_state).__name__}")
    param_at = _match_params(name, optimizer.param_groups, saved_groups)
    groups = [_restore_group(optimizer, i, saved, group)
              for i, (saved, group) in enumerate(zip(saved_groups, optimizer.param_groups))]
    if kind is None:
        _check_fixed_options(optimizer, saved_groups)
    state = ParamState()
    for position, saved in saved_state.items():
        if isinstance(position, bool) or not isinstance(position, numbers.Integral) \
                or int(position) not in param_at:
            raise ValueError(f"{name}: the state dict has state for parameter {position!r}, "
                             f"which no group lists (positions 0 to {len(param_at) - 1})")
        p = param_at[int(position)]
        state[p] = _restore_param_state(optimizer, int(position), saved, p.data)
    return (groups, state)


def _match_params(name, groups, saved_groups):
    """Map each saved position to this optimizer's parameter, after checking the counts."""
    if len(saved_groups) != len(groups):
        raise ValueError(f"{name}: the state dict has {len(saved_groups)} parameter groups "
                         f"but the optimizer has {len(groups)}")
    for i, saved in enumerate(saved_groups):
        if not isinstance(saved, dict) or not isinstance(saved.get("params"), (list, tuple)):
            raise TypeError(f"{name}: param_groups[{i}] of the state dict must be a dict with "
                            "a list of positions under 'params'")
    saved_sizes = [len(g["params"]) for g in saved_groups]
    sizes = [len(g["params"]) for g in groups]
    if saved_sizes != sizes:
        raise ValueError(f"{name}: the state dict's groups hold {saved_sizes} parameters "
                         f"but the optimizer's groups hold {sizes}")
    param_at = {}
    for i, (saved, group) in enumerate(zip(saved_groups, groups)):
        for position, p in zip(saved["params"], group["params"]):
            if isinstance(position, bool) or not isinstance(position, numbers.Integral):
                raise TypeError(f"{name}: param_groups[{i}]['params'] holds {position!r}; "
                                "expected int positions")
            if int(position) in param_at:
                raise ValueError(f"{name}: the state dict lists parameter {position} twice")
            param_at[int(position)] = p
    return param_at


def _restore_group(optimizer, index, saved, group):
    """The saved hyper-parameters of one group over this optimizer's parameters, checked."""
    name = type(optimizer).__name__
    restored = {key: copy_value(value) for key, value in saved.items() if key != "params"}
    restored["params"] = group["params"]
    for key, default in optimizer.defaults.items():
        # an option newer than the saved dict: the default, copied (a list is not shared)
        value = restored.setdefault(key, copy_value(default))
        if not _same_type(value, default):
            raise TypeError(f"{name}: param_groups[{index}][{key!r}] of the state dict is "
                            f"{value!r}, but {key} is a {_type_name(default)}")
        if isinstance(default, tuple):
            restored[key] = tuple(value)
    optimizer.check_group(restored)
    return restored


def _same_type(value, default):
    if isinstance(default, bool) or default is None:
        return isinstance(value, bool) or default is None
    if isinstance(default, numbers.Real):
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if isinstance(default, (tuple, list)):
        return isinstance(value, (tuple, list)) and len(value) == len(default) \
            and all(_same_type(v, d) for v, d in zip(value, default))
    return True


def _type_name(default):
    """What ``default``'s type is called in an error; only the kinds ``_same_type`` can refuse
    (booleans, real numbers, sequences of them) reach here."""
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, (tuple, list)):
        return f"sequence of {len(default)} numbers"
    return "real number"


def _check_fixed_options(optimizer, saved_groups):
    """A state dict without a kind is refused when a group sets an option that this kind
    fixes, e.g. Adam's groups (``decoupled_weight_decay=False``) loaded into AdamW."""
    for i, saved in enumerate(saved_groups):
        for key, fixed in optimizer.fixed_options.items():
            if key in saved and saved[key] != fixed:
                raise ValueError(f"{type(optimizer).__name__}: param_groups[{i}] of the state "
                                 f"dict has {key}={saved[key]!r}, which this optimizer fixes to "
                                 f"{fixed!r}: the state belongs to another kind of optimizer")


def _restore_param_state(optimizer, position, saved, param):
    """One parameter's saved buffers, checked against the optimizer's kind and ``param``."""
    name = type(optimizer).__name__
    where = f"{name}: the saved state of parameter {position}"
    if not isinstance(saved, dict) or not all(isinstance(k, str) for k in saved):
        raise TypeError(f"{where} must be a dict of named buffers, got {saved!r:.80}")
    required, optional = optimizer.required_state, optimizer.optional_state
    if required is not None:
        unknown = [k for k in saved if k not in required and k not in optional]
        missing = [k for k in required if k not in saved]
        if saved and (unknown or missing):
            expected = ", ".join(required + optional) or "none"
            raise ValueError(f"{where} holds {sorted(saved)}, but {name} keeps {expected} "
                             f"(missing {missing}, unknown {unknown}): the state belongs to "
                             "another kind of optimizer")
    flat_size = sum(p.data.size for group in optimizer.param_groups for p in group["params"])
    restored = {key: _restore_entry(where, key, optimizer.state_layout.get(key, "param"), value,
                                    param, flat_size)
                for key, value in saved.items()}
    optimizer.check_state(where, restored)
    return restored


def _restore_entry(where, key, layout, value, param, flat_size):
    """A saved entry of the given layout (see ``Optimizer.state_layout``), checked and made
    ready for ``param``; the ``*_list`` layouts are lists of the layout before the suffix."""
    if key == "step" or layout == "count":
        return _restore_count(where, key, value)
    if layout == "number":
        return _restore_number(where, key, value)
    if layout == "param":
        return _restore_value(where, key, value, param, param.shape,
                              f"its parameter has shape {param.shape}")
    if layout == "flat":
        return _restore_value(where, key, value, param, (flat_size,),
                              f"the optimizer's parameters hold {flat_size} entries in all")
    if layout.endswith("_list"):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{where}: {key!r} is a {type(value).__name__}; expected a list")
        return [_restore_entry(where, f"{key}[{i}]", layout[:-len("_list")], item, param,
                               flat_size)
                for i, item in enumerate(value)]
    raise ValueError(f"{where}: {key!r} has the unknown layout {layout!r}")


def _restore_count(where, key, value):
    """A count (the step, LBFGS's evaluations) as a Python int, whatever form a file gave it
    (e.g. a 0-d array, or PyTorch's float tensor), since bias corrections raise betas to the
    step's power."""
    count = value.item() if getattr(value, "shape", None) == () else value
    # Finite first: int() of an infinity raises OverflowError and of a NaN a message that
    # names no entry.
    if isinstance(count, bool) or not isinstance(count, numbers.Real) \
            or not math.isfinite(count) or count < 0 or count != int(count):
        raise ValueError(f"{where}: {key!r} is {value!r:.80}; expected a count >= 0")
    return int(count)


def _restore_number(where, key, value):
    """A scalar of the rule (NAdam's momentum product, LBFGS's step length) as a Python float;
    a 0-d array, as PyTorch keeps such scalars, is accepted."""
    number = value.item() if getattr(value, "shape", None) == () else value
    if isinstance(number, bool) or not isinstance(number, numbers.Real):
        raise TypeError(f"{where}: {key!r} is {value!r:.80}; expected a real number")
    return float(number)


def _restore_value(where, key, value, param, shape, expected):
    """A saved array made ready for ``param``: checked to have ``shape`` (``expected`` says
    why, for the message), copied to the parameter's device and dtype. A buffer of another
    shape belongs to another model."""
    if not (hasattr(value, "shape") and hasattr(value, "dtype")):
        raise TypeError(f"{where}: {key!r} is a {type(value).__name__}; expected an array of "
                        f"shape {shape}")
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"{where}: {key!r} has shape {tuple(value.shape)} but {expected}")
    if np.dtype(value.dtype).kind not in "fiu":
        raise ValueError(f"{where}: {key!r} has dtype {value.dtype}; expected a real array")
    moved = backend.to_device(value, backend.device_of(param))
    dtype = param.dtype if moved.dtype.kind == "f" else moved.dtype
    return moved.astype(dtype, copy=True)
