"""A line search for the strong Wolfe conditions, as LBFGS uses it.

Given a point x and a descent direction d, the search picks a step length a > 0 along d by
looking at the one-dimensional function ``phi(a) = f(x + a * d)`` and its slope. It is the
textbook algorithm of Nocedal & Wright (*Numerical Optimization*, 2nd ed.): Algorithm 3.5
grows the step until an interval is known to contain an acceptable one, then Algorithm 3.6
("zoom") shrinks that interval; every new trial is the minimizer of the cubic that matches phi
and its slope at two known points (their eq. 3.59). The safeguards (how far an extrapolation
may go, how close to an end of the interval a trial may fall) are those of minFunc, which
PyTorch's LBFGS also uses, so the two searches try the same steps.

Notation
--------
x, d        the starting point and the search direction, flat arrays of length n
phi(a)      the loss at x + a * d;  dphi(a) = grad f(x + a * d) . d, its slope along d
f0, dphi0   phi(0) and dphi(0); dphi0 < 0 because d is a descent direction
c1, c2      the constants of the two conditions, 0 < c1 < c2 < 1 (1e-4 and 0.9)
trial       a step length a with phi(a), the gradient there and dphi(a), kept together
lo, hi      the ends of the interval being zoomed: lo has the lowest phi found so far
"""
from typing import NamedTuple

from minigrad.backend import xp_of


class Trial(NamedTuple):
    """One evaluated step length: t, phi(t), the flat gradient there (shape (n,)), dphi(t)."""

    t: float
    f: float
    g: object
    gtd: float


def cubic_minimizer(a, b, bounds=None):
    """The minimizer of the cubic through two trials (values and slopes), clamped to bounds.

    With the trials ordered so that ``a.t < b.t`` (Nocedal & Wright, eq. 3.59)::

        d1 = dphi(a) + dphi(b) - 3 * (phi(a) - phi(b)) / (a.t - b.t)
        d2 = sqrt(d1^2 - dphi(a) * dphi(b))
        t  = b.t - (b.t - a.t) * (dphi(b) + d2 - d1) / (dphi(b) - dphi(a) + 2 * d2)

    When ``d1^2 < dphi(a) * dphi(b)``, or when the denominator is 0 (as it is when phi is
    linear through the two trials), the cubic has no minimum, and the middle of the bounds is
    returned instead.

    Parameters
    ----------
    a, b : Trial
        Two evaluated step lengths, in either order.
    bounds : tuple of float, or None
        ``(low, high)``, the interval the result is clamped to; None means between a and b.

    Returns
    -------
    float
    """
    if a.t > b.t:
        a, b = b, a
    low, high = (a.t, b.t) if bounds is None else bounds
    if a.t == b.t:
        return min(max(a.t, low), high)
    d1 = a.gtd + b.gtd - 3 * (a.f - b.f) / (a.t - b.t)
    square = d1 ** 2 - a.gtd * b.gtd
    if not square >= 0:  # also catches NaN, from an infinite loss
        return (low + high) / 2
    d2 = square ** 0.5
    denominator = b.gtd - a.gtd + 2 * d2
    if denominator == 0:  # phi is linear along the two trials: no minimum either
        return (low + high) / 2
    t = b.t - (b.t - a.t) * ((b.gtd + d2 - d1) / denominator)
    return min(max(t, low), high)


