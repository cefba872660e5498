"""Every hypothesis strategy the tests use, in one place (tested in test_strategies.py).

Values are float64 NumPy arrays; the tests turn them into Tensors on the device under test.
Kinks and ties are the strategy's job, not luck's: ``avoid`` keeps values away from the points
where an op is not differentiable, ``distinct`` keeps every value apart from every other (for
max, pooling), and ``tied_values`` does the opposite on purpose, for the tests of tie rules.

The op registry (op_specs.py) draws its inputs from the ``*_inputs`` strategies at the end: each
gives ``(arrays, params)``, the arrays differentiated and the params passed by keyword, options
(reductions, weights, modes) drawn rather than fixed.
"""
import numpy as np
from hypothesis import assume, strategies as st
from hypothesis.extra import numpy as hnp

import references as R

def shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    """Array shapes, odd sizes included."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_pair(min_dims=0, max_dims=4, max_side=4):
    """Two shapes that broadcast together (size-1 axes and missing leading axes included)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=min_dims, max_dims=max_dims,
                                             max_side=max_side).map(lambda r: r.input_shapes)


def _free_intervals(low, high, avoid, margin):
    """[low, high] less the open intervals (point - margin, point + margin), as closed pieces."""
    pieces, start = [], low
    for point in sorted(avoid):
        if point - margin > start:
            pieces.append((start, min(point - margin, high)))
        start = max(start, point + margin)
    if high > start or not pieces and high == start:
        pieces.append((start, high))
    return pieces


def _unfold(t, pieces):
    """Map offsets in [0, total length) onto the pieces laid end to end: distances between
    offsets can only grow, since the gaps between pieces are added back."""
    starts = np.array([a for a, _ in pieces])
    ends = np.cumsum([b - a for a, b in pieces])  # where each piece ends, in offsets
    k = np.minimum(np.searchsorted(ends, t, side="right"), len(pieces) - 1)
    return starts[k] + t - (ends - [b - a for a, b in pieces])[k]


@st.composite
def values(draw, shape, low=-3.0, high=3.0, avoid=(), margin=0.1, distinct=False, salt=0):
    """A float64 array of ``shape`` in [low, high].

    The values come from a generator seeded by a drawn integer and ``salt``: callers drawing
    several arrays give each its own salt, since hypothesis likes to shrink seeds to equal
    values, which would make the arrays equal (a tie or a kink, e.g. in maximum(a, b)).
    avoid : points (kinks) the values keep at least ``margin`` away from, so that central
        differences with a tiny step never straddle one.
    distinct : every value at least ``margin`` from every other (no ties); raises ValueError
        when ``shape`` holds more values than [low, high] has room for at that spacing.
    """
    size = int(np.prod(shape, dtype=np.int64))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng([seed, salt])
    pieces = _free_intervals(low, high, avoid, margin)
    room = sum(b - a for a, b in pieces)
    if not pieces:
        raise ValueError(f"values: nothing of [{low}, {high}] is left once the points {avoid} "
                         f"are avoided by {margin}")
    if distinct:
        slack = room - (size - 1) * margin
        if slack < 0:
            raise ValueError(f"values: {size} distinct values {margin} apart need a range of "
                             f"{(size - 1) * margin}, but [{low}, {high}] less the points "
                             f"{avoid} leaves {room}; draw a smaller shape or margin")
        # sorted offsets plus i * margin: consecutive ones, hence all, stay >= margin apart
        t = rng.permutation(np.sort(rng.uniform(0, slack, size)) + margin * np.arange(size))
    else:
        t = rng.uniform(0, room, size)
    return np.clip(_unfold(t, pieces), low, high).reshape(shape)


@st.composite
def tied_values(draw, shape, levels=3, low=-3.0, high=3.0, salt=0):
    """A float64 array of ``shape`` whose entries take at most ``levels`` values, so that most
    draws repeat a value (ties), for the tests of the ops' tie rules."""
    rng = np.random.default_rng([draw(st.integers(0, 2**32 - 1)), salt])
    pool = np.round(rng.uniform(low, high, draw(st.integers(1, levels))), 1)
    return rng.choice(pool, size=shape).astype(np.float64)


