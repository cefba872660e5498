"""The Tensor methods and module functions PyTorch users reach for, against NumPy (and PyTorch
where it is installed). Gradients of the differentiable ones are in op_specs.py and below."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import strategies as S

RNG = np.random.default_rng(5)
X = RNG.normal(size=(3, 4))


def test_comparisons_as_methods_and_functions():
    x, y = mg.tensor(X, requires_grad=True), mg.tensor(X[::-1].copy())
    for name, ref in (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                      ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal)):
        for out in (getattr(x, name)(y), getattr(mg, name)(x, y), getattr(x, name)(0.0)):
            assert out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(getattr(x, name)(y).numpy(), ref(X, X[::-1]))
    assert mg.allclose(x, X + 1e-9) and not mg.allclose(x, X + 1e-3)


def test_views_copies_and_shapes():
    x = mg.tensor(X, requires_grad=True)
    assert x.view_as(mg.zeros(4, 3)).shape == (4, 3) and x.reshape_as(mg.zeros(12)).shape == (12,)
    assert mg.zeros(1, 4).expand_as(x).shape == (3, 4) and x.t().shape == (4, 3)
    assert mg.zeros(2, 3, 4).mT.shape == (2, 4, 3) and x.contiguous() is x and x.dim() == 2
    assert x.type_as(mg.zeros(1, dtype=mg.float64)).dtype == np.float64
    c = x.clone()
    assert c.data is not x.data and np.shares_memory(c.data, x.data) is False
    c.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones_like(X))
    with pytest.raises(ValueError, match=r"t: expects at most 2 dims, got shape \(2, 3, 4\)"):
        mg.zeros(2, 3, 4).t()


def test_split_chunk_unbind_narrow():
    x = mg.arange(10).reshape(2, 5)
    assert [p.tolist() for p in x.split(2, 1)] == [[[0, 1], [5, 6]], [[2, 3], [7, 8]], [[4], [9]]]
    assert [p.shape for p in x.split([1, 4], dim=1)] == [(2, 1), (2, 4)]
    assert [p.shape for p in mg.chunk(x, 3, 1)] == [(2, 2), (2, 2), (2, 1)]
    assert [p.tolist() for p in x.unbind(0)] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert x.narrow(1, -2, 2).tolist() == [[3, 4], [8, 9]]
    with pytest.raises(ValueError, match=r"split: sizes \[1, 1\] sum to 2, but dim 1 has length 5"):
        x.split([1, 1], 1)
    with pytest.raises(ValueError, match="narrow: start 4 and length 3 do not fit dim 1"):
        x.narrow(1, 4, 3)


def test_new_factories_follow_the_tensor():
    x = mg.tensor(X, dtype=mg.float64)
    for t in (x.new_zeros(2, 3), x.new_ones((2, 3)), x.new_full((2, 3), 7.0), x.new_empty(2, 3)):
        assert t.shape == (2, 3) and t.dtype == np.float64 and t.device == x.device
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0] and x.new_ones(1, dtype=mg.long).dtype == np.int64
    assert x.new_tensor([1, 2]).dtype == np.float64


def test_in_place_fills():
    t = mg.zeros(2, 3)
    assert t.fill_(2.5) is t and t.tolist() == [[2.5] * 3] * 2
    mg.manual_seed(0)
    t.normal_(1.0, 0.1)
    np.random.seed(0)
    np.testing.assert_allclose(t.numpy(), np.random.standard_normal((2, 3)) * 0.1 + 1.0, rtol=1e-6)
    t.uniform_(-2, -1)
    assert (t.numpy() >= -2).all() and (t.numpy() < -1).all()
    mask = mg.tensor([[True, False, True], [False, False, True]])
    assert t.masked_fill_(mask, 0.0) is t and (t.numpy()[mask.numpy()] == 0).all()
    w = mg.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"in-place fill_ on a tensor that requires grad \(shape \(2,\)\)"):
        w.fill_(1.0)
    with mg.no_grad():
        w.fill_(1.0)
    with pytest.raises(TypeError, match="masked_fill: mask must be a bool tensor, got float32"):
        w.masked_fill(mg.ones(2), 0.0)


def test_masked_fill_is_differentiable_with_zero_gradient_where_filled():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.masked_fill(x > 1.5, -1.0)
    assert y.tolist() == [1.0, -1.0, -1.0]
    (y * x).sum().backward()
    assert x.grad.tolist() == [2.0, -1.0, -1.0]


def test_gather_scatter_index_select_match_numpy():
    x = mg.tensor(X, requires_grad=True)
    index = RNG.integers(0, 3, size=(2, 4))
    np.testing.assert_array_equal(x.gather(0, index).numpy(), np.take_along_axis(X, index, 0))
    np.testing.assert_array_equal(x.index_select(1, mg.tensor([3, 0])).numpy(), X[:, [3, 0]])
    rows = np.array([[2, 0, 1, 0]])
    out = mg.zeros(3, 4).scatter(0, rows, mg.tensor(np.ones((1, 4))))
    np.testing.assert_array_equal(out.numpy(), (np.arange(3)[:, None] == rows).astype(float))
    added = mg.zeros(3, 4).scatter_add(0, np.zeros((2, 4), int), mg.ones(2, 4))
    assert added.numpy()[0].tolist() == [2.0] * 4 and added.numpy()[1:].sum() == 0
    with pytest.raises(ValueError, match=r"gather: index must be an integer tensor with the 2 dims"):
        x.gather(0, np.zeros(4, int))
    with pytest.raises(IndexError, match=r"gather: index values must be in \[-3, 3\) along dim 0"):
        x.gather(0, np.full((1, 4), 3))


def test_sort_topk_argsort():
    x = mg.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], requires_grad=True)
    values, indices = x.sort(1, descending=True)
    assert values.tolist() == [[3.0, 2.0, 1.0], [5.0, 4.0, 0.0]]
    assert indices.tolist() == [[0, 2, 1], [1, 2, 0]] and indices.dtype == np.int64
    assert mg.argsort(x, 0).tolist() == [[1, 0, 0], [0, 1, 1]]
    top = x.topk(2, dim=1)
    assert top.values.tolist() == [[3.0, 2.0], [5.0, 4.0]] and top.indices.tolist() == [[0, 2], [1, 2]]
    top.values.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]
    with pytest.raises(ValueError, match=r"topk: k must be in \[0, 3\] for dim 1"):
        x.topk(4, 1)


def test_rounding_and_sign_have_zero_gradient():
    x = mg.tensor([-1.5, -0.5, 0.5, 2.5, 0.0], requires_grad=True)
    for name in ("sign", "floor", "ceil", "round"):
        out = getattr(x, name)()
        np.testing.assert_array_equal(out.numpy(), getattr(np, name)(x.numpy()))
        (g,) = mg.grad(out.sum(), (x,))
        assert g.tolist() == [0.0] * 5


def test_norm_pow_nonzero_and_module_functions():
    x = mg.tensor(X)
    np.testing.assert_allclose(x.norm().item(), np.linalg.norm(X), rtol=1e-6)
    np.testing.assert_allclose(mg.norm(x, 1, dim=1).numpy(), np.abs(X).sum(1), rtol=1e-6)
    np.testing.assert_allclose(x.norm(float("inf"), 0, True).numpy(), np.abs(X).max(0, keepdims=True))
    np.testing.assert_allclose(x.pow(2).numpy(), X ** 2, rtol=1e-6)
    assert mg.tensor([[0, 3], [4, 0]]).nonzero().tolist() == [[0, 1], [1, 0]]
    assert [t.tolist() for t in mg.nonzero(mg.tensor([0, 2, 3]), as_tuple=True)] == [[1, 2]]
    np.testing.assert_allclose(mg.mm(x, x.t()).numpy(), X @ X.T, rtol=1e-5)
    np.testing.assert_allclose(mg.bmm(x[None], x.t()[None]).numpy(), (X @ X.T)[None], rtol=1e-5)
    np.testing.assert_allclose(mg.outer(x[0], x[1]).numpy(), np.outer(X[0], X[1]), rtol=1e-6)
    np.testing.assert_array_equal(mg.diag(x).numpy(), np.diag(X))
    np.testing.assert_array_equal(mg.diag(x, -1).numpy(), np.diag(X, -1))
    np.testing.assert_array_equal(mg.triu(x, 1).numpy(), np.triu(X, 1))
    np.testing.assert_allclose(mg.linspace(-1, 1, 5).numpy(), np.linspace(-1, 1, 5))
    assert sorted(mg.randperm(6).tolist()) == list(range(6))
    with pytest.raises(ValueError, match=r"mm: expected two 2-D tensors, got shapes \(4,\)"):
        mg.mm(x[0], x)


def test_from_numpy_shares_memory():
    a = np.zeros(3, dtype=np.float64)
    t = mg.from_numpy(a)
    a[1] = 4.0
    assert t.dtype == np.float64 and t.tolist() == [0.0, 4.0, 0.0]
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray, got list"):
        mg.from_numpy([1.0])


@given(S.dim_inputs(distinct=True), st.integers(1, 3), st.booleans())
def test_topk_and_scatter_gradients(inputs, k, largest):
    (x,), params = inputs
    dim = params["dim"]
    k = min(k, x.shape[dim])
    t = mg.tensor(x, dtype=np.float64, requires_grad=True)
    assert mg.gradgradcheck(lambda v: v.topk(k, dim, largest=largest).values, [t])
    index = np.argsort(x, dim)  # a permutation along dim: no position written twice
    src = mg.tensor(x[::-1].copy(), dtype=np.float64, requires_grad=True)
    assert mg.gradgradcheck(lambda v, s: v.scatter(dim, index, s), [t, src])


def test_methods_vs_torch():
    torch = pytest.importorskip("torch")
    x, t = mg.tensor(X), torch.tensor(X)
    index = RNG.integers(0, 4, size=(3, 2))
    pairs = [(x.gather(1, index), t.gather(1, torch.tensor(index))),
             (x.sort(0).values, t.sort(0).values), (x.sort(0).indices, t.sort(0).indices),
             (x.topk(2, 1, largest=False).values, t.topk(2, 1, largest=False).values),
             (x.norm(3, 1), t.norm(3, 1)), (x.round(), t.round()), (x.sign(), t.sign()),
             (x.cumsum(1), t.cumsum(1)), (mg.tril(x, 1), torch.tril(t, 1)),
             (x.scatter_add(1, index, x), t.scatter_add(1, torch.tensor(index), t)),
             (x.masked_fill(x > 0, 0.5), t.masked_fill(t > 0, 0.5)), (x.t(), t.t())]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    for ours, theirs in zip(x.chunk(3, 1), t.chunk(3, 1)):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert x.new_zeros(2).dtype == np.float64 and mg.eq(x, x).all().item()


def test_logical_operators_combine_masks_without_gradient():
    a = mg.tensor([1.0, -2.0, 3.0, 0.5], requires_grad=True)
    x = a.numpy()
    np.testing.assert_array_equal(((a > 0) & (a < 2)).numpy(), (x > 0) & (x < 2))
    np.testing.assert_array_equal(((a > 2) | (a < 0)).numpy(), (x > 2) | (x < 0))
    np.testing.assert_array_equal(((a > 0) ^ (a < 2)).numpy(), (x > 0) ^ (x < 2))
    np.testing.assert_array_equal((~(a > 0)).numpy(), ~(x > 0))
    np.testing.assert_array_equal((np.array([True, True, False, False]) & (a > 0)).numpy(),
                                  [True, False, False, False])
    assert not ((a > 0) & (a < 2)).requires_grad


def test_clamp_takes_pytorchs_keywords_and_passes_the_gradient_inside():
    x = mg.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    y = mg.clamp(x, min=0.0) + x.clamp(max=1.0) + x.clamp(min=-1.0, max=2.0)
    np.testing.assert_allclose(y.numpy(), [0 - 2 - 1, 0.5 + 0.5 + 0.5, 3 + 1 + 2])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0 + 1 + 0, 3, 1 + 0 + 0])
