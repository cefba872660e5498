"""Strategies for the fused optimizer tests: parameters, gradient schedules and options.

A *schedule* is what one test run feeds an optimizer: the starting parameters and, for each
step, a gradient for each parameter or None (a parameter without a gradient that step is
skipped, so its state falls behind the others'). Gradients come in several memory layouts,
since the fused kernels must read a strided gradient as NumPy does.

Notation
--------
schedule    dict: ``params`` (list of arrays), ``steps`` (list of lists of array or None)
layout      'contiguous', 'fortran' (column-major) or 'strided' (every other entry of a
            larger array)
"""
import numpy as np
from hypothesis import strategies as st

LAYOUTS = ("contiguous", "fortran", "strided")


def laid_out(a, layout):
    """The values of ``a`` in the given memory layout."""
    if layout == "fortran" and a.ndim > 0:  # asfortranarray makes a 0-d array 1-d
        return np.asfortranarray(a)
    if layout == "strided" and a.ndim > 0:
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        wide[..., ::2] = a
        return wide[..., ::2]
    return a


@st.composite
def schedules(draw, dtypes=("float32", "float64"), max_params=3, max_steps=4):
    """Parameters of random shapes (0-d and empty ones too), one dtype, and a few steps of
    gradients in random layouts, some missing."""
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shapes = draw(st.lists(st.lists(st.integers(0, 5), max_size=3).map(tuple),
                           min_size=1, max_size=max_params))
    params = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in shapes]
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        grads = []
        for shape in shapes:
            if draw(st.booleans()) or not steps:
                scale = draw(st.sampled_from([1.0, 1e-3, 1e3]))
                g = np.asarray(scale * rng.standard_normal(shape), dtype=dtype)
                grads.append(laid_out(g, draw(st.sampled_from(LAYOUTS))))
            else:
                grads.append(None)
        steps.append(grads)
    return {"params": params, "steps": steps}


@st.composite
def sgd_options(draw):
    """SGD's keywords; nesterov only where it is allowed (momentum > 0, no dampening)."""
    momentum = draw(st.sampled_from([0.0, 0.5, 0.9]))
    dampening = draw(st.sampled_from([0.0, 0.3]))
    nesterov = momentum > 0 and dampening == 0 and draw(st.booleans())
    return dict(lr=draw(st.sampled_from([0.0, 0.01, 0.5])), momentum=momentum,
                dampening=dampening, weight_decay=draw(st.sampled_from([0.0, 0.1])),
                nesterov=nesterov, maximize=draw(st.booleans()))


@st.composite
def adam_options(draw):
    """Adam's keywords, decoupled weight decay (AdamW's rule) included."""
    return dict(lr=draw(st.sampled_from([0.001, 0.1])),
                betas=draw(st.sampled_from([(0.9, 0.999), (0.5, 0.9), (0.0, 0.0)])),
                eps=draw(st.sampled_from([1e-8, 1e-3, 0.0])),
                weight_decay=draw(st.sampled_from([0.0, 0.1])),
                amsgrad=draw(st.booleans()), maximize=draw(st.booleans()),
                decoupled_weight_decay=draw(st.booleans()))


PARAM_DTYPES = ["float32", "float64"] * 4 + ["float16"]
GRAD_DTYPES = ["same"] * 12 + ["float16", "float32", "float64", "int64"]


@st.composite
def optimizer_cases(draw):
    """A JSON case for the optimizer fuzzer (test_fuzz_optim.py): an optimizer, its options
    (``foreach`` and ``fused`` among them), parameters of drawn shapes, dtypes and layouts,
    and their gradients: mostly fitting, sometimes of another dtype or shape, or missing."""
    name = draw(st.sampled_from(["SGD", "Adam", "AdamW"]))
    if name == "SGD":
        options = draw(sgd_options())
    else:
        options = draw(adam_options())
        options["betas"] = list(options["betas"])
        if name == "AdamW":
            del options["decoupled_weight_decay"]
    switch = draw(st.sampled_from([(None, None)] * 3 + [(False, None), (True, None), (None, True),
                                   (False, True), (False, False), (True, True)]))
    options["foreach"], options["fused"] = switch
    params, grads = [], []
    for _ in range(draw(st.integers(1, 3))):
        shape = draw(st.lists(st.integers(0, 4), max_size=3))
        dtype = draw(st.sampled_from(PARAM_DTYPES))
        params.append({"shape": shape, "dtype": dtype, "layout": draw(st.sampled_from(LAYOUTS))})
        grad_dtype = draw(st.sampled_from(GRAD_DTYPES))
        grad_shape = shape if draw(st.integers(0, 19)) else shape + [1]
        grads.append(None if draw(st.integers(0, 7)) == 0 else
                     {"shape": grad_shape, "dtype": dtype if grad_dtype == "same" else grad_dtype,
                      "layout": draw(st.sampled_from(LAYOUTS))})
    return {"op": name, "seed": draw(st.integers(0, 2**31 - 1)), "options": options,
            "params": params, "grads": grads, "steps": draw(st.integers(1, 3))}
