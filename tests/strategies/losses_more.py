"""The inputs of the losses in ``minigrad/losses_more.py`` for the registry
(op_specs_losses_more.py) and their own tests: soft margin, multi-label soft margin, Poisson
negative log-likelihood and multi-label margin.

Each gives ``(arrays, params)`` as the op strategies do: the scores are the one differentiated
array, and the target, the reduction and the loss's options are params. The multi-label hinge
keeps every score difference at least 0.1 from its kink.

Notation
--------
arrays   a one-tuple: the float64 scores (logits, log-rates or rates)
params   a dict of the keyword arguments: target, reduction and the loss's options
N, C     batch and classes
"""
import numpy as np
from hypothesis import strategies as st

from .losses import REDUCTIONS
from .values import shapes, values


@st.composite
def signs(draw, shape, salt=0):
    """An array of ``shape`` holding 1 and −1 (the targets of the margin losses)."""
    return np.where(draw(values(shape, salt=salt)) > 0, 1.0, -1.0)


@st.composite
def soft_margin_inputs(draw):
    """Scores of any shape, scalars included, and targets ±1."""
    shape = draw(shapes(min_dims=0, max_dims=3))
    return (draw(values(shape, low=-4.0, high=4.0)),), {"target": draw(signs(shape, salt=1)),
                                                         "reduction": draw(REDUCTIONS)}


@st.composite
def multilabel_soft_margin_inputs(draw):
    """Logits (C,), (N, C) or (N, d, C); targets in [0, 1], many exactly 0 or 1; an optional
    ``weight`` of shape (C,) or of input's shape."""
    shape = draw(shapes(min_dims=1, max_dims=3))
    t = draw(values(shape, low=0.0, high=1.0, salt=1))
    t = np.where(t < 0.3, 0.0, np.where(t > 0.7, 1.0, t))
    params = {"target": t, "reduction": draw(REDUCTIONS)}
    weight_shape = draw(st.sampled_from([None, shape[-1:], shape]))
    if weight_shape is not None:
        params["weight"] = draw(values(weight_shape, low=0.5, high=2.0, salt=2))
    return (draw(values(shape, low=-4.0, high=4.0)),), params


@st.composite
def poisson_nll_inputs(draw):
    """Log-rates in [−3, 3] (or rates in [0.2, 3] with ``log_input=False``), counts 0 to 6
    with some fractional ones (never within 0.05 of 1, where the ``full`` term starts), and
    ``full``, ``eps`` and the reduction drawn."""
    shape = draw(shapes(min_dims=0, max_dims=3))
    log_input = draw(st.booleans())
    x = draw(values(shape, low=-3.0, high=3.0) if log_input else values(shape, low=0.2,
                                                                       high=3.0))
    counts = np.floor(draw(values(shape, low=0.0, high=6.99, salt=1)))
    fractions = draw(values(shape, low=0.0, high=5.0, avoid=(1.0,), margin=0.05, salt=2))
    target = np.where(draw(values(shape, salt=3)) > 1.5, fractions, counts)
    return (x,), {"target": target, "log_input": log_input, "full": draw(st.booleans()),
                  "eps": draw(st.sampled_from([1e-8, 1e-3, 0.5])),
                  "reduction": draw(REDUCTIONS)}


@st.composite
def label_rows(draw, N, C):
    """Targets (N, C) for the multi-label hinge: each row some labels (a repeat now and
    then), −1, then padding of any value in [−1, C); rows full of labels or starting with −1
    included."""
    rows = []
    for _ in range(N):
        k = draw(st.integers(0, C))
        labels = draw(st.lists(st.integers(0, C - 1), min_size=k, max_size=k))
        padding = draw(st.lists(st.integers(-1, C - 1), min_size=max(C - k - 1, 0),
                                max_size=max(C - k - 1, 0)))
        rows.append(labels + ([-1] + padding if k < C else []))
    return np.array(rows, dtype=np.int64).reshape(N, C)


@st.composite
def multilabel_margin_inputs(draw):
    """Scores (N, C) or (C,) and their label rows. Each score is 0.4·m plus at most 0.05, so
    every difference is 0.4·m within 0.1, at least 0.1 from ±1: no hinge 1 − x_j + x_i sits
    at its kink."""
    N, C = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    steps = np.array(draw(st.lists(st.integers(-5, 5), min_size=N * C, max_size=N * C)))
    x = 0.4 * steps.reshape(N, C) + draw(values((N, C), low=-0.05, high=0.05))
    target = draw(label_rows(N, C))
    if N == 1 and draw(st.booleans()):
        x, target = x[0], target[0]
    return (x,), {"target": target, "reduction": draw(REDUCTIONS)}
