"""MNIST and Fashion-MNIST from their IDX files, and a reader/writer for the IDX format.

IDX is the plain binary format that MNIST is distributed in. A file is a header, then the
array's elements in row-major order, all big-endian::

    bytes 0-1    0x00 0x00
    byte  2      element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                 0x0D float32, 0x0E float64
    byte  3      D, the number of dimensions
    bytes 4..    D sizes, each a big-endian uint32
    then         prod(sizes) elements

The four files of a dataset are ``train-images-idx3-ubyte`` (uint8, N x 28 x 28),
``train-labels-idx1-ubyte`` (uint8, N) and the same with ``t10k`` for the test part, each
possibly gzipped (``.gz``, recognised by its content, not only its name).

Notation
--------
N       number of images: 60,000 for train, 10,000 for t10k
H, W    image height and width, 28 and 28
D       number of dimensions in an IDX header
"""
import gzip
import math
import os
import zlib

import numpy as np

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
"""Where Debian's ``dataset-fashion-mnist`` package installs the four gzipped IDX files."""

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
"""Names of the Fashion-MNIST labels 0..9."""

_IDX_DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_IDX_CODES = {dtype.newbyteorder("="): code for code, dtype in _IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_PIXEL_MAX = 255
_CHUNK = 1 << 20  # bytes read at a time, so memory follows the data, not the header's claim


def _read_up_to(f, count, path):
    """At most ``count`` bytes of ``f``, fewer only at its end, in bounded chunks.

    One ``f.read(count)`` would set aside ``count`` bytes at once, and ``count`` comes from a
    header that may lie; chunks grow with the data actually there.
    """
    chunks, left = [], count
    try:
        while left > 0:
            chunk = f.read(min(left, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except (EOFError, OSError, zlib.error) as err:
        raise ValueError(f"IDX file {path!r} is a truncated or corrupt gzip file ({err})") from None
    return b"".join(chunks)


def read_idx(path):
    """Read an IDX file, plain or gzipped, into a NumPy array.

    The header is read first, and then exactly the data it declares: a gzip that holds more
    is refused as soon as one byte past the declared size comes out, without decompressing
    the rest, so a small crafted file cannot expand into memory.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    ndarray, shape given by the header
        In native byte order, writable, with the dtype the header names.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        A header that is not IDX, or a data part shorter or longer than the header says.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file {path!r} does not exist")
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        f = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        start = _read_up_to(f, 4, path)
        if len(start) < 4 or start[0] != 0 or start[1] != 0:
            raise ValueError(f"IDX file {path!r} does not start with the IDX magic number "
                             f"0x0000: found {start.hex() or 'an empty file'}")
        code, D = start[2], start[3]
        if code not in _IDX_DTYPES:
            raise ValueError(f"IDX file {path!r} names the unknown element type 0x{code:02X}; "
                             f"expected one of {', '.join(f'0x{c:02X}' for c in _IDX_DTYPES)}")
        header_size = 4 + 4 * D
        dims = _read_up_to(f, 4 * D, path)
        if len(dims) < 4 * D:
            raise ValueError(f"IDX file {path!r} is truncated inside its header: {D} "
                             f"dimensions need {header_size} bytes, the file has "
                             f"{4 + len(dims)}")
        sizes = tuple(int(n) for n in np.frombuffer(dims, dtype=">u4"))
        dtype = _IDX_DTYPES[code]
        expected = math.prod(sizes) * dtype.itemsize
        content = _read_up_to(f, expected, path)
        extra = _read_up_to(f, 1, path)
    if len(content) != expected or extra:
        problem = "truncated" if len(content) < expected else "longer than its header says"
        found = f"{len(content)}" if not extra else f"more than {expected}"
        raise ValueError(f"IDX file {path!r} is {problem}: shape {sizes} of {dtype.name} needs "
                         f"{expected} data bytes, found {found}")
    array = np.frombuffer(content, dtype=dtype).reshape(sizes)
    # astype copies into native byte order, and the copy is writable unlike the bytes' view.
    return array.astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Write ``array`` as an IDX file, gzipped when ``path`` ends with ``.gz``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or overwrite.
    array : ndarray, shape (d_1, ..., d_D) with 1 <= D <= 255
        Of dtype uint8, int8, int16, int32, float32 or float64.
    """
    path = os.fspath(path)
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"write_idx: IDX cannot hold dtype {array.dtype}; expected uint8, "
                        "int8, int16, int32, float32 or float64")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx: IDX holds 1 to 255 dimensions, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    content = header + np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes()
    if path.endswith(".gz"):
        content = gzip.compress(content, mtime=0)
    with open(path, "wb") as f:
        f.write(content)


def _find(directory, stem, dataset):
    """The path of ``stem`` in ``directory``, gzipped or not, under either common spelling."""
    # The original archives unpack to 'train-images-idx3-ubyte'; some mirrors write
    # 'train-images.idx3-ubyte'.
    dotted = stem.replace("-idx", ".idx")
    candidates = (stem, stem + ".gz", dotted, dotted + ".gz")
    for name in candidates:
        full = os.path.join(directory, name)
        if os.path.isfile(full):
            return full
    raise FileNotFoundError(f"{dataset}: none of {', '.join(candidates)} found in "
                            f"{directory!r}; expected the IDX files train-images-idx3-ubyte, "
                            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
                            "t10k-labels-idx1-ubyte (each possibly .gz)")


def _load_idx_images(path, train, dataset):
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{dataset}: {path!r} is not a directory; expected the folder "
                                "that holds train-images-idx3-ubyte[.gz] and the other IDX files")
    prefix = "train" if train else "t10k"
    images_path = _find(path, f"{prefix}-images-idx3-ubyte", dataset)
    labels_path = _find(path, f"{prefix}-labels-idx1-ubyte", dataset)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"{dataset}: {images_path!r} holds {images.dtype} of shape "
                         f"{images.shape}; expected uint8 images of shape (N, H, W)")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{dataset}: {labels_path!r} holds {labels.dtype} of shape "
                         f"{labels.shape}; expected uint8 labels of shape (N,)")
    if len(images) != len(labels):
        raise ValueError(f"{dataset}: {images_path!r} has {len(images)} images but "
                         f"{labels_path!r} has {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise ValueError(f"{dataset}: {labels_path!r} holds label {labels.max()}; "
                         "expected classes 0..9")
    N, H, W = images.shape
    images = images.reshape(N, 1, H, W).astype(np.float32)
    images /= _PIXEL_MAX
    return (images, labels.astype(np.int64))


