"""The recurrent family in the op registry: the LSTM and GRU step Functions, and whole RNN,
LSTM and GRU layers (weights, input and initial states all differentiated), padded or packed,
one or two directions, against the step-by-step NumPy reference."""
import numpy as np

import minigrad as mg
import recurrent_reference as R
from layers import RNN, LSTM, GRU
from layers.utils.rnn import pack_padded_sequence, pad_packed_sequence
from minigrad.ops.recurrent import LSTMCellFunction, GRUCellFunction
from op_specs import spec
from strategies.recurrent import gru_cell_inputs, layer_inputs, lstm_cell_inputs

LAYERS = {"RNN_TANH": RNN, "LSTM": LSTM, "GRU": GRU}
NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def run_layer(mode, x, *tensors, lengths, bidirectional):
    """The layer with the given Tensors as its parameters (the same in both directions)."""
    T, N, I = x.shape
    H = tensors[1].shape[1]
    layer = LAYERS[mode](I, H, bidirectional=bidirectional, dtype=np.float64)
    for suffix in ("", "_reverse")[:1 + bidirectional]:
        for name, t in zip(NAMES, tensors):
            layer._parameters[f"{name}_l0{suffix}"] = t
    hx = tuple(tensors[4:]) if mode == "LSTM" else tensors[4]
    if lengths is None:
        out, last = layer(x, hx)
    else:
        out, last = layer(pack_padded_sequence(x, lengths, enforce_sorted=False), hx)
        out = pad_packed_sequence(out, total_length=T)[0]
    return (out,) + (last if mode == "LSTM" else (last,))


def reference_layer(mode, x, *arrays, lengths, bidirectional):
    T, N, _ = x.shape
    params = {f"{name}_l0{suffix}": a for suffix in ("", "_reverse")
              for name, a in zip(NAMES, arrays)}
    out, finals = R.layer(mode, x, [T] * N if lengths is None else lengths, tuple(arrays[4:]),
                          params, bidirectional=bidirectional)
    return (out,) + finals


spec("lstm_cell_function", lambda a, c: LSTMCellFunction.apply(a, c), lstm_cell_inputs(),
     R.lstm_cell)
spec("gru_cell_function", lambda xa, ha, h: GRUCellFunction.apply(xa, ha, h), gru_cell_inputs(),
     R.gru_cell)
for _mode in LAYERS:
    spec(f"layer_{_mode.lower()}",
         lambda *ts, _m=_mode, **kw: run_layer(_m, *ts, **kw), layer_inputs(_mode),
         lambda *arrays, _m=_mode, **kw: reference_layer(_m, *arrays, **kw))
