"""The cases of the kernel fuzzer (test_fuzz_kernels.py): valid and invalid input on purpose.

A case is plain JSON, so that the fuzzer can send it to its worker process and a failure can
print it whole. Sizes of 0 and 1, odd strides, paddings and dilations, windows over padding
only, non-contiguous and negative-stride layouts, float16/int/bool inputs, mixed dtypes, wild
indices and scale factors are all drawn; whatever a case breaks, the op must refuse it clearly.

Notation
--------
case      a dict: op, seed, oracle ('numpy' or 'torch'), inputs (name -> shape, dtype,
          layout) and kwargs
layout    how the op sees a leaf: 'contiguous', 'transposed' (H and W swapped in memory),
          'flipped' (a negative stride along H) or 'strided' (every other row of a taller leaf)
N, C, H, W  the sizes of an image;  Cg, Kg  input and output channels per group
"""
from hypothesis import strategies as st

FLOATS = ["float32", "float64"]  # what the kernels take; every other dtype must be refused
DTYPES = st.sampled_from(FLOATS * 4 + ["float16", "int64", "bool"])
LAYOUTS = st.sampled_from(["contiguous", "transposed", "flipped", "strided"])
SIDES = st.integers(0, 6)  # 0 is an empty plane, which every op must refuse


def tensor_spec(shape, dtype=DTYPES):
    """One tensor input of a case: its shape, a drawn dtype and a drawn layout."""
    return st.fixed_dictionaries({"shape": st.just(list(shape)), "dtype": dtype,
                                  "layout": LAYOUTS})


def pairs(values):
    """An int-or-pair argument (``stride=2`` or ``stride=[2, 1]``), as the ops accept both."""
    return st.one_of(values, st.tuples(values, values).map(list))


@st.composite
def image(draw, N=st.integers(0, 2), C=st.integers(0, 3)):
    """An NCHW shape, as a list, where any size may be 0."""
    return [draw(N), draw(C), draw(SIDES), draw(SIDES)]


@st.composite
def kernel_cases(draw, op, oracle="numpy", winograd=False, phases=False):
    """One case for ``op``: its tensor inputs and keyword arguments, valid or not.

    ``winograd=True`` (conv2d and conv_transpose2d): a 3x3 or 5x5, stride-1, undilated,
    ungrouped geometry, run with the Winograd path taken from one channel up (the case's
    "winograd" key; the worker lowers ``im2col_gemm.WINOGRAD_MIN_CHANNELS`` for it).
    ``phases=True``: a 4x4, stride-2, undilated, ungrouped geometry, run the same way on the
    phases' path (the worker also lifts ``im2col_gemm.PHASE_TILES_MOST``). Other
    conv2d and conv_transpose2d cases take the windows as rows from one channel up half of the
    time (the case's "window_rows" key: ``im2col_gemm.WINDOW_ROWS_MIN_CHANNELS``).
    """
    draw_kwargs = {"conv2d": _conv_kwargs, "conv_transpose2d": _conv_kwargs,
                   "max_pool2d": _pool_kwargs, "avg_pool2d": _pool_kwargs,
                   "adaptive_avg_pool2d": _adaptive_kwargs, "max_unpool2d": _unpool_kwargs,
                   "interpolate": _interpolate_kwargs}[op]
    inputs, kwargs = draw(_winograd_kwargs(op) if winograd else
                          _phase_kwargs(op) if phases else draw_kwargs(op))
    case = {"op": op, "oracle": oracle, "seed": draw(st.integers(0, 2**16)), "inputs": inputs,
            "kwargs": kwargs}
    if winograd or phases:
        case["winograd"] = True
    elif op in ("conv2d", "conv_transpose2d") and draw(st.booleans()):
        case["window_rows"] = True
    return case


@st.composite
def _conv_kwargs(draw, op):
    groups = draw(st.integers(1, 2))
    N, Cg, Kg = draw(st.integers(0, 2)), draw(st.integers(0, 2)), draw(st.integers(0, 2))
    KH, KW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    x = [N, Cg * groups, draw(SIDES), draw(SIDES)]
    dtype = draw(DTYPES)
    # mostly the dtype of x; sometimes another, which must be refused
    other = st.one_of(st.just(dtype), st.just(dtype), DTYPES)
    if op == "conv2d":
        weight = [Kg * groups, Cg, KH, KW]
    else:
        weight = [Cg * groups, Kg, KH, KW]
    inputs = {"x": draw(tensor_spec(x, st.just(dtype))),
              "weight": draw(tensor_spec(weight, other))}
    if draw(st.booleans()):
        inputs["bias"] = draw(tensor_spec([Kg * groups], other))
    kwargs = {"stride": draw(pairs(st.integers(0, 3))), "padding": draw(pairs(st.integers(0, 2))),
              "dilation": draw(pairs(st.integers(1, 2))), "groups": groups}
    if op == "conv_transpose2d":
        kwargs["output_padding"] = draw(pairs(st.integers(0, 2)))
    return (inputs, kwargs)


