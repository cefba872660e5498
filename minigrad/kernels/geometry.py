"""What the CPU and GPU kernel twins share: output sizes, window arithmetic and input checks.

Plain Python, no Numba, so that checking a shape never imports a compiler. Two kinds of
function live here:

- checks, which take shapes and sizes (never arrays) and either return the output shape or
  raise a ValueError or TypeError that names the op, the shapes and what was expected. The ops
  call them before any kernel runs, and every public kernel function calls them again on what
  reaches it (O(1) work), so that no compiled loop ever sees a size it would index out of
  bounds with;
- window helpers (``avg_window``, ``adaptive_window``), written once here and compiled by each
  kernel module: ``numba.njit`` on the CPU, ``cuda.jit(device=True)`` on the GPU.

Notation
--------
N, C        batch size and channels; either may be 0 (the result is then empty)
H, W        height and width of an input plane (of the output plane, for scatters); at least 1
OH, OW      height and width of the output plane (pooled, upsampled or gathered); at least 1
KH, KW      window size;  SH, SW  stride;  PH, PW  zero padding;  DH, DW  dilation
L, O        one axis of H, W and of OH, OW;  K, S, P, D  one axis of the window
o           an output position along one axis
"""
import numpy as np

# The dtypes the kernels are compiled for; anything else is refused before a kernel runs.
FLOAT_DTYPES = (np.float32, np.float64)


def check_float(op, name, dtype):
    """A TypeError unless ``dtype`` is float32 or float64 (float16, ints and bools are refused)."""
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{op}: {name} must be floating point (float32 or float64), got "
                        f"dtype {dtype}")


def check_planes(op, shape, name="x"):
    """A ValueError unless ``shape`` is (N, C, H, W) with H, W >= 1 (N and C may be 0)."""
    if len(shape) != 4:
        raise ValueError(f"{op}: expected {name} of shape (N, C, H, W), got shape {tuple(shape)}")
    if shape[2] < 1 or shape[3] < 1:
        raise ValueError(f"{op}: {name} of shape {tuple(shape)} has an empty (H, W) plane; only "
                         "the batch N and the channels C may be 0")


def pooled_size(L, K, S, P, D, ceil_mode):
    """Output length of a pooling along one axis, PyTorch's formula.

    ``O = floor((L + 2*P - D*(K - 1) - 1) / S) + 1`` (ceil instead of floor with ``ceil_mode``).
    In ceil mode the last window must still start inside the input or its left padding.
    """
    span = L + 2 * P - D * (K - 1) - 1
    O = (span + (S - 1 if ceil_mode else 0)) // S + 1
    if ceil_mode and (O - 1) * S >= L + P:
        O -= 1
    return O


def pool_shape(op, shape, KH, KW, SH, SW, PH, PW, DH, DW, ceil_mode):
    """The output shape (N, C, OH, OW) of a max or average pooling of an input of ``shape``.

    Raises a ValueError for a window that is not at least 1, padding over half the window
    (PyTorch's rule), a window longer than the padded input, or, with dilation, an output cell
    whose taps all land in the padding: such a window has no maximum.
    """
    check_planes(op, shape)
    for name, values, low in (("kernel_size", (KH, KW), 1), ("stride", (SH, SW), 1),
                              ("padding", (PH, PW), 0), ("dilation", (DH, DW), 1)):
        if min(values) < low:
            raise ValueError(f"{op}: {name} must be >= {low}, got {values}")
    if PH > KH // 2 or PW > KW // 2:
        raise ValueError(f"{op}: padding {(PH, PW)} must be at most half of kernel_size "
                         f"{(KH, KW)}")
    N, C, H, W = shape
    span = (DH * (KH - 1) + 1, DW * (KW - 1) + 1)
    if span[0] > H + 2 * PH or span[1] > W + 2 * PW:
        raise ValueError(f"{op}: the window spans {span} (kernel_size {(KH, KW)}, dilation "
                         f"{(DH, DW)}), more than the padded input {(H + 2 * PH, W + 2 * PW)} "
                         f"of an input of shape {tuple(shape)}")
    sizes = []
    for axis, L, K, S, P, D in (("height", H, KH, SH, PH, DH), ("width", W, KW, SW, PW, DW)):
        O = pooled_size(L, K, S, P, D, ceil_mode)
        if D > 1:  # without dilation, P <= K // 2 already puts a tap of every window inside
            for o in range(O):
                if not any(0 <= o * S - P + k * D < L for k in range(K)):
                    raise ValueError(f"{op}: along the {axis}, window {o} (of input size {L}, "
                                     f"kernel {K}, stride {S}, padding {P}, dilation {D}) "
                                     "touches only padding")
        sizes.append(O)
    return (N, C, sizes[0], sizes[1])


