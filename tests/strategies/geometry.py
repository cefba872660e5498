"""Convolution and pooling set-ups over NCHW images, and the images to go with them.

A geometry is a dict of ints named as in the kernels' docstrings, drawn so that it is legal
(padding at most half the kernel, output at least one cell) yet awkward: odd sizes, strides
larger or smaller than the window, dilation, groups.

Notation
--------
N, C, K     batch, input channels, output channels (K only for convolutions);  G groups
H, W        input plane;  OH, OW  output plane
KH, KW      window or kernel size;  SH, SW  stride;  PH, PW  padding;  DH, DW  dilation
OPH, OPW    output padding of a transposed convolution
"""
import numpy as np
from hypothesis import strategies as st

import references as R
from .values import values


def _windows_touch_input(geometry):
    """Whether every pooling window has a tap inside the input (not only padding)."""
    g = geometry
    for L, K, S, P, D in ((g["H"], g["KH"], g["SH"], g["PH"], g["DH"]),
                          (g["W"], g["KW"], g["SW"], g["PW"], g["DW"])):
        for o in range(R.pooled_length(L, K, S, P, D, g["ceil_mode"])):
            if not any(0 <= o * S - P + k * D < L for k in range(K)):
                return False
    return True


@st.composite
def _pool_geometries(draw, dilation, ceil_mode, max_size):
    geometry = {"N": draw(st.integers(1, 2)), "C": draw(st.integers(1, 3)),
                "ceil_mode": draw(st.booleans()) if ceil_mode else False}
    for L, K, S, P, D in (("H", "KH", "SH", "PH", "DH"), ("W", "KW", "SW", "PW", "DW")):
        geometry[K] = kernel = draw(st.integers(1, 4))
        geometry[S] = draw(st.integers(1, 3))
        geometry[P] = draw(st.integers(0, kernel // 2))  # PyTorch's limit: half the kernel
        geometry[D] = draw(st.integers(1, 2)) if dilation else 1
        # the padded input must hold one (dilated) window
        low = max(1, geometry[D] * (kernel - 1) + 1 - 2 * geometry[P])
        geometry[L] = draw(st.integers(low, max(low, max_size)))
    return geometry


def pool_geometry(dilation=False, ceil_mode=False, max_size=7):
    """A pooling set-up over an NCHW image: sizes, window, stride, padding, dilation.

    Windows overlap (stride < kernel) or leave gaps (stride > kernel), sizes are often odd, and
    padding is at most half the kernel. Every draw pools to at least one cell per axis, and every
    window has a tap inside the input (with dilation they could otherwise all land in padding).

    Parameters
    ----------
    dilation : bool
        Draw dilations in {1, 2}; otherwise they are 1.
    ceil_mode : bool
        Draw ``ceil_mode``; otherwise it is False.
    max_size : int
        Largest H and W beyond what one window needs.

    Returns
    -------
    A strategy of dicts with int keys N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW and the bool
    ``ceil_mode``.
    """
    return _pool_geometries(dilation, ceil_mode, max_size).filter(_windows_touch_input)


@st.composite
def conv_geometry(draw, transposed=False, max_size=5):
    """A convolution set-up over an NCHW image: batch, channels, groups, sizes, kernel, stride,
    padding, dilation and, for a transposed convolution, output padding.

    Sizes are often odd, strides can exceed the kernel (gaps) or not (overlaps), and groups split
    the channels. Every draw gives an output of at least one pixel per axis.

    Parameters
    ----------
    transposed : bool
        Draw for ``conv_transpose2d``: output padding in ``[0, max(stride, dilation))``
        (PyTorch's rule) and sizes that the transposed convolution turns into OH, OW >= 1.
    max_size : int
        Largest H and W beyond what one (dilated) kernel needs.

    Returns
    -------
    A strategy of dicts with int keys N, C, K, G (the op's input and output channels and the
    groups), H, W (the op's input size), OH, OW (its output size), KH, KW, SH, SW, PH, PW, DH,
    DW, OPH, OPW (0 unless ``transposed``).
    """
    G = draw(st.integers(1, 2))
    g = {"N": draw(st.integers(1, 2)), "G": G,
         "C": G * draw(st.integers(1, 2)), "K": G * draw(st.integers(1, 2))}
    for L, O, K, S, P, D, OP in (("H", "OH", "KH", "SH", "PH", "DH", "OPH"),
                                 ("W", "OW", "KW", "SW", "PW", "DW", "OPW")):
        g[K], g[S], g[D] = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
        span = g[D] * (g[K] - 1) + 1
        if transposed:
            g[L] = draw(st.integers(1, 3))
            g[OP] = draw(st.integers(0, max(g[S], g[D]) - 1))
            # keep at least one output pixel: 2*P may not eat the whole transposed extent
            g[P] = draw(st.integers(0, min(2, ((g[L] - 1) * g[S] + span - 1 + g[OP]) // 2)))
            g[O] = (g[L] - 1) * g[S] - 2 * g[P] + span + g[OP]
        else:
            g[P], g[OP] = draw(st.integers(0, 2)), 0
            low = max(1, span - 2 * g[P])  # the padded input must hold one kernel
            g[L] = draw(st.integers(low, low + max_size - 1))
            g[O] = (g[L] + 2 * g[P] - span) // g[S] + 1
    return g


def conv_keywords(g, transposed):
    """The keyword arguments of conv2d (or conv_transpose2d) for a conv_geometry draw."""
    kw = dict(stride=(g["SH"], g["SW"]), padding=(g["PH"], g["PW"]),
              dilation=(g["DH"], g["DW"]), groups=g["G"])
    if transposed:
        kw["output_padding"] = (g["OPH"], g["OPW"])
    return kw


def pool_keywords(g):
    """kernel_size, stride and padding of a pool_geometry draw, as keyword arguments."""
    return dict(kernel_size=(g["KH"], g["KW"]), stride=(g["SH"], g["SW"]),
                padding=(g["PH"], g["PW"]))


def pool_images(geometry, distinct=False, salt=0):
    """Images of the geometry's shape (N, C, H, W); ``distinct`` values (0.01 apart, far more
    than a finite-difference step) give every pooling window a unique maximum."""
    g = geometry
    return values((g["N"], g["C"], g["H"], g["W"]), distinct=distinct, margin=0.01, salt=salt)


@st.composite
def conv_problems(draw, transposed=False, max_size=5):
    """(geometry, x, weight, bias or None) as float64 arrays, the geometry from conv_geometry."""
    g = draw(conv_geometry(transposed=transposed, max_size=max_size))
    if transposed:
        w_shape = (g["C"], g["K"] // g["G"], g["KH"], g["KW"])
    else:
        w_shape = (g["K"], g["C"] // g["G"], g["KH"], g["KW"])
    x = draw(values((g["N"], g["C"], g["H"], g["W"])))
    w = draw(values(w_shape, salt=1))
    b = draw(values((g["K"],), salt=2)) if draw(st.booleans()) else None
    return g, x, w, b


@st.composite
def im2col_cases(draw):
    """(geometry, x) for the im2col/col2im kernels: a conv geometry, sometimes with more window
    positions than the image gives (the kernels take OH, OW explicitly and must read zeros past
    the padded input), and x in float32 or float64."""
    g = draw(conv_geometry())
    g["OH"] += draw(st.integers(0, 2))
    g["OW"] += draw(st.integers(0, 1))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return g, draw(values((g["N"], g["C"], g["H"], g["W"]))).astype(dtype)
