"""What ``minigrad/ops/compare.py`` promises, checked where the rest of the suite did not look:
each test here fails for a small, realistic change (an option of ``allclose`` or ``round``
dropped, a default changed, ``nonzero``'s (count, ndim) layout transposed), against NumPy.
"""
import numpy as np
import pytest

import minigrad as mg


def test_allclose_defaults_are_pytorchs():
    a = mg.tensor([1.0, 100.0])
    assert mg.allclose(a, mg.tensor([1.0 + 5e-9, 100.0 + 9e-4]))      # within 1e-8 + 1e-5·|b|
    assert not mg.allclose(a, mg.tensor([1.0, 100.0 + 2e-3]))
    assert not mg.allclose(mg.tensor([0.0]), mg.tensor([2e-8]))
    assert not mg.allclose(mg.tensor([np.nan]), mg.tensor([np.nan]))


@pytest.mark.parametrize("a, b, rtol, atol, expected", [
    (10.0, 10.05, 1e-2, 0.0, True), (10.0, 10.05, 1e-4, 0.0, False),
    (0.0, 0.5, 0.0, 0.6, True), (0.0, 0.5, 0.0, 0.4, False)])
def test_allclose_uses_rtol_and_atol(a, b, rtol, atol, expected):
    assert mg.allclose(mg.tensor([a]), mg.tensor([b]), rtol=rtol, atol=atol) is expected
    assert bool(np.allclose(a, b, rtol=rtol, atol=atol)) is expected


def test_allclose_equal_nan():
    a = mg.tensor([1.0, np.nan])
    assert mg.allclose(a, a, equal_nan=True)
    assert not mg.allclose(a, a, equal_nan=False)


def test_round_half_to_even_with_decimals():
    x = mg.tensor([0.5, 1.5, 2.5, -0.5, 1.234, 2.675])
    np.testing.assert_array_equal(mg.round(x).numpy(), [0.0, 2.0, 2.0, -0.0, 1.0, 3.0])
    np.testing.assert_array_equal(mg.round(x, decimals=2).numpy(), np.round(x.numpy(), 2))
    np.testing.assert_array_equal(mg.round(x, 1).numpy(), np.round(x.numpy(), 1))


def test_nonzero_is_count_by_ndim():
    values = np.array([[0.0, 2.0, 0.0], [3.0, 0.0, 4.0]])
    out = mg.nonzero(mg.tensor(values))
    assert out.shape == (3, 2) and out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), [[0, 1], [1, 0], [1, 2]])
    empty = mg.nonzero(mg.zeros(2, 3))
    assert empty.shape == (0, 2)


def test_nonzero_as_tuple_gives_one_index_per_dim():
    values = np.array([[0.0, 2.0, 0.0], [3.0, 0.0, 4.0]])
    rows, cols = mg.nonzero(mg.tensor(values), as_tuple=True)
    np.testing.assert_array_equal(rows.numpy(), [0, 1, 1])
    np.testing.assert_array_equal(cols.numpy(), [1, 0, 2])
