"""Strategies for the recurrent cells and layers: small shapes (gradgradcheck unrolls every
step), lengths for packed batches, one or two directions.

Notation
--------
T N I H   steps, batch, input width, hidden width;  G  gates (RNN 1, LSTM 4, GRU 3)
"""
from hypothesis import strategies as st

from .values import values

GATES = {"RNN_TANH": 1, "LSTM": 4, "GRU": 3}


@st.composite
def lstm_cell_inputs(draw):
    """The gate pre-activations a (N, 4H) and the cell state c (N, H)."""
    N, H = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (draw(values((N, 4 * H))), draw(values((N, H), salt=1))), {}


@st.composite
def gru_cell_inputs(draw):
    """The input and hidden products xa, ha (N, 3H) and the hidden state h (N, H)."""
    N, H = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (draw(values((N, 3 * H))), draw(values((N, 3 * H), salt=1)),
            draw(values((N, H), salt=2))), {}


@st.composite
def layer_inputs(draw, mode):
    """x (T, N, I), weight_ih (G·H, I), weight_hh (G·H, H), bias_ih, bias_hh (G·H,), h_0
    (D, N, H) [and c_0 for the LSTM], with the options ``lengths`` (None: a padded batch; else
    one length per sequence, unsorted, for a packed one) and ``bidirectional`` (both directions
    share the weights, so that one set of arrays covers them)."""
    T, N = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    I, H = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    G = GATES[mode]
    D = draw(st.sampled_from([1, 2]))
    lengths = draw(st.one_of(st.none(), st.lists(st.integers(1, T), min_size=N, max_size=N)))
    arrays = [draw(values((T, N, I))), draw(values((G * H, I), -1, 1, salt=1)),
              draw(values((G * H, H), -1, 1, salt=2)), draw(values((G * H,), -1, 1, salt=3)),
              draw(values((G * H,), -1, 1, salt=4)), draw(values((D, N, H), -1, 1, salt=5))]
    if mode == "LSTM":
        arrays.append(draw(values((D, N, H), -1, 1, salt=6)))
    return tuple(arrays), {"lengths": lengths, "bidirectional": D == 2}
