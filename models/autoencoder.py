"""A convolutional autoencoder and a convolutional variational autoencoder (VAE).

An autoencoder squeezes an image through a small code z and learns to rebuild it; what survives
the bottleneck is what the data's variation is made of. Both models here share the shape

    x (N, C, S, S)
    ─ Conv2d(C, C_1, 3, stride 2, pad 1) ─ ReLU            -> (N, C_1, S/2, S/2)
    ─ Conv2d(C_1, C_2, 3, stride 2, pad 1) ─ ReLU          -> (N, C_2, S/4, S/4)
    ─ Flatten ─ Linear                                     -> the code
    ─ Linear ─ ReLU ─ Unflatten                            -> (N, C_2, S/4, S/4)
    ─ ConvTranspose2d(C_2, C_1, 4, stride 2, pad 1) ─ ReLU -> (N, C_1, S/2, S/2)
    ─ ConvTranspose2d(C_1, C, 4, stride 2, pad 1)          -> logits (N, C, S, S)

and read pixel values in [0, 1] as Bernoulli probabilities ``sigmoid(logits)``, so the
reconstruction error is the binary cross-entropy summed over the pixels: -log p(x | z) in nats.

The VAE's encoder gives a Gaussian q(z | x) = N(mu, diag(exp(logvar))) instead of one code.
Training maximises the evidence lower bound

    ELBO(x) = E_q[log p(x | z)] - KL(q(z | x) || N(0, I))  <=  log p(x),

estimating the expectation with one sample z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) (the
reparameterisation trick: the randomness sits in eps, so gradients reach mu and logvar), and
taking the KL in closed form. A weight ``beta`` on the KL trades reconstruction for a smoother,
more factorised code (beta-VAE); the ELBO itself is always reported with beta = 1.

Notation
--------
N           batch size
C, S        image channels and side, ``in_channels`` and ``image_size`` (a multiple of 4)
C_1, C_2    channels of the two convolutions, ``channels``
D           code size, ``latent_dim`` (2 for a latent space one can plot)
"""
import minigrad as mg
import minigrad.functional as F
from minigrad.checks import check_int, check_number

from layers import (Conv2d, ConvTranspose2d, Flatten, Linear, Module, ReLU, Sequential,
                    Unflatten)


def _check_sizes(owner, in_channels, image_size, latent_dim, channels):
    in_channels = check_int(owner, "in_channels", in_channels, 1)
    image_size = check_int(owner, "image_size", image_size, 4)
    latent_dim = check_int(owner, "latent_dim", latent_dim, 1)
    if image_size % 4:
        raise ValueError(f"{owner}: image_size must be a multiple of 4 (two stride-2 stages), "
                         f"got {image_size}")
    if len(channels) != 2:
        raise ValueError(f"{owner}: channels takes two sizes, got {channels!r}")
    C1, C2 = (check_int(owner, "channels", c, 1) for c in channels)
    return (in_channels, image_size, latent_dim, C1, C2)


def _encoder(C, C1, C2, side, out_features):
    """(N, C, S, S) -> (N, out_features)."""
    return Sequential(
        Conv2d(C, C1, 3, stride=2, padding=1), ReLU(),
        Conv2d(C1, C2, 3, stride=2, padding=1), ReLU(),
        Flatten(), Linear(C2 * side * side, out_features))


def _decoder(C, C1, C2, side, D):
    """(N, D) -> logits (N, C, S, S); a 4x4 kernel with stride 2 and padding 1 doubles a side."""
    return Sequential(
        Linear(D, C2 * side * side), ReLU(), Unflatten(1, (C2, side, side)),
        ConvTranspose2d(C2, C1, 4, stride=2, padding=1), ReLU(),
        ConvTranspose2d(C1, C, 4, stride=2, padding=1))


def _check_images(owner, x, C, S):
    if x.ndim != 4 or tuple(x.shape[1:]) != (C, S, S):
        raise ValueError(f"{owner}: expected images of shape (N, {C}, {S}, {S}), "
                         f"got {tuple(x.shape)}")


def reconstruction_loss(logits, x):
    """-log p(x | z) per image in nats: binary cross-entropy summed over the pixels.

    Parameters
    ----------
    logits : Tensor, shape (N, C, S, S)
        The decoder's output; ``sigmoid(logits)`` are the Bernoulli means.
    x : Tensor, shape (N, C, S, S)
        Targets in [0, 1].

    Returns
    -------
    Tensor, shape (N,)
    """
    per_pixel = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return per_pixel.flatten(1).sum(dim=1)


