"""save/load and the safetensors pair, word for word and bit for bit where the other
serialization tests match a fragment: refusal messages, the temporary file's name, mode and
flags, the retry count, layout references that are not array numbers, and the checks made on
a tensor listing and on safetensors input."""
import io
import json
import os
import re
import sys
import zipfile

import numpy as np
import pytest

import minigrad as mg
from minigrad import serialization
from minigrad.serialization import load, save


def npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def craft(path, members):
    """A stored zip of ``members``, a dict ``name -> bytes``."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return path


def layout_file(path, tree, arrays=()):
    members = {"__tree__.npy": npy(np.frombuffer(json.dumps(tree).encode(), dtype=np.uint8))}
    members.update((f"__array_{i}.npy", npy(a)) for i, a in enumerate(arrays))
    return craft(path, members)


def refused(path, message):
    with pytest.raises(ValueError) as info:
        load(path)
    assert str(info.value) == message


@pytest.fixture
def umask():
    """Set the process's umask for the test, and put the previous one back."""
    previous = os.umask(0o022)
    os.umask(previous)
    yield os.umask
    os.umask(previous)


# ---------------------------------------------------------------- save: refusals

def test_an_unsupported_value_is_refused_word_for_word(tmp_path):
    with pytest.raises(TypeError) as info:
        save({"a": {1, 2}}, tmp_path / "x.npz")
    assert str(info.value) == (
        "save: obj['a'] is a set; a checkpoint holds Tensors, arrays, numbers, strings, None "
        "and dicts, lists and tuples of those (for a model or an optimizer, save its "
        "state_dict() instead)")
    assert list(tmp_path.iterdir()) == []


def test_a_text_file_object_is_refused_naming_it(tmp_path):
    path = tmp_path / "notes.txt"
    with open(path, "w") as f:
        with pytest.raises(TypeError) as info:
            save({"w": np.ones(2)}, f)
    assert str(info.value) == (f"save: the file object {str(path)!r} is open in text mode; a "
                               "checkpoint is binary, open it with 'wb'")
    text = io.StringIO()
    with pytest.raises(TypeError) as info:
        load(text)
    assert str(info.value) == (f"load: the file object {text!r} is open in text mode; a "
                               "checkpoint is binary, open it with 'rb'")


def test_a_path_ending_in_a_slash_is_a_directory_on_windows_too(tmp_path, monkeypatch):
    """Windows takes both separators; its ``os.sep`` is the backslash."""
    monkeypatch.setattr(serialization.os, "sep", "\\")
    path = str(tmp_path / "new.npz") + "/"
    with pytest.raises(IsADirectoryError) as info:
        save({"w": np.ones(2)}, path)
    assert str(info.value) == f"save: {path!r} is a directory; expected a file path"
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- save: the temporary file

@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o000, 0o666), (0o077, 0o600)])
def test_a_new_checkpoint_gets_the_umasks_permissions(mask, mode, tmp_path, umask):
    """As any new file: 0o666 less the umask, never executable."""
    umask(mask)
    save({"w": np.ones(2)}, tmp_path / "model.npz")
    assert oct(os.stat(tmp_path / "model.npz").st_mode & 0o777) == oct(mode)


def test_the_temporary_is_a_hidden_file_beside_the_target(tmp_path, monkeypatch):
    renames = []
    real_replace = os.replace

    def replace(source, target):
        renames.append((source, target))
        real_replace(source, target)

    monkeypatch.setattr(serialization.os, "replace", replace)
    save({"w": np.ones(2)}, tmp_path / "model.npz")
    save({"w": np.ones(2)}, tmp_path / "model.npz")
    monkeypatch.undo()
    assert [target for _, target in renames] == [str(tmp_path / "model.npz")] * 2
    for source, _ in renames:
        folder, name = os.path.split(source)
        assert folder == str(tmp_path)
        assert re.fullmatch(r"\.model\.npz\.[0-9a-f]{12}\.tmp", name), name
    assert renames[0][0] != renames[1][0]


