"""The registry of differentiable ops: each op declared once, tested by test_op_specs.py.

Families of ops register theirs in ``op_specs_<family>.py`` (imported at the bottom).
An ``OpSpec`` says how to draw inputs (a strategy from the strategies package giving ``(arrays,
params)``), how to call the op on Tensors, and a NumPy reference for the forward value. The
arrays become float64 Tensors that require grad; the params pass by keyword to both the op and
the reference, so options (reductions, weights, modes, strides) are drawn like the values. The
generated tests check forward against the reference, gradcheck, and gradgradcheck (unless
``second_order`` is False, with the reason in ``note``), on every device. An op may return a
tuple (max_pool2d with indices); its reference then returns a tuple too.
"""
import contextlib
import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from hypothesis import strategies as st

import minigrad as mg
import minigrad.functional as F
import references as R
from attention_reference import numpy_uniform
import strategies as S


@dataclass
class OpSpec:
    name: str
    fn: Callable                    # fn(*tensors, **params) -> Tensor or tuple
    inputs: st.SearchStrategy       # draws (tuple of float64 arrays, params dict)
    reference: Optional[Callable]   # reference(*arrays, **params) -> array or tuple
    second_order: bool = True
    note: str = ""
    atol: float = 1e-5
    rtol: float = 1e-3
    # The reference draws its random numbers through a ``uniform(seed, shape)`` keyword (NumPy's
    # stream by default): the forward test passes the device's own stream, since a GPU's
    # generator gives other numbers from the same seed.
    draws_random: bool = False
    # Entered around each generated test, forward and backward both: a setting the op's path
    # depends on (the Winograd convolutions below take their path from one channel up).
    context: Callable = contextlib.nullcontext


SPECS = []


def spec(*args, **kwargs):
    SPECS.append(OpSpec(*args, **kwargs))


def _axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _reduction(np_fn, **fixed):
    """The NumPy reduction with minigrad's (axis, keepdims) arguments."""
    return lambda x, axis, keepdims, **kw: np_fn(x, _axis(axis), keepdims=keepdims, **fixed, **kw)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def _target(fn):
    """``fn(x, target, **kw)`` with the target, drawn as an array param, made a Tensor."""
    return lambda x, target, **kw: fn(x, mg.tensor(target, dtype=np.float64, device=x.device),
                                      **kw)


def _pnorm(d, p=2, keepdim=False):
    return (np.abs(d) ** p).sum(-1, keepdims=keepdim) ** (1 / p)


spec("add", lambda a, b: a + b, S.binary_inputs(), np.add)
spec("sub", lambda a, b: a - b, S.binary_inputs(), np.subtract)
spec("mul", lambda a, b: a * b, S.binary_inputs(), np.multiply)
spec("div", lambda a, b: a / b, S.binary_inputs(second=S.positive), np.divide)
spec("neg", lambda a: -a, S.unary_inputs(), np.negative)
spec("pow_scalar", lambda a: a ** 2.5, S.unary_inputs(low=0.3, high=3.0), lambda a: a ** 2.5)
spec("pow_tensor", lambda a, b: a ** b, S.binary_inputs(low=0.3, high=2.0), np.power)
spec("rsub_scalar", lambda a: 2.0 - a, S.unary_inputs(), lambda a: 2.0 - a)
spec("rdiv_scalar", lambda a: 1.0 / a, S.unary_inputs(low=0.3, high=3.0), lambda a: 1.0 / a)
spec("exp", mg.exp, S.unary_inputs(), np.exp)
spec("log", mg.log, S.unary_inputs(low=0.3, high=3.0), np.log)
spec("sqrt", mg.sqrt, S.unary_inputs(low=0.3, high=3.0), np.sqrt)
spec("sin", mg.sin, S.unary_inputs(), np.sin)
spec("cos", mg.cos, S.unary_inputs(), np.cos)
spec("tanh", mg.tanh, S.unary_inputs(), np.tanh)
spec("sigmoid", mg.sigmoid, S.unary_inputs(low=-6, high=6), _sigmoid)
spec("softplus", F.softplus, S.unary_inputs(low=-6, high=6), lambda x: np.logaddexp(0, x))
spec("relu", mg.relu, S.unary_inputs(avoid=(0,)), lambda x: np.maximum(x, 0))
spec("abs", mg.abs, S.unary_inputs(avoid=(0,)), np.abs)
spec("clip", lambda x: mg.clip(x, -1.0, 1.5), S.unary_inputs(avoid=(-1.0, 1.5)),
     lambda x: np.clip(x, -1.0, 1.5))