def gaussian_kl(mu, logvar):
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per row, in closed form, in nats.

    For one dimension, KL = (mu² + sigma² - 1 - log sigma²) / 2; the dimensions add.

    Parameters
    ----------
    mu, logvar : Tensor, shape (N, D)

    Returns
    -------
    Tensor, shape (N,)

    Examples
    --------
    >>> import minigrad as mg
    >>> gaussian_kl(mg.zeros(2, 3), mg.zeros(2, 3)).tolist()
    [0.0, 0.0]
    """
    return 0.5 * (mu * mu + logvar.exp() - 1.0 - logvar).sum(dim=1)


class ConvAutoencoder(Module):
    """A deterministic convolutional autoencoder (see the module docstring for the layers).

    Parameters
    ----------
    in_channels : int, default 1
        C.
    image_size : int, default 8
        S, a multiple of 4.
    latent_dim : int, default 16
        D, the size of the code.
    channels : (int, int), default (16, 32)
        C_1, C_2.

    Examples
    --------
    >>> import minigrad as mg
    >>> ae = ConvAutoencoder(image_size=8, latent_dim=4)
    >>> ae.encode(mg.rand(2, 1, 8, 8)).shape, ae(mg.rand(2, 1, 8, 8)).shape
    ((2, 4), (2, 1, 8, 8))
    """

    def __init__(self, in_channels=1, image_size=8, latent_dim=16, channels=(16, 32)):
        super().__init__()
        C, S, D, C1, C2 = _check_sizes("ConvAutoencoder", in_channels, image_size, latent_dim,
                                       channels)
        self.in_channels, self.image_size, self.latent_dim = C, S, D
        self.encoder = _encoder(C, C1, C2, S // 4, D)
        self.decoder = _decoder(C, C1, C2, S // 4, D)

    def encode(self, x):
        """Codes of shape (N, D) for images x of shape (N, C, S, S)."""
        _check_images("ConvAutoencoder", x, self.in_channels, self.image_size)
        return self.encoder(x)

    def decode(self, z):
        """Reconstruction logits of shape (N, C, S, S) for codes z of shape (N, D)."""
        return self.decoder(z)

    def forward(self, x):
        """Reconstruction logits of shape (N, C, S, S); ``sigmoid`` of them is the image."""
        return self.decode(self.encode(x))

    def loss(self, x):
        """Mean reconstruction error per image in nats (a scalar Tensor)."""
        return reconstruction_loss(self(x), x).mean()


class VAE(Module):
    """A convolutional variational autoencoder with a Gaussian code and a ``beta`` on the KL.

    Parameters
    ----------
    in_channels : int, default 1
        C.
    image_size : int, default 8
        S, a multiple of 4.
    latent_dim : int, default 8
        D; 2 gives a latent space to scatter-plot and a decoded manifold grid.
    channels : (int, int), default (16, 32)
        C_1, C_2.
    beta : float, default 1.0
        Weight of the KL term in :meth:`loss` (1 is the plain VAE).

    Examples
    --------
    >>> import minigrad as mg
    >>> vae = VAE(image_size=8, latent_dim=2)
    >>> logits, mu, logvar = vae(mg.rand(3, 1, 8, 8))
    >>> logits.shape, mu.shape, logvar.shape
    ((3, 1, 8, 8), (3, 2), (3, 2))
    >>> vae.sample(5).shape
    (5, 1, 8, 8)
    """

    def __init__(self, in_channels=1, image_size=8, latent_dim=8, channels=(16, 32), beta=1.0):
        super().__init__()
        C, S, D, C1, C2 = _check_sizes("VAE", in_channels, image_size, latent_dim, channels)
        self.beta = check_number("VAE", "beta", beta, low=0)
        self.in_channels, self.image_size, self.latent_dim = C, S, D
        # One Linear gives both halves of q's parameters: [mu, logvar] side by side.
        self.encoder = _encoder(C, C1, C2, S // 4, 2 * D)
        self.decoder = _decoder(C, C1, C2, S // 4, D)

    def encode(self, x):
        """q(z | x): ``(mu, logvar)``, each of shape (N, D), for images of shape (N, C, S, S)."""
        _check_images("VAE", x, self.in_channels, self.image_size)
        h = self.encoder(x)
        D = self.latent_dim
        return (h[:, :D], h[:, D:])

    @staticmethod
    def reparameterize(mu, logvar):
        """A sample z = mu + exp(logvar / 2) * eps of shape (N, D), eps ~ N(0, I).

        Written as a deterministic function of (mu, logvar) plus independent noise, so that
        backpropagation reaches the encoder through the sample.
        """
        eps = mg.randn(*mu.shape, dtype=mu.dtype, device=mu.device)
        return mu + (0.5 * logvar).exp() * eps

    def decode(self, z):
        """Logits of p(x | z), shape (N, C, S, S), for codes of shape (N, D)."""
        return self.decoder(z)

    def forward(self, x):
        """``(logits, mu, logvar)``: q(z | x) and the reconstruction of one of its samples in
        training mode, of its mean mu in eval mode (a deterministic reconstruction)."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return (self.decode(z), mu, logvar)

    def loss(self, x):
        """The training objective, per image averaged over the batch, in nats.

        Returns
        -------
        loss : Tensor, scalar
            ``reconstruction + beta * kl``, the negative (beta-weighted) ELBO.
        reconstruction, kl : Tensor, scalar
            The two terms, batch means of ``-log p(x | z)`` and ``KL(q(z | x) || p(z))``.
        """
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        reconstruction = reconstruction_loss(self.decode(z), x).mean()
        kl = gaussian_kl(mu, logvar).mean()
        return (reconstruction + self.beta * kl, reconstruction, kl)

    def elbo(self, x):
        """The evidence lower bound per image in nats (beta = 1), shape (N,), one z each."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return -(reconstruction_loss(self.decode(z), x) + gaussian_kl(mu, logvar))

    def sample(self, num_samples):
        """Images of shape (num_samples, C, S, S) in [0, 1] decoded from z ~ N(0, I)."""
        num_samples = check_int("VAE.sample", "num_samples", num_samples, 1)
        weight = next(iter(self.parameters()))
        z = mg.randn(num_samples, self.latent_dim, dtype=weight.dtype, device=weight.device)
        return self.decode(z).sigmoid()
