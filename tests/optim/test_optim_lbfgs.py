"""LBFGS and its strong-Wolfe line search.

The pieces are checked alone against what they stand for: the two-loop recursion against the
dense BFGS inverse Hessian (Nocedal & Wright, eq. 7.19), the cubic step against the minimizer
of an exact cubic, the line search against the two Wolfe conditions. The whole method without a
line search follows a NumPy reference built on that dense matrix, converges on an
ill-conditioned quadratic to its known minimum with either setting, and follows PyTorch's
trajectories on a quadratic and on Rosenbrock (``_vs_torch``). Its state saves, loads
atomically and resumes exactly.
"""
import copy

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from optim import LBFGS
from optim.lbfgs import two_loop
from optim.line_search import Trial, cubic_minimizer, strong_wolfe


def quadratic(n, condition, seed):
    """A, b of f(x) = x.A x / 2 - b.x, A symmetric positive definite with the given
    condition number; the minimum is A^-1 b."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = Q @ np.diag(np.logspace(0, np.log10(condition), n)) @ Q.T
    return ((A + A.T) / 2, rng.normal(size=n))


def dense_inverse_hessian(pairs, gamma, n):
    """BFGS's inverse Hessian from gamma * I and the (s, y) pairs, oldest first (eq. 7.19):
    H <- V^T H V + rho s s^T with V = I - rho y s^T and rho = 1 / (y . s)."""
    H = gamma * np.eye(n)
    for s, y in pairs:
        rho = 1.0 / (y @ s)
        V = np.eye(n) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    return H


def lbfgs_reference(A, b, x, iterations, lr=1.0, history_size=100):
    """L-BFGS without a line search, each direction from the dense matrix above."""
    g, pairs, gamma, out = A @ x - b, [], 1.0, []
    for k in range(iterations):
        if k == 0:
            d = -g
        else:
            s, y = t * d, g - g_prev
            if y @ s > 1e-10:
                pairs = (pairs + [(s, y)])[-history_size:]
                gamma = (y @ s) / (y @ y)
            d = -dense_inverse_hessian(pairs, gamma, len(x)) @ g
        t = min(1.0, 1.0 / np.abs(g).sum()) * lr if k == 0 else lr
        g_prev = g
        x = x + t * d
        g = A @ x - b
        out.append(x)
    return out


def minimizer_of(loss_fn, x0, device="cpu", **options):
    """An LBFGS over one parameter at x0 and the closure that evaluates ``loss_fn`` there;
    the closure counts its calls in ``closure.calls``."""
    x = mg.tensor(np.array(x0, dtype=float), device=device, requires_grad=True)
    optimizer = LBFGS([x], **options)

    def closure():
        closure.calls += 1
        optimizer.zero_grad()
        loss = loss_fn(x)
        loss.backward()
        return loss
    closure.calls = 0
    return (x, optimizer, closure)


def quadratic_loss(A, b, device="cpu"):
    """f(x) = x.A x / 2 - b.x through autograd."""
    A, b = mg.tensor(A, device=device), mg.tensor(b, device=device)
    return lambda x: (0.5 * x * (A @ x) - b * x).sum()


def rosenbrock(x):
    return ((1 - x[0]) ** 2 + 100 * (x[1] - x[0] * x[0]) ** 2).sum()


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 6), pairs=st.integers(0, 5), seed=st.integers(0, 2 ** 16),
       gamma=st.floats(0.05, 5.0))
def test_two_loop_applies_the_dense_bfgs_inverse_hessian(n, pairs, seed, gamma):
    A, _ = quadratic(n, 50.0, seed)
    rng = np.random.default_rng(seed + 1)
    steps = [rng.normal(size=n) for _ in range(pairs)]
    history = [(s, A @ s) for s in steps]  # y = A s, so y . s > 0
    g = rng.normal(size=n)
    d = two_loop(g, [s for s, _ in history], [y for _, y in history],
                 [1.0 / (y @ s) for s, y in history], gamma)
    np.testing.assert_allclose(d, -dense_inverse_hessian(history, gamma, n) @ g, rtol=1e-8,
                               atol=1e-10)


@given(low_root=st.floats(-3.0, 1.0), gap=st.floats(0.2, 4.0), k=st.floats(0.1, 10.0),
       left=st.floats(0.05, 2.0), right=st.floats(0.05, 2.0))
def test_cubic_minimizer_finds_the_minimum_of_an_exact_cubic(low_root, gap, k, left, right):
    # phi' = k (t - m)(t - M) with m < M: phi falls from m to M, so M is its local minimum.
    m, M = low_root, low_root + gap

    def trial(t):
        f = k * (t ** 3 / 3 - (m + M) * t ** 2 / 2 + m * M * t)
        return Trial(t, f, None, k * (t - m) * (t - M))
    a, b = trial(M - left), trial(M + right)
    assert cubic_minimizer(a, b) == pytest.approx(M, rel=1e-7, abs=1e-7)
    assert cubic_minimizer(b, a) == pytest.approx(M, rel=1e-7, abs=1e-7)
    # Clamped to the bounds it is given.
    assert cubic_minimizer(a, b, bounds=(M + 0.5, M + 1.0)) == M + 0.5


def test_cubic_minimizer_without_a_minimum_returns_the_middle_of_the_bounds():
    # phi(t) = t^3 + t rises everywhere: at t = 1, 2 the values 2, 10 and slopes 4, 13 give
    # d1 = 17 - 24 = -7 and d1^2 - 4 * 13 = -3 < 0.
    a, b = Trial(1.0, 2.0, None, 4.0), Trial(2.0, 10.0, None, 13.0)
    assert cubic_minimizer(a, b) == 1.5
    assert cubic_minimizer(a, b, bounds=(2.0, 20.0)) == 11.0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 16), t0=st.floats(1e-3, 1e2), use_rosenbrock=st.booleans())
def test_strong_wolfe_returns_a_step_that_meets_both_conditions(seed, t0, use_rosenbrock):
    rng = np.random.default_rng(seed)
    if use_rosenbrock:
        def f_and_g(x):
            f = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
            g = np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2),
                          200 * (x[1] - x[0] ** 2)])
            return (f, g)
        x = rng.uniform(-2.0, 2.0, size=2)
    else:
        A, b = quadratic(5, 1e3, seed)
        f_and_g = lambda x: (0.5 * x @ A @ x - b @ x, A @ x - b)  # noqa: E731
        x = rng.normal(size=5)
    f0, g0 = f_and_g(x)
    d = -g0
    calls = []

    def phi(t):
        calls.append(t)
        return f_and_g(x + t * d)
    best, evaluations = strong_wolfe(phi, d, Trial(0.0, f0, g0, g0 @ d), t0)
    assert evaluations == len(calls) <= 26
    f, g = f_and_g(x + best.t * d)
    assert best.f == pytest.approx(f, rel=1e-12, abs=1e-300)
    assert best.f <= f0 + 1e-4 * best.t * (g0 @ d)            # sufficient decrease
    assert abs(g @ d) <= 0.9 * abs(g0 @ d) + 1e-12            # curvature


@pytest.mark.parametrize("history_size", [1, 3, 100])
def test_without_line_search_follows_the_dense_reference(history_size):
    A, b = quadratic(6, 30.0, 7)
    x0 = np.linspace(-1.0, 1.0, 6)
    x, optimizer, closure = minimizer_of(quadratic_loss(A, b), x0, lr=0.7, max_iter=1,
                                         history_size=history_size, tolerance_grad=0.0,
                                         tolerance_change=0.0)
    expected = lbfgs_reference(A, b, x0, 12, lr=0.7, history_size=history_size)
    for k, e in enumerate(expected):
        optimizer.step(closure)
        np.testing.assert_allclose(x.numpy(), e, rtol=1e-9, atol=1e-12, err_msg=f"step {k}")
    assert len(optimizer.state[x]["old_dirs"]) == min(history_size, 11)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_converges_on_an_ill_conditioned_quadratic(device, line_search_fn):
    A, b = quadratic(10, 1e4, 3)
    x, optimizer, closure = minimizer_of(quadratic_loss(A, b, device), np.zeros(10), device,
                                         line_search_fn=line_search_fn, max_iter=50,
                                         tolerance_grad=1e-12, tolerance_change=1e-14)
    for _ in range(6):
        optimizer.step(closure)
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(A, b), rtol=1e-7, atol=1e-8)


def test_step_returns_the_first_loss_and_counts_every_closure_call():
    x, optimizer, closure = minimizer_of(rosenbrock, [-1.5, 2.0],
                                         line_search_fn="strong_wolfe")
    first = float(rosenbrock(mg.tensor(np.array([-1.5, 2.0]))))
    loss = optimizer.step(closure)
    assert float(loss) == first
    # The default max_eval, 20 * 5 // 4 = 25 calls, ends this step before 20 iterations;
    # the check comes after a line search, which may overshoot it.
    assert optimizer.state[x]["func_evals"] == closure.calls >= 25
    assert optimizer.state[x]["n_iter"] < 20


def test_max_eval_caps_the_closure_calls_of_a_step():
    x, optimizer, closure = minimizer_of(rosenbrock, [-1.5, 2.0], max_iter=20, max_eval=7)
    optimizer.step(closure)
    assert closure.calls == 7 and optimizer.state[x]["n_iter"] == 6
    assert LBFGS([mg.tensor(np.zeros(1), requires_grad=True)],
                 max_iter=9).param_groups[0]["max_eval"] == 11  # 9 * 5 // 4, as PyTorch


def test_tolerance_grad_stops_at_a_minimum_before_any_iteration():
    x, optimizer, closure = minimizer_of(rosenbrock, [1.0, 1.0], tolerance_grad=1e-7)
    optimizer.step(closure)
    assert closure.calls == 1 and optimizer.state[x] == {"func_evals": 1, "n_iter": 0}
    np.testing.assert_array_equal(x.numpy(), [1.0, 1.0])


def test_tolerance_change_stops_when_the_direction_is_barely_downhill():
    # g . d = -|g|^2 = -(1 + 4) > -10: the first direction is refused, nothing moves.
    x, optimizer, closure = minimizer_of(lambda x: (x * x).sum() / 2, [1.0, -2.0],
                                         tolerance_change=10.0)
    optimizer.step(closure)
    np.testing.assert_array_equal(x.numpy(), [1.0, -2.0])
    np.testing.assert_array_equal(optimizer.state[x]["d"], [-1.0, 2.0])
    assert closure.calls == 1 and optimizer.state[x]["n_iter"] == 1


@pytest.mark.parametrize("make, error, message", [
    (lambda ps: LBFGS(ps, line_search_fn="armijo"), ValueError,
     r"LBFGS: line_search_fn must be None or 'strong_wolfe', got 'armijo'"),
    (lambda ps: LBFGS(ps, history_size=0), ValueError, r"LBFGS: history_size must be >= 1"),
    (lambda ps: LBFGS(ps, max_iter=2.5), TypeError, r"LBFGS: max_iter must be an int"),
    (lambda ps: LBFGS(ps, lr=0.0), ValueError, r"LBFGS: invalid lr 0.0"),
    (lambda ps: LBFGS([{"params": ps[:1]}, {"params": ps[1:]}]), ValueError,
     r"LBFGS: does not support parameter groups"),
    (lambda ps: LBFGS([ps[0], mg.tensor(np.zeros(2, np.float32), requires_grad=True)]),
     ValueError, r"LBFGS: all parameters must share one device and one dtype"),
])
def test_bad_options_are_refused_by_name(make, error, message):
    with pytest.raises(error, match=message):
        make([mg.tensor(np.zeros(2), requires_grad=True), mg.tensor(np.ones(3),
                                                                    requires_grad=True)])


def test_step_needs_a_closure_that_returns_the_loss():
    x, optimizer, _ = minimizer_of(rosenbrock, [0.0, 0.0])
    with pytest.raises(TypeError, match="LBFGS: step needs a closure"):
        optimizer.step()
    with pytest.raises(TypeError, match="LBFGS: the closure returned None"):
        optimizer.step(lambda: None)


def train(optimizer, closure, steps):
    for _ in range(steps):
        optimizer.step(closure)


def two_params_problem(values, **options):
    """Rosenbrock over two parameters (a (1,) and a (1, 1) Tensor), so that the flat vector
    spans both."""
    a = mg.tensor(np.array(values[:1]), requires_grad=True)
    b = mg.tensor(np.array(values[1:]).reshape(1, 1), requires_grad=True)
    optimizer = LBFGS([a, b], **options)

    def closure():
        optimizer.zero_grad()
        loss = ((1 - a) ** 2 + 100 * (b.reshape(1) - a * a) ** 2).sum()
        loss.backward()
        return loss
    return (a, b, optimizer, closure)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("stop", [0, 1, 3])
def test_state_saves_to_a_file_and_resumes_exactly(tmp_path, line_search_fn, stop):
    options = dict(line_search_fn=line_search_fn, max_iter=4, history_size=3, lr=0.5)
    a, b, optimizer, closure = two_params_problem([-1.5, 2.0], **options)
    train(optimizer, closure, 6)
    a1, b1, first, closure1 = two_params_problem([-1.5, 2.0], **options)
    train(first, closure1, stop)
    saved = first.state_dict()
    if stop:
        assert isinstance(saved["state"][0]["old_dirs"], list)
        assert all(v.shape == (2,) for v in saved["state"][0]["old_dirs"])
    mg.save({"a": a1, "b": b1, "optim": saved}, tmp_path / "lbfgs.npz")
    loaded = mg.load(tmp_path / "lbfgs.npz")
    a2, b2, second, closure2 = two_params_problem([0.0, 0.0], **options)
    a2.data[...] = loaded["a"]
    b2.data[...] = loaded["b"]
    second.load_state_dict(loaded["optim"])
    train(second, closure2, 6 - stop)
    np.testing.assert_array_equal(a2.numpy(), a.numpy())
    np.testing.assert_array_equal(b2.numpy(), b.numpy())
    assert second.state[a2]["func_evals"] == optimizer.state[a]["func_evals"]


def test_a_refused_state_changes_nothing():
    a, b, source, closure = two_params_problem([-1.5, 2.0], history_size=3)
    train(source, closure, 2)
    saved = source.state_dict()
    a2, b2, target, closure2 = two_params_problem([0.5, 0.5], history_size=3)
    train(target, closure2, 1)
    before = copy.deepcopy(target.state[a2])

    def edit(fn):
        broken = copy.deepcopy(saved)
        fn(broken["state"][0])
        return broken
    cases = [
        edit(lambda s: s["old_dirs"].pop()),
        edit(lambda s: s.update(d=np.zeros(3))),
        edit(lambda s: s.update(ro=["x"] * len(s["ro"]))),
        edit(lambda s: s.update(old_stps=s["old_stps"][0])),
        edit(lambda s: s.pop("H_diag")),
        edit(lambda s: s.update(n_iter=-1)),
        edit(lambda s: s.update(exp_avg=np.zeros(2))),
        dict(saved, kind="Adam"),
    ]
    for broken in cases:
        with pytest.raises((ValueError, TypeError)):
            target.load_state_dict(broken)
        state = target.state[a2]
        assert state.keys() == before.keys()
        np.testing.assert_array_equal(state["d"], before["d"])
        assert state["func_evals"] == before["func_evals"]
    target.load_state_dict(saved)
    assert target.state[a2]["n_iter"] == source.state[a]["n_iter"]


def torch_run(torch, loss_fn, x0, steps, **options):
    x = torch.tensor(np.array(x0, dtype=float), requires_grad=True)
    optimizer = torch.optim.LBFGS([x], **options)

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(x)
        loss.backward()
        return loss
    out = []
    for _ in range(steps):
        optimizer.step(closure)
        out.append(x.detach().numpy().copy())
    state = optimizer.state[x]
    return (out, state["func_evals"], state["n_iter"])


def our_run(loss_fn, x0, steps, **options):
    x, optimizer, closure = minimizer_of(loss_fn, x0, **options)
    out = []
    for _ in range(steps):
        optimizer.step(closure)
        out.append(x.numpy().copy())
    state = optimizer.state[x]
    return (out, state["func_evals"], state["n_iter"])


# Without a line search a fixed-length step on Rosenbrock amplifies rounding, so that run is
# compared over two steps (40 iterations), the others over five.
TORCH_CASES = [
    ("quadratic", None, dict(), 3),
    ("quadratic", None, dict(lr=0.5, max_iter=7, history_size=3), 5),
    ("quadratic", "strong_wolfe", dict(), 3),
    ("quadratic", "strong_wolfe", dict(lr=0.5, max_iter=7, history_size=3), 5),
    ("rosenbrock", None, dict(), 2),
    ("rosenbrock", None, dict(lr=0.5, max_iter=7, history_size=3), 5),
    ("rosenbrock", "strong_wolfe", dict(), 5),
    ("rosenbrock", "strong_wolfe", dict(lr=0.1, history_size=5), 5),
]


@pytest.mark.parametrize("problem, line_search_fn, options, steps", TORCH_CASES)
def test_trajectories_vs_torch(problem, line_search_fn, options, steps):
    torch = pytest.importorskip("torch")
    if problem == "quadratic":
        A, b = quadratic(5, 1e3, 11)
        ours_fn = quadratic_loss(A, b)
        At, bt = torch.tensor(A), torch.tensor(b)
        theirs_fn = lambda x: 0.5 * x @ (At @ x) - bt @ x  # noqa: E731
        x0 = np.linspace(-1.0, 1.0, 5)
    else:
        ours_fn = rosenbrock
        theirs_fn = lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] * x[0]) ** 2  # noqa: E731
        x0 = [-1.5, 2.0]
    options = dict(options, line_search_fn=line_search_fn)
    ours, our_evals, our_iters = our_run(ours_fn, x0, steps, **options)
    theirs, their_evals, their_iters = torch_run(torch, theirs_fn, x0, steps, **options)
    for k, (a, e) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, e, rtol=1e-8, atol=1e-10, err_msg=f"step {k}")
    assert (our_evals, our_iters) == (their_evals, their_iters)
