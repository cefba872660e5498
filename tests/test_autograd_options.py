"""Every documented flag of the graph walk, alone and in the combinations users rely on.

Each test asserts exact values from a hand derivation (written in the test) of small
polynomials, so a flag that is ignored, inverted or applied twice changes a number.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
import optim
from layers import Linear, Parameter
from strategies import values


def leaf(values_):
    return mg.tensor(np.asarray(values_, dtype=np.float64), requires_grad=True)


def test_create_graph_implies_retain_graph():
    x = leaf([1.0, 2.0])
    y = (x ** 3).sum()
    y.backward(create_graph=True)               # retain_graph left at False
    y.backward()                                # the graph is still there
    np.testing.assert_array_equal(x.grad.numpy(), 2 * 3 * np.array([1.0, 4.0]))
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()                            # ... but the plain backward freed it


def test_retain_graph_without_create_graph_records_nothing():
    x = leaf([3.0])
    y = x * x
    y.backward(retain_graph=True)
    assert x.grad.grad_fn is None and not x.grad.requires_grad
    y.backward(retain_graph=False)
    np.testing.assert_array_equal(x.grad.numpy(), [12.0])
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_grad_retain_graph_defaults_to_create_graph():
    x = leaf([2.0])
    y = (x ** 3).sum()
    (g,) = mg.grad(y, x, create_graph=True)     # retain_graph defaults to True here
    (again,) = mg.grad(y, x)                    # ... and to False here
    np.testing.assert_array_equal(g.numpy(), again.numpy())
    with pytest.raises(RuntimeError, match="second time"):
        mg.grad(y, x)
    z = (x * x).sum()
    mg.grad(z, x, retain_graph=True)
    np.testing.assert_array_equal(mg.grad(z, x)[0].numpy(), [4.0])


def test_allow_unused_with_create_graph():
    x, unused = leaf([1.5]), leaf([7.0])
    y = (x ** 3).sum()
    gx, gu = mg.grad(y, [x, unused], create_graph=True, allow_unused=True)
    assert gu is None and gx.requires_grad
    (second,) = mg.grad(gx.sum(), x)            # d/dx 3x² = 6x
    np.testing.assert_array_equal(second.numpy(), [9.0])
    with pytest.raises(RuntimeError, match=r"input 1 \(shape \(1,\)\) was not used"):
        mg.grad((x * 2).sum(), [x, unused], create_graph=True)


def test_grad_outputs_given_omitted_and_wrong():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    v = np.array([1.0, -1.0, 0.5])
    (g,) = mg.grad(y, x, grad_outputs=mg.tensor(v), retain_graph=True)
    np.testing.assert_array_equal(g.numpy(), 2 * x.numpy() * v)      # vᵀ J, J = diag(2x)
    (g,) = mg.grad(y, x, grad_outputs=[v], retain_graph=True)         # an array is accepted
    np.testing.assert_array_equal(g.numpy(), 2 * x.numpy() * v)
    with pytest.raises(RuntimeError, match="only for scalar outputs.*shape \\(3,\\)"):
        mg.grad(y, x, retain_graph=True)
    with pytest.raises(RuntimeError, match=r"gradient of shape \(2,\) does not match the "
                                           r"output's shape \(3,\)"):
        mg.grad(y, x, grad_outputs=mg.ones(2, dtype=np.float64), retain_graph=True)
    (g,) = mg.grad((x * x).sum(), x)                                  # scalar: ones
    np.testing.assert_array_equal(g.numpy(), 2 * x.numpy())


def test_grad_outputs_one_per_output():
    x = leaf([1.0, 2.0])
    a, b = x * 2, x * x
    (g,) = mg.grad([a, b], x, grad_outputs=[mg.ones(2, dtype=np.float64),
                                            mg.tensor([10.0, 100.0])])
    np.testing.assert_array_equal(g.numpy(), [2 + 20.0, 2 + 400.0])


def test_grad_outputs_of_the_wrong_count_is_an_error():
    # Fewer grad_outputs than outputs must not silently drop an output (PyTorch raises too).
    x = leaf([1.0, 2.0])
    with pytest.raises((RuntimeError, ValueError), match="2.*1|1.*2"):
        mg.grad([x * 2, x * 3], x, grad_outputs=[mg.ones(2, dtype=np.float64)])


def test_backward_gradient_argument():
    x = leaf([1.0, 2.0])
    (x * x).backward(mg.tensor([3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 16.0])
    x.grad = None
    (x * x).backward(grad=np.array([1.0, -1.0]))                      # an array works too
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0])
    with pytest.raises(RuntimeError, match=r"backward: gradient of shape \(3,\)"):
        (x * x).backward(mg.ones(3, dtype=np.float64))
    with pytest.raises(RuntimeError, match="implicitly only for scalar"):
        (x * x).backward()


@given(values((3,)), values((3,), salt=1))
def test_gradients_accumulate_across_backward_calls_and_flags(a, b):
    x = leaf(a)
    (x * x).sum().backward(create_graph=True)   # 2x, with a graph
    (x * mg.tensor(b)).sum().backward()         # + b, without
    np.testing.assert_allclose(x.grad.numpy(), 2 * a + b, rtol=1e-12)


def test_module_zero_grad_set_to_none_or_zeros():
    layer = Linear(2, 1).double()
    x = mg.tensor([[1.0, 2.0]])
    layer(x).sum().backward()
    layer.zero_grad(set_to_none=False)
    assert layer.weight.grad.tolist() == [[0.0, 0.0]] and layer.bias.grad.tolist() == [0.0]
    layer(x).sum().backward()                   # accumulates onto the zeros
    assert layer.weight.grad.tolist() == [[1.0, 2.0]] and layer.bias.grad.tolist() == [1.0]
    layer.zero_grad()                           # default: set_to_none=True
    assert layer.weight.grad is None and layer.bias.grad is None


def test_optimizer_zero_grad_none_skips_the_step_zeros_do_not():
    # SGD with weight decay moves a parameter whose gradient is zero (p -= lr·wd·p) but skips
    # one whose gradient is None, so the two settings give different parameters.
    for set_to_none, expected in ((False, 2.0 * (1 - 0.1 * 0.5)), (True, 2.0)):
        p = Parameter(mg.tensor([2.0], dtype=np.float64))
        opt = optim.SGD([p], lr=0.1, weight_decay=0.5)
        (p * 3).sum().backward()
        opt.zero_grad(set_to_none=set_to_none)
        assert (p.grad is None) == set_to_none
        opt.step()
        assert p.tolist() == [expected]


def test_leaf_grad_after_create_graph_can_be_changed_in_place():
    # Optimizers, clipping and zero_grad(set_to_none=False) write into .grad; a backward with
    # create_graph=True must leave a writable gradient there too (here the gradient of a sum,
    # which the engine otherwise hands over as a read-only broadcast view).
    p = Parameter(mg.tensor([3.0, 4.0], dtype=np.float64))
    p.sum().backward(create_graph=True)
    optim.clip_grad_norm_([p], 1.0)
    np.testing.assert_allclose(p.grad.numpy(), np.array([1.0, 1.0]) / np.sqrt(2), rtol=1e-5)
    layer = Linear(2, 1).double()
    layer.bias.sum().backward(create_graph=True)
    layer.zero_grad(set_to_none=False)
    assert layer.bias.grad.tolist() == [0.0]


def test_hook_returning_none_keeps_the_gradient_and_a_replacement_chains():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))        # None: observe only
    x.register_hook(lambda g: g * 10)                                # replace
    x.register_hook(lambda g: seen.append(g.numpy().copy()))        # sees the replacement
    (x * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(seen[1], [30.0, 30.0])
    np.testing.assert_array_equal(x.grad.numpy(), [30.0, 30.0])


def test_non_leaf_hook_replacement_flows_upstream_and_removal_restores():
    x = leaf([1.0, 2.0])
    mid = x * x
    handle = mid.register_hook(lambda g: g + 1)
    mid.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.numpy() * 2)  # (1 + 1) · 2x
    handle.remove()
    x.grad = None
    mid.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.numpy())


def test_hook_with_create_graph_is_part_of_the_new_graph():
    x = leaf([1.0, 3.0])
    x.register_hook(lambda g: g * x)            # 2x · x = 2x², recorded
    (x * x).sum().backward(create_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.numpy() ** 2)
    assert x.grad.requires_grad
    x2 = leaf([1.0, 3.0])
    (g,) = mg.grad((x2 * x2).sum(), x2, create_graph=True)
    g.register_hook(lambda t: t * 5)            # a hook on a gradient that is itself a graph
    (gg,) = mg.grad((g * g).sum(), x2)          # d/dx Σ(2x)² = 8x, times 5 from the hook
    np.testing.assert_array_equal(gg.numpy(), 5 * 8 * x2.numpy())


def test_requires_grad_toggles_tracking_on_leaves_only():
    x = mg.tensor([2.0], dtype=np.float64)
    assert (x * x).grad_fn is None
    assert x.requires_grad_() is x and x.requires_grad
    (x * x).sum().backward()
    assert x.grad.tolist() == [4.0]
    x.requires_grad_(False)
    assert (x * x).grad_fn is None and not (x * x).requires_grad
    with pytest.raises(RuntimeError, match="only change leaf tensors"):
        (leaf([1.0]) * 2).requires_grad_(False)
    with pytest.raises(TypeError, match="only floating point"):
        mg.tensor([1, 2]).requires_grad_()


def test_detach_shares_memory_and_stops_gradients():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert d.grad_fn is None and not d.requires_grad and d.is_leaf
    base = x.detach()
    assert np.shares_memory(base.data, x.data)
    y = (x * (x * 2).detach()).sum()            # d/dx = the detached factor 2x only
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_grad_mode_nesting_and_restoration():
    x = leaf([1.0])
    with mg.no_grad():
        with mg.enable_grad():
            assert mg.is_grad_enabled()
            with mg.no_grad():
                assert (x * 2).grad_fn is None
            assert (x * 2).grad_fn is not None
        assert not mg.is_grad_enabled()
        with mg.set_grad_enabled(True):
            assert (x * 2).requires_grad
    assert mg.is_grad_enabled()
    with pytest.raises(ValueError):
        with mg.no_grad():
            raise ValueError("inside")
    assert mg.is_grad_enabled()                 # restored after an exception too

    @mg.enable_grad()
    def tracked(t):
        return t * 3

    with mg.no_grad():
        assert tracked(x).grad_fn is not None


def test_retain_grad_keeps_the_total_and_is_a_no_op_on_leaves():
    x = leaf([1.0, 2.0])
    x.retain_grad()
    mid = x * 3
    mid.retain_grad()
    (mid * mid).sum().backward(retain_graph=True)
    np.testing.assert_array_equal(mid.grad.numpy(), [6.0, 12.0])     # 2·mid
    np.testing.assert_array_equal(x.grad.numpy(), [18.0, 36.0])      # once, not twice
    (mid * mid).sum().backward()
    np.testing.assert_array_equal(mid.grad.numpy(), [12.0, 24.0])    # accumulates like .grad


def test_retain_grad_twice_stores_the_gradient_once():
    x = leaf([1.0, 2.0])
    mid = x * 3
    mid.retain_grad()
    mid.retain_grad()                           # idempotent, as in PyTorch
    (mid * mid).sum().backward()
    np.testing.assert_array_equal(mid.grad.numpy(), [6.0, 12.0])
