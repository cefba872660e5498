"""The optimizer core, pinned down exactly: the ``Optimizer`` base class (groups, ``step``,
``zero_grad``, ``repr`` and every error text), the state dict's packing and its checks before
loading (``optim/optimizer_state.py``), and the defaults and edge cases of Adadelta, Adamax,
NAdam and RAdam. Each test asserts exact values or exact messages, so that a changed constant,
comparison or message fails it."""
import re
import types

import numpy as np
import pytest

import minigrad as mg
from optim import SGD, Adadelta, Adam, Adamax, AdamW, NAdam, Optimizer, RAdam
from optim.optimizer_state import ParamState, copy_value


def leaf(values, dtype=np.float64):
    return mg.tensor(np.array(values, dtype=dtype), requires_grad=True)


def exactly(message):
    """A ``match`` pattern that accepts ``message`` and nothing else."""
    return "^" + re.escape(message) + "$"


class Descent(Optimizer):
    """Plain gradient descent with a step counter: the smallest rule the hooks allow."""

    required_state = ("step", "velocity")
    optional_state = ("extra",)

    def __init__(self, params, lr=0.1, pair=(1.0, 2.0), flag=False, sizes=[3, 4], name="d"):
        super().__init__(params, dict(lr=lr, pair=pair, flag=flag, sizes=sizes, name=name))

    def check_group(self, group):
        if group["lr"] < 0:
            raise ValueError(f"Descent: negative lr {group['lr']}")

    def init_state(self, state, param, group):
        state["step"] = 0
        state["velocity"] = np.zeros_like(param)

    def update(self, param, grad, state, group):
        state["step"] += 1
        state["velocity"] = grad.copy()
        param -= group["lr"] * grad


# --- optimizer.py: construction --------------------------------------------------------------

def test_every_construction_error_text():
    w, b = leaf([1.0, 2.0]), leaf([[0.5]])
    cases = [
        (lambda: Descent(w), TypeError,
         "Descent: params must be an iterable of Tensors or of dicts (e.g. model.parameters() "
         "or [w, b]), got a single Tensor"),
        (lambda: Descent({"params": [w]}), TypeError,
         "Descent: params must be an ordered iterable of Tensors or dicts, got a dict (its order "
         "is not reproducible)"),
        (lambda: Descent({w}), TypeError,
         "Descent: params must be an ordered iterable of Tensors or dicts, got a set (its order "
         "is not reproducible)"),
        (lambda: Descent([]), ValueError, "Descent: got an empty parameter list"),
        (lambda: Descent([{"params": [w]}, [b]]), TypeError,
         "Descent: a parameter group must be a dict, got list"),
        (lambda: Descent([{"lr": 0.1, "a": 1}]), ValueError,
         "Descent: a parameter group needs a 'params' entry, got keys ['a', 'lr']"),
        (lambda: Descent([{"params": {w}}]), TypeError,
         "Descent: the 'params' of a group must be an ordered iterable, got a set (its order is "
         "not reproducible)"),
        (lambda: Descent([w, np.zeros(2)]), TypeError,
         "Descent: parameter 1 of a group is a ndarray, expected a Tensor"),
        (lambda: Descent([w, b * 2]), ValueError,
         "Descent: parameter 1 (shape (1, 1)) is not a leaf Tensor; an optimizer can only "
         "update leaves (use .detach())"),
        (lambda: Descent([w, b, w]), ValueError,
         "Descent: a parameter group lists the same Tensor more than once"),
        (lambda: Descent([{"params": [w]}, {"params": [b, w]}]), ValueError,
         "Descent: some parameters appear in more than one parameter group"),
        (lambda: Descent([{"params": [w], "lr": -1.0}]), ValueError, "Descent: negative lr -1.0"),
    ]
    for make, error, message in cases:
        with pytest.raises(error, match=exactly(message)):
            make()


def test_a_generator_of_tensors_and_a_single_tensor_group_are_accepted():
    w, b = leaf([1.0, 2.0]), leaf([3.0])
    optimizer = Descent(p for p in [w, b])
    assert len(optimizer.param_groups) == 1
    assert optimizer.param_groups[0]["params"][0] is w
    assert optimizer.param_groups[0]["params"][1] is b
    single = Descent([{"params": w, "lr": 0.5}])
    assert isinstance(single.param_groups[0]["params"], list)
    assert single.param_groups[0]["params"][0] is w and len(single.param_groups[0]["params"]) == 1
    w.grad = mg.tensor(np.array([1.0, -2.0]))
    single.step()
    np.testing.assert_array_equal(w.numpy(), [0.5, 3.0])


def test_groups_take_the_defaults_they_do_not_set_and_keep_the_rest():
    w, b = leaf([1.0]), leaf([2.0])
    optimizer = Descent([{"params": [w]}, {"params": (b,), "lr": 0.5, "flag": True}], lr=0.1)
    first, second = optimizer.param_groups
    assert {k: v for k, v in first.items() if k != "params"} == dict(
        lr=0.1, pair=(1.0, 2.0), flag=False, sizes=[3, 4], name="d")
    assert {k: v for k, v in second.items() if k != "params"} == dict(
        lr=0.5, pair=(1.0, 2.0), flag=True, sizes=[3, 4], name="d")
    assert optimizer.defaults == dict(lr=0.1, pair=(1.0, 2.0), flag=False, sizes=[3, 4], name="d")
    defaults_given = {"lr": 0.1}
    plain = Optimizer([leaf([0.0])], defaults_given)
    defaults_given["lr"] = 9.0  # the optimizer keeps its own copy
    assert plain.defaults == {"lr": 0.1} and plain.param_groups[0]["lr"] == 0.1
    group = {"params": [leaf([0.0])], "lr": 0.25}
    optimizer.add_param_group(group)
    assert set(group) == {"params", "lr"}  # the caller's dict is not filled in
    assert optimizer.param_groups[2]["flag"] is False and optimizer.param_groups[2]["lr"] == 0.25


