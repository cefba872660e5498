"""Generative adversarial networks: DCGAN and a WGAN-GP critic with its gradient penalty.

A generator G maps noise z ~ N(0, I) to images; a second network judges them against real
ones, and the two are trained against each other.

- DCGAN (Radford et al., 2016): the discriminator D outputs a logit, "real or fake"; D
  minimises the binary cross-entropy of that question, G maximises D's error on its samples.
  Strided convolutions instead of pooling, BatchNorm, ReLU in G and LeakyReLU in D, tanh output.
- WGAN-GP (Gulrajani et al., 2017): a critic f gives a score, not a probability, and
  estimates the Wasserstein distance  E f(real) - E f(fake)  over 1-Lipschitz functions f.
  The Lipschitz bound is encouraged by a penalty on the norm of the critic's input gradient at
  random points between real and fake images,

      GP = E_x̂ (||∇_x̂ f(x̂)||₂ - 1)²,   x̂ = a x_real + (1 - a) x_fake,  a ~ U(0, 1).

  Training the critic on GP differentiates a gradient: ``mg.grad(..., create_graph=True)``
  records the backward pass itself, and the second backward runs through the conv kernels'
  gradient ops. The critic has no BatchNorm, because GP is defined per image.

Spectral normalisation (``layers.utils.spectral_norm``) is the other way to bound a
discriminator's slope; ``DCGANDiscriminator(spectral_norm=True)`` wraps each layer with it.

    Generator, S = image_size, c = base_channels
    z (N, Z) ─ Linear ─ BatchNorm1d ─ ReLU ─ Unflatten      -> (N, 2c, S/4, S/4)
      ─ ConvTranspose2d(2c, c, 4, 2, 1) ─ BatchNorm2d ─ ReLU -> (N, c, S/2, S/2)
      ─ ConvTranspose2d(c, C, 4, 2, 1) ─ Tanh                -> (N, C, S, S) in [-1, 1]
    Discriminator / critic
    x ─ Conv2d(C, c, 4, 2, 1) ─ LeakyReLU(0.2)              -> (N, c, S/2, S/2)
      ─ Conv2d(c, 2c, 4, 2, 1) ─ [BatchNorm2d] ─ LeakyReLU    -> (N, 2c, S/4, S/4)
      ─ Flatten ─ Linear                                     -> (N,) logits or scores

Notation
--------
N       batch size
Z       noise size, ``latent_dim``
C, S    image channels and side (a multiple of 4)
c       ``base_channels``
"""
import minigrad as mg
from minigrad.checks import check_int

from layers import (BatchNorm1d, BatchNorm2d, Conv2d, ConvTranspose2d, Flatten, LeakyReLU,
                    Linear, Module, ReLU, Sequential, Tanh, Unflatten)
from layers.utils import spectral_norm as _spectral_norm


def _check_sizes(owner, channels, image_size, base_channels):
    channels = check_int(owner, "channels", channels, 1)
    image_size = check_int(owner, "image_size", image_size, 4)
    base_channels = check_int(owner, "base_channels", base_channels, 1)
    if image_size % 4:
        raise ValueError(f"{owner}: image_size must be a multiple of 4 (two stride-2 stages), "
                         f"got {image_size}")
    return (channels, image_size, base_channels)


def _check_images(owner, x, C, S):
    if x.ndim != 4 or tuple(x.shape[1:]) != (C, S, S):
        raise ValueError(f"{owner}: expected images of shape (N, {C}, {S}, {S}), "
                         f"got {tuple(x.shape)}")


class DCGANGenerator(Module):
    """Noise of shape (N, Z) to images of shape (N, C, S, S) in [-1, 1].

    Parameters
    ----------
    latent_dim : int, default 32
        Z.
    out_channels : int, default 1
        C.
    image_size : int, default 8
        S, a multiple of 4.
    base_channels : int, default 32
        c.

    Examples
    --------
    >>> import minigrad as mg
    >>> DCGANGenerator(latent_dim=4, image_size=8)(mg.randn(2, 4)).shape
    (2, 1, 8, 8)
    """

    def __init__(self, latent_dim=32, out_channels=1, image_size=8, base_channels=32):
        super().__init__()
        C, S, c = _check_sizes("DCGANGenerator", out_channels, image_size, base_channels)
        self.latent_dim = check_int("DCGANGenerator", "latent_dim", latent_dim, 1)
        s = S // 4
        self.net = Sequential(
            Linear(latent_dim, 2 * c * s * s, bias=False), BatchNorm1d(2 * c * s * s), ReLU(),
            Unflatten(1, (2 * c, s, s)),
            ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, bias=False), BatchNorm2d(c),
            ReLU(),
            ConvTranspose2d(c, C, 4, stride=2, padding=1), Tanh())

    def forward(self, z):
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"DCGANGenerator: expected noise of shape (N, {self.latent_dim}), "
                             f"got {tuple(z.shape)}")
        return self.net(z)


