"""The inputs of each op in the registry (op_specs.py), one ``*_inputs`` strategy per kind.

Each gives ``(arrays, params)``: the arrays are differentiated, the params passed by keyword.
Options (modes, sizes, flags) are drawn rather than fixed, so one spec covers them all, and
each strategy states how it keeps clear of the op's kinks and ties. The losses' inputs are in
``losses.py``.

Notation
--------
arrays   a tuple of float64 arrays, the op's differentiable inputs, in order
params   a dict of the op's keyword arguments: indices, sizes, axes, options
N, C     batch and channels;  D feature size;  V, E table rows and width
"""
import numpy as np
from hypothesis import assume, strategies as st
from hypothesis.extra import numpy as hnp

import references as R
from .geometry import (conv_geometry, conv_keywords, conv_problems, pool_geometry, pool_images,
                       pool_keywords)
from .values import (axes_for, broadcastable_pair, index_keys, matmul_shapes, shapes, split,
                     tied_values, values)


def with_options(inputs, **choices):
    """``inputs`` with keyword options drawn too, e.g. ``with_options(s, reduction=REDUCTIONS)``."""
    return st.tuples(inputs, st.fixed_dictionaries(choices)).map(
        lambda d: (d[0][0], {**d[0][1], **d[1]}))


@st.composite
def unary_inputs(draw, shape=None, **value_kw):
    shape = draw(shapes() if shape is None else shape)
    return (draw(values(shape, **value_kw)),), {}


@st.composite
def binary_inputs(draw, distinct=False, tied=False, second=None, **value_kw):
    """Two arrays of broadcastable shapes; ``distinct`` or ``tied`` across both of them."""
    sa, sb = draw(broadcastable_pair(max_dims=3, max_side=3) if distinct or tied
                  else broadcastable_pair())
    size = int(np.prod(sa, dtype=np.int64) + np.prod(sb, dtype=np.int64))
    if tied:
        return split(draw(tied_values((size,))), sa, sb), {}
    if distinct:
        return split(draw(values((size,), distinct=True, margin=0.01, **value_kw)), sa, sb), {}
    b = draw(second(sb, salt=1) if second else values(sb, salt=1, **value_kw))
    return (draw(values(sa, **value_kw)), b), {}


def _reduced_count(shape, axis):
    axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


@st.composite
def axis_inputs(draw, distinct=False, tied=False, min_dims=0, min_count=1, **value_kw):
    """One array and a drawn ``axis`` (None, one, or several) and ``keepdims``; at least
    ``min_count`` entries are reduced into each output."""
    shape = draw(shapes(min_dims=min_dims, max_dims=3, max_side=4) if distinct or tied
                 else shapes(min_dims=min_dims))
    axis = draw(axes_for(len(shape)))
    assume(_reduced_count(shape, axis) >= min_count)
    x = draw(tied_values(shape) if tied else values(shape, distinct=distinct, margin=0.01,
                                                    **value_kw))
    return (x,), {"axis": axis, "keepdims": draw(st.booleans())}


@st.composite
def one_axis_inputs(draw):
    shape = draw(shapes(min_dims=1))
    return (draw(values(shape)),), {"axis": draw(st.integers(-len(shape), len(shape) - 1))}


@st.composite
def dim_inputs(draw, distinct=False, keepdim=True, **value_kw):
    """One array of at least one axis, a drawn int ``dim`` (negative too) and, when
    ``keepdim``, a drawn ``keepdim`` flag: the PyTorch-style single-axis reductions and scans."""
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=4))
    x = draw(values(shape, distinct=distinct, margin=0.01 if distinct else 0.1, **value_kw))
    params = {"dim": draw(st.integers(-len(shape), len(shape) - 1))}
    if keepdim:
        params["keepdim"] = draw(st.booleans())
    return (x,), params


@st.composite
def arrays_inputs(draw, *shape_strategies, **value_kw):
    """Arrays of shapes drawn jointly, e.g. ``st.integers(1, 3).map(lambda n: ((n, 2), (2,)))``."""
    shapes_ = draw(st.tuples(*shape_strategies))[0] if shape_strategies else ()
    return tuple(draw(values(s, salt=i, **value_kw)) for i, s in enumerate(shapes_)), {}


@st.composite
def reshape_inputs(draw):
    shape = draw(shapes())
    return (draw(values(shape)),), {"shape": tuple(draw(st.permutations(list(shape))))}


