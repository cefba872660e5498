"""The activations that follow PyTorch's list (relu6, hardtanh, hardsigmoid, hardswish, mish,
celu, softsign, softmin, tanhshrink, softshrink, hardshrink, threshold, glu, prelu) and
F.normalize in the op registry, each against the NumPy reference below, with gradcheck and
gradgradcheck on inputs kept off its kinks (strategies/activations.py).

The references are written from the formulas, not from minigrad's composites (clip for the
hard ones, expm1 for celu, logaddexp for softplus, the p-norm from its definition), and
test_activations_more.py checks them at the kinks and at ±1e4.
"""
import math

import numpy as np

import minigrad.functional as F
import references as R
from op_specs import spec
from strategies.activations import (HARD_KINKS, celu_inputs, glu_inputs, hardtanh_inputs,
                                    normalize_inputs, prelu_inputs, shrink_inputs,
                                    threshold_inputs, wide_inputs)
from strategies.softmax import softmax_inputs


def sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))  # 1 / (1 + exp(-x)) without overflow


def hardtanh(x, min_val=-1.0, max_val=1.0):
    return np.clip(x, min_val, max_val)


def relu6(x):
    return np.clip(x, 0.0, 6.0)


def hardsigmoid(x):
    return np.clip(x + 3, 0.0, 6.0) / 6


def hardswish(x):
    return x * np.clip(x + 3, 0.0, 6.0) / 6


def mish(x):
    return x * np.tanh(np.logaddexp(0.0, x))


def celu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0) / alpha))


def softsign(x):
    return x / (1 + np.abs(x))


def softmin(x, dim):
    return np.exp(R.log_softmax(-x, dim))


def tanhshrink(x):
    return x - np.tanh(x)


def softshrink(x, lambd=0.5):
    return np.sign(x) * np.maximum(np.abs(x) - lambd, 0.0)


def hardshrink(x, lambd=0.5):
    return np.where(np.abs(x) > lambd, x, 0.0)


def threshold(x, threshold, value):
    return np.where(x > threshold, x, value)


def glu(x, dim=-1):
    a, b = np.split(x, 2, axis=dim)
    return a * sigmoid(b)


def prelu(x, weight):
    """The slopes along dim 1 (one for all when weight has one entry; 1-D x is one channel)."""
    slope = weight.reshape(()) if weight.size == 1 else weight.reshape(
        (-1,) + (1,) * (x.ndim - 2))
    return np.where(x > 0, x, slope * x)


def p_norm(x, p, dim):
    """‖x‖_p along ``dim`` (kept): the count of nonzeros for p = 0, max or min |x| for ±inf,
    (Σ|x|^p)^(1/p) otherwise, which is 0 for p < 0 when an entry is 0."""
    a = np.abs(x)
    if p == 0:
        return (a != 0).sum(dim, keepdims=True).astype(x.dtype)
    if p == math.inf:
        return a.max(dim, keepdims=True)
    if p == -math.inf:
        return a.min(dim, keepdims=True)
    if p < 0:
        has_zero = (a == 0).any(dim, keepdims=True)
        safe = np.where(a == 0, 1.0, a)
        return np.where(has_zero, 0.0, (safe ** p).sum(dim, keepdims=True) ** (1 / p))
    return (a ** p).sum(dim, keepdims=True) ** (1 / p)


def normalize(x, p=2.0, dim=1, eps=1e-12):
    return x / np.maximum(p_norm(x, p, dim), eps)


spec("relu6", F.relu6, wide_inputs(avoid=(0.0, 6.0)), relu6)
spec("hardtanh", F.hardtanh, hardtanh_inputs(), hardtanh)
spec("hardsigmoid", F.hardsigmoid, wide_inputs(avoid=(-3.0, 3.0)), hardsigmoid)
spec("hardswish", F.hardswish, wide_inputs(avoid=HARD_KINKS), hardswish)
spec("mish", F.mish, wide_inputs(), mish)
spec("celu", F.celu, celu_inputs(), celu)
spec("softsign", F.softsign, wide_inputs(avoid=(0.0,)), softsign,
     note="off 0, where the second derivative jumps")
spec("softmin", F.softmin, softmax_inputs(), softmin)
spec("tanhshrink", F.tanhshrink, wide_inputs(), tanhshrink)
spec("softshrink", F.softshrink, shrink_inputs(), softshrink)
spec("hardshrink", F.hardshrink, shrink_inputs(negative=True), hardshrink)
spec("threshold", F.threshold, threshold_inputs(), threshold)
spec("glu", F.glu, glu_inputs(), glu)
spec("prelu", F.prelu, prelu_inputs(), prelu)
spec("normalize", F.normalize, normalize_inputs(), normalize)
