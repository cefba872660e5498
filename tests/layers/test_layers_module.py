"""Module mechanics: registration, naming, modes, hooks, device/dtype moves, state dicts, repr."""
import collections
import copy

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import parse_device
from layers import (BatchNorm2d, Conv2d, Dropout, Linear, Module, Parameter, ReLU, Sequential,
                    IncompatibleKeys)


class Block(Module):
    """A conv + norm block with a persistent and a non-persistent buffer."""

    def __init__(self):
        super().__init__()
        self.conv = Conv2d(2, 3, 3, padding=1)
        self.bn = BatchNorm2d(3)
        self.register_buffer("scale", mg.tensor([2.0]))
        self.register_buffer("cache", mg.zeros(4), persistent=False)

    def forward(self, x):
        return self.bn(self.conv(x)).relu() * self.scale


class Net(Module):
    def __init__(self):
        super().__init__()
        self.features = Sequential(Block(), Dropout(0.5))
        self.head = Linear(3 * 4 * 4, 5)
        self.tied = Linear(5, 5)
        self.tied_again = Linear(5, 5)
        self.tied_again.weight = self.tied.weight  # the same Parameter in two layers

    def forward(self, x):
        h = self.head(self.features(x).flatten(1))
        return self.tied_again(self.tied(h))


def test_named_parameters_nested_and_shared_once():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == ["features.0.conv.weight", "features.0.conv.bias", "features.0.bn.weight",
                     "features.0.bn.bias", "head.weight", "head.bias", "tied.weight",
                     "tied.bias", "tied_again.bias"]
    params = list(net.parameters())
    assert len(params) == len({id(p) for p in params}) == 9
    assert net.tied_again.weight is net.tied.weight
    assert [n for n, _ in net.named_parameters(recurse=False)] == []
    assert [n for n, _ in net.head.named_parameters(prefix="head")] == ["head.weight",
                                                                         "head.bias"]


def test_named_modules_children_and_buffers():
    net = Net()
    assert [n for n, _ in net.named_modules()] == [
        "", "features", "features.0", "features.0.conv", "features.0.bn", "features.1",
        "head", "tied", "tied_again"]
    assert [n for n, _ in net.named_children()] == ["features", "head", "tied", "tied_again"]
    shared = Linear(2, 2)
    twice = Sequential(shared, ReLU(), shared)
    assert len(list(twice.modules())) == 3
    assert len(list(twice.parameters())) == 2
    assert [n for n, _ in net.named_buffers()] == [
        "features.0.scale", "features.0.cache", "features.0.bn.running_mean",
        "features.0.bn.running_var", "features.0.bn.num_batches_tracked"]


def test_state_dict_names_order_and_persistence():
    net = Net()
    state = net.state_dict()
    assert isinstance(state, collections.OrderedDict)
    assert list(state) == [
        "features.0.scale", "features.0.conv.weight", "features.0.conv.bias",
        "features.0.bn.weight", "features.0.bn.bias", "features.0.bn.running_mean",
        "features.0.bn.running_var", "features.0.bn.num_batches_tracked", "head.weight",
        "head.bias", "tied.weight", "tied.bias", "tied_again.weight", "tied_again.bias"]
    assert "features.0.cache" not in state
    w = state["head.weight"]
    assert not isinstance(w, Parameter) and not w.requires_grad
    assert np.shares_memory(w.data, net.head.weight.data)
    assert state["features.0.bn.num_batches_tracked"].dtype == np.int64
    assert net.state_dict(keep_vars=True)["head.weight"] is net.head.weight


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    mg.manual_seed(0)
    net = Net()
    x = mg.randn(2, 2, 4, 4)
    net.train()
    net(x)  # moves the running statistics away from their initial values
    net.eval()
    expected = net(x).numpy()
    path = tmp_path / "net.npz"
    mg.save(net.state_dict(), path)
    fresh = Net().eval()
    assert not np.allclose(fresh(x).numpy(), expected)
    result = fresh.load_state_dict(mg.load(path))
    assert result == IncompatibleKeys([], [])
    np.testing.assert_array_equal(fresh(x).numpy(), expected)
    assert fresh.features[0].bn.num_batches_tracked.item() == 1
    assert fresh.tied_again.weight is fresh.tied.weight


def test_load_state_dict_copies_in_place_and_casts():
    layer = Linear(3, 2)
    weight, array = layer.weight, layer.weight.data
    new = {"weight": np.arange(6, dtype=np.float64).reshape(2, 3),
           "bias": mg.tensor([1.0, -1.0])}
    layer.load_state_dict(new)
    assert layer.weight is weight and layer.weight.data is array
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.numpy(), new["weight"])
    np.testing.assert_array_equal(layer.bias.numpy(), [1.0, -1.0])


