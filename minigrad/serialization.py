"""Checkpoints: ``save`` an object of arrays, Tensors and containers to an ``.npz`` file and
``load`` it back exactly as it was.

The file is the archive ``numpy.savez`` writes, so ``numpy.load`` reads it too: a zip with one
member ``<key>.npy`` per array, each stored bit for bit. A dict of NumPy arrays and Tensors that
need no grad, under plain string keys (a state dict), is stored just so, one member per key,
plus the member ``__tensors__`` (a JSON list of the keys that hold Tensors) when it has any.
Anything else (Tensors, numbers, strings, None, nested dicts, lists, tuples) is stored as its
arrays, numbered in the order they appear, plus a JSON description of everything around them
(the member ``__tree__``), which ``load`` follows to rebuild the object: a Tensor comes back as
a Tensor, a tuple as a tuple, an int key as an int key. Nothing is pickled, so loading a file
never runs code: object arrays and objects of other types (a whole ``Module``, say) are refused
on the way in, and on the way out.

Loading trusts nothing in the file: every size a header or the zip directory declares is
checked against the others and against the file's length before any array is allocated.
Those checks live in ``serialization_read``; ``load`` here runs them in order.

Saving to a path is atomic. The archive is written to a temporary file in the target's folder,
flushed and fsync'ed, then renamed over the target with ``os.replace``; the rename is atomic on
POSIX and Windows, so a crash leaves either the old checkpoint or the new one, never half of one.
A file object the caller opened is the caller's: the archive is written at its position, and
the object is flushed but neither synced nor closed.

Notation
--------
obj     what is saved: a state dict, a training checkpoint, any nesting of supported values
f       where it goes: a path, or a binary file object (``open(path, 'wb')``, ``io.BytesIO``)
where   the place of a value inside ``obj``, as error messages name it: ``obj['model'][0]``
"""
import io
import json
import os
import secrets
import stat
import zipfile

import numpy as np

from minigrad import backend
from minigrad.serialization_read import (ARRAY_PREFIX, MAX_DEPTH, NPY_SUFFIX, TENSORS_KEY,
                                         TREE_KEY, check_sizes, decode_layout, mark_tensors,
                                         read_member)


def _to_host_array(where, value):
    """``value`` as a host NumPy array, or a TypeError naming ``where`` if it needs pickle."""
    from minigrad.tensor import Tensor

    array = backend.to_numpy(value.data if isinstance(value, Tensor) else value)
    if array.dtype.hasobject:
        raise TypeError(f"save: {where} has dtype {array.dtype}, which needs pickle; "
                        "checkpoints hold numeric, bool and string arrays only")
    return array


def _member_name(key):
    """Whether ``key`` can name a zip member and come back unchanged: a member's name ends at
    a NUL byte, must be UTF-8, and must not be mistaken for the layout."""
    if not isinstance(key, str) or not key or "\x00" in key or key in (TREE_KEY, TENSORS_KEY):
        return False
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_array_dict(obj):
    """A dict that ``numpy.savez`` could write itself: member-name keys, host NumPy arrays or
    Tensors that need no grad (a state dict), so that ``numpy.load`` sees its keys."""
    from minigrad.tensor import Tensor
    return isinstance(obj, dict) and all(
        _member_name(key) and (type(value) is np.ndarray or (
            isinstance(value, Tensor) and not value.requires_grad))
        for key, value in obj.items())


def _unsupported(where, value):
    """The TypeError for a value that only pickle could store."""
    kind = type(value).__name__
    if callable(getattr(value, "state_dict", None)):
        return TypeError(f"save: {where} is a {kind}, an object that cannot be saved without "
                         "pickle (which would run code on load); save its state_dict() "
                         "instead and rebuild the object before load_state_dict()")
    return TypeError(f"save: {where} is a {kind}; a checkpoint holds Tensors, arrays, numbers, "
                     "strings, None and dicts, lists and tuples of those (for a model or an "
                     "optimizer, save its state_dict() instead)")


def _encode_tree(value, arrays, where="obj", depth=0):
    """A JSON-able description of ``value``; arrays are moved to ``arrays`` and referenced by
    their position. Containers and plain values are described, never pickled; the reader's
    ``decode_layout`` is the inverse."""
    from minigrad.tensor import Tensor
    # The reader refuses deeper layouts, so a file that would not load is never written; this
    # also stops a list that contains itself.
    if depth > MAX_DEPTH:
        raise ValueError(f"save: {where} nests deeper than {MAX_DEPTH} levels; checkpoints "
                         "are limited to that depth")
    if isinstance(value, Tensor):
        arrays.append(_to_host_array(where, value))
        return {"tensor": [len(arrays) - 1, bool(value.requires_grad)]}
    if isinstance(value, np.ndarray) or backend.is_cuda_array(value):
        arrays.append(_to_host_array(where, value))
        return {"array": len(arrays) - 1}
    if isinstance(value, np.generic):
        # A 0-d array keeps the scalar's dtype (float16, uint8, ...), which JSON would lose.
        arrays.append(_to_host_array(where, np.asarray(value)))
        return {"scalar": len(arrays) - 1}
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(f"save: a key inside {where} is the {type(k).__name__} {k!r:.40}; "
                                "checkpoint keys are str or int")
            items.append([k, _encode_tree(v, arrays, f"{where}[{k!r}]", depth + 1)])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode_tree(v, arrays, f"{where}[{i}]", depth + 1)
                       for i, v in enumerate(value)]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    raise _unsupported(where, value)


