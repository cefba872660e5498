"""Tests written from the survivors of mutation runs over ``minigrad/ops/{device,boxes,roi,
resample}.py``: each pins a value, a message or a rule that no other test of those modules
checked, against NumPy references (``references_detection``, ``references``) or values worked
out by hand."""
import math
import re

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
import references_detection as RD
from minigrad.ops import boxes as B
from minigrad.ops import device as D
from minigrad.ops import roi as R


def _random_boxes(rng, n, low=-5.0, span=6.0):
    corner = rng.uniform(low, low + span, (n, 2))
    return np.concatenate([corner, corner + rng.uniform(0.5, 4.0, (n, 2))], axis=1)


def _exact(words):
    return "^" + re.escape(words) + "$"


# ---------------------------------------------------------------------------------------------
# boxes.py


def test_box_checks_name_the_op_the_argument_and_the_problem():
    with pytest.raises(TypeError, match=_exact("box_area: boxes must be a Tensor, got ndarray")):
        F.box_area(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=_exact("box_area: boxes must have shape (..., 4), "
                                                "got (2, 5)")):
        F.box_area(mg.zeros((2, 5)))
    with pytest.raises(ValueError, match=_exact("box_area: boxes must have shape (..., 4), "
                                                "got ()")):
        F.box_area(mg.tensor(4.0))
    with pytest.raises(TypeError, match=_exact("box_area: boxes must be floating point, got "
                                               "dtype int64")):
        F.box_area(mg.zeros((2, 4), dtype=mg.int64))
    with pytest.raises(ValueError, match=_exact("box_iou: boxes2 must have shape (..., 4), "
                                                "got (3, 3)")):
        F.box_iou(mg.zeros((2, 4)), mg.zeros((3, 3)))
    with pytest.raises(ValueError, match=_exact("box_iou: boxes1 must have shape (..., 4), "
                                                "got (3,)")):
        F.box_iou(mg.zeros(3), mg.zeros((3, 4)))
    with pytest.raises(TypeError, match=_exact("generalized_box_iou: boxes2 must be a Tensor, "
                                               "got list")):
        F.generalized_box_iou(mg.zeros((2, 4)), [[0.0, 0.0, 1.0, 1.0]])
    with pytest.raises(TypeError, match=_exact("generalized_box_iou: boxes1 must be floating "
                                               "point, got dtype int32")):
        F.generalized_box_iou(mg.zeros((2, 4), dtype=mg.int32), mg.zeros((2, 4)))


def test_box_area_of_any_leading_shape_and_one_dimensional_box():
    rng = np.random.default_rng(1)
    b = _random_boxes(rng, 6).reshape(2, 3, 4)
    np.testing.assert_allclose(F.box_area(mg.tensor(b)).numpy(),
                               (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]), rtol=1e-6)
    assert F.box_area(mg.tensor([1.0, 2.0, 4.0, 7.0])).item() == 15.0


@pytest.mark.parametrize("in_fmt", B.FORMATS)
@pytest.mark.parametrize("out_fmt", B.FORMATS)
def test_box_convert_every_pair_of_formats(in_fmt, out_fmt):
    rng = np.random.default_rng(2)
    xyxy = _random_boxes(rng, 5)
    x1, y1, x2, y2 = xyxy.T
    forms = {"xyxy": xyxy,
             "xywh": np.stack([x1, y1, x2 - x1, y2 - y1], axis=1),
             "cxcywh": np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)}
    out = F.box_convert(mg.tensor(forms[in_fmt], dtype=mg.float64), in_fmt, out_fmt)
    assert out.shape == (5, 4)
    np.testing.assert_allclose(out.numpy(), forms[out_fmt], rtol=1e-12, atol=1e-12)


def test_box_convert_names_the_bad_format():
    with pytest.raises(ValueError, match=_exact("box_convert: in_fmt must be one of ('xyxy', "
                                                "'xywh', 'cxcywh'), got 'yxyx'")):
        F.box_convert(mg.zeros((2, 4)), "yxyx", "xyxy")
    with pytest.raises(ValueError, match=_exact("box_convert: out_fmt must be one of ('xyxy', "
                                                "'xywh', 'cxcywh'), got 'XYXY'")):
        F.box_convert(mg.zeros((2, 4)), "xyxy", "XYXY")
    with pytest.raises(TypeError, match="^box_convert: boxes must be a Tensor"):
        F.box_convert(np.zeros((2, 4)), "xyxy", "xywh")