@st.composite
def _winograd_kwargs(draw, op):
    """A 3x3 or 5x5 convolution with stride 1, no dilation, one group: the Winograd path's
    geometry, with every size, dtype, layout and padding (up to r, past the transposed path's
    r - 1) drawn."""
    r = draw(st.sampled_from((3, 5)))
    N, C, K = draw(st.integers(0, 3)), draw(st.integers(0, 3)), draw(st.integers(0, 3))
    dtype = draw(DTYPES)
    other = st.one_of(st.just(dtype), st.just(dtype), DTYPES)
    x = [N, C, draw(st.integers(0, 9)), draw(st.integers(0, 9))]
    weight = [K, C, r, r] if op == "conv2d" else [C, K, r, r]
    inputs = {"x": draw(tensor_spec(x, st.just(dtype))),
              "weight": draw(tensor_spec(weight, other))}
    if draw(st.booleans()):
        inputs["bias"] = draw(tensor_spec([K], other))
    return (inputs, {"padding": draw(pairs(st.integers(0, r)))})


@st.composite
def _phase_kwargs(draw, op):
    """A 4x4 convolution with stride 2, no dilation, one group: the phases' geometry, with
    every size, dtype, layout, padding (up to 3, past the path's 2) and, for the transposed
    one, output padding drawn."""
    N, C, K = draw(st.integers(0, 3)), draw(st.integers(0, 3)), draw(st.integers(0, 3))
    dtype = draw(DTYPES)
    other = st.one_of(st.just(dtype), st.just(dtype), DTYPES)
    x = [N, C, draw(st.integers(0, 9)), draw(st.integers(0, 9))]
    weight = [K, C, 4, 4] if op == "conv2d" else [C, K, 4, 4]
    inputs = {"x": draw(tensor_spec(x, st.just(dtype))),
              "weight": draw(tensor_spec(weight, other))}
    if draw(st.booleans()):
        inputs["bias"] = draw(tensor_spec([K], other))
    kwargs = {"stride": draw(st.sampled_from([2, [2, 2]])),
              "padding": draw(pairs(st.integers(0, 3)))}
    if op == "conv_transpose2d":
        kwargs["output_padding"] = draw(pairs(st.integers(0, 1)))
    return (inputs, kwargs)


@st.composite
def _pool_kwargs(draw, op):
    inputs = {"x": draw(tensor_spec(draw(image())))}
    kwargs = {"kernel_size": draw(pairs(st.integers(1, 4))),
              "stride": draw(st.one_of(st.none(), pairs(st.integers(1, 3)))),
              "padding": draw(pairs(st.integers(0, 2))), "ceil_mode": draw(st.booleans())}
    if op == "max_pool2d":
        kwargs["dilation"] = draw(pairs(st.integers(1, 3)))
        kwargs["return_indices"] = draw(st.booleans())
    else:
        kwargs["count_include_pad"] = draw(st.booleans())
    return (inputs, kwargs)


@st.composite
def _adaptive_kwargs(draw, op):
    side = st.one_of(st.integers(0, 5), st.none())
    return ({"x": draw(tensor_spec(draw(image())))},
            {"output_size": draw(st.one_of(st.integers(0, 5), st.tuples(side, side).map(list)))})


@st.composite
def _unpool_kwargs(draw, op):
    x = draw(image(C=st.integers(0, 2)))
    kernel = draw(st.integers(1, 3))
    kwargs = {"kernel_size": kernel, "stride": draw(st.one_of(st.none(), st.integers(1, 3))),
              "padding": draw(st.integers(0, 1))}
    if draw(st.booleans()):
        kwargs["output_size"] = [draw(SIDES), draw(SIDES)]
    indices = {"shape": x, "dtype": draw(st.sampled_from(["int64"] * 4 + ["int32", "float64"])),
               "range": draw(st.sampled_from(["inside"] * 3 + ["wild"])), "layout": "contiguous"}
    return ({"x": draw(tensor_spec(x)), "indices": indices}, kwargs)


@st.composite
def _interpolate_kwargs(draw, op):
    mode, align_corners = draw(st.sampled_from([("nearest", None), ("bilinear", None),
                                                ("bilinear", False), ("bilinear", True),
                                                ("bicubic", None)]))
    scale = st.one_of(st.floats(0.2, 3.0), st.sampled_from([0.0, -1.0, 1e300]),
                      st.sampled_from(["inf", "nan"]))
    resize = draw(st.one_of(
        st.fixed_dictionaries({"size": pairs(st.integers(0, 7))}),
        st.fixed_dictionaries({"scale_factor": pairs(scale)})))
    return ({"x": draw(tensor_spec(draw(image())))},
            dict(resize, mode=mode, align_corners=align_corners))
