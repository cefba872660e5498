"""Packing and padding (layers.utils.rnn): values, round trips, gradients, edge cases, errors."""
import numpy as np
import pytest

import minigrad as mg
from layers.utils.rnn import (PackedSequence, pack_padded_sequence, pack_sequence,
                              pad_packed_sequence, pad_sequence)


def test_pack_lays_the_steps_end_to_end():
    x = mg.tensor(np.arange(12.0).reshape(4, 3))         # (T=4, N=3): x[t, n] = 3t + n
    packed = pack_padded_sequence(x, [4, 2, 1])
    assert packed.data.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 9.0]
    assert packed.batch_sizes.tolist() == [3, 2, 1, 1]
    assert packed.sorted_indices is None and packed.unsorted_indices is None


@pytest.mark.parametrize("lengths", [[1, 3, 2], [2, 2, 2], [1, 1], [5], [3, 1, 3, 2]])
@pytest.mark.parametrize("batch_first", [False, True])
def test_round_trip_restores_the_padded_batch(lengths, batch_first):
    rng = np.random.default_rng(0)
    T, N = max(lengths), len(lengths)
    x = rng.standard_normal((N, T, 2) if batch_first else (T, N, 2))
    mask = np.arange(T)[:, None] < np.array(lengths)[None, :]       # (T, N)
    mask = mask.T if batch_first else mask
    x[~mask] = 0
    packed = pack_padded_sequence(mg.tensor(x), lengths, batch_first, enforce_sorted=False)
    assert packed.data.shape == (sum(lengths), 2)
    padded, got = pad_packed_sequence(packed, batch_first)
    np.testing.assert_array_equal(padded.numpy(), x)
    assert got.tolist() == lengths and got.dtype == np.int64


def test_total_length_and_padding_value():
    packed = pack_sequence([mg.tensor([1.0, 2.0]), mg.tensor([3.0])])
    padded, lengths = pad_packed_sequence(packed, batch_first=True, padding_value=-1.0,
                                          total_length=4)
    assert padded.tolist() == [[1.0, 2.0, -1.0, -1.0], [3.0, -1.0, -1.0, -1.0]]
    with pytest.raises(ValueError, match="total_length=1 is shorter than the longest"):
        pad_packed_sequence(packed, total_length=1)


def test_gradients_flow_through_pack_and_pad():
    x = mg.tensor(np.random.default_rng(1).standard_normal((3, 2, 2)), requires_grad=True)
    padded, _ = pad_packed_sequence(pack_padded_sequence(x, [1, 3], enforce_sorted=False))
    w = np.random.default_rng(2).standard_normal(padded.shape)
    (padded * mg.tensor(w)).sum().backward()
    expected = w.copy()
    expected[1:, 0] = 0                                    # steps past sequence 0's length
    np.testing.assert_allclose(x.grad.numpy(), expected)
    assert mg.gradcheck(lambda t: pad_packed_sequence(
        pack_padded_sequence(t, [1, 3], enforce_sorted=False), padding_value=2.0)[0], [x])


def test_pad_sequence_layouts_and_gradient():
    a = mg.tensor([[1.0], [2.0]], requires_grad=True)
    b = mg.tensor([[3.0]], requires_grad=True)
    assert pad_sequence([a, b]).shape == (2, 2, 1)
    out = pad_sequence([a, b], batch_first=True, padding_value=9.0)
    assert out.tolist() == [[[1.0], [2.0]], [[3.0], [9.0]]]
    out.sum().backward()
    assert a.grad.tolist() == [[1.0], [1.0]] and b.grad.tolist() == [[1.0]]


def test_pack_sequence_sorts_when_asked():
    seqs = [mg.tensor([1.0]), mg.tensor([2.0, 3.0])]
    packed = pack_sequence(seqs, enforce_sorted=False)
    assert packed.data.tolist() == [2.0, 1.0, 3.0]
    assert packed.sorted_indices.tolist() == [1, 0]
    assert packed.unsorted_indices.tolist() == [1, 0]
    assert isinstance(packed, PackedSequence)


@pytest.mark.parametrize("call,error,message", [
    (lambda: pack_padded_sequence(mg.zeros((3, 2)), [1, 3]), ValueError,
     r"lengths \[1, 3\] are not in decreasing order; sort the batch or pass enforce_sorted"),
    (lambda: pack_padded_sequence(mg.zeros((3, 2)), [4, 1]), ValueError,
     "a length of 4 exceeds the 3 steps"),
    (lambda: pack_padded_sequence(mg.zeros((3, 2)), [3, 0]), ValueError,
     "every length must be at least 1"),
    (lambda: pack_padded_sequence(mg.zeros((3, 2)), [3]), ValueError,
     "expected lengths as 2 integers"),
    (lambda: pack_padded_sequence(mg.zeros((3, 2)), [3.5, 1.0]), ValueError,
     "expected lengths as 2 integers"),
    (lambda: pack_padded_sequence(mg.zeros(3), [3]), ValueError, "at least 2 dims"),
    (lambda: pack_padded_sequence(np.zeros((3, 2)), [3, 1]), TypeError, "expected a Tensor"),
    (lambda: pad_packed_sequence(mg.zeros((3, 2))), TypeError, "expected a PackedSequence"),
    (lambda: pad_sequence([]), ValueError, "non-empty list"),
    (lambda: pad_sequence([mg.zeros((2, 3)), mg.zeros((2, 4))]), ValueError,
     r"shape \(L, \*\) with one \*"),
])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
