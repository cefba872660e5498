"""save / load: bit-exact round trips, key order, atomic replacement, and refused files."""
import os
import pickle
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import backend
from minigrad.serialization import load, save

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8,
          np.bool_]


def _random_bits(dtype, shape, seed=0):
    """An array whose bytes are random: for floats that includes NaN payloads, infs, -0.0."""
    dtype = np.dtype(dtype)
    raw = np.random.default_rng(seed).integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize,
                                               dtype=np.uint8)
    if dtype == np.bool_:
        raw = raw % 2  # only 0 and 1 are valid bools
    return raw.view(dtype).reshape(shape)


def same(a, b):
    """Whether ``b`` is ``a`` come back exactly: same types (a Tensor as a CPU Tensor with its
    requires_grad), same keys in the same order, same dtypes and bytes; NaN equals NaN."""
    if type(a) is not type(b) and not (isinstance(a, dict) and type(b) is dict):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, mg.Tensor):
        return (b.device == "cpu" and a.requires_grad == b.requires_grad
                and same(backend.to_numpy(a.data), b.data))
    if isinstance(a, (np.ndarray, np.generic)):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, float):
        return a == b or (a != a and b != b)
    return a == b


def _files_in(folder):
    return sorted(os.listdir(folder))


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_is_bit_exact(tmp_path, dtype):
    state = {"tensor": mg.tensor(_random_bits(dtype, (4, 5), seed=1)),
             "array": _random_bits(dtype, (3, 2, 2), seed=2),
             "scalar": _random_bits(dtype, (), seed=3),
             "empty": np.zeros((0, 3), dtype=dtype)}
    path = tmp_path / "ckpt.npz"
    save(state, path)
    back = load(path)
    assert list(back) == list(state)
    assert isinstance(back["tensor"], mg.Tensor) and back["tensor"].device == "cpu"
    assert not back["tensor"].requires_grad
    for key, value in state.items():
        expected = value.data if isinstance(value, mg.Tensor) else value
        got = back[key].data if key == "tensor" else back[key]
        assert type(got) is np.ndarray
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert got.tobytes() == expected.tobytes()


@given(st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1,
                        max_size=12), min_size=1, max_size=8, unique=True),
       hnp.arrays(st.sampled_from(DTYPES[:-1]), hnp.array_shapes(min_dims=0, max_dims=3)))
def test_key_order_and_names_are_kept(tmp_path_factory, keys, array):
    path = tmp_path_factory.mktemp("ckpt") / "state.npz"
    state = {key: array + i if array.dtype != np.bool_ else array for i, key in enumerate(keys)}
    save(state, path)
    back = load(path)
    assert list(back) == keys
    for key in keys:
        assert back[key].tobytes() == np.asarray(state[key]).tobytes()


def test_numpy_reads_the_file_too(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"w": np.arange(6.0).reshape(2, 3), "b": np.ones(3, np.float32)}, path)
    with np.load(path, allow_pickle=False) as archive:
        assert archive.files == ["w", "b"]
        np.testing.assert_array_equal(archive["w"], np.arange(6.0).reshape(2, 3))


def test_numpy_savez_files_load(tmp_path):
    path = tmp_path / "np.npz"
    np.savez_compressed(path, a=np.arange(5), b=np.eye(2, dtype=np.float16))
    back = load(path)
    assert list(back) == ["a", "b"] and back["b"].dtype == np.float16
    np.testing.assert_array_equal(back["a"], np.arange(5))


def test_numbers_and_nested_dicts_come_back_as_they_were(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"step": 7, "lr": 0.1, "done": False, "half": np.float16(1.5),
          "model": {"fc": {"weight": np.ones((2, 2))}, "bias": np.zeros(2)}}, path)
    back = load(path)
    assert list(back) == ["step", "lr", "done", "half", "model"]
    assert type(back["step"]) is int and back["step"] == 7
    assert type(back["lr"]) is float and back["lr"] == 0.1
    assert back["done"] is False
    assert type(back["half"]) is np.float16 and back["half"] == 1.5
    assert list(back["model"]) == ["fc", "bias"] and list(back["model"]["fc"]) == ["weight"]
    np.testing.assert_array_equal(back["model"]["fc"]["weight"], np.ones((2, 2)))


