"""What ``layers/rnn.py``, ``layers/rnn_cells.py`` and ``layers/utils/rnn.py`` promise beyond
the reference comparisons of test_rnn.py: the exact argument errors, the defaults and the repr,
packed batches with initial states in the caller's order, dropout between layers only, and the
packing utilities' edge cases."""
import numpy as np
import pytest

import minigrad as mg
from layers import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from layers.rnn import RNNBase
from layers.rnn_cells import GATES, STEPS, check_tensor, plain_product
from layers.utils.rnn import (PackedSequence, pack_padded_sequence, pack_sequence,
                              pad_packed_sequence, pad_sequence)

torch = pytest.importorskip("torch", reason="PyTorch is the reference of these tests")


def pair(kind, **kwargs):
    """The same layer or cell in PyTorch and in minigrad with PyTorch's weights, float64."""
    import layers
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(**kwargs).double()
    ours = getattr(layers, kind)(**kwargs, dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def close(ours, theirs, atol=1e-10):
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), atol=atol, rtol=1e-7)


def raises(error, message, call):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


# ---------------------------------------------------------------- construction

def test_constructor_errors_word_for_word():
    raises(ValueError, "LSTM: input_size must be >= 1, got 0", lambda: LSTM(0, 2))
    raises(ValueError, "GRU: hidden_size must be >= 1, got 0", lambda: GRU(2, 0))
    raises(ValueError, "RNN: num_layers must be >= 1, got 0", lambda: RNN(2, 2, num_layers=0))
    raises(ValueError, "LSTM: invalid dropout 1.5, expected a value in [0, 1]",
           lambda: LSTM(2, 2, dropout=1.5))
    raises(ValueError, "LSTM: invalid dropout -0.5, expected a value in [0, 1]",
           lambda: LSTM(2, 2, dropout=-0.5))
    raises(ValueError, "LSTM: proj_size must be >= 0, got -1", lambda: LSTM(2, 3, proj_size=-1))
    raises(ValueError, "LSTM: proj_size (3) must be smaller than hidden_size (3)",
           lambda: LSTM(2, 3, proj_size=3))
    raises(ValueError, "RNNBase: proj_size is an LSTM option, got proj_size=1",
           lambda: RNNBase("GRU", 2, 3, proj_size=1))
    raises(ValueError, "RNN: unknown nonlinearity 'sigmoid'; expected 'tanh' or 'relu'",
           lambda: RNN(2, 3, nonlinearity="sigmoid"))
    raises(ValueError, "RNNCell: unknown nonlinearity 'gelu'; expected 'tanh' or 'relu'",
           lambda: RNNCell(2, 3, nonlinearity="gelu"))
    raises(ValueError, "GRUCell: input_size must be >= 1, got 0", lambda: GRUCell(0, 2))
    raises(ValueError, "LSTMCell: hidden_size must be >= 1, got 0", lambda: LSTMCell(2, 0))


def test_smallest_sizes_and_the_ends_of_dropout_are_accepted():
    for cls in (RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell):
        layer = cls(1, 1)
        assert layer.input_size == 1 and layer.hidden_size == 1
    assert LSTM(1, 2, num_layers=1, dropout=1.0, proj_size=1).dropout == 1.0
    assert LSTM(1, 2, dropout=0).dropout == 0.0
    assert isinstance(LSTM(1, 2, dropout=0).dropout, float)
    assert LSTM(1, 2, proj_size=0).proj_size == 0


