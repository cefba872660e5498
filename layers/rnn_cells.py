"""The recurrent cells RNNCell, LSTMCell and GRUCell, and the one-step functions that they and
the sequence layers in ``rnn.py`` share.

A cell is one time step, for the user's own loop::

    RNNCell   h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)                    (or relu)
    LSTMCell  i, f, g, o = σ, σ, tanh, σ of (x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)   (4 gate blocks)
              c' = f c + i g;  h' = o tanh(c')
    GRUCell   r, z = σ(x W_irᵀ + h W_hrᵀ + ...);  n = tanh(x W_inᵀ + b_in + r (h W_hnᵀ + b_hn))
              h' = (1 − z) n + z h

A step function ``step(xa, state, hidden, b_hh, w_hr)`` takes the input term xa = x W_ihᵀ + b,
the state tuple ((h,) or (h, c)), and ``hidden(h, b_hh, xa=None)``, which computes the hidden
term h W_hhᵀ + b_hh, plus xa when given (a plain product here; in the sequence layers one node
that adds in place and whose weight gradient is taken after the loop).

Notation
--------
N   batch size;  I  input_size;  H  hidden_size;  G  gates per cell (RNN 1, LSTM 4, GRU 3)
"""
import math

import minigrad as mg
import minigrad.functional as F
from minigrad import Tensor
from minigrad.checks import check_int
from minigrad.ops.recurrent import GRUCellFunction, LSTMCellFunction
from . import init
from .linear import new_parameter
from .module import Module

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _rnn_step(activation):
    def step(xa, state, hidden_product, b_hh, w_hr):
        return (activation(hidden_product(state[0], b_hh, xa)),)
    return step


def _lstm_step(xa, state, hidden_product, b_hh, w_hr):
    h, c = LSTMCellFunction.apply(hidden_product(state[0], b_hh, xa), state[1])
    return (h if w_hr is None else h @ w_hr, c)


def _gru_step(xa, state, hidden_product, b_hh, w_hr):
    return (GRUCellFunction.apply(xa, hidden_product(state[0], b_hh), state[0]),)


def plain_product(w_hh):
    """The hidden term h W_hhᵀ (+ b_hh) (+ xa) of one step, as a function of (h, b_hh, xa)."""
    w_t = w_hh.T

    def product(h, b_hh, xa=None):
        out = h @ w_t
        for term in (b_hh, xa):
            if term is not None:
                out = out + term
        return out
    return product


STEPS = {"RNN_TANH": _rnn_step(mg.tanh), "RNN_RELU": _rnn_step(mg.relu), "LSTM": _lstm_step,
         "GRU": _gru_step}


def check_tensor(layer, name, x, shape):
    if not isinstance(x, Tensor):
        raise TypeError(f"{layer}: expected {name} as a Tensor, got {type(x).__name__}")
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{layer}: expected {name} of shape {tuple(shape)}, got {x.shape}")