@st.composite
def permute_inputs(draw):
    shape = draw(shapes(min_dims=1))
    return (draw(values(shape)),), {"axes": tuple(draw(st.permutations(range(len(shape)))))}


@st.composite
def broadcast_inputs(draw):
    shape = draw(shapes(max_dims=3, max_side=3))
    target = tuple(draw(st.lists(st.integers(1, 3), max_size=2))) + tuple(
        draw(st.integers(1, 3)) if n == 1 else n for n in shape)
    return (draw(values(shape)),), {"shape": target}


@st.composite
def cat_inputs(draw, same_shape=False):
    shape = list(draw(shapes(min_dims=1, max_dims=3)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    arrays = []
    for _ in range(draw(st.integers(1, 3))):
        shape[axis] = shape[axis] if same_shape else draw(st.integers(1, 3))
        arrays.append(draw(values(tuple(shape), salt=len(arrays))))
    return tuple(arrays), {"axis": axis}


@st.composite
def getitem_inputs(draw):
    shape = draw(shapes(min_dims=1, max_dims=3))
    return (draw(values(shape)),), {"key": draw(index_keys(shape))}


@st.composite
def matmul_inputs(draw):
    sa, sb = draw(matmul_shapes())
    return (draw(values(sa)), draw(values(sb, salt=1))), {}


@st.composite
def pad_inputs(draw):
    shape = draw(shapes(min_dims=1, max_dims=3))
    width = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape)
    return (draw(values(shape)),), {"pad_width": width}


@st.composite
def torch_pad_inputs(draw):
    """F.pad's problems: x of 1-4 axes, widths for 1 to all of its trailing axes (last axis
    first), a mode, and a value for 'constant'. Widths fit the mode: negative ones (crops) only
    for 'constant', below the length for 'reflect', at most the length for 'circular'."""
    shape = draw(shapes(min_dims=1, max_dims=4, max_side=4))
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    pad = []
    for n in reversed(shape[len(shape) - draw(st.integers(1, len(shape))):]):
        low, high = {"constant": (-min(n, 2), 2), "reflect": (0, min(n - 1, 3)),
                     "replicate": (0, 3), "circular": (0, min(n, 3))}[mode]
        before = draw(st.integers(low, high))
        # a crop leaves at least nothing: the after width crops at most what is left
        after = draw(st.integers(max(low, -(n - max(-before, 0))), high))
        pad += [before, after]
    params = {"pad": tuple(pad), "mode": mode}
    if mode == "constant" and draw(st.booleans()):
        params["value"] = draw(st.sampled_from([-1.5, 0.0, 2.0]))
    return (draw(values(shape)),), params


@st.composite
def repeat_inputs(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    sizes = tuple(draw(st.integers(1, 3)) for _ in range(len(shape) + draw(st.integers(0, 1))))
    return (draw(values(shape)),), {"sizes": sizes}


@st.composite
def norm_inputs(draw, min_dims=2, channel_axis=1, groups=False):
    """x and, when drawn, an affine weight and bias over ``channel_axis`` (and num_groups)."""
    shape = draw(shapes(min_dims=min_dims, max_dims=4, min_side=2, max_side=4))
    params = {}
    if groups:
        G = draw(st.integers(1, 3))
        shape = shape[:1] + (G * draw(st.integers(1, 2)),) + shape[2:]
        params["num_groups"] = G
    arrays = (draw(values(shape)),)
    if draw(st.booleans()):
        C = shape[channel_axis]
        arrays += (draw(values((C,), low=0.5, high=2.0, salt=1)), draw(values((C,), salt=2)))
    return arrays, params


@st.composite
def scatter_inputs(draw, distinct=False, tied=False):
    """Rows (M, D), an index of M output rows in [0, size), and ``dim_size``."""
    M, D, size = draw(st.integers(1, 6)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    index = np.array(draw(st.lists(st.integers(0, size - 1), min_size=M, max_size=M)))
    src = draw(tied_values((M, D)) if tied else values((M, D), distinct=distinct))
    return (src,), {"index": index, "dim_size": size}


@st.composite
def conv_inputs(draw, transposed=False):
    """(x, weight[, bias]) and the conv keywords (stride, padding, dilation, groups and, for the
    transposed convolution, output_padding) of a small drawn geometry."""
    g, x, w, b = draw(conv_problems(transposed, max_size=3))
    return (x, w) if b is None else (x, w, b), conv_keywords(g, transposed)


@st.composite
def winograd_conv_inputs(draw, transposed=False):
    """(x, weight[, bias]) and the padding of a 3x3 or 5x5, stride-1 convolution (transposed:
    padding up to r - 1), the geometry of the Winograd path; images of 1 to 7 rows and columns,
    so that outputs of one row or column (which take im2col) come up too."""
    r = draw(st.sampled_from((3, 5)))
    N, C, K = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    PH, PW = draw(st.integers(0, r - 1)), draw(st.integers(0, r - 1))
    if transposed:  # the output, H + r - 1 - 2*PH, must not be empty
        PH, PW = min(PH, (H + r - 2) // 2), min(PW, (W + r - 2) // 2)
    else:  # the padded input must hold the kernel
        PH, PW = max(PH, (r + 1 - H) // 2), max(PW, (r + 1 - W) // 2)
    arrays = (draw(values((N, C, H, W))),
              draw(values((C, K, r, r) if transposed else (K, C, r, r), salt=1)))
    if draw(st.booleans()):
        arrays += (draw(values((K,), salt=2)),)
    return arrays, {"padding": (PH, PW)}


@st.composite
def phase_conv_inputs(draw, transposed=False):
    """(x, weight[, bias]) and the keywords of a 4x4, stride-2 convolution with padding 0 to 2
    (transposed: and output padding 0 or 1), the geometry of the phases' Winograd path; images
    of 1 to 7 rows and columns."""
    N, C, K = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    PH, PW = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    keywords = {"stride": 2}
    if transposed:  # the output, 2*H + 2 - 2*P + OP, must not be empty
        PH, PW = min(PH, H), min(PW, W)
        keywords["output_padding"] = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    else:  # the padded input must hold the kernel
        PH, PW = max(PH, (5 - H) // 2), max(PW, (5 - W) // 2)
    keywords["padding"] = (PH, PW)
    arrays = (draw(values((N, C, H, W))),
              draw(values((C, K, 4, 4) if transposed else (K, C, 4, 4), salt=1)))
    if draw(st.booleans()):
        arrays += (draw(values((K,), salt=2)),)
    return arrays, keywords


def _one_row(g, axis=("H", "KH", "SH", "PH", "DH", "OPH", "OH")):
    """A 2-D geometry draw made 1-D: the H axis becomes one row, one tap, no padding (the W
    axis, drawn as usual, is the sequence's)."""
    trivial = {"H": 1, "KH": 1, "SH": 1, "PH": 0, "DH": 1, "OPH": 0, "OH": 1}
    return {**g, **{k: trivial[k] for k in axis if k in g}}


@st.composite
def conv1d_inputs(draw, transposed=False):
    """(x (N, C, L), weight (.., .., KW)[, bias]) and conv1d's (or conv_transpose1d's)
    keywords, the W axis of a conv_geometry draw, one int each."""
    g = _one_row(draw(conv_geometry(transposed=transposed, max_size=4)))
    w_shape = ((g["C"], g["K"] // g["G"]) if transposed else (g["K"], g["C"] // g["G"]))
    arrays = (draw(values((g["N"], g["C"], g["W"]))), draw(values(w_shape + (g["KW"],), salt=1)))
    if draw(st.booleans()):
        arrays += (draw(values((g["K"],), salt=2)),)
    kw = dict(stride=g["SW"], padding=g["PW"], dilation=g["DW"], groups=g["G"])
    if transposed:
        kw["output_padding"] = g["OPW"]
    return arrays, kw


@st.composite
def pool1d_inputs(draw, kind):
    """x (N, C, L) and the keywords of max_pool1d (``kind`` 'max': distinct values, dilation,
    ceil_mode, return_indices), avg_pool1d ('avg': ceil_mode, count_include_pad) or
    adaptive_avg_pool1d ('adaptive': an output size above or below L)."""
    if kind == "adaptive":
        x = draw(values((draw(st.integers(1, 2)), draw(st.integers(1, 3)),
                         draw(st.integers(1, 6)))))
        return (x,), {"output_size": draw(st.integers(1, 5))}
    g = _one_row(draw(pool_geometry(dilation=kind == "max", ceil_mode=True, max_size=5)))
    x = draw(pool_images(g, distinct=kind == "max"))[:, :, 0]
    kw = dict(kernel_size=g["KW"], stride=g["SW"], padding=g["PW"], ceil_mode=g["ceil_mode"])
    if kind == "max":
        kw.update(dilation=g["DW"], return_indices=draw(st.booleans()))
    else:
        kw["count_include_pad"] = draw(st.booleans())
    return (x,), kw


@st.composite
def fold_inputs(draw, fold=False):
    """F.unfold's image and keywords (kernel_size, dilation, padding, stride: pairs of a
    conv_geometry draw); with ``fold``, the columns of that geometry instead, and output_size."""
    g = draw(conv_geometry(max_size=4))
    kw = dict(kernel_size=(g["KH"], g["KW"]), dilation=(g["DH"], g["DW"]),
              padding=(g["PH"], g["PW"]), stride=(g["SH"], g["SW"]))
    if not fold:
        return (draw(values((g["N"], g["C"], g["H"], g["W"]))),), kw
    columns = (g["N"], g["C"] * g["KH"] * g["KW"], g["OH"] * g["OW"])
    return (draw(values(columns)),), {"output_size": (g["H"], g["W"]), **kw}


@st.composite
def affine_grid_inputs(draw):
    """theta (N, 2, 3), the output size (N, C, H, W) and align_corners."""
    N = draw(st.integers(1, 2))
    size = (N, draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    return (draw(values((N, 2, 3))),), {"size": size, "align_corners": draw(st.booleans())}


@st.composite
def grid_sample_inputs(draw, mode=None):
    """(input (N, C, H, W), grid (N, Ho, Wo, 2)) and grid_sample's keywords, with every grid
    point's pixel coordinate at least 0.1 from the kinks: integers (the bilinear weights and
    the clamp of 'border') and, without align_corners, half-integers (the edges that
    'reflection' folds about and that 'nearest' rounds at). Points reach past the image on
    both sides, so the padding modes all act."""
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    Ho, Wo = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    corners = draw(st.booleans())
    fraction = st.sampled_from([0.15, 0.3, 0.35, 0.65, 0.7, 0.85])

    def coordinate(n):
        pixel = draw(st.integers(-2, n + 1)) + draw(fraction)
        # back to [-1, 1] coordinates (a length-1 axis with align_corners ignores them)
        return (2 * pixel / (n - 1) - 1) if corners and n > 1 else (2 * pixel + 1) / n - 1
    grid = np.array([[[[coordinate(W), coordinate(H)] for _ in range(Wo)] for _ in range(Ho)]
                     for _ in range(N)])
    params = {"mode": mode or draw(st.sampled_from(["bilinear", "nearest"])),
              "padding_mode": draw(st.sampled_from(["zeros", "border", "reflection"])),
              "align_corners": corners}
    return (draw(values((N, C, H, W))), grid), params


@st.composite
def adaptive_max_pool_inputs(draw, dims=2):
    """A distinct-valued image (dims 2) or sequence (dims 1), an output size above or below its
    sides (None keeps a side, in 2-D), and return_indices."""
    sides = tuple(draw(st.integers(1, 6)) for _ in range(dims))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + sides
    x = draw(values(shape, distinct=True, margin=0.01))
    side = st.integers(1, 5)
    size = draw(side) if dims == 1 else draw(st.one_of(side, st.tuples(side, side),
                                                          st.tuples(st.none(), side)))
    return (x,), {"output_size": size, "return_indices": draw(st.booleans())}


@st.composite
def shuffle_inputs(draw, kind):
    """x and the factor of F.pixel_shuffle ('pixel': channels C·r², upscale_factor),
    F.pixel_unshuffle ('unpixel': sides H·r and W·r, downscale_factor) or F.channel_shuffle
    ('channel': C divisible by groups), over 0-2 leading axes."""
    r = draw(st.integers(1, 3))
    lead = (2,) * draw(st.integers(0, 2 if kind != "channel" else 0))
    if kind == "pixel":
        shape = lead + (draw(st.integers(1, 2)) * r * r, draw(st.integers(1, 3)),
                        draw(st.integers(1, 3)))
        return (draw(values(shape)),), {"upscale_factor": r}
    if kind == "unpixel":
        shape = lead + (draw(st.integers(1, 2)), r * draw(st.integers(1, 2)),
                        r * draw(st.integers(1, 2)))
        return (draw(values(shape)),), {"downscale_factor": r}
    shape = (draw(st.integers(1, 2)), r * draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return (draw(values(shape)),), {"groups": r}


@st.composite
def max_pool_inputs(draw, tied=False):
    """A distinct (or ``tied``) image and max_pool2d's keywords, dilation, ceil_mode and
    return_indices drawn."""
    g = draw(pool_geometry(dilation=True, ceil_mode=True, max_size=4))
    shape = (g["N"], g["C"], g["H"], g["W"])
    x = draw(tied_values(shape) if tied else pool_images(g, distinct=True))
    return (x,), {**pool_keywords(g), "dilation": (g["DH"], g["DW"]),
                  "ceil_mode": g["ceil_mode"], "return_indices": draw(st.booleans())}


@st.composite
def avg_pool_inputs(draw):
    g = draw(pool_geometry(ceil_mode=True, max_size=4))
    return (draw(pool_images(g)),), {**pool_keywords(g), "ceil_mode": g["ceil_mode"],
                                     "count_include_pad": draw(st.booleans())}


@st.composite
def adaptive_pool_inputs(draw):
    """An image and output_size: an int, a pair, or a pair with None (keep that side)."""
    H, W = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    side = st.integers(1, 4)
    size = draw(st.one_of(side, st.tuples(side, side), st.tuples(st.none(), side)))
    return (draw(values((draw(st.integers(1, 2)), 2, H, W))),), {"output_size": size}


@st.composite
def unpool_inputs(draw):
    """Pooled values, flat indices into the unpooled (H, W) plane (random, so that collisions,
    which add, are common), the window keywords, and output_size (H, W) or None."""
    g = draw(pool_geometry(max_size=4))
    h = R.pooled_length(g["H"], g["KH"], g["SH"], g["PH"], 1, False)
    w = R.pooled_length(g["W"], g["KW"], g["SW"], g["PW"], 1, False)
    shape = (g["N"], g["C"], h, w)
    indices = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, g["H"] * g["W"] - 1)))
    return (draw(values(shape)),), {"indices": indices, **pool_keywords(g),
                                    "output_size": (g["H"], g["W"])}


@st.composite
def interpolate_inputs(draw):
    """A small image, a ``size`` or a ``scale_factor`` (one float or a pair, down or up), and
    mode 'nearest' or 'bilinear' with align_corners None, False or True."""
    H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    factor = st.floats(0.5, 3.0).map(lambda f: round(f, 2))
    if draw(st.booleans()):
        resize = {"size": draw(st.tuples(st.integers(1, 7), st.integers(1, 7)))}
    else:
        scale = draw(st.one_of(factor, st.tuples(factor, factor)))
        sh, sw = scale if isinstance(scale, tuple) else (scale, scale)
        assume(int(H * sh) >= 1 and int(W * sw) >= 1)
        resize = {"scale_factor": scale}
    mode = draw(st.sampled_from(["nearest", "bilinear"]))
    corners = draw(st.sampled_from([None, False, True])) if mode == "bilinear" else None
    return (draw(values((1, 2, H, W))),), {**resize, "mode": mode, "align_corners": corners}


@st.composite
def linear_inputs(draw):
    """x (..., N, I), weight (O, I) and, when drawn, bias (O,)."""
    N, I, O = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    arrays = (draw(values(lead + (N, I))), draw(values((O, I), salt=1)))
    return arrays + ((draw(values((O,), salt=2)),) if draw(st.booleans()) else ()), {}


@st.composite
def embedding_inputs(draw):
    V, E = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    idx = np.array(draw(st.lists(st.integers(0, V - 1), min_size=1, max_size=6)))
    return (draw(values((V, E))),), {"indices": idx}


@st.composite
def attention_inputs(draw):
    """q (B, L, D), k and v (B, S, D), and ``is_causal`` (drawn where L == S)."""
    B, L, Sq, D = (draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4)),
                   draw(st.integers(1, 4)))
    return (draw(values((B, L, D))), draw(values((B, Sq, D), salt=1)),
            draw(values((B, Sq, D), salt=2))), {"is_causal": draw(st.booleans()) and L == Sq}


@st.composite
def gather_inputs(draw):
    N, D = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    index = np.array(draw(st.lists(st.integers(0, N - 1), min_size=1, max_size=7)))
    return (draw(values((N, D))),), {"index": index}