# The longest output side accepted: the index tables of a longer one would not fit in memory
# anyway, and saying so beats a MemoryError from NumPy.
MAX_SIDE = 2**31 - 1


def check_output_plane(op, OH, OW, shape):
    """A ValueError unless the output plane OH x OW of an input of ``shape`` is at least 1x1
    (and each side at most MAX_SIDE)."""
    if OH < 1 or OW < 1:
        raise ValueError(f"{op}: the output plane {(OH, OW)} of an input of shape "
                         f"{tuple(shape)} must be at least 1x1")
    if max(OH, OW) > MAX_SIDE:
        raise ValueError(f"{op}: the output plane {(OH, OW)} of an input of shape "
                         f"{tuple(shape)} is too large (at most {MAX_SIDE} per side)")


def check_scatter(op, g_shape, indices_shape, indices_dtype, H, W):
    """A clear error unless int64 ``indices`` of g's shape can scatter g into (H, W) planes.

    The index values are bounds-checked by the kernels as they go (see ``kernels/*/pool.py``),
    at no extra pass over them.
    """
    _check_index_dtype(op, indices_dtype)
    if tuple(indices_shape) != tuple(g_shape) or len(g_shape) != 4:
        raise ValueError(f"{op}: indices of shape {tuple(indices_shape)} must have the shape "
                         f"(N, C, h, w) of the values, {tuple(g_shape)}")
    if (H < 1 or W < 1) and int(np.prod(g_shape)) > 0:
        raise ValueError(f"{op}: cannot scatter values of shape {tuple(g_shape)} into an empty "
                         f"plane {(H, W)}")


def check_indices_copy(op, copy, shape, xp):
    """``copy`` must be a C-contiguous int64 array of ``xp`` (NumPy or CuPy) of the indices'
    shape, to receive a copy of them."""
    if (type(copy) is not xp.ndarray or copy.dtype != np.int64
            or tuple(copy.shape) != tuple(shape) or not copy.flags.c_contiguous):
        raise ValueError(f"{op}: indices_copy must be a C-contiguous int64 array of shape "
                         f"{tuple(shape)}, got {type(copy).__name__} of shape "
                         f"{getattr(copy, 'shape', None)}, dtype {getattr(copy, 'dtype', None)}")


def check_gather(op, g_shape, indices_shape, indices_dtype):
    """A clear error unless int64 ``indices`` (N, C, h, w) can read the (N, C, H, W) planes of g."""
    _check_index_dtype(op, indices_dtype)
    if len(indices_shape) != 4 or len(g_shape) != 4 or indices_shape[:2] != g_shape[:2]:
        raise ValueError(f"{op}: indices of shape {tuple(indices_shape)} must be (N, C, h, w) "
                         f"with the N and C of the planes they read, {tuple(g_shape)}")
    if (g_shape[2] < 1 or g_shape[3] < 1) and int(np.prod(indices_shape)) > 0:
        raise ValueError(f"{op}: cannot gather {tuple(indices_shape)} values from an empty "
                         f"plane of shape {tuple(g_shape)}")


def raise_if_outside(op, outside, H, W):
    """The IndexError of an index kernel that found ``outside`` indices off its (H, W) plane."""
    if outside:
        raise IndexError(f"{op}: {outside} indices lie outside [0, {H * W}) for a plane of "
                         f"{H}x{W}; the kernel skipped them")


def _check_index_dtype(op, dtype):
    if np.dtype(dtype) != np.int64:
        raise TypeError(f"{op}: indices must be int64, got dtype {dtype}")


def adaptive_shape(op, shape, OH, OW):
    """The output shape (N, C, OH, OW) of an adaptive pooling of an input of ``shape``."""
    check_planes(op, shape)
    check_output_plane(op, OH, OW, shape)
    return (shape[0], shape[1], OH, OW)


def avg_pool2d_adjoint_shape(op, g_shape, H, W, KH, KW, SH, SW, PH, PW):
    """(N, C, H, W), after checking that g is what avg_pool2d gives on such an input, in floor
    or in ceil mode (the adjoint does not need to know which)."""
    N, C = g_shape[0], g_shape[1]
    shapes = {pool_shape(op, (N, C, H, W), KH, KW, SH, SW, PH, PW, 1, 1, ceil_mode)
              for ceil_mode in (False, True)}
    if tuple(g_shape) not in shapes:
        raise ValueError(f"{op}: g of shape {tuple(g_shape)} is not the average pooling of an "
                         f"input of shape {(N, C, H, W)} (expected one of {sorted(shapes)})")
    return (N, C, H, W)


