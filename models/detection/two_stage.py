"""A two-stage detector (the Faster R-CNN recipe, one scale): propose, then crop and classify.

    x ─ backbone ─ features (N, C_L, H, W) ─┬ RPN: Conv3x3-ReLU ─ objectness (A per cell)
                                            │                   └ deltas (A x 4 per cell)
                                            │   -> decode, NMS -> proposals (P per image)
                                            └ roi_align(features, proposals, R x R)
                                                ─ Flatten ─ Linear ─ ReLU ─ Linear ─ ReLU
                                                ─┬ Linear -> K + 1 class logits
                                                 └ Linear -> 4 deltas w.r.t. the proposal

Stage one (the region proposal network) only asks "is there an object near this anchor?";
stage two looks again at each proposal through a fixed-size crop of the features (RoI Align,
so the crop follows the proposal to a fraction of a pixel) and decides the class and refines
the box. The proposals carry no gradient: they choose where to crop, as in Faster R-CNN.

Notation
--------
N   batch size;  K  classes;  A  anchors per cell;  P  proposals per image;  R  ``roi_size``
"""
import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad.checks import check_int
from layers import Conv2d, Flatten, Linear, Module, ReLU, Sequential
from models.detection import targets as T
from models.detection.single_stage import backbone, cells_last, select


class TwoStageDetector(Module):
    """RPN proposals, then RoI Align crops, classification and box refinement.

    Parameters
    ----------
    num_classes : int
    in_channels : int, default 3
    channels : tuple of int, default (16, 32, 64)
    anchor_sizes : default (8, 16, 24);  aspect_ratios : default (1.0,)
    roi_size : int, default 4
        R, the side of each RoI Align crop.
    hidden : int, default 128
    post_nms : int, default 32
        P, proposals kept per image after the RPN's NMS (IoU 0.7).
    """

    def __init__(self, num_classes, in_channels=3, channels=(16, 32, 64),
                 anchor_sizes=(8, 16, 24), aspect_ratios=(1.0,), roi_size=4, hidden=128,
                 post_nms=32):
        super().__init__()
        owner = "TwoStageDetector"
        self.num_classes = check_int(owner, "num_classes", num_classes, 1)
        self.roi_size = check_int(owner, "roi_size", roi_size, 1)
        self.post_nms = check_int(owner, "post_nms", post_nms, 1)
        self.anchor_sizes, self.aspect_ratios = tuple(anchor_sizes), tuple(aspect_ratios)
        self.stride = 2 ** (len(channels) - 1)
        A, C = len(anchor_sizes) * len(aspect_ratios), channels[-1]
        self.backbone = backbone(in_channels, channels)
        self.rpn = Sequential(Conv2d(C, C, 3, padding=1), ReLU())
        self.objectness = Conv2d(C, A, 1)
        self.rpn_box = Conv2d(C, A * 4, 1)
        self.roi_head = Sequential(Flatten(), Linear(C * roi_size * roi_size, hidden), ReLU(),
                                   Linear(hidden, hidden), ReLU())
        self.cls = Linear(hidden, num_classes + 1)
        self.box = Linear(hidden, 4)

    def anchors(self, x):
        H, W = x.shape[2] // self.stride, x.shape[3] // self.stride
        return F.grid_anchors((H, W), self.stride, self.anchor_sizes, self.aspect_ratios,
                              dtype=np.float64).numpy()

    def propose(self, objectness, deltas, anchors, image_size):
        """Per image, the best ``post_nms`` decoded anchors after NMS at IoU 0.7 (no gradient)."""
        H, W = image_size
        out = []
        for n in range(objectness.shape[0]):
            boxes = F.decode_boxes(mg.tensor(deltas[n], dtype=mg.float64), mg.tensor(anchors),
                                   T.BOX_WEIGHTS).numpy()
            boxes = np.clip(boxes, 0, [W, H, W, H])
            score = objectness[n, :, 0]
            top = np.argsort(-score, kind="stable")[:300]
            keep = F.nms(mg.tensor(boxes[top]), mg.tensor(score[top]), 0.7).numpy()
            out.append(boxes[top[keep[:self.post_nms]]])
        return out

    def _stage_one(self, x):
        features = self.backbone(x)
        h = self.rpn(features)
        return (features, cells_last(self.objectness(h), 1), cells_last(self.rpn_box(h), 4))

    def _stage_two(self, features, proposals):
        crops = F.roi_align(features, [mg.tensor(p, dtype=features.dtype) for p in proposals],
                            self.roi_size, 1.0 / self.stride, 2, True)
        h = self.roi_head(crops)
        return (self.cls(h), self.box(h))

    def loss(self, x, targets):
        """RPN (objectness, box) and RoI head (class, box) losses; a dict of Tensors."""
        features, objectness, deltas = self._stage_one(x)
        anchors = self.anchors(x)
        N = x.shape[0]
        assigned = [T.assign(anchors, t["boxes"], np.zeros(len(t["boxes"]), dtype=np.int64),
                             0.7, 0.3) for t in targets]
        labels = np.concatenate([a[0] for a in assigned])
        matched = np.concatenate([a[1] for a in assigned])
        rpn_cls = T.classification_loss(objectness.reshape(-1, 1), labels, N, "focal")
        rpn_box = T.box_loss(deltas.reshape(-1, 4), np.tile(anchors, (N, 1)), matched, labels)
        proposals = self.propose(objectness.numpy(), deltas.numpy(), anchors, x.shape[2:])
        # the true boxes join the proposals, so stage two sees good crops from the first step
        proposals = [np.concatenate([p, np.asarray(t["boxes"], dtype=np.float64).reshape(-1, 4)])
                     for p, t in zip(proposals, targets)]
        assigned = [T.assign(p, t["boxes"], t["labels"], 0.5, 0.5)
                    for p, t in zip(proposals, targets)]
        roi_labels = np.concatenate([a[0] for a in assigned])
        roi_matched = np.concatenate([a[1] for a in assigned])
        logits, roi_deltas = self._stage_two(features, proposals)
        roi_cls = F.cross_entropy(logits, mg.tensor(roi_labels, device=x.device))
        roi_box = T.box_loss(roi_deltas, np.concatenate(proposals), roi_matched, roi_labels)
        total = rpn_cls + rpn_box + roi_cls + roi_box
        return {"rpn_cls": rpn_cls, "rpn_box": rpn_box, "cls": roi_cls, "box": roi_box,
                "total": total}

    def detect(self, x, score_threshold=0.05, iou_threshold=0.5, max_detections=20):
        """Boxes, scores and labels per image after per-class NMS (a list of dicts of arrays)."""
        with mg.no_grad():
            features, objectness, deltas = self._stage_one(x)
            proposals = self.propose(objectness.numpy(), deltas.numpy(), self.anchors(x),
                                     x.shape[2:])
            logits, roi_deltas = self._stage_two(features, proposals)
            scores = F.softmax(logits, dim=-1).numpy()[:, 1:]
        flat = np.concatenate(proposals)
        boxes = F.decode_boxes(mg.tensor(roi_deltas.numpy(), dtype=mg.float64), mg.tensor(flat),
                               T.BOX_WEIGHTS).numpy()
        out, start = [], 0
        for p in proposals:
            stop = start + len(p)
            out.append(select(boxes[start:stop], scores[start:stop], x.shape[2:],
                              score_threshold, iou_threshold, max_detections))
            start = stop
        return out
