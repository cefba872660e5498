"""Loss primitives that need a backward of their own for numerical reasons.

Most losses are composites in ``losses.py``. Binary cross-entropy on probabilities is a
primitive: clamping ``log(p)`` at -100 (PyTorch's convention) inside a composite would send a
0/0 through the log's backward at p = 0 or 1, so the gradient is written directly instead.

Notation
--------
p       predicted probabilities in [0, 1]
t       targets in [0, 1]
"""
import numpy as np

from ..autograd import Function
from ..backend import xp_of
from .elementwise import log, where

_LOG_FLOOR = -100.0  # log(p) is clamped here, so p = 0 gives a loss of 100, not inf


def _clamped_log(xp, v):
    """max(log v, -100) without evaluating log(0): the tiniest positive number of v's dtype
    has a log below -100 in every float type, so flooring v there first changes nothing else."""
    return xp.maximum(xp.log(xp.maximum(v, np.finfo(v.dtype).smallest_subnormal)), _LOG_FLOOR)


class BinaryCrossEntropy(Function):
    """out = -(t·max(log p, -100) + (1-t)·max(log(1-p), -100));
    dL/dp = g·((1-t)/(1-p)·[log(1-p) > -100] - t/p·[log p > -100]),
    dL/dt = g·(max(log(1-p), -100) - max(log p, -100)).

    Both are the exact derivatives of the forward as written: where a log is clamped, it is
    constant in p, so its term adds nothing to dL/dp and exactly -100 to dL/dt.
    """

    @staticmethod
    def forward(ctx, p, t):
        xp = xp_of(p, t)
        ctx.save_for_backward(p, t)
        log_p, log_q = _clamped_log(xp, p), _clamped_log(xp, 1 - p)
        # raw masks of where each log is not clamped: only selected by, derivative zero
        ctx.p_free, ctx.q_free = log_p > _LOG_FLOOR, log_q > _LOG_FLOOR
        return -(t * log_p + (1 - t) * log_q)

    @staticmethod
    def backward(ctx, grad_output):
        p, t = ctx.saved_tensors
        need_p, need_t = ctx.needs_input_grad
        q = 1 - p
        # Where a log is clamped, its argument is replaced by 1 before dividing or taking the
        # log: where() discards that branch, but an inf formed in it would turn into nan one
        # derivative order up.
        p_safe = where(ctx.p_free, p, 1.0)
        q_safe = where(ctx.q_free, q, 1.0)
        grad_p = grad_t = None
        if need_p:
            grad_p = grad_output * (where(ctx.q_free, (1 - t) / q_safe, 0.0)
                                    - where(ctx.p_free, t / p_safe, 0.0))
        if need_t:
            log_p = where(ctx.p_free, log(p_safe), _LOG_FLOOR)
            log_q = where(ctx.q_free, log(q_safe), _LOG_FLOOR)
            grad_t = grad_output * (log_q - log_p)
        return (grad_p, grad_t)


binary_cross_entropy = BinaryCrossEntropy.apply
