"""Hand-built cases for the detection ops (``minigrad/ops/{boxes,roi}.py``): values worked out
by hand, NMS tie rules, the two box layouts of the RoI ops, gradients of gradients through the
adjoint families, errors raised before any kernel, and PyTorch vision where it is installed."""
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
import references_detection as RD
from minigrad.ops import boxes as B


def test_nms_keeps_a_box_whose_iou_equals_the_threshold():
    # IoU of the first two is exactly 0.5: suppression needs strictly more
    b = mg.tensor([[0., 0., 2., 2.], [0., 0., 2., 1.], [0., 0., 2., 1.]])
    s = mg.tensor([0.9, 0.8, 0.7])
    assert F.nms(b, s, 0.5).tolist() == [0, 1]   # the third equals the second: IoU 1
    assert F.nms(b, s, 0.49).tolist() == [0]
    assert F.nms(b, s, 1.0).tolist() == [0, 1, 2]


def test_nms_breaks_score_ties_by_index():
    b = mg.tensor([[0., 0., 1., 1.], [0., 0., 1., 1.], [5., 5., 6., 6.], [5., 5., 6., 6.]])
    assert F.nms(b, mg.tensor([0.5, 0.5, 0.7, 0.7]), 0.5).tolist() == [2, 0]
    assert F.nms(b, mg.tensor([0.5, 0.5, 0.5, 0.5]), 0.5).tolist() == [0, 2]


def test_nms_never_suppresses_disjoint_or_empty_boxes():
    b = mg.tensor([[0., 0., 0., 0.], [0., 0., 0., 0.], [1., 1., 2., 2.]])
    assert F.nms(b, mg.tensor([1., 2., 3.]), 0.0).tolist() == [2, 1, 0]
    assert F.nms(mg.zeros((0, 4)), mg.zeros(0), 0.5).tolist() == []


def test_batched_nms_suppresses_only_within_a_category():
    b = mg.tensor([[0., 0., 2., 2.], [0., 0., 2., 2.], [0., 0., 2., 2.], [0., 0., 2., 1.9]])
    s = mg.tensor([0.6, 0.9, 0.6, 0.8])
    idxs = mg.tensor([0, 1, 0, 1])
    assert F.batched_nms(b, s, idxs, 0.5).tolist() == [1, 0]
    np.testing.assert_array_equal(F.batched_nms(b, s, idxs, 0.5).numpy(),
                                  RD.batched_nms(b.numpy(), s.numpy(), idxs.numpy(), 0.5))
    assert F.batched_nms(b, s, mg.tensor([0, 1, 2, 3]), 0.5).tolist() == [1, 3, 0, 2]


def test_roi_align_takes_a_list_of_boxes_per_image_like_the_k5_layout():
    x = mg.randn(2, 3, 6, 7)
    listed = [mg.tensor([[0.5, 1., 4., 5.]]), mg.tensor([[1., 1., 3., 2.], [0., 0., 7., 6.]])]
    stacked = mg.tensor([[0, 0.5, 1., 4., 5.], [1, 1., 1., 3., 2.], [1, 0., 0., 7., 6.]])
    for op in (lambda b: F.roi_align(x, b, 3, 0.5, 2, True), lambda b: F.roi_pool(x, b, 2)):
        np.testing.assert_array_equal(op(listed).numpy(), op(stacked).numpy())


def test_roi_align_of_a_ramp_is_the_bin_centres():
    # x[h, w] = w: an aligned box's bins average to their centre's x coordinate, in pixels
    x = mg.tensor(np.tile(np.arange(8.), (1, 1, 8, 1)))
    y = F.roi_align(x, mg.tensor([[0., 2., 2., 6., 6.]]), 2, aligned=True, sampling_ratio=2)
    np.testing.assert_allclose(y.numpy()[0, 0], [[2.5, 4.5], [2.5, 4.5]])


def test_roi_align_and_pool_gradients_of_gradients_stay_in_the_family():
    x = mg.randn(1, 2, 5, 5, dtype=mg.float64, requires_grad=True)
    rois = mg.tensor([[0, 0.3, 0.7, 3.9, 4.2], [0, 1., 1., 2., 4.]], dtype=mg.float64)
    for op in (lambda t: F.roi_align(t, rois, 3, 1.0, -1, True), lambda t: F.roi_pool(t, rois, 2)):
        (g,) = mg.grad((op(x) ** 2).sum(), [x], create_graph=True)
        assert g.grad_fn is not None
        assert mg.gradgradcheck(op, [x])


