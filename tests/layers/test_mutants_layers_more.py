"""What ``layers/loss.py``, ``layers/linear.py``, ``layers/padding.py`` and ``layers/pooling.py``
promise, checked where the rest of the suite did not look: each test fails for a small,
realistic change (a default changed, a deprecated flag dropped, an error naming the wrong layer,
an index bound moved by one, a repr that drops an option), against NumPy values.
"""
import math

import numpy as np
import pytest

import layers as L
import minigrad as mg


def _cosine(a, b, eps=1e-12):
    """PyTorch's cosine of cosine_embedding_loss, row by row."""
    return (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + eps) * ((b * b).sum(-1) + eps))


# ---------------------------------------------------------------------------------- loss.py

def test_loss_repr_shows_reduction_only_when_it_is_not_the_default():
    assert repr(L.MSELoss()) == "MSELoss()"
    assert repr(L.L1Loss(reduction="sum")) == "L1Loss(reduction='sum')"
    assert repr(L.MSELoss(reduction="none")) == "MSELoss(reduction='none')"
    assert repr(L.KLDivLoss(reduction="batchmean")) == "KLDivLoss(reduction='batchmean')"


def test_huber_loss_defaults_are_mean_and_delta_one():
    x = np.array([0.5, -3.0, 1.5, 0.25])
    z = np.abs(x)
    ref = np.where(z < 1.0, 0.5 * z * z, z - 0.5)   # delta = 1
    loss = L.HuberLoss()
    assert loss.reduction == "mean" and loss.delta == 1.0
    out = loss(mg.tensor(x), mg.tensor(np.zeros(4)))
    assert out.shape == ()
    np.testing.assert_allclose(out.item(), ref.mean(), rtol=1e-12)


def test_cosine_embedding_loss_default_margin_is_zero_and_mean():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    b = np.array([[0.0, 1.0], [1.0, 0.5], [-1.0, 0.0]])
    y = np.array([1.0, -1.0, -1.0])
    cos = _cosine(a, b)
    ref = np.where(y == 1, 1 - cos, np.maximum(0.0, cos - 0.0))
    loss = L.CosineEmbeddingLoss()
    assert loss.margin == 0.0 and loss.reduction == "mean"
    out = loss(mg.tensor(a), mg.tensor(b), mg.tensor(y))
    np.testing.assert_allclose(out.item(), ref.mean(), rtol=1e-12)


def test_cosine_embedding_loss_honours_the_deprecated_flags():
    a = np.array([[1.0, 0.0], [1.0, 1.0]])
    b = np.array([[0.0, 1.0], [1.0, 0.5]])
    y = np.array([1.0, -1.0])
    cos = _cosine(a, b)
    ref = np.where(y == 1, 1 - cos, np.maximum(0.0, cos))
    summed = L.CosineEmbeddingLoss(size_average=False)
    assert summed.reduction == "sum"
    np.testing.assert_allclose(summed(mg.tensor(a), mg.tensor(b), mg.tensor(y)).item(),
                               ref.sum(), rtol=1e-12)
    each = L.CosineEmbeddingLoss(reduce=False)
    assert each.reduction == "none"
    np.testing.assert_allclose(each(mg.tensor(a), mg.tensor(b), mg.tensor(y)).numpy(), ref,
                               rtol=1e-12)


