"""Every hypothesis strategy the tests use, in one place (tested in test_strategies.py).

Values are float64 NumPy arrays; the tests turn them into Tensors on the device under test.
Kinks and ties are the strategy's job, not luck's: ``avoid`` keeps values away from the points
where an op is not differentiable, and ``distinct`` makes every value unique (for max, pooling).
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    """Array shapes, odd sizes included."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_pair(min_dims=0, max_dims=4, max_side=4):
    """Two shapes that broadcast together (size-1 axes and missing leading axes included)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=min_dims, max_dims=max_dims,
                                             max_side=max_side).map(lambda r: r.input_shapes)


@st.composite
def values(draw, shape, low=-3.0, high=3.0, avoid=(), margin=0.1, distinct=False, salt=0):
    """A float64 array of ``shape`` in [low, high].

    The values come from a generator seeded by a drawn integer and ``salt``: callers drawing
    several arrays give each its own salt, since hypothesis likes to shrink seeds to equal
    values, which would make the arrays equal (a tie or a kink, e.g. in maximum(a, b)).
    avoid : points (kinks) the values keep at least ``margin`` away from, so that central
        differences with a tiny step never straddle one.
    distinct : every value unique and at least ``margin`` from every other (no ties).
    """
    size = int(np.prod(shape, dtype=np.int64))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng([seed, salt])
    if distinct:
        # a shuffled grid with spacing >= margin, jittered by less than a quarter of it
        grid = np.linspace(low, high, size) if size > 1 else np.array([(low + high) / 2])
        jitter = rng.uniform(-0.2, 0.2, size) * ((high - low) / max(size - 1, 1))
        out = rng.permutation(grid + jitter)
    else:
        out = rng.uniform(low, high, size)
    for point in avoid:
        close = np.abs(out - point) < margin
        out[close] = point + np.where(out[close] >= point, margin, -margin) * 1.5
    return out.reshape(shape)


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


def _pooled_length(L, K, S, P, D, ceil_mode):
    """PyTorch's pooled length along one axis (ceil mode drops a last window that starts past
    the input and its left padding)."""
    out = (L + 2 * P - D * (K - 1) - 1 + (S - 1 if ceil_mode else 0)) // S + 1
    return out - 1 if ceil_mode and (out - 1) * S >= L + P else out


def _windows_touch_input(geometry):
    """Whether every pooling window has a tap inside the input (not only padding)."""
    g = geometry
    for L, K, S, P, D in ((g["H"], g["KH"], g["SH"], g["PH"], g["DH"]),
                          (g["W"], g["KW"], g["SW"], g["PW"], g["DW"])):
        for o in range(_pooled_length(L, K, S, P, D, g["ceil_mode"])):
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
