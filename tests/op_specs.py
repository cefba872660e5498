"""The registry of differentiable ops: each op declared once, tested by test_op_specs.py.

An ``OpSpec`` says how to draw inputs (a strategy of ``(arrays, params)``), how to call the op
on Tensors, and a NumPy reference for the forward value. The generated tests check forward
against the reference, gradcheck, and gradgradcheck (unless ``second_order`` is False, with
the reason in ``note``), on every device.
"""
import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from hypothesis import strategies as st

import minigrad as mg
import minigrad.functional as F
import strategies as S


@dataclass
class OpSpec:
    name: str
    fn: Callable                    # fn(*tensors, **params) -> Tensor
    inputs: st.SearchStrategy       # draws (tuple of float64 arrays, params dict)
    reference: Optional[Callable]   # reference(*arrays, **params) -> array
    second_order: bool = True
    note: str = ""
    atol: float = 1e-5
    rtol: float = 1e-3


SPECS = []


def spec(*args, **kwargs):
    SPECS.append(OpSpec(*args, **kwargs))


@st.composite
def unary(draw, shape_strategy=None, **value_kw):
    shape = draw(S.shapes() if shape_strategy is None else shape_strategy)
    return (draw(S.values(shape, **value_kw)),), {}


@st.composite
def binary(draw, second=None, **value_kw):
    sa, sb = draw(S.broadcastable_pair())
    a = draw(S.values(sa, **value_kw))
    b = draw(second(sb, salt=1) if second else S.values(sb, salt=1, **value_kw))
    return (a, b), {}


@st.composite
def with_axis(draw, distinct=False, min_dims=0, **value_kw):
    shape = draw(S.shapes(min_dims=min_dims))
    x = draw(S.values(shape, distinct=distinct, **value_kw))
    return (x,), {"axis": draw(S.axes_for(len(shape))), "keepdims": draw(st.booleans())}


def _np_axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


_erf = np.vectorize(math.erf)

# Arithmetic -------------------------------------------------------------------------------
spec("add", lambda a, b: a + b, binary(), np.add)
spec("sub", lambda a, b: a - b, binary(), np.subtract)
spec("mul", lambda a, b: a * b, binary(), np.multiply)
spec("div", lambda a, b: a / b, binary(second=S.positive), np.divide)
spec("neg", lambda a: -a, unary(), np.negative)
spec("pow_scalar", lambda a: a ** 2.5, unary(low=0.3, high=3.0), lambda a: a ** 2.5)
spec("pow_tensor", lambda a, b: a ** b, binary(low=0.3, high=2.0), np.power)
spec("rsub_scalar", lambda a: 2.0 - a, unary(), lambda a: 2.0 - a)
spec("rdiv_scalar", lambda a: 1.0 / a, unary(low=0.3, high=3.0), lambda a: 1.0 / a)

# Elementwise functions ---------------------------------------------------------------------
spec("exp", mg.exp, unary(), np.exp)
spec("log", mg.log, unary(low=0.3, high=3.0), np.log)
spec("sqrt", mg.sqrt, unary(low=0.3, high=3.0), np.sqrt)
spec("sin", mg.sin, unary(), np.sin)
spec("cos", mg.cos, unary(), np.cos)
spec("tanh", mg.tanh, unary(), np.tanh)
spec("sigmoid", mg.sigmoid, unary(low=-6, high=6), _sigmoid)
spec("softplus", F.softplus, unary(low=-6, high=6), lambda x: np.logaddexp(0, x))
spec("relu", mg.relu, unary(avoid=(0,)), lambda x: np.maximum(x, 0))
spec("abs", mg.abs, unary(avoid=(0,)), np.abs)
spec("clip", lambda x: mg.clip(x, -1.0, 1.5), unary(avoid=(-1.0, 1.5)),
     lambda x: np.clip(x, -1.0, 1.5))
spec("maximum", mg.maximum, binary(avoid=(), distinct=True), np.maximum,
     note="values distinct so no ties")
