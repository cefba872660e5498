"""Array backends: which array module (NumPy or CuPy) holds a tensor, and how to move it.

This is the only module that imports CuPy, and it does so lazily: ``import minigrad`` never
touches CUDA, so it is as fast on a laptop as on a GPU machine. Ops never branch on the
backend; they ask :func:`xp_of` for the module of their inputs and use one code path.
Where NumPy and CuPy differ (a scatter-add, a kernel module), the single branch lives here.

Notation
--------
xp      the array module, ``numpy`` or ``cupy``
device  a :class:`device`, ``'cpu'`` or ``'cuda:N'``; ``'cuda'``, ``('cuda', N)`` and an int N
        are accepted and normalised
"""
import numpy as np

_cupy = None          # the cupy module once imported, False if it cannot be
_kernel_modules = {}  # 'cpu' / 'gpu' -> imported kernel module
_seed = None          # the last manual_seed, applied to CuPy when it is first imported


def cupy():
    """Return the ``cupy`` module, or None when CuPy or a GPU is missing (imported once)."""
    global _cupy
    if _cupy is None:
        try:
            # Without CuPy this import raises: the rest of the block runs on GPU machines only.
            import cupy as cp
            if cp.cuda.runtime.getDeviceCount() < 1:
                raise RuntimeError("no CUDA device")
            _cupy = cp
            if _seed is not None:
                cp.random.seed(_seed)
        except Exception:
            _cupy = False
    return _cupy or None


def xp_of(*arrays):
    """The array module of ``arrays``: ``numpy`` unless one of them is a CuPy array."""
    for a in arrays:
        if type(a) is not np.ndarray and hasattr(a, "__cuda_array_interface__"):
            return cupy()  # CuPy only: a GPU run of the test suite covers this line
    return np


def is_cuda_array(a):
    return type(a) is not np.ndarray and hasattr(a, "__cuda_array_interface__")


class device(str):
    """Where a tensor lives, as an object: PyTorch's ``torch.device``.

    ``device('cpu')``, ``device('cuda')``, ``device('cuda', 1)``, ``device('cuda:1')`` and
    ``device(1)`` (a CUDA ordinal) are accepted wherever a device string is. It *is* the
    normalised string (``'cpu'`` or ``'cuda:N'``), so comparing with strings, formatting and
    hashing behave as the string does; ``type`` and ``index`` give the parts. Unlike PyTorch,
    ``device('cuda')`` resolves its index to 0 at once.

    >>> d = device('cuda', 0)
    >>> d == 'cuda:0', d.type, d.index, device('cpu').index
    (True, 'cuda', 0, None)
    """
    __slots__ = ()

    def __new__(cls, type, index=None):
        if isinstance(type, device) and index is None:
            return type
        if isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type
        spec = str(type)
        if index is not None:
            if ":" in spec or spec == "cpu" and index != 0:
                raise ValueError(f"device: cannot give index {index} with {spec!r}; expected "
                                 f"device('cuda', N) or device('cuda:N')")
            spec = "cpu" if spec == "cpu" else f"{spec}:{int(index)}"
        if spec == "cuda":
            spec = "cuda:0"
        if spec != "cpu" and not (spec.startswith("cuda:") and spec[5:].isdigit()):
            raise ValueError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N'")
        return str.__new__(cls, spec)

    @property
    def type(self):
        return self.partition(":")[0]

    @property
    def index(self):
        return None if self == "cpu" else int(self[5:])

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __reduce__(self):
        return (device, (str(self),))


CPU = device("cpu")


def parse_device(spec):
    """Normalise a device spec (string, :class:`device` or CUDA ordinal) to a :class:`device`.

    >>> str(parse_device('cuda')), str(parse_device(None))
    ('cuda:0', 'cpu')
    """
    if spec is None:
        return CPU
    return device(spec)


def device_of(array):
    """The :class:`device` of a raw array."""
    if type(array) is np.ndarray or not is_cuda_array(array):
        return CPU
    return device("cuda", array.device.id)  # CuPy only, as are the branches marked below


# PyTorch's legacy type names (``x.type()``), by dtype
_TYPE_NAMES = {np.dtype(k): v for k, v in (
    (np.float32, "FloatTensor"), (np.float64, "DoubleTensor"), (np.float16, "HalfTensor"),
    (np.int64, "LongTensor"), (np.int32, "IntTensor"), (np.int16, "ShortTensor"),
    (np.int8, "CharTensor"), (np.uint8, "ByteTensor"), (np.bool_, "BoolTensor"))}


def type_name(dtype, is_cuda):
    """PyTorch's type name of a tensor, e.g. ``'minigrad.cuda.FloatTensor'``."""
    name = _TYPE_NAMES.get(np.dtype(dtype), f"{np.dtype(dtype).name}Tensor")
    return f"minigrad.{'cuda.' if is_cuda else ''}{name}"


def dtype_of_name(name):
    """The dtype of a type name such as ``'torch.LongTensor'`` or ``'minigrad.FloatTensor'``."""
    short = name.rsplit(".", 1)[-1]
    for dtype, known in _TYPE_NAMES.items():
        if known == short:
            return dtype
    raise ValueError(f"type: unknown tensor type {name!r}; expected one of "
                     f"{sorted(_TYPE_NAMES.values())} or a dtype")


def module_for(device):
    """The array module that stores data on ``device``; a clear error when CUDA is missing."""
    device = parse_device(device)
    if device == "cpu":
        return np
    cp = cupy()
    if cp is None:
        raise RuntimeError(f"device '{device}' requested but CUDA is not available "
                           "(CuPy is not installed or no GPU was found)")
    return cp  # CuPy only


def to_device(array, device):
    """Copy ``array`` to ``device`` (no copy when it is already there)."""
    device = parse_device(device)
    if device == "cpu":
        return array.get() if is_cuda_array(array) else np.asarray(array)
    cp = module_for(device)  # CuPy only from here: module_for raised without it
    with cp.cuda.Device(int(device[5:])):
        return cp.asarray(array)


def to_numpy(array):
    """A host NumPy array for any raw array."""
    return array.get() if is_cuda_array(array) else np.asarray(array)


def kernels_for(array):
    """The kernel module for ``array``: ``minigrad.kernels.cpu`` or ``minigrad.kernels.gpu``.

    Both modules offer the same functions with the same signatures (STYLE C5). The GPU module is
    imported on first use only, so CPU-only machines never import numba.cuda.
    """
    key = "gpu" if is_cuda_array(array) else "cpu"
    module = _kernel_modules.get(key)
    if module is None:
        import importlib
        module = importlib.import_module(f"minigrad.kernels.{key}")
        _kernel_modules[key] = module
    return module


def index_add(target, index, values):
    """``target[index] += values`` with repeated indices accumulating (NumPy's ``add.at``).

    Plain ``target[index] += values`` keeps only one write per repeated index; ``np.add.at`` and
    ``cupyx.scatter_add`` accumulate. This is the one place that knows the two spellings.
    """
    if is_cuda_array(target):  # CuPy only
        import cupyx
        cupyx.scatter_add(target, index, values)
    else:
        np.add.at(target, index, values)
    return target


def manual_seed(seed):
    """Seed NumPy's global generator and CuPy's (now if imported, else when it is imported)."""
    global _seed
    _seed = seed
    np.random.seed(seed)
    # Seeding must not import CuPy, which would slow down CPU-only sessions; so this branch
    # runs only once something else has imported it, on a GPU machine.
    if _cupy:
        _cupy.random.seed(seed)
