"""conv2d and conv_transpose2d: forward against direct loops, first and second derivatives by
finite differences over drawn geometries, PyTorch as an optional oracle, and every bad input."""
import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import minigrad.kernels.cpu as cpu_kernels
import minigrad.ops.conv as conv_ops
import references as R
import strategies as S
from minigrad.ops.conv import conv2d, conv_transpose2d


def reference(transposed, x, w, b, g):
    """The NumPy reference (tests/references.py) with the keywords of geometry ``g``."""
    reference_op = R.conv_transpose2d if transposed else R.conv2d
    return reference_op(x, w, b, **S.conv_keywords(g, transposed))


OPS = {False: conv2d, True: conv_transpose2d}
BOTH = pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "conv_transpose2d"])


def _call(transposed, g):
    op = OPS[transposed]
    return lambda x, w, b=None: op(x, w, b, **S.conv_keywords(g, transposed))


def _tensors(arrays, device):
    return [mg.tensor(a, dtype=np.float64, device=device, requires_grad=True)
            for a in arrays if a is not None]


@BOTH
@given(data=st.data())
def test_forward_matches_reference(transposed, device, data):
    g, x, w, b = data.draw(S.conv_problems(transposed))
    y = _call(transposed, g)(*_tensors((x, w, b), device))
    expected = reference(transposed, x, w, b, g)
    assert y.shape == expected.shape == (g["N"], g["K"], g["OH"], g["OW"])
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-10, atol=1e-10)


@BOTH
@given(data=st.data())
def test_gradcheck(transposed, device, data):
    g, x, w, b = data.draw(S.conv_problems(transposed))
    assert mg.gradcheck(_call(transposed, g), _tensors((x, w, b), device))


@BOTH
@given(data=st.data())
def test_gradgradcheck(transposed, device, data):
    g, x, w, b = data.draw(S.conv_problems(transposed))
    assert mg.gradgradcheck(_call(transposed, g), _tensors((x, w, b), device))


@BOTH
def test_float32_forward_and_backward_keep_the_dtype(transposed, device):
    rng = np.random.default_rng(3)
    g = dict(N=2, C=4, K=6, G=2, H=5, W=4, KH=3, KW=2, SH=2, SW=1, PH=1, PW=0, DH=1, DW=2,
             OPH=1, OPW=0)
    w_shape = (4, 3, 3, 2) if transposed else (6, 2, 3, 2)
    x, w, b = (rng.standard_normal(shape) for shape in ((2, 4, 5, 4), w_shape, (6,)))
    g["OH"], g["OW"] = (10, 6) if transposed else (3, 2)
    tensors = [mg.tensor(a, dtype=np.float32, device=device, requires_grad=True) for a in (x, w, b)]
    y = _call(transposed, g)(*tensors)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), reference(transposed, x, w, b, g), rtol=1e-4, atol=1e-4)
    y.sum().backward()
    for t in tensors:
        assert t.grad.dtype == np.float32 and t.grad.shape == t.shape
    # d(sum y)/db = N * OH * OW for every channel
    np.testing.assert_allclose(tensors[2].grad.numpy(), np.full(6, 2 * g["OH"] * g["OW"]))


@BOTH
@pytest.mark.parametrize("chunk_bytes", [1, 6000])
def test_a_batch_split_into_chunks_gives_the_same_values(transposed, chunk_bytes, monkeypatch):
    # Large batches go through the GEMMs in slices; force slices of one and of a few samples.
    g = dict(N=5, C=4, K=2, G=2, H=4, W=5, KH=2, KW=3, SH=2, SW=1, PH=1, PW=1, DH=1, DW=1,
             OPH=1, OPW=0)
    g["OH"], g["OW"] = (7, 5) if transposed else (3, 5)
    rng = np.random.default_rng(8)
    w_shape = (4, 1, 2, 3) if transposed else (2, 2, 2, 3)
    arrays = [rng.standard_normal(shape) for shape in ((5, 4, 4, 5), w_shape, (2,))]
    results = []
    for chunk in (None, chunk_bytes):
        if chunk is not None:
            monkeypatch.setattr(cpu_kernels, "CONV_CHUNK_BYTES", chunk)
        tensors = _tensors(arrays, "cpu")
        y = _call(transposed, g)(*tensors)
        y.backward(mg.tensor(np.cos(np.arange(y.numpy().size)).reshape(y.shape)))
        results.append([y.numpy()] + [t.grad.numpy() for t in tensors])
    np.testing.assert_allclose(results[0][0], reference(transposed, *arrays, g), rtol=1e-10)
    for unsplit, split in zip(*results):
        np.testing.assert_allclose(split, unsplit, rtol=1e-10, atol=1e-12)


