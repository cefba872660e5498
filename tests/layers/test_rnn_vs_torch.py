"""The recurrent layers against PyTorch: a PyTorch state dict, converted to NumPy arrays, loads
into the minigrad layer, and outputs, final states and gradients agree."""
import numpy as np
import pytest

import minigrad as mg
from layers import RNN, LSTM, GRU, RNNCell, LSTMCell, GRUCell
from layers.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch = pytest.importorskip("torch", reason="PyTorch is the reference of these tests")

LAYERS = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
CELLS = {"RNNCell": RNNCell, "LSTMCell": LSTMCell, "GRUCell": GRUCell}


def pair(kind, table, **kwargs):
    """The same layer in PyTorch and in minigrad, with PyTorch's initial weights, in float64."""
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(**kwargs).double()
    ours = table[kind](**kwargs, dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    return ours, theirs


def flat(out):
    """Every tensor in a nested result, in order."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flat(o)]
    return [out]


def assert_close(ours, theirs, atol=1e-10):
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), atol=atol, rtol=1e-7)


CONFIGS = [dict(), dict(num_layers=2), dict(bidirectional=True), dict(batch_first=True),
           dict(num_layers=2, bidirectional=True, batch_first=True), dict(bias=False)]


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(c) or "default")
@pytest.mark.parametrize("with_hx", [False, True])
def test_layer_vs_torch(kind, config, with_hx):
    ours, theirs = pair(kind, LAYERS, input_size=3, hidden_size=4, **config)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 3) if config.get("batch_first") else (5, 2, 3))
    DL = config.get("num_layers", 1) * (2 if config.get("bidirectional") else 1)
    hx = [rng.standard_normal((DL, 2, 4)) for _ in range(2 if kind == "LSTM" else 1)] \
        if with_hx else None
    tx = torch.tensor(x, requires_grad=True)
    mx = mg.tensor(x, requires_grad=True)
    t_hx = m_hx = None
    if with_hx:
        t_hx = [torch.tensor(h, requires_grad=True) for h in hx]
        m_hx = [mg.tensor(h, requires_grad=True) for h in hx]
    t_out = theirs(tx, None if t_hx is None else (tuple(t_hx) if kind == "LSTM" else t_hx[0]))
    m_out = ours(mx, None if m_hx is None else (tuple(m_hx) if kind == "LSTM" else m_hx[0]))
    weights = [rng.standard_normal(t.shape) for t in flat(t_out)]
    sum(((t * torch.tensor(w)).sum() for t, w in zip(flat(t_out), weights))).backward()
    sum(((m * mg.tensor(w)).sum() for m, w in zip(flat(m_out), weights))).backward()
    for m, t in zip(flat(m_out), flat(t_out)):
        assert_close(m, t)
    assert_close(mx.grad, tx.grad)
    for name, p in theirs.named_parameters():
        assert_close(dict(ours.named_parameters())[name].grad, p.grad)
    if with_hx:
        for m, t in zip(m_hx, t_hx):
            assert_close(m.grad, t.grad)


@pytest.mark.parametrize("config", [dict(), dict(num_layers=2, bidirectional=True)],
                         ids=["one", "deep-bidirectional"])
def test_lstm_proj_size_vs_torch(config):
    ours, theirs = pair("LSTM", LAYERS, input_size=3, hidden_size=5, proj_size=2, **config)
    x = np.random.default_rng(2).standard_normal((4, 3, 3))
    t_out, (t_h, t_c) = theirs(torch.tensor(x))
    m_out, (m_h, m_c) = ours(mg.tensor(x))
    for m, t in ((m_out, t_out), (m_h, t_h), (m_c, t_c)):
        assert_close(m, t)
    assert m_out.shape == (4, 3, 2 * (1 + config.get("bidirectional", False)))


@pytest.mark.parametrize("kind", LAYERS)
def test_unbatched_vs_torch(kind):
    ours, theirs = pair(kind, LAYERS, input_size=3, hidden_size=4, num_layers=2)
    x = np.random.default_rng(3).standard_normal((6, 3))
    for m, t in zip(flat(ours(mg.tensor(x))), flat(theirs(torch.tensor(x)))):
        assert m.shape == tuple(t.shape)
        assert_close(m, t)


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("lengths", [[5, 3, 3, 1], [2, 5, 1, 4], [4, 4, 4, 4], [1, 1, 1, 1]])
def test_packed_vs_torch(kind, bidirectional, lengths):
    """Packed input, sorted or not (enforce_sorted=False), with an initial state: outputs
    unpacked, final states in the caller's order, and gradients."""
    ours, theirs = pair(kind, LAYERS, input_size=3, hidden_size=4, num_layers=2,
                        bidirectional=bidirectional)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((max(lengths), 4, 3))
    D = 2 if bidirectional else 1
    hx = [rng.standard_normal((2 * D, 4, 4)) for _ in range(2 if kind == "LSTM" else 1)]
    tx, mx = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    t_hx = tuple(torch.tensor(h) for h in hx)
    m_hx = tuple(mg.tensor(h) for h in hx)
    t_out, t_last = theirs(torch.nn.utils.rnn.pack_padded_sequence(
        tx, torch.tensor(lengths), enforce_sorted=False), t_hx if kind == "LSTM" else t_hx[0])
    m_out, m_last = ours(pack_padded_sequence(mx, lengths, enforce_sorted=False),
                         m_hx if kind == "LSTM" else m_hx[0])
    t_pad, t_len = torch.nn.utils.rnn.pad_packed_sequence(t_out)
    m_pad, m_len = pad_packed_sequence(m_out)
    assert m_len.tolist() == t_len.tolist() == lengths
    for m, t in zip([m_pad] + flat(m_last), [t_pad] + flat(t_last)):
        assert_close(m, t)
    w = rng.standard_normal(t_pad.shape)
    (t_pad * torch.tensor(w)).sum().backward()
    (m_pad * mg.tensor(w)).sum().backward()
    assert_close(mx.grad, tx.grad)
    for name, p in theirs.named_parameters():
        assert_close(dict(ours.named_parameters())[name].grad, p.grad)


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("batched", [True, False])
def test_cells_vs_torch(kind, batched):
    ours, theirs = pair(kind, CELLS, input_size=3, hidden_size=4)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3) if batched else (3,))
    h = rng.standard_normal((2, 4) if batched else (4,))
    hx_t = (torch.tensor(h), torch.tensor(h * 0.5)) if kind == "LSTMCell" else torch.tensor(h)
    hx_m = (mg.tensor(h), mg.tensor(h * 0.5)) if kind == "LSTMCell" else mg.tensor(h)
    tx, mx = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    t_out, m_out = flat(theirs(tx, hx_t)), flat(ours(mx, hx_m))
    for m, t in zip(m_out, t_out):
        assert_close(m, t)
    sum(t.sum() for t in t_out).backward()
    sum(m.sum() for m in m_out).backward()
    assert_close(mx.grad, tx.grad)
    for name, p in theirs.named_parameters():
        assert_close(dict(ours.named_parameters())[name].grad, p.grad)


