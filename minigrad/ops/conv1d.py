"""1-D convolution and pooling of (N, C, L) sequences, as their 2-D versions over a height of 1.

A sequence of length L is an image of height 1 and width L: ``x.unsqueeze(2)`` is (N, C, 1, L)
and a (K, C // G, KW) weight is a (K, C // G, 1, KW) one. Every function here checks its own
arguments (naming itself), lifts them to that image and calls the 2-D op, so the kernels, the
gradients and the second gradients are the 2-D ones. The geometry arguments take an int or a
tuple of one int, as PyTorch's 1-D functions do. A failure the 2-D op still finds (a kernel
wider than the padded input, channels that do not match) is re-raised under this function's
name, with a note that its shapes show the height of 1.

Notation
--------
N batch, C input channels, K output channels, G groups, L length, KW kernel width
S stride, P padding, D dilation, OP output padding (transposed convolution)
"""
from ..checks import single
from ..tensor import Tensor
from .conv import conv2d, conv_transpose2d
from .pool import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d


def _check_sequence(op, x, name="x"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(x).__name__}")
    if x.ndim != 3:
        raise ValueError(f"{op}: expected {name} of shape (N, C, L), got shape {x.shape}")


def _check_weight(op, weight, layout):
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: expected the weight to be a Tensor, got {type(weight).__name__}")
    if weight.ndim != 3:
        raise ValueError(f"{op}: expected a weight of shape {layout}, got shape {weight.shape}")


def _window(op, kernel_size, stride, padding):
    """A pool's (K, S, P), one int each; the stride defaults to the kernel size."""
    K = single(op, "kernel_size", kernel_size)
    return (K, K if stride is None else single(op, "stride", stride),
            single(op, "padding", padding))


