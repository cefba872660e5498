"""Reductions: ``keepdims`` and ``axis`` forms, tie splitting of max/min, ``correction``."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad.ops.reduce import Max, Min

RNG = np.random.default_rng(2)
AXES = [None, 0, 1, -1, (0, 2)]


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_axis_and_keepdims(axis, keepdims):
    x = RNG.uniform(0.5, 1.5, size=(2, 3, 4))
    t = mg.tensor(x)
    for name, ref in (("sum", np.sum), ("mean", np.mean), ("amax", np.max), ("amin", np.min),
                      ("prod", np.prod)):
        out = getattr(mg, name)(t, axis, keepdims)
        expected = ref(x, axis=axis, keepdims=keepdims)
        assert out.shape == np.shape(expected), name
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)
    m = x.max(axis=axis, keepdims=True)
    lse = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    np.testing.assert_allclose(mg.logsumexp(t, axis, keepdims).numpy(),
                               lse if keepdims else np.squeeze(lse, axis), rtol=1e-6)


@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize("keepdims", [False, True])
def test_var_and_std_correction(correction, keepdims):
    x = RNG.normal(size=(4, 5))
    for axis in (None, 1):
        np.testing.assert_allclose(
            mg.var(mg.tensor(x), axis, keepdim=keepdims, correction=correction).numpy(),
            np.var(x, axis=axis, ddof=correction, keepdims=keepdims), rtol=1e-5)
        np.testing.assert_allclose(
            mg.std(mg.tensor(x), axis, keepdim=keepdims, correction=correction).numpy(),
            np.std(x, axis=axis, ddof=correction, keepdims=keepdims), rtol=1e-5)


@given(values=st.lists(st.sampled_from([0.0, 1.0, 3.0]), min_size=6, max_size=6),
       axis=st.sampled_from([None, 0, 1]))
def test_max_and_min_reductions_split_ties_evenly(values, axis):
    x = np.array(values).reshape(2, 3)
    for fn, ref in ((mg.amax, np.max), (mg.amin, np.min)):
        t = mg.tensor(x, requires_grad=True)
        (g,) = mg.grad(fn(t, axis).sum(), (t,))
        hit = x == ref(x, axis=axis, keepdims=True)
        np.testing.assert_allclose(g.numpy(), hit / hit.sum(axis=axis, keepdims=True))


def test_max_and_min_are_separate_functions():
    t = mg.tensor([[1.0, 2.0]], requires_grad=True)
    assert type(t.amax(1).grad_fn) is Max and type(t.amin(1).grad_fn) is Min
    with pytest.raises(ValueError, match=r"min: cannot reduce an empty axis \(shape \(1, 0\)"):
        mg.min(mg.tensor(np.zeros((1, 0))), 1)


def test_reduction_options_vs_torch():
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    for name in ("amax", "amin"):
        ours = mg.tensor(x, requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        getattr(mg, name)(ours, 1, keepdims=True).sum().backward()
        getattr(torch, name)(theirs, 1, keepdim=True).sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())
    for correction in (0, 1):
        np.testing.assert_allclose(mg.var(mg.tensor(x), 1, correction=correction).numpy(),
                                   torch.var(torch.tensor(x), 1, correction=correction).numpy())
    np.testing.assert_allclose(mg.logsumexp(mg.tensor(x), 0, keepdims=True).numpy(),
                               torch.logsumexp(torch.tensor(x), 0, keepdim=True).numpy())