@BOTH
def test_an_empty_batch_gives_an_empty_result(transposed):
    y = _call(transposed, dict(SH=1, SW=1, PH=0, PW=0, DH=1, DW=1, G=1, OPH=0, OPW=0))(
        _image(0, 3 if transposed else 2, 4, 4), _image(3, 2, 2, 2))
    assert y.shape == ((0, 2, 5, 5) if transposed else (0, 3, 3, 3))


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 3))
    kw = dict(stride=2, padding=1, dilation=(1, 2), groups=2)
    y = conv2d(mg.tensor(x), mg.tensor(w), **kw)
    v = rng.standard_normal(y.shape)
    # output_padding picks the transposed output size that matches x: H = 7, W = 6
    back = conv_transpose2d(mg.tensor(v), mg.tensor(w), output_padding=(0, 1), **kw)
    assert back.shape == x.shape
    assert np.vdot(y.numpy(), v) == pytest.approx(np.vdot(x, back.numpy()), rel=1e-10)


def test_only_the_inputs_that_need_a_gradient_get_one():
    rng = np.random.default_rng(5)
    x = mg.tensor(rng.standard_normal((1, 2, 4, 4)))  # no grad, as for the images of a first layer
    w = mg.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    conv2d(x, w, padding=1).sum().backward()
    assert x.grad is None
    # d(sum y)/dw[k, c, kh, kw] = the sum of x over the pixels that tap (kh, kw) reaches
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (1, 1)))
    for kh, kw in itertools.product(range(3), range(3)):
        np.testing.assert_allclose(w.grad.numpy()[:, :, kh, kw],
                                   np.broadcast_to(xp[0, :, kh:kh + 4, kw:kw + 4].sum((1, 2)),
                                                   (3, 2)), rtol=1e-5)


@pytest.mark.parametrize("padding, dilation, kernel",
                         [("same", 1, (3, 3)), ("same", (2, 1), (2, 4)), ("valid", 1, (2, 3))])
def test_string_padding(padding, dilation, kernel):
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((3, 2) + kernel)
    y = conv2d(mg.tensor(x), mg.tensor(w), padding=padding, dilation=dilation)
    DH, DW = (dilation, dilation) if isinstance(dilation, int) else dilation
    if padding == "valid":  # no padding
        xp, (OH, OW) = x, (5 - DH * (kernel[0] - 1), 6 - DW * (kernel[1] - 1))
    else:  # 'same': the odd leftover of the total padding goes to the bottom / right
        tops = (DH * (kernel[0] - 1)) // 2, (DW * (kernel[1] - 1)) // 2
        extra = (DH * (kernel[0] - 1)) % 2, (DW * (kernel[1] - 1)) % 2
        xp = np.pad(x, ((0, 0), (0, 0), (tops[0], tops[0] + extra[0]),
                        (tops[1], tops[1] + extra[1])))
        OH, OW = 5, 6
    assert y.shape == (1, 3, OH, OW)
    np.testing.assert_allclose(y.numpy(), R.conv2d(xp, w, dilation=(DH, DW)), rtol=1e-10)


@BOTH
@given(data=st.data())
def test_matches_torch(transposed, data):
    torch = pytest.importorskip("torch")
    g, x, w, b = data.draw(S.conv_problems(transposed))
    ours = _tensors((x, w, b), "cpu")
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b) if a is not None]
    y = _call(transposed, g)(*ours)
    torch_op = torch.nn.functional.conv_transpose2d if transposed else torch.nn.functional.conv2d
    y_torch = torch_op(*theirs, **S.conv_keywords(g, transposed))
    np.testing.assert_allclose(y.numpy(), y_torch.detach().numpy(), rtol=1e-10, atol=1e-10)
    v = np.random.default_rng(0).standard_normal(y.shape)
    (y * mg.tensor(v)).sum().backward()
    (y_torch * torch.tensor(v)).sum().backward()
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10)


def _image(*shape, dtype=np.float64):
    return mg.tensor(np.zeros(shape), dtype=dtype)


CONV2D_ERRORS = [
    (dict(x=_image(3, 5, 5)), ValueError,
     r"conv2d: expected x of shape \(N, C, H, W\), got shape \(3, 5, 5\)"),
    (dict(weight=_image(4, 3, 3)), ValueError,
     r"conv2d: expected a weight of shape \(C_out, C_in // groups, KH, KW\)"),
    (dict(weight=_image(4, 2, 3, 3)), ValueError,
     r"x of shape \(1, 3, 5, 5\) has 3 channels, but weight of shape \(4, 2, 3, 3\).*groups=1"),
    (dict(groups=2, weight=_image(3, 2, 3, 3), x=_image(1, 4, 5, 5)), ValueError,
     r"groups=2 must divide both the input channels 4 and the output channels 3"),
    (dict(groups=0), ValueError, r"groups must be a positive int"),
    (dict(weight=_image(4, 3, 7, 3)), ValueError,
     r"the kernel spans \(7, 3\).*more than the padded input \(5, 5\)"),
    (dict(weight=_image(4, 3, 3, 3), dilation=3), ValueError, r"the kernel spans \(7, 7\)"),
    (dict(stride=0), ValueError, r"conv2d: stride must be >= 1, got \(0, 0\)"),
    (dict(dilation=(1, 0)), ValueError, r"conv2d: dilation must be >= 1, got \(1, 0\)"),
    (dict(padding=-1), ValueError, r"conv2d: padding must be >= 0, got \(-1, -1\)"),
    (dict(stride=1.5), TypeError, r"conv2d: stride must be an int or a pair of ints, got 1.5"),
    (dict(padding=(1, 2, 3)), TypeError, r"padding must be an int or a pair of ints"),
    (dict(bias=_image(3)), ValueError, r"expected a bias of shape \(4,\) for 4 output channels"),
    (dict(weight=_image(4, 3, 3, 3, dtype=np.float32)), TypeError,
     r"weight has dtype float32 but x has dtype float64"),
    (dict(x=mg.tensor(np.zeros((1, 3, 5, 5), dtype=np.int64))), TypeError,
     r"x must be floating point"),
    (dict(x=np.zeros((1, 3, 5, 5))), TypeError, r"x must be a Tensor, got ndarray"),
    (dict(padding="same", stride=2), ValueError, r"padding='same' needs stride 1"),
    (dict(padding="full"), ValueError, r"padding must be an int, a pair, 'valid' or 'same'"),
]


