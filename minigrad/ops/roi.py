"""Regions of interest: RoI Align, RoI Pool and non-maximum suppression (PyTorch vision's ops).

A two-stage detector crops a fixed-size feature grid out of the backbone's map for every
proposed box. RoI Pool (Fast R-CNN) rounds the box to whole pixels and max-pools each bin;
RoI Align (Mask R-CNN) avoids the rounding: it averages bilinear samples taken at exact
sub-pixel positions, so the crop moves smoothly with the box. Both are linear in the feature
map once the positions they read are fixed, so they come in closed adjoint families (STYLE C3)::

    RoIAlign.backward(g)         -> RoIAlignAdjoint(g)     (spread each bin onto its taps)
    RoIAlignAdjoint.backward(g)  -> RoIAlign(g)            (closed: grad of grad is free)
    RoIPool.forward              -> (y, argmax); argmax kept as a raw array
    RoIPool.backward(g)          -> RoIPoolAdjoint(g)      (scatter at the argmax)
    RoIPoolAdjoint.backward(g)   -> RoIPoolGather(g)       (read at the argmax)
    RoIPoolGather.backward(g)    -> RoIPoolAdjoint(g)

No gradient flows into the boxes (as in PyTorch vision): they choose where to read, and only
index and weight the map. NMS is not differentiable; it returns the indices of the boxes it keeps.

Every check (shapes, dtypes, batch indices in range, finite coordinates and scale, output size
at least 1x1) runs before any kernel and raises an error that names the op.

Notation
--------
N, C, H, W    the feature map;  K  number of boxes
rois          (K, 5) raw array: batch index, x1, y1, x2, y2 (in image pixels)
PH, PW        ``output_size``;  argmax  int64 (K, C, PH, PW), -1 for an empty bin
"""
import numpy as np

from ..autograd import Function
from ..backend import kernels_for, to_device, device_of, to_numpy, module_for
from ..checks import check_bool, check_int, check_number, pair
from ..kernels import geometry
from ..tensor import Tensor


def _raw(op, name, value):
    """The raw array behind a Tensor or array-like ``value``."""
    if isinstance(value, Tensor):
        return value.data
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        return value
    raise TypeError(f"{op}: {name} must be a Tensor or an array, got {type(value).__name__}")


def _rois(op, boxes, x):
    """``boxes`` as a (K, 5) array of ``x``'s dtype on ``x``'s device.

    ``boxes`` is either a (K, 5) Tensor (batch index, x1, y1, x2, y2) or a list of N Tensors of
    shape (Ki, 4), one per image, as in PyTorch vision.
    """
    device = device_of(x.data)
    if isinstance(boxes, (list, tuple)):
        parts = []
        for n, b in enumerate(boxes):
            b = to_numpy(_raw(op, f"boxes[{n}]", b))
            if b.ndim != 2 or b.shape[1] != 4:
                raise ValueError(f"{op}: each box tensor in the list must have shape (Ki, 4), "
                                 f"got {tuple(b.shape)} for image {n}")
            parts.append(np.concatenate([np.full((b.shape[0], 1), n, dtype=np.float64),
                                         b.astype(np.float64)], axis=1))
        rois = np.concatenate(parts) if parts else np.zeros((0, 5))
        return to_device(rois.astype(x.data.dtype), device)
    rois = _raw(op, "boxes", boxes)
    if rois.ndim != 2 or rois.shape[1] != 5:
        raise ValueError(f"{op}: boxes must be a (K, 5) Tensor (batch index, x1, y1, x2, y2) or "
                         f"a list of (Ki, 4) Tensors, got shape {tuple(rois.shape)}")
    if rois.dtype.kind not in "fiu":
        raise TypeError(f"{op}: boxes must be numeric, got dtype {rois.dtype}")
    return to_device(rois, device).astype(x.data.dtype, copy=False)


