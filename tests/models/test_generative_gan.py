"""DCGAN generator and discriminator, WGANCritic and gradient_penalty: shapes, gradients, the
penalty against its closed form for a linear critic, its gradient against finite differences
(gradient of a gradient, float64) and a gradgradcheck through a small conv critic."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from models import (DCGAN, DCGANDiscriminator, DCGANGenerator, WGANCritic, gradient_penalty,
                    sample_generator)


@pytest.mark.parametrize("S", [8, 12, 28])
def test_shapes(S):
    G = DCGANGenerator(latent_dim=5, out_channels=2, image_size=S, base_channels=4)
    images = G(mg.randn(3, 5))
    assert images.shape == (3, 2, S, S)
    assert np.abs(images.numpy()).max() <= 1  # tanh
    for D in (DCGANDiscriminator(2, S, 4), WGANCritic(2, S, 4),
              DCGANDiscriminator(2, S, 4, spectral_norm=True)):
        assert D(images).shape == (3,)
    gan = DCGAN(latent_dim=5, base_channels=4)
    assert gan.sample(4).shape == (4, 1, 8, 8) and gan(mg.randn(2, 5)).shape == (2, 1, 8, 8)
    assert sample_generator(G, 2).shape == (2, 2, S, S)


def test_generator_and_discriminator_gradients():
    G, D = DCGANGenerator(4, 1, 8, 4), DCGANDiscriminator(1, 8, 4)
    loss = F.binary_cross_entropy_with_logits(D(G(mg.randn(6, 4))), mg.ones(6))
    loss.backward()
    for model in (G, D):
        for name, p in model.named_parameters():
            assert p.grad is not None and np.abs(p.grad.numpy()).sum() > 0, name


def test_critic_has_no_batch_norm_and_spectral_norm_wraps_every_layer():
    assert not any("BatchNorm" in type(m).__name__ for m in WGANCritic().modules())
    D = DCGANDiscriminator(spectral_norm=True)
    names = [n for n, _ in D.named_parameters()]
    assert sum(n.endswith("weight_orig") for n in names) == 3
    assert sum(n.endswith("weight_u") for n, _ in D.named_buffers()) == 3
    gan = DCGAN(spectral_norm=True)
    assert sum(n.endswith("weight_orig") for n, _ in gan.discriminator.named_parameters()) == 3
    assert not any(n.endswith("weight_orig") for n, _ in gan.generator.named_parameters())


def test_gradient_penalty_of_a_linear_critic_is_known():
    # f(x) = <w, x>: the input gradient is w everywhere, so GP = (||w|| - 1)² for any mix.
    rng = np.random.default_rng(0)
    w = mg.tensor(rng.normal(size=(1, 2, 3, 3)), requires_grad=True)

    def critic(x):
        return (x * w).flatten(1).sum(dim=1)

    real, fake = mg.tensor(rng.normal(size=(4, 2, 3, 3))), mg.tensor(rng.normal(size=(4, 2, 3, 3)))
    gp = gradient_penalty(critic, real, fake)
    norm = np.linalg.norm(w.numpy())
    assert gp.item() == pytest.approx((norm - 1) ** 2, rel=1e-9)
    gp.backward()  # d/dw (||w|| - 1)² = 2 (||w|| - 1) w / ||w||
    np.testing.assert_allclose(w.grad.numpy(), 2 * (norm - 1) * w.numpy() / norm, rtol=1e-6)


def small_critic(weight, bias, lin):
    """A conv-tanh-linear critic with its weights as arguments, smooth everywhere."""
    def critic(x):
        h = F.conv2d(x, weight, bias, padding=1).tanh()
        return (h.flatten(1) @ lin).reshape(-1)
    return critic


def critic_weights(seed):
    rng = np.random.default_rng(seed)
    return [mg.tensor(rng.normal(0, 0.5, size=s), requires_grad=True)
            for s in [(2, 1, 3, 3), (2,), (2 * 4 * 4,)]]


def test_gradient_penalty_gradient_matches_finite_differences():
    # The gradient of GP with respect to the critic's weights differentiates the critic's
    # input gradient: a second-order derivative through the conv kernels.
    rng = np.random.default_rng(1)
    real, fake = (mg.tensor(rng.normal(size=(3, 1, 4, 4))) for _ in range(2))
    alpha = mg.tensor(rng.uniform(size=(3, 1, 1, 1)))
    assert mg.gradcheck(lambda *ws: gradient_penalty(small_critic(*ws), real, fake, alpha),
                        critic_weights(2))


def test_gradgradcheck_through_a_small_critic():
    rng = np.random.default_rng(3)
    x = mg.tensor(rng.normal(size=(2, 1, 4, 4)), requires_grad=True)
    ws = critic_weights(4)
    assert mg.gradgradcheck(lambda x, *ws: small_critic(*ws)(x), [x, *ws])


def test_gradient_penalty_through_the_wgan_critic_trains_it():
    critic = WGANCritic(1, 8, 4)
    real, fake = mg.randn(4, 1, 8, 8), mg.randn(4, 1, 8, 8)
    gradient_penalty(critic, real, fake).backward()
    # both convolutions and the Linear (biases only shift, so the penalty ignores them)
    for weight in (critic.net[0].weight, critic.net[2].weight, critic.net[5].weight):
        assert weight.grad is not None and np.abs(weight.grad.numpy()).sum() > 0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="DCGANGenerator: image_size must be a multiple of 4"):
        DCGANGenerator(image_size=10)
    with pytest.raises(ValueError, match=r"DCGANGenerator: expected noise of shape \(N, 32\)"):
        DCGANGenerator()(mg.randn(2, 8))
    with pytest.raises(ValueError, match=r"WGANCritic: expected images of shape \(N, 1, 8, 8\)"):
        WGANCritic()(mg.randn(2, 1, 9, 9))
    with pytest.raises(ValueError, match="gradient_penalty: real and fake must have the same"):
        gradient_penalty(WGANCritic(), mg.randn(2, 1, 8, 8), mg.randn(3, 1, 8, 8))
