"""What ``minigrad/ops/index.py`` promises, checked where the rest of the suite did not look:
``index_add_to`` keeps the values' dtype and takes a plain list as an index.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad.ops.index import index_add_to


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_index_add_to_keeps_the_dtype_of_its_values(dtype):
    values = mg.tensor(np.array([1.0, 2.0, 4.0], dtype=dtype))
    for key in ((np.array([0, 2, 0]),), (slice(1, 4),)):
        out = index_add_to(values, key, (5,))
        assert out.dtype == dtype


def test_index_add_to_takes_a_list_and_adds_repeats():
    out = index_add_to(mg.tensor([1.0, 2.0, 4.0]), [0, 3, 0], (4,))
    np.testing.assert_array_equal(out.numpy(), [5.0, 0.0, 0.0, 2.0])
    out = index_add_to(mg.tensor([1.0, 2.0]), ([1, 1], [0, 2]), (2, 3))
    np.testing.assert_array_equal(out.numpy(), [[0.0, 0.0, 0.0], [1.0, 0.0, 2.0]])
