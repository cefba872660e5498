"""Optimizer and scheduler state dicts: a refused load changes nothing, another kind of
optimizer's state is refused at load time, and a checkpoint written with ``mg.save`` at any
step resumes bit for bit as if training had never stopped."""
import copy

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from optim import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop
from optim.lr_scheduler import (ChainedScheduler, CosineAnnealingLR, ExponentialLR, LambdaLR,
                                LinearLR, LRScheduler, MultiStepLR, ReduceLROnPlateau,
                                SequentialLR, StepLR)

OPTIMIZERS = {
    "sgd": lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "sgd_dampened": lambda ps: SGD(ps, lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.1),
    "adagrad": lambda ps: Adagrad(ps, lr=0.1, lr_decay=0.05, initial_accumulator_value=0.2),
    "rmsprop": lambda ps: RMSprop(ps, lr=0.01, momentum=0.5, centered=True, weight_decay=1e-3),
    "adam": lambda ps: Adam(ps, lr=0.05, amsgrad=True, weight_decay=1e-2),
    "adamw": lambda ps: AdamW(ps, lr=0.05, amsgrad=True),
    "adadelta": lambda ps: Adadelta(ps, lr=0.5, rho=0.8, weight_decay=1e-2),
    "adamax": lambda ps: Adamax(ps, lr=0.05, betas=(0.8, 0.99), weight_decay=1e-2),
    "nadam": lambda ps: NAdam(ps, lr=0.05, weight_decay=1e-2, momentum_decay=0.01),
    "nadam_decoupled": lambda ps: NAdam(ps, lr=0.05, weight_decay=0.1,
                                        decoupled_weight_decay=True),
    "radam": lambda ps: RAdam(ps, lr=0.05, weight_decay=1e-2, decoupled_weight_decay=True),
}

SCHEDULERS = {
    "lambda": lambda opt: LambdaLR(opt, lambda e: 0.9 ** e),
    "step": lambda opt: StepLR(opt, 3, 0.5),
    "multistep": lambda opt: MultiStepLR(opt, [2, 4, 4], 0.3),
    "exponential": lambda opt: ExponentialLR(opt, 0.8),
    "linear": lambda opt: LinearLR(opt, 0.1, 0.9, 6),
    "cosine": lambda opt: CosineAnnealingLR(opt, 5, 1e-3),
    "sequential": lambda opt: SequentialLR(
        opt, [LinearLR(opt, 0.1, 1.0, 3), MultiStepLR(opt, [2, 5], 0.5)], [3]),
    "chained": lambda opt: ChainedScheduler([ExponentialLR(opt, 0.9), StepLR(opt, 2, 0.5)]),
    "plateau": lambda opt: ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1),
}


def params():
    w = mg.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3), requires_grad=True)
    b = mg.tensor(np.array([0.5, -0.5]), requires_grad=True)
    return (w, b)


def groups(w, b):
    return [{"params": [w]}, {"params": [b], "lr": 0.02}]


