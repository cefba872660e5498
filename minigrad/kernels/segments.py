"""The checks and the segment layout shared by the scatter kernels of ``cpu/`` and ``gpu/``.

A scatter reduces the rows of ``src`` into ``num_segments`` output rows: row ``r`` goes to
segment ``index[r]``. Both kernel files first lay the rows out by segment (a CSR layout: the
rows of segment ``s`` are ``order[offsets[s]:offsets[s + 1]]``, in their original order), so
that one thread owns each output row and no two threads ever write the same cell.

Notation
--------
M             rows of ``src`` (edges);  D  features per row (trailing dims flattened)
S             ``num_segments``, rows of the output (nodes)
order         int64, shape (M,): the rows sorted by segment, stable
offsets       int64, shape (S + 1,): segment ``s`` holds ``order[offsets[s]:offsets[s + 1]]``
"""
import math

from minigrad.backend import xp_of

FLOATS = ("float32", "float64")


def check_index(op, index, rows, num_segments, src_shape=None):
    """``index`` as int64 after checking it names one of ``num_segments`` for each of ``rows``.

    Raises a ValueError for an index that is not a 1-D integer array or not ``rows`` long, an
    IndexError for a value outside [0, num_segments); both name ``op``. Runs before any kernel,
    which trusts it. ``src_shape`` (optional) is quoted in the length message.
    """
    kind, shape = getattr(getattr(index, "dtype", None), "kind", "?"), getattr(index, "shape", ())
    if kind not in "iu" or len(shape) != 1:
        raise ValueError(f"{op}: index must be a 1-D integer array, got shape {tuple(shape)} "
                         f"and dtype {getattr(index, 'dtype', type(index).__name__)}")
    if shape[0] != rows:
        of_src = f"src (shape {tuple(src_shape)})" if src_shape is not None else "src"
        raise ValueError(f"{op}: index must have one entry per row of {of_src}, that is shape "
                         f"({rows},), got shape {tuple(shape)}")
    if index.size and (int(index.min()) < 0 or int(index.max()) >= num_segments):
        raise IndexError(f"{op}: index values must be in [0, {num_segments}), got "
                         f"[{int(index.min())}, {int(index.max())}]")
    return index.astype(xp_of(index).int64, copy=False)


def validate_src(op, src, min_ndim=1):
    """TypeError / ValueError naming ``op`` unless ``src`` is a float array of at least
    ``min_ndim`` dims."""
    if str(src.dtype) not in FLOATS:
        raise TypeError(f"{op}: src must be float32 or float64, got {src.dtype}")
    if src.ndim < min_ndim:
        raise ValueError(f"{op}: src must have at least {min_ndim} dim(s) (rows first), got "
                         f"shape {tuple(src.shape)}")


def check_src(op, src, min_ndim=1):
    """``src`` as a C-contiguous (M, D) float array (a copy only when it is a strided view);
    TypeError / ValueError naming ``op``."""
    validate_src(op, src, min_ndim)
    D = math.prod(src.shape[1:])
    return xp_of(src).ascontiguousarray(src.reshape(src.shape[0], D))


def check_num_segments(op, num_segments, name="num_segments"):
    """``num_segments`` as an int >= 0; a ValueError naming ``op`` and the argument ``name``."""
    if isinstance(num_segments, bool) or not hasattr(num_segments, "__index__") \
            or int(num_segments) < 0:
        raise ValueError(f"{op}: {name} must be an int >= 0, got {num_segments!r}")
    return int(num_segments)
