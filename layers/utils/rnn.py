"""Variable-length batches for the recurrent layers: padding and packing.

A batch of sentences of different lengths can be *padded* to the longest, shape (T, N, *), or
*packed*: the time steps laid end to end, each holding only the sequences still running. With
the sequences sorted by decreasing length, step t holds the first ``batch_sizes[t]`` of them, so
a recurrent layer reads step t as a block of rows and never computes on padding::

    lengths 3, 2, 1         padded (T=3, N=3)      packed data           batch_sizes
    a1 a2 a3                a1 b1 c1               a1 b1 c1  (step 0)    3
    b1 b2                   a2 b2 .                a2 b2     (step 1)    2
    c1                      a3 .  .                a3        (step 2)    1

``sorted_indices`` records which original sequence each sorted position holds (None when the
caller already sorted them, ``enforce_sorted=True``), ``unsorted_indices`` the inverse, so
results come back in the caller's order. The names and arguments are PyTorch's
(``torch.nn.utils.rnn``); packing and unpacking are differentiable (one gather each).

Notation
--------
T   the longest length;  N  the number of sequences;  *  the feature axes
"""
from typing import NamedTuple, Optional

import numpy as np

import minigrad as mg
from minigrad import Tensor


class PackedSequence(NamedTuple):
    """A packed batch: ``data`` (sum of lengths, *), ``batch_sizes`` (T,) int64, and the
    permutations ``sorted_indices`` / ``unsorted_indices`` (N,) int64, or None when the
    sequences were given sorted."""
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Optional[Tensor] = None
    unsorted_indices: Optional[Tensor] = None


def _as_lengths(lengths, n):
    """``lengths`` (list, array or Tensor) as a 1-D int64 NumPy array of n positive entries."""
    values = np.asarray(lengths.numpy() if isinstance(lengths, Tensor) else lengths)
    if values.ndim != 1 or values.shape[0] != n or (values.size and values.dtype.kind not in "iu"):
        raise ValueError(f"pack_padded_sequence: expected lengths as {n} integers (one per "
                         f"sequence), got {values.tolist()!r}")
    values = values.astype(np.int64)
    if values.size and values.min() < 1:
        raise ValueError(f"pack_padded_sequence: every length must be at least 1, got "
                         f"{values.tolist()}")
    return values


