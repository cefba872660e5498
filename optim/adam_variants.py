"""Three variations on Adam: Adamax, NAdam and RAdam.

Each keeps Adam's first moment m of the gradient and changes one thing about the step: Adamax
divides by a running infinity norm instead of a root-mean-square, NAdam looks one momentum step
ahead (Nesterov), and RAdam switches the adaptive scaling on only once the variance estimate is
trustworthy. The rules are PyTorch's (``torch.optim``), so the same data give the same
trajectory.

Notation
--------
p, g        the parameter and its gradient arrays; all products and roots are entrywise
t           the step count of the parameter, 1 on its first update
lr          the learning rate; lambda the weight decay; eps the term that keeps a divisor off 0
m, v        the first and second moment estimates (running averages of g and g^2)
u           Adamax's running infinity norm of g
mu_t, P     NAdam's momentum coefficient at step t and the product mu_1 * ... * mu_t
rho_t       RAdam's length of the approximated simple moving average at step t
"""
from minigrad.backend import xp_of

from minigrad.checks import check_number
from .adaptive import _check_betas, _check_common
from .optimizer import Optimizer


def _decay(param, grad, group):
    """The weight decay shared by NAdam and RAdam; returns the gradient to use.

    With ``decoupled_weight_decay`` the parameter itself shrinks, ``p <- p * (1 - lr *
    lambda)`` (as AdamW); otherwise the L2 penalty is added to the gradient, ``g + lambda * p``.
    """
    weight_decay = group["weight_decay"]
    if weight_decay == 0:
        return grad
    if group["decoupled_weight_decay"]:
        param *= 1 - group["lr"] * weight_decay
        return grad
    return grad + weight_decay * param


class Adamax(Optimizer):
    """Adamax: Adam with the root-mean-square replaced by a running infinity norm.

    Each step t, for every parameter with a gradient::

        g <- -g if maximize;  g <- g + lambda * p
        m <- beta1 * m + (1 - beta1) * g
        u <- max(beta2 * u, |g| + eps)
        p <- p - lr / (1 - beta1^t) * m / u

    The norm u needs no bias correction: a maximum is not pulled towards its zero start.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        Parameters or parameter groups (see :class:`Optimizer`).
    lr : float
        Learning rate, >= 0 (default 2e-3, as PyTorch).
    betas : tuple of float
        ``(beta1, beta2)``, the decay rates of m and u, each in [0, 1).
    eps : float
        Added to |g| so that u is never 0, >= 0.
    weight_decay : float
        L2 penalty lambda added to the gradient, >= 0.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    required_state = ("step", "exp_avg", "exp_inf")
    optional_state = ()

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 maximize=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults)

    def check_group(self, group):
        _check_common("Adamax", group)
        _check_betas("Adamax", group)

    def init_state(self, state, param, group):
        xp = xp_of(param)
        state["step"] = 0
        state["exp_avg"] = xp.zeros_like(param)
        state["exp_inf"] = xp.zeros_like(param)

    def update(self, param, grad, state, group):
        xp = xp_of(param)
        beta1, beta2 = group["betas"]
        state["step"] += 1
        t = state["step"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_inf *= beta2
        xp.maximum(exp_inf, xp.abs(grad) + group["eps"], out=exp_inf)
        param -= group["lr"] / (1 - beta1 ** t) * (exp_avg / exp_inf)


class NAdam(Optimizer):
    """NAdam: Adam with Nesterov momentum, whose coefficient warms up over the first steps.

    Each step t, for every parameter with a gradient::

        g <- -g if maximize
        g <- g + lambda * p        or, decoupled:   p <- p * (1 - lr * lambda)
        mu_t = beta1 * (1 - 0.5 * 0.96^(t * psi))
        mu_next = beta1 * (1 - 0.5 * 0.96^((t + 1) * psi))
        P <- P * mu_t                                  (P starts at 1)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        d = sqrt(v / (1 - beta2^t)) + eps
        p <- p - lr * (1 - mu_t) / (1 - P) * g / d
        p <- p - lr * mu_next / (1 - P * mu_next) * m / d

    The last two lines are the Nesterov look-ahead: the current gradient, weighted by the part
    of it that momentum has not yet absorbed, plus the momentum as it will be one step later.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        Parameters or parameter groups (see :class:`Optimizer`).
    lr : float
        Learning rate, >= 0 (default 2e-3, as PyTorch).
    betas : tuple of float
        ``(beta1, beta2)``, the decay rates of m and v, each in [0, 1).
    eps : float
        Added to the root for stability, >= 0.
    weight_decay : float
        Weight decay lambda, >= 0: an L2 penalty on the gradient, or decoupled (see below).
    momentum_decay : float
        psi, how fast mu_t warms up towards beta1, >= 0.
    decoupled_weight_decay : bool
        Shrink the parameter directly, as AdamW does, instead of adding to the gradient.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    required_state = ("step", "exp_avg", "exp_avg_sq", "mu_product")
    optional_state = ()
    state_layout = {"mu_product": "number"}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def check_group(self, group):
        _check_common("NAdam", group)
        _check_betas("NAdam", group)
        check_number("NAdam", "momentum_decay", group["momentum_decay"], low=0.0)

    def init_state(self, state, param, group):
        xp = xp_of(param)
        state["step"] = 0
        state["exp_avg"] = xp.zeros_like(param)
        state["exp_avg_sq"] = xp.zeros_like(param)
        state["mu_product"] = 1.0

    def update(self, param, grad, state, group):
        xp = xp_of(param)
        lr, psi = group["lr"], group["momentum_decay"]
        beta1, beta2 = group["betas"]
        state["step"] += 1
        t = state["step"]
        if group["maximize"]:
            grad = -grad
        grad = _decay(param, grad, group)
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * (grad * grad)
        denom = xp.sqrt(exp_avg_sq / (1 - beta2 ** t)) + group["eps"]
        param -= lr * (1 - mu) / (1 - mu_product) * (grad / denom)
        param -= lr * mu_next / (1 - mu_product * mu_next) * (exp_avg / denom)


