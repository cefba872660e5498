"""Tests written from the surviving mutants of ops/conv1d.py: the defaults of the 1-D functions,
every argument named in its own error, and errors of the 2-D op passed on under the 1-D name (or
unchanged where they are not the 2-D op's). (Every non-equivalent mutant of ops/padding.py was
already killed by tests/ops/test_padding.py and the op registry's "F.pad" rows.)"""
import re

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
import minigrad.ops.conv1d as conv1d_module


def _exact(text):
    return "^" + re.escape(text) + "$"


_NOTE = " (computed as {} over a height of 1, so shapes show H = 1)"


# --- conv1d.py: defaults ------------------------------------------------------------------

def test_max_pool1d_defaults_stride_to_the_kernel_no_padding_dilation_one_and_floor():
    x = mg.tensor([[[1.0, 5.0, 2.0, 4.0, 3.0]]])
    # windows [1 5] and [2 4]; the 3 left over is dropped (ceil_mode=False)
    assert F.max_pool1d(x, 2).tolist() == [[[5.0, 4.0]]]
    y = F.max_pool1d(x, 2, 1, 0)
    assert isinstance(y, mg.Tensor) and y.tolist() == [[[5.0, 5.0, 4.0, 4.0]]]
    assert F.max_pool1d(x, 2, ceil_mode=True).tolist() == [[[5.0, 4.0, 3.0]]]
    assert F.max_pool1d(x, 2, 1, dilation=2).tolist() == [[[2.0, 5.0, 3.0]]]


def test_avg_pool1d_defaults_stride_to_the_kernel_no_padding_and_floor():
    x = mg.tensor([[[1.0, 5.0, 2.0, 4.0, 3.0]]])
    assert F.avg_pool1d(x, 2).tolist() == [[[3.0, 3.0]]]
    assert F.avg_pool1d(x, 2, 1).tolist() == [[[3.0, 3.5, 3.0, 3.5]]]
    assert F.avg_pool1d(x, 2, ceil_mode=True).tolist() == [[[3.0, 3.0, 3.0]]]
    # count_include_pad=True by default: the padded zero counts in the first window
    assert F.avg_pool1d(x, 2, 2, 1).tolist() == [[[0.5, 3.5, 3.5]]]


def test_conv_transpose1d_defaults():
    x = mg.tensor([[[1.0, 2.0, 3.0]]])
    w = mg.tensor([[[1.0, 10.0]]])
    # stride 1, no padding, no output padding, one group, dilation 1
    assert F.conv_transpose1d(x, w).tolist() == [[[1.0, 12.0, 23.0, 30.0]]]
    assert F.conv_transpose1d(x, w, None, 1, 0, 0, 1, 1).tolist() == [[[1.0, 12.0, 23.0, 30.0]]]
    assert F.conv_transpose1d(x, w, dilation=2).tolist() == [[[1.0, 2.0, 13.0, 20.0, 30.0]]]
    assert F.conv_transpose1d(x, w, padding=1).tolist() == [[[12.0, 23.0]]]
    assert F.conv_transpose1d(x, w, stride=2, output_padding=1).tolist() == [
        [[1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 0.0]]]


def test_conv1d_defaults_and_string_padding():
    x = mg.tensor([[[1.0, 2.0, 4.0, 8.0]]])
    w = mg.tensor([[[1.0, 1.0, 1.0]]])
    assert F.conv1d(x, w).tolist() == [[[7.0, 14.0]]]
    assert F.conv1d(x, w, padding="same").tolist() == [[[3.0, 7.0, 14.0, 12.0]]]
    assert F.conv1d(x, w, padding="valid").tolist() == [[[7.0, 14.0]]]
    assert F.conv1d(x, w, padding=(1,)).tolist() == [[[3.0, 7.0, 14.0, 12.0]]]


def test_adaptive_pools_return_a_tensor_by_default_and_indices_on_request():
    x = mg.tensor([[[1.0, 5.0, 3.0, 0.0, 2.0]]])
    y = F.adaptive_max_pool1d(x, 2)
    assert isinstance(y, mg.Tensor) and y.tolist() == [[[5.0, 3.0]]]
    y, i = F.adaptive_max_pool1d(x, 2, True)
    assert y.tolist() == [[[5.0, 3.0]]] and i.tolist() == [[[1, 2]]]
    assert y.shape == i.shape == (1, 1, 2)
    y, i = F.max_pool1d(x, 2, return_indices=True)
    assert y.shape == i.shape == (1, 1, 2) and i.tolist() == [[[1, 2]]]
    np.testing.assert_allclose(F.adaptive_avg_pool1d(x, (2,)).numpy(), [[[3.0, 5.0 / 3.0]]],
                               rtol=1e-6)


# --- conv1d.py: every argument named in its error ----------------------------------------

def _one_int(op, name, value):
    return TypeError, _exact(f"{op}: {name} must be an int or a tuple of one int, got {value!r}")


