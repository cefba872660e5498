"""Inputs of the similarity, t-SNE and style terms in the op registry
(op_specs_similarity_vis.py).

Notation
--------
arrays   a tuple of float64 arrays, the differentiated inputs
params   a dict of keyword arguments (labels, margins, affinities), not differentiated
B, D     batch size and embedding dimension
N        points of a t-SNE map; K, h, w a layer's channels and sides
"""
import itertools

import numpy as np
from hypothesis import assume, strategies as st

from .values import values

GAP = 0.02   # distances and hinge arguments kept this far from ties and kinks


def _distances(x):
    return np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))


def _clear_of_kinks(d, labels, margin):
    """No two distances of a row within GAP (a miner's pick cannot flip under a tiny step),
    and no triplet's hinge argument within GAP of 0."""
    B = len(labels)
    for a in range(B):
        row = np.sort(np.delete(d[a], a))
        if len(row) > 1 and np.min(np.diff(row)) < GAP:
            return False
    for a, p, n in itertools.product(range(B), repeat=3):
        if a != p and labels[a] == labels[p] and labels[n] != labels[a]:
            if abs(d[a, p] - d[a, n] + margin) < GAP:
                return False
    return True


@st.composite
def embedding_inputs(draw):
    """Embeddings (B, D) with labels of at least two classes, two items in one of them."""
    B, D = draw(st.integers(3, 6)), draw(st.integers(1, 3))
    labels = np.array(draw(st.lists(st.integers(0, 2), min_size=B, max_size=B)))
    labels[:3] = [0, 0, 1]
    x = draw(values((B, D), low=-2.0, high=2.0))
    margin = draw(st.sampled_from([0.2, 0.5, 1.0]))
    assume(_clear_of_kinks(_distances(x), labels, margin))
    return (x,), {"labels": labels, "margin": margin}


@st.composite
def distance_inputs(draw):
    """Embeddings (B, D) and ``squared``."""
    B, D = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    return (draw(values((B, D))),), {"squared": draw(st.booleans())}


@st.composite
def tsne_inputs(draw):
    """A map Y (N, n) and affinities P (N, N): symmetric, zero diagonal, summing to 1."""
    N, n = draw(st.integers(2, 6)), draw(st.integers(1, 3))
    A = draw(values((N, N), low=0.05, high=1.0, salt=1))
    P = A + A.T
    np.fill_diagonal(P, 0)
    return (draw(values((N, n))),), {"P": P / P.sum()}


@st.composite
def feature_inputs(draw):
    """Feature maps (N, K, h, w) for the Gram matrix and total variation."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3)),
             draw(st.integers(1, 3)))
    return (draw(values(shape)),), {}


@st.composite
def image_inputs(draw):
    """Images (N, C, H, W) with H, W >= 2 for total variation."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(2, 4)),
             draw(st.integers(2, 4)))
    return (draw(values(shape)),), {}
