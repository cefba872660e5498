"""Reading a network's inner layers with forward hooks, without touching its code.

Every visualisation tool needs some layer's output: a forward hook (``register_forward_hook``)
sees each module's output as it is computed. :func:`capture_activations` keeps the outputs of
the named layers and, once the deepest of them has fired, stops the forward pass by raising a
private exception that it catches itself. Stopping early saves the rest of the network and lets
a convolutional trunk run on images of any size, even when the classifier head that follows
expects one fixed size (LeNet's Flatten-Linear).

Notation
--------
N        batch size
C, H, W  input channels, height and width
K        channels of a layer's output; h, w its height and width
"""
import numpy as np

from layers import Module


class _StopForward(Exception):
    """Raised by a capture hook once every asked-for layer has produced its output."""


def get_layer(model, layer):
    """The sub-module ``layer`` of ``model``: a Module, or its dotted name ('features.3').

    Examples
    --------
    >>> from layers import Linear, ReLU, Sequential
    >>> get_layer(Sequential(Linear(2, 3), ReLU()), "1")
    ReLU()
    """
    if isinstance(layer, Module):
        return layer
    modules = dict(model.named_modules())
    if layer not in modules:
        names = [name for name in modules if name]
        raise ValueError(f"no layer named {layer!r} in {type(model).__name__}; its layers are "
                         f"{names}")
    return modules[layer]


def capture_activations(model, x, layers, stop=True):
    """Run ``model(x)`` and return the outputs of ``layers``, a dict ``layer -> Tensor``.

    Parameters
    ----------
    model : Module
    x : Tensor, shape (N, C, H, W)
    layers : sequence of str or Module
        Names (as in ``model.named_modules()``) or the modules themselves; the keys of the
        result are these same objects. A module called several times keeps its last output.
    stop : bool, default True
        Stop the forward pass once every layer has fired (see the module docstring); False
        runs the whole model.

    Returns
    -------
    dict, each Tensor in the graph of ``x`` (differentiable when ``x`` requires grad).

    Examples
    --------
    >>> from layers import Linear, ReLU, Sequential
    >>> model = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
    >>> capture_activations(model, mg.ones(4, 2), ["1"])["1"].shape
    (4, 3)
    """
    modules = {key: get_layer(model, key) for key in layers}
    outputs, pending = {}, set(modules)

    def make_hook(key):
        def hook(module, args, output):
            outputs[key] = output
            pending.discard(key)
            if stop and not pending:
                raise _StopForward
        return hook

    handles = [module.register_forward_hook(make_hook(key)) for key, module in modules.items()]
    try:
        model(x)
    except _StopForward:
        pass
    finally:
        for handle in handles:
            handle.remove()
    if pending:
        raise ValueError(f"capture_activations: the layers {sorted(map(str, pending))} were "
                         "not called by the forward pass")
    return outputs


def class_scores(logits, target):
    """``logits[n, target[n]]`` for each row: shape (N,). ``target`` is an int or N ints."""
    N, K = logits.shape
    target = np.asarray(target)
    if target.ndim == 0:
        target = np.full(N, target)
    if target.shape != (N,) or target.dtype.kind not in "iu" or not np.all(
            (target >= 0) & (target < K)):
        raise ValueError(f"target must be an int or {N} ints in [0, {K}), got "
                         f"{target.tolist()}")
    return logits[np.arange(N), target]
