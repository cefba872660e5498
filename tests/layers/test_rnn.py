"""RNN, LSTM, GRU and their cells against the step-by-step NumPy reference (always run), with
every option; backpropagation through long sequences (no recursion limit, linear memory);
dropout between layers; initialisation; bad input."""
import sys
import tracemalloc

import numpy as np
import pytest

import minigrad as mg
import recurrent_reference as R
from layers import RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell
from layers.utils.rnn import pack_padded_sequence, pad_packed_sequence

LAYERS = {"RNN_TANH": RNN, "RNN_RELU": RNN, "LSTM": LSTM, "GRU": GRU}


def make(mode, **kwargs):
    if mode.startswith("RNN"):
        kwargs["nonlinearity"] = mode[4:].lower()
    return LAYERS[mode](dtype=np.float64, **kwargs)


def params_of(layer):
    return {k: v.numpy() for k, v in layer.named_parameters()}


@pytest.mark.parametrize("mode", LAYERS)
@pytest.mark.parametrize("config", [dict(num_layers=3), dict(num_layers=2, bidirectional=True),
                                    dict(bias=False, bidirectional=True)],
                         ids=["deep", "deep-bidirectional", "no-bias"])
def test_layer_matches_numpy_reference(mode, config):
    layer = make(mode, input_size=3, hidden_size=4, **config)
    D = 2 if config.get("bidirectional") else 1
    L = config.get("num_layers", 1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 2, 3))
    hx = tuple(rng.standard_normal((D * L, 2, 4)) for _ in range(2 if mode == "LSTM" else 1))
    out, last = layer(mg.tensor(x), tuple(mg.tensor(h) for h in hx) if mode == "LSTM"
                      else mg.tensor(hx[0]))
    ref_out, ref_last = R.layer(mode, x, [6, 6], hx, params_of(layer), L, D == 2)
    np.testing.assert_allclose(out.numpy(), ref_out, atol=1e-12)
    for ours, ref in zip(last if mode == "LSTM" else (last,), ref_last):
        np.testing.assert_allclose(ours.numpy(), ref, atol=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_proj_size_matches_numpy_reference(bidirectional):
    layer = make("LSTM", input_size=3, hidden_size=5, proj_size=2, num_layers=2,
                 bidirectional=bidirectional)
    x = np.random.default_rng(1).standard_normal((4, 3, 3))
    D = 1 + bidirectional
    out, (h, c) = layer(mg.tensor(x))
    hx = (np.zeros((2 * D, 3, 2)), np.zeros((2 * D, 3, 5)))
    ref_out, (ref_h, ref_c) = R.layer("LSTM", x, [4] * 3, hx, params_of(layer), 2, bidirectional)
    assert out.shape == (4, 3, 2 * D) and h.shape == (2 * D, 3, 2) and c.shape == (2 * D, 3, 5)
    for ours, ref in ((out, ref_out), (h, ref_h), (c, ref_c)):
        np.testing.assert_allclose(ours.numpy(), ref, atol=1e-12)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
def test_batch_first_and_unbatched_agree_with_the_default_layout(mode):
    layer = make(mode, input_size=3, hidden_size=4, num_layers=2)
    x = mg.tensor(np.random.default_rng(2).standard_normal((5, 2, 3)))
    out, last = layer(x)
    layer.batch_first = True
    out_bf, last_bf = layer(x.transpose(0, 1))
    np.testing.assert_allclose(out_bf.numpy(), out.numpy().transpose(1, 0, 2), atol=1e-14)
    out_1, last_1 = layer(x[:, 1])           # unbatched: (T, I); batch_first does not apply
    np.testing.assert_allclose(out_1.numpy(), out.numpy()[:, 1], atol=1e-14)
    h, h_1 = (last[0], last_1[0]) if mode == "LSTM" else (last, last_1)
    assert h_1.shape == (2, 4)
    np.testing.assert_allclose(h_1.numpy(), h.numpy()[:, 1], atol=1e-14)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_RELU"])
@pytest.mark.parametrize("lengths", [[4, 2, 3, 1], [1, 1, 1], [3, 3], [1, 4]])
def test_packed_matches_reference_per_sequence(mode, lengths):
    """Each sequence runs over its own length only: outputs at padding are zero and h_n is the
    state after the sequence's last step (first step for the reverse direction)."""
    layer = make(mode, input_size=2, hidden_size=3, bidirectional=True)
    x = np.random.default_rng(3).standard_normal((max(lengths), len(lengths), 2))
    packed = pack_padded_sequence(mg.tensor(x), lengths, enforce_sorted=False)
    out, last = layer(packed)
    padded, got_lengths = pad_packed_sequence(out, total_length=5)
    assert got_lengths.tolist() == lengths and padded.shape == (5, len(lengths), 6)
    hx = tuple(np.zeros((2, len(lengths), 3)) for _ in range(1 + (mode == "LSTM")))
    ref_out, ref_last = R.layer(mode, x, lengths, hx, params_of(layer), 1, True)
    np.testing.assert_allclose(padded.numpy()[:max(lengths)], ref_out, atol=1e-12)
    assert not padded.numpy()[max(lengths):].any()
    for ours, ref in zip(last if mode == "LSTM" else (last,), ref_last):
        np.testing.assert_allclose(ours.numpy(), ref, atol=1e-12)


@pytest.mark.parametrize("cell,mode", [(RNNCell, "RNN_TANH"), (LSTMCell, "LSTM"),
                                       (GRUCell, "GRU")])
def test_cells_match_reference_and_gradgradcheck(cell, mode):
    layer = cell(3, 2, dtype=np.float64)
    p = {k: v for k, v in layer.named_parameters()}
    rng = np.random.default_rng(4)
    x, h, c = (rng.standard_normal(s) for s in ((2, 3), (2, 2), (2, 2)))
    state = (h, c) if mode == "LSTM" else (h,)
    ref = R.step(mode, x, state, *(p[k].numpy() for k in
                                   ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
    hx = (mg.tensor(h), mg.tensor(c)) if mode == "LSTM" else mg.tensor(h)
    out = layer(mg.tensor(x), hx)
    for ours, expected in zip(out if mode == "LSTM" else (out,), ref):
        np.testing.assert_allclose(ours.numpy(), expected, atol=1e-12)
    inputs = [mg.tensor(a, requires_grad=True) for a in (x, h, c)]

    def fn(x, h, c):
        return layer(x, (h, c) if mode == "LSTM" else h)
    assert mg.gradcheck(fn, inputs)
    assert mg.gradgradcheck(fn, inputs)


def test_relu_rnn_matches_reference():
    rnn = make("RNN_RELU", input_size=2, hidden_size=3)
    x = np.random.default_rng(5).standard_normal((3, 1, 2))
    out, _ = rnn(mg.tensor(x))
    assert (out.numpy() >= 0).all()
    ref, _ = R.layer("RNN_RELU", x, [3], (np.zeros((1, 1, 3)),), params_of(rnn))
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-12)


def test_bptt_over_1000_steps_needs_no_recursion():
    """The graph of 1,000 steps is walked iteratively: a recursion limit of 100 does not
    matter, and the gradient reaches the first input."""
    layer = LSTM(2, 3)
    x = mg.randn(1000, 1, 2, requires_grad=True)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100)
    try:
        out, _ = layer(x)
        out[-1].sum().backward()
    finally:
        sys.setrecursionlimit(limit)
    assert x.grad.shape == (1000, 1, 2) and np.isfinite(x.grad.numpy()).all()
    assert np.abs(x.grad.numpy()[-1]).sum() > 0


def _peak_bytes(layer, T):
    x = mg.randn(T, 4, 8, requires_grad=True)
    tracemalloc.start()
    out, _ = layer(x)
    out.sum().backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


@pytest.mark.parametrize("cls", [LSTM, GRU, RNN])
def test_memory_grows_linearly_with_sequence_length(cls):
    """Peak traced memory of forward + backward per time step, at T = 100, 300 and 1000, stays
    within a factor 2.5 (it varies with where Python's dicts and lists happen to resize); a cost
    quadratic in T would make it grow tenfold."""
    layer = cls(8, 16)
    _peak_bytes(layer, 10)  # warm up caches that are allocated once
    per_step = [_peak_bytes(layer, T) / T for T in (100, 300, 1000)]
    assert max(per_step) < 2.5 * min(per_step), per_step


def test_dropout_between_layers_only_in_training():
    mg.manual_seed(0)
    layer = LSTM(3, 20, num_layers=2, dropout=0.5)
    x = mg.randn(4, 2, 3)
    layer.eval()
    a, _ = layer(x)
    b, _ = layer(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    layer.train()
    c, _ = layer(x)
    assert not np.allclose(c.numpy(), a.numpy())
    single = LSTM(3, 20, dropout=0.5)     # one layer: nothing between layers to drop
    single.train()
    np.testing.assert_array_equal(single(x)[0].numpy(), single(x)[0].numpy())


@pytest.mark.parametrize("cls,gates", [(RNN, 1), (LSTM, 4), (GRU, 3)])
def test_initialisation_is_uniform_within_one_over_sqrt_hidden(cls, gates):
    layer = cls(5, 64)
    values = np.concatenate([p.numpy().ravel() for p in layer.parameters()])
    bound = 1 / np.sqrt(64)
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.9 * bound
    assert abs(values.mean()) < 0.01 and layer.weight_ih_l0.shape == (gates * 64, 5)


def test_repr():
    assert repr(LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)) == \
        "LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)"
    assert repr(RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4, nonlinearity='relu')"
    assert repr(GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"


def test_float32_stays_float32_and_saturated_gates_stay_finite():
    layer = LSTM(2, 3)
    x = mg.tensor(np.full((5, 1, 2), 1e4, np.float32), requires_grad=True)
    out, (h, c) = layer(x)
    out.sum().backward()
    assert out.dtype == np.float32 and c.dtype == np.float32
    assert np.isfinite(out.numpy()).all() and np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("call,message", [
    (lambda: LSTM(3, 4)(mg.randn(5, 2, 2)), r"LSTM: expected an input of shape \(T, N, I\)"),
    (lambda: LSTM(3, 4)(mg.randn(5)), "LSTM: expected an input"),
    (lambda: LSTM(3, 4)(mg.randn(0, 2, 3)), "T, N >= 1"),
    (lambda: LSTM(3, 4)(mg.randn(5, 2, 3), mg.zeros((1, 2, 4))), r"tuple \(h_0, c_0\)"),
    (lambda: LSTM(3, 4)(mg.randn(5, 2, 3), (mg.zeros((1, 2, 4)), mg.zeros((1, 3, 4)))),
     r"expected c_0 of shape \(1, 2, 4\), got \(1, 3, 4\)"),
    (lambda: GRU(3, 4, num_layers=2)(mg.randn(5, 2, 3), mg.zeros((1, 2, 4))),
     r"GRU: expected h_0 of shape \(2, 2, 4\)"),
    (lambda: GRU(3, 4)(mg.randn(5, 3), mg.zeros((1, 2, 4))), r"expected h_0 of shape \(1, 4\)"),
    (lambda: LSTM(3, 4, proj_size=4), "proj_size .4. must be smaller than hidden_size"),
    (lambda: GRU(3, 4, proj_size=2), "proj_size"),
    (lambda: RNN(3, 4, nonlinearity="sigmoid"), "unknown nonlinearity 'sigmoid'"),
    (lambda: LSTM(3, 0), "hidden_size"),
    (lambda: LSTM(3, 4, dropout=1.5), "dropout"),
    (lambda: LSTMCell(3, 4)(mg.randn(2, 4)), r"LSTMCell: expected an input of shape \(N, 3\)"),
    (lambda: GRUCell(3, 4)(mg.randn(2, 3), mg.randn(3, 4)), r"expected hx of shape \(2, 4\)"),
    (lambda: LSTMCell(3, 4)(mg.randn(2, 3), (mg.randn(2, 4),)), r"tuple \(h, c\)"),
])
def test_bad_input_raises_naming_the_layer_and_shapes(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
def test_no_grad_and_frozen_weights_take_the_plain_product_with_the_same_results(mode):
    """W_hh's gradient comes from one product after the loop only when W_hh needs one; under
    no_grad or with W_hh frozen each step is a plain matmul, with the same values and input
    gradient."""
    layer = make(mode, input_size=3, hidden_size=4, bidirectional=True)
    x_np = np.random.default_rng(9).standard_normal((5, 2, 3))
    x = mg.tensor(x_np, requires_grad=True)
    out, _ = layer(x)
    out.sum().backward()
    with mg.no_grad():
        np.testing.assert_allclose(layer(mg.tensor(x_np))[0].numpy(), out.numpy(), atol=1e-14)
    for name in ("weight_hh_l0", "weight_hh_l0_reverse"):
        getattr(layer, name).requires_grad_(False)
    frozen_x = mg.tensor(x_np, requires_grad=True)
    frozen_out, _ = layer(frozen_x)
    frozen_out.sum().backward()
    np.testing.assert_allclose(frozen_out.numpy(), out.numpy(), atol=1e-14)
    np.testing.assert_allclose(frozen_x.grad.numpy(), x.grad.numpy(), atol=1e-12)