def test_non_contiguous_and_fortran_arrays(tmp_path):
    base = np.arange(24, dtype=np.int32).reshape(4, 6)
    state = {"strided": base[::2, ::3], "fortran": np.asfortranarray(base), "t": base.T}
    save(state, tmp_path / "c.npz")
    back = load(tmp_path / "c.npz")
    for key in state:
        np.testing.assert_array_equal(back[key], state[key])


def test_object_arrays_are_refused_and_leave_no_file(tmp_path):
    with pytest.raises(TypeError, match=r"obj\['a'\] has dtype object, which needs pickle"):
        save({"a": np.array([object()])}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match=r"obj\[1\]\['w'\] has dtype object"):
        save([0, {"w": np.array([None, 1])}], tmp_path / "x.npz")
    assert _files_in(tmp_path) == []


@pytest.mark.parametrize("state", [{"": np.zeros(1)}, {"a.b": np.zeros(1), "a": {"b": np.ones(1)}},
                                   {"a\x00b": np.zeros(1)}, {"m": {"\udc80": np.zeros(1)}},
                                   {"a/b": np.arange(2), "\u00e9t\u00e9": np.ones(1)}])
def test_keys_that_cannot_name_a_zip_member_round_trip_through_the_layout(tmp_path, state):
    save(state, tmp_path / "x.npz")
    assert same(load(tmp_path / "x.npz"), state)


def test_a_module_or_another_object_is_refused_naming_its_type(tmp_path):
    from layers import Linear
    with pytest.raises(TypeError, match=r"obj is a Linear, .*save its state_dict\(\) instead"):
        save(Linear(2, 3), tmp_path / "x.npz")
    with pytest.raises(TypeError, match=r"obj\['net'\]\[0\] is a Linear"):
        save({"net": [Linear(2, 3)]}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match=r"obj\['a'\] is a set; a checkpoint holds Tensors"):
        save({"a": {1, 2}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match=r"obj\[0\] is a bytes"):
        save([b"raw"], tmp_path / "x.npz")
    with pytest.raises(TypeError, match="a key inside obj is the float 1.5; checkpoint keys "
                                        "are str or int"):
        save({1.5: 0}, tmp_path / "x.npz")
    assert _files_in(tmp_path) == []


def test_too_deep_or_self_containing_objects_are_refused(tmp_path):
    deep = 0
    for _ in range(101):
        deep = [deep]
    with pytest.raises(ValueError, match="nests deeper than 100 levels"):
        save(deep, tmp_path / "x.npz")
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="nests deeper than 100 levels"):
        save({"loop": loop}, tmp_path / "x.npz")
    assert _files_in(tmp_path) == []
    save(deep[0], tmp_path / "ok.npz")  # 100 levels is the limit, and loads
    assert load(tmp_path / "ok.npz") == deep[0]


def test_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({"a": np.zeros(1)}, tmp_path / "absent" / "x.npz")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save({"a": np.zeros(1)}, tmp_path)
    with pytest.raises(TypeError, match="got a int; expected a path .* opened with 'wb'"):
        save({"a": np.zeros(1)}, 3)
    with pytest.raises(TypeError, match="got a NoneType; expected a path .* opened with 'rb'"):
        load(None)


def test_overwrite_replaces_the_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"a": np.zeros(3)}, path)
    save({"b": np.ones(2)}, path)
    assert list(load(path)) == ["b"]
    assert _files_in(tmp_path) == ["ckpt.npz"]


def test_crash_mid_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save({"weight": np.arange(4.0)}, path)
    before = path.read_bytes()
    real_write = np.lib.format.write_array
    calls = []

    def crash_on_second_entry(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            fp.write(b"\x93NUMPY half an array")  # some bytes reach the temporary file
            raise OSError("disk full")
        return real_write(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", crash_on_second_entry)
    with pytest.raises(OSError, match="disk full"):
        save({"weight": np.full(1000, 9.0), "bias": np.zeros(10), "extra": np.ones(3)}, path)
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert _files_in(tmp_path) == ["ckpt.npz"]
    np.testing.assert_array_equal(load(path)["weight"], np.arange(4.0))


def test_interrupt_before_rename_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save({"weight": np.arange(4.0)}, path)
    before = path.read_bytes()
    synced = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))

    def interrupted(src, dst):
        assert os.path.getsize(src) > 0 and synced  # complete and synced before the rename
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save({"weight": np.zeros(4)}, path)
    assert path.read_bytes() == before
    assert _files_in(tmp_path) == ["ckpt.npz"]


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.9, 0.999])
def test_truncated_file_is_refused(tmp_path, keep):
    path = tmp_path / "ckpt.npz"
    save({"weight": np.arange(1000.0), "bias": np.ones(10)}, path)
    content = path.read_bytes()
    path.write_bytes(content[:int(len(content) * keep)])
    with pytest.raises(ValueError, match="truncated") as info:
        load(path)
    assert str(path) in str(info.value)


