"""Generated tests: for every OpSpec and device, forward vs the NumPy reference, gradcheck and
gradgradcheck in float64 on hypothesis-drawn inputs and options."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from op_specs import SPECS

IDS = [s.name for s in SPECS]


def _tensors(arrays, device):
    return [mg.tensor(a, dtype=np.float64, device=device, requires_grad=True) for a in arrays]


def _device_uniform(device):
    """``uniform(seed, shape)`` from the generator that minigrad's ops draw from on ``device``
    (NumPy's on the CPU, CuPy's on a GPU), for the references of ops that draw random masks."""
    def uniform(seed, shape):
        mg.manual_seed(seed)
        return mg.rand(*shape, dtype=np.float64, device=device).numpy()
    return uniform


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@given(data=st.data())
def test_forward_matches_reference(spec, device, data):
    arrays, params = data.draw(spec.inputs)
    with spec.context():
        outs = _as_tuple(spec.fn(*_tensors(arrays, device), **params))
    stream = {"uniform": _device_uniform(device)} if spec.draws_random else {}
    expected = _as_tuple(spec.reference(*arrays, **params, **stream))
    assert len(outs) == len(expected)
    for out, value in zip(outs, expected):
        assert out.shape == np.shape(value)
        np.testing.assert_allclose(out.numpy(), value, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@given(data=st.data())
def test_gradcheck(spec, device, data):
    arrays, params = data.draw(spec.inputs)
    inputs = _tensors(arrays, device)
    with spec.context():
        assert mg.gradcheck(lambda *xs: spec.fn(*xs, **params), inputs, atol=spec.atol,
                            rtol=spec.rtol)


SECOND_ORDER = [s for s in SPECS if s.second_order]


@pytest.mark.parametrize("spec", SECOND_ORDER, ids=[s.name for s in SECOND_ORDER])
@given(data=st.data())
def test_gradgradcheck(spec, device, data):
    arrays, params = data.draw(spec.inputs)
    inputs = _tensors(arrays, device)
    with spec.context():
        assert mg.gradgradcheck(lambda *xs: spec.fn(*xs, **params), inputs, atol=spec.atol,
                                rtol=spec.rtol)
