"""Issue 19's collector policy (minigrad/gc_policy.py): full collections are spaced by the live
graph's size while one is alive, the thresholds found are put back once it is freed, and the
user's cyclic garbage is still collected meanwhile."""
import gc
import weakref

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad import gc_policy


class Cycle:
    """User garbage that only the cyclic collector can free: it refers to itself."""

    def __init__(self):
        self.me = self


@pytest.fixture
def default_thresholds():
    """Start from CPython's defaults and leave them as found."""
    saved = gc.get_threshold()
    gc.collect()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)


def chain(n, factor=1.0001):
    """n recorded Mul nodes: (leaf x, x * factor ** n)."""
    x = mg.tensor(np.ones((2, 2)), requires_grad=True)
    y = x
    for _ in range(n):
        y = y * factor
    return x, y


@given(n=st.integers(0, 40))
@settings(max_examples=20, deadline=None)
def test_live_nodes_counts_recorded_nodes_until_backward_spends_them(n):
    before = gc_policy.live_nodes()
    x, y = chain(n, 1.5)
    with mg.no_grad():
        (y * 2).sum()                      # not recorded: not counted
    assert gc_policy.live_nodes() - before == n
    if n:
        y.sum().backward()
        assert gc_policy.live_nodes() == before       # spent nodes drop their token
        np.testing.assert_allclose(x.grad.numpy(), np.full((2, 2), 1.5 ** n))
    del x, y
    assert gc_policy.live_nodes() == before


@given(live=st.integers(0, 10 ** 7), t0=st.integers(1, 5000), t1=st.integers(1, 50),
       t2=st.integers(0, 100))
def test_the_threshold_spaces_full_collections_ratio_graphs_apart(live, t0, t1, t2):
    wanted = gc_policy.full_collection_threshold(live, (t0, t1, t2))
    objects = gc_policy.RATIO * gc_policy.OBJECTS_PER_NODE * live
    assert wanted >= t2                                   # never below what was found
    assert wanted == t2 or (wanted - 1) * t0 * t1 < objects <= wanted * t0 * t1


def test_automatic_collection_turned_off_is_left_off():
    assert gc_policy.full_collection_threshold(10 ** 6, (0, 10, 10)) == 10


def test_a_large_graph_raises_the_third_threshold_and_freeing_it_restores(default_thresholds):
    x, y = chain(5000)
    gc.collect(0)                           # any collection lets the policy look
    t0, t1, t2 = gc.get_threshold()
    assert (t0, t1) == (700, 10)
    assert t2 == gc_policy.full_collection_threshold(gc_policy.live_nodes(), (700, 10, 10)) > 10
    del x, y
    gc.collect(0)
    assert gc.get_threshold() == (700, 10, 10)


def test_backward_spends_the_graph_and_the_thresholds_come_back(default_thresholds):
    x, y = chain(5000)
    loss = y.sum()
    gc.collect(0)
    assert gc.get_threshold()[2] > 10
    loss.backward()
    gc.collect(0)
    assert gc.get_threshold() == (700, 10, 10)
    assert loss.grad_fn is not None         # the root is still held, but spent


def test_a_graph_unwound_by_an_exception_restores_the_thresholds(default_thresholds):
    def forward():
        x, y = chain(5000)
        gc.collect(0)
        assert gc.get_threshold()[2] > 10
        return y @ mg.ones(3, 3)            # shapes (2, 2) @ (3, 3): raises

    with pytest.raises(ValueError, match="MatMul|matmul"):
        forward()
    gc.collect(0)
    assert gc.get_threshold() == (700, 10, 10)


def test_thresholds_set_by_the_user_meanwhile_are_kept(default_thresholds):
    x, y = chain(5000)
    gc.collect(0)
    assert gc.get_threshold()[2] > 10
    gc.set_threshold(1000, 20, 30)
    gc.collect(0)
    assert gc.get_threshold()[:2] == (1000, 20)         # theirs are the base from now on
    del x, y
    gc.collect(0)
    assert gc.get_threshold() == (1000, 20, 30)


def test_young_user_garbage_is_collected_while_a_large_graph_is_alive(default_thresholds):
    x, y = chain(20000)
    gc.collect(0)
    assert gc.get_threshold()[2] > 10
    garbage = weakref.ref(Cycle())
    kept = [[i] for i in range(20000)]       # allocations only: no explicit collection
    assert garbage() is None
    del kept


def test_old_user_garbage_is_collected_after_ratio_graphs_of_allocations(default_thresholds):
    x, y = chain(2000)
    cycle = Cycle()
    gc.collect(1)                            # now in the oldest generation
    gc.collect(0)
    assert gc.get_threshold()[2] > 10
    freed = []
    # A callback says when it is freed: calling the weak reference in the loop would hold the
    # object for a moment, and from Python 3.12 on a collection can start just then.
    garbage = weakref.ref(cycle, lambda ref: freed.append(True))
    del cycle
    # The policy spaces full collections by RATIO graphs' worth of allocations; Python's own rule
    # also waits until the objects that survived since the last full collection are a quarter
    # of the oldest generation, which in a long test run (coverage on, every module loaded) can
    # be the larger of the two. Twice their sum allows for both.
    oldest = len(gc.get_objects(generation=2))
    bound = 2 * (gc_policy.RATIO * gc_policy.OBJECTS_PER_NODE * 2000 + oldest // 4)
    kept = []
    while not freed and len(kept) < bound:
        kept.append([len(kept)])
    assert garbage() is None, f"still alive after {len(kept)} allocations"
    assert len(kept) > 700 * 10 * 10, "freed by an ordinary full collection: the test is moot"


def test_uninstall_restores_and_install_is_idempotent(default_thresholds):
    x, y = chain(5000)
    gc.collect(0)
    assert gc.get_threshold()[2] > 10
    gc_policy.uninstall()
    try:
        assert gc.get_threshold() == (700, 10, 10)
        gc.collect(0)
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc_policy.install()
        gc_policy.install()
    assert gc.callbacks.count(gc_policy._before_collection) == 1
