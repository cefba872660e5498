"""What ``minigrad/ops/conv.py`` and ``minigrad/ops/pool.py`` promise, checked where the rest of
the suite did not look: the defaults, padding='same' with even kernels and dilation, the exact
bounds of the size checks, the op and argument named in every error, and the gradients of a
convolution when only some of its inputs want one. Each test fails for a small, realistic change
to those files, against the NumPy references of ``tests/references.py`` or exact values.
"""
import itertools

import numpy as np
import pytest

import minigrad as mg
import minigrad.ops.pool as pool_ops
import minigrad.ops.resample as resample_ops
import references as R
from minigrad.ops.conv import conv2d, conv_transpose2d
from minigrad.ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d, max_unpool2d


def _array(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _tensor(*shape, seed=0, requires_grad=False, dtype=np.float64):
    return mg.tensor(_array(*shape, seed=seed).astype(dtype), requires_grad=requires_grad)


def _linear_grad(f, x, g):
    """d sum(f(x) * g) / dx of a function ``f`` linear in ``x``, one unit vector at a time."""
    grad = np.zeros_like(x)
    for i in itertools.product(*map(range, x.shape)):
        unit = np.zeros_like(x)
        unit[i] = 1.0
        grad[i] = np.sum(f(unit) * g)
    return grad


# ---------------------------------------------------------------------------------------------
# conv2d / conv_transpose2d: defaults and padding='same'


def test_conv2d_pads_nothing_by_default():
    x, w = _array(1, 2, 5, 4), _array(3, 2, 3, 2, seed=1)
    y = conv2d(mg.tensor(x), mg.tensor(w))
    assert y.shape == (1, 3, 3, 3)
    np.testing.assert_allclose(y.numpy(), R.conv2d(x, w), rtol=1e-12, atol=1e-12)


def test_conv_transpose2d_dilates_nothing_by_default():
    x, w = _array(1, 2, 3, 4), _array(2, 3, 3, 2, seed=1)
    y = conv_transpose2d(mg.tensor(x), mg.tensor(w))
    assert y.shape == (1, 3, 5, 5)
    np.testing.assert_allclose(y.numpy(), R.conv_transpose2d(x, w), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel, dilation", [
    ((2, 3), 1),       # an odd leftover row, none for the columns
    ((3, 2), 1),       # an odd leftover column only
    ((4, 1), 1),       # a leftover of 3 rows: one at the bottom, one on each side
    ((5, 3), 1),       # even totals (4, 2) that differ between the axes
    ((2, 2), (3, 1)),  # dilation makes the row total 3 and the column total 1
    ((3, 2), (1, 3)),  # dilation on the columns only: totals (2, 3)
])
def test_conv2d_same_padding_puts_the_odd_leftover_at_the_bottom_right(kernel, dilation):
    x, w = _array(2, 2, 6, 7), _array(3, 2, *kernel, seed=1)
    DH, DW = (dilation, dilation) if isinstance(dilation, int) else dilation
    totals = (DH * (kernel[0] - 1), DW * (kernel[1] - 1))
    # PyTorch's rule: total // 2 before, the rest after
    padded = np.pad(x, ((0, 0), (0, 0), (totals[0] // 2, totals[0] - totals[0] // 2),
                        (totals[1] // 2, totals[1] - totals[1] // 2)))
    y = conv2d(mg.tensor(x), mg.tensor(w), padding="same", dilation=dilation)
    assert y.shape == (2, 3, 6, 7)
    np.testing.assert_allclose(y.numpy(), R.conv2d(padded, w, dilation=dilation),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel", [(3, 3), (3, 1), (1, 5)])
def test_conv2d_same_padding_with_odd_kernels_copies_nothing(kernel):
    # even totals need no extra row or column: x goes to the convolution itself, not to a Pad
    x, w = _array(1, 2, 4, 5), _array(3, 2, *kernel, seed=1)
    xt = mg.tensor(x, requires_grad=True)
    with mg.trace_backward() as trace:
        y = conv2d(xt, mg.tensor(w), padding="same")
        y.sum().backward()
    assert [row.op for row in trace.rows] == ["Sum", "Conv2d"]
    totals = (kernel[0] - 1, kernel[1] - 1)
    padded = np.pad(x, ((0, 0), (0, 0), (totals[0] // 2,) * 2, (totals[1] // 2,) * 2))
    np.testing.assert_allclose(y.numpy(), R.conv2d(padded, w), rtol=1e-12, atol=1e-12)


def test_conv2d_same_padding_with_an_even_kernel_pads_x_once():
    xt = mg.tensor(_array(1, 2, 4, 5), requires_grad=True)
    with mg.trace_backward() as trace:
        conv2d(xt, _tensor(3, 2, 2, 3, seed=1), padding="same").sum().backward()
    assert [row.op for row in trace.rows] == ["Sum", "Conv2d", "Pad"]


def test_conv2d_valid_padding_is_no_padding():
    x, w = _array(1, 1, 5, 6), _array(2, 1, 2, 3, seed=1)
    y = conv2d(mg.tensor(x), mg.tensor(w), padding="valid")
    np.testing.assert_allclose(y.numpy(), R.conv2d(x, w), rtol=1e-12, atol=1e-12)


def test_conv2d_kernel_exactly_as_large_as_the_padded_input_is_allowed():
    x, w = _array(1, 1, 3, 2), _array(1, 1, 5, 4, seed=1)
    y = conv2d(mg.tensor(x), mg.tensor(w), padding=1)
    assert y.shape == (1, 1, 1, 1)
    np.testing.assert_allclose(y.numpy(), R.conv2d(x, w, padding=1), rtol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, padding, message", [
    ((1, 1, 2, 6), (1, 1, 5, 1), (1, 0),
     r"^conv2d: the kernel spans \(5, 1\) \(weight \(1, 1, 5, 1\), dilation \(1, 1\)\), more than "
     r"the padded input \(4, 6\) of x \(1, 1, 2, 6\) with padding \(1, 0\)$"),
    ((1, 1, 6, 2), (1, 1, 1, 5), (0, 1),
     r"^conv2d: the kernel spans \(1, 5\) \(weight \(1, 1, 1, 5\), dilation \(1, 1\)\), more than "
     r"the padded input \(6, 4\) of x \(1, 1, 6, 2\) with padding \(0, 1\)$"),
])
def test_conv2d_counts_the_padding_on_both_sides_of_the_input(x_shape, w_shape, padding, message):
    with pytest.raises(ValueError, match=message):
        conv2d(_tensor(*x_shape), _tensor(*w_shape), padding=padding)


# ---------------------------------------------------------------------------------------------
# conv2d / conv_transpose2d: the op and argument named in each error


def _conv_arguments(**change):
    return dict(x=_tensor(1, 2, 5, 5), weight=_tensor(3, 2, 3, 3, seed=1), bias=None) | change


CONV2D_ERRORS = [
    (dict(bias=np.zeros(3)), TypeError, r"^conv2d: bias must be a Tensor, got ndarray$"),
    (dict(bias=_tensor(3, dtype=np.float32)), TypeError,
     r"^conv2d: bias has dtype float32 but x has dtype float64$"),
    (dict(bias=mg.tensor(np.zeros(3, dtype=np.int64))), TypeError,
     r"^conv2d: bias must be floating point \(float32 or float64\), got dtype int64$"),
    (dict(weight=mg.tensor(np.zeros((3, 2, 3, 3), dtype=np.int64))), TypeError,
     r"^conv2d: weight must be floating point \(float32 or float64\), got dtype int64$"),
    (dict(x=mg.tensor(np.zeros((1, 2, 5, 5), dtype=np.int64))), TypeError,
     r"^conv2d: x must be floating point \(float32 or float64\), got dtype int64$"),
    (dict(x=_tensor(1, 2, 0, 5)), ValueError,
     r"^conv2d: x of shape \(1, 2, 0, 5\) has an empty \(H, W\) plane"),
    (dict(weight=mg.tensor(np.zeros((3, 2, 0, 3)))), ValueError,
     r"^conv2d: expected a weight of shape \(C_out, C_in // groups, KH, KW\) with KH, KW >= 1, "
     r"got shape \(3, 2, 0, 3\)$"),
    (dict(weight=mg.tensor(np.zeros((3, 2, 3, 0)))), ValueError,
     r"^conv2d: expected a weight of shape .* got shape \(3, 2, 3, 0\)$"),
    (dict(groups=True), ValueError, r"^conv2d: groups must be a positive int, got True$"),
    (dict(groups=1.5), ValueError, r"^conv2d: groups must be a positive int, got 1.5$"),
    (dict(padding=1.5), TypeError,
     r"^conv2d: padding must be an int or a pair of ints, got 1.5$"),
    (dict(dilation=1.5), TypeError,
     r"^conv2d: dilation must be an int or a pair of ints, got 1.5$"),
    (dict(padding="full"), ValueError,
     r"^conv2d: padding must be an int, a pair, 'valid' or 'same', got 'full'$"),
    (dict(padding="same", stride=(1, 2)), ValueError,
     r"^conv2d: padding='same' needs stride 1, got stride \(1, 2\)$"),
    (dict(padding="same", stride=1.5), TypeError,
     r"^conv2d: stride must be an int or a pair of ints, got 1.5$"),
    (dict(padding="same", dilation=1.5), TypeError,
     r"^conv2d: dilation must be an int or a pair of ints, got 1.5$"),
]


@pytest.mark.parametrize("change, error, message", CONV2D_ERRORS)
def test_conv2d_errors_name_the_op_and_the_argument(change, error, message):
    with pytest.raises(error, match=message):
        conv2d(**_conv_arguments(**change))


def test_conv2d_takes_a_bias_of_the_right_shape_and_dtype():
    # the other side of the bias checks: a good bias is added, per output channel
    x, w, b = _array(1, 2, 5, 5), _array(3, 2, 3, 3, seed=1), _array(3, seed=2)
    y = conv2d(mg.tensor(x), mg.tensor(w), mg.tensor(b))
    np.testing.assert_allclose(y.numpy(), R.conv2d(x, w, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("change, error, message", [
    (dict(output_padding=1.5), TypeError,
     r"^conv_transpose2d: output_padding must be an int or a pair of ints, got 1.5$"),
    (dict(x=_tensor(1, 3, 1, 3), weight=_tensor(3, 1, 1, 1), padding=(1, 0)), ValueError,
     r"^conv_transpose2d: x of shape \(1, 3, 1, 3\) with weight \(3, 1, 1, 1\), stride \(1, 1\), "
     r"padding \(1, 0\), dilation \(1, 1\) and output_padding \(0, 0\) gives an empty output of "
     r"size \(-1, 3\): the padding is too large$"),
    (dict(x=_tensor(1, 3, 3, 1), weight=_tensor(3, 1, 1, 1), padding=(0, 1)), ValueError,
     r"^conv_transpose2d: .* gives an empty output of size \(3, -1\)"),
])
def test_conv_transpose2d_errors_name_the_op_and_the_argument(change, error, message):
    arguments = dict(x=_tensor(1, 3, 4, 4), weight=_tensor(3, 2, 3, 3, seed=1)) | change
    with pytest.raises(error, match=message):
        conv_transpose2d(**arguments)


# ---------------------------------------------------------------------------------------------
# conv gradients when only some inputs want one


GEOMETRY = dict(stride=1, padding=1, dilation=(1, 2))


@pytest.mark.parametrize("op, reference, x_shape, w_shape, keywords", [
    (conv2d, R.conv2d, (2, 2, 4, 5), (3, 2, 2, 3), GEOMETRY),
    (conv_transpose2d, R.conv_transpose2d, (2, 2, 3, 4), (2, 3, 2, 3),
     dict(stride=2, padding=1, output_padding=1, dilation=1)),
], ids=["conv2d", "conv_transpose2d"])
def test_conv_gives_x_its_gradient_when_the_weight_wants_none(op, reference, x_shape, w_shape,
                                                               keywords):
    x, w = _array(*x_shape), _array(*w_shape, seed=1)
    xt = mg.tensor(x, requires_grad=True)
    y = op(xt, mg.tensor(w), **keywords)
    g = _array(*y.shape, seed=2)
    (y * mg.tensor(g)).sum().backward()
    expected = _linear_grad(lambda u: reference(u, w, **keywords), x, g)
    np.testing.assert_allclose(xt.grad.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_conv_weight_gradient_differentiates_in_x_when_the_output_gradient_is_constant():
    # w.grad = Conv2dGradWeight(x, c) with a constant c: its derivative in x alone.
    # sum(w.grad * v) = sum(conv2d(x, v) * c), so the x-gradient is that of a convolution by v.
    x, w = _array(1, 2, 4, 5), _array(3, 2, 2, 3, seed=1)
    xt, wt = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
    c = _array(1, 3, 5, 3, seed=2)
    y = conv2d(xt, wt, **GEOMETRY)
    assert y.shape == c.shape
    (grad_w,) = mg.grad((y * mg.tensor(c)).sum(), [wt], create_graph=True)
    v = _array(*w.shape, seed=3)
    with mg.trace_backward() as trace:
        (grad_w * mg.tensor(v)).sum().backward()
    expected = _linear_grad(lambda u: R.conv2d(u, v, **GEOMETRY), x, c)
    np.testing.assert_allclose(xt.grad.numpy(), expected, rtol=1e-10, atol=1e-12)
    rows = [row for row in trace.rows if row.op == "Conv2dGradWeight"]
    assert len(rows) == 1 and rows[0].input_shapes == (x.shape, None)
    assert rows[0].grad_input_norm == pytest.approx(np.linalg.norm(expected), rel=1e-10)


def test_gradients_of_the_size_they_need_are_not_cropped():
    # conv_transpose2d's x-gradient and the output-gradient of Conv2dGradWeight come out of a
    # Conv2d that already has the right size: they are that Conv2d's output, not a slice of it
    x, w = _array(1, 2, 3, 4), _array(2, 3, 2, 2, seed=1)
    xt, wt = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
    y = conv_transpose2d(xt, wt)
    (grad_x,) = mg.grad((y * y).sum(), [xt], create_graph=True)
    assert type(grad_x.grad_fn).__name__ == "Conv2d"
    expected = _linear_grad(lambda u: R.conv_transpose2d(u, w), x, 2 * y.numpy())
    np.testing.assert_allclose(grad_x.numpy(), expected, rtol=1e-10, atol=1e-12)

    x, w = _array(1, 2, 5, 5), _array(3, 2, 3, 3, seed=1)
    xt, wt = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
    y = conv2d(xt, wt)
    g = mg.tensor(_array(*y.shape, seed=2), requires_grad=True)
    (grad_w,) = mg.grad(y, [wt], grad_outputs=[g], create_graph=True)
    v = _array(*w.shape, seed=3)
    (grad_g,) = mg.grad((grad_w * mg.tensor(v)).sum(), [g], create_graph=True)
    assert type(grad_g.grad_fn).__name__ == "Conv2d"
    # sum(grad_w * v) = sum(conv2d(x, v) * g): its g-gradient is conv2d(x, v)
    np.testing.assert_allclose(grad_g.numpy(), R.conv2d(x, v), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("op, transposed", [(conv2d, False), (conv_transpose2d, True)])
def test_a_traced_backward_sees_no_gradient_for_a_missing_bias(op, transposed):
    x, w = _array(1, 2, 4, 4), _array(2, 2, 3, 3, seed=1)
    xt, wt = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
    with mg.trace_backward() as trace:
        y = op(xt, wt)
        (y * y).sum().backward()
    name = "ConvTranspose2d" if transposed else "Conv2d"
    (row,) = [row for row in trace.rows if row.op == name]
    assert row.input_shapes == (x.shape, w.shape, None)
    norm = np.sqrt(np.sum(xt.grad.numpy() ** 2) + np.sum(wt.grad.numpy() ** 2))
    assert row.grad_input_norm == pytest.approx(norm, rel=1e-10)
    reference = R.conv_transpose2d if transposed else R.conv2d
    expected = _linear_grad(lambda u: reference(u, w), x, 2 * y.numpy())
    np.testing.assert_allclose(xt.grad.numpy(), expected, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# pooling: the op and argument named in each error


POOLS = {
    "max_pool2d": lambda x: max_pool2d(x, 2),
    "avg_pool2d": lambda x: avg_pool2d(x, 2),
    "adaptive_avg_pool2d": lambda x: adaptive_avg_pool2d(x, 1),
    "max_unpool2d": lambda x: max_unpool2d(x, mg.tensor(np.zeros(x.shape, np.int64)), 2),
}


@pytest.mark.parametrize("op", sorted(POOLS))
def test_pooling_refuses_a_non_tensor_by_name(op):
    with pytest.raises(TypeError, match=rf"^{op}: expected a Tensor, got ndarray$"):
        POOLS[op](np.zeros((1, 1, 4, 4)))


@pytest.mark.parametrize("op", sorted(POOLS))
def test_pooling_refuses_an_integer_input_by_name(op):
    with pytest.raises(TypeError, match=rf"^{op}: the input must be floating point \(float32 or "
                                        r"float64\), got dtype int64$"):
        POOLS[op](mg.tensor(np.zeros((1, 1, 4, 4), np.int64)))


@pytest.mark.parametrize("op", sorted(POOLS))
def test_pooling_refuses_an_empty_plane_by_name(op):
    with pytest.raises(ValueError, match=rf"^{op}: the input of shape \(1, 1, 0, 4\) has an empty "
                                         r"\(H, W\) plane; only the batch N"):
        POOLS[op](mg.tensor(np.zeros((1, 1, 0, 4))))


@pytest.mark.parametrize("op, argument", [
    ("max_pool2d", "kernel_size"), ("max_pool2d", "stride"), ("max_pool2d", "padding"),
    ("max_pool2d", "dilation"),
    ("avg_pool2d", "kernel_size"), ("avg_pool2d", "stride"), ("avg_pool2d", "padding"),
])
def test_pooling_window_arguments_must_be_ints(op, argument):
    arguments = dict(kernel_size=2) | {argument: 1.5}
    with pytest.raises(TypeError, match=rf"^{op}: {argument} must be an int or a pair of ints, "
                                        r"got 1.5$"):
        getattr(pool_ops, op)(_tensor(1, 1, 4, 4), **arguments)


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_pooling_window_checks_name_the_op(op):
    with pytest.raises(ValueError, match=rf"^{op}: padding \(2, 1\) must be at most half of "
                                         r"kernel_size \(3, 3\)$"):
        getattr(pool_ops, op)(_tensor(1, 1, 5, 5), 3, padding=(2, 1))


def test_max_pool2d_refuses_a_fifth_positional_argument_with_the_way_out():
    with pytest.raises(TypeError, match=r"^max_pool2d: return_indices must be a bool, got 1; "
                                        r"pass dilation and ceil_mode by keyword$"):
        max_pool2d(_tensor(1, 1, 4, 4), 2, None, 0, 1)


def test_avg_pool2d_rounds_down_by_default():
    x = _array(1, 2, 5, 5)
    y = avg_pool2d(mg.tensor(x), 2)
    assert y.shape == (1, 2, 2, 2)
    np.testing.assert_allclose(y.numpy(), R.avg_pool2d(x, 2), rtol=1e-12)


def test_adaptive_avg_pool2d_none_keeps_that_side_of_the_input():
    x = _array(1, 3, 4, 5)  # C, H and W all differ
    for output_size, size in (((2, None), (2, 5)), ((None, 2), (4, 2))):
        y = adaptive_avg_pool2d(mg.tensor(x), output_size)
        assert y.shape == (1, 3) + size
        np.testing.assert_allclose(y.numpy(), R.adaptive_avg_pool2d(x, size), rtol=1e-12)


@pytest.mark.parametrize("output_size, error, message", [
    ((2.5, 2), TypeError,
     r"^adaptive_avg_pool2d: output_size must be an int or a pair of ints, got \(2.5, 2\)$"),
    ((0, 2), ValueError,
     r"^adaptive_avg_pool2d: output_size must be >= 1, got \(0, 2\) for an input of shape "
     r"\(1, 1, 3, 3\)$"),
])
def test_adaptive_avg_pool2d_errors_name_the_op(output_size, error, message):
    with pytest.raises(error, match=message):
        adaptive_avg_pool2d(_tensor(1, 1, 3, 3), output_size)


def test_pool_module_still_lends_interpolate_and_nothing_else():
    assert pool_ops.interpolate is resample_ops.interpolate
    with pytest.raises(AttributeError,
                       match=r"^module 'minigrad.ops.pool' has no attribute 'resize'$"):
        pool_ops.resize  # noqa: B018


# ---------------------------------------------------------------------------------------------
# max_unpool2d: geometry, output_size and indices


def _pooled(shape=(1, 2, 4, 6), kernel_size=2, stride=None):
    x = mg.tensor(_array(*shape))
    return max_pool2d(x, kernel_size, stride, return_indices=True)


@pytest.mark.parametrize("kernel_size, stride, padding, shown", [
    ((0, 2), 2, 0, r"kernel_size \(0, 2\) and stride \(2, 2\) must be >= 1 and padding \(0, 0\)"),
    ((2, 0), 2, 0, r"kernel_size \(2, 0\) and stride \(2, 2\) must be >= 1 and padding \(0, 0\)"),
    (2, (0, 2), 0, r"kernel_size \(2, 2\) and stride \(0, 2\) must be >= 1 and padding \(0, 0\)"),
    (2, (2, 0), 0, r"kernel_size \(2, 2\) and stride \(2, 0\) must be >= 1 and padding \(0, 0\)"),
    (2, None, (-1, 0), r"kernel_size \(2, 2\) and stride \(2, 2\) must be >= 1 and padding "
                       r"\(-1, 0\)"),
    (2, None, (0, -1), r"kernel_size \(2, 2\) and stride \(2, 2\) must be >= 1 and padding "
                       r"\(0, -1\)"),
])
def test_max_unpool2d_checks_every_side_of_the_window(kernel_size, stride, padding, shown):
    y, i = _pooled()
    with pytest.raises(ValueError, match=rf"^max_unpool2d: {shown} >= 0$"):
        max_unpool2d(y, i, kernel_size, stride, padding)


@pytest.mark.parametrize("argument", ["kernel_size", "stride", "padding"])
def test_max_unpool2d_window_arguments_must_be_ints(argument):
    y, i = _pooled()
    arguments = dict(kernel_size=2) | {argument: 1.5}
    with pytest.raises(TypeError, match=rf"^max_unpool2d: {argument} must be an int or a pair of "
                                        r"ints, got 1.5$"):
        max_unpool2d(y, i, **arguments)


def test_max_unpool2d_output_size_must_be_ints():
    y, i = _pooled()
    with pytest.raises(TypeError, match=r"^max_unpool2d: output_size must be an int or a pair of "
                                        r"ints, got \(4.0, 6\)$"):
        max_unpool2d(y, i, 2, output_size=(4.0, 6))


# pooled (1, 2, 4, 6) by kernel 2, stride (2, 3) -> (1, 2, 2, 2); default output (4, 5)
@pytest.mark.parametrize("output_size", [(2, 5), (6, 5), (4, 2), (4, 8), (1, 2, 6, 5)])
def test_max_unpool2d_output_size_lies_strictly_within_one_stride(output_size):
    y, i = _pooled(stride=(2, 3))
    H, W = output_size[-2:]
    with pytest.raises(ValueError, match=rf"^max_unpool2d: output_size \({H}, {W}\) must lie "
                                         r"strictly between \(2, 2\) and \(6, 8\) for an input of "
                                         r"shape \(1, 2, 2, 2\)$"):
        max_unpool2d(y, i, 2, (2, 3), output_size=output_size)


@pytest.mark.parametrize("output_size", [(3, 3), (5, 7), (4, 5), (1, 2, 5, 7)])
def test_max_unpool2d_output_size_inside_the_bounds_places_the_values(output_size):
    x = _array(1, 2, 2, 2)
    H, W = output_size[-2:]
    corners = [[0, W - 1], [(H - 1) * W, H * W - 1]]  # the four corners of the HxW plane
    indices = np.array([[corners, [[1, W], [H * W - 2, 2 * W - 1]]]], np.int64)
    out = max_unpool2d(mg.tensor(x), mg.tensor(indices), 2, (2, 3), output_size=output_size)
    assert out.shape == (1, 2, H, W)
    np.testing.assert_array_equal(out.numpy(), R.max_unpool2d(x, indices, (H, W)))
    assert out.numpy()[0, 0, H - 1, W - 1] == x[0, 0, 1, 1]


@pytest.mark.parametrize("padding, plane", [((1, 0), r"\(-1, 2\)"), ((0, 1), r"\(1, 0\)")])
def test_max_unpool2d_refuses_an_empty_output_plane(padding, plane):
    x = mg.tensor(np.ones((1, 1, 1, 2)))
    with pytest.raises(ValueError, match=rf"^max_unpool2d: the output plane {plane} of an input "
                                         r"of shape \(1, 1, 1, 2\) is empty$"):
        max_unpool2d(x, mg.tensor(np.zeros((1, 1, 1, 2), np.int64)), 1, padding=padding)


@pytest.mark.parametrize("indices, shown", [
    (np.zeros((1, 1, 2, 2)), "float64"),
    (mg.tensor(np.zeros((1, 1, 2, 2), np.float32)), "float32"),
    ([[[[0, 1], [2, 3]]]], "list"),
])
def test_max_unpool2d_names_what_the_indices_are_instead_of_integers(indices, shown):
    with pytest.raises(TypeError, match=rf"^max_unpool2d: indices must be an integer Tensor or "
                                        rf"array, got {shown}$"):
        max_unpool2d(_tensor(1, 1, 2, 2), indices, 2)


@pytest.mark.parametrize("corner, shown", [(16, r"\[1, 16\]"), (-1, r"\[-1, 3\]")])
def test_max_unpool2d_indices_lie_in_the_plane(corner, shown):
    indices = np.array([[[[0, 1], [2, 3]]]], np.int64)
    indices[0, 0, 0, 0] = corner
    with pytest.raises(IndexError, match=rf"^max_unpool2d: indices must lie in \[0, 16\) for an "
                                         rf"output plane of 4x4, got values in {shown}$"):
        max_unpool2d(_tensor(1, 1, 2, 2), mg.tensor(indices), 2)


def test_max_unpool2d_takes_the_last_cell_of_the_plane():
    indices = np.array([[[[0, 5], [10, 15]]]], np.int64)  # 15 = H*W - 1, the bottom right
    x = _array(1, 1, 2, 2)
    out = max_unpool2d(mg.tensor(x), indices, 2)
    np.testing.assert_array_equal(out.numpy(), R.max_unpool2d(x, indices, (4, 4)))
    assert out.numpy()[0, 0, 3, 3] == x[0, 0, 1, 1]
