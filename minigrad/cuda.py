"""``mg.cuda``: is a GPU usable, and how many. Asking never fails on a machine without CUDA."""
from . import backend


def is_available():
    """True when CuPy imports and sees at least one CUDA device."""
    return backend.cupy() is not None


def device_count():
    cp = backend.cupy()
    return cp.cuda.runtime.getDeviceCount() if cp is not None else 0
