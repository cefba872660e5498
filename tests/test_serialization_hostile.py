"""mg.load on crafted files: every lie a file can tell about its sizes or its layout is a
ValueError naming the path, raised before memory is set aside; and saving cannot produce a
file that does not load, nor break the file's permissions or symlinks."""
import io
import json
import os
import stat
import struct
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad.serialization import load, save


def npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_with_header(header, data):
    """A .npy member whose header dict is ``header`` (a str), version 1.0, then ``data``."""
    text = header.encode("latin1")
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data


def craft(path, members, method=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return path


def layout_file(path, tree, arrays=(), raw_tree=None):
    text = raw_tree if raw_tree is not None else json.dumps(tree)
    members = {"__tree__.npy": npy(np.frombuffer(text.encode(), dtype=np.uint8))}
    members.update((f"__array_{i}.npy", npy(a)) for i, a in enumerate(arrays))
    return craft(path, members)


def refused(path, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        load(path)
    assert str(path) in str(info.value)


def test_a_header_claiming_a_huge_shape_is_refused_before_allocating(tmp_path):
    # 10**12 float64 would be 8 TB; the member holds 8 bytes.
    member = npy_with_header("{'descr': '<f8', 'fortran_order': False, "
                             "'shape': (1000000000000,), }", b"\x00" * 8)
    refused(craft(tmp_path / "huge.npz", {"w.npy": member}),
            r"entry 'w' declares shape \(1000000000000,\) of float64 \(8000000000000 bytes\)")


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(0, 10 ** 6), min_size=0, max_size=4),
       held=st.integers(0, 64))
def test_any_header_that_disagrees_with_its_member_is_refused(tmp_path_factory, shape, held):
    count = int(np.prod(shape)) * 4
    if count == held:
        held += 4
    member = npy_with_header(f"{{'descr': '<f4', 'fortran_order': False, "
                             f"'shape': {tuple(shape)}, }}", b"\x01" * held)
    path = craft(tmp_path_factory.mktemp("h") / "x.npz", {"w.npy": member})
    refused(path, "declares shape")


