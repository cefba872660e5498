"""What ``minigrad/ops/recurrent.py`` promises, checked op by op: the LSTM and GRU step
Functions (values, first derivatives on both backward paths, second derivatives), the cut of a
sequence into row blocks, and the per-step hidden product with its shared weight gradient.
Every value is compared with a NumPy re-derivation or with central differences of the NumPy
reference; each test fails for a small change to the formulas, the gate order, a slice bound
or a condition.
"""
import numpy as np
import pytest

import minigrad as mg
import recurrent_reference as R
from minigrad.ops.recurrent import (GRUCellFunction, HiddenProduct, LSTMCellFunction,
                                    WeightGradient, _sigmoid, split_rows)

N, H = 3, 2


def _rng(seed):
    return np.random.default_rng(seed)


def _central_vjp(fn, arrays, cotangents, eps=1e-6):
    """Σ_k <v_k, d out_k / d x_j> for each input x_j, by central differences of ``fn``."""
    grads = []
    for j, x in enumerate(arrays):
        g = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            plus = [a.copy() for a in arrays]
            minus = [a.copy() for a in arrays]
            plus[j][idx] += eps
            minus[j][idx] -= eps
            outs_p, outs_m = fn(*plus), fn(*minus)
            g[idx] = sum(np.sum(v * (p - m)) for v, p, m in zip(cotangents, outs_p, outs_m)) \
                / (2 * eps)
        grads.append(g)
    return grads


def _lstm_inputs(seed=0, scale=1.5):
    rng = _rng(seed)
    return rng.normal(0, scale, (N, 4 * H)), rng.normal(0, 1.0, (N, H))


def _gru_inputs(seed=1, scale=1.5):
    rng = _rng(seed)
    return (rng.normal(0, scale, (N, 3 * H)), rng.normal(0, scale, (N, 3 * H)),
            rng.normal(0, 1.0, (N, H)))


# ---------------------------------------------------------------- the sigmoid

def test_sigmoid_matches_the_logistic_function_and_saturates_without_overflow():
    x = np.array([-800.0, -30.0, -2.5, -1.0, 0.0, 0.3, 1.0, 4.0, 30.0, 800.0])
    with np.errstate(over="ignore"):
        expected = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(_sigmoid(np, x), expected, rtol=1e-12, atol=1e-15)
    assert _sigmoid(np, np.array(0.0)) == 0.5
    assert _sigmoid(np, np.array(800.0)) == 1.0 and _sigmoid(np, np.array(-800.0)) == 0.0


# ---------------------------------------------------------------- LSTM step

def test_lstm_step_values_match_the_reference_with_distinct_gates():
    a, c = _lstm_inputs()
    h_next, c_next = LSTMCellFunction.apply(mg.tensor(a), mg.tensor(c))
    ref_h, ref_c = R.lstm_cell(a, c)
    np.testing.assert_allclose(h_next.numpy(), ref_h, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c_next.numpy(), ref_c, rtol=1e-12, atol=1e-14)


