"""What the tensor factories (``minigrad/factories.py``) promise, checked against NumPy: shapes
given as ints or one tuple, the default dtypes, ``requires_grad``, the ``*_like`` family taking
the model tensor's dtype unless told otherwise, and the random ones' ranges and moments. Each test
fails for a small, realistic change (a default flipped, an argument dropped), found by a
mutation run of the module.
"""
import numpy as np
import pytest

import minigrad as mg


@pytest.mark.parametrize("make,value", [(mg.zeros, 0.0), (mg.ones, 1.0), (mg.empty, None)])
def test_filled_factories_take_ints_or_one_tuple_and_default_to_float32(make, value):
    for t in (make(2, 3), make((2, 3)), make([2, 3])):
        assert (t.shape, t.dtype, t.requires_grad) == ((2, 3), np.float32, False)
        if value is not None:
            np.testing.assert_array_equal(t.numpy(), np.full((2, 3), value))
    t = make(4, dtype=np.float64, requires_grad=True)
    assert (t.shape, t.dtype, t.requires_grad, t.is_leaf) == ((4,), np.float64, True, True)


def test_full_takes_an_int_or_a_shape():
    t = mg.full(3, 2.5)
    assert (t.shape, t.dtype, t.requires_grad) == ((3,), np.float32, False)
    np.testing.assert_array_equal(t.numpy(), [2.5, 2.5, 2.5])
    t = mg.full((2, 1), 7, dtype=np.int64)
    assert t.dtype == np.int64 and t.numpy().tolist() == [[7], [7]]
    assert mg.full([2], 1.0, requires_grad=True).requires_grad


@pytest.mark.parametrize("make,args,value", [
    (mg.zeros_like, (), 0.0), (mg.ones_like, (), 1.0), (mg.full_like, (4.5,), 4.5),
])
def test_like_factories_copy_shape_and_dtype_unless_told(make, args, value):
    model = mg.tensor(np.arange(6.0).reshape(2, 3))            # float64
    t = make(model, *args)
    assert (t.shape, t.dtype, t.device, t.requires_grad) == ((2, 3), np.float64, "cpu", False)
    np.testing.assert_array_equal(t.numpy(), np.full((2, 3), value))
    t = make(model, *args, dtype=np.float32, requires_grad=True)
    assert (t.dtype, t.requires_grad) == (np.float32, True)
    assert make(model, *args, device="cpu").device == "cpu"


@pytest.mark.parametrize("make", [mg.rand_like, mg.randn_like])
def test_random_like_factories_copy_shape_and_dtype_unless_told(make):
    model = mg.tensor(np.zeros((300, 200)))
    t = make(model)
    assert (t.shape, t.dtype, t.requires_grad) == ((300, 200), np.float64, False)
    assert make(model, dtype=np.float32, requires_grad=True).dtype == np.float32
    assert make(model, requires_grad=True).requires_grad


def test_rand_is_uniform_on_zero_one_and_randn_standard_normal():
    mg.manual_seed(0)
    u = mg.rand(200, 300)
    assert (u.shape, u.dtype) == ((200, 300), np.float32)
    assert 0.0 <= u.numpy().min() < 0.001 and 0.999 < u.numpy().max() < 1.0
    assert abs(u.numpy().mean() - 0.5) < 0.005
    n = mg.randn((200, 300), dtype=np.float64, requires_grad=True)
    assert (n.shape, n.dtype, n.requires_grad) == ((200, 300), np.float64, True)
    assert abs(n.numpy().mean()) < 0.01 and abs(n.numpy().std() - 1.0) < 0.01
    u = mg.rand_like(n)
    assert 0.0 <= u.numpy().min() and u.numpy().max() < 1.0 and abs(u.numpy().mean() - 0.5) < 0.01
    n = mg.randn_like(u)
    assert abs(n.numpy().std() - 1.0) < 0.01 and n.numpy().min() < -3


def test_randint_reads_low_high_and_size():
    mg.manual_seed(0)
    t = mg.randint(5, size=(4000,))
    assert (t.shape, t.dtype, t.requires_grad) == ((4000,), np.int64, False)
    assert sorted(set(t.numpy().tolist())) == [0, 1, 2, 3, 4]
    t = mg.randint(3, 6, 1000, dtype=np.int32)
    assert (t.shape, t.dtype) == ((1000,), np.int32)
    assert sorted(set(t.numpy().tolist())) == [3, 4, 5]
    assert mg.randint(3).shape == ()


def test_randperm_is_a_permutation_of_n():
    mg.manual_seed(1)
    t = mg.randperm(50)
    assert t.dtype == np.int64 and sorted(t.numpy().tolist()) == list(range(50))
    assert t.numpy().tolist() != list(range(50))
    assert mg.randperm(4, dtype=np.int32).dtype == np.int32


def test_arange_forms_and_dtypes():
    assert mg.arange(4).numpy().tolist() == [0, 1, 2, 3] and mg.arange(4).dtype == np.int64
    assert mg.arange(2, 5).numpy().tolist() == [2, 3, 4]
    assert mg.arange(1, 8, 3).numpy().tolist() == [1, 4, 7]
    t = mg.arange(0, 1, 0.25)
    assert t.dtype == np.float32 and t.numpy().tolist() == [0.0, 0.25, 0.5, 0.75]
    assert mg.arange(np.int64(3)).dtype == np.int64
    assert mg.arange(3, dtype=np.float64).dtype == np.float64
    assert mg.arange(3.0, requires_grad=True).requires_grad


def test_eye_and_linspace():
    t = mg.eye(3)
    assert t.dtype == np.float32 and not t.requires_grad
    np.testing.assert_array_equal(t.numpy(), np.eye(3))
    np.testing.assert_array_equal(mg.eye(2, 3, dtype=np.float64).numpy(), np.eye(2, 3))
    assert mg.eye(2, requires_grad=True).requires_grad
    t = mg.linspace(0, 1, 5)
    assert t.dtype == np.float32 and t.numpy().tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert mg.linspace(-1, 1, 3, dtype=np.float64, requires_grad=True).requires_grad


def test_random_factories_want_no_gradient_unless_asked():
    for t in (mg.rand(3), mg.randn(3), mg.linspace(0, 1, 3), mg.randint(4, size=3),
              mg.randperm(3)):
        assert t.requires_grad is False and t.is_leaf
    assert mg.rand(3, requires_grad=True).requires_grad
    assert mg.randn(3, requires_grad=True).requires_grad


def test_empty_axes_are_allowed_and_negative_ones_refused():
    assert mg.zeros(0, 3).shape == (0, 3) and mg.ones((2, 0)).shape == (2, 0)
    assert mg.rand(0).shape == (0,) and mg.empty(0).shape == (0,)
    with pytest.raises(ValueError, match="^" + "negative dimension in shape \\(2, -1\\)" + "$"):
        mg.zeros(2, -1)
