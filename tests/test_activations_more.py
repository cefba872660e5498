"""The activations that follow PyTorch's list and F.normalize, as functions and as layers.

Values against the NumPy references of ``op_specs_activations.py`` in float32 and float64 over
drawn shapes; the values and gradients at the kinks, where PyTorch's rules are spelled out
(hardtanh's gradient is 0 at its bounds, hardswish's is 0 at −3 and 1 at 3, ...); gradcheck and
gradgradcheck in float64 off the kinks; inputs of ±1e4 with finite values and gradients; NaN
kept; the layers' forward, reprs and arguments; PReLU's weight; every error message.
test_activations_more_vs_torch.py compares the same with PyTorch itself.
"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.functional as F
import op_specs_activations as ref
from layers.activation import (CELU, GLU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh,
                               LogSigmoid, Mish, PReLU, ReLU6, Softmin, Softshrink, Softsign,
                               Tanhshrink, Threshold)
from layers.parameter import Parameter
from strategies.activations import (HARD_KINKS, celu_inputs, glu_inputs, hardtanh_inputs,
                                    normalize_inputs, prelu_inputs, shrink_inputs,
                                    threshold_inputs, wide_inputs)
from strategies.softmax import softmax_inputs
from strategies.values import shapes, values

# name: (F function, NumPy reference, keyword options) for the elementwise functions
ELEMENTWISE = {
    "relu6": (F.relu6, ref.relu6, {}),
    "hardtanh": (F.hardtanh, ref.hardtanh, {}),
    "hardtanh_bounds": (F.hardtanh, ref.hardtanh, {"min_val": -2.0, "max_val": 0.5}),
    "hardsigmoid": (F.hardsigmoid, ref.hardsigmoid, {}),
    "hardswish": (F.hardswish, ref.hardswish, {}),
    "mish": (F.mish, ref.mish, {}),
    "celu": (F.celu, ref.celu, {}),
    "celu_alpha": (F.celu, ref.celu, {"alpha": 2.5}),
    "softsign": (F.softsign, ref.softsign, {}),
    "tanhshrink": (F.tanhshrink, ref.tanhshrink, {}),
    "softshrink": (F.softshrink, ref.softshrink, {}),
    "softshrink_lambd": (F.softshrink, ref.softshrink, {"lambd": 1.5}),
    "hardshrink": (F.hardshrink, ref.hardshrink, {}),
    "hardshrink_lambd": (F.hardshrink, ref.hardshrink, {"lambd": 2.0}),
    "threshold": (F.threshold, ref.threshold, {"threshold": 0.5, "value": -7.0}),
}


def _t(a, dtype=np.float64, requires_grad=True):
    return mg.tensor(np.asarray(a, dtype=dtype), requires_grad=requires_grad)


def _grad(fn, x, **kw):
    """The gradient of sum(fn(x)) at the points x (float64 unless x says otherwise)."""
    t = x if isinstance(x, mg.Tensor) else _t(x)
    fn(t, **kw).sum().backward()
    return t.grad.numpy()


def _central_difference(reference, x, h=1e-4, **kw):
    """d reference / dx at each entry of x, in float64: the slope of the NumPy formula."""
    x = np.asarray(x, dtype=np.float64)
    return (reference(x + h, **kw) - reference(x - h, **kw)) / (2 * h)


# Values ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_values_match_numpy_over_shapes_and_dtypes(name, dtype, data):
    fn, reference, kw = ELEMENTWISE[name]
    x = data.draw(values(data.draw(shapes()), low=-8.0, high=8.0)).astype(dtype)
    out = fn(mg.tensor(x), **kw)
    assert out.dtype == dtype and out.shape == x.shape
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.numpy(), reference(x.astype(np.float64), **kw),
                               rtol=tol, atol=tol)


def test_values_at_the_kinks_are_the_formulas():
    assert F.relu6(_t([0.0, 6.0, -0.0])).tolist() == [0.0, 6.0, 0.0]
    assert F.hardtanh(_t([-1.0, 1.0]), ).tolist() == [-1.0, 1.0]
    assert F.hardtanh(_t([-3.0, -2.0, 3.0, 5.0]), -2.0, 3.0).tolist() == [-2.0, -2.0, 3.0, 3.0]
    assert F.hardsigmoid(_t([-3.0, 3.0])).tolist() == [0.0, 1.0]
    assert F.hardswish(_t([-3.0, 3.0])).tolist() == [0.0, 3.0]
    assert F.softshrink(_t([-0.5, 0.5, -2.0])).tolist() == [0.0, 0.0, -1.5]
    assert F.softshrink(_t([-1.0, 0.0, 1.0]), 0.0).tolist() == [-1.0, 0.0, 1.0]
    assert F.hardshrink(_t([-0.5, 0.5, 0.51])).tolist() == [0.0, 0.0, 0.51]
    assert F.hardshrink(_t([-0.25, 0.0]), -1.0).tolist() == [-0.25, 0.0]
    assert F.threshold(_t([0.5, 0.50001]), 0.5, -7.0).tolist() == [-7.0, 0.50001]
    assert F.celu(_t([0.0])).tolist() == [0.0]
    assert F.mish(_t([0.0])).tolist() == [0.0]


def test_hard_functions_take_their_pieces_between_the_kinks():
    x = np.array([-4.0, -3.5, -1.5, 0.0, 1.5, 2.9, 3.5, 6.5])
    np.testing.assert_allclose(F.hardsigmoid(_t(x)).numpy(),
                               [0, 0, 0.25, 0.5, 0.75, 5.9 / 6, 1, 1], rtol=1e-15)
    np.testing.assert_allclose(F.hardswish(_t(x)).numpy(),
                               [0, 0, -0.375, 0, 1.125, 2.9 * 5.9 / 6, 3.5, 6.5], rtol=1e-15)
    np.testing.assert_allclose(F.relu6(_t(x)).numpy(), [0, 0, 0, 0, 1.5, 2.9, 3.5, 6],
                               rtol=1e-15)


def test_softmin_is_softmax_of_minus_x_along_dim():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, math.log(2.0)]])
    e = np.exp(-x)
    np.testing.assert_allclose(F.softmin(_t(x), dim=1).numpy(), e / e.sum(1, keepdims=True),
                               rtol=1e-14)
    np.testing.assert_allclose(F.softmin(_t(x), dim=0).numpy(), e / e.sum(0, keepdims=True),
                               rtol=1e-14)
    np.testing.assert_allclose(F.softmin(_t(x)).numpy(), F.softmin(_t(x), dim=-1).numpy())
    np.testing.assert_allclose(F.softmin(_t(x), axis=0).numpy(), F.softmin(_t(x), 0).numpy())
    assert F.softmin(_t([[0.0, 0.0, math.log(2.0)]]), 1).numpy()[0, 2] == pytest.approx(0.2)


def test_glu_gates_the_first_half_with_the_second():
    x = np.array([[1.0, -2.0, 0.0, math.log(3.0)], [4.0, 5.0, 1e4, -1e4]])
    np.testing.assert_allclose(F.glu(_t(x)).numpy(), [[0.5, -1.5], [4.0, 0.0]], rtol=1e-14)
    np.testing.assert_allclose(F.glu(_t(x), 0).numpy(), x[:1] * ref.sigmoid(x[1:]), rtol=1e-14)
    assert F.glu(_t(np.zeros((3, 0)))).shape == (3, 0)
    assert F.glu(_t(np.zeros((4, 0))), 0).shape == (2, 0)


@given(data=st.data())
def test_glu_halves_the_drawn_dim(data):
    (x,), params = data.draw(glu_inputs())
    out = F.glu(_t(x), **params)
    expected_shape = list(x.shape)
    expected_shape[params["dim"]] //= 2
    assert out.shape == tuple(expected_shape)
    np.testing.assert_allclose(out.numpy(), ref.glu(x, **params), rtol=1e-13)


def test_prelu_slopes_are_per_channel_along_dim_1():
    x = -np.arange(1.0, 13.0).reshape(2, 3, 2)
    w = np.array([0.5, -1.0, 2.0])
    out = F.prelu(_t(x), _t(w)).numpy()
    np.testing.assert_allclose(out, x * w[None, :, None], rtol=1e-15)
    np.testing.assert_allclose(F.prelu(_t(-x), _t(w)).numpy(), -x)
    # one slope for all, as shape (1,) or a 0-d tensor, on any input, 0-d and 1-D included
    for weight in (np.array([0.25]), np.array(0.25)):
        assert F.prelu(_t(-4.0), _t(weight)).tolist() == -1.0
        assert F.prelu(_t([-4.0, 2.0]), _t(weight)).tolist() == [-1.0, 2.0]
        np.testing.assert_allclose(F.prelu(_t(x), _t(weight)).numpy(), 0.25 * x)


def test_prelu_weight_gradient_sums_the_negative_inputs_per_channel():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (4, 3, 5))
    g = rng.uniform(-1, 1, x.shape)
    xt, wt = _t(x), _t([0.1, 0.2, 0.3])
    F.prelu(xt, wt).backward(_t(g, requires_grad=False))
    np.testing.assert_allclose(wt.grad.numpy(), (g * x * (x <= 0)).sum((0, 2)), rtol=1e-13)
    np.testing.assert_allclose(xt.grad.numpy(),
                               g * np.where(x > 0, 1.0, np.array([0.1, 0.2, 0.3])[:, None]),
                               rtol=1e-14)
    one = _t([0.5])
    F.prelu(xt, one).backward(_t(g, requires_grad=False))
    np.testing.assert_allclose(one.grad.numpy(), [(g * x * (x <= 0)).sum()], rtol=1e-13)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, 0.0, -1.0, math.inf, -math.inf])
def test_normalize_divides_by_the_p_norm_clamped_at_eps(p):
    x = np.array([[3.0, -4.0, 1.5], [0.0, 2.0, -1.0], [0.0, 0.0, 0.0], [1e-13, 0.0, 0.0],
                  [0.5, 0.25, -0.75]])
    np.testing.assert_allclose(F.normalize(_t(x), p=p).numpy(), ref.normalize(x, p=p),
                               rtol=1e-14)
    np.testing.assert_allclose(F.normalize(_t(x), p=p, dim=0).numpy(),
                               ref.normalize(x, p=p, dim=0), rtol=1e-14)


def test_normalize_values_written_out():
    x = _t([[3.0, -4.0], [0.0, 0.0], [0.0, 2.0]])
    np.testing.assert_allclose(F.normalize(x).numpy(), [[0.6, -0.8], [0, 0], [0, 1]])
    np.testing.assert_allclose(F.normalize(x, p=1).numpy(), [[3 / 7, -4 / 7], [0, 0], [0, 1]])
    np.testing.assert_allclose(F.normalize(x, p=math.inf).numpy(), [[0.75, -1], [0, 0], [0, 1]])
    np.testing.assert_allclose(F.normalize(x, p=0).numpy(), [[1.5, -2], [0, 0], [0, 2]])
    # p < 0: a row holding a 0 has norm 0, so it is divided by eps
    np.testing.assert_allclose(F.normalize(x, p=-1, eps=0.5).numpy(),
                               [[3 / (12 / 7), -4 / (12 / 7)], [0, 0], [0, 4]])
    np.testing.assert_allclose(F.normalize(x, dim=0).numpy(),
                               [[1, -4 / math.sqrt(20)], [0, 0], [0, 2 / math.sqrt(20)]])
    np.testing.assert_allclose(F.normalize(x, eps=10.0).numpy(), x.numpy() / 10)
    np.testing.assert_allclose(F.normalize(_t([3.0, 4.0]), dim=0).numpy(), [0.6, 0.8])
    assert F.normalize(_t(-2.0), dim=0).tolist() == -1.0


def test_normalize_of_a_zero_row_has_the_gradient_g_over_eps():
    x = _t([[0.0, 0.0, 0.0], [1e-13, 0.0, 0.0]])
    g = np.arange(6.0).reshape(2, 3)
    F.normalize(x).backward(_t(g, requires_grad=False))
    np.testing.assert_allclose(x.grad.numpy(), g / 1e-12, rtol=1e-12)
    for p in (1.0, 0.5, 3.0, -1.0, math.inf, -math.inf, 0.0):
        y = _t([[0.0, 0.0, 0.0], [0.0, 2.0, -3.0]])
        F.normalize(y, p=p).backward(_t(g, requires_grad=False))
        assert np.isfinite(y.grad.numpy()).all(), p
        np.testing.assert_allclose(y.grad.numpy()[0], g[0] / 1e-12, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_rows_below_eps_never_reach_the_powers(dtype):
    """For p < 0, |1e-13|^(p-1) overflows float32; a row whose norm is below eps is divided
    by eps alone, so its gradient is g / eps and finite, with no warning on the way."""
    x = _t([[1e-13, 1.0, 1.0], [1e-20, 0.0, 2.0], [0.0, 0.0, 0.0], [3.0, 4.0, 5.0]], dtype)
    g = np.arange(12.0).reshape(4, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = F.normalize(x, p=-2.5)
        out.backward(_t(g, dtype, requires_grad=False))
    np.testing.assert_allclose(out.numpy()[:3], x.numpy()[:3] / 1e-12, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy()[:3], g[:3] / 1e-12, rtol=1e-6)
    n = (3.0 ** -2.5 + 4.0 ** -2.5 + 5.0 ** -2.5) ** (-1 / 2.5)
    np.testing.assert_allclose(out.numpy()[3], np.array([3.0, 4.0, 5.0]) / n, rtol=1e-6)
    assert np.isfinite(x.grad.numpy()).all()


def test_normalize_gradient_at_a_zero_entry_is_finite_for_p_below_1():
    """|x|^p has an infinite slope at 0 for p < 1; PyTorch takes 0 there, and so does this."""
    x = _t([[0.0, 2.0, -3.0]])
    g = np.array([[1.0, 2.0, 3.0]])
    F.normalize(x, p=0.5).backward(_t(g, requires_grad=False))
    n = (math.sqrt(2) + math.sqrt(3)) ** 2
    # dn/dx_j = n^(1-p) |x_j|^(p-1) sign(x_j), taken as 0 at x_j = 0
    d_n = np.array([0.0, 2 ** -0.5, -(3 ** -0.5)]) * math.sqrt(n)
    y = np.array([0.0, 2.0, -3.0])
    expected = g[0] / n - (g[0] * y).sum() / n ** 2 * d_n
    np.testing.assert_allclose(x.grad.numpy()[0], expected, rtol=1e-12)


# Gradients at the kinks: PyTorch's rules ------------------------------------------------------

KINK_GRADIENTS = [
    ("relu6", F.relu6, {}, [0.0, 3.0, 6.0], [0.0, 1.0, 0.0]),
    ("hardtanh", F.hardtanh, {}, [-1.0, 0.0, 1.0], [0.0, 1.0, 0.0]),
    ("hardtanh_bounds", F.hardtanh, {"min_val": -2.0, "max_val": 3.0}, [-2.0, 3.0], [0.0, 0.0]),
    ("hardtanh_equal_bounds", F.hardtanh, {"min_val": 1.0, "max_val": 1.0}, [0.0, 1.0, 2.0],
     [0.0, 0.0, 0.0]),
    ("hardsigmoid", F.hardsigmoid, {}, [-3.0, 0.0, 3.0], [0.0, 1 / 6, 0.0]),
    ("hardswish", F.hardswish, {}, [-3.0, 0.0, 3.0], [0.0, 0.5, 1.0]),
    ("softshrink", F.softshrink, {}, [-0.5, 0.0, 0.5], [0.0, 0.0, 0.0]),
    ("softshrink_zero", F.softshrink, {"lambd": 0.0}, [0.0, 1.0], [0.0, 1.0]),
    ("hardshrink", F.hardshrink, {}, [-0.5, 0.5], [0.0, 0.0]),
    ("threshold", F.threshold, {"threshold": 0.5, "value": -7.0}, [0.5], [0.0]),
    ("celu", F.celu, {"alpha": 2.0}, [0.0], [1.0]),
    ("softsign", F.softsign, {}, [0.0], [1.0]),
    ("mish", F.mish, {}, [0.0], [0.6]),  # tanh(log 2) = 3/5
    ("tanhshrink", F.tanhshrink, {}, [0.0], [0.0]),
]


@pytest.mark.parametrize("name,fn,kw,points,grads", KINK_GRADIENTS,
                         ids=[k[0] for k in KINK_GRADIENTS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_at_the_kinks_follow_pytorch(name, fn, kw, points, grads, dtype):
    x = _t(points, dtype=dtype)
    fn(x, **kw).sum().backward()
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad.numpy(), grads, rtol=1e-6, atol=0)


def test_prelu_gradient_at_0_is_the_slope():
    x, w = _t([0.0, -0.0]), _t([0.25])
    F.prelu(x, w).sum().backward()
    assert x.grad.tolist() == [0.25, 0.25]
    assert w.grad.tolist() == [0.0]


@pytest.mark.parametrize("alpha", [1.0, 2.0, -1.5])
def test_celu_second_derivative_at_0_is_0_and_exp_over_alpha_below(alpha):
    x = _t([0.0, -1.0, 1.0])
    (g,) = mg.grad(F.celu(x, alpha).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), [1.0, math.exp(-1 / alpha), 1.0], rtol=1e-15)
    (gg,) = mg.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), [0.0, math.exp(-1 / alpha) / alpha, 0.0],
                               rtol=1e-15)


def test_normalize_passes_the_gradient_through_a_norm_equal_to_eps():
    """max(‖x‖, eps) takes ‖x‖'s slope where they are equal (PyTorch's clamp_min rule)."""
    x = _t([[0.5, 0.0], [0.0, 0.25]])
    F.normalize(x, eps=0.5).sum().backward()
    # row 0: g/n - (g·x) x / n³ with n = 0.5;  row 1 (norm 0.25 < eps): g / eps
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 2.0], [2.0, 2.0]], rtol=1e-15)


def test_hardswish_second_derivative_is_one_third_inside_and_0_outside():
    x = _t([-4.0, -1.0, 0.5, 2.0, 4.0])
    (g,) = mg.grad(F.hardswish(x).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), [0, 1 / 6, 2 / 3, 7 / 6, 1], rtol=1e-14)
    (gg,) = mg.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), [0, 1 / 3, 1 / 3, 1 / 3, 0], rtol=1e-14)


# gradcheck and gradgradcheck, off the kinks -----------------------------------------------------

DRAWN = {
    "relu6": (F.relu6, wide_inputs(avoid=(0.0, 6.0))),
    "hardtanh": (F.hardtanh, hardtanh_inputs()),
    "hardsigmoid": (F.hardsigmoid, wide_inputs(avoid=(-3.0, 3.0))),
    "hardswish": (F.hardswish, wide_inputs(avoid=HARD_KINKS)),
    "mish": (F.mish, wide_inputs()),
    "celu": (F.celu, celu_inputs()),
    "softsign": (F.softsign, wide_inputs(avoid=(0.0,))),
    "softmin": (F.softmin, softmax_inputs()),
    "tanhshrink": (F.tanhshrink, wide_inputs()),
    "softshrink": (F.softshrink, shrink_inputs()),
    "hardshrink": (F.hardshrink, shrink_inputs(negative=True)),
    "threshold": (F.threshold, threshold_inputs()),
    "glu": (F.glu, glu_inputs()),
    "prelu": (F.prelu, prelu_inputs()),
    "normalize": (F.normalize, normalize_inputs()),
}


@pytest.mark.parametrize("name", sorted(DRAWN))
@given(data=st.data())
def test_gradcheck_and_gradgradcheck_in_float64(name, data):
    fn, inputs = DRAWN[name]
    arrays, params = data.draw(inputs)
    tensors = [_t(a) for a in arrays]
    assert mg.gradcheck(lambda *xs: fn(*xs, **params), tensors)
    assert mg.gradgradcheck(lambda *xs: fn(*xs, **params), tensors)


def test_gradcheck_notices_a_wrong_kink_side():
    """The drawn inputs stay off the kinks: at one, the one-sided slopes differ and the check
    must fail, so passing above is not for want of sensitivity."""
    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(F.relu6, [_t([6.0])])


# Extreme inputs -------------------------------------------------------------------------------

EXTREMES = np.array([-1e4, -1e3, -60.0, -30.0, 30.0, 60.0, 1e3, 1e4])


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_give_finite_values_and_gradients(name, dtype):
    fn, reference, kw = ELEMENTWISE[name]
    x = _t(EXTREMES, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or invalid-value warning on the way
        out = fn(x, **kw)
        out.sum().backward()
    assert np.isfinite(out.numpy()).all() and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(out.numpy(), reference(EXTREMES, **kw), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), _central_difference(reference, EXTREMES, **kw),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_of_the_reducing_functions_stay_finite(dtype):
    x = _t([[1e4, -1e4, 0.0, 1e4], [-1e4, -1e4, 1e4, 3.0]], dtype=dtype)
    g = mg.tensor(np.ones((2, 4), dtype=dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outs = {"softmin": F.softmin(x, 1), "glu": F.glu(x, 1),
                "normalize": F.normalize(x), "normalize_p3": F.normalize(x, p=3.0),
                "normalize_inf": F.normalize(x, p=math.inf)}
        for out in outs.values():
            (grad,) = mg.grad((out * g[:, :out.shape[1]]).sum(), [x])
            assert np.isfinite(out.numpy()).all() and np.isfinite(grad.numpy()).all()
    np.testing.assert_allclose(outs["softmin"].numpy(), [[0, 1, 0, 0], [0.5, 0.5, 0, 0]],
                               atol=1e-7)
    np.testing.assert_allclose(outs["glu"].numpy(),
                               [[5e3, -1e4], [-1e4, -1e4 / (1 + math.exp(-3))]], rtol=1e-6)
    np.testing.assert_allclose(outs["normalize"].numpy()[0], np.array([1, -1, 0, 1]) / math.sqrt(3),
                               rtol=1e-6)
    np.testing.assert_allclose(outs["normalize_inf"].numpy()[0], [1, -1, 0, 1], rtol=1e-6)


def test_mish_and_celu_at_extremes_written_out():
    assert F.mish(_t([-1e4, 1e4])).tolist() == [-0.0, 1e4]
    assert F.celu(_t([-1e4]), alpha=3.0).tolist() == [-3.0]
    assert F.softsign(_t([1e4])).tolist() == [1e4 / (1e4 + 1)]
    assert F.tanhshrink(_t([-1e4])).tolist() == [-9999.0]


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_nan_stays_nan(name):
    fn, _, kw = ELEMENTWISE[name]
    out = fn(_t([math.nan, 0.25]), **kw).numpy()
    assert math.isnan(out[0]) and not math.isnan(out[1])


# Layers -------------------------------------------------------------------------------------

LAYERS = [
    (ReLU6(), F.relu6, {}),
    (ReLU6(inplace=True), F.relu6, {}),
    (Hardtanh(), F.hardtanh, {}),
    (Hardtanh(-2.0, 3.0, True), F.hardtanh, {"min_val": -2.0, "max_val": 3.0}),
    (Hardsigmoid(), F.hardsigmoid, {}),
    (Hardsigmoid(True), F.hardsigmoid, {}),
    (Hardswish(inplace=True), F.hardswish, {}),
    (Mish(), F.mish, {}),
    (CELU(), F.celu, {}),
    (CELU(2.0, True), F.celu, {"alpha": 2.0}),
    (Softsign(), F.softsign, {}),
    (Softmin(0), F.softmin, {"dim": 0}),
    (Softmin(), F.softmin, {"dim": -1}),
    (Tanhshrink(), F.tanhshrink, {}),
    (Softshrink(), F.softshrink, {}),
    (Softshrink(1.25), F.softshrink, {"lambd": 1.25}),
    (Hardshrink(), F.hardshrink, {}),
    (Hardshrink(2), F.hardshrink, {"lambd": 2}),
    (Threshold(0.1, 20), F.threshold, {"threshold": 0.1, "value": 20}),
    (Threshold(-1.0, -5.0, inplace=True), F.threshold, {"threshold": -1.0, "value": -5.0}),
    (GLU(), F.glu, {"dim": -1}),
    (GLU(0), F.glu, {"dim": 0}),
    (LogSigmoid(), F.logsigmoid, {}),
]


@pytest.mark.parametrize("layer,fn,kw", LAYERS, ids=[repr(entry[0]) for entry in LAYERS])
def test_layers_forward_equals_the_function_and_leaves_the_input(layer, fn, kw):
    x_data = np.random.default_rng(1).uniform(-8, 8, (4, 6)).astype(np.float32)
    x = mg.tensor(x_data.copy(), requires_grad=True)
    out = layer(x)
    np.testing.assert_array_equal(out.numpy(), fn(mg.tensor(x_data), **kw).numpy())
    np.testing.assert_array_equal(x.numpy(), x_data)  # inplace is accepted, never applied
    out.sum().backward()
    assert x.grad.shape == x.shape


REPRS = [
    (ReLU6(), "ReLU6()"),
    (ReLU6(True), "ReLU6(inplace=True)"),
    (Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)"),
    (Hardtanh(-2.0, 3.0, True), "Hardtanh(min_val=-2.0, max_val=3.0, inplace=True)"),
    (Hardtanh(-1, 1), "Hardtanh(min_val=-1, max_val=1)"),
    (Hardsigmoid(), "Hardsigmoid()"),
    (Hardsigmoid(True), "Hardsigmoid()"),
    (Hardswish(), "Hardswish()"),
    (Hardswish(True), "Hardswish()"),
    (Mish(), "Mish()"),
    (Mish(True), "Mish(inplace=True)"),
    (CELU(), "CELU(alpha=1.0)"),
    (CELU(2.0, True), "CELU(alpha=2.0, inplace=True)"),
    (Softsign(), "Softsign()"),
    (Softmin(1), "Softmin(dim=1)"),
    (Tanhshrink(), "Tanhshrink()"),
    (Softshrink(), "Softshrink(0.5)"),
    (Softshrink(0.3), "Softshrink(0.3)"),
    (Hardshrink(), "Hardshrink(0.5)"),
    (Hardshrink(1), "Hardshrink(1)"),
    (Threshold(0.1, 20), "Threshold(threshold=0.1, value=20)"),
    (Threshold(0.1, 20, True), "Threshold(threshold=0.1, value=20, inplace=True)"),
    (GLU(), "GLU(dim=-1)"),
    (GLU(1), "GLU(dim=1)"),
    (LogSigmoid(), "LogSigmoid()"),
    (PReLU(), "PReLU(num_parameters=1)"),
    (PReLU(3, 0.1), "PReLU(num_parameters=3)"),
]


@pytest.mark.parametrize("layer,text", REPRS, ids=[r[1] for r in REPRS])
def test_layer_reprs_are_pytorchs(layer, text):
    assert repr(layer) == text


def test_layers_keep_pytorchs_attributes():
    assert isinstance(ReLU6(), Hardtanh)
    assert (ReLU6().min_val, ReLU6().max_val, ReLU6(True).inplace) == (0.0, 6.0, True)
    assert (Hardtanh().min_val, Hardtanh().max_val, Hardtanh().inplace) == (-1.0, 1.0, False)
    assert (CELU().alpha, CELU(3.0).alpha, CELU(inplace=True).inplace) == (1.0, 3.0, True)
    assert (Softshrink().lambd, Hardshrink(0.7).lambd) == (0.5, 0.7)
    t = Threshold(0.25, -1.0, True)
    assert (t.threshold, t.value, t.inplace) == (0.25, -1.0, True)
    assert (GLU().dim, GLU(2).dim, Softmin(2).dim, Softmin(None).dim) == (-1, 2, 2, -1)
    assert Hardsigmoid(True).inplace and Hardswish(True).inplace and Mish(True).inplace
    assert not any(list(m.parameters()) for m in (ReLU6(), CELU(), GLU(), Softmin()))


def test_hardtanh_takes_the_deprecated_min_value_and_max_value():
    with pytest.warns(DeprecationWarning, match="min_value is deprecated"):
        layer = Hardtanh(min_value=-3.0)
    assert (layer.min_val, layer.max_val) == (-3.0, 1.0)
    with pytest.warns(DeprecationWarning, match="max_value is deprecated"):
        layer = Hardtanh(max_value=2.0)
    assert (layer.min_val, layer.max_val) == (-1.0, 2.0)
    assert layer(_t([-5.0, 5.0])).tolist() == [-1.0, 2.0]


def test_prelu_weight_is_a_parameter_named_weight():
    layer = PReLU()
    assert isinstance(layer.weight, Parameter) and layer.weight.requires_grad
    assert layer.weight.shape == (1,) and layer.weight.dtype == np.float32
    assert layer.weight.tolist() == [0.25]
    assert list(layer.state_dict()) == ["weight"]
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    layer = PReLU(3, init=-0.5, dtype=mg.float64)
    assert layer.weight.dtype == np.float64 and layer.weight.tolist() == [-0.5] * 3
    assert (layer.num_parameters, layer.init) == (3, -0.5)


def test_prelu_weight_gets_its_gradient_and_loads_a_state_dict():
    layer = PReLU(2, init=0.5, dtype=mg.float64)
    x = _t([[-2.0, -4.0, 1.0], [3.0, -1.0, -6.0]]).reshape(1, 2, 3)
    out = layer(x)
    np.testing.assert_allclose(out.numpy(), [[[-1.0, -2.0, 1.0], [3.0, -0.5, -3.0]]])
    out.sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), [-6.0, -7.0])
    layer.load_state_dict({"weight": mg.tensor([0.1, 0.2], dtype=mg.float64)})
    np.testing.assert_allclose(layer(x).numpy(), [[[-0.2, -0.4, 1.0], [3.0, -0.2, -1.2]]])
    layer.weight.data[...] = 9.0
    layer.reset_parameters()
    assert layer.weight.tolist() == [0.5, 0.5]


def test_prelu_with_one_slope_takes_any_input():
    layer = PReLU(init=0.5)
    assert layer(mg.tensor([-2.0, 2.0])).tolist() == [-1.0, 2.0]
    assert layer(mg.tensor(-2.0)).tolist() == -1.0
    assert layer(mg.full((2, 5, 3), -2.0)).numpy().tolist() == np.full((2, 5, 3), -1.0).tolist()


# Errors --------------------------------------------------------------------------------------

X = mg.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]])

ERRORS = [
    (lambda: F.hardtanh(X, 1.0, -1.0), ValueError,
     r"hardtanh: min_val cannot be greater than max_val, got min_val=1.0, max_val=-1.0"),
    (lambda: F.celu(X, 0.0), ValueError, r"celu: alpha cannot be 0"),
    (lambda: F.softshrink(X, -0.5), ValueError, r"softshrink: lambd must be >= 0, got -0.5"),
    (lambda: F.softshrink(X, math.nan), ValueError, r"softshrink: lambd must be >= 0, got nan"),
    (lambda: F.glu(mg.tensor(1.0)), ValueError, r"glu: a 0-d tensor has no dim to halve"),
    (lambda: F.glu(X), ValueError,
     r"glu: the halved dim must have even length, but dim -1 has length 3 \(shape \(2, 3\)\)"),
    (lambda: F.glu(X, 2), IndexError, r"glu: axis 2 is out of range for a tensor of 2"),
    (lambda: F.prelu(X, mg.ones((1, 3))), ValueError,
     r"prelu: weight must be a scalar or a 1-D tensor, got shape \(1, 3\)"),
    (lambda: F.prelu(X, mg.ones(2)), ValueError,
     r"prelu: weight has 2 entries, but an input of shape \(2, 3\) has 3 channels \(dim 1\): "
     r"give 1 or 3"),
    (lambda: F.prelu(mg.ones(3), mg.ones(3)), ValueError,
     r"prelu: weight has 3 entries, but an input of shape \(3,\) has 1 channels"),
    (lambda: F.prelu(X, mg.ones(0)), ValueError, r"prelu: weight has 0 entries"),
    (lambda: F.normalize(X, p="fro"), TypeError, r"normalize: p must be a real number, got 'fro'"),
    (lambda: F.normalize(X, p=True), TypeError, r"normalize: p must be a real number, got True"),
    (lambda: F.normalize(X, dim=2), IndexError, r"normalize: axis 2 is out of range"),
    (lambda: F.normalize(mg.ones(3)), IndexError,
     r"normalize: axis 1 is out of range for a tensor of 1 dimensions"),
    (lambda: F.softmin(X, dim=0, axis=0), TypeError, r"softmin: got both dim=0 and axis=0"),
    (lambda: Hardtanh(1.0, 1.0), ValueError,
     r"Hardtanh: max_val must be greater than min_val, got min_val=1.0, max_val=1.0"),
    (lambda: Hardtanh(2.0, -2.0), ValueError, r"Hardtanh: max_val must be greater than min_val"),
    (lambda: CELU(0.0), ValueError, r"CELU: alpha cannot be 0"),
    (lambda: Softshrink(-1.0), ValueError, r"Softshrink: lambd must be >= 0, got -1.0"),
    (lambda: PReLU(0), ValueError, r"PReLU: num_parameters must be >= 1, got 0"),
    (lambda: PReLU(2.0), TypeError, r"PReLU: num_parameters must be an int, got 2.0"),
    (lambda: PReLU(dtype=mg.int64), TypeError, r"layer parameters must be floating point"),
    (lambda: PReLU(3)(mg.ones(3)), ValueError,
     r"prelu: weight has 3 entries, but an input of shape \(3,\) has 1 channels"),
    (lambda: PReLU(2)(X), ValueError, r"prelu: weight has 2 entries, but an input of shape "
                                      r"\(2, 3\) has 3 channels"),
    (lambda: GLU(0)(X.reshape(1, 6)), ValueError,
     r"glu: the halved dim must have even length, but dim 0 has length 1"),
]


@pytest.mark.parametrize("call,error,message", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_bad_arguments_are_refused_naming_the_function(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("layer", [ReLU6(), Hardtanh(), Hardsigmoid(), Hardswish(), Mish(),
                                   CELU(), Softsign(), Softmin(), Tanhshrink(), Softshrink(),
                                   Hardshrink(), Threshold(0.0, 0.0), GLU(), LogSigmoid(),
                                   PReLU()])
def test_layers_refuse_a_non_tensor_naming_themselves(layer):
    with pytest.raises(TypeError, match=rf"^{type(layer).__name__}: expected a Tensor input, "
                                        r"got list$"):
        layer([1.0, 2.0])


def test_inplace_is_accepted_by_the_functions_and_changes_nothing():
    x_data = np.array([-4.0, -1.0, 0.5, 7.0])
    for fn, kw in [(F.relu6, {}), (F.hardtanh, {}), (F.hardsigmoid, {}), (F.hardswish, {}),
                   (F.mish, {}), (F.celu, {}), (F.threshold, {"threshold": 0.0, "value": 1.0})]:
        x = _t(x_data.copy())
        np.testing.assert_array_equal(fn(x, inplace=True, **kw).numpy(), fn(x, **kw).numpy())
        np.testing.assert_array_equal(x.numpy(), x_data)


INPLACE_TAKERS = [F.relu, F.leaky_relu, F.elu, F.selu, F.silu, F.relu6, F.hardtanh,
                  F.hardsigmoid, F.hardswish, F.mish, F.celu]


@pytest.mark.parametrize("fn", INPLACE_TAKERS, ids=[fn.__name__ for fn in INPLACE_TAKERS])
def test_inplace_is_taken_by_keyword_and_leaves_the_input(fn):
    x_data = np.random.default_rng(2).uniform(-5, 5, (3, 5))
    x = mg.tensor(x_data.copy(), requires_grad=True)
    out = fn(x, inplace=True)
    np.testing.assert_array_equal(out.numpy(), fn(mg.tensor(x_data)).numpy())
    np.testing.assert_array_equal(x.numpy(), x_data)
    assert out is not x
    out.sum().backward()
    plain = mg.tensor(x_data.copy(), requires_grad=True)
    fn(plain).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), plain.grad.numpy())


@pytest.mark.parametrize("fn, kw", [(F.relu, {}), (F.leaky_relu, {"negative_slope": 0.2}),
                                    (F.hardtanh, {}), (F.relu6, {}), (F.hardshrink, {}),
                                    (F.softshrink, {}),
                                    (F.threshold, {"threshold": 0.25, "value": -3.0})])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_piecewise_linear_values_gradients_and_zero_second_derivative_on_each_device(
        fn, kw, dtype, device):
    """One node whose gradient stays connected to x (``ops/unary.Activation``): the same
    values and gradients on either device as the rule computed here in NumPy, and a second
    derivative of exact zeros, on the device and in x's dtype."""
    x0 = np.array([-7.0, -2.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0, 7.0, np.nan], dtype=dtype)
    g0 = np.linspace(-3.0, 3.0, x0.size).astype(dtype)
    x = mg.tensor(x0, requires_grad=True, device=device)
    y = fn(x, **kw)
    (g,) = mg.grad(y, [x], mg.tensor(g0, device=device), create_graph=True)
    assert y.device.type == g.device.type == device and y.dtype == g.dtype == dtype
    name = fn.__name__
    lam = 0.5
    slope = {"relu": x0 > 0,
             "leaky_relu": np.where(x0 > 0, 1.0, 0.2),
             "hardtanh": ~((x0 <= -1) | (x0 >= 1)),
             "relu6": ~((x0 <= 0) | (x0 >= 6)),
             "hardshrink": ~((x0 >= -lam) & (x0 <= lam)),
             "softshrink": ~((x0 >= -lam) & (x0 <= lam)),
             "threshold": ~(x0 <= 0.25)}[name]
    np.testing.assert_allclose(g.cpu().numpy(), (g0 * slope).astype(dtype), rtol=1e-6)
    expected = np.asarray(y.cpu().numpy())
    with mg.no_grad():
        np.testing.assert_array_equal(expected, fn(mg.tensor(x0), **kw).numpy())
    (gg,) = mg.grad(g.sum(), [x])
    assert gg.device.type == device and gg.dtype == dtype
    np.testing.assert_array_equal(gg.cpu().numpy(), np.zeros_like(x0))


