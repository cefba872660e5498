"""The inputs of the fused softmax family (op_specs_softmax.py, ops/test_softmax_fused.py).

Each gives ``(arrays, params)`` as the op strategies do. Logits are shifted by a drawn offset
(0 or ±1e4), since the fused kernels must stay finite where exp(x) alone would overflow; the
cross-entropy draws every option of PyTorch's (class weights, ``ignore_index`` that any number
of targets take, all of them included, ``label_smoothing`` and the reduction), one class
included, and dense predictions (N, C, d1, ...).

Notation
--------
arrays   a tuple of float64 arrays, the differentiable inputs
params   a dict of keyword arguments
N, C     batch and classes;  d1, d2 the extra axes of a dense prediction
"""
import numpy as np
from hypothesis import strategies as st

from .losses import REDUCTIONS
from .values import shapes, values

OFFSETS = st.sampled_from([0.0, 0.0, 1e4, -1e4])


@st.composite
def logits(draw, shape):
    """Values in [-3, 3] plus one drawn offset (0 or ±1e4) for the whole array."""
    return draw(values(shape)) + draw(OFFSETS)


@st.composite
def softmax_inputs(draw):
    """x of 1 to 4 dims (sides 1 to 4) and the ``dim`` to normalise, negative ones included."""
    shape = draw(shapes(min_dims=1, max_dims=4, max_side=4))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return (draw(logits(shape)),), {"dim": dim}


@st.composite
def class_targets(draw, target_shape, C):
    """Integer targets in [0, C) and the ``ignore_index`` (-100, 0 or C - 1, or none given)
    that a drawn subset of them takes: none, some or all."""
    target = draw(st.lists(st.integers(0, C - 1), min_size=int(np.prod(target_shape)),
                           max_size=int(np.prod(target_shape))))
    target = np.array(target, dtype=np.int64).reshape(target_shape)
    params = {}
    if draw(st.booleans()):
        ignored = draw(st.sampled_from([-100, 0, C - 1]))
        share = draw(st.sampled_from(["none", "some", "all"]))
        hits = (np.zeros(target.shape, bool) if share == "none" else
                np.ones(target.shape, bool) if share == "all" else
                np.array(draw(st.lists(st.booleans(), min_size=target.size,
                                       max_size=target.size)), bool).reshape(target.shape))
        target[hits] = ignored
        params["ignore_index"] = ignored
    return target, params


@st.composite
def cross_entropy_inputs(draw, dense=True):
    """Logits (N, C) or, with ``dense``, (N, C, d1, ...), C from 1, with integer targets and
    every option drawn: weight, ignore_index, label_smoothing, reduction."""
    N, C = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    extra = tuple(draw(st.sampled_from([(), (2,), (2, 3)]))) if dense else ()
    target, params = draw(class_targets((N,) + extra, C))
    params["reduction"] = draw(REDUCTIONS)
    if draw(st.booleans()):
        params["weight"] = draw(values((C,), low=0.5, high=2.0, salt=1))
    if draw(st.booleans()):
        params["label_smoothing"] = draw(st.sampled_from([0.1, 0.5, 1.0]))
    return (draw(logits((N, C) + extra)),), {"target": target, **params}
