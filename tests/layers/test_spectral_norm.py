"""spectral_norm / remove_spectral_norm: the power iteration and the normalised weight against a
NumPy reference (always) and against torch.nn.utils.spectral_norm (when torch is installed)."""
import numpy as np
import pytest

import minigrad as mg
from layers import Conv2d, ConvTranspose2d, Linear
from layers.utils import remove_spectral_norm, spectral_norm


def numpy_power_iteration(W, u, v, n, eps=1e-12):
    """PyTorch's update: v <- Wᵀu / ||.||, u <- Wv / ||.||, n times; returns (u, v, sigma)."""
    for _ in range(n):
        v = W.T @ u
        v = v / max(np.linalg.norm(v), eps)
        u = W @ v
        u = u / max(np.linalg.norm(u), eps)
    return (u, v, u @ W @ v)


def as_matrix(weight, dim):
    return np.moveaxis(weight, dim, 0).reshape(weight.shape[dim], -1)


@pytest.mark.parametrize("make, in_shape, dim, dim_arg, n", [
    (lambda: Linear(5, 7), (2, 5), 0, None, 1),
    (lambda: Linear(5, 7), (2, 5), 1, 1, 2),
    (lambda: Conv2d(3, 4, 3), (2, 3, 5, 5), 0, None, 1),
    (lambda: ConvTranspose2d(3, 4, 2), (2, 3, 5, 5), 1, None, 3),  # its default dim is 1
    (lambda: Conv2d(2, 3, 2), (2, 2, 5, 5), 0, 0, 0)])
