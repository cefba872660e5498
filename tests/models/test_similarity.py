"""Similarity learning: distance matrices, the miners on hand-built batches, the losses against
brute-force loops over triplets, and the retrieval metrics on hand-built rankings."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings

import minigrad as mg
from models.similarity import (EmbeddingIndex, EmbeddingNet, SiameseNet, average_precision,
                               batch_all_triplet_loss, batch_hard_triplet_loss, mine_batch_hard,
                               mine_semi_hard, pairwise_distances, random_pairs,
                               random_triplets, recall_at_k, semi_hard_triplet_loss,
                               triplet_loss, triplet_masks)
from strategies.similarity_vis import embedding_inputs

# A hand-built batch: 6 points on a line, labels 0 0 0 1 1 2.
POINTS = np.array([[0.0], [1.0], [4.0], [2.5], [9.0], [3.0]])
LABELS = np.array([0, 0, 0, 1, 1, 2])
D = np.abs(POINTS - POINTS.T)


def test_pairwise_distances_match_the_definition():
    x = np.random.default_rng(0).normal(size=(7, 3))
    got = pairwise_distances(mg.tensor(x, dtype=mg.float64), eps=0).numpy()
    expected = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.testing.assert_allclose(got, expected, atol=1e-7)
    np.testing.assert_allclose(pairwise_distances(mg.tensor(x, dtype=mg.float64),
                                                  squared=True).numpy(), expected ** 2,
                               atol=1e-12)


def test_batch_hard_picks_the_farthest_positive_and_closest_negative():
    anchors, positives, negatives = mine_batch_hard(D, LABELS)
    # anchor 0: positives 1 (d 1), 2 (d 4) -> 2; negatives 3 (2.5), 4 (9), 5 (3) -> 3
    # anchor 1: positives 0 (1), 2 (3) -> 2; negatives 3 (1.5), 4 (8), 5 (2) -> 3
    # anchor 2: positives 0 (4), 1 (3) -> 0; negatives 3 (1.5), 4 (5), 5 (1) -> 5
    # anchor 3: positive 4 (6.5); negatives 0 (2.5) 1 (1.5) 2 (1.5) 5 (0.5) -> 5
    # anchor 4: positive 3; negatives 0 (9) 1 (8) 2 (5) 5 (6) -> 2
    # anchor 5: no positive, left out
    assert anchors.tolist() == [0, 1, 2, 3, 4]
    assert positives.tolist() == [2, 2, 0, 4, 3]
    assert negatives.tolist() == [3, 3, 5, 5, 2]


def test_semi_hard_picks_per_definition():
    anchors, positives, negatives = mine_semi_hard(D, LABELS)
    positive, negative = triplet_masks(LABELS)
    assert sorted(zip(anchors, positives)) == sorted(zip(*np.nonzero(positive)))
    for a, p, n in zip(anchors, positives, negatives):
        candidates = [k for k in np.flatnonzero(negative[a]) if D[a, k] > D[a, p]]
        if candidates:  # the closest negative farther than the positive
            assert D[a, n] == min(D[a, k] for k in candidates)
            assert D[a, n] > D[a, p]
        else:           # none farther: the farthest negative
            assert D[a, n] == max(D[a, k] for k in np.flatnonzero(negative[a]))
    # by hand: (0, 1) d_ap = 1 -> negatives 2.5, 9, 3 all farther -> 3 (2.5)
    #          (0, 2) d_ap = 4 -> only 4 (9) farther -> 4
    #          (3, 4) d_ap = 6.5 -> none farther -> the farthest, 0 (2.5)
    picks = {(a, p): n for a, p, n in zip(anchors, positives, negatives)}
    assert picks[(0, 1)] == 3 and picks[(0, 2)] == 4 and picks[(3, 4)] == 0


def _brute_force_triplets(d, labels, margin):
    losses = []
    for a, p, n in itertools.product(range(len(labels)), repeat=3):
        if a != p and labels[a] == labels[p] and labels[a] != labels[n]:
            losses.append(max(0.0, d[a, p] - d[a, n] + margin))
    return np.array(losses)


def test_batch_all_equals_a_loop_over_every_triplet():
    x = np.random.default_rng(1).normal(size=(9, 2))
    labels = np.array([0, 0, 1, 1, 1, 2, 2, 0, 2])
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    losses = _brute_force_triplets(d, labels, 0.5)
    got = batch_all_triplet_loss(mg.tensor(x, dtype=mg.float64), labels, margin=0.5).item()
    assert got == pytest.approx(losses[losses > 0].mean(), rel=1e-6)


def test_batch_hard_equals_the_per_anchor_max_and_min():
    x = mg.tensor(POINTS, dtype=mg.float64)
    margin = 1.0
    expected = np.mean([max(0, D[a, p] - D[a, n] + margin)
                        for a, p, n in zip([0, 1, 2, 3, 4], [2, 2, 0, 4, 3], [3, 3, 5, 5, 2])])
    assert batch_hard_triplet_loss(x, LABELS, margin).item() == pytest.approx(expected, rel=1e-6)
    assert triplet_loss(x, LABELS, margin, mining="hard").item() == pytest.approx(expected,
                                                                                rel=1e-6)


@pytest.mark.parametrize("loss", [batch_all_triplet_loss, batch_hard_triplet_loss,
                                  semi_hard_triplet_loss])
def test_triplet_losses_pass_gradcheck(loss):
    rng = np.random.default_rng(2)
    labels = np.array([0, 0, 1, 1, 2, 2])
    x = mg.tensor(rng.normal(size=(6, 3)), dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(lambda e: loss(e, labels, 0.3), (x,))


def test_random_triplets_and_pairs_are_valid():
    labels = np.array([0, 0, 1, 1, 1, 2])
    a, p, n = random_triplets(labels, 200, seed=0)
    assert np.all(labels[a] == labels[p]) and np.all(a != p) and np.all(labels[a] != labels[n])
    assert 5 not in a  # label 2 has no positive
    i, j, same = random_pairs(labels, 400, seed=0)
    np.testing.assert_array_equal(same, (labels[i] == labels[j]).astype(np.float32))
    assert 0.3 < same.mean() < 0.6 and np.all(i[same == 1] != j[same == 1])


def test_random_triplet_loss_is_seeded_and_is_the_mean_over_its_triplets():
    x = mg.tensor(POINTS, dtype=mg.float64)
    a, p, n = random_triplets(LABELS, len(LABELS), seed=3)
    expected = np.mean(np.maximum(D[a, p] - D[a, n] + 0.5, 0))
    assert triplet_loss(x, LABELS, 0.5, mining="random", seed=3).item() == pytest.approx(
        expected, rel=1e-6)


def test_triplet_loss_rejects_an_unknown_miner():
    with pytest.raises(ValueError, match="mining must be one of"):
        triplet_loss(mg.randn(4, 2), [0, 0, 1, 1], mining="easy")
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        batch_hard_triplet_loss(mg.randn(4, 2), [0, 1, 1])


def test_recall_at_k_on_hand_built_rankings():
    retrieved = np.array([[1, 2, 3], [2, 1, 3], [3, 3, 1], [2, 3, 3]])
    queries = np.array([1, 1, 1, 1])
    assert recall_at_k(retrieved, queries, 1) == 0.25
    assert recall_at_k(retrieved, queries, 2) == 0.5
    assert recall_at_k(retrieved, queries, 3) == 0.75
    with pytest.raises(ValueError, match="K' >= k=4"):
        recall_at_k(retrieved, queries, 4)


def test_average_precision_on_hand_built_rankings():
    relevant = np.array([[1, 1, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 1]], dtype=bool)
    np.testing.assert_allclose(average_precision(relevant),
                               [1.0, (1 / 2 + 2 / 4) / 2, 0.0, 1 / 4])


def test_embedding_index_search_and_metrics():
    index = EmbeddingIndex(np.array([[0.0], [1.0], [10.0], [11.0], [5.2]]), [0, 0, 1, 1, 0])
    distances, indices = index.search(np.array([[0.2], [10.6]]), k=3)
    assert indices.tolist() == [[0, 1, 4], [3, 2, 4]]
    np.testing.assert_allclose(distances, [[0.2, 0.8, 5.0], [0.4, 0.6, 5.4]])
    assert index.recall_at_k([[0.2], [10.6]], [0, 0], k=1) == 0.5
    # leave-one-out over the index itself: item 4 (label 0) has nearest 1 (label 0) ... etc.
    _, loo = index.search(index.embeddings, k=1, exclude_self=True)
    assert loo[:, 0].tolist() == [1, 0, 3, 2, 1]
    assert index.recall_at_k(index.embeddings, index.labels, 1, exclude_self=True) == 1.0
    # rankings without self: items 0, 1, 2, 3 find their own label first (AP 1); item 4 at
    # 5.2 ranks 1 (d 4.2, label 0), 2 (4.8, label 1), 0 (5.2, label 0): AP (1 + 2/3) / 2
    assert index.mean_average_precision(index.embeddings, index.labels,
                                        exclude_self=True) == pytest.approx((4 + 5 / 6) / 5)
    # a query at 6.2 labelled 1: ranking 4 (0), 2 (1), 3 (1), 1, 0 -> AP (1/2 + 2/3) / 2
    assert index.mean_average_precision([[6.2]], [1]) == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_embedding_index_errors():
    index = EmbeddingIndex(np.zeros((3, 2)), [0, 1, 2])
    with pytest.raises(ValueError, match="queries have D=3"):
        index.search(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="k=3 is more than the 2 items"):
        index.search(np.zeros((3, 2)), k=3, exclude_self=True)
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        EmbeddingIndex(np.zeros((3, 2)), [0, 1])


def test_embedding_net_outputs_unit_vectors_and_siamese_shares_weights():
    net = EmbeddingNet(embedding_dim=4)
    x1, x2 = mg.randn(3, 1, 8, 8), mg.randn(3, 1, 8, 8)
    e1, e2 = SiameseNet(net)(x1, x2)
    assert e1.shape == (3, 4)
    np.testing.assert_allclose((e1.numpy() ** 2).sum(1), 1, rtol=1e-5)
    np.testing.assert_allclose(e2.numpy(), net(x2).numpy(), rtol=1e-6)
    assert EmbeddingNet(normalize=False, embedding_dim=3)(x1).shape == (3, 3)
    with pytest.raises(ValueError, match="multiple of 4"):
        EmbeddingNet(image_size=6)


@settings(max_examples=20, deadline=None)
@given(drawn=embedding_inputs())
def test_the_registry_strategy_keeps_triplets_clear_of_ties_and_kinks(drawn):
    (x,), params = drawn
    labels, margin = params["labels"], params["margin"]
    assert (labels == labels[0]).sum() >= 2 and len(set(labels.tolist())) >= 2
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    a, p, n = mine_batch_hard(d, labels)
    assert np.all(np.abs(d[a, p] - d[a, n] + margin) >= 0.02)
