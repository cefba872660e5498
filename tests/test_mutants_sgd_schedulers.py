"""Rules of ``optim/sgd.py`` and of the learning-rate schedulers (``optim/lr_scheduler.py``,
``optim/lr_scheduler_base.py``) that the rest of the suite did not pin down: each test here fails
for a small, realistic change to them (an option compared with 1 instead of 0, a default flipped,
a message naming the wrong option, a state entry of the wrong type let through)."""
import math

import numpy as np
import pytest

import minigrad as mg
from optim import SGD
from optim.lr_scheduler import (CosineAnnealingLR, ExponentialLR, LambdaLR, LinearLR,
                                MultiStepLR, StepLR)


def param(values):
    return mg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def sgd_steps(p0, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
              maximize=False):
    """PyTorch's documented SGD recurrence, written out in NumPy; the parameter after each step."""
    p, buf, out = np.array(p0, dtype=np.float64), None, []
    for g in grads:
        g = np.asarray(g, dtype=np.float64)
        if maximize:
            g = -g
        g = g + weight_decay * p
        if momentum != 0:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        out.append(p)
    return out


GRADS = [[0.5, -1.0], [0.25, 2.0], [-1.5, 0.5], [1.0, 1.0]]
P0 = [1.0, -2.0]


def run_sgd(foreach, grads=GRADS, p0=P0, **options):
    p = param(p0)
    opt = SGD([p], foreach=foreach, **options)
    out = []
    for g in grads:
        p.grad = mg.tensor(np.asarray(g, dtype=np.float64))
        opt.step()
        out.append(p.data.copy())
    return out, opt


