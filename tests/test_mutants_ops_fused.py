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


def test_linear_with_a_1d_weight_and_no_bias():
    x, w = _leaf((5, 3)), _leaf((3,))
    out = F.linear(x, w)
    np.testing.assert_allclose(out.numpy(), x.numpy() @ w.numpy(), rtol=1e-12)
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), x.numpy().sum(0), rtol=1e-12)


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



@pytest.mark.parametrize("dtype, expected", [(np.float32, np.float32), (np.float64, np.float64),
                                             (np.float16, np.float16), (np.int64, np.float64)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_over_an_empty_axis_keeps_a_float_dtype(name, dtype, expected):
    """Nothing to normalise along an axis of length 0 (not the last axis, so not the kernel's
    path): the result is empty, in x's float dtype, and integers give float64 as elsewhere."""
    out = getattr(F, name)(mg.tensor(np.zeros((0, 3), dtype=dtype)), dim=0)
    assert out.shape == (0, 3) and out.dtype == expected


@pytest.mark.parametrize("name, value", [("softmax", 1.0), ("log_softmax", 0.0)])
def test_softmax_of_a_0d_tensor_is_a_row_of_one(name, value):
    """PyTorch's rule: a 0-d input is one entry along dim 0 or -1; softmax 1, log-softmax 0,
    a 0-d result; its gradient is 0 (the output does not depend on x)."""
    x = mg.tensor(2.5, requires_grad=True)
    for dim in (0, -1):
        out = getattr(F, name)(x, dim=dim)
        assert out.shape == () and out.item() == value
        out.backward()
        assert x.grad.item() == 0.0
        x.grad = None


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", [((), 1), ((), -2), ((2, 3), 2), ((2, 3), -3)])
def test_softmax_refuses_a_dim_out_of_range_naming_itself(name, shape, dim):
    with pytest.raises(IndexError, match=rf"^{name}: axis {dim} is out of range"):
        getattr(F, name)(mg.tensor(np.ones(shape)), dim=dim)


@pytest.mark.parametrize("create_graph", [False, True])
def test_softmax_scale_of_two_multiplies_the_gradient(create_graph):
    """The scale (attention's) enters the gradient as a factor on both backward paths, for
    every value including 2."""
    from minigrad.ops.softmax import Softmax
    x = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    g = rng.standard_normal((3, 4))
    (grad,) = mg.grad(Softmax.apply(x, dim=1, scale=2.0), [x], grad_outputs=[mg.tensor(g)],
                      create_graph=create_graph)
    e = np.exp(2 * x.numpy() - (2 * x.numpy()).max(1, keepdims=True))
    y = e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(grad.numpy(), 2 * y * (g - (g * y).sum(1, keepdims=True)),
                               rtol=1e-12)


@pytest.mark.parametrize("K, M", [(0, 3), (2, 0), (0, 0)])
def test_linear_with_an_empty_input_or_output_width(K, M):
    # PyTorch's rule: with K = 0 the product is 0 and the output is the bias, broadcast
    weight = mg.tensor(np.ones((M, K)), requires_grad=True)
    bias = mg.tensor(np.arange(M, dtype=np.float64), requires_grad=True)
    x = mg.tensor(np.ones((2, 4, K)), requires_grad=True)
    out = F.linear(x, weight, bias)
    assert out.shape == (2, 4, M)
    np.testing.assert_array_equal(out.numpy(), np.ones((2, 4, K)) @ np.ones((K, M)) +
                                  np.arange(M))
    out.sum().backward()
    assert weight.grad.shape == (M, K) and x.grad.shape == (2, 4, K)
    np.testing.assert_array_equal(bias.grad.numpy(), np.full(M, 8.0))
