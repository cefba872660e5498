"""F.pixel_shuffle, F.pixel_unshuffle and F.channel_shuffle (and ChannelShuffle): each against
an explicit index formula, inverses of each other, adjoint (so gradients move back), errors,
and PyTorch's values."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
import minigrad.functional as F
import layers as L
import strategies as S


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 2), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 2), st.data())
def test_pixel_shuffle_by_its_index_formula_and_unshuffle_inverts_it(r, C, H, W, lead, data):
    shape = (2,) * lead + (C * r * r, H, W)
    x = data.draw(S.values(shape))
    y = F.pixel_shuffle(mg.tensor(x), r).numpy()
    assert y.shape == (2,) * lead + (C, H * r, W * r)
    for c, h, w, i, j in itertools.product(range(C), range(H), range(W), range(r), range(r)):
        np.testing.assert_array_equal(y[..., c, h * r + i, w * r + j],
                                      x[..., c * r * r + i * r + j, h, w])
    np.testing.assert_array_equal(F.pixel_unshuffle(mg.tensor(y), r).numpy(), x)


def test_the_gradient_is_the_rearrangement_backwards():
    x = mg.tensor(np.arange(8.0).reshape(1, 8, 1, 1), requires_grad=True)
    y = F.channel_shuffle(x, 4)
    assert y.reshape(-1).tolist() == [0.0, 2.0, 4.0, 6.0, 1.0, 3.0, 5.0, 7.0]
    y.backward(mg.tensor(np.arange(8.0).reshape(1, 8, 1, 1) * 10))
    # channel k·G + g of y came from g·(C/G) + k of x
    assert x.grad.reshape(-1).tolist() == [0.0, 40.0, 10.0, 50.0, 20.0, 60.0, 30.0, 70.0]
    z = mg.tensor(np.random.default_rng(0).standard_normal((2, 4, 3, 3)), requires_grad=True)
    g = np.random.default_rng(1).standard_normal((2, 1, 6, 6))
    F.pixel_shuffle(z, 2).backward(mg.tensor(g))
    np.testing.assert_array_equal(z.grad.numpy(), F.pixel_unshuffle(mg.tensor(g), 2).numpy())


@pytest.mark.parametrize("call, message", [
    (lambda: F.pixel_shuffle(mg.zeros(1, 3, 2, 2), 2),
     r"^pixel_shuffle: input of shape \(1, 3, 2, 2\) needs channels divisible by r\*r = 4, "
     r"got 3$"),
    (lambda: F.pixel_unshuffle(mg.zeros(1, 1, 3, 2), 2),
     r"^pixel_unshuffle: input of shape \(1, 1, 3, 2\) needs height and width divisible by "
     r"r = 2$"),
    (lambda: F.pixel_shuffle(mg.zeros(4, 2), 2),
     r"^pixel_shuffle: expected a Tensor of shape \(\*, C, H, W\), got \(4, 2\)$"),
    (lambda: F.pixel_shuffle(mg.zeros(1, 4, 2, 2), 0),
     r"^pixel_shuffle: upscale_factor must be a positive int, got 0$"),
    (lambda: F.channel_shuffle(mg.zeros(1, 5, 2), 2),
     r"^channel_shuffle: 5 channels \(input of shape \(1, 5, 2\)\) are not divisible into 2 "
     r"groups$"),
    (lambda: F.channel_shuffle(mg.zeros(5), 1),
     r"^channel_shuffle: expected a Tensor of shape \(N, C, \.\.\.\), got \(5,\)$"),
    (lambda: L.ChannelShuffle(1.5), r"^ChannelShuffle: the factor must be a positive int"),
])
def test_errors_name_the_op(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_vs_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 4, 6))
    for ours, theirs, arg in ((F.pixel_shuffle, torch.nn.functional.pixel_shuffle, 2),
                              (F.pixel_unshuffle, torch.nn.functional.pixel_unshuffle, 2)):
        np.testing.assert_array_equal(ours(mg.tensor(x), arg).numpy(),
                                      theirs(torch.tensor(x), arg).numpy())
    y = np.random.default_rng(3).standard_normal((2, 6, 3, 2))
    np.testing.assert_array_equal(L.ChannelShuffle(3)(mg.tensor(y)).numpy(),
                                  torch.nn.ChannelShuffle(3)(torch.tensor(y)).numpy())
    assert repr(L.ChannelShuffle(3)) == repr(torch.nn.ChannelShuffle(3))
