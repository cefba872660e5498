"""mg.save_safetensors / mg.load_safetensors: NumPy-only round trips, clear errors, and state
dicts that move between minigrad and PyTorch in both directions."""
import os

import numpy as np
import pytest

import minigrad as mg
from models.resnet import BasicBlock, ResNet

pytest.importorskip("safetensors", reason="safetensors files need the 'tools' extra")


def _resnet(seed):
    mg.manual_seed(seed)
    model = ResNet(BasicBlock, layers=(1, 1), in_channels=1, width=4, num_classes=3)
    rng = np.random.default_rng(seed)
    for name, buffer in model.named_buffers():  # statistics that a trained model would have
        if name.endswith("running_mean"):
            buffer.data[...] = rng.normal(0, 0.5, buffer.shape)
        elif name.endswith("running_var"):
            buffer.data[...] = rng.uniform(0.5, 2.0, buffer.shape)
    return model.eval()


def test_round_trip_keeps_names_dtypes_shapes_and_values(tmp_path):
    state = _resnet(0).state_dict()
    path = tmp_path / "resnet.safetensors"
    mg.save_safetensors(state, path)
    loaded = mg.load_safetensors(path)
    assert set(loaded) == set(state)
    for name, value in state.items():
        assert isinstance(loaded[name], mg.Tensor)
        assert loaded[name].dtype == value.dtype and loaded[name].shape == value.shape
        np.testing.assert_array_equal(loaded[name].numpy(), value.numpy())
    assert loaded["bn1.num_batches_tracked"].dtype == np.int64


def test_loaded_model_computes_the_same(tmp_path):
    source, target = _resnet(0), _resnet(1)
    x = mg.randn(2, 1, 8, 8)
    mg.save_safetensors(source.state_dict(), tmp_path / "w.safetensors")
    target.load_state_dict(mg.load_safetensors(tmp_path / "w.safetensors"))
    with mg.no_grad():
        np.testing.assert_array_equal(target(x).numpy(), source(x).numpy())


def test_arrays_and_metadata(tmp_path):
    from safetensors import safe_open
    path = str(tmp_path / "a.safetensors")
    mg.save_safetensors({"a": np.arange(6, dtype=np.int32).reshape(2, 3)[:, ::2],
                         "b": np.array([True, False])}, path, metadata={"format": "np"})
    loaded = mg.load_safetensors(path)
    np.testing.assert_array_equal(loaded["a"].numpy(), [[0, 2], [3, 5]])
    assert loaded["b"].dtype == np.bool_
    with safe_open(path, framework="numpy") as f:
        assert f.metadata() == {"format": "np"}


def test_bad_input_is_a_clear_error(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match="expected a dict"):
        mg.save_safetensors([np.ones(2)], path)
    with pytest.raises(TypeError, match="every key must be a str, got 3"):
        mg.save_safetensors({3: np.ones(2)}, path)
    with pytest.raises(TypeError, match="'w' is a list; expected a Tensor"):
        mg.save_safetensors({"w": [1.0]}, path)
    with pytest.raises(ValueError, match="'c' has dtype complex128"):
        mg.save_safetensors({"c": np.ones(2, dtype=complex)}, path)
    with pytest.raises(TypeError, match="metadata must map str to str"):
        mg.save_safetensors({"w": np.ones(2)}, path, metadata={"n": 1})
    assert not path.exists()
    assert os.listdir(tmp_path) == []  # no temporary file left behind
    with pytest.raises(FileNotFoundError, match="no file at"):
        mg.load_safetensors(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{junk")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        mg.load_safetensors(tmp_path / "junk.safetensors")


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    from safetensors import numpy as st_numpy
    path = tmp_path / "w.safetensors"
    mg.save_safetensors({"w": np.ones(3)}, path)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(st_numpy, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        mg.save_safetensors({"w": np.zeros(3)}, path)
    np.testing.assert_array_equal(mg.load_safetensors(path)["w"].numpy(), np.ones(3))
    assert os.listdir(tmp_path) == ["w.safetensors"]


def _torch_resnet(torch):
    """PyTorch twin of ResNet(BasicBlock, (1, 1), in_channels=1, width=4, num_classes=3),
    with torchvision's module names, written out here (torchvision is not required)."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, cin, planes, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or cin != planes:
                self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                                nn.BatchNorm2d(planes))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(4)
            self.relu = nn.ReLU()
            self.layer1 = nn.Sequential(Block(4, 4, 1))
            self.layer2 = nn.Sequential(Block(4, 8, 2))
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer2(self.layer1(x))
            return self.fc(x.mean(dim=(2, 3)))

    return Net().eval()


def test_minigrad_to_pytorch_and_back_vs_torch(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch is the other side of the exchange")
    from safetensors.torch import load_file, save_file
    x = np.random.default_rng(3).standard_normal((2, 1, 8, 8)).astype(np.float32)
    ours = _resnet(0)
    mg.save_safetensors(ours.state_dict(), tmp_path / "from_minigrad.safetensors")
    theirs = _torch_resnet(torch)
    theirs.load_state_dict(load_file(str(tmp_path / "from_minigrad.safetensors")))
    with mg.no_grad(), torch.no_grad():
        expected = ours(mg.tensor(x)).numpy()
        np.testing.assert_allclose(theirs(torch.from_numpy(x)).numpy(), expected, rtol=1e-5,
                                   atol=1e-5)
    # the reverse: PyTorch's own (different) weights into a fresh minigrad model
    torch.manual_seed(7)
    theirs = _torch_resnet(torch)
    for module in theirs.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    save_file(theirs.state_dict(), str(tmp_path / "from_torch.safetensors"))
    ours = _resnet(5)
    ours.load_state_dict(mg.load_safetensors(tmp_path / "from_torch.safetensors"))
    with mg.no_grad(), torch.no_grad():
        np.testing.assert_allclose(ours(mg.tensor(x)).numpy(),
                                   theirs(torch.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-5)


def test_load_to_the_cpu(tmp_path):
    path = tmp_path / "w.safetensors"
    mg.save_safetensors({"w": np.arange(3.0)}, path)
    assert mg.load_safetensors(path, device="cpu")["w"].device == "cpu"


def test_load_to_the_gpu(tmp_path):
    if not mg.cuda.is_available():
        pytest.skip("no GPU here: device='cuda' is checked where one is present")
    path = tmp_path / "w.safetensors"
    mg.save_safetensors({"w": np.arange(3.0)}, path)
    on_gpu = mg.load_safetensors(path, device="cuda")["w"]
    assert on_gpu.device.startswith("cuda")
    np.testing.assert_array_equal(on_gpu.numpy(), np.arange(3.0))