def _check_map(op, x):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{op}: expected an input of shape (N, C, H, W), got shape {x.shape}")
    geometry.check_float(op, "the input", x.data.dtype)
    geometry.check_planes(op, x.shape, "the input")


def _arguments(op, x, boxes, output_size, spatial_scale):
    """The checked ``(rois, (PH, PW), spatial_scale)`` shared by both ops."""
    _check_map(op, x)
    PH, PW = pair(op, "output_size", output_size)
    if PH < 1 or PW < 1:
        raise ValueError(f"{op}: output_size must be at least (1, 1), got {(PH, PW)}")
    scale = check_number(op, "spatial_scale", spatial_scale, low=0, low_open=True)
    if not np.isfinite(scale):
        raise ValueError(f"{op}: spatial_scale must be finite, got {spatial_scale}")
    rois = _rois(op, boxes, x)
    from ..kernels.roi_geometry import check_rois
    check_rois(op, x.shape, x.data.dtype, rois, PH, PW)
    return (rois, (PH, PW), float(scale))


class RoIAlign(Function):
    """y[k, c, ph, pw] = mean over the bin's samples of bilinear(x[n_k, c], point);
    dL/dx = each g[k, c, ph, pw] / count spread onto the four taps of each sample."""

    @staticmethod
    def forward(ctx, x, *, rois, spatial_scale, output_size, sampling_ratio, aligned):
        ctx.args = (rois, spatial_scale, sampling_ratio, aligned)
        ctx.plane = (x.shape[0], x.shape[2], x.shape[3])
        return kernels_for(x).roi_align(x, rois, spatial_scale, *output_size, sampling_ratio,
                                        aligned)

    @staticmethod
    def backward(ctx, grad_output):
        rois, spatial_scale, sampling_ratio, aligned = ctx.args
        return RoIAlignAdjoint.apply(grad_output, rois=rois, spatial_scale=spatial_scale,
                                     plane=ctx.plane, sampling_ratio=sampling_ratio,
                                     aligned=aligned)


class RoIAlignAdjoint(Function):
    """out = the adjoint of RoI Align applied to g (a scatter);  dL/dg = RoI Align of the grad."""

    @staticmethod
    def forward(ctx, g, *, rois, spatial_scale, plane, sampling_ratio, aligned):
        ctx.args = (rois, spatial_scale, sampling_ratio, aligned)
        ctx.output_size = g.shape[2:]
        return kernels_for(g).roi_align_adjoint(g, rois, spatial_scale, *plane, sampling_ratio,
                                                aligned)

    @staticmethod
    def backward(ctx, grad_output):
        rois, spatial_scale, sampling_ratio, aligned = ctx.args
        return RoIAlign.apply(grad_output, rois=rois, spatial_scale=spatial_scale,
                              output_size=ctx.output_size, sampling_ratio=sampling_ratio,
                              aligned=aligned)


class RoIPool(Function):
    """y = max of x[n_k, c] over each bin (argmax = where);  dL/dx = g added at the argmax."""

    @staticmethod
    def forward(ctx, x, *, rois, spatial_scale, output_size):
        y, argmax = kernels_for(x).roi_pool(x, rois, spatial_scale, *output_size)
        ctx.rois, ctx.argmax = rois, argmax  # only index in backward (STYLE C2)
        ctx.plane = (x.shape[0], x.shape[2], x.shape[3])
        return (y, argmax)

    @staticmethod
    def backward(ctx, grad_output, grad_argmax):
        return RoIPoolAdjoint.apply(grad_output, rois=ctx.rois, argmax=ctx.argmax,
                                    plane=ctx.plane)


class RoIPoolAdjoint(Function):
    """out[n_k, c].flat[argmax] += g[k, c];  dL/dg = grad read at the argmax (a gather)."""

    @staticmethod
    def forward(ctx, g, *, rois, argmax, plane):
        ctx.rois, ctx.argmax = rois, argmax
        return kernels_for(g).roi_pool_adjoint(g, rois, argmax, *plane)

    @staticmethod
    def backward(ctx, grad_output):
        return RoIPoolGather.apply(grad_output, rois=ctx.rois, argmax=ctx.argmax)


