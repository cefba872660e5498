"""The generative models' terms in the op registry: the VAE's closed-form Gaussian KL, the
Bernoulli reconstruction loss in nats, and WGAN-GP's gradient penalty (whose gradient is a
second derivative of the critic) on a smooth elementwise critic with a NumPy reference."""
import numpy as np

import minigrad as mg
from models import gaussian_kl, gradient_penalty, reconstruction_loss
from op_specs import spec
from strategies.generative import bernoulli_inputs, gaussian_inputs, penalty_inputs


def _kl_reference(mu, logvar):
    return 0.5 * (mu ** 2 + np.exp(logvar) - 1 - logvar).sum(axis=1)


def _reconstruction_reference(logits, target):
    # -[t log s + (1 - t) log(1 - s)] with s = sigmoid(logits), in a stable form
    per_pixel = np.logaddexp(0, logits) - target * logits
    return per_pixel.reshape(len(logits), -1).sum(axis=1)


def _penalty(weight, real, fake, alpha):
    def critic(x):
        return (x * weight).tanh().flatten(1).sum(dim=1)
    real, fake, alpha = (mg.tensor(a, device=weight.device) for a in (real, fake, alpha))
    return gradient_penalty(critic, real, fake, alpha)


def _penalty_reference(weight, real, fake, alpha):
    mixed = alpha * real + (1 - alpha) * fake
    grad = weight * (1 - np.tanh(mixed * weight) ** 2)
    norms = np.sqrt((grad ** 2).reshape(len(grad), -1).sum(axis=1) + 1e-12)
    return ((norms - 1) ** 2).mean()


spec("gaussian_kl", gaussian_kl, gaussian_inputs(), _kl_reference)
spec("reconstruction_loss",
     lambda logits, target: reconstruction_loss(logits, mg.tensor(target, device=logits.device)),
     bernoulli_inputs(), _reconstruction_reference)
spec("gradient_penalty", _penalty, penalty_inputs(), _penalty_reference)