def _as_1d(op, op2d, call):
    """``call()``, with an error of the 2-D op re-raised under ``op``'s name."""
    try:
        return call()
    except (ValueError, TypeError) as error:
        message = str(error)
        if not message.startswith(f"{op2d}:"):
            raise
        raise type(error)(f"{op}:{message[len(op2d) + 1:]} (computed as {op2d} over a height "
                          f"of 1, so shapes show H = 1)") from error


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (PyTorch's cross-correlation) of a batch of sequences.

    Parameters
    ----------
    x : Tensor, shape (N, C, L)
    weight : Tensor, shape (K, C // groups, KW)
    bias : Tensor, shape (K,), optional
    stride, dilation : int or (int,)
    padding : int, (int,), 'valid' or 'same'
        Zeros on both ends; 'same' (stride 1) keeps L, an odd leftover at the end.
    groups : int

    Returns
    -------
    Tensor, shape (N, K, OL), ``OL = (L + 2*P - D*(KW - 1) - 1) // S + 1``

    Examples
    --------
    >>> import minigrad as mg
    >>> conv1d(mg.tensor([[[1.0, 2.0, 3.0]]]), mg.tensor([[[1.0, -1.0]]])).tolist()
    [[[-1.0, -1.0]]]
    """
    op = "conv1d"
    _check_sequence(op, x)
    _check_weight(op, weight, "(C_out, C_in // groups, KW)")
    S, D = single(op, "stride", stride), single(op, "dilation", dilation)
    P = padding if isinstance(padding, str) else (0, single(op, "padding", padding))
    y = _as_1d(op, "conv2d", lambda: conv2d(x.unsqueeze(2), weight.unsqueeze(2), bias, (1, S),
                                            P, (1, D), groups))
    return y.squeeze(2)


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution: the adjoint of :func:`conv1d` in its input, plus a bias.

    Parameters
    ----------
    x : Tensor, shape (N, C, L)
    weight : Tensor, shape (C, K // groups, KW)
    bias : Tensor, shape (K,), optional
    stride, padding, output_padding, dilation : int or (int,)
    groups : int

    Returns
    -------
    Tensor, shape (N, K, OL), ``OL = (L - 1)*S - 2*P + D*(KW - 1) + 1 + OP``
    """
    op = "conv_transpose1d"
    _check_sequence(op, x)
    _check_weight(op, weight, "(C_in, C_out // groups, KW)")
    S, P = single(op, "stride", stride), single(op, "padding", padding)
    OP, D = single(op, "output_padding", output_padding), single(op, "dilation", dilation)
    y = _as_1d(op, "conv_transpose2d", lambda: conv_transpose2d(
        x.unsqueeze(2), weight.unsqueeze(2), bias, (1, S), (0, P), (0, OP), groups, (1, D)))
    return y.squeeze(2)


def max_pool1d(x, kernel_size, stride=None, padding=0, return_indices=False, *, dilation=1,
               ceil_mode=False):
    """Max over sliding windows of each sequence; padding counts as -inf. The argument order
    is :func:`max_pool2d`'s (``return_indices`` fourth, ``dilation`` and ``ceil_mode`` by
    keyword).

    Returns
    -------
    y : Tensor, shape (N, C, OL), ``OL = (L + 2*P - D*(K - 1) - 1) // S + 1`` (ceil with
        ``ceil_mode``)
    indices : Tensor of int64, shape (N, C, OL), only with ``return_indices``: positions in
        each input sequence; the first one wins a tie.

    >>> import minigrad as mg
    >>> max_pool1d(mg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[3.0, 2.0]]]
    """
    op = "max_pool1d"
    _check_sequence(op, x)
    K, S, P = _window(op, kernel_size, stride, padding)
    D = single(op, "dilation", dilation)
    out = _as_1d(op, "max_pool2d", lambda: max_pool2d(
        x.unsqueeze(2), (1, K), (1, S), (0, P), return_indices, dilation=(1, D),
        ceil_mode=ceil_mode))
    if return_indices:
        return (out[0].squeeze(2), out[1].squeeze(2))  # h*W + w is w where H = 1
    return out.squeeze(2)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over sliding windows of each sequence (options as :func:`avg_pool2d`).

    >>> import minigrad as mg
    >>> avg_pool1d(mg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[2.0, 1.0]]]
    """
    op = "avg_pool1d"
    _check_sequence(op, x)
    K, S, P = _window(op, kernel_size, stride, padding)
    y = _as_1d(op, "avg_pool2d", lambda: avg_pool2d(x.unsqueeze(2), (1, K), (1, S), (0, P),
                                                    ceil_mode, count_include_pad))
    return y.squeeze(2)


def adaptive_avg_pool1d(x, output_size):
    """Mean over windows that tile each sequence into ``output_size`` cells, whatever L is
    (cell o averages ``floor(o*L/OL)`` up to ``ceil((o+1)*L/OL) - 1``).

    >>> import minigrad as mg
    >>> adaptive_avg_pool1d(mg.tensor([[[1.0, 2.0, 3.0]]]), 2).tolist()
    [[[1.5, 2.5]]]
    """
    op = "adaptive_avg_pool1d"
    _check_sequence(op, x)
    OL = single(op, "output_size", output_size)
    y = _as_1d(op, "adaptive_avg_pool2d", lambda: adaptive_avg_pool2d(x.unsqueeze(2), (1, OL)))
    return y.squeeze(2)


def adaptive_max_pool1d(x, output_size, return_indices=False):
    """Maximum over the windows of :func:`adaptive_avg_pool1d`; the gradient goes to the first
    maximum of each window, whose position ``return_indices`` also returns.

    >>> import minigrad as mg
    >>> adaptive_max_pool1d(mg.tensor([[[1.0, 5.0, 3.0, 0.0]]]), 2).tolist()
    [[[5.0, 3.0]]]
    """
    op = "adaptive_max_pool1d"
    _check_sequence(op, x)
    OL = single(op, "output_size", output_size)
    out = _as_1d(op, "adaptive_max_pool2d", lambda: adaptive_max_pool2d(
        x.unsqueeze(2), (1, OL), return_indices))
    if return_indices:
        return (out[0].squeeze(2), out[1].squeeze(2))
    return out.squeeze(2)
