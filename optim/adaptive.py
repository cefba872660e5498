"""Optimizers with a per-coordinate step size: Adagrad, RMSprop, Adam and AdamW.

Each keeps running statistics of the gradient for every entry of every parameter and divides
the step by a root-mean-square of past gradients, so that coordinates with large gradients take
small steps and rare, small gradients still move their coordinates. The rules are PyTorch's
(``torch.optim``), so the same data give the same trajectory.

Notation
--------
p, g        the parameter and its gradient arrays; all products and roots are entrywise
t           the step count of the parameter, 1 on its first update
lr          the learning rate; lambda the weight decay; eps the term that keeps a root off 0
s           Adagrad's running sum of g^2
v, gbar     RMSprop's running averages of g^2 and of g; b its momentum buffer
m, v        Adam's first and second moment estimates; v_max their running maximum (AMSGrad)
"""
from minigrad.backend import xp_of

from minigrad.checks import check_number
from .foreach import check_step, check_switches, fused_kernels
from .optimizer import Optimizer


def _buffer(state, name, param):
    """``state[name]``, created as zeros like ``param`` if missing.

    ``init_state`` creates every buffer a group needs; this covers a group whose option (say
    ``momentum``) was switched on after its first step, which then starts from zero.
    """
    if name not in state:
        state[name] = xp_of(param).zeros_like(param)
    return state[name]


def _check_common(owner, group):
    """The checks every optimizer here shares: lr, eps and weight_decay must be >= 0."""
    check_number(owner, "lr", group["lr"], low=0.0)
    check_number(owner, "eps", group["eps"], low=0.0)
    check_number(owner, "weight_decay", group["weight_decay"], low=0.0)


def _check_betas(owner, group):
    """``group["betas"]`` must be a pair of decay rates, each in [0, 1)."""
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
    check_number(owner, "betas[0]", betas[0], low=0.0, high=1.0, high_open=True)
    check_number(owner, "betas[1]", betas[1], low=0.0, high=1.0, high_open=True)


