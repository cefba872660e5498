"""save/load's less travelled branches: keys that cannot name a zip member, a temporary name
already taken, a folder that cannot be synced, file objects without ``flush``, and the lies a
crafted file can tell that the other hostile-file tests do not tell."""
import io
import os
import stat
import struct
import zipfile

import numpy as np
import pytest

import minigrad as mg
from minigrad import serialization
from minigrad.serialization import load, save
from minigrad.serialization_read import _read_exactly


def npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def craft(path, members):
    """A stored zip of ``members``, a list of ``(name, bytes)`` (a name may repeat)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members:
            zf.writestr(name, content)
    return path


def refused(path, message):
    with pytest.raises(ValueError) as info:
        load(path)
    assert str(info.value) == message


def test_a_key_that_is_not_utf8_is_saved_in_the_layout(tmp_path):
    """A lone surrogate cannot name a zip member, so the dict goes through ``__tree__`` and
    comes back with the same key."""
    key = "w\ud800"
    path = tmp_path / "odd.npz"
    save({key: np.arange(3.0), "b": np.ones(2)}, path)
    with np.load(path) as npz:
        assert sorted(npz.files) == ["__array_0", "__array_1", "__tree__"]
    state = load(path)
    assert list(state) == [key, "b"]
    np.testing.assert_array_equal(state[key], [0.0, 1.0, 2.0])


def test_a_taken_temporary_name_is_skipped(tmp_path, monkeypatch):
    names = iter(["aaaa", "bbbb"])
    monkeypatch.setattr(serialization.secrets, "token_hex", lambda n: next(names))
    taken = tmp_path / ".model.npz.aaaa.tmp"
    taken.write_bytes(b"someone else's")
    save({"w": np.ones(2)}, tmp_path / "model.npz")
    np.testing.assert_array_equal(load(tmp_path / "model.npz")["w"], [1.0, 1.0])
    assert taken.read_bytes() == b"someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.npz.aaaa.tmp", "model.npz"]


def test_save_gives_up_after_a_hundred_taken_temporary_names(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization.secrets, "token_hex", lambda n: "aaaa")
    (tmp_path / ".model.npz.aaaa.tmp").write_bytes(b"")
    with pytest.raises(FileExistsError) as info:
        save({"w": np.ones(2)}, tmp_path / "model.npz")
    assert str(info.value) == f"save: could not create a temporary file in {str(tmp_path)!r}"
    assert not (tmp_path / "model.npz").exists()


def test_a_folder_that_cannot_be_opened_or_synced_is_no_error(tmp_path, monkeypatch):
    """Syncing the folder makes the rename durable where the system allows it; where it does
    not (Windows, some network file systems), the checkpoint is still written."""
    assert serialization._fsync_folder(str(tmp_path / "missing")) is None
    real_fsync = os.fsync
    refused_folders = []

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            refused_folders.append(fd)
            raise OSError("fsync of a folder is not supported here")
        real_fsync(fd)

    monkeypatch.setattr(serialization.os, "fsync", fsync)
    save({"w": np.arange(4)}, tmp_path / "model.npz")
    monkeypatch.undo()
    assert len(refused_folders) == 1
    with pytest.raises(OSError):  # the folder's descriptor was closed all the same
        os.fstat(refused_folders[0])
    np.testing.assert_array_equal(load(tmp_path / "model.npz")["w"], [0, 1, 2, 3])


def test_save_to_a_file_object_needs_write_and_flush():
    """zipfile flushes the object while closing the archive, so one without ``flush`` is
    refused before anything is written (it used to fail half-way with an AttributeError)."""
    class Sink:
        def __init__(self):
            self.parts = []

        def write(self, data):
            self.parts.append(bytes(data))
            return len(data)

    class FlushedSink(Sink):
        flushes = 0

        def flush(self):
            self.flushes += 1

    sink = Sink()
    with pytest.raises(TypeError) as info:
        save({"w": mg.tensor([1.5, 2.5])}, sink)
    assert str(info.value) == ("save: got a Sink; expected a path (str or os.PathLike) or a "
                               "binary file object opened with 'wb'")
    assert sink.parts == []
    sink = FlushedSink()
    save({"w": mg.tensor([1.5, 2.5])}, sink)
    assert sink.flushes >= 1
    state = load(io.BytesIO(b"".join(sink.parts)))
    assert isinstance(state["w"], mg.Tensor)
    np.testing.assert_array_equal(state["w"].numpy(), np.array([1.5, 2.5], dtype=np.float32))


def test_members_claiming_more_bytes_together_than_the_file_holds(tmp_path):
    path = craft(tmp_path / "lies.npz", [("a.npy", npy(np.zeros(8))), ("b.npy", npy(np.ones(8)))])
    raw = bytearray(path.read_bytes())
    size = len(raw)
    start = 0
    for _ in range(2):  # each central directory entry claims most of the file
        start = raw.index(b"PK\x01\x02", start)
        struct.pack_into("<I", raw, start + 20, size - 10)
        start += 4
    path.write_bytes(bytes(raw))
    refused(path, f"load: {str(path)!r} is corrupt: its members claim more bytes than the "
                  f"file's {size}")


def test_an_entry_stored_twice_is_refused(tmp_path):
    with pytest.warns(UserWarning, match="Duplicate name"):
        path = craft(tmp_path / "twice.npz", [("a.npy", npy([1.0])), ("a.npy", npy([2.0]))])
    refused(path, f"load: {str(path)!r} holds the entry 'a' twice")


def test_read_exactly_stops_at_a_short_member():
    """The guard that keeps a short read from looping forever (zipfile raises EOFError first
    on a truncated archive, so it is checked here directly)."""
    assert _read_exactly(io.BytesIO(b"abcd"), 4, "w", "f.npz") == bytearray(b"abcd")
    with pytest.raises(ValueError) as info:
        _read_exactly(io.BytesIO(b"abc"), 5, "w", "f.npz")
    assert str(info.value) == ("load: 'f.npz' is truncated or corrupt at entry 'w': it holds 3 "
                               "of the 5 data bytes its header declares")


@pytest.mark.parametrize("member, why", [
    (b"\x93NUMPY\x09\x00" + b"\x00" * 8, "unknown .npy format version (9, 0)"),
    (b"\x93NUMPY\x02\x00\x10\x00", "the header is cut short"),
    (b"\x93NUMPY\x02\x00" + struct.pack("<I", 100000) + b" " * 16,
     "a header of 100000 bytes; a .npy header holds a few dozen"),
])
def test_npy_headers_that_lie_are_refused(tmp_path, member, why):
    path = craft(tmp_path / "bad.npz", [("w.npy", member)])
    refused(path, f"load: {str(path)!r}: entry 'w' is not a .npy array that can be read "
                  f"without pickle ({why})")


def test_a_tensor_list_that_is_not_text_is_refused(tmp_path):
    path = craft(tmp_path / "bad.npz", [("__tensors__.npy", npy(np.array([1, 2], np.int32))),
                                        ("w.npy", npy([1.0]))])
    refused(path, f"load: {str(path)!r} has a malformed __tensors__ member (it is int32 of "
                  "shape (2,), expected the bytes of a JSON text (uint8, 1-D))")
