"""The RoI and NMS kernels (``minigrad/kernels/{cpu,gpu}/roi.py``) against slow NumPy references.

The CPU kernels run on hypothesis-drawn maps and boxes (some boxes partly or wholly off the
map, empty and sub-pixel ones, every sampling ratio). Each adjoint is checked by the adjoint
identity ``<adjoint(g), v> = <g, forward(v)>`` against the reference forward, and the RoI Pool
scatter also against ``np.add.at``. The GPU twins run on tiny fixed cases, on a GPU or through
Numba's CUDA simulator.

Notation
--------
rois      (K, 5): batch index, x1, y1, x2, y2;  RD  the references (references_detection.py)
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import references_detection as RD
from minigrad.backend import to_numpy
from minigrad.kernels.cpu import roi as cpu_roi
from strategies.detection import roi_inputs


def _sizes(params):
    size = params["output_size"]
    return (size, size) if np.isscalar(size) else tuple(size)


@given(case=roi_inputs(), seed=st.integers(0, 2**16))
def test_roi_align_and_adjoint_match_reference(case, seed):
    (x,), p = case
    rois, PH, PW = p["boxes"], *_sizes(p)
    y = cpu_roi.roi_align(x, rois, p["spatial_scale"], PH, PW, p["sampling_ratio"], p["aligned"])
    np.testing.assert_allclose(y, RD.roi_align(x, **p), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(seed).standard_normal(y.shape)
    N, C, H, W = x.shape
    back = cpu_roi.roi_align_adjoint(g, rois, p["spatial_scale"], N, H, W, p["sampling_ratio"],
                                     p["aligned"])
    assert back.shape == x.shape
    np.testing.assert_allclose((back * x).sum(), (g * RD.roi_align(x, **p)).sum(), rtol=1e-9,
                               atol=1e-9)


@given(case=roi_inputs(pool=True), seed=st.integers(0, 2**16))
def test_roi_pool_scatter_and_gather_match_reference(case, seed):
    (x,), p = case
    rois, (PH, PW) = p["boxes"], _sizes(p)
    y, argmax = cpu_roi.roi_pool(x, rois, p["spatial_scale"], PH, PW)
    ref_y, ref_argmax = RD.roi_pool(x, **p, return_argmax=True)
    np.testing.assert_array_equal(argmax, ref_argmax)
    np.testing.assert_allclose(y, ref_y, rtol=0, atol=0)
    N, C, H, W = x.shape
    g = np.random.default_rng(seed).standard_normal(y.shape)
    expected = np.zeros((N, C, H * W))
    for k, c, ph, pw in zip(*np.nonzero(argmax >= 0)):
        np.add.at(expected, (int(rois[k, 0]), c, argmax[k, c, ph, pw]), g[k, c, ph, pw])
    back = cpu_roi.roi_pool_adjoint(g, rois, argmax, N, H, W)
    np.testing.assert_allclose(back.reshape(N, C, H * W), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cpu_roi.roi_pool_gather(x, rois, argmax), ref_y)


def test_roi_pool_keeps_the_first_of_tied_maxima_and_zeroes_empty_bins():
    x = np.ones((1, 1, 3, 3))
    y, argmax = cpu_roi.roi_pool(x, np.array([[0, 0, 0, 2, 2], [0, 10, 10, 12, 12.]]), 1.0, 1, 1)
    assert argmax[:, 0, 0, 0].tolist() == [0, -1] and y[:, 0, 0, 0].tolist() == [1.0, 0.0]


@st.composite
def _nms_problems(draw):
    """Boxes on a coarse grid (so IoUs repeat and hit round thresholds) with tied scores."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    K = draw(st.integers(0, 30))
    boxes = RD.small_integer_boxes(rng, K)
    scores = rng.integers(0, 4, K) / 4.0
    return (boxes, scores, draw(st.sampled_from([0.0, 0.25, 1 / 3, 0.5, 0.7, 1.0])))