def test_defaults_and_attributes():
    for cls, mode in ((RNN, "RNN_TANH"), (LSTM, "LSTM"), (GRU, "GRU")):
        layer = cls(3, 4)
        assert layer.mode == mode
        assert (layer.num_layers, layer.bias, layer.batch_first, layer.dropout,
                layer.bidirectional, layer.proj_size) == (1, True, False, 0.0, False, 0)
        assert layer.training
        assert layer._flat_weights_names == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                             "bias_hh_l0"]
    assert RNN(3, 4).nonlinearity == "tanh"
    assert RNN(3, 4, nonlinearity="relu").mode == "RNN_RELU"
    rnn = RNN(3, 4, 2, "relu", False, True, 0.5, True)
    assert (rnn.num_layers, rnn.nonlinearity, rnn.bias, rnn.batch_first, rnn.dropout,
            rnn.bidirectional) == (2, "relu", False, True, 0.5, True)
    lstm = LSTM(3, 4, 2, False, True, 0.5, True, 2)
    assert (lstm.num_layers, lstm.bias, lstm.batch_first, lstm.dropout, lstm.bidirectional,
            lstm.proj_size) == (2, False, True, 0.5, True, 2)
    gru = GRU(3, 4, 2, False, True, 0.5, True)
    assert (gru.num_layers, gru.bias, gru.batch_first, gru.dropout,
            gru.bidirectional) == (2, False, True, 0.5, True)
    assert LSTM(3, 4, proj_size=2, num_layers=2)._flat_weights_names == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0",
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "weight_hr_l1"]
    assert GRU(3, 4, bias=False, bidirectional=True)._flat_weights_names == [
        "weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse"]
    for cls in (RNNCell, LSTMCell, GRUCell):
        cell = cls(3, 4)
        assert cell.bias_ih is not None and cell.bias_hh is not None
    assert RNNCell(3, 4).nonlinearity == "tanh" and RNNCell(3, 4).mode == "RNN_TANH"
    assert RNNCell(3, 4, True, "relu").mode == "RNN_RELU"
    assert GATES == {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def test_dtype_and_device_reach_every_parameter():
    for layer in (LSTM(2, 3, proj_size=1, bidirectional=True, dtype=mg.float64),
                  GRU(2, 3, dtype=mg.float64, device="cpu"), RNN(2, 3, dtype=mg.float64),
                  LSTMCell(2, 3, dtype=mg.float64), GRUCell(2, 3, dtype=mg.float64),
                  RNNCell(2, 3, dtype=mg.float64, device="cpu")):
        assert all(p.dtype == mg.float64 for p in layer.parameters())
    for layer in (LSTM(2, 3), GRUCell(2, 3)):
        assert all(p.dtype == mg.float32 for p in layer.parameters())


def test_initialisation_bound_is_one_over_sqrt_hidden_for_every_parameter():
    mg.manual_seed(0)
    for layer in (LSTM(3, 100, proj_size=4, num_layers=2), GRUCell(3, 100),
                  RNNCell(3, 100, bias=False)):
        for name, p in layer.named_parameters():
            values = np.abs(p.numpy())
            assert values.max() <= 0.1 and values.max() > 0.09, name


def test_repr_names_every_non_default_setting():
    assert repr(LSTM(3, 4)) == "LSTM(3, 4)"
    assert repr(LSTM(3, 4, proj_size=2, bias=False, dropout=0.25)) == \
        "LSTM(3, 4, proj_size=2, bias=False, dropout=0.25)"
    assert repr(GRU(3, 4, num_layers=3, batch_first=True)) == \
        "GRU(3, 4, num_layers=3, batch_first=True)"
    assert repr(RNN(2, 5, bidirectional=True)) == "RNN(2, 5, bidirectional=True)"
    assert repr(RNN(2, 5)) == "RNN(2, 5)"
    assert repr(RNNCell(3, 4)) == "RNNCell(3, 4)"
    assert repr(RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity='relu')"
    assert repr(RNNCell(3, 4, bias=False, nonlinearity="relu")) == \
        "RNNCell(3, 4, bias=False, nonlinearity='relu')"
    assert repr(LSTMCell(3, 4)) == "LSTMCell(3, 4)"
    assert repr(LSTMCell(3, 4, bias=False)) == "LSTMCell(3, 4, bias=False)"


def test_cells_without_bias_have_none_and_match_torch():
    for kind in ("RNNCell", "LSTMCell", "GRUCell"):
        ours, theirs = pair(kind, input_size=3, hidden_size=4, bias=False)
        assert ours.bias_ih is None and ours.bias_hh is None
        assert sorted(n for n, _ in ours.named_parameters()) == ["weight_hh", "weight_ih"]
        x = np.random.default_rng(1).standard_normal((2, 3))
        out, ref = ours(mg.tensor(x)), theirs(torch.tensor(x))
        for o, r in zip(out if isinstance(out, tuple) else (out,),
                        ref if isinstance(ref, tuple) else (ref,)):
            close(o, r)


# ---------------------------------------------------------------- forward

@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_unsorted_with_initial_states_vs_torch(kind, bidirectional):
    """hx is in the caller's order: it is permuted with the sequences, and h_n comes back in
    the caller's order."""
    ours, theirs = pair(kind, input_size=3, hidden_size=4, num_layers=2,
                        bidirectional=bidirectional)
    rng = np.random.default_rng(2)
    lengths = [2, 5, 1, 3]
    D = 2 if bidirectional else 1
    x = rng.standard_normal((5, 4, 3))
    h0 = rng.standard_normal((2 * D, 4, 4))
    c0 = rng.standard_normal((2 * D, 4, 4))
    hx = (mg.tensor(h0), mg.tensor(c0)) if kind == "LSTM" else mg.tensor(h0)
    thx = (torch.tensor(h0), torch.tensor(c0)) if kind == "LSTM" else torch.tensor(h0)
    xs = mg.tensor(x, requires_grad=True)
    txs = torch.tensor(x, requires_grad=True)
    out, last = ours(pack_padded_sequence(xs, lengths, enforce_sorted=False), hx)
    tout, tlast = theirs(torch.nn.utils.rnn.pack_padded_sequence(
        txs, torch.tensor(lengths), enforce_sorted=False), thx)
    assert isinstance(out, PackedSequence)
    np.testing.assert_array_equal(out.batch_sizes.numpy(), tout.batch_sizes.numpy())
    np.testing.assert_array_equal(out.sorted_indices.numpy(), tout.sorted_indices.numpy())
    close(out.data, tout.data)
    for o, r in zip(last if kind == "LSTM" else (last,), tlast if kind == "LSTM" else (tlast,)):
        close(o, r)
    padded, _ = pad_packed_sequence(out)
    tpadded, _ = torch.nn.utils.rnn.pad_packed_sequence(tout)
    (padded * padded).sum().backward()
    (tpadded * tpadded).sum().backward()
    close(xs.grad, txs.grad, atol=1e-9)
    for name, p in ours.named_parameters():
        close(p.grad, dict(theirs.named_parameters())[name].grad, atol=1e-9)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_unbatched_with_initial_states_and_batch_first_vs_torch(kind):
    ours, theirs = pair(kind, input_size=3, hidden_size=4, num_layers=2, bidirectional=True,
                        batch_first=True)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3))
    h0, c0 = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    hx = (mg.tensor(h0), mg.tensor(c0)) if kind == "LSTM" else mg.tensor(h0)
    thx = (torch.tensor(h0), torch.tensor(c0)) if kind == "LSTM" else torch.tensor(h0)
    out, last = ours(mg.tensor(x), hx)
    tout, tlast = theirs(torch.tensor(x), thx)
    assert out.shape == (5, 8)
    close(out, tout)
    for o, r in zip(last if kind == "LSTM" else (last,), tlast if kind == "LSTM" else (tlast,)):
        assert o.shape == tuple(r.shape)
        close(o, r)
    xb = rng.standard_normal((2, 5, 3))
    out, _ = ours(mg.tensor(xb))
    tout, _ = theirs(torch.tensor(xb))
    close(out, tout)


