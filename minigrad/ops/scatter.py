"""Gather and scatter by row index: the message-passing primitives of graph networks.

A graph with S nodes and M edges keeps node features as rows of an (S, ...) tensor and edge
features as rows of an (M, ...) tensor. ``gather`` copies node rows onto edges (each edge reads
its endpoint); the scatters reduce edge rows into node rows (each node collects its incoming
edges). They run on the kernels of ``minigrad/kernels/{cpu,gpu}/scatter.py``, which first lay
the edges out by destination so that the reductions run in parallel without write races.

The family is closed under differentiation, with gather and scatter_add as adjoints:

    ============================  ==============================================================
    op                            backward (dL/dsrc for the output grad g)
    ============================  ==============================================================
    gather(src, index)            scatter_add(g, index, N)
    scatter_add(src, index, S)    gather(g, index)
    scatter_mean(src, index, S)   gather(g / counts, index)
    scatter_max / scatter_min     gather(g, index) * weight   (weight: raw, locally constant)
    segment_softmax(src, index)   y * (g - gather(scatter_add(g * y, index, S), index))
    ============================  ==============================================================

Rules, the same on every device:

- repeated indices accumulate: a row sent twice to a node counts twice;
- an empty segment (a node no edge points to) gives 0 for every reduction, never -inf or NaN;
- ties in scatter_max / scatter_min split the gradient evenly among the rows that reach the
  extreme (``weight = hit / ties``);
- bad input (a non-integer or wrongly shaped index, a value outside [0, S), a non-float src) is
  a clear error naming the op, raised before any kernel runs.

Notation
--------
N             rows of the gathered tensor (nodes);  M  rows of src / index (edges)
S             ``dim_size`` or ``num_segments``: rows of a scatter's output
index         int64, shape (M,): the segment (node) each row belongs to
"""
from ..autograd import Function
from ..backend import kernels_for, xp_of
from ..kernels.segments import check_index, check_num_segments, validate_src
from ..tensor import Tensor, raw


class Gather(Function):
    """out[m] = src[index[m]];  dL/dsrc = scatter_add(g, index, N)."""

    @staticmethod
    def forward(ctx, src, index):
        ctx.index, ctx.rows = index, src.shape[0]
        return kernels_for(src).gather(src, index)

    @staticmethod
    def backward(ctx, grad_output):
        return ScatterAdd.apply(grad_output, index=ctx.index, num_segments=ctx.rows)


class ScatterAdd(Function):
    """out[s] = Σ_{r: index[r] = s} src[r];  dL/dsrc = gather(g, index)."""

    @staticmethod
    def forward(ctx, src, index, num_segments):
        ctx.index = index
        return kernels_for(src).scatter_add(src, index, num_segments)

    @staticmethod
    def backward(ctx, grad_output):
        return Gather.apply(grad_output, index=ctx.index)


class ScatterMean(Function):
    """out[s] = Σ_{r: index[r] = s} src[r] / count[s] (0 if count is 0);
    dL/dsrc = gather(g / count, index)."""

    @staticmethod
    def forward(ctx, src, index, num_segments):
        out, counts = kernels_for(src).scatter_mean(src, index, num_segments)
        ctx.index = index
        # raw: a constant of the graph, not a function of src
        ctx.scale = (1 / counts.clip(1)).astype(src.dtype).reshape((-1,) + (1,) * (src.ndim - 1))
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return Gather.apply(grad_output * ctx.scale, index=ctx.index)


class ScatterExtreme(Function):
    """out[s] = max (or min) over the rows r with index[r] = s, 0 for an empty segment;
    dL/dsrc[r] = g[index[r]] · hit[r] / ties[index[r]], hit[r] = (src[r] == out[index[r]])."""

    @staticmethod
    def forward(ctx, src, index, num_segments, largest):
        kernels = kernels_for(src)
        out, ties = (kernels.scatter_max if largest else kernels.scatter_min)(
            src, index, num_segments)
        hit = (src == kernels.gather(out, index)).astype(src.dtype)
        ctx.index = index
        # raw: which rows win is locally constant, so its derivative is zero (STYLE C2)
        ctx.weight = hit / kernels.gather(ties.clip(1).astype(src.dtype), index)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return Gather.apply(grad_output, index=ctx.index) * ctx.weight


class SegmentSoftmax(Function):
    """y[r] = exp(src[r]) / Σ_{r': index[r'] = index[r]} exp(src[r']);
    dL/dsrc = y · (g - gather(scatter_add(g · y, index, S), index))."""

    @staticmethod
    def forward(ctx, src, index, num_segments):
        y = kernels_for(src).segment_softmax(src, index, num_segments)
        ctx.index, ctx.num_segments = index, num_segments
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        gy = grad_output * y
        total = ScatterAdd.apply(gy, index=ctx.index, num_segments=ctx.num_segments)
        return gy - y * Gather.apply(total, index=ctx.index)