def test_corrupt_member_is_refused(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"weight": np.zeros(1000)}, path)
    content = bytearray(path.read_bytes())
    content[500] ^= 0xFF  # inside the stored array: the zip's CRC no longer matches
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="truncated or corrupt at entry 'weight'"):
        load(path)


def test_encrypted_member_is_refused(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"weight": np.zeros(4)}, path)
    content = bytearray(path.read_bytes())
    central = content.index(b"PK\x01\x02")
    content[central + 8] |= 0x01  # general-purpose flag bit 0: "this member is encrypted"
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="entry 'weight' uses a zip feature"):
        load(path)


def test_foreign_files_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(ValueError, match="not an .npz checkpoint") as info:
        load(text)
    assert str(text) in str(info.value)

    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"weight": np.zeros(3)}))
    with pytest.raises(ValueError, match="not an .npz checkpoint"):
        load(pickled)

    with_objects = tmp_path / "objects.npz"
    np.savez(with_objects, fine=np.zeros(2), code=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="entry 'code' is not a .npy array that can be read "
                                         "without pickle"):
        load(with_objects)

    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="holds 'readme.txt', expected only .npy members"):
        load(other_zip)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint file at .*missing.npz"):
        load(tmp_path / "missing.npz")


@pytest.mark.skipif(backend.cupy() is None, reason="needs CuPy and a CUDA device")
def test_cuda_tensors_are_saved_from_the_host(tmp_path):
    weight = mg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), device="cuda")
    save({"weight": weight, "raw": weight.data}, tmp_path / "gpu.npz")
    back = load(tmp_path / "gpu.npz")
    assert isinstance(back["weight"], mg.Tensor) and back["weight"].device == "cpu"
    assert type(back["raw"]) is np.ndarray
    for value in (back["weight"].data, back["raw"]):
        np.testing.assert_array_equal(value, np.arange(6).reshape(2, 3))
    on_gpu = load(tmp_path / "gpu.npz", map_location="cuda")
    assert on_gpu["weight"].device == "cuda:0" and type(on_gpu["raw"]) is np.ndarray


def test_training_checkpoint_with_optimizer_state_resumes_exactly(tmp_path):
    """A whole checkpoint (model, optimizer with int keys/tuples/None, epoch) round-trips
    and resuming from it gives the same trajectory as never stopping."""
    import minigrad as mg
    from optim import Adam
    from optim.lr_scheduler import StepLR

    def step(w, opt, sched):
        opt.zero_grad()
        ((w * w * w).sum() + (w * 2).sum()).backward()
        opt.step()
        sched.step()

    def fresh():
        w = mg.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
        opt = Adam([w], lr=0.1, betas=(0.8, 0.99), amsgrad=True)
        return w, opt, StepLR(opt, step_size=2, gamma=0.5)

    w, opt, sched = fresh()
    for _ in range(3):
        step(w, opt, sched)
    path = tmp_path / "ckpt.npz"
    mg.save({"w": w, "optim": opt.state_dict(), "sched": sched.state_dict(), "epoch": 3,
             "note": None}, path)
    for _ in range(4):
        step(w, opt, sched)

    loaded = mg.load(path)
    assert loaded["epoch"] == 3 and loaded["note"] is None
    assert isinstance(loaded["optim"]["param_groups"][0]["betas"], tuple)
    w2, opt2, sched2 = fresh()
    w2.data[...] = loaded["w"]
    opt2.load_state_dict(loaded["optim"])
    sched2.load_state_dict(loaded["sched"])
    for _ in range(4):
        step(w2, opt2, sched2)
    np.testing.assert_array_equal(w2.numpy(), w.numpy())


@pytest.mark.parametrize("state", [{"a": [1, 2]}, {"a": None}, {"a": "text"},
                                   {1: np.zeros(1)}, {"m": {2: np.arange(3), "t": (1.5, None)}}])
def test_containers_and_plain_values_round_trip_as_a_tree(tmp_path, state):
    path = tmp_path / "tree.npz"
    save(state, path)
    back = load(path)
    assert list(back) == list(state)
    assert same(state, back)
