"""The inputs of the losses and distances in the registry (op_specs.py).

Each gives ``(arrays, params)`` as the op strategies do, with the reduction, class weights and
the loss's own options drawn. Targets are params: they are compared with, not differentiated,
except where a spec says otherwise (``bce_inputs`` differentiates both). Hinges and absolute
values are kept at least a margin away from their kinks.

Notation
--------
arrays   a tuple of float64 arrays, the loss's differentiable inputs, in order
params   a dict of its keyword arguments: target, reduction, weight and the loss's options
N, C     batch and classes;  D feature size
"""
import numpy as np
from hypothesis import assume, strategies as st

from .values import probabilities, shapes, values


REDUCTIONS = st.sampled_from(["none", "mean", "sum"])


@st.composite
def class_target_inputs(draw, smoothing=False):
    """Logits (N, C) and integer targets, with a drawn reduction, an optional class ``weight``
    and an optional ``ignore_index`` that some targets (never the first) then take."""
    N, C = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    target = np.array(draw(st.lists(st.integers(0, C - 1), min_size=N, max_size=N)))
    params = {"reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        params["weight"] = draw(values((C,), low=0.5, high=2.0, salt=1))
    if draw(st.booleans()):
        ignored = draw(st.sampled_from([-100, int(target[0])]))
        target[0] = (ignored + 1) % C if ignored >= 0 else target[0]
        hits = np.array(draw(st.lists(st.booleans(), min_size=N, max_size=N)))
        target[1:][hits[1:]] = ignored
        params["ignore_index"] = ignored
    if smoothing:
        params["label_smoothing"] = draw(st.floats(0.0, 1.0, exclude_max=True))
    return (draw(values((N, C))),), {"target": target, **params}


@st.composite
def soft_target_inputs(draw):
    """Logits (N, C) and target probabilities over the C classes."""
    N, C = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    t = draw(values((N, C), low=0.0, high=1.0, salt=1))
    return (draw(values((N, C))),), {"target": t / t.sum(1, keepdims=True),
                                     "reduction": draw(REDUCTIONS),
                                     "label_smoothing": draw(st.floats(0.0, 1.0,
                                                                       exclude_max=True))}


@st.composite
def target_inputs(draw, low=-3.0, high=3.0, kink=False):
    """An input and a same-shape ``target`` param; with ``kink`` the two differ by at least 0.1
    everywhere (for |input - target|)."""
    shape = draw(shapes(min_dims=1))
    x = draw(values(shape, low=low, high=high))
    offset = draw(values(shape, avoid=(0,) if kink else (), salt=1))
    return (x,), {"target": x + offset if kink else offset, "reduction": draw(REDUCTIONS)}


@st.composite
def bce_inputs(draw, smallest=1e-4, differentiate_p=True):
    """Probabilities p (near 0 and 1 often), targets t in [0, 1] with some exactly 0 or 1, a
    drawn reduction and weight. Both are arrays when ``differentiate_p``, else only t is and
    p rides along as a param, so that p may come closer to 0 and 1 than a finite-difference
    step in p allows."""
    shape = draw(shapes(min_dims=1, max_dims=3))
    p = draw(probabilities(shape, smallest))
    t = draw(values(shape, low=0.0, high=1.0, salt=1))
    t = np.where(draw(values(shape, salt=2)) > 2, 1.0, np.where(t < 0.2, 0.0, t))
    params = {"reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        params["weight"] = draw(values(shape[-1:], low=0.5, high=2.0, salt=3))
    return ((p, t), params) if differentiate_p else ((t,), {"p": p, **params})


@st.composite
def logits_target_inputs(draw):
    """Logits, targets in [0, 1], a drawn reduction, weight and pos_weight (per class)."""
    shape = draw(shapes(min_dims=1, max_dims=3))
    params = {"target": draw(values(shape, low=0.0, high=1.0, salt=1)),
              "reduction": draw(REDUCTIONS)}
    for i, name in enumerate(("weight", "pos_weight")):
        if draw(st.booleans()):
            params[name] = draw(values(shape[-1:], low=0.5, high=2.0, salt=2 + i))
    return (draw(values(shape)),), params


@st.composite
def kl_div_inputs(draw):
    """Log-probabilities and a target given as probabilities (some exactly 0, where 0·log 0 is
    0) or, with ``log_target``, as log-probabilities."""
    shape = draw(shapes(min_dims=1))
    t = draw(values(shape, low=0.05, high=1.0, salt=1))
    log_target = draw(st.booleans())
    t = np.log(t) if log_target else np.where(t < 0.2, 0.0, t)
    return (draw(values(shape, low=-3, high=-0.1)),), {
        "target": t, "log_target": log_target,
        "reduction": draw(st.sampled_from(["none", "mean", "sum", "batchmean"]))}


@st.composite
def margin_inputs(draw):
    """Scores (N, C) and targets for multi_margin_loss, off the hinge by at least 0.05, with a
    drawn power ``p``, ``margin``, ``weight`` and reduction."""
    N, C = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    x = draw(values((N, C), distinct=True, margin=0.2))
    target = np.array(draw(st.lists(st.integers(0, C - 1), min_size=N, max_size=N)))
    margin = draw(st.sampled_from([0.5, 1.0]))
    assume(np.abs(margin - x[np.arange(N), target][:, None] + x).min() > 0.05)
    params = {"target": target, "p": draw(st.sampled_from([1, 2])), "margin": margin,
              "reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        params["weight"] = draw(values((C,), low=0.5, high=2.0, salt=1))
    return (x,), params


@st.composite
def vectors_inputs(draw, n=2, apart=False):
    """``n`` arrays (N, D); with ``apart`` each differs from the first by at least 0.1 in every
    entry, away from the kink of |a - b| at 0."""
    N, D = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    first = draw(values((N, D)))
    rest = [first + draw(values((N, D), avoid=(0,) if apart else (), salt=i))
            for i in range(1, n)]
    return (first, *rest), {}