def bilinear_shape(op, image_shape, h0, h1, lh, w0, w1, lw, g_shape=None):
    """The shape (N, C, OH, OW) that the bilinear tables resample an image of ``image_shape`` to.

    Checked by size only, so that no device array is read back: the table values are built in
    range by ``ops/resample.py``. ``g_shape``, for the adjoint, must equal the result.
    """
    check_planes(op, image_shape)
    for name, tables in (("row", (h0, h1, lh)), ("column", (w0, w1, lw))):
        lengths = tuple(t.shape for t in tables)
        if len(set(lengths)) != 1 or len(lengths[0]) != 1 or lengths[0][0] < 1:
            raise ValueError(f"{op}: the {name} tables must be three non-empty 1-D arrays of "
                             f"one length, got shapes {lengths}")
    shape = (image_shape[0], image_shape[1], h0.shape[0], w0.shape[0])
    if g_shape is not None and tuple(g_shape) != shape:
        raise ValueError(f"{op}: g of shape {tuple(g_shape)} does not match the tables, which "
                         f"resample {tuple(image_shape)} to {shape}")
    return shape


def check_im2col(op, shape, dtype, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """A clear error unless im2col (or col2im) can run on an image of ``shape`` and ``dtype``.

    Here an empty plane or an empty grid of windows is no error: the op layer refuses those
    for the user (``ops/conv.py``), while a chunk of an empty batch legitimately gets here.
    """
    name = "x" if op.startswith("im2col") else "the image"
    if len(shape) != 4 or min(shape) < 0:
        raise ValueError(f"{op}: expected {name} of shape (N, C, H, W), got shape "
                         f"{tuple(shape)}")
    check_float(op, name, dtype)
    if min(KH, KW, SH, SW, DH, DW) < 1 or min(PH, PW, OH, OW) < 0:
        raise ValueError(f"{op}: kernel {(KH, KW)}, stride {(SH, SW)} and dilation {(DH, DW)} must "
                         f"be >= 1 and padding {(PH, PW)} and output size {(OH, OW)} >= 0")


def check_col2im(cols_shape, dtype, N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW,
                 op="col2im"):
    """A clear error unless ``cols`` of ``cols_shape`` fits an (N, C, H, W) image's windows:
    ``(C*KH*KW, N*OH*OW)`` for col2im, its transpose for col2im_rows (a window per row)."""
    check_im2col(op, (N, C, H, W), dtype, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW)
    expected = (C * KH * KW, N * OH * OW)
    if op == "col2im_rows":
        expected = expected[::-1]
    if tuple(cols_shape) != expected:
        raise ValueError(f"{op}: cols has shape {tuple(cols_shape)} but an image (N, C, H, W) "
                         f"= {(N, C, H, W)} with kernel {(KH, KW)} and {OH}x{OW} windows needs "
                         f"{expected}")


def checked_bias(op, bias, channels, dtype, xp):
    """``bias`` checked to be a (channels,) array of ``dtype`` (made C-contiguous), or zeros
    allocated with the array module ``xp`` for a kernel that adds it on its way out."""
    if bias is None:
        return xp.zeros(channels, dtype=dtype)
    if bias.shape != (channels,) or bias.dtype != dtype:
        raise ValueError(f"{op}: bias must be a {dtype} array of shape ({channels},), got shape "
                         f"{bias.shape}, dtype {bias.dtype}")
    return xp.ascontiguousarray(bias)


def checked_out(op, out, shape, dtype, xp):
    """``out`` checked to be a C-contiguous array of ``shape`` and ``dtype``, or a new one
    allocated with the array module ``xp``."""
    if out is None:
        return xp.empty(shape, dtype=dtype)
    if out.shape != shape or out.dtype != dtype or not out.flags.c_contiguous:
        raise ValueError(f"{op}: out must be a C-contiguous {dtype} array of shape {shape}, got "
                         f"shape {out.shape}, dtype {out.dtype}")
    return out


def avg_window(o, K, S, P, L, count_include_pad):
    """Clipped window ``[lo, hi)`` of output cell ``o`` along one axis, and its divisor factor.

    The window is first clipped to the padded input, which sets the count with padding (a ceil
    mode window can hang past it); then to the input itself, which sets the count without.
    """
    lo = o * S - P
    hi = min(lo + K, L + P)
    size = hi - lo
    lo = max(lo, 0)
    hi = min(hi, L)
    return (lo, hi, size if count_include_pad else hi - lo)


def adaptive_window(o, O, L):
    """PyTorch's adaptive window ``[floor(o*L/O), ceil((o+1)*L/O))`` in integer arithmetic;
    never empty when L >= 1 and O >= 1."""
    return (o * L // O, ((o + 1) * L + O - 1) // O)
