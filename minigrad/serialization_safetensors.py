"""State dicts in the safetensors format, which PyTorch, JAX and others read without pickle.

A safetensors file is a small JSON header (each tensor's name, dtype, shape and byte range)
followed by the raw bytes, so loading one runs no code and maps the arrays straight in. The
names are the state dict's keys, which follow PyTorch's (``layer1.0.conv1.weight``), so a
file written here loads into the matching PyTorch model with ``safetensors.torch.load_file``,
and the reverse.

Notation
--------
state_dict   a dict ``name -> Tensor or array``, as ``Module.state_dict()`` returns
"""
import os
import tempfile

import numpy as np

from .tensor import Tensor

_INSTALL = ("needs the 'safetensors' package, from the 'tools' extra: pip install -e "
            "\".[tools]\" (or pip install safetensors)")


def _numpy_api(op):
    try:
        from safetensors import numpy as st_numpy
    except ImportError as error:
        raise ImportError(f"{op} {_INSTALL}") from error
    return st_numpy


def save_safetensors(state_dict, path, metadata=None):
    """Write ``state_dict`` to ``path`` in the safetensors format, atomically.

    Parameters
    ----------
    state_dict : dict of str to Tensor or numpy.ndarray
        E.g. ``model.state_dict()``. GPU tensors are copied to the host first.
    path : str or os.PathLike
        The file to write. It is written under a temporary name beside it and renamed at the
        end, so a crash never leaves half a file under ``path``.
    metadata : dict of str to str, optional
        Free text stored in the header (e.g. ``{"format": "pt"}``).

    Raises
    ------
    TypeError
        A key that is not a string or a value that is not a Tensor or array.
    ValueError
        A dtype that safetensors cannot store (e.g. object or complex arrays).
    """
    st_numpy = _numpy_api("save_safetensors")
    if not isinstance(state_dict, dict):
        raise TypeError(f"save_safetensors: expected a dict of name -> Tensor, got a "
                        f"{type(state_dict).__name__}")
    arrays = {}
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"save_safetensors: every key must be a str, got {name!r} "
                            f"({type(name).__name__})")
        arrays[name] = _host_array(name, value)
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str)
                                        for k, v in metadata.items()):
        raise TypeError("save_safetensors: metadata must map str to str")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=folder)
    os.close(handle)
    try:
        st_numpy.save_file(arrays, temporary, metadata=metadata)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def load_safetensors(path, device="cpu"):
    """Read a safetensors file into a dict ``name -> Tensor`` on ``device``.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save_safetensors`, by ``safetensors.torch.save_file`` or by
        any other safetensors writer (bfloat16 is not supported: NumPy has no such dtype).
    device : str, default 'cpu'
        Where the Tensors go: 'cpu', 'cuda' or 'cuda:N'.

    Returns
    -------
    dict of str to Tensor
        In the file's order; pass it to ``model.load_state_dict``.
    """
    st_numpy = _numpy_api("load_safetensors")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_safetensors: no file at {path!r}")
    try:
        arrays = st_numpy.load_file(path)
    except Exception as error:  # the package raises its own SafetensorError, or TypeError
        raise ValueError(f"load_safetensors: {path!r} is not a readable safetensors file "
                         f"({type(error).__name__}: {error})") from error
    return {name: Tensor(array, device=device) for name, array in arrays.items()}


def _host_array(name, value):
    """``value`` as a C-contiguous NumPy array on the host, or a clear error."""
    if isinstance(value, Tensor):
        array = value.numpy()
    elif isinstance(value, np.ndarray):
        array = value
    elif hasattr(value, "__cuda_array_interface__") and hasattr(value, "get"):
        array = value.get()  # a CuPy array
    else:
        raise TypeError(f"save_safetensors: {name!r} is a {type(value).__name__}; expected a "
                        "Tensor or a numpy array")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"save_safetensors: {name!r} has dtype {array.dtype}; safetensors "
                         "stores only bool, integer and floating arrays")
    # not np.ascontiguousarray, which turns a 0-d array (num_batches_tracked) into shape (1,)
    return array if array.flags.c_contiguous else array.copy(order="C")
