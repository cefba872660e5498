"""Data for minigrad: datasets, the batching ``DataLoader``, and datasets that work offline.

- ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``random_split``: map-style
  datasets, as in PyTorch; ``IterableDataset`` and ``ChainDataset``: datasets defined by
  iteration.
- ``SequentialSampler``, ``RandomSampler``, ``SubsetRandomSampler``, ``WeightedRandomSampler``,
  ``BatchSampler``: the order of the samples and their grouping into batches.
- ``DataLoader``: batches of Tensors, seeded shuffling, worker processes (``num_workers``,
  ``get_worker_info``), optional device, ``batch_size=None``; ``default_collate`` builds a
  batch from samples, ``default_convert`` turns one sample's arrays into Tensors.
- ``load_digits``: the 8x8 handwritten digits shipped with minigrad (1,797 images, CC BY 4.0);
  ``train_test_split`` splits any dataset's positions reproducibly.
- ``load_mnist``, ``load_fashion_mnist``: the 28x28 datasets from their IDX files;
  ``read_idx`` / ``write_idx`` handle the format itself.
- ``make_spirals``, ``make_moons``: seeded 2-d toy problems.
- ``DistributedSampler``: each rank's share of an epoch in data-parallel training.
- ``transforms``: seeded augmentation on NumPy, torchvision's names (``Compose``, ``RandomCrop``,
  ``RandomAffine``, ...), one image or a whole batch at once; ``mixup`` and ``cutmix``.

The loaders return NumPy arrays (images float32 NCHW in [0, 1], labels int64), ready for
``TensorDataset(images, labels)``.

Notation
--------
N       number of samples
B       batch size
"""
from minigrad.data.collate import default_collate, default_convert
from minigrad.data.dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset,
                                   TensorDataset, random_split)
from minigrad.data.digits import load_digits, train_test_split
from minigrad.data.idx import (FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, load_fashion_mnist,
                               load_mnist, read_idx, write_idx)
from minigrad.data.loader import DataLoader
from minigrad.data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                                   SubsetRandomSampler, WeightedRandomSampler)
from minigrad.data.synthetic import make_moons, make_spirals
from minigrad.data.distributed import DistributedSampler
from minigrad.data.worker import WorkerInfo, get_worker_info

__all__ = ["Dataset", "IterableDataset", "ChainDataset", "TensorDataset", "Subset",
           "ConcatDataset", "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DataLoader",
           "default_collate", "default_convert", "get_worker_info", "WorkerInfo", "load_digits",
           "train_test_split", "load_mnist", "load_fashion_mnist", "read_idx", "write_idx",
           "FASHION_MNIST_DIR", "FASHION_MNIST_CLASSES", "make_spirals", "make_moons"]
__all__ += ["DistributedSampler"]
from minigrad.data import transforms  # noqa: E402  (a submodule, as torchvision.transforms)
__all__ += ["transforms"]
