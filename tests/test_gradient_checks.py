"""What the engine accepts as a gradient from a Function's backward or a hook: a Tensor of the
input's shape or one the input broadcasts to (summed back), floating for floating (another
precision is cast, as in PyTorch); anything else is a clear error. Also both conventions for
non-tensor arguments of a Function."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minigrad as mg
from strategies import broadcastable_pair, shapes, values


def leaf(array, dtype=np.float64):
    return mg.tensor(np.asarray(array, dtype=dtype), requires_grad=True)


def returning(make_grad):
    """A Function whose forward is the identity and whose backward returns make_grad(g)."""

    class Returning(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, grad_output):
            return make_grad(grad_output)

    return Returning


def sum_to_reference(array, shape):
    """NumPy: ``array`` summed down to ``shape``, which broadcasts to array's shape."""
    lead = array.ndim - len(shape)
    array = array.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and array.shape[i] != 1)
    return array.sum(axis=axes, keepdims=True)


def broadcasts_to(shape, target):
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


@given(data=st.data(), pair=broadcastable_pair(max_dims=3))
def test_a_gradient_the_input_broadcasts_to_is_summed_back(data, pair):
    shape, other = pair
    target = np.broadcast_shapes(shape, other)
    scale = data.draw(values(target))
    x = leaf(data.draw(values(shape, salt=1)))
    op = returning(lambda g: g * mg.tensor(scale))
    op.apply(x).sum().backward()
    assert x.grad.shape == shape
    np.testing.assert_allclose(x.grad.numpy(), sum_to_reference(scale, shape).reshape(shape))


@given(pair=st.tuples(shapes(max_dims=3), shapes(max_dims=3)))
def test_a_gradient_the_input_does_not_broadcast_to_is_refused(pair):
    shape, wrong = pair
    assume(not broadcasts_to(shape, wrong))
    x = leaf(np.ones(shape))
    op = returning(lambda g: mg.tensor(np.ones(wrong)))
    with pytest.raises(RuntimeError, match=rf"Returning.backward returned a gradient of shape "
                                           rf"{re_shape(wrong)} for input 0 of shape "
                                           rf"{re_shape(shape)}"):
        op.apply(x).sum().backward()
    assert x.grad is None


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


def test_a_float64_gradient_for_a_float32_input_is_cast_as_in_pytorch():
    x = leaf([1.0, 2.0], dtype=np.float32)
    returning(lambda g: g.double() * 3).apply(x).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.complex128])
def test_a_gradient_of_another_kind_is_refused(dtype):
    x = leaf([1.0, 2.0])
    op = returning(lambda g: mg.tensor(np.ones(2, dtype=dtype)))
    with pytest.raises(TypeError, match=rf"Returning.backward returned a {np.dtype(dtype)} "
                                        r"gradient for input 0 \(shape \(2,\)\) of dtype float64"):
        op.apply(x).sum().backward()


def test_a_raw_array_as_gradient_is_refused():
    x = leaf([1.0, 2.0])
    op = returning(lambda g: np.ones(2))
    with pytest.raises(TypeError, match=r"Returning.backward returned a ndarray as the gradient "
                                        r"of input 0 \(shape \(2,\)\); expected a Tensor"):
        op.apply(x).sum().backward()


def test_the_wrong_number_of_gradients_is_refused():
    x = leaf([1.0, 2.0])
    op = returning(lambda g: (g, g))
    with pytest.raises(RuntimeError, match="Returning.backward returned 2 gradients for 1 inputs"):
        op.apply(x).sum().backward()


@pytest.mark.parametrize("where", ["leaf", "non-leaf"])
@pytest.mark.parametrize("replacement, error, message", [
    (lambda g: mg.tensor(np.ones(3)), RuntimeError, r"from shape \(2,\), dtype float64 to "
                                                    r"shape \(3,\), dtype float64"),
    (lambda g: g.float(), RuntimeError, r"from shape \(2,\), dtype float64 to shape \(2,\), "
                                        r"dtype float32"),
    (lambda g: g.sum(), RuntimeError, r"to shape \(\), dtype float64"),
    (lambda g: g.numpy(), TypeError, r"returned a ndarray for a gradient of shape \(2,\)"),
])
def test_a_hook_must_keep_the_gradients_shape_and_dtype(where, replacement, error, message):
    x = leaf([1.0, 2.0])
    y = x * 2
    (x if where == "leaf" else y).register_hook(replacement)
    with pytest.raises(error, match=r"hook .*lambda.* " + message):
        (y * y).sum().backward()
    assert x.grad is None


def test_a_hook_may_replace_the_gradient_with_one_of_the_same_shape():
    x = leaf([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g: g * 10)
    x.register_hook(lambda g: g + 1)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [21.0, 21.0])


class ScaleKeyword(mg.Function):
    """The house convention: constants by keyword, one gradient per tensor input."""

    @staticmethod
    def forward(ctx, x, *, factor):
        ctx.factor = factor
        return x * factor

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.factor


class ScalePositional(mg.Function):
    """PyTorch's convention: the constant positionally, None as its gradient."""

    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x * factor

    @staticmethod
    def backward(ctx, grad_output):
        return (grad_output * ctx.factor, None)


@given(data=st.data(), factor=st.floats(-4, 4))
def test_constants_work_by_keyword_and_positionally(data, factor):
    array = data.draw(values(data.draw(shapes(max_dims=3))))
    a, b = leaf(array), leaf(array)
    ScaleKeyword.apply(a, factor=factor).sum().backward()
    ScalePositional.apply(b, factor).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.full(array.shape, factor))
    np.testing.assert_allclose(b.grad.numpy(), np.full(array.shape, factor))
