"""A single-stage, anchor-based detector (the SSD / RetinaNet family, cut down to one scale).

    x (N, C_in, S, S)
    ─ backbone: [Conv3x3-BN-ReLU, MaxPool2d(2)] x (L-1), Conv3x3-BN-ReLU  -> (N, C_L, H, W)
    ─ head: Conv3x3-ReLU ─┬ Conv1x1 -> A x (K + 1) class logits per cell   (K + 1: background)
                          └ Conv1x1 -> A x 4 box deltas per cell
    H = W = S / 2^(L-1), the stride;  A = len(anchor_sizes) x len(aspect_ratios)

Every cell of the feature map holds A anchors; each anchor says "which class, if any, is here"
and "how to move me onto it". Training matches anchors to boxes (``targets.assign``); inference
decodes every anchor's box, keeps the confident ones and removes duplicates with NMS, per class.

Notation
--------
N       batch size;  K  classes (``num_classes``, without background);  M = H * W * A anchors
"""
import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad.checks import check_int
from layers import BatchNorm2d, Conv2d, MaxPool2d, Module, ReLU, Sequential
from models.detection import targets as T


def backbone(in_channels, channels):
    """Conv3x3-BN-ReLU stages, a 2x2 max pool between them: stride 2^(len(channels) - 1)."""
    stages, previous = [], in_channels
    for i, width in enumerate(channels):
        if i:
            stages.append(MaxPool2d(2))
        stages += [Conv2d(previous, width, 3, padding=1, bias=False), BatchNorm2d(width), ReLU()]
        previous = width
    return Sequential(*stages)


def cells_last(t, per_cell):
    """(N, A*P, H, W) -> (N, H*W*A, P): anchors in ``grid_anchors`` order, (h*W + w)*A + a."""
    N = t.shape[0]
    return t.permute(0, 2, 3, 1).reshape(N, -1, per_cell)


class SingleStageDetector(Module):
    """Anchor-based single-stage detector.

    Parameters
    ----------
    num_classes : int
        K, object classes (background is extra).
    in_channels : int, default 3
    channels : tuple of int, default (16, 32, 64)
        Backbone widths; stride 2^(len - 1).
    anchor_sizes : tuple of float, default (8, 16, 24);  aspect_ratios : default (1.0,)
    cls_loss : {'ce', 'focal'}, default 'ce'
        Cross-entropy with hard-negative mining, or the sigmoid focal loss.
    box_loss : {'smooth_l1', 'giou'}, default 'smooth_l1'
    """

    def __init__(self, num_classes, in_channels=3, channels=(16, 32, 64),
                 anchor_sizes=(8, 16, 24), aspect_ratios=(1.0,), cls_loss="ce",
                 box_loss="smooth_l1"):
        super().__init__()
        self.num_classes = check_int("SingleStageDetector", "num_classes", num_classes, 1)
        if cls_loss not in ("ce", "focal") or box_loss not in ("smooth_l1", "giou"):
            raise ValueError(f"SingleStageDetector: cls_loss must be 'ce' or 'focal' and box_loss "
                             f"'smooth_l1' or 'giou', got {cls_loss!r} and {box_loss!r}")
        self.cls_loss, self.box_loss = cls_loss, box_loss
        self.anchor_sizes, self.aspect_ratios = tuple(anchor_sizes), tuple(aspect_ratios)
        self.stride = 2 ** (len(channels) - 1)
        A = len(anchor_sizes) * len(aspect_ratios)
        self.outputs = num_classes + 1 if cls_loss == "ce" else num_classes
        self.backbone = backbone(in_channels, channels)
        self.head = Sequential(Conv2d(channels[-1], channels[-1], 3, padding=1), ReLU())
        self.cls = Conv2d(channels[-1], A * self.outputs, 1)
        self.box = Conv2d(channels[-1], A * 4, 1)

    def forward(self, x):
        """Class logits (N, M, K + 1 or K) and box deltas (N, M, 4) of every anchor."""
        h = self.head(self.backbone(x))
        return (cells_last(self.cls(h), self.outputs), cells_last(self.box(h), 4))

    def anchors(self, x):
        """The (M, 4) anchors of an input like ``x``, as a NumPy array."""
        H, W = x.shape[2] // self.stride, x.shape[3] // self.stride
        return F.grid_anchors((H, W), self.stride, self.anchor_sizes, self.aspect_ratios,
                              dtype=np.float64).numpy()

    def loss(self, x, targets):
        """Classification and box losses on a batch; ``targets`` is one dict per image with
        ``boxes`` (G, 4) and ``labels`` (G,) (classes 0..K-1). Returns a dict of Tensors."""
        logits, deltas = self(x)
        anchors = self.anchors(x)
        assigned = [T.assign(anchors, t["boxes"], t["labels"]) for t in targets]
        labels = np.concatenate([a[0] for a in assigned])
        matched = np.concatenate([a[1] for a in assigned])
        N = x.shape[0]
        cls = T.classification_loss(logits.reshape(-1, self.outputs), labels, N, self.cls_loss)
        box = T.box_loss(deltas.reshape(-1, 4), np.tile(anchors, (N, 1)), matched, labels,
                         self.box_loss)
        return {"cls": cls, "box": box, "total": cls + box}

    def class_scores(self, logits):
        """Per-class probabilities (N, M, K) from the logits."""
        if self.cls_loss == "ce":
            return F.softmax(logits, dim=-1)[:, :, 1:]
        return mg.sigmoid(logits)

    def detect(self, x, score_threshold=0.05, iou_threshold=0.5, max_detections=20):
        """Boxes, scores and labels per image after per-class NMS (a list of dicts of arrays)."""
        with mg.no_grad():
            logits, deltas = self(x)
            scores = self.class_scores(logits).numpy()
        anchors = self.anchors(x)
        out = []
        for n in range(x.shape[0]):
            boxes = F.decode_boxes(mg.tensor(deltas.numpy()[n], dtype=mg.float64),
                                   mg.tensor(anchors), T.BOX_WEIGHTS).numpy()
            out.append(select(boxes, scores[n], x.shape[2:], score_threshold, iou_threshold,
                              max_detections))
        return out


def select(boxes, scores, image_size, score_threshold, iou_threshold, max_detections,
           per_class_boxes=False):
    """Keep (box, class) pairs scoring above the threshold, NMS per class, the best few.

    boxes : (M, 4) shared by every class, or (M, K, 4) with ``per_class_boxes``
    scores : (M, K)
    """
    anchor, label = np.nonzero(scores > score_threshold)
    score = scores[anchor, label]
    top = np.argsort(-score, kind="stable")[:1000]
    anchor, label, score = anchor[top], label[top], score[top]
    chosen = boxes[anchor, label] if per_class_boxes else boxes[anchor]
    H, W = image_size
    chosen = np.clip(chosen, 0, [W, H, W, H])
    keep = F.batched_nms(mg.tensor(chosen), mg.tensor(score), mg.tensor(label),
                         iou_threshold).numpy()[:max_detections]
    return {"boxes": chosen[keep], "scores": score[keep], "labels": label[keep]}
