"""The activations that follow PyTorch's list and F.normalize against PyTorch itself: values and
gradients (at the kinks and at ±1e4 too, in float32 and float64), second derivatives, the
layers' reprs, and PReLU's state dict both ways. Each test skips where torch is not installed
(CI installs it)."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.functional as F
from layers.activation import (CELU, GLU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh,
                               LogSigmoid, Mish, PReLU, ReLU6, Softmin, Softshrink, Softsign,
                               Tanhshrink, Threshold)
from strategies.activations import glu_inputs, normalize_inputs, prelu_inputs
from strategies.values import shapes, values

# name: (minigrad function, torch.nn.functional's name, keyword options)
ELEMENTWISE = [
    ("relu6", F.relu6, "relu6", {}),
    ("hardtanh", F.hardtanh, "hardtanh", {}),
    ("hardtanh_bounds", F.hardtanh, "hardtanh", {"min_val": -2.0, "max_val": 3.0}),
    ("hardsigmoid", F.hardsigmoid, "hardsigmoid", {}),
    ("hardswish", F.hardswish, "hardswish", {}),
    ("mish", F.mish, "mish", {}),
    ("celu", F.celu, "celu", {}),
    ("celu_alpha", F.celu, "celu", {"alpha": 2.0}),
    ("celu_negative_alpha", F.celu, "celu", {"alpha": -1.5}),
    ("softsign", F.softsign, "softsign", {}),
    ("tanhshrink", F.tanhshrink, "tanhshrink", {}),
    ("softshrink", F.softshrink, "softshrink", {}),
    ("softshrink_lambd", F.softshrink, "softshrink", {"lambd": 1.0}),
    ("hardshrink", F.hardshrink, "hardshrink", {}),
    ("hardshrink_negative", F.hardshrink, "hardshrink", {"lambd": -1.0}),
    ("threshold", F.threshold, "threshold", {"threshold": 0.5, "value": -7.0}),
    ("logsigmoid", F.logsigmoid, "logsigmoid", {}),
    ("elu", F.elu, "elu", {}),
    ("elu_alpha", F.elu, "elu", {"alpha": 2.0}),
    ("selu", F.selu, "selu", {}),
]
IDS = [e[0] for e in ELEMENTWISE]

# every kink of every function above, and points on both sides of each
POINTS = np.array([-7.0, -6.0, -3.5, -3.0, -2.5, -2.0, -1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5,
                   1.0, 1.5, 2.0, 3.0, 3.5, 6.0, 6.5])
EXTREMES = np.array([-1e4, -1e3, -60.0, -30.0, 30.0, 60.0, 1e3, 1e4])
DTYPES = {"float32": (np.float32, 1e-6), "float64": (np.float64, 1e-13)}


def _torch():
    return pytest.importorskip("torch")


def _both(fn, torch_fn, arrays, grad_out=None, **kw):
    """Values and input gradients of fn and torch_fn on the same arrays, as NumPy arrays."""
    torch = _torch()
    xs = [mg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, t_out = fn(*xs, **kw), torch_fn(*ts, **kw)
    g = np.ones(out.shape, dtype=arrays[0].dtype) if grad_out is None else grad_out
    out.backward(mg.tensor(g))
    t_out.backward(torch.tensor(g))
    return ((out.numpy(), [x.grad.numpy() for x in xs]),
            (t_out.detach().numpy(), [t.grad.numpy() for t in ts]))


def _assert_same(mine, theirs, tol, grad_tol=None):
    (out, grads), (t_out, t_grads) = mine, theirs
    np.testing.assert_allclose(out, t_out, rtol=tol, atol=tol)
    grad_tol = tol if grad_tol is None else max(tol, grad_tol)
    for g, t_g in zip(grads, t_grads):
        np.testing.assert_allclose(g, t_g, rtol=grad_tol, atol=grad_tol)


def _grad_tol(name):
    """PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32 in float64 too
    (0.1666666716...): its gradient agrees with the exact 1/6 only to float32 precision."""
    return 1e-7 if name == "hardsigmoid" else None


@pytest.mark.parametrize("name,fn,torch_name,kw", ELEMENTWISE, ids=IDS)
@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_values_and_gradients_at_every_kink_match_pytorch(name, fn, torch_name, kw, dtype):
    torch = _torch()
    np_dtype, tol = DTYPES[dtype]
    x = POINTS.astype(np_dtype)
    _assert_same(*_both(fn, getattr(torch.nn.functional, torch_name), [x], **kw), tol,
                 _grad_tol(name))


@pytest.mark.parametrize("name,fn,torch_name,kw", ELEMENTWISE, ids=IDS)
@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_values_and_gradients_at_plus_minus_1e4_match_pytorch(name, fn, torch_name, kw, dtype):
    torch = _torch()
    np_dtype, tol = DTYPES[dtype]
    x = EXTREMES.astype(np_dtype)
    with np.errstate(over="ignore" if kw.get("alpha", 1.0) < 0 else "warn"):
        mine, theirs = _both(fn, getattr(torch.nn.functional, torch_name), [x], **kw)
    if kw.get("alpha", 1.0) > 0:  # celu with alpha < 0 is -inf itself at -1e4
        assert np.isfinite(mine[0]).all() and np.isfinite(mine[1][0]).all()
    _assert_same(mine, theirs, tol, _grad_tol(name))


@pytest.mark.parametrize("name,fn,torch_name,kw", ELEMENTWISE, ids=IDS)
@given(data=st.data())
def test_values_and_gradients_on_drawn_shapes_match_pytorch(name, fn, torch_name, kw, data):
    torch = _torch()
    x = data.draw(values(data.draw(shapes()), low=-8.0, high=8.0))
    g = data.draw(values(x.shape, salt=1))
    _assert_same(*_both(fn, getattr(torch.nn.functional, torch_name), [x], g, **kw), 1e-12,
                 _grad_tol(name))


@pytest.mark.parametrize("name,fn,torch_name,kw", ELEMENTWISE, ids=IDS)
def test_second_derivatives_match_pytorch_at_and_off_the_kinks(name, fn, torch_name, kw):
    torch = _torch()
    x = np.concatenate([POINTS, POINTS + 0.125])
    t = torch.tensor(x, requires_grad=True)
    (t_g,) = torch.autograd.grad(getattr(torch.nn.functional, torch_name)(t, **kw).sum(), [t],
                                 create_graph=True)
    m = mg.tensor(x, requires_grad=True)
    (g,) = mg.grad(fn(m, **kw).sum(), [m], create_graph=True)
    np.testing.assert_allclose(g.numpy(), t_g.detach().numpy(), rtol=1e-12,
                               atol=1e-7 if name == "hardsigmoid" else 1e-13)
    if name == "hardsigmoid":  # PyTorch has no second derivative of hardsigmoid; it is 0
        assert not g.requires_grad
        return
    (t_gg,) = torch.autograd.grad(t_g.sum(), [t])
    # a piecewise-linear function's gradient stays connected to x, as PyTorch's does, and its
    # second derivative comes back as the zeros it is
    assert g.requires_grad
    (gg,) = mg.grad(g.sum(), [m])
    np.testing.assert_allclose(gg.numpy(), t_gg.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,fn,torch_name,kw", ELEMENTWISE, ids=IDS)
def test_nan_values_match_pytorch(name, fn, torch_name, kw):
    torch = _torch()
    x = np.array([math.nan, 1.0, -1.0])
    np.testing.assert_array_equal(
        fn(mg.tensor(x), **kw).numpy(),
        getattr(torch.nn.functional, torch_name)(torch.tensor(x), **kw).numpy())


@given(data=st.data())
def test_softmin_matches_pytorch(data):
    torch = _torch()
    x = data.draw(values(data.draw(shapes(min_dims=1, max_dims=4, max_side=4))))
    x = x + data.draw(st.sampled_from([0.0, 1e4, -1e4]))
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    g = data.draw(values(x.shape, salt=1))
    _assert_same(*_both(F.softmin, torch.nn.functional.softmin, [x], g, dim=dim), 1e-10)


@given(data=st.data())
def test_glu_matches_pytorch(data):
    torch = _torch()
    (x,), params = data.draw(glu_inputs())
    g = data.draw(values(F.glu(mg.tensor(x), **params).shape, salt=1))
    _assert_same(*_both(F.glu, torch.nn.functional.glu, [x], g, **params), 1e-12)


@given(data=st.data())
def test_prelu_matches_pytorch_weight_gradient_included(data):
    torch = _torch()
    (x, w), _ = data.draw(prelu_inputs())
    g = data.draw(values(x.shape, salt=2))
    _assert_same(*_both(F.prelu, torch.nn.functional.prelu, [x, w], g), 1e-12)


def test_normalize_with_the_norm_exactly_eps_matches_pytorch():
    """PyTorch's clamp_min passes the gradient where the norm equals eps."""
    torch = _torch()
    x = np.array([[0.5, 0.0], [0.3, 0.4]])
    _assert_same(*_both(F.normalize, torch.nn.functional.normalize, [x], eps=0.5), 1e-15)


