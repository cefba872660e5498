"""A slow, obvious NumPy reference for the recurrent cells and layers: one sequence at a time,
one step at a time, straight from the formulas (PyTorch's gate orders: LSTM i, f, g, o; GRU
r, z, n). Used by the op registry (op_specs_recurrent.py) and tests/layers/test_rnn*.py."""
import numpy as np

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def lstm_cell(a, c):
    """(h', c') from the gate pre-activations a (N, 4H) and c (N, H)."""
    i, f, g, o = np.split(a, 4, axis=-1)
    c_next = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return sigmoid(o) * np.tanh(c_next), c_next


def gru_cell(xa, ha, h):
    """h' from the input and hidden products xa, ha (N, 3H) and h (N, H)."""
    xr, xz, xn = np.split(xa, 3, axis=-1)
    hr, hz, hn = np.split(ha, 3, axis=-1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def step(mode, x, state, w_ih, w_hh, b_ih, b_hh, w_hr=None):
    """One step of a cell on one batch: returns the new state tuple."""
    xa = x @ w_ih.T + (0 if b_ih is None else b_ih)
    ha = state[0] @ w_hh.T + (0 if b_hh is None else b_hh)
    if mode == "LSTM":
        h, c = lstm_cell(xa + ha, state[1])
        return (h if w_hr is None else h @ w_hr.T, c)
    if mode == "GRU":
        return (gru_cell(xa, ha, state[0]),)
    pre = xa + ha
    return (np.tanh(pre) if mode == "RNN_TANH" else np.maximum(pre, 0),)


def direction(mode, x, lengths, state, weights, reverse):
    """One layer in one direction over a padded (T, N, I) batch: each sequence b runs over its
    own ``lengths[b]`` steps (backwards from its last one when ``reverse``). Returns the
    outputs (T, N, H_out), zero at padding, and the final state tuple of (N, ·) arrays."""
    T, N = x.shape[:2]
    outputs = np.zeros((T, N, state[0].shape[-1]))
    finals = [np.zeros_like(s) for s in state]
    for b in range(N):
        s = tuple(part[b:b + 1] for part in state)
        steps = range(lengths[b])
        for t in (reversed(steps) if reverse else steps):
            s = step(mode, x[t, b:b + 1], s, *weights)
            outputs[t, b] = s[0][0]
        for k in range(len(s)):
            finals[k][b] = s[k][0]
    return outputs, tuple(finals)


def layer(mode, x, lengths, initial, params, num_layers=1, bidirectional=False):
    """A whole RNN/LSTM/GRU on a padded (T, N, I) batch.

    initial: tuple of (D·L, N, ·) arrays; params: name -> array with PyTorch's names.
    Returns (output (T, N, D·H_out), tuple of final states (D·L, N, ·))."""
    D = 2 if bidirectional else 1
    finals = []
    for k in range(num_layers):
        outs = []
        for d in range(D):
            suffix = f"_l{k}" + ("_reverse" if d else "")
            weights = [params.get(name + suffix) for name in
                       ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")]
            out, final = direction(mode, x, lengths, tuple(s[k * D + d] for s in initial),
                                   weights, reverse=d == 1)
            outs.append(out)
            finals.append(final)
        x = np.concatenate(outs, axis=-1)
    return x, tuple(np.stack([f[j] for f in finals]) for j in range(len(initial)))