class RNNCellBase(Module):
    """The parameters every cell has: weight_ih (G·H, I), weight_hh (G·H, H), bias_ih, bias_hh."""

    mode = None

    def __init__(self, input_size, hidden_size, bias, device, dtype):
        super().__init__()
        name = type(self).__name__
        self.input_size = check_int(name, "input_size", input_size, low=1)
        self.hidden_size = check_int(name, "hidden_size", hidden_size, low=1)
        G = GATES[self.mode]
        self.weight_ih = new_parameter((G * hidden_size, input_size), device, dtype)
        self.weight_hh = new_parameter((G * hidden_size, hidden_size), device, dtype)
        if bias:
            self.bias_ih = new_parameter((G * hidden_size,), device, dtype)
            self.bias_hh = new_parameter((G * hidden_size,), device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        return s + ("" if self.bias_ih is not None else ", bias=False")

    def _batched(self, x, hx, n_states):
        """x as (N, I) and each state as (N, H) (zeros when hx is None), and whether x was 1-D."""
        name = type(self).__name__
        if not isinstance(x, Tensor) or x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected an input of shape (N, {self.input_size}) or "
                             f"({self.input_size},), got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        unbatched = x.ndim == 1
        if unbatched:
            x = x.unsqueeze(0)
        N, H = x.shape[0], self.hidden_size
        if hx is None:
            states = [mg.zeros((N, H), dtype=x.dtype, device=x.device)] * n_states
        else:
            states = list(hx) if n_states > 1 else [hx]
            if len(states) != n_states:
                raise ValueError(f"{name}: expected hx as a tuple (h, c), got {len(states)} "
                                 "tensors")
            for s in states:
                check_tensor(name, "hx", s, (H,) if unbatched else (N, H))
            states = [s.unsqueeze(0) if unbatched else s for s in states]
        return x, states, unbatched

    def _input_term(self, x):
        return F.linear(x, self.weight_ih, self.bias_ih)


class RNNCell(RNNCellBase):
    """One step of an Elman network: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh).

    Parameters
    ----------
    input_size, hidden_size : int
        I and H.
    bias : bool
        Whether to learn b_ih and b_hh.
    nonlinearity : {'tanh', 'relu'}
    device, dtype : optional

    Attributes
    ----------
    weight_ih : (H, I);  weight_hh : (H, H);  bias_ih, bias_hh : (H,)
        All initialised U(−1/√H, 1/√H).

    Shape
    -----
    input : (N, I) or (I,);  hx : (N, H) or (H,), zeros if omitted
    returns : h', (N, H) or (H,)

    Examples
    --------
    >>> import minigrad as mg
    >>> cell = RNNCell(3, 5)
    >>> cell(mg.randn(2, 3)).shape
    (2, 5)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", *,
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; expected "
                             "'tanh' or 'relu'")
        self.mode = "RNN_" + nonlinearity.upper()
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._batched(input, hx, 1)
        (h,) = STEPS[self.mode](self._input_term(x), (h,), plain_product(self.weight_hh),
                                self.bias_hh, None)
        return h.squeeze(0) if unbatched else h

    def extra_repr(self):
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTMCell(RNNCellBase):
    """One LSTM step: gates i, f, g, o from one product each of x and h, then
    c' = f c + i g, h' = o tanh(c').

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
    device, dtype : optional

    Attributes
    ----------
    weight_ih : (4H, I);  weight_hh : (4H, H);  bias_ih, bias_hh : (4H,)
        Row blocks in the gate order i, f, g, o; all U(−1/√H, 1/√H).

    Shape
    -----
    input : (N, I) or (I,);  hx : a tuple (h, c) of (N, H) or (H,), zeros if omitted
    returns : (h', c')

    Examples
    --------
    >>> import minigrad as mg
    >>> h, c = LSTMCell(3, 5)(mg.randn(2, 3))
    >>> h.shape, c.shape
    ((2, 5), (2, 5))
    """
    mode = "LSTM"

    def __init__(self, input_size, hidden_size, bias=True, *, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        x, state, unbatched = self._batched(input, hx, 2)
        h, c = _lstm_step(self._input_term(x), state, plain_product(self.weight_hh),
                          self.bias_hh, None)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step: reset r and update z gates, candidate n = tanh(x W_inᵀ + b_in +
    r (h W_hnᵀ + b_hn)), then h' = (1 − z) n + z h.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
    device, dtype : optional

    Attributes
    ----------
    weight_ih : (3H, I);  weight_hh : (3H, H);  bias_ih, bias_hh : (3H,)
        Row blocks in the gate order r, z, n; all U(−1/√H, 1/√H).

    Shape
    -----
    input : (N, I) or (I,);  hx : (N, H) or (H,), zeros if omitted
    returns : h', (N, H) or (H,)

    Examples
    --------
    >>> import minigrad as mg
    >>> GRUCell(3, 5)(mg.randn(3)).shape
    (5,)
    """
    mode = "GRU"

    def __init__(self, input_size, hidden_size, bias=True, *, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        x, state, unbatched = self._batched(input, hx, 1)
        (h,) = _gru_step(self._input_term(x), state, plain_product(self.weight_hh),
                         self.bias_hh, None)
        return h.squeeze(0) if unbatched else h
