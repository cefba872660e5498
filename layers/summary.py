"""``Module.summary(input_size)``: each module's output shape and parameter count, torchinfo-style.

A model's repr lists its layers but not what flows between them. Running it once on a batch of
zeros, with a forward hook on every module that writes down the shape of what it returned,
gives the table that catches most shape mistakes before training starts::

    >>> from layers import Linear, ReLU, Sequential
    >>> print(Sequential(Linear(4, 3), ReLU(), Linear(3, 2)).summary((5, 4)))
    layer (type)  output shape  parameters
    ------------  ------------  ----------
    Sequential    (5, 2)                 0
      0 (Linear)  (5, 3)                15
      1 (ReLU)    (5, 3)                 0
      2 (Linear)  (5, 2)                 8
    total: 23 parameters (23 trainable); input (5, 4) -> output (5, 2)

Notation
--------
input_size   the shape of the batch the model is run on, batch dimension included
depth        how deep a module sits in the model; rows are indented by it
"""
import numpy as np

import minigrad as mg
from minigrad import Tensor


def summarize_shapes(module, input_size, dtype=None, device=None):
    """The table of ``Module.summary(input_size)``; see the module docstring.

    Parameters
    ----------
    module : Module
    input_size : tuple of int, or list of such tuples
        Shape of the input batch (several for a module with several inputs).
    dtype : dtype, optional
        Of the zeros fed in; float32 by default (int64 for an Embedding-first model: pass it).
    device : str, optional
        Where the zeros are made; default the device of the first parameter, else 'cpu'.
    """
    sizes = _input_sizes(input_size)
    if device is None:
        device = next((p.device for p in module.parameters()), "cpu")
    inputs = [mg.zeros(*size, dtype=dtype or np.float32, device=device) for size in sizes]
    shapes, handles = {}, []

    def record(name):
        def hook(mod, args, output):
            shapes[name] = _shape_of(output)
        return hook

    names = dict(module.named_modules())
    for name, sub in names.items():
        handles.append(sub.register_forward_hook(record(name)))
    was_training = module.training
    module.eval()  # BatchNorm must not update its running statistics on zeros
    try:
        with mg.no_grad():
            output = module(*inputs)
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    rows, counted = [], set()
    for name, sub in names.items():
        own = 0
        for param in sub.parameters(recurse=False):
            if id(param) not in counted:
                counted.add(id(param))
                own += param.numel()
        depth = 0 if not name else name.count(".") + 1
        label = type(sub).__name__ if not name else f"{name.rsplit('.', 1)[-1]} " \
                                                    f"({type(sub).__name__})"
        rows.append(("  " * depth + label, shapes.get(name, "--"), str(own)))
    header = ("layer (type)", "output shape", "parameters")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(3)]
    lines = [f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]:>{widths[2]}}",
             "  ".join("-" * w for w in widths)]
    lines += [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
    params = list(module.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    shown_in = ", ".join(str(tuple(s)) for s in sizes)
    lines.append(f"total: {total:,} parameters ({trainable:,} trainable); input {shown_in} -> "
                 f"output {_shape_of(output)}")
    return "\n".join(lines)


def _input_sizes(input_size):
    """``input_size`` as a list of shapes, or a clear error."""
    def is_shape(s):
        return isinstance(s, (tuple, list)) and all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1 for n in s)
    if is_shape(input_size) and len(input_size) > 0:
        return [tuple(int(n) for n in input_size)]
    if isinstance(input_size, list) and input_size and all(is_shape(s) and s
                                                           for s in input_size):
        return [tuple(int(n) for n in s) for s in input_size]
    raise ValueError(f"summary: input_size must be a shape such as (1, 3, 32, 32) (batch "
                     f"included, every size >= 1) or a list of shapes, got {input_size!r}")


def _shape_of(output):
    if isinstance(output, Tensor):
        return str(tuple(output.shape))
    if isinstance(output, (tuple, list)):
        return "[" + ", ".join(_shape_of(o) for o in output) + "]"
    return type(output).__name__
