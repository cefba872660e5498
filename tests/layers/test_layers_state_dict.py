"""Module state dicts: a refused load (strict or not, nested modules, BatchNorm buffers)
leaves every parameter and buffer bit-identical, and ``to`` moves all tensors or none."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from layers import BatchNorm1d, Linear, Module, Sequential
from layers import module_state


class Net(Module):
    """Nested: a Sequential inside a Module, with BatchNorm's running stats and counter."""

    def __init__(self):
        super().__init__()
        self.body = Sequential(Linear(3, 4), BatchNorm1d(4))
        self.head = Linear(4, 2)

    def forward(self, x):
        return self.head(self.body(x).relu())


def trained_net(seed):
    mg.manual_seed(seed)
    net = Net()
    net(mg.randn(5, 3))  # training mode: running stats and num_batches_tracked move
    return net


def snapshot(net):
    return {k: (v.dtype, v.shape, v.numpy().tobytes()) for k, v in net.state_dict().items()}


def bad_states(good):
    """(description, strict, state dict) for each kind of refused load; each one differs from
    ``good`` only in its LAST entries, so a loader that writes as it goes is caught."""
    keys = list(good)
    last = keys[-1]
    weight = "head.weight"
    assert last == "head.bias" and "body.1.num_batches_tracked" in keys
    cases = []
    for strict in (True, False):
        cases += [
            ("shape of the last entry", strict, {**good, last: np.zeros(5)}),
            ("string array", strict, {**good, last: np.array(["a", "b"])}),
            ("complex array", strict, {**good, last: np.ones(2, np.complex128)}),
            ("float into num_batches_tracked", strict,
             {**good, "body.1.num_batches_tracked": np.array(2.5)}),
            ("value of another type", strict, {**good, weight: "weights"}),
        ]
    cases += [
        ("missing key", True, {k: v for k, v in good.items() if k != last}),
        ("unexpected key", True, {**good, "tail.weight": np.zeros(1)}),
    ]
    return cases


@pytest.mark.parametrize("index", range(12))
def test_a_refused_load_leaves_every_tensor_bit_identical(index):
    source = trained_net(1)
    good = {k: v.numpy() for k, v in source.state_dict().items()}
    target = trained_net(2)
    before = snapshot(target)
    description, strict, state = bad_states(good)[index]
    with pytest.raises((ValueError, TypeError)):
        target.load_state_dict(state, strict=strict)
    assert snapshot(target) == before, description


def test_errors_name_the_entry_and_both_sides():
    target = trained_net(2)
    good = {k: v.numpy() for k, v in target.state_dict().items()}
    with pytest.raises(ValueError, match=r"dtype mismatch for body.1.num_batches_tracked: "
                                         r"the checkpoint has dtype float64.*int64"):
        target.load_state_dict({**good, "body.1.num_batches_tracked": np.array(2.0)})
    with pytest.raises(ValueError, match=r"size mismatch for head.bias.*\(5,\).*\(2,\)"):
        target.load_state_dict({**good, "head.bias": np.zeros(5)}, strict=False)


@settings(max_examples=20, deadline=None)
@given(strict=st.booleans(), drop=st.sets(st.integers(0, 8)),
       dtype=st.sampled_from([np.float16, np.float32, np.float64]))
def test_a_good_load_copies_every_kept_entry(strict, drop, dtype):
    source, target = trained_net(1), trained_net(2)
    keys = list(source.state_dict())
    state = {k: v.numpy().astype(dtype) if v.dtype.kind == "f" else v.numpy()
             for i, (k, v) in enumerate(source.state_dict().items()) if i not in drop}
    before = snapshot(target)
    if strict and drop:
        with pytest.raises(ValueError, match="missing keys"):
            target.load_state_dict(state, strict=True)
        assert snapshot(target) == before
        return
    result = target.load_state_dict(state, strict=strict)
    assert result.missing_keys == [k for i, k in enumerate(keys) if i in drop]
    for key, value in target.state_dict().items():
        expected = state[key].astype(value.dtype) if key in state else None
        if expected is None:
            assert (value.dtype, value.shape, value.numpy().tobytes()) == before[key]
        else:
            np.testing.assert_array_equal(value.numpy(), expected)


def test_to_converts_every_tensor_before_assigning_any(monkeypatch):
    net = trained_net(1)
    net(mg.randn(2, 3)).sum().backward()
    before = snapshot(net)
    real = module_state.backend.to_device
    calls = []

    def fail_on_the_fifth(array, device):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("the device went away")
        return real(array, device)

    monkeypatch.setattr(module_state.backend, "to_device", fail_on_the_fifth)
    with pytest.raises(RuntimeError, match="went away"):
        net.to("cpu", dtype=np.float64)
    assert snapshot(net) == before


def test_module_methods_delegate_to_module_state():
    net = trained_net(1)
    assert list(net.state_dict()) == list(module_state.gather_state(net))
    assert net.summary() == module_state.summarize(net)