def test_lstm_step_gate_order_is_i_f_g_o():
    """Only one gate block is non-zero at a time, so a swapped slice changes a known value."""
    c = np.full((1, H), 0.5)
    for k, name in enumerate("ifgo"):
        a = np.zeros((1, 4 * H))
        a[0, k * H:(k + 1) * H] = 3.0
        h_next, c_next = LSTMCellFunction.apply(mg.tensor(a), mg.tensor(c))
        ref_h, ref_c = R.lstm_cell(a, c)
        np.testing.assert_allclose(c_next.numpy(), ref_c, rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(h_next.numpy(), ref_h, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("create_graph", [False, True])
def test_lstm_step_gradients_match_central_differences(create_graph):
    a, c = _lstm_inputs(seed=2)
    rng = _rng(3)
    v_h, v_c = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    ta, tc = mg.tensor(a, requires_grad=True), mg.tensor(c, requires_grad=True)
    h_next, c_next = LSTMCellFunction.apply(ta, tc)
    ga, gc = mg.grad([h_next, c_next], [ta, tc], [mg.tensor(v_h), mg.tensor(v_c)],
                     create_graph=create_graph)
    ref_a, ref_c = _central_vjp(R.lstm_cell, [a, c], [v_h, v_c])
    np.testing.assert_allclose(ga.numpy(), ref_a, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gc.numpy(), ref_c, rtol=1e-6, atol=1e-8)
    assert ga.requires_grad == create_graph


@pytest.mark.parametrize("which", ["h", "c"])
def test_lstm_step_gradient_from_one_output_only(which):
    """A loss on one output: the other's gradient arrives as zeros and must add nothing."""
    a, c = _lstm_inputs(seed=4)
    ta, tc = mg.tensor(a, requires_grad=True), mg.tensor(c, requires_grad=True)
    h_next, c_next = LSTMCellFunction.apply(ta, tc)
    out = h_next if which == "h" else c_next
    v = _rng(5).normal(size=(N, H))
    ga, gc = mg.grad(out, [ta, tc], mg.tensor(v))
    pick = 0 if which == "h" else 1
    ref_a, ref_c = _central_vjp(lambda x, y: (R.lstm_cell(x, y)[pick],), [a, c], [v])
    np.testing.assert_allclose(ga.numpy(), ref_a, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gc.numpy(), ref_c, rtol=1e-6, atol=1e-8)


def test_lstm_step_second_derivatives():
    a, c = _lstm_inputs(seed=6, scale=1.0)
    inputs = [mg.tensor(a, requires_grad=True), mg.tensor(c, requires_grad=True)]
    assert mg.gradgradcheck(lambda x, y: LSTMCellFunction.apply(x, y), inputs)


def test_lstm_step_double_backward_matches_central_differences_of_the_gradient():
    """d/da of <v, dL/da> under create_graph, against differences of the first derivative."""
    a, c = _lstm_inputs(seed=7, scale=1.0)
    rng = _rng(8)
    v_h, v_c, w = rng.normal(size=(N, H)), rng.normal(size=(N, H)), rng.normal(size=(N, 4 * H))

    def first(a_arr, c_arr):
        ta = mg.tensor(a_arr, requires_grad=True)
        tc = mg.tensor(c_arr, requires_grad=True)
        h_next, c_next = LSTMCellFunction.apply(ta, tc)
        ga, gc = mg.grad([h_next, c_next], [ta, tc], [mg.tensor(v_h), mg.tensor(v_c)])
        return ga.numpy(), gc.numpy()

    ta, tc = mg.tensor(a, requires_grad=True), mg.tensor(c, requires_grad=True)
    h_next, c_next = LSTMCellFunction.apply(ta, tc)
    ga, gc = mg.grad([h_next, c_next], [ta, tc], [mg.tensor(v_h), mg.tensor(v_c)],
                     create_graph=True)
    w_c = rng.normal(size=(N, H))
    gga, ggc = mg.grad((ga * mg.tensor(w)).sum() + (gc * mg.tensor(w_c)).sum(), [ta, tc])
    ref_a, ref_c = _central_vjp(first, [a, c], [w, w_c])
    np.testing.assert_allclose(gga.numpy(), ref_a, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ggc.numpy(), ref_c, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- GRU step

def test_gru_step_values_match_the_reference():
    xa, ha, h = _gru_inputs()
    out = GRUCellFunction.apply(mg.tensor(xa), mg.tensor(ha), mg.tensor(h))
    np.testing.assert_allclose(out.numpy(), R.gru_cell(xa, ha, h), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("create_graph", [False, True])
def test_gru_step_gradients_match_central_differences(create_graph):
    xa, ha, h = _gru_inputs(seed=9)
    v = _rng(10).normal(size=(N, H))
    ts = [mg.tensor(x, requires_grad=True) for x in (xa, ha, h)]
    grads = mg.grad(GRUCellFunction.apply(*ts), ts, mg.tensor(v), create_graph=create_graph)
    refs = _central_vjp(lambda *xs: (R.gru_cell(*xs),), [xa, ha, h], [v])
    for name, g, ref in zip(("xa", "ha", "h"), grads, refs):
        np.testing.assert_allclose(g.numpy(), ref, rtol=1e-6, atol=1e-8, err_msg=name)
        assert g.requires_grad == create_graph


def test_gru_step_second_derivatives():
    xa, ha, h = _gru_inputs(seed=11, scale=1.0)
    inputs = [mg.tensor(x, requires_grad=True) for x in (xa, ha, h)]
    assert mg.gradgradcheck(lambda *ts: GRUCellFunction.apply(*ts), inputs)


def test_gru_step_double_backward_matches_central_differences_of_the_gradient():
    xa, ha, h = _gru_inputs(seed=12, scale=1.0)
    rng = _rng(13)
    v = rng.normal(size=(N, H))
    ws = [rng.normal(size=x.shape) for x in (xa, ha, h)]

    def first(*arrays):
        ts = [mg.tensor(x, requires_grad=True) for x in arrays]
        return tuple(g.numpy() for g in mg.grad(GRUCellFunction.apply(*ts), ts, mg.tensor(v)))

    ts = [mg.tensor(x, requires_grad=True) for x in (xa, ha, h)]
    grads = mg.grad(GRUCellFunction.apply(*ts), ts, mg.tensor(v), create_graph=True)
    total = sum((g * mg.tensor(w)).sum() for g, w in zip(grads, ws))
    seconds = mg.grad(total, ts)
    refs = _central_vjp(first, [xa, ha, h], ws)
    for name, g, ref in zip(("xa", "ha", "h"), seconds, refs):
        np.testing.assert_allclose(g.numpy(), ref, rtol=1e-5, atol=1e-7, err_msg=name)


# ---------------------------------------------------------------- split_rows

def test_split_rows_cuts_consecutive_blocks_and_joins_their_gradients():
    x_arr = np.arange(12.0).reshape(6, 2)
    x = mg.tensor(x_arr, requires_grad=True)
    pieces = split_rows(x, [3, 0, 2, 1])
    assert isinstance(pieces, tuple) and len(pieces) == 4
    for piece, (lo, hi) in zip(pieces, [(0, 3), (3, 3), (3, 5), (5, 6)]):
        np.testing.assert_array_equal(piece.numpy(), x_arr[lo:hi])
    weights = [np.full(p.shape, k + 1.0) for k, p in enumerate(pieces)]
    loss = sum((p * mg.tensor(w)).sum() for p, w in zip(pieces, weights))
    (g,) = mg.grad(loss, [x])
    np.testing.assert_array_equal(g.numpy(), np.repeat([[1.0], [1.0], [1.0], [3.0], [3.0],
                                                        [4.0]], 2, axis=1))


def test_split_rows_with_one_block_returns_a_tuple_and_takes_numpy_sizes():
    x = mg.tensor(np.arange(6.0).reshape(3, 2))
    pieces = split_rows(x, np.array([3]))
    assert isinstance(pieces, tuple) and len(pieces) == 1
    np.testing.assert_array_equal(pieces[0].numpy(), x.numpy())


@pytest.mark.parametrize("sizes", [[2, 2], [4, 2], [3, 3, -1], [-1, 6]])
def test_split_rows_refuses_sizes_that_do_not_cut_the_rows(sizes):
    x = mg.tensor(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"split_rows: sizes .* do not cut the 5 rows of a "
                                         r"tensor of shape \(5, 2\)"):
        split_rows(x, sizes)


def test_split_rows_accepts_an_empty_tensor_as_one_empty_block():
    assert split_rows(mg.tensor(np.zeros((0, 2))), [0])[0].shape == (0, 2)


# ---------------------------------------------------------------- HiddenProduct

def _hidden_case(seed=20):
    rng = _rng(seed)
    return (rng.normal(size=(N, H)), rng.normal(size=(3 * H, H)), rng.normal(size=(N, 3 * H)),
            rng.normal(size=(N, 3 * H)), rng.normal(size=(3 * H,)))


def test_hidden_product_adds_the_optional_terms():
    h, w, route, xa, b = _hidden_case()
    th, tw = mg.tensor(h), mg.tensor(w)
    cases = [({}, h @ w.T),
             ({"xa": mg.tensor(xa)}, h @ w.T + xa),
             ({"bias": mg.tensor(b)}, h @ w.T + b),
             ({"xa": mg.tensor(xa), "bias": mg.tensor(b)}, h @ w.T + xa + b),
             ({"route": mg.tensor(route), "xa": mg.tensor(xa)}, h @ w.T + xa)]
    for kwargs, expected in cases:
        route_t = kwargs.pop("route", None)
        out = HiddenProduct.apply(th, tw, route_t, kwargs.get("xa"), kwargs.get("bias"))
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    # w_t is the caller's contiguous copy of Wᵀ, used in place of w.T
    out = HiddenProduct.apply(th, tw, None, None, None, w_t=2 * w.T)
    np.testing.assert_allclose(out.numpy(), 2 * (h @ w.T), rtol=1e-12)


def test_hidden_product_gradients_go_to_h_route_xa_and_bias_but_not_to_w():
    h, w, route, xa, b = _hidden_case(21)
    ts = [mg.tensor(x, requires_grad=True) for x in (h, w, route, xa, b)]
    out = HiddenProduct.apply(*ts)
    g = _rng(22).normal(size=out.shape)
    gh, gw, groute, gxa, gb = mg.grad(out, ts, mg.tensor(g), allow_unused=True)
    np.testing.assert_allclose(gh.numpy(), g @ w, rtol=1e-12)
    assert gw is None
    np.testing.assert_array_equal(groute.numpy(), g)
    np.testing.assert_array_equal(gxa.numpy(), g)
    np.testing.assert_allclose(gb.numpy(), g.sum(0), rtol=1e-12)


@pytest.mark.parametrize("wanted", [(0,), (2,), (3,), (4,), (0, 4), (2, 3)])
def test_hidden_product_gives_each_input_its_own_gradient(wanted):
    """Only some inputs want a gradient: each that does gets its own, the others none."""
    h, w, route, xa, b = _hidden_case(23)
    ts = [mg.tensor(x, requires_grad=(k in wanted)) for k, x in enumerate((h, w, route, xa, b))]
    out = HiddenProduct.apply(*ts)
    g = _rng(24).normal(size=out.shape)
    grads = mg.grad(out, [ts[k] for k in wanted], mg.tensor(g))
    expected = {0: g @ w, 2: g, 3: g, 4: g.sum(0)}
    for k, got in zip(wanted, grads):
        np.testing.assert_allclose(got.numpy(), expected[k], rtol=1e-12, err_msg=str(k))
        assert got.shape == ts[k].shape


# ---------------------------------------------------------------- WeightGradient

def test_weight_gradient_is_zeros_that_route_the_step_gradients_to_w():
    rng = _rng(30)
    w_arr = rng.normal(size=(3 * H, H)).astype(np.float32)
    w = mg.tensor(w_arr, requires_grad=True)
    states = [None, None]
    zeros = WeightGradient.apply(w, rows=5, states=states)
    assert zeros.shape == (5, 3 * H) and zeros.dtype == np.float32
    np.testing.assert_array_equal(zeros.numpy(), 0)
    h_arrs = [rng.normal(size=(3, H)).astype(np.float32),
              rng.normal(size=(2, H)).astype(np.float32)]
    states[0], states[1] = mg.tensor(h_arrs[0]), mg.tensor(h_arrs[1])
    g = rng.normal(size=(5, 3 * H)).astype(np.float32)
    (gw,) = mg.grad(zeros, [w], mg.tensor(g))
    np.testing.assert_allclose(gw.numpy(), g.T @ np.concatenate(h_arrs), rtol=1e-5)


def test_weight_gradient_and_hidden_products_give_the_sum_over_steps():
    """Two steps through HiddenProduct with routes from one WeightGradient node: W's gradient
    is Σ_t g_tᵀ h_t, h_0's gradient carries through the second step."""
    rng = _rng(31)
    w_arr = rng.normal(size=(H, H))
    h0_arr = rng.normal(size=(N, H))
    w = mg.tensor(w_arr, requires_grad=True)
    h0 = mg.tensor(h0_arr, requires_grad=True)
    states = [None, None]
    routes = split_rows(WeightGradient.apply(w, rows=2 * N, states=states), [N, N])
    states[0] = h0
    h1 = HiddenProduct.apply(h0, w, routes[0], None, None).tanh()
    states[1] = h1
    h2 = HiddenProduct.apply(h1, w, routes[1], None, None)
    gw, gh0 = mg.grad(h2.sum(), [w, h0])

    def ref(w_a, h_a):
        return (np.tanh(h_a @ w_a.T) @ w_a.T,)
    ref_w, ref_h0 = _central_vjp(ref, [w_arr, h0_arr], [np.ones((N, H))])
    np.testing.assert_allclose(gw.numpy(), ref_w, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gh0.numpy(), ref_h0, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("given", [2, 3, 4])
def test_hidden_product_backward_with_the_optional_inputs_left_off(given):
    """route, xa and bias are optional: apply(h, w, route) must differentiate as well as the
    five-input call does (backward returns one gradient per input actually given)."""
    h, w, route, xa, b = _hidden_case(25)
    ts = [mg.tensor(x, requires_grad=True) for x in (h, w, route, xa)][:given]
    out = HiddenProduct.apply(*ts)
    g = _rng(26).normal(size=out.shape)
    grads = mg.grad(out, [ts[0]] + ts[2:], mg.tensor(g))
    np.testing.assert_allclose(grads[0].numpy(), g @ w, rtol=1e-12)
    for got in grads[1:]:
        np.testing.assert_array_equal(got.numpy(), g)


def test_split_rows_of_no_rows_into_no_blocks_is_empty():
    assert split_rows(mg.tensor(np.zeros((0, 2))), []) == ()


@pytest.mark.parametrize("lead", [(), (2, 3)])
def test_lstm_step_takes_any_leading_axes(lead):
    """The gates are cut along the last axis: one sample (no batch axis) or two batch axes
    give the reference's values and gradients on both backward paths."""
    rng = _rng(40)
    a, c = rng.normal(0, 1.5, lead + (4 * H,)), rng.normal(size=lead + (H,))
    v_h, v_c = rng.normal(size=lead + (H,)), rng.normal(size=lead + (H,))
    ref = R.lstm_cell(a, c)
    refs = _central_vjp(R.lstm_cell, [a, c], [v_h, v_c])
    for create_graph in (False, True):
        ta, tc = mg.tensor(a, requires_grad=True), mg.tensor(c, requires_grad=True)
        outs = LSTMCellFunction.apply(ta, tc)
        for out, r in zip(outs, ref):
            np.testing.assert_allclose(out.numpy(), r, rtol=1e-12, atol=1e-14)
        grads = mg.grad(list(outs), [ta, tc], [mg.tensor(v_h), mg.tensor(v_c)],
                        create_graph=create_graph)
        for g, r in zip(grads, refs):
            np.testing.assert_allclose(g.numpy(), r, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("lead", [(), (2, 3)])
def test_gru_step_takes_any_leading_axes(lead):
    rng = _rng(41)
    xa, ha = rng.normal(0, 1.5, lead + (3 * H,)), rng.normal(0, 1.5, lead + (3 * H,))
    h, v = rng.normal(size=lead + (H,)), rng.normal(size=lead + (H,))
    refs = _central_vjp(lambda *xs: (R.gru_cell(*xs),), [xa, ha, h], [v])
    for create_graph in (False, True):
        ts = [mg.tensor(x, requires_grad=True) for x in (xa, ha, h)]
        out = GRUCellFunction.apply(*ts)
        np.testing.assert_allclose(out.numpy(), R.gru_cell(xa, ha, h), rtol=1e-12, atol=1e-14)
        grads = mg.grad(out, ts, mg.tensor(v), create_graph=create_graph)
        for g, r in zip(grads, refs):
            np.testing.assert_allclose(g.numpy(), r, rtol=1e-6, atol=1e-8)