def test_the_temporary_is_opened_exclusively_and_binary_where_that_exists(tmp_path,
                                                                           monkeypatch):
    """Windows has ``os.O_BINARY``: without it the archive's bytes would be translated."""
    opened = []
    real_open = os.open
    fake_binary = 0x40000000

    def open_(path, flags, mode=0o777, **kwargs):
        if str(path).endswith(".tmp"):
            opened.append((flags, mode))
            flags &= ~fake_binary
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(serialization.os, "O_BINARY", fake_binary, raising=False)
    monkeypatch.setattr(serialization.os, "open", open_)
    save({"w": np.ones(2)}, tmp_path / "model.npz")
    monkeypatch.undo()
    assert opened == [(os.O_WRONLY | os.O_CREAT | os.O_EXCL | fake_binary, 0o666)]
    np.testing.assert_array_equal(load(tmp_path / "model.npz")["w"], [1.0, 1.0])


def test_save_tries_exactly_a_hundred_temporary_names(tmp_path, monkeypatch):
    asked = []

    def token_hex(n):
        asked.append(n)
        return "aaaa"

    monkeypatch.setattr(serialization.secrets, "token_hex", token_hex)
    (tmp_path / ".model.npz.aaaa.tmp").write_bytes(b"")
    with pytest.raises(FileExistsError):
        save({"w": np.ones(2)}, tmp_path / "model.npz")
    assert asked == [6] * 100


# ---------------------------------------------------------------- load: layouts and listings

@pytest.mark.parametrize("body, shown", [("0", "'0'"), (0.0, "0.0"), (True, "True"),
                                         (None, "None"), ([0], "[0]")])
def test_an_array_reference_that_is_not_a_number_is_refused(tmp_path, body, shown):
    """Two arrays, so that ``True`` would pass for array 1."""
    path = layout_file(tmp_path / "x.npz", {"list": [{"array": body}, {"array": 0}]},
                       (np.zeros(2), np.ones(2)))
    refused(path, f"load: {str(path)!r} has a malformed checkpoint layout (obj[0] refers to "
                  f"array {shown}, but the file holds arrays 0 to 1)")


def test_an_integer_tensor_that_requires_grad_is_refused_word_for_word(tmp_path):
    path = layout_file(tmp_path / "x.npz", {"dict": [["w", {"tensor": [0, True]}]]},
                       (np.arange(3, dtype=np.int32),))
    refused(path, f"load: {str(path)!r} has a malformed checkpoint layout (obj['w'] is a int32 "
                  "tensor that requires grad; only floating point tensors can)")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex64])
def test_a_floating_tensor_that_requires_grad_loads_as_a_leaf(tmp_path, dtype):
    path = layout_file(tmp_path / "x.npz", {"tensor": [0, True]},
                       (np.arange(3).astype(dtype),))
    t = load(path)
    assert isinstance(t, mg.Tensor) and t.requires_grad and t.is_leaf
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.arange(3).astype(dtype))


def test_a_state_dict_loads_on_the_cpu_map_location(tmp_path):
    save({"w": mg.tensor([1.5, -2.0]), "b": np.arange(2)}, tmp_path / "s.npz")
    for location in (None, "cpu"):
        state = load(tmp_path / "s.npz", map_location=location)
        assert list(state) == ["w", "b"]
        assert isinstance(state["w"], mg.Tensor) and state["w"].device == "cpu"
        assert type(state["b"]) is np.ndarray
        np.testing.assert_array_equal(state["w"].numpy(), np.array([1.5, -2.0], np.float32))


def test_dicts_nested_past_the_limit_are_refused(tmp_path):
    tree = {"value": 1}
    for _ in range(150):
        tree = {"dict": [["a", tree]]}
    path = layout_file(tmp_path / "x.npz", tree)
    where = "obj" + "['a']" * 101
    refused(path, f"load: {str(path)!r} has a malformed checkpoint layout (the layout nests "
                  f"deeper than 100 levels at {where})")


def test_stray_members_beside_a_layout_are_named_five_at_most(tmp_path):
    members = {"__tree__.npy": npy(np.frombuffer(b'{"value": 1}', dtype=np.uint8))}
    members.update((f"w{i}.npy", npy(np.zeros(1))) for i in range(7))
    path = craft(tmp_path / "x.npz", members)
    refused(path, f"load: {str(path)!r} has a malformed checkpoint layout (besides the layout "
                  "it holds ['w0', 'w1', 'w2', 'w3', 'w4'], expected only __array_0 to "
                  "__array_6)")


