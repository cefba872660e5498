"""The scatter kernels (``minigrad/kernels/{cpu,gpu}/scatter.py``) against slow NumPy loops.

The CPU kernels run on hypothesis-drawn sizes, including no rows at all, empty segments and
every row piled onto one segment, in float32 and float64. The GPU twins run on tiny fixed cases:
on a real GPU with CuPy arrays, otherwise through Numba's CUDA simulator.

Notation
--------
M rows (edges), S segments (nodes), D features;  ref_*  the reference of the kernel of that name
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minigrad.backend import to_numpy
from minigrad.kernels.cpu import scatter as cpu
from strategies.graph import segment_index


def ref_scatter(src, index, S, largest=None):
    """(out, ties) by a loop over rows; ``largest`` None means a sum."""
    out = np.zeros((S,) + src.shape[1:], dtype=src.dtype)
    ties = np.zeros(out.shape, dtype=np.int64)
    seen = np.zeros(S, dtype=bool)
    for r in range(src.shape[0]):
        s = index[r]
        if largest is None:
            out[s] += src[r]
            continue
        if not seen[s]:
            out[s], ties[s], seen[s] = src[r], 1, True
            continue
        better = src[r] > out[s] if largest else src[r] < out[s]
        ties[s] = np.where(better, 1, ties[s] + (src[r] == out[s]))
        out[s] = np.where(better, src[r], out[s])
    return (out, ties)


def ref_segment_softmax(src, index, S):
    out = np.zeros_like(src)
    for s in range(S):
        rows = np.flatnonzero(index == s)
        if rows.size:
            top = src[rows].max(axis=0)
            e = np.exp(src[rows] - top)
            out[rows] = e / e.sum(axis=0)
    return out


@st.composite
def problems(draw, max_rows=40):
    M, S = draw(st.integers(0, max_rows)), draw(st.integers(1, 12))
    D = draw(st.integers(1, 5))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # few distinct values, so that maxima tie often
    src = rng.integers(-3, 4, (M, D)).astype(dtype) if draw(st.booleans()) else \
        rng.standard_normal((M, D)).astype(dtype)
    return (src, draw(segment_index(M, S)), S)


@given(problems())
def test_cpu_scatters_match_the_loops(problem):
    src, index, S = problem
    rtol = 1e-5 if src.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(cpu.scatter_add(src, index, S), ref_scatter(src, index, S)[0],
                               rtol=rtol, atol=rtol)
    out, counts = cpu.scatter_mean(src, index, S)
    np.testing.assert_array_equal(counts, np.bincount(index, minlength=S))
    np.testing.assert_allclose(out * np.maximum(counts, 1)[:, None],
                               ref_scatter(src, index, S)[0], rtol=rtol, atol=rtol)
    for largest, kernel in ((True, cpu.scatter_max), (False, cpu.scatter_min)):
        out, ties = kernel(src, index, S)
        ref_out, ref_ties = ref_scatter(src, index, S, largest)
        np.testing.assert_array_equal(out, ref_out)
        np.testing.assert_array_equal(ties, ref_ties)
        assert out.dtype == src.dtype
    np.testing.assert_allclose(cpu.segment_softmax(src, index, S),
                               ref_segment_softmax(src, index, S), rtol=rtol, atol=rtol)


@given(problems())
def test_cpu_gather_and_segments(problem):
    src, index, S = problem
    nodes = np.arange(S * 2.0).reshape(S, 2)
    np.testing.assert_array_equal(cpu.gather(nodes, index), nodes[index])
    order, offsets = cpu.segments(index, S)
    np.testing.assert_array_equal(order, np.argsort(index, kind="stable"))
    np.testing.assert_array_equal(np.diff(offsets), np.bincount(index, minlength=S))


def test_large_problem_runs_in_parallel_and_matches():
    rng = np.random.default_rng(1)
    index = rng.integers(0, 1000, 50_000)
    src = rng.standard_normal((50_000, 8))
    starts = np.r_[0, np.cumsum(np.bincount(index, minlength=1000))[:-1]]
    expected = np.add.reduceat(src[np.argsort(index, kind="stable")], starts)
    np.testing.assert_allclose(cpu.scatter_add(src, index, 1000), expected, rtol=1e-10,
                               atol=1e-10)


def test_kernels_reject_bad_index_before_running():
    src = np.ones((3, 2))
    with pytest.raises(IndexError, match=r"scatter_add: index values must be in \[0, 2\)"):
        cpu.scatter_add(src, np.array([0, 1, 2]), 2)
    with pytest.raises(ValueError, match=r"scatter_max: index must have one entry per row"):
        cpu.scatter_max(src, np.array([0, 1]), 2)
    with pytest.raises(TypeError, match=r"segment_softmax: src must be float32 or float64"):
        cpu.segment_softmax(src.astype(np.float16), np.array([0, 1, 0]), 2)
    with pytest.raises(IndexError, match=r"gather: index values must be in \[0, 3\)"):
        cpu.gather(src, np.array([3]))


def gpu_scatter_module():
    """The GPU scatter module and a host-to-device copy, or a skip naming what is missing."""
    from numba import config
    from minigrad import backend
    if not config.ENABLE_CUDASIM and backend.cupy() is None:
        pytest.skip("no GPU and the CUDA simulator is off (NUMBA_ENABLE_CUDASIM unset)")
    from minigrad.kernels.gpu import scatter as gpu
    to_device = (lambda a: a) if config.ENABLE_CUDASIM else backend.cupy().asarray
    return (gpu, to_device)


# Tiny shapes: under the simulator each output cell is one Python thread.
GPU_CASES = [
    (np.array([0, 2, 2, 0, 2]), 4),   # segments 1 and 3 empty
    (np.array([1, 1, 1, 1]), 2),       # every row on one segment
]


@pytest.mark.parametrize("index, S", GPU_CASES)
def test_gpu_twins_match_the_references(index, S):
    gpu, to_device = gpu_scatter_module()
    rng = np.random.default_rng(0)
    src = rng.integers(-2, 3, (index.size, 2)).astype(np.float64)  # ties on purpose
    d_src, d_index = to_device(src), to_device(index)
    np.testing.assert_allclose(to_numpy(gpu.scatter_add(d_src, d_index, S)),
                               ref_scatter(src, index, S)[0], rtol=1e-12)
    out, counts = gpu.scatter_mean(d_src, d_index, S)
    np.testing.assert_array_equal(to_numpy(counts), np.bincount(index, minlength=S))
    for largest, kernel in ((True, gpu.scatter_max), (False, gpu.scatter_min)):
        out, ties = kernel(d_src, d_index, S)
        ref_out, ref_ties = ref_scatter(src, index, S, largest)
        np.testing.assert_array_equal(to_numpy(out), ref_out)
        np.testing.assert_array_equal(to_numpy(ties), ref_ties)
    np.testing.assert_allclose(to_numpy(gpu.segment_softmax(d_src, d_index, S)),
                               ref_segment_softmax(src, index, S), rtol=1e-12)
    nodes = to_device(np.arange(S * 3.0).reshape(S, 3))
    np.testing.assert_array_equal(to_numpy(gpu.gather(nodes, d_index)),
                                  np.arange(S * 3.0).reshape(S, 3)[index])
    with pytest.raises(IndexError, match=r"scatter_add: index values must be in"):
        gpu.scatter_add(d_src, d_index, 1)


@given(st.data())
def test_segment_index_strategy_draws_piles_and_empty_segments(data):
    """The strategy itself: in range, and its styles do make the edge cases they promise."""
    M, S = data.draw(st.integers(0, 20)), data.draw(st.integers(1, 8))
    index = data.draw(segment_index(M, S))
    assert index.shape == (M,) and index.dtype == np.int64
    assert index.size == 0 or (index.min() >= 0 and index.max() < S)


def test_segment_index_strategy_styles_occur():
    from hypothesis import find
    pile = find(segment_index(10, 5), lambda i: np.unique(i).size == 1)
    assert np.unique(pile).size == 1
    half = find(segment_index(10, 6), lambda i: i.max() < 3 and np.unique(i).size > 1)
    assert np.bincount(half, minlength=6)[3:].sum() == 0