@pytest.mark.parametrize("header, fragment", [
    ("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", "needs pickle"),
    ("{'descr': '<f8', 'fortran_order': 'yes', 'shape': (1,), }", "fortran_order"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", "not a tuple of sizes"),
    ("{'descr': '<f8', 'fortran_order': False, 'shape': [2], }", "not a tuple of sizes"),
    ("{'descr': '<f8', 'shape': (1,), }", "malformed header"),
    ("__import__('os')", "malformed header"),
])
def test_malformed_npy_headers_are_refused(tmp_path, header, fragment):
    refused(craft(tmp_path / "x.npz", {"w.npy": npy_with_header(header, b"\x00" * 8)}),
            fragment)


def test_a_member_named_npy_that_is_not_npy_is_refused(tmp_path):
    refused(craft(tmp_path / "x.npz", {"w.npy": b"hello, world"}), "magic string")


def test_a_zip_bomb_like_member_is_refused_from_its_declared_size(tmp_path):
    path = craft(tmp_path / "bomb.npz", {"w.npy": npy(np.zeros(1000))},
                 method=zipfile.ZIP_DEFLATED)
    content = bytearray(path.read_bytes())
    # Claim ~4 GiB uncompressed, in both the local header and the central directory.
    local, central = content.index(b"PK\x03\x04"), content.index(b"PK\x01\x02")
    content[local + 22:local + 26] = struct.pack("<I", 0xFFFFFFF0)
    content[central + 24:central + 28] = struct.pack("<I", 0xFFFFFFF0)
    path.write_bytes(bytes(content))
    refused(path, "more than its compression can give")


def test_a_member_claiming_more_bytes_than_the_file_is_refused(tmp_path):
    path = craft(tmp_path / "x.npz", {"w.npy": npy(np.zeros(10))})
    content = bytearray(path.read_bytes())
    central = content.index(b"PK\x01\x02")
    content[central + 20:central + 24] = struct.pack("<I", 10 ** 9)
    path.write_bytes(bytes(content))
    refused(path, "claims 1000000000 bytes")


def test_other_compression_methods_are_refused(tmp_path):
    path = craft(tmp_path / "x.npz", {"w.npy": npy(np.zeros(10))}, method=zipfile.ZIP_BZIP2)
    refused(path, "compression method 12")


def nested(depth):
    node = {"value": 1}
    for _ in range(depth):
        node = {"list": [node]}
    return node


@pytest.mark.parametrize("tree, arrays, fragment", [
    (nested(150), (), "nests deeper than 100"),
    ({"dict": [[1]]}, (), "not \\[key, node\\] pairs"),
    ({"dict": [[None, {"value": 1}]]}, (), "not \\[key, node\\] pairs"),
    ({"list": 3}, (), "without a list of nodes"),
    ({"array": 1}, (np.zeros(2),), "refers to array 1, but the file holds arrays 0 to 0"),
    ({"array": True}, (np.zeros(2),), "refers to array True"),
    ({"blob": 1}, (), "unknown type 'blob'"),
    ({"value": {"a": 1}}, (), "holds the value"),
    ({"value": 1, "list": []}, (), "expected a node"),
    ([1, 2], (), "expected a node"),
    ({"tensor": 0}, (np.zeros(2),), r"body 0 is not \[array number, requires_grad\]"),
    ({"tensor": [0, 1]}, (np.zeros(2),), "is not \\[array number, requires_grad\\]"),
    ({"tensor": [3, False]}, (np.zeros(2),), "refers to array 3"),
    ({"tensor": [0, True]}, (np.arange(2),), "int64 tensor that requires grad"),
    ({"scalar": 0}, (np.zeros(2),), r"obj is a scalar whose array has shape \(2,\)"),
    ({"scalar": -1}, (np.zeros(()),), "refers to array -1"),
])
def test_malformed_layouts_are_refused(tmp_path, tree, arrays, fragment):
    refused(layout_file(tmp_path / "x.npz", tree, arrays), fragment)


def test_a_deep_json_text_is_refused(tmp_path):
    refused(layout_file(tmp_path / "x.npz", None, raw_tree="[" * 100000 + "]" * 100000),
            "malformed checkpoint layout")


def test_layout_members_of_the_wrong_type_are_refused(tmp_path):
    path = craft(tmp_path / "x.npz", {"__tree__.npy": npy(np.zeros(3))})
    refused(path, "expected the bytes of a JSON text")
    path = layout_file(tmp_path / "y.npz", {"value": 1})
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("weights.npy", npy(np.zeros(2)))
    refused(path, r"besides the layout it holds \['weights'\]")


@pytest.mark.parametrize("state", [{"__tree__": np.arange(3)},
                                   {"__tree__": {"value": 1}, "w": np.ones(2)},
                                   {"__array_0": np.zeros(2), "__tree__": 7}])
def test_a_key_named_like_the_layout_is_stored_and_loads_back(tmp_path, state):
    save(state, tmp_path / "x.npz")
    back = load(tmp_path / "x.npz")
    assert list(back) == list(state)
    for key, value in state.items():
        if isinstance(value, dict):
            assert back[key] == value
        else:
            np.testing.assert_array_equal(back[key], value)


def test_saving_over_a_file_keeps_its_permission_bits(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"a": np.zeros(2)}, path)
    os.chmod(path, 0o640)
    save({"a": np.ones(2)}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    np.testing.assert_array_equal(load(path)["a"], np.ones(2))


def test_saving_through_a_symlink_writes_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "ckpt.npz"
    save({"a": np.zeros(2)}, target)
    link = tmp_path / "latest.npz"
    link.symlink_to(target)
    save({"a": np.ones(3)}, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(load(target)["a"], np.ones(3))
    assert sorted(os.listdir(tmp_path / "real")) == ["ckpt.npz"]
    dangling = tmp_path / "new.npz"
    dangling.symlink_to(tmp_path / "real" / "fresh.npz")
    save({"b": np.zeros(1)}, dangling)
    assert dangling.is_symlink() and list(load(tmp_path / "real" / "fresh.npz")) == ["b"]


def test_empty_and_directory_paths_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="the path is ''"):
        save({"a": np.zeros(1)}, "")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save({"a": np.zeros(1)}, tmp_path)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save({"a": np.zeros(1)}, str(tmp_path / "missing") + os.sep)
    assert os.listdir(tmp_path) == []


def test_mg_save_and_load_are_the_hardened_ones(tmp_path):
    member = npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (10**9,), }",
                             b"")
    with pytest.raises(ValueError):
        mg.load(craft(tmp_path / "x.npz", {"w.npy": member}))


@pytest.mark.parametrize("listing, fragment", [
    ('["w", "v"]', r"malformed __tensors__ member \(it is \['w', 'v'\], expected a list"),
    ('["w", "w"]', "expected a list of distinct entry names"),
    ('{"w": 1}', "expected a list of distinct entry names"),
    ('[', "malformed __tensors__ member"),
])
def test_a_malformed_tensor_listing_is_refused(tmp_path, listing, fragment):
    members = {"__tensors__.npy": npy(np.frombuffer(listing.encode(), dtype=np.uint8)),
               "w.npy": npy(np.zeros(2))}
    refused(craft(tmp_path / "x.npz", members), fragment)