def _as_tensor(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    return x


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, N, *) (or (N, T, *) with ``batch_first``) given each length.

    With ``enforce_sorted=True`` the lengths must be in decreasing order; with False they are
    sorted here and the permutation is kept in the result.

    >>> import minigrad as mg
    >>> x = mg.tensor([[1.0, 4.0], [2.0, 0.0], [3.0, 0.0]])       # (T=3, N=2), lengths 3, 1
    >>> packed = pack_padded_sequence(x, [3, 1])
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([1.0, 4.0, 2.0, 3.0], [2, 1, 1])
    """
    _as_tensor(input, "pack_padded_sequence")
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: expected an input with at least 2 dims "
                         f"(T, N, *), got shape {input.shape}")
    x = input.transpose(0, 1) if batch_first else input
    T, N = x.shape[0], x.shape[1]
    lengths = _as_lengths(lengths, N)
    if N and lengths.max() > T:
        raise ValueError(f"pack_padded_sequence: a length of {lengths.max()} exceeds the "
                         f"{T} steps of the input (shape {input.shape})")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise ValueError(f"pack_padded_sequence: lengths {lengths.tolist()} are not in "
                             "decreasing order; sort the batch or pass enforce_sorted=False")
        order = None
    else:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
    batch_sizes = (lengths[None, :] > np.arange(lengths.max() if N else 0)[:, None]).sum(1)
    sorted_column = np.arange(N) if order is None else order
    # Row (t, j) of the packed data is row t·N + sorted_column[j] of the flattened input.
    rows = np.concatenate([t * N + sorted_column[:b] for t, b in enumerate(batch_sizes)]
                          or [np.zeros(0, np.int64)])
    data = x.reshape((T * N,) + x.shape[2:])[rows]
    return _packed(data, batch_sizes, order)


def _packed(data, batch_sizes, order):
    batch_sizes = mg.tensor(np.asarray(batch_sizes, np.int64))
    if order is None:
        return PackedSequence(data, batch_sizes, None, None)
    return PackedSequence(data, batch_sizes, mg.tensor(order.astype(np.int64)),
                          mg.tensor(np.argsort(order).astype(np.int64)))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Unpack to a padded batch (T, N, *) (``total_length`` steps if given) and the lengths.

    The inverse of :func:`pack_padded_sequence`; the sequences come back in their original
    order. Returns ``(padded, lengths)``, lengths an int64 Tensor.

    >>> import minigrad as mg
    >>> packed = pack_padded_sequence(mg.tensor([[1.0, 4.0], [2.0, 0.0]]), [2, 1])
    >>> padded, lengths = pad_packed_sequence(packed, padding_value=-1.0)
    >>> padded.tolist(), lengths.tolist()
    ([[1.0, 4.0], [2.0, -1.0]], [2, 1])
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got "
                        f"{type(sequence).__name__}")
    data = sequence.data
    batch_sizes = np.asarray(sequence.batch_sizes.numpy(), np.int64)
    T, N = len(batch_sizes), int(batch_sizes[0]) if len(batch_sizes) else 0
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"pad_packed_sequence: total_length={total_length} is shorter "
                             f"than the longest sequence ({T} steps)")
        T = total_length
    unsorted = (np.arange(N) if sequence.unsorted_indices is None
                else np.asarray(sequence.unsorted_indices.numpy(), np.int64))
    offsets = np.concatenate([[0], np.cumsum(batch_sizes)])
    pad_row = len(data)  # the index of the padding row appended below
    rows = np.full((T, N), pad_row, np.int64)
    for t, b in enumerate(batch_sizes):
        running = unsorted < b
        rows[t, running] = offsets[t] + unsorted[running]
    padding = mg.full((1,) + data.shape[1:], padding_value, dtype=data.dtype,
                      device=data.device)
    padded = mg.cat([data, padding])[rows.reshape(-1)].reshape((T, N) + data.shape[1:])
    lengths_sorted = (batch_sizes[:, None] > np.arange(N)[None, :]).sum(0)
    lengths = mg.tensor(lengths_sorted[unsorted].astype(np.int64))
    return (padded.transpose(0, 1) if batch_first else padded), lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0):
    """Stack sequences (L_i, *) into one padded batch (T, N, *) with T the longest L_i.

    >>> import minigrad as mg
    >>> pad_sequence([mg.tensor([1.0, 2.0]), mg.tensor([3.0])]).tolist()
    [[1.0, 3.0], [2.0, 0.0]]
    """
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: expected a non-empty list of tensors")
    for s in sequences:
        _as_tensor(s, "pad_sequence")
        if s.ndim == 0 or s.shape[1:] != sequences[0].shape[1:]:
            raise ValueError(f"pad_sequence: every sequence needs the shape (L, *) with one *, "
                             f"got {[tuple(s.shape) for s in sequences]}")
    T = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = T - s.shape[0]
        if missing:
            fill = mg.full((missing,) + s.shape[1:], padding_value, dtype=s.dtype,
                           device=s.device)
            s = mg.cat([s, fill])
        padded.append(s)
    return mg.stack(padded, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences (L_i, *): :func:`pad_sequence`, then
    :func:`pack_padded_sequence` with their lengths.

    >>> import minigrad as mg
    >>> pack_sequence([mg.tensor([1.0, 2.0]), mg.tensor([3.0])]).data.tolist()
    [1.0, 3.0, 2.0]
    """
    sequences = list(sequences)
    lengths = [s.shape[0] if isinstance(s, Tensor) and s.ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)
