"""Boxes: areas, formats, overlaps, the deltas a detector regresses, and anchors (PyTorch vision).

Boxes are rows of four numbers. The native format is ``xyxy`` (x1, y1, x2, y2: corners, with
x2 >= x1 and y2 >= y1); ``xywh`` keeps the top-left corner and the size, ``cxcywh`` the centre
and the size. Every function here is a composition of minigrad ops, so IoU, GIoU and the box
codings are differentiable (GIoU is a loss) to any order, with no Function of their own.

Overlap of two boxes A and B, and the smallest box C that encloses both::

    IoU  = |A n B| / |A u B|                       in [0, 1]; 0 for disjoint boxes, flat there
    GIoU = IoU - |C minus (A u B)| / |C|           in (-1, 1]; still says how far apart they are

Faster R-CNN regresses a box ``b`` relative to an anchor (or proposal) ``a`` as four deltas,
scaled by weights (wx, wy, ww, wh)::

    dx = wx (bx - ax) / aw     dy = wy (by - ay) / ah     (centres, in anchor widths/heights)
    dw = ww log(bw / aw)       dh = wh log(bh / ah)       (log sizes: scale-invariant)

Decoding inverts that, after clamping dw/ww and dh/wh at log(1000/16), so that exp cannot blow
up a box to more than 1000/16 times its anchor.

Notation
--------
N, M          numbers of boxes in the two sets compared
x1, y1, x2, y2  corners;  cx, cy  centre;  w, h  size
A             anchors per location (len(sizes) * len(aspect_ratios))
"""
import math

import numpy as np

from ..backend import module_for
from ..tensor import Tensor
from .elementwise import exp, log, clip, maximum, minimum
from .shape import stack

FORMATS = ("xyxy", "xywh", "cxcywh")
BBOX_XFORM_CLIP = math.log(1000.0 / 16)


def _check_boxes(op, boxes, name="boxes"):
    if not isinstance(boxes, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(boxes).__name__}")
    if boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"{op}: {name} must have shape (..., 4), got {boxes.shape}")
    if boxes.data.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be floating point, got dtype {boxes.data.dtype}")


def _columns(boxes):
    return (boxes[..., 0], boxes[..., 1], boxes[..., 2], boxes[..., 3])


def box_area(boxes):
    """Area of each xyxy box: ``(x2 - x1) * (y2 - y1)``.

    Parameters
    ----------
    boxes : Tensor, shape (N, 4)

    Returns
    -------
    Tensor, shape (N,)

    >>> import minigrad as mg
    >>> box_area(mg.tensor([[0., 0., 2., 3.], [1., 1., 2., 2.]])).tolist()
    [6.0, 1.0]
    """
    _check_boxes("box_area", boxes)
    x1, y1, x2, y2 = _columns(boxes)
    return (x2 - x1) * (y2 - y1)


def box_convert(boxes, in_fmt, out_fmt):
    """Convert boxes between the ``xyxy``, ``xywh`` and ``cxcywh`` formats.

    Parameters
    ----------
    boxes : Tensor, shape (N, 4)
    in_fmt, out_fmt : {'xyxy', 'xywh', 'cxcywh'}

    Returns
    -------
    Tensor, shape (N, 4)

    >>> import minigrad as mg
    >>> box_convert(mg.tensor([[1., 2., 5., 4.]]), 'xyxy', 'cxcywh').tolist()
    [[3.0, 3.0, 4.0, 2.0]]
    """
    op = "box_convert"
    _check_boxes(op, boxes)
    for name, fmt in (("in_fmt", in_fmt), ("out_fmt", out_fmt)):
        if fmt not in FORMATS:
            raise ValueError(f"{op}: {name} must be one of {FORMATS}, got {fmt!r}")
    a, b, c, d = _columns(boxes)
    if in_fmt == "xywh":
        a, b, c, d = (a, b, a + c, b + d)
    elif in_fmt == "cxcywh":
        a, b, c, d = (a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d)
    if out_fmt == "xywh":
        a, b, c, d = (a, b, c - a, d - b)
    elif out_fmt == "cxcywh":
        a, b, c, d = ((a + c) * 0.5, (b + d) * 0.5, c - a, d - b)
    return stack([a, b, c, d], dim=-1)


