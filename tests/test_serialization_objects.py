"""save / load with PyTorch's habits: file objects as well as paths, any nesting of containers
(hypothesis-drawn) round-tripping exactly, Tensors back as Tensors, ``map_location=`` and
``weights_only=``, and the same checkpoint shapes as ``torch.save`` / ``torch.load``."""
import io
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import backend
from minigrad.serialization import load, save
from test_serialization import DTYPES, same


def arrays():
    return hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=0, max_dims=3,
                                                               min_side=0, max_side=3))


def leaves():
    floats = st.sampled_from([np.float16, np.float32, np.float64])
    return st.one_of(
        st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(), st.text(),
        arrays(),
        st.sampled_from(DTYPES).flatmap(lambda dtype: hnp.from_dtype(np.dtype(dtype))),
        st.builds(lambda a, rg: mg.tensor(a, requires_grad=rg), hnp.arrays(
            floats, hnp.array_shapes(min_dims=0, max_dims=2)), st.booleans()),
        arrays().map(mg.tensor))


def checkpoints():
    keys = st.one_of(st.text(max_size=6), st.integers(-5, 5))
    return st.recursive(leaves(), lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(obj=checkpoints())
def test_any_nesting_round_trips_exactly_through_a_path(tmp_path_factory, obj):
    path = tmp_path_factory.mktemp("ckpt") / "obj.npz"
    save(obj, path)
    assert same(obj, load(path))


@settings(max_examples=60, deadline=None)
@given(obj=checkpoints(), prefix=st.binary(max_size=20))
def test_any_nesting_round_trips_exactly_through_a_file_object(obj, prefix):
    buffer = io.BytesIO()
    buffer.write(prefix)  # the archive starts where the caller's file stands
    save(obj, buffer)
    end = buffer.tell()
    buffer.seek(len(prefix))
    assert same(obj, load(buffer))
    assert not buffer.closed and buffer.getvalue()[:len(prefix)] == prefix
    assert end == len(buffer.getvalue())


@pytest.mark.parametrize("obj", [np.arange(3.0), mg.tensor([1.0, 2.0], requires_grad=True),
                                 [np.ones(2), "text", None], (1, 2.5), "just text", None, 3,
                                 {"state": {}}, {}, []])
def test_any_top_level_object_round_trips(tmp_path, obj):
    save(obj, tmp_path / "x.npz")
    assert same(obj, load(tmp_path / "x.npz"))


def test_a_tensor_comes_back_a_leaf_with_its_dtype_and_requires_grad(tmp_path):
    w = mg.tensor(np.array([[1.5, -2.0]], dtype=np.float64), requires_grad=True)
    y = (w * 3).sum()
    save({"w": w, "y": y, "i": mg.tensor(np.array([1, 2], dtype=np.int16))}, tmp_path / "x.npz")
    back = load(tmp_path / "x.npz")
    assert back["w"].dtype == np.float64 and back["w"].requires_grad and back["w"].is_leaf
    assert back["y"].requires_grad and back["y"].is_leaf and back["y"].item() == -1.5
    assert back["i"].dtype == np.int16 and not back["i"].requires_grad
    (back["w"] * back["w"]).sum().backward()
    np.testing.assert_array_equal(back["w"].grad.numpy(), [[3.0, -4.0]])


def test_a_state_dict_loads_into_a_fresh_model_from_a_file_object():
    from layers import BatchNorm1d, Linear, Sequential
    net = Sequential(Linear(3, 4), BatchNorm1d(4))
    net(mg.randn(5, 3))  # running statistics move off their initial values
    buffer = io.BytesIO()
    save(net.state_dict(), buffer)
    buffer.seek(0)
    state = load(buffer, map_location="cpu", weights_only=True)
    assert list(state) == list(net.state_dict())
    assert all(isinstance(v, mg.Tensor) for v in state.values())
    fresh = Sequential(Linear(3, 4), BatchNorm1d(4))
    fresh.load_state_dict(state)
    for (name, a), b in zip(net.state_dict().items(), fresh.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_real_files_opened_by_the_caller(tmp_path):
    path = tmp_path / "ckpt.pt"
    with open(path, "wb") as f:
        save({"epoch": 2, "w": mg.ones(2)}, f)
        assert not f.closed
    assert os.listdir(tmp_path) == ["ckpt.pt"]
    with open(path, "rb") as f:
        back = load(f)
        assert not f.closed
    assert back["epoch"] == 2 and back["w"].tolist() == [1.0, 1.0]
    with open(path, "w") as f, pytest.raises(TypeError, match="text mode; a checkpoint is "
                                                              "binary, open it with 'wb'"):
        save({"a": 1}, f)
    with open(path, "r") as f, pytest.raises(TypeError, match="open it with 'rb'"):
        load(f)


class Stream(io.RawIOBase):
    """A read-only binary stream that cannot seek, as a pipe or a socket."""

    def __init__(self, data):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        return self._data.readinto(buffer)


def test_a_stream_that_cannot_seek_is_read_whole():
    buffer = io.BytesIO()
    save({"w": np.arange(4), "t": (1, None)}, buffer)
    back = load(Stream(buffer.getvalue()))
    assert same({"w": np.arange(4), "t": (1, None)}, back)


def test_hostile_checks_apply_to_file_objects_too():
    buffer = io.BytesIO()
    save({"weight": np.arange(1000.0)}, buffer)
    cut = io.BytesIO(buffer.getvalue()[:3000])
    with pytest.raises(ValueError, match="'<BytesIO>' is (not an .npz checkpoint|truncated)"):
        load(cut)
    with pytest.raises(ValueError, match="not an .npz checkpoint"):
        load(io.BytesIO(b"not a zip at all"))


def test_map_location_and_weights_only(tmp_path):
    save([mg.ones(2), np.zeros(1)], tmp_path / "x.npz")
    for weights_only in (None, True, False):
        back = load(tmp_path / "x.npz", map_location="cpu", weights_only=weights_only)
        assert back[0].device == "cpu" and type(back[1]) is np.ndarray
    with pytest.raises(ValueError, match="load: map_location: unknown device 'tpu'"):
        load(tmp_path / "x.npz", map_location="tpu")
    with pytest.raises(TypeError, match="map_location is a dict; expected None or a device"):
        load(tmp_path / "x.npz", map_location={"cuda:0": "cpu"})
    if backend.cupy() is None:
        with pytest.raises(RuntimeError, match="load: map_location: device 'cuda:0' requested "
                                               "but CUDA is not available"):
            load(tmp_path / "x.npz", map_location="cuda")


def test_numpy_reads_a_state_dict_with_its_keys_and_anything_else_by_number(tmp_path):
    save({"w": np.eye(2)}, tmp_path / "plain.npz")
    with np.load(tmp_path / "plain.npz", allow_pickle=False) as archive:
        assert archive.files == ["w"]
    save({"w": mg.tensor(np.eye(2)), "b": np.ones(2)}, tmp_path / "state.npz")
    with np.load(tmp_path / "state.npz", allow_pickle=False) as archive:
        assert archive.files == ["__tensors__", "w", "b"]
        np.testing.assert_array_equal(archive["w"], np.eye(2))
    back = load(tmp_path / "state.npz")
    assert type(back["w"]) is mg.Tensor and type(back["b"]) is np.ndarray
    save({"w": mg.tensor(np.eye(2), requires_grad=True)}, tmp_path / "tree.npz")
    with np.load(tmp_path / "tree.npz", allow_pickle=False) as archive:
        assert archive.files == ["__tree__", "__array_0"]
        np.testing.assert_array_equal(archive["__array_0"], np.eye(2))


def test_checkpoint_round_trips_like_torch_save_vs_torch():
    torch = pytest.importorskip("torch")
    w = np.arange(6, dtype=np.float32).reshape(2, 3)

    def checkpoint(lib, tensor):
        return {"model": {"fc.weight": tensor(w)}, "epoch": 3, "betas": (0.9, 0.999),
                "steps": [1, 2], 4: None, "name": "run"}

    ours, theirs = io.BytesIO(), io.BytesIO()
    save(checkpoint(mg, mg.tensor), ours)
    torch.save(checkpoint(torch, torch.tensor), theirs)
    ours.seek(0)
    theirs.seek(0)
    a = load(ours, map_location="cpu", weights_only=True)
    b = torch.load(theirs, map_location="cpu", weights_only=True)

    def skeleton(obj):
        """Containers, keys and leaf types, with each library's Tensor called 'Tensor'."""
        if isinstance(obj, dict):
            return {k: skeleton(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return type(obj)(map(skeleton, obj))
        if isinstance(obj, (mg.Tensor, torch.Tensor)):
            return ("Tensor", tuple(obj.shape), str(obj.dtype).replace("torch.", ""))
        return obj

    assert skeleton(a) == skeleton(b)
    np.testing.assert_array_equal(a["model"]["fc.weight"].numpy(), b["model"]["fc.weight"].numpy())


def test_mg_save_and_load_take_file_objects_and_pytorchs_keywords():
    buffer = io.BytesIO()
    mg.save({"model": {"w": mg.tensor([1.0, 2.0])}, "epoch": 3}, buffer)
    buffer.seek(0)
    back = mg.load(buffer, map_location="cpu", weights_only=True)
    assert back["epoch"] == 3 and type(back["model"]["w"]) is mg.Tensor
    np.testing.assert_array_equal(back["model"]["w"].numpy(), [1.0, 2.0])
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        mg.load(io.BytesIO(buffer.getvalue()), map_location="tpu")
