"""soft_margin_loss, multilabel_soft_margin_loss, poisson_nll_loss and multilabel_margin_loss,
and their layers, against PyTorch itself: values and input gradients for every option and
reduction (float32 and float64, drawn shapes), target gradients where PyTorch's are finite,
PyTorch's label and padding rule for the multi-label hinge, the out-of-range targets both
refuse, and the layers built with the same positional arguments, state dicts included. Each
test skips where torch is not installed (CI installs it)."""
import numpy as np
import pytest
from hypothesis import given

import minigrad as mg
import minigrad.functional as F
from layers.loss import (MultiLabelMarginLoss, MultiLabelSoftMarginLoss, PoissonNLLLoss,
                         SoftMarginLoss)
from strategies.losses_more import (multilabel_margin_inputs, multilabel_soft_margin_inputs,
                                    poisson_nll_inputs, soft_margin_inputs)

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = {"float32": (np.float32, 2e-6), "float64": (np.float64, 1e-12)}
RNG = np.random.default_rng(11)


def _torch():
    return pytest.importorskip("torch")


def _both(ours, theirs, x, target_for_us, target_for_torch, dtype=np.float64):
    """Value and input gradient of ``ours`` and ``theirs`` at x (cast to dtype), as arrays."""
    torch = _torch()
    x = np.asarray(x).astype(dtype)
    mine, ref = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, t_out = ours(mine, target_for_us), theirs(ref, target_for_torch)
    g = RNG.uniform(0.5, 1.5, size=out.shape).astype(dtype)
    out.backward(mg.tensor(g))
    t_out.backward(torch.tensor(g))
    return (out.numpy(), mine.grad.numpy()), (t_out.detach().numpy(), ref.grad.numpy())


def _assert_same(pair, tol):
    (out, grad), (t_out, t_grad) = pair
    assert out.shape == t_out.shape
    np.testing.assert_allclose(out, t_out, rtol=tol, atol=tol)
    np.testing.assert_allclose(grad, t_grad, rtol=tol, atol=tol)