class DCGANDiscriminator(Module):
    """Images of shape (N, C, S, S) to "real" logits of shape (N,).

    Parameters
    ----------
    in_channels : int, default 1
        C.
    image_size : int, default 8
        S, a multiple of 4.
    base_channels : int, default 32
        c.
    batch_norm : bool, default True
        BatchNorm2d after the second convolution (DCGAN's choice; the WGAN-GP critic has none).
    spectral_norm : bool, default False
        Wrap every Conv2d and Linear with ``layers.utils.spectral_norm``.

    Examples
    --------
    >>> import minigrad as mg
    >>> DCGANDiscriminator(image_size=8)(mg.randn(3, 1, 8, 8)).shape
    (3,)
    """

    def __init__(self, in_channels=1, image_size=8, base_channels=32, batch_norm=True,
                 spectral_norm=False):
        super().__init__()
        C, S, c = _check_sizes(type(self).__name__, in_channels, image_size, base_channels)
        self.in_channels, self.image_size = C, S
        wrap = _spectral_norm if spectral_norm else (lambda layer: layer)
        s = S // 4
        middle = [BatchNorm2d(2 * c)] if batch_norm else []
        self.net = Sequential(
            wrap(Conv2d(C, c, 4, stride=2, padding=1)), LeakyReLU(0.2),
            wrap(Conv2d(c, 2 * c, 4, stride=2, padding=1)), *middle, LeakyReLU(0.2),
            Flatten(), wrap(Linear(2 * c * s * s, 1)))

    def forward(self, x):
        _check_images(type(self).__name__, x, self.in_channels, self.image_size)
        return self.net(x).reshape(-1)


class WGANCritic(DCGANDiscriminator):
    """The WGAN-GP critic: the discriminator's layers without BatchNorm; a score per image.

    Parameters
    ----------
    in_channels : int, default 1
    image_size : int, default 8
    base_channels : int, default 32

    Examples
    --------
    >>> import minigrad as mg
    >>> WGANCritic(image_size=8)(mg.randn(3, 1, 8, 8)).shape
    (3,)
    """

    def __init__(self, in_channels=1, image_size=8, base_channels=32):
        super().__init__(in_channels, image_size, base_channels, batch_norm=False)


class DCGAN(Module):
    """A DCGAN generator and discriminator kept together.

    Parameters
    ----------
    latent_dim : int, default 32
    channels : int, default 1
    image_size : int, default 8
    base_channels : int, default 32
    spectral_norm : bool, default False
        Spectral normalisation on the discriminator's layers.

    Attributes
    ----------
    generator : DCGANGenerator
    discriminator : DCGANDiscriminator

    Examples
    --------
    >>> gan = DCGAN(latent_dim=8)
    >>> gan.sample(4).shape
    (4, 1, 8, 8)
    """

    def __init__(self, latent_dim=32, channels=1, image_size=8, base_channels=32,
                 spectral_norm=False):
        super().__init__()
        self.generator = DCGANGenerator(latent_dim, channels, image_size, base_channels)
        self.discriminator = DCGANDiscriminator(channels, image_size, base_channels,
                                                spectral_norm=spectral_norm)

    def sample(self, num_samples):
        """Images of shape (num_samples, C, S, S) in [-1, 1] from fresh noise."""
        return sample_generator(self.generator, num_samples)

    def forward(self, z):
        """The generator's images for noise z of shape (N, Z)."""
        return self.generator(z)


def sample_generator(generator, num_samples):
    """``generator(z)`` for z ~ N(0, I) of shape (num_samples, Z), on the generator's device."""
    num_samples = check_int("sample", "num_samples", num_samples, 1)
    weight = next(iter(generator.parameters()))
    z = mg.randn(num_samples, generator.latent_dim, dtype=weight.dtype, device=weight.device)
    return generator(z)


def gradient_penalty(critic, real, fake, alpha=None):
    """WGAN-GP's penalty E (||∇ critic(x̂)||₂ - 1)² at x̂ between real and fake images.

    The returned scalar is differentiable with respect to the critic's parameters: the input
    gradient is taken with ``create_graph=True``, so ``penalty.backward()`` differentiates
    through it (a gradient of a gradient). Multiply by the weight (10 in the paper) yourself.

    Parameters
    ----------
    critic : Module
        Maps (N, C, H, W) to scores of shape (N,) (or (N, 1)).
    real, fake : Tensor, shape (N, C, H, W)
        ``fake`` is detached here: the penalty trains the critic only.
    alpha : Tensor, shape (N, 1, 1, 1), optional
        The mixing weights a; drawn from U(0, 1) per image when None.

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> import minigrad as mg
    >>> critic = WGANCritic(image_size=8)
    >>> gp = gradient_penalty(critic, mg.randn(4, 1, 8, 8), mg.randn(4, 1, 8, 8))
    >>> gp.shape, gp.requires_grad
    ((), True)
    """
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(f"gradient_penalty: real and fake must have the same shape, got "
                         f"{tuple(real.shape)} and {tuple(fake.shape)}")
    N = real.shape[0]
    if alpha is None:
        alpha = mg.rand(N, *([1] * (real.ndim - 1)), dtype=real.dtype, device=real.device)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).detach().requires_grad_()
    (grad,) = mg.grad(critic(mixed).sum(), mixed, create_graph=True)
    # The tiny constant keeps sqrt's derivative finite where a gradient is exactly zero.
    norms = ((grad * grad).flatten(1).sum(dim=1) + 1e-12).sqrt()
    return ((norms - 1) ** 2).mean()
