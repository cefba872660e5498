"""PyTorch's ``dim``/``keepdim`` on every reduction, scan and joining op, NumPy's
``axis``/``keepdims`` as aliases, and PyTorch's return types for max/min along a dim."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import strategies as S

RNG = np.random.default_rng(8)
X = RNG.uniform(0.5, 1.5, size=(2, 3, 4))

# name -> NumPy reference with (x, axis, keepdims); every one takes dim and keepdim
REDUCTIONS = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "amax": np.max, "amin": np.min,
    "logsumexp": lambda x, axis, keepdims: np.log(np.exp(x).sum(axis, keepdims=keepdims)),
    "var": lambda x, axis, keepdims: np.var(x, axis, ddof=1, keepdims=keepdims),
    "std": lambda x, axis, keepdims: np.std(x, axis, ddof=1, keepdims=keepdims),
    "argmax": np.argmax, "argmin": np.argmin,
    "all": lambda x, axis, keepdims: np.all(x > 1, axis, keepdims=keepdims),
    "any": lambda x, axis, keepdims: np.any(x > 1.4, axis, keepdims=keepdims),
}


def _input(name):
    if name == "all":
        return X > 1
    if name == "any":
        return X > 1.4
    return X


def _call(name, x, *args, **kwargs):
    if name in ("var", "std") and len(args) == 2:  # PyTorch's order: (dim, unbiased, keepdim)
        args = (args[0], None, args[1])
    return getattr(mg, name)(x, *args, **kwargs)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_every_reduction_takes_dim_and_keepdim_in_every_spelling(name, dim, keepdim):
    x = mg.tensor(_input(name))
    expected = REDUCTIONS[name](X, axis=dim, keepdims=keepdim)
    outs = [_call(name, x, dim, keepdim),
            getattr(mg, name)(x, dim=dim, keepdim=keepdim),
            getattr(x, name)(dim=dim, keepdim=keepdim),
            getattr(mg, name)(x, axis=dim, keepdims=keepdim),
            getattr(x, name)(axis=dim, keepdims=keepdim)]
    for out in outs:
        assert out.shape == expected.shape
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_both_spellings_at_once_are_a_type_error(name):
    x = mg.tensor(_input(name))
    with pytest.raises(TypeError, match=rf"{name}: got both dim=1 and axis=0; give one"):
        getattr(x, name)(dim=1, axis=0)
    with pytest.raises(TypeError, match=rf"{name}: got both keepdim=False and keepdims=True"):
        getattr(mg, name)(x, 1, keepdim=False, keepdims=True)


def test_reductions_over_several_dims_or_all():
    x = mg.tensor(X)
    np.testing.assert_allclose(x.sum((0, 2)).numpy(), X.sum((0, 2)), rtol=1e-6)
    np.testing.assert_allclose(x.mean(dim=(0, -1), keepdim=True).numpy(),
                               X.mean((0, 2), keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(x.amax((1, 2)).numpy(), X.max((1, 2)))
    assert x.sum().shape == () and x.argmax().item() == X.argmax()


def test_max_and_min_follow_pytorchs_three_forms():
    x = mg.tensor(X, requires_grad=True)
    whole = x.max()
    assert whole.shape == () and whole.item() == pytest.approx(X.max())
    values, indices = x.max(1)
    np.testing.assert_allclose(values.numpy(), X.max(1))
    np.testing.assert_array_equal(indices.numpy(), X.argmax(1))
    assert indices.dtype == np.int64 and not indices.requires_grad
    result = mg.min(x, dim=-1, keepdim=True)
    assert result.values.shape == (2, 3, 1) and result.indices.shape == (2, 3, 1)
    np.testing.assert_array_equal(result.indices.numpy(), X.argmin(-1)[..., None])
    other = mg.tensor(np.full(X.shape, 1.0))
    np.testing.assert_allclose(x.max(other).numpy(), np.maximum(X, 1.0))
    np.testing.assert_allclose(mg.min(x, other).numpy(), np.minimum(X, 1.0))


def test_max_along_a_dim_sends_the_gradient_to_the_maximum():
    x = mg.tensor([[1.0, 5.0, 2.0], [4.0, 0.0, 3.0]], requires_grad=True)
    x.max(dim=1).values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]


def test_max_with_several_dims_points_to_amax():
    with pytest.raises(TypeError, match=r"max: dim must be one int .* use amax\(x, dim=\(0, 1\)\)"):
        mg.tensor(X).max(dim=(0, 1))
    with pytest.raises(IndexError, match="argmin: axis 3 is out of range"):
        mg.tensor(X).argmin(3)


@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_and_std_take_unbiased_or_correction(correction):
    x = mg.tensor(X)
    for name in ("var", "std"):
        ref = getattr(np, name)
        np.testing.assert_allclose(getattr(x, name)(1, correction=correction).numpy(),
                                   ref(X, 1, ddof=correction), rtol=1e-5)
        np.testing.assert_allclose(getattr(x, name)(1, False, True).numpy(),
                                   ref(X, 1, keepdims=True), rtol=1e-5)
        np.testing.assert_allclose(getattr(mg, name)(x, unbiased=True).numpy(),
                                   ref(X, ddof=1), rtol=1e-5)
        np.testing.assert_allclose(getattr(mg, name)(x, False).numpy(), ref(X), rtol=1e-5)
        with pytest.raises(TypeError, match=rf"{name}: got both unbiased=True and correction=0"):
            getattr(x, name)(1, unbiased=True, correction=0)


def test_joining_and_shape_ops_take_dim():
    a, b = mg.tensor(X), mg.tensor(X + 1)
    for dim in (0, 2, -1):
        expected = np.concatenate([X, X + 1], dim)
        np.testing.assert_allclose(mg.cat([a, b], dim).numpy(), expected)
        np.testing.assert_allclose(mg.cat([a, b], dim=dim).numpy(), expected)
        np.testing.assert_allclose(mg.cat([a, b], axis=dim).numpy(), expected)
        np.testing.assert_allclose(mg.stack([a, b], dim=dim).numpy(), np.stack([X, X + 1], dim))
    with pytest.raises(TypeError, match="cat: got both dim=0 and axis=1"):
        mg.cat([a, b], dim=0, axis=1)
    y = mg.tensor(np.zeros((2, 1, 3, 1)))
    assert y.squeeze(1).shape == (2, 3, 1) and y.squeeze(dim=(1, 3)).shape == (2, 3)
    assert y.squeeze(axis=-1).shape == (2, 1, 3) and mg.squeeze(y).shape == (2, 3)
    assert a.unsqueeze(dim=1).shape == (2, 1, 3, 4) and a.unsqueeze(axis=-1).shape == (2, 3, 4, 1)
    assert a.flatten(start_dim=1).shape == (2, 12) and a.flatten(0, 1).shape == (6, 4)
    assert mg.flatten(a, end_dim=-2).shape == (6, 4)
    with pytest.raises(TypeError, match="unsqueeze: missing the dim"):
        a.unsqueeze()


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_and_cumprod(dim):
    x = mg.tensor(X)
    np.testing.assert_allclose(x.cumsum(dim).numpy(), np.cumsum(X, dim), rtol=1e-6)
    np.testing.assert_allclose(mg.cumsum(x, axis=dim).numpy(), np.cumsum(X, dim), rtol=1e-6)
    np.testing.assert_allclose(x.cumprod(dim=dim).numpy(), np.cumprod(X, dim), rtol=1e-6)
    with pytest.raises(TypeError, match=r"cumsum: missing dim, .* of shape \(2, 3, 4\)"):
        x.cumsum()


def test_cumprod_gradient_is_exact_at_zeros():
    x = mg.tensor([2.0, 0.0, 3.0, 0.0], dtype=np.float64, requires_grad=True)
    x.cumprod(0).sum().backward()
    # d/dx_j Σ_i Π_{k<=i} x_k = Σ_{i>=j} Π_{k<=i, k!=j} x_k
    assert x.grad.tolist() == [1.0, 2.0 + 6.0, 0.0, 0.0]


@given(S.dim_inputs(), st.sampled_from(["cumsum", "cumprod", "sum", "logsumexp"]))
def test_dim_ops_gradcheck_in_every_spelling(inputs, name):
    (x,), params = inputs
    t = mg.tensor(x, dtype=np.float64, requires_grad=True)
    if name.startswith("cum"):
        def fn(v):
            return getattr(v, name)(axis=params["dim"])
    else:
        def fn(v):
            return getattr(mg, name)(v, axis=params["dim"], keepdims=params["keepdim"])
    assert mg.gradcheck(fn, [t]) and mg.gradgradcheck(fn, [t])


def test_dim_keepdim_vs_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = mg.tensor(X), torch.tensor(X)
    for name in ("sum", "mean", "prod", "amax", "amin", "logsumexp", "argmax", "argmin"):
        np.testing.assert_allclose(getattr(ours, name)(1, True).numpy(),
                                   getattr(theirs, name)(1, True).numpy(), rtol=1e-6)
    for name in ("var", "std"):
        np.testing.assert_allclose(getattr(ours, name)(1, False, True).numpy(),
                                   getattr(theirs, name)(1, False, True).numpy(), rtol=1e-6)
        np.testing.assert_allclose(getattr(ours, name)(dim=2, correction=0).numpy(),
                                   getattr(theirs, name)(dim=2, correction=0).numpy(), rtol=1e-6)
    for name in ("max", "min"):
        v, i = getattr(ours, name)(dim=2, keepdim=True)
        tv, ti = getattr(theirs, name)(dim=2, keepdim=True)
        np.testing.assert_allclose(v.numpy(), tv.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
    for name in ("cumsum", "cumprod"):
        np.testing.assert_allclose(getattr(ours, name)(-1).numpy(),
                                   getattr(theirs, name)(-1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(ours.sum(axis=1, keepdims=True).numpy(),
                               theirs.sum(axis=1, keepdims=True).numpy(), rtol=1e-6)