def test_prelu_at_0_matches_pytorch():
    torch = _torch()
    x = np.array([[0.0, -0.0, 1.0], [-2.0, 0.0, 3.0]])
    _assert_same(*_both(F.prelu, torch.nn.functional.prelu, [x, np.array([0.1, -0.5, 2.0])]),
                 1e-15)


@given(data=st.data())
def test_normalize_matches_pytorch(data):
    torch = _torch()
    (x,), params = data.draw(normalize_inputs())
    g = data.draw(values(x.shape, salt=2))
    _assert_same(*_both(F.normalize, torch.nn.functional.normalize, [x], g, **params), 1e-10)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, 1.5, 0.0, -1.0, -2.5, math.inf, -math.inf])
@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_normalize_with_zero_rows_and_entries_matches_pytorch(p, dtype):
    torch = _torch()
    np_dtype, tol = DTYPES[dtype]
    x = np.array([[0.0, 2.0, -3.0], [0.0, 0.0, 0.0], [1e-13, 0.0, 0.0], [4.0, 4.0, 1.0],
                  [1e4, -1e4, 5.0]], dtype=np_dtype)
    g = np.arange(15, dtype=np_dtype).reshape(5, 3) - 7
    for kw in ({"p": p}, {"p": p, "dim": 0, "eps": 0.5}):
        mine, theirs = _both(F.normalize, torch.nn.functional.normalize, [x], g, **kw)
        nan = np.isnan(theirs[1][0])
        if nan.any():
            # PyTorch's float32 for p < 0: |1e-13|^(p-1) overflows, times the zero gradient
            # of the clamped norm; here a row whose norm is below eps is divided by eps alone
            assert dtype == "float32" and p < 0
            np.testing.assert_allclose(mine[1][0][nan], g[nan] / kw.get("eps", 1e-12),
                                       rtol=1e-6)
            theirs[1][0][nan] = mine[1][0][nan]
        _assert_same(mine, theirs, tol)