def positive(shape, low=0.3, high=3.0, salt=0):
    """Values bounded away from 0 (for log, sqrt, division)."""
    return values(shape, low=low, high=high, salt=salt)


def axes_for(ndim):
    """``axis`` arguments for an array of ``ndim`` dims: None, one axis (maybe negative), or a
    tuple of distinct axes."""
    if ndim == 0:
        return st.just(None)
    one = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                       unique=True).map(tuple)
    return st.one_of(st.none(), one, several)


@st.composite
def index_keys(draw, shape):
    """Keys for ``x[key]``: ints, slices with steps, None, Ellipsis, integer arrays with
    repeats, or a boolean mask."""
    kind = draw(st.sampled_from(["basic", "int_array", "mask"]))
    if kind == "mask":
        mask = draw(hnp.arrays(bool, shape))
        return mask
    if kind == "int_array":
        axis_len = shape[0]
        idx = draw(st.lists(st.integers(-axis_len, axis_len - 1), min_size=1, max_size=6))
        return np.array(idx)
    key = []
    for n in shape:
        choice = draw(st.sampled_from(["int", "slice", "full"]))
        if choice == "int":
            key.append(draw(st.integers(-n, n - 1)))
        elif choice == "slice":
            start = draw(st.integers(0, n - 1))
            stop = draw(st.integers(start + 1, n))
            step = draw(st.integers(1, 2))
            key.append(slice(start, stop, step))
        else:
            key.append(slice(None))
    if draw(st.booleans()):
        key.insert(draw(st.integers(0, len(key))), None)
    if key and draw(st.booleans()):
        key = [Ellipsis] + key[1:]
    return tuple(key)


@st.composite
def matmul_shapes(draw):
    """Operand shapes for ``a @ b``: vectors, matrices, and batches that broadcast."""
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["vv", "mv", "vm", "mm", "batch"]))
    if kind == "vv":
        return (k,), (k,)
    if kind == "mv":
        return (n, k), (k,)
    if kind == "vm":
        return (k,), (k, m)
    if kind == "mm":
        return (n, k), (k, m)
    batch_a, batch_b = draw(broadcastable_pair(min_dims=1, max_dims=2, max_side=3))
    return batch_a + (n, k), batch_b + (k, m)


def _windows_touch_input(geometry):
    """Whether every pooling window has a tap inside the input (not only padding)."""
    g = geometry
    for L, K, S, P, D in ((g["H"], g["KH"], g["SH"], g["PH"], g["DH"]),
                          (g["W"], g["KW"], g["SW"], g["PW"], g["DW"])):
        for o in range(R.pooled_length(L, K, S, P, D, g["ceil_mode"])):
            if not any(0 <= o * S - P + k * D < L for k in range(K)):
                return False
    return True


