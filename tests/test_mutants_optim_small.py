"""Gradient clipping, the combined schedulers, ReduceLROnPlateau and the fused-path switches:
exact values and the exact wording of their errors, for behaviours the other optim tests leave
open."""
import math
import re

import numpy as np
import pytest

import minigrad as mg
from optim import SGD, Adam, clip_grad_norm_, clip_grad_value_
from optim.lr_scheduler import (ChainedScheduler, ExponentialLR, LinearLR, ReduceLROnPlateau,
                                SequentialLR, StepLR)


def exactly(message):
    """A pattern matching ``message`` and nothing around it."""
    return "^" + re.escape(message) + "$"


def with_grad(grad, dtype=np.float64):
    p = mg.tensor(np.zeros(np.shape(grad), dtype=dtype), requires_grad=True)
    p.grad = mg.tensor(np.array(grad, dtype=dtype))
    return p


def sgd(lr=0.1, groups=1):
    return SGD([{"params": [mg.tensor(np.zeros(2), requires_grad=True)], "lr": lr * (k + 1)}
                for k in range(groups)], lr=lr)


# ---- clip_grad_norm_ / clip_grad_value_ ----

def test_norm_clipping_coefficient_is_max_norm_over_norm_plus_1e_6():
    p = with_grad([3.0, 4.0])
    total = clip_grad_norm_(p, 2.0)  # a single Tensor is accepted
    assert total.item() == 5.0
    np.testing.assert_array_equal(p.grad.numpy(), np.array([3.0, 4.0]) * (2.0 / (5.0 + 1e-6)))


def test_a_norm_just_below_the_limit_is_left_exactly_alone():
    # coefficient = 5 / (5 + 1e-6) < 1 scales; max_norm = 5 + 1e-6 gives exactly 1: no change.
    p = with_grad([3.0, 4.0])
    clip_grad_norm_([p], 5.0 + 1e-6)
    np.testing.assert_array_equal(p.grad.numpy(), [3.0, 4.0])


def test_zero_max_norm_zeroes_every_gradient():
    p = with_grad([3.0, -4.0])
    assert clip_grad_norm_([p], 0.0).item() == 5.0
    np.testing.assert_array_equal(p.grad.numpy(), [0.0, 0.0])


def test_an_empty_gradient_beside_others_adds_nothing():
    empty, full = with_grad(np.zeros(0)), with_grad([1.0, -2.0, 2.0])
    for q, expected in [(2.0, 3.0), (1.0, 5.0), (math.inf, 2.0), (3.0, 17.0 ** (1 / 3))]:
        assert clip_grad_norm_([empty, full], 1e9, norm_type=q).item() == pytest.approx(
            expected, rel=1e-12)
    assert clip_grad_norm_([empty], 1.0).item() == 0.0
    assert clip_grad_norm_([empty], 1.0, norm_type=math.inf).item() == 0.0
    half = with_grad([0.5, -0.25])
    assert clip_grad_norm_([empty, half], 1e9, norm_type=math.inf).item() == 0.5


def test_norms_of_several_gradients_against_numpy():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=s) * 3 for s in [(3,), (2, 2), (5,)]]
    every = np.concatenate([a.ravel() for a in arrays])
    for q in [0.5, 1.0, 2.0, 3.0, 7.5]:
        params = [with_grad(a) for a in arrays]
        total = clip_grad_norm_(params, 1e9, norm_type=q).item()
        assert total == pytest.approx(np.sum(np.abs(every) ** q) ** (1 / q), rel=1e-12)
    params = [with_grad(a) for a in arrays]
    assert clip_grad_norm_(params, 1e9, norm_type="inf").item() == np.abs(every).max()


