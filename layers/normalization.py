"""Normalisation layers: BatchNorm1d, BatchNorm2d, InstanceNorm2d, LayerNorm, GroupNorm.

Each subtracts a mean and divides by a standard deviation taken over some axes, then applies a
learned per-channel (or per-element) scale ``weight`` and shift ``bias``:

    y = (x − mean) / √(var + eps) · weight + bias          var: the biased (1/n) variance

They differ in the axes. BatchNorm averages over the batch and the spatial axes, so in
training it uses the batch's statistics and keeps exponential running averages for evaluation;
InstanceNorm averages over the spatial axes of each sample; GroupNorm over groups of channels and
the spatial axes of each sample; LayerNorm over the trailing ``normalized_shape`` axes.

Notation
--------
N, C      batch size and channels;  L  sequence length;  H, W  height and width
G         number of groups (GroupNorm)
m         momentum: running = (1 − m)·running + m·batch statistic
"""
import numpy as np

import minigrad as mg
import minigrad.functional as F
from minigrad import Tensor
from . import init
from .linear import new_parameter
from minigrad.checks import check_int
from .module import Module


def _add_scale_and_shift(module, shape, affine, bias, device, dtype):
    """Register ``weight`` (ones) and ``bias`` (zeros) of ``shape``, or None for either that
    the layer goes without, so ``module.weight is None`` tells which."""
    if affine:
        module.weight = new_parameter(shape, device, dtype)
        if bias:
            module.bias = new_parameter(shape, device, dtype)
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_scale_and_shift(module):
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


def _normalized_shape(layer, value):
    """An int or a sequence of ints as a tuple of positive ints, for LayerNorm and RMSNorm."""
    shape = (value,) if not isinstance(value, (tuple, list)) else tuple(value)
    return tuple(check_int(layer, "normalized_shape", n, 1) for n in shape)


def _check_trailing(layer, x):
    """A ValueError naming the layer unless x is a Tensor ending with its normalized_shape."""
    k = len(layer.normalized_shape)
    if not isinstance(x, Tensor) or x.ndim < k or x.shape[x.ndim - k:] != layer.normalized_shape:
        shape = x.shape if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{type(layer).__name__}: expected an input whose trailing axes are "
                         f"normalized_shape {layer.normalized_shape}, got {shape}")


def _check_momentum(layer, momentum):
    if momentum is not None and not 0 <= momentum <= 1:
        raise ValueError(f"{layer}: momentum must be in [0, 1] or None, got {momentum}")


