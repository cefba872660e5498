"""The inputs of the piecewise and gated activations and of F.normalize (op_specs_activations.py,
test_activations_more.py).

Each gives ``(arrays, params)`` as the op strategies do. The options are drawn first, so the
values can keep away from the kinks they set (±lambd of the shrinks, hardtanh's bounds, the
threshold): central differences with a tiny step must never straddle one. Values reach past
every kink, on both sides.

Notation
--------
arrays   a tuple of float64 arrays, the differentiable inputs
params   a dict of keyword arguments
C        channels (dim 1), one PReLU slope each
"""
import math

import numpy as np
from hypothesis import strategies as st

from .values import shapes, values

# where the hard activations bend: hardsigmoid and hardswish at ±3, relu6 at 0 and 6
HARD_KINKS = (-3.0, 0.0, 3.0, 6.0)


@st.composite
def wide_inputs(draw, avoid=(), low=-8.0, high=8.0):
    """One array of 0 to 4 dims with values in [low, high], away from the points ``avoid``."""
    shape = draw(shapes())
    return (draw(values(shape, low=low, high=high, avoid=avoid)),), {}


@st.composite
def hardtanh_inputs(draw):
    """x and drawn bounds min_val < max_val (PyTorch's defaults included), x off both."""
    params = draw(st.sampled_from([{}, {"min_val": -2.0, "max_val": 0.5},
                                   {"min_val": 0.25, "max_val": 2.5}]))
    bounds = (params.get("min_val", -1.0), params.get("max_val", 1.0))
    (x,), _ = draw(wide_inputs(avoid=bounds, low=-4.0, high=4.0))
    return (x,), params


@st.composite
def shrink_inputs(draw, negative=False):
    """x and ``lambd`` (default, 0, or drawn; below 0 too with ``negative``), x off ±lambd."""
    choices = [None, 0.0, 0.3, 1.5] + ([-0.5] if negative else [])
    lambd = draw(st.sampled_from(choices))
    params = {} if lambd is None else {"lambd": lambd}
    lambd = 0.5 if lambd is None else lambd
    (x,), _ = draw(wide_inputs(avoid=(-lambd, lambd), low=-4.0, high=4.0))
    return (x,), params


@st.composite
def threshold_inputs(draw):
    """x, ``threshold`` and ``value`` (the value may lie above the threshold), x off the
    threshold."""
    threshold = draw(st.sampled_from([-1.0, 0.0, 0.5]))
    value = draw(st.sampled_from([-7.0, 0.0, 2.0]))
    (x,), _ = draw(wide_inputs(avoid=(threshold,), low=-3.0, high=3.0))
    return (x,), {"threshold": threshold, "value": value}


@st.composite
def celu_inputs(draw):
    """x and ``alpha`` (default, or drawn, negative included), x off 0 (the second derivative
    jumps there)."""
    alpha = draw(st.sampled_from([None, 0.5, 2.0, -1.5]))
    (x,), _ = draw(wide_inputs(avoid=(0.0,), low=-4.0, high=4.0))
    return (x,), {} if alpha is None else {"alpha": alpha}


@st.composite
def glu_inputs(draw):
    """x of 1 to 4 dims with one axis of even length (2 to 6), and that ``dim``, negative too."""
    shape = list(draw(shapes(min_dims=1, max_dims=4, max_side=4)))
    d = draw(st.integers(0, len(shape) - 1))
    shape[d] = 2 * draw(st.integers(1, 3))
    dim = d - len(shape) if draw(st.booleans()) else d
    return (draw(values(tuple(shape))),), {"dim": dim}


@st.composite
def prelu_inputs(draw):
    """x (0 to 4 dims) and a weight of 1 entry (shape (1,) or ()) or of C = x.shape[1]
    entries, x off 0 (PReLU's kink); the slopes are any reals, negative and above 1 too."""
    shape = draw(shapes(min_dims=0, max_dims=4, max_side=4))
    x = draw(values(shape, avoid=(0.0,)))
    per_channel = len(shape) >= 2 and draw(st.booleans())
    w_shape = (shape[1],) if per_channel else draw(st.sampled_from([(1,), ()]))
    return (x, draw(values(w_shape, low=-1.0, high=2.0, salt=1))), {}


NORM_ORDERS = (2.0, 1.0, 3.0, 0.5, 1.5, 0.0, -1.0, math.inf, -math.inf)


@st.composite
def normalize_inputs(draw):
    """x of 1 to 3 dims (with ``dim`` drawn, negative too, or left at 1), ``p`` among
    NORM_ORDERS and ``eps`` (default, or 4.0: then rows below it are divided by it).

    Entries keep 0.1 away from 0 (|x| bends there) and, for p = ±inf, have distinct
    magnitudes, so the largest (smallest) one is unique in each row.
    """
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=4))
    params = {}
    if len(shape) < 2 or draw(st.booleans()):  # else dim is left at its default, 1
        params["dim"] = draw(st.integers(-len(shape), len(shape) - 1))
    params["p"] = draw(st.sampled_from(NORM_ORDERS))
    if draw(st.booleans()):
        params["eps"] = 4.0
    if math.isinf(params["p"]):
        magnitudes = draw(values(shape, low=0.1, high=3.0, distinct=True, margin=0.01))
        signs = np.where(draw(values(shape, salt=1)) > 0, 1.0, -1.0)
        return (magnitudes * signs,), params
    return (draw(values(shape, avoid=(0.0,))),), params
