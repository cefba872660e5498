"""F.unfold and F.fold (and the Unfold / Fold layers): convolution as a matrix product,
fold as unfold's adjoint, values against slow loops and PyTorch, unbatched inputs, errors.
(Forward, gradcheck and gradgradcheck over drawn geometries run in the op registry.)"""
import numpy as np
import pytest
from hypothesis import given, settings

import minigrad as mg
import minigrad.functional as F
import layers as L
import references as R
import strategies as S


@settings(max_examples=25, deadline=None)
@given(S.conv_inputs())
def test_a_convolution_is_a_matrix_product_of_the_unfolded_image(inputs):
    """conv2d(x, w) == w as a (K, C·KH·KW) matrix times unfold(x), one group at a time."""
    (x, w, *_), kw = inputs
    G = kw["groups"]
    N, C = x.shape[:2]
    K, Cg, KH, KW = w.shape
    cols = F.unfold(mg.tensor(x), (KH, KW), kw["dilation"], kw["padding"], kw["stride"]).numpy()
    cols = cols.reshape(N, G, Cg * KH * KW, -1)
    y = np.einsum("gki,ngil->ngkl", w.reshape(G, K // G, Cg * KH * KW), cols)
    expected = R.conv2d(x, w, **kw)
    np.testing.assert_allclose(y.reshape(expected.shape), expected, rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(S.fold_inputs(), S.values((64,)))
def test_fold_is_the_adjoint_of_unfold(inputs, draws):
    """<unfold(x), c> == <x, fold(c)> for any x and columns c."""
    (x,), kw = inputs
    cols_shape = F.unfold(mg.tensor(x), **kw).shape
    c = np.resize(draws, cols_shape)
    left = (F.unfold(mg.tensor(x), **kw).numpy() * c).sum()
    right = (x * F.fold(mg.tensor(c), x.shape[2:], **kw).numpy()).sum()
    np.testing.assert_allclose(left, right, rtol=1e-10, atol=1e-12)


def test_fold_of_unfold_counts_the_windows_over_each_pixel():
    x = mg.ones(1, 1, 3, 4)
    counts = F.fold(F.unfold(x, 2), (3, 4), 2).numpy()[0, 0]
    np.testing.assert_array_equal(counts, [[1, 2, 2, 1], [2, 4, 4, 2], [1, 2, 2, 1]])
    # Without overlap (stride = kernel) fold undoes unfold.
    x = mg.tensor(np.arange(24.0).reshape(1, 2, 3, 4))
    np.testing.assert_array_equal(F.fold(F.unfold(x, (1, 2), stride=(1, 2)), (3, 4), (1, 2),
                                         stride=(1, 2)).numpy(), x.numpy())


def test_unbatched_inputs_and_the_layers():
    x = np.random.default_rng(1).standard_normal((2, 5, 4))
    cols = L.Unfold((2, 3), dilation=1, padding=1, stride=2)(mg.tensor(x))
    np.testing.assert_allclose(cols.numpy(), R.unfold(x[None], (2, 3), 1, 1, 2)[0], rtol=1e-12)
    back = L.Fold((5, 4), (2, 3), padding=1, stride=2)(cols)
    np.testing.assert_allclose(back.numpy(), R.fold(cols.numpy()[None], (5, 4), (2, 3), 1, 1,
                                                    2)[0], rtol=1e-12)
    assert repr(L.Fold((5, 4), 2, stride=2)) == \
        "Fold(output_size=(5, 4), kernel_size=2, dilation=1, padding=0, stride=2)"


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.unfold(mg.zeros(2, 3), 2), ValueError,
     r"^unfold: expected an input of shape \(N, C, H, W\) or \(C, H, W\), got shape \(2, 3\)$"),
    (lambda: F.unfold([1.0], 2), TypeError, r"^unfold: expected a Tensor, got list$"),
    (lambda: F.unfold(mg.zeros(1, 1, 3, 3), 0), ValueError,
     r"^unfold: kernel_size must be >= 1, got \(0, 0\)$"),
    (lambda: F.unfold(mg.zeros(1, 1, 3, 3), 2, padding=-1), ValueError,
     r"^unfold: padding must be >= 0, got \(-1, -1\)$"),
    (lambda: F.unfold(mg.zeros(1, 1, 3, 3), 4), ValueError,
     r"^unfold: the kernel \(4, 4\) with dilation \(1, 1\) spans more than the padded image "
     r"\(3, 3\)"),
    (lambda: F.unfold(mg.zeros(1, 1, 3, 3), (2, 2, 2)), TypeError,
     r"^unfold: kernel_size must be an int or a pair of ints"),
    (lambda: F.fold(mg.zeros(1, 5, 4), (3, 3), 2), ValueError,
     r"^fold: the input's second axis, 5 for shape \(1, 5, 4\), must be a multiple of "
     r"KH·KW = 4$"),
    (lambda: F.fold(mg.zeros(1, 4, 5), (3, 3), 2), ValueError,
     r"^fold: an image of \(3, 3\) has 2x2 = 4 windows of kernel \(2, 2\), but the input of "
     r"shape \(1, 4, 5\) has L = 5$"),
    (lambda: F.fold(mg.zeros(1, 4, 4), (0, 3), 2), ValueError,
     r"^fold: output_size must be >= 1, got \(0, 3\)$"),
])
def test_errors_name_the_op_and_the_sizes(call, error, message):
    with pytest.raises(error, match=message):
        call()


@settings(max_examples=30, deadline=None)
@given(S.fold_inputs())
def test_unfold_and_fold_vs_torch(inputs):
    torch = pytest.importorskip("torch")
    (x,), kw = inputs
    ours_x, theirs_x = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours, theirs = F.unfold(ours_x, **kw), torch.nn.functional.unfold(theirs_x, **kw)
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())
    g = np.sin(np.arange(theirs.numel())).reshape(theirs.shape)
    ours.backward(mg.tensor(g))
    theirs.backward(torch.tensor(g))
    np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.fold(mg.tensor(g), x.shape[2:], **kw).numpy(),
                               torch.nn.functional.fold(torch.tensor(g), x.shape[2:],
                                                        **kw).numpy(), rtol=1e-12)
    assert repr(L.Unfold(**kw)) == repr(torch.nn.Unfold(**kw))
