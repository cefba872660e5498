"""What ``Tensor``'s own methods promise (``minigrad/tensor.py``, ``checks.py``,
``grad_mode.py``), checked where the rest of the suite did not look: each test fails for a
small, realistic change (a repr that drops a field, a default flipped, an error message cut
short), found by a mutation run of those modules.
"""
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.checks import check_bool, check_int, check_number, pair, single


# The constructor ---------------------------------------------------------------------------

def test_the_constructor_makes_leaves_that_want_no_gradient_by_default():
    t = mg.Tensor(np.ones(2))
    assert t.requires_grad is False and t.grad_fn is None and t.is_leaf
    assert mg.Tensor([1, 2]).dtype == np.int64          # an int tensor: no gradient asked
    with pytest.raises(TypeError, match=re.escape(
            "only floating point tensors can require grad, got int64")):
        mg.Tensor([1, 2], requires_grad=True)


def test_a_tensor_made_from_a_tensor_holds_its_values():
    source = mg.tensor([1.5, 2.5], requires_grad=True)
    t = mg.Tensor(source)
    np.testing.assert_array_equal(t.numpy(), [1.5, 2.5])
    assert t.requires_grad is False and t.grad_fn is None
    assert mg.Tensor(source, dtype=np.float64).dtype == np.float64


def test_a_numpy_array_is_used_without_a_copy_when_its_dtype_is_kept():
    a = np.arange(3.0)
    for t in (mg.tensor(a), mg.tensor(a, dtype=np.float64)):
        assert np.shares_memory(t.data, a)
    assert not np.shares_memory(mg.tensor(a, dtype=np.float32).data, a)


# repr, len -----------------------------------------------------------------------------------

@pytest.mark.parametrize("make,text", [
    (lambda: mg.tensor([1.0, 2.0]), "tensor([1., 2.])"),
    (lambda: mg.tensor([[1.5, 2.0], [3.0, 4.0]], dtype=np.float64, requires_grad=True),
     "tensor([[1.5, 2. ],\n        [3. , 4. ]], dtype=float64, requires_grad=True)"),
    (lambda: mg.tensor([1.0, 2.0], requires_grad=True) * 2, "tensor([2., 4.], grad_fn=<Mul>)"),
    (lambda: mg.tensor([1.0], dtype=np.float64, requires_grad=True) * 2,
     "tensor([2.], dtype=float64, grad_fn=<Mul>)"),
    (lambda: mg.tensor([1, 2]), "tensor([1, 2], dtype=int64)"),
    (lambda: mg.tensor(3.0), "tensor(3.)"),
])
def test_repr_is_pytorchs_layout(make, text):
    assert repr(make()) == text


@pytest.mark.parametrize("shape,length", [((4,), 4), ((2, 5), 2), ((0, 3), 0), ((1,), 1)])
def test_len_is_the_first_axis(shape, length):
    assert len(mg.tensor(np.zeros(shape))) == length


def test_len_of_a_0d_tensor_is_a_type_error():
    with pytest.raises(TypeError, match="^" + re.escape("len() of a 0-d tensor") + "$"):
        len(mg.tensor(1.0))


# new_* ---------------------------------------------------------------------------------------

def test_new_tensor_takes_dtype_and_device_from_self_unless_given():
    base = mg.tensor([1.0], dtype=np.float64)
    t = base.new_tensor([1, 2])
    assert (t.dtype, t.device, t.requires_grad) == (np.float64, "cpu", False)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    t = base.new_tensor([1.5, 2.5], dtype=np.float32, requires_grad=True)
    assert (t.dtype, t.requires_grad, t.is_leaf) == (np.float32, True, True)
    np.testing.assert_array_equal(t.numpy(), [1.5, 2.5])
    assert base.new_tensor([1.0], device="cpu").device == "cpu"


@pytest.mark.parametrize("method,value", [("new_zeros", 0.0), ("new_ones", 1.0),
                                          ("new_empty", None)])
def test_new_filled_tensors_take_sizes_as_ints_or_one_tuple(method, value):
    base = mg.tensor([1.0], dtype=np.float64)
    for t in (getattr(base, method)(2, 3), getattr(base, method)((2, 3)),
              getattr(base, method)([2, 3])):
        assert (t.shape, t.dtype, t.requires_grad) == ((2, 3), np.float64, False)
        if value is not None:
            np.testing.assert_array_equal(t.numpy(), np.full((2, 3), value))
    t = getattr(base, method)(4, dtype=np.float32, requires_grad=True)
    assert (t.shape, t.dtype, t.requires_grad) == ((4,), np.float32, True)


