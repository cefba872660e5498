"""The fused optimizer updates: the kernels against the NumPy rules, bit for bit.

SGD, Adam and AdamW update float parameters with one pass of a fused kernel by default
(``foreach=None``) and with the NumPy rule, an array expression at a time, when asked
(``foreach=False``). The kernels do the same operations in the same order and dtype, so the two
paths must agree exactly, in float32 as in float64, over drawn shapes (0-d and empty included),
options, missing gradients and strided gradients. PyTorch is the oracle for the trajectories,
with ``foreach=True`` on both sides. The GPU twins run under Numba's CUDA simulator where there
is no GPU, and must agree with the CPU kernels exactly there (on a GPU, up to the roundings
that its fused multiply-adds change).
"""
import math

import numba
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import optim
from minigrad.kernels import cpu, gpu
from minigrad.kernels.cpu import optim as cpu_optim
from strategies.optim import adam_options, laid_out, schedules, sgd_options


def run(make, schedule, foreach):
    """Feed ``schedule`` to ``make(params, foreach)``; return the parameters and the state."""
    params = [mg.tensor(p.copy(), requires_grad=True) for p in schedule["params"]]
    optimizer = make(params, foreach)
    for grads in schedule["steps"]:
        for p, g in zip(params, grads):
            p.grad = None if g is None else mg.tensor(g)
        optimizer.step()
    return ([p.numpy() for p in params], optimizer.state_dict()["state"])


def assert_same_bits(a, b):
    """Same parameters and same buffers (NaN-aware, exact), for every parameter."""
    (params_a, state_a), (params_b, state_b) = a, b
    for x, y in zip(params_a, params_b):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)
    assert state_a.keys() == state_b.keys()
    for position in state_a:
        assert state_a[position].keys() == state_b[position].keys()
        for key, value in state_a[position].items():
            np.testing.assert_array_equal(value, state_b[position][key], err_msg=key)


@given(schedule=schedules(), options=sgd_options())
def test_fused_sgd_gives_the_bits_of_the_numpy_rule(schedule, options):
    def make(params, foreach):
        return optim.SGD(params, **options, foreach=foreach)
    reference = run(make, schedule, False)
    assert_same_bits(run(make, schedule, None), reference)
    assert_same_bits(run(make, schedule, True), reference)


@given(schedule=schedules(), options=adam_options())
def test_fused_adam_gives_the_bits_of_the_numpy_rule(schedule, options):
    def make(params, foreach):
        return optim.Adam(params, **options, foreach=foreach)
    reference = run(make, schedule, False)
    assert_same_bits(run(make, schedule, None), reference)
    assert_same_bits(run(make, schedule, True), reference)


@given(schedule=schedules(dtypes=("float32",)), amsgrad=st.booleans())
def test_fused_adamw_gives_the_bits_of_the_numpy_rule(schedule, amsgrad):
    def make(params, foreach):
        return optim.AdamW(params, lr=0.1, weight_decay=0.3, amsgrad=amsgrad, foreach=foreach)
    assert_same_bits(run(make, schedule, None), run(make, schedule, False))


FIXED = {"params": [np.linspace(-2.0, 3.0, 12).reshape(3, 4), np.array([0.5, -0.25])],
         "steps": [[np.cos(np.arange(12.0) + k).reshape(3, 4), None if k == 2 else
                    np.array([0.3, -0.1]) * (k + 1)] for k in range(6)]}
