"""Checkpoints: ``save`` a state dict of arrays to an ``.npz`` file and ``load`` it back.

The file is the archive ``numpy.savez`` writes, so ``numpy.load`` reads it too: a zip with one
member ``<key>.npy`` per entry, in the dict's order, each a ``.npy`` array stored bit for bit.
Nothing is pickled, so loading a file never runs code: object arrays are refused on the way
in and on the way out.

Loading trusts nothing in the file: every size a header or the zip directory declares is
checked against the others and against the file's length before any array is allocated.

Saving is atomic. The archive is written to a temporary file in the target's folder, flushed
and fsync'ed, then renamed over the target with ``os.replace``; the rename is atomic on POSIX
and Windows, so a crash leaves either the old checkpoint or the new one, never half of one.

Notation
--------
state   a mapping from str keys to arrays (a ``Module.state_dict()``, say)
key     an entry's name; nested mappings become dotted keys, ``{'a': {'b': x}}`` -> ``'a.b'``
"""
import ast
import json
import math
import os
import secrets
import stat
import struct
import zipfile

import numpy as np

from minigrad import backend

_NPY_SUFFIX = ".npy"
_TREE_KEY = "__tree__"      # the JSON layout of a checkpoint holding more than arrays
_ARRAY_PREFIX = "__array_"  # its arrays, numbered in the order they appear
_NPY_MAGIC = b"\x93NUMPY"
_MAX_HEADER = 65536         # a .npy header is a short dict literal; numpy's own cap is 10000
_MAX_DEPTH = 100            # nesting of a layout; real checkpoints use a handful of levels
# deflate expands at most 1032:1, so a member declaring more than that per compressed byte lies
# about its size (a "zip bomb"); stored members must declare exactly what they hold.
_DEFLATE_RATIO = 1032
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


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
            with zf.open(key + _NPY_SUFFIX, mode="w", force_zip64=True) as member:
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
    their position. Containers and plain values are described, never pickled."""
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


def _decode_tree(node, arrays):
    if "array" in node:
        return arrays[node["array"]]
    if "dict" in node:
        return {k: _decode_tree(v, arrays) for k, v in node["dict"]}
    if "list" in node:
        return [_decode_tree(v, arrays) for v in node["list"]]
    if "tuple" in node:
        return tuple(_decode_tree(v, arrays) for v in node["tuple"])
    return node["value"]


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
    if _is_plain_state(obj) and _TREE_KEY not in obj:
        arrays = _flatten(obj, "", {})
    else:
        found = []
        tree = json.dumps(_encode_tree(obj, found))
        arrays = {_TREE_KEY: np.frombuffer(tree.encode("utf-8"), dtype=np.uint8)}
        arrays.update((f"{_ARRAY_PREFIX}{i}", a) for i, a in enumerate(found))
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


def _check_sizes(info, path, archive_size):
    """Refuse a member whose declared sizes cannot be true, before reading any of it."""
    key = info.filename[:-len(_NPY_SUFFIX)]
    if info.compress_type not in _METHODS:
        raise ValueError(f"load: {path!r}: entry {key!r} uses zip compression method "
                         f"{info.compress_type}; checkpoints are stored or deflated")
    if info.compress_size > archive_size:
        raise ValueError(f"load: {path!r} is truncated or corrupt at entry {key!r}: it claims "
                         f"{info.compress_size} bytes in a file of {archive_size}")
    largest = info.compress_size * (_DEFLATE_RATIO if info.compress_type else 1)
    if info.file_size > largest:
        raise ValueError(f"load: {path!r}: entry {key!r} declares {info.file_size} bytes from "
                         f"{info.compress_size} compressed ones, more than its compression can "
                         "give; the file is corrupt or crafted")


def _read_exactly(member, count, key, path):
    """``count`` bytes from ``member`` into a fresh bytearray, or the truncation error."""
    data = bytearray(count)
    view, done = memoryview(data), 0
    while done < count:
        got = member.readinto(view[done:])
        if not got:
            raise ValueError(f"load: {path!r} is truncated or corrupt at entry {key!r}: it "
                             f"holds {done} of the {count} data bytes its header declares")
        done += got
    return data


def _read_header(member, key, path):
    """The (shape, fortran_order, dtype) of a .npy header, parsed without trusting it."""
    def bad(why):
        return ValueError(f"load: {path!r}: entry {key!r} is not a .npy array that can be read "
                          f"without pickle ({why})")

    magic = member.read(len(_NPY_MAGIC) + 2)
    if len(magic) != len(_NPY_MAGIC) + 2 or not magic.startswith(_NPY_MAGIC):
        raise bad("it does not start with the .npy magic string")
    version = (magic[-2], magic[-1])
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise bad(f"unknown .npy format version {version}")
    size_format = "<H" if version == (1, 0) else "<I"
    raw_size = member.read(struct.calcsize(size_format))
    if len(raw_size) != struct.calcsize(size_format):
        raise bad("the header is cut short")
    (header_size,) = struct.unpack(size_format, raw_size)
    if header_size > _MAX_HEADER:
        raise bad(f"a header of {header_size} bytes; a .npy header holds a few dozen")
    raw = member.read(header_size)
    try:
        header = ast.literal_eval(raw.decode("utf-8" if version == (3, 0) else "latin1"))
        shape, fortran_order = header["shape"], header["fortran_order"]
        dtype = np.lib.format.descr_to_dtype(header["descr"])
    except (ValueError, SyntaxError, TypeError, KeyError, MemoryError, RecursionError) as err:
        raise bad(f"a malformed header: {err}") from None
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and not isinstance(n, bool)
                                               and n >= 0 for n in shape):
        raise bad(f"the shape {shape!r:.80} is not a tuple of sizes")
    if not isinstance(fortran_order, bool):
        raise bad(f"fortran_order is {fortran_order!r:.80}")
    if dtype.hasobject:
        raise bad(f"dtype {dtype} needs pickle")
    return (shape, fortran_order, dtype, len(magic) + len(raw_size) + header_size)


def _read_member(zf, info, path):
    """The array of one member; its header is checked against the member's declared size
    before any memory is set aside for the data."""
    key = info.filename[:-len(_NPY_SUFFIX)]
    try:
        with zf.open(info) as member:
            shape, fortran_order, dtype, header_bytes = _read_header(member, key, path)
            count = math.prod(shape) * dtype.itemsize
            if header_bytes + count != info.file_size:
                raise ValueError(f"load: {path!r}: entry {key!r} declares shape {shape} of "
                                 f"{dtype} ({count} bytes), but the member holds "
                                 f"{info.file_size - header_bytes} data bytes")
            data = _read_exactly(member, count, key, path)
            trailing = member.read(1)
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise ValueError(f"load: {path!r} is truncated or corrupt at entry {key!r} "
                         f"({err})") from None
    except (RuntimeError, NotImplementedError) as err:
        # zipfile's answer to encrypted members and unknown compression methods.
        raise ValueError(f"load: {path!r}: entry {key!r} uses a zip feature that checkpoints "
                         f"never use ({err})") from None
    if trailing:
        raise ValueError(f"load: {path!r}: entry {key!r} has bytes past the array it holds")
    array = np.frombuffer(data, dtype=dtype, count=math.prod(shape))
    return (key, array.reshape(shape, order="F" if fortran_order else "C"))


def _check_node(node, count, depth, where):
    """Raise ValueError unless ``node`` is a layout node whose array references lie in
    ``range(count)``; walks at most ``_MAX_DEPTH`` levels, never recursing deeper."""
    stack = [(node, depth, where)]
    while stack:
        node, depth, where = stack.pop()
        if depth > _MAX_DEPTH:
            raise ValueError(f"the layout nests deeper than {_MAX_DEPTH} levels at {where}")
        if not isinstance(node, dict) or len(node) != 1:
            raise ValueError(f"{where} is {node!r:.80}, expected a node "
                             "{'array'|'dict'|'list'|'tuple'|'value': ...}")
        ((kind, body),) = node.items()
        if kind == "array":
            if isinstance(body, bool) or not isinstance(body, int) or not 0 <= body < count:
                raise ValueError(f"{where} refers to array {body!r:.80}, but the file holds "
                                 f"arrays 0 to {count - 1}")
        elif kind == "dict":
            if not isinstance(body, list) or not all(
                    isinstance(item, list) and len(item) == 2 and not isinstance(item[0], bool)
                    and isinstance(item[0], (str, int)) for item in body):
                raise ValueError(f"{where} is a dict node whose items are not [key, node] "
                                 "pairs with str or int keys")
            stack.extend((v, depth + 1, f"{where}[{k!r}]") for k, v in body)
        elif kind in ("list", "tuple"):
            if not isinstance(body, list):
                raise ValueError(f"{where} is a {kind} node without a list of nodes")
            stack.extend((v, depth + 1, f"{where}[{i}]") for i, v in enumerate(body))
        elif kind == "value":
            if body is not None and not isinstance(body, (bool, int, float, str)):
                raise ValueError(f"{where} holds the value {body!r:.80}")
        else:
            raise ValueError(f"{where} is a node of the unknown type {kind!r}")


def _decode_layout(state, path):
    """The nested object that the ``__tree__`` member of ``state`` describes."""
    raw = state.pop(_TREE_KEY)
    names = {f"{_ARRAY_PREFIX}{i}" for i in range(len(state))}
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"the layout is {raw.dtype} of shape {raw.shape}, expected the "
                             "bytes of a JSON text (uint8, 1-D)")
        if set(state) != names:
            strays = sorted(set(state) - names)[:5]
            raise ValueError(f"besides the layout it holds {strays}, expected only "
                             f"{_ARRAY_PREFIX}0 to {_ARRAY_PREFIX}{len(state) - 1}")
        tree = json.loads(raw.tobytes().decode("utf-8"))
        _check_node(tree, len(state), 0, "obj")
        return _decode_tree(tree, [state[f"{_ARRAY_PREFIX}{i}"] for i in range(len(state))])
    except (ValueError, RecursionError) as err:  # json's and UTF-8's errors are ValueErrors
        raise ValueError(f"load: {path!r} has a malformed checkpoint layout ({err})") from None


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
            if not info.filename.endswith(_NPY_SUFFIX):
                raise ValueError(f"load: {path!r} is not an .npz checkpoint: it holds "
                                 f"{info.filename!r}, expected only .npy members")
            _check_sizes(info, path, archive_size)
        if sum(info.compress_size for info in infos) > archive_size:
            raise ValueError(f"load: {path!r} is corrupt: its members claim more bytes than "
                             f"the file's {archive_size}")
        for info in infos:
            key, array = _read_member(zf, info, path)
            if key in state:
                raise ValueError(f"load: {path!r} holds the entry {key!r} twice")
            state[key] = array
    if _TREE_KEY in state:
        return _decode_layout(state, path)
    return state