class Adagrad(Optimizer):
    """Adagrad: steps scaled by the root of the sum of all past squared gradients.

    Each step t, for every parameter with a gradient::

        g <- -g if maximize;  g <- g + lambda * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s <- s + g^2                            (s starts at initial_accumulator_value)
        p <- p - clr * g / (sqrt(s) + eps)

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        Parameters or parameter groups (see :class:`Optimizer`).
    lr : float
        Learning rate, >= 0.
    lr_decay : float
        Decay of the learning rate with the step count, >= 0.
    weight_decay : float
        L2 penalty lambda added to the gradient, >= 0.
    initial_accumulator_value : float
        Starting value of the sum s, >= 0.
    eps : float
        Added to the root for stability, >= 0.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    required_state = ("step", "sum")
    optional_state = ()

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, maximize=False):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)

    def check_group(self, group):
        _check_common("Adagrad", group)
        check_number("Adagrad", "lr_decay", group["lr_decay"], low=0.0)
        check_number("Adagrad", "initial_accumulator_value",
                     group["initial_accumulator_value"], low=0.0)

    def init_state(self, state, param, group):
        xp = xp_of(param)
        state["step"] = 0
        state["sum"] = xp.full_like(param, group["initial_accumulator_value"])

    def update(self, param, grad, state, group):
        xp = xp_of(param)
        state["step"] += 1
        t = state["step"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        std = xp.sqrt(state["sum"]) + group["eps"]
        param -= clr * (grad / std)


class RMSprop(Optimizer):
    """RMSprop: steps scaled by the root of a running average of squared gradients.

    Each step, for every parameter with a gradient::

        g <- -g if maximize;  g <- g + lambda * p
        v <- alpha * v + (1 - alpha) * g^2
        d = sqrt(v) + eps                       or, centered:
        gbar <- alpha * gbar + (1 - alpha) * g,   d = sqrt(v - gbar^2) + eps
        p <- p - lr * g / d                     or, with momentum mu:
        b <- mu * b + g / d,                      p <- p - lr * b

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        Parameters or parameter groups (see :class:`Optimizer`).
    lr : float
        Learning rate, >= 0.
    alpha : float
        Smoothing constant of the averages, >= 0.
    eps : float
        Added to the root for stability, >= 0.
    weight_decay : float
        L2 penalty lambda added to the gradient, >= 0.
    momentum : float
        Momentum factor mu, >= 0.
    centered : bool
        Divide by an estimate of the gradient's variance instead of its second moment.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    required_state = ("step", "square_avg")
    optional_state = ("momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, maximize=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def check_group(self, group):
        _check_common("RMSprop", group)
        check_number("RMSprop", "alpha", group["alpha"], low=0.0)
        check_number("RMSprop", "momentum", group["momentum"], low=0.0)

    def init_state(self, state, param, group):
        xp = xp_of(param)
        state["step"] = 0
        state["square_avg"] = xp.zeros_like(param)
        if group["momentum"] > 0:
            state["momentum_buffer"] = xp.zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = xp.zeros_like(param)

    def update(self, param, grad, state, group):
        xp = xp_of(param)
        alpha, momentum = group["alpha"], group["momentum"]
        state["step"] += 1
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * (grad * grad)
        if group["centered"]:
            grad_avg = _buffer(state, "grad_avg", param)
            grad_avg *= alpha
            grad_avg += (1 - alpha) * grad
            avg = xp.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            avg = xp.sqrt(square_avg) + group["eps"]
        if momentum > 0:
            buf = _buffer(state, "momentum_buffer", param)
            buf *= momentum
            buf += grad / avg
            param -= group["lr"] * buf
        else:
            param -= group["lr"] * (grad / avg)


class Adam(Optimizer):
    """Adam: momentum on the gradient, steps scaled by a running root-mean-square, both
    bias-corrected for their start at zero.

    Each step t, for every parameter with a gradient::

        g <- -g if maximize
        g <- g + lambda * p            (L2 penalty; AdamW decays p instead, see there)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        v_max <- max(v_max, v)         (amsgrad only; v_max then replaces v below)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        Parameters or parameter groups (see :class:`Optimizer`).
    lr : float
        Learning rate, >= 0.
    betas : tuple of float
        ``(beta1, beta2)``, the decay rates of m and v, each in [0, 1).
    eps : float
        Added to the root for stability, >= 0.
    weight_decay : float
        Weight decay lambda, >= 0: an L2 penalty added to the gradient, or, with
        ``decoupled_weight_decay=True``, a shrinking of p itself (AdamW).
    amsgrad : bool
        Use the running maximum of v (AMSGrad), so the step size never grows.
    maximize : bool
        Ascend the objective instead of descending it.
    decoupled_weight_decay : bool
        Decay the parameter directly, ``p <- p * (1 - lr * lambda)``, before the moment updates.
    foreach : bool or None
        None (the default) updates each float parameter with one fused kernel pass
        (``minigrad.kernels``) and any other with the NumPy rule; False uses the NumPy rule,
        an array expression at a time, for all; True demands the kernel (see ``optim.foreach``).
        Both paths give the same bits on the CPU.
    fused : bool or None
        True is the same as ``foreach=True`` here (one kernel does the whole rule); it cannot
        be set together with ``foreach=True``.
    """

    required_state = ("step", "exp_avg", "exp_avg_sq")
    optional_state = ("max_exp_avg_sq",)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, maximize=False, decoupled_weight_decay=False, foreach=None,
                 fused=None):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay, foreach=foreach,
                        fused=fused)
        super().__init__(params, defaults)

    def check_group(self, group):
        owner = type(self).__name__
        _check_common(owner, group)
        _check_betas(owner, group)
        check_switches(owner, group)

    def init_state(self, state, param, group):
        xp = xp_of(param)
        state["step"] = 0
        state["exp_avg"] = xp.zeros_like(param)
        state["exp_avg_sq"] = xp.zeros_like(param)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = xp.zeros_like(param)

    def check_gradients(self):
        super().check_gradients()
        check_step(type(self).__name__, self.param_groups)

    def update(self, param, grad, state, group):
        kernels = fused_kernels(group, param, grad)
        if kernels is not None:
            self.fused_update(kernels, param, grad, state, group)
            return
        xp = xp_of(param)
        lr, weight_decay = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        state["step"] += 1
        t = state["step"]
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * param
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * (grad * grad)
        # Both moments start at 0, so early on they underestimate by the factor 1 - beta^t.
        step_size = lr / (1 - beta1 ** t)
        root_correction = (1 - beta2 ** t) ** 0.5
        if group["amsgrad"]:
            max_exp_avg_sq = _buffer(state, "max_exp_avg_sq", param)
            xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            denom = xp.sqrt(max_exp_avg_sq) / root_correction + group["eps"]
        else:
            denom = xp.sqrt(exp_avg_sq) / root_correction + group["eps"]
        param -= step_size * (exp_avg / denom)

    def fused_update(self, kernels, param, grad, state, group):
        """The same step in one pass of ``kernels.adam_update_`` over param, grad and buffers;
        the bias corrections of step t are computed once, on the host."""
        state["step"] += 1
        max_exp_avg_sq = _buffer(state, "max_exp_avg_sq", param) if group["amsgrad"] else None
        kernels.adam_update_(param, grad, state["exp_avg"], state["exp_avg_sq"], max_exp_avg_sq,
                             group["lr"], group["betas"][0], group["betas"][1], group["eps"],
                             group["weight_decay"], state["step"], group["amsgrad"],
                             group["maximize"], group["decoupled_weight_decay"])


class AdamW(Adam):
    """AdamW: Adam with weight decay decoupled from the gradient.

    The L2 penalty of :class:`Adam` is divided by the root-mean-square like the rest of the
    gradient, so weights with large gradients are barely regularised. AdamW shrinks the
    parameter directly instead, before the Adam step::

        p <- p * (1 - lr * lambda)
        m, v, p updated as in Adam with the raw gradient g

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        Parameters or parameter groups (see :class:`Optimizer`).
    lr : float
        Learning rate, >= 0.
    betas : tuple of float
        ``(beta1, beta2)``, each in [0, 1).
    eps : float
        Added to the root for stability, >= 0.
    weight_decay : float
        Decoupled weight decay lambda, >= 0 (default 1e-2, as PyTorch).
    amsgrad : bool
        Use the running maximum of v (AMSGrad).
    maximize : bool
        Ascend the objective instead of descending it.
    foreach, fused : bool or None
        The fused kernel or the NumPy rule, as in :class:`Adam`.
    """

    fixed_options = {"decoupled_weight_decay": True}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, maximize=False, foreach=None, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True,
                         foreach=foreach, fused=fused)
