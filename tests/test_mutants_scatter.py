"""What ``minigrad/ops/scatter.py``, ``ops/loss.py`` and ``ops/dims.py`` promise, checked where
the rest of the suite did not look: a src that is not a Tensor, or is 0-d, is a clear error
naming the op (it used to be an AttributeError or an IndexError from the wrapper).
"""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F

SCATTERS = ["scatter_add", "scatter_mean", "scatter_max", "scatter_min", "segment_softmax"]


def _call(op, src, index):
    fn = getattr(F, op)
    return fn(src, index) if op == "gather" else fn(src, index, 1)


@pytest.mark.parametrize("op", ["gather"] + SCATTERS)
def test_a_src_that_is_not_a_tensor_is_a_type_error_naming_the_op(op):
    for bad, name in (([0.0], "list"), (np.zeros(1), "ndarray"), (None, "NoneType")):
        with pytest.raises(TypeError, match=rf"^{op}: src must be a Tensor, got {name}$"):
            _call(op, bad, [0])


@pytest.mark.parametrize("op", ["gather"] + SCATTERS)
def test_a_0d_src_is_a_value_error_naming_the_op(op):
    with pytest.raises(ValueError, match=rf"^{op}: src must have at least 1 dim\(s\) \(rows "
                                         rf"first\), got shape \(\)$"):
        _call(op, mg.tensor(1.0), [0])
