"""Tensor construction, factories, dtypes, conversion and the non-differentiable methods."""
import numpy as np
import pytest

import minigrad as mg


def test_default_dtypes_follow_pytorch():
    assert mg.tensor([1.0, 2.0]).dtype == np.float32
    assert mg.tensor([1, 2]).dtype == np.int64
    assert mg.tensor([True]).dtype == np.bool_
    assert mg.tensor(np.zeros(2)).dtype == np.float64          # a NumPy array keeps its dtype
    assert mg.tensor([1.0], dtype=np.float64).dtype == np.float64


def test_factories(device):
    assert mg.zeros(2, 3, device=device).shape == (2, 3)
    assert mg.ones((4,), device=device).numpy().sum() == 4
    np.testing.assert_array_equal(mg.full((2,), 7.0, device=device).numpy(), [7, 7])
    np.testing.assert_array_equal(mg.arange(5, device=device).numpy(), np.arange(5))
    assert mg.arange(0, 1, 0.25).dtype == np.float32
    np.testing.assert_array_equal(mg.eye(3, device=device).numpy(), np.eye(3))
    assert mg.randn(3, 4, device=device).device.startswith(device)
    r = mg.randint(0, 5, (100,), device=device).numpy()
    assert r.dtype == np.int64 and r.min() >= 0 and r.max() < 5
    like = mg.zeros_like(mg.ones(2, 2, dtype=np.float64))
    assert like.dtype == np.float64 and like.numpy().sum() == 0
    assert mg.rand(1000).numpy().min() >= 0 and mg.rand(1000).numpy().max() < 1


def test_manual_seed_makes_random_factories_reproducible():
    mg.manual_seed(3)
    a = mg.randn(5).numpy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(a, mg.randn(5).numpy())


def test_requires_grad_only_for_floats():
    with pytest.raises(TypeError, match="floating point"):
        mg.tensor([1, 2], requires_grad=True)


def test_item_tolist_numpy_and_len():
    t = mg.tensor([[1.0, 2.0]])
    assert t.tolist() == [[1.0, 2.0]]
    assert mg.tensor([3.5]).item() == 3.5
    assert len(t) == 1 and t.size() == (1, 2) and t.size(1) == 2 and t.numel() == 2
    with pytest.raises(ValueError, match="one-element"):
        t.item()


def test_comparisons_give_boolean_tensors_without_grad():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    mask = x > 1.5
    assert mask.dtype == np.bool_ and not mask.requires_grad
    np.testing.assert_array_equal(mask.numpy(), [False, True, True])
    np.testing.assert_array_equal((x == 2.0).numpy(), [False, True, False])


def test_argmax_argmin():
    x = mg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    np.testing.assert_array_equal(x.argmax(1).numpy(), [1, 0])
    np.testing.assert_array_equal(x.argmin(axis=0).numpy(), [0, 1, 0])
    assert x.argmax().item() == 3


def test_shape_methods():
    x = mg.arange(24).reshape(2, 3, 4)
    assert x.transpose(0, 2).shape == (4, 3, 2)
    assert x.T.shape == (4, 3, 2)
    assert x.permute(1, 0, 2).shape == (3, 2, 4)
    assert x.flatten(1).shape == (2, 12)
    assert x.unsqueeze(0).shape == (1, 2, 3, 4)
    assert x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert mg.zeros(1, 3, 1).squeeze().shape == (3,)
    assert mg.zeros(1, 3).expand(4, -1).shape == (4, 3)
    assert mg.zeros(2, 3).repeat(2, 1, 2).shape == (2, 2, 6)
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3, 4\).*\(5, 5\)"):
        x.reshape(5, 5)
    with pytest.raises(IndexError, match="axis 3 is out of range"):
        x.sum(axis=3)


def test_var_std_correction():
    values = np.array([1.0, 2.0, 4.0, 7.0])
    x = mg.tensor(values)
    np.testing.assert_allclose(x.var().item(), values.var(ddof=1))
    np.testing.assert_allclose(x.std(correction=0).item(), values.std())


def test_repr_mentions_grad_state():
    assert "requires_grad=True" in repr(mg.tensor([1.0], requires_grad=True))
    assert "grad_fn=<Mul>" in repr(mg.tensor([1.0], requires_grad=True) * 2)


def test_where_maximum_minimum_functions():
    a, b = mg.tensor([1.0, 5.0]), mg.tensor([3.0, 2.0])
    np.testing.assert_array_equal(mg.maximum(a, b).numpy(), [3, 5])
    np.testing.assert_array_equal(mg.minimum(a, b).numpy(), [1, 2])
    np.testing.assert_array_equal(mg.where(a > b, a, b).numpy(), [3, 5])


def test_einsum_implicit_and_ellipsis():
    a, b = np.random.rand(2, 3, 4), np.random.rand(2, 4, 5)
    np.testing.assert_allclose(mg.einsum("...ij,...jk", mg.tensor(a), mg.tensor(b)).numpy(),
                               np.einsum("...ij,...jk", a, b), rtol=1e-6)
    np.testing.assert_allclose(mg.einsum("ij->", mg.tensor(a[0])).numpy(), a[0].sum(),
                               rtol=1e-6)


def test_import_touches_neither_cupy_nor_numba():
    """`import minigrad` stays fast on any machine: CuPy and the Numba kernels load on demand."""
    import subprocess
    import sys
    code = ("import sys, minigrad, minigrad.functional; "
            "print(sorted(m for m in ('cupy', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
