"""Recurrent layers RNN, LSTM, GRU: a cell (``rnn_cells.py``) applied at every time step.

A recurrent layer applies one cell at every time step, carrying a hidden state h (and for the
LSTM a cell state c) from step to step::

    RNN    h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)                     (or relu)
    LSTM   i, f, g, o = σ, σ, tanh, σ of (x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)   (4 gate blocks)
           c' = f c + i g;  h' = o tanh(c')            (with proj_size: h' = (o tanh c') W_hrᵀ)
    GRU    r, z = σ(x W_irᵀ + h W_hrᵀ + ...);  n = tanh(x W_inᵀ + b_in + r (h W_hnᵀ + b_hn))
           h' = (1 − z) n + z h

Backpropagation through time is the ordinary backward pass through the unrolled loop: the
engine's walk is iterative, so T = 1,000 steps is no deeper a recursion than one, and each step
keeps only what its backward needs (a few (N, H) arrays), so memory grows linearly in T.

How the loop is made cheap: the input term x W_ihᵀ + b of *all* steps is one matrix product
before the loop; inside it, a step is one product h W_hhᵀ and one node for the gate arithmetic
(``minigrad/ops/recurrent.py``). Padded and packed inputs take the same path: a padded batch is
a packed one whose every step holds all N sequences.

Parameter names, shapes, gate orders and initialisation (U(−1/√H, 1/√H) for every parameter)
are PyTorch's, so a PyTorch state dict converted to NumPy loads and gives the same outputs.

Notation
--------
T   sequence length;  N  batch size;  I  input_size;  H  hidden_size
P   proj_size (LSTM; H_out = P when P > 0, else H);  D  2 if bidirectional else 1
L   num_layers;  G  the gates per cell (RNN 1, LSTM 4, GRU 3)
"""
import math

import minigrad as mg
import minigrad.functional as F
from minigrad import Tensor
from minigrad.backend import xp_of
from minigrad.checks import check_int, check_number
from minigrad.ops.recurrent import HiddenProduct, WeightGradient, split_rows
from . import init
from .linear import new_parameter
from .module import Module
from .projection import Projection
from .rnn_cells import (GATES, STEPS, RNNCell, LSTMCell, GRUCell,  # noqa: F401 (re-exported)
                        check_tensor, plain_product)
from .utils.rnn import PackedSequence