# Options set exactly to 1, where a rule written "!= 1" or "== 1" instead of "!= 0" would show.
@pytest.mark.parametrize("foreach", [False, None])
@pytest.mark.parametrize("options", [
    dict(lr=0.1, momentum=1.0),
    dict(lr=0.1, weight_decay=1.0),
    dict(lr=0.1, momentum=0.5, dampening=1.0),
    dict(lr=0.1, momentum=0.5, dampening=0.25, weight_decay=0.5),
    dict(lr=0.1, momentum=1.0, nesterov=True, weight_decay=1.0),
    dict(lr=1.0, momentum=0.9, nesterov=True, maximize=True),
    dict(lr=0.1, maximize=True, weight_decay=0.5),
])
def test_sgd_steps_follow_the_recurrence_with_options_at_one(foreach, options):
    actual, _ = run_sgd(foreach, **options)
    for a, e in zip(actual, sgd_steps(P0, GRADS, **options)):
        np.testing.assert_allclose(a, e, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("foreach", [False, None])
def test_sgd_keeps_a_momentum_buffer_only_when_momentum_is_on(foreach):
    _, opt = run_sgd(foreach, lr=0.1)
    assert opt.state_dict()["state"] in ({}, {0: {}}) or "momentum_buffer" not in \
        opt.state_dict()["state"][0]
    _, opt = run_sgd(foreach, grads=GRADS[:1], lr=0.1, momentum=0.5)
    # The first buffer is the (decayed) gradient itself, undamped.
    np.testing.assert_array_equal(opt.state_dict()["state"][0]["momentum_buffer"], GRADS[0])


def test_sgd_numpy_rule_on_a_0d_parameter_updates_its_buffer_in_place():
    p = param(2.0)
    opt = SGD([p], lr=0.5, momentum=0.5, maximize=True, foreach=False)
    for g in (1.0, 3.0):
        p.grad = mg.tensor(g)
        opt.step()
    expected = sgd_steps(2.0, [1.0, 3.0], lr=0.5, momentum=0.5, maximize=True)
    assert float(p.data) == pytest.approx(float(expected[-1]), rel=1e-15)
    assert float(opt.state_dict()["state"][0]["momentum_buffer"]) == -3.5


def test_sgd_defaults_are_pytorchs():
    group = SGD([param([1.0])], lr=0.1).param_groups[0]
    assert (group["momentum"], group["dampening"], group["weight_decay"]) == (0.0, 0.0, 0.0)
    assert group["nesterov"] is False and group["maximize"] is False
    assert group["foreach"] is None and group["fused"] is None


@pytest.mark.parametrize("option", ["lr", "momentum", "dampening", "weight_decay"])
def test_sgd_refuses_a_negative_option_naming_it(option):
    options = dict(lr=0.1)
    options[option] = -1.0
    with pytest.raises(ValueError, match=rf"^SGD: invalid {option} -1.0, expected a value in "
                                         r"\[0.0, inf\]$"):
        SGD([param([1.0])], **options)


def test_sgd_accepts_zero_for_every_option():
    p = param([1.0, -2.0])
    opt = SGD([p], lr=0.0, momentum=0.0, dampening=0.0, weight_decay=0.0)
    p.grad = mg.tensor(np.array([1.0, 1.0]))
    opt.step()
    np.testing.assert_array_equal(p.data, [1.0, -2.0])


@pytest.mark.parametrize("momentum, dampening", [(0.0, 0.0), (0.9, 0.5), (0.9, 1.0)])
def test_sgd_nesterov_needs_momentum_and_no_dampening(momentum, dampening):
    with pytest.raises(ValueError, match=rf"^SGD: nesterov momentum requires momentum > 0 and "
                                         rf"dampening = 0, got momentum={momentum} and "
                                         rf"dampening={dampening}$"):
        SGD([param([1.0])], lr=0.1, momentum=momentum, dampening=dampening, nesterov=True)


def test_sgd_nesterov_with_momentum_and_no_dampening_is_accepted():
    group = SGD([param([1.0])], lr=0.1, momentum=0.5, nesterov=True).param_groups[0]
    assert group["nesterov"] is True and group["momentum"] == 0.5


# ---- schedulers -------------------------------------------------------------------------------

BASE = 0.1


def sgd(lrs=(BASE,)):
    return SGD([{"params": [param([0.0])], "lr": lr} for lr in lrs], lr=BASE)


def rates(scheduler, epochs):
    """The rates of every group at epoch 0 and after each of ``epochs`` steps."""
    out = [scheduler.get_last_lr()]
    for _ in range(epochs):
        scheduler.step()
        out.append(scheduler.get_last_lr())
    return out


def test_scheduler_defaults_are_pytorchs():
    np.testing.assert_allclose(rates(StepLR(sgd(), step_size=2), 4),
                               [[BASE * 0.1 ** (e // 2)] for e in range(5)], rtol=1e-12)
    np.testing.assert_allclose(rates(MultiStepLR(sgd(), [1, 3]), 4),
                               [[BASE], [BASE * 0.1], [BASE * 0.1], [BASE * 0.01],
                                [BASE * 0.01]], rtol=1e-12)
    # LinearLR: from 1/3 to 1 over 5 epochs.
    np.testing.assert_allclose(rates(LinearLR(sgd()), 6),
                               [[BASE * (1 / 3 + (2 / 3) * min(e, 5) / 5)] for e in range(7)],
                               rtol=1e-12)
    # CosineAnnealingLR: down to 0 at T_max.
    np.testing.assert_allclose(rates(CosineAnnealingLR(sgd(), T_max=4), 4),
                               [[BASE * (1 + math.cos(math.pi * e / 4)) / 2] for e in range(5)],
                               rtol=1e-12, atol=1e-17)


def test_a_second_scheduler_keeps_the_first_initial_lr_as_its_base():
    opt = sgd((0.1, 0.4))
    first = StepLR(opt, step_size=1, gamma=0.5)
    first.step()
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.2]
    second = ExponentialLR(opt, gamma=0.9)
    assert second.base_lrs == [0.1, 0.4] and first.base_lrs == [0.1, 0.4]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.4]
    assert second.get_last_lr() == [0.05, 0.2]   # construction keeps the current rates


def test_resuming_names_the_group_without_initial_lr():
    opt = sgd((0.1, 0.2))
    opt.param_groups[0]["initial_lr"] = 0.1
    with pytest.raises(KeyError, match=r"StepLR: param_groups\[1\] has no 'initial_lr', "
                                       r"needed to resume with last_epoch >= 0; load the "
                                       r"optimizer's state dict first"):
        StepLR(opt, step_size=2, last_epoch=3)


def test_resuming_takes_the_base_from_initial_lr_not_lr():
    opt = sgd((0.1, 0.2))
    for group, initial in zip(opt.param_groups, (1.0, 2.0)):
        group["initial_lr"] = initial
    scheduler = StepLR(opt, step_size=2, gamma=0.5, last_epoch=2)
    # Epoch 3 is not a multiple of 2: the current rates stay; the closed form uses initial_lr.
    assert scheduler.last_epoch == 3 and scheduler.get_last_lr() == [0.1, 0.2]
    assert scheduler.base_lrs == [1.0, 2.0]
    assert scheduler.closed_form_lr() == [0.5, 1.0]


def test_last_epoch_below_minus_one_and_a_non_optimizer_are_refused():
    with pytest.raises(ValueError, match=r"^ExponentialLR: last_epoch must be >= -1, got -2$"):
        ExponentialLR(sgd(), 0.5, last_epoch=-2)
    with pytest.raises(TypeError, match=r"^StepLR: expected an Optimizer, got list$"):
        StepLR([1], step_size=2)


@pytest.mark.parametrize("build, error, message", [
    (lambda opt: StepLR(opt, 0), ValueError, "StepLR: step_size must be >= 1, got 0"),
    (lambda opt: StepLR(opt, 1, gamma=0.0), ValueError,
     "StepLR: invalid gamma 0.0, expected a value in (0.0, inf]"),
    (lambda opt: MultiStepLR(opt, [1, -1]), ValueError,
     "MultiStepLR: milestones[1] must be >= 0, got -1"),
    (lambda opt: MultiStepLR(opt, [1], gamma=0.0), ValueError,
     "MultiStepLR: invalid gamma 0.0, expected a value in (0.0, inf]"),
    (lambda opt: ExponentialLR(opt, -0.5), ValueError,
     "ExponentialLR: invalid gamma -0.5, expected a value in (0.0, inf]"),
    (lambda opt: LinearLR(opt, start_factor=1.5), ValueError,
     "LinearLR: invalid start_factor 1.5, expected a value in (0.0, 1.0]"),
    (lambda opt: LinearLR(opt, end_factor=-0.1), ValueError,
     "LinearLR: invalid end_factor -0.1, expected a value in [0.0, 1.0]"),
    (lambda opt: LinearLR(opt, total_iters=0), ValueError,
     "LinearLR: total_iters must be >= 1, got 0"),
    (lambda opt: CosineAnnealingLR(opt, T_max=0), ValueError,
     "CosineAnnealingLR: T_max must be >= 1, got 0"),
    (lambda opt: CosineAnnealingLR(opt, T_max=2, eta_min="0"), TypeError,
     "CosineAnnealingLR: eta_min must be a real number, got '0' of type str"),
    (lambda opt: LambdaLR(opt, [lambda e: 1.0] * 2), ValueError,
     "LambdaLR: expected 1 lr_lambdas (one per parameter group), got 2"),
    (lambda opt: LambdaLR(opt, [lambda e: 1.0, 2.0][1:]), TypeError,
     "LambdaLR: lr_lambda 0 must be callable, got float"),
])
def test_scheduler_options_are_refused_with_the_exact_message(build, error, message):
    with pytest.raises(error) as info:
        build(sgd())
    assert str(info.value) == message


@pytest.mark.parametrize("build", [
    lambda opt: StepLR(opt, 1, gamma=1e-9),
    lambda opt: MultiStepLR(opt, [0, 0], gamma=1e-9),
    lambda opt: ExponentialLR(opt, 1e-9),
    lambda opt: LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=1),
    lambda opt: LinearLR(opt, start_factor=1e-9, end_factor=1.0, total_iters=1),
    lambda opt: CosineAnnealingLR(opt, T_max=1, eta_min=-1.0),
])
def test_scheduler_options_at_their_bounds_are_accepted(build):
    scheduler = build(sgd())
    scheduler.step()
    assert len(scheduler.get_last_lr()) == 1


def test_linear_lr_from_one_to_zero_in_one_epoch():
    np.testing.assert_allclose(rates(LinearLR(sgd((0.1, 0.2)), 1.0, 0.0, 1), 3),
                               [[0.1, 0.2], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]], atol=1e-17)


def test_cosine_with_t_max_one_alternates_between_base_lr_and_a_negative_eta_min():
    expected = [[0.1, 0.2], [-0.05, -0.05]] * 3
    np.testing.assert_allclose(rates(CosineAnnealingLR(sgd((0.1, 0.2)), 1, -0.05), 5),
                               expected, rtol=1e-12, atol=1e-17)


def test_multistep_milestone_at_epoch_zero_decays_at_construction():
    # As in PyTorch: construction is epoch 0, and a milestone there applies at once.
    scheduler = MultiStepLR(sgd(), [0, 2], gamma=0.5)
    np.testing.assert_allclose(rates(scheduler, 3), [[0.05], [0.05], [0.025], [0.025]],
                               rtol=1e-12)


class Power:
    """A schedule as a callable object: its attribute is saved in the state dict."""

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate ** epoch


def test_lambda_lr_saves_a_callable_objects_attributes_and_none_for_a_function():
    opt = sgd((0.1, 0.2))
    scheduler = LambdaLR(opt, [Power(0.5), lambda e: 1.0 / (e + 1)])
    for _ in range(3):
        scheduler.step()
    saved = scheduler.state_dict()
    assert saved["lr_lambdas"] == [{"rate": 0.5}, None]
    assert saved["last_epoch"] == 3 and saved["base_lrs"] == [0.1, 0.2]
    # Resumed with the same kinds of schedule but another rate, the saved rate wins.
    resumed = LambdaLR(sgd((0.1, 0.2)), [Power(0.9), lambda e: 1.0 / (e + 1)])
    resumed.load_state_dict(saved)
    assert resumed.lr_lambdas[0].rate == 0.5
    resumed.step()
    np.testing.assert_allclose(resumed.get_last_lr(), [0.1 * 0.5 ** 4, 0.2 / 5], rtol=1e-12)


def test_lambda_lr_state_dict_keeps_no_deep_copy_of_the_callables():
    class Stream:
        """A callable holding a generator, which cannot be deep-copied."""

        def __init__(self):
            self.source = (k for k in range(3))

        def __call__(self, epoch):
            return 1.0

    scheduler = LambdaLR(sgd(), Stream())
    saved = scheduler.state_dict()
    assert set(saved["lr_lambdas"][0]) == {"source"}


def test_lambda_lr_state_dict_is_a_deep_copy():
    scheduler = LambdaLR(sgd(), Power(0.5))
    saved = scheduler.state_dict()
    saved["base_lrs"][0] = 9.0
    saved["_last_lr"][0] = 9.0
    assert scheduler.base_lrs == [BASE] and scheduler.get_last_lr() == [BASE]


@pytest.mark.parametrize("entry", [5, {1: 0.5}, ["rate"]])
def test_lambda_lr_refuses_a_saved_lambda_that_is_not_none_or_an_attribute_dict(entry):
    # A plain function saves None, and its slot takes any value the check below looks at.
    scheduler = LambdaLR(sgd(), lambda e: 0.5 ** e)
    scheduler.step()
    saved = scheduler.state_dict()
    saved["lr_lambdas"] = [entry]
    saved["last_epoch"] = 7
    with pytest.raises(TypeError) as info:
        scheduler.load_state_dict(saved)
    assert str(info.value) == (f"LambdaLR.load_state_dict: lr_lambdas[0] is {entry!r}; "
                               "expected None or the dict of a callable object's attributes")
    assert scheduler.last_epoch == 1


def test_lambda_lr_resumes_at_last_epoch():
    opt = sgd((0.1, 0.2))
    for group in opt.param_groups:
        group["initial_lr"] = group["lr"]
    scheduler = LambdaLR(opt, lambda e: 0.5 ** e, last_epoch=2)
    assert scheduler.last_epoch == 3
    np.testing.assert_allclose(scheduler.get_last_lr(), [0.1 / 8, 0.2 / 8], rtol=1e-12)


@pytest.mark.parametrize("lr_lambda", [lambda e: 1.0, [lambda e: 1.0], [lambda e: 1.0] * 2])
def test_lambda_lr_on_a_non_optimizer_names_the_type(lr_lambda):
    with pytest.raises(TypeError, match=r"^LambdaLR: expected an Optimizer, got str$"):
        LambdaLR("sgd", lr_lambda)


# ---- scheduler state dicts (lr_scheduler_base) ------------------------------------------------

def step_lr_state(**changes):
    scheduler = StepLR(sgd(), step_size=2, gamma=0.5)
    scheduler.step()
    saved = scheduler.state_dict()
    saved.update(changes)
    return saved


def refusal(scheduler, saved):
    with pytest.raises((TypeError, ValueError)) as info:
        scheduler.load_state_dict(saved)
    return type(info.value), str(info.value)


@pytest.mark.parametrize("saved, error, message", [
    ([1, 2], TypeError, "StepLR.load_state_dict: expected a dict as returned by state_dict(), "
                        "got a list"),
    ({"gamma": 0.5}, ValueError, "StepLR.load_state_dict: the state dict does not fit a StepLR "
                                 "(missing keys ['step_size', 'base_lrs', 'last_epoch', "
                                 "'_is_initial', '_last_lr'], unexpected keys [])"),
    (step_lr_state(surprise=1), ValueError, "StepLR.load_state_dict: the state dict does not "
                                            "fit a StepLR (missing keys [], unexpected keys "
                                            "['surprise'])"),
    (step_lr_state(last_epoch=-2), ValueError, "StepLR.load_state_dict: last_epoch must be "
                                               ">= -1, got -2"),
    (step_lr_state(last_epoch=3.0), TypeError, "StepLR.load_state_dict: last_epoch is 3.0, but "
                                               "this scheduler holds 0 there (a int)"),
    (step_lr_state(last_epoch=True), TypeError, "StepLR.load_state_dict: last_epoch is True, "
                                                "but this scheduler holds 0 there (a int)"),
    (step_lr_state(gamma=True), TypeError, "StepLR.load_state_dict: gamma is True, but this "
                                           "scheduler holds 0.1 there (a float)"),
    (step_lr_state(gamma="0.5"), TypeError, "StepLR.load_state_dict: gamma is '0.5', but this "
                                            "scheduler holds 0.1 there (a float)"),
    (step_lr_state(gamma=None), TypeError, "StepLR.load_state_dict: gamma is None, but this "
                                           "scheduler holds 0.1 there (a float)"),
    (step_lr_state(_is_initial=0), TypeError, "StepLR.load_state_dict: _is_initial is 0, but "
                                              "this scheduler holds False there (a bool)"),
    (step_lr_state(base_lrs=[0.1, 0.2]), TypeError, "StepLR.load_state_dict: base_lrs is "
                                                    "[0.1, 0.2], but this scheduler holds "
                                                    "[0.1] there (a list)"),
    (step_lr_state(base_lrs=0.1), TypeError, "StepLR.load_state_dict: base_lrs is 0.1, but "
                                             "this scheduler holds [0.1] there (a list)"),
    (step_lr_state(_last_lr=["x"]), TypeError, "StepLR.load_state_dict: _last_lr[0] is 'x', "
                                               "but this scheduler holds 0.1 there (a float)"),
    (step_lr_state(step_size=0), ValueError, "StepLR.load_state_dict: step_size must be >= 1, "
                                             "got 0"),
    (step_lr_state(base_lrs=["a" * 100]), TypeError,
     "StepLR.load_state_dict: base_lrs[0] is '" + "a" * 79 + ", but this scheduler holds 0.1 "
     "there (a float)"),
])
def test_a_refused_scheduler_state_names_the_entry(saved, error, message):
    scheduler = StepLR(sgd(), step_size=3, gamma=0.1)
    before = dict(scheduler.__dict__)
    assert refusal(scheduler, saved) == (error, message)
    assert scheduler.__dict__ == before


def test_a_multistep_state_needs_a_dict_of_milestones():
    scheduler = MultiStepLR(sgd(), [1, 2])
    saved = scheduler.state_dict()
    saved["milestones"] = [1, 2]
    assert refusal(scheduler, saved) == (
        TypeError, "MultiStepLR.load_state_dict: milestones is [1, 2], but this scheduler holds "
                   "Counter({1: 1, 2: 1}) there (a Counter)")


def test_a_loaded_scheduler_state_takes_numpy_numbers_as_python_numbers():
    saved = step_lr_state(gamma=np.float64(0.25), step_size=np.int64(1),
                          last_epoch=np.array(4), base_lrs=(np.float32(0.5),),
                          _is_initial=np.bool_(False))
    scheduler = StepLR(sgd(), step_size=3, gamma=0.1)
    scheduler.load_state_dict(saved)
    assert type(scheduler.gamma) is float and scheduler.gamma == 0.25
    assert type(scheduler.step_size) is int and scheduler.step_size == 1
    assert type(scheduler.last_epoch) is int and scheduler.last_epoch == 4
    assert type(scheduler.base_lrs) is list and scheduler.base_lrs == [0.5]
    assert scheduler._is_initial is False
    scheduler.step()                        # epoch 5, step_size 1: one more decay
    assert scheduler.get_last_lr() == [pytest.approx(BASE * 0.25, rel=1e-12)]


def test_an_int_loads_where_a_float_was_saved():
    scheduler = StepLR(sgd(), step_size=3, gamma=0.1)
    scheduler.load_state_dict(step_lr_state(gamma=1, base_lrs=[2]))
    assert scheduler.gamma == 1 and scheduler.base_lrs == [2]


def test_scheduler_state_dict_is_a_deep_copy_without_the_optimizer():
    scheduler = MultiStepLR(sgd(), [1, 2])
    saved = scheduler.state_dict()
    assert "optimizer" not in saved
    saved["base_lrs"][0] = 9.0
    saved["milestones"][5] = 1
    assert scheduler.base_lrs == [BASE] and 5 not in scheduler.milestones
    loaded = dict(step_lr_state())
    target = StepLR(sgd(), step_size=3)
    target.load_state_dict(loaded)
    loaded["base_lrs"][0] = 7.0
    assert target.base_lrs == [BASE]


@pytest.mark.parametrize("milestones, error, message", [
    ({-2: 1}, ValueError, "MultiStepLR.load_state_dict: a milestone must be >= 0, got -2"),
    ({"3": 1}, TypeError, "MultiStepLR.load_state_dict: a milestone must be an int, got '3' "
                          "of type str"),
    ({3: 0}, ValueError, "MultiStepLR.load_state_dict: the count of milestone 3 must be >= 1, "
                         "got 0"),
    ({3: 1.0}, TypeError, "MultiStepLR.load_state_dict: the count of milestone 3 must be an "
                          "int, got 1.0 of type float"),
])
def test_a_multistep_state_with_a_bad_milestone_is_refused(milestones, error, message):
    scheduler = MultiStepLR(sgd(), [1, 2])
    saved = scheduler.state_dict()
    saved["milestones"] = milestones
    assert refusal(scheduler, saved) == (error, message)
    assert scheduler.milestones == {1: 1, 2: 1}


def test_a_multistep_state_read_back_as_a_plain_dict_loads_as_a_counter():
    scheduler = MultiStepLR(sgd(), [1], gamma=0.5)
    saved = scheduler.state_dict()
    # As a file gives it back: a plain dict with NumPy integer keys and counts.
    saved["milestones"] = {np.int64(2): np.int64(2), np.int64(4): np.int64(1)}
    scheduler.load_state_dict(saved)
    assert type(scheduler.milestones).__name__ == "Counter"
    assert all(type(m) is int and type(c) is int for m, c in scheduler.milestones.items())
    scheduler.last_epoch = 3
    assert scheduler.closed_form_lr() == [pytest.approx(BASE * 0.25, rel=1e-12)]
    scheduler.last_epoch = 4
    assert scheduler.closed_form_lr() == [pytest.approx(BASE * 0.125, rel=1e-12)]


@pytest.mark.parametrize("gamma", [0.0, -1.0])
def test_a_loaded_gamma_is_checked(gamma):
    for scheduler in (MultiStepLR(sgd(), [1]), ExponentialLR(sgd(), 0.5), StepLR(sgd(), 2)):
        saved = scheduler.state_dict()
        saved["gamma"] = gamma
        name = type(scheduler).__name__
        assert refusal(scheduler, saved) == (
            ValueError, f"{name}.load_state_dict: invalid gamma {gamma}, expected a value in "
                        "(0.0, inf]")


def test_loaded_linear_and_cosine_options_are_checked():
    linear = LinearLR(sgd())
    for key, value, message in [
            ("start_factor", 0.0, "invalid start_factor 0.0, expected a value in (0.0, 1.0]"),
            ("end_factor", 2.0, "invalid end_factor 2.0, expected a value in [0.0, 1.0]"),
            ("total_iters", 0, "total_iters must be >= 1, got 0")]:
        saved = linear.state_dict()
        saved[key] = value
        assert refusal(linear, saved) == (ValueError, "LinearLR.load_state_dict: " + message)
    cosine = CosineAnnealingLR(sgd(), T_max=3)
    saved = cosine.state_dict()
    saved["T_max"] = 0
    assert refusal(cosine, saved) == (
        ValueError, "CosineAnnealingLR.load_state_dict: T_max must be >= 1, got 0")


# ---- the same edge cases against PyTorch (each has a NumPy-only test above) -------------------

EDGE_CASES = {
    "milestone at epoch 0": (lambda m, opt: m.MultiStepLR(opt, [0, 2], gamma=0.5), None),
    "step resumed": (lambda m, opt: m.StepLR(opt, step_size=2, gamma=0.5, last_epoch=2),
                     (1.0, 2.0)),
    "lambda resumed": (lambda m, opt: m.LambdaLR(opt, lambda e: 0.5 ** e, last_epoch=2),
                       (0.1, 0.2)),
    "linear from 1 to 0 in one epoch": (lambda m, opt: m.LinearLR(opt, 1.0, 0.0, 1), None),
    "cosine with T_max 1": (lambda m, opt: m.CosineAnnealingLR(opt, T_max=1, eta_min=-0.05),
                            None),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_scheduler_edge_cases_vs_torch(case):
    torch = pytest.importorskip("torch")
    build, initial = EDGE_CASES[case]
    from optim import lr_scheduler

    ours = sgd((0.1, 0.2))
    theirs = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr}
                              for lr in (0.1, 0.2)], lr=BASE)
    for opt in (ours, theirs):
        for group, lr in zip(opt.param_groups, initial or ()):
            group["initial_lr"] = lr
    ours, theirs = build(lr_scheduler, ours), build(torch.optim.lr_scheduler, theirs)
    for epoch in range(6):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12,
                                   atol=1e-15, err_msg=f"epoch {epoch}")
        theirs.optimizer.step()
        ours.step()
        theirs.step()


