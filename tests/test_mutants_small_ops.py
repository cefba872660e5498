"""What the small ops modules promise (``ops/inplace.py``, ``ops/fills.py``, ``ops/split.py``,
``ops/sort.py``, ``ops/cumulative.py``, ``ops/along.py``), checked where the rest of the suite did
not look: each test fails for a small, realistic change (a default changed, a value written
wrongly, the version counter bumped by the wrong amount, an error that no longer names its op).
"""
import numpy as np
import pytest

import minigrad as mg


def _version_step(change, t):
    """How far ``change(t)`` moves t's version counter, from a counter that is already > 0 (a
    change that *sets* the counter to 1 instead of adding 1 shows up here)."""
    t += 0.0
    before = t._version
    assert before >= 1
    change(t)
    return t._version - before


# --- in-place changes: what they write, the counter, the refusal ---------------------------

def test_zero_writes_zeros_and_bumps_the_version_once():
    t = mg.tensor([1.0, -2.0, 3.0])
    assert _version_step(lambda u: u.zero_(), t) == 1
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.0, 0.0])


def test_setitem_writes_the_value_at_the_key_and_bumps_the_version_once():
    t = mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert _version_step(lambda u: u.__setitem__((1, mg.tensor([0, 2])), 9.0), t) == 1
    np.testing.assert_array_equal(t.numpy(), [[1.0, 2.0, 3.0], [9.0, 5.0, 9.0]])
    t[0] = mg.tensor([7.0, 8.0, 0.5])
    np.testing.assert_array_equal(t.numpy(), [[7.0, 8.0, 0.5], [9.0, 5.0, 9.0]])
    t[[1, 0], 2] = -1.0                                  # a list key becomes an index array
    np.testing.assert_array_equal(t.numpy(), [[7.0, 8.0, -1.0], [9.0, 5.0, -1.0]])


def test_copy_writes_the_source_and_bumps_the_version_once():
    t = mg.zeros(2, 2)
    assert _version_step(lambda u: u.copy_(np.array([1.0, 2.0])), t) == 1
    np.testing.assert_array_equal(t.numpy(), [[1.0, 2.0], [1.0, 2.0]])


@pytest.mark.parametrize("change, words", [
    (lambda t: t.zero_(), r"in-place zero_ on a tensor that requires grad \(shape \(3,\)\); "
                          r"wrap it in mg.no_grad\(\)"),
    (lambda t: t.copy_(np.ones(3)), r"in-place copy_ into a tensor that requires grad "
                                    r"\(shape \(3,\)\); wrap it in mg.no_grad\(\)"),
    (lambda t: t.__setitem__(0, 1.0), r"in-place assignment into a tensor that requires grad "
                                      r"\(shape \(3,\)\); build a new tensor \(e.g. mg.where\) "
                                      r"instead"),
    (lambda t: t.fill_(1.0), r"in-place fill_ on a tensor that requires grad \(shape \(3,\)\); "
                             r"wrap it in mg.no_grad\(\)"),
    (lambda t: t.normal_(), r"in-place normal_ on a tensor that requires grad"),
    (lambda t: t.uniform_(), r"in-place uniform_ on a tensor that requires grad"),
    (lambda t: t.masked_fill_(np.array([True, False, True]), 0.0),
     r"in-place masked_fill_ on a tensor that requires grad"),
])
def test_an_in_place_change_of_a_tensor_that_requires_grad_names_itself(change, words):
    t = mg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=words):
        change(t)
    assert t._version == 0


def test_augmented_assignment_errors_say_whether_the_tensor_is_a_leaf_or_in_the_graph():
    leaf = mg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"in-place \+= on a leaf tensor that requires grad "
                                           r"\(shape \(3,\)\) would corrupt its gradient; use an "
                                           r"out-of-place op \(x = x \+ y\)"):
        leaf += 1.0
    inner = leaf * 2.0
    with pytest.raises(RuntimeError, match=r"in-place \*= on a tensor that is part of the "
                                           r"graph \(shape \(3,\)\)"):
        inner *= 2.0


def test_augmented_assignment_with_an_operand_numpy_defers_to_is_a_type_error():
    class Deferring:
        __array_priority__ = 1000

        def __radd__(self, other):
            return other

    t = mg.zeros(3)
    with pytest.raises(TypeError, match="in-place \\+= is not supported between float32 and "
                                        "Deferring"):
        t += Deferring()
    assert t._version == 0


# --- fills -------------------------------------------------------------------------------

