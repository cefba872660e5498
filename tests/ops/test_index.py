"""Indexing and scatter ops: keyword-only Function arguments, one gradient per tensor input,
repeated indices accumulating, and scatter_max's tie rule (more in ops/test_scatter.py)."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad.ops.index import GetItem, IndexAdd
from minigrad.ops.scatter import ScatterExtreme


def test_getitem_and_its_adjoint_take_keys_by_keyword():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    key = (np.array([0, 2, 2]),)
    out = GetItem.apply(x, key=key)
    g = GetItem.backward(out.grad_fn, mg.tensor([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(g.numpy(), [1.0, 0.0, 110.0])  # repeated index: adds
    back = IndexAdd.apply(mg.tensor([1.0, 2.0]), key=(np.array([1, 1]),), shape=(3,))
    np.testing.assert_array_equal(back.numpy(), [0.0, 3.0, 0.0])


def test_scatter_max_splits_ties_and_returns_one_gradient():
    src = mg.tensor([[1.0], [3.0], [3.0], [2.0]], requires_grad=True)
    index = np.array([0, 0, 0, 2])
    out = ScatterExtreme.apply(src, index=index, num_segments=3, largest=True)
    np.testing.assert_array_equal(out.numpy(), [[3.0], [0.0], [2.0]])  # empty row: 0
    g = ScatterExtreme.backward(out.grad_fn, mg.ones(3, 1))
    assert isinstance(g, mg.Tensor)
    np.testing.assert_array_equal(g.numpy(), [[0.0], [0.5], [0.5], [1.0]])
    np.testing.assert_array_equal(F.scatter_max(src, index, 3).numpy(), out.numpy())


def test_scatter_mean_and_gather_options():
    src = mg.tensor([[1.0], [3.0], [5.0]])
    np.testing.assert_array_equal(F.scatter_mean(src, [1, 1, 0], 3).numpy(), [[5.0], [2.0], [0.0]])
    np.testing.assert_array_equal(F.gather(src, [2, 0]).numpy(), [[5.0], [1.0]])
    with pytest.raises(IndexError, match=r"scatter_add: index values must be in \[0, 2\)"):
        F.scatter_add(src, [0, 1, 2], 2)