LAYER_PAIRS = [
    (lambda nn: nn.ReLU6(), ReLU6()),
    (lambda nn: nn.ReLU6(True), ReLU6(True)),
    (lambda nn: nn.Hardtanh(), Hardtanh()),
    (lambda nn: nn.Hardtanh(-2.0, 3.0, True), Hardtanh(-2.0, 3.0, True)),
    (lambda nn: nn.Hardtanh(-1, 1), Hardtanh(-1, 1)),
    (lambda nn: nn.Hardsigmoid(True), Hardsigmoid(True)),
    (lambda nn: nn.Hardswish(True), Hardswish(True)),
    (lambda nn: nn.Mish(True), Mish(True)),
    (lambda nn: nn.Mish(), Mish()),
    (lambda nn: nn.CELU(), CELU()),
    (lambda nn: nn.CELU(2.0, True), CELU(2.0, True)),
    (lambda nn: nn.Softsign(), Softsign()),
    (lambda nn: nn.Softmin(1), Softmin(1)),
    (lambda nn: nn.Tanhshrink(), Tanhshrink()),
    (lambda nn: nn.Softshrink(), Softshrink()),
    (lambda nn: nn.Softshrink(0.3), Softshrink(0.3)),
    (lambda nn: nn.Hardshrink(1), Hardshrink(1)),
    (lambda nn: nn.Threshold(0.1, 20), Threshold(0.1, 20)),
    (lambda nn: nn.Threshold(0.1, 20, True), Threshold(0.1, 20, True)),
    (lambda nn: nn.GLU(), GLU()),
    (lambda nn: nn.GLU(0), GLU(0)),
    (lambda nn: nn.LogSigmoid(), LogSigmoid()),
    (lambda nn: nn.PReLU(), PReLU()),
    (lambda nn: nn.PReLU(4, 0.1), PReLU(4, 0.1)),
]


