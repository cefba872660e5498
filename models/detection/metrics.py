"""Detection metrics: precision-recall per class, average precision, mAP (the COCO convention).

A detection is a true positive at IoU threshold t when it overlaps a ground-truth box of its
class, not yet claimed by a higher-scored detection of the same image, with IoU >= t (each
detection takes the unclaimed box it overlaps most). Sorting every detection of a class by
score (ties in input order) and counting gives, after the i-th detection::

    precision_i = TP_i / i          recall_i = TP_i / (number of ground-truth boxes)

Average precision is the area under that curve, as COCO computes it: the precision is first
made non-increasing (each point takes the best precision at any higher recall), then read at
the 101 recalls 0, 0.01, ..., 1 (0 where the recall is never reached) and averaged. mAP
averages AP over the classes that have ground truth; mAP@0.5:0.95 averages it further over the
IoU thresholds 0.50, 0.55, ..., 0.95.

Everything here works on plain NumPy arrays (use ``.numpy()`` on Tensors).

Notation
--------
detections     one dict per image: ``boxes`` (n, 4) xyxy, ``scores`` (n,), ``labels`` (n,)
ground_truth   one dict per image: ``boxes`` (m, 4), ``labels`` (m,)
"""
import numpy as np

COCO_RECALLS = np.linspace(0.0, 1.0, 101)
COCO_IOUS = np.linspace(0.5, 0.95, 10)


def pairwise_iou(a, b):
    """IoU of every pair of xyxy boxes, shape (len(a), len(b)), 0 for empty unions."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(1, -1, 4)
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    a, b = a[:, 0], b[0]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_image(boxes, scores, gt_boxes, iou_threshold):
    """True-positive flags of one image's detections (of one class), greedy by score.

    Returns
    -------
    ndarray of bool, shape (n,), in the order of ``boxes``
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    ious = pairwise_iou(boxes, gt_boxes)
    claimed = np.zeros(len(gt_boxes), dtype=bool)
    tp = np.zeros(len(boxes), dtype=bool)
    for i in order:
        if not len(gt_boxes):
            break
        candidates = np.where(claimed, -1.0, ious[i])
        j = int(np.argmax(candidates))
        if candidates[j] >= iou_threshold:
            claimed[j] = tp[i] = True
    return tp


def precision_recall(detections, ground_truth, label, iou_threshold=0.5):
    """The precision-recall curve of one class over a set of images.

    Returns
    -------
    precision, recall : ndarrays of shape (n,), one point per detection of the class, by
        decreasing score; recall is empty-safe (all zeros) when the class has no ground truth
    """
    scores, flags, total = [], [], 0
    for det, gt in zip(detections, ground_truth, strict=True):
        mine = np.asarray(det["labels"]) == label
        gt_boxes = np.asarray(gt["boxes"]).reshape(-1, 4)[np.asarray(gt["labels"]) == label]
        total += len(gt_boxes)
        det_scores = np.asarray(det["scores"], dtype=np.float64)[mine]
        flags.append(match_image(np.asarray(det["boxes"]).reshape(-1, 4)[mine], det_scores,
                                 gt_boxes, iou_threshold))
        scores.append(det_scores)
    scores, flags = np.concatenate(scores or [[]]), np.concatenate(flags or [[]]).astype(bool)
    order = np.argsort(-scores, kind="stable")
    tp = np.cumsum(flags[order])
    precision = tp / np.arange(1, len(tp) + 1)
    recall = tp / total if total else np.zeros(len(tp))
    return (precision, recall)


def average_precision(precision, recall):
    """COCO's 101-point interpolated AP of one precision-recall curve.

    >>> average_precision(np.array([1.0, 0.5]), np.array([0.5, 0.5]))  # half found, first hit
    0.504950495049505
    """
    precision = np.maximum.accumulate(np.asarray(precision, dtype=np.float64)[::-1])[::-1]
    index = np.searchsorted(np.asarray(recall, dtype=np.float64), COCO_RECALLS, side="left")
    reached = index < len(precision)
    return float(np.where(reached, precision[np.minimum(index, len(precision) - 1)], 0.0).mean()
                 if len(precision) else 0.0)


def mean_average_precision(detections, ground_truth, iou_thresholds=(0.5,)):
    """mAP: AP averaged over the classes with ground truth and over ``iou_thresholds``.

    Returns
    -------
    float, or NaN when no image has any ground-truth box
    """
    labels = np.unique(np.concatenate([np.asarray(gt["labels"]).reshape(-1)
                                       for gt in ground_truth] or [[]]))
    if not len(labels):
        return float("nan")
    return float(np.mean([[average_precision(*precision_recall(detections, ground_truth, c, t))
                           for c in labels] for t in iou_thresholds]))


def coco_map(detections, ground_truth):
    """``{'map50': mAP@0.5, 'map50_95': mAP@0.5:0.95}``, the two headline figures."""
    return {"map50": mean_average_precision(detections, ground_truth, (0.5,)),
            "map50_95": mean_average_precision(detections, ground_truth, COCO_IOUS)}