def metric(k):
    """A validation loss that stalls now and then, so that the plateau rule fires."""
    return 1.0 / (1 + k // 3)


def train(optimizer, scheduler, w, b, start, steps):
    for k in range(start, start + steps):
        w.grad = mg.tensor(np.sin(w.numpy() * (k + 1)) + 0.1 * k)
        b.grad = None if k % 2 else mg.tensor(b.numpy() ** 3 - 0.2)
        optimizer.step()
        if isinstance(scheduler, ReduceLROnPlateau):
            scheduler.step(metric(k))
        elif scheduler is not None:
            scheduler.step()


def snapshot(optimizer, scheduler=None):
    """Every array's bytes and every hyper-parameter, deep-copied for an exact comparison."""
    arrays = {(i, key): (value.dtype, value.tobytes())
              for i, p in enumerate(p for g in optimizer.param_groups for p in g["params"])
              for key, value in optimizer.state.get(p, {}).items() if hasattr(value, "dtype")}
    steps = {i: optimizer.state.get(p, {}).get("step")
             for i, p in enumerate(p for g in optimizer.param_groups for p in g["params"])}
    hyper = [{k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
             for g in optimizer.param_groups]
    return (arrays, steps, hyper, repr(scheduler.state_dict()) if scheduler else None)


def bad_optimizer_states(saved):
    """(description, corrupt copy of ``saved``) for each kind of refused optimizer state."""
    def edit(fn):
        broken = copy.deepcopy(saved)
        fn(broken)
        return broken

    last = max(saved["state"])
    first_buffer = next(k for k in saved["state"][last] if k != "step")
    return [
        ("no param_groups", edit(lambda s: s.pop("param_groups"))),
        ("extra top-level key", edit(lambda s: s.update(extra=1))),
        ("one group too many", edit(lambda s: s["param_groups"].append(
            dict(s["param_groups"][0], params=[7])))),
        ("params per group", edit(lambda s: s["param_groups"][1]["params"].append(9))),
        ("lr of the last group is a string",
         edit(lambda s: s["param_groups"][-1].update(lr="fast"))),
        ("negative lr in the last group", edit(lambda s: s["param_groups"][-1].update(lr=-1.0))),
        ("buffer of the last parameter has another shape",
         edit(lambda s: s["state"][last].update({first_buffer: np.zeros(7)}))),
        ("buffer of the last parameter is a string array",
         edit(lambda s: s["state"][last].update(
             {first_buffer: np.full(s["state"][last][first_buffer].shape, "x")}))),
        ("buffer is a list", edit(lambda s: s["state"][last].update({first_buffer: [1.0]}))),
        ("state for an unlisted parameter", edit(lambda s: s["state"].update({5: {}}))),
        ("position listed twice", edit(lambda s: s["param_groups"][1].update(params=[0]))),
        ("unknown buffer", edit(lambda s: s["state"][last].update(
            {"mystery": s["state"][last][first_buffer]}))),
        ("another kind", edit(lambda s: s.update(kind="Lion"))),
    ]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_refused_optimizer_load_changes_nothing(name):
    make = OPTIMIZERS[name]
    w, b = params()
    source = make(groups(w, b))
    train(source, None, w, b, 0, 4)
    saved = source.state_dict()
    w2, b2 = params()
    target = make([{"params": [w2]}, {"params": [b2], "lr": 0.3}])
    train(target, None, w2, b2, 0, 3)
    before = snapshot(target)
    for description, broken in bad_optimizer_states(saved):
        with pytest.raises((ValueError, TypeError)):
            target.load_state_dict(broken)
        assert snapshot(target) == before, description
    target.load_state_dict(saved)  # the good one still loads
    assert snapshot(target) == snapshot(source)


KIND_PAIRS = [("sgd", "adam"), ("adam", "sgd"), ("adam", "adamw"), ("adamw", "adam"),
              ("adagrad", "rmsprop"), ("rmsprop", "adagrad"), ("sgd", "rmsprop"),
              ("adagrad", "adam"), ("adadelta", "rmsprop"), ("rmsprop", "adadelta"),
              ("adamax", "adam"), ("adam", "adamax"), ("nadam", "adam"), ("adam", "nadam"),
              ("radam", "adam"), ("adam", "radam"), ("radam", "nadam"), ("sgd", "adadelta")]

# Without a recorded kind, AdamW's state is that of an Adam with decoupled_weight_decay=True,
# which Adam accepts (see the test after this one), and RAdam keeps the very buffers of Adam
# (step, exp_avg, exp_avg_sq); every other pair is told apart.
SAME_BUFFERS = [("adamw", "adam"), ("radam", "adam")]


@pytest.mark.parametrize("source, target, with_kind",
                         [pair + (True,) for pair in KIND_PAIRS]
                         + [pair + (False,) for pair in KIND_PAIRS if pair not in SAME_BUFFERS])
def test_another_kind_of_optimizer_is_refused_at_load_time(source, target, with_kind):
    w, b = params()
    first = OPTIMIZERS[source](groups(w, b))
    train(first, None, w, b, 0, 2)
    saved = first.state_dict()
    if not with_kind:
        del saved["kind"]  # an older file: the kind is inferred from the buffers' names
    w2, b2 = params()
    second = OPTIMIZERS[target](groups(w2, b2))
    before = snapshot(second)
    with pytest.raises(ValueError, match="another kind of optimizer|of a .* optimizer"):
        second.load_state_dict(saved)
    assert snapshot(second) == before


def test_adamw_state_without_kind_makes_adam_decoupled():
    w, b = params()
    first = AdamW(groups(w, b), lr=0.1, weight_decay=0.5)
    train(first, None, w, b, 0, 2)
    saved = first.state_dict()
    del saved["kind"]
    second = Adam(groups(*params()), lr=0.1)
    second.load_state_dict(saved)
    assert all(g["decoupled_weight_decay"] for g in second.param_groups)
    assert snapshot(second) == snapshot(first)


def test_a_state_dict_without_kind_of_the_same_kind_still_loads():
    w, b = params()
    first = Adam(groups(w, b), lr=0.1)
    train(first, None, w, b, 0, 2)
    saved = first.state_dict()
    assert saved["kind"] == "Adam"
    del saved["kind"]
    second = Adam(groups(*params()), lr=0.1)
    second.load_state_dict(saved)
    assert snapshot(second) == snapshot(first)


def test_a_torch_style_float_step_loads_as_an_int():
    w, b = params()
    first = Adam(groups(w, b), lr=0.1)
    train(first, None, w, b, 0, 3)
    saved = first.state_dict()
    saved["state"][0]["step"] = np.array(3.0)
    second = Adam(groups(*params()), lr=0.1)
    second.load_state_dict(saved)
    assert type(second.state[second.param_groups[0]["params"][0]]["step"]) is int
    saved["state"][0]["step"] = 2.5
    with pytest.raises(ValueError, match="'step' is 2.5; expected a count"):
        Adam(groups(*params()), lr=0.1).load_state_dict(saved)


def bad_scheduler_states(saved):
    def edit(fn):
        broken = copy.deepcopy(saved)
        fn(broken)
        return broken

    cases = [("not a dict", [1, 2]), ("missing key", edit(lambda s: s.popitem())),
             ("unexpected key", edit(lambda s: s.update(surprise=1)))]
    if "last_epoch" in saved:
        cases += [("last_epoch a string", edit(lambda s: s.update(last_epoch="3"))),
                  ("last_epoch below -1", edit(lambda s: s.update(last_epoch=-5)))]
    if "_last_lr" in saved:
        cases.append(("_last_lr per group", edit(lambda s: s["_last_lr"].append(0.1))))
    for key in ("gamma", "factor", "T_max", "step_size", "total_iters", "start_factor"):
        if key in saved:
            cases.append((f"{key} out of range", edit(lambda s, key=key: s.update({key: -1}))))
    if "milestones" in saved:
        cases.append(("milestone negative", edit(lambda s: s.update(milestones={-2: 1}))))
    if "mode" in saved:
        cases.append(("mode", edit(lambda s: s.update(mode="sideways"))))
    if "_schedulers" in saved:
        # The first member is fine, the last is broken: the first must not be loaded either.
        cases.append(("last member broken", edit(lambda s: s["_schedulers"][-1].update(
            last_epoch="x"))))
        cases.append(("member missing", edit(lambda s: s["_schedulers"].pop())))
    if "_milestones" in saved:
        cases.append(("milestones decreasing", edit(lambda s: s.update(_milestones=[-1]))))
    return cases


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_a_refused_scheduler_load_changes_nothing(name):
    make = SCHEDULERS[name]
    w, b = params()
    opt = SGD(groups(w, b), lr=0.1, momentum=0.9)
    scheduler = make(opt)
    train(opt, scheduler, w, b, 0, 6)
    saved = scheduler.state_dict()
    w2, b2 = params()
    opt2 = SGD(groups(w2, b2), lr=0.1, momentum=0.9)
    target = make(opt2)
    train(opt2, target, w2, b2, 0, 2)
    before = snapshot(opt2, target)
    members = getattr(target, "_schedulers", [])
    members_before = [repr(m.__dict__) for m in members]
    cases = bad_scheduler_states(saved)
    assert len(cases) >= 4
    for description, broken in cases:
        with pytest.raises((ValueError, TypeError)):
            target.load_state_dict(broken)
        assert snapshot(opt2, target) == before, description
        assert [repr(m.__dict__) for m in members] == members_before, description
    target.load_state_dict(saved)
    assert target.state_dict().keys() == saved.keys()


def resumed_run(tmp_path, make_optimizer, make_scheduler, stop, total):
    """Train ``total`` steps straight and, separately, ``stop`` steps, save to a file, load into
    fresh objects and train the rest; return both (parameters, lrs) for comparison."""
    w, b = params()
    opt = make_optimizer(groups(w, b))
    sched = make_scheduler(opt) if make_scheduler else None
    train(opt, sched, w, b, 0, total)
    straight = (w.numpy(), b.numpy(), [g["lr"] for g in opt.param_groups])

    w1, b1 = params()
    opt1 = make_optimizer(groups(w1, b1))
    sched1 = make_scheduler(opt1) if make_scheduler else None
    train(opt1, sched1, w1, b1, 0, stop)
    path = tmp_path / f"ckpt_{stop}.npz"
    mg.save({"w": w1, "b": b1, "optim": opt1.state_dict(),
             "sched": sched1.state_dict() if sched1 else None, "step": stop}, path)

    loaded = mg.load(path)
    w2 = mg.tensor(loaded["w"], requires_grad=True)
    b2 = mg.tensor(loaded["b"], requires_grad=True)
    opt2 = make_optimizer([{"params": [w2]}, {"params": [b2], "lr": 0.7}])
    sched2 = make_scheduler(opt2) if make_scheduler else None
    opt2.load_state_dict(loaded["optim"])
    if sched2 is not None:
        sched2.load_state_dict(loaded["sched"])
    train(opt2, sched2, w2, b2, loaded["step"], total - stop)
    resumed = (w2.numpy(), b2.numpy(), [g["lr"] for g in opt2.param_groups])
    return (straight, resumed)


def assert_identical(straight, resumed):
    np.testing.assert_array_equal(resumed[0], straight[0])
    np.testing.assert_array_equal(resumed[1], straight[1])
    assert resumed[2] == straight[2]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("stop", [0, 1, 4, 7])
def test_every_optimizer_resumes_exactly_from_a_file(tmp_path, name, stop):
    assert_identical(*resumed_run(tmp_path, OPTIMIZERS[name], None, stop, 9))


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
@pytest.mark.parametrize("stop", [0, 1, 3, 4, 8])
def test_every_scheduler_resumes_exactly_from_a_file(tmp_path, name, stop):
    # Stops 3 and 4 sit at SequentialLR's switch and just past MultiStepLR's milestones.
    make_optimizer = lambda ps: SGD(ps, lr=0.1, momentum=0.9)  # noqa: E731
    assert_identical(*resumed_run(tmp_path, make_optimizer, SCHEDULERS[name], stop, 11))


@settings(max_examples=15, deadline=None)
@given(stop=st.integers(0, 12), optimizer=st.sampled_from(sorted(OPTIMIZERS)),
       scheduler=st.sampled_from(sorted(SCHEDULERS)))
def test_any_pair_resumes_exactly_at_any_step(tmp_path_factory, stop, optimizer, scheduler):
    tmp_path = tmp_path_factory.mktemp("resume")
    assert_identical(*resumed_run(tmp_path, OPTIMIZERS[optimizer], SCHEDULERS[scheduler],
                                  stop, 13))


def test_sequential_of_linear_and_multistep_survives_a_file(tmp_path):
    """The reported crash: the milestone Counter came back from the file as a dict."""
    opt = SGD(groups(*params()), lr=0.1)
    sched = SCHEDULERS["sequential"](opt)
    opt.step()
    sched.step()
    mg.save({"sched": sched.state_dict()}, tmp_path / "s.npz")
    opt2 = SGD(groups(*params()), lr=0.1)
    sched2 = SCHEDULERS["sequential"](opt2)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(mg.load(tmp_path / "s.npz")["sched"])
    for _ in range(8):
        sched.step()
        sched2.step()
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_scheduler_base_class_lives_in_lr_scheduler_base():
    from optim.lr_scheduler_base import LRScheduler as Base
    assert LRScheduler is Base
    assert issubclass(StepLR, Base)


def test_nadam_momentum_product_is_checked_and_a_torch_style_0d_one_loads_as_a_float():
    w, b = params()
    first = OPTIMIZERS["nadam"](groups(w, b))
    train(first, None, w, b, 0, 3)
    saved = first.state_dict()
    saved["state"][0]["mu_product"] = np.array(saved["state"][0]["mu_product"])
    second = OPTIMIZERS["nadam"](groups(*params()))
    second.load_state_dict(saved)
    assert type(second.state[second.param_groups[0]["params"][0]]["mu_product"]) is float
    assert snapshot(second) == snapshot(first)
    saved["state"][0]["mu_product"] = "0.5"
    third = OPTIMIZERS["nadam"](groups(*params()))
    with pytest.raises(TypeError, match="'mu_product' is '0.5'; expected a real number"):
        third.load_state_dict(saved)
    assert len(third.state) == 0
