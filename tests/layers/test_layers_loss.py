"""Loss modules (layers/loss.py): every option of every module against a NumPy reference, the
buffers (``weight``, ``pos_weight``), PyTorch's constructor order and legacy flags, and the same
modules against ``torch.nn`` in the ``_vs_torch`` tests (values and gradients)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import layers as nn
from strategies import values

RNG = np.random.default_rng(1)
REDUCTIONS = ["mean", "sum", "none"]
N, C, D = 5, 4, 3


def _reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def _log_softmax(x):
    m = x.max(1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(1, keepdims=True))


def nll_reference(logp, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    w = np.ones(logp.shape[1]) if weight is None else weight
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    w_t = w[safe] * valid
    nll = -logp[np.arange(len(t)), safe] * w_t
    smooth = -(logp * w).sum(1) * valid
    if reduction == "mean":
        nll, smooth = nll.sum() / w_t.sum(), smooth.sum() / w_t.sum()
    elif reduction == "sum":
        nll, smooth = nll.sum(), smooth.sum()
    return (1 - label_smoothing) * nll + label_smoothing / logp.shape[1] * smooth


def _dist(u, v, p=2.0, eps=1e-6):
    return (np.abs(u - v + eps) ** p).sum(-1) ** (1 / p)


def _cos(a, b, eps=1e-12):
    return (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + eps) * ((b * b).sum(-1) + eps))


def _multi_margin(x, t, p, margin, w):
    hinge = np.maximum(0.0, margin - x[np.arange(len(t)), t][:, None] + x) ** p
    hinge[np.arange(len(t)), t] = 0
    return hinge.sum(1) * (1 if w is None else w[t]) / x.shape[1]


logits, classes = RNG.normal(size=(N, C)), np.array([0, 3, -100, 1, 2])
x, y = RNG.normal(size=(N, D)) * 2, RNG.normal(size=(N, D))
probs, soft = RNG.uniform(0.05, 0.95, size=(N, D)), RNG.uniform(0, 1, size=(N, D))
class_w, col_w = RNG.uniform(0.5, 2.0, size=C), RNG.uniform(0.5, 2.0, size=D)
signs, signs_full = np.array([1.0, -1.0, -1.0, 1.0, 1.0]), np.where(x > 0, 1.0, -1.0)
log_q = _log_softmax(x)
var = RNG.uniform(0.1, 2.0, size=(N, D))
ok = np.array([0, 3, 2, 1, 2])

# name, module kwargs, inputs, reference(reduction) -> expected value.
CASES = [
    ("CrossEntropyLoss", {}, (logits, classes),
     lambda r: nll_reference(_log_softmax(logits), classes, reduction=r)),
    ("CrossEntropyLoss", {"weight": class_w, "label_smoothing": 0.2}, (logits, classes),
     lambda r: nll_reference(_log_softmax(logits), classes, class_w, -100, r, 0.2)),
    ("CrossEntropyLoss", {"ignore_index": 3}, (logits, np.where(classes < 0, 3, classes)),
     lambda r: nll_reference(_log_softmax(logits), np.where(classes < 0, 3, classes), None, 3, r)),
    ("CrossEntropyLoss", {"label_smoothing": 0.1}, (logits, soft[:, :1].repeat(C, 1) / C),
     lambda r: _reduce(-(_log_softmax(logits) * (soft[:, :1].repeat(C, 1) / C * 0.9 + 0.1 / C))
                       .sum(1), r)),
    ("NLLLoss", {}, (log_q, ok[:, None].clip(0, D - 1)[:, 0]),
     lambda r: nll_reference(log_q, ok.clip(0, D - 1), reduction=r)),
    ("NLLLoss", {"weight": col_w, "ignore_index": 1}, (log_q, ok.clip(0, D - 1)),
     lambda r: nll_reference(log_q, ok.clip(0, D - 1), col_w, 1, r)),
    ("MSELoss", {}, (x, y), lambda r: _reduce((x - y) ** 2, r)),
    ("L1Loss", {}, (x, y), lambda r: _reduce(np.abs(x - y), r)),
    ("SmoothL1Loss", {}, (x, y), lambda r: _reduce(
        np.where(np.abs(x - y) < 1, 0.5 * (x - y) ** 2, np.abs(x - y) - 0.5), r)),
    ("SmoothL1Loss", {"beta": 0.4}, (x, y), lambda r: _reduce(
        np.where(np.abs(x - y) < 0.4, 0.5 * (x - y) ** 2 / 0.4, np.abs(x - y) - 0.2), r)),
    ("SmoothL1Loss", {"beta": 0.0}, (x, y), lambda r: _reduce(np.abs(x - y), r)),
    ("HuberLoss", {"delta": 0.4}, (x, y), lambda r: _reduce(
        np.where(np.abs(x - y) < 0.4, 0.5 * (x - y) ** 2, 0.4 * (np.abs(x - y) - 0.2)), r)),
    ("BCELoss", {}, (probs, soft),
     lambda r: _reduce(-(soft * np.log(probs) + (1 - soft) * np.log(1 - probs)), r)),
    ("BCELoss", {"weight": col_w}, (probs, soft),
     lambda r: _reduce(-col_w * (soft * np.log(probs) + (1 - soft) * np.log(1 - probs)), r)),
    ("BCEWithLogitsLoss", {"weight": col_w, "pos_weight": col_w[::-1].copy()}, (x, soft),
     lambda r: _reduce(col_w * ((1 - soft) * x + (1 + (col_w[::-1] - 1) * soft)
                                * np.log1p(np.exp(-x))), r)),
    ("KLDivLoss", {}, (log_q, soft), lambda r: _reduce(soft * (np.log(soft) - log_q), r)),
    ("KLDivLoss", {"log_target": True}, (log_q, np.log(soft)),
     lambda r: _reduce(soft * (np.log(soft) - log_q), r)),
    ("MarginRankingLoss", {"margin": 0.3}, (x[:, 0], y[:, 0], signs),
     lambda r: _reduce(np.maximum(0, -signs * (x[:, 0] - y[:, 0]) + 0.3), r)),
    ("HingeEmbeddingLoss", {"margin": 2.0}, (np.abs(x), signs_full),
     lambda r: _reduce(np.where(signs_full == 1, np.abs(x), np.maximum(0, 2 - np.abs(x))), r)),
    ("MultiMarginLoss", {}, (logits, ok), lambda r: _reduce(_multi_margin(logits, ok, 1, 1.0,
                                                                          None), r)),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": class_w}, (logits, ok),
     lambda r: _reduce(_multi_margin(logits, ok, 2, 0.5, class_w), r)),
    ("CosineEmbeddingLoss", {"margin": 0.2}, (x, y, signs),
     lambda r: _reduce(np.where(signs == 1, 1 - _cos(x, y), np.maximum(0, _cos(x, y) - 0.2)),
                       r)),
    ("TripletMarginLoss", {"margin": 2.0, "p": 1.0, "eps": 1e-3}, (x, y, soft),
     lambda r: _reduce(np.maximum(0, _dist(x, y, 1, 1e-3) - _dist(x, soft, 1, 1e-3) + 2), r)),
    ("TripletMarginLoss", {"swap": True}, (x, y, soft), lambda r: _reduce(np.maximum(
        0, _dist(x, y) - np.minimum(_dist(x, soft), _dist(y, soft)) + 1), r)),
    ("GaussianNLLLoss", {}, (x, y, var),
     lambda r: _reduce(0.5 * (np.log(var) + (x - y) ** 2 / var), r)),
    ("GaussianNLLLoss", {"full": True, "eps": 0.5}, (x, y, var[:, 0]), lambda r: _reduce(
        0.5 * (np.log(np.maximum(var[:, :1], 0.5)) + (x - y) ** 2 / np.maximum(var[:, :1], 0.5)
               + np.log(2 * np.pi)), r)),
]
IDS = [f"{name}-{'-'.join(kwargs) or 'defaults'}" for name, kwargs, _, _ in CASES]


def _ours(array):
    return mg.tensor(array, dtype=np.float64 if array.dtype.kind == "f" else array.dtype)


def _module(lib, name, kwargs, reduction):
    convert = (lambda a: mg.tensor(a, dtype=np.float64)) if lib is nn else \
        (lambda a: __import__("torch").tensor(a))
    kwargs = {k: convert(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    return getattr(lib, name)(reduction=reduction, **kwargs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, kwargs, inputs, reference", CASES, ids=IDS)
def test_loss_module_vs_reference(name, kwargs, inputs, reference, reduction):
    out = _module(nn, name, kwargs, reduction)(*(_ours(a) for a in inputs))
    np.testing.assert_allclose(out.numpy(), reference(reduction), rtol=1e-10, atol=1e-12)


def test_kl_div_batchmean_and_cross_entropy_dense():
    out = nn.KLDivLoss(reduction="batchmean")(_ours(log_q), _ours(soft))
    np.testing.assert_allclose(out.item(), (soft * (np.log(soft) - log_q)).sum() / N)
    dense, target = RNG.normal(size=(2, C, 3, 3)), RNG.integers(0, C, size=(2, 3, 3))
    out = nn.CrossEntropyLoss(reduction="sum")(_ours(dense), _ours(target))
    flat = np.moveaxis(dense, 1, -1).reshape(-1, C)
    np.testing.assert_allclose(out.item(), nll_reference(_log_softmax(flat), target.reshape(-1),
                                                         reduction="sum"))


@pytest.mark.parametrize("dim, axis, expected_dim", [(None, None, 1), (0, None, 0),
                                                     (None, 0, 0), (-1, None, -1)])
def test_cosine_similarity_dim_and_axis(dim, axis, expected_dim):
    module = nn.CosineSimilarity(dim=dim, axis=axis)
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    num = (a * b).sum(expected_dim)
    den = np.linalg.norm(a, axis=expected_dim) * np.linalg.norm(b, axis=expected_dim)
    np.testing.assert_allclose(module(_ours(a), _ours(b)).numpy(), num / den, rtol=1e-12)
    with pytest.raises(TypeError, match="got both dim=1 and axis=0"):
        nn.CosineSimilarity(dim=1, axis=0)


@pytest.mark.parametrize("p, keepdim", [(2.0, False), (1.0, True), (3.0, False)])
def test_pairwise_distance_module(p, keepdim):
    out = nn.PairwiseDistance(p=p, keepdim=keepdim)(_ours(x), _ours(y))
    expected = _dist(x, y, p)
    np.testing.assert_allclose(out.numpy(), expected[:, None] if keepdim else expected)


def test_weight_and_pos_weight_are_buffers():
    ce = nn.CrossEntropyLoss(weight=mg.tensor(class_w))
    assert list(ce.parameters()) == []
    assert list(ce.state_dict()) == ["weight"]
    assert nn.CrossEntropyLoss().weight is None and list(nn.CrossEntropyLoss().state_dict()) == []
    bce = nn.BCEWithLogitsLoss(weight=col_w, pos_weight=col_w)  # arrays become Tensors
    assert list(bce.state_dict()) == ["weight", "pos_weight"]
    bce.to(np.float64)
    assert bce.pos_weight.dtype == np.float64
    bce.load_state_dict({"weight": np.ones(D), "pos_weight": np.full(D, 2.0)})
    np.testing.assert_array_equal(bce.pos_weight.numpy(), np.full(D, 2.0))
    with pytest.raises(TypeError, match="NLLLoss: weight must be a Tensor"):
        nn.NLLLoss(weight="heavy")


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "MSELoss", "KLDivLoss", "HuberLoss"])
def test_bad_reduction_names_the_module(name):
    with pytest.raises(ValueError, match=f"{name}: reduction must be one of"):
        getattr(nn, name)(reduction="average")


@pytest.mark.parametrize("size_average", [None, True, False])
@pytest.mark.parametrize("reduce", [None, True, False])
def test_legacy_flags_vs_torch(size_average, reduce):
    torch = pytest.importorskip("torch")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.nn.MSELoss(size_average, reduce).reduction
    assert nn.MSELoss(size_average, reduce).reduction == expected
    assert nn.NLLLoss(None, size_average, -100, reduce).reduction == expected


def test_positional_order_vs_torch():
    torch = pytest.importorskip("torch")
    pairs = [("CrossEntropyLoss", (None, None, 7, None, "sum", 0.3),
              ("ignore_index", "reduction", "label_smoothing")),
             ("MarginRankingLoss", (0.5,), ("margin",)),
             ("HingeEmbeddingLoss", (2.0,), ("margin",)),
             ("MultiMarginLoss", (2, 0.3), ("p", "margin")),
             ("TripletMarginLoss", (0.5, 1.0, 1e-3, True), ("margin", "p", "eps", "swap")),
             ("SmoothL1Loss", (None, None, "none", 0.2), ("reduction", "beta")),
             ("HuberLoss", ("sum", 0.7), ("reduction", "delta")),
             ("KLDivLoss", (None, None, "batchmean", True), ("reduction", "log_target"))]
    for name, args, attributes in pairs:
        ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        for attribute in attributes:
            assert getattr(ours, attribute) == getattr(theirs, attribute), (name, attribute)
    with pytest.raises(TypeError):  # keyword-only, as in PyTorch
        nn.GaussianNLLLoss(True)


@given(st.data(), st.sampled_from(REDUCTIONS), st.booleans())
def test_weighted_cross_entropy_module_gradients(data, reduction, smoothing):
    """The module, its weight buffer read inside, differentiated against finite differences."""
    logits_ = mg.tensor(data.draw(values((3, 4))), dtype=np.float64, requires_grad=True)
    weight = data.draw(values((4,), low=0.5, high=2.0, salt=1))
    target = np.array(data.draw(st.lists(st.integers(0, 3), min_size=3, max_size=3)))
    module = nn.CrossEntropyLoss(weight=mg.tensor(weight, dtype=np.float64),
                                 label_smoothing=0.2 if smoothing else 0.0, reduction=reduction)
    assert mg.gradcheck(lambda z: module(z, target), (logits_,))
    assert mg.gradgradcheck(lambda z: module(z, target), (logits_,))


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # torch's KLDivLoss notice
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, kwargs, inputs, reference", CASES, ids=IDS)
def test_loss_module_vs_torch(name, kwargs, inputs, reference, reduction):
    torch = pytest.importorskip("torch")
    ours = [_ours(a) for a in inputs]
    theirs = [torch.tensor(a) for a in inputs]
    for o, t in zip(ours, theirs):
        if t.dtype.is_floating_point:
            o.requires_grad_(True)
            t.requires_grad_(True)
    out = _module(nn, name, kwargs, reduction)(*ours)
    expected = _module(torch.nn, name, kwargs, reduction)(*theirs)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-12)
    out.sum().backward()
    expected.sum().backward()
    for o, t in zip(ours, theirs):
        if t.grad is not None:
            np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-7, atol=1e-10)
