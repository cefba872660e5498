"""Reductions at their edges: dim 0 and -1 of a 0-d tensor (PyTorch takes both and returns a
0-d result), error messages that name the op called, and ``var``/``std`` refusing ``unbiased``
given twice."""
import math

import numpy as np
import pytest

import minigrad as mg

# name -> the exact value of the reduction of the 0-d tensor 3.0 (var/std: n - 1 = 0, so nan)
SCALAR_VALUES = {
    "sum": 3.0, "mean": 3.0, "prod": 3.0, "amax": 3.0, "amin": 3.0, "logsumexp": 3.0,
    "var": math.nan, "std": math.nan, "argmax": 0, "argmin": 0, "all": True, "any": True,
}
DIFFERENTIABLE = ("sum", "mean", "prod", "amax", "amin", "logsumexp")


@pytest.mark.parametrize("name", sorted(SCALAR_VALUES))
@pytest.mark.parametrize("dim", [0, -1, (0,), (-1,)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reductions_take_dim_0_and_minus_1_of_a_0d_tensor(name, dim, keepdim):
    if isinstance(dim, tuple) and name in ("argmax", "argmin"):
        dim = dim[0]  # one int only, as for any tensor
    out = getattr(mg, name)(mg.tensor(3.0), dim, keepdim=keepdim)
    assert out.shape == ()
    np.testing.assert_array_equal(out.numpy(), np.asarray(SCALAR_VALUES[name]))


@pytest.mark.parametrize("dim", [0, -1])
def test_0d_values_that_tell_the_reductions_apart(dim):
    assert mg.all(mg.tensor(0.0), dim).item() is False
    assert mg.any(mg.tensor(0.0), dim).item() is False
    assert mg.var(mg.tensor(3.0), dim, correction=0).item() == 0.0
    assert mg.std(mg.tensor(3.0), dim, False).item() == 0.0
    assert mg.mean(mg.tensor(-2.5), dim).item() == -2.5
    assert mg.logsumexp(mg.tensor(-800.0), dim).item() == -800.0  # no underflow to log 0


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_along_dim_of_a_0d_tensor(name, dim, keepdim):
    x = mg.tensor(-1.5, requires_grad=True)
    values, indices = getattr(mg, name)(x, dim, keepdim)
    assert values.shape == () and indices.shape == ()
    assert values.item() == -1.5 and indices.item() == 0 and indices.dtype == np.int64
    values.backward()
    assert x.grad.item() == 1.0


@pytest.mark.parametrize("name", DIFFERENTIABLE)
@pytest.mark.parametrize("dim", [0, -1])
def test_0d_reduction_gradients(name, dim):
    x = mg.tensor(0.7, dtype="float64", requires_grad=True)
    getattr(mg, name)(x, dim).backward()
    assert x.grad.shape == () and x.grad.item() == 1.0  # every one is the identity on one entry
    fn = lambda v: getattr(mg, name)(v * v, dim, keepdim=True)  # noqa: E731
    assert mg.gradcheck(fn, [x]) and mg.gradgradcheck(fn, [x])


@pytest.mark.parametrize("op", ["var", "std"])
def test_0d_var_std_gradient(op):
    # one entry: the variance about its own mean is 0 whatever x is, so the gradient is 0
    x = mg.tensor(0.7, dtype="float64", requires_grad=True)
    mg.var(x, -1, correction=0).backward()
    assert x.grad.item() == 0.0
    assert mg.gradcheck(lambda v: mg.var(v, 0, keepdim=True, correction=0), [x])


@pytest.mark.parametrize("name", sorted(SCALAR_VALUES) + ["max", "min"])
@pytest.mark.parametrize("dim", [1, -2])
def test_0d_reductions_refuse_other_dims_naming_the_op(name, dim):
    with pytest.raises(IndexError, match=rf"^{name}: dim {dim} is out of range for a 0-d"):
        getattr(mg, name)(mg.tensor(3.0), dim)
    if name not in ("max", "min", "argmax", "argmin"):  # these take one int only
        with pytest.raises(IndexError, match=rf"^{name}: dim {dim} is out of range for a 0-d"):
            getattr(mg, name)(mg.tensor(3.0), (0, dim))


def test_duplicate_dims_of_a_0d_tensor_collapse_as_for_any_tensor():
    # 0 and -1 name the same entry; minigrad reduces a repeated axis once, at every ndim
    assert mg.sum(mg.tensor(3.0), (0, -1)).item() == 3.0
    assert mg.sum(mg.ones(2, 3), (0, -2)).tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_refuse_a_tuple_of_dims(name):
    for x in (mg.tensor(3.0), mg.ones(2, 3)):
        with pytest.raises(TypeError, match=rf"^{name}: dim must be one int, got \(0,\)"):
            getattr(mg, name)(x, (0,))


@pytest.mark.parametrize("name", ["amax", "amin", "max", "min"])
def test_extreme_errors_name_the_op_called(name):
    with pytest.raises(ValueError, match=rf"^{name}: cannot reduce an empty axis"):
        getattr(mg, name)(mg.ones(2, 0), 1)
    with pytest.raises(IndexError, match=rf"^{name}: axis 2 is out of range"):
        getattr(mg, name)(mg.ones(2, 3), 2)


def test_std_errors_name_std():
    with pytest.raises(IndexError, match=r"^std: axis 5 is out of range"):
        mg.std(mg.ones(2, 3), 5)
    with pytest.raises(IndexError, match=r"^std: dim 1 is out of range for a 0-d"):
        mg.std(mg.tensor(1.0), 1)
    with pytest.raises(TypeError, match=r"^std: got both keepdim=True and keepdims=True"):
        mg.std(mg.ones(2, 3), 1, keepdim=True, keepdims=True)


@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize("positional, keyword", [(True, False), (False, True), (True, True),
                                                 (False, False)])
def test_var_std_refuse_unbiased_both_in_place_of_dim_and_by_keyword(op, positional, keyword):
    x = mg.tensor([1.0, 2.0, 4.0])
    with pytest.raises(TypeError, match=rf"^{op}: got unbiased={positional} in the place of dim "
                                        rf"and unbiased={keyword}"):
        getattr(mg, op)(x, positional, unbiased=keyword)
    with pytest.raises(TypeError, match=rf"^{op}: got unbiased={positional} in the place of dim "
                                        rf"and unbiased={keyword}"):
        getattr(x, op)(positional, unbiased=keyword)


@pytest.mark.parametrize("op, ref", [("var", np.var), ("std", np.std)])
def test_var_std_unbiased_alone_still_taken_in_either_place(op, ref):
    data = np.array([1.0, 2.0, 4.0])
    x = mg.tensor(data)
    for unbiased in (True, False):
        expected = ref(data, ddof=int(unbiased))
        np.testing.assert_allclose(getattr(mg, op)(x, unbiased).item(), expected, rtol=1e-6)
        np.testing.assert_allclose(getattr(mg, op)(x, unbiased=unbiased).item(), expected,
                                   rtol=1e-6)
    with pytest.raises(TypeError, match=rf"^{op}: got both unbiased=False and correction=0"):
        getattr(mg, op)(x, False, correction=0)


@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0")
def test_0d_reductions_vs_torch():
    torch = pytest.importorskip("torch")
    ours = mg.tensor(0.7, dtype="float64", requires_grad=True)
    theirs = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    for name in sorted(SCALAR_VALUES) + ["max", "min"]:
        for dim in (0, -1):
            for keepdim in (False, True):
                a = getattr(mg, name)(ours, dim, keepdim)
                b = getattr(torch, name)(theirs, dim, keepdim)
                a, b = (a, b) if name not in ("max", "min") else (a.values, b.values)
                assert a.shape == tuple(b.shape) == ()
                np.testing.assert_array_equal(a.numpy(), b.detach().numpy())
        with pytest.raises(IndexError):
            getattr(torch, name)(theirs, 1)
    for name in DIFFERENTIABLE + ("max", "min"):
        ours.grad, theirs.grad = None, None
        a, b = getattr(mg, name)(ours, -1), getattr(torch, name)(theirs, -1)
        a, b = (a, b) if name not in ("max", "min") else (a.values, b.values)
        a.backward()
        b.backward()
        assert ours.grad.item() == theirs.grad.item() == 1.0
    values, indices = torch.max(theirs, 0)
    assert indices.shape == () and indices.item() == 0


def test_var_unbiased_twice_vs_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError):
        torch.var(torch.tensor([1.0, 2.0, 4.0]), True, unbiased=False)
    with pytest.raises(TypeError, match=r"^var: got unbiased=True in the place of dim"):
        mg.var(mg.tensor([1.0, 2.0, 4.0]), True, unbiased=False)


@pytest.mark.parametrize("value, count", [(3.0, 1), (0.0, 0)])
def test_nonzero_of_a_0d_tensor(value, count):
    """PyTorch: a nonzero scalar gives indices of shape (1, 0), a zero one (0, 0); as a tuple,
    one index tensor of length 1 or 0."""
    out = mg.nonzero(mg.tensor(value))
    assert out.shape == (count, 0) and out.dtype == np.int64
    (only,) = mg.nonzero(mg.tensor(value), as_tuple=True)
    assert only.tolist() == [0] * count and only.dtype == np.int64


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dim", [0, -1])
def test_running_ops_take_dim_0_and_minus_1_of_a_0d_tensor(op, dim):
    x = mg.tensor(2.5, requires_grad=True)
    out = getattr(mg, op)(x, dim)
    assert out.shape == () and out.item() == 2.5
    out.backward()
    assert x.grad.item() == 1.0
    with pytest.raises(IndexError):
        getattr(mg, op)(x, 1)


@pytest.mark.parametrize("shape, dim, keepdim", [
    ((0, 3), None, False), ((0, 3), 0, False), ((0, 3), 0, True), ((2, 0, 3), (0, 1), False),
    ((0, 3), 1, False), ((2, 0), 0, True)])
def test_mean_of_nothing_is_nan_without_a_warning(shape, dim, keepdim):
    """The mean over axes that hold no entries is NaN (NumPy's and PyTorch's value), not 0;
    over a non-empty axis of an empty tensor it is an empty result. No 0/0 warning either way,
    and the gradient reaches x with x's (empty) shape."""
    import warnings
    values = np.zeros(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = values.mean(axis=dim, keepdims=keepdim)
    x = mg.tensor(values, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = x.mean(dim, keepdim=keepdim)
        out.sum().backward()
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_array_equal(out.numpy(), expected)  # NaN equals NaN here
    assert x.grad.shape == shape
