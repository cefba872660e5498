"""PyTorch as an optional oracle: its state dicts load into our layers, which then agree with
it on outputs and on every gradient. Skipped where torch is not installed."""
import numpy as np
import pytest

import minigrad as mg
import layers as L

torch = pytest.importorskip("torch")
nn = torch.nn


def to_numpy_state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def compare(ours, theirs, inputs, rtol=1e-9, atol=1e-10):
    """Same state, same inputs: outputs, input gradients and parameter gradients must agree."""
    assert repr(ours) == repr(theirs)
    result = ours.load_state_dict(to_numpy_state(theirs))
    assert result == ([], [])
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(0)
    ours_in = [mg.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    theirs_in = [torch.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    y_ours, y_theirs = ours(*ours_in), theirs(*theirs_in)
    y_theirs_np = y_theirs.detach().numpy()
    np.testing.assert_allclose(y_ours.numpy(), y_theirs_np, rtol=rtol, atol=atol)
    g = rng.standard_normal(y_theirs_np.shape)
    (y_ours * mg.tensor(g)).sum().backward()
    (y_theirs * torch.tensor(g)).sum().backward()
    for a, b in zip(ours_in, theirs_in):
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), rtol=rtol,
                                   atol=atol, err_msg=name)
    for name, b in ours.state_dict().items():  # running statistics after the step
        np.testing.assert_allclose(b.numpy(), theirs.state_dict()[name].numpy(), rtol=rtol,
                                   atol=atol, err_msg=name)


def images(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_linear():
    compare(L.Linear(5, 3).double(), nn.Linear(5, 3).double(), [images(2, 4, 5)])


def test_bilinear():
    compare(L.Bilinear(3, 4, 2).double(), nn.Bilinear(3, 4, 2).double(),
            [images(5, 3), images(5, 4, seed=1)])


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=1),
                                    dict(stride=(1, 2), padding=(2, 0), dilation=2, groups=2),
                                    dict(padding="same", bias=False)])
def test_conv2d(kwargs):
    compare(L.Conv2d(4, 6, 3, **kwargs).double(), nn.Conv2d(4, 6, 3, **kwargs).double(),
            [images(2, 4, 7, 8)])


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=1, output_padding=1),
                                    dict(stride=(2, 1), dilation=(1, 2), groups=2)])
def test_conv_transpose2d(kwargs):
    compare(L.ConvTranspose2d(4, 6, 3, **kwargs).double(),
            nn.ConvTranspose2d(4, 6, 3, **kwargs).double(), [images(2, 4, 4, 5)])


def test_batchnorm2d_train_then_eval():
    ours, theirs = L.BatchNorm2d(3).double(), nn.BatchNorm2d(3).double()
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 2)
        theirs.bias.uniform_(-1, 1)
    compare(ours, theirs, [images(4, 3, 2, 5) * 3 + 1])   # training step: stats updated
    for layer in (ours, theirs):
        layer.zero_grad()
    theirs.eval()
    ours.eval()
    compare(ours, theirs, [images(2, 3, 2, 5, seed=1)])


def test_batchnorm1d_momentum_none():
    ours, theirs = L.BatchNorm1d(3, momentum=None).double(), nn.BatchNorm1d(3, momentum=None)
    theirs.double()
    for seed in range(3):
        x = images(5, 3, 4, seed=seed)
        ours(mg.tensor(x))
        theirs(torch.tensor(x))
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name].numpy(), value.numpy(), rtol=1e-12)


def test_instance_norm_with_running_stats():
    kwargs = dict(affine=True, track_running_stats=True)
    compare(L.InstanceNorm2d(3, **kwargs).double(), nn.InstanceNorm2d(3, **kwargs).double(),
            [images(2, 3, 4, 5)])


@pytest.mark.parametrize("kwargs", [dict(), dict(affine=True, track_running_stats=True),
                                    dict(momentum=0.5, track_running_stats=True, bias=False,
                                         affine=True)])
def test_instance_norm_1d(kwargs):
    ours = L.InstanceNorm1d(3, **kwargs).double()
    theirs = nn.InstanceNorm1d(3, **kwargs).double()
    compare(ours, theirs, [np.random.default_rng(7).standard_normal((2, 3, 6))])
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(8).standard_normal((3, 6))  # unbatched, in eval
    np.testing.assert_allclose(ours(mg.tensor(x)).numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


def test_layer_norm_and_group_norm():
    theirs = nn.LayerNorm((4, 5)).double()
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 2)
    compare(L.LayerNorm((4, 5)).double(), theirs, [images(3, 2, 4, 5)])
    theirs = nn.GroupNorm(2, 6).double()
    with torch.no_grad():
        theirs.bias.uniform_(-1, 1)
    compare(L.GroupNorm(2, 6).double(), theirs, [images(2, 6, 3, 3)])


def test_embedding_with_padding():
    ours, theirs = L.Embedding(7, 3, padding_idx=2).double(), nn.Embedding(7, 3, padding_idx=2)
    theirs.double()
    compare(ours, theirs, [np.array([[2, 1, 1], [6, 2, 0]])])


def test_pooling_and_upsampling_layers():
    x = images(2, 3, 6, 7)
    for ours, theirs in [(L.MaxPool2d(2), nn.MaxPool2d(2)),
                         (L.MaxPool2d(3, 2, 1), nn.MaxPool2d(3, 2, 1)),
                         (L.AvgPool2d(3, 2, 1), nn.AvgPool2d(3, 2, 1)),
                         (L.AdaptiveAvgPool2d((4, 3)), nn.AdaptiveAvgPool2d((4, 3))),
                         (L.Upsample(scale_factor=2), nn.Upsample(scale_factor=2)),
                         (L.Upsample(size=(5, 9), mode="bilinear"),
                          nn.Upsample(size=(5, 9), mode="bilinear"))]:
        compare(ours, theirs, [x])


def test_activation_layers():
    x = images(4, 5) * 3
    pairs = [(L.ReLU(), nn.ReLU()), (L.LeakyReLU(0.1), nn.LeakyReLU(0.1)), (L.ELU(), nn.ELU()),
             (L.SELU(), nn.SELU()), (L.GELU(), nn.GELU()), (L.GELU("tanh"), nn.GELU("tanh")),
             (L.Sigmoid(), nn.Sigmoid()), (L.Tanh(), nn.Tanh()), (L.SiLU(), nn.SiLU()),
             (L.Softplus(2.0, 4.0), nn.Softplus(2.0, 4.0)), (L.Softmax(1), nn.Softmax(1)),
             (L.LogSoftmax(0), nn.LogSoftmax(0))]
    for ours, theirs in pairs:
        compare(ours, theirs, [x])
        assert repr(ours) == repr(theirs)


def test_model_state_dict_names_and_reprs_match():
    def build(lib):
        return lib.Sequential(lib.Conv2d(1, 4, 3, padding=1), lib.BatchNorm2d(4), lib.ReLU(),
                              lib.MaxPool2d(2), lib.Flatten(), lib.Linear(4 * 3 * 3, 5),
                              lib.LayerNorm(5), lib.Dropout(0.1))

    ours, theirs = build(L).double(), build(nn).double().eval()
    ours.eval()
    compare(ours, theirs, [images(2, 1, 6, 6)])
    assert repr(ours) == repr(theirs)
    # and the other way round: our state dict loads into PyTorch
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