def test_the_largest_entry_is_found_in_any_gradient():
    # The largest |entry| in the second array, negative: m must take the max over arrays.
    params = [with_grad([0.5, 1.0]), with_grad([-6.0, 2.0])]
    assert clip_grad_norm_(params, 1e9, norm_type=math.inf).item() == 6.0
    params = [with_grad([0.5, 1.0]), with_grad([-6.0, 2.0])]
    expected = np.linalg.norm([0.5, 1.0, -6.0, 2.0])
    assert clip_grad_norm_(params, 1e9).item() == pytest.approx(expected, rel=1e-14)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_a_nan_after_finite_gradients_still_gives_nan():
    params = [with_grad([1.0]), with_grad([2.0]), with_grad([np.nan])]
    assert math.isnan(clip_grad_norm_(params, 1.0).item())
    params = [with_grad([1.0]), with_grad([np.inf])]
    assert clip_grad_norm_(params, 1.0).item() == math.inf


def test_float32_norm_dtype_and_the_error_texts():
    p = with_grad([3.0, 4.0], dtype=np.float32)
    total = clip_grad_norm_([p], 1.0)
    assert total.dtype == np.float32 and total.item() == 5.0
    with pytest.raises(ValueError, match=re.escape(
            "clip_grad_norm_: the total 2.0-norm of the gradients is inf, so they cannot be "
            "clipped; pass error_if_nonfinite=False to scale them by it anyway")):
        clip_grad_norm_([with_grad([np.inf])], 1.0, error_if_nonfinite=True)
    with pytest.raises(TypeError, match=re.escape(
            "clip_grad_norm_: norm_type must be a number or 'inf', got 'fro'")):
        clip_grad_norm_([p], 1.0, norm_type="fro")
    with pytest.raises(TypeError, match=re.escape(
            "clip_grad_norm_: norm_type must be a number or 'inf', got None")):
        clip_grad_norm_([p], 1.0, norm_type=None)
    with pytest.raises(ValueError, match=re.escape(
            "clip_grad_norm_: invalid norm_type -2.0, expected a value > 0 or inf")):
        clip_grad_norm_([p], 1.0, norm_type=-2)
    with pytest.raises(ValueError, match=re.escape("clip_grad_norm_: invalid norm_type nan")):
        clip_grad_norm_([p], 1.0, norm_type=float("nan"))
    with pytest.raises(TypeError, match=exactly(
            "clip_grad_norm_: parameter 1 is a str, expected a Tensor")):
        clip_grad_norm_([p, "w"], 1.0)
    with pytest.raises(TypeError, match=exactly(
            "clip_grad_value_: parameter 1 is a str, expected a Tensor")):
        clip_grad_value_([p, "w"], 1.0)
    with pytest.raises(TypeError, match=re.escape(
            "clip_grad_value_: parameters must be a Tensor or an iterable of Tensors, got int")):
        clip_grad_value_(5, 1.0)
    with pytest.raises(ValueError, match=re.escape(
            "clip_grad_value_: invalid clip_value -1.0, expected a value in [0.0, inf]")):
        clip_grad_value_([p], -1.0)
    with pytest.raises(ValueError, match=re.escape(
            "clip_grad_norm_: invalid max_norm -1.5, expected a value in [0.0, inf]")):
        clip_grad_norm_([p], -1.5)


def test_value_clipping_skips_missing_gradients_and_accepts_zero():
    a, b = with_grad([-3.0, 0.25, 2.0]), mg.tensor(np.zeros(2), requires_grad=True)
    clip_grad_value_([a, b], 0.5)
    np.testing.assert_array_equal(a.grad.numpy(), [-0.5, 0.25, 0.5])
    assert b.grad is None
    clip_grad_value_(a, 0.0)
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0, 0.0])


# ---- SequentialLR / ChainedScheduler ----

def rates(scheduler, epochs):
    out = [scheduler.get_last_lr()[0]]
    for _ in range(epochs):
        scheduler.step()
        out.append(scheduler.get_last_lr()[0])
    return out