@pytest.mark.parametrize("fn, kw", [(F.elu, {}), (F.elu, {"alpha": 2.0}), (F.selu, {}),
                                    (F.celu, {"alpha": 0.5}), (F.hardswish, {})])
def test_elu_family_gives_the_same_on_each_device_to_the_second_derivative(fn, kw, device):
    """``ops/unary.ELURule`` and ``HardswishRule``: values, gradient and second derivative on the device
    equal the CPU's (float64, at 0, ±0, NaN and both sides); the second derivative at x = 0 is 0
    for the elu family and 1/3 for hardswish."""
    x0 = np.array([-30.0, -2.0, -0.5, -0.0, 0.0, 0.5, 3.0, np.nan])

    def three(where):
        x = mg.tensor(x0, requires_grad=True, device=where)
        y = fn(x, **kw)
        (g,) = mg.grad(y.sum(), [x], create_graph=True)
        (gg,) = mg.grad(g.sum(), [x])
        assert y.device.type == g.device.type == gg.device.type == where
        return [t.cpu().numpy() for t in (y, g, gg)]
    for mine, cpu_result in zip(three(device), three("cpu")):
        np.testing.assert_allclose(mine, cpu_result, rtol=1e-13)
    assert three(device)[2][3] == three(device)[2][4] == (1 / 3 if fn is F.hardswish else 0.0)


