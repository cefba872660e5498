"""Guided backpropagation and DeconvNet: the same backward pass with another rule at each ReLU.

Plain backprop, DeconvNet (Zeiler & Fergus, 2014) and guided backprop (Springenberg et al.,
2015) differ only in what a ReLU passes back, given the grad g arriving at its output:

=================  =====================================  ==================================
plain              ``g * [x > 0]``                        gate on the forward input
DeconvNet          ``max(g, 0)``                          gate on the backward signal
guided             ``max(g, 0) * [x > 0]``                both gates
=================  =====================================  ==================================

The mechanism: :func:`relu_backward_rule` is a context manager that registers a forward hook
on every ``layers.ReLU`` module of the model. The hook replaces the module's output by the
same values computed by a Function whose backward is the chosen rule, so the graph built inside
the block carries the new rule, and the model's code is never edited. The hooks are removed
when the block ends. Only ``layers.ReLU`` *modules* are reached: a model that calls
``F.relu`` or ``x.relu()`` inside its ``forward`` has no module to hook, and its ReLUs keep
the plain rule (the context manager refuses a model without any ReLU module).

Notation
--------
x    a ReLU's input; g the grad arriving at its output
"""
from contextlib import contextmanager

import minigrad as mg
from minigrad.backend import xp_of
from layers import ReLU
from models.vis.attribution import _input_gradient


class GuidedReLU(mg.Function):
    """y = max(x, 0);  dL/dx = max(g, 0) * [x > 0]."""

    @staticmethod
    def forward(ctx, x):
        # the mask only gates (its derivative is zero), so it is kept as a raw array
        ctx.positive = x > 0
        return xp_of(x).maximum(x, 0)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.relu() * ctx.positive


class DeconvReLU(mg.Function):
    """y = max(x, 0);  dL/dx = max(g, 0), whatever the sign of x."""

    @staticmethod
    def forward(ctx, x):
        return xp_of(x).maximum(x, 0)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.relu()


RULES = {"guided": GuidedReLU, "deconvnet": DeconvReLU}


@contextmanager
def relu_backward_rule(model, rule):
    """Inside the block, every ``layers.ReLU`` of ``model`` back-propagates with ``rule``.

    Parameters
    ----------
    model : Module
    rule : {'guided', 'deconvnet'}

    Examples
    --------
    >>> from layers import Linear, ReLU, Sequential
    >>> model = Sequential(Linear(2, 2), ReLU())
    >>> with relu_backward_rule(model, "deconvnet"):
    ...     y = model(mg.ones(1, 2))
    >>> type(y.grad_fn).__name__ if y.grad_fn is not None else "no graph"
    'DeconvReLU'
    """
    if rule not in RULES:
        raise ValueError(f"relu_backward_rule: rule must be one of {sorted(RULES)}, got {rule!r}")
    function = RULES[rule]
    relus = [module for module in model.modules() if isinstance(module, ReLU)]
    if not relus:
        raise ValueError(f"relu_backward_rule: {type(model).__name__} has no layers.ReLU module "
                         "to hook (a functional relu inside forward cannot be reached)")

    def swap(module, args, output):
        return function.apply(args[0])

    handles = [module.register_forward_hook(swap) for module in relus]
    try:
        yield model
    finally:
        for handle in handles:
            handle.remove()


def guided_backprop(model, x, target):
    """The input gradient of the target score with the guided ReLU rule: (N, C, H, W)."""
    with relu_backward_rule(model, "guided"):
        return _input_gradient(model, x, target).detach()


def deconvnet(model, x, target):
    """The input gradient of the target score with the DeconvNet ReLU rule: (N, C, H, W)."""
    with relu_backward_rule(model, "deconvnet"):
        return _input_gradient(model, x, target).detach()