def test_lstm_proj_size_packed_with_initial_states_vs_torch():
    ours, theirs = pair("LSTM", input_size=3, hidden_size=5, proj_size=2, num_layers=2,
                        bidirectional=True)
    rng = np.random.default_rng(4)
    lengths = [3, 4, 1]
    x = rng.standard_normal((4, 3, 3))
    h0, c0 = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 5))
    out, (h, c) = ours(pack_padded_sequence(mg.tensor(x), lengths, enforce_sorted=False),
                       (mg.tensor(h0), mg.tensor(c0)))
    tout, (th, tc) = theirs(torch.nn.utils.rnn.pack_padded_sequence(
        torch.tensor(x), torch.tensor(lengths), enforce_sorted=False),
        (torch.tensor(h0), torch.tensor(c0)))
    close(out.data, tout.data)
    close(h, th)
    close(c, tc)
    raises(ValueError, "LSTM: expected h_0 of shape (4, 3, 2), got (4, 3, 5)",
           lambda: ours(mg.tensor(x), (mg.tensor(c0), mg.tensor(c0))))


def test_dropout_acts_between_layers_only_and_only_in_training():
    mg.manual_seed(5)
    layer = GRU(2, 3, num_layers=2, dropout=1.0, dtype=mg.float64)
    x = mg.randn(4, 2, 2, dtype=mg.float64)
    out, h = layer(x)
    # the first layer's output is dropped entirely: the second layer sees zeros...
    ref = GRU(3, 3, dtype=mg.float64)
    for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(ref, f"{kind}_l0").data[...] = getattr(layer, f"{kind}_l1").data
    ref_out, ref_h = ref(mg.zeros(4, 2, 3, dtype=mg.float64))
    np.testing.assert_allclose(out.numpy(), ref_out.numpy(), rtol=1e-12)
    np.testing.assert_allclose(h[1].numpy(), ref_h[0].numpy(), rtol=1e-12)
    # ... but the last layer's output is not dropped
    assert np.abs(out.numpy()).min() > 0
    layer.eval()
    out_eval, _ = layer(x)
    assert not np.allclose(out_eval.numpy(), out.numpy())
    single = LSTM(2, 3, dropout=1.0)       # one layer: dropout never applies
    out, _ = single(mg.randn(4, 2, 2))
    assert np.abs(out.numpy()).min() > 0


