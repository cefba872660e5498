"""The convolution's fast paths give the values of the plain ones.

- Saved columns: a Conv2d whose weight wants a gradient keeps im2col(x) from its forward for
  its weight gradient (within ``SAVED_COLUMNS_BYTES``), and conv_transpose2d's backward shares
  one im2col between its two gradients. Gradients must equal those of the recomputing path, the
  columns must be freed with the node, survive ``retain_graph=True``, and leave second
  derivatives right.
- Shared gradient rows: Conv2d's backward transposes its incoming gradient into product rows
  once, for both of its gradients.
- The shifted im2col / col2im of "same" geometries (stride 1, OW == W) against slow loops.
"""
import gc
import weakref

import numpy as np
import pytest

import minigrad as mg
import minigrad.kernels.cpu as cpu_kernels
import minigrad.ops.conv as conv_ops
from minigrad.ops.conv import conv2d, conv_transpose2d
import references as R

# (x shape, weight shape, keywords): plain, strided and grouped, 'same' padding, dilated
CONV_CASES = [
    ((3, 4, 6, 5), (6, 4, 3, 3), dict(padding=1)),
    ((2, 4, 7, 6), (4, 2, 3, 2), dict(stride=2, padding=(1, 0), groups=2)),
    ((2, 3, 5, 5), (2, 3, 5, 5), dict(padding=2)),
    ((2, 2, 6, 6), (3, 2, 3, 3), dict(padding=2, dilation=2)),
]
TRANSPOSED_CASES = [
    ((3, 4, 4, 3), (4, 2, 4, 4), dict(stride=2, padding=1)),
    ((2, 4, 3, 5), (4, 3, 3, 3), dict(padding=1, groups=2)),
    ((2, 2, 4, 4), (2, 3, 3, 2), dict(stride=(2, 1), output_padding=(1, 0))),
]


def _problem(x_shape, w_shape, seed=0, x_grad=True):
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal(x_shape), dtype=np.float64, requires_grad=x_grad)
    w = mg.tensor(rng.standard_normal(w_shape), dtype=np.float64, requires_grad=True)
    return (x, w)


def _grads(op, x_shape, w_shape, keywords, budget, monkeypatch):
    monkeypatch.setattr(conv_ops, "SAVED_COLUMNS_BYTES", budget)
    x, w = _problem(x_shape, w_shape)
    y = op(x, w, **keywords)
    y.backward(mg.tensor(np.sin(np.arange(y.numpy().size)).reshape(y.shape)))
    return (y.numpy(), x.grad.numpy(), w.grad.numpy())


def _wrap_im2col(monkeypatch, record):
    """Record ``record(args, kwargs)`` for every call of the CPU im2col kernels, both layouts
    (windows as columns, ``im2col``, and as rows, ``im2col_rows``)."""
    calls = []
    for name in ("im2col", "im2col_rows"):
        def recorded(*args, real=getattr(cpu_kernels, name), **kwargs):
            calls.append(record(args, kwargs))
            return real(*args, **kwargs)
        monkeypatch.setattr(cpu_kernels, name, recorded)
    return calls


def _count_im2col(monkeypatch):
    """Count the calls of the CPU im2col kernels (what the saved columns spare)."""
    return _wrap_im2col(monkeypatch, lambda args, kwargs: args[0].shape)


def _record_serial(monkeypatch):
    """Record the ``serial`` flag of every call of the CPU im2col kernels."""
    return _wrap_im2col(monkeypatch, lambda args, kwargs: kwargs.get("serial", False))


@pytest.mark.parametrize("x_shape, w_shape, keywords", CONV_CASES)
def test_conv2d_gradients_are_the_same_with_and_without_saved_columns(x_shape, w_shape, keywords,
                                                                      monkeypatch):
    kept = _grads(conv2d, x_shape, w_shape, keywords, 2**30, monkeypatch)
    recomputed = _grads(conv2d, x_shape, w_shape, keywords, 0, monkeypatch)
    for a, b in zip(kept, recomputed):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("x_shape, w_shape, keywords", TRANSPOSED_CASES)
