"""ConvAutoencoder and VAE: shapes, gradients, the closed-form KL (against the formula and a
Monte-Carlo estimate), the reconstruction term in nats, the ELBO and beta, and bad input."""
import math

import numpy as np
import pytest

import minigrad as mg
from models import VAE, ConvAutoencoder, gaussian_kl, reconstruction_loss


@pytest.mark.parametrize("C, S, D", [(1, 8, 2), (1, 8, 16), (3, 12, 5)])
def test_shapes(C, S, D):
    x = mg.rand(3, C, S, S)
    ae = ConvAutoencoder(C, S, latent_dim=D, channels=(4, 6))
    assert ae.encode(x).shape == (3, D) and ae(x).shape == (3, C, S, S)
    vae = VAE(C, S, latent_dim=D, channels=(4, 6))
    logits, mu, logvar = vae(x)
    assert logits.shape == (3, C, S, S) and mu.shape == (3, D) and logvar.shape == (3, D)
    assert vae.decode(mg.randn(4, D)).shape == (4, C, S, S)
    samples = vae.sample(5).numpy()
    assert samples.shape == (5, C, S, S) and samples.min() >= 0 and samples.max() <= 1
    assert vae.elbo(x).shape == (3,)


def test_every_parameter_gets_a_gradient():
    x = mg.rand(4, 1, 8, 8)
    for model in (ConvAutoencoder(latent_dim=3), VAE(latent_dim=3)):
        loss = model.loss(x)
        loss = loss[0] if isinstance(loss, tuple) else loss
        loss.backward()
        for name, p in model.named_parameters():
            assert p.grad is not None and np.abs(p.grad.numpy()).sum() > 0, name


def test_vae_loss_gradcheck_float64():
    # Through the encoder, the reparameterised sample, the decoder and both loss terms; the
    # seed fixes eps, so that the loss is a function of x.
    vae = VAE(1, 4, latent_dim=2, channels=(2, 3)).double()
    x = mg.tensor(np.random.default_rng(0).uniform(0.1, 0.9, (2, 1, 4, 4)), requires_grad=True)

    def loss(x):
        mg.manual_seed(3)
        return vae.loss(x)[0]

    assert mg.gradcheck(loss, [x])


def test_autoencoder_gradcheck_float64():
    ae = ConvAutoencoder(1, 4, latent_dim=2, channels=(2, 3)).double()
    x = mg.tensor(np.random.default_rng(1).uniform(0.1, 0.9, (2, 1, 4, 4)), requires_grad=True)
    assert mg.gradcheck(ae, [x])


def test_gaussian_kl_closed_form():
    rng = np.random.default_rng(1)
    mu, logvar = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    var = np.exp(logvar)
    expected = 0.5 * (mu ** 2 + var - 1 - logvar).sum(axis=1)
    got = gaussian_kl(mg.tensor(mu), mg.tensor(logvar)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # One dimension by hand: N(1, e) against N(0, 1) gives (1 + e - 1 - 1) / 2.
    one = gaussian_kl(mg.tensor([[1.0]], dtype=mg.float64), mg.tensor([[1.0]], dtype=mg.float64))
    assert one.item() == pytest.approx((math.e - 1) / 2, rel=1e-12)


def test_gaussian_kl_matches_a_monte_carlo_estimate():
    # KL(q || p) = E_q[log q(z) - log p(z)], averaged over many reparameterised samples.
    rng = np.random.default_rng(2)
    mu, logvar = rng.normal(0, 0.7, size=(1, 3)), rng.normal(0, 0.5, size=(1, 3))
    mg.manual_seed(0)
    z = VAE.reparameterize(mg.tensor(np.repeat(mu, 200_000, 0)),
                           mg.tensor(np.repeat(logvar, 200_000, 0))).numpy()
    var = np.exp(logvar)
    log_q = -0.5 * (np.log(2 * np.pi * var) + (z - mu) ** 2 / var).sum(axis=1)
    log_p = -0.5 * (np.log(2 * np.pi) + z ** 2).sum(axis=1)
    estimate = (log_q - log_p).mean()
    closed = gaussian_kl(mg.tensor(mu), mg.tensor(logvar)).item()
    stderr = (log_q - log_p).std() / np.sqrt(len(z))
    assert abs(estimate - closed) < 4 * stderr + 1e-3


def test_reparameterize_has_the_asked_moments_and_gradients():
    mg.manual_seed(0)
    mu = mg.tensor(np.full((50_000, 2), [1.0, -2.0]), requires_grad=True)
    logvar = mg.tensor(np.full((50_000, 2), [0.0, np.log(4.0)]), requires_grad=True)
    z = VAE.reparameterize(mu, logvar)
    np.testing.assert_allclose(z.numpy().mean(0), [1.0, -2.0], atol=0.04)
    np.testing.assert_allclose(z.numpy().std(0), [1.0, 2.0], rtol=0.02)
    z.sum().backward()
    np.testing.assert_allclose(mu.grad.numpy(), 1.0)
    # dz/dlogvar = eps * exp(logvar / 2) / 2 = (z - mu) / 2
    np.testing.assert_allclose(logvar.grad.numpy(), (z.numpy() - mu.numpy()) / 2, atol=1e-12)


def test_reconstruction_loss_is_the_bernoulli_nll_in_nats():
    rng = np.random.default_rng(3)
    logits, x = rng.normal(size=(2, 1, 4, 4)), rng.uniform(0, 1, (2, 1, 4, 4))
    p = 1 / (1 + np.exp(-logits))
    expected = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(2, -1).sum(1)
    got = reconstruction_loss(mg.tensor(logits), mg.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_elbo_and_beta():
    x = mg.rand(6, 1, 8, 8, dtype=mg.float64)
    vae = VAE(latent_dim=4, beta=3.0).double()
    mg.manual_seed(5)
    loss, recon, kl = vae.loss(x)
    assert loss.item() == pytest.approx(recon.item() + 3.0 * kl.item(), rel=1e-12)
    assert kl.item() >= 0
    mg.manual_seed(5)
    elbo = vae.elbo(x).numpy()
    # the same eps: the ELBO is minus the beta = 1 loss, image by image
    assert elbo.mean() == pytest.approx(-(recon.item() + kl.item()), rel=1e-12)


def test_vae_eval_forward_uses_the_mean():
    vae = VAE(latent_dim=3).eval()
    x = mg.rand(2, 1, 8, 8)
    a, b = vae(x)[0].numpy(), vae(x)[0].numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, vae.decode(vae.encode(x)[0]).numpy(), rtol=1e-6)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="VAE: image_size must be a multiple of 4"):
        VAE(image_size=10)
    with pytest.raises(ValueError, match="ConvAutoencoder: channels takes two sizes"):
        ConvAutoencoder(channels=(4,))
    with pytest.raises(ValueError, match=r"VAE: invalid beta -1.0, expected a value in \[0, inf\]"):
        VAE(beta=-1.0)
    with pytest.raises(ValueError, match=r"VAE: expected images of shape \(N, 1, 8, 8\), "
                                         r"got \(2, 1, 9, 9\)"):
        VAE()(mg.rand(2, 1, 9, 9))
    with pytest.raises(ValueError, match="latent_dim must be >= 1"):
        ConvAutoencoder(latent_dim=0)
