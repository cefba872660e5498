"""Adaptive max pooling (F.adaptive_max_pool2d, F.adaptive_max_pool1d and their layers): ties,
NaN, indices that max_unpool2d takes back, the gradient to the one maximum, errors, and
PyTorch. (Forward, gradcheck and gradgradcheck on distinct values run in the op registry.)"""
import numpy as np
import pytest
from hypothesis import given, settings

import minigrad as mg
import minigrad.functional as F
import layers as L
import references as R
import strategies as S
from torch_oracle import same_module_as_torch


def test_windows_overlap_and_ties_go_to_the_first_maximum():
    # 3 columns into 2 cells: windows [0, 2) and [1, 3) share column 1; ties pick row-major first
    x = mg.tensor(np.array([[[[1.0, 5.0, 3.0], [5.0, 0.0, 5.0]]]]), requires_grad=True)
    y, i = F.adaptive_max_pool2d(x, (1, 2), return_indices=True)
    assert y.tolist() == [[[[5.0, 5.0]]]] and i.tolist() == [[[[1, 1]]]]
    y.backward(mg.tensor(np.array([[[[1.0, 10.0]]]])))
    assert x.grad.tolist() == [[[[0.0, 11.0, 0.0], [0.0, 0.0, 0.0]]]]


def test_a_nan_wins_its_window():
    x = mg.tensor(np.array([[[[1.0, np.nan, 3.0, 2.0]]]]))
    y, i = F.adaptive_max_pool2d(x, (1, 2), return_indices=True)
    assert np.isnan(y.numpy()[0, 0, 0, 0]) and y.numpy()[0, 0, 0, 1] == 3.0
    assert i.tolist() == [[[[1, 2]]]]


@settings(max_examples=30, deadline=None)
@given(S.adaptive_max_pool_inputs(), S.tied_values((2, 2, 5, 4)))
def test_values_and_indices_match_the_loop_reference_with_and_without_ties(inputs, tied):
    (x,), params = inputs
    for image in (x, tied):
        y, i = F.adaptive_max_pool2d(mg.tensor(image), params["output_size"], True)
        ry, ri = R.adaptive_max_pool2d(image, params["output_size"], True)
        np.testing.assert_array_equal(y.numpy(), ry)
        np.testing.assert_array_equal(i.numpy(), ri)


def test_indices_unpool_back_to_the_maxima():
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    y, i = F.adaptive_max_pool2d(mg.tensor(x), 3, return_indices=True)
    back = F.max_unpool2d(y, i, 2, output_size=(6, 6)).numpy()
    kept = back != 0
    np.testing.assert_array_equal(back[kept], x[kept])
    assert kept.sum() == 2 * 3 * 9


def test_layers_batched_and_unbatched():
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 7))
    layer = L.AdaptiveMaxPool2d((2, None), return_indices=True)
    y, i = layer(mg.tensor(x))
    assert y.shape == i.shape == (2, 3, 2, 7)
    y0, i0 = layer(mg.tensor(x[0]))
    np.testing.assert_array_equal(y0.numpy(), y.numpy()[0])
    np.testing.assert_array_equal(i0.numpy(), i.numpy()[0])
    sequence = L.AdaptiveMaxPool1d(3)(mg.tensor(x[:, :, 0]))
    np.testing.assert_array_equal(sequence.numpy(), R.adaptive_max_pool1d(x[:, :, 0], 3))
    assert repr(layer) == "AdaptiveMaxPool2d(output_size=(2, None))"


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.adaptive_max_pool2d(mg.zeros(2, 3, 4), 2), ValueError,
     r"^adaptive_max_pool2d: expected a 4-D input of shape \(N, C, H, W\), got shape "
     r"\(2, 3, 4\)$"),
    (lambda: F.adaptive_max_pool2d(mg.zeros(1, 1, 4, 4), 0), ValueError,
     r"^adaptive_max_pool2d: output_size must be >= 1, got \(0, 0\)"),
    (lambda: F.adaptive_max_pool2d(mg.zeros(1, 1, 4, 4), 2, return_indices=1), TypeError,
     r"^adaptive_max_pool2d: return_indices must be a bool, got 1$"),
    (lambda: F.adaptive_max_pool1d(mg.zeros(1, 1, 4), (2, 2)), TypeError,
     r"^adaptive_max_pool1d: output_size must be an int or a tuple of one int"),
])
def test_errors_name_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("make, shape", [
    (lambda nn: nn.AdaptiveMaxPool2d(3), (2, 3, 7, 5)),
    (lambda nn: nn.AdaptiveMaxPool2d((4, None)), (2, 3, 3, 5)),
    (lambda nn: nn.AdaptiveMaxPool1d(4), (2, 3, 9)),
    (lambda nn: nn.AdaptiveMaxPool1d(4), (3, 9))])
def test_layers_vs_torch(make, shape):
    torch = pytest.importorskip("torch")
    x = np.round(np.random.default_rng(2).standard_normal(shape), 1)  # with ties
    same_module_as_torch(torch, make(L), make(torch.nn), [x])


def test_indices_vs_torch_with_ties():
    torch = pytest.importorskip("torch")
    x = np.round(np.random.default_rng(3).standard_normal((2, 2, 7, 6)))
    for size in (1, 3, (5, 2), (9, 8)):
        _, ours = F.adaptive_max_pool2d(mg.tensor(x), size, return_indices=True)
        _, theirs = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), size,
                                                            return_indices=True)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