spec("minimum", mg.minimum, binary(avoid=(), distinct=True), np.minimum)
spec("where", lambda a, b: mg.where(a.data > 0, a, b), binary(avoid=(0,)),
     lambda a, b: np.where(a > 0, a, b))
spec("leaky_relu", lambda x: F.leaky_relu(x, 0.1), unary(avoid=(0,)),
     lambda x: np.where(x > 0, x, 0.1 * x))
spec("elu", F.elu, unary(avoid=(0,)), lambda x: np.where(x > 0, x, np.exp(np.minimum(x, 0)) - 1))
spec("selu", F.selu, unary(avoid=(0,)),
     lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 *
                                               (np.exp(np.minimum(x, 0)) - 1)))
spec("gelu", F.gelu, unary(), lambda x: x * 0.5 * (1 + _erf(x / math.sqrt(2))))
spec("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), unary(),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))))
spec("silu", F.silu, unary(), lambda x: x * _sigmoid(x))

# Reductions --------------------------------------------------------------------------------
spec("sum", lambda x, axis, keepdims: x.sum(axis, keepdims), with_axis(),
     lambda x, axis, keepdims: np.sum(x, _np_axis(axis), keepdims=keepdims))
spec("mean", lambda x, axis, keepdims: x.mean(axis, keepdims), with_axis(),
     lambda x, axis, keepdims: np.mean(x, _np_axis(axis), keepdims=keepdims))
spec("max", lambda x, axis, keepdims: x.max(axis, keepdims), with_axis(distinct=True),
     lambda x, axis, keepdims: np.max(x, _np_axis(axis), keepdims=keepdims))
spec("min", lambda x, axis, keepdims: x.min(axis, keepdims), with_axis(distinct=True),
     lambda x, axis, keepdims: np.min(x, _np_axis(axis), keepdims=keepdims))
spec("prod", lambda x, axis, keepdims: x.prod(axis, keepdims),
     with_axis(low=-1.5, high=1.5),
     lambda x, axis, keepdims: np.prod(x, _np_axis(axis), keepdims=keepdims))
spec("var", lambda x, axis, keepdims: x.var(axis, keepdims), with_axis(min_dims=1).filter(
    lambda d: np.prod([d[0][0].shape[a] for a in
                       (range(d[0][0].ndim) if d[1]["axis"] is None else
                        np.atleast_1d(d[1]["axis"]))]) > 1),
     lambda x, axis, keepdims: np.var(x, _np_axis(axis), keepdims=keepdims, ddof=1))
spec("std0", lambda x, axis, keepdims: x.std(axis, keepdims, correction=0),
     with_axis(min_dims=1, distinct=True).filter(
    lambda d: np.prod([d[0][0].shape[a] for a in
                       (range(d[0][0].ndim) if d[1]["axis"] is None else
                        np.atleast_1d(d[1]["axis"]))]) > 1),
     lambda x, axis, keepdims: np.std(x, _np_axis(axis), keepdims=keepdims))
spec("logsumexp", lambda x, axis, keepdims: x.logsumexp(axis, keepdims), with_axis(),
     lambda x, axis, keepdims: np.log(np.sum(np.exp(x), _np_axis(axis), keepdims=keepdims)))

# Shapes and indexing -----------------------------------------------------------------------


@st.composite
def reshape_case(draw):
    shape = draw(S.shapes())
    x = draw(S.values(shape))
    perm = draw(st.permutations(list(shape)))
    return (x,), {"shape": tuple(perm)}


@st.composite
def permute_case(draw):
    shape = draw(S.shapes(min_dims=1))
    return (draw(S.values(shape)),), {"axes": tuple(draw(st.permutations(range(len(shape)))))}


@st.composite
def broadcast_case(draw):
    shape = draw(S.shapes(max_dims=3, max_side=3))
    target = tuple(draw(st.lists(st.integers(1, 3), max_size=2))) + tuple(
        draw(st.integers(1, 3)) if n == 1 else n for n in shape)
    return (draw(S.values(shape)),), {"shape": target}


@st.composite
def cat_case(draw):
    shape = list(draw(S.shapes(min_dims=1, max_dims=3)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    arrays = []
    for _ in range(draw(st.integers(1, 3))):
        shape[axis] = draw(st.integers(1, 3))
        arrays.append(draw(S.values(tuple(shape), salt=len(arrays))))
    return tuple(arrays), {"axis": axis}


@st.composite
def getitem_case(draw):
    shape = draw(S.shapes(min_dims=1, max_dims=3))
    x = draw(S.values(shape))
    return (x,), {"key": draw(S.index_keys(shape))}


@st.composite
def matmul_case(draw):
    sa, sb = draw(S.matmul_shapes())
    return (draw(S.values(sa)), draw(S.values(sb, salt=1))), {}


@st.composite
def pad_case(draw):
    shape = draw(S.shapes(min_dims=1, max_dims=3))
    width = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape)
    return (draw(S.values(shape)),), {"pad_width": width}


@st.composite
def repeat_case(draw):
    shape = draw(S.shapes(min_dims=1, max_dims=3, max_side=3))
    sizes = tuple(draw(st.integers(1, 3)) for _ in range(len(shape) + draw(st.integers(0, 1))))
    return (draw(S.values(shape)),), {"sizes": sizes}


spec("reshape", lambda x, shape: x.reshape(shape), reshape_case(),
     lambda x, shape: x.reshape(shape))
spec("permute", lambda x, axes: x.permute(axes), permute_case(),
     lambda x, axes: x.transpose(axes))
spec("broadcast_to", lambda x, shape: x.broadcast_to(shape), broadcast_case(),
     lambda x, shape: np.broadcast_to(x, shape))
spec("cat", lambda *xs, axis: mg.cat(xs, axis), cat_case(),
     lambda *xs, axis: np.concatenate(xs, axis))
spec("stack", lambda *xs, axis: mg.stack(xs, axis),
     cat_case().filter(lambda d: len({a.shape for a in d[0]}) == 1),
     lambda *xs, axis: np.stack(xs, axis))
spec("getitem", lambda x, key: x[key], getitem_case(), lambda x, key: x[key])
spec("pad", lambda x, pad_width: mg.pad(x, pad_width), pad_case(),
     lambda x, pad_width: np.pad(x, pad_width))
spec("repeat", lambda x, sizes: x.repeat(*sizes), repeat_case(),
     lambda x, sizes: np.tile(x, sizes))
spec("matmul", lambda a, b: a @ b, matmul_case(), np.matmul)
spec("einsum_bmm", lambda a, b: mg.einsum("bij,bjk->bik", a, b),
     st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))
     .flatmap(lambda s: st.tuples(S.values((s[0], s[1], s[2])),
                                  S.values((s[0], s[2], s[3]), salt=1))
              .map(lambda ab: (ab, {}))),
     lambda a, b: np.einsum("bij,bjk->bik", a, b))