def test_box_iou_and_giou_of_unequal_sets_match_the_reference():
    rng = np.random.default_rng(3)
    a, b = _random_boxes(rng, 4), _random_boxes(rng, 7)
    ta, tb = mg.tensor(a, dtype=mg.float64), mg.tensor(b, dtype=mg.float64)
    assert F.box_iou(ta, tb).shape == (4, 7)
    np.testing.assert_allclose(F.box_iou(ta, tb).numpy(), RD.box_iou(a, b), rtol=1e-12)
    np.testing.assert_allclose(F.generalized_box_iou(ta, tb).numpy(),
                               RD.generalized_box_iou(a, b), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(F.generalized_box_iou(tb, ta).numpy(),
                               RD.generalized_box_iou(b, a), rtol=1e-12, atol=1e-15)
    # boxes that overlap in x only, and in y only: the enclosing box has each axis once
    c = np.array([[0.0, 0.0, 2.0, 1.0], [0.0, 0.0, 1.0, 3.0]])
    d = np.array([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(
        F.generalized_box_iou(mg.tensor(c, dtype=mg.float64), mg.tensor(d, dtype=mg.float64))
        .numpy(), RD.generalized_box_iou(c, d), rtol=1e-12)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_giou_loss_of_random_pairs_matches_the_reference(reduction):
    rng = np.random.default_rng(4)
    a, b = _random_boxes(rng, 9), _random_boxes(rng, 9)
    for eps in (1e-7, 0.5):
        ours = F.generalized_box_iou_loss(mg.tensor(a, dtype=mg.float64),
                                          mg.tensor(b, dtype=mg.float64), reduction, eps)
        np.testing.assert_allclose(ours.numpy(), RD.generalized_box_iou_loss(a, b, reduction, eps),
                                   rtol=1e-12)
    assert F.generalized_box_iou_loss(mg.tensor(a), mg.tensor(b), reduction).shape == \
        ((9,) if reduction == "none" else ())


def test_giou_loss_default_eps_is_1e_minus_7():
    # two equal boxes of area 1e-7: 1 - (1e-7 / (1e-7 + eps) - 0), i.e. 0.5 when eps = 1e-7
    box = mg.tensor([[0.0, 0.0, 1e-4, 1e-3]], dtype=mg.float64)
    assert F.generalized_box_iou_loss(box, box).item() == pytest.approx(0.5, rel=1e-9)


def test_giou_loss_of_no_boxes_and_its_errors():
    empty = mg.zeros((0, 4))
    for reduction in ("mean", "sum"):
        out = F.generalized_box_iou_loss(empty, empty, reduction)
        assert out.shape == () and out.item() == 0.0
    assert F.generalized_box_iou_loss(empty, empty).shape == (0,)
    with pytest.raises(ValueError, match=_exact("generalized_box_iou_loss: boxes1 (2, 4) and "
                                                "boxes2 (3, 4) must match")):
        F.generalized_box_iou_loss(mg.zeros((2, 4)), mg.zeros((3, 4)))
    with pytest.raises(ValueError, match=_exact("generalized_box_iou_loss: reduction must be "
                                                "'none', 'mean' or 'sum', got 'avg'")):
        F.generalized_box_iou_loss(mg.zeros((2, 4)), mg.zeros((2, 4)), "avg")
    with pytest.raises(ValueError, match="^generalized_box_iou_loss: boxes2 must have shape"):
        F.generalized_box_iou_loss(mg.zeros((2, 4)), mg.zeros((2, 3)))
    with pytest.raises(TypeError, match="^generalized_box_iou_loss: boxes1 must be a Tensor"):
        F.generalized_box_iou_loss(None, mg.zeros((2, 4)))


def test_box_coding_of_random_boxes_with_four_different_weights():
    rng = np.random.default_rng(5)
    targets, anchors = _random_boxes(rng, 8), _random_boxes(rng, 8)
    weights = (2.0, 3.0, 4.0, 5.0)
    codes = F.encode_boxes(mg.tensor(targets, dtype=mg.float64),
                           mg.tensor(anchors, dtype=mg.float64), weights)
    np.testing.assert_allclose(codes.numpy(), RD.encode_boxes(targets, anchors, weights),
                               rtol=1e-12, atol=1e-14)
    # the default weights are all 1
    np.testing.assert_allclose(F.encode_boxes(mg.tensor(targets, dtype=mg.float64),
                                              mg.tensor(anchors, dtype=mg.float64)).numpy(),
                               RD.encode_boxes(targets, anchors), rtol=1e-12, atol=1e-14)
    deltas = rng.uniform(-2.0, 2.0, (8, 4))
    deltas[0, 2:] = [-9.0, 8.0]  # a shrinking width is never clamped; a growing height is
    decoded = F.decode_boxes(mg.tensor(deltas, dtype=mg.float64),
                             mg.tensor(anchors, dtype=mg.float64), weights)
    np.testing.assert_allclose(decoded.numpy(), RD.decode_boxes(deltas, anchors, weights),
                               rtol=1e-12, atol=1e-12)
    decoded = F.decode_boxes(mg.tensor(deltas, dtype=mg.float64),
                             mg.tensor(anchors, dtype=mg.float64))
    np.testing.assert_allclose(decoded.numpy(), RD.decode_boxes(deltas, anchors),
                               rtol=1e-12, atol=1e-12)
    assert B.BBOX_XFORM_CLIP == math.log(1000.0 / 16)


def test_box_coding_errors_name_the_op_and_the_argument():
    z = mg.zeros((2, 4))
    cases = [
        (lambda: F.encode_boxes(z, mg.zeros((3, 4))), ValueError,
         "encode_boxes: reference_boxes (2, 4) and proposals (3, 4) must match"),
        (lambda: F.encode_boxes(z, mg.zeros((2, 5))), ValueError,
         "encode_boxes: proposals must have shape (..., 4), got (2, 5)"),
        (lambda: F.encode_boxes(mg.zeros((2, 3)), z), ValueError,
         "encode_boxes: reference_boxes must have shape (..., 4), got (2, 3)"),
        (lambda: F.decode_boxes(z, mg.zeros((3, 4))), ValueError,
         "decode_boxes: rel_codes (2, 4) and boxes (3, 4) must match"),
        (lambda: F.decode_boxes(mg.zeros((2, 3)), z), ValueError,
         "decode_boxes: rel_codes must have shape (..., 4), got (2, 3)"),
        (lambda: F.decode_boxes(z, mg.zeros((2, 3))), ValueError,
         "decode_boxes: boxes must have shape (..., 4), got (2, 3)"),
        (lambda: F.encode_boxes(z, z, (1, 1, 1)), ValueError,
         "encode_boxes: weights must be four finite positive numbers (wx, wy, ww, wh), "
         "got (1.0, 1.0, 1.0)"),
        (lambda: F.encode_boxes(z, z, (1, 1, 1, 1, 1)), ValueError,
         "encode_boxes: weights must be four finite positive numbers (wx, wy, ww, wh), "
         "got (1.0, 1.0, 1.0, 1.0, 1.0)"),
        (lambda: F.decode_boxes(z, z, (1, math.inf, 1, 1)), ValueError,
         "decode_boxes: weights must be four finite positive numbers (wx, wy, ww, wh), "
         "got (1.0, inf, 1.0, 1.0)"),
        (lambda: F.decode_boxes(z, z, (1, 1, 1, -2)), ValueError,
         "decode_boxes: weights must be four finite positive numbers (wx, wy, ww, wh), "
         "got (1.0, 1.0, 1.0, -2.0)"),
        (lambda: F.decode_boxes(z, z, (math.nan, 1, 1, 1)), ValueError,
         "decode_boxes: weights must be four finite positive numbers (wx, wy, ww, wh), "
         "got (nan, 1.0, 1.0, 1.0)"),
    ]
    for call, error, words in cases:
        with pytest.raises(error, match=_exact(words)):
            call()


def test_base_anchors_match_their_definition():
    sizes, ratios = [8.0, 20.0, 33.0], [0.25, 1.0, 3.0]
    out = B.base_anchors(sizes, ratios)
    expected = []
    for r in ratios:
        for s in sizes:
            w, h = s / math.sqrt(r), s * math.sqrt(r)
            expected.append(np.round(np.array([-w, -h, w, h]) / 2))
    assert out.shape == (9, 4)
    np.testing.assert_array_equal(out, np.array(expected))
    np.testing.assert_array_equal(B.base_anchors(np.array([[16.0]]), 4.0), [[-4., -16., 4., 16.]])


@pytest.mark.parametrize("sizes, ratios", [([], [1.0]), ([4.0], []), ([4.0, 0.0], [1.0]),
                                           ([4.0], [1.0, -1.0]), ([-4.0], [1.0]),
                                           ([4.0], [0.0])])
def test_base_anchors_refuse_empty_or_non_positive_lists(sizes, ratios):
    words = (f"base_anchors: sizes {[float(s) for s in sizes]} and aspect_ratios "
             f"{[float(r) for r in ratios]} must be non-empty and positive")
    with pytest.raises(ValueError, match=_exact(words)):
        B.base_anchors(sizes, ratios)


def test_grid_anchors_match_their_definition():
    H, W, SH, SW = 3, 2, 5, 7
    sizes, ratios = [4.0, 10.0], [0.5, 2.0]
    base = B.base_anchors(sizes, ratios)
    out = F.grid_anchors((H, W), (SH, SW), sizes, ratios)
    assert out.dtype == mg.float32 and out.device == "cpu"
    expected = [base[a] + [w * SW, h * SH, w * SW, h * SH]
                for h in range(H) for w in range(W) for a in range(len(base))]
    np.testing.assert_array_equal(out.numpy(), np.array(expected, dtype=np.float32))
    square = F.grid_anchors((2, 2), 6, [2.0], [1.0])
    np.testing.assert_array_equal(square.numpy(), [[-1, -1, 1, 1], [5, -1, 7, 1],
                                                   [-1, 5, 1, 7], [5, 5, 7, 7]])
    assert F.grid_anchors((0, 3), 4, [2.0], [1.0]).shape == (0, 4)
    assert F.grid_anchors((2, 0), 4, [2.0], [1.0], device=mg.device("cpu")).shape == (0, 4)


@pytest.mark.parametrize("size, stride, shown", [
    ((-1, 2), 4, "feature_size (-1, 2) must be >= 0 and stride (4, 4) > 0"),
    ((2, -1), 4, "feature_size (2, -1) must be >= 0 and stride (4, 4) > 0"),
    ((2, 2), 0, "feature_size (2, 2) must be >= 0 and stride (0, 0) > 0"),
    ((2, 2), (4, 0), "feature_size (2, 2) must be >= 0 and stride (4, 0) > 0"),
    ((2, 2), (-4, 4), "feature_size (2, 2) must be >= 0 and stride (-4, 4) > 0"),
])
def test_grid_anchors_refuse_negative_sizes_and_non_positive_strides(size, stride, shown):
    with pytest.raises(ValueError, match=_exact("grid_anchors: " + shown)):
        F.grid_anchors(size, stride, [2.0], [1.0])


# ---------------------------------------------------------------------------------------------
# roi.py


def test_roi_ops_match_the_references_over_their_options():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 7, 9))
    rois = np.array([[0, 0.3, 1.2, 6.1, 5.7], [1, -2.0, 3.0, 4.0, 12.0], [1, 4, 4, 4.2, 4.1],
                     [0, 2.0, 1.0, 17.0, 13.0]])
    for size in (2, (3, 2)):
        for scale in (1.0, 0.5):
            for ratio, aligned in ((-1, False), (0, True), (2, False), (3, True)):
                ours = F.roi_align(mg.tensor(x), mg.tensor(rois), size, scale, ratio, aligned)
                np.testing.assert_allclose(ours.numpy(),
                                           RD.roi_align(x, rois, size, scale, ratio, aligned),
                                           rtol=1e-10, atol=1e-12)
            ours = F.roi_pool(mg.tensor(x), mg.tensor(rois), size, scale)
            np.testing.assert_array_equal(ours.numpy(), RD.roi_pool(x, rois, size, scale))
    # the defaults: spatial_scale 1, sampling_ratio -1 (adaptive), aligned False
    np.testing.assert_allclose(F.roi_align(mg.tensor(x), mg.tensor(rois), 2).numpy(),
                               RD.roi_align(x, rois, 2), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(F.roi_pool(mg.tensor(x), mg.tensor(rois), 2).numpy(),
                                  RD.roi_pool(x, rois, 2))


def _adjoint_check(op, x, rng):
    """<op(x), g> == <x, op^T(g)> with op^T from backward; and dL/dx of op^T's output."""
    xt = mg.tensor(x, requires_grad=True)
    y = op(xt)
    g = rng.standard_normal(y.shape)
    (grad,) = mg.grad((y * mg.tensor(g)).sum(), [xt])
    assert np.isclose((y.numpy() * g).sum(), (x * grad.numpy()).sum(), rtol=1e-10)
    return grad.numpy()


def test_roi_gradients_and_the_third_derivative_of_roi_pool():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 6, 5))  # N != C: the gradient's batch axis is N
    rois = np.array([[1, 0.5, 0.2, 4.3, 5.1], [0, 1.0, 1.0, 3.0, 2.0], [1, 2.2, 0.0, 2.4, 5.9]])
    align = lambda t: F.roi_align(t, mg.tensor(rois), (2, 3), 1.0, 2, True)  # noqa: E731
    pool = lambda t: F.roi_pool(t, mg.tensor(rois), (2, 3))  # noqa: E731
    for op in (align, pool):
        grad = _adjoint_check(op, x, rng)
        assert np.abs(grad).sum() > 0
    # roi_pool's gradient lands on each bin's argmax
    y, argmax = RD.roi_pool(x, rois, (2, 3), return_argmax=True)
    expected = np.zeros_like(x)
    for k, c, ph, pw in np.ndindex(argmax.shape):
        if argmax[k, c, ph, pw] >= 0:
            expected[int(rois[k, 0]), c].flat[argmax[k, c, ph, pw]] += 1.0
    xt = mg.tensor(x, requires_grad=True)
    pool(xt).sum().backward()
    np.testing.assert_array_equal(xt.grad.numpy(), expected)
    # third order: the adjoint (scatter) -> the gather -> the scatter again
    xt = mg.tensor(x, requires_grad=True)
    w = mg.tensor(rng.standard_normal(y.shape), requires_grad=True)
    (gx,) = mg.grad((pool(xt) * w).sum(), [xt], create_graph=True)        # scatter of w
    v = mg.tensor(rng.standard_normal(x.shape), requires_grad=True)
    (gw,) = mg.grad((gx * v).sum(), [w], create_graph=True)               # gather of v
    gather = np.zeros(argmax.shape)  # 0 where a bin is empty (argmax -1)
    for k, c, ph, pw in np.ndindex(argmax.shape):
        if argmax[k, c, ph, pw] >= 0:
            gather[k, c, ph, pw] = v.numpy()[int(rois[k, 0]), c].flat[argmax[k, c, ph, pw]]
    np.testing.assert_allclose(gw.numpy(), gather, rtol=1e-12)
    u = rng.standard_normal(y.shape)
    (gv,) = mg.grad((gw * mg.tensor(u)).sum(), [v])                       # scatter of u
    scatter = np.zeros_like(x)
    for k, c, ph, pw in np.ndindex(argmax.shape):
        if argmax[k, c, ph, pw] >= 0:
            scatter[int(rois[k, 0]), c].flat[argmax[k, c, ph, pw]] += u[k, c, ph, pw]
    np.testing.assert_allclose(gv.numpy(), scatter, rtol=1e-12)
    # roi_align twice: the adjoint's own gradient is roi_align again
    xt = mg.tensor(x, requires_grad=True)
    w = mg.tensor(rng.standard_normal((3, 3, 2, 3)), requires_grad=True)
    (gx,) = mg.grad((align(xt) * w).sum(), [xt], create_graph=True)
    v = rng.standard_normal(x.shape)
    (gw,) = mg.grad((gx * mg.tensor(v)).sum(), [w])
    np.testing.assert_allclose(gw.numpy(), RD.roi_align(v, rois, (2, 3), 1.0, 2, True),
                               rtol=1e-10, atol=1e-12)