@pytest.mark.parametrize("change, error, message", CONV2D_ERRORS)
def test_conv2d_rejects_bad_input(change, error, message):
    arguments = dict(x=_image(1, 3, 5, 5), weight=_image(4, 3, 3, 3), bias=None, stride=1,
                     padding=0, dilation=1, groups=1) | change
    with pytest.raises(error, match=message):
        conv2d(**arguments)


CONV_TRANSPOSE2D_ERRORS = [
    (dict(x=_image(4, 3, 3)), ValueError, r"conv_transpose2d: expected x of shape \(N, C, H, W\)"),
    (dict(weight=_image(2, 3, 3, 3)), ValueError,
     r"x of shape \(1, 4, 3, 3\) has 4 channels, but weight of shape \(2, 3, 3, 3\) = "
     r"\(C_in, C_out // groups, KH, KW\) expects weight.shape\[0\] = 2"),
    (dict(groups=3, x=_image(1, 4, 3, 3), weight=_image(4, 1, 3, 3)), ValueError,
     r"groups=3 must divide both the input channels 4"),
    (dict(stride=2, output_padding=2), ValueError,
     r"output_padding \(2, 2\) must be >= 0 and smaller than either the stride \(2, 2\) or the "
     r"dilation \(1, 1\)"),
    (dict(output_padding=1), ValueError, r"output_padding \(1, 1\) must be"),
    (dict(output_padding=(0, -1), stride=2), ValueError, r"output_padding \(0, -1\) must be >= 0"),
    (dict(padding=3), ValueError, r"gives an empty output of size \(-1, -1\)"),
    (dict(stride=(2, 0)), ValueError, r"conv_transpose2d: stride must be >= 1"),
    (dict(bias=_image(4)), ValueError, r"expected a bias of shape \(3,\)"),
]


@pytest.mark.parametrize("change, error, message", CONV_TRANSPOSE2D_ERRORS)
def test_conv_transpose2d_rejects_bad_input(change, error, message):
    arguments = dict(x=_image(1, 4, 3, 3), weight=_image(4, 3, 3, 3), bias=None, stride=1,
                     padding=0, output_padding=0, groups=1, dilation=1) | change
    with pytest.raises(error, match=message):
        conv_transpose2d(**arguments)


def test_output_padding_below_the_dilation_is_allowed():
    # stride 1, dilation 2: output_padding 1 is legal (PyTorch's rule) and adds a row and column
    y = conv_transpose2d(_image(1, 1, 3, 3), _image(1, 1, 2, 2), dilation=2, output_padding=1)
    assert y.shape == (1, 1, 6, 6)


def test_the_gpu_kernels_drive_the_ops_like_the_cpu_ones(monkeypatch):
    # The ops reach the GPU kernels only for CuPy arrays; routing NumPy arrays to them (Numba's
    # CUDA simulator, or a GPU with host arrays) checks the ops' calls into the GPU module.
    from numba import cuda
    if not cuda.is_available():
        pytest.skip("no CUDA GPU and NUMBA_ENABLE_CUDASIM is not set")
    from minigrad.kernels import gpu
    rng = np.random.default_rng(9)
    arrays = [rng.standard_normal(shape) for shape in ((2, 2, 4, 3), (2, 1, 2, 2), (2,))]
    kw = dict(stride=(2, 1), padding=1, groups=2)
    results = []
    for kernels in (None, gpu):
        if kernels is not None:
            monkeypatch.setattr(conv_ops, "kernels_for", lambda array: kernels)
        x, w, b = _tensors(arrays, "cpu")
        y = conv_transpose2d(conv2d(x, w, b, **kw), w, **kw)
        y.backward(mg.tensor(np.sin(np.arange(y.numpy().size)).reshape(y.shape)))
        results.append([y.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()])
    for cpu_result, gpu_result in zip(*results):
        np.testing.assert_allclose(gpu_result, cpu_result, rtol=1e-10, atol=1e-12)