def test_conv_transpose2d_gradients_are_the_same_with_and_without_shared_columns(
        x_shape, w_shape, keywords, monkeypatch):
    shared = _grads(conv_transpose2d, x_shape, w_shape, keywords, 2**30, monkeypatch)
    recomputed = _grads(conv_transpose2d, x_shape, w_shape, keywords, 0, monkeypatch)
    for a, b in zip(shared, recomputed):
        np.testing.assert_array_equal(a, b)


def test_saved_columns_spare_the_backward_its_im2col(monkeypatch):
    # x needs no gradient, so backward runs only the weight gradient: with the columns kept it
    # calls no im2col at all, without them one per chunk.
    calls = _count_im2col(monkeypatch)
    for budget, expected in ((2**30, (1, 0)), (0, (1, 1))):
        monkeypatch.setattr(conv_ops, "SAVED_COLUMNS_BYTES", budget)
        x, w = _problem((2, 3, 5, 5), (4, 3, 3, 3), x_grad=False)
        calls.clear()
        y = conv2d(x, w, padding=1)
        forward_calls = len(calls)
        y.sum().backward()
        assert (forward_calls, len(calls) - forward_calls) == expected


def test_conv_transpose2d_backward_runs_one_im2col_for_both_gradients(monkeypatch):
    calls = _count_im2col(monkeypatch)
    for budget, expected in ((2**30, 1), (0, 2)):
        monkeypatch.setattr(conv_ops, "SAVED_COLUMNS_BYTES", budget)
        x, w = _problem((2, 4, 3, 3), (4, 2, 4, 4))
        y = conv_transpose2d(x, w, stride=2, padding=1)
        calls.clear()
        y.sum().backward()
        assert len(calls) == expected


def _kept_columns(y):
    """The list of column chunks the Conv2d node that made ``y`` saved (None: nothing kept)."""
    return y.grad_fn.saved_tensors[2]


def test_columns_are_kept_only_when_the_weight_wants_a_gradient_and_they_fit(monkeypatch):
    x, w = _problem((2, 3, 5, 5), (4, 3, 3, 3))
    columns = _kept_columns(conv2d(x, w, padding=1))
    # one chunk, (C*KH*KW, N*OH*OW), holding im2col(x)
    assert len(columns) == 1 and columns[0].shape == (27, 50)
    np.testing.assert_array_equal(columns[0], cpu_kernels.im2col(x.numpy(), 3, 3, 1, 1, 1, 1,
                                                                 1, 1, 5, 5))
    assert _kept_columns(conv2d(x, w.detach(), padding=1)) is None  # no weight gradient
    monkeypatch.setattr(conv_ops, "SAVED_COLUMNS_BYTES", 27 * 50 * 8 - 1)  # one byte too few
    assert _kept_columns(conv2d(x, w, padding=1)) is None
    monkeypatch.setattr(conv_ops, "SAVED_COLUMNS_BYTES", 27 * 50 * 8)
    assert _kept_columns(conv2d(x, w, padding=1)) is not None


def test_columns_chunked_like_the_batch(monkeypatch):
    # Chunks of 2 samples: the saved columns are one array per chunk, and the backward uses
    # them chunk by chunk with the values of one unchunked pass.
    whole = _grads(conv2d, (5, 3, 4, 4), (2, 3, 3, 3), dict(padding=1), 2**30, monkeypatch)
    monkeypatch.setattr(cpu_kernels, "CONV_CHUNK_BYTES", 2 * 27 * 16 * 8)
    x, w = _problem((5, 3, 4, 4), (2, 3, 3, 3))
    y = conv2d(x, w, padding=1)
    assert [c.shape for c in _kept_columns(y)] == [(27, 32), (27, 32), (27, 16)]
    y.backward(mg.tensor(np.sin(np.arange(y.numpy().size)).reshape(y.shape)))
    for a, b in zip(whole, (y.numpy(), x.grad.numpy(), w.grad.numpy())):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_saved_columns_are_freed_when_the_node_has_run():
    x, w = _problem((2, 3, 5, 5), (4, 3, 3, 3))
    y = conv2d(x, w, padding=1)
    alive = weakref.ref(_kept_columns(y)[0])
    y.sum().backward()
    gc.collect()
    assert alive() is None
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()


