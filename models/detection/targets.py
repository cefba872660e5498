"""Training targets and losses shared by the detectors: which anchor answers for which box.

Anchors (or proposals) are matched to ground-truth boxes by IoU, the Faster R-CNN way:

- IoU >= ``fg_iou`` with some box: a positive, labelled with that box's class (1..C) and
  regressed towards it;
- IoU < ``bg_iou`` with every box: a negative (background, label 0);
- in between: ignored (label -1), neither rewarded nor punished;
- and each box's best anchor is positive whatever its IoU, so that no object goes unmatched.

Negatives outnumber positives a hundredfold, so the classification loss is rebalanced, either by
hard-negative mining (SSD: keep only the ``neg_pos_ratio`` x #positives negatives with the
highest loss) or by the focal loss (RetinaNet: scale each anchor's loss by ``(1 - p_t)^gamma``,
which silences the easy negatives).

Notation
--------
M          anchors (or proposals) of one image;  G  ground-truth boxes;  C  classes
labels     int array (M,): -1 ignored, 0 background, 1..C a class (class index + 1)
"""
import numpy as np

import minigrad as mg
import minigrad.functional as F
from models.detection.metrics import pairwise_iou


def assign(anchors, gt_boxes, gt_labels, fg_iou=0.5, bg_iou=0.4):
    """Match anchors to ground-truth boxes.

    Parameters
    ----------
    anchors : ndarray, shape (M, 4);  gt_boxes : ndarray, shape (G, 4)
    gt_labels : ndarray of int, shape (G,), classes 0..C-1

    Returns
    -------
    labels : ndarray of int64, shape (M,), -1 / 0 / class + 1
    matched : ndarray, shape (M, 4), the box each anchor is regressed towards
    """
    M = len(anchors)
    if len(gt_boxes) == 0:
        return (np.zeros(M, dtype=np.int64), np.zeros((M, 4)))
    iou = pairwise_iou(anchors, gt_boxes)
    best, best_iou = iou.argmax(1), iou.max(1)
    labels = np.where(best_iou >= fg_iou, np.asarray(gt_labels)[best] + 1,
                      np.where(best_iou < bg_iou, 0, -1)).astype(np.int64)
    for g in range(len(gt_boxes)):  # each box claims its best anchor
        a = int(iou[:, g].argmax())
        best[a], labels[a] = g, int(gt_labels[g]) + 1
    return (labels, np.asarray(gt_boxes, dtype=np.float64)[best])


def hard_negative_mask(losses, labels, images, neg_pos_ratio=3, min_negatives=8):
    """Positives plus, per image, the ``neg_pos_ratio`` x #positives hardest negatives.

    Parameters
    ----------
    losses : ndarray, shape (N*M,), each anchor's classification loss (no gradient needed)
    labels : ndarray, shape (N*M,);  images : int, N

    Returns
    -------
    ndarray of float, shape (N*M,): 1 where the anchor counts, else 0
    """
    losses, labels = losses.reshape(images, -1), labels.reshape(images, -1)
    mask = (labels > 0).astype(np.float64)
    for n in range(images):
        negatives = np.flatnonzero(labels[n] == 0)
        keep = max(neg_pos_ratio * int(mask[n].sum()), min_negatives)
        hardest = negatives[np.argsort(-losses[n, negatives], kind="stable")[:keep]]
        mask[n, hardest] = 1.0
    return mask.reshape(-1)


def classification_loss(logits, labels, images, kind="ce", neg_pos_ratio=3, gamma=2.0,
                        alpha=0.25):
    """The classification loss over all anchors, divided by the number of positives.

    Parameters
    ----------
    logits : Tensor, shape (N*M, C + 1) for 'ce' (column 0 is background), (N*M, C) for 'focal'
    labels : ndarray of int, shape (N*M,)
    kind : {'ce', 'focal'}
        'ce': softmax cross-entropy with hard-negative mining; 'focal': sigmoid focal loss.
    """
    positives = max(int((labels > 0).sum()), 1)
    if kind == "ce":
        losses = F.cross_entropy(logits, mg.tensor(np.maximum(labels, 0), device=logits.device),
                                 reduction="none")
        mask = hard_negative_mask(losses.numpy(), labels, images, neg_pos_ratio)
        mask = mg.tensor(mask, dtype=logits.dtype, device=logits.device)
        return (losses * mask).sum() / positives
    if kind != "focal":
        raise ValueError(f"classification_loss: kind must be 'ce' or 'focal', got {kind!r}")
    C = logits.shape[1]
    target = (np.maximum(labels, 0)[:, None] == np.arange(1, C + 1)[None, :]).astype(np.float64)
    weight = np.where(target > 0, alpha, 1 - alpha) * (labels >= 0)[:, None]
    t = mg.tensor(target, dtype=logits.dtype, device=logits.device)
    p = mg.sigmoid(logits)
    p_t = p * t + (1 - p) * (1 - t)
    bce = F.binary_cross_entropy_with_logits(logits, t, reduction="none")
    w = mg.tensor(weight, dtype=logits.dtype, device=logits.device)
    return (bce * (1 - p_t) ** gamma * w).sum() / positives


BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)


def box_loss(deltas, anchors, matched, labels, kind="smooth_l1"):
    """The box-regression loss over positive anchors, divided by their number.

    Parameters
    ----------
    deltas : Tensor, shape (N*M, 4), predicted (dx, dy, dw, dh) with weights BOX_WEIGHTS
    anchors, matched : ndarray, shape (N*M, 4);  labels : ndarray, shape (N*M,)
    kind : {'smooth_l1', 'giou'}
        'smooth_l1' on the encoded deltas (beta 1/9), or ``1 - GIoU`` of the decoded boxes.
    """
    index = np.flatnonzero(labels > 0)
    if len(index) == 0:
        return deltas.sum() * 0.0
    pred = deltas[index]
    dtype, device = deltas.dtype, deltas.device
    anchor = mg.tensor(anchors[index], dtype=dtype, device=device)
    target = mg.tensor(matched[index], dtype=dtype, device=device)
    if kind == "smooth_l1":
        codes = F.encode_boxes(target, anchor, BOX_WEIGHTS)
        return F.smooth_l1_loss(pred, codes, reduction="sum", beta=1 / 9) / len(index)
    if kind != "giou":
        raise ValueError(f"box_loss: kind must be 'smooth_l1' or 'giou', got {kind!r}")
    boxes = F.decode_boxes(pred, anchor, BOX_WEIGHTS)
    return F.generalized_box_iou_loss(boxes, target, reduction="sum") / len(index)