def test_repr_lists_each_group_and_its_options_in_key_order():
    optimizer = Descent([{"params": [leaf([1.0])]}, {"params": [leaf([2.0])], "lr": 0.5}])
    assert repr(optimizer) == "\n".join([
        "Descent (",
        "Parameter Group 0",
        "    flag: False", "    lr: 0.1", "    name: d", "    pair: (1.0, 2.0)",
        "    sizes: [3, 4]",
        "Parameter Group 1",
        "    flag: False", "    lr: 0.5", "    name: d", "    pair: (1.0, 2.0)",
        "    sizes: [3, 4]",
        ")"])


# --- optimizer.py: step, zero_grad, check_gradients ------------------------------------------

def test_the_base_update_is_abstract():
    w = leaf([1.0])
    optimizer = Optimizer([w], {"lr": 0.1})
    w.grad = mg.tensor(np.array([1.0]))
    with pytest.raises(NotImplementedError):
        optimizer.step()
    assert optimizer.check_group({"lr": 0.1}) is None
    assert optimizer.check_state("where", {}) is None
    state = {}
    assert optimizer.init_state(state, w.data, optimizer.param_groups[0]) is None
    assert state == {}


def test_step_creates_state_once_skips_parameters_without_gradient_and_bumps_versions():
    w, b = leaf([1.0, 2.0]), leaf([3.0])
    optimizer = Descent([w, b], lr=0.5)
    versions = (w._version, b._version)
    w.grad = mg.tensor(np.array([1.0, -1.0]))
    assert optimizer.step() is None
    np.testing.assert_array_equal(w.numpy(), [0.5, 2.5])
    np.testing.assert_array_equal(b.numpy(), [3.0])
    assert w in optimizer.state and b not in optimizer.state
    assert optimizer.state[w]["step"] == 1
    assert (w._version, b._version) == (versions[0] + 1, versions[1])
    w.grad = mg.tensor(np.array([2.0, 0.0]))
    b.grad = mg.tensor(np.array([4.0]))
    optimizer.step()
    assert optimizer.state[w]["step"] == 2 and optimizer.state[b]["step"] == 1
    np.testing.assert_array_equal(optimizer.state[w]["velocity"], [2.0, 0.0])
    np.testing.assert_array_equal(w.numpy(), [-0.5, 2.5])
    np.testing.assert_array_equal(b.numpy(), [1.0])
    assert (w._version, b._version) == (versions[0] + 2, versions[1] + 1)


def test_a_graph_saved_between_two_steps_is_refused_after_the_second():
    w = leaf([1.0, 2.0])
    optimizer = Descent([w], lr=0.1)
    w.grad = mg.tensor(np.array([1.0, 1.0]))
    optimizer.step()
    loss = (w * w).sum()  # saves w as it is after the first step
    optimizer.step()
    with pytest.raises(RuntimeError):
        loss.backward()


def test_the_closure_runs_with_grad_on_and_its_loss_is_returned():
    w = leaf([1.0, -1.0])
    optimizer = Descent([w], lr=0.25)
    seen = []

    def closure():
        seen.append(mg.is_grad_enabled())
        loss = (w * w).sum()
        w.grad = None
        loss.backward()
        return loss

    with mg.no_grad():
        loss = optimizer.step(closure)
    assert seen == [True]
    assert loss.item() == 2.0
    np.testing.assert_array_equal(w.numpy(), [0.5, -0.5])


