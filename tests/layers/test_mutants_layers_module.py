"""What ``layers/module.py``, ``layers/module_state.py`` and ``layers/init.py`` promise, checked
where the rest of the suite did not look: each test fails for a small, realistic change (an
error that names the wrong thing, a registry left stale, a duplicate that is no longer skipped,
a dtype kind accepted that should be refused, a fan or a gain off by a factor), against exact
values or NumPy re-derivations under a fixed seed.
"""
import math

import numpy as np
import pytest

import minigrad as mg
from layers import BatchNorm1d, Linear, Module, Parameter, ReLU, Sequential, init
from layers import module_state


class Leaf(Module):
    """A module with one parameter, one persistent and one non-persistent buffer."""

    def __init__(self, n=2):
        super().__init__()
        self.w = Parameter(mg.tensor(np.arange(n, dtype=np.float32)))
        self.register_buffer("stat", mg.tensor(np.ones(n, dtype=np.float32)))
        self.register_buffer("cache", mg.zeros(n), persistent=False)

    def forward(self, x):
        return x * self.w


class Pair(Module):
    def __init__(self):
        super().__init__()
        self.a = Leaf()
        self.b = Leaf(3)

    def forward(self, x):
        return x


# ---------------------------------------------------------------- registration

def test_register_names_must_be_non_empty_strings_without_dots():
    m = Leaf()
    with pytest.raises(TypeError, match="^parameter name must be a str, got int$"):
        m.register_parameter(3, None)
    with pytest.raises(TypeError, match="^buffer name must be a str, got NoneType$"):
        m.register_buffer(None, None)
    with pytest.raises(ValueError, match="^module name must be non-empty and contain no '.', "
                                         "got ''$"):
        m.add_module("", None)
    with pytest.raises(ValueError, match="^parameter name must be non-empty and contain no '.', "
                                         "got 'a.b'$"):
        m.register_parameter("a.b", None)
    with pytest.raises(ValueError, match="^cannot register the buffer 'forward' on Leaf: an "
                                         "attribute of that name already exists$"):
        m.register_buffer("forward", None)


def test_registering_before_init_names_super_init():
    class Early(Module):
        def __init__(self):
            self.register_buffer("b", mg.zeros(1))

    with pytest.raises(AttributeError, match=r"^cannot register the buffer 'b' before "
                                             r"Module\.__init__\(\) has run: call "
                                             r"super\(\)\.__init__\(\) first$"):
        Early()

    class EarlyModule(Module):
        def __init__(self):
            self.child = Leaf()

    with pytest.raises(AttributeError, match=r"^cannot assign Leaf 'child' before "
                                             r"Module\.__init__\(\)"):
        EarlyModule()

    class Plain(Module):
        def __init__(self):
            self.size = 3          # a plain value before __init__ is an ordinary attribute
            super().__init__()

    assert Plain().size == 3


def test_a_cycle_of_modules_is_walked_once():
    a, b = Leaf(), Leaf(3)
    a.add_module("next", b)
    b.add_module("back", a)
    assert [n for n, _ in a.named_modules()] == ["", "next"]
    assert [n for n, _ in a.named_parameters()] == ["w", "next.w"]
    assert [n for n, _ in a.named_buffers()] == ["stat", "cache", "next.stat", "next.cache"]


def test_forward_must_be_defined_by_the_subclass():
    class NoForward(Module):
        pass

    with pytest.raises(NotImplementedError, match=r"^NoForward has no forward\(\): a subclass of "
                                                  r"Module must define forward\(self, \*inputs\)$"):
        NoForward()(1)


def test_registration_type_errors_name_the_module_and_the_entry():
    m = Leaf()
    with pytest.raises(TypeError, match=r"^cannot register a Tensor as the parameter 'v' of "
                                        r"Leaf: expected a Parameter or None \(wrap it: "
                                        r"Parameter\(tensor\)\)$"):
        m.register_parameter("v", mg.zeros(2))
    with pytest.raises(TypeError, match="^cannot register a list as the buffer 'v' of Leaf: "
                                        "expected a Tensor or None$"):
        m.register_buffer("v", [1.0])
    with pytest.raises(TypeError, match="^cannot add a int as the sub-module 'v' of Leaf: "
                                        "expected a Module or None$"):
        m.add_module("v", 3)


def test_re_registering_a_name_is_allowed_and_none_entries_are_kept():
    m = Leaf()
    new_w = Parameter(mg.ones(2))
    m.register_parameter("w", new_w)                 # same registry: no "already exists"
    assert m.w is new_w
    m.register_parameter("gone", None)
    m.register_buffer("empty", None)
    m.add_module("nothing", None)
    assert m.gone is None and m.empty is None and m.nothing is None
    assert list(m._parameters) == ["w", "gone"]
    assert [n for n, _ in m.named_parameters()] == ["w"]
    assert [n for n, _ in m.named_buffers()] == ["stat", "cache"]
    assert list(m.state_dict()) == ["w", "stat"]
    child = Leaf()
    assert m.register_module("kid", child) is None and m.kid is child
    assert [n for n, _ in m.named_children()] == ["kid"]