spec("einsum_outer_sum", lambda a, b: mg.einsum("ij,k->ik", a, b),
     st.tuples(S.values((3, 2)), S.values((4,), salt=1)).map(lambda ab: (ab, {})),
     lambda a, b: np.einsum("ij,k->ik", a, b))

# Softmax family and losses -----------------------------------------------------------------


@st.composite
def logits_case(draw, soft_target=False, with_weight=False):
    N, C = draw(st.integers(1, 5)), draw(st.integers(2, 5))
    x = draw(S.values((N, C)))
    if soft_target:
        t = draw(S.values((N, C), low=0.0, high=1.0))
        return (x,), {"target": t / t.sum(1, keepdims=True)}
    params = {"target": np.array(draw(st.lists(st.integers(0, C - 1), min_size=N,
                                               max_size=N)))}
    if with_weight:
        params["weight"] = draw(S.values((C,), low=0.5, high=2.0))
    return (x,), params


@st.composite
def pair_same_shape(draw, low=-3.0, high=3.0, target_low=-3.0, target_high=3.0, avoid=()):
    shape = draw(S.shapes(min_dims=1))
    return (draw(S.values(shape, low=low, high=high)),), {
        "target": draw(S.values(shape, low=target_low, high=target_high, avoid=avoid,
                                salt=1))}