@pytest.mark.parametrize("call, error, words", [
    (lambda x: F.roi_align(x, mg.zeros((2, 4)), 2), ValueError, "(K, 5)"),
    (lambda x: F.roi_align(x, mg.tensor([[2., 0, 0, 1, 1]]), 2), IndexError, "batch indices"),
    (lambda x: F.roi_align(x, mg.tensor([[0.5, 0, 0, 1, 1]]), 2), IndexError, "whole numbers"),
    (lambda x: F.roi_align(x, mg.tensor([[0, 0, 0, np.nan, 1]]), 2), ValueError, "finite"),
    (lambda x: F.roi_align(x, mg.tensor([[0., 0, 0, 1, 1]]), 0), ValueError, "output_size"),
    (lambda x: F.roi_align(x, mg.tensor([[0., 0, 0, 1, 1]]), 2, math.inf), ValueError, "finite"),
    (lambda x: F.roi_align(x, mg.tensor([[0., 0, 0, 1, 1]]), 2, 0.0), ValueError, "spatial"),
    (lambda x: F.roi_pool(x.int(), mg.tensor([[0., 0, 0, 1, 1]]), 2), TypeError, "floating"),
    (lambda x: F.roi_pool(x[0], mg.tensor([[0., 0, 0, 1, 1]]), 2), ValueError, "(N, C, H, W)"),
    (lambda x: F.roi_pool(x, [mg.zeros((2, 5))], 2), ValueError, "(Ki, 4)"),
    (lambda x: F.nms(mg.zeros((3, 4)), mg.zeros(2), 0.5), ValueError, "scores of shape"),
    (lambda x: F.nms(mg.zeros((3, 4)), mg.zeros(3), math.nan), ValueError, "iou_threshold"),
    (lambda x: F.batched_nms(mg.zeros((3, 4)), mg.zeros(3), mg.zeros(3), 0.5), ValueError,
     "idxs"),
])
def test_bad_input_is_refused_before_any_kernel(call, error, words, monkeypatch):
    import minigrad.kernels.cpu as kernels
    for name in ("roi_align", "roi_pool", "nms"):
        monkeypatch.setattr(kernels, name, lambda *a, **k: pytest.fail("a kernel ran"))
    with pytest.raises(error, match=r".*".join(map(__import__("re").escape, words.split("|")))):
        call(mg.randn(1, 2, 4, 4))