def test_sequential_members_are_checked_with_their_index():
    opt, other = sgd(), sgd()
    with pytest.raises(ValueError, match=re.escape(
            "SequentialLR: expected 1 milestones for 2 schedulers, got 2")):
        SequentialLR(opt, [StepLR(opt, 2), StepLR(opt, 2)], milestones=[1, 2])
    with pytest.raises(ValueError, match=re.escape(
            "SequentialLR: milestones must be increasing, got [3, 2]")):
        SequentialLR(opt, [StepLR(opt, 2)] * 3, milestones=[3, 2])
    with pytest.raises(ValueError, match=re.escape("SequentialLR: milestones[1] must be >= 0")):
        SequentialLR(opt, [StepLR(opt, 2)] * 3, milestones=[1, -1])
    with pytest.raises(TypeError, match=re.escape("SequentialLR: milestones[0] must be an int")):
        SequentialLR(opt, [StepLR(opt, 2)] * 2, milestones=[1.5])
    with pytest.raises(ValueError, match=re.escape(
            "SequentialLR: expected at least one scheduler, got none")):
        SequentialLR(opt, [], milestones=[])
    with pytest.raises(ValueError, match=re.escape(
            "SequentialLR: scheduler 1 is a ReduceLROnPlateau, whose step needs a metric; "
            "it cannot be combined")):
        SequentialLR(opt, [StepLR(opt, 2), ReduceLROnPlateau(opt)], milestones=[1])
    with pytest.raises(TypeError, match=re.escape(
            "SequentialLR: scheduler 1 is a str, expected an LRScheduler")):
        SequentialLR(opt, [StepLR(opt, 2), "x"], milestones=[1])
    with pytest.raises(ValueError, match=re.escape(
            "SequentialLR: scheduler 1 (StepLR) belongs to another optimizer")):
        SequentialLR(opt, [StepLR(opt, 2), StepLR(other, 2)], milestones=[1])
    with pytest.raises(ValueError, match=exactly(
            "ChainedScheduler: expected at least one scheduler, got none")):
        ChainedScheduler([])
    with pytest.raises(TypeError, match=exactly(
            "ChainedScheduler: scheduler 0 is a str, expected an LRScheduler")):
        ChainedScheduler(["x", StepLR(opt, 2)])  # its own error, not str's AttributeError
    with pytest.raises(ValueError, match=re.escape(
            "ChainedScheduler: scheduler 1 (StepLR) belongs to another optimizer")):
        ChainedScheduler([StepLR(opt, 2), StepLR(other, 2)])
    with pytest.raises(ValueError, match=re.escape(
            "ChainedScheduler: scheduler 0 (StepLR) belongs to another optimizer")):
        ChainedScheduler([StepLR(opt, 2)], optimizer=other)


def test_sequential_with_a_milestone_at_zero_starts_with_the_second():
    opt = sgd()
    unused = ExponentialLR(opt, 0.5)
    step = StepLR(opt, 2, 0.1)
    scheduler = SequentialLR(opt, [unused, step], milestones=[0])
    np.testing.assert_allclose(rates(scheduler, 4), [0.1, 0.1, 0.01, 0.01, 0.001], rtol=1e-12)
    assert scheduler.last_epoch == 4


def test_sequential_takes_the_rates_of_every_group_and_restores_initial_lr():
    opt = sgd(groups=2)
    warm = LinearLR(opt, 0.5, 1.0, 2)
    decay = ExponentialLR(opt, 0.5)
    scheduler = SequentialLR(opt, iter([warm, decay]), milestones=iter([2]))
    seen = [scheduler.get_last_lr()]
    for _ in range(4):
        scheduler.step()
        seen.append(scheduler.get_last_lr())
    np.testing.assert_allclose(seen, [[0.05, 0.1], [0.075, 0.15], [0.1, 0.2], [0.05, 0.1],
                                      [0.025, 0.05]], rtol=1e-12)
    assert [g["lr"] for g in opt.param_groups] == seen[-1]


