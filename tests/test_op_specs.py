"""Generated tests: for every OpSpec and device, forward vs the NumPy reference, gradcheck and
gradgradcheck in float64 on hypothesis-drawn inputs."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from op_specs import SPECS

IDS = [s.name for s in SPECS]


def _tensors(arrays, device):
    return [mg.tensor(a, dtype=np.float64, device=device, requires_grad=True) for a in arrays]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@given(data=st.data())
def test_forward_matches_reference(spec, device, data):
    arrays, params = data.draw(spec.inputs)
    out = spec.fn(*_tensors(arrays, device), **params)
    expected = spec.reference(*arrays, **params)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@given(data=st.data())
def test_gradcheck(spec, device, data):
    arrays, params = data.draw(spec.inputs)
    inputs = _tensors(arrays, device)
    assert mg.gradcheck(lambda *xs: spec.fn(*xs, **params), inputs, atol=spec.atol,
                        rtol=spec.rtol)


SECOND_ORDER = [s for s in SPECS if s.second_order]


@pytest.mark.parametrize("spec", SECOND_ORDER, ids=[s.name for s in SECOND_ORDER])
@given(data=st.data())
def test_gradgradcheck(spec, device, data):
    arrays, params = data.draw(spec.inputs)
    inputs = _tensors(arrays, device)
    assert mg.gradgradcheck(lambda *xs: spec.fn(*xs, **params), inputs, atol=spec.atol,
                            rtol=spec.rtol)