def load_mnist(path, train=True):
    """Load MNIST (or any dataset in its four-file IDX layout) from a folder.

    Parameters
    ----------
    path : str or os.PathLike
        Folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each plain or ``.gz``
        (``train-images.idx3-ubyte`` spellings are found too).
    train : bool, default True
        The training part (60,000 images) or the test part (10,000).

    Returns
    -------
    images : ndarray of float32, shape (N, 1, H, W)
        Pixels scaled from 0..255 to [0, 1]; H = W = 28 for MNIST.
    labels : ndarray of int64, shape (N,)
        Classes 0..9.

    Raises
    ------
    FileNotFoundError
        The folder or one of its two files is missing (the message lists the names sought).
    ValueError
        A file that is not IDX, is truncated, or does not hold uint8 images and labels of
        matching length.
    """
    return _load_idx_images(path, train, "load_mnist")


def load_fashion_mnist(path=None, train=True):
    """Load Fashion-MNIST (Zalando's 28x28 clothing images) from its IDX files.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Folder of the four IDX files, as in :func:`load_mnist`. Defaults to
        ``FASHION_MNIST_DIR``, ``/usr/share/datasets/fashion-mnist``, where Debian's
        package installs them: ``apt-get install dataset-fashion-mnist``.
    train : bool, default True
        The training part (60,000 images) or the test part (10,000).

    Returns
    -------
    images : ndarray of float32, shape (N, 1, 28, 28)
        Pixels scaled to [0, 1].
    labels : ndarray of int64, shape (N,)
        Classes 0..9, named by ``FASHION_MNIST_CLASSES``.
    """
    if path is None:
        if not os.path.isdir(FASHION_MNIST_DIR):
            raise FileNotFoundError(f"load_fashion_mnist: the default folder "
                                    f"{FASHION_MNIST_DIR!r} does not exist; install it with "
                                    "'apt-get install dataset-fashion-mnist' or pass the folder "
                                    "holding train-images-idx3-ubyte[.gz] and the other IDX files")
        path = FASHION_MNIST_DIR
    return _load_idx_images(path, train, "load_fashion_mnist")