def _overlap(boxes1, boxes2):
    """Pairwise ``(intersection, union)`` of two sets of xyxy boxes, each of shape (N, M)."""
    a, b = boxes1[:, None, :], boxes2[None, :, :]
    w = clip(minimum(a[..., 2], b[..., 2]) - maximum(a[..., 0], b[..., 0]), 0, None)
    h = clip(minimum(a[..., 3], b[..., 3]) - maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    union = box_area(boxes1)[:, None] + box_area(boxes2)[None, :] - inter
    return (inter, union)


def _enclosing_area(boxes1, boxes2):
    """Area of the smallest box around each pair, shape (N, M)."""
    a, b = boxes1[:, None, :], boxes2[None, :, :]
    w = maximum(a[..., 2], b[..., 2]) - minimum(a[..., 0], b[..., 0])
    h = maximum(a[..., 3], b[..., 3]) - minimum(a[..., 1], b[..., 1])
    return w * h


def box_iou(boxes1, boxes2):
    """Intersection over union of every pair of xyxy boxes.

    Parameters
    ----------
    boxes1 : Tensor, shape (N, 4);  boxes2 : Tensor, shape (M, 4)
        Boxes of positive area (a pair of empty boxes has no IoU: 0/0).

    Returns
    -------
    Tensor, shape (N, M)

    >>> import minigrad as mg
    >>> a = mg.tensor([[0., 0., 2., 2.]])
    >>> box_iou(a, mg.tensor([[1., 0., 3., 2.], [5., 5., 6., 6.]])).tolist()
    [[0.3333333432674408, 0.0]]
    """
    _check_boxes("box_iou", boxes1, "boxes1")
    _check_boxes("box_iou", boxes2, "boxes2")
    inter, union = _overlap(boxes1, boxes2)
    return inter / union


def generalized_box_iou(boxes1, boxes2):
    """GIoU of every pair: IoU minus the share of the enclosing box that neither box covers.

    Unlike IoU, GIoU keeps a gradient for disjoint boxes (it pulls them together), which makes
    ``1 - GIoU`` a usable box-regression loss.

    Parameters
    ----------
    boxes1 : Tensor, shape (N, 4);  boxes2 : Tensor, shape (M, 4)

    Returns
    -------
    Tensor, shape (N, M), values in (-1, 1]

    >>> import minigrad as mg
    >>> generalized_box_iou(mg.tensor([[0., 0., 1., 1.]]), mg.tensor([[2., 0., 3., 1.]])).tolist()
    [[-0.3333333432674408]]
    """
    _check_boxes("generalized_box_iou", boxes1, "boxes1")
    _check_boxes("generalized_box_iou", boxes2, "boxes2")
    inter, union = _overlap(boxes1, boxes2)
    enclosing = _enclosing_area(boxes1, boxes2)
    return inter / union - (enclosing - union) / enclosing


def generalized_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """``1 - GIoU`` of matching rows (box i of ``boxes1`` against box i of ``boxes2``).

    ``eps`` keeps the divisions finite for degenerate (zero-area) boxes, as in PyTorch vision.

    Parameters
    ----------
    boxes1, boxes2 : Tensor, shape (N, 4)
    reduction : {'none', 'mean', 'sum'}
    eps : float

    Returns
    -------
    Tensor, shape (N,) for 'none', else a scalar; values in [0, 2)

    >>> import minigrad as mg
    >>> a, b = mg.tensor([[0., 0., 1., 1.]]), mg.tensor([[2., 0., 3., 1.]])
    >>> loss = generalized_box_iou_loss(a, b)
    >>> [round(v, 4) for v in loss.tolist()]
    [1.3333]
    """
    op = "generalized_box_iou_loss"
    _check_boxes(op, boxes1, "boxes1")
    _check_boxes(op, boxes2, "boxes2")
    if boxes1.shape != boxes2.shape:
        raise ValueError(f"{op}: boxes1 {boxes1.shape} and boxes2 {boxes2.shape} must match")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    ax1, ay1, ax2, ay2 = _columns(boxes1)
    bx1, by1, bx2, by2 = _columns(boxes2)
    inter = (clip(minimum(ax2, bx2) - maximum(ax1, bx1), 0, None)
             * clip(minimum(ay2, by2) - maximum(ay1, by1), 0, None))
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    enclosing = ((maximum(ax2, bx2) - minimum(ax1, bx1))
                 * (maximum(ay2, by2) - minimum(ay1, by1)))
    giou = inter / (union + eps) - (enclosing - union) / (enclosing + eps)
    loss = 1 - giou
    if reduction == "mean":
        return loss.mean() if loss.numel() else loss.sum()  # 0 for no boxes, as torchvision
    return loss.sum() if reduction == "sum" else loss


def _weights(op, weights):
    weights = tuple(float(w) for w in weights)
    if len(weights) != 4 or not all(math.isfinite(w) and w > 0 for w in weights):
        raise ValueError(f"{op}: weights must be four finite positive numbers (wx, wy, ww, wh), "
                         f"got {weights}")
    return weights


def _centres(boxes):
    x1, y1, x2, y2 = _columns(boxes)
    w, h = x2 - x1, y2 - y1
    return (x1 + 0.5 * w, y1 + 0.5 * h, w, h)


def encode_boxes(reference_boxes, proposals, weights=(1.0, 1.0, 1.0, 1.0)):
    """The deltas (dx, dy, dw, dh) that take each proposal (anchor) to its reference box.

    Parameters
    ----------
    reference_boxes : Tensor, shape (N, 4), xyxy: the targets (ground truth)
    proposals : Tensor, shape (N, 4), xyxy: the anchors, of positive width and height
    weights : (wx, wy, ww, wh)
        Scale the deltas; Faster R-CNN's box head uses (10, 10, 5, 5).

    Returns
    -------
    Tensor, shape (N, 4)

    >>> import minigrad as mg
    >>> encode_boxes(mg.tensor([[1., 0., 3., 4.]]), mg.tensor([[0., 0., 2., 2.]])).tolist()
    [[0.5, 0.5, 0.0, 0.6931471824645996]]
    """
    op = "encode_boxes"
    _check_boxes(op, reference_boxes, "reference_boxes")
    _check_boxes(op, proposals, "proposals")
    if reference_boxes.shape != proposals.shape:
        raise ValueError(f"{op}: reference_boxes {reference_boxes.shape} and proposals "
                         f"{proposals.shape} must match")
    wx, wy, ww, wh = _weights(op, weights)
    ax, ay, aw, ah = _centres(proposals)
    bx, by, bw, bh = _centres(reference_boxes)
    return stack([wx * (bx - ax) / aw, wy * (by - ay) / ah,
                  ww * log(bw / aw), wh * log(bh / ah)], dim=-1)


def decode_boxes(rel_codes, boxes, weights=(1.0, 1.0, 1.0, 1.0),
                 bbox_xform_clip=BBOX_XFORM_CLIP):
    """Apply deltas (dx, dy, dw, dh) to boxes: the inverse of :func:`encode_boxes`.

    dw/ww and dh/wh are clamped at ``bbox_xform_clip`` (log(1000/16)) before ``exp``, so an
    untrained regressor cannot produce an infinite box.

    Parameters
    ----------
    rel_codes : Tensor, shape (N, 4)
    boxes : Tensor, shape (N, 4), xyxy anchors or proposals
    weights : (wx, wy, ww, wh)
    bbox_xform_clip : float

    Returns
    -------
    Tensor, shape (N, 4), xyxy

    >>> import minigrad as mg
    >>> codes = mg.tensor([[0.5, 0.5, 0.0, 0.6931471824645996]])
    >>> decode_boxes(codes, mg.tensor([[0., 0., 2., 2.]])).tolist()
    [[1.0, 0.0, 3.0, 4.0]]
    """
    op = "decode_boxes"
    _check_boxes(op, rel_codes, "rel_codes")
    _check_boxes(op, boxes)
    if rel_codes.shape != boxes.shape:
        raise ValueError(f"{op}: rel_codes {rel_codes.shape} and boxes {boxes.shape} must match")
    wx, wy, ww, wh = _weights(op, weights)
    ax, ay, aw, ah = _centres(boxes)
    dx, dy, dw, dh = _columns(rel_codes)
    cx = dx / wx * aw + ax
    cy = dy / wy * ah + ay
    w = exp(clip(dw / ww, None, bbox_xform_clip)) * aw
    h = exp(clip(dh / wh, None, bbox_xform_clip)) * ah
    return stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


def base_anchors(sizes, aspect_ratios):
    """The A anchors centred on the origin: every size at every aspect ratio (h / w).

    An anchor of size s and ratio r has area s*s: width s / sqrt(r), height s * sqrt(r);
    corners are rounded to whole pixels, as in PyTorch vision's AnchorGenerator.

    Returns
    -------
    ndarray, shape (A, 4), ``A = len(sizes) * len(aspect_ratios)``, ratio-major
    """
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1)
    ratios = np.asarray(aspect_ratios, dtype=np.float64).reshape(-1)
    if sizes.size == 0 or ratios.size == 0 or not (sizes > 0).all() or not (ratios > 0).all():
        raise ValueError(f"base_anchors: sizes {sizes.tolist()} and aspect_ratios "
                         f"{ratios.tolist()} must be non-empty and positive")
    h_ratios = np.sqrt(ratios)
    ws = (sizes[None, :] / h_ratios[:, None]).reshape(-1)
    hs = (sizes[None, :] * h_ratios[:, None]).reshape(-1)
    return np.round(np.stack([-ws, -hs, ws, hs], axis=1) / 2)


