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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_keeps_the_dtype_of_its_inputs(dtype):
    """The floor under log(0) is the tiniest number of the input's own dtype: a float64 floor
    would promote a float32 loss (and its gradient) to float64."""
    p = mg.tensor(np.array([0.0, 0.25, 1.0], dtype=dtype), requires_grad=True)
    t = mg.tensor(np.array([1.0, 0.5, 0.0], dtype=dtype), requires_grad=True)
    out = F.binary_cross_entropy(p, t, reduction="none")
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), [100.0, -np.log(0.25 * 0.75) / 2, 100.0],
                               rtol=1e-6)
    gp, gt = mg.grad(out.sum(), (p, t))
    assert gp.dtype == dtype and gt.dtype == dtype
    np.testing.assert_allclose(gp.numpy(), [0.0, 0.5 / 0.75 - 0.5 / 0.25, 0.0], rtol=1e-6)
    np.testing.assert_allclose(gt.numpy(), [100.0, np.log(0.75) - np.log(0.25), -100.0],
                               rtol=1e-6)


@pytest.mark.parametrize("op", ["gather"] + SCATTERS)
def test_a_scalar_or_2d_index_is_a_value_error_naming_the_op(op):
    src = mg.tensor([[1.0], [2.0]])
    fn = getattr(F, op)
    args = () if op == "gather" else (2,)
    for index, shape in ((1, r"\(\)"), (np.zeros((2, 1), dtype=np.int64), r"\(2, 1\)")):
        with pytest.raises(ValueError, match=rf"^{op}: index must be a 1-D integer array, got "
                                             rf"shape {shape} and dtype int64$"):
            fn(src, index, *args)