def test_a_gradient_of_another_shape_is_refused_before_anything_moves():
    w, b = leaf([1.0, 2.0]), leaf([3.0])
    optimizer = Descent([w, b], lr=0.5)
    w.grad = mg.tensor(np.array([1.0, 1.0]))
    b.grad = mg.tensor(np.array([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=exactly(
            "Descent: the gradient of a parameter has shape (3,) but the parameter has "
            "shape (1,)")):
        optimizer.step()
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    assert len(optimizer.state) == 0


def test_zero_grad_drops_or_zeroes_and_leaves_missing_gradients_missing():
    w, b, c = leaf([1.0, 2.0]), leaf([3.0]), leaf([4.0])
    optimizer = Descent([{"params": [b, w]}, {"params": [c]}])
    w.grad = mg.tensor(np.array([5.0, 6.0]))
    c.grad = mg.tensor(np.array([7.0]))
    optimizer.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(c.grad.numpy(), [0.0])
    assert b.grad is None
    optimizer.zero_grad()
    assert w.grad is None and b.grad is None and c.grad is None


# --- optimizer_state.py: ParamState, copy_value, pack ----------------------------------------

def test_param_state_keys_by_identity_and_reads_give_an_empty_dict():
    state = ParamState()
    w, twin = leaf([1.0]), leaf([1.0])
    assert len(state) == 0 and w not in state
    assert state.get(w) is None and state.get(w, "none") == "none"
    assert len(state) == 0  # get creates nothing
    entry = state[w]
    assert entry == {} and len(state) == 1 and w in state and twin not in state
    entry["step"] = 3
    assert state[w] == {"step": 3} and state.get(w) == {"step": 3}
    state[twin] = {"step": 1}
    assert list(state) == [w, twin] and state[twin] == {"step": 1}
    del state[w]
    assert list(state) == [twin] and len(state) == 1 and w not in state


def test_copy_value_copies_arrays_lists_and_dicts_deeply():
    array = np.array([1.0, 2.0])
    value = {"a": [array, 3], "b": array, "c": "text"}
    copied = copy_value(value)
    assert copied["a"][1] == 3 and copied["c"] == "text"
    assert copied["a"][0] is not array and copied["b"] is not array
    array[0] = 9.0
    np.testing.assert_array_equal(copied["a"][0], [1.0, 2.0])
    np.testing.assert_array_equal(copied["b"], [1.0, 2.0])
    assert isinstance(copied["a"], list) and isinstance(copied, dict)


def trained_adam():
    w, b = leaf([1.0, 2.0]), leaf([[0.5]])
    optimizer = Adam([{"params": [w]}, {"params": [b], "lr": 0.02}], lr=0.1)
    w.grad = mg.tensor(np.array([0.5, -1.0]))
    b.grad = mg.tensor(np.array([[2.0]]))
    optimizer.step()
    return optimizer


def fresh_adam():
    return Adam([{"params": [leaf([1.0, 2.0])]}, {"params": [leaf([[0.5]])]}], lr=0.1)


def test_pack_numbers_parameters_across_groups_and_keeps_only_filled_state():
    w, b, c = leaf([1.0, 2.0]), leaf([3.0]), leaf([4.0])
    optimizer = Descent([{"params": [w, b], "sizes": [1, 2]}, {"params": [c]}])
    b.grad = mg.tensor(np.array([1.0]))
    c.grad = mg.tensor(np.array([2.0]))
    optimizer.step()
    optimizer.state[w]  # an empty entry: not saved
    optimizer.state[leaf([0.0])]["step"] = 4  # a parameter of no group: not saved
    packed = optimizer.state_dict()
    assert packed["kind"] == "Descent"
    assert [g["params"] for g in packed["param_groups"]] == [[0, 1], [2]]
    assert sorted(packed["state"]) == [1, 2]
    assert packed["state"][2]["step"] == 1
    np.testing.assert_array_equal(packed["state"][2]["velocity"], [2.0])
    assert packed["state"][2]["velocity"] is not optimizer.state[c]["velocity"]
    assert packed["param_groups"][0]["sizes"] == [1, 2]
    assert packed["param_groups"][0]["sizes"] is not optimizer.param_groups[0]["sizes"]
    assert "params" in packed["param_groups"][1] and packed["param_groups"][1]["lr"] == 0.1


# --- optimizer_state.py: unpack's checks -----------------------------------------------------

def edited(fn):
    saved = trained_adam().state_dict()
    fn(saved)
    return saved


LOAD_ERRORS = [
    ("not a dict", lambda s: [1, 2], ValueError,
     "Adam: load_state_dict expects a dict with the keys 'state' and 'param_groups' (and "
     "'kind'), as returned by state_dict(); got list"),
    ("no param_groups", lambda s: {"state": {}}, ValueError,
     "Adam: load_state_dict expects a dict with the keys 'state' and 'param_groups' (and "
     "'kind'), as returned by state_dict(); got ['state']"),
    ("no state", lambda s: {"param_groups": [], "kind": "Adam"}, ValueError,
     "Adam: load_state_dict expects a dict with the keys 'state' and 'param_groups' (and "
     "'kind'), as returned by state_dict(); got ['kind', 'param_groups']"),
    ("an extra key", lambda s: dict(s, z=1), ValueError,
     "Adam: load_state_dict expects a dict with the keys 'state' and 'param_groups' (and "
     "'kind'), as returned by state_dict(); got ['kind', 'param_groups', 'state', 'z']"),
    ("another kind", lambda s: dict(s, kind="SGD"), ValueError,
     "Adam: load_state_dict got the state of a SGD optimizer; an optimizer loads only the "
     "state of its own kind"),
    ("groups a dict", lambda s: dict(s, param_groups={}), TypeError,
     "Adam: load_state_dict expects 'param_groups' to be a list and 'state' a dict, got a "
     "dict and a dict"),
    ("state a list", lambda s: dict(s, state=[]), TypeError,
     "Adam: load_state_dict expects 'param_groups' to be a list and 'state' a dict, got a "
     "list and a list"),
    ("one group", lambda s: dict(s, param_groups=s["param_groups"][:1]), ValueError,
     "Adam: the state dict has 1 parameter groups but the optimizer has 2"),
    ("a group not a dict", lambda s: dict(s, param_groups=[s["param_groups"][0], [1]]), TypeError,
     "Adam: param_groups[1] of the state dict must be a dict with a list of positions under "
     "'params'"),
    ("params not a list", lambda s: dict(s, param_groups=[s["param_groups"][0], {"params": 1}]),
     TypeError, "Adam: param_groups[1] of the state dict must be a dict with a list of "
     "positions under 'params'"),
    ("group sizes", lambda s: dict(s, param_groups=[s["param_groups"][0],
                                                    dict(s["param_groups"][1], params=[1, 2])]),
     ValueError, "Adam: the state dict's groups hold [1, 2] parameters but the optimizer's "
     "groups hold [1, 1]"),
    ("a str position", lambda s: dict(s, param_groups=[s["param_groups"][0],
                                                       dict(s["param_groups"][1], params=["1"])]),
     TypeError, "Adam: param_groups[1]['params'] holds '1'; expected int positions"),
    ("a bool position", lambda s: dict(s, param_groups=[s["param_groups"][0],
                                                        dict(s["param_groups"][1],
                                                             params=[True])]),
     TypeError, "Adam: param_groups[1]['params'] holds True; expected int positions"),
    ("a position twice", lambda s: dict(s, param_groups=[s["param_groups"][0],
                                                         dict(s["param_groups"][1], params=[0])]),
     ValueError, "Adam: the state dict lists parameter 0 twice"),
    ("lr a str", lambda s: dict(s, param_groups=[s["param_groups"][0],
                                                 dict(s["param_groups"][1], lr="fast")]),
     TypeError, "Adam: param_groups[1]['lr'] of the state dict is 'fast', but lr is a real "
     "number"),
    ("lr a bool", lambda s: dict(s, param_groups=[dict(s["param_groups"][0], lr=True),
                                                  s["param_groups"][1]]),
     TypeError, "Adam: param_groups[0]['lr'] of the state dict is True, but lr is a real "
     "number"),
    ("three betas", lambda s: dict(s, param_groups=[dict(s["param_groups"][0],
                                                         betas=(0.9, 0.9, 0.9)),
                                                    s["param_groups"][1]]),
     TypeError, "Adam: param_groups[0]['betas'] of the state dict is (0.9, 0.9, 0.9), but betas "
     "is a sequence of 2 numbers"),
    ("a str beta", lambda s: dict(s, param_groups=[dict(s["param_groups"][0], betas=(0.9, "x")),
                                                   s["param_groups"][1]]),
     TypeError, "Adam: param_groups[0]['betas'] of the state dict is (0.9, 'x'), but betas "
     "is a sequence of 2 numbers"),
    ("betas a number", lambda s: dict(s, param_groups=[dict(s["param_groups"][0], betas=0.9),
                                                       s["param_groups"][1]]),
     TypeError, "Adam: param_groups[0]['betas'] of the state dict is 0.9, but betas "
     "is a sequence of 2 numbers"),
    ("amsgrad an int", lambda s: dict(s, param_groups=[dict(s["param_groups"][0], amsgrad=1),
                                                       s["param_groups"][1]]),
     TypeError, "Adam: param_groups[0]['amsgrad'] of the state dict is 1, but amsgrad is a "
     "bool"),
    ("a negative lr", lambda s: dict(s, param_groups=[s["param_groups"][0],
                                                      dict(s["param_groups"][1], lr=-1.0)]),
     ValueError, None),
    ("state of position 5", lambda s: dict(s, state=dict(s["state"], **{"5": {}})), ValueError,
     "Adam: the state dict has state for parameter '5', which no group lists (positions 0 "
     "to 1)"),
    ("state of position '1'", lambda s: {**s, "state": {0: s["state"][0], "1": s["state"][1]}},
     ValueError, "Adam: the state dict has state for parameter '1', which no group lists "
     "(positions 0 to 1)"),
    ("state of position True", lambda s: {**s, "state": {0: s["state"][0], True: {}}},
     ValueError, "Adam: the state dict has state for parameter True, which no group lists "
     "(positions 0 to 1)"),
    ("state of position 2", lambda s: dict(s, state={**s["state"], 2: {}}), ValueError,
     "Adam: the state dict has state for parameter 2, which no group lists (positions 0 "
     "to 1)"),
    ("state of position -1", lambda s: dict(s, state={**s["state"], -1: {}}), ValueError,
     "Adam: the state dict has state for parameter -1, which no group lists (positions 0 "
     "to 1)"),
    ("a state not a dict", lambda s: dict(s, state={**s["state"], 0: [1]}), TypeError,
     "Adam: the saved state of parameter 0 must be a dict of named buffers, got [1]"),
    ("a buffer named by an int", lambda s: dict(s, state={**s["state"], 0: {0: 1}}), TypeError,
     "Adam: the saved state of parameter 0 must be a dict of named buffers, got {0: 1}"),
    ("an unknown buffer", lambda s: s["state"][0].update(zz=np.zeros(2)), ValueError,
     "Adam: the saved state of parameter 0 holds ['exp_avg', 'exp_avg_sq', 'step', 'zz'], but "
     "Adam keeps step, exp_avg, exp_avg_sq, max_exp_avg_sq (missing [], unknown ['zz']): the "
     "state belongs to another kind of optimizer"),
    ("a missing buffer", lambda s: s["state"][1].__delitem__("exp_avg"), ValueError,
     "Adam: the saved state of parameter 1 holds ['exp_avg_sq', 'step'], but Adam keeps step, "
     "exp_avg, exp_avg_sq, max_exp_avg_sq (missing ['exp_avg'], unknown []): the state "
     "belongs to another kind of optimizer"),
    ("a buffer of another shape", lambda s: s["state"][0].update(exp_avg=np.zeros(3)),
     ValueError, "Adam: the saved state of parameter 0: 'exp_avg' has shape (3,) but its "
     "parameter has shape (2,)"),
    ("a str buffer", lambda s: s["state"][0].update(exp_avg=np.array(["a", "b"])), ValueError,
     "Adam: the saved state of parameter 0: 'exp_avg' has dtype <U1; expected a real array"),
    ("a complex buffer", lambda s: s["state"][0].update(exp_avg=np.zeros(2, complex)),
     ValueError, "Adam: the saved state of parameter 0: 'exp_avg' has dtype complex128; "
     "expected a real array"),
    ("a bool buffer", lambda s: s["state"][0].update(exp_avg=np.zeros(2, bool)),
     ValueError, "Adam: the saved state of parameter 0: 'exp_avg' has dtype bool; "
     "expected a real array"),
    ("a list buffer", lambda s: s["state"][0].update(exp_avg=[1.0, 2.0]), TypeError,
     "Adam: the saved state of parameter 0: 'exp_avg' is a list; expected an array of "
     "shape (2,)"),
    ("a buffer with a shape but no dtype",
     lambda s: s["state"][0].update(exp_avg=types.SimpleNamespace(shape=(2,))), TypeError,
     "Adam: the saved state of parameter 0: 'exp_avg' is a SimpleNamespace; expected an array "
     "of shape (2,)"),
    ("a negative step", lambda s: s["state"][0].update(step=-1), ValueError,
     "Adam: the saved state of parameter 0: 'step' is -1; expected a count >= 0"),
    ("a bool step", lambda s: s["state"][0].update(step=True), ValueError,
     "Adam: the saved state of parameter 0: 'step' is True; expected a count >= 0"),
    ("a fractional step", lambda s: s["state"][0].update(step=np.array(2.5)), ValueError,
     "Adam: the saved state of parameter 0: 'step' is array(2.5); expected a count >= 0"),
    ("a str step", lambda s: s["state"][0].update(step="1"), ValueError,
     "Adam: the saved state of parameter 0: 'step' is '1'; expected a count >= 0"),
]


@pytest.mark.parametrize("description, edit, error, message", LOAD_ERRORS,
                         ids=[case[0] for case in LOAD_ERRORS])
def test_every_load_error_text_and_nothing_changes(description, edit, error, message):
    saved = trained_adam().state_dict()
    broken = edit(saved)
    broken = saved if broken is None else broken
    target = trained_adam()
    before = target.state_dict()
    if message is None:
        with pytest.raises(error):
            target.load_state_dict(broken)
    else:
        with pytest.raises(error, match=exactly(message)):
            target.load_state_dict(broken)
    after = target.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert sorted(after["state"]) == sorted(before["state"])


def test_a_load_replaces_groups_and_state_with_checked_copies():
    source = trained_adam()
    saved = source.state_dict()
    saved["state"][np.int64(1)] = saved["state"].pop(1)  # any integral position is accepted
    saved["param_groups"][0]["betas"] = [0.8, 0.99]
    saved["param_groups"][1].pop("amsgrad")  # an option newer than the saved dict
    saved["state"][0]["step"] = np.float64(7.0)  # a PyTorch-style float step
    target = fresh_adam()
    w, b = (g["params"][0] for g in target.param_groups)
    target.load_state_dict(saved)
    assert target.param_groups[0]["params"] == [w] and target.param_groups[1]["params"][0] is b
    assert target.param_groups[0]["betas"] == (0.8, 0.99)
    assert type(target.param_groups[0]["betas"]) is tuple
    assert target.param_groups[1]["amsgrad"] is False and target.param_groups[1]["lr"] == 0.02
    assert target.state[w]["step"] == 7 and type(target.state[w]["step"]) is int
    assert target.state[b]["step"] == 1
    np.testing.assert_array_equal(target.state[w]["exp_avg"], saved["state"][0]["exp_avg"])
    assert target.state[w]["exp_avg"] is not saved["state"][0]["exp_avg"]
    saved["state"][0]["exp_avg"][...] = 5.0
    assert not np.any(target.state[w]["exp_avg"] == 5.0)


def test_an_empty_saved_state_loads_and_int_buffers_keep_their_dtype():
    saved = trained_adam().state_dict()
    saved["state"][0] = {}
    target = fresh_adam()
    w = target.param_groups[0]["params"][0]
    target.load_state_dict(saved)
    assert target.state.get(w) == {}
    w32 = leaf([1.0, 2.0], dtype=np.float32)
    optimizer = Descent([w32])
    optimizer.load_state_dict({"state": {0: {"step": 2, "velocity": np.array([1, 2])}},
                               "param_groups": [{"params": [0], "lr": 0.5}], "kind": "Descent"})
    assert optimizer.state[w32]["velocity"].dtype == np.int64
    optimizer.load_state_dict({"state": {0: {"step": 0, "velocity": np.zeros(2)}},
                               "param_groups": [{"params": [0], "lr": 0.5}], "kind": "Descent"})
    assert optimizer.state[w32]["step"] == 0  # a count may be 0
    optimizer.load_state_dict({"state": {0: {"step": 2, "velocity": np.array([1, 2], np.uint8),
                                             "extra": np.array([1.5, 2.5])}},
                               "param_groups": [{"params": [0], "lr": 0.5}], "kind": "Descent"})
    assert optimizer.state[w32]["velocity"].dtype == np.uint8
    assert optimizer.state[w32]["extra"].dtype == np.float32
    assert optimizer.param_groups[0]["pair"] == (1.0, 2.0)


def test_hyper_parameter_types_against_each_kind_of_default():
    def load(**group):
        optimizer = Descent([leaf([1.0])])
        optimizer.load_state_dict({"state": {}, "param_groups": [dict(group, params=[0])],
                                   "kind": "Descent"})
        return optimizer.param_groups[0]

    loaded = load(lr=1, flag=True, pair=[3, 4.5], sizes=(1, 2), name=None)
    assert loaded["lr"] == 1 and loaded["flag"] is True and loaded["pair"] == (3, 4.5)
    assert loaded["sizes"] == (1, 2) and loaded["name"] is None  # no default constrains a name
    for group, message in [
            (dict(flag=0), "Descent: param_groups[0]['flag'] of the state dict is 0, but flag "
                           "is a bool"),
            (dict(flag=None), "Descent: param_groups[0]['flag'] of the state dict is None, but "
                              "flag is a bool"),
            (dict(lr=None), "Descent: param_groups[0]['lr'] of the state dict is None, but lr "
                            "is a real number"),
            (dict(lr="1"), "Descent: param_groups[0]['lr'] of the state dict is '1', but lr "
                           "is a real number"),
            (dict(pair=(1.0, True)), "Descent: param_groups[0]['pair'] of the state dict is "
                                     "(1.0, True), but pair is a sequence of 2 numbers"),
            (dict(pair=(1.0,)), "Descent: param_groups[0]['pair'] of the state dict is (1.0,), "
                                "but pair is a sequence of 2 numbers"),
            (dict(sizes="ab"), "Descent: param_groups[0]['sizes'] of the state dict is 'ab', "
                               "but sizes is a sequence of 2 numbers")]:
        with pytest.raises(TypeError, match=exactly(message)):
            load(**group)
    saved_sizes = [5, 6]
    group = load(sizes=saved_sizes)
    saved_sizes[0] = 0
    assert group["sizes"] == [5, 6]  # a list default is copied, not converted


def test_none_defaults_accept_any_value():
    optimizer = Optimizer([leaf([1.0])], {"lr": 0.1, "anything": None})
    optimizer.load_state_dict({"state": {}, "param_groups": [
        {"params": [0], "lr": 0.2, "anything": "text"}]})
    assert optimizer.param_groups[0]["anything"] == "text"
    assert optimizer.param_groups[0]["lr"] == 0.2


def test_a_state_dict_without_kind_is_checked_against_the_fixed_options():
    saved = trained_adam().state_dict()
    del saved["kind"]
    saved["param_groups"][0]["decoupled_weight_decay"] = True
    target = AdamW([{"params": [leaf([1.0, 2.0])]}, {"params": [leaf([[0.5]])]}])
    with pytest.raises(ValueError, match=exactly(
            "AdamW: param_groups[1] of the state dict has decoupled_weight_decay=False, which "
            "this optimizer fixes to True: the state belongs to another kind of optimizer")):
        target.load_state_dict(saved)
    saved["param_groups"][1]["decoupled_weight_decay"] = True
    target.load_state_dict(saved)
    del saved["param_groups"][1]["decoupled_weight_decay"]  # a missing option is not refused
    target.load_state_dict(saved)
    assert target.param_groups[1]["decoupled_weight_decay"] is True
    saved["kind"] = "AdamW"
    saved["param_groups"][1]["decoupled_weight_decay"] = False  # with a kind, not checked here
    target.load_state_dict(saved)
    assert target.param_groups[1]["decoupled_weight_decay"] is False


class Layouts(Optimizer):
    """An optimizer whose state has one buffer of every layout ``load_state_dict`` knows."""

    required_state = None
    state_layout = {"evals": "count", "length": "number", "direction": "flat",
                    "history": "flat_list", "rhos": "number_list", "strange": "tensor"}

    def __init__(self, params):
        super().__init__(params, {"lr": 0.1})


def layouts():
    return Layouts([{"params": [leaf([1.0, 2.0])]}, {"params": [leaf([[3.0], [4.0]])]}])


def test_each_state_layout_is_restored_and_checked():
    optimizer = layouts()
    w, b = (g["params"][0] for g in optimizer.param_groups)
    optimizer.load_state_dict({"param_groups": [{"params": [0]}, {"params": [1]}], "state": {
        1: {"evals": np.array(3.0), "length": np.array(2), "direction": np.arange(4),
            "history": (np.ones(4), np.zeros(4, np.float32)), "rhos": [1, np.array(0.5)],
            "anything": np.ones((2, 1))}}})
    state = optimizer.state[b]
    assert state["evals"] == 3 and type(state["evals"]) is int
    assert state["length"] == 2.0 and type(state["length"]) is float
    np.testing.assert_array_equal(state["direction"], [0, 1, 2, 3])
    assert type(state["history"]) is list and len(state["history"]) == 2
    assert [h.dtype for h in state["history"]] == [np.float64, np.float64]
    np.testing.assert_array_equal(state["history"][1], np.zeros(4))
    assert state["rhos"] == [1.0, 0.5] and [type(r) for r in state["rhos"]] == [float, float]
    np.testing.assert_array_equal(state["anything"], np.ones((2, 1)))
    assert optimizer.param_groups[0]["lr"] == 0.1 and optimizer.state.get(w) is None
    where = "Layouts: the saved state of parameter 0"
    for saved, error, message in [
            ({"evals": 1.5}, ValueError, f"{where}: 'evals' is 1.5; expected a count >= 0"),
            ({"length": "long"}, TypeError,
             f"{where}: 'length' is 'long'; expected a real number"),
            ({"length": True}, TypeError, f"{where}: 'length' is True; expected a real number"),
            ({"direction": np.zeros(3)}, ValueError,
             f"{where}: 'direction' has shape (3,) but the optimizer's parameters hold 4 "
             "entries in all"),
            ({"history": np.zeros(4)}, TypeError,
             f"{where}: 'history' is a ndarray; expected a list"),
            ({"history": [np.zeros(4), np.zeros(5)]}, ValueError,
             f"{where}: 'history[1]' has shape (5,) but the optimizer's parameters hold 4 "
             "entries in all"),
            ({"rhos": [1.0, "x"]}, TypeError, f"{where}: 'rhos[1]' is 'x'; expected a real "
                                              "number"),
            ({"strange": np.zeros(2)}, ValueError,
             f"{where}: 'strange' has the unknown layout 'tensor'"),
            ({"anything": np.zeros(3)}, ValueError,
             f"{where}: 'anything' has shape (3,) but its parameter has shape (2,)")]:
        with pytest.raises(error, match=exactly(message)):
            layouts().load_state_dict({"param_groups": [{"params": [0]}, {"params": [1]}],
                                       "state": {0: saved}})


def test_an_optimizer_that_keeps_no_buffers_names_none():
    class Stateless(Optimizer):
        required_state = ()

        def update(self, param, grad, state, group):
            param -= grad

    optimizer = Stateless([leaf([1.0])], {})
    with pytest.raises(ValueError, match=exactly(
            "Stateless: the saved state of parameter 0 holds ['step'], but Stateless keeps none "
            "(missing [], unknown ['step']): the state belongs to another kind of optimizer")):
        optimizer.load_state_dict({"state": {0: {"step": 1}}, "param_groups": [{"params": [0]}]})


def test_check_state_sees_the_restored_buffers():
    seen = []

    class Watched(Descent):
        def check_state(self, where, state):
            seen.append((where, sorted(state), type(state["step"])))

    optimizer = Watched([leaf([1.0])])
    optimizer.load_state_dict({"state": {0: {"step": np.array(2), "velocity": np.zeros(1)}},
                               "param_groups": [{"params": [0]}], "kind": "Watched"})
    assert seen == [("Watched: the saved state of parameter 0", ["step", "velocity"], int)]


# --- adadelta.py and adam_variants.py --------------------------------------------------------

def one_step(make, grads, start=(1.0, -2.0)):
    w = leaf(list(start))
    optimizer = make([w])
    for grad in grads:
        w.grad = mg.tensor(np.array(grad))
        optimizer.step()
    return w.numpy().copy(), optimizer, w


def test_default_hyper_parameters_of_the_four_rules():
    w = [leaf([1.0])]
    assert Adadelta(w).defaults == dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0,
                                        maximize=False)
    assert Adamax(w).defaults == dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                      maximize=False)
    assert NAdam(w).defaults == dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                     momentum_decay=4e-3, decoupled_weight_decay=False,
                                     maximize=False)
    assert RAdam(w).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                                     decoupled_weight_decay=False, maximize=False)