def test_roi_boxes_as_arrays_lists_and_integers():
    rng = np.random.default_rng(8)
    x = mg.tensor(rng.standard_normal((2, 2, 6, 6)).astype(np.float32))
    listed = [np.array([[0.0, 1.0, 4.0, 5.0]]), mg.tensor([[1.0, 1.0, 3.0, 2.0],
                                                            [0.0, 0.0, 5.0, 4.0]])]
    rois = np.array([[0, 0.0, 1.0, 4.0, 5.0], [1, 1.0, 1.0, 3.0, 2.0], [1, 0.0, 0.0, 5.0, 4.0]])
    expected = RD.roi_align(x.numpy().astype(np.float64), rois, 2, 1.0, 2, True)
    for boxes in (listed, tuple(listed), rois, mg.tensor(rois), rois.astype(np.int64)):
        out = F.roi_align(x, boxes, 2, 1.0, 2, True)
        assert out.dtype == mg.float32
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    # an empty list and a list of empty tensors: no boxes, no rows
    for boxes in ([], [mg.zeros((0, 4)), mg.zeros((0, 4))]):
        assert F.roi_align(x, boxes, 2).shape == (0, 2, 2, 2)
        assert F.roi_pool(x, boxes, (2, 3)).shape == (0, 2, 2, 3)
    # the rois handed to the kernel: x's dtype, the image index first
    got = R._rois("op", [np.array([[1, 2, 3, 4]], dtype=np.int32),
                         np.array([[5.5, 6, 7, 8]])], x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [[0, 1, 2, 3, 4], [1, 5.5, 6, 7, 8]])
    got = R._rois("op", np.array([[0, 1, 2, 3, 4]], dtype=np.int64), mg.zeros((1, 1, 2, 2),
                                                                              dtype=mg.float64))
    assert got.dtype == np.float64
    got = R._rois("op", np.array([[0, 1.5, 2, 3, 4]]), x)  # a float64 (K, 5) array, float32 x
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [[0, 1.5, 2, 3, 4]])