class RNNBase(Module):
    """The loop shared by RNN, LSTM and GRU (see the module docstring); ``mode`` picks the cell.

    Parameters, for layer k and each direction (suffix ``_reverse`` for the backward one):
    ``weight_ih_l{k}`` (G·H, I for k = 0, else D·H_out), ``weight_hh_l{k}`` (G·H, H_out),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (G·H,), and for an LSTM with proj_size
    ``weight_hr_l{k}`` (P, H); in PyTorch's order, all U(−1/√H, 1/√H).
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, *,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = check_int(name, "input_size", input_size, low=1)
        self.hidden_size = check_int(name, "hidden_size", hidden_size, low=1)
        self.num_layers = check_int(name, "num_layers", num_layers, low=1)
        self.dropout = float(check_number(name, "dropout", dropout, low=0, high=1))
        self.proj_size = check_int(name, "proj_size", proj_size, low=0)
        if self.proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size is an LSTM option, got proj_size={proj_size}")
        if self.proj_size >= self.hidden_size:
            raise ValueError(f"{name}: proj_size ({proj_size}) must be smaller than hidden_size "
                             f"({hidden_size})")
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.bidirectional = bool(bidirectional)
        D, G, H = 2 if self.bidirectional else 1, GATES[mode], self.hidden_size
        H_out = self.proj_size or H
        self._flat_weights_names = []
        for k in range(self.num_layers):
            for suffix in ("", "_reverse")[:D]:
                shapes = {"weight_ih": (G * H, input_size if k == 0 else D * H_out),
                          "weight_hh": (G * H, H_out)}
                if self.bias:
                    shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
                if self.proj_size:
                    shapes["weight_hr"] = (self.proj_size, H)
                for kind, shape in shapes.items():
                    setattr(self, f"{kind}_l{k}{suffix}", new_parameter(shape, device, dtype))
                    self._flat_weights_names.append(f"{kind}_l{k}{suffix}")
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        for key, default in (("proj_size", 0), ("num_layers", 1), ("bias", True),
                             ("batch_first", False), ("dropout", 0.0),
                             ("bidirectional", False)):
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)}"
        return s

    # The layer's pieces, each short: input as packed rows, initial states, one direction.

    def _as_rows(self, input):
        """(data (S, I), batch_sizes, sorted_indices, unsorted_indices, unpack), where unpack
        turns the output rows (S, D·H_out) back into the input's form."""
        name = type(self).__name__
        if isinstance(input, PackedSequence):
            data = input.data
            if data.ndim != 2 or data.shape[1] != self.input_size:
                raise ValueError(f"{name}: expected packed data of shape (S, {self.input_size}),"
                                 f" got {data.shape}")
            sizes = [int(b) for b in input.batch_sizes.tolist()]
            return (data, sizes, input.sorted_indices, input.unsorted_indices,
                    lambda out: PackedSequence(out, *input[1:]), False)
        if not isinstance(input, Tensor) or input.ndim not in (2, 3) or \
                input.shape[-1] != self.input_size or 0 in input.shape:
            layout = "(N, T, I)" if self.batch_first else "(T, N, I)"
            raise ValueError(f"{name}: expected an input of shape {layout} or (T, I) with "
                             f"I = {self.input_size} and T, N >= 1, got "
                             f"{getattr(input, 'shape', type(input).__name__)}")
        unbatched = input.ndim == 2
        x = input.unsqueeze(1) if unbatched else (
            input.transpose(0, 1) if self.batch_first else input)
        T, N = x.shape[0], x.shape[1]

        def unpack(out):
            out = out.reshape(T, N, out.shape[-1])
            if unbatched:
                return out.squeeze(1)
            return out.transpose(0, 1) if self.batch_first else out
        return x.reshape(T * N, self.input_size), [N] * T, None, None, unpack, unbatched

    def _initial_states(self, hx, N, unbatched, sorted_indices, like):
        """hx as a list of (D·L, N, ·) tensors ((h0,) or (h0, c0)), or None for zeros."""
        name = type(self).__name__
        DL = self.num_layers * (2 if self.bidirectional else 1)
        sizes = [self.proj_size or self.hidden_size] + [self.hidden_size] * (self.mode == "LSTM")
        if hx is None:
            return [mg.zeros((DL, N, s), dtype=like.dtype, device=like.device) for s in sizes]
        states = list(hx) if self.mode == "LSTM" else [hx]
        if self.mode == "LSTM" and (not isinstance(hx, tuple) or len(states) != 2):
            raise ValueError(f"{name}: expected hx as a tuple (h_0, c_0)")
        out = []
        for state, size, label in zip(states, sizes, ("h_0", "c_0")):
            check_tensor(name, label, state, (DL, size) if unbatched else (DL, N, size))
            state = state.unsqueeze(1) if unbatched else state
            out.append(state if sorted_indices is None
                       else mg.index_select(state, 1, sorted_indices))
        return out

    def _direction(self, k, reverse):
        """(w_ih, b_in, w_hh, b_hh for the step, w_hrᵀ) of layer k in one direction. For RNN
        and LSTM both biases are added once to the input term; the GRU keeps b_hh in the step
        because its reset gate multiplies that part only."""
        p = {kind: getattr(self, f"{kind}_l{k}{'_reverse' * reverse}", None)
             for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")}
        b_in, b_step = p["bias_ih"], p["bias_hh"]
        if self.mode != "GRU" and b_in is not None:
            b_in, b_step = b_in + b_step, None
        w_hr = None if p["weight_hr"] is None else p["weight_hr"].T
        return p["weight_ih"], b_in, p["weight_hh"], b_step, w_hr

    @staticmethod
    def _hidden_products(w_hh, batch_sizes):
        """The hidden term of each step t, as ``products(t)(h, b_hh, xa)``: h W_hhᵀ + b_hh + xa.

        When W_hh needs a gradient, each step's product gives only h its gradient
        (:class:`HiddenProduct`) and one :class:`WeightGradient` node gives W_hh the sum over
        all steps as a single matrix product: three times faster than T small products and T
        additions of a (G·H, H) array. Otherwise the product is a plain matmul."""
        if not (w_hh.requires_grad and mg.is_grad_enabled()):
            plain = plain_product(w_hh)
            return lambda t: plain
        states = [None] * len(batch_sizes)          # filled by the loop, in row order
        w_t = xp_of(w_hh.data).ascontiguousarray(w_hh.data.T)
        routes = split_rows(WeightGradient.apply(w_hh, rows=sum(batch_sizes), states=states),
                            batch_sizes)

        def products(t):
            def product(h, b_hh, xa=None):
                states[t] = h
                return HiddenProduct.apply(h, w_hh, routes[t], xa, b_hh, w_t=w_t)
            return product
        return products

    def _run_direction(self, data, batch_sizes, state, k, reverse):
        """One layer in one direction over packed rows: (output rows (S, H_out), final state)."""
        w_ih, b_in, w_hh, b_hh, w_hr = self._direction(k, reverse)
        step = STEPS[self.mode]
        inputs = split_rows(Projection.apply(data, w_ih, b_in), batch_sizes)
        hidden = self._hidden_products(w_hh, batch_sizes)
        outputs = []
        if not reverse:
            finished = []          # states of sequences that ended, longest-numbered first
            for t, b in enumerate(batch_sizes):
                if b < state[0].shape[0]:       # sequences b.. ended at step t - 1
                    finished.append(tuple(s[b:] for s in state))
                    state = tuple(s[:b] for s in state)
                state = step(inputs[t], state, hidden(t), b_hh, w_hr)
                outputs.append(state[0])
            finished.append(state)
            final = tuple(mg.cat([f[j] for f in reversed(finished)]) if len(finished) > 1
                          else state[j] for j in range(len(state)))
        else:
            start = state
            state = tuple(s[:batch_sizes[-1]] for s in start)
            for t in reversed(range(len(batch_sizes))):
                b = batch_sizes[t]
                if b > state[0].shape[0]:       # sequences ..b start at step t
                    state = tuple(mg.cat([s, s0[s.shape[0]:b]]) for s, s0 in zip(state, start))
                state = step(inputs[t], state, hidden(t), b_hh, w_hr)
                outputs.append(state[0])
            outputs.reverse()
            final = state
        return mg.cat(outputs), final

    def forward(self, input, hx=None):
        data, batch_sizes, sorted_indices, unsorted_indices, unpack, unbatched = \
            self._as_rows(input)
        N = batch_sizes[0]
        D = 2 if self.bidirectional else 1
        initial = self._initial_states(hx, N, unbatched, sorted_indices, data)
        finals = []
        for k in range(self.num_layers):
            outs = []
            for d in range(D):
                state = tuple(s[k * D + d] for s in initial)
                out, final = self._run_direction(data, batch_sizes, state, k, reverse=d == 1)
                outs.append(out)
                finals.append(final)
            data = outs[0] if D == 1 else mg.cat(outs, -1)
            if k < self.num_layers - 1 and self.dropout and self.training:
                data = F.dropout(data, self.dropout, True)
        last = []
        for j in range(len(initial)):
            s = mg.stack([f[j] for f in finals])
            if unsorted_indices is not None:
                s = mg.index_select(s, 1, unsorted_indices)
            last.append(s.squeeze(1) if unbatched else s)
        return unpack(data), (tuple(last) if self.mode == "LSTM" else last[0])


class RNN(RNNBase):
    """A multi-layer Elman network: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh).

    Parameters
    ----------
    input_size, hidden_size : int
        I and H.
    num_layers : int
        L stacked layers, each reading the outputs of the one below.
    nonlinearity : {'tanh', 'relu'}
    bias : bool
    batch_first : bool
        Input and output as (N, T, ·) instead of (T, N, ·) (not h_0 / h_n).
    dropout : float
        Dropout on the outputs of every layer but the last, in training.
    bidirectional : bool
        Also run each layer from the last step to the first; outputs are concatenated.
    device, dtype : optional

    Attributes
    ----------
    weight_ih_l{k}[_reverse], weight_hh_l{k}[_reverse], bias_ih_l{k}[_reverse],
    bias_hh_l{k}[_reverse] : Parameters, as in PyTorch (see :class:`RNNBase`)

    Shape
    -----
    input : (T, N, I), (N, T, I) with batch_first, (T, I) unbatched, or a PackedSequence
    hx : (D·L, N, H) or (D·L, H) unbatched; zeros if omitted
    returns : (output (T, N, D·H) or packed like the input, h_n (D·L, N, H))

    Examples
    --------
    >>> import minigrad as mg
    >>> out, h_n = RNN(4, 8, num_layers=2)(mg.randn(5, 3, 4))
    >>> out.shape, h_n.shape
    ((5, 3, 8), (2, 3, 8))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, *, device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or "
                             "'relu'")
        super().__init__("RNN_" + nonlinearity.upper(), input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self):
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(RNNBase):
    """A multi-layer long short-term memory network (gates i, f, g, o; see the module docstring).

    Parameters
    ----------
    input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional :
        As for :class:`RNN`.
    proj_size : int
        If > 0, h is projected to P entries after each step (``weight_hr_l{k}``, (P, H)).
    device, dtype : optional

    Shape
    -----
    input : (T, N, I), (N, T, I) with batch_first, (T, I) unbatched, or a PackedSequence
    hx : a tuple (h_0 (D·L, N, H_out), c_0 (D·L, N, H)); zeros if omitted
    returns : (output (T, N, D·H_out), (h_n (D·L, N, H_out), c_n (D·L, N, H)))

    Examples
    --------
    >>> import minigrad as mg
    >>> out, (h_n, c_n) = LSTM(4, 8, bidirectional=True, proj_size=3)(mg.randn(5, 2, 4))
    >>> out.shape, h_n.shape, c_n.shape
    ((5, 2, 6), (2, 2, 3), (2, 2, 8))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, *, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """A multi-layer gated recurrent unit network (gates r, z, n; see the module docstring).

    Parameters
    ----------
    input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional :
        As for :class:`RNN`.
    device, dtype : optional

    Shape
    -----
    As for :class:`RNN`.

    Examples
    --------
    >>> import minigrad as mg
    >>> out, h_n = GRU(4, 8, batch_first=True)(mg.randn(2, 5, 4))
    >>> out.shape, h_n.shape
    ((2, 5, 8), (1, 2, 8))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, *, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device=device, dtype=dtype)
