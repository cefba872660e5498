"""Ready-made networks, built only from ``layers``.

    from models import MLP, LeNet, ResNet, resnet_small

- ``MLP``: fully connected layers with an activation between them.
- ``LeNet``: two convolution–pool stages and three Linear layers, for 8x8 to 28x28 images.
- ``ResNet`` with ``BasicBlock`` or ``Bottleneck``; ``resnet_small`` for tiny images and
  ``resnet18``, ``resnet34``, ``resnet50`` with torchvision's shapes.

- ``ConvAutoencoder`` and ``VAE`` (convolutional; ``gaussian_kl``, ``reconstruction_loss``).
- ``SegNet`` and ``UNet`` for per-pixel labels, upsampling by max-unpooling, interpolation or
  transposed convolution.
- ``DCGAN`` (``DCGANGenerator``, ``DCGANDiscriminator``), ``WGANCritic`` and
  ``gradient_penalty`` for WGAN-GP.
- ``EmbeddingNet``, ``SiameseNet``, ``triplet_loss`` (batch-all, batch-hard, semi-hard or
  random triplets) and ``EmbeddingIndex`` (kNN, recall@k, mAP) in ``models.similarity``;
  ``TSNE`` in ``models.tsne``; the CNN visualisation tools in ``models.vis``.

The classifiers return logits of shape (N, num_classes); images are NCHW.
"""
from models.lenet import LeNet
from models.mlp import MLP
from models.autoencoder import VAE, ConvAutoencoder, gaussian_kl, reconstruction_loss
from models.gan import (DCGAN, DCGANDiscriminator, DCGANGenerator, WGANCritic, gradient_penalty,
                        sample_generator)
from models.segmentation import SegNet, UNet
from models.detection import SingleStageDetector, TwoStageDetector  # noqa: F401
from models.similarity import EmbeddingIndex, EmbeddingNet, SiameseNet, triplet_loss
from models.tsne import TSNE
from models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet_small

__all__ = ["MLP", "LeNet", "ResNet", "BasicBlock", "Bottleneck", "resnet_small", "resnet18",
           "resnet34", "resnet50", "ConvAutoencoder", "VAE", "gaussian_kl",
           "reconstruction_loss", "SegNet", "UNet", "DCGAN", "DCGANGenerator",
           "DCGANDiscriminator", "WGANCritic", "gradient_penalty", "sample_generator",
           "EmbeddingNet", "SiameseNet", "triplet_loss", "EmbeddingIndex", "TSNE"]