def test_roi_errors_name_the_op_and_what_is_wrong():
    x = mg.randn(1, 2, 4, 4)
    one = mg.tensor([[0.0, 0.0, 0.0, 1.0, 1.0]])
    cases = [
        (lambda: F.roi_align(x, "boxes", 2), TypeError,
         "roi_align: boxes must be a Tensor or an array, got str"),
        (lambda: F.roi_pool(x, [mg.zeros((1, 4)), [0, 0, 1, 1]], 2), TypeError,
         "roi_pool: boxes[1] must be a Tensor or an array, got list"),
        (lambda: F.roi_align(x, [mg.zeros((1, 4)), mg.zeros(4)], 2), ValueError,
         "roi_align: each box tensor in the list must have shape (Ki, 4), got (4,) for image 1"),
        (lambda: F.roi_align(x, [mg.zeros((1, 5))], 2), ValueError,
         "roi_align: each box tensor in the list must have shape (Ki, 4), got (1, 5) for image 0"),
        (lambda: F.roi_pool(x, mg.zeros((2, 4)), 2), ValueError,
         "roi_pool: boxes must be a (K, 5) Tensor (batch index, x1, y1, x2, y2) or a list of "
         "(Ki, 4) Tensors, got shape (2, 4)"),
        (lambda: F.roi_pool(x, mg.zeros(5), 2), ValueError,
         "roi_pool: boxes must be a (K, 5) Tensor (batch index, x1, y1, x2, y2) or a list of "
         "(Ki, 4) Tensors, got shape (5,)"),
        (lambda: F.roi_align(x, np.zeros((1, 5), dtype=bool), 2), TypeError,
         "roi_align: boxes must be numeric, got dtype bool"),
        (lambda: F.roi_align(np.zeros((1, 2, 4, 4)), one, 2), TypeError,
         "roi_align: expected a Tensor, got ndarray"),
        (lambda: F.roi_align(x[0], one, 2), ValueError,
         "roi_align: expected an input of shape (N, C, H, W), got shape (2, 4, 4)"),
        (lambda: F.roi_align(x, one, (2, 0)), ValueError,
         "roi_align: output_size must be at least (1, 1), got (2, 0)"),
        (lambda: F.roi_pool(x, one, (0, 3)), ValueError,
         "roi_pool: output_size must be at least (1, 1), got (0, 3)"),
        (lambda: F.roi_align(x, one, 2, -1.0), ValueError,
         "roi_align: invalid spatial_scale -1.0, expected a value in (0, inf]"),
        (lambda: F.roi_pool(x, one, 2, math.inf), ValueError,
         "roi_pool: spatial_scale must be finite, got inf"),
        (lambda: F.roi_align(x, one, 2, 1.0, 1.5), TypeError,
         "roi_align: sampling_ratio must be an int, got 1.5 of type float"),
        (lambda: F.roi_align(x, one, 2, 1.0, 2, 1), TypeError,
         "roi_align: aligned must be a bool, got 1"),
        (lambda: F.roi_align(x, one, 2, 1.0, 2, "yes"), TypeError,
         "roi_align: aligned must be a bool, got 'yes'"),
    ]
    for call, error, words in cases:
        with pytest.raises(error, match=_exact(words)):
            call()
    # a NumPy bool is a bool; a zero-size map passes the checks
    np.testing.assert_allclose(F.roi_align(x, one, 1, 1.0, 2, np.bool_(True)).numpy(),
                               F.roi_align(x, one, 1, 1.0, 2, True).numpy())
    assert F.roi_align(mg.zeros((1, 0, 4, 4)), one, 2).shape == (1, 0, 2, 2)


