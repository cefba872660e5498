"""gradcheck and gradgradcheck make their random tensors on the inputs' device."""
import importlib

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend

# ``minigrad.gradcheck`` the attribute is the function; the module is reached by its name.
gradcheck_module = importlib.import_module("minigrad.gradcheck")


class FakeOnCuda:
    """Stands in for a CUDA tensor: all the helper may look at is its device."""
    device = "cuda:0"


def test_projection_tensors_are_placed_on_the_device_of_the_tensor_they_follow(monkeypatch):
    moved = []

    def to_device(array, device):
        moved.append((array.dtype, array.shape, device))
        return array

    monkeypatch.setattr(backend, "to_device", to_device)
    t = gradcheck_module._on_device_of(np.ones((2, 3)), FakeOnCuda(), requires_grad=True)
    assert moved == [(np.float64, (2, 3), "cuda:0")]
    assert t.requires_grad and t.shape == (2, 3)


def test_gradgradcheck_asks_for_every_tensor_it_makes_on_the_inputs_device(monkeypatch):
    devices = []
    original = backend.to_device

    def to_device(array, device):
        devices.append(device)
        return original(array, device)

    monkeypatch.setattr(backend, "to_device", to_device)
    x = mg.tensor(np.array([0.3, -0.7]), requires_grad=True)
    assert mg.gradgradcheck(lambda t: (t * t * t).sum(), (x,))
    assert devices and set(devices) == {"cpu"}


def test_gradgradcheck_still_catches_a_wrong_second_derivative():
    class CubeWrongSecond(mg.Function):
        """y = x³; backward 3x² written with a raw-array constant, so its own derivative is
        lost: gradcheck passes, gradgradcheck must not."""

        @staticmethod
        def forward(ctx, x):
            ctx.square = x * x
            return x ** 3

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * mg.tensor(3 * ctx.square)

    x = mg.tensor(np.array([0.5, 1.5]), requires_grad=True)
    assert mg.gradcheck(CubeWrongSecond.apply, (x,))
    with pytest.raises(mg.GradcheckError, match="gradcheck failed for input 0"):
        mg.gradgradcheck(CubeWrongSecond.apply, (x,))


def test_gradgradcheck_on_the_device(device):
    x = mg.tensor(np.array([[0.3, -0.7], [1.1, 0.2]]), device=device, requires_grad=True)
    w = mg.tensor(np.array([[0.5, 0.1], [-0.4, 0.9]]), device=device, requires_grad=True)
    assert mg.gradgradcheck(lambda a, b: (a @ b).tanh(), (x, w))
