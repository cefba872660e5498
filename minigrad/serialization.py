"""Checkpoints: ``save`` a state dict of arrays to an ``.npz`` file and ``load`` it back.

The file is the archive ``numpy.savez`` writes, so ``numpy.load`` reads it too: a zip with one
member ``<key>.npy`` per entry, in the dict's order, each a ``.npy`` array stored bit for bit.
Nothing is pickled, so loading a file never runs code: object arrays are refused on the way
in and on the way out.

Loading trusts nothing in the file: every size a header or the zip directory declares is
checked against the others and against the file's length before any array is allocated.
Those checks live in ``serialization_read``; ``load`` here runs them in order.

Saving is atomic. The archive is written to a temporary file in the target's folder, flushed
and fsync'ed, then renamed over the target with ``os.replace``; the rename is atomic on POSIX
and Windows, so a crash leaves either the old checkpoint or the new one, never half of one.

Notation
--------
state   a mapping from str keys to arrays (a ``Module.state_dict()``, say)
key     an entry's name; nested mappings become dotted keys, ``{'a': {'b': x}}`` -> ``'a.b'``
"""
import json
import os
import secrets
import stat
import zipfile

import numpy as np

from minigrad import backend
from minigrad.serialization_read import (ARRAY_PREFIX, NPY_SUFFIX, TREE_KEY, check_sizes,
                                         decode_layout, read_member)


def _to_host_array(key, value):
    """``value`` as a host NumPy array, or a TypeError naming ``key`` and what is accepted."""
    from minigrad.tensor import Tensor

    if isinstance(value, Tensor):
        array = backend.to_numpy(value.data)
    elif isinstance(value, np.ndarray) or backend.is_cuda_array(value):
        array = backend.to_numpy(value)
    elif isinstance(value, (np.generic, bool, int, float, complex)):
        array = np.asarray(value)
    else:
        raise TypeError(f"save: the value of {key!r} is a {type(value).__name__}; expected a "
                        "Tensor, a NumPy or CuPy array, a number, or a dict of those")
    if array.dtype.hasobject:
        raise TypeError(f"save: the value of {key!r} has dtype {array.dtype}, which needs "
                        "pickle; checkpoints hold numeric, bool and string arrays only")
    return array


def _encodable(key):
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _flatten(state, prefix, out):
    """Fill ``out`` with ``(dotted key, host array)`` pairs from the nested mapping ``state``."""
    for key, value in state.items():
        where = f" inside {prefix[:-1]!r}" if prefix else ""
        if not isinstance(key, str) or not key:
            raise TypeError(f"save: keys must be non-empty strings, got {key!r}{where}")
        # A zip member's name ends at a NUL byte and must be UTF-8, so such keys would not
        # come back as they went in.
        if "\x00" in key or not _encodable(key):
            raise ValueError(f"save: the key {key!r}{where} holds a NUL or a character that "
                             "UTF-8 cannot encode")
        name = prefix + key
        if isinstance(value, dict):
            _flatten(value, name + ".", out)
            continue
        if name in out:
            raise ValueError(f"save: the key {name!r} occurs twice once nested dicts are "
                             "flattened to dotted keys")
        out[name] = _to_host_array(name, value)
    return out


def _write_archive(f, arrays):
    """Write ``arrays`` (key -> host array) to the open binary file ``f`` as an npz archive."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, array in arrays.items():
            # force_zip64: the member's size is unknown until written and may exceed 4 GiB.
            with zf.open(key + NPY_SUFFIX, mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _open_temporary(path):
    """Create a fresh hidden file beside ``path``; return its name and a binary file object."""
    folder, name = os.path.split(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        temporary = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            # Mode 0o666 lets the umask decide the permissions, as for any new file.
            fd = os.open(temporary, flags, 0o666)
        except FileExistsError:
            continue
        return (temporary, os.fdopen(fd, "wb"))
    raise FileExistsError(f"save: could not create a temporary file in {folder!r}")


def _fsync_folder(folder):
    """Make the rename itself durable; folders cannot be opened for this on Windows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _is_plain_state(obj):
    """A state dict proper: str keys, values arrays, numbers or (recursively) such dicts."""
    from minigrad.tensor import Tensor
    for key, value in obj.items():
        if not isinstance(key, str):
            return False
        if isinstance(value, dict):
            if not _is_plain_state(value):
                return False
        elif not isinstance(value, (Tensor, np.ndarray, np.generic, bool, int, float)) \
                and not backend.is_cuda_array(value):
            return False
    return True