def test_object_arrays_inside_a_checkpoint_are_refused_naming_where(tmp_path):
    pickled = "which needs pickle; checkpoints hold numeric, bool and string arrays only"
    tensor = mg.tensor(np.array([1, "a"], dtype=object))
    with pytest.raises(TypeError) as info:
        save({"model": {"t": tensor}, "step": 1}, tmp_path / "x.npz")
    assert str(info.value) == f"save: obj['model']['t'] has dtype object, {pickled}"
    record = np.zeros(1, dtype=[("a", "O")])[0]  # a NumPy scalar holding an object
    with pytest.raises(TypeError) as info:
        save([1.5, record], tmp_path / "x.npz")
    assert str(info.value) == f"save: obj[1] has dtype [('a', 'O')], {pickled}"
    with pytest.raises(TypeError) as info:
        save({"t": tensor}, tmp_path / "x.npz")
    assert str(info.value) == f"save: obj['t'] has dtype object, {pickled}"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- safetensors

class DeviceArray:
    """What CuPy arrays offer: the CUDA interface and ``get()`` to the host."""
    __cuda_array_interface__ = {}

    def __init__(self, host):
        self.host = host

    def get(self):
        return self.host


class InterfaceOnly:
    """A device array without CuPy's ``get()`` (as Numba's are)."""
    __cuda_array_interface__ = {}