def _members(obj):
    """The archive's members, ``name -> host array``, for ``obj``; raises before any write."""
    if _is_array_dict(obj):
        from minigrad.tensor import Tensor
        members = {key: _to_host_array(f"obj[{key!r}]", value) for key, value in obj.items()}
        tensors = [key for key, value in obj.items() if isinstance(value, Tensor)]
        if tensors:
            # The one extra member: which entries come back as Tensors.
            text = json.dumps(tensors).encode("utf-8")
            members = {TENSORS_KEY: np.frombuffer(text, dtype=np.uint8), **members}
        return members
    found = []
    tree = json.dumps(_encode_tree(obj, found))
    members = {TREE_KEY: np.frombuffer(tree.encode("utf-8"), dtype=np.uint8)}
    members.update((f"{ARRAY_PREFIX}{i}", a) for i, a in enumerate(found))
    return members


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


def _save_to_path(members, path):
    """Write ``members`` to ``path`` atomically (see the module docstring)."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"save: the path is {path!r}; expected the name of a file to write")
    # isdir follows symlinks, so a link to a directory is refused here too.
    if os.path.isdir(path) or path.endswith((os.sep, "/")):
        raise IsADirectoryError(f"save: {path!r} is a directory; expected a file path")
    # Through a symlink to its target, so that the link stays a link to the new checkpoint.
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: the folder {folder!r} of {path!r} does not exist")
    mode = stat.S_IMODE(os.stat(target).st_mode) if os.path.exists(target) else None
    temporary, f = _open_temporary(target)
    try:
        with f:
            if mode is not None:
                # The replaced file keeps its permission bits, as a file written in place would.
                os.chmod(temporary, mode)
            _write_archive(f, members)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, target)
    except BaseException:
        # Whatever stopped the write (an error, a full disk, Ctrl-C), the target is untouched.
        # The temporary is missing only if another process removed it meanwhile.
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    _fsync_folder(folder)


def _check_file_object(f, op, method, mode):
    """Raise TypeError unless ``f`` is a binary file object with ``method`` (read or write)."""
    if not callable(getattr(f, method, None)):
        raise TypeError(f"{op}: got a {type(f).__name__}; expected a path (str or os.PathLike) "
                        f"or a binary file object opened with {mode!r}")
    if isinstance(f, io.TextIOBase):
        raise TypeError(f"{op}: the file object {getattr(f, 'name', f)!r} is open in text mode; "
                        f"a checkpoint is binary, open it with {mode!r}")


def save(obj, f):
    """Save ``obj`` to ``f`` as an ``.npz`` archive, without pickle (``torch.save``'s place).

    Parameters
    ----------
    obj : dict, list, tuple, Tensor, ndarray, number, str or None, nested in any way
        Typically ``model.state_dict()``, or a training checkpoint such as
        ``{'model': model.state_dict(), 'optim': optimizer.state_dict(), 'epoch': 3}``. Dict
        keys are str or int. Tensors are copied to the host and come back as CPU Tensors with
        their dtype and ``requires_grad`` (as leaves); NumPy and CuPy arrays come back as
        NumPy arrays, NumPy scalars as NumPy scalars of their dtype, containers as the same
        containers (a tuple subclass as a plain tuple). Order is kept. At most 100 levels deep.
    f : str, os.PathLike or binary file object
        A path is used exactly as given (no ``.npz`` is appended); its folder must exist. An
        existing file is replaced only once the new one is complete on disk, and keeps its
        permission bits; a symlink is followed and stays a symlink. A file object (opened
        with ``'wb'``, or an ``io.BytesIO``) is the caller's: the archive is written from its
        current position, then it is flushed and left open, with no atomic replacement.

    Raises
    ------
    TypeError
        A value of another type (a whole ``Module`` or optimizer, a set, an object array,
        bytes), which only pickle could store; the message names where it sits in ``obj``
        and its type. Or ``f`` is neither a path nor a binary file object.
    ValueError
        ``obj`` nests deeper than 100 levels (or contains itself), or the path is empty.
    FileNotFoundError
        The folder of the path does not exist.
    IsADirectoryError
        The path is (or ends like) a directory.

    Examples
    --------
    >>> import io
    >>> import minigrad as mg
    >>> buffer = io.BytesIO()
    >>> save({'weight': mg.tensor(np.eye(2, dtype=np.float32)), 'step': 3}, buffer)
    >>> _ = buffer.seek(0)
    >>> state = load(buffer)
    >>> type(state['weight']).__name__, state['weight'].dtype, state['step']
    ('Tensor', dtype('float32'), 3)
    """
    # Every value is checked and brought to the host before the file is touched.
    members = _members(obj)
    if isinstance(f, (str, bytes, os.PathLike)):
        _save_to_path(members, os.fspath(f))
        return
    _check_file_object(f, "save", "write", "wb")
    # zipfile flushes the object as it closes the archive: without flush it would fail
    # half-way, with some bytes written, so that is checked first too.
    _check_file_object(f, "save", "flush", "wb")
    _write_archive(f, members)
    f.flush()


def _open_archive(f):
    """``(zipfile, name for messages, archive size in bytes)`` for a path or a file object."""
    if isinstance(f, (str, bytes, os.PathLike)):
        path = os.fspath(f)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"load: no checkpoint file at {path!r}")
        (source, name, size) = (path, path, os.path.getsize(path))
    else:
        _check_file_object(f, "load", "read", "rb")
        name = f"<{type(f).__name__}>"
        if isinstance(getattr(f, "name", None), str):
            name = f.name
        if not (callable(getattr(f, "seekable", None)) and f.seekable()):
            # zipfile reads the directory at the end first, so a stream is read whole.
            f = io.BytesIO(f.read())
        start = f.tell()
        size = f.seek(0, io.SEEK_END) - start
        f.seek(start)
        source = f
    try:
        return (zipfile.ZipFile(source, mode="r"), name, size)
    except (zipfile.BadZipFile, EOFError, ValueError) as err:
        raise ValueError(f"load: {name!r} is not an .npz checkpoint: it is not a complete zip "
                         f"archive, so it is truncated or of another format ({err})") from None


def load(f, map_location=None, weights_only=None):
    """Load what :func:`save` wrote (or a ``numpy.savez`` file), as it was saved.

    Parameters
    ----------
    f : str, os.PathLike or binary file object
        The ``.npz`` file, or a file object opened with ``'rb'`` (or an ``io.BytesIO``) from
        whose current position the archive runs to its end; the caller keeps it open.
    map_location : None or str, optional
        The device for the Tensors in the checkpoint: ``'cpu'`` (the default, as saved),
        ``'cuda'`` or ``'cuda:N'``. NumPy arrays stay NumPy arrays, as PyTorch leaves them.
    weights_only : bool or None, optional
        Accepted for PyTorch's signature and ignored: loading never executes code, so every
        load is as safe as PyTorch's ``weights_only=True``.

    Returns
    -------
    object
        The saved object, nested as it was: Tensors as CPU Tensors (or on ``map_location``)
        with their dtype and ``requires_grad``, arrays as host NumPy arrays, bit-identical to
        what was saved. A plain ``.npz`` of arrays (one that ``numpy.savez`` wrote) gives a
        dict of NumPy arrays in file order. ``Module.load_state_dict`` accepts a loaded state
        dict directly.

    Raises
    ------
    FileNotFoundError
        No such file.
    TypeError
        ``f`` is neither a path nor a binary file object, or ``map_location`` is not a str.
    ValueError
        Naming the file: one that is not an npz archive (a text file, a pickle), is truncated
        or corrupt, holds an entry that is not a ``.npy`` array or that needs pickle (object
        arrays), declares sizes it cannot hold (a header claiming a huge shape, a member
        claiming more than its compression can give), or has a malformed layout (too deep,
        unknown node types, references to arrays it lacks). Sizes are checked before any
        memory is set aside for the data, so a crafted file cannot exhaust memory. Or an
        unknown device in ``map_location``.
    """
    del weights_only  # see the docstring: there is no unsafe mode to opt out of
    if map_location is not None:
        if not isinstance(map_location, str):
            raise TypeError(f"load: map_location is a {type(map_location).__name__}; expected "
                            "None or a device string ('cpu', 'cuda', 'cuda:N')")
        try:
            map_location = backend.parse_device(map_location)
            backend.module_for(map_location)  # no CUDA: say so before reading the file
        except (ValueError, RuntimeError) as err:
            raise type(err)(f"load: map_location: {err}") from None
    zf, name, archive_size = _open_archive(f)
    state = {}
    with zf:
        infos = zf.infolist()
        for info in infos:
            if not info.filename.endswith(NPY_SUFFIX):
                raise ValueError(f"load: {name!r} is not an .npz checkpoint: it holds "
                                 f"{info.filename!r}, expected only .npy members")
            check_sizes(info, name, archive_size)
        if sum(info.compress_size for info in infos) > archive_size:
            raise ValueError(f"load: {name!r} is corrupt: its members claim more bytes than "
                             f"the file's {archive_size}")
        for info in infos:
            key, array = read_member(zf, info, name)
            if key in state:
                raise ValueError(f"load: {name!r} holds the entry {key!r} twice")
            state[key] = array
    if TREE_KEY in state:
        return decode_layout(state, name, map_location)
    if TENSORS_KEY in state:
        return mark_tensors(state, name, map_location)
    return state
