"""PyTorch habits in layers: Dropout2d, the padding layers, PixelShuffle/PixelUnshuffle,
ParameterList/ParameterDict, and Module's tree walks, each against a NumPy reference (or an
exact expectation) and against ``torch.nn`` in the ``_vs_torch`` tests."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import layers as nn
from strategies import values

RNG = np.random.default_rng(2)


def t64(array, requires_grad=False):
    return mg.tensor(array, dtype=np.float64, requires_grad=requires_grad)


def reflect_reference(x, PL, PR, PT, PB):
    return np.pad(x, ((0, 0),) * (x.ndim - 2) + ((PT, PB), (PL, PR)), mode="reflect")


def replicate_reference(x, PL, PR, PT, PB):
    return np.pad(x, ((0, 0),) * (x.ndim - 2) + ((PT, PB), (PL, PR)), mode="edge")


def constant_reference(x, PL, PR, PT, PB, value):
    H, W = x.shape[-2:]
    x = x[..., max(-PT, 0):H - max(-PB, 0), max(-PL, 0):W - max(-PR, 0)]
    widths = ((0, 0),) * (x.ndim - 2) + ((max(PT, 0), max(PB, 0)), (max(PL, 0), max(PR, 0)))
    return np.pad(x, widths, constant_values=value)


def pixel_shuffle_reference(x, r):
    *batch, C, H, W = x.shape
    out = np.empty((*batch, C // r ** 2, H * r, W * r))
    for c in range(C // r ** 2):
        for i in range(r):
            for j in range(r):
                out[..., c, i::r, j::r] = x[..., c * r * r + i * r + j, :, :]
    return out


@pytest.mark.parametrize("padding", [1, (0, 2, 1, 0), (3, 1, 2, 2)])
@pytest.mark.parametrize("batched", [True, False])
def test_padding_layers_vs_numpy(padding, batched):
    x = RNG.normal(size=(2, 3, 4, 5) if batched else (3, 4, 5))
    sides = (padding,) * 4 if isinstance(padding, int) else padding
    np.testing.assert_array_equal(nn.ReflectionPad2d(padding)(t64(x)).numpy(),
                                  reflect_reference(x, *sides))
    np.testing.assert_array_equal(nn.ReplicationPad2d(padding)(t64(x)).numpy(),
                                  replicate_reference(x, *sides))
    np.testing.assert_array_equal(nn.ZeroPad2d(padding)(t64(x)).numpy(),
                                  constant_reference(x, *sides, 0.0))
    np.testing.assert_array_equal(nn.ConstantPad2d(padding, -1.5)(t64(x)).numpy(),
                                  constant_reference(x, *sides, -1.5))


def test_constant_pad_negative_crops():
    x = RNG.normal(size=(1, 2, 5, 6))
    out = nn.ConstantPad2d((-1, 2, 1, -2), 7.0)(t64(x)).numpy()
    np.testing.assert_array_equal(out, constant_reference(x, -1, 2, 1, -2, 7.0))
    assert out.shape == (1, 2, 4, 7)


def test_reflection_pad_gradient_folds_back():
    """Each mirrored entry returns its gradient to the entry it copies: a 1x3 row padded by
    2 on each side reads entries [2 1 0 1 2 1 0], so the gradient of a sum is [2, 3, 2]."""
    x = t64([[[1.0, 2.0, 3.0]]], requires_grad=True)
    nn.ReflectionPad2d((2, 2, 0, 0))(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[2.0, 3.0, 2.0]]])


@given(st.data(), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2), st.integers(0, 2),
       st.integers(0, 2), st.integers(0, 2))
def test_padding_gradients(data, H, W, PL, PR, PT, PB):
    x = t64(data.draw(values((1, 2, H + 2, W + 2))), requires_grad=True)
    for layer in (nn.ReflectionPad2d((PL, PR, PT, PB)), nn.ReplicationPad2d((PL, PR, PT, PB)),
                  nn.ConstantPad2d((PL, -PR, PT, -PB), 0.5)):
        assert mg.gradcheck(layer, (x,))
        assert mg.gradgradcheck(layer, (x,))


@pytest.mark.parametrize("make, shape, message", [
    (lambda: nn.ReflectionPad2d(3), (1, 1, 3, 5),
     r"padding \(3, 3\) of the height must be in \[0, 2\]"),
    (lambda: nn.ReflectionPad2d((1, 2, 3)), None, r"\(left, right, top, bottom\)"),
    (lambda: nn.ZeroPad2d(1), (4, 5), r"ZeroPad2d: expected a Tensor of shape \(N, C, H, W\)"),
    (lambda: nn.ConstantPad2d(-3, 0.0), (1, 1, 4, 4), "crops an input of shape"),
    (lambda: nn.PixelShuffle(2), (1, 6, 2, 2), "channels divisible by r\\*r = 4, got 6"),
    (lambda: nn.PixelUnshuffle(2), (1, 1, 3, 4), "height and width divisible by r = 2"),
    (lambda: nn.PixelShuffle(0), None, "positive int"),
    (lambda: nn.Dropout2d(1.5), None, r"p must be a probability in \[0, 1\]"),
    (lambda: nn.Dropout2d(), (3, 4), r"Dropout2d: expected a Tensor of shape"),
])
def test_bad_input_is_named(make, shape, message):
    with pytest.raises(ValueError, match=message):
        make()(mg.zeros(shape))


@pytest.mark.parametrize("shape, r", [((1, 8, 2, 3), 2), ((2, 3, 9, 1, 2), 3), ((4, 2, 2), 1)])
def test_pixel_shuffle_vs_numpy_and_inverse(shape, r):
    x = RNG.normal(size=shape)
    y = nn.PixelShuffle(r)(t64(x))
    np.testing.assert_array_equal(y.numpy(), pixel_shuffle_reference(x, r))
    np.testing.assert_array_equal(nn.PixelUnshuffle(r)(y).numpy(), x)


@given(st.data(), st.integers(1, 2), st.integers(1, 3), st.integers(1, 2))
def test_pixel_shuffle_gradients(data, C, r, H):
    x = t64(data.draw(values((2, C * r * r, H, 2))), requires_grad=True)
    assert mg.gradcheck(nn.PixelShuffle(r), (x,))
    assert mg.gradgradcheck(nn.PixelShuffle(r), (x,))
    z = t64(data.draw(values((1, C, H * r, 2 * r), salt=1)), requires_grad=True)
    assert mg.gradcheck(nn.PixelUnshuffle(r), (z,))


@pytest.mark.parametrize("shape", [(8, 16, 3, 3), (8, 16, 5)])
def test_dropout2d_zeroes_whole_channels(shape):
    mg.manual_seed(0)
    x = RNG.uniform(1.0, 2.0, size=shape)
    layer = nn.Dropout2d(0.25)
    out = layer(t64(x)).numpy()
    planes, ratio = out.reshape(shape[0] * shape[1], -1), (out / x).reshape(shape[0] * shape[1], -1)
    dropped = (planes == 0).all(1)
    kept = np.isclose(ratio, 1 / 0.75).all(1)
    assert (dropped | kept).all()  # every plane is all zero or all scaled
    assert 0.1 < dropped.mean() < 0.4  # 128 channels at p = 0.25
    layer.eval()
    assert np.array_equal(layer(t64(x)).numpy(), x)
    assert np.array_equal(nn.Dropout2d(0.0)(t64(x)).numpy(), x)
    assert not nn.Dropout2d(1.0)(t64(x)).numpy().any()


def test_dropout2d_gradient_is_the_mask():
    mg.manual_seed(1)
    x = t64(np.ones((4, 6, 2, 2)), requires_grad=True)
    out = nn.Dropout2d(0.5)(x)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.numpy())


def test_parameter_list():
    params = nn.ParameterList([nn.Parameter(mg.zeros(2)), mg.ones(3)])
    assert isinstance(params[1], nn.Parameter) and params[1].requires_grad
    params.append(mg.full((1,), 2.0))
    params += [mg.zeros(4)]
    assert len(params) == 4 and [p.shape for p in params] == [(2,), (3,), (1,), (4,)]
    assert params[-1] is params[3] and isinstance(params[1:3], nn.ParameterList)
    params[0] = mg.full((2,), 5.0)
    np.testing.assert_array_equal(params[0].numpy(), [5.0, 5.0])

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = params

    assert list(Model().state_dict()) == ["weights.0", "weights.1", "weights.2", "weights.3"]
    assert len(list(Model().parameters())) == 4
    with pytest.raises(IndexError, match="ParameterList index 4 is out of range for length 4"):
        params[4]
    with pytest.raises(TypeError, match="ParameterList: entries must be Parameters or Tensors"):
        params.append([1.0])


def test_parameter_dict():
    scales = nn.ParameterDict({"alpha": mg.ones(1), "beta": mg.zeros(2)})
    scales["gamma"] = nn.Parameter(mg.ones(3))
    scales["alpha"] = mg.full((1,), 4.0)  # replaced in place: keeps its position
    assert list(scales) == ["alpha", "beta", "gamma"] and "beta" in scales
    assert scales["alpha"].item() == 4.0 and isinstance(scales["alpha"], nn.Parameter)
    assert scales.pop("beta").shape == (2,) and list(scales.keys()) == ["alpha", "gamma"]
    scales.update([("delta", mg.zeros(1))])
    assert list(scales.state_dict()) == ["alpha", "gamma", "delta"]
    with pytest.raises(KeyError, match="ParameterDict has no key 'beta'"):
        scales["beta"]


def _tree(lib):
    """One small model built the same way from ``layers`` or ``torch.nn``."""
    return lib.Sequential(lib.Conv2d(1, 2, 3), lib.Sequential(lib.ReLU(), lib.Identity()),
                          lib.Flatten(), lib.Unflatten(1, (2, 1)))


def test_module_walks_vs_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _tree(nn), _tree(torch.nn)
    names = lambda pairs: [(n, type(m).__name__) for n, m in pairs]  # noqa: E731
    assert names(ours.named_modules()) == names(theirs.named_modules())
    assert names(ours.named_children()) == names(theirs.named_children())
    assert [type(m).__name__ for m in ours.children()] == \
        [type(m).__name__ for m in theirs.children()]
    visited = ([], [])
    ours.apply(lambda m: visited[0].append(type(m).__name__))
    theirs.apply(lambda m: visited[1].append(type(m).__name__))
    assert visited[0] == visited[1]


def test_requires_grad_and_zero_grad_vs_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _tree(nn), _tree(torch.nn)
    x = RNG.normal(size=(1, 1, 3, 3)).astype(np.float32)
    ours(mg.tensor(x)).sum().backward()
    theirs(torch.tensor(x)).sum().backward()
    ours.zero_grad(set_to_none=False)
    theirs.zero_grad(set_to_none=False)
    assert [p.grad.numpy().tolist() for p in ours.parameters()] == \
        [p.grad.numpy().tolist() for p in theirs.parameters()]
    ours.zero_grad()
    theirs.zero_grad()
    assert all(p.grad is None for p in ours.parameters())
    assert ours.requires_grad_(False) is ours
    theirs.requires_grad_(False)
    assert [p.requires_grad for p in ours.parameters()] == \
        [p.requires_grad for p in theirs.parameters()] == [False, False]


@pytest.mark.parametrize("padding", [2, (1, 0, 2, 1)])
def test_new_layers_vs_torch(padding):
    torch = pytest.importorskip("torch")
    x = RNG.normal(size=(2, 8, 4, 6))
    for name, args in [("ReflectionPad2d", (padding,)), ("ReplicationPad2d", (padding,)),
                       ("ZeroPad2d", (padding,)), ("ConstantPad2d", (padding, 0.25)),
                       ("PixelShuffle", (2,)), ("PixelUnshuffle", (2,)), ("Identity", ()),
                       ("Unflatten", (1, (2, 4)))]:
        ours, theirs = t64(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, expected = getattr(nn, name)(*args)(ours), getattr(torch.nn, name)(*args)(theirs)
        np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
        g = RNG.normal(size=expected.shape)
        (out * t64(g)).sum().backward()
        (expected * torch.tensor(g)).sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_parameter_containers_state_dict_vs_torch():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Module()
    theirs.ws = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2)) for _ in range(2)])
    theirs.d = torch.nn.ParameterDict({"a": torch.nn.Parameter(torch.ones(1))})
    ours = nn.Module()
    ours.ws = nn.ParameterList([nn.Parameter(mg.zeros(2)) for _ in range(2)])
    ours.d = nn.ParameterDict({"a": nn.Parameter(mg.ones(1))})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() * 0 + 3 for k, v in theirs.state_dict().items()})
    assert ours.d["a"].item() == 3.0
