"""Op specs of the graph family (``minigrad/ops/scatter.py``): gather, the scatters and the
segment softmax, each against a NumPy loop over segments (empty segments give 0)."""
import numpy as np

import minigrad.functional as F
from op_specs import spec
from strategies.graph import gather_inputs, segment_inputs, softmax_inputs


def _segments(reduce):
    """The NumPy reference of a scatter: one ``reduce`` per non-empty segment, 0 elsewhere."""
    def reference(src, index, dim_size):
        out = np.zeros((dim_size,) + src.shape[1:])
        for s in range(dim_size):
            if (index == s).any():
                out[s] = reduce(src[index == s], axis=0)
        return out
    return reference


def _segment_softmax(src, index, num_segments):
    out = np.empty_like(src)
    for s in range(num_segments):
        rows = src[index == s]
        if rows.size:
            e = np.exp(rows - rows.max(axis=0))
            out[index == s] = e / e.sum(axis=0)
    return out


spec("gather", F.gather, gather_inputs(), lambda src, index: src[index])
spec("scatter_add", F.scatter_add, segment_inputs(), _segments(np.sum))
spec("scatter_mean", F.scatter_mean, segment_inputs(), _segments(np.mean))
spec("scatter_max", F.scatter_max, segment_inputs(distinct=True), _segments(np.max),
     note="values distinct so no ties (test_ties.py checks the tie rule)")
spec("scatter_min", F.scatter_min, segment_inputs(distinct=True), _segments(np.min),
     note="values distinct so no ties (tests/ops/test_scatter.py checks the tie rule)")
spec("segment_softmax", F.segment_softmax, softmax_inputs(), _segment_softmax)
