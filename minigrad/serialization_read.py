"""Reading a checkpoint without trusting it: the checks ``serialization.load`` makes.

A checkpoint may come from anywhere, so every size the file declares is checked before memory is
set aside for it: the zip directory's sizes against the file's length and against what the
compression method can give (``check_sizes``), a ``.npy`` header against the member that holds it
(``read_member``), and a JSON layout against the arrays it refers to (``decode_layout``). Each
refusal is a ValueError naming the file, the entry and what was expected.

The file format itself is the one ``serialization.save`` writes; its member names live here
because the reader is the side that must know them exactly.

Notation
--------
member  one ``<key>.npy`` entry of the zip archive: a .npy header, then the raw array bytes
info    the zip directory's record of a member (``zipfile.ZipInfo``): name, method, sizes
layout  the JSON text in the member ``__tree__``, a tree of nodes ``{kind: body}``:
        ``{'array': i}``, ``{'tensor': [i, requires_grad]}``, ``{'scalar': i}`` (a NumPy
        scalar, stored as a 0-d array), ``{'dict': [[key, node], ...]}``,
        ``{'list': [node, ...]}``, ``{'tuple': [node, ...]}``, ``{'value': json value}``
"""
import ast
import json
import math
import struct
import zipfile

import numpy as np

NPY_SUFFIX = ".npy"
TREE_KEY = "__tree__"      # the JSON layout of a checkpoint holding more than arrays
ARRAY_PREFIX = "__array_"  # its arrays, numbered in the order they appear
TENSORS_KEY = "__tensors__"  # in a flat state dict: the JSON list of keys that hold Tensors
_NPY_MAGIC = b"\x93NUMPY"
_MAX_HEADER = 65536         # a .npy header is a short dict literal; numpy's own cap is 10000
MAX_DEPTH = 100            # nesting of a layout; real checkpoints use a handful of levels
# deflate expands at most 1032:1, so a member declaring more than that per compressed byte lies
# about its size (a "zip bomb"); stored members must declare exactly what they hold.
_DEFLATE_RATIO = 1032
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_KINDS = ("array", "tensor", "scalar", "dict", "list", "tuple", "value")


def check_sizes(info, path, archive_size):
    """Refuse a member whose declared sizes cannot be true, before reading any of it."""
    key = info.filename[:-len(NPY_SUFFIX)]
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


def read_member(zf, info, path):
    """The array of one member; its header is checked against the member's declared size
    before any memory is set aside for the data."""
    key = info.filename[:-len(NPY_SUFFIX)]
    try:
        with zf.open(info) as member:
            shape, fortran_order, dtype, header_bytes = _read_header(member, key, path)
            count = math.prod(shape) * dtype.itemsize
            if header_bytes + count != info.file_size:
                raise ValueError(f"load: {path!r}: entry {key!r} declares shape {shape} of "
                                 f"{dtype} ({count} bytes), but the member holds "
                                 f"{info.file_size - header_bytes} data bytes")
            # zipfile stops a member at its declared size, which the check above made equal
            # to header + data: there can be no bytes past the array.
            data = _read_exactly(member, count, key, path)
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise ValueError(f"load: {path!r} is truncated or corrupt at entry {key!r} "
                         f"({err})") from None
    except (RuntimeError, NotImplementedError) as err:
        # zipfile's answer to encrypted members and unknown compression methods.
        raise ValueError(f"load: {path!r}: entry {key!r} uses a zip feature that checkpoints "
                         f"never use ({err})") from None
    array = np.frombuffer(data, dtype=dtype, count=math.prod(shape))
    return (key, array.reshape(shape, order="F" if fortran_order else "C"))


def _check_reference(body, count, where):
    """Raise ValueError unless ``body`` is the number of one of the file's ``count`` arrays."""
    if isinstance(body, bool) or not isinstance(body, int) or not 0 <= body < count:
        raise ValueError(f"{where} refers to array {body!r:.80}, but the file holds "
                         f"arrays 0 to {count - 1}")