def test_nms_and_batched_nms_of_random_boxes_match_the_references():
    rng = np.random.default_rng(9)
    boxes = RD.small_integer_boxes(rng, 60)
    scores = rng.integers(0, 5, 60) / 4.0
    idxs = rng.integers(0, 4, 60)
    for threshold in (0.0, 0.2, 0.5, 0.8):
        keep = F.nms(mg.tensor(boxes), mg.tensor(scores), threshold)
        assert keep.dtype == mg.int64
        np.testing.assert_array_equal(keep.numpy(), RD.nms(boxes, scores, threshold))
        keep = F.batched_nms(mg.tensor(boxes), mg.tensor(scores), mg.tensor(idxs), threshold)
        assert keep.dtype == mg.int64 and keep.device == "cpu"
        np.testing.assert_array_equal(keep.numpy(),
                                      RD.batched_nms(boxes, scores, idxs, threshold))
    # integer boxes and scores, raw arrays, unsigned categories
    ib, isc = boxes.astype(np.int64), (scores * 4).astype(np.int32)
    np.testing.assert_array_equal(F.nms(ib, isc, 0.3).numpy(), RD.nms(boxes, scores, 0.3))
    np.testing.assert_array_equal(
        F.batched_nms(ib, isc, idxs.astype(np.uint8), 0.3).numpy(),
        RD.batched_nms(boxes, scores, idxs, 0.3))
    # no boxes: an empty int64 result
    for out in (F.nms(mg.zeros((0, 4)), mg.zeros(0), 0.5),
                F.batched_nms(mg.zeros((0, 4)), mg.zeros(0), mg.zeros(0, dtype=mg.int64), 0.5)):
        assert out.shape == (0,) and out.dtype == mg.int64


def test_descending_order_is_stable_and_exact_in_float64():
    scores = np.array([1.0, 3.0, 1.0, 3.0, 2.0, 1.0 + 1e-12], dtype=np.float64)
    order = R._descending(scores)
    assert order.dtype == np.int64
    np.testing.assert_array_equal(order, [1, 3, 4, 5, 0, 2])
    # float16 scores that tie exactly keep index order
    np.testing.assert_array_equal(R._descending(np.array([0.5, 0.75, 0.5], dtype=np.float16)),
                                  [1, 0, 2])


def test_nms_errors_name_the_op_and_what_is_wrong():
    z4, z3 = mg.zeros((3, 4)), mg.zeros(3)
    cases = [
        (lambda: F.nms(z4, mg.zeros(2), 0.5), ValueError,
         "nms: expected boxes of shape (K, 4) and scores of shape (K,), got (3, 4) and (2,)"),
        (lambda: F.nms(mg.zeros((3, 5)), z3, 0.5), ValueError,
         "nms: expected boxes of shape (K, 4) and scores of shape (K,), got (3, 5) and (3,)"),
        (lambda: F.nms(mg.zeros(4), mg.zeros(1), 0.5), ValueError,
         "nms: expected boxes of shape (K, 4) and scores of shape (K,), got (4,) and (1,)"),
        (lambda: F.nms(z4, mg.zeros((3, 1)), 0.5), ValueError,
         "nms: expected boxes of shape (K, 4) and scores of shape (K,), got (3, 4) and (3, 1)"),
        (lambda: F.nms(z4.bool(), z3, 0.5), TypeError,
         "nms: boxes and scores must be numeric, got bool and float32"),
        (lambda: F.nms(z4, z3.bool(), 0.5), TypeError,
         "nms: boxes and scores must be numeric, got float32 and bool"),
        (lambda: F.nms([[0, 0, 1, 1]], mg.zeros(1), 0.5), TypeError,
         "nms: boxes must be a Tensor or an array, got list"),
        (lambda: F.nms(mg.zeros((1, 4)), 0.5, 0.5), TypeError,
         "nms: scores must be a Tensor or an array, got float"),
        (lambda: F.nms(z4, z3, math.inf), ValueError,
         "nms: iou_threshold must be finite, got inf"),
        (lambda: F.nms(z4, z3, "0.5"), TypeError,
         "nms: iou_threshold must be a real number, got '0.5' of type str"),
        (lambda: F.batched_nms(z4, z3, mg.zeros(3), 0.5), ValueError,
         "batched_nms: idxs must be integers of shape (3,), got float32 of shape (3,)"),
        (lambda: F.batched_nms(z4, z3, mg.zeros(2, dtype=mg.int64), 0.5), ValueError,
         "batched_nms: idxs must be integers of shape (3,), got int64 of shape (2,)"),
        (lambda: F.batched_nms(z4, z3, [0, 1, 2], 0.5), TypeError,
         "batched_nms: idxs must be a Tensor or an array, got list"),
        (lambda: F.batched_nms(z4, mg.zeros(2), mg.zeros(3, dtype=mg.int64), 0.5), ValueError,
         "batched_nms: expected boxes of shape (K, 4) and scores of shape (K,), got (3, 4) "
         "and (2,)"),
        (lambda: F.batched_nms(z4, z3, mg.zeros(3, dtype=mg.int64), None), TypeError,
         "batched_nms: iou_threshold must be a real number, got None of type NoneType"),
    ]
    for call, error, words in cases:
        with pytest.raises(error, match=_exact(words)):
            call()


# ---------------------------------------------------------------------------------------------
# device.py


def test_to_args_reads_every_form_of_to():
    T = mg.Tensor
    f64 = mg.tensor(np.zeros(1))
    assert D.to_args(T, (), None, None) == (None, None)
    assert D.to_args(T, ("cpu",), None, None) == ("cpu", None)
    assert D.to_args(T, (mg.float16,), None, None) == (None, np.dtype(np.float16))
    assert D.to_args(T, ("cpu", mg.float64), None, None) == ("cpu", np.dtype(np.float64))
    assert D.to_args(T, (f64,), None, None) == ("cpu", np.dtype(np.float64))
    # keywords win over the other tensor's device and dtype
    assert D.to_args(T, (f64,), None, np.float32) == ("cpu", np.dtype(np.float32))
    out = D.to_args(T, (), mg.device("cpu"), "int32")
    assert out == ("cpu", np.dtype(np.int32)) and isinstance(out[0], mg.device)
    assert isinstance(out[1], np.dtype)
    # a bool is not a CUDA ordinal (nor a dtype)
    with pytest.raises(TypeError, match=_exact("to: expected a device, a dtype or a Tensor, got "
                                               "True")):
        D.to_args(T, (True,), None, None)
    assert D.to_args(T, (1,), None, None)[0] == "cuda:1"
    with pytest.raises(TypeError, match=_exact("to: expected a device, a dtype or a Tensor, got "
                                               "{'a': 1}")):
        D.to_args(T, ({"a": 1},), None, None)
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        D.to_args(T, ("gpu",), None, None)


