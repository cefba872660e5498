"""Op specs of the fused softmax family (``minigrad/ops/softmax.py``, ``ops/linear.py``):
softmax and log-softmax along any dim with logits shifted by ±1e4, cross-entropy on dense
predictions with every option drawn (one class included), and linear on inputs of 1 to 3 dims.

The gradgradcheck of the cross-entropy runs through ``CrossEntropyBackward.backward``; a third
order would run through ``Softmax.backward``, written in ops."""
import numpy as np

import minigrad.functional as F
import references as R
from op_specs import spec
from strategies.softmax import cross_entropy_inputs, softmax_inputs
from strategies.ops import linear_inputs


def log_softmax(x, dim):
    return R.log_softmax(x, dim)


def cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """The 2-D reference on (N·d1·..., C) rows; a mean over no kept entry is 0 (minigrad's
    rule, where PyTorch returns nan)."""
    C = x.shape[1]
    rows = np.moveaxis(x, 1, -1).reshape(-1, C)
    flat = target.reshape(-1)
    w = np.ones(C) if weight is None else weight
    kept = flat != ignore_index
    if reduction == "mean" and not (w[np.where(kept, flat, 0)] * kept).sum():
        return np.float64(0.0)
    loss = R.cross_entropy(rows, flat, weight, ignore_index, reduction, label_smoothing)
    return loss.reshape(target.shape) if reduction == "none" else loss


def linear_1d(x, w, b=None):
    """One sample, x of shape (K,): the reference of a 1-D input."""
    return x @ w.T + (0 if b is None else b)


spec("softmax_fused", F.softmax, softmax_inputs(),
     lambda x, dim: np.exp(log_softmax(x, dim)))
spec("log_softmax_fused", F.log_softmax, softmax_inputs(), log_softmax)
spec("cross_entropy_fused", F.cross_entropy, cross_entropy_inputs(), cross_entropy,
     note="dense predictions, every option; second order through CrossEntropyBackward")
spec("linear_fused", F.linear, linear_inputs(), linear_1d)
spec("linear_1d", lambda x, w, *b: F.linear(x[0, ...] if x.ndim == 2 else x, w, *b),
     linear_inputs(), lambda x, w, *b: linear_1d(x[0, ...] if x.ndim == 2 else x, w, *b))