@pytest.mark.parametrize("make,layer", LAYER_PAIRS, ids=[repr(p[1]) for p in LAYER_PAIRS])
def test_layers_repr_and_forward_match_pytorch(make, layer):
    torch = _torch()
    theirs = make(torch.nn)
    assert repr(layer) == repr(theirs)
    x = np.random.default_rng(3).uniform(-8, 8, (2, 4, 6)).astype(np.float32)
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)


def test_prelu_state_dicts_exchange_with_pytorch():
    torch = _torch()
    theirs = torch.nn.PReLU(3)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([0.1, -0.2, 1.5]))
    mine = PReLU(3)
    mine.load_state_dict({k: mg.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(4).uniform(-2, 2, (2, 3, 5)).astype(np.float32)
    np.testing.assert_allclose(mine(mg.tensor(x)).numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6)
    back = torch.nn.PReLU(3)
    back.load_state_dict({k: torch.tensor(v.numpy()) for k, v in mine.state_dict().items()})
    np.testing.assert_array_equal(back.weight.detach().numpy(),
                                  np.array([0.1, -0.2, 1.5], dtype=np.float32))
    assert list(mine.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("name,fn,torch_fn", [
    ("relu", F.relu, "relu"), ("leaky_relu", F.leaky_relu, "leaky_relu"),
    ("hardtanh", F.hardtanh, "hardtanh"), ("relu6", F.relu6, "relu6"),
    ("hardshrink", F.hardshrink, "hardshrink"), ("softshrink", F.softshrink, "softshrink")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_hessian_of_a_piecewise_linear_net_matches_pytorch(name, fn, torch_fn, dtype):
    """The Hessian-vector product of a two-layer net with respect to its input: zero through a
    piecewise-linear activation (the first derivative is constant on each piece), reached
    through the activation's gradient as in PyTorch, and its third-order products too."""
    torch = _torch()
    rng = np.random.default_rng(3)
    x0, w1, w2 = (rng.standard_normal(s).astype(dtype) for s in ((4, 5), (5, 6), (6, 1)))
    v = rng.standard_normal((4, 5)).astype(dtype)

    def hvp(lib, act, x, w1, w2, v):
        (g,) = lib_grad(lib, (act(x @ w1) @ w2).sum(), x)
        (h,) = lib_grad(lib, (g * v).sum(), x)
        return g, h

    def lib_grad(lib, y, x):
        if lib is torch:
            return torch.autograd.grad(y, [x], create_graph=True)
        return mg.grad(y, [x], create_graph=True)
    m = [mg.tensor(a, requires_grad=True) for a in (x0, w1, w2)]
    t = [torch.tensor(a, requires_grad=True) for a in (x0, w1, w2)]
    g, h = hvp(mg, fn, *m, mg.tensor(v))
    t_g, t_h = hvp(torch, getattr(torch.nn.functional, torch_fn), *t, torch.tensor(v))
    np.testing.assert_allclose(g.numpy(), t_g.detach().numpy(), rtol=1e-5)
    np.testing.assert_array_equal(h.numpy(), t_h.detach().numpy())
    np.testing.assert_array_equal(h.numpy(), np.zeros_like(x0))
    assert h.dtype == g.dtype == m[0].dtype
    # one order up: the gradient of the (zero) Hessian-vector product with respect to w1 also
    # flows through the activation's gradient, and is zero too
    (hw,) = mg.grad(h.sum(), [m[1]])
    (t_hw,) = torch.autograd.grad(t_h.sum(), [t[1]])
    np.testing.assert_array_equal(hw.numpy(), t_hw.numpy())


@pytest.mark.parametrize("g_value", [np.inf, -np.inf, np.nan])
def test_a_constant_piece_passes_no_infinite_or_nan_gradient_under_create_graph(g_value):
    """Where the slope is 0 the gradient is exactly 0 even for an inf or NaN g, recorded or not
    (PyTorch's rule for relu, hardtanh, hardshrink, softshrink and threshold)."""
    torch = _torch()
    x = np.array([-2.0, -0.25, 0.25, 2.0])
    g = np.full(4, g_value)
    for fn, name, kw in [(F.relu, "relu", {}), (F.hardtanh, "hardtanh", {}),
                         (F.hardshrink, "hardshrink", {}), (F.softshrink, "softshrink", {}),
                         (F.threshold, "threshold", {"threshold": 0.0, "value": 3.0}),
                         (F.leaky_relu, "leaky_relu", {"negative_slope": 0.0})]:
        t = torch.tensor(x, requires_grad=True)
        (t_g,) = torch.autograd.grad(getattr(torch.nn.functional, name)(t, **kw), [t],
                                     torch.tensor(g))
        for create_graph in (False, True):
            m = mg.tensor(x, requires_grad=True)
            (m_g,) = mg.grad(fn(m, **kw), [m], mg.tensor(g), create_graph=create_graph)
            np.testing.assert_array_equal(m_g.numpy(), t_g.numpy(), err_msg=f"{name} {g_value}")


@pytest.mark.parametrize("fn, name, kw", [(F.elu, "elu", {}), (F.elu, "elu", {"alpha": 0.5}),
                                          (F.selu, "selu", {}), (F.celu, "celu", {"alpha": 2.0})])
def test_elu_family_at_zero_and_nan_matches_pytorch_to_the_second_derivative(fn, name, kw):
    """At exactly 0 the slope takes the exp piece (α·s) but the curvature does not (0), and a
    NaN input's slope is the linear piece's: PyTorch's masks x <= 0 and x < 0, which a where
    over exp cannot give (its second derivative at 0 was α·s²)."""
    torch = _torch()
    x = np.array([-0.0, 0.0, np.nan, -1.0, 1.0])
    m = mg.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    (g,) = mg.grad(fn(m, **kw).sum(), [m], create_graph=True)
    (t_g,) = torch.autograd.grad(getattr(torch.nn.functional, name)(t, **kw).sum(), [t],
                                 create_graph=True)
    np.testing.assert_array_equal(g.numpy(), t_g.detach().numpy())
    (gg,) = mg.grad(g.sum(), [m])
    (t_gg,) = torch.autograd.grad(t_g.sum(), [t])
    np.testing.assert_allclose(gg.numpy(), t_gg.numpy(), rtol=1e-15)
    assert gg.numpy()[0] == gg.numpy()[1] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hardswish_gradient_at_infinities_and_nan_matches_pytorch(dtype):
    """One node: the pieces not taken never meet the gradient (as a where of three pieces,
    x·(x + 3)'s product rule sent 0·inf = NaN back from ±inf). Values agree except at −inf,
    where PyTorch's x·relu6(x + 3)/6 is −inf·0 = NaN and the left piece's 0 is kept here."""
    torch = _torch()
    x = np.array([-np.inf, -1e30, -3.0, -1.0, 3.0, 1e30, np.inf, np.nan], dtype=dtype)
    m, t = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with np.errstate(over="ignore", invalid="ignore"):
        y = F.hardswish(m)
        (g,) = mg.grad(y.sum(), [m], create_graph=True)
        (gg,) = mg.grad(g.sum(), [m])
    t_y = torch.nn.functional.hardswish(t)
    (t_g,) = torch.autograd.grad(t_y.sum(), [t], create_graph=True)
    (t_gg,) = torch.autograd.grad(t_g.sum(), [t])
    np.testing.assert_array_equal(g.numpy(), t_g.detach().numpy())  # [0, 0, 0, 1/6, 1, 1, 1, 1]
    np.testing.assert_allclose(gg.numpy(), t_gg.numpy(), rtol=1e-7)
    assert y.numpy()[0] == 0.0 and np.isnan(t_y.detach().numpy()[0])
    np.testing.assert_allclose(y.numpy()[1:], t_y.detach().numpy()[1:], rtol=1e-6)