spec("maximum", mg.maximum, S.binary_inputs(distinct=True), np.maximum,
     note="values distinct across both inputs, so no ties (test_ties.py checks the tie rule)")
spec("minimum", mg.minimum, S.binary_inputs(distinct=True), np.minimum)
spec("where", lambda a, b: mg.where(a.data > 0, a, b), S.binary_inputs(avoid=(0,)),
     lambda a, b: np.where(a > 0, a, b))
spec("leaky_relu", F.leaky_relu,
     S.with_options(S.unary_inputs(avoid=(0,)), negative_slope=st.sampled_from([0.01, 0.2, 1.5])),
     lambda x, negative_slope: np.where(x > 0, x, negative_slope * x))
spec("elu", F.elu, S.with_options(S.unary_inputs(avoid=(0,)), alpha=st.sampled_from([0.5, 1.0])),
     lambda x, alpha: np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0)) - 1)))
spec("selu", F.selu, S.unary_inputs(avoid=(0,)),
     lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 *
                                               (np.exp(np.minimum(x, 0)) - 1)))
spec("gelu", F.gelu,
     S.with_options(S.unary_inputs(), approximate=st.sampled_from(["none", "tanh"])), _gelu)
spec("silu", F.silu, S.unary_inputs(), lambda x: x * _sigmoid(x))

spec("sum", lambda x, axis, keepdims: x.sum(axis, keepdims), S.axis_inputs(), _reduction(np.sum))
spec("mean", lambda x, axis, keepdims: x.mean(axis, keepdims), S.axis_inputs(),
     _reduction(np.mean))
spec("amax", lambda x, axis, keepdims: x.amax(axis, keepdims), S.axis_inputs(distinct=True),
     _reduction(np.max), note="distinct values: no ties (test_ties.py checks the tie rule)")
spec("amin", lambda x, axis, keepdims: x.amin(axis, keepdims), S.axis_inputs(distinct=True),
     _reduction(np.min))
spec("max_dim", lambda x, dim, keepdim: x.max(dim, keepdim), S.dim_inputs(distinct=True),
     lambda x, dim, keepdim: (np.max(x, dim, keepdims=keepdim),
                              np.argmax(x, dim, keepdims=keepdim)))
spec("min_dim", lambda x, dim, keepdim: x.min(dim=dim, keepdim=keepdim),
     S.dim_inputs(distinct=True),
     lambda x, dim, keepdim: (np.min(x, dim, keepdims=keepdim),
                              np.argmin(x, dim, keepdims=keepdim)))
spec("prod", lambda x, axis, keepdims: x.prod(axis, keepdims),
     S.axis_inputs(low=-1.5, high=1.5), _reduction(np.prod))
spec("var", lambda x, axis, keepdims, correction: x.var(axis, keepdim=keepdims,
                                                        correction=correction),
     S.with_options(S.axis_inputs(min_count=2), correction=st.sampled_from([0, 1])),
     lambda x, axis, keepdims, correction: np.var(x, _axis(axis), keepdims=keepdims,
                                                  ddof=correction))
spec("std", lambda x, axis, keepdims, correction: x.std(axis, keepdim=keepdims,
                                                        correction=correction),
     S.with_options(S.axis_inputs(min_count=2, distinct=True), correction=st.sampled_from([0, 1])),
     lambda x, axis, keepdims, correction: np.std(x, _axis(axis), keepdims=keepdims,
                                                  ddof=correction),
     note="distinct values, so the spread is never 0, where sqrt has no derivative")
spec("logsumexp", lambda x, axis, keepdims: x.logsumexp(axis, keepdims), S.axis_inputs(),
     lambda x, axis, keepdims: np.log(np.sum(np.exp(x), _axis(axis), keepdims=keepdims)))