def test_chained_with_an_explicit_optimizer_and_its_state_round_trip():
    opt = sgd(groups=2)
    chained = ChainedScheduler([StepLR(opt, 2, 0.5), ExponentialLR(opt, 0.9)], optimizer=opt)
    assert chained.optimizer is opt
    assert chained.get_last_lr() == [0.1, 0.2]
    expected = [0.1 * 0.9 ** e * 0.5 ** (e // 2) for e in range(6)]
    np.testing.assert_allclose(rates(chained, 5), expected, rtol=1e-12)
    saved = chained.state_dict()
    assert "optimizer" not in saved and len(saved["_schedulers"]) == 2
    assert saved["_schedulers"][0]["last_epoch"] == 5

    opt2 = sgd(groups=2)
    resumed = ChainedScheduler([StepLR(opt2, 2, 0.5), ExponentialLR(opt2, 0.9)])
    for g, lr in zip(opt2.param_groups, chained.get_last_lr()):
        g["lr"] = lr
    resumed.load_state_dict(saved)
    assert [s.last_epoch for s in resumed._schedulers] == [5, 5]
    resumed.step()
    chained.step()
    np.testing.assert_allclose(resumed.get_last_lr(), chained.get_last_lr(), rtol=1e-12)


def test_a_bad_member_state_changes_no_member():
    opt = sgd()
    scheduler = SequentialLR(opt, [StepLR(opt, 2, 0.5), ExponentialLR(opt, 0.9)], [3])
    saved = scheduler.state_dict()
    rates(scheduler, 4)
    bad = dict(saved, _schedulers=[dict(saved["_schedulers"][0]),
                                   dict(saved["_schedulers"][1], gamma="x")])
    before = [s.last_epoch for s in scheduler._schedulers], scheduler.last_epoch
    with pytest.raises(TypeError):
        scheduler.load_state_dict(bad)
    assert ([s.last_epoch for s in scheduler._schedulers], scheduler.last_epoch) == before
    scheduler.load_state_dict(saved)
    assert scheduler.last_epoch == 0
    assert [s.last_epoch for s in scheduler._schedulers] == [
        s["last_epoch"] for s in saved["_schedulers"]]


# ---- ReduceLROnPlateau ----

def plateau(metrics, **options):
    scheduler = ReduceLROnPlateau(options.pop("opt", None) or sgd(), **options)
    out = []
    for m in metrics:
        scheduler.step(m)
        out.append(scheduler.get_last_lr()[0])
    return scheduler, out


def test_plateau_max_mode_relative_threshold():
    # 1.05 is not above 1 * (1 + 0.1): bad; 1.2 is; patience 0 cuts at each bad epoch.
    scheduler, lrs = plateau([1.0, 1.05, 1.2, 1.3], mode="max", patience=0, threshold=0.1,
                             factor=0.5)
    np.testing.assert_allclose(lrs, [0.1, 0.05, 0.05, 0.025], rtol=1e-12)
    assert scheduler.best == 1.2


def test_plateau_min_mode_threshold_edges():
    # rel: 9 < 10 * (1 - 0.1) is False (equal); abs: 9 < 10 - 1 is False (equal).
    _, lrs = plateau([10.0, 9.0], patience=0, threshold=0.1, factor=0.5)
    assert lrs == [0.1, 0.05]
    _, lrs = plateau([10.0, 9.0], patience=0, threshold=1.0, threshold_mode="abs", factor=0.5)
    assert lrs == [0.1, 0.05]
    _, lrs = plateau([10.0, 8.9], patience=0, threshold=1.0, threshold_mode="abs", factor=0.5)
    assert lrs == [0.1, 0.1]
    # max mode, abs: 2 > 1 + 1 is False; max mode, rel: 2.2 > 2 * 1.1 is False.
    _, lrs = plateau([1.0, 2.0], mode="max", patience=0, threshold=1.0, threshold_mode="abs",
                     factor=0.5)
    assert lrs == [0.1, 0.05]
    _, lrs = plateau([2.0, 2.2000000000000001], mode="max", patience=0, threshold=0.1,
                     factor=0.5)
    assert lrs == [0.1, 0.05]


def test_plateau_defaults_and_the_rates_before_any_step():
    scheduler = ReduceLROnPlateau(sgd(groups=2))
    assert (scheduler.mode, scheduler.factor, scheduler.patience, scheduler.threshold,
            scheduler.threshold_mode, scheduler.cooldown, scheduler.min_lrs,
            scheduler.default_min_lr, scheduler.eps, scheduler.last_epoch) == (
        "min", 0.1, 10, 1e-4, "rel", 0, [0.0, 0.0], 0.0, 1e-8, 0)
    assert scheduler.get_last_lr() == [0.1, 0.2]
    # Ten bad epochs are tolerated, the eleventh cuts.
    _, lrs = plateau([1.0] * 12)
    np.testing.assert_allclose(lrs, [0.1] * 11 + [0.01], rtol=1e-12)


def test_plateau_starting_best_and_cooldown_counter():
    scheduler = ReduceLROnPlateau(sgd(), mode="max")
    assert scheduler.best == -math.inf and scheduler.num_bad_epochs == 0
    scheduler = ReduceLROnPlateau(sgd(), patience=1, cooldown=2)
    assert scheduler.best == math.inf and not scheduler.in_cooldown
    counters = []
    for m in [5.0, 5.0, 5.0, 5.0, 5.0, 5.0]:
        scheduler.step(m)
        counters.append((scheduler.cooldown_counter, scheduler.num_bad_epochs,
                         scheduler.in_cooldown))
    assert counters == [(0, 0, False), (0, 1, False), (2, 0, True), (1, 0, True),
                        (0, 0, False), (0, 1, False)]
    assert scheduler.last_epoch == 6


def test_plateau_per_group_floors_and_eps():
    opt = sgd(groups=2)  # rates 0.1 and 0.2
    _, _ = plateau([1.0, 1.0, 1.0], opt=opt, patience=0, factor=0.5, min_lr=[0.04, 0.15])
    assert [g["lr"] for g in opt.param_groups] == [0.04, 0.15]
    # A change of exactly eps is skipped; one just above it is made.
    opt = sgd(lr=1.0)
    plateau([1.0, 1.0], opt=opt, patience=0, factor=0.5, eps=0.5)
    assert opt.param_groups[0]["lr"] == 1.0
    opt = sgd(lr=1.0)
    plateau([1.0, 1.0], opt=opt, patience=0, factor=0.5, eps=0.4999)
    assert opt.param_groups[0]["lr"] == 0.5


def test_plateau_errors_name_the_argument_and_value():
    opt = sgd(groups=2)
    cases = [
        (dict(mode="up"), ValueError, "ReduceLROnPlateau: mode must be 'min' or 'max', got 'up'"),
        (dict(threshold_mode="x"), ValueError,
         "ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got 'x'"),
        (dict(min_lr=[0.1]), ValueError,
         "ReduceLROnPlateau: expected 2 min_lrs (one per parameter group), got 1"),
        (dict(factor=1.0), ValueError, "ReduceLROnPlateau: invalid factor 1.0, expected a value "
                                       "in [0.0, 1.0)"),
        (dict(threshold=-1.0), ValueError, "ReduceLROnPlateau: invalid threshold -1.0"),
        (dict(eps=-1.0), ValueError, "ReduceLROnPlateau: invalid eps -1.0"),
        (dict(patience=-1), ValueError, "ReduceLROnPlateau: patience must be >= 0, got -1"),
        (dict(cooldown=-2), ValueError, "ReduceLROnPlateau: cooldown must be >= 0, got -2"),
        (dict(min_lr=[0.1, -0.5]), ValueError, "ReduceLROnPlateau: invalid min_lr[1] -0.5"),
        (dict(min_lr=-0.5), ValueError, "ReduceLROnPlateau: invalid min_lr[0] -0.5"),
    ]
    for options, error, message in cases:
        with pytest.raises(error, match=re.escape(message)):
            ReduceLROnPlateau(opt, **options)
    with pytest.raises(TypeError, match=re.escape(
            "ReduceLROnPlateau: expected an Optimizer, got list")):
        ReduceLROnPlateau([])
    ReduceLROnPlateau(opt, factor=0.0, threshold=0.0, eps=0.0, patience=0, cooldown=0,
                      min_lr=(0.0, 0.0))


def test_plateau_default_min_lr_is_checked_on_load():
    scheduler = ReduceLROnPlateau(sgd())
    saved = scheduler.state_dict()
    assert saved["default_min_lr"] == 0.0 and saved["min_lrs"] == [0.0]
    with pytest.raises(ValueError, match=re.escape(
            "ReduceLROnPlateau.load_state_dict: invalid min_lr -1.0")):
        scheduler.load_state_dict(dict(saved, default_min_lr=-1.0))
    with pytest.raises(ValueError, match=re.escape("num_bad_epochs must be >= 0, got -1")):
        scheduler.load_state_dict(dict(saved, num_bad_epochs=-1))
    with pytest.raises(ValueError, match=re.escape("cooldown_counter must be >= 0, got -1")):
        scheduler.load_state_dict(dict(saved, cooldown_counter=-1))


def test_plateau_with_per_group_min_lrs_refuses_a_new_group():
    opt = Adam([mg.tensor(np.zeros(1), requires_grad=True)], lr=1.0)
    scheduler = ReduceLROnPlateau(opt, patience=0, min_lr=[0.1])
    assert scheduler.default_min_lr is None
    opt.add_param_group({"params": [mg.tensor(np.zeros(1), requires_grad=True)], "lr": 2.0})
    scheduler.step(1.0)
    with pytest.raises(ValueError, match=re.escape(
            "ReduceLROnPlateau: the optimizer now has 2 parameter groups but 1 min_lrs were "
            "given; set .min_lrs to one value per group")):
        scheduler.step(1.0)
    scheduler.min_lrs = [0.1, 1.5]
    scheduler.step(1.0)
    assert scheduler.get_last_lr() == [0.1, 1.5]


# ---- the fused-path switches ----

from minigrad.backend import kernels_for  # noqa: E402
from optim import foreach  # noqa: E402


def group_of(*arrays, foreach_=None, fused=None):
    return {"params": [mg.tensor(a, requires_grad=True) for a in arrays],
            "foreach": foreach_, "fused": fused}


def test_why_the_kernel_cannot_take_a_parameter():
    f64, f32 = np.ones(2), np.ones(2, np.float32)
    assert foreach._unsupported(f64, f64) is None and foreach._unsupported(f32, f32) is None
    assert foreach._unsupported(np.ones(2, np.float16), np.ones(2, np.float16)) == (
        "its dtype is float16; the kernel takes float32 and float64")
    big = np.ones(2, ">f8")
    assert foreach._unsupported(big, big) == (
        "its dtype is >f8; the kernel takes float32 and float64")
    assert foreach._unsupported(f32, f64) == (
        "its gradient has dtype float64, not the parameter's float32")
    frozen = np.ones(2)
    frozen.flags.writeable = False
    assert foreach._unsupported(frozen, f64) == "its array is read-only"
    assert foreach._unsupported(f64, frozen) is None  # only the parameter is written


def test_which_path_each_switch_takes():
    p, g = np.ones(2), np.ones(2)
    cpu = kernels_for(p)
    assert cpu is not None
    assert foreach.fused_kernels(dict(foreach=False, fused=None), p, g) is None
    assert foreach.fused_kernels(dict(foreach=False, fused=False), p, g) is None
    assert foreach.fused_kernels(dict(foreach=False, fused=True), p, g) is cpu
    assert foreach.fused_kernels(dict(foreach=None, fused=None), p, g) is cpu
    assert foreach.fused_kernels(dict(foreach=True, fused=None), p, g) is cpu
    assert foreach.fused_kernels(dict(foreach=None, fused=None), p,
                                 np.ones(2, np.float32)) is None


def test_switch_checks_and_their_messages():
    ok = group_of(np.ones(2))
    for value in (None, False, True):
        foreach.check_switches("SGD", dict(ok, foreach=value))
        foreach.check_switches("SGD", dict(ok, fused=value))
    for bad in (0, 1, "yes"):
        with pytest.raises(TypeError, match=re.escape(
                f"Adam: foreach must be None, False or True, got {bad!r}")):
            foreach.check_switches("Adam", dict(ok, foreach=bad))
        with pytest.raises(TypeError, match=re.escape(
                f"Adam: fused must be None, False or True, got {bad!r}")):
            foreach.check_switches("Adam", dict(ok, fused=bad))
    with pytest.raises(ValueError, match=re.escape(
            "SGD: fused=True and foreach=True cannot be set together")):
        foreach.check_switches("SGD", dict(ok, foreach=True, fused=True))
    half = group_of(np.ones(2), np.ones((2, 3), np.float16), fused=True)
    with pytest.raises(ValueError, match=re.escape(
            "SGD: fused=True but parameter 1 of its group (shape (2, 3)) cannot be updated by "
            "the fused kernel: its dtype is float16; the kernel takes float32 and float64. "
            "Use foreach=None to update such parameters with the NumPy rule")):
        foreach.check_switches("SGD", half)
    with pytest.raises(ValueError, match=re.escape("SGD: foreach=True but parameter 1")):
        foreach.check_switches("SGD", dict(half, fused=None, foreach=True))
    foreach.check_switches("SGD", dict(half, fused=None))
    foreach.check_switches("SGD", dict(half, fused=False, foreach=False))


def test_step_checks_skip_missing_gradients_and_undemanding_groups():
    demanding = group_of(np.ones(2), np.ones(3), foreach_=True)
    easy = group_of(np.ones(2), fused=False)
    easy["params"][0].grad = mg.tensor(np.ones(2, np.float32))
    demanding["params"][1].grad = mg.tensor(np.ones(3))
    foreach.check_step("Adam", [easy, demanding])  # param 0 has no gradient: nothing to check
    demanding["params"][0].grad = mg.tensor(np.ones(2, np.float32))
    with pytest.raises(ValueError, match=re.escape(
            "Adam: foreach=True but parameter 0 of its group (shape (2,)) cannot be updated by "
            "the fused kernel: its gradient has dtype float32, not the parameter's float64")):
        foreach.check_step("Adam", [easy, demanding])
    fused = dict(demanding, foreach=None, fused=True)
    with pytest.raises(ValueError, match=re.escape("Adam: fused=True but parameter 0")):
        foreach.check_step("Adam", [fused])


class _Subclass(np.ndarray):
    """An ndarray of another type, still in host memory."""


def test_a_gradient_of_another_array_type_on_the_same_device_is_taken():
    p = np.ones(3)
    g = np.ones(3).view(_Subclass)
    assert foreach._unsupported(p, g) is None
    assert foreach.fused_kernels(dict(foreach=None, fused=None), p, g) is kernels_for(p)


def test_sequential_with_a_first_milestone_at_one():
    opt = sgd()
    scheduler = SequentialLR(opt, [LinearLR(opt, 0.5, 1.0, 4), StepLR(opt, 1, 0.1)], [1])
    np.testing.assert_allclose(rates(scheduler, 3), [0.05, 0.1, 0.01, 0.001], rtol=1e-12)


def test_sequential_of_a_single_scheduler_follows_it():
    opt = sgd()
    scheduler = SequentialLR(opt, [StepLR(opt, 2, 0.5)], milestones=[])
    np.testing.assert_allclose(rates(scheduler, 4), [0.1, 0.1, 0.05, 0.05, 0.025], rtol=1e-12)


def test_the_saved_state_shares_no_list_with_the_scheduler():
    opt = sgd()
    scheduler = SequentialLR(opt, [StepLR(opt, 2, 0.5), ExponentialLR(opt, 0.9)], [3])
    saved = scheduler.state_dict()
    saved["_milestones"][0] = 1
    saved["_last_lr"][0] = 7.0
    assert scheduler._milestones == [3] and scheduler.get_last_lr() == [0.1]
    np.testing.assert_allclose(rates(scheduler, 4), [0.1, 0.1, 0.05, 0.1, 0.09], rtol=1e-12)
