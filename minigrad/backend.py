"""Array backends: which array module (NumPy or CuPy) holds a tensor, and how to move it.

This is the only module that imports CuPy, and it does so lazily: ``import minigrad`` never
touches CUDA, so it is as fast on a laptop as on a GPU machine. Ops never branch on the
backend; they ask :func:`xp_of` for the module of their inputs and use one code path.
Where NumPy and CuPy differ (a scatter-add, a kernel module), the single branch lives here.

Notation
--------
xp      the array module, ``numpy`` or ``cupy``
device  ``'cpu'``, ``'cuda'`` or ``'cuda:N'``
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
            return cupy()
    return np


def is_cuda_array(a):
    return type(a) is not np.ndarray and hasattr(a, "__cuda_array_interface__")


def parse_device(device):
    """Normalise a device spec to ``'cpu'`` or ``'cuda:N'``.

    >>> parse_device('cuda'), parse_device('cpu')
    ('cuda:0', 'cpu')
    """
    if device is None:
        return "cpu"
    device = str(device)
    if device == "cpu":
        return "cpu"
    if device == "cuda":
        return "cuda:0"
    if device.startswith("cuda:") and device[5:].isdigit():
        return device
    raise ValueError(f"unknown device {device!r}: expected 'cpu', 'cuda' or 'cuda:N'")


def device_of(array):
    """The device string of a raw array."""
    if type(array) is np.ndarray or not is_cuda_array(array):
        return "cpu"
    return f"cuda:{array.device.id}"


def module_for(device):
    """The array module that stores data on ``device``; a clear error when CUDA is missing."""
    device = parse_device(device)
    if device == "cpu":
        return np
    cp = cupy()
    if cp is None:
        raise RuntimeError(f"device {device!r} requested but CUDA is not available "
                           "(CuPy is not installed or no GPU was found)")
    return cp


def to_device(array, device):
    """Copy ``array`` to ``device`` (no copy when it is already there)."""
    device = parse_device(device)
    if device == "cpu":
        return array.get() if is_cuda_array(array) else np.asarray(array)
    cp = module_for(device)
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
    if is_cuda_array(target):
        import cupyx
        cupyx.scatter_add(target, index, values)
    else:
        np.add.at(target, index, values)
    return target


def index_max(target, index, values):
    """``target[index] = max(target[index], values)`` with repeated indices all taking part."""
    if is_cuda_array(target):
        import cupyx
        cupyx.scatter_max(target, index, values)
    else:
        np.maximum.at(target, index, values)
    return target


def manual_seed(seed):
    """Seed NumPy's global generator and CuPy's (now if imported, else when it is imported)."""
    global _seed
    _seed = seed
    np.random.seed(seed)
    if _cupy:  # seeding must not import CuPy: that would slow down CPU-only sessions
        _cupy.random.seed(seed)