def test_piecewise_gradient_stays_connected_to_x_at_third_order():
    """The gradient of the gradient with respect to g (here through a weight p) is itself kept
    connected to x, so a third derivative with respect to x is zeros, not an error that x is
    not reached (PyTorch's threshold_backward is differentiable in its input at every order)."""
    for fn in (F.relu, F.leaky_relu, F.hardtanh, F.softshrink):
        x = mg.tensor(np.array([-1.5, -0.25, 0.75, 2.0]), requires_grad=True)
        p = mg.tensor(np.array([0.5, -1.0, 2.0, 3.0]), requires_grad=True)
        (gx,) = mg.grad((fn(x) * p).sum(), [x], create_graph=True)
        (gxp,) = mg.grad(gx.sum(), [p], create_graph=True)
        assert gxp.requires_grad
        (third,) = mg.grad(gxp.sum(), [x])
        np.testing.assert_array_equal(third.numpy(), np.zeros(4))


def test_leaky_relu_with_slope_0_passes_nan_for_an_infinite_gradient_without_a_warning():
    """inf * 0 is NaN on the negative piece, as PyTorch's leaky_relu gives, and silently."""
    x = mg.tensor(np.array([-1.0, 1.0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (g,) = mg.grad(F.leaky_relu(x, negative_slope=0.0), [x],
                       mg.tensor(np.array([np.inf, np.inf])))
    np.testing.assert_array_equal(g.numpy(), [np.nan, np.inf])


@pytest.mark.parametrize("fn, kw", [(F.elu, {}), (F.selu, {}), (F.celu, {"alpha": 2.0})])
def test_elu_family_at_negative_zero_is_positive_zero_and_finite_to_the_third_order(fn, kw):
    """elu(−0) takes the exp piece, α·(exp(−0) − 1) = +0, as PyTorch's does; and the curvature
    only sees min(x, 0), so a third derivative at a large positive x is finite (0), not the
    0·inf of an exp of the piece not taken."""
    y = fn(mg.tensor(np.array([-0.0, 0.0])), **kw).numpy()
    assert not np.signbit(y).any()
    x = mg.tensor(np.array([-2.0, -0.5, 0.5, 1000.0]), requires_grad=True)
    (g,) = mg.grad(fn(x, **kw).sum(), [x], create_graph=True)
    (gg,) = mg.grad(g.sum(), [x], create_graph=True)
    (ggg,) = mg.grad(gg.sum(), [x])
    assert np.isfinite(ggg.numpy()).all()
    np.testing.assert_array_equal(ggg.numpy()[2:], [0.0, 0.0])
    alpha, scale, s = {"elu": (1.0, 1.0, 1.0), "selu": (1.6732632423543772, 1.0507009873554805,
                                                       1.0), "celu": (2.0, 1.0, 0.5)}[fn.__name__]
    np.testing.assert_allclose(ggg.numpy()[:2], scale * alpha * s**3 * np.exp(s * x.numpy()[:2]),
                               rtol=1e-12)