def test_the_rules_check_their_own_options_by_name():
    w = [leaf([1.0])]
    for make, message in [
            (lambda: Adadelta(w, rho=1.5), "Adadelta: invalid rho 1.5, expected a value in "
                                           "[0.0, 1.0]"),
            (lambda: Adadelta(w, rho=-0.1), "Adadelta: invalid rho -0.1, expected a value in "
                                            "[0.0, 1.0]"),
            (lambda: Adadelta(w, lr=-1.0), "Adadelta: invalid lr -1.0, expected a value in "
                                           "[0.0, inf]"),
            (lambda: Adamax(w, lr=-1.0), "Adamax: invalid lr -1.0, expected a value in [0.0, inf]"),
            (lambda: Adamax(w, betas=(0.9, 1.0)), "Adamax: invalid betas[1] 1.0, expected a "
                                                  "value in [0.0, 1.0)"),
            (lambda: NAdam(w, momentum_decay=-1.0), "NAdam: invalid momentum_decay -1.0, "
                                                    "expected a value in [0.0, inf]"),
            (lambda: NAdam(w, betas=(1.0, 0.9)), "NAdam: invalid betas[0] 1.0, expected a value "
                                                 "in [0.0, 1.0)"),
            (lambda: NAdam(w, eps=-1.0), "NAdam: invalid eps -1.0, expected a value in [0.0, inf]"),
            (lambda: RAdam(w, weight_decay=-1.0), "RAdam: invalid weight_decay -1.0, expected "
                                                  "a value in [0.0, inf]"),
            (lambda: RAdam(w, betas=(0.9, -0.5)), "RAdam: invalid betas[1] -0.5, expected a "
                                                  "value in [0.0, 1.0)")]:
        with pytest.raises(ValueError, match=exactly(message)):
            make()
    Adadelta(w, rho=0.0)
    Adadelta(w, rho=1.0)  # both ends of rho are allowed