def test_input_errors_word_for_word():
    layer = LSTM(3, 4)
    raises(ValueError, "LSTM: expected an input of shape (T, N, I) or (T, I) with I = 3 and "
                       "T, N >= 1, got (5, 2, 2)", lambda: layer(mg.randn(5, 2, 2)))
    raises(ValueError, "GRU: expected an input of shape (N, T, I) or (T, I) with I = 3 and "
                       "T, N >= 1, got list", lambda: GRU(3, 4, batch_first=True)([1.0]))
    raises(ValueError, "LSTM: expected an input of shape (T, N, I) or (T, I) with I = 3 and "
                       "T, N >= 1, got (5, 0, 3)", lambda: layer(mg.randn(5, 0, 3)))
    raises(ValueError, "LSTM: expected an input of shape (T, N, I) or (T, I) with I = 3 and "
                       "T, N >= 1, got (1, 5, 2, 3)", lambda: layer(mg.randn(1, 5, 2, 3)))
    raises(ValueError, "LSTM: expected an input of shape (T, N, I) or (T, I) with I = 3 and "
                       "T, N >= 1, got (3,)", lambda: layer(mg.randn(3)))
    packed = pack_padded_sequence(mg.randn(3, 2, 2), [3, 1])
    raises(ValueError, "LSTM: expected packed data of shape (S, 3), got (4, 2)",
           lambda: layer(packed))
    packed3 = PackedSequence(mg.randn(4, 3, 1), packed.batch_sizes)
    raises(ValueError, "LSTM: expected packed data of shape (S, 3), got (4, 3, 1)",
           lambda: layer(packed3))
    x = mg.randn(5, 2, 3)
    raises(ValueError, "LSTM: expected hx as a tuple (h_0, c_0)",
           lambda: layer(x, [mg.zeros(1, 2, 4), mg.zeros(1, 2, 4)]))
    raises(ValueError, "LSTM: expected hx as a tuple (h_0, c_0)",
           lambda: layer(x, (mg.zeros(1, 2, 4),) * 3))
    raises(ValueError, "LSTM: expected c_0 of shape (1, 2, 4), got (1, 2, 3)",
           lambda: layer(x, (mg.zeros(1, 2, 4), mg.zeros(1, 2, 3))))
    raises(TypeError, "LSTM: expected h_0 as a Tensor, got ndarray",
           lambda: layer(x, (np.zeros((1, 2, 4)), mg.zeros(1, 2, 4))))
    raises(ValueError, "RNN: expected h_0 of shape (2, 4), got (2, 1, 4)",
           lambda: RNN(3, 4, bidirectional=True)(mg.randn(5, 3), mg.zeros(2, 1, 4)))