EVERY_OPTION = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.25, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, momentum=0.8, nesterov=True, maximize=True, weight_decay=0.5)),
    ("Adam", dict(lr=0.1)),
    ("Adam", dict(lr=0.1, betas=(0.5, 0.75), eps=0.5, weight_decay=0.25, amsgrad=True,
                  maximize=True)),
    ("Adam", dict(lr=0.1, weight_decay=0.25, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.1, weight_decay=0.5, amsgrad=True)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, options", EVERY_OPTION)
def test_every_option_takes_the_same_path_in_both(name, options, dtype):
    """Fixed data, each option on, and an option switched on after two steps (momentum, or
    amsgrad, whose buffers then start then): fused and NumPy rule give the same bits."""
    schedule = {"params": [p.astype(dtype) for p in FIXED["params"]],
                "steps": [[None if g is None else g.astype(dtype) for g in grads]
                          for grads in FIXED["steps"]]}
    switched = "momentum" if name == "SGD" else "amsgrad"

    def make(params, foreach):
        opt = getattr(optim, name)(params, **options, foreach=foreach)
        original, count = opt.step, []

        def step():
            count.append(1)
            if len(count) == 3 and not opt.param_groups[0][switched]:
                opt.param_groups[0][switched] = 0.5 if switched == "momentum" else True
            return original()
        opt.step = step
        return opt
    reference = run(make, schedule, False)
    assert not np.array_equal(reference[0][0], schedule["params"][0])  # it moved
    assert_same_bits(run(make, schedule, None), reference)


def test_numpy_rule_updates_the_momentum_buffer_of_a_0d_parameter():
    """-g of a 0-d array is a NumPy scalar; the buffer made from it must still be an array that
    later steps update in place (it was not, and the fused path disagreed)."""
    w = mg.tensor(np.array(1.0), requires_grad=True)
    opt = optim.SGD([w], lr=0.0, momentum=0.5, maximize=True, foreach=False)
    for g in (2.0, 4.0):
        w.grad = mg.tensor(np.array(g))
        opt.step()
    assert opt.state[w]["momentum_buffer"] == 0.5 * -2.0 - 4.0


def test_the_default_path_is_the_kernel(monkeypatch):
    """foreach=None calls the kernel for float parameters; foreach=False never does."""
    calls = []
    monkeypatch.setattr(cpu, "sgd_update_", lambda *args: calls.append(args[0].shape))
    w = mg.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    w.grad = mg.ones((2, 3))
    optim.SGD([w], lr=0.1, foreach=False).step()
    assert calls == [] and np.all(w.numpy() == np.float32(0.9))
    optim.SGD([w], lr=0.1).step()
    assert calls == [(2, 3)]


def test_parameters_the_kernel_cannot_take_fall_back_with_foreach_none():
    """A float16 parameter, and a gradient of another dtype, take the NumPy rule."""
    half = mg.tensor(np.array([1.0, 2.0], np.float16), requires_grad=True)
    mixed = mg.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    opt = optim.Adam([half, mixed], lr=0.1)
    half.grad = mg.tensor(np.array([0.5, -0.5], np.float16))
    mixed.grad = mg.tensor(np.array([0.5, -0.5], np.float64))
    opt.step()
    # Adam's first step moves each entry by lr against the sign of its gradient
    np.testing.assert_allclose(half.numpy(), [0.9, 2.1], rtol=1e-3)
    np.testing.assert_allclose(mixed.numpy(), [0.9, 2.1], rtol=1e-6)
    assert half.dtype == np.float16 and mixed.dtype == np.float32


def test_a_strided_parameter_is_updated_in_place():
    """A parameter whose array is a transposed view: the kernel works on a copy and writes it
    back, so the caller's array holds the update."""
    base = np.arange(6, dtype=np.float64).reshape(2, 3)
    w = mg.tensor(base, requires_grad=True)
    w.data = base.T  # a column-major (3, 2) view
    w.grad = mg.ones((3, 2), dtype=mg.float64)
    opt = optim.SGD([w], lr=0.5, momentum=0.9, foreach=True)
    opt.step()
    opt.step()
    np.testing.assert_array_equal(base.T, np.arange(6.0).reshape(2, 3).T - 0.5 - 0.5 * 1.9)
    np.testing.assert_array_equal(opt.state[w]["momentum_buffer"], np.full((3, 2), 1.9))


def test_switching_paths_mid_run_changes_nothing():
    """Half the steps fused, half with the NumPy rule, against all NumPy: same bits."""
    rng = np.random.default_rng(3)
    schedule = {"params": [rng.standard_normal((4, 3)).astype(np.float32)],
                "steps": [[rng.standard_normal((4, 3)).astype(np.float32)] for _ in range(6)]}

    def make(params, foreach):
        opt = optim.Adam(params, lr=0.05, amsgrad=True, foreach=foreach)
        original = opt.step

        def step():
            opt.param_groups[0]["foreach"] = not opt.param_groups[0]["foreach"]
            return original()
        opt.step = step
        return opt
    reference = run(lambda params, _: optim.Adam(params, lr=0.05, amsgrad=True, foreach=False),
                    schedule, False)
    assert_same_bits(run(make, schedule, False), reference)


def test_state_dict_keeps_its_layout_and_loads_older_dicts():
    w = mg.tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    w.grad = mg.ones(3, dtype=mg.float64)
    opt.step()
    saved = opt.state_dict()
    assert sorted(saved["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    group = saved["param_groups"][0]
    assert group["foreach"] is None and group["fused"] is None
    older = {**saved, "param_groups": [{k: v for k, v in saved["param_groups"][0].items()
                                        if k not in ("foreach", "fused")}]}
    fresh = optim.Adam([mg.tensor(np.ones(3), requires_grad=True)], lr=0.1, foreach=False)
    fresh.load_state_dict(older)
    # an option newer than the file takes this optimizer's own default
    assert fresh.param_groups[0]["foreach"] is False
    np.testing.assert_array_equal(fresh.state[fresh.param_groups[0]["params"][0]]["exp_avg"],
                                  saved["state"][0]["exp_avg"])


@pytest.mark.parametrize("make, message", [
    (lambda ps: optim.SGD(ps, lr=0.1, foreach="yes"), "SGD: foreach must be None, False or True"),
    (lambda ps: optim.Adam(ps, fused=1), "Adam: fused must be None, False or True"),
    (lambda ps: optim.AdamW(ps, foreach=True, fused=True),
     "AdamW: fused=True and foreach=True cannot be set together"),
])
def test_bad_switches_are_refused(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make([mg.tensor(np.ones(2), requires_grad=True)])


def test_foreach_true_refuses_a_parameter_the_kernel_cannot_take():
    half = mg.tensor(np.ones(2, np.float16), requires_grad=True)
    with pytest.raises(ValueError, match=r"SGD: foreach=True but parameter 1 of its group "
                                         r"\(shape \(2,\)\) .* dtype is float16"):
        optim.SGD([mg.tensor(np.ones(3), requires_grad=True), half], lr=0.1, foreach=True)
    w, v = (mg.tensor(np.ones(2, np.float32), requires_grad=True) for _ in range(2))
    opt = optim.Adam([w, v], fused=True)
    w.grad, v.grad = mg.ones(2), mg.tensor(np.ones(2, np.float64))
    with pytest.raises(ValueError, match="Adam: fused=True but parameter 1 .* gradient has "
                                         "dtype float64, not the parameter's float32"):
        opt.step()
    # refused before anything moved, the parameter before the bad one included
    assert np.all(w.numpy() == 1) and np.all(v.numpy() == 1) and not opt.state[w]


def test_a_gradient_of_the_wrong_shape_is_refused_before_anything_moves():
    w, v = (mg.tensor(np.ones(2), requires_grad=True) for _ in range(2))
    opt = optim.SGD([w, v], lr=0.1)
    w.grad, v.grad = mg.ones(2, dtype=mg.float64), mg.ones(3, dtype=mg.float64)
    with pytest.raises(ValueError, match=r"SGD: the gradient of a parameter has shape \(3,\)"):
        opt.step()
    assert np.all(w.numpy() == 1)


# The kernels themselves, against a slow and obvious NumPy spelling of each rule.

def numpy_sgd(p, g, b, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    d = -g if maximize else g.copy()
    if weight_decay:
        d = d + weight_decay * p
    if momentum:
        b[...] = d if first else momentum * b + (1 - dampening) * d
        d = d + momentum * b if nesterov else b.copy()
    p[...] = p - lr * d


def numpy_adam(p, g, m, v, v_max, lr, beta1, beta2, eps, weight_decay, step, amsgrad, maximize,
               decoupled):
    d = -g if maximize else g.copy()
    if weight_decay and decoupled:
        p[...] = p * (1 - lr * weight_decay)
    elif weight_decay:
        d = d + weight_decay * p
    m[...] = beta1 * m + (1 - beta1) * d
    v[...] = beta2 * v + (1 - beta2) * d * d
    if amsgrad:
        v_max[...] = np.maximum(v_max, v)
    denom = np.sqrt(v_max if amsgrad else v) / math.sqrt(1 - beta2 ** step) + eps
    p[...] = p - lr / (1 - beta1 ** step) * m / denom


def _arrays(rng, shape, count, dtype=np.float64):
    return [np.asarray(rng.standard_normal(shape), dtype=dtype) for _ in range(count)]


@pytest.mark.parametrize("kernels", [cpu, gpu], ids=["cpu", "gpu"])
@given(shape=st.lists(st.integers(0, 4), max_size=3), options=sgd_options(),
       first=st.booleans(), layout=st.sampled_from(["contiguous", "fortran", "strided"]))
def test_sgd_kernel_matches_numpy(kernels, shape, options, first, layout):
    rng = np.random.default_rng(0)
    p, g, b = _arrays(rng, shape, 3)
    expected_p, expected_b = p.copy(), b.copy()
    numpy_sgd(expected_p, g, expected_b, **options, first=first)
    p, b = laid_out(p, layout), laid_out(b, layout)
    kernels.sgd_update_(p, g, b, **options, first=first)
    np.testing.assert_allclose(p, expected_p, rtol=1e-14, atol=1e-15)
    if options["momentum"]:
        np.testing.assert_allclose(b, expected_b, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("kernels", [cpu, gpu], ids=["cpu", "gpu"])
@given(shape=st.lists(st.integers(0, 4), max_size=3), options=adam_options(),
       step=st.integers(1, 50), layout=st.sampled_from(["contiguous", "fortran", "strided"]))
def test_adam_kernel_matches_numpy(kernels, shape, options, step, layout):
    rng = np.random.default_rng(1)
    p, g, m = _arrays(rng, shape, 3)
    v, v_max = (np.abs(a) for a in _arrays(rng, shape, 2))
    v_max = np.asarray(v_max + v)  # 0-d arrays stay arrays (NumPy ops on them give scalars)
    v = np.asarray(v)
    expected = [a.copy() for a in (p, m, v, v_max)]
    beta1, beta2 = options.pop("betas")
    decoupled = options.pop("decoupled_weight_decay")
    numpy_adam(*expected[:1], g, *expected[1:], beta1=beta1, beta2=beta2, step=step,
               decoupled=decoupled, **options)
    arrays = [laid_out(a, layout) for a in (p, m, v, v_max)]
    kernels.adam_update_(arrays[0], g, *arrays[1:], beta1=beta1, beta2=beta2, step=step,
                         decoupled_weight_decay=decoupled, **options)
    for got, want in zip(arrays, expected):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def assert_twins(a, b):
    """The simulator runs the GPU twin's Python on the CPU: the same bits. A GPU contracts
    multiply-adds into FMAs (see kernels/gpu/optim.py): a few roundings apart."""
    if numba.config.ENABLE_CUDASIM:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-5 if a.dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_twins_give_the_bits_of_the_cpu_kernels(dtype):
    rng = np.random.default_rng(2)
    for amsgrad, maximize, decoupled in [(False, False, False), (True, True, True)]:
        arrays = _arrays(rng, (3, 5), 5, dtype)
        arrays[3], arrays[4] = np.abs(arrays[3]), np.abs(arrays[4])
        twins = [a.copy() for a in arrays]
        for kernels, (p, g, m, v, w) in ((cpu, arrays), (gpu, twins)):
            for t in (1, 2, 3):
                kernels.adam_update_(p, g, m, v, w, 0.01, 0.9, 0.99, 1e-8, 0.1, t, amsgrad,
                                     maximize, decoupled)
                kernels.sgd_update_(m, g, w, 0.1, 0.9, 0.0, 0.1, True, maximize, t == 1)
        for a, b in zip(arrays, twins):
            assert_twins(a, b)


def test_large_parameters_take_the_parallel_loop(monkeypatch):
    """Above PARALLEL_FROM entries the loop runs on the thread pool: same bits."""
    rng = np.random.default_rng(4)
    p, g, b, m, v = _arrays(rng, (64, 33), 5, np.float32)
    v = np.abs(v)
    serial = [a.copy() for a in (p, b, m, v)]
    cpu.sgd_update_(serial[0], g, serial[1], 0.1, 0.9, 0.1, 0.01, False, True, False)
    cpu.adam_update_(serial[0], g, serial[2], serial[3], None, 0.1, 0.9, 0.99, 1e-8, 0.01, 3,
                     False, False, True)
    monkeypatch.setattr(cpu_optim, "PARALLEL_FROM", 64)
    cpu.sgd_update_(p, g, b, 0.1, 0.9, 0.1, 0.01, False, True, False)
    cpu.adam_update_(p, g, m, v, None, 0.1, 0.9, 0.99, 1e-8, 0.01, 3, False, False, True)
    for a, want in zip((p, b, m, v), serial):
        np.testing.assert_array_equal(a, want)


@pytest.mark.parametrize("kernels", [cpu, gpu], ids=["cpu", "gpu"])
@pytest.mark.parametrize("call, error, message", [
    (lambda k, a: k.sgd_update_(a, a[:2], a, 0.1, 0.9, 0, 0, False, False, False), ValueError,
     r"sgd_update_: grad must have the parameter's shape \(3,\) and dtype float64, got shape "
     r"\(2,\)"),
    (lambda k, a: k.sgd_update_(a, a, a.astype(np.float32), 0.1, 0.9, 0, 0, False, False, False),
     ValueError, "sgd_update_: momentum_buffer must have .* dtype float64, got .* float32"),
    (lambda k, a: k.sgd_update_(a.astype(np.int64), a, a, 0.1, 0, 0, 0, False, False, False),
     TypeError, "sgd_update_: param must be float32 or float64, got shape .* int64"),
    (lambda k, a: k.sgd_update_(a, a, None, 0.1, 0.9, 0, 0, False, False, False), TypeError,
     "sgd_update_: momentum_buffer must be an array, got NoneType"),
    (lambda k, a: k.sgd_update_(a, a, a, -0.1, 0, 0, 0, False, False, False), ValueError,
     r"sgd_update_: invalid lr -0.1, expected a value in \[0.0, inf\]"),
    (lambda k, a: k.adam_update_(a, a, a, a, None, 0.1, 1.0, 0.9, 1e-8, 0, 1, False, False,
                                 False), ValueError, "adam_update_: invalid beta1 1.0"),
    (lambda k, a: k.adam_update_(a, a, a, a, None, 0.1, 0.9, 0.9, 1e-8, 0, 0, False, False,
                                 False), ValueError, "adam_update_: step must be >= 1, got 0"),
    (lambda k, a: k.adam_update_(a, a, a, a, None, 0.1, 0.9, 0.9, 1e-8, 0, 1, True, False,
                                 False), TypeError, "adam_update_: max_exp_avg_sq must be an "
                                                    "array, got NoneType"),
])
def test_kernels_refuse_bad_input_before_touching_anything(kernels, call, error, message):
    a = np.array([1.0, 2.0, 3.0])
    with pytest.raises(error, match=message):
        call(kernels, a)
    np.testing.assert_array_equal(a, [1.0, 2.0, 3.0])


def test_remembered_constants_do_not_let_bad_ones_through():
    """The constants of a call are remembered (typed): after lr=1 was used, lr=True is still
    refused, and an unhashable lr gets the check's message, not a hashing error."""
    a = np.ones(3)
    cpu.sgd_update_(a, np.ones(3), None, 1, 0, 0, 0, False, False, False)
    np.testing.assert_array_equal(a, np.zeros(3))
    with pytest.raises(TypeError, match="sgd_update_: lr must be a real number, got True"):
        cpu.sgd_update_(a, np.ones(3), None, True, 0, 0, 0, False, False, False)
    with pytest.raises(TypeError, match=r"adam_update_: lr must be a real number, got \[0.1\]"):
        cpu.adam_update_(a, a, a, a, None, [0.1], 0.9, 0.9, 1e-8, 0, 1, False, False, False)


def test_read_only_parameter_is_refused():
    a = np.ones(3)
    a.flags.writeable = False
    with pytest.raises(ValueError, match="sgd_update_: param must be writeable"):
        cpu.sgd_update_(a, np.ones(3), None, 0.1, 0, 0, 0, False, False, False)


# PyTorch as the oracle, foreach=True on both sides (the trajectories of test_optim_vs_torch).

def _gradient(p, k):
    return np.sin(3.0 * p) + 0.5 * np.tanh(p) + 0.05 * math.cos(k)


def _trajectory(library, name, options, dtype, steps=20):
    torch = pytest.importorskip("torch") if library == "torch" else None
    p0 = [np.linspace(-1.5, 2.0, 6).reshape(2, 3).astype(dtype), np.array([0.3, -0.7], dtype)]
    if torch is None:
        params = [mg.tensor(p, requires_grad=True) for p in p0]
        make, to_array, wrap = getattr(optim, name), (lambda t: t.numpy()), mg.tensor
    else:
        params = [torch.tensor(p, requires_grad=True) for p in p0]
        make, to_array, wrap = getattr(torch.optim, name), (lambda t: t.detach().numpy()), \
            torch.tensor
    opt = make([{"params": params[:1]}, {"params": params[1:], "lr": 0.02}], **options,
               foreach=True)
    out = []
    for k in range(steps):
        for p in params:
            p.grad = wrap(_gradient(to_array(p), k).astype(dtype))
        opt.step()
        out.append([to_array(p).copy() for p in params])
    return out


TORCH_CONFIGS = [
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.2, weight_decay=1e-2)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True, eps=1e-6)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True, maximize=True)),
]


@pytest.mark.parametrize("name, options", TORCH_CONFIGS)
def test_foreach_trajectories_match_torch_foreach(name, options):
    theirs = _trajectory("torch", name, options, np.float64)
    for step, (a, b) in enumerate(zip(_trajectory("minigrad", name, options, np.float64),
                                      theirs)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12, err_msg=f"step {step}")
    mine32 = _trajectory("minigrad", name, options, np.float32)[-1]
    for x, y in zip(mine32, _trajectory("torch", name, options, np.float32)[-1]):
        assert x.dtype == np.float32
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