_X, _W = mg.zeros(1, 2, 6), mg.zeros(2, 2, 2)


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.conv1d(_X, _W, stride=(1, 1)), *_one_int("conv1d", "stride", (1, 1))),
    (lambda: F.conv1d(_X, _W, dilation=[2, 2]), *_one_int("conv1d", "dilation", [2, 2])),
    (lambda: F.conv1d(_X, _W, padding=(0, 1)), *_one_int("conv1d", "padding", (0, 1))),
    (lambda: F.conv_transpose1d(_X, _W, stride=1.0),
     *_one_int("conv_transpose1d", "stride", 1.0)),
    (lambda: F.conv_transpose1d(_X, _W, padding=(1, 1)),
     *_one_int("conv_transpose1d", "padding", (1, 1))),
    (lambda: F.conv_transpose1d(_X, _W, output_padding=(0, 0)),
     *_one_int("conv_transpose1d", "output_padding", (0, 0))),
    (lambda: F.conv_transpose1d(_X, _W, dilation=True),
     *_one_int("conv_transpose1d", "dilation", True)),
    (lambda: F.max_pool1d(_X, (2, 2)), *_one_int("max_pool1d", "kernel_size", (2, 2))),
    (lambda: F.max_pool1d(_X, 2, (1, 1)), *_one_int("max_pool1d", "stride", (1, 1))),
    (lambda: F.max_pool1d(_X, 2, 2, (0, 0)), *_one_int("max_pool1d", "padding", (0, 0))),
    (lambda: F.max_pool1d(_X, 2, dilation=(1, 1)),
     *_one_int("max_pool1d", "dilation", (1, 1))),
    (lambda: F.avg_pool1d(_X, 2, (1, 1)), *_one_int("avg_pool1d", "stride", (1, 1))),
    (lambda: F.avg_pool1d(_X, 2, 2, (0, 0)), *_one_int("avg_pool1d", "padding", (0, 0))),
    (lambda: F.adaptive_avg_pool1d(_X, (2, 2)),
     *_one_int("adaptive_avg_pool1d", "output_size", (2, 2))),
    (lambda: F.adaptive_max_pool1d(_X, None),
     *_one_int("adaptive_max_pool1d", "output_size", None)),
])
def test_each_argument_is_named_in_its_error(call, error, message):
    with pytest.raises(error, match=message):
        call()


_ALL = [("conv1d", lambda x: F.conv1d(x, _W)),
        ("conv_transpose1d", lambda x: F.conv_transpose1d(x, _W)),
        ("max_pool1d", lambda x: F.max_pool1d(x, 2)),
        ("avg_pool1d", lambda x: F.avg_pool1d(x, 2)),
        ("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 2)),
        ("adaptive_max_pool1d", lambda x: F.adaptive_max_pool1d(x, 2))]


@pytest.mark.parametrize("op, call", _ALL, ids=[op for op, _ in _ALL])
def test_each_function_checks_its_input_in_full(op, call):
    with pytest.raises(TypeError, match=_exact(f"{op}: expected x to be a Tensor, got ndarray")):
        call(np.zeros((1, 2, 6)))
    with pytest.raises(ValueError, match=_exact(f"{op}: expected x of shape (N, C, L), got "
                                                f"shape (1, 2, 3, 6)")):
        call(mg.zeros(1, 2, 3, 6))


def test_the_weights_are_checked_in_full():
    for op, function, layout in (
            ("conv1d", F.conv1d, "(C_out, C_in // groups, KW)"),
            ("conv_transpose1d", F.conv_transpose1d, "(C_in, C_out // groups, KW)")):
        with pytest.raises(TypeError, match=_exact(f"{op}: expected the weight to be a Tensor, "
                                                   f"got list")):
            function(_X, [[[1.0]]])
        with pytest.raises(ValueError, match=_exact(f"{op}: expected a weight of shape {layout}, "
                                                    f"got shape (2, 2)")):
            function(_X, mg.zeros(2, 2))


@pytest.mark.parametrize("call, error, message, op2d", [
    (lambda: F.conv1d(_X, _W, groups=1.5), ValueError,
     "conv1d: groups must be a positive int, got 1.5", "conv2d"),
    (lambda: F.conv1d(_X, _W, stride=2, padding="same"), ValueError,
     "conv1d: padding='same' needs stride 1, got stride (1, 2)", "conv2d"),
    (lambda: F.conv1d(_X, _W, bias=[1.0, 2.0]), TypeError,
     "conv1d: bias must be a Tensor, got list", "conv2d"),
    (lambda: F.conv_transpose1d(_X, _W, groups=0), ValueError,
     "conv_transpose1d: groups must be a positive int, got 0", "conv_transpose2d"),
    (lambda: F.max_pool1d(_X, 0), ValueError,
     "max_pool1d: kernel_size must be >= 1, got (1, 0)", "max_pool2d"),
    (lambda: F.max_pool1d(_X, 2, 2, 0, 1), TypeError,
     "max_pool1d: return_indices must be a bool, got 1", "max_pool2d"),
    (lambda: F.avg_pool1d(_X, 2, 0), ValueError,
     "avg_pool1d: stride must be >= 1, got (1, 0)", "avg_pool2d"),
    (lambda: F.adaptive_avg_pool1d(_X, 0), ValueError,
     "adaptive_avg_pool1d: output_size must be >= 1, got (1, 0)", "adaptive_avg_pool2d"),
    (lambda: F.adaptive_max_pool1d(_X, 2, 1), TypeError,
     "adaptive_max_pool1d: return_indices must be a bool, got 1", "adaptive_max_pool2d"),
])
def test_errors_of_the_2d_op_are_renamed_in_full(call, error, message, op2d):
    """The 2-D op's message (its start here: the rest is the 2-D op's to word) under the 1-D
    name, with the note on the height of 1 at the end."""
    pattern = "^" + re.escape(message) + ".*" + re.escape(_NOTE.format(op2d)) + "$"
    with pytest.raises(error, match=pattern) as caught:
        call()
    assert type(caught.value) is error
    assert isinstance(caught.value.__cause__, error)


@pytest.mark.parametrize("error", [ValueError, TypeError])
def test_an_error_that_is_not_the_2d_ops_passes_unchanged(monkeypatch, error):
    def failing(*args, **kwargs):
        raise error("conv2d failed: not a message of conv2d's own")
    monkeypatch.setattr(conv1d_module, "conv2d", failing)
    with pytest.raises(error, match=_exact("conv2d failed: not a message of conv2d's own")):
        F.conv1d(_X, _W)