spec("cumsum", lambda x, dim: x.cumsum(dim), S.dim_inputs(keepdim=False),
     lambda x, dim: np.cumsum(x, dim))
spec("cumprod", lambda x, dim: x.cumprod(dim), S.dim_inputs(keepdim=False, low=-1.5, high=1.5),
     lambda x, dim: np.cumprod(x, dim))


def _dim_index(x, dim, high=None):
    """A fixed int64 index of x's shape for ``gather``/``scatter`` along ``dim``."""
    return np.random.default_rng(x.size).integers(0, high or x.shape[dim], x.shape)


def _gather_ref(x, dim):
    return np.take_along_axis(x, _dim_index(x, dim), dim)


def _scatter_add_ref(x, src, dim):
    out = x.copy()
    index = _dim_index(x, dim)
    np.add.at(out, tuple(index if a == dim % x.ndim else g for a, g in
                         enumerate(np.indices(x.shape, sparse=True))), src)
    return out


spec("gather_dim", lambda x, dim, keepdim: x.gather(dim, _dim_index(x.data, dim)),
     S.dim_inputs(), lambda x, dim, keepdim: _gather_ref(x, dim))
spec("scatter_add_dim", lambda x, src, dim: x.scatter_add(dim, _dim_index(x.data, dim), src),
     S.dim_inputs(keepdim=False).map(lambda d: ((d[0][0], d[0][0][::-1].copy()), d[1])),
     _scatter_add_ref)
spec("sort", lambda x, dim, keepdim: x.sort(dim, descending=keepdim), S.dim_inputs(distinct=True),
     lambda x, dim, keepdim: (np.flip(np.sort(x, dim), dim) if keepdim else np.sort(x, dim),
                              np.flip(np.argsort(x, dim), dim) if keepdim else
                              np.argsort(x, dim)),
     note="distinct values: one order (keepdim is drawn as the descending flag)")
spec("topk", lambda x, dim, keepdim: x.topk(1, dim, largest=keepdim), S.dim_inputs(distinct=True),
     lambda x, dim, keepdim: ((np.max if keepdim else np.min)(x, dim, keepdims=True),
                              (np.argmax if keepdim else np.argmin)(x, dim, keepdims=True)))
spec("norm", lambda x, dim, keepdim, p: x.norm(p, dim, keepdim),
     S.with_options(S.dim_inputs(avoid=(0,)), p=st.sampled_from([1, 2, 3.0])),
     lambda x, dim, keepdim, p: (np.abs(x) ** p).sum(dim, keepdims=keepdim) ** (1 / p),
     note="entries away from 0, where |x| has a kink")
spec("clone", lambda x: x.clone(), S.unary_inputs(), np.copy)
spec("tril_triu", lambda x: mg.tril(x, -1) + mg.triu(x, 1) * 2,
     S.unary_inputs(S.shapes(min_dims=2, max_dims=3)),
     lambda x: np.tril(x, -1) + np.triu(x, 1) * 2)
spec("outer_diag", lambda a: mg.outer(a, a) + mg.diag(a), S.unary_inputs(S.shapes(1, 1)),
     lambda a: np.outer(a, a) + np.diag(a))

spec("reshape", lambda x, shape: x.reshape(shape), S.reshape_inputs(),
     lambda x, shape: x.reshape(shape))
spec("permute", lambda x, axes: x.permute(axes), S.permute_inputs(),
     lambda x, axes: x.transpose(axes))
spec("broadcast_to", lambda x, shape: x.broadcast_to(shape), S.broadcast_inputs(),
     lambda x, shape: np.broadcast_to(x, shape))
spec("cat", lambda *xs, axis: mg.cat(xs, axis), S.cat_inputs(),
     lambda *xs, axis: np.concatenate(xs, axis))
spec("stack", lambda *xs, axis: mg.stack(xs, axis), S.cat_inputs(same_shape=True),
     lambda *xs, axis: np.stack(xs, axis))
spec("getitem", lambda x, key: x[key], S.getitem_inputs(), lambda x, key: x[key])
spec("pad", lambda x, pad_width: mg.pad(x, pad_width), S.pad_inputs(),
     lambda x, pad_width: np.pad(x, pad_width))
