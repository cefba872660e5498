"""The pool and resample kernels (``minigrad/kernels/{cpu,gpu}/{pool,resample}.py``) against slow,
obvious NumPy loops.

The CPU kernels run on hypothesis-drawn geometries. The GPU twins run on a few tiny fixed cases:
on a real GPU with CuPy arrays, otherwise through Numba's CUDA simulator (which the conftest
switches on when no GPU is present), where every thread is a Python thread and slow.

Notation
--------
ref_*     the NumPy reference of the kernel of the same name
geometry  a dict from ``strategies.pool_geometry``: N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW,
          ceil_mode
"""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minigrad.backend import to_numpy, xp_of
from minigrad.kernels.geometry import pooled_size
from minigrad.kernels.cpu import pool as cpu_pool, resample as cpu_resample
from strategies import pool_geometry


def ref_max_pool2d(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    N, C, H, W = x.shape
    y = np.full((N, C, OH, OW), -np.inf)
    indices = np.full((N, C, OH, OW), -1, dtype=np.int64)
    for n, c, oh, ow in itertools.product(range(N), range(C), range(OH), range(OW)):
        for kh, kw in itertools.product(range(KH), range(KW)):
            h, w = oh * SH - PH + kh * DH, ow * SW - PW + kw * DW
            if not (0 <= h < H and 0 <= w < W):
                continue
            if indices[n, c, oh, ow] < 0 or x[n, c, h, w] > y[n, c, oh, ow]:
                y[n, c, oh, ow], indices[n, c, oh, ow] = x[n, c, h, w], h * W + w
    return (y, indices)


def ref_avg_pool2d(x, KH, KW, SH, SW, PH, PW, OH, OW, count_include_pad):
    N, C, H, W = x.shape
    y = np.zeros((N, C, OH, OW))
    for oh, ow in itertools.product(range(OH), range(OW)):
        rows = [h for h in range(oh * SH - PH, oh * SH - PH + KH) if h < H + PH]
        cols = [w for w in range(ow * SW - PW, ow * SW - PW + KW) if w < W + PW]
        inside_rows = [h for h in rows if 0 <= h < H]
        inside_cols = [w for w in cols if 0 <= w < W]
        divisor = (len(rows) * len(cols) if count_include_pad
                   else len(inside_rows) * len(inside_cols))
        window = x[:, :, inside_rows][:, :, :, inside_cols]
        y[:, :, oh, ow] = window.sum(axis=(2, 3)) / divisor
    return y


def ref_adaptive_avg_pool2d(x, OH, OW):
    H, W = x.shape[2:]
    y = np.zeros(x.shape[:2] + (OH, OW))
    for oh, ow in itertools.product(range(OH), range(OW)):
        h_lo, h_hi = math.floor(oh * H / OH), math.ceil((oh + 1) * H / OH)
        w_lo, w_hi = math.floor(ow * W / OW), math.ceil((ow + 1) * W / OW)
        y[:, :, oh, ow] = x[:, :, h_lo:h_hi, w_lo:w_hi].mean(axis=(2, 3))
    return y


def ref_upsample_bilinear2d(x, h0, h1, lh, w0, w1, lw):
    y = np.zeros(x.shape[:2] + (len(h0), len(w0)))
    for oh, ow in itertools.product(range(len(h0)), range(len(w0))):
        y[:, :, oh, ow] = ((1 - lh[oh]) * (1 - lw[ow]) * x[:, :, h0[oh], w0[ow]]
                           + (1 - lh[oh]) * lw[ow] * x[:, :, h0[oh], w1[ow]]
                           + lh[oh] * (1 - lw[ow]) * x[:, :, h1[oh], w0[ow]]
                           + lh[oh] * lw[ow] * x[:, :, h1[oh], w1[ow]])
    return y


def ref_scatter_to_indices(g, indices, H, W):
    N, C = g.shape[:2]
    out = np.zeros((N, C, H * W))
    for n, c in itertools.product(range(N), range(C)):
        np.add.at(out[n, c], indices[n, c].ravel(), g[n, c].ravel())
    return out.reshape(N, C, H, W)


def ref_gather_at_indices(g, indices):
    N, C, H, W = g.shape
    flat = np.take_along_axis(g.reshape(N, C, H * W), indices.reshape(N, C, -1), axis=2)
    return flat.reshape(indices.shape)


def window_args(geometry):
    return tuple(geometry[k] for k in ("KH", "KW", "SH", "SW", "PH", "PW"))


def output_size(geometry):
    g = geometry
    return (pooled_size(g["H"], g["KH"], g["SH"], g["PH"], g["DH"], g["ceil_mode"]),
            pooled_size(g["W"], g["KW"], g["SW"], g["PW"], g["DW"], g["ceil_mode"]))


def distinct_image(geometry, seed):
    """A float64 image whose values are all different, so that the argmax is unique."""
    shape = (geometry["N"], geometry["C"], geometry["H"], geometry["W"])
    size = int(np.prod(shape))
    return (np.random.default_rng(seed).permutation(size) - size / 2).reshape(shape).astype(float)


def bilinear_tables(rng, H, W, OH, OW, dtype=np.float64):
    """Random but valid bilinear tables: rows i0 <= i1 < L and weights in [0, 1]."""
    tables = []
    for L, O in ((H, OH), (W, OW)):
        i0 = rng.integers(0, L, O)
        tables += [i0, np.minimum(i0 + 1, L - 1), rng.random(O).astype(dtype)]
    return tuple(tables)


@given(geometry=pool_geometry(dilation=True, ceil_mode=True))
def test_pool_geometry_strategy_gives_windows_that_touch_the_input(geometry):
    OH, OW = output_size(geometry)
    assert OH >= 1 and OW >= 1
    assert geometry["PH"] <= geometry["KH"] // 2 and geometry["PW"] <= geometry["KW"] // 2
    x = np.zeros((1, 1, geometry["H"], geometry["W"]))
    _, indices = cpu_pool.max_pool2d(x, *window_args(geometry), geometry["DH"], geometry["DW"],
                                     geometry["ceil_mode"])
    assert indices.min() >= 0  # -1 would mark a window made of padding only


SIZES = [(H, K, S, P, D) for H, K, S, P, D in itertools.product(
    range(1, 9), range(1, 4), range(1, 4), range(2), range(1, 3)) if H + 2 * P >= D * (K - 1) + 1]


def test_pooled_size_counts_the_windows_that_fit():
    for H, K, S, P, D in SIZES:
        # Floor mode: the windows o = 0, 1, ... that end inside the padded input.
        fits = [o for o in range(H + 2 * P) if o * S + D * (K - 1) < H + 2 * P]
        assert pooled_size(H, K, S, P, D, False) == len(fits)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pooled_size_matches_torch(ceil_mode):
    torch = pytest.importorskip("torch")
    for H, K, S, P, D in SIZES:
        if P <= K // 2:
            y = torch.nn.functional.max_pool2d(torch.zeros(1, 1, H, 1), (K, 1), (S, 1), (P, 0),
                                               (D, 1), ceil_mode)
            assert pooled_size(H, K, S, P, D, ceil_mode) == y.shape[2]


@given(geometry=pool_geometry(dilation=True, ceil_mode=True), seed=st.integers(0, 2**16))
def test_max_pool2d_matches_reference(geometry, seed):
    x = distinct_image(geometry, seed)
    y, indices = cpu_pool.max_pool2d(x, *window_args(geometry), geometry["DH"], geometry["DW"],
                                     geometry["ceil_mode"])
    y_ref, indices_ref = ref_max_pool2d(x, *window_args(geometry), geometry["DH"], geometry["DW"],
                                        *output_size(geometry))
    np.testing.assert_array_equal(indices, indices_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_max_pool2d_ties_take_the_first_and_nan_wins():
    x = np.array([[[[1.0, 1.0], [0.0, 1.0]]], [[[2.0, np.nan], [3.0, 1.0]]]])
    y, indices = cpu_pool.max_pool2d(x, 2, 2, 2, 2, 0, 0)
    assert indices.ravel().tolist() == [0, 1]
    assert y[0].item() == 1.0 and np.isnan(y[1].item())


@given(N=st.integers(1, 3), C=st.integers(1, 3), H=st.integers(2, 9), W=st.integers(2, 19),
       ceil_mode=st.booleans(), nan=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_max_pool2x2_path_agrees_with_the_general_loop(N, C, H, W, ceil_mode, nan, dtype, seed):
    """The written-out 2x2 / stride 2 path against the general loop and the reference, on values
    drawn from {0, 1, 2} (ties everywhere) and, when ``nan``, some NaNs (the last one wins)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (N, C, H, W)).astype(dtype)
    if nan:
        x[rng.random(x.shape) < 0.2] = np.nan
    y, indices = cpu_pool.max_pool2d(x, 2, 2, 2, 2, 0, 0, ceil_mode=ceil_mode)
    y_general, indices_general = np.empty_like(y), np.empty_like(indices)
    cpu_pool._max_pool2d_loop(x, 2, 2, 2, 2, 0, 0, 1, 1, y_general, indices_general)
    np.testing.assert_array_equal(indices, indices_general)
    np.testing.assert_array_equal(y, y_general)
    if not nan:
        y_ref, indices_ref = ref_max_pool2d(x, 2, 2, 2, 2, 0, 0, 1, 1, *y.shape[2:])
        np.testing.assert_array_equal(indices, indices_ref)
        np.testing.assert_array_equal(y, y_ref)


def test_max_pool2x2_path_nan_rule():
    """Scan order within a window is (0,0), (0,1), (1,0), (1,1); a NaN takes over from any
    number, and a later NaN from an earlier one."""
    x = np.array([[[[np.nan, 5.0, 1.0, 1.0], [7.0, np.nan, 1.0, 4.0]]]], dtype=np.float32)
    y, indices = cpu_pool.max_pool2d(x, 2, 2, 2, 2, 0, 0)
    assert indices.ravel().tolist() == [5, 7]
    assert np.isnan(y[0, 0, 0, 0]) and y[0, 0, 0, 1] == 4.0


def test_max_pool2d_keeps_float32():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    y, indices = cpu_pool.max_pool2d(x, 2, 2, 2, 2, 0, 0)
    assert y.dtype == np.float32 and indices.dtype == np.int64
    assert y.ravel().tolist() == [5, 7, 13, 15] and indices.ravel().tolist() == [5, 7, 13, 15]


@given(geometry=pool_geometry(dilation=True, ceil_mode=True), seed=st.integers(0, 2**16))
def test_scatter_and_gather_match_reference_and_are_adjoint(geometry, seed):
    rng = np.random.default_rng(seed)
    N, C, H, W = geometry["N"], geometry["C"], geometry["H"], geometry["W"]
    # Random indices, so collisions (which must add up) are common.
    indices = rng.integers(0, H * W, (N, C) + output_size(geometry))
    g = rng.standard_normal(indices.shape)
    x = rng.standard_normal((N, C, H, W))
    scattered = cpu_pool.scatter_to_indices(g, indices, H, W)
    gathered = cpu_pool.gather_at_indices(x, indices)
    np.testing.assert_allclose(scattered, ref_scatter_to_indices(g, indices, H, W), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_array_equal(gathered, ref_gather_at_indices(x, indices))
    np.testing.assert_allclose(np.vdot(scattered, x), np.vdot(g, gathered), rtol=1e-10)


@given(geometry=pool_geometry(), seed=st.integers(0, 2**16))
def test_scatter_writes_a_copy_of_the_indices_as_it_reads_them(geometry, seed):
    rng = np.random.default_rng(seed)
    N, C, H, W = geometry["N"], geometry["C"], geometry["H"], geometry["W"]
    indices = rng.integers(0, H * W, (N, C) + output_size(geometry))
    g = rng.standard_normal(indices.shape)
    copy = np.full(indices.shape, -7, dtype=np.int64)
    scattered = cpu_pool.scatter_to_indices(g, indices, H, W, indices_copy=copy)
    np.testing.assert_array_equal(copy, indices)
    assert not np.shares_memory(copy, indices)
    np.testing.assert_array_equal(scattered, cpu_pool.scatter_to_indices(g, indices, H, W))


@pytest.mark.parametrize("copy, shown", [
    (np.zeros((1, 1, 1, 2), np.int32), r"got ndarray of shape \(1, 1, 1, 2\), dtype int32"),
    (np.zeros((1, 1, 2, 1), np.int64), r"got ndarray of shape \(1, 1, 2, 1\), dtype int64"),
    (np.zeros((1, 1, 1, 4), np.int64)[..., ::2], r"got ndarray of shape \(1, 1, 1, 2\)"),
    ([[[[0, 1]]]], r"got list of shape None"),
])
def test_scatter_refuses_a_copy_of_the_wrong_kind_before_running(copy, shown):
    with pytest.raises(ValueError, match=r"^scatter_to_indices: indices_copy must be a "
                                         r"C-contiguous int64 array of shape \(1, 1, 1, 2\), "
                                         + shown):
        cpu_pool.scatter_to_indices(np.ones((1, 1, 1, 2)), np.zeros((1, 1, 1, 2), np.int64), 2,
                                    2, indices_copy=copy)


def test_gather_accepts_broadcast_indices():
    x = np.arange(24.0).reshape(2, 3, 2, 2)
    indices = np.broadcast_to(np.array([[3, 0, 0]]), (2, 3, 1, 3))
    expected = x.reshape(2, 3, 4)[:, :, [3, 0, 0]][:, :, None, :]
    np.testing.assert_array_equal(cpu_pool.gather_at_indices(x, indices), expected)
    back = cpu_pool.scatter_to_indices(np.ones((2, 3, 1, 3)), indices, 2, 2)
    assert back[0, 0].ravel().tolist() == [2.0, 0.0, 0.0, 1.0]


@given(geometry=pool_geometry(ceil_mode=True), count_include_pad=st.booleans(),
       seed=st.integers(0, 2**16))
def test_avg_pool2d_and_adjoint_match_reference(geometry, count_include_pad, seed):
    rng = np.random.default_rng(seed)
    N, C, H, W = geometry["N"], geometry["C"], geometry["H"], geometry["W"]
    x = rng.standard_normal((N, C, H, W))
    y = cpu_pool.avg_pool2d(x, *window_args(geometry), geometry["ceil_mode"], count_include_pad)
    np.testing.assert_allclose(y, ref_avg_pool2d(x, *window_args(geometry), *output_size(geometry),
                                                 count_include_pad), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    back = cpu_pool.avg_pool2d_adjoint(g, H, W, *window_args(geometry), count_include_pad)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.vdot(back, x), np.vdot(g, y), rtol=1e-10, atol=1e-12)


@given(H=st.integers(1, 9), W=st.integers(1, 9), OH=st.integers(1, 9), OW=st.integers(1, 9),
       seed=st.integers(0, 2**16))
def test_adaptive_avg_pool2d_and_adjoint_match_reference(H, W, OH, OW, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2, H, W))
    y = cpu_pool.adaptive_avg_pool2d(x, OH, OW)
    np.testing.assert_allclose(y, ref_adaptive_avg_pool2d(x, OH, OW), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    back = cpu_pool.adaptive_avg_pool2d_adjoint(g, H, W)
    np.testing.assert_allclose(np.vdot(back, x), np.vdot(g, y), rtol=1e-10, atol=1e-12)


@given(H=st.integers(1, 6), W=st.integers(1, 6), OH=st.integers(1, 9), OW=st.integers(1, 9),
       seed=st.integers(0, 2**16))
def test_upsample_bilinear2d_and_adjoint_match_reference(H, W, OH, OW, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, H, W))
    tables = bilinear_tables(rng, H, W, OH, OW)
    y = cpu_resample.upsample_bilinear2d(x, *tables)
    np.testing.assert_allclose(y, ref_upsample_bilinear2d(x, *tables), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    back = cpu_resample.upsample_bilinear2d_adjoint(g, *tables, H, W)
    np.testing.assert_allclose(np.vdot(back, x), np.vdot(g, y), rtol=1e-10, atol=1e-12)


def gpu_pool_module():
    """The GPU pool and resample modules and a host-to-device copy, or a skip naming what is missing."""
    from numba import config
    from minigrad import backend
    if not config.ENABLE_CUDASIM and backend.cupy() is None:
        pytest.skip("no GPU and the CUDA simulator is off (NUMBA_ENABLE_CUDASIM unset)")
    from minigrad.kernels.gpu import pool as gpu_pool, resample as gpu_resample
    to_device = (lambda a: a) if config.ENABLE_CUDASIM else backend.cupy().asarray
    return (gpu_pool, gpu_resample, to_device)


def assert_close(gpu_result, expected):
    np.testing.assert_allclose(to_numpy(gpu_result), expected, rtol=1e-12, atol=1e-12)


# Tiny shapes: under the simulator each output cell is one Python thread.
GPU_CASES = [
    dict(N=1, C=2, H=5, W=4, KH=3, KW=2, SH=2, SW=1, PH=1, PW=1, DH=1, DW=1, ceil_mode=False),
    dict(N=2, C=1, H=4, W=5, KH=2, KW=3, SH=1, SW=2, PH=0, PW=1, DH=2, DW=1, ceil_mode=True),
]


@pytest.mark.parametrize("geometry", GPU_CASES)
def test_gpu_kernels_match_the_references(geometry):
    gpu, gpu_resample, to_device = gpu_pool_module()
    rng = np.random.default_rng(0)
    H, W, DH, DW, ceil_mode = (geometry[k] for k in ("H", "W", "DH", "DW", "ceil_mode"))
    args = window_args(geometry)
    x = distinct_image(geometry, 1)
    y, indices = gpu.max_pool2d(to_device(x), *args, DH, DW, ceil_mode)
    y_ref, indices_ref = ref_max_pool2d(x, *args, DH, DW, *output_size(geometry))
    np.testing.assert_array_equal(to_numpy(indices), indices_ref)
    np.testing.assert_array_equal(to_numpy(y), y_ref)

    # Few distinct indices, so that many threads add into one cell: the adds must be atomic.
    indices = rng.integers(0, 3, y_ref.shape)
    g = rng.standard_normal(y_ref.shape)
    assert_close(gpu.scatter_to_indices(to_device(g), to_device(indices), H, W),
                 ref_scatter_to_indices(g, indices, H, W))
    assert_close(gpu.gather_at_indices(to_device(x), to_device(indices)),
                 ref_gather_at_indices(x, indices))
    # One (h, w) table viewed as every plane's (strides 0), as nearest upsampling passes it.
    table = rng.integers(0, H * W, (1, 1, 2, 3))
    shared = xp_of(to_device(table)).broadcast_to(to_device(table), x.shape[:2] + (2, 3))
    if isinstance(shared, np.ndarray):
        shared = shared.copy()  # the simulator copies arguments back, so they must be writable
    assert_close(gpu.gather_at_indices(to_device(x), shared),
                 ref_gather_at_indices(x, np.broadcast_to(table, shared.shape)))

    y_avg = ref_avg_pool2d(x, *args, *output_size(dict(geometry, DH=1, DW=1)), False)
    assert_close(gpu.avg_pool2d(to_device(x), *args, ceil_mode, False), y_avg)
    g = rng.standard_normal(y_avg.shape)
    assert_close(gpu.avg_pool2d_adjoint(to_device(g), H, W, *args, True),
                 cpu_pool.avg_pool2d_adjoint(g, H, W, *args, True))

    assert_close(gpu.adaptive_avg_pool2d(to_device(x), 3, 2), ref_adaptive_avg_pool2d(x, 3, 2))
    g = rng.standard_normal(x.shape[:2] + (3, 2))
    assert_close(gpu.adaptive_avg_pool2d_adjoint(to_device(g), H, W),
                 cpu_pool.adaptive_avg_pool2d_adjoint(g, H, W))

    tables = bilinear_tables(rng, H, W, 3, 4)
    device_tables = [to_device(t) for t in tables]
    assert_close(gpu_resample.upsample_bilinear2d(to_device(x), *device_tables),
                 ref_upsample_bilinear2d(x, *tables))
    g = rng.standard_normal(x.shape[:2] + (3, 4))
    assert_close(gpu_resample.upsample_bilinear2d_adjoint(to_device(g), *device_tables, H, W),
                 cpu_resample.upsample_bilinear2d_adjoint(g, *tables, H, W))


def test_gpu_scatter_copies_the_indices_when_asked():
    gpu, _, to_device = gpu_pool_module()
    indices = to_device(np.array([[[[3, 0], [1, 1]]]], np.int64))
    copy = xp_of(indices).zeros((1, 1, 2, 2), np.int64)
    out = gpu.scatter_to_indices(to_device(np.ones((1, 1, 2, 2))), indices, 2, 2,
                                 indices_copy=copy)
    assert to_numpy(copy).ravel().tolist() == [3, 0, 1, 1]
    assert to_numpy(out).ravel().tolist() == [1.0, 2.0, 0.0, 1.0]


def test_gpu_kernels_keep_float32():
    gpu, gpu_resample, to_device = gpu_pool_module()
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    y, indices = gpu.max_pool2d(to_device(x), 2, 2, 2, 2, 0, 0)
    back = to_numpy(gpu.scatter_to_indices(y, indices, 4, 4))
    assert to_numpy(y).dtype == np.float32 and to_numpy(indices).dtype == np.int64
    assert to_numpy(y).ravel().tolist() == [5, 7, 13, 15]
    assert back.dtype == np.float32
    assert back.ravel()[[5, 7, 13, 15]].tolist() == [5, 7, 13, 15] and back.sum() == 40