def test_normal_defaults_to_the_standard_normal():
    mg.manual_seed(0)
    t = mg.zeros(40_000, dtype=np.float64)
    assert _version_step(lambda u: u.normal_(), t) == 1
    values = t.numpy()
    assert abs(values.mean()) < 0.03 and abs(values.std() - 1.0) < 0.03
    t.normal_(mean=5.0, std=0.5)
    assert abs(t.numpy().mean() - 5.0) < 0.03 and abs(t.numpy().std() - 0.5) < 0.03


def test_uniform_defaults_to_the_unit_interval_and_spans_a_to_b():
    mg.manual_seed(1)
    t = mg.zeros(40_000, dtype=np.float64)
    assert _version_step(lambda u: u.uniform_(), t) == 1
    values = t.numpy()
    assert 0.0 <= values.min() < 0.01 and 0.99 < values.max() < 1.0
    assert len(np.unique(values)) > 39_000
    t.uniform_(2.0, 5.0)
    values = t.numpy()
    assert 2.0 <= values.min() < 2.01 and 4.99 < values.max() < 5.0
    assert abs(values.mean() - 3.5) < 0.03


def test_masked_fill_in_place_keeps_unmasked_entries():
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    mask = np.array([[True, False], [False, True]])
    assert _version_step(lambda u: u.masked_fill_(mask, -1.0), t) == 1
    np.testing.assert_array_equal(t.numpy(), [[-1.0, 2.0], [3.0, -1.0]])


@pytest.mark.parametrize("name", ["masked_fill_", "masked_fill"])
def test_masked_fill_refuses_a_mask_that_is_not_bool_and_names_itself(name):
    call = lambda t, m: getattr(t, name)(m, 0.0)  # noqa: E731
    with pytest.raises(TypeError, match=f"^{name}: mask must be a bool tensor, got int64"):
        call(mg.zeros(2), np.array([1, 0]))


# --- split, sort, cumulative -------------------------------------------------------------

def test_unbind_defaults_to_the_first_dim_and_names_itself_in_errors():
    x = mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    rows = mg.unbind(x)
    assert [r.tolist() for r in rows] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert [c.tolist() for c in mg.unbind(x, 1)] == [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]
    with pytest.raises(IndexError, match="^unbind: axis 2 is out of range"):
        mg.unbind(x, 2)


def test_sort_is_ascending_by_default_and_sorts_a_0d_tensor_to_itself():
    values, indices = mg.sort(mg.tensor([[3.0, 1.0, 2.0]]))
    assert values.tolist() == [[1.0, 2.0, 3.0]] and indices.tolist() == [[1, 2, 0]]
    values, indices = mg.sort(mg.tensor([[3.0, 1.0, 2.0]]), descending=True)
    assert values.tolist() == [[3.0, 2.0, 1.0]] and indices.tolist() == [[0, 2, 1]]
    scalar = mg.tensor(4.0, requires_grad=True)
    values, indices = mg.sort(scalar)
    assert values.item() == 4.0 and indices.item() == 0 and indices.shape == ()
    values.backward()
    assert scalar.grad.item() == 1.0


def test_cumprod_names_itself_in_errors():
    with pytest.raises(IndexError, match="^cumprod: axis 3 is out of range"):
        mg.cumprod(mg.zeros(2), 3)


# --- scatter: a number or a tensor written at the indices -----------------------------------

def test_scatter_writes_a_number_at_the_indices_and_keeps_the_rest():
    x = mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    out = mg.scatter(x, 1, mg.tensor([[2], [0]]), 0.5)
    np.testing.assert_array_equal(out.numpy(), [[1.0, 2.0, 0.5], [0.5, 5.0, 6.0]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])


def test_scatter_writes_a_tensor_and_routes_its_gradient():
    x = mg.zeros(3, 2, requires_grad=True)
    src = mg.tensor([[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]], requires_grad=True)
    index = mg.tensor([[2, 0], [0, 1]])            # only src's leading (2, 2) block is written
    out = mg.scatter(x, 0, index, src)
    np.testing.assert_array_equal(out.numpy(), [[30.0, 20.0], [0.0, 40.0], [10.0, 0.0]])
    (out * mg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    np.testing.assert_array_equal(src.grad.numpy(), [[5.0, 2.0], [1.0, 4.0], [0.0, 0.0]])
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.0], [3.0, 0.0], [0.0, 6.0]])


def test_scatter_checks_the_index_against_src_and_names_itself():
    x = mg.zeros(3, 3)
    with pytest.raises(ValueError, match=r"^scatter: index of shape \(2, 2\) is larger than the "
                                         r"input \(3, 3\) outside dim 0 or than src \(1, 2\)"):
        mg.scatter(x, 0, mg.tensor([[0, 1], [1, 2]]), mg.ones(1, 2))
    with pytest.raises(IndexError, match=r"^scatter: index values must be in \[-3, 3\)"):
        mg.scatter(x, 0, mg.tensor([[3]]), 1.0)