spec("F.pad", F.pad, S.torch_pad_inputs(), R.torch_pad)
def _pixel_shuffle(x, upscale_factor):
    *lead, C, H, W = x.shape
    r = upscale_factor
    y = x.reshape(*lead, C // (r * r), r, r, H, W)
    return np.moveaxis(y, (-4, -3), (-3, -1)).reshape(*lead, C // (r * r), H * r, W * r)


def _pixel_unshuffle(x, downscale_factor):
    *lead, C, H, W = x.shape
    r = downscale_factor
    y = x.reshape(*lead, C, H // r, r, W // r, r)
    return np.moveaxis(y, (-3, -1), (-4, -3)).reshape(*lead, C * r * r, H // r, W // r)


def _channel_shuffle(x, groups):
    N, C, *rest = x.shape
    return np.swapaxes(x.reshape(N, groups, C // groups, *rest), 1, 2).reshape(x.shape)


spec("pixel_shuffle", F.pixel_shuffle, S.shuffle_inputs("pixel"), _pixel_shuffle)
spec("pixel_unshuffle", F.pixel_unshuffle, S.shuffle_inputs("unpixel"), _pixel_unshuffle)
spec("channel_shuffle", F.channel_shuffle, S.shuffle_inputs("channel"), _channel_shuffle)
spec("unfold", F.unfold, S.fold_inputs(), R.unfold)
spec("fold", F.fold, S.fold_inputs(fold=True), R.fold)
spec("affine_grid", F.affine_grid, S.affine_grid_inputs(), R.affine_grid)
spec("grid_sample", F.grid_sample, S.grid_sample_inputs(mode="bilinear"), R.grid_sample,
     note="bilinear: in input and grid, the grid kept off the kinks; 'nearest' has no gradient "
          "in the grid and is compared in tests/ops/test_spatial.py")
spec("repeat", lambda x, sizes: x.repeat(*sizes), S.repeat_inputs(),
     lambda x, sizes: np.tile(x, sizes))
spec("expand_squeeze_flatten", lambda x: x.unsqueeze(0).expand(2, *x.shape).flatten(1)
     .squeeze(), S.unary_inputs(S.shapes(min_dims=1, max_dims=3)),
     lambda x: np.squeeze(np.broadcast_to(x[None], (2,) + x.shape).reshape(2, -1)))
spec("matmul", lambda a, b: a @ b, S.matmul_inputs(), np.matmul)
spec("einsum_bmm", lambda a, b: mg.einsum("bij,bjk->bik", a, b),
     S.arrays_inputs(st.tuples(*[st.integers(1, 3)] * 4).map(
         lambda s: ((s[0], s[1], s[2]), (s[0], s[2], s[3])))),
     lambda a, b: np.einsum("bij,bjk->bik", a, b))
spec("einsum_outer_sum", lambda a, b: mg.einsum("ij,k->ik", a, b),
     S.arrays_inputs(st.just(((3, 2), (4,)))), lambda a, b: np.einsum("ij,k->ik", a, b))

spec("softmax", F.softmax, S.one_axis_inputs(),
     lambda x, axis: np.exp(R.log_softmax(x, axis)))
spec("log_softmax", F.log_softmax, S.one_axis_inputs(), R.log_softmax)
spec("cross_entropy", F.cross_entropy, S.class_target_inputs(smoothing=True), R.cross_entropy)
spec("cross_entropy_soft", F.cross_entropy, S.soft_target_inputs(), R.cross_entropy)
spec("nll_loss", F.nll_loss, S.class_target_inputs(), R.nll_loss)
spec("mse_loss", _target(F.mse_loss), S.target_inputs(),
     lambda x, target, reduction: R.reduce_loss((x - target) ** 2, reduction))
spec("l1_loss", _target(F.l1_loss), S.target_inputs(kink=True),
     lambda x, target, reduction: R.reduce_loss(np.abs(x - target), reduction))
spec("binary_cross_entropy", F.binary_cross_entropy, S.bce_inputs(), R.binary_cross_entropy,
     note="p in [1e-4, 1 - 1e-4], mostly near the ends; input and target both differentiated")
spec("binary_cross_entropy_target",
     lambda t, p, **kw: F.binary_cross_entropy(mg.tensor(p, dtype=np.float64, device=t.device),
                                               t, **kw),
     S.bce_inputs(smallest=1e-6, differentiate_p=False),
     lambda t, p, **kw: R.binary_cross_entropy(p, t, **kw),
     note="only the target varies, so p may come within 1e-6 of 0 and 1")
spec("bce_with_logits", _target(F.binary_cross_entropy_with_logits), S.logits_target_inputs(),
     R.binary_cross_entropy_with_logits)
spec("kl_div", _target(F.kl_div), S.kl_div_inputs(), R.kl_div)
spec("multi_margin_loss", F.multi_margin_loss, S.margin_inputs(), R.multi_margin_loss)
spec("cosine_similarity", F.cosine_similarity, S.vectors_inputs(),
     lambda a, b: (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))
spec("pairwise_distance", F.pairwise_distance,
     S.with_options(S.vectors_inputs(apart=True), p=st.sampled_from([1.0, 2.0, 3.0]),
                    keepdim=st.booleans()),
     lambda a, b, p, keepdim: _pnorm(a - b + 1e-6, p, keepdim))


def _triplet(a, p, n, margin):
    return _pnorm(a - p + 1e-6) - _pnorm(a - n + 1e-6) + margin


def _contrastive(a, b, same, margin):
    d = _pnorm(a - b + 1e-6)
    return same * d ** 2 + (1 - same) * np.maximum(0, margin - d) ** 2


spec("triplet_margin_loss", F.triplet_margin_loss,
     S.with_options(S.vectors_inputs(3), margin=st.sampled_from([0.5, 1.0]),
                    reduction=S.REDUCTIONS)
     .filter(lambda d: np.abs(_triplet(*d[0], d[1]["margin"])).min() > 0.05),
     lambda a, p, n, margin, reduction: R.reduce_loss(np.maximum(0, _triplet(a, p, n, margin)),
                                                      reduction),
     note="inputs 0.05 or more off the hinge")
spec("contrastive_loss",
     lambda a, b, same, **kw: F.contrastive_loss(a, b, mg.tensor(same, device=a.device), **kw),
     S.with_options(S.vectors_inputs(), margin=st.sampled_from([0.5, 1.5]),
                    reduction=S.REDUCTIONS)
     .flatmap(lambda d: st.lists(st.sampled_from([0.0, 1.0]), min_size=d[0][0].shape[0],
                                 max_size=d[0][0].shape[0])
              .map(lambda same: (d[0], {**d[1], "same": np.array(same)})))
     .filter(lambda d: np.abs(_pnorm(d[0][0] - d[0][1] + 1e-6) - d[1]["margin"]).min() > 0.05),
     lambda a, b, same, margin, reduction: R.reduce_loss(_contrastive(a, b, same, margin),
                                                         reduction))


def _normalized(x, axes, w=None, b=None, channel_axis=1, groups=None):
    """(x - mean) / sqrt(var + 1e-5) over ``axes`` (of x split into ``groups`` on axis 1), then
    the per-channel affine map when a weight is given."""
    g = x if groups is None else x.reshape(x.shape[:1] + (groups, -1) + x.shape[2:])
    out = ((g - g.mean(axes, keepdims=True)) / np.sqrt(g.var(axes, keepdims=True) + 1e-5))
    out = out.reshape(x.shape)
    if w is None:
        return out
    view = [1] * x.ndim
    view[channel_axis] = -1
    return out * w.reshape(view) + b.reshape(view)


spec("linear", F.linear, S.linear_inputs(), lambda x, w, b=None: x @ w.T + (0 if b is None else b))
spec("batch_norm_train", lambda x, w=None, b=None: F.batch_norm(x, None, None, w, b,
                                                                training=True),
     S.norm_inputs(), lambda x, w=None, b=None: _normalized(x, (0,) + tuple(range(2, x.ndim)),
                                                            w, b))
spec("layer_norm", lambda x, w=None, b=None: F.layer_norm(x, x.shape[-1:], w, b),
     S.norm_inputs(min_dims=1, channel_axis=-1),
     lambda x, w=None, b=None: _normalized(x, -1, w, b, channel_axis=-1))
spec("group_norm", lambda x, w=None, b=None, num_groups=1: F.group_norm(x, num_groups, w, b),
     S.norm_inputs(groups=True),
     lambda x, w=None, b=None, num_groups=1: _normalized(
         x, tuple(range(2, x.ndim + 1)), w, b, groups=num_groups))
spec("instance_norm", lambda x, w=None, b=None: F.instance_norm(x, weight=w, bias=b),
     S.norm_inputs(min_dims=3), lambda x, w=None, b=None: _normalized(
         x, tuple(range(2, x.ndim)), w, b))
spec("embedding", lambda w, indices: F.embedding(indices, w), S.embedding_inputs(),
     lambda w, indices: w[indices])


def _attention(q, k, v, is_causal):
    scores = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])
    if is_causal:
        scores = np.where(np.tril(np.ones(scores.shape[-2:], bool)), scores, -1e300)
    return np.exp(R.log_softmax(scores, -1)) @ v


spec("scaled_dot_product_attention", F.scaled_dot_product_attention, S.attention_inputs(),
     _attention)


def _seeded_dropout(x, p):
    mg.manual_seed(0)  # the same mask at every evaluation, so finite differences are valid
    return F.dropout(x, p=p)


def _dropout_ref(x, p, uniform=numpy_uniform):
    return x * (uniform(0, x.shape) >= p) / (1 - p)


spec("dropout_seeded", _seeded_dropout,
     S.with_options(S.unary_inputs(), p=st.sampled_from([0.0, 0.3, 0.9])), _dropout_ref,
     draws_random=True)


def _seeded(function, **fixed):
    """``function(x, p, training=True)`` with the mask drawn after ``manual_seed(0)`` on every
    call, so that finite differences see one mask."""
    def seeded(x, p):
        mg.manual_seed(0)
        return function(x, p=p, training=True, **fixed)
    return seeded


def _channel_dropout_ref(x, p, uniform=numpy_uniform):
    """One uniform per (n, c) of an (N, C, ...) input, broadcast over the rest."""
    keep = uniform(0, x.shape[:2] + (1,) * (x.ndim - 2)) >= p
    return x * keep / (1 - p)


def _alpha_dropout_ref(x, p, uniform=numpy_uniform, channels=False):
    saturation = -1.0507009873554805 * 1.6732632423543772
    a = ((1 - p) * (1 + p * saturation ** 2)) ** -0.5
    keep = uniform(0, x.shape[:2] + (1,) * (x.ndim - 2) if channels else x.shape) >= p
    return a * np.where(keep, x, saturation) - a * saturation * p


_P = st.sampled_from([0.0, 0.3, 0.9])
for _name, _function, _dims in (("dropout1d", F.dropout1d, 3), ("dropout2d", F.dropout2d, 4),
                                ("dropout3d", F.dropout3d, 5)):
    spec(f"{_name}_seeded", _seeded(_function),
         S.with_options(S.unary_inputs(S.shapes(min_dims=_dims, max_dims=_dims, max_side=3)),
                        p=_P),
         _channel_dropout_ref, draws_random=True)
spec("alpha_dropout_seeded", _seeded(F.alpha_dropout), S.with_options(S.unary_inputs(), p=_P),
     _alpha_dropout_ref, draws_random=True)
spec("feature_alpha_dropout_seeded", _seeded(F.feature_alpha_dropout),
     S.with_options(S.unary_inputs(S.shapes(min_dims=2, max_dims=4, max_side=3)), p=_P),
     lambda x, p, uniform=numpy_uniform: _alpha_dropout_ref(x, p, uniform, channels=True),
     draws_random=True)

spec("conv2d", F.conv2d, S.conv_inputs(), R.conv2d)
spec("conv_transpose2d", F.conv_transpose2d, S.conv_inputs(transposed=True), R.conv_transpose2d)


def _im2col_gemm_settings(**settings):
    """A context that sets ``kernels/im2col_gemm.py``'s path switches and thresholds, so that
    the small drawn problems take a path meant for larger ones, and puts them back after."""
    @contextlib.contextmanager
    def context():
        from minigrad.kernels import im2col_gemm
        before = {name: getattr(im2col_gemm, name) for name in settings}
        for name, value in settings.items():
            setattr(im2col_gemm, name, value)
        try:
            yield
        finally:
            for name, value in before.items():
                setattr(im2col_gemm, name, value)
    return context


# Winograd for 3x3 and 5x5 stride-1 convolutions, and the windows as rows for the others, from
# one channel
_winograd_from_one_channel = _im2col_gemm_settings(WINOGRAD=True, WINOGRAD_MIN_CHANNELS=1)
_window_rows_from_one_channel = _im2col_gemm_settings(WINDOW_ROWS=True, WINDOW_ROWS_MIN_CHANNELS=1)
spec("conv2d_winograd", F.conv2d, S.winograd_conv_inputs(), R.conv2d,
     context=_winograd_from_one_channel)
spec("conv_transpose2d_winograd", F.conv_transpose2d, S.winograd_conv_inputs(transposed=True),
     R.conv_transpose2d, context=_winograd_from_one_channel)
# Winograd on the phases of stride-2 4x4 convolutions, from one channel and at any tile cover
_phases_from_one_channel = _im2col_gemm_settings(WINOGRAD=True, WINOGRAD_MIN_CHANNELS=1,
                                                 PHASE_TILES_MOST=float("inf"))
spec("conv2d_phases", F.conv2d, S.phase_conv_inputs(), R.conv2d,
     context=_phases_from_one_channel)
spec("conv_transpose2d_phases", F.conv_transpose2d, S.phase_conv_inputs(transposed=True),
     R.conv_transpose2d, context=_phases_from_one_channel)
spec("conv2d_window_rows", F.conv2d, S.conv_inputs(), R.conv2d,
     context=_window_rows_from_one_channel)
spec("conv_transpose2d_window_rows", F.conv_transpose2d, S.conv_inputs(transposed=True),
     R.conv_transpose2d, context=_window_rows_from_one_channel)
spec("conv1d", F.conv1d, S.conv1d_inputs(), R.conv1d)
spec("conv_transpose1d", F.conv_transpose1d, S.conv1d_inputs(transposed=True),
     R.conv_transpose1d)
spec("max_pool1d", F.max_pool1d, S.pool1d_inputs("max"), R.max_pool1d)
spec("avg_pool1d", F.avg_pool1d, S.pool1d_inputs("avg"), R.avg_pool1d)
spec("adaptive_avg_pool1d", F.adaptive_avg_pool1d, S.pool1d_inputs("adaptive"),
     R.adaptive_avg_pool1d)
spec("adaptive_max_pool2d", F.adaptive_max_pool2d, S.adaptive_max_pool_inputs(),
     R.adaptive_max_pool2d, note="distinct values: one maximum per window")
spec("adaptive_max_pool1d", F.adaptive_max_pool1d, S.adaptive_max_pool_inputs(dims=1),
     R.adaptive_max_pool1d, note="distinct values: one maximum per window")
spec("max_pool2d", F.max_pool2d, S.max_pool_inputs(), R.max_pool2d,
     note="distinct values: one maximum per window (test_ties.py checks the tie rule)")
spec("avg_pool2d", F.avg_pool2d, S.avg_pool_inputs(), R.avg_pool2d)
spec("adaptive_avg_pool2d", F.adaptive_avg_pool2d, S.adaptive_pool_inputs(),
     lambda x, output_size: R.adaptive_avg_pool2d(x, tuple(
         x.shape[2 + i] if s is None else s for i, s in enumerate(
             output_size if isinstance(output_size, tuple) else (output_size,) * 2))))
spec("max_unpool2d", F.max_unpool2d, S.unpool_inputs(),
     lambda x, indices, output_size, **window: R.max_unpool2d(x, indices, output_size))
spec("interpolate", F.interpolate, S.interpolate_inputs(), R.interpolate)


# A family of ops (graphs, detection, sequences, ...) registers its specs in its own file,
# tests/op_specs_<family>.py, which calls ``spec`` from this module; each is imported here.
def _import_families():
    import importlib
    import pathlib
    for path in sorted(pathlib.Path(__file__).parent.glob("op_specs_*.py")):
        importlib.import_module(path.stem)


_import_families()
