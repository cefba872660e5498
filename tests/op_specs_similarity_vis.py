"""Similarity learning, t-SNE and style terms in the op registry: the distance matrix, the three
mined triplet losses (against loops over every triplet), the t-SNE objective, the Gram matrix
and total variation. The guided and DeconvNet ReLU Functions are not registered: their backward
is by design not the derivative of their forward (tests/models/test_vis_relu_rules.py checks
them against hand-written backprop)."""
import itertools

import numpy as np

import minigrad as mg
from models.similarity import (batch_all_triplet_loss, batch_hard_triplet_loss,
                               pairwise_distances, semi_hard_triplet_loss)
from models.tsne import kl_divergence
from models.vis import gram_matrix, total_variation
from op_specs import spec
from strategies.similarity_vis import (distance_inputs, embedding_inputs, feature_inputs,
                                       image_inputs, tsne_inputs)

EPS = 1e-6   # under pairwise_distances' square root, large enough for finite differences


def _distances(x):
    return np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))


def _triplets(labels):
    B = len(labels)
    return [(a, p, n) for a, p, n in itertools.product(range(B), repeat=3)
            if a != p and labels[a] == labels[p] and labels[n] != labels[a]]


def _batch_all_reference(x, labels, margin):
    d = _distances(x)
    losses = np.array([max(0.0, d[a, p] - d[a, n] + margin) for a, p, n in _triplets(labels)])
    return losses.sum() / max((losses > 1e-16).sum(), 1)


def _batch_hard_reference(x, labels, margin):
    d = _distances(x)
    losses = []
    for a in range(len(labels)):
        positives = [d[a, p] for p in range(len(labels)) if p != a and labels[p] == labels[a]]
        negatives = [d[a, n] for n in range(len(labels)) if labels[n] != labels[a]]
        if positives and negatives:
            losses.append(max(0.0, max(positives) - min(negatives) + margin))
    return np.mean(losses)


def _semi_hard_reference(x, labels, margin):
    d = _distances(x)
    losses = []
    for a, p in itertools.permutations(range(len(labels)), 2):
        negatives = [d[a, n] for n in range(len(labels)) if labels[n] != labels[a]]
        if labels[a] != labels[p] or not negatives:
            continue
        farther = [v for v in negatives if v > d[a, p]]
        d_an = min(farther) if farther else max(negatives)
        losses.append(max(0.0, d[a, p] - d_an + margin))
    return np.mean(losses)


def _kl_reference(Y, P):
    d = ((Y[:, None] - Y[None]) ** 2).sum(-1)
    inverse = 1 / (1 + d)
    np.fill_diagonal(inverse, 0)
    Q = inverse / inverse.sum()
    off = ~np.eye(len(Y), dtype=bool)
    return (P[off] * np.log(P[off] / Q[off])).sum()


def _gram_reference(f):
    N, K, h, w = f.shape
    flat = f.reshape(N, K, h * w)
    return np.einsum("nkp,nlp->nkl", flat, flat) / (K * h * w)


def _tv_reference(x):
    return (np.diff(x, axis=2) ** 2).mean() + (np.diff(x, axis=3) ** 2).mean()


spec("pairwise_distances", lambda x, squared: pairwise_distances(x, squared, eps=EPS),
     distance_inputs(),
     lambda x, squared: _distances(x) ** 2 if squared else np.sqrt(_distances(x) ** 2 + EPS),
     note="eps keeps the diagonal's square root differentiable")
spec("batch_all_triplet_loss", batch_all_triplet_loss, embedding_inputs(), _batch_all_reference)
spec("batch_hard_triplet_loss", batch_hard_triplet_loss, embedding_inputs(),
     _batch_hard_reference)
spec("semi_hard_triplet_loss", semi_hard_triplet_loss, embedding_inputs(), _semi_hard_reference)
spec("tsne_kl_divergence", lambda Y, P: kl_divergence(mg.tensor(P, device=Y.device), Y),
     tsne_inputs(), _kl_reference)
spec("gram_matrix", gram_matrix, feature_inputs(), _gram_reference)
spec("total_variation", total_variation, image_inputs(), _tv_reference)