# --- sort, argsort, topk: defaults, ties, integer and bool keys -----------------------------

def test_a_stable_sort_keeps_ties_in_order_where_numpys_default_would_not():
    x = np.random.default_rng(0).integers(0, 3, 1000).astype(np.float32)
    for descending in (False, True):
        values, indices = mg.sort(mg.tensor(x), descending=descending, stable=True)
        expected = np.argsort(-x if descending else x, kind="stable")
        np.testing.assert_array_equal(indices.numpy(), expected)
        np.testing.assert_array_equal(values.numpy(), x[expected])
    np.testing.assert_array_equal(mg.argsort(mg.tensor(x), stable=True).numpy(),
                                  np.argsort(x, kind="stable"))
    # topk keeps the first of tied entries, largest or smallest
    np.testing.assert_array_equal(mg.topk(mg.tensor(x), 400, largest=False).indices.numpy(),
                                  np.argsort(x, kind="stable")[:400])
    np.testing.assert_array_equal(mg.topk(mg.tensor(x), 400).indices.numpy(),
                                  np.argsort(-x, kind="stable")[:400])


@pytest.mark.parametrize("values, expected", [
    ([True, False, True, False], [0, 2, 1, 3]),
    (np.array([0, 1, 2, 1, 0], dtype=np.uint8), [2, 1, 3, 0, 4]),       # -x would wrap
    (np.array([-128, 5, -128, 127], dtype=np.int8), [3, 1, 0, 2]),     # -(-128) is -128
    (np.array([[0, 2], [1, 2], [0, 1]]), [[1, 0], [0, 1], [2, 2]]),   # along dim 0 below
])
def test_descending_sort_of_integers_and_bools_is_right_and_stable(values, expected):
    x = mg.tensor(np.asarray(values))
    dim = 0 if x.ndim == 2 else -1
    sorted_values, indices = mg.sort(x, dim=dim, descending=True, stable=True)
    np.testing.assert_array_equal(indices.numpy(), expected)
    np.testing.assert_array_equal(sorted_values.numpy(),
                                  np.take_along_axis(np.asarray(values), np.asarray(expected), dim))


def test_argsort_and_topk_defaults_and_0d_tensors():
    x = mg.tensor([1.0, 5.0, 3.0, 4.0])
    assert mg.argsort(x).tolist() == [0, 2, 3, 1]
    assert mg.topk(x, 2).values.tolist() == [5.0, 4.0]            # largest by default
    assert mg.topk(x, 0).values.shape == (0,)                      # k = 0 is allowed
    scalar = mg.tensor(2.5)
    assert mg.argsort(scalar).dtype == np.int64 and mg.argsort(scalar).item() == 0
    values, indices = mg.topk(scalar, 1)
    assert values.item() == 2.5 and indices.item() == 0 and indices.dtype == np.int64
    assert mg.topk(scalar, 0).values.item() == 2.5
    with pytest.raises(ValueError, match=r"^topk: k must be in \[0, 1\] for dim 0 of shape "
                                         r"\(\), got 2"):
        mg.topk(scalar, 2)
    with pytest.raises(ValueError, match=r"^topk: k must be in \[0, 4\]"):
        mg.topk(x, 5)


@pytest.mark.parametrize("op, call", [
    ("argsort", lambda x: mg.argsort(x, 2)), ("topk", lambda x: mg.topk(x, 1, 2)),
    ("narrow", lambda x: mg.narrow(x, 2, 0, 1)), ("split", lambda x: mg.split(x, 1, 2)),
    ("chunk", lambda x: mg.chunk(x, 1, 2)), ("gather", lambda x: mg.gather(x, 2, [[0]])),
    ("scatter_add", lambda x: mg.scatter_add(x, 2, [[0]], mg.ones(1, 1))),
    ("index_select", lambda x: mg.index_select(x, 2, [0])),
])
def test_an_axis_out_of_range_names_the_op(op, call):
    with pytest.raises(IndexError, match=f"^{op}: axis 2 is out of range for a tensor of 2 "
                                         "dimensions"):
        call(mg.zeros(2, 3))


# --- split, chunk, narrow ------------------------------------------------------------------

