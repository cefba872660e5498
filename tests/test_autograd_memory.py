"""Issue 19's invariant: forward and backward create no reference cycle, and a node's saved
arrays are freed as soon as it has run (without retain_graph)."""
import gc
import weakref

import numpy as np
import pytest

import minigrad as mg


@pytest.fixture
def saveall():
    """gc.DEBUG_SAVEALL: whatever a collection finds unreachable is kept in gc.garbage, so a
    test can say what formed a cycle.

    The steps run once first: the first call of a kernel in a process loads it (Numba builds
    its types then, in cycles), which is the import's garbage, not the step's."""
    mlp_step(np.random.default_rng(0))
    unused_graph()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    yield
    gc.set_debug(0)
    gc.garbage.clear()
    gc.collect()


def mlp_step(rng):
    w1 = mg.tensor(rng.standard_normal((8, 16)), requires_grad=True)
    b1 = mg.tensor(np.zeros(16), requires_grad=True)
    w2 = mg.tensor(rng.standard_normal((16, 1)), requires_grad=True)
    x = mg.tensor(rng.standard_normal((4, 8)))
    loss = ((x @ w1 + b1).relu() @ w2).exp().sum()
    loss.backward()
    del loss
    return w1, b1, w2


def test_a_training_step_leaves_nothing_for_the_cycle_collector(saveall):
    params = mlp_step(np.random.default_rng(0))
    found = gc.collect()
    assert found == 0, f"reference cycles: {[type(o).__name__ for o in gc.garbage][:10]}"
    assert all(p.grad is not None for p in params)


def unused_graph():
    x = mg.tensor(np.ones(3), requires_grad=True)
    y = (x.exp() * x).tanh().sum()
    del y


def test_dropping_an_unused_graph_leaves_no_cycle(saveall):
    unused_graph()
    assert gc.collect() == 0


def test_saved_arrays_are_freed_as_soon_as_their_node_has_run():
    x = mg.tensor(np.linspace(0.1, 1.0, 50), requires_grad=True)
    h = x * 2                      # an earlier node: its hook runs after Exp's backward
    y = h.exp()                    # Exp saves its output array
    exp_node, saved = y.grad_fn, weakref.ref(y.data)
    loss = y.sum()
    del y
    seen = {}

    def hook(g):
        seen["saved"], seen["array alive"] = exp_node._saved, saved() is not None

    h.register_hook(hook)
    loss.backward()
    assert seen == {"saved": None, "array alive": False}


def test_retain_graph_keeps_saved_arrays_until_the_graph_is_dropped():
    x = mg.tensor(np.linspace(0.1, 1.0, 5), requires_grad=True)
    y = x.exp()
    saved = weakref.ref(y.data)
    loss = y.sum()
    del y
    loss.backward(retain_graph=True)
    assert saved() is not None
    del loss
    assert saved() is None         # freed by reference counting, without a gc pass


def test_a_spent_graph_lets_go_of_its_inputs_while_its_root_is_kept():
    x = mg.tensor(np.linspace(0.1, 1.0, 5), requires_grad=True)
    w = mg.tensor(np.ones(5), requires_grad=True)
    loss = (x * w).exp().sum()
    held = weakref.ref(w)
    loss.backward()
    grad_w = w.grad
    del w
    assert held() is None            # the spent nodes dropped their edges
    assert loss.grad_fn is not None
    np.testing.assert_allclose(grad_w.numpy(), np.exp(x.numpy()) * x.numpy())
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