def test_cell_errors_word_for_word():
    cell = LSTMCell(3, 4)
    raises(ValueError, "LSTMCell: expected an input of shape (N, 3) or (3,), got (2, 4)",
           lambda: cell(mg.randn(2, 4)))
    raises(ValueError, "GRUCell: expected an input of shape (N, 3) or (3,), got list",
           lambda: GRUCell(3, 4)([1.0, 2.0, 3.0]))
    raises(ValueError, "RNNCell: expected an input of shape (N, 3) or (3,), got (1, 2, 3)",
           lambda: RNNCell(3, 4)(mg.randn(1, 2, 3)))
    raises(ValueError, "LSTMCell: expected hx as a tuple (h, c), got 1 tensors",
           lambda: cell(mg.randn(2, 3), (mg.randn(2, 4),)))
    raises(ValueError, "LSTMCell: expected hx as a tuple (h, c), got 3 tensors",
           lambda: cell(mg.randn(2, 3), (mg.randn(2, 4),) * 3))
    raises(ValueError, "LSTMCell: expected hx of shape (2, 4), got (2, 5)",
           lambda: cell(mg.randn(2, 3), (mg.randn(2, 4), mg.randn(2, 5))))
    raises(ValueError, "GRUCell: expected hx of shape (4,), got (1, 4)",
           lambda: GRUCell(3, 4)(mg.randn(3), mg.randn(1, 4)))
    raises(TypeError, "RNNCell: expected hx as a Tensor, got list",
           lambda: RNNCell(3, 4)(mg.randn(2, 3), [[0.0] * 4] * 2))
    check_tensor("X", "y", mg.zeros(2, 3), [2, 3])          # a list shape compares as a tuple


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_unbatched_with_state_vs_torch(kind):
    kwargs = dict(nonlinearity="relu") if kind == "RNNCell" else {}
    ours, theirs = pair(kind, input_size=3, hidden_size=4, **kwargs)
    rng = np.random.default_rng(6)
    x, h, c = rng.standard_normal(3), rng.standard_normal(4), rng.standard_normal(4)
    if kind == "LSTMCell":
        out = ours(mg.tensor(x), (mg.tensor(h), mg.tensor(c)))
        ref = theirs(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))
    else:
        out, ref = (ours(mg.tensor(x), mg.tensor(h)),), (theirs(torch.tensor(x),
                                                                torch.tensor(h)),)
    for o, r in zip(out, ref):
        assert o.shape == (4,)
        close(o, r)
    # no state: zeros of the input's dtype, one per state
    out = ours(mg.tensor(x))
    ref = theirs(torch.tensor(x))
    for o, r in zip(out if isinstance(out, tuple) else (out,),
                    ref if isinstance(ref, tuple) else (ref,)):
        assert o.dtype == mg.float64
        close(o, r)


def test_plain_product_adds_what_is_given():
    w = mg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    product = plain_product(w)
    h = mg.tensor([[1.0, -1.0]])
    assert product(h, None).tolist() == [[-1.0, -1.0, -1.0]]
    assert product(h, mg.tensor([1.0, 2.0, 3.0])).tolist() == [[0.0, 1.0, 2.0]]
    assert product(h, None, mg.tensor([[10.0, 0.0, 0.0]])).tolist() == [[9.0, -1.0, -1.0]]
    assert product(h, mg.tensor([1.0, 2.0, 3.0]), mg.tensor([[10.0, 0.0, 0.0]])).tolist() == \
        [[10.0, 1.0, 2.0]]
    step = STEPS["RNN_RELU"]
    (out,) = step(mg.tensor([[0.0, 5.0, -5.0]]), (h,), product, None, None)
    assert out.tolist() == [[0.0, 4.0, 0.0]]


# ---------------------------------------------------------------- packing utilities

