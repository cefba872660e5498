"""Dropout's variants (F.dropout1d/2d/3d, F.alpha_dropout, F.feature_alpha_dropout and their
layers): whole channels kept or dropped together, the kept fraction and scaling, alpha
dropout's moments and values, the gradient through the mask, eval mode, p at 0 and 1, errors,
and PyTorch's values for its own masks' structure."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
import layers as L
from minigrad.dropouts import SELU_SATURATION


@pytest.mark.parametrize("function, shape, mask_axes", [
    (F.dropout1d, (6, 40, 5), 2), (F.dropout1d, (40, 5), 1), (F.dropout2d, (6, 40, 3, 4), 2),
    (F.dropout2d, (6, 40, 5), 2), (F.dropout3d, (3, 40, 2, 3, 2), 2),
    (F.dropout3d, (40, 2, 3, 2), 1)])
def test_channel_dropout_keeps_or_drops_whole_channels(function, shape, mask_axes):
    mg.manual_seed(0)
    x = mg.tensor(np.random.default_rng(1).uniform(1, 2, shape), requires_grad=True)
    y = function(x, p=0.25)
    ratio = (y.numpy() / x.numpy()).round(12)
    per_channel = ratio.reshape(shape[:mask_axes] + (-1,))
    # each channel all 0 or all 1/(1 - p)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))
    assert set(np.unique(per_channel.round(12))) <= {0.0, round(1 / 0.75, 12)}
    kept = (per_channel[..., 0] > 0).mean()
    n = per_channel[..., 0].size
    assert abs(kept - 0.75) < 4 * np.sqrt(0.75 * 0.25 / n)
    y.backward(mg.ones(*shape))
    np.testing.assert_allclose(x.grad.numpy(), ratio, rtol=1e-12)  # the gradient: the mask


@pytest.mark.parametrize("function", [F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout,
                                      F.feature_alpha_dropout])
def test_eval_p0_and_p1(function):
    shape = {F.dropout1d: (2, 3, 4), F.dropout3d: (2, 3, 1, 2, 2)}.get(function, (2, 3, 4, 4))
    x = mg.tensor(np.random.default_rng(2).standard_normal(shape))
    assert function(x, 0.5, training=False) is x
    assert function(x, 0.0, training=True) is x
    assert np.all(function(x, 1.0, training=True).numpy() == 0)  # PyTorch gives zeros too


def test_alpha_dropout_values_and_moments():
    p = 0.2
    a = ((1 - p) * (1 + p * SELU_SATURATION ** 2)) ** -0.5
    b = -a * SELU_SATURATION * p
    mg.manual_seed(3)
    x = np.random.default_rng(4).standard_normal(200_000)
    y = F.alpha_dropout(mg.tensor(x), p, training=True).numpy()
    kept = np.isclose(y, a * x + b)
    dropped = np.isclose(y, a * SELU_SATURATION + b)
    assert np.all(kept | dropped)
    assert abs(dropped.mean() - p) < 4 * np.sqrt(p * (1 - p) / x.size)
    # standard normal in, mean 0 and variance 1 out (the point of the affine map)
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.02
    # feature alpha dropout: one draw per (n, c)
    z = F.feature_alpha_dropout(mg.tensor(np.ones((50, 8, 3))), p, training=True).numpy()
    assert np.all(z.min(-1) == z.max(-1))
    assert set(np.unique(z.round(10))) <= {round(a + b, 10), round(a * SELU_SATURATION + b, 10)}


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.dropout1d(mg.ones(3), 0.5), ValueError,
     r"^dropout1d: expected an input of shape \(N, C, L\) or \(C, L\), got \(3,\)$"),
    (lambda: F.dropout2d(mg.ones(2, 3), 0.5), ValueError,
     r"^dropout2d: expected an input of shape \(N, C, H, W\) or \(N, C, L\), got \(2, 3\)$"),
    (lambda: F.dropout3d(mg.ones(2, 3), 0.5), ValueError,
     r"^dropout3d: expected an input of shape \(N, C, D, H, W\) or \(C, D, H, W\)"),
    (lambda: F.alpha_dropout(mg.ones(2), 1.5, True), ValueError,
     r"^alpha_dropout: p must be a probability in \[0, 1\], got 1.5$"),
    (lambda: F.feature_alpha_dropout([1.0], 0.5), TypeError,
     r"^feature_alpha_dropout: expected a Tensor input, got list$"),
    (lambda: F.feature_alpha_dropout(mg.ones(3), 0.5, True), ValueError,
     r"^feature_alpha_dropout: expected an input of shape \(N, C, \.\.\.\), got \(3,\)$"),
])
def test_errors_name_the_function(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("layer, function, shape", [
    (L.Dropout1d, F.dropout1d, (2, 3, 4)), (L.Dropout2d, F.dropout2d, (2, 3, 4, 4)),
    (L.Dropout3d, F.dropout3d, (2, 3, 2, 2, 2)), (L.AlphaDropout, F.alpha_dropout, (2, 3)),
    (L.FeatureAlphaDropout, F.feature_alpha_dropout, (2, 3, 4))])
def test_layers_draw_as_their_function_in_training_and_pass_through_in_eval(layer, function,
                                                                              shape):
    x = mg.tensor(np.random.default_rng(5).standard_normal(shape))
    module = layer(0.4)
    mg.manual_seed(6)
    ours = module(x).numpy()
    mg.manual_seed(6)
    np.testing.assert_array_equal(ours, function(x, 0.4, training=True).numpy())
    assert module.eval()(x) is x
    assert repr(layer(0.3)) == f"{layer.__name__}(p=0.3, inplace=False)"


def test_alpha_dropout_vs_torch_on_its_two_values():
    """PyTorch draws its own masks, so compare what each entry can become: with x = 1, kept
    entries are a + b and dropped ones a·α' + b, the same two numbers in both libraries."""
    torch = pytest.importorskip("torch")
    ours = set(np.unique(F.alpha_dropout(mg.ones(4000), 0.3, True).numpy().round(6)))
    theirs = set(np.unique(torch.nn.functional.alpha_dropout(torch.ones(4000), 0.3,
                                                             True).numpy().round(6)))
    assert ours == theirs and len(ours) == 2
