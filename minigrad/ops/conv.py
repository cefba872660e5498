"""2-D convolution and transposed convolution of NCHW images, backed by ``kernels/*/conv.py``.

A convolution is linear in its input and in its weight, so its gradients are convolutions
again. Three Functions close the family under differentiation (STYLE C3)::

    Conv2d(x, w, b).backward(g)           -> ConvTranspose2d(g, w) | Conv2dGradWeight(x, g) | Σ g
    ConvTranspose2d(x, w, b).backward(g)  -> Conv2d(g, w)          | Conv2dGradWeight(g, x) | Σ g
    Conv2dGradWeight(x, gy).backward(g)   -> ConvTranspose2d(gy, g) | Conv2d(x, g)

(Σ g sums over the batch and both image axes.) The backward passes call the Functions directly:
the user-facing checks in ``conv2d`` and ``conv_transpose2d`` hold by construction there.

Each forward is a matrix product around the im2col / col2im data movement, on raw arrays in
``kernels/im2col_gemm.py``; on the CPU a 3x3 or 5x5, stride-1 convolution with 16 or more
channels each side (and the stride-1 transposed one, its input gradient, and its weight
gradient) runs as Winograd's F(2x2, 3x3) or F(2x2, 5x5) there instead; a stride-2 4x4 one
(and its transpose) as F(2x2, 2x2) on each of its four phases; another strided one with 16 or
more channels takes its windows as rows (``kernels/cpu/conv_rows.py``). Bad input is refused
here, before any of it runs: dtypes other than float32 and float64, mixed dtypes, an empty
(H, W) plane (N and the channels may be 0).

Saved columns: ``Conv2d``'s forward builds ``cols = im2col(x)``, and its weight gradient
``Conv2dGradWeight(x, g)`` needs the same ``cols``. When the weight wants a gradient and the
columns fit in ``SAVED_COLUMNS_BYTES`` (a per-node budget), the forward keeps them for
backward (as a saved value, so the engine frees them with the node's other saved arrays once
backward has run without ``retain_graph``) and the backward skips one im2col. The columns
only rearrange x, so the second-order graph is the same: ``Conv2dGradWeight`` still saves x.
A 3x3 or 5x5 Winograd forward builds no columns (its list stays empty): its weight gradient
runs on Winograd's transforms too; a stride-2 4x4 one keeps its phase transform instead.
``ConvTranspose2d.backward`` shares the im2col of its incoming gradient the same way between
its two gradients.

Notation
--------
N           batch size
C, H, W     channels, height and width of the convolution's input
K           channels of the convolution's output (C_out)
G           groups;  Cg = C // G and Kg = K // G channels per group
KH, KW      kernel height and width
SH, SW      stride;  PH, PW  zero padding;  DH, DW  dilation
OPH, OPW    output padding of a transposed convolution: extra rows / columns at the bottom / right
OH, OW      output size of the convolution, ``OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1``;
            a transposed convolution maps OH back to
            ``H = (OH - 1)*SH - 2*PH + DH*(KH - 1) + 1 + OPH``
"""
import numbers

from ..autograd import Function, is_grad_enabled
from ..backend import kernels_for
from ..checks import pair
from ..kernels.geometry import check_float, check_planes
from ..kernels.im2col_gemm import conv_arrays, conv_transpose_arrays, grad_weight_arrays
from ..tensor import Tensor
from .shape import pad


# The most bytes of im2col columns one Conv2d node keeps from its forward for its weight
# gradient; a larger im2col is recomputed in backward. Measured at 1 thread (CPU time,
# interleaved runs): sharing the 4 MB im2col of conv_transpose2d's backward saved 8-10%, but
# keeping the 14-20 MB columns of the conv2d and LeNet benchmarks was 1-6% slower than
# recomputing them: kept columns go to fresh memory that has left the cache by backward,
# while a recomputation reads the 4-9x smaller input into a cache-hot chunk (the "same" path
# of im2col copies at memory speed). So only what fits in cache is kept.
SAVED_COLUMNS_BYTES = 8 * 2**20


def _output_padding(image_shape, column_shape, kernel, geometry):
    """The OPH, OPW that make a transposed convolution of ``column_shape`` give ``image_shape``."""
    SH, SW, PH, PW, DH, DW = geometry
    return tuple(L - ((O - 1) * S - 2 * P + D * (Kk - 1) + 1) for L, O, Kk, S, P, D in
                 ((image_shape[2], column_shape[2], kernel[0], SH, PH, DH),
                  (image_shape[3], column_shape[3], kernel[1], SW, PW, DW)))