def test_adadelta_two_steps_by_hand_with_weight_decay_one():
    lr, rho, eps, lam = 0.5, 0.6, 1e-2, 1.0
    p = np.array([1.0, -2.0])
    v, u = np.zeros(2), np.zeros(2)
    grads = [[0.5, 0.25], [-1.0, 2.0]]
    for g in grads:
        g = np.array(g) + lam * p
        v = rho * v + (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta
    got, optimizer, w = one_step(lambda ps: Adadelta(ps, lr=lr, rho=rho, eps=eps,
                                                     weight_decay=lam), grads)
    np.testing.assert_allclose(got, p, rtol=1e-12)
    np.testing.assert_allclose(optimizer.state[w]["acc_delta"], u, rtol=1e-12)
    np.testing.assert_allclose(optimizer.state[w]["square_avg"], v, rtol=1e-12)
    assert optimizer.state[w]["step"] == 2
    ascend, _, _ = one_step(lambda ps: Adadelta(ps, lr=lr, rho=rho, eps=eps, maximize=True),
                            [[-0.5, -0.25]])
    descend, _, _ = one_step(lambda ps: Adadelta(ps, lr=lr, rho=rho, eps=eps), [[0.5, 0.25]])
    np.testing.assert_array_equal(ascend, descend)


def adamax_reference(p, grads, lr, beta1, beta2, eps, lam):
    m, u = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = np.array(g) + lam * p
        m = beta1 * m + (1 - beta1) * g
        u = np.maximum(beta2 * u, np.abs(g) + eps)
        p = p - lr / (1 - beta1 ** t) * m / u
    return p, m, u


def test_adamax_three_steps_by_hand_with_weight_decay_one():
    grads = [[0.5, -3.0], [-1.0, 0.25], [0.1, 0.1]]
    want, m, u = adamax_reference(np.array([1.0, -2.0]), grads, 0.1, 0.7, 0.8, 0.05, 1.0)
    got, optimizer, w = one_step(lambda ps: Adamax(ps, lr=0.1, betas=(0.7, 0.8), eps=0.05,
                                                   weight_decay=1.0), grads)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(optimizer.state[w]["exp_avg"], m, rtol=1e-12)
    np.testing.assert_allclose(optimizer.state[w]["exp_inf"], u, rtol=1e-12)
    assert optimizer.state[w]["step"] == 3


def weight_decayed(p, g, lr, lam, decoupled):
    """(p, g) after weight decay lam: p shrunk by lr·lam (decoupled) or lam·p added to g."""
    return (p * (1 - lr * lam), g) if decoupled else (p, g + lam * p)


def nadam_reference(p, grads, lr, beta1, beta2, eps, lam, psi, decoupled):
    m, v, product = np.zeros_like(p), np.zeros_like(p), 1.0
    for t, g in enumerate(grads, start=1):
        p, g = weight_decayed(p, np.array(g), lr, lam, decoupled)
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        product *= mu
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        d = np.sqrt(v / (1 - beta2 ** t)) + eps
        p = p - lr * (1 - mu) / (1 - product) * g / d
        p = p - lr * mu_next / (1 - product * mu_next) * m / d
    return p, product


@pytest.mark.parametrize("decoupled", [False, True])
def test_nadam_three_steps_by_hand_with_weight_decay_one(decoupled):
    grads = [[0.5, -3.0], [-1.0, 0.25], [0.1, 0.1]]
    options = dict(lr=0.1, betas=(0.7, 0.8), eps=0.05, weight_decay=1.0, momentum_decay=2.0,
                   decoupled_weight_decay=decoupled)
    want, product = nadam_reference(np.array([1.0, -2.0]), grads, 0.1, 0.7, 0.8, 0.05, 1.0, 2.0,
                                    decoupled)
    got, optimizer, w = one_step(lambda ps: NAdam(ps, **options), grads)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert optimizer.state[w]["mu_product"] == pytest.approx(product, rel=1e-14)


def radam_reference(p, grads, lr, beta1, beta2, eps, lam, decoupled):
    m, v = np.zeros_like(p), np.zeros_like(p)
    rho_inf = 2 / (1 - beta2) - 1
    for t, g in enumerate(grads, start=1):
        p, g = weight_decayed(p, np.array(g), lr, lam, decoupled)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)
        rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
        if rho_t > 5:
            r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                        / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p = p - lr * m_hat * r * np.sqrt(1 - beta2 ** t) / (np.sqrt(v) + eps)
        else:
            p = p - lr * m_hat
    return p


