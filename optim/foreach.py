"""Which path an update takes: the fused kernel of ``minigrad.kernels``, or the NumPy rule.

SGD, Adam and AdamW take PyTorch's two switches, kept in each parameter group:

``foreach=None`` (the default)
    the fused kernel for every parameter it can update (a float32 or float64 NumPy or CuPy
    array whose gradient has its dtype and lives on its device), the NumPy rule for the others;
``foreach=False``
    the NumPy rule, an array expression at a time, for every parameter (the reference);
``foreach=True`` or ``fused=True``
    the fused kernel, and a clear error for a parameter it cannot update.

The kernels do the rule's operations in the same order and dtype, so on the CPU both paths give
the same bits and a run may switch between them (or resume a checkpoint) without changing a
trajectory; on a GPU they may differ by the roundings of its fused multiply-adds.
PyTorch's ``foreach`` runs one kernel over a list of tensors and its ``fused`` one kernel per
tensor that does the whole rule; here one fused kernel per parameter does both jobs, since
calling it once per parameter measured as fast as passing the whole list at once. The decision
is made per parameter, not per group, since no kernel call spans two parameters.

Notation
--------
p, g     a parameter's array and its gradient's array
group    a parameter group, holding ``foreach`` and ``fused``
"""
from minigrad.backend import is_cuda_array, kernels_for

SWITCHES = (None, False, True)


def check_switches(owner, group):
    """Raise unless ``group``'s ``foreach`` and ``fused`` are each None, False or True, not
    both True, and every parameter can take the kernel when one of them is True."""
    for name in ("foreach", "fused"):
        if not any(group[name] is switch for switch in SWITCHES):
            raise TypeError(f"{owner}: {name} must be None, False or True, got {group[name]!r}")
    if group["foreach"] and group["fused"]:
        raise ValueError(f"{owner}: fused=True and foreach=True cannot be set together")
    if group["foreach"] or group["fused"]:
        for i, p in enumerate(group["params"]):
            reason = _unsupported(p.data, p.data)
            if reason:
                raise ValueError(_refusal(owner, group, i, p.data, reason))


def check_step(owner, groups):
    """Raise, before any parameter moves, when a group that demands the kernel has a parameter
    whose gradient the kernel cannot take (of another dtype, say)."""
    for group in groups:
        if group["foreach"] or group["fused"]:
            for i, p in enumerate(group["params"]):
                reason = None if p.grad is None else _unsupported(p.data, p.grad.data)
                if reason:
                    raise ValueError(_refusal(owner, group, i, p.data, reason))


def fused_kernels(group, param, grad):
    """The kernel module that updates ``param``, or None for the NumPy rule (see the module
    docstring). A group that demands the kernel was checked by :func:`check_step`."""
    if group["foreach"] is False and not group["fused"]:
        return None
    return kernels_for(param) if _unsupported(param, grad) is None else None


def _unsupported(p, g):
    """Why the kernel cannot update ``p`` with the gradient ``g``, or None when it can."""
    if p.dtype.char not in "fd" or p.dtype.byteorder == ">":
        return f"its dtype is {p.dtype}; the kernel takes float32 and float64"
    if g.dtype != p.dtype:
        return f"its gradient has dtype {g.dtype}, not the parameter's {p.dtype}"
    if type(g) is not type(p) and is_cuda_array(g) != is_cuda_array(p):
        return "its gradient is on another device"
    if not getattr(p.flags, "writeable", True):
        return "its array is read-only"
    return None


def _refusal(owner, group, index, p, reason):
    switch = "fused=True" if group["fused"] else "foreach=True"
    return (f"{owner}: {switch} but parameter {index} of its group (shape {tuple(p.shape)}) "
            f"cannot be updated by the fused kernel: {reason}. Use foreach=None to update such "
            "parameters with the NumPy rule")
