"""Slow, obvious NumPy references for the ops the registry declares (tests/op_specs.py).

Each reference is the definition written as loops over output cells, with PyTorch's argument
names and defaults, so that a spec can call it with the same keyword arguments as the op. No
hypothesis here: the strategies package and the tests import these, never the other way round.

Notation
--------
N, C        batch size and channels;  H, W  input plane;  OH, OW  output plane
KH, KW      window or kernel size;  SH, SW  stride;  PH, PW  padding;  DH, DW  dilation
"""
import itertools
import math

import numpy as np


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def reduce_loss(loss, reduction):
    """The per-element ``loss`` reduced as PyTorch's ``reduction`` says."""
    return {"none": loss, "mean": np.mean(loss), "sum": np.sum(loss)}[reduction]


def sum_to(grad, shape):
    """Sum a broadcast gradient back to ``shape`` (leading axes, then size-1 axes)."""
    grad = grad.sum(tuple(range(grad.ndim - len(shape))))
    return grad.sum(tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def nll_loss(log_probs, target, weight=None, ignore_index=-100, reduction="mean"):
    """-w[t]·log_probs[n, t] per sample; the mean divides by the kept samples' total weight."""
    N, C = log_probs.shape
    w = np.ones(C) if weight is None else weight
    kept = target != ignore_index
    safe = np.where(kept, target, 0)
    loss = -log_probs[np.arange(N), safe] * w[safe] * kept
    if reduction == "mean":
        return loss.sum() / (w[safe] * kept).sum()
    return reduce_loss(loss, reduction)


def cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """PyTorch's rule: the target becomes (1 - ε)·onehot + ε/C, each class c weighted by w[c];
    ignored samples count for nothing, and the mean divides by the kept samples' w[t]."""
    lp = log_softmax(logits, 1)
    N, C = logits.shape
    w = np.ones(C) if weight is None else weight
    if target.dtype.kind == "f":  # class probabilities: no ignore_index, mean over samples
        soft = target * (1 - label_smoothing) + label_smoothing / C
        return reduce_loss(-(soft * lp * w).sum(1), reduction)
    kept = target != ignore_index
    safe = np.where(kept, target, 0)
    picked = -lp[np.arange(N), safe] * w[safe]
    smooth = -(lp * w).sum(1) / C
    loss = ((1 - label_smoothing) * picked + label_smoothing * smooth) * kept
    if reduction == "mean":
        return loss.sum() / (w[safe] * kept).sum()
    return reduce_loss(loss, reduction)


def binary_cross_entropy(p, target, weight=None, reduction="mean"):
    loss = -(target * np.log(p) + (1 - target) * np.log(1 - p))
    return reduce_loss(loss if weight is None else loss * weight, reduction)


def binary_cross_entropy_with_logits(x, target, weight=None, reduction="mean", pos_weight=None):
    """-(pw·t·log σ(x) + (1 - t)·log(1 - σ(x))), with log σ(x) = -log(1 + e^-x)."""
    pw = 1.0 if pos_weight is None else pos_weight
    loss = pw * target * np.logaddexp(0, -x) + (1 - target) * np.logaddexp(0, x)
    return reduce_loss(loss if weight is None else loss * weight, reduction)


def kl_div(x, target, reduction="mean", log_target=False):
    p = np.exp(target) if log_target else target
    log_p = target if log_target else np.log(np.where(target > 0, target, 1.0))
    loss = np.where(p > 0, p * (log_p - x), 0.0)
    return loss.sum() / x.shape[0] if reduction == "batchmean" else reduce_loss(loss, reduction)


def multi_margin_loss(x, target, p=1, margin=1.0, weight=None, reduction="mean"):
    N, C = x.shape
    hinge = np.maximum(0, margin - x[np.arange(N), target][:, None] + x) ** p
    hinge[np.arange(N), target] = 0
    if weight is not None:
        hinge = hinge * weight[target][:, None]
    return reduce_loss(hinge.sum(1) / C, reduction)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """The definition, one output pixel at a time."""
    (SH, SW), (PH, PW), (DH, DW) = _pair(stride), _pair(padding), _pair(dilation)
    N, C, H, W = x.shape
    K, Cg, KH, KW = w.shape
    Kg = K // groups
    OH, OW = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1, (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    y = np.zeros((N, K, OH, OW))
    for n, k, oh, ow in itertools.product(range(N), range(K), range(OH), range(OW)):
        total = 0.0 if b is None else b[k]
        for c, kh, kw in itertools.product(range(Cg), range(KH), range(KW)):
            ih, iw = oh * SH - PH + kh * DH, ow * SW - PW + kw * DW
            if 0 <= ih < H and 0 <= iw < W:
                total += w[k, c, kh, kw] * x[n, (k // Kg) * Cg + c, ih, iw]
        y[n, k, oh, ow] = total
    return y


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Each input pixel adds a weighted copy of the kernel onto the output."""
    (SH, SW), (PH, PW), (DH, DW) = _pair(stride), _pair(padding), _pair(dilation)
    OPH, OPW = _pair(output_padding)
    N, C, H, W = x.shape
    _, Kg, KH, KW = w.shape
    Cg = C // groups
    OH = (H - 1) * SH - 2 * PH + DH * (KH - 1) + 1 + OPH
    OW = (W - 1) * SW - 2 * PW + DW * (KW - 1) + 1 + OPW
    y = np.zeros((N, Kg * groups, OH, OW))
    for n, c, h, wi, k, kh, kw in itertools.product(range(N), range(C), range(H), range(W),
                                                    range(Kg), range(KH), range(KW)):
        oh, ow = h * SH - PH + kh * DH, wi * SW - PW + kw * DW
        if 0 <= oh < OH and 0 <= ow < OW:
            y[n, (c // Cg) * Kg + k, oh, ow] += x[n, c, h, wi] * w[c, k, kh, kw]
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def pooled_length(L, K, S, P, D, ceil_mode):
    """PyTorch's pooled length along one axis (ceil mode drops a last window that starts past
    the input and its left padding)."""
    out = (L + 2 * P - D * (K - 1) - 1 + (S - 1 if ceil_mode else 0)) // S + 1
    return out - 1 if ceil_mode and (out - 1) * S >= L + P else out


def _windows(x, kernel_size, stride, padding, dilation, ceil_mode):
    """For each output cell (oh, ow): the (h, w) taps of its window, in scan order."""
    (KH, KW), (PH, PW), (DH, DW) = _pair(kernel_size), _pair(padding), _pair(dilation)
    SH, SW = (KH, KW) if stride is None else _pair(stride)
    H, W = x.shape[2:]
    OH = pooled_length(H, KH, SH, PH, DH, ceil_mode)
    OW = pooled_length(W, KW, SW, PW, DW, ceil_mode)
    for oh, ow in itertools.product(range(OH), range(OW)):
        yield oh, ow, OH, OW, [(oh * SH - PH + kh * DH, ow * SW - PW + kw * DW)
                               for kh, kw in itertools.product(range(KH), range(KW))]


def max_pool2d(x, kernel_size, stride=None, padding=0, return_indices=False, dilation=1,
               ceil_mode=False):
    """The max over each window's taps inside the input; the first maximum (scan order, i.e.
    the smallest flat index h*W + w) wins a tie."""
    N, C, H, W = x.shape
    y, indices = None, None
    for oh, ow, OH, OW, taps in _windows(x, kernel_size, stride, padding, dilation, ceil_mode):
        if y is None:
            y, indices = np.zeros((N, C, OH, OW)), np.zeros((N, C, OH, OW), np.int64)
        for n, c in itertools.product(range(N), range(C)):
            inside = [(h, w) for h, w in taps if 0 <= h < H and 0 <= w < W]
            h, w = max(inside, key=lambda hw: (x[n, c][hw], -hw[0] * W - hw[1]))
            y[n, c, oh, ow], indices[n, c, oh, ow] = x[n, c, h, w], h * W + w
    return (y, indices) if return_indices else y


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """The mean over each window; the divisor counts the taps inside the padded input (or only
    inside the input), never those past the padding that ceil mode adds."""
    N, C, H, W = x.shape
    (PH, PW), y = _pair(padding), None
    for oh, ow, OH, OW, taps in _windows(x, kernel_size, stride, padding, 1, ceil_mode):
        y = np.zeros((N, C, OH, OW)) if y is None else y
        padded = [(h, w) for h, w in taps if h < H + PH and w < W + PW]
        inside = [(h, w) for h, w in padded if 0 <= h < H and 0 <= w < W]
        total = sum((x[:, :, h, w] for h, w in inside), np.zeros((N, C)))
        y[:, :, oh, ow] = total / len(padded if count_include_pad else inside)
    return y


def adaptive_avg_pool2d(x, output_size):
    """Cell (oh, ow) averages rows floor(oh*H/OH) .. ceil((oh+1)*H/OH) - 1, and so for columns."""
    H, W = x.shape[2:]
    OH, OW = _pair(output_size)
    y = np.zeros(x.shape[:2] + (OH, OW))
    for oh, ow in itertools.product(range(OH), range(OW)):
        rows = slice(math.floor(oh * H / OH), math.ceil((oh + 1) * H / OH))
        cols = slice(math.floor(ow * W / OW), math.ceil((ow + 1) * W / OW))
        y[:, :, oh, ow] = x[:, :, rows, cols].mean(axis=(2, 3))
    return y


def max_unpool2d(x, indices, output_size):
    """Each value added at its flat position in an (H, W) plane of zeros."""
    N, C = x.shape[:2]
    H, W = output_size
    out = np.zeros((N, C, H * W))
    for n, c in itertools.product(range(N), range(C)):
        np.add.at(out[n, c], indices[n, c].ravel(), x[n, c].ravel())
    return out.reshape(N, C, H, W)


def _source(o, L, O, scale, mode, align_corners):
    """The source coordinate of output row o, PyTorch's rules; 'nearest' in float32."""
    if mode == "nearest":
        if O in (L, 2 * L):
            return o * L // O
        ratio = np.float32(1.0 / scale) if scale else np.float32(L) / np.float32(O)
        return min(int(np.floor(np.float32(o) * ratio)), L - 1)
    if align_corners:
        return o * (L - 1) / (O - 1) if O > 1 else 0.0
    src = (o + 0.5) * (1.0 / scale if scale else L / O) - 0.5
    return src if mode == "bicubic" else max(src, 0.0)


def _cubic(d):
    """The cubic convolution kernel with A = -0.75 (PyTorch's 'bicubic'), at distance d."""
    A, d = -0.75, abs(d)
    if d <= 1:
        return (A + 2) * d ** 3 - (A + 3) * d ** 2 + 1
    return A * d ** 3 - 5 * A * d ** 2 + 8 * A * d - 4 * A if d < 2 else 0.0


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Each output cell read (nearest) or mixed from the 4 cells around its source (bilinear)."""
    H, W = x.shape[2:]
    scales = (None, None) if scale_factor is None else _pair(scale_factor)
    OH, OW = _pair(size) if size is not None else (int(H * scales[0]), int(W * scales[1]))
    y = np.zeros(x.shape[:2] + (OH, OW))
    for oh, ow in itertools.product(range(OH), range(OW)):
        sh = _source(oh, H, OH, scales[0], mode, align_corners)
        sw = _source(ow, W, OW, scales[1], mode, align_corners)
        if mode == "nearest":
            y[:, :, oh, ow] = x[:, :, sh, sw]
            continue
        if mode == "bicubic":  # 4x4 taps around the source, border rows and columns repeated
            h, w = math.floor(sh), math.floor(sw)
            for i, j in itertools.product(range(-1, 3), range(-1, 3)):
                tap = x[:, :, min(max(h + i, 0), H - 1), min(max(w + j, 0), W - 1)]
                y[:, :, oh, ow] += _cubic(sh - h - i) * _cubic(sw - w - j) * tap
            continue
        h0, w0 = min(int(sh), H - 1), min(int(sw), W - 1)
        h1, w1 = min(h0 + 1, H - 1), min(w0 + 1, W - 1)
        lh, lw = sh - h0, sw - w0
        y[:, :, oh, ow] = ((1 - lh) * ((1 - lw) * x[:, :, h0, w0] + lw * x[:, :, h0, w1])
                           + lh * ((1 - lw) * x[:, :, h1, w0] + lw * x[:, :, h1, w1]))
    return y


def _with_a_row(reference, **lift):
    """A 2-D reference applied to (N, C, L) sequences as (N, C, 1, L) images: the named
    geometry keywords (one int each) get a trivial height entry first (``lift`` gives it: 1 for
    sizes, strides and dilations, 0 for paddings), and the result loses its row again."""
    def one_d(*arrays, **kw):
        images = [a[:, :, None] if a.ndim == 3 else a for a in arrays]
        kw = {k: (lift[k], v) if k in lift else v for k, v in kw.items()}
        out = reference(*images, **kw)
        return tuple(o[:, :, 0] for o in out) if isinstance(out, tuple) else out[:, :, 0]
    return one_d


conv1d = _with_a_row(conv2d, stride=1, padding=0, dilation=1)
conv_transpose1d = _with_a_row(conv_transpose2d, stride=1, padding=0, output_padding=0,
                               dilation=1)


def max_pool1d(x, kernel_size, stride=None, padding=0, return_indices=False, dilation=1,
               ceil_mode=False):
    return _with_a_row(max_pool2d, kernel_size=1, stride=1, padding=0, dilation=1)(
        x, kernel_size=kernel_size, stride=kernel_size if stride is None else stride,
        padding=padding, return_indices=return_indices, dilation=dilation, ceil_mode=ceil_mode)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _with_a_row(avg_pool2d, kernel_size=1, stride=1, padding=0)(
        x, kernel_size=kernel_size, stride=kernel_size if stride is None else stride,
        padding=padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad)


def adaptive_avg_pool1d(x, output_size):
    return adaptive_avg_pool2d(x[:, :, None], (1, output_size))[:, :, 0]


def unfold(x, kernel_size, dilation=1, padding=0, stride=1):
    """Every window as a column, by explicit loops over (c, kh, kw) and (oh, ow)."""
    (KH, KW), (DH, DW), (PH, PW), (SH, SW) = (_pair(v) for v in (kernel_size, dilation,
                                                                 padding, stride))
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW)))
    OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    out = np.zeros((N, C * KH * KW, OH * OW))
    for c, kh, kw, oh, ow in itertools.product(range(C), range(KH), range(KW), range(OH),
                                               range(OW)):
        out[:, (c * KH + kh) * KW + kw, oh * OW + ow] = xp[:, c, oh * SH + kh * DH,
                                                           ow * SW + kw * DW]
    return out


def fold(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Each column added onto its window, by explicit loops; the padding cropped at the end."""
    (H, W), (KH, KW), (DH, DW), (PH, PW), (SH, SW) = (_pair(v) for v in (
        output_size, kernel_size, dilation, padding, stride))
    N, CKK, L = x.shape
    C = CKK // (KH * KW)
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    out = np.zeros((N, C, H + 2 * PH, W + 2 * PW))
    for c, kh, kw, window in itertools.product(range(C), range(KH), range(KW), range(L)):
        oh, ow = divmod(window, OW)
        out[:, c, oh * SH + kh * DH, ow * SW + kw * DW] += x[:, (c * KH + kh) * KW + kw, window]
    return out[:, :, PH:PH + H, PW:PW + W]


def _normalised(n, align_corners):
    """The normalised coordinate of each of n pixels along an axis."""
    if n == 1:
        return [0.0]
    if align_corners:
        return [-1.0 + 2.0 * i / (n - 1) for i in range(n)]
    return [(2.0 * i + 1.0) / n - 1.0 for i in range(n)]


def affine_grid(theta, size, align_corners=None):
    """grid[n, h, w] = theta[n] @ (x_w, y_h, 1), pixel by pixel."""
    N, _, H, W = size
    grid = np.zeros((N, H, W, 2))
    for n, (h, y), (w, x) in itertools.product(range(N), enumerate(_normalised(H, align_corners)),
                                               enumerate(_normalised(W, align_corners))):
        grid[n, h, w] = theta[n] @ np.array([x, y, 1.0])
    return grid


def grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """x read at each grid point, one point at a time, following PyTorch's documented rules
    (unnormalise, then clamp or reflect the pixel coordinate, then interpolate; zeros outside)."""
    N, C, H, W = x.shape
    _, Ho, Wo, _ = grid.shape

    def pixel(coordinate, n):
        c = (coordinate + 1) / 2 * (n - 1) if align_corners else ((coordinate + 1) * n - 1) / 2
        if padding_mode == "border":
            c = min(max(c, 0.0), n - 1.0)
        elif padding_mode == "reflection":
            low, high = (0.0, n - 1.0) if align_corners else (-0.5, n - 0.5)
            if high > low:
                distance, span = abs(c - low), high - low
                flips = math.floor(distance / span)
                extra = distance - flips * span
                c = low + (extra if flips % 2 == 0 else span - extra)
            c = min(max(c, 0.0), n - 1.0)
        return c

    def at(n, row, col):
        inside = 0 <= row < H and 0 <= col < W
        return x[n, :, row, col] if inside else np.zeros(C)

    out = np.zeros((N, C, Ho, Wo))
    for n, h, w in itertools.product(range(N), range(Ho), range(Wo)):
        ix, iy = pixel(grid[n, h, w, 0], W), pixel(grid[n, h, w, 1], H)
        if mode == "nearest":
            out[n, :, h, w] = at(n, int(np.rint(iy)), int(np.rint(ix)))
            continue
        x0, y0 = math.floor(ix), math.floor(iy)
        fx, fy = ix - x0, iy - y0
        out[n, :, h, w] = ((1 - fy) * ((1 - fx) * at(n, y0, x0) + fx * at(n, y0, x0 + 1))
                           + fy * ((1 - fx) * at(n, y0 + 1, x0) + fx * at(n, y0 + 1, x0 + 1)))
    return out


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """The max over each adaptive window, cell by cell; the first maximum (row-major) wins."""
    N, C, H, W = x.shape
    OH, OW = output_size if isinstance(output_size, tuple) else (output_size, output_size)
    OH, OW = H if OH is None else OH, W if OW is None else OW
    y, indices = np.zeros((N, C, OH, OW)), np.zeros((N, C, OH, OW), np.int64)
    for n, c, oh, ow in itertools.product(range(N), range(C), range(OH), range(OW)):
        h0, h1 = oh * H // OH, -(-(oh + 1) * H // OH)
        w0, w1 = ow * W // OW, -(-(ow + 1) * W // OW)
        window = x[n, c, h0:h1, w0:w1]
        h, w = np.unravel_index(np.argmax(window), window.shape)
        y[n, c, oh, ow], indices[n, c, oh, ow] = window[h, w], (h0 + h) * W + w0 + w
    return (y, indices) if return_indices else y


def adaptive_max_pool1d(x, output_size, return_indices=False):
    out = adaptive_max_pool2d(x[:, :, None], (1, output_size), return_indices)
    return tuple(o[:, :, 0] for o in out) if return_indices else out[:, :, 0]


def torch_pad(x, pad, mode="constant", value=None):
    """PyTorch's F.pad through numpy.pad: widths last axis first; negative constant widths crop
    (sliced off first). NumPy's 'reflect', 'edge' and 'wrap' are PyTorch's 'reflect',
    'replicate' and 'circular'."""
    widths = [(0, 0)] * x.ndim
    crop = [slice(None)] * x.ndim
    for i in range(len(pad) // 2):
        axis, before, after = x.ndim - 1 - i, pad[2 * i], pad[2 * i + 1]
        crop[axis] = slice(max(-before, 0), x.shape[axis] - max(-after, 0))
        widths[axis] = (max(before, 0), max(after, 0))
    x = x[tuple(crop)]
    if mode == "constant":
        return np.pad(x, widths, constant_values=0.0 if value is None else value)
    return np.pad(x, widths, mode={"reflect": "reflect", "replicate": "edge",
                                   "circular": "wrap"}[mode])


def im2col(x, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """Every kernel window of x (N, C, H, W) as a column: row (c*KH + kh)*KW + kw, column
    (n*OH + oh)*OW + ow, zero where the window reads padding (kernels/cpu/conv.py's layout)."""
    N, C, H, W = x.shape
    cols = np.zeros((C * KH * KW, N * OH * OW), x.dtype)
    for n, c, kh, kw, oh, ow in itertools.product(range(N), range(C), range(KH), range(KW),
                                                  range(OH), range(OW)):
        ih, iw = oh * SH - PH + kh * DH, ow * SW - PW + kw * DW
        if 0 <= ih < H and 0 <= iw < W:
            cols[(c * KH + kh) * KW + kw, (n * OH + oh) * OW + ow] = x[n, c, ih, iw]
    return cols


def col2im(cols, N, C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW):
    """The adjoint of :func:`im2col`: each column added back onto its window."""
    x = np.zeros((N, C, H, W), cols.dtype)
    for n, c, kh, kw, oh, ow in itertools.product(range(N), range(C), range(KH), range(KW),
                                                  range(OH), range(OW)):
        ih, iw = oh * SH - PH + kh * DH, ow * SW - PW + kw * DW
        if 0 <= ih < H and 0 <= iw < W:
            x[n, c, ih, iw] += cols[(c * KH + kh) * KW + kw, (n * OH + oh) * OW + ow]
    return x
