"""Learning-rate schedulers: each sequence against its closed form written out here."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from optim import SGD, Adam
from optim.lr_scheduler import (ChainedScheduler, CosineAnnealingLR, ExponentialLR, LambdaLR,
                                LinearLR, MultiStepLR, ReduceLROnPlateau, SequentialLR, StepLR)

BASE = 0.1


def optimizer(lr=BASE, groups=1):
    params = [{"params": [mg.tensor(np.zeros(2), requires_grad=True)], "lr": lr * (k + 1)}
              for k in range(groups)]
    return SGD(params, lr=lr, momentum=0.9)


def sequence(scheduler, epochs, group=0):
    """The rate at epoch 0 (after construction) and after each of ``epochs`` steps.

    Along the way, a scheduler with a closed form must agree with it at every epoch.
    """
    closed_form = type(scheduler) not in (SequentialLR, ChainedScheduler)
    out = [scheduler.get_last_lr()[group]]
    for _ in range(epochs):
        scheduler.optimizer.step()
        scheduler.step()
        out.append(scheduler.get_last_lr()[group])
        assert scheduler.optimizer.param_groups[group]["lr"] == out[-1]
        if closed_form:
            assert scheduler.closed_form_lr()[group] == pytest.approx(out[-1], rel=1e-9)
    return out


def assert_sequence(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-15)


def test_step_lr():
    opt = optimizer()
    expected = [BASE * 0.5 ** (e // 3) for e in range(13)]
    assert_sequence(sequence(StepLR(opt, step_size=3, gamma=0.5), 12), expected)
    assert opt.param_groups[0]["initial_lr"] == BASE


def test_multi_step_lr_counts_repeated_milestones():
    milestones = [2, 5, 5, 9]
    expected = [BASE * 0.1 ** sum(m <= e for m in milestones) for e in range(13)]
    assert_sequence(sequence(MultiStepLR(optimizer(), milestones, gamma=0.1), 12), expected)


def test_exponential_lr():
    assert_sequence(sequence(ExponentialLR(optimizer(), gamma=0.9), 10),
                    [BASE * 0.9 ** e for e in range(11)])


def test_linear_lr_warms_up_then_holds():
    s, f, T = 0.25, 1.0, 4
    expected = [BASE * (s + (f - s) * min(e, T) / T) for e in range(10)]
    assert_sequence(sequence(LinearLR(optimizer(), s, f, T), 9), expected)


def test_cosine_annealing_follows_the_cosine_past_t_max():
    T, eta_min = 10, 0.01
    expected = [eta_min + (BASE - eta_min) * (1 + math.cos(math.pi * e / T)) / 2
                for e in range(31)]
    actual = sequence(CosineAnnealingLR(optimizer(), T_max=T, eta_min=eta_min), 30)
    assert_sequence(actual, expected)
    assert actual[10] == pytest.approx(eta_min) and actual[20] == pytest.approx(BASE)


def test_lambda_lr_one_function_per_group():
    opt = optimizer(groups=2)
    scheduler = LambdaLR(opt, [lambda e: 0.5 ** e, lambda e: 1.0 / (e + 1)])
    assert_sequence(sequence(scheduler, 6, group=0), [BASE * 0.5 ** e for e in range(7)])
    scheduler = LambdaLR(optimizer(groups=2), lambda e: e + 1)
    assert_sequence(sequence(scheduler, 3, group=1), [2 * BASE * (e + 1) for e in range(4)])


@given(step_size=st.integers(1, 5), gamma=st.floats(0.05, 1.0), T_max=st.integers(1, 12),
       eta_min=st.floats(0.0, 0.05), start=st.floats(0.01, 1.0), end=st.floats(0.0, 1.0),
       total=st.integers(1, 8))
def test_recursive_schedules_match_their_closed_forms(step_size, gamma, T_max, eta_min, start,
                                                      end, total):
    E = 25
    assert_sequence(sequence(StepLR(optimizer(), step_size, gamma), E),
                    [BASE * gamma ** (e // step_size) for e in range(E + 1)])
    assert_sequence(sequence(ExponentialLR(optimizer(), gamma), E),
                    [BASE * gamma ** e for e in range(E + 1)])
    cosine = [eta_min + (BASE - eta_min) * (1 + math.cos(math.pi * e / T_max)) / 2
              for e in range(E + 1)]
    assert_sequence(sequence(CosineAnnealingLR(optimizer(), T_max, eta_min), E), cosine)
    linear = [BASE * (start + (end - start) * min(e, total) / total) for e in range(E + 1)]
    assert_sequence(sequence(LinearLR(optimizer(), start, end, total), E), linear)


def test_sequential_lr_warmup_then_cosine():
    W, T, s = 5, 20, 0.01
    opt = optimizer()
    warmup = LinearLR(opt, start_factor=s, end_factor=1.0, total_iters=W)
    cosine = CosineAnnealingLR(opt, T_max=T)
    scheduler = SequentialLR(opt, [warmup, cosine], milestones=[W])
    expected = [BASE * (s + (1 - s) * e / W) if e < W
                else BASE * (1 + math.cos(math.pi * (e - W) / T)) / 2 for e in range(W + T + 1)]
    assert_sequence(sequence(scheduler, W + T), expected)


def test_sequential_lr_three_phases():
    opt = optimizer()
    phases = [LinearLR(opt, 0.5, 1.0, 2), ExponentialLR(opt, 0.5), StepLR(opt, 2, 0.1)]
    scheduler = SequentialLR(opt, phases, milestones=[3, 6])
    expected = [0.05, 0.075, 0.1, 0.1, 0.05, 0.025, 0.1, 0.1, 0.01, 0.01]
    assert_sequence(sequence(scheduler, 9), expected)


def test_chained_scheduler_multiplies_the_factors():
    opt = optimizer()
    s, T = 0.2, 4
    chained = ChainedScheduler([LinearLR(opt, s, 1.0, T), ExponentialLR(opt, 0.9)])
    expected = [BASE * 0.9 ** e * (s + (1 - s) * min(e, T) / T) for e in range(11)]
    assert_sequence(sequence(chained, 10), expected)


@pytest.mark.parametrize("build", [
    lambda opt: StepLR(opt, 3, 0.5),
    lambda opt: MultiStepLR(opt, [2, 4], 0.3),
    lambda opt: CosineAnnealingLR(opt, 7, 1e-3),
    lambda opt: LinearLR(opt, 0.1, 0.9, 6),
    lambda opt: SequentialLR(opt, [LinearLR(opt, 0.1, 1.0, 3), CosineAnnealingLR(opt, 8)], [3]),
    lambda opt: ChainedScheduler([ExponentialLR(opt, 0.8), StepLR(opt, 2, 0.5)]),
])
def test_resuming_from_state_dicts_continues_the_schedule(build):
    straight = sequence(build(optimizer()), 14)
    opt = optimizer()
    scheduler = build(opt)
    sequence(scheduler, 6)
    saved_optimizer, saved_scheduler = opt.state_dict(), scheduler.state_dict()
    sequence(scheduler, 2)  # must not leak into the saved state
    new_opt = optimizer(lr=0.7)
    resumed = build(new_opt)
    new_opt.load_state_dict(saved_optimizer)
    resumed.load_state_dict(saved_scheduler)
    assert_sequence(sequence(resumed, 8), straight[6:])


def test_resuming_with_last_epoch_needs_initial_lr():
    opt = optimizer()
    with pytest.raises(KeyError, match="initial_lr"):
        ExponentialLR(opt, 0.9, last_epoch=4)
    opt.param_groups[0]["initial_lr"] = BASE
    opt.param_groups[0]["lr"] = BASE * 0.9 ** 5
    scheduler = ExponentialLR(opt, 0.9, last_epoch=4)
    assert scheduler.last_epoch == 5
    assert_sequence(sequence(scheduler, 2), [BASE * 0.9 ** e for e in (5, 6, 7)])


def test_get_last_lr_is_a_copy():
    scheduler = StepLR(optimizer(), 2)
    scheduler.get_last_lr()[0] = 123.0
    assert scheduler.get_last_lr() == [BASE]


@pytest.mark.parametrize("build, error, fragment", [
    (lambda opt: StepLR(opt, 0), ValueError, "step_size must be >= 1, got 0"),
    (lambda opt: StepLR(opt, 2.5), TypeError, "step_size must be an int"),
    (lambda opt: StepLR(opt, 2, gamma=-0.5), ValueError, "gamma"),
    (lambda opt: MultiStepLR(opt, [2, -1]), ValueError, r"milestones\[1\]"),
    (lambda opt: ExponentialLR(opt, 0.0), ValueError, "gamma"),
    (lambda opt: LinearLR(opt, start_factor=0.0), ValueError, "start_factor"),
    (lambda opt: LinearLR(opt, end_factor=1.5), ValueError, "end_factor"),
    (lambda opt: LinearLR(opt, total_iters=0), ValueError, "total_iters"),
    (lambda opt: CosineAnnealingLR(opt, T_max=0), ValueError, "T_max"),
    (lambda opt: LambdaLR(opt, [lambda e: 1.0, lambda e: 1.0]), ValueError, "expected 1"),
    (lambda opt: LambdaLR(opt, 0.5), TypeError, "callable"),
    (lambda opt: StepLR("not an optimizer", 2), TypeError, "expected an Optimizer"),
    (lambda opt: SequentialLR(opt, [StepLR(opt, 2), StepLR(opt, 3)], []), ValueError,
     "expected 1 milestones"),
    (lambda opt: SequentialLR(opt, [StepLR(opt, 2), StepLR(optimizer(), 3)], [2]), ValueError,
     "another optimizer"),
    (lambda opt: SequentialLR(opt, [StepLR(opt, 2), ReduceLROnPlateau(opt)], [2]), ValueError,
     "needs a metric"),
    (lambda opt: SequentialLR(opt, [StepLR(opt, 2)] * 3, [4, 2]), ValueError, "increasing"),
    (lambda opt: ChainedScheduler([]), ValueError, "at least one"),
    (lambda opt: ReduceLROnPlateau(opt, factor=1.0), ValueError, "factor"),
    (lambda opt: ReduceLROnPlateau(opt, mode="avg"), ValueError, "'min' or 'max'"),
    (lambda opt: ReduceLROnPlateau(opt, threshold_mode="pct"), ValueError, "'rel' or 'abs'"),
    (lambda opt: ReduceLROnPlateau(opt, patience=-1), ValueError, "patience"),
    (lambda opt: ReduceLROnPlateau(opt, min_lr=[0.0, 0.0]), ValueError, "expected 1 min_lrs"),
])
def test_invalid_scheduler_arguments_are_refused(build, error, fragment):
    with pytest.raises(error, match=fragment):
        build(optimizer())


def plateau_run(scheduler, metrics):
    lrs = []
    for value in metrics:
        scheduler.step(value)
        lrs.append(scheduler.get_last_lr()[0])
    return lrs


def test_reduce_on_plateau_waits_patience_epochs():
    # Epochs 1-2 improve; 3, 4, 5 do not, and the third bad epoch (> patience 2) cuts lr.
    scheduler = ReduceLROnPlateau(optimizer(), patience=2, factor=0.1)
    lrs = plateau_run(scheduler, [10, 9, 9, 9, 9, 9, 9, 9])
    assert_sequence(lrs, [0.1] * 4 + [0.01] * 3 + [0.001])
    assert scheduler.best == 9 and scheduler.last_epoch == 8


def test_reduce_on_plateau_relative_threshold_and_cooldown():
    # 9.9995 is not below 10 * (1 - 1e-4) = 9.999, so epoch 2 is bad and cuts lr at once
    # (patience 0); the 2 cooldown epochs after each cut are not counted.
    scheduler = ReduceLROnPlateau(optimizer(), patience=0, threshold=1e-4, cooldown=2)
    lrs = plateau_run(scheduler, [10.0] + [9.9995] * 6)
    assert_sequence(lrs, [0.1, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001])


def test_reduce_on_plateau_max_mode_absolute_threshold_and_floor():
    scheduler = ReduceLROnPlateau(optimizer(), mode="max", patience=0, factor=0.5,
                                  threshold=0.5, threshold_mode="abs", min_lr=0.03)
    lrs = plateau_run(scheduler, [1.0, 2.0, 2.4, 2.6, 3.2, 3.0, 2.0])
    # 2.4 < 2.0 + 0.5 is bad; 2.6 beats 2.0 + 0.5; 3.2 beats 2.6 + 0.5; then two bad epochs,
    # the second limited by min_lr.
    assert_sequence(lrs, [0.1, 0.1, 0.05, 0.05, 0.05, 0.03, 0.03])


def test_reduce_on_plateau_accepts_tensor_metrics_and_resumes():
    opt = optimizer()
    scheduler = ReduceLROnPlateau(opt, patience=1)
    plateau_run(scheduler, [mg.tensor(5.0), mg.tensor(5.0)])
    saved = scheduler.state_dict()
    resumed = ReduceLROnPlateau(opt, patience=7)
    resumed.load_state_dict(saved)
    assert resumed.patience == 1 and resumed.num_bad_epochs == 1 and resumed.best == 5.0
    assert plateau_run(resumed, [5.0]) == [pytest.approx(0.01)]


def test_reduce_on_plateau_extends_a_single_min_lr_to_new_groups():
    opt = Adam([mg.tensor(np.zeros(1), requires_grad=True)], lr=1.0)
    scheduler = ReduceLROnPlateau(opt, patience=0, min_lr=0.4)
    opt.add_param_group({"params": [mg.tensor(np.zeros(1), requires_grad=True)], "lr": 2.0})
    plateau_run(scheduler, [1.0, 1.0])
    assert scheduler.get_last_lr() == [0.4, 0.4]