@given(problem=_nms_problems())
def test_nms_matches_reference_on_ties(problem):
    boxes, scores, threshold = problem
    order = np.argsort(-scores, kind="stable")
    keep = cpu_roi.nms(boxes, order, threshold)
    np.testing.assert_array_equal(keep, RD.nms(boxes, scores, threshold))


def test_nms_kernel_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="nms: expected boxes"):
        cpu_roi.nms(np.zeros((3, 4)), np.arange(2), 0.5)


def gpu_roi_module():
    """The GPU RoI module and a host-to-device copy, or a skip naming what is missing."""
    from numba import config
    from minigrad import backend
    if not config.ENABLE_CUDASIM and backend.cupy() is None:
        pytest.skip("no GPU and the CUDA simulator is off (NUMBA_ENABLE_CUDASIM unset)")
    from minigrad.kernels.gpu import roi as gpu_roi
    to_device = (lambda a: a) if config.ENABLE_CUDASIM else backend.cupy().asarray
    return (gpu_roi, to_device)


# Tiny shapes: under the simulator each output cell is one Python thread.
GPU_ROIS = np.array([[0, 0.4, 0.2, 3.7, 2.9], [1, -1.0, 1.0, 2.0, 6.0], [0, 2.0, 2.0, 2.2, 2.1]])


@pytest.mark.parametrize("aligned, sampling_ratio", [(True, 2), (False, -1)])
def test_gpu_roi_align_twin_matches_the_cpu_kernel(aligned, sampling_ratio):
    gpu, to_device = gpu_roi_module()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 4, 5))
    y = gpu.roi_align(to_device(x), to_device(GPU_ROIS), 1.0, 2, 2, sampling_ratio, aligned)
    np.testing.assert_allclose(to_numpy(y), RD.roi_align(x, GPU_ROIS, 2, 1.0, sampling_ratio,
                                                          aligned), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal((3, 2, 2, 2))
    back = gpu.roi_align_adjoint(to_device(g), to_device(GPU_ROIS), 1.0, 2, 4, 5,
                                 sampling_ratio, aligned)
    np.testing.assert_allclose(to_numpy(back), cpu_roi.roi_align_adjoint(
        g, GPU_ROIS, 1.0, 2, 4, 5, sampling_ratio, aligned), rtol=1e-12, atol=1e-12)


def test_gpu_roi_pool_twins_match_the_cpu_kernels():
    gpu, to_device = gpu_roi_module()
    rng = np.random.default_rng(1)
    x = rng.permutation(40).reshape(2, 1, 4, 5).astype(np.float64)
    y, argmax = gpu.roi_pool(to_device(x), to_device(GPU_ROIS), 1.0, 2, 2)
    ref_y, ref_argmax = cpu_roi.roi_pool(x, GPU_ROIS, 1.0, 2, 2)
    np.testing.assert_array_equal(to_numpy(argmax), ref_argmax)
    np.testing.assert_array_equal(to_numpy(y), ref_y)
    g = rng.standard_normal(ref_y.shape)
    np.testing.assert_allclose(
        to_numpy(gpu.roi_pool_adjoint(to_device(g), to_device(GPU_ROIS), argmax, 2, 4, 5)),
        cpu_roi.roi_pool_adjoint(g, GPU_ROIS, ref_argmax, 2, 4, 5), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(
        to_numpy(gpu.roi_pool_gather(to_device(x), to_device(GPU_ROIS), argmax)), ref_y)


def test_gpu_nms_twin_matches_the_reference_on_ties():
    gpu, to_device = gpu_roi_module()
    boxes = np.array([[0, 0, 2, 2], [0, 0, 2, 1], [0, 0, 2, 2], [3, 3, 4, 4], [0, 0, 1, 2.]])
    scores = np.array([0.5, 0.9, 0.5, 0.5, 0.9])
    order = np.argsort(-scores, kind="stable")
    for threshold in (0.0, 0.5, 0.9):
        keep = gpu.nms(to_device(boxes), to_device(order), threshold)
        np.testing.assert_array_equal(to_numpy(keep), RD.nms(boxes, scores, threshold))