def test_safetensors_refusals_word_for_word(tmp_path):
    pytest.importorskip("safetensors")
    path = tmp_path / "x.safetensors"
    cases = [
        (([np.ones(2)], path), TypeError,
         "save_safetensors: expected a dict of name -> Tensor, got a list"),
        (({3: np.ones(2)}, path), TypeError,
         "save_safetensors: every key must be a str, got 3 (int)"),
        (({"w": [1.0]}, path), TypeError,
         "save_safetensors: 'w' is a list; expected a Tensor or a numpy array"),
        (({"w": {"a": 1}}, path), TypeError,  # a dict has get(), but it is no device array
         "save_safetensors: 'w' is a dict; expected a Tensor or a numpy array"),
        (({"w": InterfaceOnly()}, path), TypeError,
         "save_safetensors: 'w' is a InterfaceOnly; expected a Tensor or a numpy array"),
        (({"c": np.ones(2, dtype=complex)}, path), ValueError,
         "save_safetensors: 'c' has dtype complex128; safetensors stores only bool, integer "
         "and floating arrays"),
        (({"o": np.array([None])}, path), ValueError,
         "save_safetensors: 'o' has dtype object; safetensors stores only bool, integer and "
         "floating arrays"),
        (({"w": np.ones(2)}, path, {"n": 1}), TypeError,
         "save_safetensors: metadata must map str to str"),
        (({"w": np.ones(2)}, path, {1: "n"}), TypeError,
         "save_safetensors: metadata must map str to str"),
    ]
    for args, error, message in cases:
        with pytest.raises(error) as info:
            mg.save_safetensors(*args)
        assert str(info.value) == message
    assert os.listdir(tmp_path) == []
    missing = tmp_path / "missing.safetensors"
    with pytest.raises(FileNotFoundError) as info:
        mg.load_safetensors(missing)
    assert str(info.value) == f"load_safetensors: no file at {str(missing)!r}"
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{junk")
    with pytest.raises(ValueError) as info:
        mg.load_safetensors(junk)
    cause = info.value.__cause__
    assert cause is not None
    assert str(info.value) == (f"load_safetensors: {str(junk)!r} is not a readable "
                               f"safetensors file ({type(cause).__name__}: {cause})")


@pytest.mark.parametrize("op, call", [
    ("save_safetensors", lambda path: mg.save_safetensors({"w": np.ones(2)}, path)),
    ("load_safetensors", lambda path: mg.load_safetensors(path))])
def test_without_the_package_the_error_says_how_to_install_it(op, call, tmp_path,
                                                              monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)  # its import raises ImportError
    with pytest.raises(ImportError) as info:
        call(tmp_path / "w.safetensors")
    assert str(info.value) == (f"{op} needs the 'safetensors' package, from the 'tools' extra: "
                               "pip install -e \".[tools]\" (or pip install safetensors)")
    assert isinstance(info.value.__cause__, ImportError)
    assert os.listdir(tmp_path) == []


def test_safetensors_round_trip_of_every_layout_and_a_gpu_like_array(tmp_path):
    pytest.importorskip("safetensors")

    state = {"fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
             "strided": np.arange(10, dtype=np.int16)[::3],
             "count": np.array(7, dtype=np.int64),
             "tensor": mg.tensor(np.array([[1.5, -2.5]], dtype=np.float32)),
             "leaf": mg.tensor(np.array([0.25]), requires_grad=True),
             "device": DeviceArray(np.array([True, False, True]))}
    path = tmp_path / "w.safetensors"
    mg.save_safetensors(state, path, metadata={"format": "np"})
    loaded = mg.load_safetensors(path, device="cpu")
    assert sorted(loaded) == sorted(state)
    expected = {"fortran": np.arange(6.0).reshape(2, 3), "strided": np.array([0, 3, 6, 9]),
                "count": np.array(7), "tensor": np.array([[1.5, -2.5]]),
                "leaf": np.array([0.25]), "device": np.array([True, False, True])}
    dtypes = {"fortran": np.float64, "strided": np.int16, "count": np.int64,
              "tensor": np.float32, "leaf": np.float64, "device": np.bool_}
    for name, value in expected.items():
        t = loaded[name]
        assert isinstance(t, mg.Tensor) and t.device == "cpu" and not t.requires_grad
        assert t.dtype == dtypes[name] and t.shape == value.shape, name
        np.testing.assert_array_equal(t.numpy(), value)
    assert os.listdir(tmp_path) == ["w.safetensors"]


def test_an_interrupted_safetensors_write_leaves_no_temporary(tmp_path, monkeypatch):
    st_numpy = pytest.importorskip("safetensors.numpy")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(st_numpy, "save_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        mg.save_safetensors({"w": np.ones(3)}, str(tmp_path / "w.safetensors"))
    assert os.listdir(tmp_path) == []


def test_safetensors_are_written_under_a_hidden_name_beside_the_target(tmp_path, monkeypatch):
    pytest.importorskip("safetensors")
    from minigrad import serialization_safetensors
    renames = []
    real_replace = os.replace

    def replace(source, target):
        renames.append((source, target))
        real_replace(source, target)

    monkeypatch.setattr(serialization_safetensors.os, "replace", replace)
    (tmp_path / "sub").mkdir()
    target = tmp_path / "sub" / "w.safetensors"
    mg.save_safetensors({"w": np.arange(3.0)}, target)
    monkeypatch.undo()
    [(source, written)] = renames
    assert written == str(target)
    folder, name = os.path.split(source)
    assert folder == str(tmp_path / "sub")
    assert re.fullmatch(r"\.tmp-\w+\.safetensors", name), name
    assert os.listdir(tmp_path / "sub") == ["w.safetensors"]
    np.testing.assert_array_equal(mg.load_safetensors(target)["w"].numpy(), [0.0, 1.0, 2.0])


# ---------------------------------------------------------------- load: sizes the file declares

def stored_zip(members, method=zipfile.ZIP_STORED):
    """The bytes of a zip of ``members`` (``name -> bytes``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return bytearray(buffer.getvalue())


def declare(archive, compress_size=None, file_size=None):
    """Rewrite the sizes the zip's (single) central directory record declares."""
    at = archive.index(b"PK\x01\x02")
    if compress_size is not None:
        archive[at + 20:at + 24] = compress_size.to_bytes(4, "little")
    if file_size is not None:
        archive[at + 24:at + 28] = file_size.to_bytes(4, "little")
    return bytes(archive)


def test_a_bzip2_member_is_refused_naming_its_entry(tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(bytes(stored_zip({"w.npy": npy(np.zeros(3))}, zipfile.ZIP_BZIP2)))
    refused(path, f"load: {str(path)!r}: entry 'w' uses zip compression method 12; "
                  "checkpoints are stored or deflated")


def test_the_compressed_size_is_refused_only_past_the_files_length(tmp_path):
    """A stored member is read by its declared data size, so an overstated compressed size
    up to the file's length allocates nothing extra: the intact data loads. One byte more
    cannot be true of any member."""
    archive = stored_zip({"w.npy": npy(np.arange(3.0))})
    path = tmp_path / "x.npz"
    path.write_bytes(declare(archive, compress_size=len(archive)))
    np.testing.assert_array_equal(load(path)["w"], [0.0, 1.0, 2.0])
    path.write_bytes(declare(archive, compress_size=len(archive) + 1))
    refused(path, f"load: {str(path)!r} is truncated or corrupt at entry 'w': it claims "
                  f"{len(archive) + 1} bytes in a file of {len(archive)}")


def test_a_stored_member_declaring_more_than_it_holds_is_refused(tmp_path):
    member = npy(np.zeros(3))
    path = tmp_path / "x.npz"
    path.write_bytes(declare(stored_zip({"w.npy": member}), file_size=len(member) + 1))
    refused(path, f"load: {str(path)!r}: entry 'w' declares {len(member) + 1} bytes from "
                  f"{len(member)} compressed ones, more than its compression can give; the "
                  "file is corrupt or crafted")


def test_a_header_that_disagrees_with_its_member_is_refused_word_for_word(tmp_path):
    member = npy(np.zeros(1))
    header = member[:-8].replace(b"(1,)", b"(3,)")
    path = craft(tmp_path / "x.npz", {"w.npy": header + member[-8:]})
    refused(path, f"load: {str(path)!r}: entry 'w' declares shape (3,) of float64 (24 bytes), "
                  "but the member holds 8 data bytes")


def test_a_deflate_stream_that_ends_early_is_refused_naming_its_entry(tmp_path):
    """Its CRC matches what it holds, so only the count of data bytes tells."""
    member = npy(np.arange(4.0))
    archive = stored_zip({"w.npy": member[:-16]}, zipfile.ZIP_DEFLATED)
    path = tmp_path / "x.npz"
    path.write_bytes(declare(archive, file_size=len(member)))
    refused(path, f"load: {str(path)!r} is truncated or corrupt at entry 'w': it holds 16 of "
                  "the 32 data bytes its header declares")


def test_sizes_are_checked_against_the_archive_from_the_file_objects_position():
    archive = stored_zip({"w.npy": npy(np.zeros(3))})
    n = len(archive)
    f = io.BytesIO(b"\x00" * 1000 + declare(archive, compress_size=n + 1))
    f.seek(1000)
    with pytest.raises(ValueError) as info:
        load(f)
    assert str(info.value) == (f"load: '<BytesIO>' is truncated or corrupt at entry 'w': it "
                               f"claims {n + 1} bytes in a file of {n}")


@pytest.mark.parametrize("field, version", [("x", 1), ("\u00e9t\u00e9", 1), ("\u540d", 3)])
def test_structured_arrays_round_trip_in_each_header_version(field, version, tmp_path):
    """numpy writes a latin-1 header (version 1.0) when it can, a UTF-8 one (3.0) when a
    field name needs it."""
    array = np.zeros(2, dtype=[(field, "<f8"), ("n", "<i2")])
    array[field] = [1.5, -2.0]
    array["n"] = [3, 4]
    if version == 3:
        with pytest.warns(UserWarning, match="format 3.0"):
            save({"r": array}, tmp_path / "x.npz")
    else:
        save({"r": array}, tmp_path / "x.npz")
    with zipfile.ZipFile(tmp_path / "x.npz") as zf:
        assert zf.read("r.npy")[6:8] == bytes([version, 0])
    loaded = load(tmp_path / "x.npz")["r"]
    assert loaded.dtype == array.dtype
    np.testing.assert_array_equal(loaded, array)


def nested_dicts(levels, leaf):
    for _ in range(levels):
        leaf = {"a": leaf}
    return leaf


def test_dicts_nest_a_hundred_levels_and_no_more(tmp_path):
    save(nested_dicts(100, 1.5), tmp_path / "x.npz")
    assert load(tmp_path / "x.npz") == nested_dicts(100, 1.5)
    with pytest.raises(ValueError) as info:
        save(nested_dicts(101, 1.5), tmp_path / "y.npz")
    assert str(info.value) == ("save: obj" + "['a']" * 101 + " nests deeper than 100 levels; "
                               "checkpoints are limited to that depth")
    assert not (tmp_path / "y.npz").exists()


def test_a_tensor_node_with_a_missing_array_is_refused_naming_where(tmp_path):
    path = layout_file(tmp_path / "x.npz", {"list": [{"value": 1}, {"tensor": [3, False]}]},
                       (np.zeros(2),))
    refused(path, f"load: {str(path)!r} has a malformed checkpoint layout (obj[1] refers to "
                  "array 3, but the file holds arrays 0 to 0)")


def test_a_device_array_is_saved_from_the_host_and_loads_as_numpy(tmp_path):
    save({"w": DeviceArray(np.arange(3, dtype=np.int16)), "step": 2}, tmp_path / "x.npz")
    state = load(tmp_path / "x.npz")
    assert type(state["w"]) is np.ndarray and state["w"].dtype == np.int16
    np.testing.assert_array_equal(state["w"], [0, 1, 2])
    assert state["step"] == 2


def test_every_member_is_written_with_a_zip64_header(tmp_path):
    """A member's size is known only once written, and may pass 4 GiB: each local header
    carries the zip64 extra field (id 1) from the start."""
    save({"w": np.ones(3), "b": np.zeros(2)}, tmp_path / "x.npz")
    data = (tmp_path / "x.npz").read_bytes()
    with zipfile.ZipFile(tmp_path / "x.npz") as zf:
        infos = zf.infolist()
    assert [info.filename for info in infos] == ["w.npy", "b.npy"]
    for info in infos:
        at = info.header_offset
        assert data[at:at + 4] == b"PK\x03\x04"
        name_length = int.from_bytes(data[at + 26:at + 28], "little")
        extra_length = int.from_bytes(data[at + 28:at + 30], "little")
        extra = data[at + 30 + name_length:at + 30 + name_length + extra_length]
        assert int.from_bytes(extra[:2], "little") == 1


class SizedReader:
    """A minimal binary reader that records its reads: ``read``, ``seek``, ``tell``;
    ``seekable`` only if asked for."""

    def __init__(self, data, seekable):
        self.buffer, self.sizes = io.BytesIO(data), []
        if seekable:
            self.seekable = lambda: True

    def read(self, n=-1):
        self.sizes.append(n)
        return self.buffer.read(n)

    def seek(self, offset, whence=io.SEEK_SET):
        return self.buffer.seek(offset, whence)

    def tell(self):
        return self.buffer.tell()


def test_a_seekable_reader_is_read_in_place_and_one_without_seekable_is_read_whole():
    buffer = io.BytesIO()
    save({"w": np.arange(4.0), "step": 3}, buffer)
    seekable = SizedReader(buffer.getvalue(), seekable=True)
    state = load(seekable)
    np.testing.assert_array_equal(state["w"], [0.0, 1.0, 2.0, 3.0])
    assert state["step"] == 3
    assert len(seekable.sizes) > 1 and any(n >= 0 for n in seekable.sizes)  # zipfile's reads
    stream = SizedReader(buffer.getvalue(), seekable=False)
    state = load(stream)
    np.testing.assert_array_equal(state["w"], [0.0, 1.0, 2.0, 3.0])
    assert stream.sizes == [-1]


def test_file_objects_without_the_method_are_refused_naming_the_operation():
    with pytest.raises(TypeError) as info:
        save({"w": np.ones(2)}, object())
    assert str(info.value) == ("save: got a object; expected a path (str or os.PathLike) or a "
                               "binary file object opened with 'wb'")
    with pytest.raises(TypeError) as info:
        load(3)
    assert str(info.value) == ("load: got a int; expected a path (str or os.PathLike) or a "
                               "binary file object opened with 'rb'")
