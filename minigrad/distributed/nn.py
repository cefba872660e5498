"""Collectives inside the autograd graph (PyTorch's ``torch.distributed.nn``).

``all_reduce_sum(x)`` returns the sum of every rank's ``x`` and is differentiable: if each rank
r computes a loss L_r from the shared sum s = Σ_q x_q, the total loss Σ_r L_r depends on
rank q's x_q through every rank's L_r, so

    ∂(Σ_r L_r)/∂x_q = Σ_r ∂L_r/∂s

— the backward of a sum over ranks is again a sum over ranks. SyncBatchNorm uses it for the
batch statistics; DistributedDataParallel then averages the parameters' gradients.
"""
from ..autograd import Function
from .process_group import ReduceOp, group_backend


class AllReduceSum(Function):
    """y = Σ over ranks of x; the backward all-reduces the gradient the same way."""

    @staticmethod
    def forward(ctx, x):
        y = x.copy()
        group_backend().all_reduce(y, ReduceOp.SUM).wait()
        return y

    @staticmethod
    def backward(ctx, grad_output):
        return AllReduceSum.apply(grad_output)


def all_reduce_sum(x):
    """The sum of ``x`` (Tensor, same shape on every rank) over all ranks, differentiable."""
    return AllReduceSum.apply(x)
