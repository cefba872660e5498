"""Receptive fields from the layers, maximally activating patches found with forward hooks,
grids; and the synthesis tools (class visualisation, DeepDream, Gram matrices, style)."""
import numpy as np
import pytest

import minigrad as mg
from layers import (AdaptiveAvgPool2d, AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU,
                    Sequential)
from models import LeNet, resnet_small
from models.vis import (capture_activations, class_visualization, deep_dream, feature_map_grid,
                        filter_grid, gaussian_blur, gram_matrix, layers_before, make_grid,
                        max_activating_patches, receptive_field, style_transfer,
                        texture_synthesis)


def _brute_force_field(layers, in_size=24):
    """Size of the input region that one central output unit depends on, from gradients
    (average pooling: max pooling would route the gradient to one input per window, and
    has the same field)."""
    model = Sequential(*layers).double()
    for p in model.parameters():
        p.data[...] = 1.0
    x = mg.ones(1, 1, in_size, in_size, dtype=mg.float64, requires_grad=True)
    y = model(x)
    h = y.shape[2] // 2
    (grad,) = mg.grad(y[0, 0, h, h], x)
    rows = np.flatnonzero(np.abs(grad.numpy()[0, 0]).sum(axis=1))
    return (rows.max() - rows.min() + 1, rows.min(), h)


@pytest.mark.parametrize("layers", [
    [Conv2d(1, 1, 3)],
    [Conv2d(1, 1, 3, padding=1), ReLU(), AvgPool2d(2), Conv2d(1, 1, 3, padding=1)],
    [Conv2d(1, 1, 5, stride=2, padding=2), Conv2d(1, 1, 3, stride=2), AvgPool2d(3, 1)],
    [Conv2d(1, 1, 3, dilation=2), AvgPool2d(2), Conv2d(1, 1, 3)],
])
def test_receptive_field_matches_the_gradient_support(layers):
    field = receptive_field(layers)
    size, first, unit = _brute_force_field(layers)
    assert field.size == size
    # the unit's window starts at start + unit * jump - (size - 1) / 2
    assert field.start + unit * field.jump - (field.size - 1) / 2 == first


def test_layers_before_records_the_chain_in_calling_order():
    model = LeNet(image_size=8, kernel_size=3)
    chain = layers_before(model, mg.zeros(1, 1, 8, 8), "features.3")
    assert chain == [model.features[i] for i in range(4)]


def test_max_activating_patches_find_a_planted_pattern():
    # one filter that fires on a bright pixel; image n has its pixel at a known place and
    # brightness n, so the top images and their crops are known exactly
    conv = Conv2d(1, 1, 3, padding=1, bias=False)
    conv.weight.data[...] = 0.0
    conv.weight.data[0, 0, 1, 1] = 1.0
    model = Sequential(conv, ReLU(), Flatten())
    images = np.zeros((6, 1, 7, 7), dtype=np.float32)
    for n in range(6):
        images[n, 0, n, 6 - n] = n + 1
    patches, values, field = max_activating_patches(model, "0", images, top_k=3)
    assert field.size == 3 and field.jump == 1
    np.testing.assert_allclose(values[0], [6, 5, 4])
    assert patches.shape == (1, 3, 1, 3, 3)
    for t, n in enumerate([5, 4, 3]):     # the bright pixel sits at the patch centre
        assert patches[0, t, 0, 1, 1] == n + 1 and patches[0, t].sum() == n + 1


def test_max_activating_patches_on_lenet_and_resnet_have_the_field_size():
    images = np.random.default_rng(0).random((20, 1, 8, 8)).astype(np.float32)
    patches, values, field = max_activating_patches(LeNet(image_size=8, kernel_size=3).eval(),
                                                    "features.3", images, top_k=5,
                                                    channels=[0, 3])
    assert patches.shape == (2, 5, 1, 8, 8) and field.size == 8
    assert np.all(np.diff(values, axis=1) <= 0)
    net = resnet_small(10, in_channels=1, width=4, layers=(1, 1, 1)).eval()
    patches, _, field = max_activating_patches(net, "layer1", images, top_k=2)
    assert field.size == 7 and patches.shape == (4, 2, 1, 7, 7)


