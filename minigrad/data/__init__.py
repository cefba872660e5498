"""Data for minigrad: datasets, the batching ``DataLoader``, and datasets that work offline.

- ``Dataset``, ``TensorDataset``, ``Subset``: map-style datasets, as in PyTorch.
- ``DataLoader``: batches of Tensors, seeded shuffling, optional device.
- ``load_digits``: the 8x8 handwritten digits shipped with minigrad (1,797 images, CC BY 4.0);
  ``train_test_split`` splits any dataset's positions reproducibly.
- ``load_mnist``, ``load_fashion_mnist``: the 28x28 datasets from their IDX files;
  ``read_idx`` / ``write_idx`` handle the format itself.
- ``make_spirals``, ``make_moons``: seeded 2-d toy problems.

The loaders return NumPy arrays (images float32 NCHW in [0, 1], labels int64), ready for
``TensorDataset(images, labels)``.

Notation
--------
N       number of samples
B       batch size
"""
from minigrad.data.dataset import Dataset, Subset, TensorDataset
from minigrad.data.digits import load_digits, train_test_split
from minigrad.data.idx import (FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, load_fashion_mnist,
                               load_mnist, read_idx, write_idx)
from minigrad.data.loader import DataLoader, default_collate
from minigrad.data.synthetic import make_moons, make_spirals

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "default_collate",
           "load_digits", "train_test_split", "load_mnist", "load_fashion_mnist", "read_idx",
           "write_idx", "FASHION_MNIST_DIR", "FASHION_MNIST_CLASSES", "make_spirals",
           "make_moons"]