def _float_target(torch, target, dtype):
    return torch.tensor(np.asarray(target, dtype=dtype))


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@given(case=soft_margin_inputs())
def test_soft_margin_loss_vs_torch(dtype, case):
    torch = _torch()
    np_dtype, tol = DTYPES[dtype]
    (x,), params = case
    target, reduction = params["target"], params["reduction"]
    _assert_same(_both(lambda v, t: F.soft_margin_loss(v, t, reduction),
                       lambda v, t: torch.nn.functional.soft_margin_loss(v, t,
                                                                         reduction=reduction),
                       x, target.astype(np_dtype), _float_target(torch, target, np_dtype),
                       np_dtype), tol)


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@given(case=multilabel_soft_margin_inputs())
def test_multilabel_soft_margin_loss_vs_torch(dtype, case):
    torch = _torch()
    np_dtype, tol = DTYPES[dtype]
    (x,), params = case
    target, reduction, weight = params["target"], params["reduction"], params.get("weight")
    t_weight = None if weight is None else torch.tensor(weight.astype(np_dtype))
    _assert_same(_both(lambda v, t: F.multilabel_soft_margin_loss(v, t, weight, reduction),
                       lambda v, t: torch.nn.functional.multilabel_soft_margin_loss(
                           v, t, t_weight, reduction=reduction),
                       x, target.astype(np_dtype), _float_target(torch, target, np_dtype),
                       np_dtype), tol)


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@given(case=poisson_nll_inputs())
def test_poisson_nll_loss_vs_torch(dtype, case):
    torch = _torch()
    np_dtype, tol = DTYPES[dtype]
    (x,), params = case
    target = params.pop("target")
    options = dict(params)
    _assert_same(_both(lambda v, t: F.poisson_nll_loss(v, t, **options),
                       lambda v, t: torch.nn.functional.poisson_nll_loss(v, t, **options),
                       x, target.astype(np_dtype), _float_target(torch, target, np_dtype),
                       np_dtype), tol * 10)


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@given(case=multilabel_margin_inputs())
def test_multilabel_margin_loss_vs_torch(dtype, case):
    torch = _torch()
    np_dtype, tol = DTYPES[dtype]
    (x,), params = case
    target, reduction = params["target"], params["reduction"]
    _assert_same(_both(lambda v, t: F.multilabel_margin_loss(v, t, reduction),
                       lambda v, t: torch.nn.functional.multilabel_margin_loss(
                           v, t, reduction=reduction),
                       x, target, torch.tensor(target), np_dtype), tol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss_padding_and_repeats_vs_torch(reduction):
    """Labels before the first −1 only, whatever the padding holds; a repeated label twice;
    a row with no label; a row labelling every class; and the hinge's kink (1 − 2 + 1 = 0)."""
    torch = _torch()
    x = np.array([[0.1, 0.2, 0.4, 0.8], [0.1, 0.2, 0.4, 0.8], [0.3, -0.5, 0.9, 0.0],
                  [1.0, 2.0, 3.0, 4.0], [5.0, -5.0, 0.0, 1.0], [2.0, 1.0, 0.0, 3.5]])
    target = np.array([[3, 0, -1, 1], [0, 0, -1, 2], [1, 2, 3, -1], [-1, 0, 1, 2],
                       [2, 0, 1, 3], [0, -1, -1, -1]])
    _assert_same(_both(lambda v, t: F.multilabel_margin_loss(v, t, reduction),
                       lambda v, t: torch.nn.functional.multilabel_margin_loss(
                           v, t, reduction=reduction),
                       x, target, torch.tensor(target)), 1e-14)


@pytest.mark.parametrize("target", [[[0, 4, -1, 1]], [[-2, 0, 1, 2]], [[0, -1, 9, 1]]])
def test_multilabel_margin_loss_refuses_what_torch_refuses(target):
    torch = _torch()
    with pytest.raises(RuntimeError, match="out of range"):
        torch.nn.functional.multilabel_margin_loss(torch.zeros(1, 4), torch.tensor(target))
    with pytest.raises(IndexError, match="multilabel_margin_loss: target values must be"):
        F.multilabel_margin_loss(mg.zeros((1, 4)), target)


@pytest.mark.parametrize("dtype", sorted(DTYPES))
def test_logistic_losses_at_extreme_logits_vs_torch_where_torch_is_finite(dtype):
    """PyTorch's multilabel soft margin (log-sigmoid) is finite at ±1e4; its soft margin
    overflows to inf where y·x = −1e4, so there the comparison is with the limits instead."""
    torch = _torch()
    np_dtype, tol = DTYPES[dtype]
    x = np.array([[-1e4, -1e3, -60.0, 60.0, 1e3, 1e4]] * 2)
    y = np.array([[1.0] * 6, [0.0] * 6])
    _assert_same(_both(lambda v, t: F.multilabel_soft_margin_loss(v, t, reduction="none"),
                       lambda v, t: torch.nn.functional.multilabel_soft_margin_loss(
                           v, t, reduction="none"),
                       x, y.astype(np_dtype), _float_target(torch, y, np_dtype), np_dtype), tol)
    moderate = np.array([-30.0, -5.0, 0.0, 5.0, 30.0, 1e3, 1e4])
    _assert_same(_both(lambda v, t: F.soft_margin_loss(v, t, "none"),
                       lambda v, t: torch.nn.functional.soft_margin_loss(v, t, reduction="none"),
                       moderate, np.ones(7, np_dtype), torch.ones(7, dtype=getattr(torch, dtype)),
                       np_dtype), tol)
    (out, grad), _ = _both(lambda v, t: F.soft_margin_loss(v, t, "none"),
                           lambda v, t: torch.nn.functional.soft_margin_loss(v, t,
                                                                             reduction="none"),
                           np.array([-1e4]), np.ones(1, np_dtype),
                           torch.ones(1, dtype=getattr(torch, dtype)), np_dtype)
    assert np.isfinite(out).all() and np.isfinite(grad).all() and out[0] == 1e4


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss_target_gradient_vs_torch(log_input, full):
    """With targets > 0 (PyTorch's target gradient is nan at 0 with ``full``; ours is finite,
    checked in test_losses_more.py)."""
    torch = _torch()
    x = RNG.uniform(0.2, 3.0, size=(3, 4))
    y = RNG.uniform(0.1, 6.0, size=(3, 4))
    mine = [mg.tensor(a, requires_grad=True) for a in (x, y)]
    ref = [torch.tensor(a, requires_grad=True) for a in (x, y)]
    F.poisson_nll_loss(*mine, log_input, full, 1e-3, "sum").backward()
    torch.nn.functional.poisson_nll_loss(*ref, log_input, full, eps=1e-3,
                                         reduction="sum").backward()
    for m, r in zip(mine, ref):
        np.testing.assert_allclose(m.grad.numpy(), r.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
def test_layers_vs_torch():
    """The same positional arguments give the same values, reprs' names and state dicts."""
    torch = _torch()
    nn = torch.nn
    x = RNG.normal(size=(3, 4))
    signs = np.where(RNG.random((3, 4)) < 0.5, 1.0, -1.0)
    soft = (RNG.random((3, 4)) < 0.5).astype(float)
    counts = RNG.poisson(2.0, size=(3, 4)).astype(float)
    labels = np.array([[3, 0, -1, 1], [1, 2, 3, -1], [-1, 0, 1, 2]])
    w = np.array([0.5, 1.0, 2.0, 3.0])
    cases = [
        (SoftMarginLoss(None, None, "sum"), nn.SoftMarginLoss(None, None, "sum"), x, signs),
        (SoftMarginLoss(False, None), nn.SoftMarginLoss(False, None), x, signs),
        (MultiLabelSoftMarginLoss(w, None, False), nn.MultiLabelSoftMarginLoss(
            torch.tensor(w), None, False), x, soft),
        (MultiLabelSoftMarginLoss(), nn.MultiLabelSoftMarginLoss(), x, soft),
        (PoissonNLLLoss(False, True, None, 0.1, None, "none"),
         nn.PoissonNLLLoss(False, True, None, 0.1, None, "none"), np.abs(x), counts),
        (PoissonNLLLoss(), nn.PoissonNLLLoss(), x, counts),
        (MultiLabelMarginLoss(None, None, "none"), nn.MultiLabelMarginLoss(None, None, "none"),
         x, labels),
        (MultiLabelMarginLoss(True), nn.MultiLabelMarginLoss(True), x, labels),
    ]
    for ours, theirs, inp, target in cases:
        out = ours(mg.tensor(inp), target)
        t_out = theirs(torch.tensor(inp), torch.tensor(target))
        np.testing.assert_allclose(out.numpy(), t_out.numpy(), rtol=1e-12, atol=1e-14)
        assert ours.reduction == theirs.reduction
        assert repr(ours).split("(")[0] == repr(theirs).split("(")[0]
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for key, value in theirs.state_dict().items():
            np.testing.assert_array_equal(ours.state_dict()[key].numpy(), value.numpy())