def test_buffer_persistence_follows_the_last_registration():
    m = Leaf()
    m.register_buffer("cache", mg.ones(2), persistent=True)
    assert list(m.state_dict()) == ["w", "stat", "cache"]
    m.register_buffer("stat", mg.ones(2), persistent=False)
    assert list(m.state_dict()) == ["w", "cache"]
    del m.stat
    m.register_buffer("stat", mg.ones(2))            # persistent again after deletion
    assert list(m.state_dict()) == ["w", "cache", "stat"]


def test_assigning_moves_a_name_between_registries():
    m = Leaf()
    m.stat = Parameter(mg.ones(2))                   # a buffer becomes a parameter
    assert "stat" not in m._buffers and list(m._parameters) == ["w", "stat"]
    m.cache = Leaf()                                 # a non-persistent buffer becomes a module
    assert "cache" not in m._buffers and "cache" not in m._non_persistent_buffers
    m.register_buffer("cache2", mg.zeros(1), persistent=False)
    m.plain = 1
    m.plain = Parameter(mg.zeros(1))                 # a plain attribute becomes a parameter
    assert "plain" not in m.__dict__ and m.plain.shape == (1,)
    w = Parameter(mg.zeros(2))
    m.w = w                                          # replacing keeps the position
    assert list(m._parameters) == ["w", "stat", "plain"] and m.w is w
    m.w = None
    assert m._parameters["w"] is None and "w" not in m.__dict__
    m.cache = None
    assert m._modules["cache"] is None


def test_assigning_the_wrong_kind_to_a_registered_name():
    m = Pair()
    with pytest.raises(TypeError, match="^cannot assign a Tensor to the sub-module 'a' of Pair: "
                                        "expected a Module or None$"):
        m.a = mg.zeros(1)
    with pytest.raises(TypeError, match="^cannot assign a int to the parameter 'w' of Leaf: "
                                        "expected a Parameter or None$"):
        m.a.w = 1
    with pytest.raises(TypeError, match="^cannot assign a float to the buffer 'stat' of Leaf: "
                                        "expected a Tensor or None$"):
        m.a.stat = 1.0
    m.a.stat = None
    assert m.a._buffers["stat"] is None and "stat" not in m.a.state_dict()
    t = mg.ones(2)
    m.a.stat = t
    assert m.a._buffers["stat"] is t and "stat" not in m.a.__dict__


def test_attribute_lookup_deletion_and_dir():
    m = Pair()
    with pytest.raises(AttributeError, match="^'Pair' object has no attribute 'c'$"):
        m.c
    assert {"a", "b", "forward"} <= set(dir(m)) and dir(m) == sorted(dir(m))
    assert {"w", "stat", "cache"} <= set(dir(m.a))
    del m.a.cache
    assert "cache" not in m.a._buffers and "cache" not in m.a._non_persistent_buffers
    m.a.register_buffer("cache", mg.zeros(2))       # persistent now
    assert "cache" in m.a.state_dict()
    del m.b
    assert [n for n, _ in m.named_children()] == ["a"]
    m.note = 5
    del m.note
    assert not hasattr(m, "note")
    with pytest.raises(AttributeError):
        del m.nothing_here


# ---------------------------------------------------------------- traversal

def test_get_submodule_paths_and_errors():
    net = Sequential(Pair(), Sequential(Linear(1, 1)))
    assert net.get_submodule("") is net
    assert net.get_submodule("0.b") is net[0].b
    assert net.get_submodule("1.0") is net[1][0]
    with pytest.raises(AttributeError, match=r"^Pair has no sub-module 'c' \(looking up "
                                             r"'0\.c'\)$"):
        net.get_submodule("0.c")
    net[0].add_module("gap", None)
    with pytest.raises(AttributeError, match="no sub-module 'gap'"):
        net.get_submodule("0.gap")


def test_named_modules_duplicates_prefix_and_none_children():
    shared = Leaf()
    net = Sequential(shared, ReLU(), shared)
    net.add_module("absent", None)
    net.add_module("last", Leaf())
    assert [n for n, _ in net.named_modules()] == ["", "0", "1", "last"]
    assert [n for n, _ in net.named_modules(remove_duplicate=False)] == ["", "0", "1", "2",
                                                                         "last"]
    assert [n for n, _ in net.named_modules(prefix="net")] == ["net", "net.0", "net.1",
                                                                "net.last"]
    assert [n for n, _ in net.named_children()] == ["0", "1", "last"]
    assert list(net.children()) == [shared, net[1], net.last]
    assert list(net.modules()) == [net, shared, net[1], net.last]
    memo = {id(shared)}
    assert [n for n, _ in net.named_modules(memo=memo)] == ["", "1", "last"]


