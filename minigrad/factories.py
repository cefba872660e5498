"""Tensor factories: ``tensor``, ``zeros``, ``randn`` and friends, with PyTorch's signatures.

Random factories draw from the global generator of the device's array module, which
``mg.manual_seed`` seeds. Floating factories default to float32.
"""
import numpy as np

from . import backend
from .tensor import Tensor


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    shape = tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    return shape


def _finish(array, requires_grad):
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new leaf tensor from ``data`` (lists, numbers, NumPy/CuPy arrays or a Tensor)."""
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def zeros(*shape, dtype=np.float32, device=None, requires_grad=False):
    xp = backend.module_for(device)
    return _finish(xp.zeros(_shape(shape), dtype=dtype), requires_grad)


def ones(*shape, dtype=np.float32, device=None, requires_grad=False):
    xp = backend.module_for(device)
    return _finish(xp.ones(_shape(shape), dtype=dtype), requires_grad)


def empty(*shape, dtype=np.float32, device=None, requires_grad=False):
    xp = backend.module_for(device)
    return _finish(xp.empty(_shape(shape), dtype=dtype), requires_grad)


def full(shape, fill_value, dtype=np.float32, device=None, requires_grad=False):
    xp = backend.module_for(device)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return _finish(xp.full(shape, fill_value, dtype=dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` to ``end`` (exclusive); int64 for integer arguments."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if integral else np.float32
    xp = backend.module_for(device)
    return _finish(xp.arange(start, end, step, dtype=dtype), requires_grad)


def eye(n, m=None, dtype=np.float32, device=None, requires_grad=False):
    xp = backend.module_for(device)
    return _finish(xp.eye(n, m, dtype=dtype), requires_grad)


def rand(*shape, dtype=np.float32, device=None, requires_grad=False):
    """Uniform on [0, 1)."""
    xp = backend.module_for(device)
    return _finish(xp.random.random_sample(_shape(shape)).astype(dtype), requires_grad)


def randn(*shape, dtype=np.float32, device=None, requires_grad=False):
    """Standard normal."""
    xp = backend.module_for(device)
    return _finish(xp.random.standard_normal(_shape(shape)).astype(dtype), requires_grad)


def randint(low, high=None, size=(), dtype=np.int64, device=None):
    """Integers in [low, high) (or [0, low) when ``high`` is omitted)."""
    if high is None:
        low, high = 0, low
    xp = backend.module_for(device)
    size = (size,) if isinstance(size, int) else tuple(size)
    return _finish(xp.random.randint(low, high, size=size).astype(dtype), False)


def _like(t, dtype, device):
    return (dtype or t.dtype), (device or t.device)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(t, dtype, device)
    return zeros(t.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(t, dtype, device)
    return ones(t.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(t, dtype, device)
    return full(t.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(t, dtype, device)
    return rand(t.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(t, dtype, device)
    return randn(t.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def from_numpy(array):
    """A tensor that shares memory with the NumPy ``array`` (changes show on both sides), with
    its dtype kept, as PyTorch's ``from_numpy``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def randperm(n, dtype=np.int64, device=None):
    """A random permutation of 0, ..., n - 1."""
    xp = backend.module_for(device)
    return _finish(xp.random.permutation(n).astype(dtype), False)


def linspace(start, end, steps, dtype=np.float32, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    xp = backend.module_for(device)
    return _finish(xp.linspace(start, end, steps, dtype=dtype), requires_grad)