def test_load_state_dict_strict_errors_name_every_problem():
    net = Sequential(Linear(4, 3), ReLU(), Linear(3, 2))
    before = net[0].weight.numpy().copy()
    state = {k: v.numpy() for k, v in net.state_dict().items()}
    del state["2.bias"]
    state["0.weight"] = np.ones((4, 3), np.float32)
    state["extra.weight"] = np.ones(2, np.float32)
    state["1.weight"] = np.ones(2, np.float32)
    with pytest.raises(ValueError) as info:
        net.load_state_dict(state)
    message = str(info.value)
    assert "'2.bias'" in message and "missing" in message
    assert "'extra.weight'" in message and "'1.weight'" in message and "unexpected" in message
    assert "0.weight" in message and "(4, 3)" in message and "(3, 4)" in message
    np.testing.assert_array_equal(net[0].weight.numpy(), before)  # nothing was copied


def test_load_state_dict_non_strict_reports_keys_but_shapes_still_raise():
    net = Sequential(Linear(4, 3), Linear(3, 2))
    state = {"0.weight": np.full((3, 4), 0.5, np.float32), "junk": np.zeros(1)}
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert missing == ["0.bias", "1.weight", "1.bias"] and unexpected == ["junk"]
    np.testing.assert_array_equal(net[0].weight.numpy(), np.full((3, 4), 0.5))
    with pytest.raises(ValueError, match=r"size mismatch for 0.weight.*\(4, 3\).*\(3, 4\)"):
        net.load_state_dict({"0.weight": np.zeros((4, 3))}, strict=False)
    with pytest.raises(TypeError, match="0.bias"):
        net.load_state_dict({"0.bias": [1.0, 2.0, 3.0]}, strict=False)


def test_train_eval_propagate_to_every_module():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.features.train()
    assert net.features[1].training and not net.head.training
    with pytest.raises(TypeError):
        net.train("yes")


def test_forward_hook_replaces_output_and_handle_removes_it():
    layer = Linear(3, 2)
    x = mg.randn(4, 3)
    seen = []

    def record(module, inputs, output):
        seen.append((module, inputs[0].shape, output.shape))

    def zero_out(module, inputs, output):
        return output * 0

    handle_record = layer.register_forward_hook(record)
    handle_zero = layer.register_forward_hook(zero_out)
    np.testing.assert_array_equal(layer(x).numpy(), np.zeros((4, 2)))
    assert seen == [(layer, (4, 3), (4, 2))]
    handle_zero.remove()
    handle_zero.remove()  # removing twice is harmless
    assert np.abs(layer(x).numpy()).sum() > 0
    assert len(seen) == 2
    handle_record.remove()
    layer(x)
    assert len(seen) == 2


def test_forward_pre_hook_replaces_inputs():
    layer = Linear(3, 2)
    x = mg.randn(4, 3)
    with layer.register_forward_pre_hook(lambda module, inputs: inputs[0] * 0):
        np.testing.assert_allclose(layer(x).numpy(), np.broadcast_to(layer.bias.numpy(), (4, 2)))
    assert not layer._forward_pre_hooks


def test_hooks_see_the_layers_of_a_model():
    net = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    shapes = {}
    handles = [m.register_forward_hook(
        lambda m, i, o, name=name: shapes.__setitem__(name, o.shape))
        for name, m in net.named_children()]
    net(mg.randn(5, 3))
    assert shapes == {"0": (5, 4), "1": (5, 4), "2": (5, 2)}
    for h in handles:
        h.remove()


def test_registration_errors():
    class Early(Module):
        def __init__(self):
            self.w = Parameter(mg.zeros(2))

    with pytest.raises(AttributeError, match=r"super\(\)\.__init__\(\)"):
        Early()
    layer = Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        layer.weight = mg.zeros(2, 2)
    with pytest.raises(ValueError, match="no '.'"):
        layer.register_buffer("a.b", mg.zeros(1))
    with pytest.raises(ValueError, match="already exists"):
        layer.register_buffer("weight", mg.zeros(1))
    with pytest.raises(TypeError, match="expected a Tensor"):
        layer.register_buffer("stats", np.zeros(2))
    with pytest.raises(TypeError, match="expected a Parameter"):
        layer.register_parameter("extra", mg.zeros(2))
    with pytest.raises(TypeError, match="expected a Module"):
        Sequential().add_module("x", 3)
    with pytest.raises(NotImplementedError, match="forward"):
        Module()(mg.zeros(1))