def grid_anchors(feature_size, stride, sizes, aspect_ratios, dtype=None, device="cpu"):
    """Anchors over a feature map: the A base anchors shifted to every cell's top-left pixel.

    Parameters
    ----------
    feature_size : (int, int), the map's (H, W)
    stride : int or (int, int), image pixels per map cell
    sizes, aspect_ratios : sequences of floats

    Returns
    -------
    Tensor, shape (H * W * A, 4), xyxy in image pixels; row ``(h * W + w) * A + a``

    >>> grid_anchors((1, 2), 8, [4], [1.0]).tolist()
    [[-2.0, -2.0, 2.0, 2.0], [6.0, -2.0, 10.0, 2.0]]
    """
    H, W = (int(v) for v in feature_size)
    SH, SW = (stride, stride) if np.isscalar(stride) else stride
    if H < 0 or W < 0 or SH <= 0 or SW <= 0:
        raise ValueError(f"grid_anchors: feature_size {(H, W)} must be >= 0 and stride "
                         f"{(SH, SW)} > 0")
    base = base_anchors(sizes, aspect_ratios)
    ys, xs = np.meshgrid(np.arange(H) * SH, np.arange(W) * SW, indexing="ij")
    shifts = np.stack([xs, ys, xs, ys], axis=-1).reshape(-1, 1, 4)
    anchors = (shifts + base[None]).reshape(-1, 4)
    xp = module_for(device)
    return Tensor(xp.asarray(anchors.astype(dtype or np.float32)))