def test_split_and_chunk_default_to_the_first_dim_and_check_their_sizes():
    x = mg.arange(12.0).reshape(6, 2)
    assert [p.shape for p in mg.split(x, 4)] == [(4, 2), (2, 2)]
    assert [p.shape for p in mg.split(x, 1)] == [(1, 2)] * 6
    assert [p.shape for p in mg.chunk(x, 4)] == [(2, 2)] * 3
    assert [p.shape for p in mg.chunk(x, 1)] == [(6, 2)]
    assert [p.shape for p in mg.chunk(x, 12)] == [(1, 2)] * 6      # pieces of at least 1
    assert [p.shape for p in mg.split(mg.zeros(0, 2), 3)] == [(0, 2)]  # one empty piece
    with pytest.raises(ValueError, match="^split: split_size must be positive, got 0"):
        mg.split(x, 0)
    with pytest.raises(ValueError, match="^chunk: chunks must be positive, got 0"):
        mg.chunk(x, 0)
    with pytest.raises(ValueError, match=r"^split: sizes \[2, 2\] sum to 4, but dim 0 has "
                                         r"length 6 \(shape \(6, 2\)\)"):
        mg.split(x, [2, 2])


def test_narrow_takes_empty_slices_up_to_the_end():
    x = mg.arange(5.0)
    assert mg.narrow(x, 0, 5, 0).shape == (0,)
    assert mg.narrow(x, 0, 2, 0).shape == (0,)
    assert mg.narrow(x, 0, -2, 2).tolist() == [3.0, 4.0]
    with pytest.raises(ValueError, match=r"^narrow: start 4 and length 2 do not fit dim 0 of "
                                         r"length 5 \(shape \(5,\)\)"):
        mg.narrow(x, 0, 4, 2)


# --- gather, scatter_add, index_select: index checks and smaller indices ------------------

def test_gather_with_an_index_smaller_than_the_input_and_negative_entries():
    x = np.arange(12.0).reshape(3, 4)
    index = np.array([[3, -1], [0, -4]])                   # (2, 2): smaller than x outside dim
    out = mg.gather(mg.tensor(x), 1, index)
    np.testing.assert_array_equal(out.numpy(), [[3.0, 3.0], [4.0, 4.0]])
    out = mg.gather(mg.tensor(x), 0, np.array([[-3, 2]]))  # -n is the first row
    np.testing.assert_array_equal(out.numpy(), [[0.0, 9.0]])


def test_gather_and_scatter_add_refuse_an_index_larger_than_the_input_or_src():
    x = mg.zeros(2, 3)
    with pytest.raises(ValueError, match=r"^gather: index of shape \(3, 1\) is larger than the "
                                         r"input \(2, 3\) outside dim 1$"):
        mg.gather(x, 1, np.zeros((3, 1), dtype=np.int64))
    with pytest.raises(ValueError, match=r"^scatter_add: index of shape \(2, 2\) is larger than "
                                         r"the input \(2, 3\) outside dim 0 or than src \(2, 1\)"):
        mg.scatter_add(x, 0, np.zeros((2, 2), dtype=np.int64), mg.ones(2, 1))
    with pytest.raises(ValueError, match=r"^gather: index must be an integer tensor with the 2 "
                                         r"dims of the input"):
        mg.gather(x, 1, np.zeros((2, 1)))


def test_scatter_add_keeps_float32_and_adds_repeats():
    x = mg.zeros(2, 3, dtype=np.float32)
    src = mg.ones(2, 2, dtype=np.float32, requires_grad=True)
    out = mg.scatter_add(x, 1, np.array([[0, 0], [2, 1]]), src)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), [[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    out.sum().backward()
    assert src.grad.dtype == np.float32


def test_index_select_wants_a_1d_integer_index():
    x = mg.tensor([[1.0, 2.0, 3.0]])
    for bad in (np.array([[0]]), np.array([0.0])):
        with pytest.raises(ValueError, match="^index_select: index must be a 1-D integer tensor"):
            mg.index_select(x, 1, bad)


def test_cumsum_and_cumprod_refuse_dim_and_axis_together_by_name():
    for op in ("cumsum", "cumprod"):
        with pytest.raises(TypeError, match=f"^{op}: "):
            getattr(mg, op)(mg.zeros(3), dim=0, axis=0)


def test_nan_sorts_last_ascending_and_first_descending_as_in_pytorch():
    x = mg.tensor([1.0, np.nan, 2.0, np.nan, 2.0])
    values, indices = mg.sort(x)
    assert indices.tolist() == [0, 2, 4, 1, 3]
    values, indices = mg.sort(x, descending=True)
    assert indices.tolist() == [1, 3, 2, 4, 0]
    assert np.isnan(values.numpy()[:2]).all() and values.numpy()[2:].tolist() == [2.0, 2.0, 1.0]
    assert mg.topk(x, 3).indices.tolist() == [1, 3, 2]