def _crop(t, H, W):
    """``t[:, :, :H, :W]`` when ``t`` is larger: a convolution can see rows that an output
    padding beyond the stride added, which have no partner on the image side."""
    return t if t.shape[2:] == (H, W) else t[:, :, :H, :W]


class Conv2d(Function):
    """y[n, k, oh, ow] = b[k] + Σ_{c, kh, kw} w[k, c, kh, kw] · x[n, k//Kg·Cg + c, ih, iw] with
    ih = oh·SH − PH + kh·DH, iw = ow·SW − PW + kw·DW (zero outside the image);
    dL/dx = conv_transpose2d(g, w), dL/dw = Conv2dGradWeight(x, g), dL/db = Σ_{n, oh, ow} g."""

    @staticmethod
    def forward(ctx, x, weight, bias, *, geometry, groups, columns=None):
        """``columns``: None, or a list that receives im2col(x) (one array per batch chunk)
        when it fits in SAVED_COLUMNS_BYTES; the list is also saved for this node's backward."""
        SH, SW, PH, PW, DH, DW = geometry
        N, C, H, W = x.shape
        _, _, KH, KW = weight.shape
        OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
        OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
        if columns is not None and C * KH * KW * N * OH * OW * x.itemsize > SAVED_COLUMNS_BYTES:
            columns = None
        ctx.save_for_backward(x, weight, columns)
        ctx.geometry, ctx.groups = geometry, groups
        return conv_arrays(kernels_for(x), x, weight, geometry, groups, OH, OW, columns=columns,
                           bias=bias)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight, columns = ctx.saved_tensors
        geometry, G = ctx.geometry, ctx.groups
        grad_x = grad_weight = grad_bias = None
        # Both gradients transpose grad_output into product rows: the first one's serve the second.
        rows = [] if ctx.needs_input_grad[1] else None
        if ctx.needs_input_grad[0]:
            grad_x = ConvTranspose2d.apply(
                grad_output, weight, None, geometry=geometry, groups=G,
                output_padding=_output_padding(x.shape, grad_output.shape, weight.shape[2:],
                                               geometry), rows=rows)
        if ctx.needs_input_grad[1]:
            grad_weight = Conv2dGradWeight.apply(x, grad_output, kernel=weight.shape[2:],
                                                 geometry=geometry, groups=G, columns=columns,
                                                 grad_rows=rows)
        if ctx.needs_input_grad[2]:
            grad_bias = _sum_channels(grad_output)
        return (grad_x, grad_weight, grad_bias)


class ConvTranspose2d(Function):
    """conv2d's adjoint in x: y[n, c//Cg·Kg + k, ih, iw] += x[n, c, oh, ow] · w[c, k, kh, kw]
    over every tap, then + b;  dL/dx = conv2d(g, w), dL/dw = Conv2dGradWeight(g, x),
    dL/db = Σ_{n, ih, iw} g."""

    @staticmethod
    def forward(ctx, x, weight, bias, *, geometry, groups, output_padding, rows=None):
        """``rows``: None, or a list that receives x transposed into product rows (one array
        per batch chunk), for a Conv2dGradWeight of the same x (see Conv2d.backward)."""
        ctx.save_for_backward(x, weight)
        ctx.geometry, ctx.groups = geometry, groups
        SH, SW, PH, PW, DH, DW = geometry
        _, _, OH, OW = x.shape
        _, _, KH, KW = weight.shape
        H = (OH - 1) * SH - 2 * PH + DH * (KH - 1) + 1 + output_padding[0]
        W = (OW - 1) * SW - 2 * PW + DW * (KW - 1) + 1 + output_padding[1]
        return conv_transpose_arrays(kernels_for(x), x, weight, geometry, groups, H, W,
                                     rows=rows, bias=bias)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        geometry, G = ctx.geometry, ctx.groups
        grad_x = grad_weight = grad_bias = None
        # Both gradients start from im2col(grad_output): the first one's columns serve the second.
        columns = [] if ctx.needs_input_grad[1] else None
        if ctx.needs_input_grad[0]:
            grad_x = _crop(Conv2d.apply(grad_output, weight, None, geometry=geometry, groups=G,
                                        columns=columns), *x.shape[2:])
        if ctx.needs_input_grad[1]:
            grad_weight = Conv2dGradWeight.apply(grad_output, x, kernel=weight.shape[2:],
                                                 geometry=geometry, groups=G, columns=columns)
        if ctx.needs_input_grad[2]:
            grad_bias = _sum_channels(grad_output)
        return (grad_x, grad_weight, grad_bias)