def test_cosine_similarity_layer_default_dim_and_repr():
    layer = L.CosineSimilarity()
    assert layer.dim == 1
    assert repr(layer) == "CosineSimilarity(dim=1, eps=1e-08)"
    a = np.array([[1.0, 2.0, 2.0], [0.0, 3.0, 4.0]])
    b = np.array([[2.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    ref = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(layer(mg.tensor(a), mg.tensor(b)).numpy(), ref, rtol=1e-12)


def test_cosine_similarity_layer_given_dim_and_axis_names_itself():
    with pytest.raises(TypeError, match=r"^CosineSimilarity: got both dim=1 and axis=0; give one "
                                        r"of them$"):
        L.CosineSimilarity(dim=1, axis=0)


def test_cosine_similarity_layer_passes_its_eps():
    # norms 0.1 and 0.2 are both below eps = 0.5: each is clamped up to 0.5
    a = np.array([[0.1, 0.0]])
    b = np.array([[0.2, 0.0]])
    out = L.CosineSimilarity(eps=0.5)(mg.tensor(a), mg.tensor(b)).numpy()
    np.testing.assert_allclose(out, [0.1 * 0.2 / (0.5 * 0.5)], rtol=1e-12)


LEGACY = [L.CrossEntropyLoss, L.NLLLoss, L.MSELoss, L.L1Loss, L.SmoothL1Loss, L.BCELoss,
          L.BCEWithLogitsLoss, L.KLDivLoss, L.MarginRankingLoss, L.HingeEmbeddingLoss,
          L.MultiMarginLoss, L.CosineEmbeddingLoss, L.TripletMarginLoss]


@pytest.mark.parametrize("cls", LEGACY, ids=[c.__name__ for c in LEGACY])
def test_every_loss_maps_the_deprecated_flags_as_pytorch_does(cls):
    assert cls().reduction == "mean"
    assert cls(size_average=False).reduction == "sum"
    assert cls(size_average=True).reduction == "mean"
    assert cls(reduce=False).reduction == "none"
    assert cls(reduce=False, size_average=False).reduction == "none"
    assert cls(reduce=True, size_average=False, reduction="none").reduction == "sum"


def test_bce_with_logits_bad_pos_weight_names_the_layer_and_the_argument():
    with pytest.raises(TypeError, match=r"^BCEWithLogitsLoss: pos_weight must be a Tensor, an "
                                        r"array of numbers or None, got str of dtype <U3$"):
        L.BCEWithLogitsLoss(pos_weight="abc")


def test_bce_with_logits_flags_reach_the_loss():
    x = np.array([[0.5, -1.0], [2.0, 0.0]])
    t = np.array([[1.0, 0.0], [0.0, 1.0]])
    each = np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0) - x * t
    out = L.BCEWithLogitsLoss(size_average=False)(mg.tensor(x), mg.tensor(t))
    np.testing.assert_allclose(out.item(), each.sum(), rtol=1e-12)
    out = L.BCEWithLogitsLoss(reduce=False)(mg.tensor(x), mg.tensor(t))
    np.testing.assert_allclose(out.numpy(), each, rtol=1e-12)


def test_margin_ranking_loss_default_margin_is_zero():
    x1 = np.array([1.0, 0.2, -0.5])
    x2 = np.array([0.5, 0.4, 0.5])
    y = np.array([1.0, 1.0, -1.0])
    ref = np.maximum(0.0, -y * (x1 - x2) + 0.0)
    loss = L.MarginRankingLoss()
    assert loss.margin == 0.0
    np.testing.assert_allclose(loss(mg.tensor(x1), mg.tensor(x2), mg.tensor(y)).item(),
                               ref.mean(), rtol=1e-12)


DEFAULTS = [
    (L.CrossEntropyLoss, dict(reduction="mean", ignore_index=-100, label_smoothing=0.0,
                              weight=None)),
    (L.NLLLoss, dict(reduction="mean", ignore_index=-100, weight=None)),
    (L.MSELoss, dict(reduction="mean")),
    (L.L1Loss, dict(reduction="mean")),
    (L.SmoothL1Loss, dict(reduction="mean", beta=1.0)),
    (L.HuberLoss, dict(reduction="mean", delta=1.0)),
    (L.BCELoss, dict(reduction="mean", weight=None)),
    (L.BCEWithLogitsLoss, dict(reduction="mean", weight=None, pos_weight=None)),
    (L.KLDivLoss, dict(reduction="mean", log_target=False)),
    (L.MarginRankingLoss, dict(reduction="mean", margin=0.0)),
    (L.HingeEmbeddingLoss, dict(reduction="mean", margin=1.0)),
    (L.MultiMarginLoss, dict(reduction="mean", p=1, margin=1.0, weight=None)),
    (L.CosineEmbeddingLoss, dict(reduction="mean", margin=0.0)),
    (L.TripletMarginLoss, dict(reduction="mean", margin=1.0, p=2.0, eps=1e-6, swap=False)),
    (L.GaussianNLLLoss, dict(reduction="mean", full=False, eps=1e-6)),
    (L.CosineSimilarity, dict(dim=1, eps=1e-8)),
    (L.PairwiseDistance, dict(norm=2.0, eps=1e-6, keepdim=False)),
]


@pytest.mark.parametrize("cls, expected", DEFAULTS, ids=[d[0].__name__ for d in DEFAULTS])
def test_loss_defaults_are_pytorchs(cls, expected):
    layer = cls()
    for name, value in expected.items():
        got = getattr(layer, name)
        assert got is None if value is None else (got == value and type(got) is type(value)), \
            (name, got)


def test_hinge_embedding_loss_default_margin_is_one():
    x = np.array([0.3, 0.4, 1.5, -0.2])
    y = np.array([1.0, -1.0, -1.0, -1.0])
    ref = np.where(y == 1, x, np.maximum(0.0, 1.0 - x))
    out = L.HingeEmbeddingLoss()(mg.tensor(x), mg.tensor(y))
    np.testing.assert_allclose(out.item(), ref.mean(), rtol=1e-12)
    out = L.HingeEmbeddingLoss(size_average=False)(mg.tensor(x), mg.tensor(y))
    np.testing.assert_allclose(out.item(), ref.sum(), rtol=1e-12)


def test_gaussian_nll_loss_default_reduction_is_the_mean():
    x = np.array([0.5, 1.0, -1.0])
    t = np.array([0.0, 2.0, -1.5])
    v = np.array([1.0, 0.5, 2.0])
    ref = 0.5 * (np.log(v) + (x - t) ** 2 / v)
    out = L.GaussianNLLLoss()(mg.tensor(x), mg.tensor(t), mg.tensor(v))
    assert out.shape == ()
    np.testing.assert_allclose(out.item(), ref.mean(), rtol=1e-12)


# -------------------------------------------------------------------------------- linear.py

@pytest.mark.parametrize("make, error, message", [
    (lambda: L.Linear(3, 2, dtype=np.int32), TypeError,
     r"^layer parameters must be floating point, got dtype int32$"),
    (lambda: L.Linear(-1, 2), ValueError, r"^Linear: in_features must be >= 0, got -1$"),
    (lambda: L.Linear(3, -2), ValueError, r"^Linear: out_features must be >= 0, got -2$"),
    (lambda: L.Bilinear(0, 2, 2), ValueError, r"^Bilinear: in1_features must be >= 1, got 0$"),
    (lambda: L.Bilinear(2, 0, 2), ValueError, r"^Bilinear: in2_features must be >= 1, got 0$"),
    (lambda: L.Bilinear(2, 2, 0), ValueError, r"^Bilinear: out_features must be >= 1, got 0$"),
])
def test_linear_layers_reject_bad_sizes_naming_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_linear_accepts_zero_sizes_and_bilinear_accepts_one():
    layer = L.Linear(0, 0)
    assert layer.weight.shape == (0, 0) and layer.bias.shape == (0,)
    assert L.Linear(2, 0)(mg.zeros((3, 2))).shape == (3, 0)
    assert L.Bilinear(1, 1, 1).weight.shape == (1, 1, 1)


@pytest.mark.parametrize("call, error, message", [
    (lambda: L.Linear(3, 2)([1.0]), TypeError, r"^Linear: expected a Tensor input, got list$"),
    (lambda: L.Linear(3, 2)(mg.zeros((2, 4))), ValueError,
     r"^Linear: expected an input of shape \(\*, in_features\) with 3 there, got shape "
     r"\(2, 4\)$"),
    (lambda: L.Linear(3, 2)(mg.tensor(1.0)), ValueError,
     r"^Linear: expected an input of shape \(\*, in_features\) with 3 there, got shape \(\)$"),
    (lambda: L.Bilinear(2, 3, 2)((1.0, 2.0), mg.zeros((2, 3))), TypeError,
     r"^Bilinear: expected a Tensor input, got tuple$"),
    (lambda: L.Bilinear(2, 3, 2)(mg.zeros((2, 3)), mg.zeros((2, 3))), ValueError,
     r"^Bilinear: expected an input of shape \(\*, in1_features\) with 2 there, got shape "
     r"\(2, 3\)$"),
    (lambda: L.Bilinear(2, 3, 2)(mg.zeros((2, 2)), mg.zeros((2, 4))), ValueError,
     r"^Bilinear: expected an input of shape \(\*, in2_features\) with 3 there, got shape "
     r"\(2, 4\)$"),
    (lambda: L.Bilinear(2, 3, 2)(mg.zeros((2, 2)), mg.zeros((4, 3))), ValueError,
     r"^Bilinear: the leading axes of x1 \(2, 2\) and x2 \(4, 3\) must match$"),
])
def test_linear_layers_reject_bad_inputs_naming_the_layer(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_linear_layer_parameters_default_to_float32_and_follow_dtype():
    layer = L.Linear(3, 2)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    layer = L.Linear(3, 2, dtype=np.float64)
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64
    layer = L.Bilinear(2, 3, 4, dtype=np.float64)
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64


def test_bilinear_init_bound_is_one_over_sqrt_in1():
    mg.manual_seed(0)
    layer = L.Bilinear(4, 100, 50)      # bound 1/2, from in1 = 4 (not in2 = 100)
    w = layer.weight.numpy()
    b = layer.bias.numpy()
    assert np.abs(w).max() <= 0.5 and np.abs(w).max() > 0.49
    assert np.abs(b).max() <= 0.5 and np.abs(b).max() > 0.3
    assert w.min() < -0.49                # symmetric: U(-1/2, 1/2)
    assert b.min() < -0.3 and b.max() > 0.3


def test_linear_init_fills_the_bias_within_one_over_sqrt_in():
    mg.manual_seed(0)
    layer = L.Linear(4, 50)              # bound 1/2
    b = layer.bias.numpy()
    assert np.abs(b).max() <= 0.5
    assert b.min() < -0.3 and b.max() > 0.3
    assert np.abs(layer.weight.numpy()).max() <= 0.5


def test_bilinear_forward_against_einsum_with_leading_axes():
    rng = np.random.default_rng(3)
    layer = L.Bilinear(2, 3, 4).double()
    x1 = rng.standard_normal((5, 2, 2))
    x2 = rng.standard_normal((5, 2, 3))
    ref = np.einsum("...i,oij,...j->...o", x1, layer.weight.numpy(), x2) + layer.bias.numpy()
    np.testing.assert_allclose(layer(mg.tensor(x1), mg.tensor(x2)).numpy(), ref, rtol=1e-12)
    layer = L.Bilinear(2, 3, 4, bias=False).double()
    assert layer.bias is None
    ref = np.einsum("...i,oij,...j->...o", x1, layer.weight.numpy(), x2)
    np.testing.assert_allclose(layer(mg.tensor(x1), mg.tensor(x2)).numpy(), ref, rtol=1e-12)


# ------------------------------------------------------------------------------- padding.py

@pytest.mark.parametrize("call, message", [
    (lambda: L.ReflectionPad2d((1, 2, 3)),
     r"^ReflectionPad2d: padding must be an int or \(left, right, top, bottom\), got "
     r"\(1, 2, 3\)$"),
    (lambda: L.ReplicationPad2d((1, 2, 3, 1.0)),
     r"^ReplicationPad2d: padding must be an int or \(left, right, top, bottom\), got "
     r"\(1, 2, 3, 1.0\)$"),
    (lambda: L.ConstantPad2d(1, 0.0)(mg.zeros((1, 1, 1, 1, 1))),
     r"^ConstantPad2d: expected a Tensor of shape \(N, C, H, W\) or \(C, H, W\), got "
     r"\(1, 1, 1, 1, 1\)$"),
    (lambda: L.ReflectionPad2d(1)(mg.zeros((3, 3))),
     r"^ReflectionPad2d: expected a Tensor of shape \(N, C, H, W\) or \(C, H, W\), got "
     r"\(3, 3\)$"),
    (lambda: L.ConstantPad2d((-2, -2, 0, 0), 0.0)(mg.zeros((1, 1, 4, 3))),
     r"^ConstantPad2d: padding \(-2, -2, 0, 0\) crops an input of shape \(1, 1, 4, 3\) below "
     r"zero size$"),
    (lambda: L.ConstantPad2d((0, 0, -3, -2), 0.0)(mg.zeros((1, 1, 4, 3))),
     r"^ConstantPad2d: padding \(0, 0, -3, -2\) crops an input of shape \(1, 1, 4, 3\) below "
     r"zero size$"),
    (lambda: L.ReflectionPad2d((0, 0, 3, 0))(mg.zeros((1, 3, 4))),
     r"^ReflectionPad2d: padding \(3, 0\) of the height must be in \[0, 2\] \(below the "
     r"height, 3\)$"),
    (lambda: L.ReflectionPad2d((0, 0, 0, 3))(mg.zeros((1, 3, 4))),
     r"^ReflectionPad2d: padding \(0, 3\) of the height must be in \[0, 2\]"),
    (lambda: L.ReflectionPad2d((0, 3, 0, 0))(mg.zeros((1, 4, 3))),
     r"^ReflectionPad2d: padding \(0, 3\) of the width must be in \[0, 2\] \(below the "
     r"width, 3\)$"),
    (lambda: L.ReflectionPad2d((0, 0, -1, 0))(mg.zeros((1, 3, 3))),
     r"^ReflectionPad2d: padding \(-1, 0\) of the height must be in \[0, 2\]"),
    (lambda: L.ReflectionPad2d((0, 0, 0, -1))(mg.zeros((1, 3, 3))),
     r"^ReflectionPad2d: padding \(0, -1\) of the height must be in \[0, 2\]"),
    (lambda: L.ReplicationPad2d((0, 0, -1, 0))(mg.zeros((1, 3, 3))),
     r"^ReplicationPad2d: padding \(-1, 0\) must be >= 0 and the height >= 1, got 3$"),
    (lambda: L.ReplicationPad2d((0, 0, 0, -1))(mg.zeros((1, 3, 3))),
     r"^ReplicationPad2d: padding \(0, -1\) must be >= 0 and the height >= 1, got 3$"),
    (lambda: L.ReplicationPad2d((1, 0, 0, 0))(mg.zeros((1, 3, 0))),
     r"^ReplicationPad2d: padding \(1, 0\) must be >= 0 and the width >= 1, got 0$"),
])
def test_padding_errors_name_the_layer_the_side_and_the_numbers(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_constant_pad_refuses_a_crop_larger_than_the_input_even_when_padding_follows():
    # (0, 0, -5, 5) on 3 rows: the crop of 5 does not fit, though 3 - 5 + 5 >= 0. It gave 5
    # rows of padding before; PyTorch refuses it too.
    with pytest.raises(ValueError, match=r"^ConstantPad2d: padding \(0, 0, -5, 5\) crops an "
                                         r"input of shape \(1, 1, 3, 4\) below zero size$"):
        L.ConstantPad2d((0, 0, -5, 5), 0.0)(mg.zeros((1, 1, 3, 4)))
    assert L.ConstantPad2d((0, 0, -3, 2), 7.0)(mg.ones((1, 1, 3, 4))).tolist() == \
        [[[[7.0] * 4] * 2]]


@pytest.mark.parametrize("layer", [L.ZeroPad2d(1), L.ConstantPad2d(1, 2.0),
                                   L.ReflectionPad2d(1), L.ReplicationPad2d(1)])
def test_padding_layers_refuse_a_non_tensor_with_a_type_error(layer):
    name = type(layer).__name__
    with pytest.raises(TypeError, match=rf"^{name}: expected a Tensor of shape \(N, C, H, W\) "
                                        rf"or \(C, H, W\), got list$"):
        layer([1.0])


def test_padding_accepts_a_list_and_the_largest_reflection():
    assert L.ReflectionPad2d([1, 2, 3, 0]).padding == (1, 2, 3, 0)
    x = np.arange(12.0).reshape(1, 3, 4)
    out = L.ReflectionPad2d((3, 3, 2, 2))(mg.tensor(x)).numpy()       # PL = W - 1, PT = H - 1
    np.testing.assert_array_equal(out, np.pad(x, ((0, 0), (2, 2), (3, 3)), mode="reflect"))
    out = L.ReplicationPad2d((0, 5, 4, 0))(mg.tensor(x[:, :1, :1])).numpy()   # a 1x1 plane
    np.testing.assert_array_equal(out, np.zeros((1, 5, 6)))


@pytest.mark.parametrize("padding", [(2, 1, 0, 3), (0, 3, 2, 1), (1, 0, 1, 2)])
def test_mirrored_pads_vs_numpy_with_four_different_sides(padding):
    PL, PR, PT, PB = padding
    x = np.arange(2 * 4 * 5, dtype=np.float64).reshape(1, 2, 4, 5)
    widths = ((0, 0), (0, 0), (PT, PB), (PL, PR))
    np.testing.assert_array_equal(L.ReflectionPad2d(padding)(mg.tensor(x)).numpy(),
                                  np.pad(x, widths, mode="reflect"))
    np.testing.assert_array_equal(L.ReplicationPad2d(padding)(mg.tensor(x)).numpy(),
                                  np.pad(x, widths, mode="edge"))


def test_constant_pad_crops_each_side_on_its_own():
    x = np.arange(6 * 7, dtype=np.float64).reshape(6, 7)[None]
    out = L.ConstantPad2d((-1, -2, -3, -1), 5.0)(mg.tensor(x)).numpy()
    np.testing.assert_array_equal(out, x[:, 3:5, 1:5])
    out = L.ConstantPad2d((-2, 1, 2, -1), 5.0)(mg.tensor(x)).numpy()
    np.testing.assert_array_equal(
        out, np.pad(x[:, :5, 2:], ((0, 0), (2, 0), (0, 1)), constant_values=5.0))
    # cropping a side to exactly zero is allowed
    assert L.ConstantPad2d((0, 0, -2, -2), 0.0)(mg.zeros((1, 1, 4, 3))).shape == (1, 1, 0, 3)
    assert L.ConstantPad2d((-1, -2, 0, 0), 0.0)(mg.zeros((1, 1, 4, 3))).shape == (1, 1, 4, 0)


def test_padding_reprs():
    assert repr(L.ConstantPad2d(1, 2)) == "ConstantPad2d(padding=(1, 1, 1, 1), value=2.0)"
    assert repr(L.ZeroPad2d((1, 2, 3, 4))) == "ZeroPad2d((1, 2, 3, 4))"  # PyTorch's reprs
    assert repr(L.ReflectionPad2d(1)) == "ReflectionPad2d((1, 1, 1, 1))"
    assert repr(L.ReplicationPad2d((0, 1, 2, 3))) == "ReplicationPad2d((0, 1, 2, 3))"
    assert L.ZeroPad2d(2).value == 0.0


# ------------------------------------------------------------------------------- pooling.py

def _max_pool_ref(x, k, s):
    """(values, flat indices h*W + w) of a k x k max pool with stride s, no padding."""
    C, H, W = x.shape
    OH, OW = (H - k) // s + 1, (W - k) // s + 1
    vals, idx = np.zeros((C, OH, OW)), np.zeros((C, OH, OW), dtype=np.int64)
    for c in range(C):
        for i in range(OH):
            for j in range(OW):
                win = x[c, i * s:i * s + k, j * s:j * s + k]
                a, b = np.unravel_index(np.argmax(win), win.shape)
                vals[c, i, j] = win[a, b]
                idx[c, i, j] = (i * s + a) * W + j * s + b
    return vals, idx


def test_pooling_reprs_and_default_strides():
    assert repr(L.MaxPool2d(2)) == ("MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, "
                                    "ceil_mode=False)")
    assert repr(L.MaxPool2d(3, 1, 1, dilation=2, ceil_mode=True)) == (
        "MaxPool2d(kernel_size=3, stride=1, padding=1, dilation=2, ceil_mode=True)")
    assert repr(L.MaxUnpool2d(2)) == "MaxUnpool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(L.MaxUnpool2d(3, 2, 1)) == "MaxUnpool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(L.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(L.AvgPool2d(3, 1, 1)) == "AvgPool2d(kernel_size=3, stride=1, padding=1)"
    assert repr(L.AdaptiveAvgPool2d((2, None))) == "AdaptiveAvgPool2d(output_size=(2, None))"
    assert repr(L.Upsample(size=3)) == "Upsample(size=3, mode='nearest')"
    assert repr(L.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(L.Upsample(scale_factor=(2, 3), mode="bilinear")) == (
        "Upsample(scale_factor=(2.0, 3.0), mode='bilinear')")


def test_pooling_defaults():
    pool = L.MaxPool2d(3)
    assert (pool.stride, pool.padding, pool.dilation) == (3, 0, 1)
    assert pool.return_indices is False and pool.ceil_mode is False
    pool = L.AvgPool2d(3)
    assert (pool.stride, pool.padding) == (3, 0)
    assert pool.ceil_mode is False and pool.count_include_pad is True
    up = L.Upsample(size=4)
    assert (up.size, up.scale_factor, up.mode) == (4, None, "nearest")
    assert up.align_corners is None and up.recompute_scale_factor is None


@pytest.mark.parametrize("call, error, message", [
    (lambda: L.Upsample(), ValueError,
     r"^Upsample: give exactly one of size and scale_factor, got size=None and "
     r"scale_factor=None$"),
    (lambda: L.Upsample(size=2, scale_factor=2), ValueError,
     r"^Upsample: give exactly one of size and scale_factor, got size=2 and scale_factor=2$"),
    (lambda: L.MaxPool2d(2)([1.0]), TypeError, r"^MaxPool2d: expected a Tensor input, got list$"),
    (lambda: L.MaxPool2d(2)(mg.zeros((2, 2))), ValueError,
     r"^MaxPool2d: expected an input of shape \(N, C, H, W\) or \(C, H, W\), got shape "
     r"\(2, 2\)$"),
    (lambda: L.AvgPool2d(2)(mg.zeros((2, 2))), ValueError, r"^AvgPool2d: expected an input"),
    (lambda: L.AdaptiveAvgPool2d(2)(mg.zeros((2, 2))), ValueError,
     r"^AdaptiveAvgPool2d: expected an input"),
    (lambda: L.Upsample(size=2)(mg.zeros((2, 2))), ValueError, r"^Upsample: expected an input"),
    (lambda: L.MaxUnpool2d(2)(mg.zeros((2, 2)), mg.zeros((2, 2))), ValueError,
     r"^MaxUnpool2d: expected an input"),
])
def test_pooling_errors_name_the_layer(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("batched", [True, False])
def test_max_pool_and_unpool_round_trip_vs_numpy(batched):
    x = np.random.default_rng(5).permutation(2 * 4 * 6).reshape(2, 4, 6).astype(np.float64)
    vals, idx = _max_pool_ref(x, 2, 2)
    inp = mg.tensor(x[None] if batched else x)
    out, ind = L.MaxPool2d(2, return_indices=True)(inp)
    expect = (vals[None], idx[None]) if batched else (vals, idx)
    np.testing.assert_array_equal(out.numpy(), expect[0])
    np.testing.assert_array_equal(ind.numpy(), expect[1])
    plain = L.MaxPool2d(2)(inp)
    np.testing.assert_array_equal(plain.numpy(), expect[0])
    back = np.zeros_like(x)
    np.put_along_axis(back.reshape(2, -1), idx.reshape(2, -1), vals.reshape(2, -1), axis=1)
    up = L.MaxUnpool2d(2)(out, ind)
    np.testing.assert_array_equal(up.numpy(), back[None] if batched else back)


def test_max_unpool_unbatched_takes_raw_index_arrays_and_an_output_size():
    x = np.array([[[5.0, 7.0]]])                      # (C, h, w) = (1, 1, 2)
    ind = np.array([[[4, 2]]], dtype=np.int64)
    up = L.MaxUnpool2d(2)(mg.tensor(x), ind, output_size=(3, 3)).numpy()
    np.testing.assert_array_equal(up, [[[0.0, 0.0, 7.0], [0.0, 5.0, 0.0], [0.0, 0.0, 0.0]]])
    up = L.MaxUnpool2d(2)(mg.tensor(x), mg.tensor(ind)).numpy()     # default: 2 x 4
    np.testing.assert_array_equal(up, [[[0.0, 0.0, 7.0, 0.0], [5.0, 0.0, 0.0, 0.0]]])


def test_avg_pool_options_reach_the_function():
    x = np.arange(25, dtype=np.float64).reshape(1, 5, 5)
    # 3x3 windows, stride 2, padding 1: the corner window covers x[0:2, 0:2]
    incl = L.AvgPool2d(3, 2, 1)(mg.tensor(x)).numpy()
    excl = L.AvgPool2d(3, 2, 1, count_include_pad=False)(mg.tensor(x)).numpy()
    assert incl.shape == excl.shape == (1, 3, 3)
    np.testing.assert_allclose(incl[0, 0, 0], x[0, :2, :2].sum() / 9, rtol=1e-12)
    np.testing.assert_allclose(excl[0, 0, 0], x[0, :2, :2].mean(), rtol=1e-12)
    np.testing.assert_allclose(excl[0, 1, 1], x[0, 1:4, 1:4].mean(), rtol=1e-12)
    # ceil_mode adds a last, partial window: 4 -> 2 windows of 3 with stride 2 (one partial)
    y = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    floor = L.AvgPool2d(3, 2)(mg.tensor(y)).numpy()
    ceil = L.AvgPool2d(3, 2, ceil_mode=True)(mg.tensor(y)).numpy()
    assert floor.shape == (1, 1, 1, 1) and ceil.shape == (1, 1, 2, 2)
    np.testing.assert_allclose(ceil[0, 0, 1, 1], y[0, 0, 2:, 2:].mean(), rtol=1e-12)


def test_max_pool_ceil_mode_and_dilation_reach_the_function():
    y = np.arange(25, dtype=np.float64).reshape(1, 5, 5)
    assert L.MaxPool2d(2)(mg.tensor(y)).shape == (1, 2, 2)
    out = L.MaxPool2d(2, ceil_mode=True)(mg.tensor(y)).numpy()
    np.testing.assert_array_equal(out, [[[6.0, 8.0, 9.0], [16.0, 18.0, 19.0],
                                         [21.0, 23.0, 24.0]]])
    out = L.MaxPool2d(2, 1, dilation=2)(mg.tensor(y)).numpy()       # taps at +0 and +2
    np.testing.assert_array_equal(out, y[:, 2:, 2:])


def test_adaptive_avg_pool_and_upsample_unbatched_vs_numpy():
    x = np.arange(2 * 4 * 6, dtype=np.float64).reshape(2, 4, 6)
    out = L.AdaptiveAvgPool2d((2, 3))(mg.tensor(x)).numpy()
    np.testing.assert_allclose(out, x.reshape(2, 2, 2, 3, 2).mean((2, 4)), rtol=1e-12)
    out = L.AdaptiveAvgPool2d((1, None))(mg.tensor(x[None])).numpy()
    np.testing.assert_allclose(out, x.mean(1, keepdims=True)[None], rtol=1e-12)
    up = L.Upsample(scale_factor=(2, 3))(mg.tensor(x)).numpy()
    np.testing.assert_array_equal(up, x.repeat(2, 1).repeat(3, 2))
    up = L.Upsample(size=(8, 12))(mg.tensor(x[None])).numpy()
    np.testing.assert_array_equal(up, x.repeat(2, 1).repeat(2, 2)[None])


def test_upsample_linear_and_align_corners():
    x = np.array([[[0.0, 1.0, 3.0]]])
    out = L.Upsample(size=5, mode="linear", align_corners=True)(mg.tensor(x)).numpy()
    np.testing.assert_allclose(out, [[[0.0, 0.5, 1.0, 2.0, 3.0]]], rtol=1e-12)
    out = L.Upsample(scale_factor=2, mode="linear")(mg.tensor(x)).numpy()
    # half-pixel centres: source = (i + 0.5) / 2 - 0.5, clamped at 0
    src = np.clip((np.arange(6) + 0.5) / 2 - 0.5, 0, 2)
    np.testing.assert_allclose(out[0, 0], np.interp(src, [0, 1, 2], x[0, 0]), rtol=1e-12)
    img = np.array([[[0.0, 2.0], [4.0, 6.0]]])
    out = L.Upsample(size=3, mode="bilinear", align_corners=True)(mg.tensor(img)).numpy()
    np.testing.assert_allclose(out, [[[0.0, 1.0, 2.0], [2.0, 3.0, 4.0], [4.0, 5.0, 6.0]]],
                               rtol=1e-12)


def test_upsample_linear_passes_recompute_scale_factor():
    x = np.array([[[0.0, 1.0, 3.0]]])
    grid = [0, 1, 2]
    # 3 * 1.5 = 4.5 -> 4 outputs; the source of output i is (i + 0.5) / scale - 0.5, clamped
    given = np.clip((np.arange(4) + 0.5) / 1.5 - 0.5, 0, 2)
    recomputed = np.clip((np.arange(4) + 0.5) * 3 / 4 - 0.5, 0, 2)    # scale = 4 / 3
    out = L.Upsample(scale_factor=1.5, mode="linear")(mg.tensor(x)).numpy()
    np.testing.assert_allclose(out[0, 0], np.interp(given, grid, x[0, 0]), rtol=1e-12)
    out = L.Upsample(scale_factor=1.5, mode="linear",
                     recompute_scale_factor=True)(mg.tensor(x)).numpy()
    np.testing.assert_allclose(out[0, 0], np.interp(recomputed, grid, x[0, 0]), rtol=1e-12)


def test_max_unpool_passes_its_stride():
    # kernel 2, stride 1: an h x w map unpools to (h - 1) * 1 + 2 = 3 rows and columns
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    ind = np.array([[[[0, 5], [7, 8]]]], dtype=np.int64)
    up = L.MaxUnpool2d(2, stride=1)(mg.tensor(x), mg.tensor(ind)).numpy()
    np.testing.assert_array_equal(up, [[[[1.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, 3.0, 4.0]]]])