def test_attribute_reassignment_and_deletion():
    layer = Linear(2, 2)
    layer.bias = None
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    layer.bias = Parameter(mg.ones(2))
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    del layer.bias
    assert "bias" not in layer.state_dict()
    with pytest.raises(AttributeError, match="bias"):
        layer.bias
    layer.note = "plain attributes stay plain"
    assert layer.note == "plain attributes stay plain" and "note" not in layer.state_dict()
    bn = BatchNorm2d(2)
    bn.running_mean = mg.tensor([1.0, 2.0])
    assert bn.state_dict()["running_mean"].tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="buffer 'running_mean'"):
        bn.running_mean = np.zeros(2)
    seq = Sequential(Linear(1, 1))
    with pytest.raises(TypeError, match="sub-module '0'"):
        setattr(seq, "0", 5)


def test_zero_grad_requires_grad_and_apply():
    net = Sequential(Linear(3, 2), Linear(2, 1))
    net(mg.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net[0].requires_grad_(False)
    net(mg.randn(4, 3)).sum().backward()
    assert net[0].weight.grad is None and net[1].weight.grad is not None
    visited = []
    assert net.apply(lambda m: visited.append(type(m).__name__)) is net
    assert visited == ["Linear", "Linear", "Sequential"]


def test_to_dtype_keeps_parameter_identity_and_int_buffers():
    net = Sequential(Linear(3, 2), BatchNorm2d(2))
    params = list(net.parameters())
    net[0](mg.randn(4, 3)).sum().backward()
    assert net.double() is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net[0].weight.grad.dtype == np.float64
    assert net[1].running_mean.dtype == np.float64
    assert net[1].num_batches_tracked.dtype == np.int64
    net.to("float32")
    assert all(p.dtype == np.float32 for p in params)
    net.to("cpu", dtype=np.float64)
    assert net[0].weight.dtype == np.float64 and net[0].weight.device == "cpu"
    with pytest.raises(TypeError, match="floating-point"):
        net.to(np.int32)
    with pytest.raises(TypeError, match="device"):
        net.to("gpu0")


def test_optimizer_style_update_survives_to():
    layer = Linear(2, 1)
    held = layer.weight  # what an optimizer built before .to() holds
    layer.double()
    layer(mg.ones(1, 2, dtype=np.float64)).sum().backward()
    with mg.no_grad():
        held -= held.grad * 0.5
    np.testing.assert_allclose(layer.weight.numpy(), held.numpy())


def test_repr_and_summary():
    net = Sequential(Linear(4, 3), ReLU(), Sequential(Linear(3, 2, bias=False)))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=2, bias=False)\n"
        "  )\n"
        ")")
    summary = net.summary()
    assert summary.splitlines()[-1] == ("total: 21 parameters (21 trainable) in 3 tensors; "
                                        "0 buffer entries")
    assert "2.0" in summary and "Linear" in summary
    assert repr(Parameter(mg.tensor([1.0, 2.0]))) == (
        "Parameter containing:\ntensor([1., 2.], requires_grad=True)")


def test_parameter_is_a_leaf_tensor():
    p = Parameter([1.0, 2.0])
    assert p.dtype == np.float32 and p.requires_grad and p.is_leaf
    frozen = Parameter(mg.zeros(2, dtype=np.float64), requires_grad=False)
    assert frozen.dtype == np.float64 and not frozen.requires_grad
    assert type(p * 2) is mg.Tensor
    assert Parameter().shape == (0,)


def test_deepcopy_gives_independent_parameters():
    net = Sequential(Linear(2, 2))
    twin = copy.deepcopy(net)
    assert isinstance(twin[0].weight, Parameter) and twin[0].weight is not net[0].weight
    with mg.no_grad():
        twin[0].weight += 1
    assert not np.allclose(twin[0].weight.numpy(), net[0].weight.numpy())


def test_get_submodule():
    net = Net()
    assert net.get_submodule("features.0.bn") is net.features[0].bn
    assert net.get_submodule("") is net
    with pytest.raises(AttributeError, match="nope"):
        net.get_submodule("features.nope")


def test_to_device_moves_in_place_and_matches_the_cpu(device):
    from layers import AvgPool2d, Embedding, Flatten, LayerNorm, MaxPool2d
    mg.manual_seed(3)
    net = Sequential(Conv2d(2, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2),
                     AvgPool2d(1), Flatten(), Linear(16, 6), LayerNorm(6)).double()
    emb = Embedding(5, 3, padding_idx=0).double()
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4))
    idx = np.array([0, 3, 3])
    expected, expected_emb = net(mg.tensor(x)).numpy(), emb(idx).numpy()
    params = list(net.parameters())
    net.to(device)
    emb.to(device)
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    target = parse_device(device)
    assert all(t.device == target for t in list(net.parameters()) + list(net.buffers()))
    out = net(mg.tensor(x, device=device))
    assert out.device == target
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(emb(idx).numpy(), expected_emb)
    out.sum().backward()
    assert net[0].weight.grad.device == target
    net.cpu()
    assert net[0].weight.grad.device == "cpu" and net[1].running_mean.device == "cpu"
