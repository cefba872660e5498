"""The inputs of the generative models' loss terms in the registry (op_specs_generative.py).

Notation
--------
arrays   a tuple of float64 arrays, the differentiable inputs, in order
params   a dict of keyword arguments (targets, mixing weights), not differentiated
N, D     batch and code size;  C, H, W an image's channels and sides
"""
import numpy as np
from hypothesis import strategies as st

from .values import values


@st.composite
def gaussian_inputs(draw):
    """mu and logvar of shape (N, D); logvar in [-3, 3] keeps exp(logvar) moderate."""
    N, D = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    return (draw(values((N, D))), draw(values((N, D), low=-3.0, high=3.0, salt=1))), {}


@st.composite
def bernoulli_inputs(draw):
    """Logits (N, C, H, W) and targets in [0, 1] of the same shape (a param)."""
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 4)),
             draw(st.integers(1, 4)))
    target = draw(values(shape, low=0.0, high=1.0, salt=2))
    return (draw(values(shape)),), {"target": target}


@st.composite
def penalty_inputs(draw):
    """The weight w (C, H, W) of a critic f(x) = sum tanh(w x), and real, fake, alpha."""
    N, C, H, W = (draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 3)),
                  draw(st.integers(1, 3)))
    weight = draw(values((C, H, W), low=-1.5, high=1.5))
    real = draw(values((N, C, H, W), salt=3))
    fake = draw(values((N, C, H, W), salt=4))
    alpha = draw(values((N, 1, 1, 1), low=0.0, high=1.0, salt=5))
    return (weight,), {"real": real, "fake": fake, "alpha": alpha}