def test_packing_errors_word_for_word():
    raises(ValueError, "pack_padded_sequence: expected lengths as 2 integers (one per "
                       "sequence), got [3]", lambda: pack_padded_sequence(mg.zeros(3, 2), [3]))
    raises(ValueError, "pack_padded_sequence: expected lengths as 2 integers (one per "
                       "sequence), got [[3, 1]]",
           lambda: pack_padded_sequence(mg.zeros(3, 2), [[3, 1]]))
    raises(ValueError, "pack_padded_sequence: expected lengths as 2 integers (one per "
                       "sequence), got [3.0, 1.0]",
           lambda: pack_padded_sequence(mg.zeros(3, 2), [3.0, 1.0]))
    raises(ValueError, "pack_padded_sequence: every length must be at least 1, got [2, 0]",
           lambda: pack_padded_sequence(mg.zeros(3, 2), [2, 0]))
    raises(ValueError, "pack_padded_sequence: a length of 5 exceeds the 3 steps of the input "
                       "(shape (2, 3))",
           lambda: pack_padded_sequence(mg.zeros(2, 3), [5, 1], batch_first=True))
    raises(ValueError, "pack_padded_sequence: lengths [1, 2] are not in decreasing order; "
                       "sort the batch or pass enforce_sorted=False",
           lambda: pack_padded_sequence(mg.zeros(3, 2), [1, 2]))
    raises(ValueError, "pack_padded_sequence: expected an input with at least 2 dims (T, N, "
                       "*), got shape (3,)", lambda: pack_padded_sequence(mg.zeros(3), [3]))
    raises(TypeError, "pack_padded_sequence: expected a Tensor, got list",
           lambda: pack_padded_sequence([[1.0]], [1]))
    raises(TypeError, "pad_packed_sequence: expected a PackedSequence, got tuple",
           lambda: pad_packed_sequence((mg.zeros(2), mg.tensor([2]))))
    packed = pack_padded_sequence(mg.zeros(3, 2), [3, 1])
    raises(ValueError, "pad_packed_sequence: total_length=2 is shorter than the longest "
                       "sequence (3 steps)", lambda: pad_packed_sequence(packed, total_length=2))
    raises(ValueError, "pad_sequence: expected a non-empty list of tensors",
           lambda: pad_sequence(iter([])))
    raises(TypeError, "pad_sequence: expected a Tensor, got float",
           lambda: pad_sequence([mg.zeros(2), 1.0]))
    raises(ValueError, "pad_sequence: every sequence needs the shape (L, *) with one *, got "
                       "[(2, 3), (2, 4)]", lambda: pad_sequence([mg.zeros(2, 3), mg.zeros(2, 4)]))
    raises(ValueError, "pad_sequence: every sequence needs the shape (L, *) with one *, got "
                       "[(), ()]", lambda: pad_sequence([mg.tensor(1.0), mg.tensor(2.0)]))


def test_lengths_as_unsigned_arrays_tensors_and_equal_lengths():
    x = mg.tensor(np.arange(6.0).reshape(3, 2))
    for lengths in (np.array([3, 2], np.uint8), mg.tensor(np.array([3, 2])), (3, 2)):
        packed = pack_padded_sequence(x, lengths)
        assert packed.data.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
        assert packed.batch_sizes.tolist() == [2, 2, 1]
        assert packed.batch_sizes.dtype == mg.int64
    equal = pack_padded_sequence(x, [3, 3])           # equal lengths are in decreasing order
    assert equal.batch_sizes.tolist() == [2, 2, 2] and equal.sorted_indices is None
    stable = pack_padded_sequence(mg.tensor(np.arange(9.0).reshape(3, 3)), [2, 3, 2],
                                  enforce_sorted=False)
    assert stable.sorted_indices.tolist() == [1, 0, 2]        # ties keep their order
    assert stable.unsorted_indices.tolist() == [1, 0, 2]
    assert stable.sorted_indices.dtype == mg.int64
    assert stable.unsorted_indices.dtype == mg.int64
    assert stable.data.tolist() == [1.0, 0.0, 2.0, 4.0, 3.0, 5.0, 7.0]
    shifted = pack_padded_sequence(mg.tensor(np.arange(9.0).reshape(3, 3)), [1, 3, 2],
                                   enforce_sorted=False)
    assert shifted.sorted_indices.tolist() == [1, 2, 0]
    assert shifted.unsorted_indices.tolist() == [2, 0, 1]


def test_pad_packed_sequence_layouts_and_lengths():
    x = mg.tensor(np.arange(1.0, 13.0).reshape(3, 2, 2))       # (T=3, N=2, 2)
    packed = pack_padded_sequence(x, [2, 3], enforce_sorted=False)
    padded, lengths = pad_packed_sequence(packed, batch_first=True, padding_value=-1.0,
                                          total_length=4)
    assert lengths.tolist() == [2, 3] and lengths.dtype == mg.int64
    assert padded.shape == (2, 4, 2)
    assert padded.tolist() == [[[1.0, 2.0], [5.0, 6.0], [-1.0, -1.0], [-1.0, -1.0]],
                               [[3.0, 4.0], [7.0, 8.0], [11.0, 12.0], [-1.0, -1.0]]]
    same, _ = pad_packed_sequence(packed, total_length=3)
    assert same.shape == (3, 2, 2)
    assert pad_packed_sequence(packed)[0].dtype == x.dtype