def test_retain_graph_keeps_the_columns_for_a_second_backward(monkeypatch):
    x, w = _problem((2, 3, 5, 5), (4, 3, 3, 3), x_grad=False)
    y = conv2d(x, w, padding=1)
    columns = _kept_columns(y)
    calls = _count_im2col(monkeypatch)
    y.sum().backward(retain_graph=True)
    once = w.grad.numpy().copy()
    assert _kept_columns(y) is columns
    y.sum().backward()
    assert calls == []  # both weight gradients came from the kept columns
    np.testing.assert_allclose(w.grad.numpy(), 2 * once, rtol=1e-12)
    expected = conv_ops.Conv2dGradWeight.apply(
        x, mg.ones(y.shape, dtype=np.float64), kernel=(3, 3), geometry=(1, 1, 1, 1, 1, 1),
        groups=1).numpy()
    np.testing.assert_allclose(once, expected, rtol=1e-12)


@pytest.mark.parametrize("budget", [0, 2**30])
@pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "conv_transpose2d"])
def test_second_derivatives_are_right_with_and_without_saved_columns(budget, transposed,
                                                                     monkeypatch):
    monkeypatch.setattr(conv_ops, "SAVED_COLUMNS_BYTES", budget)
    if transposed:
        x, w = _problem((1, 2, 3, 3), (2, 2, 2, 2))

        def f(x, w):
            return conv_transpose2d(x, w, stride=2)
    else:
        x, w = _problem((1, 2, 4, 4), (2, 2, 3, 3))

        def f(x, w):
            return conv2d(x, w, padding=1)
    assert mg.gradcheck(f, (x, w))
    assert mg.gradgradcheck(f, (x, w))


