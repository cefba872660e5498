"""Ready-made networks, built only from ``layers``.

    from models import MLP, LeNet, ResNet, resnet_small

- ``MLP``: fully connected layers with an activation between them.
- ``LeNet``: two convolution–pool stages and three Linear layers, for 8x8 to 28x28 images.
- ``ResNet`` with ``BasicBlock`` or ``Bottleneck``; ``resnet_small`` for tiny images and
  ``resnet18``, ``resnet34``, ``resnet50`` with torchvision's shapes.

Every model returns logits of shape (N, num_classes); images are NCHW.
"""
from models.lenet import LeNet
from models.mlp import MLP
from models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet_small

__all__ = ["MLP", "LeNet", "ResNet", "BasicBlock", "Bottleneck", "resnet_small", "resnet18",
           "resnet34", "resnet50"]