@pytest.mark.parametrize("decoupled", [False, True])
def test_radam_steps_by_hand_with_weight_decay_one_through_the_switch(decoupled):
    # beta2 = 0.8: rho_inf = 9, rho_1 = 1, rho_2 = 1.89, ..., rho_6 = 5.38; eight steps cross 5.
    grads = [[0.5, -3.0], [-1.0, 0.25], [0.1, 0.1], [2.0, -0.5], [0.3, 0.3], [-0.2, 1.0],
             [0.7, -0.7], [0.05, 0.5]]
    want = radam_reference(np.array([1.0, -2.0]), grads, 0.1, 0.7, 0.8, 0.05, 1.0, decoupled)
    got, _, _ = one_step(lambda ps: RAdam(ps, lr=0.1, betas=(0.7, 0.8), eps=0.05,
                                          weight_decay=1.0, decoupled_weight_decay=decoupled),
                         grads)
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda ps: Adamax(ps, lr=0.1, weight_decay=0.5),
    lambda ps: NAdam(ps, lr=0.1, weight_decay=0.5),
    lambda ps: NAdam(ps, lr=0.1, weight_decay=0.5, decoupled_weight_decay=True),
    lambda ps: RAdam(ps, lr=0.1, weight_decay=0.5),
    lambda ps: RAdam(ps, lr=0.1, weight_decay=0.5, decoupled_weight_decay=True),
    lambda ps: Adadelta(ps, lr=0.5, weight_decay=0.5),
])
def test_maximize_is_descent_on_the_negated_gradient(make):
    grads = [[0.5, -3.0], [-1.0, 0.25], [0.1, 0.1]]
    descend, _, _ = one_step(make, grads)

    def maximizing(ps):
        optimizer = make(ps)
        optimizer.param_groups[0]["maximize"] = True
        return optimizer

    ascend, _, _ = one_step(maximizing, [[-x for x in g] for g in grads])
    np.testing.assert_array_equal(ascend, descend)