def test_box_functions_on_hand_computed_boxes():
    a = mg.tensor([[0., 0., 4., 2.]])
    b = mg.tensor([[2., 1., 6., 3.], [0., 0., 4., 2.], [10., 10., 11., 11.]])
    # overlap 2x1 = 2, union 8 + 8 - 2 = 14; the enclosing box of a and b[0] is 6x3 = 18
    np.testing.assert_allclose(F.box_iou(a, b).numpy(), [[2 / 14, 1.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(F.generalized_box_iou(a, b).numpy()[0, :2],
                               [2 / 14 - 4 / 18, 1.0], rtol=1e-6)
    # the far box: enclosing 11x11 = 121, union 9
    np.testing.assert_allclose(F.generalized_box_iou(a, b).numpy()[0, 2], -(121 - 9) / 121,
                               rtol=1e-6)
    assert F.box_area(b).tolist() == [8.0, 8.0, 1.0]
    assert F.box_convert(a, "xyxy", "xywh").tolist() == [[0.0, 0.0, 4.0, 2.0]]
    assert F.box_convert(mg.tensor([[2., 1., 4., 2.]]), "cxcywh", "xyxy").tolist() == \
        [[0.0, 0.0, 4.0, 2.0]]


def test_box_coding_round_trips_and_clamps_the_log_size():
    anchors = mg.tensor([[0., 0., 4., 2.], [1., 1., 2., 5.]], dtype=mg.float64)
    targets = mg.tensor([[1., -1., 3., 5.], [0., 0., 8., 8.]], dtype=mg.float64)
    codes = F.encode_boxes(targets, anchors, (10., 10., 5., 5.))
    np.testing.assert_allclose(codes.numpy()[0], [0, 10 * (2 - 1) / 2, 5 * math.log(0.5),
                                                  5 * math.log(3)])
    np.testing.assert_allclose(F.decode_boxes(codes, anchors, (10., 10., 5., 5.)).numpy(),
                               targets.numpy(), atol=1e-12)
    huge = F.decode_boxes(mg.tensor([[0., 0., 100., 100.]]), mg.tensor([[0., 0., 16., 16.]]))
    np.testing.assert_allclose(huge.numpy(), [[-492., -492., 508., 508.]], rtol=1e-5)


def test_anchors_cover_every_cell_with_every_size_and_ratio():
    base = B.base_anchors([32, 64], [0.5, 1.0, 2.0])
    # ratio 0.5 (wide), size 32: w = 32 * sqrt(2) = 45.25, h = 22.63, rounded halves
    np.testing.assert_array_equal(base[0], [-23., -11., 23., 11.])
    np.testing.assert_array_equal(base[2], [-16., -16., 16., 16.])  # ratio-major
    anchors = F.grid_anchors((2, 3), 16, [32, 64], [0.5, 1.0, 2.0])
    assert anchors.shape == (2 * 3 * 6, 4)
    row = (1 * 3 + 2) * 6 + 2  # cell (1, 2), anchor 2
    np.testing.assert_array_equal(anchors.numpy()[row], [32 - 16, 16 - 16, 32 + 16, 16 + 16])


@pytest.mark.parametrize("call, words", [
    (lambda: F.box_convert(mg.zeros((2, 4)), "xyxy", "yxyx"), "out_fmt"),
    (lambda: F.box_iou(mg.zeros((2, 3)), mg.zeros((2, 4))), "(..., 4)"),
    (lambda: F.encode_boxes(mg.zeros((2, 4)), mg.zeros((3, 4))), "must match"),
    (lambda: F.decode_boxes(mg.zeros((2, 4)), mg.ones((2, 4)), (1, 1, 0, 1)), "weights"),
    (lambda: F.generalized_box_iou_loss(mg.zeros((2, 4)), mg.zeros((2, 4)), "avg"), "reduction"),
    (lambda: B.base_anchors([], [1.0]), "non-empty"),
])
def test_box_functions_name_themselves_in_errors(call, words):
    with pytest.raises(ValueError, match=__import__("re").escape(words)):
        call()


def test_roi_align_vs_torchvision():
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision.ops", reason="torchvision is optional")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8))
    rois = np.array([[0, 0.3, 1.2, 6.1, 7.7], [1, -2.0, 3.0, 4.0, 12.0], [1, 4, 4, 4.2, 4.1]])
    for ratio, aligned in ((-1, False), (2, True), (0, True)):
        ours = F.roi_align(mg.tensor(x), mg.tensor(rois), (3, 2), 0.5, ratio, aligned)
        theirs = tv.roi_align(torch.tensor(x), torch.tensor(rois), (3, 2), 0.5, ratio, aligned)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12)
    ours = F.roi_pool(mg.tensor(x), mg.tensor(rois), (3, 2), 0.5)
    theirs = tv.roi_pool(torch.tensor(x), torch.tensor(rois), (3, 2), 0.5)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())


def test_nms_vs_torchvision():
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision.ops", reason="torchvision is optional")
    rng = np.random.default_rng(0)
    boxes = RD.small_integer_boxes(rng, 200)
    scores = rng.integers(0, 4, 200) / 4.0
    idxs = rng.integers(0, 3, 200)
    for threshold in (0.0, 0.25, 0.5, 0.7):
        ours = F.nms(mg.tensor(boxes), mg.tensor(scores), threshold).tolist()
        assert ours == tv.nms(torch.tensor(boxes), torch.tensor(scores), threshold).tolist()
        ours = F.batched_nms(mg.tensor(boxes), mg.tensor(scores), mg.tensor(idxs), threshold)
        theirs = tv.batched_nms(torch.tensor(boxes), torch.tensor(scores), torch.tensor(idxs),
                                threshold)
        assert sorted(ours.tolist()) == sorted(theirs.tolist())


def test_giou_loss_eps_keeps_degenerate_boxes_finite():
    point = mg.tensor([[1., 1., 1., 1.]], dtype=mg.float64)
    # union and enclosing area are both 0: with eps the loss is 1 - (0/eps - 0/eps) = 1
    assert F.generalized_box_iou_loss(point, point).tolist() == [1.0]
    a, b = mg.tensor([[0., 0., 2., 1.]]), mg.tensor([[1., 0., 3., 1.]])
    # intersection 1, union 3, enclosing 3; eps=1 shifts both denominators by 1
    assert F.generalized_box_iou_loss(a, b, eps=1.0).tolist() == [pytest.approx(1 - 1 / 4)]


def test_decode_clamps_at_the_given_bbox_xform_clip():
    out = F.decode_boxes(mg.tensor([[0., 0., 3., -3.]]), mg.tensor([[0., 0., 2., 2.]]),
                         bbox_xform_clip=math.log(2.0))
    np.testing.assert_allclose(out.numpy(), [[-1., 1 - math.exp(-3), 3., 1 + math.exp(-3)]],
                               rtol=1e-6)


def test_grid_anchors_take_a_stride_pair_and_a_dtype():
    anchors = F.grid_anchors((2, 1), (8, 4), [2], [1.0], dtype=np.float64)
    assert anchors.dtype == mg.float64
    np.testing.assert_array_equal(anchors.numpy(), [[-1, -1, 1, 1], [-1, 7, 1, 9]])


def test_roi_align_of_a_reversed_box_under_aligned_reads_zero():
    """aligned=True keeps a box's negative size; the adaptive grid then has no sampling points,
    so every bin is 0 and the gradient is 0 too (PyTorch vision 0.29 raises here instead)."""
    x = mg.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    boxes = mg.tensor([[0.0, 3.0, 3.0, 1.0, 1.0], [0.0, 3.0, 1.0, 1.0, 3.0]])
    y = F.roi_align(x, boxes, output_size=2, sampling_ratio=0, aligned=True)
    np.testing.assert_array_equal(y.numpy(), np.zeros((2, 1, 2, 2)))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((1, 1, 4, 4)))
