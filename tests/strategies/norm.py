"""Strategies for the fused batch-norm and layer-norm ops and their kernels.

Three kinds: ``norm_problems`` for the kernel tests (a shape, a dtype, values far from 0 or
not, and a memory layout), ``batch_norm_inputs`` / ``layer_norm_inputs`` for the op registry
(float64 arrays and the options drawn like values), and ``fuzz_norm_cases``, JSON cases for
``tests/test_fuzz_norm.py`` that mix valid and invalid input on purpose.

Notation
--------
N, C, spatial   batch norm's input (N, C, *spatial); L = prod(spatial)
lead, tail      layer norm's input lead + tail, tail = normalized_shape
offset          a constant added to every value: 1e4 puts |mean| far above the spread
layout          'contiguous', 'strided' (every other entry along the last axis of a wider
                array) or 'transposed' (the first two axes swapped in memory)
"""
import numpy as np
from hypothesis import strategies as st

from .values import values

LAYOUTS = ["contiguous", "strided", "transposed"]


@st.composite
def batch_norm_shapes(draw, max_side=4):
    """(N, C, *spatial) with 0 to 3 spatial axes and at least two values per channel; N = 1
    with spatial > 1, C = 1 and odd sizes all occur."""
    spatial = tuple(draw(st.lists(st.integers(1, max_side), min_size=0, max_size=3)))
    N = draw(st.integers(1, max_side + 1))
    if N * int(np.prod(spatial)) < 2:
        N = 2
    return (N, draw(st.integers(1, max_side))) + spatial


@st.composite
def layer_norm_shapes(draw, max_side=5):
    """(lead, tail): leading axes (maybe none) and a normalized_shape of one or two axes."""
    lead = tuple(draw(st.lists(st.integers(1, max_side), min_size=0, max_size=2)))
    tail = tuple(draw(st.lists(st.integers(1, max_side), min_size=1, max_size=2)))
    return (lead, tail)


def laid_out(a, layout):
    """``a``'s values in the given memory layout (a view for 'strided' and 'transposed')."""
    if layout == "strided":
        wide = np.repeat(a, 2, axis=-1)
        wide[..., 1::2] = np.nan  # poison: a kernel that reads the gaps shows it
        return wide[..., ::2]
    if layout == "transposed" and a.ndim >= 2:
        return np.ascontiguousarray(np.swapaxes(a, 0, 1)).swapaxes(0, 1)
    return a


@st.composite
def norm_problems(draw, kind="batch"):
    """(x, weight, bias, g, eps) for a kernel test: x of a drawn shape, dtype, offset, spread
    and layout; weight and bias of x's dtype, (C,) for batch norm and normalized_shape for
    layer norm (so D = weight.size); g the output gradient."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    offset = draw(st.sampled_from([0.0, 0.0, 1e4, -3e3]))
    layout = draw(st.sampled_from(LAYOUTS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "batch":
        shape = draw(batch_norm_shapes())
        param_shape = (shape[1],)
    else:
        lead, tail = draw(layer_norm_shapes())
        shape, param_shape = lead + tail, tail
    scale = draw(st.sampled_from([1.0, 1e-2, 30.0]))
    x = laid_out((offset + scale * rng.standard_normal(shape)).astype(dtype), layout)
    weight = (rng.random(param_shape) + 0.5).astype(dtype)
    bias = rng.standard_normal(param_shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.5]))
    return (x, weight, bias, g, eps)


@st.composite
def batch_norm_inputs(draw):
    """(x[, weight, bias]) float64 and F.batch_norm's options: training or eval, eps,
    momentum, and running statistics (arrays, made Tensors by the spec)."""
    shape = draw(batch_norm_shapes(max_side=3))
    C = shape[1]
    arrays = (draw(values(shape)),)
    if draw(st.booleans()):
        arrays += (draw(values((C,), low=0.5, high=2.0, salt=1)), draw(values((C,), salt=2)))
    params = {"training": draw(st.booleans()), "eps": draw(st.sampled_from([1e-5, 1e-2, 0.3])),
              "momentum": draw(st.sampled_from([0.1, 0.5, 1.0]))}
    if params["training"] is False or draw(st.booleans()):
        params["running_mean"] = draw(values((C,), salt=3))
        params["running_var"] = draw(values((C,), low=0.5, high=2.0, salt=4))
    return (arrays, params)


@st.composite
def layer_norm_inputs(draw):
    """(x[, weight, bias]) float64 of a drawn (lead + tail) shape, and normalized_shape, eps."""
    lead, tail = draw(layer_norm_shapes(max_side=3))
    arrays = (draw(values(lead + tail)),)
    if draw(st.booleans()):
        arrays += (draw(values(tail, low=0.5, high=2.0, salt=1)), draw(values(tail, salt=2)))
    return (arrays, {"normalized_shape": tail, "eps": draw(st.sampled_from([1e-5, 1e-2, 0.3]))})


@st.composite
def rms_norm_inputs(draw):
    """(x[, weight]) float64 of a drawn (lead + tail) shape, normalized_shape and eps (None:
    the dtype's epsilon)."""
    lead, tail = draw(layer_norm_shapes(max_side=3))
    arrays = (draw(values(lead + tail)),)
    if draw(st.booleans()):
        arrays += (draw(values(tail, low=0.5, high=2.0, salt=1)),)
    return (arrays, {"normalized_shape": tail, "eps": draw(st.sampled_from([None, 1e-2, 0.3]))})


@st.composite
def local_response_norm_inputs(draw):
    """x (N, C, ...) of 3 or 4 axes and local_response_norm's size, alpha, beta and k (k > 0 so
    that the power's base stays away from 0)."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 5))) + tuple(
        draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    return ((draw(values(shape)),), {"size": draw(st.integers(1, 6)),
                                     "alpha": draw(st.sampled_from([1e-4, 0.5, 2.0])),
                                     "beta": draw(st.sampled_from([0.75, 0.5, 1.5])),
                                     "k": draw(st.sampled_from([1.0, 0.5, 2.0]))})


@st.composite
def fuzz_norm_cases(draw, op):
    """A JSON-ready case for the norm fuzzer: op ('batch_norm' or 'layer_norm'), seed, the
    input's shape, dtype and layout, the parameters' shapes (sometimes wrong) and dtype, and
    the options."""
    ndim = draw(st.integers(1 if op == "layer_norm" else 2, 5))
    shape = draw(st.lists(st.sampled_from([0, 1, 1, 2, 3, 5]), min_size=ndim, max_size=ndim))
    case = {"op": op, "seed": draw(st.integers(0, 2**31)), "shape": shape,
            "dtype": draw(st.sampled_from(["float32", "float32", "float64", "float64", "float16",
                                           "int64", "bool"])),
            "param_dtype": draw(st.sampled_from(["same", "same", "same", "float64"])),
            "layout": draw(st.sampled_from(LAYOUTS)),
            "affine": draw(st.booleans()), "eps": draw(st.sampled_from([1e-5, 0.1]))}
    if op == "batch_norm":
        C = shape[1]
        case["training"] = draw(st.booleans())
        case["running"] = draw(st.booleans())
        case["momentum"] = draw(st.sampled_from([0.1, 1.0]))
        case["param_shape"] = draw(st.sampled_from([[C], [C], [C], [C + 1], [1, C]]))
    else:
        k = draw(st.integers(1, ndim))
        tail = shape[ndim - k:]
        case["normalized_shape"] = draw(st.sampled_from([tail, tail, tail, tail[1:] + [4],
                                                         [2] + tail]))
        case["param_shape"] = draw(st.sampled_from([case["normalized_shape"]] * 3 + [[3]]))
    return case