def _encode_tree(value, arrays, where="obj"):
    """A JSON-able description of ``value``; arrays are moved to ``arrays`` and referenced by
    their position. Containers and plain values are described, never pickled; the reader's
    ``_decode_tree`` is the inverse."""
    from minigrad.tensor import Tensor
    if isinstance(value, (Tensor, np.ndarray)) or backend.is_cuda_array(value):
        arrays.append(_to_host_array(where, value))
        return {"array": len(arrays) - 1}
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(f"save: a key inside {where} is a {type(k).__name__}; "
                                "checkpoint keys are str or int")
            items.append([k, _encode_tree(v, arrays, f"{where}[{k!r}]")])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode_tree(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    raise TypeError(f"save: {where} is a {type(value).__name__}; a checkpoint holds arrays, "
                    "numbers, strings, None and dicts, lists and tuples of those")


def save(obj, path):
    """Save a state dict of arrays to ``path`` as an ``.npz`` archive, atomically.

    Parameters
    ----------
    obj : dict of str -> Tensor, ndarray or number
        Tensors and CuPy arrays are copied to the host; Python and NumPy numbers are stored as
        0-d arrays. A value that is itself a dict is flattened into dotted keys
        (``{'model': {'w': x}}`` is stored as ``'model.w'``) and ``load`` returns it flat.
        Order is kept.

        A whole training checkpoint may hold more: ``{'model': model.state_dict(), 'optim':
        optimizer.state_dict(), 'epoch': 3}``, where an optimizer's state has int keys, lists,
        tuples, strings and None. Such a dict is stored as its arrays plus a JSON description
        of the containers (the member ``__tree__``), still without pickle, and ``load`` gives
        it back nested, exactly as it was (tuples as tuples, arrays as NumPy arrays).
    path : str or os.PathLike
        The file to write, used exactly as given (no ``.npz`` is appended). Its folder must
        exist. An existing file is replaced only once the new one is complete on disk, and
        keeps its permission bits; a symlink is followed and stays a symlink.

    Raises
    ------
    TypeError
        ``obj`` is not a dict, a key is not a non-empty str, or a value is of another type
        (lists, strings, None, object arrays) that would need pickle.
    ValueError
        Two entries flatten to the same dotted key, a key holds a NUL character (a zip
        member's name ends there) or one that UTF-8 cannot encode, or ``path`` is empty.
    FileNotFoundError
        The folder of ``path`` does not exist.
    IsADirectoryError
        ``path`` is (or ends like) a directory.

    Examples
    --------
    >>> import tempfile, os.path
    >>> path = os.path.join(tempfile.mkdtemp(), 'model.npz')
    >>> save({'weight': np.eye(2, dtype=np.float32), 'step': 3}, path)
    >>> state = load(path)
    >>> list(state), state['weight'].dtype, int(state['step'])
    (['weight', 'step'], dtype('float32'), 3)
    """
    if not isinstance(obj, dict):
        raise TypeError(f"save: expected a dict of str -> array (a state dict), got a "
                        f"{type(obj).__name__}")
    path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise ValueError(f"save: the path is {path!r}; expected the name of a file to write")
    # Every value is checked and brought to the host before the disk is touched. A key named
    # like the layout member would be read back as a layout, so such a dict is stored as one.
    if _is_plain_state(obj) and TREE_KEY not in obj:
        arrays = _flatten(obj, "", {})
    else:
        found = []
        tree = json.dumps(_encode_tree(obj, found))
        arrays = {TREE_KEY: np.frombuffer(tree.encode("utf-8"), dtype=np.uint8)}
        arrays.update((f"{ARRAY_PREFIX}{i}", a) for i, a in enumerate(found))
    if os.path.isdir(path) or path.endswith((os.sep, "/")):
        raise IsADirectoryError(f"save: {path!r} is a directory; expected a file path")
    # Through a symlink to its target, so that the link stays a link to the new checkpoint.
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: the folder {folder!r} of {path!r} does not exist")
    if os.path.isdir(target):
        raise IsADirectoryError(f"save: {path!r} leads to the directory {target!r}; expected "
                                "a file path")
    mode = stat.S_IMODE(os.stat(target).st_mode) if os.path.exists(target) else None
    temporary, f = _open_temporary(target)
    try:
        with f:
            if mode is not None:
                # The replaced file keeps its permission bits, as a file written in place would.
                os.chmod(temporary, mode)
            _write_archive(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except BaseException:
        # Whatever stopped the write (an error, a full disk, Ctrl-C), the target is untouched.
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)


def load(path):
    """Load a checkpoint written by :func:`save` (or by ``numpy.savez``).

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file.

    Returns
    -------
    dict of str -> ndarray
        Host NumPy arrays, in the order they were saved, bit-identical to what was saved;
        keys of nested dicts come back dotted. ``Module.load_state_dict`` accepts this dict
        directly; wrap a value with ``mg.tensor`` to get a Tensor.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Naming ``path``: a file that is not an npz archive (a text file, a pickle), is
        truncated or corrupt, holds an entry that is not a ``.npy`` array or that needs pickle
        (object arrays), declares sizes it cannot hold (a header claiming a huge shape, a
        member claiming more than its compression can give), or has a malformed layout (too
        deep, unknown node types, references to arrays it lacks). Sizes are checked before
        any memory is set aside for the data, so a crafted file cannot exhaust memory.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: no checkpoint file at {path!r}")
    try:
        zf = zipfile.ZipFile(path, mode="r")
    except (zipfile.BadZipFile, EOFError, ValueError) as err:
        raise ValueError(f"load: {path!r} is not an .npz checkpoint: it is not a complete zip "
                         f"archive, so it is truncated or of another format ({err})") from None
    archive_size = os.path.getsize(path)
    state = {}
    with zf:
        infos = zf.infolist()
        for info in infos:
            if not info.filename.endswith(NPY_SUFFIX):
                raise ValueError(f"load: {path!r} is not an .npz checkpoint: it holds "
                                 f"{info.filename!r}, expected only .npy members")
            check_sizes(info, path, archive_size)
        if sum(info.compress_size for info in infos) > archive_size:
            raise ValueError(f"load: {path!r} is corrupt: its members claim more bytes than "
                             f"the file's {archive_size}")
        for info in infos:
            key, array = read_member(zf, info, path)
            if key in state:
                raise ValueError(f"load: {path!r} holds the entry {key!r} twice")
            state[key] = array
    if TREE_KEY in state:
        return decode_layout(state, path)
    return state
