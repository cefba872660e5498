"""models.detection: the metrics on hand-built cases with known answers, anchor assignment, and
the two detectors (shapes, losses that fall when fitting one batch, detections' format)."""
import numpy as np
import pytest

import minigrad as mg
from models.detection import (SingleStageDetector, TwoStageDetector, average_precision, coco_map,
                              mean_average_precision, precision_recall)
from models.detection.targets import assign, hard_negative_mask
from optim import Adam


def _image(boxes, scores=None, labels=None):
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    labels = np.zeros(len(boxes), dtype=np.int64) if labels is None else np.asarray(labels)
    out = {"boxes": boxes, "labels": labels}
    if scores is not None:
        out["scores"] = np.asarray(scores, dtype=np.float64)
    return out


def test_perfect_detections_score_one_at_every_threshold():
    gt = [_image([[0, 0, 10, 10], [20, 20, 30, 30]], labels=[0, 1])]
    det = [_image([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8], [0, 1])]
    assert coco_map(det, gt) == {"map50": 1.0, "map50_95": 1.0}


def test_precision_recall_of_a_ranked_list():
    # scores rank: hit, miss, hit, of 3 true boxes; a duplicate of a claimed box is a miss
    gt = [_image([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]])]
    det = [_image([[0, 0, 10, 10], [0, 0, 10, 10], [20, 0, 30, 10]], [0.9, 0.8, 0.7])]
    precision, recall = precision_recall(det, gt, 0)
    np.testing.assert_allclose(precision, [1, 1 / 2, 2 / 3])
    np.testing.assert_allclose(recall, [1 / 3, 1 / 3, 2 / 3])
    # COCO 101 points: recall <= 1/3 reads 1 (34 points), up to 2/3 reads 2/3 (33), then 0
    assert average_precision(precision, recall) == pytest.approx((34 + 33 * 2 / 3) / 101)


def test_iou_threshold_decides_a_hit():
    gt = [_image([[0, 0, 10, 10]])]
    det = [_image([[0, 0, 10, 7]], [0.5])]  # IoU 0.7
    assert mean_average_precision(det, gt, (0.5,)) == 1.0
    assert mean_average_precision(det, gt, (0.75,)) == 0.0
    # mAP@0.5:0.95: hits at 0.50, 0.55, 0.60, 0.65 and 0.70 (IoU >= t), five of ten
    assert coco_map(det, gt)["map50_95"] == pytest.approx(0.5)


def test_classes_are_averaged_and_classes_without_truth_ignored():
    gt = [_image([[0, 0, 10, 10], [20, 20, 30, 30]], labels=[0, 1])]
    det = [_image([[0, 0, 10, 10], [50, 50, 60, 60], [0, 0, 5, 5]], [0.9, 0.9, 0.9], [0, 1, 2])]
    assert mean_average_precision(det, gt) == pytest.approx(0.5)  # class 0: 1, class 1: 0
    assert np.isnan(mean_average_precision(det, [_image([])]))


def test_assign_labels_positives_negatives_and_the_best_anchor_of_each_box():
    anchors = np.array([[0, 0, 10, 10], [0, 0, 10, 8], [0, 0, 10, 5], [50, 50, 60, 60],
                        [100, 100, 104, 104.]])
    labels, matched = assign(anchors, np.array([[0, 0, 10, 10], [100, 100, 110, 110.]]),
                             np.array([2, 0]))
    # IoUs with box 0: 1, 0.8, 0.5, 0; the last anchor has IoU 0.16 but is box 1's best
    assert labels.tolist() == [3, 3, 3, 0, 1]
    np.testing.assert_array_equal(matched[4], [100, 100, 110, 110])
    labels, _ = assign(anchors, np.array([[0, 0, 10, 10.]]), np.array([0]), 0.9, 0.6)
    assert labels.tolist() == [1, -1, 0, 0, 0]


def test_hard_negative_mining_keeps_the_worst_negatives():
    losses = np.array([0.1, 5.0, 0.2, 3.0, 0.3, 9.0])
    labels = np.array([1, 0, 0, 0, 0, -1])
    mask = hard_negative_mask(losses, labels, 1, neg_pos_ratio=2, min_negatives=0)
    assert mask.tolist() == [1, 1, 0, 1, 0, 0]


@pytest.mark.parametrize("make", [
    lambda: SingleStageDetector(2, channels=(8, 16)),
    lambda: SingleStageDetector(2, channels=(8, 16), cls_loss="focal", box_loss="giou"),
    lambda: TwoStageDetector(2, channels=(8, 16), hidden=32, post_nms=8),
])
def test_detectors_fit_one_batch_and_detect(make):
    mg.manual_seed(0)
    model = make()
    x = mg.tensor(np.random.default_rng(0).uniform(0, 0.2, (2, 3, 16, 16)).astype(np.float32))
    x.data[0, :, 2:10, 2:10] = 1.0
    x.data[1, :, 6:14, 4:12] = 1.0
    targets = [_image([[2, 2, 10, 10]], labels=[1]), _image([[4, 6, 12, 14]], labels=[0])]
    optimizer = Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(40):
        loss = model.loss(x, targets)["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.5 * first
    model.eval()
    detections = model.detect(x, max_detections=5)
    assert len(detections) == 2
    for d in detections:
        assert d["boxes"].shape == (len(d["scores"]), 4) and len(d["labels"]) == len(d["scores"])
        assert len(d["scores"]) <= 5 and (np.diff(d["scores"]) <= 0).all()
        assert (d["boxes"] >= 0).all() and (d["boxes"] <= 16).all()


def test_detectors_refuse_bad_options():
    with pytest.raises(ValueError, match="SingleStageDetector: cls_loss"):
        SingleStageDetector(2, cls_loss="hinge")
    with pytest.raises(ValueError, match="TwoStageDetector: roi_size"):
        TwoStageDetector(2, roi_size=0)


def test_select_thresholds_scores_suppresses_per_class_and_keeps_the_best():
    from models.detection.single_stage import select
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 9], [20, 20, 30, 30], [-5, 0, 5, 50.]])
    scores = np.array([[0.9, 0.6], [0.8, 0.01], [0.04, 0.7], [0.3, 0.2]])
    out = select(boxes, scores, (40, 40), 0.05, 0.5, 10)
    # (box 1, class 0) overlaps (box 0, class 0) at IoU 0.9: gone; class 1 keeps box 0
    assert list(zip(out["labels"].tolist(), out["scores"].tolist())) == [
        (0, 0.9), (1, 0.7), (1, 0.6), (0, 0.3), (1, 0.2)]
    np.testing.assert_array_equal(out["boxes"][3], [0, 0, 5, 40])  # clipped to the image
    assert len(select(boxes, scores, (40, 40), 0.65, 0.5, 10)["scores"]) == 2
    assert select(boxes, scores, (40, 40), 0.05, 0.5, 1)["scores"].tolist() == [0.9]