def _check_node(node, count, depth, where):
    """Raise ValueError unless ``node`` is a layout node whose array references lie in
    ``range(count)``; walks at most ``MAX_DEPTH`` levels, never recursing deeper."""
    stack = [(node, depth, where)]
    while stack:
        node, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"the layout nests deeper than {MAX_DEPTH} levels at {where}")
        if not isinstance(node, dict) or len(node) != 1:
            raise ValueError(f"{where} is {node!r:.80}, expected a node {{kind: body}} "
                             f"of a kind in {_KINDS}")
        ((kind, body),) = node.items()
        if kind == "tensor":
            if not isinstance(body, list) or len(body) != 2 or not isinstance(body[1], bool):
                raise ValueError(f"{where} is a tensor node whose body {body!r:.80} is not "
                                 "[array number, requires_grad]")
            _check_reference(body[0], count, where)
        elif kind in ("array", "scalar"):
            _check_reference(body, count, where)
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


def _decode_tree(node, arrays, where, map_location):
    """The object a checked layout ``node`` describes (the inverse of ``_encode_tree`` in
    ``serialization``); ``arrays`` holds the arrays its nodes refer to by number."""
    from minigrad.tensor import Tensor
    ((kind, body),) = node.items()
    if kind == "array":
        return arrays[body]
    if kind == "tensor":
        (index, requires_grad) = body
        array = arrays[index]
        if requires_grad and array.dtype.kind not in "fc":
            raise ValueError(f"{where} is a {array.dtype} tensor that requires grad; only "
                             "floating point tensors can")
        return Tensor(array, device=map_location, requires_grad=requires_grad)
    if kind == "scalar":
        if arrays[body].ndim:
            raise ValueError(f"{where} is a scalar whose array has shape {arrays[body].shape}")
        return arrays[body][()]
    if kind == "dict":
        return {k: _decode_tree(v, arrays, f"{where}[{k!r}]", map_location) for k, v in body}
    if kind in ("list", "tuple"):
        items = [_decode_tree(v, arrays, f"{where}[{i}]", map_location)
                 for i, v in enumerate(body)]
        return items if kind == "list" else tuple(items)
    return body


def decode_layout(state, path, map_location=None):
    """The nested object that the ``__tree__`` member of ``state`` describes, its Tensors
    on ``map_location`` (a parsed device string; None keeps them on the host)."""
    raw = state.pop(TREE_KEY)
    names = {f"{ARRAY_PREFIX}{i}" for i in range(len(state))}
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"the layout is {raw.dtype} of shape {raw.shape}, expected the "
                             "bytes of a JSON text (uint8, 1-D)")
        if set(state) != names:
            strays = sorted(set(state) - names)[:5]
            raise ValueError(f"besides the layout it holds {strays}, expected only "
                             f"{ARRAY_PREFIX}0 to {ARRAY_PREFIX}{len(state) - 1}")
        tree = json.loads(raw.tobytes().decode("utf-8"))
        _check_node(tree, len(state), 0, "obj")
        arrays = [state[f"{ARRAY_PREFIX}{i}"] for i in range(len(state))]
        return _decode_tree(tree, arrays, "obj", map_location)
    except (ValueError, RecursionError) as err:  # json's and UTF-8's errors are ValueErrors
        raise ValueError(f"load: {path!r} has a malformed checkpoint layout ({err})") from None


def mark_tensors(state, path, map_location=None):
    """``state`` with the entries that its ``__tensors__`` member lists made Tensors (on
    ``map_location``); the member must be a JSON list of distinct keys of ``state``."""
    from minigrad.tensor import Tensor
    raw = state.pop(TENSORS_KEY)
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"it is {raw.dtype} of shape {raw.shape}, expected the bytes of "
                             "a JSON text (uint8, 1-D)")
        keys = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(keys, list) or not all(isinstance(k, str) and k in state
                                                 for k in keys) or len(set(keys)) != len(keys):
            raise ValueError(f"it is {keys!r:.80}, expected a list of distinct entry names")
    except (ValueError, RecursionError) as err:
        raise ValueError(f"load: {path!r} has a malformed {TENSORS_KEY} member ({err})") from None
    for key in keys:
        state[key] = Tensor(state[key], device=map_location)
    return state