def _nll_ref(x, target, weight=None):
    picked = -x[np.arange(len(target)), target]
    if weight is None:
        return picked.mean()
    w = weight[target]
    return (picked * w).sum() / w.sum()


spec("softmax", lambda x, axis: F.softmax(x, axis),
     S.shapes(min_dims=1).flatmap(lambda s: st.tuples(S.values(s), st.integers(-len(s),
                                                                             len(s) - 1)))
     .map(lambda d: ((d[0],), {"axis": d[1]})),
     lambda x, axis: np.exp(_log_softmax(x, axis)))
spec("log_softmax", lambda x, axis: F.log_softmax(x, axis),
     S.shapes(min_dims=1).flatmap(lambda s: st.tuples(S.values(s), st.integers(-len(s),
                                                                             len(s) - 1)))
     .map(lambda d: ((d[0],), {"axis": d[1]})), _log_softmax)
spec("cross_entropy", F.cross_entropy, logits_case(),
     lambda x, target: _nll_ref(_log_softmax(x, 1), target))
spec("cross_entropy_weighted", F.cross_entropy, logits_case(with_weight=True),
     lambda x, target, weight: _nll_ref(_log_softmax(x, 1), target, weight))
spec("cross_entropy_soft", F.cross_entropy, logits_case(soft_target=True),
     lambda x, target: -(target * _log_softmax(x, 1)).sum(1).mean())
spec("nll_loss", F.nll_loss, logits_case(), _nll_ref)
spec("mse_loss", lambda x, target: F.mse_loss(x, mg.tensor(target)), pair_same_shape(),
     lambda x, target: ((x - target) ** 2).mean())
spec("l1_loss", lambda x, target: F.l1_loss(x, mg.tensor(target)),
     pair_same_shape().filter(lambda d: np.abs(d[0][0] - d[1]["target"]).min() > 0.05),
     lambda x, target: np.abs(x - target).mean())
spec("binary_cross_entropy",
     lambda x, target: F.binary_cross_entropy(x, mg.tensor(target)),
     pair_same_shape(low=0.05, high=0.95, target_low=0.0, target_high=1.0),
     lambda x, target: -(target * np.log(x) + (1 - target) * np.log(1 - x)).mean())
spec("bce_with_logits",
     lambda x, target: F.binary_cross_entropy_with_logits(x, mg.tensor(target)),
     pair_same_shape(target_low=0.0, target_high=1.0),
     lambda x, target: (np.logaddexp(0, x) - x * target).mean())
spec("kl_div", lambda x, target: F.kl_div(x, mg.tensor(target), reduction="sum"),
     pair_same_shape(low=-3, high=-0.1, target_low=0.0, target_high=1.0),
     lambda x, target: (target * (np.log(target) - x)).sum())


@st.composite
def margin_case(draw):
    N, C = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    x = draw(S.values((N, C), distinct=True, margin=0.2))
    target = np.array(draw(st.lists(st.integers(0, C - 1), min_size=N, max_size=N)))
    margins = 1 - x[np.arange(N), target][:, None] + x
    if np.abs(margins).min() < 0.05:  # keep off the hinge
        x = x + 0.1
    return (x,), {"target": target}


def _multi_margin_ref(x, target):
    N, C = x.shape
    m = np.maximum(0, 1 - x[np.arange(N), target][:, None] + x)
    m[np.arange(N), target] = 0
    return (m.sum(1) / C).mean()