def test_radam_at_rho_t_exactly_5_still_takes_the_plain_momentum_step():
    beta2, t = 0.8397685748659791, 6
    rho_inf = 2 / (1 - beta2) - 1
    assert rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t) == 5.0  # the switch is "> 5"
    grads = [[0.5, -3.0], [-1.0, 0.25], [0.1, 0.1], [2.0, -0.5], [0.3, 0.3], [-0.2, 1.0]]
    before, optimizer, w = one_step(lambda ps: RAdam(ps, lr=0.1, betas=(0.7, beta2)), grads[:5])
    w.grad = mg.tensor(np.array(grads[5]))
    optimizer.step()
    m_hat = optimizer.state[w]["exp_avg"] / (1 - 0.7 ** 6)
    np.testing.assert_allclose(w.numpy(), before - 0.1 * m_hat, rtol=1e-13)
    want = radam_reference(np.array([1.0, -2.0]), grads, 0.1, 0.7, beta2, 1e-8, 0.0, False)
    np.testing.assert_allclose(w.numpy(), want, rtol=1e-13)


@pytest.mark.parametrize("step", [float("inf"), float("nan"), np.array(-np.inf)])
def test_a_step_that_is_not_finite_is_refused_by_name(step):
    saved = trained_adam().state_dict()
    saved["state"][1]["step"] = step
    with pytest.raises(ValueError, match=exactly(
            f"Adam: the saved state of parameter 1: 'step' is {step!r}; expected a count >= 0")):
        fresh_adam().load_state_dict(saved)


def test_an_option_newer_than_the_state_dict_gets_its_own_copy_of_a_list_default():
    # A default missing from the saved groups is filled in; a list default is copied, so that
    # changing one group's option leaves the defaults (and the other groups) alone.
    p = mg.zeros(2, requires_grad=True)
    opt = SGD([p], lr=0.1)
    saved = opt.state_dict()
    opt.defaults["extra"] = [1.0, 2.0]
    opt.load_state_dict(saved)
    group = opt.param_groups[0]
    assert group["extra"] == [1.0, 2.0] and group["extra"] is not opt.defaults["extra"]
    group["extra"][0] = 5.0
    assert opt.defaults["extra"] == [1.0, 2.0]