class RAdam(Optimizer):
    """RAdam: Adam whose adaptive step is rectified by the variance of its own estimate.

    In the first steps v averages only a few squared gradients, so 1 / sqrt(v) varies wildly.
    RAdam measures how many gradients v effectively holds (rho_t) and takes plain momentum
    steps until that is more than 5, then Adam steps scaled by a rectifier r_t that rises
    towards 1. Each step t, for every parameter with a gradient::

        g <- -g if maximize
        g <- g + lambda * p        or, decoupled:   p <- p * (1 - lr * lambda)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        m_hat = m / (1 - beta1^t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2^t / (1 - beta2^t)
        if rho_t > 5:
            r_t = sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))
            p <- p - lr * m_hat * r_t * sqrt(1 - beta2^t) / (sqrt(v) + eps)
        else:
            p <- p - lr * m_hat

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
        Weight decay lambda, >= 0: an L2 penalty on the gradient, or decoupled (see below).
    decoupled_weight_decay : bool
        Shrink the parameter directly, as AdamW does, instead of adding to the gradient.
    maximize : bool
        Ascend the objective instead of descending it.
    """

    required_state = ("step", "exp_avg", "exp_avg_sq")
    optional_state = ()

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, maximize=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def check_group(self, group):
        _check_common("RAdam", group)
        _check_betas("RAdam", group)

    def init_state(self, state, param, group):
        xp = xp_of(param)
        state["step"] = 0
        state["exp_avg"] = xp.zeros_like(param)
        state["exp_avg_sq"] = xp.zeros_like(param)

    def update(self, param, grad, state, group):
        xp = xp_of(param)
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        state["step"] += 1
        t = state["step"]
        if group["maximize"]:
            grad = -grad
        grad = _decay(param, grad, group)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * (grad * grad)
        m_hat = exp_avg / (1 - beta1 ** t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
        if rho_t > 5:
            r_t = ((rho_t - 4) * (rho_t - 2) * rho_inf
                   / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = (1 - beta2 ** t) ** 0.5 / (xp.sqrt(exp_avg_sq) + group["eps"])
            param -= lr * m_hat * r_t * adaptive
        else:
            # Too few gradients in v for its root to be trusted: a plain momentum step.
            param -= lr * m_hat