class Conv2dGradWeight(Function):
    """dw[k, c, kh, kw] = Σ_{n, oh, ow} gy[n, k, oh, ow] · x[n, k//Kg·Cg + c, ih, iw], the weight
    gradient of conv2d, bilinear in (x, gy);
    dL/dx = conv_transpose2d(gy, g), dL/dgy = conv2d(x, g)."""

    @staticmethod
    def forward(ctx, x, grad_y, *, kernel, geometry, groups, columns=None, grad_rows=None):
        """``columns``: im2col(x) kept by a Conv2d forward (a list of chunks), or None/empty;
        ``grad_rows``: grad_y's product rows kept by a ConvTranspose2d forward, or None/empty."""
        ctx.save_for_backward(x, grad_y)
        ctx.geometry, ctx.groups = geometry, groups
        return grad_weight_arrays(kernels_for(x), x, grad_y, *kernel, geometry, groups,
                                  columns=columns, grad_rows=grad_rows)

    @staticmethod
    def backward(ctx, grad_output):
        x, grad_y = ctx.saved_tensors
        geometry, G = ctx.geometry, ctx.groups
        grad_x = grad_grad_y = None
        if ctx.needs_input_grad[0]:
            grad_x = ConvTranspose2d.apply(
                grad_y, grad_output, None, geometry=geometry, groups=G,
                output_padding=_output_padding(x.shape, grad_y.shape, grad_output.shape[2:],
                                               geometry))
        if ctx.needs_input_grad[1]:
            grad_grad_y = _crop(Conv2d.apply(x, grad_output, None, geometry=geometry, groups=G),
                                *grad_y.shape[2:])
        return (grad_x, grad_grad_y)


def _sum_channels(g):
    """The bias gradient, g summed over the batch and both image axes. Summing the batch first
    reads g in memory order (3x faster than NumPy's sum over axes (0, 2, 3) at once)."""
    return g.sum(axis=0).sum(axis=(1, 2))


def _check_operands(op, x, weight, bias, groups, transposed):
    """Validate types, dtypes, shapes, channels and groups; return the output channel count K.

    N and the channel counts may be 0 (the result is then empty, as in PyTorch); the image
    plane and the kernel may not.
    """
    for name, t in (("x", x), ("weight", weight), ("bias", bias)):
        if t is None and name == "bias":
            continue
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        check_float(op, name, t.dtype)  # float16, ints and bools have no kernels
        if t.dtype != x.dtype:  # PyTorch's rule too: no silent promotion
            raise TypeError(f"{op}: {name} has dtype {t.dtype} but x has dtype {x.dtype}")
    check_planes(op, x.shape, "x")
    layout = "(C_in, C_out // groups, KH, KW)" if transposed else "(C_out, C_in // groups, KH, KW)"
    if weight.ndim != 4 or min(weight.shape[2:]) < 1:
        raise ValueError(f"{op}: expected a weight of shape {layout} with KH, KW >= 1, got "
                         f"shape {weight.shape}")
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    C = x.shape[1]
    if transposed:
        K, expected = weight.shape[1] * groups, weight.shape[0]
        rule = "expects weight.shape[0]"
    else:
        K, expected = weight.shape[0], weight.shape[1] * groups
        rule = f"with groups={groups} expects weight.shape[1] * groups"
    if C != expected:
        raise ValueError(f"{op}: x of shape {x.shape} has {C} channels, but weight of shape "
                         f"{weight.shape} = {layout} {rule} = {expected} input channels")
    if C % groups or K % groups:
        raise ValueError(f"{op}: groups={groups} must divide both the input channels {C} and "
                         f"the output channels {K} (x {x.shape}, weight {weight.shape})")
    if bias is not None and bias.shape != (K,):
        raise ValueError(f"{op}: expected a bias of shape ({K},) for {K} output channels, got "
                         f"shape {bias.shape}")
    return K