def test_to_device_on_the_same_device_is_the_tensor_itself():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    for device in ("cpu", mg.device("cpu")):
        assert D.to_device(x, device) is x
    y = D.ToDevice.apply(x, device=mg.device("cpu"))
    assert y is not x and y.device == "cpu" and y.tolist() == [1.0, 2.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_box_formats_and_codings_keep_leading_axes():
    """The box functions read the last axis only, so (2, 3, 4) boxes give (2, 3, 4) results,
    row for row those of the flattened (6, 4) boxes."""
    rng = np.random.default_rng(10)
    a, b = _random_boxes(rng, 6), _random_boxes(rng, 6)
    ta, tb = mg.tensor(a.reshape(2, 3, 4)), mg.tensor(b.reshape(2, 3, 4))
    for out_fmt in ("xyxy", "xywh", "cxcywh"):
        out = F.box_convert(ta, "xyxy", out_fmt)
        assert out.shape == (2, 3, 4)
        np.testing.assert_array_equal(out.numpy().reshape(6, 4),
                                      F.box_convert(mg.tensor(a), "xyxy", out_fmt).numpy())
    codes = F.encode_boxes(ta, tb)
    assert codes.shape == (2, 3, 4)
    np.testing.assert_allclose(codes.numpy().reshape(6, 4), RD.encode_boxes(a, b),
                               rtol=1e-5, atol=1e-6)
    decoded = F.decode_boxes(codes, tb)
    assert decoded.shape == (2, 3, 4)
    np.testing.assert_allclose(decoded.numpy(), ta.numpy(), rtol=1e-5, atol=1e-5)


def test_grid_anchors_take_a_stride_of_one_along_either_axis():
    out = F.grid_anchors((2, 2), 1, [2.0], [1.0])
    np.testing.assert_array_equal(out.numpy(), [[-1, -1, 1, 1], [0, -1, 2, 1],
                                                [-1, 0, 1, 2], [0, 0, 2, 2]])
    out = F.grid_anchors((2, 1), (1, 3), [2.0], [1.0])
    np.testing.assert_array_equal(out.numpy(), [[-1, -1, 1, 1], [-1, 0, 1, 2]])
    with pytest.raises(ValueError, match=_exact("grid_anchors: feature_size (2, 2) must be >= 0 "
                                                "and stride (0, 4) > 0")):
        F.grid_anchors((2, 2), (0, 4), [2.0], [1.0])


def test_to_args_keeps_a_device_keyword_over_another_tensors_device():
    x = mg.tensor([1.0])
    device, dtype = D.to_args(mg.Tensor, (x,), "cuda:1", None)
    assert device == "cuda:1" and dtype == np.float32
    assert D.to_args(mg.Tensor, (x,), None, None)[0] == "cpu"


# ---------------------------------------------------------------------------------------------
# resample.py


def _cubic_float32(L, O, scale=None, align_corners=False):
    """The bicubic taps and weights of one axis, every step in float32, the precision of a
    float32 input (the docstring's kernel, A = -0.75, in the same Horner form)."""
    f = np.float32
    o = np.arange(O, dtype=f)
    if align_corners:
        ratio = f(L - 1) / f(O - 1) if O > 1 else f(0)
        src = ratio * o
    else:
        ratio = f(1.0 / scale) if scale else f(L) / f(O)
        src = ratio * (o + f(0.5)) - f(0.5)
    i = np.floor(src)
    t = (src - i).astype(f)
    A = f(-0.75)
    near = lambda d: ((A + f(2)) * d - (A + f(3))) * d * d + f(1)  # noqa: E731
    far = lambda d: ((A * d - f(5) * A) * d + f(8) * A) * d - f(4) * A  # noqa: E731
    weights = np.stack([far(t + f(1)), near(t), near(f(1) - t), far(f(2) - t)], axis=1)
    taps = np.clip(i.astype(np.int64)[:, None] + np.arange(-1, 3), 0, L - 1)
    return taps, weights


@pytest.mark.parametrize("L, O, scale, align_corners", [
    (7, 13, None, False), (13, 7, None, False), (5, 17, None, True), (9, 31, 3.5, False),
    (3, 10, None, False)])
def test_bicubic_tables_are_computed_in_float32_for_float32_input(L, O, scale, align_corners):
    from minigrad.ops import resample as RS
    taps, weights = RS._cubic_source(L, O, scale, align_corners, np.float32)
    ref_taps, ref_weights = _cubic_float32(L, O, scale, align_corners)
    assert weights.dtype == np.float32
    np.testing.assert_array_equal(taps, ref_taps)
    np.testing.assert_array_equal(weights, ref_weights)


def test_nearest_exact_rounds_the_source_coordinate_to_float32_before_the_floor():
    # 1.5 * float32(10/3) = 4.99999988 in double, 5.0 once rounded to float32: row 5 (PyTorch
    # reads row 5 too); the image form reads the same rows along both axes
    x = mg.arange(10.0).reshape(1, 1, 10)
    assert F.interpolate(x, size=3, mode="nearest-exact").tolist() == [[[1.0, 5.0, 8.0]]]
    image = mg.tensor(np.arange(100.0).reshape(1, 1, 10, 10))
    out = F.interpolate(image, size=(3, 3), mode="nearest-exact").numpy()[0, 0]
    np.testing.assert_array_equal(out, np.arange(100.0).reshape(10, 10)[np.ix_([1, 5, 8],
                                                                               [1, 5, 8])])


@pytest.mark.parametrize("shape, kwargs, error, words", [
    ((1, 1, 3, 3), dict(mode="trilinear", size=2), ValueError,
     "interpolate: mode 'trilinear' is not implemented; the modes are 'nearest', "
     "'nearest-exact' and 'linear' for (N, C, L) input, and 'nearest', 'nearest-exact', "
     "'bilinear' and 'bicubic' for (N, C, H, W) input"),
    ((1, 1, 3, 3), dict(mode="nearest", size=2, align_corners=True), ValueError,
     "interpolate: align_corners applies to modes 'linear', 'bilinear' and 'bicubic' only, "
     "got align_corners=True with mode 'nearest'"),
    ((1, 1, 3), dict(mode="bilinear", size=2), ValueError,
     "interpolate: mode 'bilinear' expects an input of shape (N, C, H, W), got shape (1, 1, 3)"),
    ((1, 1, 3, 3, 3), dict(mode="nearest", size=2), ValueError,
     "interpolate: mode 'nearest' expects an input of shape (N, C, L) or (N, C, H, W), got "
     "shape (1, 1, 3, 3, 3) (5-D volumes and 'trilinear' are not implemented)"),
    ((1, 1, 3, 3), dict(mode="linear", size=2), ValueError,
     "interpolate: mode 'linear' expects an input of shape (N, C, L), got shape (1, 1, 3, 3)"),
    ((3,), dict(mode="nearest", size=2), ValueError,
     "interpolate: mode 'nearest' expects an input of shape (N, C, L) or (N, C, H, W), got "
     "shape (3,)"),
    ((1, 1, 0), dict(mode="nearest", size=2), ValueError,
     "interpolate: the input of shape (1, 1, 0) has an empty L axis; only the batch N and the "
     "channels C may be 0"),
    ((1, 1, 3, 3), dict(mode="bilinear"), ValueError,
     "interpolate: give exactly one of size and scale_factor, got size=None and "
     "scale_factor=None"),
    ((1, 1, 3), dict(mode="linear", size=2, scale_factor=2), ValueError,
     "interpolate: give exactly one of size and scale_factor, got size=2 and scale_factor=2"),
    ((1, 1, 3), dict(mode="linear", size=[2, 2]), TypeError,
     "interpolate: size must be an int or a 1-tuple for an input of shape (1, 1, 3), got "
     "[2, 2]"),
    ((1, 1, 3), dict(mode="linear", size=2.0), TypeError,
     "interpolate: size must be an int or a 1-tuple for an input of shape (1, 1, 3), got 2.0"),
    ((1, 1, 3), dict(mode="nearest", size=(False,)), TypeError,
     "interpolate: size must be an int or a 1-tuple for an input of shape (1, 1, 3), got "
     "(False,)"),
    ((1, 1, 3, 3), dict(mode="bilinear", scale_factor=(2.0,)), TypeError,
     "interpolate: scale_factor must be a positive number or 2 of them for an input of shape "
     "(1, 1, 3, 3), got (2.0,)"),
    ((1, 1, 3, 3), dict(mode="bilinear", scale_factor=[2.0, "x"]), TypeError,
     "interpolate: scale_factor must be a positive number or 2 of them for an input of shape "
     "(1, 1, 3, 3), got [2.0, 'x']"),
    ((1, 1, 3, 3), dict(mode="bilinear", scale_factor=-1.0), ValueError,
     "interpolate: invalid scale_factor -1.0, expected a value in (0, inf]"),
    ((1, 1, 3, 3), dict(mode="bilinear", scale_factor=(2.0, float("nan"))), ValueError,
     "interpolate: scale_factor must be finite, got (2.0, nan) for an input of shape "
     "(1, 1, 3, 3)"),
    ((1, 1, 3, 3), dict(mode="bilinear", scale_factor=True), TypeError,
     "interpolate: scale_factor must be a real number, got True of type bool"),
    ((1, 1, 3, 3), dict(mode="bicubic", scale_factor=(False, 2.0)), TypeError,
     "interpolate: scale_factor must be a real number, got False of type bool"),
])
def test_interpolate_errors_in_full(shape, kwargs, error, words):
    with pytest.raises(error, match=_exact(words)):
        F.interpolate(mg.zeros(*shape), **kwargs)
    with pytest.raises(TypeError, match=_exact("interpolate: expected a Tensor, got ndarray")):
        F.interpolate(np.zeros((1, 1, 3, 3)), size=2)


@pytest.mark.parametrize("mode, align_corners", [
    ("nearest", None), ("bilinear", None), ("bilinear", False), ("bilinear", True),
    ("bicubic", None), ("bicubic", True)])
def test_interpolate_by_scale_factors_per_axis_matches_the_reference(mode, align_corners):
    import references as RF
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 5, 4))
    for scales in ((1.7, 2.5), [0.6, 3.0], (2.0, 2.0)):
        out = F.interpolate(mg.tensor(x), scale_factor=scales, mode=mode,
                            align_corners=align_corners)
        np.testing.assert_allclose(out.numpy(), RF.interpolate(x, scale_factor=scales, mode=mode,
                                                               align_corners=align_corners),
                                   rtol=1e-5, atol=1e-6)
        # recompute_scale_factor: the output sizes alone set the source positions
        sizes = (int(5 * scales[0]), int(4 * scales[1]))
        out = F.interpolate(mg.tensor(x), scale_factor=scales, mode=mode,
                            align_corners=align_corners, recompute_scale_factor=True)
        np.testing.assert_allclose(out.numpy(), RF.interpolate(x, size=sizes, mode=mode,
                                                               align_corners=align_corners),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear"])
def test_sequence_sizes_as_an_int_a_list_or_a_numpy_int(mode):
    import references as RF
    x = np.random.default_rng(12).standard_normal((2, 1, 5))
    expected = RF.interpolate(x[:, :, None, :], size=(1, 7),
                              mode={"linear": "bilinear"}.get(mode, mode))[:, :, 0, :] \
        if mode != "nearest-exact" else None
    outs = [F.interpolate(mg.tensor(x), size=s, mode=mode).numpy()
            for s in (7, [7], (7,), np.int64(7))]
    for out in outs:
        assert out.shape == (2, 1, 7)
        np.testing.assert_array_equal(out, outs[0])
    if expected is not None:
        np.testing.assert_allclose(outs[0], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_align_corners_to_one_pixel_reads_the_first_one(mode):
    x = np.arange(12.0).reshape(1, 1, 3, 4)
    out = F.interpolate(mg.tensor(x), size=(1, 1), mode=mode, align_corners=True)
    assert out.tolist() == [[[[0.0]]]]
    out = F.interpolate(mg.tensor(x), size=(1, 2), mode=mode, align_corners=True)
    assert out.tolist() == [[[[0.0, 3.0]]]]


def _linear_float32(L, O, scale=None, align_corners=False):
    """The bilinear rows and weights of one axis, every step in float32."""
    f = np.float32
    o = np.arange(O, dtype=f)
    if align_corners:
        src = (f(L - 1) / f(O - 1) if O > 1 else f(0)) * o
    else:
        ratio = f(1.0 / scale) if scale else f(L) / f(O)
        src = np.maximum(ratio * (o + f(0.5)) - f(0.5), f(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), L - 1)
    return i0, i0 + (i0 < L - 1), np.clip(src - i0, 0, 1).astype(f)


@pytest.mark.parametrize("L, O, scale, align_corners", [
    (7, 13, None, False), (13, 7, None, False), (5, 17, None, True), (9, 31, 3.5, False),
    (3, 10, None, False), (10, 3, None, False)])
def test_bilinear_tables_are_computed_in_float32_for_float32_input(L, O, scale, align_corners):
    from minigrad.ops import resample as RS
    rows0, rows1, weights = RS._linear_source(L, O, scale, align_corners, np.float32)
    ref0, ref1, ref_weights = _linear_float32(L, O, scale, align_corners)
    assert weights.dtype == np.float32
    np.testing.assert_array_equal(rows0, ref0)
    np.testing.assert_array_equal(rows1, ref1)
    np.testing.assert_array_equal(weights, ref_weights)


def test_nearest_keeps_pytorchs_shortcuts_for_outputs_of_one_and_two_times_the_input():
    # Like PyTorch's (N, C, H, W) kernel, an output of L or 2L rows reads rows o or o // 2 even
    # when a scale factor that is not 1 or 2 gave that size; other sizes use 1 / scale_factor.
    x = np.arange(20.0).reshape(1, 1, 4, 5)
    out = F.interpolate(mg.tensor(x), scale_factor=(1.1, 2.1), mode="nearest").numpy()[0, 0]
    np.testing.assert_array_equal(out, x[0, 0][np.ix_([0, 1, 2, 3],
                                                      [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])])
    out = F.interpolate(mg.tensor(x), scale_factor=(1.6, 1.5), mode="nearest").numpy()[0, 0]
    # H: 6 rows at floor(o / 1.6); W: 7 columns at floor(o / 1.5)
    np.testing.assert_array_equal(out, x[0, 0][np.ix_([0, 0, 1, 1, 2, 3],
                                                      [0, 0, 1, 2, 2, 3, 4])])


def test_the_source_rows_of_a_huge_output_stay_inside_the_input():
    # 2**24 * float32(3 / (2**24 + 1)) rounds to 3.0 in float32: the clamp keeps row 2
    from minigrad.ops import resample as RS
    O = 2 ** 24 + 1
    for source in (RS._nearest_source, RS._nearest_exact_source):
        rows = source(3, O, None)
        assert rows.shape == (O,) and rows[-1] == 2 and rows.max() == 2 and rows[0] == 0


def test_more_roi_and_interpolate_errors_in_full():
    x = mg.randn(1, 2, 4, 4)
    one = mg.tensor([[0.0, 0.0, 0.0, 1.0, 1.0]])

    class ShapeOnly:  # an array needs a dtype as well as a shape
        shape = (1, 5)

    cases = [
        (lambda: F.interpolate(mg.zeros(1, 1, 3, 3), size=(2, 2, 2)), TypeError,
         "interpolate: size must be an int or a pair of ints, got (2, 2, 2)"),
        (lambda: F.roi_align(x, one, 1.5), TypeError,
         "roi_align: output_size must be an int or a pair of ints, got 1.5"),
        (lambda: F.roi_pool(x, one, (2, 2, 2)), TypeError,
         "roi_pool: output_size must be an int or a pair of ints, got (2, 2, 2)"),
        # the output size is checked before the scale
        (lambda: F.roi_align(x, one, (2, 0), -1.0), ValueError,
         "roi_align: output_size must be at least (1, 1), got (2, 0)"),
        (lambda: F.roi_align(x, mg.tensor([[2.0, 0, 0, 1, 1]]), 2), IndexError,
         "roi_align: batch indices must be whole numbers in [0, 1) for an input of batch size "
         "1, got values in [2.0, 2.0]"),
        (lambda: F.roi_pool(x, mg.tensor([[0.0, 0, 0, np.nan, 1]]), 2), ValueError,
         "roi_pool: box coordinates and batch indices must be finite"),
        (lambda: F.roi_align(x.int(), one, 2), TypeError,
         "roi_align: the input must be floating point (float32 or float64), got dtype int32"),
        (lambda: F.roi_align(mg.zeros(1, 2, 0, 4), one, 2), ValueError,
         "roi_align: the input of shape (1, 2, 0, 4) has an empty (H, W) plane; only the batch "
         "N and the channels C may be 0"),
        (lambda: F.roi_pool(mg.zeros(1, 2, 4, 0), one, 2), ValueError,
         "roi_pool: the input of shape (1, 2, 4, 0) has an empty (H, W) plane; only the batch "
         "N and the channels C may be 0"),
        (lambda: F.roi_align(x, ShapeOnly(), 2), TypeError,
         "roi_align: boxes must be a Tensor or an array, got ShapeOnly"),
    ]
    for call, error, words in cases:
        with pytest.raises(error, match=_exact(words)):
            call()


def test_base_anchors_flatten_their_lists_and_work_in_float64():
    # any array shape is a flat list; sizes of 1 or less are fine (rounded to whole pixels)
    np.testing.assert_array_equal(B.base_anchors(np.array([[1.0], [3.0]]), [[1.0], [4.0]]),
                                  [[0, 0, 0, 0], [-2, -2, 2, 2], [0, -1, 0, 1], [-1, -3, 1, 3]])
    # float32 ratios are widened before the square root: s / sqrt(2) / 2 just under 1.5 rounds
    # to 1 (float32's sqrt(2) is smaller and would give 1.5 + 1e-8, rounded to 2)
    s = 3 * math.sqrt(2.0) * (1 - 1e-8)
    for ratios in ([2.0], np.array([2.0], dtype=np.float32)):
        np.testing.assert_array_equal(B.base_anchors(np.array([s], dtype=np.float64), ratios),
                                      [[-1, -3, 1, 3]])


@pytest.mark.parametrize("shape, kwargs, words", [
    ((1, 1, 3), dict(size=0, mode="linear"),
     "interpolate: the output plane (1, 0) of an input of shape (1, 1, 3) must be at least 1x1"),
    ((1, 1, 3), dict(scale_factor=0.1, mode="nearest"),
     "interpolate: the output plane (1, 0) of an input of shape (1, 1, 3) must be at least 1x1"),
    ((1, 1, 3, 3), dict(size=(0, 2), mode="bilinear"),
     "interpolate: the output plane (0, 2) of an input of shape (1, 1, 3, 3) must be at least "
     "1x1"),
    ((1, 1, 3), dict(size=2 ** 40, mode="nearest"),
     "interpolate: the output plane (1, 1099511627776) of an input of shape (1, 1, 3) is too "
     "large (at most 2147483647 per side)"),
])
def test_interpolate_output_plane_errors_in_full(shape, kwargs, words):
    with pytest.raises(ValueError, match=_exact(words)):
        F.interpolate(mg.zeros(*shape), **kwargs)
