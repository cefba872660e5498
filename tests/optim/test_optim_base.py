"""The Optimizer base class: parameter groups, validation, zero_grad, state dicts."""
import numpy as np
import pytest

import minigrad as mg
from optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

rng = np.random.default_rng(0)


def leaf(values, dtype=np.float64, device="cpu"):
    return mg.tensor(np.array(values, dtype=dtype), device=device, requires_grad=True)


def test_params_must_be_an_iterable_of_leaf_tensors():
    w = leaf([1.0])
    with pytest.raises(TypeError, match="single Tensor"):
        SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="set"):
        SGD({w}, lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 .* ndarray"):
        SGD([w, np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="'params' entry"):
        SGD([{"lr": 0.1}], lr=0.1)


@pytest.mark.parametrize("make, error, fragment", [
    (lambda ps: SGD(ps, lr=-0.1), ValueError, "SGD: invalid lr -0.1"),
    (lambda ps: SGD(ps, lr=float("nan")), ValueError, "invalid lr nan"),
    (lambda ps: SGD(ps, lr="fast"), TypeError, "lr must be a real number"),
    (lambda ps: SGD(ps, lr=0.1, momentum=-0.5), ValueError, "momentum"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), ValueError, "nesterov"),
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "dampening = 0"),
    (lambda ps: SGD(ps, lr=0.1, weight_decay=-1e-4), ValueError, "weight_decay"),
    (lambda ps: Adagrad(ps, lr_decay=-1.0), ValueError, "lr_decay"),
    (lambda ps: Adagrad(ps, initial_accumulator_value=-1.0), ValueError,
     "initial_accumulator_value"),
    (lambda ps: Adagrad(ps, eps=-1e-10), ValueError, "eps"),
    (lambda ps: RMSprop(ps, alpha=-0.9), ValueError, "alpha"),
    (lambda ps: RMSprop(ps, momentum=-0.9), ValueError, "momentum"),
    (lambda ps: Adam(ps, betas=(1.0, 0.999)), ValueError,
     r"betas\[0\] 1.0, expected .*\[0.0, 1.0\)"),
    (lambda ps: Adam(ps, betas=(0.9, -0.1)), ValueError, r"betas\[1\]"),
    (lambda ps: Adam(ps, betas=0.9), TypeError, "pair"),
    (lambda ps: AdamW(ps, lr=-1e-3), ValueError, "AdamW: invalid lr"),
    (lambda ps: AdamW(ps, weight_decay=-1e-2), ValueError, "weight_decay"),
    (lambda ps: Adam([{"params": ps, "lr": -1.0}], lr=1e-3), ValueError, "invalid lr -1.0"),
])
def test_invalid_hyper_parameters_are_refused(make, error, fragment):
    with pytest.raises(error, match=fragment):
        make([leaf([1.0, 2.0])])


