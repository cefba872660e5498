"""What the fused single-node ops (``ops/linear.py``, ``ops/softmax.py``, ``ops/norm.py``)
promise beyond their main path, checked where the mutation run found the suite silent: the
composite fallbacks of ``F.linear`` (a 1-D weight, a bias that broadcasts), against NumPy.
"""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F

rng = np.random.default_rng(5)


def _leaf(shape):
    return mg.tensor(rng.standard_normal(shape), requires_grad=True)


def test_linear_with_a_1d_weight_is_a_dot_product_along_the_last_axis():
    """PyTorch's rule: weight (K,) gives x @ w, shape (...,); the gradients are g w and xᵀ g."""
    x, w, b = _leaf((3, 2, 4)), _leaf((4,)), _leaf(())
    out = F.linear(x, w, b)
    expected = x.numpy() @ w.numpy() + b.numpy()
    assert out.shape == (3, 2)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    g = rng.standard_normal(out.shape)
    out.backward(mg.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g[..., None] * w.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), np.einsum("ij,ijk->k", g, x.numpy()), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), g.sum(), rtol=1e-12)


def test_linear_with_a_broadcast_bias_adds_it_and_sums_its_gradient():
    """A bias of shape (1,) is not one value per output: it broadcasts over the outputs, and
    its gradient is the sum over everything (the composite path)."""
    x, w, b = _leaf((5, 3)), _leaf((2, 3)), _leaf((1,))
    out = F.linear(x, w, b)
    np.testing.assert_allclose(out.numpy(), x.numpy() @ w.numpy().T + b.numpy(), rtol=1e-12)
    g = rng.standard_normal(out.shape)
    out.backward(mg.tensor(g))
    np.testing.assert_allclose(b.grad.numpy(), [g.sum()], rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), g.T @ x.numpy(), rtol=1e-12)


def test_linear_of_a_0d_input_is_refused():
    """F.linear refuses it by the shapes; the op beneath it (ops/linear.py, reached directly)
    sends a 0-d input to the composite, whose product refuses it too."""
    from minigrad.ops.linear import linear
    with pytest.raises(ValueError, match=r"^linear: input of shape \(\) does not match"):
        F.linear(mg.tensor(2.0), mg.tensor(np.ones((5, 1))))
    with pytest.raises(ValueError, match="matmul: operands must have at least 1 dimension"):
        linear(mg.tensor(2.0), mg.tensor(np.ones((5, 1))))

