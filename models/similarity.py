"""Similarity learning: learn a distance instead of a fixed set of classes.

A classifier's last layer names the classes it was trained on; a new class needs new weights.
An embedding network instead maps each image to a point, trained so that images of the same
class land close together and images of different classes far apart. A new class then needs no
training at all: embed a few examples, put them in an :class:`EmbeddingIndex`, and retrieve
the nearest neighbours of a query.

Two training signals:

- Contrastive loss (Hadsell, Chopra & LeCun, 2006) on pairs of a Siamese network (one network,
  applied to both images): ``same d² + (1 - same) max(0, margin - d)²``.
- Triplet loss (Schroff et al., 2015): ``max(0, d(a, p) - d(a, n) + margin)`` for an anchor a,
  a positive p (same label) and a negative n (another label). Most triplets of a batch are
  already satisfied and teach nothing, so triplets are *mined online* from the batch's (B, B)
  distance matrix, with array masks and no Python loop over triplets:

  ============  =======================================================================
  batch-all     every valid (a, p, n) of the batch at once, a (B, B, B) tensor; the mean
                over the triplets with a positive loss (Hermans et al., 2017)
  batch-hard    per anchor, the farthest positive and the closest negative
  semi-hard     per (a, p) pair, the closest negative farther than p (FaceNet's choice);
                the farthest negative when none is farther
  random        triplets drawn at random (the baseline the mining must beat)
  ============  =======================================================================

Retrieval quality is measured with recall@k (the share of queries with a correct item among
their k nearest neighbours) and mean average precision (the mean over queries of the precision
at each correct item of the full ranking, averaged over the correct items).

Notation
--------
B       batch size (number of embeddings in a batch)
D       embedding dimension
M       number of items in an index
Q       number of queries
d_ij    Euclidean distance between embeddings i and j
"""
import numpy as np

import minigrad as mg
from minigrad.checks import check_int, check_number
from layers import Conv2d, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential


class EmbeddingNet(Module):
    """A small CNN that maps an image to a D-dimensional embedding.

        x (N, C, S, S) ─ [Conv2d 3x3 ─ ReLU ─ MaxPool2d(2)] x 2 ─ Flatten
                       ─ Linear ─ ReLU ─ Linear(., D) ─ (L2 normalisation)

    Parameters
    ----------
    in_channels : int, default 1
    image_size : int, default 8
        S, a multiple of 4.
    embedding_dim : int, default 16
        D.
    channels : (int, int), default (16, 32)
    hidden : int, default 64
    normalize : bool, default True
        Divide each embedding by its norm, so all points lie on the unit sphere: distances
        are then bounded by 2, and a margin means the same thing all through training.

    Examples
    --------
    >>> import minigrad as mg
    >>> EmbeddingNet(embedding_dim=3)(mg.randn(5, 1, 8, 8)).shape
    (5, 3)
    """

    def __init__(self, in_channels=1, image_size=8, embedding_dim=16, channels=(16, 32),
                 hidden=64, normalize=True):
        super().__init__()
        S = check_int("EmbeddingNet", "image_size", image_size, low=4)
        if S % 4:
            raise ValueError(f"EmbeddingNet: image_size must be a multiple of 4, got {S}")
        C1, C2 = channels
        self.normalize = bool(normalize)
        self.features = Sequential(
            Conv2d(in_channels, C1, 3, padding=1), ReLU(), MaxPool2d(2),
            Conv2d(C1, C2, 3, padding=1), ReLU(), MaxPool2d(2), Flatten())
        self.head = Sequential(Linear(C2 * (S // 4) ** 2, hidden), ReLU(),
                               Linear(hidden, embedding_dim))

    def forward(self, x):
        embedding = self.head(self.features(x))
        if not self.normalize:
            return embedding
        # eps keeps the gradient finite for an all-zero embedding
        return embedding / ((embedding * embedding).sum(dim=1, keepdim=True) + 1e-12).sqrt()


class SiameseNet(Module):
    """One embedding network applied to two inputs: the weights are shared by construction.

    ``forward(x1, x2)`` returns ``(embedding_net(x1), embedding_net(x2))``, ready for
    ``F.contrastive_loss(e1, e2, same, margin)``.
    """

    def __init__(self, embedding_net):
        super().__init__()
        self.embedding_net = embedding_net

    def forward(self, x1, x2):
        return (self.embedding_net(x1), self.embedding_net(x2))


def pairwise_distances(embeddings, squared=False, eps=1e-12):
    """The (B, B) matrix of Euclidean distances between the rows of ``embeddings``.

    Vectorised with ``|a - b|² = |a|² + |b|² - 2 a·b``: one matrix product instead of B² norms.

    Parameters
    ----------
    embeddings : Tensor, shape (B, D)
    squared : bool, default False
        Return d² (smooth everywhere) instead of d.
    eps : float, default 1e-12
        Added under the square root: the derivative of sqrt is infinite at 0 (the diagonal).

    Examples
    --------
    >>> import minigrad as mg
    >>> pairwise_distances(mg.tensor([[0.0, 0.0], [3.0, 4.0]]), eps=0).tolist()
    [[0.0, 5.0], [5.0, 0.0]]
    """
    if embeddings.ndim != 2:
        raise ValueError(f"pairwise_distances: embeddings must be (B, D), got shape "
                         f"{tuple(embeddings.shape)}")
    norms = (embeddings * embeddings).sum(dim=1, keepdim=True)
    # rounding can make a zero distance slightly negative; clamp before the square root
    squares = (norms + norms.T - 2 * (embeddings @ embeddings.T)).clamp(min=0)
    return squares if squared else (squares + eps).sqrt()


def _labels(labels, B, name):
    labels = labels.numpy() if isinstance(labels, mg.Tensor) else np.asarray(labels)
    if labels.shape != (B,):
        raise ValueError(f"{name}: labels must have shape ({B},) to match the embeddings, "
                         f"got {labels.shape}")
    return labels


def triplet_masks(labels):
    """Boolean (B, B) masks ``positive`` (same label, not the anchor itself) and ``negative``.

    Examples
    --------
    >>> positive, negative = triplet_masks([0, 0, 1])
    >>> positive.astype(int).tolist(), negative.astype(int).tolist()
    ([[0, 1, 0], [1, 0, 0], [0, 0, 0]], [[0, 0, 1], [0, 0, 1], [1, 1, 0]])
    """
    labels = np.asarray(labels)
    same = labels[:, None] == labels[None, :]
    return (same & ~np.eye(len(labels), dtype=bool), ~same)


def mine_batch_hard(distances, labels):
    """Per anchor, the farthest positive and the closest negative.

    Parameters
    ----------
    distances : ndarray or Tensor, shape (B, B)
    labels : array of int, shape (B,)

    Returns
    -------
    anchors, positives, negatives : ndarray of int, shape (T,)
        One triplet per anchor that has at least one positive and one negative.

    Examples
    --------
    >>> d = np.array([[0, 1, 3, 2], [1, 0, 1, 4], [3, 1, 0, 5], [2, 4, 5, 0.]])
    >>> [a.tolist() for a in mine_batch_hard(d, [0, 0, 1, 1])]
    [[0, 1, 2, 3], [1, 0, 3, 2], [3, 2, 1, 0]]
    """
    d = distances.numpy() if isinstance(distances, mg.Tensor) else np.asarray(distances)
    positive, negative = triplet_masks(_labels(labels, len(d), "mine_batch_hard"))
    anchors = np.flatnonzero(positive.any(axis=1) & negative.any(axis=1))
    hardest_positive = np.where(positive, d, -np.inf).argmax(axis=1)
    hardest_negative = np.where(negative, d, np.inf).argmin(axis=1)
    return (anchors, hardest_positive[anchors], hardest_negative[anchors])


def mine_semi_hard(distances, labels):
    """Per (anchor, positive) pair, the closest negative that is farther than the positive.

    FaceNet's semi-hard negatives satisfy ``d_ap < d_an``: they are not yet harder than the
    positive (which makes training unstable early on), but the closest of them is the one that
    still violates the margin, if any does. A pair with no such negative takes its farthest
    negative, the least violating one.

    Returns
    -------
    anchors, positives, negatives : ndarray of int, shape (T,)
        One triplet per positive pair whose anchor has a negative.
    """
    d = distances.numpy() if isinstance(distances, mg.Tensor) else np.asarray(distances)
    positive, negative = triplet_masks(_labels(labels, len(d), "mine_semi_hard"))
    anchors, positives = np.nonzero(positive & negative.any(axis=1, keepdims=True))
    d_an = d[anchors]                                        # (T, B)
    d_ap = d[anchors, positives][:, None]                    # (T, 1)
    candidates = negative[anchors]
    farther = candidates & (d_an > d_ap)
    semi_hard = np.where(farther, d_an, np.inf).argmin(axis=1)
    easiest = np.where(candidates, d_an, -np.inf).argmax(axis=1)
    negatives = np.where(farther.any(axis=1), semi_hard, easiest)
    return (anchors, positives, negatives)


def random_triplets(labels, num_triplets, seed=None):
    """``num_triplets`` (anchor, positive, negative) index triplets drawn uniformly at random.

    The baseline for mining: each anchor is a random item with a positive; the positive and
    the negative are random among the valid ones.
    """
    labels = np.asarray(labels)
    check_int("random_triplets", "num_triplets", num_triplets, low=1)
    rng = np.random.default_rng(seed)
    positive, negative = triplet_masks(labels)
    usable = np.flatnonzero(positive.any(axis=1) & negative.any(axis=1))
    if len(usable) == 0:
        raise ValueError("random_triplets: no item has both a positive and a negative; "
                         f"labels {labels.tolist()}")
    anchors = rng.choice(usable, num_triplets)
    # a random valid column per row: argmax of random scores restricted to the mask
    scores = rng.random((num_triplets, len(labels)))
    positives = np.where(positive[anchors], scores, -1).argmax(axis=1)
    negatives = np.where(negative[anchors], scores, -1).argmax(axis=1)
    return (anchors, positives, negatives)


def random_pairs(labels, num_pairs, seed=None):
    """Index pairs (i, j) and a float ``same`` flag, half of them positive, for contrastive loss."""
    labels = np.asarray(labels)
    check_int("random_pairs", "num_pairs", num_pairs, low=1)
    rng = np.random.default_rng(seed)
    positive, negative = triplet_masks(labels)
    first = rng.integers(0, len(labels), num_pairs)
    want_same = rng.random(num_pairs) < 0.5
    want_same &= positive[first].any(axis=1)
    mask = np.where(want_same[:, None], positive[first], negative[first])
    second = np.where(mask, rng.random(mask.shape), -1).argmax(axis=1)
    same = (labels[first] == labels[second]).astype(np.float32)
    return (first, second, same)


def batch_all_triplet_loss(embeddings, labels, margin=0.2):
    """Mean triplet loss over every valid triplet of the batch with a positive loss.

    ``loss[a, p, n] = d[a, p] - d[a, n] + margin`` is one broadcast (B, B, 1) - (B, 1, B); a
    (B, B, B) mask keeps the valid triplets. Averaging over the *active* triplets only (those
    with a positive loss) keeps the signal from fading as most triplets become satisfied.
    """
    d = pairwise_distances(embeddings)
    positive, negative = triplet_masks(_labels(labels, d.shape[0], "batch_all_triplet_loss"))
    valid = positive[:, :, None] & negative[:, None, :]
    losses = (d.unsqueeze(2) - d.unsqueeze(1) + margin).relu()
    losses = losses * mg.tensor(valid.astype(losses.data.dtype), device=d.device)
    active = float((losses.data > 1e-16).sum())
    return losses.sum() / max(active, 1.0)


def _triplet_from_indices(d, anchors, positives, negatives, margin):
    if len(anchors) == 0:
        return (d * 0).sum()
    return (d[anchors, positives] - d[anchors, negatives] + margin).relu().mean()


def batch_hard_triplet_loss(embeddings, labels, margin=0.2):
    """Mean over anchors of ``max(0, max_p d_ap - min_n d_an + margin)`` (Hermans et al.)."""
    d = pairwise_distances(embeddings)
    return _triplet_from_indices(d, *mine_batch_hard(d, labels), margin)


def semi_hard_triplet_loss(embeddings, labels, margin=0.2):
    """Mean triplet loss over every positive pair with its semi-hard negative (FaceNet)."""
    d = pairwise_distances(embeddings)
    return _triplet_from_indices(d, *mine_semi_hard(d, labels), margin)


def random_triplet_loss(embeddings, labels, margin=0.2, num_triplets=None, seed=None):
    """Mean triplet loss over ``num_triplets`` random triplets (default: one per item)."""
    d = pairwise_distances(embeddings)
    num_triplets = d.shape[0] if num_triplets is None else num_triplets
    return _triplet_from_indices(d, *random_triplets(labels, num_triplets, seed), margin)


TRIPLET_LOSSES = {"all": batch_all_triplet_loss, "hard": batch_hard_triplet_loss,
                  "semi_hard": semi_hard_triplet_loss, "random": random_triplet_loss}


def triplet_loss(embeddings, labels, margin=0.2, mining="hard", seed=None):
    """Triplet loss with online mining: ``mining`` is 'all', 'hard', 'semi_hard' or 'random'.

    ``seed`` seeds the draw of 'random' triplets (one per item); the miners ignore it.

    Examples
    --------
    >>> import minigrad as mg
    >>> e = mg.tensor([[0.0, 0.0], [0.1, 0.0], [1.0, 0.0], [1.1, 0.0]])
    >>> round(triplet_loss(e, [0, 0, 1, 1], margin=1.0).item(), 4)  # (0.1 + 0.2 + 0.2 + 0.1) / 4
    0.15
    """
    if mining not in TRIPLET_LOSSES:
        raise ValueError(f"triplet_loss: mining must be one of {sorted(TRIPLET_LOSSES)}, "
                         f"got {mining!r}")
    check_number("triplet_loss", "margin", margin, low=0)
    if mining == "random":
        return random_triplet_loss(embeddings, labels, margin, seed=seed)
    return TRIPLET_LOSSES[mining](embeddings, labels, margin)


def recall_at_k(retrieved_labels, query_labels, k=1):
    """Share of queries with at least one item of their own label among the first k retrieved.

    Parameters
    ----------
    retrieved_labels : array, shape (Q, K'), K' >= k
        Labels of each query's neighbours, nearest first.
    query_labels : array, shape (Q,)

    Examples
    --------
    >>> recall_at_k([[1, 0], [2, 2], [0, 1]], [1, 1, 1], k=1)
    0.3333333333333333
    >>> recall_at_k([[1, 0], [2, 2], [0, 1]], [1, 1, 1], k=2)
    0.6666666666666666
    """
    retrieved = np.asarray(retrieved_labels)
    check_int("recall_at_k", "k", k, low=1)
    if retrieved.ndim != 2 or retrieved.shape[1] < k:
        raise ValueError(f"recall_at_k: retrieved_labels must be (Q, K') with K' >= k={k}, "
                         f"got shape {retrieved.shape}")
    hits = retrieved[:, :k] == np.asarray(query_labels)[:, None]
    return float(hits.any(axis=1).mean())


def average_precision(relevant):
    """Average precision of each ranking: the mean of precision@i over the relevant ranks i.

    Parameters
    ----------
    relevant : array of bool, shape (Q, M)
        Whether each item of each query's full ranking is relevant, nearest first.

    Returns
    -------
    ndarray of float, shape (Q,); 0 for a query with no relevant item.

    Examples
    --------
    >>> average_precision([[1, 0, 1, 0]]).tolist()  # (1/1 + 2/3) / 2
    [0.8333333333333333]
    """
    relevant = np.asarray(relevant, dtype=bool)
    hits = np.cumsum(relevant, axis=1)
    precision = hits / np.arange(1, relevant.shape[1] + 1)
    total = relevant.sum(axis=1)
    return (precision * relevant).sum(axis=1) / np.maximum(total, 1)


class EmbeddingIndex:
    """Stored embeddings with their labels, searched by k-nearest neighbours.

    Parameters
    ----------
    embeddings : array or Tensor, shape (M, D)
    labels : array, shape (M,)

    Examples
    --------
    >>> index = EmbeddingIndex([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0]], [0, 0, 1])
    >>> distances, indices = index.search([[4.0, 0.0]], k=2)
    >>> indices.tolist(), distances.tolist()
    ([[2, 1]], [[1.0, 3.0]])
    >>> index.recall_at_k([[4.0, 0.0]], [1], k=1)
    1.0
    """

    def __init__(self, embeddings, labels):
        self.embeddings = self._array(embeddings, "embeddings")
        self.labels = np.asarray(labels)
        if self.labels.shape != (len(self.embeddings),):
            raise ValueError(f"EmbeddingIndex: labels must have shape ({len(self.embeddings)},),"
                             f" got {self.labels.shape}")

    @staticmethod
    def _array(values, name):
        values = values.numpy() if isinstance(values, mg.Tensor) else np.asarray(values)
        if values.ndim != 2:
            raise ValueError(f"EmbeddingIndex: {name} must be 2-D (count, D), got shape "
                             f"{values.shape}")
        return values.astype(np.float64)

    def __len__(self):
        return len(self.embeddings)

    def distances(self, queries, exclude_self=False):
        """(Q, M) Euclidean distances; with ``exclude_self`` query i is item i and the diagonal
        is set to infinity, so an item does not retrieve itself (leave-one-out)."""
        queries = self._array(queries, "queries")
        if queries.shape[1] != self.embeddings.shape[1]:
            raise ValueError(f"EmbeddingIndex: queries have D={queries.shape[1]}, the index "
                             f"D={self.embeddings.shape[1]}")
        squares = ((queries ** 2).sum(1)[:, None] + (self.embeddings ** 2).sum(1)[None, :]
                   - 2 * queries @ self.embeddings.T)
        d = np.sqrt(np.maximum(squares, 0))
        if exclude_self:
            if len(queries) != len(self):
                raise ValueError(f"EmbeddingIndex: exclude_self needs the index's own {len(self)}"
                                 f" items as queries, got {len(queries)}")
            np.fill_diagonal(d, np.inf)
        return d

    def search(self, queries, k=1, exclude_self=False):
        """The k nearest items of each query: ``(distances, indices)``, each (Q, k), nearest
        first (ties broken by index)."""
        limit = len(self) - 1 if exclude_self else len(self)
        check_int("EmbeddingIndex.search", "k", k, low=1)
        if k > limit:
            raise ValueError(f"EmbeddingIndex.search: k={k} is more than the {limit} items "
                             "a query can retrieve")
        d = self.distances(queries, exclude_self)
        indices = np.argsort(d, axis=1, kind="stable")[:, :k]
        return (np.take_along_axis(d, indices, axis=1), indices)

    def recall_at_k(self, queries, query_labels, k=1, exclude_self=False):
        """:func:`recall_at_k` of the k nearest items of each query."""
        _, indices = self.search(queries, k, exclude_self)
        return recall_at_k(self.labels[indices], query_labels, k)

    def mean_average_precision(self, queries, query_labels, exclude_self=False):
        """Mean over queries of the :func:`average_precision` of the full ranking."""
        d = self.distances(queries, exclude_self)
        order = np.argsort(d, axis=1, kind="stable")
        if exclude_self:
            order = order[:, :-1]               # the query itself, at infinity, ranks last
        relevant = self.labels[order] == np.asarray(query_labels)[:, None]
        return float(average_precision(relevant).mean())
