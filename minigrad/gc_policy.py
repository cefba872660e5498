"""Full garbage collections sized to the live graph, so an op costs the same in any graph.

Why. Every Tensor and Function of a live graph is an object that Python's cyclic garbage
collector tracks, and a full collection scans every tracked object. CPython starts one after
about 70,000 net allocations (thresholds 700 x 10 x 10), once the objects promoted to the oldest
generation since the last one are a quarter of those already there. Building a graph therefore
pays a few full scans of that graph per op, and a scan slows down per object once the graph
outgrows the CPU's caches: a chain of elementwise ops cost 6.5 us per op at 1,000 ops, 22 at
10,000 and 4.2 at any length with the collector off. The scans are wasted work: the engine's
graph never forms a reference cycle (``tests/test_autograd_memory.py``), so reference counting
frees it and the collector never finds any of it to free. PyTorch does not pay this because its
nodes are C++ objects, out of the collector's sight.

What. While recorded nodes are alive, the collector's third threshold (how many collections of
the middle generation come between two full ones) is raised so that a full collection comes at
most once per ``RATIO`` times the live graph's objects allocated. The full collections then cost
about ``1 / RATIO`` of a scan per object allocated, however large the graph. What stays as it
was: the young collections (generations 0 and 1) run as often as before, so the user's cyclic
garbage that dies young, most of it, is collected just as soon; garbage that had already
reached the oldest generation waits at most until ``RATIO`` times the graph's own objects have
been allocated. Once the graph is freed (dropped, or spent by a backward pass without
``retain_graph``, or unwound by an exception half-built), the next collection puts the
threshold back.

How. Every recorded node holds a reference to one token, :data:`census`, which it drops when a
backward pass spends it; CPython's reference count of the token is then the number of live,
unspent nodes, kept exactly and at no cost by the reference counting the nodes undergo anyway.
A callback in ``gc.callbacks`` reads it at the start of every collection and sets the threshold
for the collections that follow. It only ever raises the third threshold above the value it
found, and puts that value back; if other code sets the thresholds in the meantime, theirs
stand and become the new base. CPython never runs two collections at once, so the callback is
never re-entered; ``uninstall()`` turns the policy off and restores the threshold.

Notation
--------
t0, t1, t2   the collector's thresholds (``gc.get_threshold()``): allocations per young
             collection, young collections per middle one, middle ones per full one
live         recorded nodes alive and not yet spent by a backward pass
"""
import gc
import math
import sys

# Objects the collector tracks per recorded node, counted with gc.get_objects() on the overhead
# chain (mul, add, tanh, sub): 5.8. They are the node, its edges tuple and an edge tuple per input
# that wants a gradient, the saved tuple with its entries (none to three), a version counter per
# saved output, and the input Tensors that the saved entries keep alive. An intermediate output
# Tensor is freed once its consumer has run forward, unless it is saved or the user holds it
# (out_meta tuples are untracked by the first collection that sees them). A rough figure is
# enough: it only scales the interval.
OBJECTS_PER_NODE = 6

# Objects allocated between two full collections, in units of the live graph's objects.
RATIO = 8


class _Census:
    """The token that every recorded node refers to (``node._census``)."""
    __slots__ = ()


census = _Census()
_FIXED_REFERENCES = sys.getrefcount(census)   # this module's name, and getrefcount's argument


def live_nodes():
    """How many recorded nodes are alive and not yet spent by a backward pass."""
    return sys.getrefcount(census) - _FIXED_REFERENCES


def full_collection_threshold(live, thresholds):
    """The third threshold that spaces full collections ``RATIO`` graphs' worth apart: never
    below the one in ``thresholds`` (``(t0, t1, t2)``)."""
    t0, t1, t2 = thresholds
    if t0 <= 0 or t1 <= 0:     # automatic collection is off, or only the youngest runs
        return t2
    return max(t2, math.ceil(RATIO * OBJECTS_PER_NODE * live / (t0 * t1)))


class _Policy:
    """What the callback remembers between collections: the thresholds it found (``base``) and
    those it set (``applied``), both None while the thresholds are the base ones."""
    base = None
    applied = None


def _before_collection(phase, info):
    """The ``gc.callbacks`` entry: at the start of each collection, size the next full ones."""
    if phase != "start":
        return
    current = gc.get_threshold()
    if _Policy.applied is not None and current != _Policy.applied:
        _Policy.base = _Policy.applied = None    # someone else set the thresholds: keep them
    base = _Policy.base or current
    t0, t1, t2 = base
    wanted = (t0, t1, full_collection_threshold(live_nodes(), base))
    if wanted == base:
        if _Policy.applied is not None:
            gc.set_threshold(*base)
            _Policy.base = _Policy.applied = None
    elif wanted != current:
        gc.set_threshold(*wanted)
        _Policy.base, _Policy.applied = base, wanted


def install():
    """Turn the policy on (``import minigrad`` does)."""
    if _before_collection not in gc.callbacks:
        gc.callbacks.append(_before_collection)


def uninstall():
    """Turn the policy off and put back the thresholds it found."""
    while _before_collection in gc.callbacks:
        gc.callbacks.remove(_before_collection)
    if _Policy.applied is not None and gc.get_threshold() == _Policy.applied:
        gc.set_threshold(*_Policy.base)
    _Policy.base = _Policy.applied = None


install()