def _geometry(op, stride, padding, dilation):
    """Validated ``(SH, SW, PH, PW, DH, DW)``."""
    (SH, SW), (PH, PW), (DH, DW) = (pair(op, "stride", stride), pair(op, "padding", padding),
                                    pair(op, "dilation", dilation))
    for name, values, low in (("stride", (SH, SW), 1), ("padding", (PH, PW), 0),
                            ("dilation", (DH, DW), 1)):
        if min(values) < low:
            raise ValueError(f"{op}: {name} must be >= {low}, got {values}")
    return (SH, SW, PH, PW, DH, DW)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (PyTorch's cross-correlation) of a batch of images.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    weight : Tensor, shape (K, C // groups, KH, KW)
    bias : Tensor, shape (K,), optional
    stride : int or (int, int)
    padding : int, (int, int), 'valid' or 'same'
        Zeros added on every side. 'same' (stride 1 only) keeps H and W, putting an odd
        leftover row or column at the bottom or right, as PyTorch does.
    dilation : int or (int, int)
        Spacing between kernel taps.
    groups : int
        Splits the channels into ``groups`` independent convolutions.

    Returns
    -------
    Tensor, shape (N, K, OH, OW)
        ``OH = (H + 2*PH - DH*(KH - 1) - 1) // SH + 1``, and OW alike.

    Examples
    --------
    >>> import minigrad as mg
    >>> conv2d(mg.ones(1, 1, 3, 3), mg.ones(1, 1, 2, 2)).tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    op = "conv2d"
    _check_operands(op, x, weight, bias, groups, transposed=False)
    if isinstance(padding, str):
        x, padding = _string_padding(op, x, weight, padding, stride, dilation)
    SH, SW, PH, PW, DH, DW = geometry = _geometry(op, stride, padding, dilation)
    KH, KW = weight.shape[2:]
    span = (DH * (KH - 1) + 1, DW * (KW - 1) + 1)
    padded = (x.shape[2] + 2 * PH, x.shape[3] + 2 * PW)
    if span[0] > padded[0] or span[1] > padded[1]:
        raise ValueError(f"{op}: the kernel spans {span} (weight {weight.shape}, dilation "
                         f"{(DH, DW)}), more than the padded input {padded} of x {x.shape} with "
                         f"padding {(PH, PW)}")
    keep = is_grad_enabled() and weight.requires_grad  # will the weight gradient need im2col(x)?
    return Conv2d.apply(x, weight, bias, geometry=geometry, groups=int(groups),
                        columns=[] if keep else None)


def _string_padding(op, x, weight, padding, stride, dilation):
    """Resolve 'valid' / 'same' to symmetric padding, padding x at the end for an odd leftover."""
    if padding == "valid":
        return x, 0
    if padding != "same":
        raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', "
                         f"got {padding!r}")
    if pair(op, "stride", stride) != (1, 1):
        raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride!r}")
    DH, DW = pair(op, "dilation", dilation)
    totals = (DH * (weight.shape[2] - 1), DW * (weight.shape[3] - 1))
    if totals[0] % 2 or totals[1] % 2:
        x = pad(x, ((0, 0), (0, 0), (0, totals[0] % 2), (0, totals[1] % 2)))
    return x, (totals[0] // 2, totals[1] // 2)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution: the adjoint of :func:`conv2d` in its input, plus a bias.

    Each input pixel scatters ``weight``-weighted copies onto a window of the output; it is
    the gradient of a convolution and the usual learned upsampling.

    Parameters
    ----------
    x : Tensor, shape (N, C, H, W)
    weight : Tensor, shape (C, K // groups, KH, KW)
    bias : Tensor, shape (K,), optional
    stride, padding, dilation : int or (int, int)
        Those of the convolution this one transposes.
    output_padding : int or (int, int)
        Extra rows / columns at the bottom / right, to pick one of the output sizes that a
        strided convolution maps to the same H; must be smaller than the stride or the dilation.
    groups : int

    Returns
    -------
    Tensor, shape (N, K, OH, OW)
        ``OH = (H - 1)*SH - 2*PH + DH*(KH - 1) + 1 + OPH``, and OW alike.

    Examples
    --------
    >>> import minigrad as mg
    >>> conv_transpose2d(mg.ones(1, 1, 2, 2), mg.ones(1, 1, 2, 2)).tolist()
    [[[[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]]]
    """
    op = "conv_transpose2d"
    _check_operands(op, x, weight, bias, groups, transposed=True)
    SH, SW, PH, PW, DH, DW = geometry = _geometry(op, stride, padding, dilation)
    OPH, OPW = pair(op, "output_padding", output_padding)
    for OP, S, D in ((OPH, SH, DH), (OPW, SW, DW)):
        if OP < 0 or (OP >= S and OP >= D):
            raise ValueError(f"{op}: output_padding {(OPH, OPW)} must be >= 0 and smaller than "
                             f"either the stride {(SH, SW)} or the dilation {(DH, DW)}")
    KH, KW = weight.shape[2:]
    H, W = x.shape[2:]
    OH = (H - 1) * SH - 2 * PH + DH * (KH - 1) + 1 + OPH
    OW = (W - 1) * SW - 2 * PW + DW * (KW - 1) + 1 + OPW
    if OH < 1 or OW < 1:
        raise ValueError(f"{op}: x of shape {x.shape} with weight {weight.shape}, stride "
                         f"{(SH, SW)}, padding {(PH, PW)}, dilation {(DH, DW)} and output_padding "
                         f"{(OPH, OPW)} gives an empty output of size {(OH, OW)}: the padding is "
                         f"too large")
    return ConvTranspose2d.apply(x, weight, bias, geometry=geometry, groups=int(groups),
                                 output_padding=(OPH, OPW))