def test_create_graph_gradient_penalty_matches_the_recomputing_path(monkeypatch):
    # d/dw of |dL/dw|^2 through a create_graph backward: the kept columns feed the first
    # derivative only, the second goes through the saved x as before.
    results = []
    for budget in (2**30, 0):
        monkeypatch.setattr(conv_ops, "SAVED_COLUMNS_BYTES", budget)
        x, w = _problem((2, 2, 5, 5), (3, 2, 3, 3), seed=3)
        y = conv2d(x, w, padding=1)
        (grad_w,) = mg.grad((y * y).sum(), (w,), create_graph=True)
        (grad_w * grad_w).sum().backward()
        results.append((grad_w.numpy(), w.grad.numpy(), x.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# Stride 1 with OW == W (2*PW == DW*(KW - 1)): the shifted path. Rows may differ (OH != H),
# taps may see only padding (PH beyond the kernel), and an odd image is narrower than the kernel.
SHIFTED = [
    ((2, 3, 5, 6), dict(KH=3, KW=3, PH=1, PW=1, DH=1, DW=1, OH=5, OW=6)),
    ((1, 2, 6, 4), dict(KH=3, KW=3, PH=0, PW=1, DH=1, DW=1, OH=4, OW=4)),
    ((1, 2, 4, 5), dict(KH=2, KW=5, PH=3, PW=2, DH=1, DW=1, OH=9, OW=5)),
    ((2, 1, 5, 7), dict(KH=3, KW=4, PH=2, PW=3, DH=2, DW=2, OH=5, OW=7)),
    ((1, 1, 3, 2), dict(KH=5, KW=5, PH=2, PW=2, DH=1, DW=1, OH=3, OW=2)),
]
ARGS = ("KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW", "OH", "OW")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, geometry", SHIFTED)
def test_shifted_im2col_and_col2im_match_slow_loops(shape, geometry, dtype):
    args = [dict(geometry, SH=1, SW=1)[k] for k in ARGS]
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    cols = cpu_kernels.im2col(x, *args)
    np.testing.assert_array_equal(cols, R.im2col(x, *args))
    cols = rng.standard_normal(cols.shape).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(cpu_kernels.col2im(cols, *shape, *args),
                               R.col2im(cols, *shape, *args), rtol=tol, atol=tol)


def test_shifted_col2im_ignores_infinite_columns_on_the_padding():
    # The shifted add masks the wrapped-around columns with a select: an inf there must not
    # reach the image (an inf * 0 mask would make a NaN).
    args = [dict(SHIFTED[0][1], SH=1, SW=1)[k] for k in ARGS]
    shape = SHIFTED[0][0]
    x = np.ones(shape)
    cols = cpu_kernels.im2col(x, *args)
    cols[cols == 0] = np.inf  # exactly the entries that came from the padding
    image = cpu_kernels.col2im(cols, *shape, *args)
    np.testing.assert_array_equal(image, R.col2im(np.where(np.isinf(cols), 0, cols),
                                                          *shape, *args))


@pytest.mark.parametrize("shape, geometry", SHIFTED[:2])
def test_gpu_twins_match_the_cpu_on_shifted_geometries(shape, geometry):
    import numba
    from numba import cuda
    if not cuda.is_available():
        pytest.skip("no CUDA GPU and NUMBA_ENABLE_CUDASIM is not set")
    from minigrad.backend import cupy, to_numpy
    from minigrad.kernels import gpu
    to_gpu = np.asarray if numba.config.ENABLE_CUDASIM else cupy().asarray
    args = [dict(geometry, SH=1, SW=1)[k] for k in ARGS]
    x = np.random.default_rng(6).standard_normal(shape)
    cols = cpu_kernels.im2col(x, *args)
    np.testing.assert_array_equal(to_numpy(gpu.im2col(to_gpu(x), *args)), cols)
    np.testing.assert_allclose(to_numpy(gpu.col2im(to_gpu(cols), *shape, *args)),
                               cpu_kernels.col2im(cols, *shape, *args), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rows", [0, 10**9])
@pytest.mark.parametrize("x_shape, w_shape, keywords", CONV_CASES)
def test_weight_gradient_per_sample_and_one_product_paths_match_the_reference(
        x_shape, w_shape, keywords, rows, monkeypatch):
    """``grad_weight_arrays`` sums one product per sample when the weight has at most
    PER_SAMPLE_WEIGHT_ROWS rows of columns per group, else runs one product over the chunk:
    both give the reference's weight gradient, by linearity Σ y(e_i) · g for each unit weight e_i."""
    import minigrad.kernels.im2col_gemm as im2col_gemm
    monkeypatch.setattr(im2col_gemm, "PER_SAMPLE_WEIGHT_ROWS", rows)
    monkeypatch.setattr(cpu_kernels, "CONV_CHUNK_BYTES", 700)  # several chunks, summed too
    _, _, w_grad = _grads(conv2d, x_shape, w_shape, keywords, 0, monkeypatch)
    x, w = _problem(x_shape, w_shape)
    x = x.numpy()
    y_shape = R.conv2d(x, w.numpy(), **keywords).shape
    g = np.sin(np.arange(np.prod(y_shape))).reshape(y_shape)
    expected = np.zeros(w_shape)
    for i in np.ndindex(*w_shape):
        unit = np.zeros(w_shape)
        unit[i] = 1.0
        expected[i] = (R.conv2d(x, unit, **keywords) * g).sum()
    np.testing.assert_allclose(w_grad, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("budget", [0, 2**30])
@pytest.mark.parametrize("op, x_shape, w_shape, keywords", [
    (conv2d, (7, 4, 6, 5), (6, 4, 3, 3), dict(padding=1)),
    (conv2d, (5, 4, 7, 6), (4, 2, 3, 2), dict(stride=2, padding=(1, 0), groups=2)),
    (conv2d, (6, 1, 5, 5), (3, 1, 3, 3), dict(padding=1)),
    (conv_transpose2d, (5, 4, 4, 3), (4, 2, 4, 4), dict(stride=2, padding=1)),
    (conv_transpose2d, (4, 4, 3, 5), (4, 3, 3, 3), dict(padding=1, groups=2))])
def test_chunks_shared_by_threads_give_the_one_thread_values(op, x_shape, w_shape, keywords,
                                                             budget, threads, monkeypatch):
    """With minigrad's product threads, a call's chunks run whole on those threads (serial
    kernels, one BLAS thread each, a workspace per thread, weight-gradient parts summed per
    thread); the values must be those of the one-thread path, with and without kept columns."""
    import minigrad.kernels.gemm as gemm
    from minigrad import threads as thread_policy
    monkeypatch.setattr(cpu_kernels, "CONV_CHUNK_BYTES", 600)  # several chunks per thread
    monkeypatch.setattr(gemm, "SPLIT_ABOVE", 0)
    monkeypatch.setattr(thread_policy, "gemm_threads", lambda: 1)
    one = _grads(op, x_shape, w_shape, keywords, budget, monkeypatch)
    monkeypatch.setattr(thread_policy, "gemm_threads", lambda: threads)
    serial_calls = _record_serial(monkeypatch)
    shared = _grads(op, x_shape, w_shape, keywords, budget, monkeypatch)
    assert serial_calls and all(serial_calls)  # every chunk ran whole on one thread
    for a, b in zip(one, shared):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_few_chunks_keep_the_threads_inside_each_chunk(monkeypatch):
    """A batch of one sample has one chunk: its kernels and products use the threads inside
    it (serial False), as before."""
    import minigrad.kernels.gemm as gemm
    from minigrad import threads as thread_policy
    monkeypatch.setattr(gemm, "SPLIT_ABOVE", 0)
    monkeypatch.setattr(thread_policy, "gemm_threads", lambda: 2)
    serial_calls = _record_serial(monkeypatch)
    x, w = _problem((1, 3, 5, 5), (2, 3, 3, 3))
    expected = R.conv2d(x.numpy(), w.numpy(), padding=1)
    np.testing.assert_allclose(conv2d(x, w, padding=1).numpy(), expected, rtol=1e-12)
    assert serial_calls == [False]


def _count_channels_first(monkeypatch):
    """Count the transposing copies of a gradient chunk into product rows."""
    import minigrad.kernels.im2col_gemm as im2col_gemm
    calls = []
    real = im2col_gemm._channels_first

    def counted(t, G):
        calls.append(t.shape)
        return real(t, G)
    monkeypatch.setattr(im2col_gemm, "_channels_first", counted)
    return calls


@pytest.mark.parametrize("x_grad", [True, False])
def test_conv2d_backward_transposes_its_gradient_once_per_chunk(x_grad, monkeypatch):
    # Three chunks of 2, 2 and 1 samples (108 bytes of float64 columns each; a budget of 2
    # samples). With x wanting a gradient, the input gradient's copies serve the weight
    # gradient; without it, the weight gradient makes its own: three copies either way, six
    # before the rows were shared.
    import minigrad.kernels.im2col_gemm as im2col_gemm
    monkeypatch.setattr(im2col_gemm, "PER_SAMPLE_WEIGHT_ROWS", 0)  # the path that reads rows
    monkeypatch.setattr(cpu_kernels, "CONV_CHUNK_BYTES", 2 * 3 * 9 * 4 * 8)
    monkeypatch.setattr(conv_ops, "SAVED_COLUMNS_BYTES", 0)
    x, w = _problem((5, 3, 2, 2), (8, 3, 3, 3), x_grad=x_grad)
    y = conv2d(x, w, padding=1)
    calls = _count_channels_first(monkeypatch)
    y.backward(mg.tensor(np.cos(np.arange(y.numpy().size)).reshape(y.shape)))
    assert [c[0] for c in calls] == [2, 2, 1]


def test_weight_gradient_from_shared_rows_equals_its_own_and_ignores_mismatched_rows(
        monkeypatch):
    import minigrad.kernels.im2col_gemm as im2col_gemm
    monkeypatch.setattr(im2col_gemm, "PER_SAMPLE_WEIGHT_ROWS", 0)  # the path that reads rows
    monkeypatch.setattr(cpu_kernels, "CONV_CHUNK_BYTES", 2 * 4 * 9 * 30 * 8)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4, 6, 5))
    g = rng.standard_normal((5, 6, 6, 5))
    geometry = (1, 1, 1, 1, 1, 1)
    own = im2col_gemm.grad_weight_arrays(cpu_kernels, x, g, 3, 3, geometry, 2)
    rows = [im2col_gemm._channels_first(g[b], 2) for b in (slice(0, 2), slice(2, 4), slice(4, 5))]
    shared = im2col_gemm.grad_weight_arrays(cpu_kernels, x, g, 3, 3, geometry, 2, grad_rows=rows)
    np.testing.assert_array_equal(shared, own)
    # Rows of a batch chunked another way (or of another array) are not used.
    wrong = [np.zeros((2, 3, 5 * 30))]
    fallback = im2col_gemm.grad_weight_arrays(cpu_kernels, x, g, 3, 3, geometry, 2,
                                              grad_rows=wrong)
    np.testing.assert_array_equal(fallback, own)
    # And the rows are what is read: rows of zeros give a zero gradient.
    zeros = [np.zeros_like(r) for r in rows]
    np.testing.assert_array_equal(
        im2col_gemm.grad_weight_arrays(cpu_kernels, x, g, 3, 3, geometry, 2, grad_rows=zeros),
        np.zeros_like(own))


# Not-"same" ungrouped convolutions take their windows as rows (kernels/cpu/conv_rows.py):
# strided, valid (OW < W), dilated, and the transposed ones with output padding. (With
# WINDOW_ROWS_MIN_CHANNELS lowered to 1 for these small problems: see rows_from_one_channel.)
ROWS_CASES = [
    (conv2d, (3, 4, 7, 6), (5, 4, 3, 3), dict(stride=2, padding=1)),
    (conv2d, (2, 3, 6, 6), (4, 3, 3, 2), dict(stride=(1, 2))),
    (conv2d, (2, 2, 7, 7), (3, 2, 3, 3), dict(dilation=2, padding=1)),
    (conv2d, (3, 2, 5, 5), (2, 2, 3, 3), dict()),
    (conv_transpose2d, (3, 4, 4, 3), (4, 2, 4, 4), dict(stride=2, padding=1)),
    (conv_transpose2d, (2, 3, 3, 4), (3, 2, 3, 3), dict(stride=(2, 3), output_padding=(1, 2))),
]


@pytest.fixture
def rows_from_one_channel(monkeypatch):
    """The windows as rows from one channel up, for the small problems of these tests."""
    import minigrad.kernels.im2col_gemm as im2col_gemm
    monkeypatch.setattr(im2col_gemm, "WINDOW_ROWS_MIN_CHANNELS", 1)


def _took_rows(op, x_shape, w_shape, keywords, budget, monkeypatch):
    """(y, x.grad, w.grad) and the im2col kernels the backward called, by name."""
    names = []
    for name in ("im2col", "im2col_rows"):
        def recorded(*args, name=name, real=getattr(cpu_kernels, name), **kwargs):
            names.append(name)
            return real(*args, **kwargs)
        monkeypatch.setattr(cpu_kernels, name, recorded)
    return _grads(op, x_shape, w_shape, keywords, budget, monkeypatch), set(names)


@pytest.mark.parametrize("budget", [0, 2**30])
@pytest.mark.parametrize("op, x_shape, w_shape, keywords", ROWS_CASES)
def test_window_rows_give_the_values_of_the_columns(op, x_shape, w_shape, keywords, budget,
                                                    monkeypatch, rows_from_one_channel):
    import minigrad.kernels.im2col_gemm as im2col_gemm
    monkeypatch.setattr(cpu_kernels, "CONV_CHUNK_BYTES", 900)  # several chunks
    by_rows, names = _took_rows(op, x_shape, w_shape, keywords, budget, monkeypatch)
    assert names == {"im2col_rows"}
    monkeypatch.setattr(im2col_gemm, "WINDOW_ROWS", False)
    by_columns, names = _took_rows(op, x_shape, w_shape, keywords, budget, monkeypatch)
    assert names == {"im2col"}
    for a, b in zip(by_rows, by_columns):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op, reference, x_shape, w_shape", [
    (conv_transpose2d, R.conv_transpose2d, (3, 4, 4, 3), (4, 2, 4, 4)),
    (conv2d, R.conv2d, (3, 4, 7, 6), (2, 4, 4, 4))])