@pytest.mark.parametrize("switch", ["foreach", "fused"])
def test_sgd_names_itself_when_the_kernel_cannot_take_a_gradient(switch):
    p = param([1.0, 2.0])
    opt = SGD([p], lr=0.1, **{switch: True})
    p.grad = mg.tensor(np.ones(2, dtype=np.float32))
    with pytest.raises(ValueError) as info:
        opt.step()
    assert str(info.value) == (
        f"SGD: {switch}=True but parameter 0 of its group (shape (2,)) cannot be updated by "
        "the fused kernel: its gradient has dtype float32, not the parameter's float64. Use "
        "foreach=None to update such parameters with the NumPy rule")
    np.testing.assert_array_equal(p.data, [1.0, 2.0])


def test_lambda_lr_load_state_dict_takes_a_copy_of_the_saved_attributes():
    class Table:
        """A schedule read from a list of factors, one per epoch."""

        def __init__(self, factors):
            self.factors = factors

        def __call__(self, epoch):
            return self.factors[min(epoch, len(self.factors) - 1)]

    saved = LambdaLR(sgd(), Table([1.0, 0.5, 0.25])).state_dict()
    resumed = LambdaLR(sgd(), Table([1.0]))
    resumed.load_state_dict(saved)
    saved["lr_lambdas"][0]["factors"][1] = 9.0
    assert resumed.lr_lambdas[0].factors == [1.0, 0.5, 0.25]
    resumed.step()
    assert resumed.get_last_lr() == [pytest.approx(BASE * 0.5, rel=1e-12)]


def test_multistep_lr_resumes_at_last_epoch():
    opt = sgd((0.1, 0.2))
    for group in opt.param_groups:
        group["initial_lr"] = 1.0
    scheduler = MultiStepLR(opt, [2, 4], gamma=0.5, last_epoch=3)
    # Construction moves to epoch 4, a milestone: the current rates decay once.
    assert scheduler.last_epoch == 4
    np.testing.assert_allclose(scheduler.get_last_lr(), [0.05, 0.1], rtol=1e-12)
    assert scheduler.closed_form_lr() == [0.25, 0.25]
