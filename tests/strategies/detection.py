"""Inputs for the detection ops: feature maps with boxes, and sets of boxes without kinks.

Box coordinates come from seeded generators (drawn seeds), like ``values``. For the
differentiable box functions every x coordinate in a draw is at least ``margin`` from every
other (and likewise y), so no min/max ties and no intersection sits at the clip to zero: central
differences never straddle a kink.

Notation
--------
N, C, H, W    the feature map;  K  boxes;  rois  (K, 5): batch index, x1, y1, x2, y2
"""
import numpy as np
from hypothesis import strategies as st

from .values import values


@st.composite
def _rois(draw, N, H, W, K, spatial_scale, salt=0):
    """K boxes in image pixels over a map of (H, W) cells, some partly or wholly outside."""
    rng = np.random.default_rng([draw(st.integers(0, 2**32 - 1)), salt])
    width, height = W / spatial_scale, H / spatial_scale
    x1 = rng.uniform(-0.3 * width, width, K)
    y1 = rng.uniform(-0.3 * height, height, K)
    x2 = x1 + rng.uniform(0, 1.2 * width, K)
    y2 = y1 + rng.uniform(0, 1.2 * height, K)
    return np.stack([rng.integers(0, N, K).astype(np.float64), x1, y1, x2, y2], axis=1)


@st.composite
def roi_inputs(draw, pool=False):
    """``((x,), {boxes, output_size, spatial_scale[, sampling_ratio, aligned]})`` for roi_align
    (or roi_pool with ``pool``; its map values are distinct, so each bin has one maximum)."""
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    H, W = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    K = draw(st.integers(1, 3))
    scale = draw(st.sampled_from([0.5, 1.0, 2.0]))
    x = draw(values((N, C, H, W), distinct=pool, margin=0.01))
    params = {"boxes": draw(_rois(N, H, W, K, scale)), "spatial_scale": scale,
              "output_size": draw(st.integers(1, 3) | st.tuples(st.integers(1, 3),
                                                                 st.integers(1, 3)))}
    if not pool:
        params["sampling_ratio"] = draw(st.sampled_from([-1, 0, 1, 2]))
        params["aligned"] = draw(st.booleans())
    return ((x,), params)


def _coordinates(rng, n, margin):
    """``n`` numbers in [0, 10] at least ``margin`` apart, shuffled."""
    picks = np.sort(rng.uniform(0, 10 - (n - 1) * margin, n)) + margin * np.arange(n)
    return rng.permutation(picks)


@st.composite
def box_sets(draw, sizes, margin=0.05):
    """Boxes of positive size, one array (n, 4) per n in ``sizes``, no coordinate ties."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    total = sum(sizes)
    xs = _coordinates(rng, 2 * total, margin).reshape(total, 2)
    ys = _coordinates(rng, 2 * total, margin).reshape(total, 2)
    boxes = np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], axis=1)
    return tuple(np.split(boxes, np.cumsum(sizes)[:-1]))


@st.composite
def box_pair_inputs(draw, same_size=False):
    """``((boxes1, boxes2), {})``: two sets of boxes, of equal length with ``same_size``."""
    N = draw(st.integers(1, 4))
    M = N if same_size else draw(st.integers(1, 4))
    return (draw(box_sets([N, M])), {})


@st.composite
def box_coding_inputs(draw, decode=False):
    """``((a, b), {weights})``: boxes and anchors to encode, or deltas and anchors to decode
    (deltas within [-1.5, 1.5], away from the clamp of dw and dh)."""
    N = draw(st.integers(1, 4))
    first, anchors = draw(box_sets([N, N], margin=0.01))
    if decode:
        first = draw(values((N, 4), low=-1.5, high=1.5))
    weights = draw(st.sampled_from([(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)]))
    return ((first, anchors), {"weights": weights})


FUZZ_DTYPES = ["float32", "float64", "float16", "int64", "bool"]


@st.composite
def fuzz_cases(draw, op):
    """A JSON case for ``tests/test_fuzz_detection.py``: valid and invalid input on purpose.

    Map sizes of 0 and 1, boxes off the map, empty and reversed, batch indices out of range or
    fractional, NaN and inf coordinates, output sizes of 0, odd scales (0, negative, inf, NaN),
    wrong box shapes and dtypes, every sampling ratio, empty box sets.
    """
    wild = draw(st.booleans())
    if op == "nms":
        K = draw(st.integers(0, 12))
        return {"op": op, "seed": draw(st.integers(0, 2**31)), "K": K,
                "box_shape": [K, draw(st.sampled_from([4, 4, 4, 5]))] if wild else [K, 4],
                "score_len": draw(st.sampled_from([K, K, K + 1])) if wild else K,
                "dtype": draw(st.sampled_from(FUZZ_DTYPES[:2] + (FUZZ_DTYPES[2:] if wild
                                                                  else []))),
                "iou_threshold": draw(st.sampled_from([0.0, 0.3, 0.5, 1.0]
                                                      + (["nan", 2.0, -1.0] if wild else [])))}
    shape = [draw(st.integers(0 if wild else 1, 2)), draw(st.integers(0 if wild else 1, 2)),
             draw(st.integers(0 if wild else 1, 5)), draw(st.integers(0 if wild else 1, 5))]
    K = draw(st.integers(0, 4))
    case = {"op": op, "seed": draw(st.integers(0, 2**31)), "shape": shape,
            "dtype": draw(st.sampled_from(FUZZ_DTYPES if wild else FUZZ_DTYPES[:2])),
            "box_shape": [K, draw(st.sampled_from([5, 5, 4]))] if wild else [K, 5],
            "batch": draw(st.sampled_from(["inside", "inside", "outside", "fraction"]))
            if wild else "inside",
            "coordinates": draw(st.sampled_from(["plain", "plain", "nan", "inf", "reversed"]))
            if wild else draw(st.sampled_from(["plain", "reversed"])),
            "output_size": draw(st.integers(0 if wild else 1, 3)),
            "spatial_scale": draw(st.sampled_from([0.5, 1.0, 2.0]
                                                  + (["inf", "nan", 0.0, -1.0] if wild else [])))}
    if op == "roi_align":
        case["sampling_ratio"] = draw(st.integers(-1, 3))
        case["aligned"] = draw(st.booleans())
    return case
