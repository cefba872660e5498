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
