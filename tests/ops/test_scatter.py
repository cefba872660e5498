"""The graph ops of ``minigrad/ops/scatter.py`` by hand: empty segments, ties, repeated indices,
extreme scores, and the errors raised before any kernel runs."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F


def test_scatter_min_splits_ties_and_leaves_empty_segments_at_zero():
    src = mg.tensor([[1.0, 5.0], [1.0, -2.0], [3.0, 0.0]], requires_grad=True)
    out = F.scatter_min(src, [1, 1, 1], 3)
    np.testing.assert_array_equal(out.numpy(), [[0, 0], [1.0, -2.0], [0, 0]])
    out.sum().backward()
    np.testing.assert_array_equal(src.grad.numpy(), [[0.5, 0], [0.5, 1], [0, 0]])


def test_repeated_indices_accumulate_and_gather_is_the_adjoint_of_scatter_add():
    rng = np.random.default_rng(0)
    index = rng.integers(0, 3, 40)  # heavy repetition: 40 rows into 3 nodes
    src, g = rng.standard_normal((40, 2)), rng.standard_normal((3, 2))
    out = F.scatter_add(mg.tensor(src), index, 3).numpy()
    np.testing.assert_allclose(out, [src[index == s].sum(0) for s in range(3)], rtol=1e-6)
    # <scatter_add(src), g> == <src, gather(g)>
    back = F.gather(mg.tensor(g), index).numpy()
    np.testing.assert_allclose(np.vdot(out, g), np.vdot(src, back), rtol=1e-5)


def test_scatter_mean_and_softmax_on_empty_and_extreme_segments():
    src = mg.tensor([[1e4], [-1e4], [0.0], [1e4]], dtype=np.float32, requires_grad=True)
    y = F.segment_softmax(src, [0, 0, 2, 0], 4)
    np.testing.assert_allclose(y.numpy(), [[0.5], [0.0], [1.0], [0.5]])
    assert np.isfinite(y.numpy()).all()
    (y * mg.tensor([[1.0], [2.0], [3.0], [4.0]])).sum().backward()
    assert np.isfinite(src.grad.numpy()).all()
    np.testing.assert_allclose(src.grad.numpy(), [[-0.75], [0.0], [0.0], [0.75]], atol=1e-6)
    mean = F.scatter_mean(mg.tensor([[2.0], [4.0]]), [3, 3], 5)
    np.testing.assert_array_equal(mean.numpy(), [[0], [0], [0], [3.0], [0]])


def test_trailing_dims_and_zero_rows():
    src = mg.tensor(np.arange(12.0).reshape(3, 2, 2))
    out = F.scatter_add(src, [1, 1, 0], 2)
    assert out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out.numpy()[1], src.numpy()[0] + src.numpy()[1])
    empty = F.scatter_max(mg.zeros(0, 3), np.zeros(0, dtype=np.int64), 2)
    np.testing.assert_array_equal(empty.numpy(), np.zeros((2, 3)))
    assert F.gather(src, np.zeros(0, dtype=np.int64)).shape == (0, 2, 2)


@pytest.mark.parametrize("op", ["scatter_add", "scatter_mean", "scatter_max", "scatter_min",
                                "segment_softmax"])
def test_bad_input_is_a_clear_error(op):
    fn = getattr(F, op)
    src = mg.tensor([[1.0], [2.0], [3.0]])
    with pytest.raises(IndexError, match=rf"{op}: index values must be in \[0, 2\), got \[0, 2\]"):
        fn(src, [0, 1, 2], 2)
    with pytest.raises(IndexError, match=rf"{op}: index values must be in \[0, 3\), got \[-1, 1\]"):
        fn(src, [0, 1, -1], 3)
    with pytest.raises(ValueError, match=rf"{op}: index must have one entry per row of src "
                                         rf"\(shape \(3, 1\)\), that is shape \(3,\)"):
        fn(src, [0, 1], 3)
    with pytest.raises(ValueError, match=rf"{op}: index must be a 1-D integer array, got shape "
                                         rf"\(3,\) and dtype float64"):
        fn(src, np.array([0.0, 1.0, 0.0]), 3)
    with pytest.raises(TypeError, match=rf"{op}: src must be float32 or float64, got int64"):
        fn(mg.tensor(np.array([[1], [2], [3]])), [0, 1, 0], 3)
    name = "num_segments" if op == "segment_softmax" else "dim_size"
    with pytest.raises(ValueError, match=rf"{op}: {name} must be an int >= 0"):
        fn(src, [0, 1, 0], -1)


def test_gather_errors_name_the_op():
    src = mg.tensor([[1.0], [2.0]])
    with pytest.raises(IndexError, match=r"gather: index values must be in \[0, 2\), got \[0, 5\]"):
        F.gather(src, [0, 5])
    with pytest.raises(ValueError, match=r"gather: index must be a 1-D integer array, got "
                                         r"shape \(2, 2\)"):
        F.gather(src, np.zeros((2, 2), dtype=np.int64))
