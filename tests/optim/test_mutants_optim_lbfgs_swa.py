"""LBFGS's line search and SWA's helpers, down to the details a looser test lets through.

The strong-Wolfe search is run side by side with PyTorch's own (``torch.optim.lbfgs``), which
takes the same trial steps: both must pick the same step length after the same number of loss
evaluations, over starting steps that are too short, too long, and with few trials or a coarse
tolerance left. The cubic step's corner cases are checked against values worked out by hand.
"""
import copy
import re

import numpy as np
import pytest

import minigrad as mg
from optim import LBFGS
from optim.line_search import Trial, cubic_minimizer, strong_wolfe


def rosenbrock_f_and_g(x):
    f = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    g = np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)])
    return (float(f), g)


def quartic_f_and_g(x):
    """sum(x^4) - sum(x^2) + x0 x1: bumpy enough for the zoom phase to run several rounds."""
    f = np.sum(x ** 4) - np.sum(x ** 2) + x[0] * x[1]
    g = 4 * x ** 3 - 2 * x
    g[0] += x[1]
    g[1] += x[0]
    return (float(f), g)


def wavy_f_and_g(x):
    """A slope down with ripples on it: rises and dips between trials of the extrapolation."""
    f = np.sum(-x + 0.3 * np.sin(5 * x) + 0.01 * x ** 2)
    return (float(f), -1 + 1.5 * np.cos(5 * x) + 0.02 * x)


PROBLEMS = {"rosenbrock": rosenbrock_f_and_g, "quartic": quartic_f_and_g,
            "wavy": wavy_f_and_g}


def torch_search(torch, f_and_g, x, d, t0, **options):
    from torch.optim.lbfgs import _strong_wolfe

    def obj(x_t, t, d_t):
        f, g = f_and_g(x_t.numpy() + float(t) * d_t.numpy())
        return (f, torch.tensor(g))
    f0, g0 = f_and_g(x)
    xt, dt, gt = torch.tensor(x), torch.tensor(d), torch.tensor(g0)
    f, g, t, evals = _strong_wolfe(obj, xt, t0, dt, f0, gt, gt.dot(dt), **options)
    return (float(f), g.numpy(), float(t), int(evals))


def our_search(f_and_g, x, d, t0, **options):
    f0, g0 = f_and_g(x)
    best, evals = strong_wolfe(lambda t: f_and_g(x + t * d), d, Trial(0.0, f0, g0, g0 @ d),
                               t0, **options)
    return (best.f, best.g, best.t, evals)