spec("multi_margin_loss", F.multi_margin_loss,
     margin_case().filter(lambda d: np.abs(1 - d[0][0][np.arange(len(d[1]["target"])),
                                                        d[1]["target"]][:, None]
                                           + d[0][0]).min() > 0.05),
     _multi_margin_ref)


@st.composite
def vectors_case(draw, n=2):
    N, D = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    return tuple(draw(S.values((N, D), salt=i)) for i in range(n)), {}


spec("cosine_similarity", F.cosine_similarity, vectors_case(),
     lambda a, b: (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))
spec("pairwise_distance", F.pairwise_distance, vectors_case(),
     lambda a, b: np.linalg.norm(a - b + 1e-6, axis=-1))
spec("triplet_margin_loss", lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=0.5),
     vectors_case(3).filter(lambda d: np.abs(
         np.linalg.norm(d[0][0] - d[0][1] + 1e-6, axis=-1) -
         np.linalg.norm(d[0][0] - d[0][2] + 1e-6, axis=-1) + 0.5).min() > 0.05),
     lambda a, p, n: np.maximum(0, np.linalg.norm(a - p + 1e-6, axis=-1)
                                - np.linalg.norm(a - n + 1e-6, axis=-1) + 0.5).mean())

# Layers as functions -------------------------------------------------------------------------


@st.composite
def linear_case(draw):
    N, I, O = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=1)))
    return (draw(S.values(lead + (N, I))), draw(S.values((O, I), salt=1)),
            draw(S.values((O,), salt=2))), {}


@st.composite
def norm_case(draw, min_dims=2):
    shape = draw(S.shapes(min_dims=min_dims, max_dims=4, min_side=2, max_side=4))
    C = shape[1]
    return (draw(S.values(shape)), draw(S.values((C,), low=0.5, high=2.0, salt=1)),
            draw(S.values((C,), salt=2))), {}


def _bn_ref(x, w, b):
    axes = (0,) + tuple(range(2, x.ndim))
    view = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * w.reshape(view) + b.reshape(view)


def _ln_ref(x, w, b):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * w + b


def _in_ref(x, w, b):
    axes = tuple(range(2, x.ndim))
    view = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * w.reshape(view) + b.reshape(view)


@st.composite
def layer_norm_case(draw):
    shape = draw(S.shapes(min_dims=1, max_dims=3, min_side=2))
    D = shape[-1]
    return (draw(S.values(shape)), draw(S.values((D,), low=0.5, high=2.0, salt=1)),
            draw(S.values((D,), salt=2))), {}


@st.composite
def group_norm_case(draw):
    N, G, per, L = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2)),
                    draw(st.integers(2, 4)))
    C = G * per
    return (draw(S.values((N, C, L))), draw(S.values((C,), low=0.5, high=2.0, salt=1)),
            draw(S.values((C,), salt=2))), {"num_groups": G}


def _gn_ref(x, w, b, num_groups):
    N, C = x.shape[:2]
    g = x.reshape(N, num_groups, -1)
    out = ((g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + 1e-5))
    return out.reshape(x.shape) * w.reshape(1, -1, 1) + b.reshape(1, -1, 1)


spec("linear", F.linear, linear_case(), lambda x, w, b: x @ w.T + b)
spec("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
     norm_case(), _bn_ref)
spec("layer_norm", lambda x, w, b: F.layer_norm(x, x.shape[-1:], w, b), layer_norm_case(),
     _ln_ref)
spec("group_norm", lambda x, w, b, num_groups: F.group_norm(x, num_groups, w, b),
     group_norm_case(), _gn_ref)
spec("instance_norm", lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
     norm_case(min_dims=3), _in_ref)


@st.composite
def embedding_case(draw):
    V, E = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    idx = np.array(draw(st.lists(st.integers(0, V - 1), min_size=1, max_size=6)))
    return (draw(S.values((V, E))),), {"indices": idx}


spec("embedding", lambda w, indices: F.embedding(indices, w), embedding_case(),
     lambda w, indices: w[indices])