def test_groups_get_defaults_and_their_own_options():
    w, b = leaf([1.0, 1.0]), leaf([1.0])
    optimizer = SGD([{"params": [w]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.0)
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.5]
    assert optimizer.param_groups[1]["params"][0] is b
    assert optimizer.param_groups[1]["momentum"] == 0.0
    w.grad, b.grad = mg.tensor(np.array([1.0, 2.0])), mg.tensor(np.array([1.0]))
    optimizer.step()
    np.testing.assert_allclose(w.numpy(), [0.9, 0.8])
    np.testing.assert_allclose(b.numpy(), [0.5])
    assert "Parameter Group 1" in repr(optimizer) and "lr: 0.5" in repr(optimizer)


def test_add_param_group_trains_the_new_group():
    w, b = leaf([1.0]), leaf([2.0])
    optimizer = Adam([w], lr=0.1)
    optimizer.add_param_group({"params": [b], "lr": 0.2})
    with pytest.raises(ValueError, match="more than one parameter group"):
        optimizer.add_param_group({"params": [w]})
    w.grad, b.grad = mg.tensor(np.array([3.0])), mg.tensor(np.array([-3.0]))
    optimizer.step()
    np.testing.assert_allclose([w.item(), b.item()], [0.9, 2.2], rtol=1e-6)
    assert optimizer.param_groups[1]["betas"] == (0.9, 0.999)


def test_parameters_without_gradient_are_skipped():
    w, frozen = leaf([1.0]), leaf([5.0])
    optimizer = Adam([w, frozen], lr=0.1, weight_decay=0.1)
    w.grad = mg.tensor(np.array([1.0]))
    optimizer.step()
    assert frozen.item() == 5.0 and frozen not in optimizer.state and len(optimizer.state) == 1
    assert optimizer.state[w]["step"] == 1


def test_gradient_of_the_wrong_shape_is_refused():
    w = leaf([1.0, 2.0])
    optimizer = SGD([w], lr=0.1)
    w.grad = mg.tensor(np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(3,\) but the parameter has shape \(2,\)"):
        optimizer.step()


def test_zero_grad_drops_or_zeroes_the_gradients():
    w, b = leaf([1.0, 2.0]), leaf([3.0])
    optimizer = SGD([w, b], lr=0.1)
    (w * w).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    assert w.grad is not None and w.grad.dtype == np.float64
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    assert b.grad is None
    optimizer.zero_grad()
    assert w.grad is None


def test_step_returns_the_closure_loss_evaluated_with_grad_on():
    w = leaf([3.0])
    optimizer = SGD([w], lr=0.25)

    def closure():
        optimizer.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with mg.no_grad():
        loss = optimizer.step(closure)
    assert loss.item() == 9.0
    assert w.item() == 3.0 - 0.25 * 6.0


def test_backward_through_a_graph_made_before_the_step_is_refused():
    # The step changes w in place; the product saved the old w for its backward.
    w = leaf([1.0, 2.0])
    optimizer = SGD([w], lr=0.1)
    w.grad = mg.tensor(np.ones(2))
    loss = (w * w).sum()
    optimizer.step()
    with pytest.raises(RuntimeError, match="modified (in place|by an inplace operation)"):
        loss.backward()


def test_subclass_defines_a_rule_through_the_hooks():
    class SignDescent(Optimizer):
        """p <- p - lr * sign(g): the smallest optimizer written on the base class."""

        def __init__(self, params, lr):
            super().__init__(params, dict(lr=lr))

        def update(self, param, grad, state, group):
            param -= group["lr"] * np.sign(grad)

    w = leaf([1.0, -1.0])
    optimizer = SignDescent([w], lr=0.25)
    w.grad = mg.tensor(np.array([10.0, -0.1]))
    optimizer.step()
    np.testing.assert_array_equal(w.numpy(), [0.75, -0.75])


OPTIMIZERS = [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda ps: Adagrad(ps, lr=0.1, lr_decay=0.01),
    lambda ps: RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    lambda ps: Adam(ps, lr=0.05, amsgrad=True, weight_decay=1e-2),
    lambda ps: AdamW(ps, lr=0.05),
]


def model(device="cpu"):
    """Two parameters in two groups; the second group has its own learning rate."""
    w = leaf(np.linspace(-1.0, 1.0, 6).reshape(2, 3), device=device)
    b = leaf([0.5, -0.5], device=device)
    return (w, b)


def groups(w, b):
    return [{"params": [w]}, {"params": [b], "lr": 0.02}]


def train(optimizer, w, b, steps, start):
    """Deterministic gradients of a fixed loss; on odd steps b gets no gradient."""
    for k in range(start, start + steps):
        w.grad = mg.tensor(np.sin(w.numpy() * (k + 1)) + 0.1 * k, device=w.device)
        b.grad = None if k % 2 else mg.tensor(b.numpy() ** 3 - 0.2, device=b.device)
        optimizer.step()


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_resuming_from_a_state_dict_gives_the_same_trajectory(device, make):
    w, b = model(device)
    straight = make(groups(w, b))
    train(straight, w, b, steps=12, start=0)

    w1, b1 = model(device)
    first = make(groups(w1, b1))
    train(first, w1, b1, steps=5, start=0)
    saved = first.state_dict()
    # The parameters as they were at step 5.
    w2, b2 = leaf(w1.numpy(), device=device), leaf(b1.numpy(), device=device)
    train(first, w1, b1, steps=3, start=5)  # must not leak into the saved copies
    # The new group's lr differs on purpose: loading must restore the saved one.
    resumed = make([{"params": [w2]}, {"params": [b2], "lr": 0.5}])
    resumed.load_state_dict(saved)
    assert resumed.param_groups[1]["lr"] == 0.02
    train(resumed, w2, b2, steps=7, start=5)
    np.testing.assert_array_equal(w2.numpy(), w.numpy())
    np.testing.assert_array_equal(b2.numpy(), b.numpy())


def test_state_dict_names_parameters_by_position_and_copies_arrays():
    w, b = model()
    optimizer = Adam(groups(w, b), lr=0.1)
    train(optimizer, w, b, steps=1, start=0)
    state = optimizer.state_dict()
    assert [g["params"] for g in state["param_groups"]] == [[0], [1]]
    assert state["param_groups"][1]["lr"] == 0.02
    assert sorted(state["state"]) == [0, 1] and state["state"][0]["step"] == 1
    saved = state["state"][0]["exp_avg"]
    assert saved is not optimizer.state[w]["exp_avg"]
    saved[...] = 123.0
    assert not np.any(optimizer.state[w]["exp_avg"] == 123.0)


def test_load_state_dict_casts_state_to_the_parameter_dtype():
    w64 = leaf([1.0, 2.0])
    source = Adam([w64], lr=0.1)
    w64.grad = mg.tensor(np.array([0.5, -0.5]))
    source.step()
    w32 = leaf([1.0, 2.0], dtype=np.float32)
    target = Adam([w32], lr=0.1)
    target.load_state_dict(source.state_dict())
    assert target.state[w32]["exp_avg"].dtype == np.float32
    assert target.state[w32]["step"] == 1


def test_load_state_dict_refuses_a_dict_of_another_model():
    w, b = model()
    optimizer = SGD(groups(w, b), lr=0.1, momentum=0.9)
    train(optimizer, w, b, steps=1, start=0)
    state = optimizer.state_dict()
    with pytest.raises(ValueError, match="2 parameter groups but the optimizer has 1"):
        SGD([w, b], lr=0.1).load_state_dict(state)
    with pytest.raises(ValueError, match=r"hold \[1, 1\] parameters .* hold \[2, 1\]"):
        SGD([{"params": [w, leaf([0.0])]}, {"params": [b]}], lr=0.1).load_state_dict(state)
    other = SGD([{"params": [leaf(np.zeros(4))]}, {"params": [leaf([0.0, 0.0])]}], lr=0.1)
    with pytest.raises(ValueError, match=r"shape \(2, 3\) but its parameter has shape \(4,\)"):
        other.load_state_dict(state)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        optimizer.load_state_dict({"state": {}})