def test_window_rows_add_the_bias_like_the_columns(dtype, op, reference, x_shape, w_shape,
                                                   monkeypatch, rows_from_one_channel):
    # col2im_rows (and conv2d's transposing copy) add the bias on their way out; the columns
    # add it afterwards
    import minigrad.kernels.im2col_gemm as im2col_gemm
    rng = np.random.default_rng(8)
    x = mg.tensor(rng.standard_normal(x_shape).astype(dtype), requires_grad=True)
    w = mg.tensor(rng.standard_normal(w_shape).astype(dtype), requires_grad=True)
    channels = w_shape[1] if op is conv_transpose2d else w_shape[0]
    b = mg.tensor(rng.standard_normal(channels).astype(dtype), requires_grad=True)
    results = []
    for rows in (True, False):
        monkeypatch.setattr(im2col_gemm, "WINDOW_ROWS", rows)
        y = op(x, w, b, stride=2, padding=1)
        g = mg.tensor(np.cos(np.arange(y.numel())).reshape(y.shape).astype(dtype))
        results.append([y.numpy()] + [t.numpy() for t in mg.grad([y], [x, w, b],
                                                                  grad_outputs=[g])])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, c in zip(*results):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, c, rtol=tol, atol=tol)
    expected = reference(x.numpy(), w.numpy(), b.numpy(), stride=2, padding=1)
    np.testing.assert_allclose(results[0][0], expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("op, x_shape, w_shape, keywords", [
    (conv2d, (2, 4, 5, 5), (4, 2, 3, 3), dict(stride=2, groups=2)),  # grouped
    (conv2d, (2, 3, 5, 6), (4, 3, 3, 3), dict(padding=1)),  # "same": shifted copies
    (conv_transpose2d, (2, 3, 4, 4), (3, 2, 3, 3), dict(padding=1)),  # its adjoint
    (conv2d, (2, 3, 5, 6), (4, 3, 1, 1), dict(stride=2))])  # one tap: a strided subsample
def test_grouped_same_and_one_tap_convolutions_keep_the_columns(op, x_shape, w_shape, keywords,
                                                                monkeypatch, rows_from_one_channel):
    _, names = _took_rows(op, x_shape, w_shape, keywords, 0, monkeypatch)
    assert names == {"im2col"}


@pytest.mark.parametrize("channels, taken", [(15, "im2col"), (16, "im2col_rows")])
@pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "conv_transpose2d"])
def test_window_rows_from_sixteen_channels_on_the_image_side(channels, taken, transposed,
                                                             monkeypatch):
    # the image side: conv2d's input, conv_transpose2d's output (its weight's second axis)
    if transposed:
        problem = (conv_transpose2d, (2, 3, 3, 3), (3, channels, 3, 3), dict(stride=2))
    else:
        problem = (conv2d, (2, channels, 5, 5), (3, channels, 3, 3), dict(stride=2))
    _, names = _took_rows(*problem, 0, monkeypatch)
    assert names == {taken}


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("op, x_shape, w_shape, keywords", [ROWS_CASES[0], ROWS_CASES[4]])
def test_window_rows_shared_by_threads_give_the_one_thread_values(op, x_shape, w_shape,
                                                                  keywords, threads,
                                                                  monkeypatch,
                                                                  rows_from_one_channel):
    import minigrad.kernels.gemm as gemm
    from minigrad import threads as thread_policy
    monkeypatch.setattr(cpu_kernels, "CONV_CHUNK_BYTES", 600)
    monkeypatch.setattr(gemm, "SPLIT_ABOVE", 0)
    monkeypatch.setattr(thread_policy, "gemm_threads", lambda: 1)
    one = _grads(op, x_shape, w_shape, keywords, 2**30, monkeypatch)
    monkeypatch.setattr(thread_policy, "gemm_threads", lambda: threads)
    serial_calls = _record_serial(monkeypatch)
    shared = _grads(op, x_shape, w_shape, keywords, 2**30, monkeypatch)
    assert serial_calls and all(serial_calls)
    for a, b in zip(one, shared):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_weight_gradient_reads_shared_window_rows_and_ignores_mismatched_ones(
        monkeypatch, rows_from_one_channel):
    import minigrad.kernels.im2col_gemm as im2col_gemm
    monkeypatch.setattr(cpu_kernels, "CONV_CHUNK_BYTES", 2 * 4 * 9 * 12 * 8)  # 2 samples
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 4, 7, 6))
    g = rng.standard_normal((5, 6, 4, 3))
    geometry = (2, 2, 1, 1, 1, 1)
    own = im2col_gemm.grad_weight_arrays(cpu_kernels, x, g, 3, 3, geometry, 1)
    chunks = (slice(0, 2), slice(2, 4), slice(4, 5))
    rows = [im2col_gemm._windows_first(g[b]) for b in chunks]
    columns = [cpu_kernels.im2col_rows(x[b], 3, 3, *geometry, 4, 3) for b in chunks]
    monkeypatch.setattr(im2col_gemm, "WINDOW_ROWS", False)
    np.testing.assert_allclose(own, im2col_gemm.grad_weight_arrays(cpu_kernels, x, g, 3, 3,
                                                                   geometry, 1), rtol=1e-12)
    monkeypatch.setattr(im2col_gemm, "WINDOW_ROWS", True)
    for kept in (dict(grad_rows=rows), dict(columns=columns), dict(grad_rows=rows,
                                                                     columns=columns)):
        np.testing.assert_allclose(
            im2col_gemm.grad_weight_arrays(cpu_kernels, x, g, 3, 3, geometry, 1, **kept), own,
            rtol=1e-12, atol=1e-12)
    # chunks of another split, or in the other layout, are not used
    for wrong in ([np.zeros((5 * 12, 6))], [r.T for r in rows]):
        np.testing.assert_array_equal(
            im2col_gemm.grad_weight_arrays(cpu_kernels, x, g, 3, 3, geometry, 1,
                                           grad_rows=wrong), own)
    # and what is shared is what is read: zeros give a zero gradient
    for zeros in (dict(grad_rows=[np.zeros_like(r) for r in rows]),
                  dict(columns=[np.zeros_like(c) for c in columns])):
        np.testing.assert_array_equal(
            im2col_gemm.grad_weight_arrays(cpu_kernels, x, g, 3, 3, geometry, 1, **zeros),
            np.zeros_like(own))