def strong_wolfe(phi, d, start, t, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step length along ``d`` that satisfies the strong Wolfe conditions.

    The conditions, for a step length a::

        phi(a) <= f0 + c1 * a * dphi0          sufficient decrease (the Armijo condition)
        |dphi(a)| <= c2 * |dphi0|              curvature: the slope has flattened enough

    Bracketing (Algorithm 3.5), for trials a_1 = t, a_2, ... with a_0 = 0::

        if phi(a_i) breaks sufficient decrease, or phi(a_i) >= phi(a_{i-1}) with i > 2:
            zoom between a_{i-1} and a_i
        elif |dphi(a_i)| <= -c2 * dphi0:  accept a_i
        elif dphi(a_i) >= 0:              zoom between a_{i-1} and a_i
        else:  a_{i+1} = the cubic minimizer of a_{i-1}, a_i, clamped to
               [a_i + 0.01 * (a_i - a_{i-1}), 10 * a_i]

    (Nocedal & Wright compare phi(a_i) with phi(a_{i-1}) from i > 1 on; as in minFunc and
    PyTorch, the comparison starts one trial later.) Zoom (Algorithm 3.6), on an interval
    whose end lo has the lower phi::

        a = the cubic minimizer of lo and hi, moved to 10% of the width from an end when it
            falls closer than that twice in a row (or outside)
        if phi(a) breaks sufficient decrease, or phi(a) >= phi(lo):  hi = a
        else:
            if |dphi(a)| <= -c2 * dphi0:  accept a
            elif dphi(a) * (hi - lo) >= 0:  hi = lo
            lo = a

    The search stops after ``max_ls`` trials beyond the first, or when the interval is
    narrower than ``tolerance_change`` (measured along d in the max norm), and then returns
    the best trial found (the one at lo).

    Parameters
    ----------
    phi : callable
        ``phi(t) -> (f, g)``: the loss at x + t * d (a float) and the flat gradient there
        (array, shape (n,)); it must leave the parameters at x.
    d : ndarray, shape (n,)
        The search direction, with ``start.gtd < 0``.
    start : Trial
        The step length 0: ``Trial(0, f0, g0, dphi0)``.
    t : float
        The first step length to try, > 0.
    c1, c2 : float
        The constants of the two conditions.
    tolerance_change : float
        The smallest interval width worth zooming into.
    max_ls : int
        The most trials after the first.

    Returns
    -------
    best : Trial
        The chosen step length with its loss and gradient.
    evaluations : int
        How many times ``phi`` was called.
    """
    xp = xp_of(d)
    d_norm = float(xp.abs(d).max())

    def evaluate(t):
        f, g = phi(t)
        return Trial(t, f, g, float(xp.dot(g, d)))

    def sufficient_decrease(trial):
        return trial.f <= start.f + c1 * trial.t * start.gtd

    def flat_enough(trial):
        return abs(trial.gtd) <= -c2 * start.gtd

    prev, new = start, evaluate(t)
    ls_iter = 0
    bracket = None
    while ls_iter < max_ls:
        if not sufficient_decrease(new) or (ls_iter > 1 and new.f >= prev.f):
            bracket = [prev, new]
            break
        if flat_enough(new):
            return (new, ls_iter + 1)
        if new.gtd >= 0:
            bracket = [prev, new]
            break
        # Still going down: extrapolate, at least a little past t and at most ten times it.
        bounds = (new.t + 0.01 * (new.t - prev.t), new.t * 10)
        prev, new = new, evaluate(cubic_minimizer(prev, new, bounds))
        ls_iter += 1
    if bracket is None:
        # Out of trials while still descending: the better of the start and the last trial.
        bracket = [start, new]
    lo, hi = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
    insufficient_progress = False
    while ls_iter < max_ls:
        if abs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change:
            break
        left, right = sorted((bracket[0].t, bracket[1].t))
        t = cubic_minimizer(bracket[0], bracket[1])
        margin = 0.1 * (right - left)
        # A trial hugging an end of the interval barely shrinks it; allow that once, then
        # push the trial a tenth of the width inside.
        if min(right - t, t - left) < margin:
            if insufficient_progress or t >= right or t <= left:
                t = right - margin if abs(t - right) < abs(t - left) else left + margin
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        new = evaluate(t)
        ls_iter += 1
        if not sufficient_decrease(new) or new.f >= bracket[lo].f:
            bracket[hi] = new
            lo, hi = (0, 1) if bracket[0].f <= bracket[1].f else (1, 0)
        else:
            if flat_enough(new):
                return (new, ls_iter + 1)
            if new.gtd * (bracket[hi].t - bracket[lo].t) >= 0:
                # The slope at the new point faces away from lo: the minimum lies between
                # the new point and lo, so lo becomes the far end.
                bracket[hi] = bracket[lo]
            bracket[lo] = new
    return (bracket[lo], ls_iter + 1)