# to ------------------------------------------------------------------------------------------

def test_to_a_dtype_by_position_or_keyword_casts_and_stays_differentiable():
    x = mg.tensor([1.5, -2.0], requires_grad=True)
    for y in (x.to(np.float64), x.to(dtype=np.float64), x.to("cpu", np.float64),
              x.to(device="cpu", dtype=np.float64)):
        assert y.dtype == np.float64 and y.device == "cpu"
        np.testing.assert_array_equal(y.numpy(), [1.5, -2.0])
        (y * mg.tensor([3.0, 4.0], dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [12.0, 16.0])
    assert x.grad.dtype == np.float32


def test_to_the_same_device_and_dtype_is_the_tensor_itself():
    x = mg.tensor([1.0, 2.0])
    assert x.to("cpu") is x and x.to(np.float32) is x and x.to() is x
    assert x.to("cpu", non_blocking=True) is x


# Conversions and casts -----------------------------------------------------------------------

def test_number_conversions_of_one_element_tensors():
    t = mg.tensor([[2.75]])
    assert (float(t), int(t), t.item()) == (2.75, 2, 2.75)
    assert [10, 20, 30][mg.tensor(1)] == 20                       # __index__
    assert bool(mg.tensor([0.5])) is True and bool(mg.tensor(0.0)) is False
    with pytest.raises(ValueError, match=re.escape(
            "the truth value of a tensor of shape (2,) is ambiguous")):
        bool(mg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=re.escape(
            "item(): only one-element tensors convert to a number, got shape (2,)")):
        mg.tensor([1.0, 2.0]).item()


def test_tensors_hash_by_identity():
    a, b = mg.tensor([1.0]), mg.tensor([1.0])
    assert hash(a) == id(a) and len({a, b, a}) == 2


@pytest.mark.parametrize("method,dtype", [("float", np.float32), ("double", np.float64),
                                          ("half", np.float16), ("long", np.int64),
                                          ("int", np.int32), ("bool", np.bool_)])
def test_cast_methods_give_their_dtype_and_values(method, dtype):
    t = getattr(mg.tensor([0.0, 1.5, -2.0], dtype=np.float64), method)()
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.numpy(), np.array([0.0, 1.5, -2.0]).astype(dtype))


def test_type_names_the_tensor_or_casts_it():
    assert mg.tensor([1.0]).type() == "minigrad.FloatTensor"
    assert mg.tensor([1]).type() == "minigrad.LongTensor"
    assert mg.tensor([1.0]).type(np.float64).dtype == np.float64
    assert mg.tensor([1.0]).type("minigrad.DoubleTensor").dtype == np.float64
    x = mg.tensor([1.5], requires_grad=True)
    y = x.type(np.float64)
    (y * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0])


def test_type_as_and_is_floating_point():
    t = mg.tensor([1, 2]).type_as(mg.tensor([0.5], dtype=np.float64))
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    assert mg.tensor([1.0]).is_floating_point() is True
    assert mg.tensor([1]).is_floating_point() is False
    assert mg.tensor([True]).is_floating_point() is False


def test_cpu_is_the_tensor_itself_here():
    t = mg.tensor([1.0])
    assert t.cpu() is t


def test_requires_grad_refuses_non_leaves_and_integer_tensors_exactly():
    with pytest.raises(RuntimeError, match=re.escape(
            "requires_grad_ can only change leaf tensors; use detach() to start a new leaf "
            "from a computed tensor")):
        (mg.tensor([1.0], requires_grad=True) * 2).requires_grad_()
    with pytest.raises(TypeError, match=re.escape(
            "only floating point tensors can require grad, got int64")):
        mg.tensor([1]).requires_grad_()
    t = mg.tensor([1.0]).requires_grad_()
    assert t.requires_grad is True and t.requires_grad_(False).requires_grad is False
    assert mg.tensor([1]).requires_grad_(False).requires_grad is False


# Operators with the tensor on the right ------------------------------------------------------