def test_against_a_numpy_power_iteration(make, in_shape, dim, dim_arg, n):
    module = spectral_norm(make().double(), n_power_iterations=n, dim=dim_arg)
    W = module.weight_orig.numpy().copy()
    u0, v0 = module.weight_u.numpy().copy(), module.weight_v.numpy().copy()
    np.testing.assert_allclose([np.linalg.norm(u0), np.linalg.norm(v0)], 1.0, rtol=1e-12)
    module(mg.randn(*in_shape, dtype=mg.float64))
    u, v, sigma = numpy_power_iteration(as_matrix(W, dim), u0, v0, n)
    np.testing.assert_allclose(module.weight_u.numpy(), u, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(module.weight_v.numpy(), v, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(module.weight.numpy(), W / sigma, rtol=1e-10)


def test_the_estimate_converges_to_the_largest_singular_value():
    layer = spectral_norm(Linear(6, 9).double(), n_power_iterations=50)
    layer(mg.randn(1, 6, dtype=mg.float64))
    top = np.linalg.svd(layer.weight_orig.numpy(), compute_uv=False)[0]
    np.testing.assert_allclose(np.linalg.svd(layer.weight.numpy(), compute_uv=False)[0], 1.0,
                               rtol=1e-8)
    u, v = layer.weight_u.numpy(), layer.weight_v.numpy()
    assert u @ layer.weight_orig.numpy() @ v == pytest.approx(top, rel=1e-8)


def test_gradient_treats_u_and_v_as_constants():
    # L = sum(G * W / sigma), sigma = uᵀWv  =>  dL/dW = G / sigma - (sum(G * W) / sigma²) u vᵀ
    layer = spectral_norm(Linear(4, 3).double(), n_power_iterations=0)
    G = np.random.default_rng(0).normal(size=(3, 4))
    layer(mg.randn(1, 4, dtype=mg.float64))  # runs the hook: computes layer.weight
    (layer.weight * mg.tensor(G)).sum().backward()
    W, u, v = (layer.weight_orig.numpy(), layer.weight_u.numpy(), layer.weight_v.numpy())
    sigma = u @ W @ v
    expected = G / sigma - (G * W).sum() / sigma ** 2 * np.outer(u, v)
    np.testing.assert_allclose(layer.weight_orig.grad.numpy(), expected, rtol=1e-10)


def test_eval_mode_keeps_u_and_v():
    layer = spectral_norm(Linear(4, 3))
    layer.eval()
    u = layer.weight_u.numpy().copy()
    layer(mg.randn(2, 4))
    np.testing.assert_array_equal(layer.weight_u.numpy(), u)
    layer.train()
    layer(mg.randn(2, 4))
    assert not np.array_equal(layer.weight_u.numpy(), u)


def test_state_dict_and_remove():
    layer = spectral_norm(Conv2d(2, 3, 3))
    assert sorted(layer.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert sorted(n for n, _ in layer.named_parameters()) == ["bias", "weight_orig"]
    layer(mg.randn(1, 2, 5, 5))
    normalised = layer.weight.numpy().copy()
    remove_spectral_norm(layer)
    assert sorted(layer.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(layer.weight.numpy(), normalised, rtol=1e-6)
    assert not layer._forward_pre_hooks
    y = layer(mg.randn(1, 2, 5, 5))  # a plain layer again
    assert y.shape == (1, 3, 3, 3)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match=r"spectral_norm: Linear has no parameter 'scale'"):
        spectral_norm(Linear(2, 2), name="scale")
    with pytest.raises(ValueError, match=r"spectral_norm: dim must be in \[-2, 2\)"):
        spectral_norm(Linear(2, 2), dim=2)
    with pytest.raises(ValueError, match="n_power_iterations must be >= 0"):
        spectral_norm(Linear(2, 2), n_power_iterations=-1)
    with pytest.raises(RuntimeError, match="already spectrally normalised"):
        spectral_norm(spectral_norm(Linear(2, 2)))
    with pytest.raises(ValueError, match="remove_spectral_norm: spectral_norm of 'weight' not"):
        remove_spectral_norm(Linear(2, 2))
    with pytest.raises(TypeError, match="spectral_norm: module must be a Module"):
        spectral_norm(np.zeros(3))


@pytest.mark.parametrize("kind", ["linear", "conv", "conv_transpose", "linear_dim1"])
def test_spectral_norm_vs_torch(kind):
    torch = pytest.importorskip("torch", reason="the torch comparison needs PyTorch")
    nn = torch.nn
    make = {"linear": (lambda: Linear(5, 7), lambda: nn.Linear(5, 7), (3, 5), {}),
            "linear_dim1": (lambda: Linear(5, 7), lambda: nn.Linear(5, 7), (3, 5), {"dim": 1}),
            "conv": (lambda: Conv2d(3, 4, 3), lambda: nn.Conv2d(3, 4, 3), (2, 3, 6, 6), {}),
            "conv_transpose": (lambda: ConvTranspose2d(3, 4, 3),
                               lambda: nn.ConvTranspose2d(3, 4, 3), (2, 3, 4, 4), {})}
    ours_make, theirs_make, shape, options = make[kind]
    theirs = nn.utils.spectral_norm(theirs_make().double(), n_power_iterations=2, **options)
    ours = spectral_norm(ours_make().double(), n_power_iterations=2, **options)
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    assert sorted(state) == sorted(ours.state_dict())
    ours.load_state_dict(state)
    rng = np.random.default_rng(0)
    for _ in range(3):  # three training forwards: u and v must follow torch's step by step
        x = rng.normal(size=shape)
        y_theirs, y_ours = theirs(torch.tensor(x)), ours(mg.tensor(x))
        np.testing.assert_allclose(y_ours.numpy(), y_theirs.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        for buffer in ("weight_u", "weight_v"):
            np.testing.assert_allclose(getattr(ours, buffer).numpy(),
                                       getattr(theirs, buffer).numpy(), rtol=1e-10, atol=1e-12)
    g = rng.normal(size=y_theirs.shape)
    (y_theirs * torch.tensor(g)).sum().backward()
    (y_ours * mg.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours.weight_orig.grad.numpy(), theirs.weight_orig.grad.numpy(),
                               rtol=1e-9, atol=1e-12)
    theirs.eval()
    ours.eval()
    x = rng.normal(size=shape)
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    nn.utils.remove_spectral_norm(theirs)
    remove_spectral_norm(ours)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-10)


def test_eps_floors_the_norms_and_name_picks_the_parameter():
    from layers import Module, Parameter

    class Scale(Module):
        def __init__(self):
            super().__init__()
            self.kernel = Parameter(np.random.default_rng(0).normal(0, 0.01, size=(3, 2)))

        def forward(self, x):
            return x @ self.kernel

    module = spectral_norm(Scale().double(), name="kernel", eps=1.0)
    assert sorted(module.state_dict()) == ["kernel_orig", "kernel_u", "kernel_v"]
    W, u0, v0 = (module.kernel_orig.numpy().copy(), module.kernel_u.numpy().copy(),
                 module.kernel_v.numpy().copy())
    module(mg.randn(1, 3, dtype=mg.float64))
    # The weight is tiny, so ||Wᵀu|| < eps = 1: the division is by eps, not by the norm.
    u, v, sigma = numpy_power_iteration(W, u0, v0, 1, eps=1.0)
    assert np.linalg.norm(module.kernel_v.numpy()) < 0.1
    np.testing.assert_allclose(module.kernel_v.numpy(), v, rtol=1e-10)
    np.testing.assert_allclose(module.kernel.numpy(), W / sigma, rtol=1e-10)
    remove_spectral_norm(module, name="kernel")
    assert sorted(module.state_dict()) == ["kernel"]