@st.composite
def attention_case(draw):
    B, L, Sq, D = (draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4)),
                   draw(st.integers(1, 4)))
    return (draw(S.values((B, L, D))), draw(S.values((B, Sq, D), salt=1)),
            draw(S.values((B, Sq, D), salt=2))), {"is_causal": draw(st.booleans()) and L == Sq}


def _attention_ref(q, k, v, is_causal):
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])
    if is_causal:
        scores = np.where(np.tril(np.ones(scores.shape[-2:], bool)), scores, -1e300)
    return np.exp(_log_softmax(scores, -1)) @ v


spec("scaled_dot_product_attention", F.scaled_dot_product_attention, attention_case(),
     _attention_ref)


# Graph message passing: rows gathered by index and reduced back by index -----------------------


@st.composite
def scatter_case(draw, distinct=False):
    M, D, size = draw(st.integers(1, 6)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    index = np.array(draw(st.lists(st.integers(0, size - 1), min_size=M, max_size=M)))
    return (draw(S.values((M, D), distinct=distinct)),), {"index": index, "dim_size": size}


def _scatter_ref(reduce):
    def reference(src, index, dim_size):
        out = np.zeros((dim_size,) + src.shape[1:])
        for i in range(dim_size):
            rows = src[index == i]
            if len(rows):
                out[i] = reduce(rows, axis=0)
        return out
    return reference


@st.composite
def gather_case(draw):
    N, D = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    index = np.array(draw(st.lists(st.integers(0, N - 1), min_size=1, max_size=7)))
    return (draw(S.values((N, D))),), {"index": index}


spec("gather", F.gather, gather_case(), lambda src, index: src[index])
spec("scatter_add", F.scatter_add, scatter_case(), _scatter_ref(np.sum))
spec("scatter_mean", F.scatter_mean, scatter_case(), _scatter_ref(np.mean))
spec("scatter_max", F.scatter_max, scatter_case(distinct=True), _scatter_ref(np.max),
     note="values distinct so no ties")


# Remaining ops and composites -------------------------------------------------------------------
spec("expand_squeeze_flatten", lambda x: x.unsqueeze(0).expand(2, *x.shape).flatten(1)
     .squeeze(), unary(S.shapes(min_dims=1, max_dims=3)),
     lambda x: np.squeeze(np.broadcast_to(x[None], (2,) + x.shape).reshape(2, -1)))
spec("contrastive_loss",
     lambda a, b, same: F.contrastive_loss(a, b, mg.tensor(same), margin=1.5),
     vectors_case().flatmap(lambda d: st.lists(st.sampled_from([0.0, 1.0]),
                                                min_size=d[0][0].shape[0],
                                                max_size=d[0][0].shape[0])
                            .map(lambda same: (d[0], {"same": np.array(same)})))
     .filter(lambda d: np.abs(np.linalg.norm(d[0][0] - d[0][1] + 1e-6, axis=-1)
                              - 1.5).min() > 0.05),
     lambda a, b, same: np.mean(same * np.linalg.norm(a - b + 1e-6, axis=-1) ** 2 + (1 - same)
                                * np.maximum(0, 1.5 - np.linalg.norm(a - b + 1e-6, axis=-1))
                                ** 2))
spec("binary_cross_entropy_target", lambda t, p: F.binary_cross_entropy(p, t),
     st.tuples(st.integers(1, 5)).flatmap(
         lambda n: st.tuples(S.values(n, low=0.0, high=1.0), S.values(n, low=0.05, high=0.95,
                                                                      salt=1)))
     .map(lambda tp: (tp, {})),
     lambda t, p: -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean())


def _seeded_dropout(x):
    mg.manual_seed(0)  # the same mask at every evaluation, so finite differences are valid
    return F.dropout(x, p=0.3)


def _dropout_ref(x):
    np.random.seed(0)
    return x * (np.random.random_sample(x.shape) >= 0.3) / 0.7


spec("dropout_seeded", _seeded_dropout, unary(), _dropout_ref)