class RoIPoolGather(Function):
    """y[k, c] = x[n_k, c].flat[argmax] (0 where -1);  dL/dx = g added at the argmax."""

    @staticmethod
    def forward(ctx, x, *, rois, argmax):
        ctx.rois, ctx.argmax = rois, argmax
        ctx.plane = (x.shape[0], x.shape[2], x.shape[3])
        return kernels_for(x).roi_pool_gather(x, rois, argmax)

    @staticmethod
    def backward(ctx, grad_output):
        return RoIPoolAdjoint.apply(grad_output, rois=ctx.rois, argmax=ctx.argmax,
                                    plane=ctx.plane)


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """Crop a fixed-size grid of features for every box by averaging bilinear samples.

    Each box, scaled by ``spatial_scale`` into the map's pixels (and shifted by half a pixel
    when ``aligned``), is split into PH x PW bins; each bin averages GH x GW bilinear samples
    at the centres of equal sub-cells. A sample more than a pixel outside the map reads 0.

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W)
    boxes : Tensor, shape (K, 5), or list of N Tensors of shape (Ki, 4)
        xyxy boxes in image pixels; a (K, 5) Tensor starts each row with its batch index.
    output_size : int or (int, int)
        (PH, PW), at least 1.
    spatial_scale : float
        Map pixels per image pixel, e.g. 1/16 for a stride-16 backbone; finite and > 0.
    sampling_ratio : int
        Samples per bin along each axis; 0 or less picks ``ceil(box size / bins)`` per box.
    aligned : bool
        Shift boxes by -0.5 pixel, so that pixel centres sit at integer + 0.5 (recommended;
        False keeps the legacy rule, which also makes every box at least 1x1).

    Returns
    -------
    Tensor, shape (K, C, PH, PW); differentiable in ``input`` (and twice), not in ``boxes``.

    >>> import minigrad as mg
    >>> x = mg.arange(16.).reshape(1, 1, 4, 4)
    >>> roi_align(x, mg.tensor([[0., 0., 0., 4., 4.]]), 2, aligned=True).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    op = "roi_align"
    rois, size, scale = _arguments(op, input, boxes, output_size, spatial_scale)
    ratio = check_int(op, "sampling_ratio", sampling_ratio)
    aligned = check_bool(op, "aligned", aligned)
    return RoIAlign.apply(input, rois=rois, spatial_scale=scale, output_size=size,
                          sampling_ratio=ratio, aligned=aligned)


def roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """Crop a fixed-size grid of features for every box by max pooling (Fast R-CNN).

    The scaled box is rounded to whole pixels (halves away from zero), split into PH x PW bins
    with floor/ceil edges, and each bin takes its maximum; a bin that falls off the map gives 0.

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W)
    boxes : Tensor, shape (K, 5), or list of N Tensors of shape (Ki, 4)
    output_size : int or (int, int)
    spatial_scale : float

    Returns
    -------
    Tensor, shape (K, C, PH, PW); the gradient goes to each bin's first maximum.

    >>> import minigrad as mg
    >>> x = mg.arange(16.).reshape(1, 1, 4, 4)
    >>> roi_pool(x, [mg.tensor([[0., 0., 3., 3.]])], 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    rois, size, scale = _arguments("roi_pool", input, boxes, output_size, spatial_scale)
    y, argmax = RoIPool.apply(input, rois=rois, spatial_scale=scale, output_size=size)
    return y


def _boxes_scores(op, boxes, scores):
    boxes, scores = _raw(op, "boxes", boxes), _raw(op, "scores", scores)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.shape != (boxes.shape[0],):
        raise ValueError(f"{op}: expected boxes of shape (K, 4) and scores of shape (K,), got "
                         f"{tuple(boxes.shape)} and {tuple(scores.shape)}")
    if boxes.dtype.kind not in "fiu" or scores.dtype.kind not in "fiu":
        raise TypeError(f"{op}: boxes and scores must be numeric, got {boxes.dtype} and "
                        f"{scores.dtype}")
    return (boxes, scores)


def _descending(scores):
    """Indices that sort ``scores`` from high to low, ties kept in index order (a stable sort,
    as PyTorch vision's CPU NMS uses), as a host int64 array."""
    return np.argsort(-to_numpy(scores).astype(np.float64), kind="stable").astype(np.int64)


def nms(boxes, scores, iou_threshold):
    """Non-maximum suppression: keep the best box, drop those that overlap it, repeat.

    Boxes are visited from the highest score down (ties in index order); each box that is
    still standing is kept and removes every later box whose IoU with it is *strictly*
    greater than ``iou_threshold``.

    Parameters
    ----------
    boxes : Tensor, shape (K, 4), xyxy
    scores : Tensor, shape (K,)
    iou_threshold : float

    Returns
    -------
    Tensor of int64, shape (M,): the kept indices, by decreasing score.

    >>> import minigrad as mg
    >>> b = mg.tensor([[0., 0., 2., 2.], [0., 0., 2., 1.], [3., 3., 4., 4.]])
    >>> nms(b, mg.tensor([0.9, 0.8, 0.7]), 0.5).tolist()  # IoU 0.5 is not > 0.5: kept
    [0, 1, 2]
    >>> nms(b, mg.tensor([0.9, 0.8, 0.7]), 0.4).tolist()
    [0, 2]
    """
    op = "nms"
    boxes, scores = _boxes_scores(op, boxes, scores)
    threshold = check_number(op, "iou_threshold", iou_threshold)
    if not np.isfinite(threshold):
        raise ValueError(f"{op}: iou_threshold must be finite, got {iou_threshold}")
    order = to_device(_descending(scores), device_of(boxes))
    keep = kernels_for(boxes).nms(boxes, order, float(threshold))
    return Tensor(keep)


def batched_nms(boxes, scores, idxs, iou_threshold):
    """NMS within each category: boxes of different ``idxs`` never suppress each other.

    Runs :func:`nms` once per category (exact IoUs; the coordinate-offset trick would shift
    them in the last bits and could flip a tie at the threshold), then orders all kept boxes
    by decreasing score, ties in index order.

    Parameters
    ----------
    boxes : Tensor, shape (K, 4);  scores : Tensor, shape (K,)
    idxs : Tensor of int, shape (K,), the category of each box
    iou_threshold : float

    Returns
    -------
    Tensor of int64, shape (M,): the kept indices, by decreasing score.
    """
    op = "batched_nms"
    boxes, scores = _boxes_scores(op, boxes, scores)
    idxs = to_numpy(_raw(op, "idxs", idxs))
    if idxs.shape != (boxes.shape[0],) or idxs.dtype.kind not in "iu":
        raise ValueError(f"{op}: idxs must be integers of shape {(boxes.shape[0],)}, got "
                         f"{idxs.dtype} of shape {tuple(idxs.shape)}")
    check_number(op, "iou_threshold", iou_threshold)
    host_boxes, host_scores = to_numpy(boxes), to_numpy(scores)
    kept = [np.zeros(0, dtype=np.int64)]
    for category in np.unique(idxs):
        members = np.flatnonzero(idxs == category)
        keep = nms(Tensor(host_boxes[members]), Tensor(host_scores[members]), iou_threshold)
        kept.append(members[keep.numpy()])
    # back in index order first, so that the stable sort breaks score ties by index, not by
    # category
    kept = np.sort(np.concatenate(kept))
    kept = kept[_descending(host_scores[kept])]
    return Tensor(module_for(device_of(boxes)).asarray(kept))
