"""Loss primitives that need a backward of their own for numerical reasons.

Most losses are composites in ``functional.py``. Binary cross-entropy on probabilities is a
primitive: clamping ``log(p)`` at -100 (PyTorch's convention) inside a composite would send a
0/0 through the log's backward at p = 0 or 1, so the gradient is written directly instead.

Notation
--------
p       predicted probabilities in [0, 1]
t       targets in [0, 1]
"""
import math

from ..autograd import Function
from ..backend import xp_of
from . import elementwise as E

_LOG_FLOOR = -100.0  # log(p) is clamped here, so p = 0 gives a loss of 100, not inf
_FLOOR = math.exp(_LOG_FLOOR)
_EPS = 1e-12         # the gradient's denominator p(1-p) is kept at least this large


class BinaryCrossEntropy(Function):
    """out = -(t·max(log p, -100) + (1-t)·max(log(1-p), -100));
    dL/dp = g·(p - t) / max(p(1-p), 1e-12),  dL/dt = g·(max(log(1-p), -100) - max(log p, -100))."""

    @staticmethod
    def forward(ctx, p, t):
        xp = xp_of(p)
        ctx.save_for_backward(p, t)
        # log(max(p, e^-100)) = max(log p, -100), without ever evaluating log(0)
        log_p = xp.log(xp.maximum(p, _FLOOR))
        log_q = xp.log(xp.maximum(1 - p, _FLOOR))
        return -(t * log_p + (1 - t) * log_q)

    @staticmethod
    def backward(ctx, grad_output):
        p, t = ctx.saved_tensors
        need_p, need_t = ctx.needs_input_grad
        grad_p = grad_output * (p - t) / E.clip(p * (1 - p), _EPS) if need_p else None
        grad_t = None
        if need_t:
            log_p = E.clip(E.log(E.clip(p, _EPS)), _LOG_FLOOR)
            log_q = E.clip(E.log(E.clip(1 - p, _EPS)), _LOG_FLOOR)
            grad_t = grad_output * (log_q - log_p)
        return (grad_p, grad_t)


binary_cross_entropy = BinaryCrossEntropy.apply
