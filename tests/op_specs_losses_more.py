"""Op specs of the losses in ``minigrad/losses_more.py``: soft margin, multi-label soft margin,
Poisson negative log-likelihood (``log_input``, ``full`` and ``eps`` drawn) and multi-label
margin (labels, padding and repeated labels drawn), each with every reduction.

The references are vectorised NumPy; tests/test_losses_more.py checks the same losses against
per-entry loops as well. The hinge's second derivative is 0 away from its kink, which the
strategy keeps every pair away from."""
import math

import numpy as np

import minigrad.functional as F
from op_specs import spec
from strategies.losses_more import (multilabel_margin_inputs, multilabel_soft_margin_inputs,
                                    poisson_nll_inputs, soft_margin_inputs)


def reduce(loss, reduction):
    return {"none": loss, "mean": np.mean(loss), "sum": np.sum(loss)}[reduction]


def softplus(z):
    return np.logaddexp(0.0, z)


def soft_margin(x, target, reduction):
    return reduce(softplus(-target * x), reduction)


def multilabel_soft_margin(x, target, weight=None, reduction="mean"):
    loss = target * softplus(-x) + (1 - target) * softplus(x)
    loss = loss if weight is None else loss * weight
    return reduce(loss.mean(-1), reduction)


def poisson_nll(x, target, log_input, full, eps, reduction):
    loss = np.exp(x) - target * x if log_input else x - target * np.log(x + eps)
    if full:
        big = np.where(target > 1, target, 2.0)
        stirling = big * np.log(big) - big + 0.5 * np.log(2 * math.pi * big)
        loss = loss + np.where(target > 1, stirling, 0.0)
    return reduce(loss, reduction)


def multilabel_margin(x, target, reduction):
    x2, t2 = x.reshape(-1, x.shape[-1]), target.reshape(-1, x.shape[-1])
    C = x2.shape[1]
    labelled = np.cumprod(t2 >= 0, axis=1) == 1
    labels = np.where(labelled, t2, 0)
    is_label = np.zeros(x2.shape, dtype=bool)
    for n, j in zip(*np.nonzero(labelled)):
        is_label[n, t2[n, j]] = True
    label_scores = np.take_along_axis(x2, labels, axis=1)
    hinge = np.maximum(0.0, 1 - label_scores[:, :, None] + x2[:, None, :])
    loss = (hinge * (labelled[:, :, None] & ~is_label[:, None, :])).sum((1, 2)) / C
    return reduce(loss.reshape(x.shape[:-1]), reduction)


spec("soft_margin_loss", F.soft_margin_loss, soft_margin_inputs(), soft_margin)
spec("multilabel_soft_margin_loss", F.multilabel_soft_margin_loss,
     multilabel_soft_margin_inputs(), multilabel_soft_margin)
spec("poisson_nll_loss", F.poisson_nll_loss, poisson_nll_inputs(), poisson_nll)
spec("multilabel_margin_loss", F.multilabel_margin_loss, multilabel_margin_inputs(),
     multilabel_margin, note="scores on a grid that keeps every hinge 0.1 from its kink")
