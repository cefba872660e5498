"""Devices and dtypes as objects: ``mg.device``, PyTorch's dtype names, the forms of ``.to``,
``.type``, ``is_cuda`` and the ``mg.accelerator`` namespace."""
import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg


@pytest.mark.parametrize("args, text, kind, index", [
    (("cpu",), "cpu", "cpu", None), (("cuda",), "cuda:0", "cuda", 0),
    (("cuda", 2), "cuda:2", "cuda", 2), (("cuda:1",), "cuda:1", "cuda", 1),
    ((3,), "cuda:3", "cuda", 3), ((mg.device("cuda:4"),), "cuda:4", "cuda", 4)])
def test_device_objects_are_their_normalised_string(args, text, kind, index):
    d = mg.device(*args)
    assert d == text and str(d) == text and f"{d}" == text and hash(d) == hash(text)
    assert d.type == kind and d.index == index
    assert pickle.loads(pickle.dumps(d)) == d and type(pickle.loads(pickle.dumps(d))) is mg.device


def test_device_repr_and_bad_specs():
    assert repr(mg.device("cuda", 1)) == "device(type='cuda', index=1)"
    assert repr(mg.device("cpu")) == "device(type='cpu')"
    with pytest.raises(ValueError, match="unknown device 'gpu': expected 'cpu', 'cuda'"):
        mg.device("gpu")
    with pytest.raises(ValueError, match=r"device: cannot give index 1 with 'cuda:0'"):
        mg.device("cuda:0", 1)


def test_tensor_device_is_a_device_object(device):
    t = mg.zeros(2, device=mg.device(device))
    assert isinstance(t.device, mg.device) and t.device.type == device
    assert t.is_cuda == (device == "cuda")
    assert mg.tensor([1.0], device=mg.device(device)).device == t.device
    assert mg.ones_like(t, device=t.device).device == t.device
    assert t.to(mg.device("cpu")).device == "cpu" and not t.cpu().is_cuda


def test_cuda_missing_is_a_clear_error_everywhere_a_device_goes():
    if mg.cuda.is_available():
        pytest.skip("this machine has a GPU: the error path cannot be reached")
    for make in (lambda: mg.zeros(1, device=mg.device("cuda", 0)),
                 lambda: mg.tensor([1.0]).to("cuda", mg.float16),
                 lambda: mg.tensor([1.0], device="cuda:0")):
        with pytest.raises(RuntimeError, match="'cuda:0' requested but CUDA is not available"):
            make()
    assert mg.accelerator.current_accelerator() is None
    assert not mg.accelerator.is_available() and mg.accelerator.device_count() == 0


DTYPES = [("float32", np.float32), ("float", np.float32), ("float64", np.float64),
          ("double", np.float64), ("float16", np.float16), ("half", np.float16),
          ("int64", np.int64), ("long", np.int64), ("int32", np.int32), ("int", np.int32),
          ("int16", np.int16), ("short", np.int16), ("bool", np.bool_), ("uint8", np.uint8)]


@pytest.mark.parametrize("name, expected", DTYPES)
def test_pytorch_dtype_names_work_in_factories_to_and_type(name, expected):
    dtype = getattr(mg, name)
    assert mg.zeros(2, dtype=dtype).dtype == expected
    assert mg.tensor([1, 0], dtype=dtype).dtype == expected
    x = mg.tensor([1.5, 0.0])
    assert x.to(dtype).dtype == expected and x.to(dtype=dtype).dtype == expected
    assert x.type(dtype).dtype == expected and x.to("cpu", dtype).dtype == expected
    np.testing.assert_array_equal(x.to(dtype).numpy(), np.array([1.5, 0.0]).astype(expected))


def test_conversion_methods_and_type_names():
    x = mg.tensor([1.7, -2.0, 0.0])
    for method, dtype in (("float", np.float32), ("double", np.float64), ("half", np.float16),
                          ("long", np.int64), ("int", np.int32), ("bool", np.bool_)):
        out = getattr(x, method)()
        assert out.dtype == dtype
        np.testing.assert_array_equal(out.numpy(), x.numpy().astype(dtype))
    assert x.type() == "minigrad.FloatTensor" and x.long().type() == "minigrad.LongTensor"
    assert x.type("torch.DoubleTensor").dtype == np.float64
    assert x.is_floating_point() and not x.long().is_floating_point()
    with pytest.raises(ValueError, match="type: unknown tensor type 'torch.FooTensor'"):
        x.type("torch.FooTensor")


def test_to_takes_another_tensor_and_rejects_nonsense():
    x = mg.tensor([1.0, 2.0])
    other = mg.tensor(np.zeros(1, dtype=np.float64))
    assert x.to(other).dtype == np.float64 and x.to(other).device == other.device
    assert x.to(x) is x and x.to("cpu") is x and x.to(non_blocking=True) is x
    with pytest.raises(TypeError, match=r"to: expected a device, a dtype or a Tensor, got \[1\]"):
        x.to([1])


@given(st.sampled_from([np.float32, np.float64]), st.sampled_from([mg.double, mg.float, mg.half]))
def test_to_a_dtype_is_differentiable_and_casts_the_gradient_back(start, target):
    x = mg.tensor(np.array([0.5, -1.25]), dtype=start, requires_grad=True)
    y = x.to(target)
    assert y.dtype == target
    (y * y).sum().backward()
    assert x.grad.dtype == start
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy(), rtol=1e-3)
    assert mg.gradcheck(lambda v: (v.to(mg.float64) ** 2).sum(),
                        [mg.tensor([0.5, -1.5], dtype=np.float64, requires_grad=True)])


def test_devices_and_dtypes_vs_torch():
    torch = pytest.importorskip("torch")
    for args in (("cpu",), ("cuda", 1), ("cuda:2",)):
        ours, theirs = mg.device(*args), torch.device(*args)
        assert (ours.type, ours.index, repr(ours)) == (theirs.type, theirs.index, repr(theirs))
    x, t = mg.tensor([1.5, -2.0]), torch.tensor([1.5, -2.0])
    for name in ("float", "double", "half", "long", "int", "bool"):
        assert getattr(x, name)().tolist() == getattr(t, name)().tolist()
        assert getattr(x, name)().type().split(".")[-1] == getattr(t, name)().type().split(".")[-1]
    assert x.is_cuda == t.is_cuda and x.is_floating_point() == t.is_floating_point()
