"""MLP: shapes, parameter count, a NumPy forward reference, dropout modes, training,
checkpoint round trip and gradients."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
import minigrad.functional as F
from minigrad.data import make_moons
from models import MLP
from optim import SGD


def mlp_parameter_count(sizes):
    """Σ (S_i * S_{i+1} + S_{i+1}) over consecutive layer sizes S."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


@settings(max_examples=10)
@given(in_features=st.integers(1, 6), hidden=st.lists(st.integers(1, 6), max_size=3),
       out_features=st.integers(1, 5), N=st.integers(1, 4))
def test_output_shape_and_parameter_count(in_features, hidden, out_features, N):
    model = MLP(in_features, hidden, out_features)
    y = model(mg.randn(N, in_features))
    assert y.shape == (N, out_features)
    sizes = [in_features, *hidden, out_features]
    assert sum(p.numel() for p in model.parameters()) == mlp_parameter_count(sizes)
    assert len(list(model.parameters())) == 2 * (len(hidden) + 1)


def test_forward_matches_numpy_reference():
    mg.manual_seed(0)
    model = MLP(5, [7, 4], 3, activation="tanh")
    x = np.random.default_rng(1).standard_normal((6, 5)).astype(np.float32)
    weights = [(m.weight.numpy(), m.bias.numpy()) for m in model.net
               if type(m).__name__ == "Linear"]
    h = x
    for i, (w, b) in enumerate(weights):
        h = h @ w.T + b
        if i < len(weights) - 1:
            h = np.tanh(h)
    np.testing.assert_allclose(model(mg.tensor(x)).numpy(), h, rtol=1e-5, atol=1e-6)


def test_images_are_flattened():
    model = MLP(64, [8], 10)
    x = mg.randn(3, 1, 8, 8)
    np.testing.assert_allclose(model(x).numpy(), model(x.reshape(3, 64)).numpy())


def test_activation_class_is_accepted():
    from layers import Tanh
    model = MLP(2, [3], 1, activation=Tanh)
    assert type(model.net[1]).__name__ == "Tanh"


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(2, [3], 1, activation="swishy")
    with pytest.raises(ValueError, match="positive ints"):
        MLP(2, [0], 1)
    with pytest.raises(ValueError, match="dropout"):
        MLP(2, [3], 1, dropout=1.0)
    with pytest.raises(ValueError, match=r"MLP: expected input of shape \(N, 4\)"):
        MLP(4, [3], 1)(mg.randn(2, 5))


def test_dropout_only_in_training_mode():
    mg.manual_seed(0)
    model = MLP(10, [64], 2, dropout=0.5)
    x = mg.randn(4, 10)
    assert not np.allclose(model(x).numpy(), model(x).numpy())
    model.eval()
    plain = MLP(10, [64], 2)
    plain.load_state_dict({k.replace("net.3", "net.2"): v
                           for k, v in model.state_dict().items()})
    np.testing.assert_allclose(model(x).numpy(), plain(x).numpy(), rtol=1e-6)


def test_training_steps_lower_the_loss():
    mg.manual_seed(0)
    x, y = make_moons(64, noise=0.05, seed=0)
    x, y = mg.tensor(x), mg.tensor(y)
    model = MLP(2, [16], 2, activation="tanh")
    optimizer = SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


def test_state_dict_round_trip(tmp_path):
    mg.manual_seed(0)
    model = MLP(6, [5, 4], 3)
    path = tmp_path / "mlp.npz"
    mg.save(model.state_dict(), path)
    mg.manual_seed(1)
    restored = MLP(6, [5, 4], 3)
    x = mg.randn(2, 6)
    assert not np.allclose(restored(x).numpy(), model(x).numpy())
    restored.load_state_dict(mg.load(path))
    np.testing.assert_array_equal(restored(x).numpy(), model(x).numpy())


def test_gradcheck_input_and_parameters():
    mg.manual_seed(0)
    model = MLP(3, [4], 2, activation="tanh").double()
    x = mg.randn(5, 3, dtype=mg.float64, requires_grad=True)
    params = list(model.parameters())
    assert mg.gradcheck(lambda x, *_: model(x), [x, *params])
