"""Tie rules, as the ops' docstrings state them, against NumPy references of the rule itself.

gradcheck cannot see ties: at a tie the op has no derivative, and central differences straddle
the kink. So these tests draw values with deliberate repeats (``strategies.tied_values``) and
compare the gradient the op chose with the one its documentation promises:

- ``maximum`` / ``minimum``: the gradient goes to the selected input, split evenly on ties;
- ``max`` / ``min`` reductions: shared evenly among the k entries that reach the extreme;
- ``max_pool2d``: the first maximum of a window (in scan order) takes the gradient;
- ``argmax`` / ``argmin``: the first index;
- ``scatter_max``: split evenly among the tied rows of each output row.
"""
import numpy as np
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.functional as F
import references as R
import strategies as S


def _tensor(array):
    return mg.tensor(array, dtype=np.float64, requires_grad=True)


def _backward(y, data):
    """Back-propagate a drawn grad_output through ``y``; returns it as an array."""
    grad_output = data.draw(S.values(y.shape, salt=7))
    y.backward(mg.tensor(grad_output, dtype=np.float64))
    return grad_output


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


@given(S.binary_inputs(tied=True), st.booleans(), st.data())
def test_maximum_and_minimum_split_the_gradient_evenly_on_ties(inputs, minimum, data):
    (a, b), _ = inputs
    ta, tb = _tensor(a), _tensor(b)
    g = _backward((mg.minimum if minimum else mg.maximum)(ta, tb), data)
    A, B = np.broadcast_arrays(a, b)
    weight_a = (A < B if minimum else A > B) + 0.5 * (A == B)
    np.testing.assert_allclose(ta.grad.numpy(), R.sum_to(g * weight_a, a.shape), rtol=1e-12)
    np.testing.assert_allclose(tb.grad.numpy(), R.sum_to(g * (1 - weight_a), b.shape),
                               rtol=1e-12)


def test_maximum_tie_by_hand():
    a, b = _tensor([1.0, 2.0, 3.0]), _tensor([1.0, 5.0, 0.0])
    mg.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 0.0, 1.0] and b.grad.tolist() == [0.5, 1.0, 0.0]


@given(S.axis_inputs(tied=True), st.booleans(), st.data())
def test_max_and_min_share_the_gradient_evenly_among_tied_extremes(inputs, minimum, data):
    (x,), params = inputs
    t = _tensor(x)
    y = (t.amin if minimum else t.amax)(params["axis"], params["keepdims"])
    g = _backward(y, data)
    extreme = (np.min if minimum else np.max)(x, axis=_axis(params["axis"]), keepdims=True)
    np.testing.assert_array_equal(y.numpy(), extreme.reshape(y.shape))
    hit = x == extreme
    expected = g.reshape(extreme.shape) * hit / hit.sum(axis=_axis(params["axis"]),
                                                        keepdims=True)
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-12)


def test_max_tie_by_hand():
    x = _tensor([[2.0, 7.0, 7.0, 7.0], [1.0, 1.0, 0.0, -1.0]])
    x.amax(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0, 0]])


@given(S.max_pool_inputs(tied=True), st.data())
def test_max_pool2d_gives_the_gradient_to_the_first_maximum(inputs, data):
    (x,), params = inputs
    params = dict(params, return_indices=True)
    t = _tensor(x)
    y, indices = F.max_pool2d(t, **params)
    expected_y, expected_indices = R.max_pool2d(x, **params)
    np.testing.assert_array_equal(y.numpy(), expected_y)
    np.testing.assert_array_equal(indices.numpy(), expected_indices)
    g = _backward(y, data)
    # each window's gradient lands on its first maximum only; overlapping windows add
    H, W = x.shape[2:]
    np.testing.assert_allclose(t.grad.numpy(), R.max_unpool2d(g, expected_indices, (H, W)),
                               rtol=1e-12, atol=1e-15)


def test_max_pool2d_tie_by_hand():
    x = _tensor([[[[4.0, 4.0, 1.0], [4.0, 2.0, 4.0]]]])
    y, indices = F.max_pool2d(x, 2, stride=1, return_indices=True)
    assert indices.tolist() == [[[[0, 1]]]]
    y.sum().backward()
    assert x.grad.tolist() == [[[[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]]


@given(st.data(), S.shapes(min_dims=1, max_dims=3), st.booleans(), st.booleans())
def test_argmax_and_argmin_pick_the_first_index(data, shape, minimum, keepdims):
    x = data.draw(S.tied_values(shape))
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    op, reference = (mg.argmin, np.argmin) if minimum else (mg.argmax, np.argmax)
    found = op(mg.tensor(x), axis=axis, keepdims=keepdims).numpy()
    np.testing.assert_array_equal(found, reference(x, axis=axis, keepdims=keepdims))


def test_argmax_and_argmin_tie_by_hand():
    x = mg.tensor([[3.0, 5.0, 5.0], [1.0, 1.0, 5.0]])
    assert mg.argmax(x).item() == 1 and mg.argmin(x).item() == 3
    assert mg.argmax(x, axis=0).tolist() == [0, 0, 0] and mg.argmin(x, axis=1).tolist() == [0, 0]


@given(S.scatter_inputs(tied=True), st.data())
def test_scatter_max_splits_the_gradient_evenly_among_tied_rows(inputs, data):
    (src,), params = inputs
    index, size = params["index"], params["dim_size"]
    t = _tensor(src)
    y = F.scatter_max(t, index, size)
    g = _backward(y, data)
    out = np.zeros((size,) + src.shape[1:])
    for i in set(index.tolist()):
        out[i] = src[index == i].max(axis=0)
    np.testing.assert_array_equal(y.numpy(), out)
    hit = src == out[index]
    counts = np.zeros(out.shape)
    np.add.at(counts, index, hit)
    np.testing.assert_allclose(t.grad.numpy(), g[index] * hit / counts[index], rtol=1e-12)


def test_scatter_max_tie_by_hand():
    src = _tensor([[2.0], [2.0], [1.0], [2.0]])
    F.scatter_max(src, np.array([0, 0, 0, 1]), 2).sum().backward()
    assert src.grad.tolist() == [[0.5], [0.5], [0.0], [1.0]]
