"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay.

Notation
--------
p, g     the parameter and its gradient arrays
b        the momentum buffer, one per parameter
lr       the learning rate; mu the momentum; tau the dampening; lambda the weight decay
"""
from minigrad.backend import xp_of
from minigrad.checks import check_number
from .foreach import check_step, check_switches, fused_kernels
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
    foreach : bool or None
        None (the default) updates each float parameter with one fused kernel pass
        (``minigrad.kernels``) and any other with the NumPy rule; False uses the NumPy rule,
        an array expression at a time, for all; True demands the kernel (see ``optim.foreach``).
        Both paths give the same bits on the CPU.
    fused : bool or None
        True is the same as ``foreach=True`` here (one kernel does the whole rule); it cannot
        be set together with ``foreach=True``.

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
                 nesterov=False, maximize=False, foreach=None, fused=None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, fused=fused)
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
        check_switches("SGD", group)

    def check_gradients(self):
        super().check_gradients()
        check_step("SGD", self.param_groups)

    def update(self, param, grad, state, group):
        kernels = fused_kernels(group, param, grad)
        if kernels is not None:
            self.fused_update(kernels, param, grad, state, group)
            return
        lr, momentum = group["lr"], group["momentum"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # The first buffer is the gradient itself, undamped, as in PyTorch. An array
                # even for a 0-d parameter, whose -grad is a NumPy scalar that `*=` would not
                # update in place.
                buf = xp_of(param).array(grad, copy=True)
                state["momentum_buffer"] = buf
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param -= lr * grad

    def fused_update(self, kernels, param, grad, state, group):
        """The same step in one pass of ``kernels.sgd_update_`` over param, grad and buffer."""
        momentum = group["momentum"]
        buf = state.get("momentum_buffer")
        first = momentum != 0 and buf is None
        if first:
            # the kernel writes the first buffer (the gradient itself) without reading it
            buf = state["momentum_buffer"] = xp_of(param).empty(param.shape, param.dtype)
        kernels.sgd_update_(param, grad, buf, group["lr"], momentum, group["dampening"],
                            group["weight_decay"], group["nesterov"], group["maximize"], first)
