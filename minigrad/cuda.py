"""``mg.cuda`` and ``mg.accelerator``: is a GPU usable, how many, which one. Asking never fails
on a machine without CUDA.

``mg.accelerator`` is PyTorch's device-generic namespace (``torch.accelerator``); here the only
accelerator is CUDA, so it is this module under a second name, plus ``current_accelerator``.
"""
from . import backend


def is_available():
    """True when CuPy imports and sees at least one CUDA device."""
    return backend.cupy() is not None


def device_count():
    cp = backend.cupy()
    return cp.cuda.runtime.getDeviceCount() if cp is not None else 0


def current_device():
    """The index of the CUDA device new GPU arrays go to (0 when CUDA is missing, as a default)."""
    cp = backend.cupy()
    return cp.cuda.runtime.getDevice() if cp is not None else 0


def current_accelerator():
    """``mg.device('cuda', N)`` for the current GPU, or None without one (PyTorch's rule), so
    ``device = mg.accelerator.current_accelerator() or 'cpu'`` picks the best device."""
    return backend.device("cuda", current_device()) if is_available() else None
