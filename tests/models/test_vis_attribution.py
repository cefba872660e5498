"""Attribution maps: occlusion finds a planted feature, saliency is the finite-difference
sensitivity, Integrated Gradients is complete, Grad-CAM is its formula."""
import numpy as np
import pytest

import minigrad as mg
from layers import AdaptiveAvgPool2d, Conv2d, Flatten, Linear, ReLU, Sequential
from models.vis import (capture_activations, grad_cam, integrated_gradients, occluder_masks,
                        occlusion, saliency, smoothgrad)


def _cnn(seed=0):
    mg.manual_seed(seed)
    return Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), Conv2d(4, 4, 3, padding=1), ReLU(),
                      AdaptiveAvgPool2d(1), Flatten(), Linear(4, 3)).double().eval()


def _planted_detector():
    """Class 1 scores the presence of a bright 3x3 blob: a 3x3 box filter, ReLU after a
    threshold, summed; class 0 is constant."""
    conv = Conv2d(1, 1, 3, padding=1)
    conv.weight.data[...] = 1.0
    conv.bias.data[...] = -4.0       # only a nearly full 3x3 bright window passes
    head = Linear(1, 2)
    head.weight.data[...] = np.array([[0.0], [100.0]])
    head.bias.data[...] = 0.0
    return Sequential(conv, ReLU(), AdaptiveAvgPool2d(1), Flatten(), head).eval()


@pytest.mark.parametrize("where", [(2, 3), (9, 10), (12, 4)])
def test_occlusion_moves_the_score_where_the_feature_was_planted(where):
    image = np.random.default_rng(0).random((1, 1, 16, 16)).astype(np.float32) * 0.2
    y, x = where
    image[0, 0, y:y + 3, x:x + 3] = 1.0
    drop = occlusion(_planted_detector(), mg.tensor(image), target=1, window=3,
                     batch_size=50).numpy()[0]
    peak = np.unravel_index(drop.argmax(), drop.shape)
    assert y <= peak[0] < y + 3 and x <= peak[1] < x + 3
    assert drop.max() > 0
    far = np.ones_like(drop, dtype=bool)
    far[max(0, y - 3):y + 6, max(0, x - 3):x + 6] = False
    np.testing.assert_allclose(drop[far], 0, atol=1e-5)   # covering elsewhere changes nothing


def test_occlusion_batches_equal_one_forward_per_position():
    model = _cnn()
    x = mg.tensor(np.random.default_rng(1).normal(size=(2, 1, 6, 6)))
    got = occlusion(model, x, [0, 2], window=2, stride=2, fill=0.5, batch_size=3).numpy()
    masks = occluder_masks(6, 6, 2, 2)
    for n, target in enumerate([0, 2]):
        base = model(x[n:n + 1]).numpy()[0, target]
        expected = np.zeros((6, 6))
        for mask in masks:
            covered = np.where(mask, 0.5, x.numpy()[n, 0])[None, None]
            expected += mask * (base - model(mg.tensor(covered)).numpy()[0, target])
        np.testing.assert_allclose(got[n], expected / masks.sum(0), rtol=1e-10)


def test_occlusion_rejects_a_window_larger_than_the_image():
    with pytest.raises(ValueError, match="window 9 is larger than the image"):
        occlusion(_cnn(), mg.zeros(1, 1, 6, 6, dtype=mg.float64), 0, window=9)


def test_saliency_equals_the_finite_difference_sensitivity():
    model = _cnn(2)
    x = np.random.default_rng(2).normal(size=(2, 1, 5, 5))
    grad = saliency(model, mg.tensor(x), [1, 2]).numpy()
    eps = 1e-6
    for n, target in enumerate([1, 2]):
        for index in np.ndindex(1, 5, 5):
            up, down = x[n:n + 1].copy(), x[n:n + 1].copy()
            up[(0, *index)] += eps
            down[(0, *index)] -= eps
            numeric = (model(mg.tensor(up)).numpy()[0, target]
                       - model(mg.tensor(down)).numpy()[0, target]) / (2 * eps)
            assert grad[(n, *index)] == pytest.approx(numeric, abs=1e-7)