def test_rnn_relu_vs_torch():
    ours, theirs = pair("RNN", LAYERS, input_size=3, hidden_size=4, nonlinearity="relu",
                        num_layers=2)
    x = np.random.default_rng(6).standard_normal((5, 2, 3))
    for m, t in zip(flat(ours(mg.tensor(x))), flat(theirs(torch.tensor(x)))):
        assert_close(m, t)


@pytest.mark.parametrize("kind", LAYERS)
def test_parameter_names_and_shapes_match_torch(kind):
    kwargs = dict(input_size=3, hidden_size=6, num_layers=2, bidirectional=True)
    if kind == "LSTM":
        kwargs["proj_size"] = 2
    theirs = getattr(torch.nn, kind)(**kwargs)
    ours = LAYERS[kind](**kwargs)
    assert [(k, tuple(v.shape)) for k, v in ours.named_parameters()] == \
        [(k, tuple(v.shape)) for k, v in theirs.named_parameters()]


@pytest.mark.parametrize("lengths,total_length,batch_first",
                         [([3, 2, 1], None, False), ([1, 3, 2], 5, True), ([2, 2], 2, False),
                          ([1], None, True)])
def test_packing_round_trip_vs_torch(lengths, total_length, batch_first):
    rng = np.random.default_rng(7)
    T, N = max(lengths), len(lengths)
    x = rng.standard_normal((N, T, 2) if batch_first else (T, N, 2))
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths),
                                                       batch_first, enforce_sorted=False)
    m_packed = pack_padded_sequence(mg.tensor(x), lengths, batch_first, enforce_sorted=False)
    assert_close(m_packed.data, t_packed.data)
    assert m_packed.batch_sizes.tolist() == t_packed.batch_sizes.tolist()
    assert m_packed.sorted_indices.tolist() == t_packed.sorted_indices.tolist()
    assert m_packed.unsorted_indices.tolist() == t_packed.unsorted_indices.tolist()
    t_pad, _ = torch.nn.utils.rnn.pad_packed_sequence(t_packed, batch_first, -7.0, total_length)
    m_pad, _ = pad_packed_sequence(m_packed, batch_first, -7.0, total_length)
    assert_close(m_pad, t_pad)


def test_pad_sequence_vs_torch():
    from layers.utils.rnn import pad_sequence, pack_sequence
    rng = np.random.default_rng(8)
    seqs = [rng.standard_normal((n, 2)) for n in (2, 4, 1)]
    for batch_first in (False, True):
        assert_close(pad_sequence([mg.tensor(s) for s in seqs], batch_first, 3.0),
                     torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs],
                                                     batch_first, 3.0))
    assert_close(pack_sequence([mg.tensor(s) for s in seqs], enforce_sorted=False).data,
                 torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs],
                                                  enforce_sorted=False).data)
