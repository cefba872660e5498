"""Slow, obvious NumPy references for the detection ops, written from their definitions.

Loops over every box, bin and sample in float64, sharing no code with ``minigrad``: each
function reads like PyTorch vision's description of the op, so that the kernels, written for
speed, are checked against something one can verify by eye.

Notation
--------
K             number of boxes;  rois  (K, 5): batch index, x1, y1, x2, y2
N, C, H, W    the feature map;  PH, PW  output size
"""
import itertools
import math

import numpy as np


def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def _bilinear(plane, y, x):
    """Bilinear read of one (H, W) plane at (y, x): 0 beyond one pixel outside, edge-clamped."""
    H, W = plane.shape
    if y < -1 or y > H or x < -1 or x > W:
        return 0.0
    y, x = min(max(y, 0.0), H - 1), min(max(x, 0.0), W - 1)
    y0, x0 = int(math.floor(y)), int(math.floor(x))
    y1, x1 = min(y0 + 1, H - 1), min(x0 + 1, W - 1)
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * plane[y0, x0] + (1 - ly) * lx * plane[y0, x1]
            + ly * (1 - lx) * plane[y1, x0] + ly * lx * plane[y1, x1])


def rois_of(boxes):
    """A (K, 5) array from a (K, 5) array or a list of (Ki, 4) arrays."""
    if isinstance(boxes, (list, tuple)):
        return np.concatenate([np.concatenate([np.full((len(b), 1), n), np.asarray(b)], 1)
                               for n, b in enumerate(boxes)] or [np.zeros((0, 5))])
    return np.asarray(boxes, dtype=np.float64)


def roi_align(x, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    rois = rois_of(boxes)
    PH, PW = _pair(output_size)
    y = np.zeros((len(rois), x.shape[1], PH, PW))
    offset = 0.5 if aligned else 0.0
    for k, (n, x1, y1, x2, y2) in enumerate(rois):
        sx, sy = x1 * spatial_scale - offset, y1 * spatial_scale - offset
        rw, rh = x2 * spatial_scale - offset - sx, y2 * spatial_scale - offset - sy
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / PH, rw / PW
        GH = sampling_ratio if sampling_ratio > 0 else math.ceil(rh / PH)
        GW = sampling_ratio if sampling_ratio > 0 else math.ceil(rw / PW)
        for c, ph, pw in itertools.product(range(x.shape[1]), range(PH), range(PW)):
            samples = [_bilinear(x[int(n), c], sy + ph * bh + (iy + 0.5) * bh / GH,
                                 sx + pw * bw + (ix + 0.5) * bw / GW)
                       for iy in range(GH) for ix in range(GW)]
            y[k, c, ph, pw] = sum(samples) / max(GH * GW, 1)
    return y


def _c_round(v):
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


def roi_pool(x, boxes, output_size, spatial_scale=1.0, return_argmax=False):
    rois = rois_of(boxes)
    PH, PW = _pair(output_size)
    N, C, H, W = x.shape
    y = np.zeros((len(rois), C, PH, PW))
    argmax = np.full(y.shape, -1, dtype=np.int64)
    for k, (n, x1, y1, x2, y2) in enumerate(rois):
        sw, sh, ew, eh = (_c_round(v * spatial_scale) for v in (x1, y1, x2, y2))
        bh, bw = max(eh - sh + 1, 1) / PH, max(ew - sw + 1, 1) / PW
        for ph, pw in itertools.product(range(PH), range(PW)):
            rows = range(min(max(math.floor(ph * bh) + sh, 0), H),
                         min(max(math.ceil((ph + 1) * bh) + sh, 0), H))
            cols = range(min(max(math.floor(pw * bw) + sw, 0), W),
                         min(max(math.ceil((pw + 1) * bw) + sw, 0), W))
            for c in range(C):
                cells = [(x[int(n), c, h, w], h * W + w) for h in rows for w in cols]
                if cells:  # the first of tied maxima
                    best = max(range(len(cells)), key=lambda i: (cells[i][0], -i))
                    y[k, c, ph, pw], argmax[k, c, ph, pw] = cells[best]
    return (y, argmax) if return_argmax else y


def small_integer_boxes(rng, K):
    """K boxes (x1, y1, x2, y2) in float64 with integer corners in [0, 6) and sides in [1, 4):
    small enough that exact overlaps and ties are common."""
    corner = rng.integers(0, 6, (K, 2)).astype(np.float64)
    return np.concatenate([corner, corner + rng.integers(1, 4, (K, 2))], axis=1)


def iou(a, b):
    w = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
    h = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def nms(boxes, scores, iou_threshold):
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if all(iou(boxes[i], boxes[j]) <= iou_threshold for j in keep):
            keep.append(i)
    return np.array(keep, dtype=np.int64)


def batched_nms(boxes, scores, idxs, iou_threshold):
    keep = []
    for i in sorted(range(len(scores)), key=lambda i: (-scores[i], i)):
        if all(idxs[j] != idxs[i] or iou(boxes[i], boxes[j]) <= iou_threshold for j in keep):
            keep.append(i)
    return np.array(keep, dtype=np.int64)


def box_iou(boxes1, boxes2):
    return np.array([[iou(a, b) for b in boxes2] for a in boxes1]).reshape(len(boxes1),
                                                                          len(boxes2))


def generalized_box_iou(boxes1, boxes2):
    out = np.zeros((len(boxes1), len(boxes2)))
    for i, j in itertools.product(range(len(boxes1)), range(len(boxes2))):
        a, b = boxes1[i], boxes2[j]
        c = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
        w = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
        h = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        out[i, j] = w * h / union - (c - union) / c
    return out


def generalized_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """1 - GIoU of matching rows, with ``eps`` in both denominators as PyTorch vision has it."""
    loss = []
    for a, b in zip(boxes1, boxes2):
        c = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
        w = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
        h = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
        loss.append(1 - (w * h / (union + eps) - (c - union) / (c + eps)))
    loss = np.array(loss)
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


def encode_boxes(reference_boxes, proposals, weights=(1.0, 1.0, 1.0, 1.0)):
    wx, wy, ww, wh = weights
    out = []
    for (bx1, by1, bx2, by2), (ax1, ay1, ax2, ay2) in zip(reference_boxes, proposals):
        aw, ah, bw, bh = ax2 - ax1, ay2 - ay1, bx2 - bx1, by2 - by1
        out.append([wx * ((bx1 + bw / 2) - (ax1 + aw / 2)) / aw,
                    wy * ((by1 + bh / 2) - (ay1 + ah / 2)) / ah,
                    ww * math.log(bw / aw), wh * math.log(bh / ah)])
    return np.array(out).reshape(-1, 4)


def decode_boxes(rel_codes, boxes, weights=(1.0, 1.0, 1.0, 1.0),
                 bbox_xform_clip=math.log(1000.0 / 16)):
    wx, wy, ww, wh = weights
    out = []
    for (dx, dy, dw, dh), (ax1, ay1, ax2, ay2) in zip(rel_codes, boxes):
        aw, ah = ax2 - ax1, ay2 - ay1
        cx, cy = ax1 + aw / 2 + dx / wx * aw, ay1 + ah / 2 + dy / wy * ah
        w = math.exp(min(dw / ww, bbox_xform_clip)) * aw
        h = math.exp(min(dh / wh, bbox_xform_clip)) * ah
        out.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    return np.array(out).reshape(-1, 4)