def test_grids():
    grid = make_grid(np.arange(12.0).reshape(3, 2, 2), ncol=2, padding=1, normalize=False)
    np.testing.assert_array_equal(grid[:2, :2], [[0, 1], [2, 3]])
    np.testing.assert_array_equal(grid[3:, 3:], np.full((2, 2), np.nan))   # empty cell
    assert np.isnan(grid[2]).all()
    tiles = filter_grid(np.random.default_rng(0).normal(size=(6, 1, 3, 3)))
    assert tiles.shape == (7, 11) and np.nanmin(tiles) == 0 and np.nanmax(tiles) == 1
    assert feature_map_grid(np.ones((1, 4, 2, 2))).shape == (5, 5)


def test_gaussian_blur_keeps_constants_and_spreads_a_point():
    np.testing.assert_allclose(gaussian_blur(np.full((6, 6), 3.0), 1.0), 3.0)
    image = np.zeros((15, 15))
    image[7, 7] = 1
    blurred = gaussian_blur(image, 1.5)
    assert blurred.sum() == pytest.approx(1.0) and blurred[7, 7] < 0.1
    np.testing.assert_allclose(blurred, blurred.T)


def _scorer():
    mg.manual_seed(0)
    model = Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), AdaptiveAvgPool2d(1), Flatten(),
                       Linear(4, 3)).eval()
    model[0].bias.data[...] = 0.1          # every channel open at the start
    model[4].weight.data[2] = [1.0, 1.0, 1.0, -1.0]
    return model


def test_class_visualization_raises_the_class_score():
    model = _scorer()
    image = class_visualization(model, 2, (1, 8, 8), steps=30, lr=0.2, seed=0, clip=(-3, 3))
    assert image.shape == (1, 8, 8) and np.abs(image).max() <= 3
    scores = model(mg.tensor(image[None])).numpy()[0]
    noise = np.random.default_rng(0).normal(size=(1, 1, 8, 8)).astype(np.float32) * 0.01
    assert scores[2] > model(mg.tensor(noise)).numpy()[0, 2] + 0.5


def test_deep_dream_raises_the_layer_activation():
    model = _scorer()
    image = np.random.default_rng(1).random((1, 12, 12)).astype(np.float32)
    dream = deep_dream(model, image, "1", octaves=2, steps=5, lr=0.05, seed=0)
    assert dream.shape == image.shape

    def energy(x):
        a = capture_activations(model, mg.tensor(x[None]), ["1"])["1"].numpy()
        return (a ** 2).mean()
    assert energy(dream) > energy(image)


def test_gram_matrix_is_channel_correlation():
    f = np.random.default_rng(2).normal(size=(2, 3, 4, 5))
    got = gram_matrix(mg.tensor(f)).numpy()
    flat = f.reshape(2, 3, 20)
    np.testing.assert_allclose(got, np.einsum("nkp,nlp->nkl", flat, flat) / 60)
    with pytest.raises(ValueError, match=r"\(N, K, h, w\)"):
        gram_matrix(mg.zeros(3, 4))


def _adam(lr):
    from optim import Adam
    return lambda params: Adam(params, lr=lr)


def test_texture_synthesis_matches_the_style_grams():
    mg.manual_seed(1)
    features = Sequential(Conv2d(1, 6, 3, padding=1), ReLU(), Conv2d(6, 6, 3, padding=1)).eval()
    stripes = np.tile(np.array([1.0, 1.0, 0.0, 0.0], dtype=np.float32), (1, 12, 3))
    losses = []
    texture = texture_synthesis(features, stripes, ["0", "2"], _adam(0.05), steps=60, seed=0,
                                callback=lambda step, loss: losses.append(loss))
    assert texture.shape == stripes.shape and len(losses) == 60
    assert losses[-1] < 0.05 * losses[0]


def test_style_transfer_lowers_its_objective_from_the_content_image():
    from optim import LBFGS
    mg.manual_seed(2)
    features = Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2),
                          Conv2d(4, 4, 3, padding=1)).eval()
    rng = np.random.default_rng(3)
    content = rng.random((1, 8, 8)).astype(np.float32)
    original = content.copy()
    style = np.tile(np.eye(4, dtype=np.float32), (1, 3, 3))
    losses = []
    out = style_transfer(features, content, style, ["3"], ["1", "3"],
                         lambda params: LBFGS(params, lr=1, max_iter=5), steps=4,
                         style_weight=100.0, tv_weight=0.1,
                         callback=lambda step, loss: losses.append(loss))
    np.testing.assert_array_equal(content, original)     # the input is not overwritten
    assert out.shape == content.shape and not np.allclose(out, content)
    assert losses[-1] < losses[0]
