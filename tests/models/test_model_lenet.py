"""LeNet: shapes on 8x8 and 28x28 images, parameter count, argument checks, training,
checkpoint round trip and gradients."""
import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad.data import load_digits
from models import LeNet
from optim import Adam


def lenet_parameter_count(C, S, K, C1, C2, F1, F2, K_out):
    """The formula of LeNet's docstring: two convolutions, then three Linear layers."""
    side = S // 4
    return (C1 * (C * K * K + 1) + C2 * (C1 * K * K + 1) + F1 * (C2 * side * side + 1)
            + F2 * (F1 + 1) + K_out * (F2 + 1))


@pytest.mark.parametrize("C, S, K, K_out", [(1, 8, 5, 10), (1, 28, 5, 10), (3, 12, 3, 4)])
def test_output_shape_and_parameter_count(C, S, K, K_out):
    model = LeNet(C, K_out, image_size=S, kernel_size=K)
    assert model(mg.randn(2, C, S, S)).shape == (2, K_out)
    assert model.features(mg.randn(2, C, S, S)).shape == (2, 16, S // 4, S // 4)
    count = sum(p.numel() for p in model.parameters())
    assert count == lenet_parameter_count(C, S, K, 6, 16, 120, 84, K_out)


def test_classic_28x28_size():
    # 6*26 + 16*151 + 120*785 + 84*121 + 10*85: LeNet-5 with a 7x7 map after the second pool.
    assert sum(p.numel() for p in LeNet().parameters()) == 107786


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="multiple of 4"):
        LeNet(image_size=10)
    with pytest.raises(ValueError, match="odd"):
        LeNet(image_size=8, kernel_size=4)
    with pytest.raises(ValueError, match="two sizes"):
        LeNet(channels=(6,))
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 1, 8, 8\)"):
        LeNet(image_size=8)(mg.randn(2, 1, 28, 28))


def test_training_steps_lower_the_loss():
    mg.manual_seed(0)
    images, labels = load_digits()
    x, y = mg.tensor(images[:128]), mg.tensor(labels[:128])
    model = LeNet(image_size=8, kernel_size=3)
    optimizer = Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 2.0  # chance level, ln 10 = 2.30
    assert losses[-1] < 0.7 * losses[0]


def test_state_dict_round_trip(tmp_path):
    mg.manual_seed(0)
    model = LeNet(image_size=8)
    path = tmp_path / "lenet.npz"
    mg.save(model.state_dict(), path)
    mg.manual_seed(1)
    restored = LeNet(image_size=8)
    x = mg.randn(3, 1, 8, 8)
    assert not np.allclose(restored(x).numpy(), model(x).numpy())
    restored.load_state_dict(mg.load(path))
    np.testing.assert_array_equal(restored(x).numpy(), model(x).numpy())


def test_gradcheck_tiny_float64():
    mg.manual_seed(0)
    model = LeNet(1, 3, image_size=4, channels=(2, 2), hidden=(4, 3), kernel_size=3).double()
    # Distinct inputs: ties in a pooling window would make max-pool non-differentiable there.
    x = mg.tensor(np.random.default_rng(0).permutation(32).reshape(2, 1, 4, 4) / 8.0,
                  dtype=mg.float64, requires_grad=True)
    params = list(model.parameters())
    assert mg.gradcheck(lambda x, *_: model(x), [x, *params])


def test_matches_torch_forward_and_gradients():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    mg.manual_seed(0)
    model = LeNet(1, 10, image_size=8, kernel_size=3)
    twin = nn.Module()
    twin.features = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(6, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    twin.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64, 120), nn.ReLU(),
                                    nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    twin.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                          for k, v in model.state_dict().items()})
    images, labels = load_digits()
    F.cross_entropy(model(mg.tensor(images[:16])), mg.tensor(labels[:16])).backward()
    logits = twin.classifier(twin.features(torch.from_numpy(images[:16])))
    torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels[:16])).backward()
    np.testing.assert_allclose(model(mg.tensor(images[:16])).numpy(), logits.detach().numpy(),
                               rtol=1e-4, atol=1e-5)
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-3, atol=1e-5,
                                   err_msg=name)
