"""Strategies for the graph ops (gather, the scatters, segment softmax) and their kernels.

Indices are drawn in three styles, so that the edge cases are common rather than lucky:
spread over all segments, piled onto one segment (heavy repetition), or confined to the first
half of the segments (the rest stay empty).

Notation
--------
M      rows of src / entries of index (edges);  S  segments (nodes);  D  features
"""
import numpy as np
from hypothesis import strategies as st

from .values import values


@st.composite
def segment_index(draw, M, S):
    """An int64 index of M entries in [0, S): spread, piled on one segment, or half empty."""
    style = draw(st.sampled_from(["spread", "pile", "half"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if style == "pile":
        return np.full(M, rng.integers(0, S), dtype=np.int64)
    high = max(1, S // 2) if style == "half" else S
    return rng.integers(0, high, M).astype(np.int64)


@st.composite
def segment_inputs(draw, distinct=False, min_rows=1, max_rows=8, trailing=True):
    """((src,), {"index", <size>}) for a scatter: src (M,) or (M, D) or (M, D, 2)."""
    M, S = draw(st.integers(min_rows, max_rows)), draw(st.integers(1, 5))
    tail = draw(st.sampled_from([(), (1,), (3,), (2, 2)])) if trailing else (2,)
    src = draw(values((M,) + tail, distinct=distinct))
    return (src,), {"index": draw(segment_index(M, S)), "dim_size": S}


def softmax_inputs(**kwargs):
    """As :func:`segment_inputs`, with the size keyword named ``num_segments``."""
    return segment_inputs(**kwargs).map(
        lambda drawn: (drawn[0], {"index": drawn[1]["index"],
                                  "num_segments": drawn[1]["dim_size"]}))


@st.composite
def gather_inputs(draw, max_rows=6):
    """((src,), {"index"}) with src (N, ...) and an index of M rows in [0, N), repeats allowed."""
    N, M = draw(st.integers(1, 5)), draw(st.integers(0, max_rows))
    tail = draw(st.sampled_from([(), (2,), (2, 2)]))
    return (draw(values((N,) + tail)),), {"index": draw(segment_index(M, N))}
