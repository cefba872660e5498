"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay.

Notation
--------
p, g     the parameter and its gradient arrays
b        the momentum buffer, one per parameter
lr       the learning rate; mu the momentum; tau the dampening; lambda the weight decay
"""
from minigrad.checks import check_number
from .optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's update rule step for step.

    Each step, for every parameter with a gradient::

        g <- -g if maximize;  g <- g + lambda * p
        b <- g                          on the first step (no dampening yet)
        b <- mu * b + (1 - tau) * g     on later steps
        g <- g + mu * b  (Nesterov)     or   g <- b  (classical momentum)
        p <- p - lr * g

    With ``momentum=0`` the buffer is skipped and the rule is plain ``p <- p - lr * g``.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        Parameters or parameter groups (see :class:`Optimizer`).
    lr : float
        Learning rate, >= 0.
    momentum : float
        Momentum factor mu, >= 0.
    dampening : float
        Dampening tau of the momentum, >= 0.
    weight_decay : float
        L2 penalty lambda added to the gradient, >= 0.
    nesterov : bool
        Use Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
    maximize : bool
        Ascend the objective instead of descending it.

    Examples
    --------
    >>> import minigrad as mg
    >>> w = mg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> print(w.numpy())
    [ 0.8 -1.6]
    """

    required_state = ()
    optional_state = ("momentum_buffer",)

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, maximize=False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def check_group(self, group):
        check_number("SGD", "lr", group["lr"], low=0.0)
        check_number("SGD", "momentum", group["momentum"], low=0.0)
        check_number("SGD", "dampening", group["dampening"], low=0.0)
        check_number("SGD", "weight_decay", group["weight_decay"], low=0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov momentum requires momentum > 0 and dampening = 0, "
                             f"got momentum={group['momentum']} and "
                             f"dampening={group['dampening']}")

    def update(self, param, grad, state, group):
        lr, momentum = group["lr"], group["momentum"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # The first buffer is the gradient itself, undamped, as in PyTorch.
                buf = grad.copy()
                state["momentum_buffer"] = buf
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= lr * grad
