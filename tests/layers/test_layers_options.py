"""Every documented constructor option of the layers, checked by a test that fails if the option
is ignored or implemented another way.

The NumPy references here are slow and obvious: explicit windows for pooling, explicit padding
for convolution, separable 1-D interpolation for Upsample. Tests whose names end in
``_vs_torch`` compare the same options with PyTorch (skipped where it is not installed). The
options of layers already covered elsewhere (test_layers_forward, test_layers_norm, ...) are
listed in tests/OPTIONS.md with the test that checks each.

Notation
--------
K, S, P, D    window size, stride, padding, dilation along one axis
H, OH         input and output length along that axis
"""
import math
import re

import numpy as np
import pytest

import minigrad as mg
import layers as L
import references as R


def pool_length(H, K, S, P, D=1, ceil_mode=False):
    """PyTorch's output length: with ceil_mode a last, partial window is kept only if it starts
    inside the input or the left padding."""
    span = D * (K - 1) + 1
    OH = (-(-(H + 2 * P - span) // S) if ceil_mode else (H + 2 * P - span) // S) + 1
    if ceil_mode and (OH - 1) * S >= H + P:
        OH -= 1
    return OH


def max_pool_reference(x, K, S, P, D, ceil_mode):
    """Max over each window, padding counting as −∞; windows past the padding are clipped."""
    N, C, H, W = x.shape
    OH, OW = (pool_length(n, K[i], S[i], P[i], D[i], ceil_mode) for i, n in enumerate((H, W)))
    big = np.full((N, C, H + 2 * P[0] + K[0] * D[0], W + 2 * P[1] + K[1] * D[1]), -np.inf)
    big[:, :, P[0]:P[0] + H, P[1]:P[1] + W] = x
    out = np.empty((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            window = big[:, :, i * S[0]:i * S[0] + D[0] * (K[0] - 1) + 1:D[0],
                         j * S[1]:j * S[1] + D[1] * (K[1] - 1) + 1:D[1]]
            out[:, :, i, j] = window.max((2, 3))
    return out


def avg_pool_reference(x, K, S, P, ceil_mode, count_include_pad):
    """PyTorch's divisor: the window clipped to the padded input (count_include_pad) or to the
    input itself."""
    N, C, H, W = x.shape
    OH, OW = pool_length(H, K[0], S[0], P[0], 1, ceil_mode), pool_length(W, K[1], S[1], P[1],
                                                                         1, ceil_mode)
    out = np.empty((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            h0, w0 = i * S[0] - P[0], j * S[1] - P[1]
            h1, w1 = min(h0 + K[0], H + P[0]), min(w0 + K[1], W + P[1])
            padded_cells = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            total = x[:, :, h0:h1, w0:w1].sum((2, 3))
            out[:, :, i, j] = total / (padded_cells if count_include_pad
                                       else (h1 - h0) * (w1 - w0))
    return out


@pytest.mark.parametrize("K, S, P, D, ceil_mode", [
    ((3, 3), (2, 2), (0, 0), (1, 1), True),
    ((2, 2), (2, 2), (0, 0), (2, 2), False),
    ((3, 3), (2, 2), (1, 1), (2, 2), True),
    ((3, 2), (2, 1), (1, 0), (1, 2), True),
])
def test_max_pool_ceil_mode_and_dilation(K, S, P, D, ceil_mode):
    x = np.random.default_rng(0).permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6).astype(float)
    layer = L.MaxPool2d(K, S, P, dilation=D, ceil_mode=ceil_mode)
    np.testing.assert_array_equal(layer(mg.tensor(x)).numpy(),
                                  max_pool_reference(x, K, S, P, D, ceil_mode))


def test_max_pool_ceil_mode_changes_the_size():
    x = mg.randn(1, 1, 7, 7)
    assert L.MaxPool2d(2)(x).shape == (1, 1, 3, 3)
    assert L.MaxPool2d(2, ceil_mode=True)(x).shape == (1, 1, 4, 4)
    assert L.MaxPool2d(3, stride=1, dilation=3)(x).shape == (1, 1, 1, 1)


@pytest.mark.parametrize("P, ceil_mode, count_include_pad", [
    (1, False, False), (1, False, True), (0, True, True), (1, True, False), (1, True, True),
])
def test_avg_pool_count_include_pad_and_ceil_mode(P, ceil_mode, count_include_pad):
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 6))
    layer = L.AvgPool2d(3, 2, P, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(),
                               avg_pool_reference(x, (3, 3), (2, 2), (P, P), ceil_mode,
                                                  count_include_pad), rtol=1e-12)


def test_avg_pool_count_include_pad_false_at_a_corner():
    x = mg.ones(1, 1, 2, 2, dtype=np.float64)
    assert L.AvgPool2d(2, 1, 1, count_include_pad=False)(x).numpy()[0, 0, 0, 0] == 1.0
    assert L.AvgPool2d(2, 1, 1)(x).numpy()[0, 0, 0, 0] == 0.25


def test_adaptive_avg_pool_none_keeps_that_side():
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 5))
    np.testing.assert_allclose(L.AdaptiveAvgPool2d((None, 1))(mg.tensor(x)).numpy(),
                               x.mean(3, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(L.AdaptiveAvgPool2d((3, None))(mg.tensor(x)).numpy(),
                               x.reshape(2, 3, 3, 2, 5).mean(3), rtol=1e-12)


def test_max_unpool_output_size_restores_an_odd_plane():
    x = np.random.default_rng(3).permutation(25).reshape(1, 1, 5, 5).astype(float)
    y, indices = L.MaxPool2d(2, return_indices=True)(mg.tensor(x))
    unpool = L.MaxUnpool2d(2)
    with pytest.raises(IndexError, match=r"\[0, 16\) for an output plane of 4x4"):
        unpool(y, indices)                          # the default plane is too small for them
    restored = unpool(y, indices, output_size=(5, 5)).numpy()
    expected = np.zeros(25)
    expected[indices.numpy().ravel()] = y.numpy().ravel()
    np.testing.assert_array_equal(restored.ravel(), expected)


def _conv_valid(x, w):
    """Stride-1, unpadded cross-correlation, by explicit windows."""
    K, C, KH, KW = w.shape
    OH, OW = x.shape[2] - KH + 1, x.shape[3] - KW + 1
    out = np.empty((x.shape[0], K, OH, OW))
    for i in range(OH):
        for j in range(OW):
            out[:, :, i, j] = np.einsum("nchw,kchw->nk", x[:, :, i:i + KH, j:j + KW], w)
    return out


@pytest.mark.parametrize("kernel_size", [(4, 4), (2, 3), (3, 3)])
def test_conv_same_padding_puts_the_odd_pixel_after(kernel_size):
    # 'same' pads D·(K − 1) in total: half (rounded down) before, the rest after, as PyTorch.
    layer = L.Conv2d(2, 3, kernel_size, padding="same", bias=False).double()
    x = np.random.default_rng(4).standard_normal((2, 2, 5, 6))
    (KH, KW) = kernel_size
    padded = np.pad(x, ((0, 0), (0, 0), ((KH - 1) // 2, KH // 2), ((KW - 1) // 2, KW // 2)))
    out = layer(mg.tensor(x)).numpy()
    assert out.shape == (2, 3, 5, 6)
    np.testing.assert_allclose(out, _conv_valid(padded, layer.weight.numpy()), rtol=1e-10)


def test_conv_valid_padding_is_no_padding():
    layer = L.Conv2d(2, 3, 3, padding="valid").double()
    x = np.random.default_rng(5).standard_normal((1, 2, 5, 4))
    expected = _conv_valid(x, layer.weight.numpy()) + layer.bias.numpy()[:, None, None]
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("mode, numpy_mode", [("reflect", "reflect"), ("replicate", "edge"),
                                              ("circular", "wrap")])
@pytest.mark.parametrize("padding, dilation, kernel, widths", [
    ((1, 2), 1, 3, ((1, 1), (2, 2))),
    ("same", 1, (4, 3), ((1, 2), (1, 1))),   # the odd row of an even kernel at the bottom
    ("same", 2, 3, ((2, 2), (2, 2))),
    ("valid", 1, 3, ((0, 0), (0, 0)))])
def test_conv_padding_modes_pad_with_the_image_itself(mode, numpy_mode, padding, dilation,
                                                      kernel, widths):
    layer = L.Conv2d(2, 3, kernel, padding=padding, dilation=dilation, padding_mode=mode).double()
    x = np.random.default_rng(7).standard_normal((2, 2, 5, 6))
    padded = np.pad(x, ((0, 0), (0, 0)) + widths, mode=numpy_mode)
    expected = R.conv2d(padded, layer.weight.numpy(), layer.bias.numpy(), dilation=dilation)
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(layer(mg.tensor(x[0])).numpy(), expected[0], rtol=1e-10)
    assert repr(layer).endswith(f"padding_mode={mode})")


def test_conv_padding_mode_errors():
    with pytest.raises(ValueError, match=r"^Conv2d: padding_mode must be one of \('zeros', "
                                         r"'reflect', 'replicate', 'circular'\), got 'wrap'$"):
        L.Conv2d(2, 3, 3, padding_mode="wrap")
    with pytest.raises(ValueError, match=r"^ConvTranspose2d: padding_mode must be one of "
                                         r"\('zeros',\), got 'reflect'$"):
        L.ConvTranspose2d(2, 3, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"^pad: mode='reflect' with widths \(3, 3\) on axis 3 "
                                         r"of length 3"):
        L.Conv2d(1, 1, 3, padding=3, padding_mode="reflect")(mg.zeros(1, 1, 3, 3))


def test_conv_transpose_without_bias():
    layer = L.ConvTranspose2d(2, 3, 2, stride=2, bias=False).double()
    assert layer.bias is None and list(layer.state_dict()) == ["weight"]
    x = np.random.default_rng(6).standard_normal((1, 2, 2, 2))
    # stride = kernel: each input pixel writes its own 2x2 block, no overlap
    expected = np.einsum("nchw,ckab->nkhawb", x, layer.weight.numpy()).reshape(1, 3, 4, 4)
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-12)


def _interp_axis(x, axis, OH, scale, align_corners, mode):
    """1-D resampling along ``axis``: PyTorch's source coordinate for each output index."""
    H = x.shape[axis]
    o = np.arange(OH)
    if mode == "nearest":
        src = np.minimum(np.floor(o * (1 / scale)).astype(int), H - 1)
        return np.take(x, src, axis)
    if align_corners:
        src = o * ((H - 1) / (OH - 1)) if OH > 1 else np.zeros(OH)
    else:
        src = np.maximum((o + 0.5) / scale - 0.5, 0)
    lo = np.minimum(np.floor(src).astype(int), H - 1)
    hi = np.minimum(lo + 1, H - 1)
    t = (src - lo).reshape([-1 if a == axis else 1 for a in range(x.ndim)])
    return np.take(x, lo, axis) * (1 - t) + np.take(x, hi, axis) * t


@pytest.mark.parametrize("kwargs, scales", [
    (dict(scale_factor=(2, 3)), (2, 3)),
    (dict(scale_factor=1.7), (1.7, 1.7)),
    (dict(scale_factor=1.7, recompute_scale_factor=True), None),
    (dict(size=(9, 4)), None),
    (dict(scale_factor=1.5, mode="bilinear"), (1.5, 1.5)),
    (dict(scale_factor=1.5, mode="bilinear", align_corners=True), None),
    (dict(scale_factor=0.6, mode="bilinear", recompute_scale_factor=True), None),
    (dict(size=(4, 11), mode="bilinear"), None),
])
def test_upsample_options(kwargs, scales):
    x = np.random.default_rng(7).standard_normal((1, 2, 7, 6))
    out = L.Upsample(**kwargs)(mg.tensor(x)).numpy()
    OH, OW = out.shape[2:]
    if "size" in kwargs:
        assert (OH, OW) == kwargs["size"]
    else:
        s = kwargs["scale_factor"]
        s = s if isinstance(s, tuple) else (s, s)
        assert (OH, OW) == (math.floor(7 * s[0]), math.floor(6 * s[1]))
    # without a given scale (size, or recompute_scale_factor) the scale is OH / H
    sh, sw = scales if scales is not None else (OH / 7, OW / 6)
    mode, corners = kwargs.get("mode", "nearest"), kwargs.get("align_corners", False)
    expected = _interp_axis(_interp_axis(x, 2, OH, sh, corners, mode), 3, OW, sw, corners, mode)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)


def _torch_compare(ours, theirs, inputs, rtol=1e-9, atol=1e-11):
    """Same state, same inputs: outputs, every gradient and the state after one call agree."""
    torch = pytest.importorskip("torch")
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours_in = [mg.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    theirs_in = [torch.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    y_ours, y_theirs = ours(*ours_in), theirs(*theirs_in)
    if isinstance(y_theirs, tuple):
        y_ours, y_theirs = y_ours[0], y_theirs[0]
    np.testing.assert_allclose(y_ours.numpy(), y_theirs.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(0).standard_normal(tuple(y_theirs.shape))
    (y_ours * mg.tensor(g)).sum().backward()
    (y_theirs * torch.tensor(g)).sum().backward()
    for a, b in zip(ours_in, theirs_in):
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)
    theirs_params = dict(theirs.named_parameters())
    assert sorted(n for n, _ in ours.named_parameters()) == sorted(theirs_params)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(), rtol=rtol,
                                   atol=atol, err_msg=name)
    theirs_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(theirs_state)
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value.numpy(), theirs_state[name].numpy(), rtol=rtol,
                                   atol=atol, err_msg=name)


def _image(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# (name, constructor arguments) pairs, built the same way in both libraries
OPTION_CASES = [
    ("Conv2d", (4, 2, 3), dict(padding="valid")),
    ("Conv2d", (4, 2, 4), dict(padding="same")),
    ("Conv2d", (4, 2, (2, 3)), dict(padding="same", dilation=2, bias=False)),
    ("Conv2d", (4, 2, 3), dict(padding=(1, 2), padding_mode="reflect")),
    ("Conv2d", (4, 2, (2, 3)), dict(padding="same", padding_mode="replicate")),
    ("Conv2d", (4, 2, 3), dict(padding=2, dilation=2, stride=2, padding_mode="circular")),
    ("ConvTranspose2d", (4, 2, 3), dict(stride=2, bias=False)),
    ("MaxPool2d", (3, 2), dict(ceil_mode=True)),
    ("MaxPool2d", ((3, 2), (2, 1), (1, 0)), dict(dilation=(1, 2), ceil_mode=True)),
    ("AvgPool2d", (3, 2, 1), dict(count_include_pad=False)),
    ("AvgPool2d", (3, 2, 1), dict(ceil_mode=True)),
    ("AvgPool2d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False)),
    ("AdaptiveAvgPool2d", ((None, 3),), {}),
    ("Upsample", (), dict(scale_factor=(2, 3))),
    ("Upsample", (), dict(scale_factor=1.7, recompute_scale_factor=True)),
    ("Upsample", (), dict(scale_factor=1.5, mode="bilinear", align_corners=True)),
    ("Upsample", (), dict(scale_factor=0.6, mode="bilinear")),
    ("BatchNorm2d", (4,), dict(momentum=0.3, eps=0.5)),
    ("BatchNorm2d", (4,), dict(momentum=None)),
    ("BatchNorm2d", (4,), dict(affine=False)),
    ("BatchNorm2d", (4,), dict(track_running_stats=False)),
    ("BatchNorm2d", (4,), dict(bias=False)),
    ("InstanceNorm2d", (4,), dict(eps=0.3, momentum=0.4, track_running_stats=True)),
    ("InstanceNorm2d", (4,), dict(affine=True, bias=False)),
    ("LayerNorm", ((7, 6),), dict(elementwise_affine=False, eps=0.1)),
    ("LayerNorm", (6,), dict(bias=False)),
    ("GroupNorm", (2, 4), dict(affine=False, eps=0.2)),
    ("GroupNorm", (4, 4), dict(bias=False)),
    ("Softmax", (0,), {}),
    ("Softmax", (-2,), {}),
    ("LogSoftmax", (1,), {}),
    ("LeakyReLU", (), {}),
    ("ELU", (0.3,), {}),
    ("GELU", (), dict(approximate="tanh")),
    ("Softplus", (), dict(beta=0.5, threshold=1.0)),
]


@pytest.mark.parametrize("name, args, kwargs", OPTION_CASES,
                         ids=[f"{n}-{a}-{k}" for n, a, k in OPTION_CASES])
def test_layer_option_vs_torch(name, args, kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(L, name)(*args, **kwargs).double(), \
        getattr(torch.nn, name)(*args, **kwargs).double()
    _torch_compare(ours, theirs, [_image(2, 4, 7, 6) * 2 + 0.5])
    if name.startswith(("BatchNorm", "InstanceNorm")):   # eval after a training step
        _torch_compare(ours.eval(), theirs.eval(), [_image(2, 4, 7, 6, seed=1)])


def test_linear_bilinear_without_bias_vs_torch():
    torch = pytest.importorskip("torch")
    _torch_compare(L.Linear(5, 3, bias=False).double(),
                   torch.nn.Linear(5, 3, bias=False).double(), [_image(2, 5)])
    _torch_compare(L.Bilinear(3, 4, 2, bias=False).double(),
                   torch.nn.Bilinear(3, 4, 2, bias=False).double(),
                   [_image(5, 3), _image(5, 4, seed=1)])


def test_embedding_negative_padding_idx_vs_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = L.Embedding(6, 3, padding_idx=-2), torch.nn.Embedding(6, 3, padding_idx=-2)
    assert ours.padding_idx == theirs.padding_idx == 4
    _torch_compare(ours.double(), theirs.double(), [np.array([[4, 1, 4], [0, 5, 1]])])


def test_max_unpool_output_size_vs_torch():
    torch = pytest.importorskip("torch")
    x = _image(2, 3, 5, 5)
    y, indices = L.MaxPool2d(2, return_indices=True)(mg.tensor(x))
    ty, tindices = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(indices.numpy(), tindices.numpy())
    ours = L.MaxUnpool2d(2)(y, indices, output_size=(5, 5)).numpy()
    theirs = torch.nn.MaxUnpool2d(2)(ty, tindices, output_size=(5, 5)).numpy()
    np.testing.assert_array_equal(ours, theirs)


def test_dropout_eval_and_p_zero_vs_torch():
    torch = pytest.importorskip("torch")
    x = _image(3, 4)
    for p in (0.0, 0.7):
        ours, theirs = L.Dropout(p).eval(), torch.nn.Dropout(p).eval()
        np.testing.assert_array_equal(ours(mg.tensor(x)).numpy(),
                                      theirs(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(L.Dropout(0.0)(mg.tensor(x)).numpy(),
                                  torch.nn.Dropout(0.0)(torch.tensor(x)).numpy())
    assert repr(L.Dropout(0.2, inplace=True)) == repr(torch.nn.Dropout(0.2, inplace=True))


@pytest.mark.parametrize("build, message", [
    (lambda: L.MaxPool2d(2, 2, 0, 2),
     "MaxPool2d: return_indices must be a bool, got 2; pass dilation and ceil_mode by keyword"),
    (lambda: L.MaxPool1d(2, ceil_mode=1), "MaxPool1d: ceil_mode must be a bool, got 1"),
    (lambda: L.AvgPool2d(2, count_include_pad=0),
     "AvgPool2d: count_include_pad must be a bool, got 0"),
    (lambda: L.AvgPool1d(2, ceil_mode=None), "AvgPool1d: ceil_mode must be a bool, got None"),
    (lambda: L.AdaptiveMaxPool2d(2, return_indices="yes"),
     "AdaptiveMaxPool2d: return_indices must be a bool, got 'yes'"),
])
def test_pooling_layers_refuse_flags_that_are_not_bools_when_built(build, message):
    # MaxPool2d(2, 2, 0, 2) is PyTorch's dilation=2; read by its truth it meant return_indices
    with pytest.raises(TypeError, match="^" + re.escape(message) + "$"):
        build()


def test_pooling_layers_take_numpy_bools_and_keep_plain_ones():
    pool = L.AvgPool2d(2, ceil_mode=np.bool_(True), count_include_pad=np.bool_(False))
    assert (pool.ceil_mode, pool.count_include_pad) == (True, False)
    assert type(pool.ceil_mode) is bool and type(pool.count_include_pad) is bool
    assert L.MaxPool2d(2, return_indices=np.bool_(True)).return_indices is True