def test_smoothgrad_with_no_noise_is_the_saliency_and_averages_noisy_gradients():
    model = _cnn(3)
    x = mg.tensor(np.random.default_rng(3).normal(size=(1, 1, 5, 5)))
    np.testing.assert_allclose(smoothgrad(model, x, 0, n_samples=3, noise_level=0).numpy(),
                               saliency(model, x, 0).numpy())
    rng = np.random.default_rng(7)
    spread = x.numpy().max() - x.numpy().min()
    expected = np.mean([saliency(model, mg.tensor(x.numpy() + rng.normal(size=(1, 1, 5, 5))
                                                  * 0.2 * spread), 0).numpy()
                        for _ in range(4)], axis=0)
    np.testing.assert_allclose(smoothgrad(model, x, 0, n_samples=4, noise_level=0.2,
                                          seed=7).numpy(), expected, rtol=1e-10)


def test_integrated_gradients_are_complete():
    model = _cnn(4)
    x = mg.tensor(np.random.default_rng(4).normal(size=(2, 1, 5, 5)))
    attributions = integrated_gradients(model, x, [0, 1], steps=200).numpy()
    scores = model(x).numpy()[[0, 1], [0, 1]]
    baseline_scores = model(mg.zeros_like(x)).numpy()[[0, 1], [0, 1]]
    np.testing.assert_allclose(attributions.sum(axis=(1, 2, 3)), scores - baseline_scores,
                               rtol=1e-2, atol=1e-4)


def test_integrated_gradients_of_a_linear_model_are_exact_in_one_step():
    model = Sequential(Flatten(), Linear(4, 2)).double()
    x = mg.tensor(np.random.default_rng(5).normal(size=(1, 1, 2, 2)))
    weight = model[1].weight.numpy()[1].reshape(1, 1, 2, 2)
    np.testing.assert_allclose(integrated_gradients(model, x, 1, steps=1).numpy(),
                               weight * x.numpy())


def test_grad_cam_is_its_formula():
    model = _cnn(5)
    x = mg.tensor(np.random.default_rng(6).normal(size=(2, 1, 6, 6)))
    cam = grad_cam(model, x, 2, "3").numpy()
    xr = x.detach().requires_grad_()
    A = capture_activations(model, xr, ["3"], stop=False)["3"]
    # the model after layer 3 is mean-pool then Linear: dScore/dA_k = w_2k / (h w)
    w = model[6].weight.numpy()[2]
    alpha = w / 36
    raw = np.maximum((alpha[None, :, None, None] * A.numpy()).sum(1), 0)
    expected = raw / np.where(raw.max(axis=(1, 2), keepdims=True) > 0,
                              raw.max(axis=(1, 2), keepdims=True), 1)
    np.testing.assert_allclose(cam, expected, rtol=1e-8, atol=1e-12)
    assert cam.min() >= 0 and cam.max() <= 1


def test_grad_cam_needs_a_spatial_layer():
    with pytest.raises(ValueError, match=r"expected \(N, K, h, w\)"):
        grad_cam(_cnn(), mg.zeros(1, 1, 4, 4, dtype=mg.float64), 0, "6")
    with pytest.raises(ValueError, match="no layer named 'head'"):
        grad_cam(_cnn(), mg.zeros(1, 1, 4, 4, dtype=mg.float64), 0, "head")


def test_integrated_gradients_from_the_input_itself_are_zero():
    model = _cnn(6)
    x = mg.tensor(np.random.default_rng(8).normal(size=(1, 1, 4, 4)))
    np.testing.assert_array_equal(integrated_gradients(model, x, 0, baseline=x, steps=3).numpy(),
                                  0)
    with pytest.raises(ValueError, match="baseline has shape"):
        integrated_gradients(model, x, 0, baseline=mg.zeros(1, 1, 3, 3, dtype=mg.float64))