def test_named_members_recurse_prefix_and_duplicates():
    shared = Leaf()
    net = Sequential(shared, shared)
    net.register_parameter("own", Parameter(mg.zeros(1)))
    assert [n for n, _ in net.named_parameters()] == ["own", "0.w"]
    assert [n for n, _ in net.named_parameters(remove_duplicate=False)] == ["own", "0.w",
                                                                            "1.w"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["own"]
    assert [n for n, _ in net.named_parameters(prefix="m")] == ["m.own", "m.0.w"]
    assert [n for n, _ in net.named_buffers()] == ["0.stat", "0.cache"]
    assert [n for n, _ in net.named_buffers(prefix="m")] == ["m.0.stat", "m.0.cache"]
    assert [n for n, _ in net.named_buffers(remove_duplicate=False)] == [
        "0.stat", "0.cache", "1.stat", "1.cache"]
    assert list(net.buffers(recurse=False)) == []
    assert [id(b) for b in net.buffers()] == [id(shared.stat), id(shared.cache)]
    assert [id(p) for p in net.parameters(recurse=False)] == [id(net.own)]
    # two names for one Parameter inside one module: once by default
    m = Leaf()
    m.v = m.w
    assert [n for n, _ in m.named_parameters()] == ["w"]
    assert [n for n, _ in m.named_parameters(remove_duplicate=False)] == ["w", "v"]


# ---------------------------------------------------------------- modes, grads, apply

def test_train_takes_a_bool_only_and_eval_returns_self():
    net = Pair()
    with pytest.raises(TypeError, match="^train\\(mode\\): mode must be a bool, got int$"):
        net.train(1)
    assert net.eval() is net and not net.a.training and not net.b.training
    assert net.train() is net and net.a.training and net.b.training


def test_requires_grad_defaults_to_true_and_returns_self():
    net = Pair()
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    assert net.requires_grad_() is net
    assert all(p.requires_grad for p in net.parameters())


def test_zero_grad_keeps_missing_grads_missing_and_fills_zeros_in_a_fresh_array():
    net = Sequential(Linear(2, 2), Linear(2, 1))
    net[0].requires_grad_(False)
    net(mg.ones(1, 2)).sum().backward()
    held = net[1].weight.grad
    net.zero_grad(set_to_none=False)
    assert net[0].weight.grad is None
    g = net[1].weight.grad
    assert g is not held and not g.requires_grad and g.shape == (1, 2)
    np.testing.assert_array_equal(g.numpy(), 0)


def test_apply_visits_children_first_and_each_shared_child_once_per_path():
    a, b = Leaf(), Leaf()
    outer = Sequential(Sequential(a), b)
    seen = []
    assert outer.apply(seen.append) is outer
    assert seen == [a, outer[0], b, outer]


# ---------------------------------------------------------------- to and its shortcuts

class Recorder(Leaf):
    def to(self, *args, device=None, dtype=None):
        self.calls = getattr(self, "calls", []) + [(args, device, dtype)]
        return "moved"


def test_device_and_dtype_shortcuts_call_to_with_their_argument():
    m = Recorder()
    assert m.cpu() == "moved" and m.calls[-1] == (("cpu",), None, None)
    assert m.cuda() == "moved" and m.calls[-1] == (("cuda:0",), None, None)
    m.cuda(2)
    assert m.calls[-1] == (("cuda:2",), None, None)
    m.cuda("cuda:1")
    assert m.calls[-1] == (("cuda:1",), None, None)
    m.double(), m.float(), m.half()
    assert [c[0] for c in m.calls[-3:]] == [(np.float64,), (np.float32,), (np.float16,)]


def test_half_float_double_cast_floats_and_keep_int_buffers():
    net = Sequential(Linear(2, 2), BatchNorm1d(2))
    assert net.half() is net
    assert net[0].weight.dtype == np.float16 and net[1].running_var.dtype == np.float16
    assert net[1].num_batches_tracked.dtype == np.int64
    assert net.float() is net and net[0].bias.dtype == np.float32
    assert net.cpu() is net and net[0].weight.device == "cpu"


def test_to_takes_device_and_dtype_from_a_tensor_and_dtype_names():
    net = Leaf()
    ref = mg.zeros(1, dtype=np.float64)
    assert net.to(ref) is net
    assert net.w.dtype == np.float64 and net.stat.dtype == np.float64
    net.to("float16")
    assert net.w.dtype == np.float16
    net.to(dtype="float32", device="cpu")
    assert net.w.dtype == np.float32
    net.to(np.float64, "cpu")                       # any order
    assert net.w.dtype == np.float64
    with pytest.raises(TypeError, match=r"^Module\.to: expected a device \('cpu', 'cuda', "
                                        r"'cuda:N'\) or a dtype, got 'gpu'$"):
        net.to("gpu")
    with pytest.raises(TypeError, match="^Module.to only casts to floating-point dtypes, got "
                                        "int32$"):
        net.to(np.int32)
    with pytest.raises(ValueError, match="unknown device 'bogus'"):
        net.to(device="bogus")
    assert net.w.dtype == np.float64


def test_to_converts_gradients_with_their_tensors():
    net = Linear(2, 1)
    net(mg.ones(3, 2)).sum().backward()
    net.to(np.float64)
    assert net.weight.grad.dtype == np.float64 and net.bias.grad.dtype == np.float64
    np.testing.assert_array_equal(net.weight.grad.numpy(), [[3.0, 3.0]])
    np.testing.assert_array_equal(net.bias.grad.numpy(), [3.0])


def test_to_keeps_values_and_skips_absent_entries():
    net = Leaf()
    net.register_parameter("none_p", None)
    net.register_buffer("none_b", None)
    before = net.w.numpy().copy()
    net.to(np.float64)
    np.testing.assert_array_equal(net.w.numpy(), before)
    assert net.none_p is None and net.none_b is None


# ---------------------------------------------------------------- repr

class Described(Module):
    def __init__(self, extra, children=()):
        super().__init__()
        self._extra = extra
        for name, child in children:
            self.add_module(name, child)

    def extra_repr(self):
        return self._extra


def test_repr_layouts():
    assert repr(Module()) == "Module()"
    assert Module().extra_repr() == ""
    assert repr(Described("k=1")) == "Described(k=1)"
    assert repr(Described("k=1\nj=2")) == "Described(\n  k=1\n  j=2\n)"
    assert repr(Described("", [("c", Described("x"))])) == "Described(\n  (c): Described(x)\n)"
    assert repr(Described("k=1", [("c", Described("x"))])) == (
        "Described(\n  k=1\n  (c): Described(x)\n)")
    nested = Described("", [("c", Described("", [("d", Described("y"))]))])
    assert repr(nested) == ("Described(\n  (c): Described(\n    (d): Described(y)\n  )\n)")


# ---------------------------------------------------------------- state_dict

def test_state_dict_prefix_keep_vars_and_absent_entries():
    net = Pair()
    net.a.register_parameter("none_p", None)
    net.add_module("absent", None)
    state = net.state_dict(prefix="m.")
    assert list(state) == ["m.a.w", "m.a.stat", "m.b.w", "m.b.stat"]
    assert not isinstance(state["m.a.w"], Parameter) and not state["m.a.w"].requires_grad
    assert state["m.a.stat"] is not net.a.stat
    assert np.shares_memory(state["m.a.stat"].data, net.a.stat.data)
    kept = net.state_dict(keep_vars=True)
    assert kept["a.w"] is net.a.w and kept["b.stat"] is net.b.stat
    assert module_state.gather_state(net, "p.")["p.b.w"].shape == (3,)
    direct = module_state.gather_state(net)
    assert list(direct) == ["a.w", "a.stat", "b.w", "b.stat"]
    assert direct["a.w"] is not net.a.w and not direct["a.w"].requires_grad


def test_load_state_dict_accepts_numbers_and_numpy_scalars():
    m = Module()
    m.register_buffer("f", mg.zeros(()))
    m.register_buffer("n", mg.tensor(np.array(0, np.int64)))
    m.register_buffer("flag", mg.tensor(np.array(False)))
    m.load_state_dict({"f": 2.5, "n": 7, "flag": True})
    assert m.f.item() == 2.5 and m.n.item() == 7 and m.flag.item() is True
    m.load_state_dict({"f": np.float32(1.5), "n": np.int32(3), "flag": np.bool_(False)})
    assert m.f.item() == 1.5 and m.n.item() == 3 and m.flag.item() is False
    assert m.n.dtype == np.int64 and m.f.dtype == np.float32


@pytest.mark.parametrize("value", [[1.0, 2.0], "ab", None, {"x": 1}])
def test_load_state_dict_refuses_other_value_types_naming_the_key(value):
    m = Leaf()
    with pytest.raises(TypeError, match=f"^load_state_dict: the value of 'w' is a "
                                        f"{type(value).__name__}; expected a Tensor, an array "
                                        "or a number$"):
        m.load_state_dict({"w": value, "stat": np.ones(2)})


@pytest.mark.parametrize("target_dtype, ok, refused", [
    (np.float32, [np.bool_, np.int8, np.uint8, np.float64], [np.complex64]),
    (np.int64, [np.bool_, np.int16, np.uint16], [np.float32, np.complex64]),
    (np.uint8, [np.bool_, np.int8, np.uint16], [np.float16]),
    (np.bool_, [np.bool_], [np.int8, np.uint8, np.float32]),
])
def test_load_state_dict_dtype_kinds(target_dtype, ok, refused):
    m = Module()
    m.register_buffer("t", mg.tensor(np.zeros(2, target_dtype)))
    for dtype in ok:
        m.load_state_dict({"t": np.ones(2, dtype)})
        assert m.t.dtype == target_dtype
        np.testing.assert_array_equal(m.t.numpy(), np.ones(2, target_dtype))
        m.t.data[...] = 0
    for dtype in refused:
        with pytest.raises(ValueError, match=f"dtype mismatch for t: the checkpoint has dtype "
                                             f"{np.dtype(dtype)}, which cannot be cast safely "
                                             f"into the model's {np.dtype(target_dtype)}"):
            m.load_state_dict({"t": np.ones(2, dtype)})


def test_load_state_dict_refuses_anything_into_a_complex_target():
    m = Module()
    m.register_buffer("t", mg.tensor(np.zeros(2, np.complex64)))
    with pytest.raises(ValueError, match="dtype mismatch for t"):
        m.load_state_dict({"t": np.zeros(2, np.complex64)})


def test_load_state_dict_error_message_layout_and_mapping_check():
    m = Leaf()
    with pytest.raises(ValueError) as info:
        m.load_state_dict({"w": np.zeros(3), "x": np.zeros(1), "y": np.zeros(1)})
    assert str(info.value) == (
        "load_state_dict: cannot load into Leaf:\n"
        "  missing keys: 'stat'\n"
        "  unexpected keys: 'x', 'y'\n"
        "  size mismatch for w: the checkpoint has shape (3,), the model has shape (2,)")
    with pytest.raises(ValueError) as info:
        m.load_state_dict({"x": np.zeros(1)})
    assert str(info.value).splitlines()[1:] == ["  missing keys: 'w', 'stat'",
                                                "  unexpected keys: 'x'"]
    for bad in ([("w", np.zeros(2))], 3, None):
        with pytest.raises(TypeError, match="^load_state_dict: expected a mapping of names to "
                                            f"arrays, got a {type(bad).__name__}$"):
            m.load_state_dict(bad)


def test_load_state_dict_non_strict_returns_the_key_lists_and_loads_the_rest():
    m = Pair()
    result = m.load_state_dict({"a.w": np.array([5.0, 6.0]), "zz": np.zeros(1)}, strict=False)
    assert result == module_state.IncompatibleKeys(["a.stat", "b.w", "b.stat"], ["zz"])
    assert result.missing_keys == ["a.stat", "b.w", "b.stat"]
    assert result.unexpected_keys == ["zz"]
    np.testing.assert_array_equal(m.a.w.numpy(), [5.0, 6.0])
    assert m.load_state_dict(m.state_dict()) == ([], [])


def test_load_state_dict_writes_in_place_and_bumps_the_version():
    m = Leaf()
    view = m.w.data
    version = m.w._version
    m.load_state_dict({"w": mg.tensor([3.0, 4.0]), "stat": np.array([7, 8])})
    assert m.w.data is view and m.w._version == version + 1
    m.load_state_dict({"w": mg.tensor([3.0, 4.0]), "stat": np.array([7, 8])})
    assert m.w._version == version + 2
    np.testing.assert_array_equal(view, [3.0, 4.0])
    np.testing.assert_array_equal(m.stat.numpy(), [7.0, 8.0])
    assert m.stat.dtype == np.float32


# ---------------------------------------------------------------- summary

def test_summary_table_exact_with_shared_frozen_and_buffers():
    shared = Linear(30, 40)
    net = Sequential(shared, BatchNorm1d(40), shared, Linear(40, 2, bias=False))
    net[3].requires_grad_(False)
    assert net.summary() == "\n".join([
        "module  type         parameters",
        "------  -----------  ----------",
        "        Sequential            0",
        "0       Linear             1240",
        "1       BatchNorm1d          80",
        "3       Linear               80",
        "total: 1,400 parameters (1,320 trainable) in 5 tensors; 81 buffer entries"])


def test_summary_counts_a_parameter_shared_between_two_modules_once():
    a, b = Leaf(), Leaf()
    b.w = a.w
    net = Sequential(a, b)
    lines = net.summary().splitlines()
    assert lines[3].split() == ["0", "Leaf", "2"] and lines[4].split() == ["1", "Leaf", "0"]
    assert lines[-1] == "total: 2 parameters (2 trainable) in 1 tensors; 8 buffer entries"


def test_summary_with_an_input_size_runs_the_model():
    net = Sequential(Linear(3, 4), ReLU())
    text = net.summary(input_size=(2, 3))
    assert "(2, 4)" in text


# ---------------------------------------------------------------- init

def _seeded(fill, shape, draw, seed=5, dtype=np.float64):
    t = mg.zeros(*shape, dtype=dtype)
    mg.manual_seed(seed)
    assert fill(t) is t
    mg.manual_seed(seed)
    return t.numpy(), draw()


@pytest.mark.parametrize("name, gain", [
    ("linear", 1.0), ("identity", 1.0), ("conv1d", 1.0), ("conv2d", 1.0), ("conv3d", 1.0),
    ("conv_transpose1d", 1.0), ("conv_transpose2d", 1.0), ("conv_transpose3d", 1.0),
    ("sigmoid", 1.0), ("tanh", 5.0 / 3), ("relu", math.sqrt(2.0)), ("selu", 0.75),
    ("leaky_relu", math.sqrt(2.0 / (1 + 0.01 ** 2)))])
def test_calculate_gain_values(name, gain):
    assert init.calculate_gain(name) == gain


def test_calculate_gain_leaky_relu_slope():
    assert init.calculate_gain("leaky_relu", 0) == math.sqrt(2.0)
    assert init.calculate_gain("leaky_relu", 0.5) == math.sqrt(2.0 / 1.25)
    assert init.calculate_gain("leaky_relu", 3) == math.sqrt(2.0 / 10)
    assert init.calculate_gain("relu", "ignored") == math.sqrt(2.0)
    for bad in (True, "0.1", [0.1]):
        with pytest.raises(ValueError, match=f"^calculate_gain: the negative slope {bad!r} of "
                                             "leaky_relu must be a number$".replace("[", r"\[")
                                             .replace("]", r"\]")):
            init.calculate_gain("leaky_relu", bad)
    with pytest.raises(ValueError) as info:
        init.calculate_gain("swish")
    assert str(info.value) == (
        "calculate_gain: unsupported nonlinearity 'swish'; expected one of linear, identity, "
        "conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d, "
        "sigmoid, tanh, relu, leaky_relu, selu")


def test_fans_and_their_errors():
    assert init.calculate_fan_in_and_fan_out(mg.zeros(3, 4)) == (4, 3)
    assert init.calculate_fan_in_and_fan_out(mg.zeros(3, 4, 2, 5)) == (40, 30)
    assert init.calculate_fan_in_and_fan_out(mg.zeros(2, 3, 4)) == (12, 8)
    with pytest.raises(ValueError, match=r"^calculate_fan_in_and_fan_out: fans are defined for "
                                         r"tensors with at least 2 axes \(out, in, \*kernel\), "
                                         r"got shape \(5,\)$"):
        init.calculate_fan_in_and_fan_out(mg.zeros(5))
    with pytest.raises(TypeError, match="^calculate_fan_in_and_fan_out: expected a Tensor, got "
                                        "ndarray$"):
        init.calculate_fan_in_and_fan_out(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="^kaiming_normal_: mode must be 'fan_in' or 'fan_out', "
                                         "got 'fan'$"):
        init.kaiming_normal_(mg.zeros(2, 2), mode="fan")


@pytest.mark.parametrize("fn", [init.uniform_, init.normal_, init.trunc_normal_,
                                init.xavier_uniform_, init.xavier_normal_,
                                init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_])
def test_random_fills_refuse_integer_tensors_and_non_tensors(fn):
    name = fn.__name__
    with pytest.raises(TypeError, match=f"^{name}: expected a floating-point tensor, got dtype "
                                        "int64$"):
        fn(mg.tensor(np.zeros((2, 2), np.int64)))
    with pytest.raises(TypeError, match=f"^{name}: expected a Tensor, got list$"):
        fn([[0.0]])


def test_uniform_and_normal_edges_and_exact_draws():
    got, want = _seeded(lambda t: init.uniform_(t, 0.5, 0.5), (3,),
                        lambda: np.full(3, 0.5))
    np.testing.assert_array_equal(got, want)                 # a == b is allowed
    got, want = _seeded(lambda t: init.uniform_(t), (4, 3), lambda: np.random.uniform(0, 1, (4, 3)))
    np.testing.assert_array_equal(got, want)
    got, want = _seeded(lambda t: init.normal_(t), (4, 3), lambda: np.random.normal(0, 1, (4, 3)))
    np.testing.assert_array_equal(got, want)
    got, want = _seeded(lambda t: init.normal_(t, 3.0, 0.0), (2,), lambda: np.full(2, 3.0))
    np.testing.assert_array_equal(got, want)                 # std 0 is allowed
    with pytest.raises(ValueError, match=r"^uniform_: expected a <= b, got a=2, b=1$"):
        init.uniform_(mg.zeros(2), 2, 1)
    with pytest.raises(ValueError, match=r"^normal_: std must be >= 0, got -0.5$"):
        init.normal_(mg.zeros(2), 0, -0.5)


def test_fills_cast_to_the_tensor_dtype():
    got, want = _seeded(lambda t: init.normal_(t, 1.0, 2.0), (5, 4),
                        lambda: np.random.normal(1.0, 2.0, (5, 4)).astype(np.float32),
                        dtype=np.float32)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def _rng_state():
    """NumPy's global generator state, comparable with ==: the key words, the position, and
    the Gaussian that the polar method keeps for the next normal draw."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    return name, keys.tobytes(), pos, has_gauss, gauss


def _trunc_reference(shape, mean, std, a, b):
    """The documented sampler, step by step: rounds of int(need / mass * 1.2) + 16 normals."""
    cdf = lambda z: 0.5 * (1 + math.erf((z - mean) / (std * math.sqrt(2))))  # noqa: E731
    mass = cdf(b) - cdf(a)
    need, kept = int(np.prod(shape)), []
    while need > 0:
        draw = np.random.normal(mean, std, int(need / mass * 1.2) + 16)
        inside = draw[(draw >= a) & (draw <= b)][:need]
        kept.append(inside)
        need -= inside.size
    return np.concatenate(kept).reshape(shape)


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (1.0, 2.0, 0.5, 1.5),
                                             (0.0, 1.0, 2.5, 4.0)])
def test_trunc_normal_draws_exactly_the_documented_rejection_sampler(mean, std, a, b):
    shape = (40, 30)
    got, want = _seeded(lambda t: init.trunc_normal_(t, mean, std, a, b), shape,
                        lambda: _trunc_reference(shape, mean, std, a, b))
    np.testing.assert_array_equal(got, want)
    assert got.min() >= a and got.max() <= b
    # the values are the first inside draws whatever the round sizes; the round sizes (from
    # the interval's probability) show in how far the generator has moved
    after_reference = _rng_state()
    mg.manual_seed(5)
    init.trunc_normal_(mg.zeros(*shape, dtype=np.float64), mean, std, a, b)
    assert _rng_state() == after_reference


def test_trunc_normal_defaults_and_errors():
    got, want = _seeded(lambda t: init.trunc_normal_(t), (20, 10),
                        lambda: _trunc_reference((20, 10), 0.0, 1.0, -2.0, 2.0))
    np.testing.assert_array_equal(got, want)
    t = mg.zeros(3)
    with pytest.raises(ValueError, match=r"^trunc_normal_: expected std > 0 and a < b, got "
                                         r"std=0.0, a=-2.0, b=2.0$"):
        init.trunc_normal_(t, std=0.0)
    with pytest.raises(ValueError, match="expected std > 0 and a < b"):
        init.trunc_normal_(t, a=1.0, b=1.0)
    with pytest.raises(ValueError, match=r"^trunc_normal_: \[a, b\] = \[10.0, 11.0\] holds "
                                         r"probability 0.00e\+00 of N\(0.0, 1.0²\); the "
                                         r"rejection sampler would not finish$"):
        init.trunc_normal_(t, a=10.0, b=11.0)
    # a thin interval of mass just above the limit still samples
    init.trunc_normal_(mg.zeros(2), a=4.0, b=4.9)


def test_constant_zeros_ones():
    t = mg.tensor(np.full((2, 2), 5.0))
    assert init.constant_(t, 2.5) is t
    np.testing.assert_array_equal(t.numpy(), 2.5)
    assert init.zeros_(t) is t and not t.numpy().any()
    assert init.ones_(t) is t
    np.testing.assert_array_equal(t.numpy(), 1.0)
    with pytest.raises(TypeError, match="^constant_: expected a Tensor, got ndarray$"):
        init.constant_(np.zeros(2), 1.0)


@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3)])
def test_xavier_defaults_exact(shape):
    fan_in, fan_out = init.calculate_fan_in_and_fan_out(mg.zeros(*shape))
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    got, want = _seeded(init.xavier_uniform_, shape,
                        lambda: np.random.uniform(-bound, bound, shape))
    np.testing.assert_allclose(got, want, rtol=1e-13)
    got, want = _seeded(init.xavier_normal_, shape,
                        lambda: np.random.normal(0, math.sqrt(2.0 / (fan_in + fan_out)), shape))
    np.testing.assert_allclose(got, want, rtol=1e-13)


@pytest.mark.parametrize("fn", [init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_])
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (2, 0, 3)])
def test_empty_tensors_are_returned_untouched(fn, shape):
    t = mg.zeros(*shape)
    mg.manual_seed(1)
    state = _rng_state()
    kwargs = {"mode": "fan_out"} if fn is not init.orthogonal_ else {}
    assert fn(t, **kwargs) is t and t.shape == shape
    if fn is not init.orthogonal_:
        assert fn(t) is t
    assert _rng_state() == state                                      # nothing drawn


def _orthogonal_reference(shape, gain):
    rows = shape[0]
    cols = int(np.prod(shape)) // rows
    flat = np.random.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape)


@pytest.mark.parametrize("shape, gain", [((5, 3), 1.0), ((3, 5), 2.0), ((2, 3, 2), 0.5),
                                         ((4, 4), 1.5)])
def test_orthogonal_exact_and_orthonormal(shape, gain):
    got, want = _seeded(lambda t: init.orthogonal_(t, gain) if gain != 1.0
                        else init.orthogonal_(t), shape, lambda: _orthogonal_reference(shape, gain))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    flat = got.reshape(shape[0], -1) / gain
    small = min(flat.shape)
    gram = flat @ flat.T if flat.shape[0] == small else flat.T @ flat
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)
    with pytest.raises(ValueError, match=r"^orthogonal_: expected at least 2 axes, got shape "
                                         r"\(3,\)$"):
        init.orthogonal_(mg.zeros(3))


def test_default_linear_init_exact_and_zero_fan_in():
    w, b = mg.zeros(4, 3, dtype=np.float64), mg.zeros(4, dtype=np.float64)
    mg.manual_seed(9)
    assert init.default_linear_init_(w, b) is w
    mg.manual_seed(9)
    bound = 1 / math.sqrt(3)
    np.testing.assert_allclose(w.numpy(), np.random.uniform(-bound, bound, (4, 3)), rtol=1e-13)
    np.testing.assert_allclose(b.numpy(), np.random.uniform(-bound, bound, 4), rtol=1e-13)
    w = mg.zeros(4, 3, dtype=np.float64)
    mg.manual_seed(9)
    init.default_linear_init_(w)
    mg.manual_seed(9)
    np.testing.assert_allclose(w.numpy(), np.random.uniform(-bound, bound, (4, 3)), rtol=1e-13)
    empty_w, bias = mg.zeros(4, 0), mg.ones(4)
    init.default_linear_init_(empty_w, bias)
    np.testing.assert_array_equal(bias.numpy(), 0.0)


def test_summary_passes_input_size_dtype_and_device_on(monkeypatch):
    import layers.summary
    seen = []
    monkeypatch.setattr(layers.summary, "summarize_shapes",
                        lambda module, size, dtype=None, device=None:
                        seen.append((module, size, dtype, device)) or "table")
    net = Leaf()
    assert net.summary((2, 2), dtype=np.float64, device="cpu") == "table"
    assert seen == [(net, (2, 2), np.float64, "cpu")]


def test_call_passes_keyword_arguments_with_and_without_hooks():
    class Scale(Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    assert m(mg.tensor([2.0]), factor=3.0).item() == 6.0
    handle = m.register_forward_pre_hook(lambda mod, args: None)
    assert m(mg.tensor([2.0]), factor=4.0).item() == 8.0
    handle.remove()
    handle = m.register_forward_hook(lambda mod, args, out: out + 1)
    assert m(mg.tensor([2.0]), factor=0.5).item() == 2.0
    handle.remove()
    assert m(mg.tensor([2.0])).item() == 2.0


def test_kaiming_on_a_single_entry_and_its_mode_error():
    got, want = _seeded(lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), (1, 1),
                        lambda: np.random.uniform(-math.sqrt(6.0), math.sqrt(6.0), (1, 1)))
    np.testing.assert_allclose(got, want, rtol=1e-13)
    got, want = _seeded(lambda t: init.kaiming_normal_(t, nonlinearity="relu"), (1, 1),
                        lambda: np.random.normal(0, math.sqrt(2.0), (1, 1)))
    np.testing.assert_allclose(got, want, rtol=1e-13)
    with pytest.raises(ValueError, match="^kaiming_uniform_: mode must be 'fan_in' or "
                                         "'fan_out', got 'in'$"):
        init.kaiming_uniform_(mg.zeros(2, 2), mode="in")


def test_trunc_normal_of_a_single_entry():
    got, want = _seeded(lambda t: init.trunc_normal_(t, 0.0, 1.0, -0.5, 0.5), (1,),
                        lambda: _trunc_reference((1,), 0.0, 1.0, -0.5, 0.5))
    np.testing.assert_array_equal(got, want)
    assert -0.5 <= got[0] <= 0.5
    after_reference = _rng_state()
    mg.manual_seed(5)
    init.trunc_normal_(mg.zeros(1, dtype=np.float64), 0.0, 1.0, -0.5, 0.5)
    assert _rng_state() == after_reference


def test_load_state_dict_function_is_strict_by_default():
    m = Leaf()
    with pytest.raises(ValueError, match="missing keys: 'stat'"):
        module_state.load_state_dict(m, {"w": np.zeros(2)})
    assert module_state.load_state_dict(m, {"w": np.zeros(2)}, strict=False) == (["stat"], [])


def test_default_linear_init_with_one_input_uses_bound_one():
    w, b = mg.zeros(3, 1, dtype=np.float64), mg.zeros(3, dtype=np.float64)
    mg.manual_seed(2)
    init.default_linear_init_(w, b)
    mg.manual_seed(2)
    np.testing.assert_allclose(w.numpy(), np.random.uniform(-1.0, 1.0, (3, 1)), rtol=1e-13)
    np.testing.assert_allclose(b.numpy(), np.random.uniform(-1.0, 1.0, 3), rtol=1e-13)


def test_to_cuda_strings_are_devices():
    """'cuda' and 'cuda:N' name devices, never dtypes: without a GPU the move is refused as
    such, with one the tensors move."""
    net = Leaf()
    if mg.cuda.is_available():
        net.to("cuda")
        assert net.w.device == "cuda:0"
        return
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        net.to("cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        net.to("cuda:1")


def test_to_the_same_dtype_and_device_keeps_each_array():
    """Nothing to convert, nothing copied: a view of a parameter's array stays its view."""
    net = Linear(2, 2)
    net(mg.ones(1, 2)).sum().backward()
    arrays = [net.weight.data, net.bias.data, net.weight.grad.data]
    net.to(np.float32)
    net.to("cpu")
    assert all(a is b for a, b in zip([net.weight.data, net.bias.data, net.weight.grad.data],
                                      arrays))