SEARCH_CASES = [
    ("rosenbrock", 1e-3, {}),
    ("rosenbrock", 1.0, {}),
    ("rosenbrock", 30.0, {}),
    ("rosenbrock", 1e-6, {}),
    ("rosenbrock", 1.0, dict(max_ls=2)),
    ("rosenbrock", 1e-6, dict(max_ls=3)),
    ("rosenbrock", 30.0, dict(max_ls=1)),
    ("rosenbrock", 1.0, dict(tolerance_change=1e-2)),
    ("rosenbrock", 1.0, dict(c1=0.3, c2=0.4)),
    ("rosenbrock", 1e-4, dict(c1=0.1, c2=0.2)),
    ("quartic", 1e-3, {}),
    ("quartic", 1.0, {}),
    ("quartic", 50.0, {}),
    ("quartic", 50.0, dict(c2=0.1)),
    ("quartic", 1e-5, dict(c2=0.01)),
    ("wavy", 1e-3, dict(c2=0.01)),
    ("wavy", 0.05, dict(c2=0.01)),
    ("wavy", 0.3, dict(c2=0.05)),
    ("wavy", 0.7, {}),
    ("wavy", 2.0, dict(c2=0.01)),
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("problem, t0, options", SEARCH_CASES)
def test_strong_wolfe_takes_torchs_steps(problem, t0, options, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    f_and_g = PROBLEMS[problem]
    x = rng.uniform(-1.5, 1.5, size=2)
    d = -f_and_g(x)[1] * rng.uniform(0.2, 2.0, size=2)
    if f_and_g(x)[1] @ d >= 0:
        d = -f_and_g(x)[1]
    ours = our_search(f_and_g, x, d, t0, **options)
    theirs = torch_search(torch, f_and_g, x, d, t0, **options)
    assert ours[3] == theirs[3]
    assert ours[2] == pytest.approx(theirs[2], rel=1e-9, abs=1e-15)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-8, atol=1e-10)


def test_cubic_minimizer_of_two_trials_at_one_step_is_that_step_clamped():
    a, b = Trial(2.0, 1.0, None, -1.0), Trial(2.0, 1.0, None, -1.0)
    assert cubic_minimizer(a, b) == 2.0
    assert cubic_minimizer(a, b, bounds=(3.0, 5.0)) == 3.0
    assert cubic_minimizer(a, b, bounds=(0.5, 1.0)) == 1.0
    assert cubic_minimizer(a, b, bounds=(1.0, 4.0)) == 2.0


def lbfgs_on_a_quartic(line_search_fn="strong_wolfe", **options):
    x = mg.tensor(np.array([3.0, -1.0, 0.5]), requires_grad=True)
    target = mg.tensor(np.array([1.0, 2.0, -4.0]))
    scale = mg.tensor(np.array([1.0, 10.0, 0.3]))
    optimizer = LBFGS([x], line_search_fn=line_search_fn, **options)

    def closure():
        closure.calls += 1
        optimizer.zero_grad()
        loss = (scale * (x - target) ** 2).sum() + ((x - target) ** 4).sum()
        loss.backward()
        return loss
    closure.calls = 0
    return (x, optimizer, closure)


def test_the_line_search_bumps_the_version_twice_per_trial_and_once_per_step():
    # Each trial moves the parameters out and back (two in-place changes); each iteration
    # then takes its step (one more).
    x, optimizer, closure = lbfgs_on_a_quartic(max_iter=5, max_eval=50)
    before = x._version
    optimizer.step(closure)
    iterations = optimizer.state[x]["n_iter"]
    trials = closure.calls - 1
    assert iterations == 5 and trials >= 5
    assert x._version - before == 2 * trials + iterations


def test_a_partial_or_uneven_history_is_refused_with_its_reason():
    x, optimizer, closure = lbfgs_on_a_quartic(max_iter=5, max_eval=50)
    optimizer.step(closure)
    saved = optimizer.state_dict()
    where = "LBFGS: the saved state of parameter 0"

    partial = copy.deepcopy(saved)
    del partial["state"][0]["prev_loss"]
    history = ["d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad"]
    message = (f"{where} holds {history} of the history; expected all of "
               f"{history + ['prev_loss']} or none")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        optimizer.load_state_dict(partial)

    uneven = copy.deepcopy(saved)
    pairs = len(uneven["state"][0]["ro"])
    assert pairs >= 2
    uneven["state"][0]["old_dirs"].pop()
    message = (f"{where}: old_dirs, old_stps and ro hold {pairs - 1}, {pairs} and {pairs} "
               "entries; expected one per stored pair")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        optimizer.load_state_dict(uneven)


def test_cubic_minimizer_at_a_double_root_of_the_slope():
    # phi' = (t - 1)^2: phi(0) = 0, phi(3) = 3, slopes 1 and 4 give d1 = 2 and d1^2 = 1 * 4,
    # so the square root is 0 and the formula gives t = 3 - 3 * 2 / 3 = 1.
    assert cubic_minimizer(Trial(0.0, 0.0, None, 1.0), Trial(3.0, 3.0, None, 4.0)) == 1.0


def test_cubic_minimizer_of_a_linear_phi_returns_the_middle_of_the_bounds():
    # phi(t) = -t: both slopes -1, d1 = -2 + 3 = 1 and d1^2 - 1 = 0, with a zero denominator.
    a, b = Trial(0.0, 0.0, None, -1.0), Trial(1.0, -1.0, None, -1.0)
    assert cubic_minimizer(a, b) == 0.5
    assert cubic_minimizer(b, a, bounds=(1.0, 10.0)) == 5.5


def test_lbfgs_line_search_on_a_linear_loss_keeps_going_down():
    # A loss that is linear along the direction (an L1 or hinge piece, or an unbounded one)
    # makes the cubic step 0 / 0; the search must extrapolate instead of failing.
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = np.array([1.0, -2.0])
    optimizer = LBFGS([x], line_search_fn="strong_wolfe", max_iter=2)

    def closure():
        optimizer.zero_grad()
        loss = (x * mg.tensor(c)).sum()
        loss.backward()
        return loss
    first = float(optimizer.step(closure))
    assert first == -3.0
    moved = x.numpy()
    assert np.all(np.isfinite(moved))
    assert moved @ c < first - 1.0
    # It moves along -c only: the gradient never changes.
    np.testing.assert_allclose((moved - [1.0, 2.0]) / -c, ((moved - [1.0, 2.0]) / -c)[0])


def test_strong_wolfe_accepts_a_trial_on_the_edge_of_both_conditions():
    # phi(t) = (t - 1)^2 from t = 0: phi(0.5) = 0.25 = 1 + c1 * 0.5 * (-2) with c1 = 0.75, and
    # |phi'(0.5)| = 1 = c2 * 2 with c2 = 0.5: both conditions hold with equality.
    def phi(t):
        return ((t - 1.0) ** 2, np.array([2 * (t - 1.0)]))
    d = np.array([1.0])
    start = Trial(0.0, 1.0, np.array([-2.0]), -2.0)
    best, evaluations = strong_wolfe(phi, d, start, 0.5, c1=0.75, c2=0.5)
    assert (best.t, best.f, evaluations) == (0.5, 0.25, 1)


def bump_f_and_g(center, height, width):
    """phi(t) = -t + t^2 / 100 + height * exp(-(t - center)^2 / width^2), in one dimension."""
    def f_and_g(x):
        t = x[0]
        bump = height * np.exp(-(t - center) ** 2 / width ** 2)
        return (float(-t + t * t / 100 + bump),
                np.array([-1 + t / 50 - 2 * (t - center) / width ** 2 * bump]))
    return f_and_g


@pytest.mark.parametrize("center, height, width", [
    (1.0, 0.95, 0.3), (1.0, 2.0, 0.05), (1.05, 2.0, 0.1), (10.0, 9.5, 1.0), (10.0, 8.0, 3.0),
    (1.0, 0.5, 0.5), (0.9, 1.2, 0.2)])
@pytest.mark.parametrize("t0", [0.1, 1.0, 1.05, 0.01])
def test_strong_wolfe_takes_torchs_steps_past_a_bump(center, height, width, t0):
    torch = pytest.importorskip("torch")
    f_and_g = bump_f_and_g(center, height, width)
    x, d = np.array([0.0]), np.array([1.0])
    ours = our_search(f_and_g, x, d, t0, c2=0.01)
    theirs = torch_search(torch, f_and_g, x, d, t0, c2=0.01)
    assert ours[3] == theirs[3]
    assert ours[2] == pytest.approx(theirs[2], rel=1e-9, abs=1e-15)


def test_strong_wolfe_brackets_once_phi_stops_falling():
    # phi falls until t = 1 and is flat beyond (with a slope that still claims descent): from
    # the third trial on, a value no lower than the last one ends the extrapolation.
    calls = []

    def phi(t):
        calls.append(t)
        if t < 1.0:
            return (-t + t * t / 100, np.array([-1 + t / 50]))
        return (-0.99, np.array([-0.5]))
    d = np.array([1.0])
    best, evaluations = strong_wolfe(phi, d, Trial(0.0, 0.0, np.array([-1.0]), -1.0), 0.1,
                                     c2=0.01)
    assert calls[:2] == [0.1, 1.0] and 1.0 < calls[2] <= 10.0
    assert max(calls) == calls[2]      # the later trials zoom inside [1, calls[2]]
    assert best.f == -0.99 and evaluations == len(calls)


def test_lbfgs_first_step_on_a_matrix_and_a_parameter_without_gradient():
    # One iteration without a line search: x <- x - t g with t = min(1, 1 / sum |g|); the
    # unused parameter stays put and counts as a zero gradient in the flat vector.
    w0 = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    w = mg.tensor(w0.copy(), requires_grad=True)
    unused = mg.tensor(np.array([7.0, 8.0, 9.0], dtype=np.float32), requires_grad=True)
    v = mg.tensor(np.array([0.25], dtype=np.float32), requires_grad=True)
    optimizer = LBFGS([w, unused, v], max_iter=1)

    def closure():
        optimizer.zero_grad()
        loss = (w * w).sum() + (v * 4.0).sum()
        loss.backward()
        return loss
    optimizer.step(closure)
    g = np.concatenate([2 * w0.reshape(-1), np.zeros(3), [4.0]])
    t = min(1.0, 1.0 / np.abs(g).sum())
    np.testing.assert_allclose(w.numpy(), w0 - t * 2 * w0, rtol=1e-6)
    np.testing.assert_array_equal(unused.numpy(), [7.0, 8.0, 9.0])
    np.testing.assert_allclose(v.numpy(), [0.25 - 4 * t], rtol=1e-6)
    d = optimizer.state[w]["d"]
    assert d.dtype == np.float32 and d.shape == (8,)
    np.testing.assert_allclose(d, -g, rtol=1e-6)


def test_lbfgs_closure_errors_in_full():
    x = mg.tensor(np.array([1.0]), requires_grad=True)
    optimizer = LBFGS([x])
    message = ("LBFGS: step needs a closure that clears the gradients, evaluates the loss, "
               "calls backward and returns the loss")
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        optimizer.step()
    message = ("LBFGS: the closure returned None; it must return the loss (a one-element "
               "Tensor or a number) after calling backward")
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        optimizer.step(lambda: None)


# The zoom's decisions, one at a time, on hand-built one-dimensional searches from t = 0 with
# phi(0) = 0 and slope -1 along d = [1]. phi is given as the values and slopes it reports, in
# the order the search asks for them; each trial step is checked against the minimizer of the
# cubic through two points, worked out here by solving for the cubic's coefficients.

def cubic_through(ta, fa, ga, tb, fb, gb):
    """The local minimizer of the cubic with these values and slopes at ta and tb."""
    rows = [[1, ta, ta ** 2, ta ** 3], [0, 1, 2 * ta, 3 * ta ** 2],
            [1, tb, tb ** 2, tb ** 3], [0, 1, 2 * tb, 3 * tb ** 2]]
    c = np.linalg.solve(np.array(rows, dtype=float), [fa, ga, fb, gb])
    roots = np.roots([3 * c[3], 2 * c[2], c[1]])
    minima = [r.real for r in roots if abs(r.imag) < 1e-12 and 2 * c[2] + 6 * c[3] * r.real > 0]
    assert len(minima) == 1
    return minima[0]


def scripted_search(reports, t0, **options):
    """strong_wolfe on a phi that reports ``reports[k] = (f, slope)`` at its k-th call."""
    calls = []

    def phi(t):
        calls.append(t)
        f, slope = reports[len(calls) - 1]
        return (f, np.array([slope]))
    start = Trial(0.0, 0.0, np.array([-1.0]), -1.0)
    best, evaluations = strong_wolfe(phi, np.array([1.0]), start, t0, **options)
    return (best, evaluations, calls)


# phi(1) = -1 with slope -1 (still falling: extrapolate), then phi = 1 at the middle of the
# extrapolation bounds (1.01, 10), a straight line having no cubic minimum: the bracket is
# [1, 5.505], whose ends are both away from 0.
BRACKET_AWAY_FROM_ZERO = [(-1.0, -1.0), (1.0, 1.0), (-2.0, 0.0)]


def test_zoom_stops_on_the_width_of_a_bracket_away_from_zero():
    # Width 4.505 < 5: nothing left to zoom; the best trial (t = 1) after 2 evaluations. The
    # sum of the ends, 6.505, is not the width.
    best, evaluations, calls = scripted_search(BRACKET_AWAY_FROM_ZERO, 1.0, tolerance_change=5.0)
    assert calls == [1.0, (1.01 + 10.0) / 2]
    assert (best.t, best.f, evaluations) == (1.0, -1.0, 2)


def test_zoom_goes_on_at_a_width_equal_to_the_tolerance():
    # Only a width strictly below the tolerance stops the zoom: 4.505 against 4.505 goes on.
    width = (1.01 + 10.0) / 2 - 1.0
    best, evaluations, calls = scripted_search(BRACKET_AWAY_FROM_ZERO, 1.0,
                                               tolerance_change=width)
    assert len(calls) == 3
    assert calls[2] == pytest.approx(cubic_through(1.0, -1.0, -1.0, calls[1], 1.0, 1.0),
                                     rel=1e-12)
    assert (best.t, best.f, evaluations) == (calls[2], -2.0, 3)


def test_zoom_pushes_a_trial_clamped_to_the_right_end_inside_at_once():
    # c1 = 0.9: phi(1) = -0.5 is not low enough, so [0, 1] is zoomed at once; the cubic through
    # (0, 0, -1) and (1, -0.5, -0.1) has its minimum past 1 and is clamped to the end 1. A
    # trial on an end is pushed a tenth of the width inside right away: t = 0.9, accepted.
    assert cubic_through(0.0, 0.0, -1.0, 1.0, -0.5, -0.1) > 1.0
    best, evaluations, calls = scripted_search([(-0.5, -0.1), (-0.85, 0.0)], 1.0, c1=0.9, c2=0.95)
    assert calls == [1.0, 1.0 - 0.1 * (1.0 - 0.0)]
    assert (best.t, best.f, evaluations) == (calls[1], -0.85, 2)


def test_zoom_pushes_the_second_trial_in_a_row_near_an_end():
    # phi = q(t) = 100 (t - 0.1)^2 - 1 for t > 0 (the start reports slope -1: a kink at 0).
    # q(1) = 80 breaks sufficient decrease; the first cubic lands within a tenth of the width
    # of 0 (allowed once); the second, at q's minimum 0.1, lies within a tenth of the new width
    # of that trial: it is pushed to t1 + 0.1 (1 - t1), and only then is 0.1 tried.
    calls = []

    def phi(t):
        calls.append(t)
        return (100 * (t - 0.1) ** 2 - 1, np.array([200 * (t - 0.1)]))
    start = Trial(0.0, 0.0, np.array([-1.0]), -1.0)
    best, evaluations = strong_wolfe(phi, np.array([1.0]), start, 1.0)
    t1 = cubic_through(0.0, 0.0, -1.0, 1.0, 80.0, 180.0)
    assert 0 < t1 < 0.1 * (1.0 - 0.0)
    assert calls[0] == 1.0 and calls[1] == pytest.approx(t1, rel=1e-12)
    assert calls[2] == pytest.approx(t1 + 0.1 * (1.0 - t1), rel=1e-12)
    assert len(calls) == 4 and calls[3] == pytest.approx(0.1, rel=1e-9)
    assert evaluations == 4 and best.t == calls[3]


def test_zoom_trial_exactly_a_tenth_of_the_width_from_an_end_is_not_near_it():
    # phi(10) = 40 with slope 9 is the quadratic 0.5 (t - 1)^2 - 0.5 seen from 0 and 10: the
    # cubic gives t = 1 exactly, exactly the margin 0.1 * 10 from the end 0. That is not "near"
    # the end, so the next trial near an end (1.705..., within 0.9 of 1) is still allowed once
    # instead of being pushed to 1.9.
    best, evaluations, calls = scripted_search([(40.0, 9.0), (-0.5, -1.0), (-0.6, 0.0)], 10.0)
    assert calls[:2] == [10.0, 1.0]
    # The cubic through (1, -0.5, -1) and (10, 40, 9) has its minimum at 1.705..., within a
    # tenth of the width (0.9) of the end 1: a zoom that counted the first trial as near an end
    # would push this one to 1 + 0.9 = 1.9 instead of trying it.
    t2 = cubic_through(1.0, -0.5, -1.0, 10.0, 40.0, 9.0)
    assert calls[2] == pytest.approx(t2, rel=1e-12)
    assert calls[2] != pytest.approx(1.0 + 0.1 * 9.0, rel=1e-3)
    assert (best.t, evaluations) == (calls[2], 3)


def test_zoom_keeps_the_start_as_lo_when_the_first_bracket_ties():
    # phi(1) = 0 = phi(0) (slope 1): the bracket [0, 1] ties, and the earlier end, 0, is lo.
    # The cubic's 0.5 then reports 1: it replaces the far end 1, not the start, and the next
    # trial comes from [0, 0.5].
    best, evaluations, calls = scripted_search([(0.0, 1.0), (1.0, 1.0), (-0.1, 0.0)], 1.0)
    assert calls[:2] == [1.0, 0.5]
    assert calls[2] == pytest.approx(cubic_through(0.0, 0.0, -1.0, 0.5, 1.0, 1.0), rel=1e-12)
    assert (best.t, best.f, evaluations) == (calls[2], -0.1, 3)


def test_zoom_keeps_the_older_end_as_lo_when_a_trial_ties_with_it():
    # [0, 1] from phi(1) = 5; the trial t1 reports phi = 0, a tie with the start: it replaces
    # the end at 1 and the start stays lo, so the next failing trial t2 replaces t1.
    reports = [(5.0, 10.0), (0.0, 3.0), (1.0, 2.0), (-0.1, 0.0)]
    best, evaluations, calls = scripted_search(reports, 1.0)
    t1 = cubic_through(0.0, 0.0, -1.0, 1.0, 5.0, 10.0)
    t2 = cubic_through(0.0, 0.0, -1.0, t1, 0.0, 3.0)
    t3 = cubic_through(0.0, 0.0, -1.0, t2, 1.0, 2.0)
    np.testing.assert_allclose(calls, [1.0, t1, t2, t3], rtol=1e-12)
    assert (best.t, best.f, evaluations) == (calls[3], -0.1, 4)


def test_zoom_treats_a_trial_tying_with_lo_as_no_better():
    # Extrapolate from phi(1) = -1 (slope -2) to 5.505, where phi = 5: the bracket is [1, 5.505]
    # with lo at 1. The next trial reports phi = -1 again, slope 0: flat, but no lower than lo,
    # so it only narrows the bracket; the step after it is accepted.
    reports = [(-1.0, -2.0), (5.0, 10.0), (-1.0, 0.0), (-2.0, 0.0)]
    best, evaluations, calls = scripted_search(reports, 1.0)
    assert calls[:2] == [1.0, (1.01 + 10.0) / 2]
    t2 = cubic_through(1.0, -1.0, -2.0, calls[1], 5.0, 10.0)
    t3 = cubic_through(1.0, -1.0, -2.0, t2, -1.0, 0.0)
    np.testing.assert_allclose(calls[2:], [t2, t3], rtol=1e-12)
    assert (best.t, best.f, evaluations) == (calls[3], -2.0, 4)


# SWA's helpers: defaults, messages in full, keyword arguments through the averaged copy.

def test_ema_functions_default_to_a_decay_of_0_999():
    from optim.swa_utils import get_ema_avg_fn, get_ema_multi_avg_fn
    avg, w = np.array([1.0, 2.0]), np.array([3.0, -2.0])
    np.testing.assert_allclose(get_ema_avg_fn()(avg, w, 5), 0.999 * avg + 0.001 * w, rtol=1e-15)
    in_place = avg.copy()
    get_ema_multi_avg_fn()([in_place], [w], 5)
    np.testing.assert_allclose(in_place, [1.0 + 0.001 * 2.0, 2.0 + 0.001 * -4.0], rtol=1e-15)


def test_averaged_model_errors_in_full():
    import layers
    from optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, get_swa_avg_fn
    with pytest.raises(TypeError, match="^AveragedModel: expected a Module, got function$"):
        AveragedModel(lambda x: x)
    message = "AveragedModel: give avg_fn or multi_avg_fn, not both"
    with pytest.raises(ValueError, match=f"^{message}$"):
        AveragedModel(layers.Linear(2, 1), avg_fn=get_swa_avg_fn(),
                      multi_avg_fn=get_ema_multi_avg_fn())
    averaged = AveragedModel(layers.Sequential(layers.Linear(3, 5), layers.Linear(5, 2)))
    message = ("AveragedModel.update_parameters: the model has 2 tensors to average, the "
               "averaged copy 4; pass the model it was built from")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        averaged.update_parameters(layers.Linear(3, 5))


def test_averaged_model_passes_keyword_arguments_to_the_copy():
    import layers
    from optim.swa_utils import AveragedModel

    class Scaled(layers.Module):
        def __init__(self):
            super().__init__()
            self.w = layers.Parameter(mg.tensor(np.array([2.0, -1.0])))

        def forward(self, x, factor=1.0):
            return x * self.w * factor

    net = Scaled()
    averaged = AveragedModel(net)
    averaged.update_parameters(net)
    x = mg.tensor(np.array([1.5, 4.0]))
    np.testing.assert_array_equal(averaged(x, factor=3.0).numpy(), [9.0, -12.0])
    np.testing.assert_array_equal(averaged(x).numpy(), [3.0, -4.0])


def swalr_rates(scheduler, optimizer, epochs):
    rates = []
    for _ in range(epochs):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return rates


def test_swalr_anneals_over_10_epochs_by_default():
    from optim import SGD
    from optim.swa_utils import SWALR
    optimizer = SGD([mg.tensor(np.zeros(1), requires_grad=True)], lr=0.5)
    scheduler = SWALR(optimizer, swa_lr=0.1)
    e = np.arange(13)
    alpha = (1 - np.cos(np.pi * np.minimum(1.0, e / 10))) / 2
    np.testing.assert_allclose(swalr_rates(scheduler, optimizer, 13),
                               alpha * 0.1 + (1 - alpha) * 0.5, rtol=1e-12)


@pytest.mark.parametrize("anneal_epochs", [-1, 2.5, "3"])
def test_swalr_refuses_a_negative_or_non_integer_anneal_epochs(anneal_epochs):
    from optim import SGD
    from optim.swa_utils import SWALR
    optimizer = SGD([mg.tensor(np.zeros(1), requires_grad=True)], lr=0.5)
    message = f"SWALR: anneal_epochs must be a non-negative int, got {anneal_epochs!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        SWALR(optimizer, swa_lr=0.1, anneal_epochs=anneal_epochs)


# LBFGS's stopping rules and first steps, each on a loss whose every number is exact.

def lbfgs_on(loss_of, x0, **options):
    x = mg.tensor(np.array(x0, dtype=np.float64), requires_grad=True)
    optimizer = LBFGS([x], **options)

    def closure():
        optimizer.zero_grad()
        loss = loss_of(x)
        loss.backward()
        return loss
    return (x, optimizer, closure)


def test_lbfgs_on_a_linear_loss_steps_lr_and_keeps_no_pair():
    # loss = 0.5 x: g = 0.5 throughout, so y = 0 and no pair is stored; every direction is
    # -H_diag g with H_diag = 1. The first step is lr * min(1, 1 / 0.5) = lr, the next ones lr.
    # Each changes the loss by exactly 0.25 = tolerance_change, and g . d = -0.25 too: neither
    # stops the step, which runs all 3 iterations (the last without an evaluation).
    x, optimizer, closure = lbfgs_on(lambda x: (x * 0.5).sum(), [0.0], max_iter=3, max_eval=10,
                                     tolerance_change=0.25)
    assert float(optimizer.step(closure)) == 0.0
    assert x.numpy().tolist() == [-1.5]
    state = optimizer.state[x]
    assert (state["n_iter"], state["func_evals"], state["ro"]) == (3, 3, [])
    assert state["t"] == 1.0 and state["H_diag"] == 1.0


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_stops_when_the_gradient_reaches_tolerance_grad_exactly(line_search_fn):
    # loss = x + 0.375 x^2 from 0: g = 1, the first step t = 1 lands on x = -1, where
    # g = 1 - 0.75 = 0.25 = tolerance_grad (and the line search accepts t = 1 at once).
    x, optimizer, closure = lbfgs_on(lambda x: (x + 0.375 * x * x).sum(), [0.0],
                                     tolerance_grad=0.25, line_search_fn=line_search_fn)
    optimizer.step(closure)
    assert x.numpy().tolist() == [-1.0]
    state = optimizer.state[x]
    assert (state["n_iter"], state["func_evals"], state["ro"]) == (1, 2, [])
    np.testing.assert_array_equal(state["prev_flat_grad"], [1.0])


def test_lbfgs_does_nothing_when_the_gradient_starts_at_tolerance_grad_exactly():
    x, optimizer, closure = lbfgs_on(lambda x: (x * 0.25).sum(), [2.0], tolerance_grad=0.25)
    assert float(optimizer.step(closure)) == 0.5
    assert x.numpy().tolist() == [2.0]
    assert optimizer.state[x]["n_iter"] == 0 and optimizer.state[x]["func_evals"] == 1


@pytest.mark.parametrize("tolerance_change", [0.5, 0.75])
def test_lbfgs_stops_on_a_step_no_longer_than_tolerance_change(tolerance_change):
    # loss = 8 x: the first step is t = lr / 8 = 0.0625 along d = -8, a move of 0.5 <=
    # tolerance_change, while the loss falls by 4: the step stops there, returning the first
    # loss and saving its history.
    x, optimizer, closure = lbfgs_on(lambda x: (x * 8.0).sum(), [1.0], lr=0.5,
                                     tolerance_change=tolerance_change)
    assert float(optimizer.step(closure)) == 8.0
    assert x.numpy().tolist() == [0.5]
    state = optimizer.state[x]
    assert (state["n_iter"], state["func_evals"], state["t"]) == (1, 2, 0.0625)
    np.testing.assert_array_equal(state["d"], [-8.0])


def test_lbfgs_stops_when_the_loss_barely_changes_far_from_zero():
    # loss = 1000 + 1e-4 x with lr = 0.01: a step of 1e-6 (> tolerance_change = 1e-9, and
    # g . d = -1e-8 is downhill enough) changes a loss near 1000 by 1e-10 < 1e-9: stop after
    # one iteration.
    x, optimizer, closure = lbfgs_on(lambda x: (x * 1e-4 + 1000.0).sum(), [0.0], lr=0.01)
    optimizer.step(closure)
    np.testing.assert_allclose(x.numpy(), [-1e-6], rtol=1e-12)
    assert optimizer.state[x]["n_iter"] == 1 and optimizer.state[x]["func_evals"] == 2


def test_lbfgs_keeps_a_pair_only_when_y_dot_s_exceeds_1e_10():
    # A gradient scripted per evaluation: g0 = 2^-40 with lr = 2^40 gives the step s = -1
    # exactly; g1 = 2^-40 - 1e-10 (exact in binary) gives y = -1e-10, so y . s = 1e-10, not
    # above the bound: the pair is dropped and the second direction is -H_diag g1, H_diag = 1.
    gradients = iter([2.0 ** -40, 2.0 ** -40 - 1e-10])
    x, optimizer, closure = lbfgs_on(lambda x: (x * next(gradients)).sum(), [0.0],
                                     lr=2.0 ** 40, max_iter=2, max_eval=10, tolerance_grad=0.0,
                                     tolerance_change=0.0)
    optimizer.step(closure)
    state = optimizer.state[x]
    assert state["ro"] == [] and state["H_diag"] == 1.0
    np.testing.assert_array_equal(state["d"], [-(2.0 ** -40 - 1e-10)])
    assert x.numpy().tolist() == [-1.0 - 2.0 ** 40 * (2.0 ** -40 - 1e-10)]


def test_lbfgs_stays_put_when_the_line_search_finds_nothing_lower():
    # loss = |x| from x = 1e-12: every trial step along -1 longer than the tolerance of the
    # line search overshoots the kink and raises the loss, so the search returns the start
    # itself (t = 0) and the iteration stops without moving.
    x, optimizer, closure = lbfgs_on(lambda x: mg.abs(x).sum(), [1e-12],
                                     line_search_fn="strong_wolfe")
    assert float(optimizer.step(closure)) == 1e-12
    assert x.numpy().tolist() == [1e-12]
    state = optimizer.state[x]
    assert state["t"] == 0.0 and state["n_iter"] == 1 and state["func_evals"] > 2
    np.testing.assert_array_equal(state["prev_flat_grad"], [1.0])


def test_lbfgs_refuses_a_second_parameter_group_in_full():
    x = mg.tensor(np.array([1.0]), requires_grad=True)
    y = mg.tensor(np.array([2.0]), requires_grad=True)
    message = ("LBFGS: does not support parameter groups (per-parameter options), since all "
               "parameters form one vector; pass a single list of parameters")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        LBFGS([{"params": [x]}, {"params": [y]}])


@pytest.mark.parametrize("options, error, message", [
    (dict(max_iter=0, max_eval=5), ValueError, "LBFGS: max_iter must be >= 1, got 0"),
    (dict(max_iter=2.5, max_eval=5), TypeError,
     "LBFGS: max_iter must be an int, got 2.5 of type float"),
    (dict(max_eval=0), ValueError, "LBFGS: max_eval must be >= 1, got 0"),
    (dict(max_eval=1.5), TypeError, "LBFGS: max_eval must be an int, got 1.5 of type float"),
    (dict(tolerance_grad=-0.001), ValueError,
     "LBFGS: invalid tolerance_grad -0.001, expected a value in [0.0, inf]"),
    (dict(tolerance_grad="a"), TypeError,
     "LBFGS: tolerance_grad must be a real number, got 'a' of type str"),
    (dict(tolerance_change=-1.0), ValueError,
     "LBFGS: invalid tolerance_change -1.0, expected a value in [0.0, inf]"),
    (dict(tolerance_change=None), TypeError,
     "LBFGS: tolerance_change must be a real number, got None of type NoneType"),
    (dict(history_size=0), ValueError, "LBFGS: history_size must be >= 1, got 0"),
    (dict(history_size=2.0), TypeError,
     "LBFGS: history_size must be an int, got 2.0 of type float"),
    (dict(lr=-1), ValueError, "LBFGS: invalid lr -1, expected a value in (0.0, inf]"),
])
def test_lbfgs_refuses_each_bad_option_in_full(options, error, message):
    x = mg.tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        LBFGS([x], **options)


@pytest.mark.parametrize("options", [dict(max_iter=1, max_eval=1), dict(tolerance_grad=0.0),
                                     dict(tolerance_change=0.0), dict(history_size=1)])
def test_lbfgs_accepts_each_option_at_its_lowest(options):
    x = mg.tensor(np.zeros(2), requires_grad=True)
    group = LBFGS([x], **options).param_groups[0]
    assert {key: group[key] for key in options} == options


def test_lbfgs_defaults_are_torchs():
    x = mg.tensor(np.zeros(2), requires_grad=True)
    group = LBFGS([x]).param_groups[0]
    assert {key: value for key, value in group.items() if key != "params"} == dict(
        lr=1.0, max_iter=20, max_eval=25, tolerance_grad=1e-7, tolerance_change=1e-9,
        history_size=100, line_search_fn=None)
    assert LBFGS([x], max_iter=7).param_groups[0]["max_eval"] == 7 * 5 // 4


def test_zoom_pushes_a_trial_that_rounds_onto_the_left_end_inside():
    # An irregular phi (c1 = 0.9): the bracket closes in on 0.5, where phi = -8 with slope
    # -13.25, against ends ever nearer with far higher values. Once the width is under 1e-8,
    # the cubic's minimum lies within rounding of 0.5 and comes back as 0.5 itself, an end
    # already tried: it is pushed a tenth of the width inside.
    reports = [(-8.0, -13.25), (-2.5, 4.2), (1.1, 0.1), (-0.55, -0.8), (7.5, 16.3),
               (0.03, -0.12), (0.01, -0.1)]
    best, evaluations, calls = scripted_search(reports, 0.5, c1=0.9, c2=0.95)
    assert len(calls) == 7 and calls[0] == 0.5 and all(t > 0.5 for t in calls[1:])
    left, right = Trial(0.5, -8.0, None, -13.25), Trial(calls[5], 0.03, None, -0.12)
    assert right.t - left.t < 1e-8 and cubic_minimizer(left, right) == 0.5
    assert calls[6] == 0.5 + 0.1 * (calls[5] - 0.5)
    assert (best.t, best.f, evaluations) == (0.5, -8.0, 7)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("swa_lr", [0.05, 0.007])
def test_swalr_holds_swa_lr_exactly_once_annealed(strategy, swa_lr):
    # From epoch anneal_epochs on the rate is swa_lr itself, not a blend of swa_lr with
    # itself (which can land an ulp off).
    from optim import SGD
    from optim.swa_utils import SWALR
    optimizer = SGD([mg.tensor(np.zeros(1), requires_grad=True)], lr=0.5)
    scheduler = SWALR(optimizer, swa_lr=swa_lr, anneal_epochs=5, anneal_strategy=strategy)
    rates = swalr_rates(scheduler, optimizer, 16)
    assert rates[5:] == [swa_lr] * 11
    assert rates[0] == 0.5 and all(swa_lr < rate < 0.5 for rate in rates[1:5])