class _NormBase(Module):
    """Parameters and running-statistics buffers shared by BatchNorm and InstanceNorm."""

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, device,
                 dtype, bias):
        super().__init__()
        layer = type(self).__name__
        self.num_features = check_int(layer, "num_features", num_features, 1)
        if not eps > 0:
            raise ValueError(f"{layer}: eps must be > 0, got {eps}")
        _check_momentum(layer, momentum)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        C = self.num_features
        _add_scale_and_shift(self, (C,), self.affine, bias, device, dtype)
        if self.track_running_stats:
            float_type = np.float32 if dtype is None else dtype
            self.register_buffer("running_mean", mg.zeros(C, dtype=float_type, device=device))
            self.register_buffer("running_var", mg.ones(C, dtype=float_type, device=device))
            self.register_buffer("num_batches_tracked",
                                 mg.tensor(0, dtype=np.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        """Reset the running statistics, weight 1 and bias 0 (PyTorch's initialisation)."""
        self.reset_running_stats()
        _reset_scale_and_shift(self)

    def _check_channels(self, x):
        if not isinstance(x, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor input, got "
                            f"{type(x).__name__}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels "
                             f"(num_features) on axis 1, got an input of shape {x.shape}")

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Batch normalisation (Ioffe & Szegedy, 2015); subclasses fix the input rank."""

    _ranks = ()
    _layout = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, *, device=None, dtype=None, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias)

    def forward(self, x):
        if not isinstance(x, Tensor) or x.ndim not in self._ranks:
            shape = x.shape if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__}: expected an input of shape {self._layout}, "
                             f"got {shape}")
        self._check_channels(x)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:
                # momentum None: the running stats are the plain average of all batches so far
                momentum = 1.0 / int(self.num_batches_tracked.item())
        # Batch statistics in training, and also in eval when nothing was tracked.
        use_batch_stats = self.training or self.running_mean is None
        # In training without tracking, nothing is updated: pass no running stats at all.
        track = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if track else None,
                            self.running_var if track else None, self.weight, self.bias,
                            use_batch_stats, momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of features (N, C) or sequences (N, C, L), per channel.

    Parameters
    ----------
    num_features : int
        C.
    eps : float
        Added to the variance before the square root.
    momentum : float or None
        The running-average factor m; None averages all batches equally.
    affine : bool
        Learn ``weight`` (init 1) and ``bias`` (init 0).
    track_running_stats : bool
        Keep ``running_mean``, ``running_var`` (updated with the unbiased batch variance) and
        ``num_batches_tracked``, and use them in eval mode. Without them, eval mode normalises
        with the batch's own statistics.
    device, dtype : optional
    bias : bool, keyword-only
        With ``affine``, whether to learn the bias (PyTorch's newer keyword).

    Attributes
    ----------
    weight, bias : Parameter, shape (C,), or None
    running_mean, running_var : Tensor, shape (C,), buffers (or None)
    num_batches_tracked : Tensor of int64, shape (), buffer (or None)

    Shape
    -----
    x : Tensor, shape (N, C) or (N, C, L)
    returns : Tensor, the same shape
    """

    _ranks = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of images, per channel over (N, H, W).

    Parameters
    ----------
    num_features : int
        C.
    eps, momentum, affine, track_running_stats, device, dtype, bias
        As in :class:`BatchNorm1d`.

    Attributes
    ----------
    weight, bias : Parameter, shape (C,), or None
    running_mean, running_var : Tensor, shape (C,), buffers (or None)
    num_batches_tracked : Tensor of int64, shape (), buffer (or None)

    Shape
    -----
    x : Tensor, shape (N, C, H, W)
    returns : Tensor, shape (N, C, H, W)

    Examples
    --------
    >>> import minigrad as mg
    >>> bn = BatchNorm2d(3)
    >>> y = bn(mg.randn(4, 3, 5, 5) * 2 + 1)
    >>> bool(abs(y.numpy().mean()) < 1e-5), bn.num_batches_tracked.item()
    (True, 1)
    """

    _ranks = (4,)
    _layout = "(N, C, H, W)"


class _InstanceNorm(_NormBase):
    """Instance normalisation (Ulyanov et al., 2016): each (sample, channel) plane normalised
    over its own spatial entries; subclasses fix the number of spatial axes.

    Parameters
    ----------
    num_features : int
        C.
    eps : float
    momentum : float
        Running-average factor, used only with ``track_running_stats``.
    affine : bool
        Learn a per-channel ``weight`` (init 1) and ``bias`` (init 0). Off by default.
    track_running_stats : bool
        Keep running averages of the per-instance mean and unbiased variance (averaged over the
        batch) and use them in eval mode. Off by default: every mode uses each instance's own
        statistics.
    device, dtype : optional
    bias : bool, keyword-only
        With ``affine``, whether to learn the bias.
    """

    _spatial = 0  # the number of spatial axes after (N, C)
    _layout = ""  # the batched layout, for errors

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, *, device=None, dtype=None, bias=True):
        if track_running_stats and momentum is None:
            raise ValueError(f"{type(self).__name__}: momentum=None is not supported with "
                             "track_running_stats=True; give a number in [0, 1]")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias)

    def forward(self, x):
        name = type(self).__name__
        batched = 2 + self._spatial
        if not isinstance(x, Tensor) or x.ndim not in (batched - 1, batched):
            shape = x.shape if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"{name}: expected an input of shape {self._layout} or "
                             f"({self._layout[4:]}, got {shape}")
        unbatched = x.ndim == batched - 1
        if unbatched:
            x = x.unsqueeze(0)
        # Without weights or running stats the channel count does not matter, as in PyTorch.
        if self.affine or self.track_running_stats:
            self._check_channels(x)
        use_input_stats = self.training or not self.track_running_stats
        if self.training and int(np.prod(x.shape[2:])) <= 1:
            raise ValueError(f"{name}: expected more than 1 spatial element per plane "
                             f"in training, got an input of shape {x.shape}")
        # in training, F.instance_norm also updates the running statistics it is given
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            use_input_stats, self.momentum, self.eps)
        return y[0] if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    """Normalise each (sample, channel) sequence over its L steps; the options are those of
    :class:`_InstanceNorm`.

    Shape
    -----
    x : Tensor, shape (N, C, L) or (C, L)
    returns : Tensor, the same shape
    """

    _spatial = 1
    _layout = "(N, C, L)"


class InstanceNorm2d(_InstanceNorm):
    """Normalise each (sample, channel) plane over its H x W pixels; the options are those of
    :class:`_InstanceNorm`.

    Shape
    -----
    x : Tensor, shape (N, C, H, W) or (C, H, W)
    returns : Tensor, the same shape
    """

    _spatial = 2
    _layout = "(N, C, H, W)"


class _TrailingNorm(Module):
    """What LayerNorm and RMSNorm share: the trailing ``normalized_shape`` they normalise over
    and the elementwise ``weight`` (and LayerNorm's ``bias``) of that shape."""

    def __init__(self, normalized_shape, elementwise_affine, bias, device, dtype):
        super().__init__()
        self.normalized_shape = _normalized_shape(type(self).__name__, normalized_shape)
        self.elementwise_affine = bool(elementwise_affine)
        _add_scale_and_shift(self, self.normalized_shape, self.elementwise_affine, bias, device,
                             dtype)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_scale_and_shift(self)


class LayerNorm(_TrailingNorm):
    """Normalise over the trailing ``normalized_shape`` axes of each sample (Ba et al., 2016).

    Parameters
    ----------
    normalized_shape : int or tuple of int
        The trailing shape S to normalise over, e.g. the feature size E.
    eps : float
    elementwise_affine : bool
        Learn ``weight`` (init 1) and ``bias`` (init 0), both of shape S.
    bias : bool
        With ``elementwise_affine``, whether to learn the bias.
    device, dtype : optional

    Shape
    -----
    x : Tensor, shape (*, *S)
    returns : Tensor, the same shape
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *,
                 device=None, dtype=None):
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps}")
        super().__init__(normalized_shape, elementwise_affine, bias, device, dtype)
        self.eps = float(eps)

    def forward(self, x):
        _check_trailing(self, x)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class RMSNorm(_TrailingNorm):
    """Divide by the root mean square over the trailing ``normalized_shape`` axes, then scale
    (Zhang & Sennrich, 2019): LayerNorm without the centring and the shift.

    Parameters
    ----------
    normalized_shape : int or tuple of int
    eps : float, optional
        None (the default) takes the machine epsilon of the input's dtype, as PyTorch does.
    elementwise_affine : bool
        Learn ``weight`` (init 1) of shape normalized_shape.
    device, dtype : optional

    Shape
    -----
    x : Tensor, shape (*, *normalized_shape)
    returns : Tensor, the same shape

    Examples
    --------
    >>> import minigrad as mg
    >>> [round(v, 4) for v in RMSNorm(2, eps=0.0)(mg.tensor([[3.0, 4.0]])).tolist()[0]]
    [0.8485, 1.1314]
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, *, device=None,
                 dtype=None):
        if eps is not None and not eps >= 0:
            raise ValueError(f"RMSNorm: eps must be >= 0 or None, got {eps}")
        super().__init__(normalized_shape, elementwise_affine, False, device, dtype)
        self.eps = None if eps is None else float(eps)

    def forward(self, x):
        _check_trailing(self, x)
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class LocalResponseNorm(Module):
    """Divide each channel by the activity of its ``size`` neighbouring channels (AlexNet):
    ``x_c / (k + alpha / size · Σ x_c'²) ** beta``; see ``F.local_response_norm``.

    Parameters
    ----------
    size : int
    alpha, beta, k : float

    Shape
    -----
    x : Tensor, shape (N, C, ...), at least 3-D
    returns : Tensor, the same shape
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = check_int("LocalResponseNorm", "size", size, 1)
        self.alpha, self.beta, self.k = float(alpha), float(beta), float(k)

    def forward(self, x):
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class GroupNorm(Module):
    """Normalise each group of C/G channels of each sample over its channels and pixels
    (Wu & He, 2018); independent of the batch size.

    Parameters
    ----------
    num_groups : int
        G; must divide ``num_channels``.
    num_channels : int
        C.
    eps : float
    affine : bool
        Learn a per-channel ``weight`` (init 1) and ``bias`` (init 0).
    device, dtype : optional
    bias : bool, keyword-only
        With ``affine``, whether to learn the bias.

    Shape
    -----
    x : Tensor, shape (N, C, *)
    returns : Tensor, the same shape
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, *, device=None,
                 dtype=None, bias=True):
        super().__init__()
        self.num_groups = check_int("GroupNorm", "num_groups", num_groups, 1)
        self.num_channels = check_int("GroupNorm", "num_channels", num_channels, 1)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({self.num_channels}) must be divisible "
                             f"by num_groups ({self.num_groups})")
        if not eps > 0:
            raise ValueError(f"GroupNorm: eps must be > 0, got {eps}")
        self.eps = float(eps)
        self.affine = bool(affine)
        _add_scale_and_shift(self, (self.num_channels,), self.affine, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_scale_and_shift(self)

    def forward(self, x):
        if not isinstance(x, Tensor) or x.ndim < 2 or x.shape[1] != self.num_channels:
            shape = x.shape if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"GroupNorm: expected an input of shape (N, {self.num_channels}, "
                             f"*), got {shape}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