@st.composite
def _pool_geometries(draw, dilation, ceil_mode, max_size):
    geometry = {"N": draw(st.integers(1, 2)), "C": draw(st.integers(1, 3)),
                "ceil_mode": draw(st.booleans()) if ceil_mode else False}
    for L, K, S, P, D in (("H", "KH", "SH", "PH", "DH"), ("W", "KW", "SW", "PW", "DW")):
        geometry[K] = kernel = draw(st.integers(1, 4))
        geometry[S] = draw(st.integers(1, 3))
        geometry[P] = draw(st.integers(0, kernel // 2))  # PyTorch's limit: half the kernel
        geometry[D] = draw(st.integers(1, 2)) if dilation else 1
        # the padded input must hold one (dilated) window
        low = max(1, geometry[D] * (kernel - 1) + 1 - 2 * geometry[P])
        geometry[L] = draw(st.integers(low, max(low, max_size)))
    return geometry


def pool_geometry(dilation=False, ceil_mode=False, max_size=7):
    """A pooling set-up over an NCHW image: sizes, window, stride, padding, dilation.

    Windows overlap (stride < kernel) or leave gaps (stride > kernel), sizes are often odd, and
    padding is at most half the kernel. Every draw pools to at least one cell per axis, and every
    window has a tap inside the input (with dilation they could otherwise all land in padding).

    Parameters
    ----------
    dilation : bool
        Draw dilations in {1, 2}; otherwise they are 1.
    ceil_mode : bool
        Draw ``ceil_mode``; otherwise it is False.
    max_size : int
        Largest H and W beyond what one window needs.

    Returns
    -------
    A strategy of dicts with int keys N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW and the bool
    ``ceil_mode``.
    """
    return _pool_geometries(dilation, ceil_mode, max_size).filter(_windows_touch_input)


@st.composite
def conv_geometry(draw, transposed=False, max_size=5):
    """A convolution set-up over an NCHW image: batch, channels, groups, sizes, kernel, stride,
    padding, dilation and, for a transposed convolution, output padding.

    Sizes are often odd, strides can exceed the kernel (gaps) or not (overlaps), and groups split
    the channels. Every draw gives an output of at least one pixel per axis.

    Parameters
    ----------
    transposed : bool
        Draw for ``conv_transpose2d``: output padding in ``[0, max(stride, dilation))``
        (PyTorch's rule) and sizes that the transposed convolution turns into OH, OW >= 1.
    max_size : int
        Largest H and W beyond what one (dilated) kernel needs.

    Returns
    -------
    A strategy of dicts with int keys N, C, K, G (the op's input and output channels and the
    groups), H, W (the op's input size), OH, OW (its output size), KH, KW, SH, SW, PH, PW, DH,
    DW, OPH, OPW (0 unless ``transposed``).
    """
    G = draw(st.integers(1, 2))
    g = {"N": draw(st.integers(1, 2)), "G": G,
         "C": G * draw(st.integers(1, 2)), "K": G * draw(st.integers(1, 2))}
    for L, O, K, S, P, D, OP in (("H", "OH", "KH", "SH", "PH", "DH", "OPH"),
                                 ("W", "OW", "KW", "SW", "PW", "DW", "OPW")):
        g[K], g[S], g[D] = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
        span = g[D] * (g[K] - 1) + 1
        if transposed:
            g[L] = draw(st.integers(1, 3))
            g[OP] = draw(st.integers(0, max(g[S], g[D]) - 1))
            # keep at least one output pixel: 2*P may not eat the whole transposed extent
            g[P] = draw(st.integers(0, min(2, ((g[L] - 1) * g[S] + span - 1 + g[OP]) // 2)))
            g[O] = (g[L] - 1) * g[S] - 2 * g[P] + span + g[OP]
        else:
            g[P], g[OP] = draw(st.integers(0, 2)), 0
            low = max(1, span - 2 * g[P])  # the padded input must hold one kernel
            g[L] = draw(st.integers(low, low + max_size - 1))
            g[O] = (g[L] + 2 * g[P] - span) // g[S] + 1
    return g


@st.composite
def im2col_cases(draw):
    """(geometry, x) for the im2col/col2im kernels: a conv geometry, sometimes with more window
    positions than the image gives (the kernels take OH, OW explicitly and must read zeros past
    the padded input), and x in float32 or float64."""
    g = draw(conv_geometry())
    g["OH"] += draw(st.integers(0, 2))
    g["OW"] += draw(st.integers(0, 1))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return g, draw(values((g["N"], g["C"], g["H"], g["W"]))).astype(dtype)


@st.composite
def conv_problems(draw, transposed=False, max_size=5):
    """(geometry, x, weight, bias or None) as float64 arrays, the geometry from conv_geometry."""
    g = draw(conv_geometry(transposed=transposed, max_size=max_size))
    if transposed:
        w_shape = (g["C"], g["K"] // g["G"], g["KH"], g["KW"])
    else:
        w_shape = (g["K"], g["C"] // g["G"], g["KH"], g["KW"])
    x = draw(values((g["N"], g["C"], g["H"], g["W"])))
    w = draw(values(w_shape, salt=1))
    b = draw(values((g["K"],), salt=2)) if draw(st.booleans()) else None
    return g, x, w, b


def conv_keywords(g, transposed):
    """The keyword arguments of conv2d (or conv_transpose2d) for a conv_geometry draw."""
    kw = dict(stride=(g["SH"], g["SW"]), padding=(g["PH"], g["PW"]),
              dilation=(g["DH"], g["DW"]), groups=g["G"])
    if transposed:
        kw["output_padding"] = (g["OPH"], g["OPW"])
    return kw


def pool_keywords(g):
    """kernel_size, stride and padding of a pool_geometry draw, as keyword arguments."""
    return dict(kernel_size=(g["KH"], g["KW"]), stride=(g["SH"], g["SW"]),
                padding=(g["PH"], g["PW"]))


def pool_images(geometry, distinct=False, salt=0):
    """Images of the geometry's shape (N, C, H, W); ``distinct`` values (0.01 apart, far more
    than a finite-difference step) give every pooling window a unique maximum."""
    g = geometry
    return values((g["N"], g["C"], g["H"], g["W"]), distinct=distinct, margin=0.01, salt=salt)


REDUCTIONS = st.sampled_from(["none", "mean", "sum"])


def with_options(inputs, **choices):
    """``inputs`` with keyword options drawn too, e.g. ``with_options(s, reduction=REDUCTIONS)``."""
    return st.tuples(inputs, st.fixed_dictionaries(choices)).map(
        lambda d: (d[0][0], {**d[0][1], **d[1]}))


def split(flat, *shapes):
    """Cut one flat array into arrays of ``shapes``: values drawn together stay distinct (or
    tied) across the pieces, not only within each."""
    sizes = np.cumsum([int(np.prod(s, dtype=np.int64)) for s in shapes])[:-1]
    return tuple(piece.reshape(s) for piece, s in zip(np.split(flat, sizes), shapes))


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
def repeat_inputs(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    sizes = tuple(draw(st.integers(1, 3)) for _ in range(len(shape) + draw(st.integers(0, 1))))
    return (draw(values(shape)),), {"sizes": sizes}


@st.composite
def class_target_inputs(draw, smoothing=False):
    """Logits (N, C) and integer targets, with a drawn reduction, an optional class ``weight``
    and an optional ``ignore_index`` that some targets (never the first) then take."""
    N, C = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    target = np.array(draw(st.lists(st.integers(0, C - 1), min_size=N, max_size=N)))
    params = {"reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        params["weight"] = draw(values((C,), low=0.5, high=2.0, salt=1))
    if draw(st.booleans()):
        ignored = draw(st.sampled_from([-100, int(target[0])]))
        target[0] = (ignored + 1) % C if ignored >= 0 else target[0]
        hits = np.array(draw(st.lists(st.booleans(), min_size=N, max_size=N)))
        target[1:][hits[1:]] = ignored
        params["ignore_index"] = ignored
    if smoothing:
        params["label_smoothing"] = draw(st.floats(0.0, 1.0, exclude_max=True))
    return (draw(values((N, C))),), {"target": target, **params}


@st.composite
def soft_target_inputs(draw):
    """Logits (N, C) and target probabilities over the C classes."""
    N, C = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    t = draw(values((N, C), low=0.0, high=1.0, salt=1))
    return (draw(values((N, C))),), {"target": t / t.sum(1, keepdims=True),
                                     "reduction": draw(REDUCTIONS),
                                     "label_smoothing": draw(st.floats(0.0, 1.0,
                                                                       exclude_max=True))}


@st.composite
def target_inputs(draw, low=-3.0, high=3.0, kink=False):
    """An input and a same-shape ``target`` param; with ``kink`` the two differ by at least 0.1
    everywhere (for |input - target|)."""
    shape = draw(shapes(min_dims=1))
    x = draw(values(shape, low=low, high=high))
    offset = draw(values(shape, avoid=(0,) if kink else (), salt=1))
    return (x,), {"target": x + offset if kink else offset, "reduction": draw(REDUCTIONS)}


@st.composite
def probabilities(draw, shape, smallest, salt=0):
    """Probabilities in [smallest, 1 - smallest], log-uniform near both ends: the sigmoid of
    logits uniform in [-log(1/smallest - 1), +log(1/smallest - 1)]."""
    edge = np.log(1 / smallest - 1)
    return 1 / (1 + np.exp(-draw(values(shape, low=-edge, high=edge, salt=salt))))


@st.composite
def bce_inputs(draw, smallest=1e-4, differentiate_p=True):
    """Probabilities p (near 0 and 1 often), targets t in [0, 1] with some exactly 0 or 1, a
    drawn reduction and weight. Both are arrays when ``differentiate_p``, else only t is and
    p rides along as a param, so that p may come closer to 0 and 1 than a finite-difference
    step in p allows."""
    shape = draw(shapes(min_dims=1, max_dims=3))
    p = draw(probabilities(shape, smallest))
    t = draw(values(shape, low=0.0, high=1.0, salt=1))
    t = np.where(draw(values(shape, salt=2)) > 2, 1.0, np.where(t < 0.2, 0.0, t))
    params = {"reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        params["weight"] = draw(values(shape[-1:], low=0.5, high=2.0, salt=3))
    return ((p, t), params) if differentiate_p else ((t,), {"p": p, **params})


@st.composite
def logits_target_inputs(draw):
    """Logits, targets in [0, 1], a drawn reduction, weight and pos_weight (per class)."""
    shape = draw(shapes(min_dims=1, max_dims=3))
    params = {"target": draw(values(shape, low=0.0, high=1.0, salt=1)),
              "reduction": draw(REDUCTIONS)}
    for i, name in enumerate(("weight", "pos_weight")):
        if draw(st.booleans()):
            params[name] = draw(values(shape[-1:], low=0.5, high=2.0, salt=2 + i))
    return (draw(values(shape)),), params


@st.composite
def kl_div_inputs(draw):
    """Log-probabilities and a target given as probabilities (some exactly 0, where 0·log 0 is
    0) or, with ``log_target``, as log-probabilities."""
    shape = draw(shapes(min_dims=1))
    t = draw(values(shape, low=0.05, high=1.0, salt=1))
    log_target = draw(st.booleans())
    t = np.log(t) if log_target else np.where(t < 0.2, 0.0, t)
    return (draw(values(shape, low=-3, high=-0.1)),), {
        "target": t, "log_target": log_target,
        "reduction": draw(st.sampled_from(["none", "mean", "sum", "batchmean"]))}


@st.composite
def margin_inputs(draw):
    """Scores (N, C) and targets for multi_margin_loss, off the hinge by at least 0.05, with a
    drawn power ``p``, ``margin``, ``weight`` and reduction."""
    N, C = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    x = draw(values((N, C), distinct=True, margin=0.2))
    target = np.array(draw(st.lists(st.integers(0, C - 1), min_size=N, max_size=N)))
    margin = draw(st.sampled_from([0.5, 1.0]))
    assume(np.abs(margin - x[np.arange(N), target][:, None] + x).min() > 0.05)
    params = {"target": target, "p": draw(st.sampled_from([1, 2])), "margin": margin,
              "reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        params["weight"] = draw(values((C,), low=0.5, high=2.0, salt=1))
    return (x,), params


@st.composite
def vectors_inputs(draw, n=2, apart=False):
    """``n`` arrays (N, D); with ``apart`` each differs from the first by at least 0.1 in every
    entry, away from the kink of |a - b| at 0."""
    N, D = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    first = draw(values((N, D)))
    rest = [first + draw(values((N, D), avoid=(0,) if apart else (), salt=i))
            for i in range(1, n)]
    return (first, *rest), {}


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
