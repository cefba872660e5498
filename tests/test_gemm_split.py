"""Matrix products split over threads (minigrad/kernels/gemm.py) give numpy.matmul's values.

The split runs only above SPLIT_ABOVE multiply-adds and with more than one part; the tests force
both (SPLIT_ABOVE = 0, gemm_threads() = 2 or 3) and draw shapes of every kind the engine hands
it: plain 2-D products split by rows or by columns, batched ones split by samples, broadcast
operands, transposed (strided) views, a given ``out`` that is itself a strided view.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minigrad import threads
from minigrad.kernels import gemm


@pytest.fixture
def split(monkeypatch):
    """Force every product through the split into ``parts`` parts."""
    def force(parts):
        monkeypatch.setattr(gemm, "SPLIT_ABOVE", 0)
        monkeypatch.setattr(threads, "gemm_threads", lambda: parts)
    return force


def _operand(rng, shape, dtype, transposed):
    """A random array of ``shape``; when ``transposed``, a transposed view (not C-contiguous)."""
    if transposed and len(shape) >= 2:
        return rng.standard_normal(shape[:-2] + shape[-2:][::-1]).astype(dtype).swapaxes(-1, -2)
    return rng.standard_normal(shape).astype(dtype)


@given(batch=st.sampled_from([(), (1,), (3,), (5, 2)]), broadcast=st.sampled_from([None, "a", "b"]),
       M=st.integers(1, 9), K=st.integers(1, 7), N=st.integers(1, 9),
       dtype=st.sampled_from([np.float32, np.float64]), ta=st.booleans(), tb=st.booleans(),
       parts=st.sampled_from([2, 3]), seed=st.integers(0, 2**16))
def test_split_products_equal_numpy(split, batch, broadcast, M, K, N, dtype, ta, tb, parts,
                                    seed):
    split(parts)
    rng = np.random.default_rng(seed)
    a = _operand(rng, (batch if broadcast != "a" else ()) + (M, K), dtype, ta)
    b = _operand(rng, (batch if broadcast != "b" else ()) + (K, N), dtype, tb)
    expected = np.matmul(a, b)
    got = gemm.matmul(a, b)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("shape_a, shape_b, axis", [
    ((6, 4), (4, 3), "rows"), ((3, 4), (4, 7), "columns"), ((4, 2, 3), (3, 5), "batch")])
def test_each_part_is_written_where_the_rule_says(split, shape_a, shape_b, axis):
    """The parts cover ``out`` exactly once, cut along the axis of the module's rule."""
    a, b = np.ones(shape_a), np.ones(shape_b)
    out = np.empty(np.broadcast_shapes(shape_a[:-2], shape_b[:-2]) + (shape_a[-2], shape_b[-1]))
    parts = gemm._parts(a, b, out, 2)
    cover = np.zeros(out.shape, dtype=int)
    for _, _, block in parts:
        block[...] = 1
        cover += out == 1
        out[...] = 0
    np.testing.assert_array_equal(cover, 1)
    sizes = {"rows": [p[2].shape[-2] for p in parts], "columns": [p[2].shape[-1] for p in parts],
             "batch": [p[2].shape[0] for p in parts]}[axis]
    assert len(sizes) == 2 and sum(sizes) == out.shape[{"rows": -2, "columns": -1,
                                                           "batch": 0}[axis]]


def test_split_writes_into_a_strided_out(split):
    split(2)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 6))
    buffer = np.full((5, 9), 7.0)
    out = buffer[:, 1:7]
    assert gemm.matmul(a, b, out=out) is out
    np.testing.assert_allclose(buffer[:, 1:7], a @ b, rtol=1e-12)
    np.testing.assert_array_equal(buffer[:, [0, 7, 8]], 7.0)


def test_mismatched_shapes_raise_numpys_error(split):
    split(2)
    with pytest.raises(ValueError, match="matmul"):
        gemm.matmul(np.ones((4, 3)), np.ones((2, 5)))


def test_small_products_and_one_thread_are_not_split(monkeypatch):
    """Below SPLIT_ABOVE, or with one part, the pool is never used."""
    calls = []
    monkeypatch.setattr(gemm, "_executor", lambda workers: calls.append(workers))
    monkeypatch.setattr(threads, "gemm_threads", lambda: 2)
    a = np.ones((8, 8))
    np.testing.assert_array_equal(gemm.matmul(a, a), a @ a)
    monkeypatch.setattr(gemm, "SPLIT_ABOVE", 0)
    monkeypatch.setattr(threads, "gemm_threads", lambda: 1)
    np.testing.assert_array_equal(gemm.matmul(a, a), a @ a)
    assert calls == []


def test_a_forked_child_splits_with_a_pool_of_its_own(split):
    """Fork copies only the calling thread: a child that reused its parent's pool would wait
    forever for threads that do not exist."""
    import multiprocessing
    split(2)
    a = np.random.default_rng(1).standard_normal((40, 30))
    gemm.matmul(a, a.T)  # the parent's pool now exists
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        result = pool.apply_async(_child_product, (a,)).get(timeout=60)
    np.testing.assert_allclose(result, a @ a.T, rtol=1e-12)


def _child_product(a):
    gemm.SPLIT_ABOVE = 0
    threads.gemm_threads = lambda: 2
    return gemm.matmul(a, a.T)
