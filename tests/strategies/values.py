"""Values and the shapes they fill: arrays, broadcasting, axes, index keys, kinks and ties.

Values are float64 NumPy arrays; the tests turn them into Tensors on the device under test.
Kinks and ties are the strategy's job, not luck's: ``avoid`` keeps values away from the points
where an op is not differentiable, ``distinct`` keeps every value apart from every other (for
max, pooling), and ``tied_values`` does the opposite on purpose, for the tests of tie rules.

Notation
--------
shape    a tuple of sizes, () for a scalar
salt     an int mixed into a drawn seed, one per array drawn together, so they differ
margin   the least distance kept from a kink (``avoid``) or between values (``distinct``)
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


@st.composite
def probabilities(draw, shape, smallest, salt=0):
    """Probabilities in [smallest, 1 - smallest], log-uniform near both ends: the sigmoid of
    logits uniform in [-log(1/smallest - 1), +log(1/smallest - 1)]."""
    edge = np.log(1 / smallest - 1)
    return 1 / (1 + np.exp(-draw(values(shape, low=-edge, high=edge, salt=salt))))


def split(flat, *shapes):
    """Cut one flat array into arrays of ``shapes``: values drawn together stay distinct (or
    tied) across the pieces, not only within each."""
    sizes = np.cumsum([int(np.prod(s, dtype=np.int64)) for s in shapes])[:-1]
    return tuple(piece.reshape(s) for piece, s in zip(np.split(flat, sizes), shapes))


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
