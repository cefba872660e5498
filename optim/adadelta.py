"""Adadelta: a per-coordinate step whose size is learnt, so that no learning rate needs tuning.

Adagrad's steps shrink forever because it divides by the sum of all past squared gradients.
Adadelta divides by a running average of them instead, and multiplies by a running average of
its own past squared steps, so the step carries the units of the parameter (Zeiler, 2012). The
rule is PyTorch's (``torch.optim.Adadelta``), so the same data give the same trajectory.

Notation
--------
p, g        the parameter and its gradient arrays; all products and roots are entrywise
lr          a factor on the step (1.0 recovers the paper's rule); lambda the weight decay
rho         the decay rate of both running averages
v           the running average of g^2 (``square_avg``)
u           the running average of the squared steps (``acc_delta``)
eps         added under both roots, so that the very first step (u = 0) still moves
"""
from minigrad.backend import xp_of

from minigrad.checks import check_number
from .adaptive import _check_common
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta: the step is g scaled by RMS(past steps) / RMS(past gradients).

    Each step, for every parameter with a gradient::

        g <- -g if maximize;  g <- g + lambda * p
        v <- rho * v + (1 - rho) * g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u <- rho * u + (1 - rho) * delta^2
        p <- p - lr * delta

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        Parameters or parameter groups (see :class:`Optimizer`).
    lr : float
        Factor on the step, >= 0 (default 1.0, as PyTorch).
    rho : float
        Decay rate of the running averages, in [0, 1].
    eps : float
        Added under both roots, >= 0 (default 1e-6, as PyTorch).
    weight_decay : float
        L2 penalty lambda added to the gradient, >= 0.
    maximize : bool
        Ascend the objective instead of descending it.

    Examples
    --------
    >>> import minigrad as mg
    >>> w = mg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adadelta([w], lr=1.0, eps=0.01)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> print(w.numpy().round(4))
    [ 0.6877 -1.6848]
    """

    required_state = ("step", "square_avg", "acc_delta")
    optional_state = ()

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def check_group(self, group):
        _check_common("Adadelta", group)
        check_number("Adadelta", "rho", group["rho"], low=0.0, high=1.0)

    def init_state(self, state, param, group):
        xp = xp_of(param)
        state["step"] = 0
        state["square_avg"] = xp.zeros_like(param)
        state["acc_delta"] = xp.zeros_like(param)

    def update(self, param, grad, state, group):
        xp = xp_of(param)
        rho, eps = group["rho"], group["eps"]
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * (grad * grad)
        delta = xp.sqrt(acc_delta + eps) / xp.sqrt(square_avg + eps) * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * (delta * delta)
        param -= group["lr"] * delta