def test_pad_sequence_and_pack_sequence_options():
    a, b = mg.tensor([[1.0], [2.0], [3.0]]), mg.tensor([[4.0]])
    assert pad_sequence([a, b], batch_first=True, padding_value=9.0).tolist() == \
        [[[1.0], [2.0], [3.0]], [[4.0], [9.0], [9.0]]]
    assert pad_sequence((a, b)).shape == (3, 2, 1)
    assert pad_sequence([b, b]).tolist() == [[[4.0], [4.0]]]
    ints = pad_sequence([mg.tensor([1, 2]), mg.tensor([3])])
    assert ints.dtype == mg.int64 and ints.tolist() == [[1, 3], [2, 0]]
    packed = pack_sequence(iter([b, a]), enforce_sorted=False)
    assert packed.data.tolist() == [[1.0], [4.0], [2.0], [3.0]]
    assert packed.batch_sizes.tolist() == [2, 1, 1]
    with pytest.raises(ValueError, match="not in decreasing order"):
        pack_sequence([b, a])
    assert pack_sequence([a, b]).sorted_indices is None


def test_rnn_step_factory_applies_the_activation_to_the_whole_hidden_term():
    from layers.rnn_cells import _rnn_step
    step = _rnn_step(mg.relu)
    w = mg.tensor([[1.0, 0.0], [0.0, 2.0]])
    h, b = mg.tensor([[1.0, -3.0]]), mg.tensor([0.5, 0.5])
    (out,) = step(mg.tensor([[1.0, 1.0]]), (h, mg.tensor([[7.0, 7.0]])), plain_product(w), b,
                  None)
    assert out.tolist() == [[2.5, 0.0]]          # relu(h W + b + xa)
    (out,) = _rnn_step(mg.tanh)(mg.tensor([[0.0, 4.5]]), (h,), plain_product(w), b, None)
    np.testing.assert_allclose(out.numpy(), np.tanh([[1.5, -1.0]]), rtol=1e-6)


def test_cells_keep_a_batch_of_one_and_a_hidden_size_of_one():
    mg.manual_seed(7)
    for cls in (RNNCell, GRUCell, LSTMCell):
        cell = cls(3, 1)
        out = cell(mg.randn(3))
        for o in out if isinstance(out, tuple) else (out,):
            assert o.shape == (1,)
        out = cell(mg.randn(1, 3))
        for o in out if isinstance(out, tuple) else (out,):
            assert o.shape == (1, 1)
        big = cls(3, 4)
        out = big(mg.randn(1, 3))
        for o in out if isinstance(out, tuple) else (out,):
            assert o.shape == (1, 4)


def test_pack_sequence_reports_bad_sequences_as_pad_sequence_does():
    raises(TypeError, "pad_sequence: expected a Tensor, got float",
           lambda: pack_sequence([mg.zeros(2), 1.0]))
    raises(ValueError, "pad_sequence: every sequence needs the shape (L, *) with one *, got "
                       "[(2,), ()]", lambda: pack_sequence([mg.zeros(2), mg.tensor(1.0)]))
    assert pad_sequence([mg.zeros(2, 3)]).shape == (2, 1, 3)
    padded = pad_sequence([mg.ones(2, dtype=mg.float64), mg.ones(1, dtype=mg.float64)])
    assert padded.dtype == mg.float64


def test_an_empty_batch_packs_to_no_steps_and_integers_stay_integers():
    empty = pack_padded_sequence(mg.zeros(3, 0, 2), [])
    assert empty.batch_sizes.tolist() == [] and empty.data.shape == (0, 2)
    packed = pack_padded_sequence(mg.tensor([[1, 2], [3, 0]]), [2, 1])
    padded, lengths = pad_packed_sequence(packed, padding_value=7)
    assert padded.dtype == mg.int64 and padded.tolist() == [[1, 2], [3, 7]]