def _checked(op, src, index, num_segments=None, name="dim_size"):
    """(index as an int64 array, S) after every check; raises before any kernel runs.

    A scatter gives ``num_segments``, and index must have one entry per row of src. Gather gives
    None: index picks among src's rows, and its length is free. src is checked first, so that
    a non-Tensor or 0-d src is a clear error, not an AttributeError or IndexError.
    """
    if not isinstance(src, Tensor):
        raise TypeError(f"{op}: src must be a Tensor, got {type(src).__name__}")
    validate_src(op, src.data)  # shape and dtype only: the kernel makes its own contiguous view
    gathering = num_segments is None
    S = check_num_segments(op, src.shape[0] if gathering else num_segments, name)
    index = xp_of(src.data).asarray(raw(index))
    if gathering:
        rows = index.shape[0] if index.ndim == 1 else -1
    else:
        rows = src.shape[0]
    return (check_index(op, index, rows, S, src.shape), S)


def gather(src, index):
    """Rows of ``src`` picked by ``index``: out[m] = src[index[m]] (node features to edges).

    Parameters
    ----------
    src : Tensor, shape (N, ...), float32 or float64
    index : int array, list or Tensor, shape (M,), values in [0, N); repeats allowed

    Returns
    -------
    Tensor, shape (M, ...)

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.gather(mg.tensor([[1.0], [2.0], [3.0]]), [2, 0, 2]).tolist()
    [[3.0], [1.0], [3.0]]
    """
    index, _ = _checked("gather", src, index)
    return Gather.apply(src, index=index)


def scatter_add(src, index, dim_size):
    """out[s] = sum of the rows r of ``src`` with index[r] = s (edge messages summed per node).

    Repeated indices accumulate; a row no index names (an empty segment) is 0.

    Parameters
    ----------
    src : Tensor, shape (M, ...), float32 or float64
    index : int array, list or Tensor, shape (M,), values in [0, dim_size)
    dim_size : int
        Rows S of the result.

    Returns
    -------
    Tensor, shape (S, ...)

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.scatter_add(mg.tensor([1.0, 2.0, 4.0]), [0, 2, 0], 3).tolist()
    [5.0, 0.0, 2.0]
    """
    index, S = _checked("scatter_add", src, index, dim_size)
    return ScatterAdd.apply(src, index=index, num_segments=S)


def scatter_mean(src, index, dim_size):
    """The mean of the rows of ``src`` sent to each output row; 0 where none is sent.

    Shapes as :func:`scatter_add`.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.scatter_mean(mg.tensor([1.0, 2.0, 4.0]), [0, 2, 0], 3).tolist()
    [2.5, 0.0, 2.0]
    """
    index, S = _checked("scatter_mean", src, index, dim_size)
    return ScatterMean.apply(src, index=index, num_segments=S)


def scatter_max(src, index, dim_size):
    """The elementwise max of the rows of ``src`` sent to each output row; 0 where none is.

    The gradient goes to the rows that reach the max, split evenly among ties. Shapes as
    :func:`scatter_add`.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.scatter_max(mg.tensor([1.0, -2.0, 4.0]), [0, 2, 0], 3).tolist()
    [4.0, 0.0, -2.0]
    """
    index, S = _checked("scatter_max", src, index, dim_size)
    return ScatterExtreme.apply(src, index=index, num_segments=S, largest=True)


def scatter_min(src, index, dim_size):
    """The elementwise min of the rows of ``src`` sent to each output row; 0 where none is.

    The gradient goes to the rows that reach the min, split evenly among ties. Shapes as
    :func:`scatter_add`.

    >>> import minigrad as mg, minigrad.functional as F
    >>> F.scatter_min(mg.tensor([1.0, -2.0, 4.0]), [0, 2, 0], 3).tolist()
    [1.0, 0.0, -2.0]
    """
    index, S = _checked("scatter_min", src, index, dim_size)
    return ScatterExtreme.apply(src, index=index, num_segments=S, largest=False)


def segment_softmax(src, index, num_segments):
    """Softmax over the rows of each segment, per feature: the attention weights of a node's
    incoming edges in a graph attention layer.

    y[r] = exp(src[r] - m) / Σ exp(src[r'] - m) over the rows r' with index[r'] = index[r], m
    their max (the log-sum-exp shift keeps every exponent <= 0: no overflow, no NaN, even for
    scores of 1e4). Each non-empty segment's weights sum to 1.

    Parameters
    ----------
    src : Tensor, shape (M, ...), float32 or float64
    index : int array, list or Tensor, shape (M,), values in [0, num_segments)
    num_segments : int

    Returns
    -------
    Tensor, shape (M, ...)

    >>> import minigrad as mg, minigrad.functional as F
    >>> [round(v, 4) for v in F.segment_softmax(mg.tensor([0.0, 1e4, 0.0]), [0, 1, 0], 2).tolist()]
    [0.5, 1.0, 0.5]
    """
    index, S = _checked("segment_softmax", src, index, num_segments, "num_segments")
    return SegmentSoftmax.apply(src, index=index, num_segments=S)