def test_reflected_operators_put_the_number_on_the_left():
    x = mg.tensor([1.0, 2.0, 4.0], requires_grad=True)
    np.testing.assert_array_equal((3 + x).numpy(), [4.0, 5.0, 7.0])
    np.testing.assert_array_equal((8 / x).numpy(), [8.0, 4.0, 2.0])
    np.testing.assert_array_equal((2 ** x).numpy(), [2.0, 4.0, 16.0])
    (8 / x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -8 / np.array([1.0, 4.0, 16.0]))
    x.grad = None
    (2 ** x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.log(2) * np.array([2.0, 4.0, 16.0]))


def test_matmul_with_an_array_on_either_side_takes_the_tensors_dtype():
    w = mg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=np.float64, requires_grad=True)
    a = np.array([[1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
    right, left = w @ a, a @ w
    assert right.dtype == left.dtype == np.float64
    np.testing.assert_array_equal(right.numpy(), w.numpy() @ a)
    np.testing.assert_array_equal(left.numpy(), a @ w.numpy())
    left.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), a.T @ np.ones((2, 2)))
    np.testing.assert_array_equal((w @ [1.0, 1.0]).numpy(), [3.0, 7.0])
    w32 = mg.tensor([[1.0, 2.0]], requires_grad=True)              # float32
    assert (w32 @ np.ones((2, 1))).dtype == (np.ones((1, 2)) @ w32.t()).dtype == np.float32
    v = mg.tensor([[3.0], [4.0]], requires_grad=True)
    (w32 @ v).sum().backward()                                     # both sides Tensors
    np.testing.assert_array_equal(v.grad.numpy(), [[1.0], [2.0]])
    np.testing.assert_array_equal(w32.grad.numpy(), [[3.0, 4.0]])


def test_abs_and_comparisons():
    x = mg.tensor([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(abs(x).numpy(), [2.0, 0.0, 3.0])
    np.testing.assert_array_equal(x.abs().numpy(), [2.0, 0.0, 3.0])
    other = mg.tensor([0.0, 0.0, 0.0])
    for result, expected in ((x <= 0, [True, True, False]), (x >= 0, [False, True, True]),
                             (x != 0, [True, False, True]), (x <= other, [True, True, False]),
                             (x >= other, [False, True, True]), (x != other, [True, False, True])):
        assert result.dtype == np.bool_
        np.testing.assert_array_equal(result.numpy(), expected)


# Methods that forward their arguments --------------------------------------------------------

def test_clip_methods_take_each_bound_alone():
    x = mg.tensor([-2.0, 0.5, 3.0])
    np.testing.assert_array_equal(x.clip(-1.0, 1.0).numpy(), [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(x.clip(low=0.0).numpy(), [0.0, 0.5, 3.0])
    np.testing.assert_array_equal(x.clip(high=0.0).numpy(), [-2.0, 0.0, 0.0])
    np.testing.assert_array_equal(x.clip(None, 1.0).numpy(), [-2.0, 0.5, 1.0])


def test_shape_methods_use_their_arguments_and_defaults():
    x = mg.tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.transpose(0, 2).shape == (4, 3, 2) and x.transpose(0, 1).shape == (3, 2, 4)
    np.testing.assert_array_equal(x.transpose(1, 2).numpy(), x.numpy().swapaxes(1, 2))
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    assert [t.shape for t in x.split(1)] == [(1, 3, 4), (1, 3, 4)]
    assert [t.shape for t in x.split(2, 2)] == [(2, 3, 2), (2, 3, 2)]
    assert [t.shape for t in x.chunk(3, 1)] == [(2, 1, 4)] * 3
    assert [t.shape for t in x.chunk(2)] == [(1, 3, 4)] * 2
    assert [t.shape for t in x.unbind()] == [(3, 4), (3, 4)]
    assert [t.shape for t in x.unbind(2)] == [(2, 3)] * 4
    np.testing.assert_array_equal(x.unbind(1)[2].numpy(), x.numpy()[:, 2])


def test_max_min_with_aliases_and_nonzero_as_tuple():
    x = mg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, indices = x.max(axis=1)
    np.testing.assert_array_equal(values.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    values, indices = x.min(axis=0, keepdims=True)
    np.testing.assert_array_equal(values.numpy(), [[1.0, 0.0, 2.0]])
    found = mg.tensor([[0, 1], [1, 1]]).nonzero(as_tuple=True)
    assert isinstance(found, tuple) and len(found) == 2
    np.testing.assert_array_equal(found[0].numpy(), [0, 1, 1])
    np.testing.assert_array_equal(found[1].numpy(), [1, 0, 1])
    np.testing.assert_array_equal(mg.tensor([[0, 1], [1, 0]]).nonzero().numpy(), [[0, 1], [1, 0]])


def test_sort_argsort_topk_pass_every_option():
    x = mg.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    np.testing.assert_array_equal(x.sort().values.numpy(), [[1, 2, 3], [0, 4, 5]])
    np.testing.assert_array_equal(x.sort(0, True).values.numpy(), [[3, 5, 4], [0, 1, 2]])
    np.testing.assert_array_equal(x.argsort().numpy(), [[1, 2, 0], [0, 2, 1]])
    np.testing.assert_array_equal(x.argsort(dim=0, descending=True).numpy(),
                                  [[0, 1, 1], [1, 0, 0]])
    ties = mg.tensor([1.0, 1.0, 0.0, 1.0])
    np.testing.assert_array_equal(ties.argsort(descending=True, stable=True).numpy(),
                                  [0, 1, 3, 2])
    values, indices = x.topk(2)
    np.testing.assert_array_equal(values.numpy(), [[3, 2], [5, 4]])
    values, indices = x.topk(1, dim=0, largest=False)
    np.testing.assert_array_equal(values.numpy(), [[0, 1, 2]])
    np.testing.assert_array_equal(indices.numpy(), [[1, 0, 0]])


def test_round_and_in_place_methods():
    np.testing.assert_array_equal(mg.tensor([1.26, -2.5]).round(1).numpy(),
                                  np.round(np.array([1.26, -2.5], np.float32), 1))
    np.testing.assert_array_equal(mg.tensor([1.5, 2.5]).round().numpy(), [2.0, 2.0])
    t = mg.tensor(np.zeros(3))
    t.copy_(mg.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0, 3.0])
    t[1] = 7.0
    t[mg.tensor([True, False, False])] = -1.0
    np.testing.assert_array_equal(t.numpy(), [-1.0, 7.0, 3.0])


def test_random_fills_default_to_the_standard_distributions():
    mg.manual_seed(0)
    t = mg.tensor(np.zeros(20000)).uniform_()
    assert 0.0 <= t.numpy().min() and t.numpy().max() < 1.0 and t.numpy().max() > 0.99
    assert abs(t.numpy().mean() - 0.5) < 0.01
    t = mg.tensor(np.zeros(20000)).normal_()
    assert abs(t.numpy().mean()) < 0.03 and abs(t.numpy().std() - 1.0) < 0.03


def test_elementwise_methods_match_numpy():
    v = np.array([0.5, 1.0, 2.0])
    x = mg.tensor(v)
    for name, fn in (("log", np.log), ("sin", np.sin), ("cos", np.cos)):
        np.testing.assert_allclose(getattr(x, name)().numpy(), fn(v).astype(np.float32),
                                   rtol=1e-6)
    np.testing.assert_array_equal(mg.tensor([-1.0, 2.0]).relu().numpy(), [0.0, 2.0])


def test_wrap_keeps_the_array_and_sets_only_the_flag():
    a = np.arange(3.0)
    t = mg.Tensor._wrap(a, requires_grad=True)
    assert t.data is a and t.requires_grad is True and t.grad_fn is None and t.is_leaf
    assert mg.Tensor._wrap(a).requires_grad is False
    t = mg.Tensor._wrap([1, 2])
    assert isinstance(t.data, np.ndarray) and t.data.tolist() == [1, 2]


# checks.py -----------------------------------------------------------------------------------


def test_check_int_takes_integers_at_or_above_the_bound():
    assert check_int("Op", "n", 3) == 3 and check_int("Op", "n", np.int64(3), low=3) == 3
    assert check_int("Op", "n", -5) == -5
    with pytest.raises(ValueError, match=re.escape("Op: n must be >= 4, got 3")):
        check_int("Op", "n", 3, low=4)
    with pytest.raises(TypeError, match=re.escape("Op: n must be an int, got 2.0 of type float")):
        check_int("Op", "n", 2.0)
    with pytest.raises(TypeError, match=re.escape("Op: n must be an int, got True")):
        check_int("Op", "n", True)


@pytest.mark.parametrize("value,low,high,low_open,high_open,inside", [
    (0.0, 0.0, 1.0, False, False, True), (1.0, 0.0, 1.0, False, False, True),
    (0.0, 0.0, 1.0, True, False, False), (1.0, 0.0, 1.0, False, True, False),
    (0.5, 0.0, 1.0, True, True, True), (-0.1, 0.0, None, False, False, False),
    (1e300, 0.0, None, False, False, True), (2.0, None, 1.0, False, False, False),
    (-1e300, None, 1.0, False, False, True), (float("nan"), 0.0, None, False, False, False),
    (float("nan"), None, 1.0, False, False, False),
])
def test_check_number_bounds_open_and_closed(value, low, high, low_open, high_open, inside):
    call = lambda: check_number("Op", "lr", value, low, high, low_open, high_open)  # noqa: E731
    if inside:
        assert call() == value
        return
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    interval = f"{left}{'-inf' if low is None else repr(low)}, " \
               f"{'inf' if high is None else repr(high)}{right}"
    with pytest.raises(ValueError, match=re.escape(
            f"Op: invalid lr {value!r}, expected a value in {interval}")):
        call()


def test_check_number_refuses_non_numbers_and_bools_by_type():
    assert check_number("Op", "lr", 3) == 3 and check_number("Op", "lr", np.float32(0.5)) == 0.5
    for bad, kind in (("0.1", "str"), (True, "bool"), (None, "NoneType")):
        with pytest.raises(TypeError, match=re.escape(
                f"Op: lr must be a real number, got {bad!r} of type {kind}")):
            check_number("Op", "lr", bad)


def test_check_number_defaults_to_closed_unbounded():
    assert check_number("Op", "x", float("inf"), 0.0) == float("inf")
    assert check_number("Op", "x", 1.0, high=1.0) == 1.0


def test_single_and_pair_read_ints_and_sequences():
    assert single("Conv1d", "stride", 3) == 3 and single("Conv1d", "stride", (4,)) == 4
    assert single("Conv1d", "stride", [np.int64(5)]) == 5
    assert pair("Conv2d", "stride", 3) == (3, 3) and pair("Conv2d", "stride", (2, 5)) == (2, 5)
    assert pair("Conv2d", "stride", [np.int32(1), 7]) == (1, 7)
    for bad in ((1, 2), 2.0, (True,), [], "3"):
        with pytest.raises(TypeError, match=re.escape(
                f"Conv1d: stride must be an int or a tuple of one int, got {bad!r}")):
            single("Conv1d", "stride", bad)
    for bad in ((1, 2, 3), (1,), 2.0, (1, True), (1.0, 2), True, "ab"):
        with pytest.raises(TypeError, match=re.escape(
                f"Conv2d: stride must be an int or a pair of ints, got {bad!r}")):
            pair("Conv2d", "stride", bad)


# grad_mode.py, hooks.py ----------------------------------------------------------------------

def test_set_grad_enabled_defaults_to_on_and_decorates_with_its_own_mode():
    x = mg.tensor([1.0], requires_grad=True)
    with mg.no_grad():
        with mg.set_grad_enabled():
            assert (x * 2).requires_grad

    @mg.set_grad_enabled(False)
    def off():
        return (x * 2).requires_grad

    @mg.set_grad_enabled(True)
    def on():
        return (x * 2).requires_grad

    assert off() is False and off() is False
    with mg.no_grad():
        assert on() is True


def test_a_hook_on_a_tensor_without_grad_is_refused_exactly():
    with pytest.raises(RuntimeError, match=re.escape(
            "register_hook: the tensor (shape (2,)) does not require grad, so no gradient will "
            "ever reach a hook on it")):
        mg.tensor([1.0, 2.0]).register_hook(lambda g: g)


def test_check_bool_takes_python_and_numpy_bools_only():
    assert check_bool("Op", "flag", True) is True and check_bool("Op", "flag", False) is False
    assert check_bool("Op", "flag", np.bool_(True)) is True  # a plain bool comes back
    for value in (1, 0, None, "no", 1.0):
        expected = f"^Op: flag must be a bool, got {re.escape(repr(value))}$"
        with pytest.raises(TypeError, match=expected):
            check_bool("Op", "flag", value)
