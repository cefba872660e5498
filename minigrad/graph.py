"""The backward pass: seed the roots' gradients, walk the graph, deliver to the leaves.

``Tensor.backward`` and :func:`grad` both come here. A :class:`BackwardPass` runs the three
steps in order; each is a method short enough to read at once.

Notation
--------
node       a Function: the graph node (see ``autograd.py``)
edge       ``(node, output_nr, leaf, shape, dtype)``: where one input's gradient goes, and the
           shape and dtype it must arrive in (see ``autograd.py``)
g          a gradient Tensor; ``grad_output`` inside a backward
pending    node -> list of its outputs' gradients, filled in as consumers run
"""
from . import backend
from .grad_mode import state
from .autograd import freed_graph_error, backward_on_arrays
from .tensor import Tensor
from .ops.shape import sum_to
from .trace import active_observers


class BackwardPass:
    """One run of backward from ``roots``.

    Nodes run in topological order by counting dependencies (Kahn's algorithm): a node runs once
    every node that consumes its outputs has sent its share of the gradient. A leaf's
    contributions are summed first and delivered once at the end, so its hooks see the total.

    Parameters
    ----------
    retain_graph : bool
        Keep each node's saved arrays, so that backward can run through the graph again.
    create_graph : bool
        Record the backward pass itself, for higher-order derivatives.
    targets : list of Tensor, optional
        ``mg.grad``'s inputs: their gradients are returned by :meth:`run` instead of being
        accumulated into ``.grad``.
    """

    def __init__(self, retain_graph, create_graph, targets=None):
        self.retain_graph = retain_graph
        self.anomaly = state.anomaly  # read once: a thread-local read per node is 0.1 µs
        self.create_graph = create_graph
        self.pending = {}
        self.leaf_grads = {}   # id(leaf) -> [leaf, sum, all terms fitted, sum ours]
        # Summing gradients: recorded as an op when the backward pass is itself differentiated;
        # otherwise a plain array sum, which skips an op's bookkeeping (most of the cost here).
        self.accumulate = _add_recorded if create_graph else _add_arrays
        # Arrays someone else may hold: a leaf's .grad must not share memory with them.
        self.handed_out = set()
        self.targets = targets
        self.captured = None if targets is None else [None] * len(targets)
        self.capture_at = {}   # (node, output_nr) -> positions in targets
        for i, t in enumerate(targets or ()):
            if t._grad_fn is not None:
                self.capture_at.setdefault((t._grad_fn, t._output_nr), []).append(i)

    def run(self, roots, root_grads):
        """Backpropagate ``root_grads`` from ``roots``; returns the targets' gradients (or None)."""
        root_nodes = self.seed(roots, root_grads)
        previous = state.grad_enabled
        state.grad_enabled = self.create_graph
        try:
            self.walk(root_nodes)
            self.deliver()
        finally:
            state.grad_enabled = previous
        return self.captured

    def seed(self, roots, root_grads):
        """Put each root's gradient where the walk starts; returns the nodes to start from."""
        root_nodes = []
        for t, g in zip(roots, root_grads):
            self.handed_out.add(id(g.data))
            node = t._grad_fn
            if node is None:
                self.add_to_leaf(t, g)
                continue
            if node not in self.pending:
                root_nodes.append(node)
            self.add_to_node(node, t._output_nr, g)
        return root_nodes

    def walk(self, root_nodes):
        """Run every node's backward once its consumers are done, routing gradients along
        its edges to the nodes and leaves that made its inputs."""
        dependencies = _count_dependencies(root_nodes)
        ready = [n for n in root_nodes if dependencies[n] == 0]
        observers = active_observers()  # mg.trace_backward's recorders; usually none
        pending = self.pending  # a local read per node, where self.pending is an attribute one
        while ready:
            node = ready.pop()
            edges = node._edges  # read first: a node without retain_graph drops them as it runs
            output_grads = pending.pop(node, None)
            input_grads = self.call_backward(node, output_grads)
            if observers:
                for observe in observers:
                    observe(node, edges, output_grads, input_grads)
            for i, edge in enumerate(edges):
                if edge is None:
                    continue
                child, output_nr, leaf, shape, dtype = edge
                g = None if input_grads is None else input_grads[i]
                if g is not None:
                    # Most gradients already have their input's shape and dtype; only the others
                    # go through the checks and conversions of _fit_to_input. A dtype that is
                    # equal but not the same object takes the slow path, which is still right.
                    if type(g) is not Tensor or g.data.shape != shape or g.data.dtype is not dtype:
                        g = _fit_to_input(node, i, g, shape, dtype)
                    if child is None:
                        self.add_to_leaf(leaf, g, fitted=True)
                    else:
                        self.add_to_node(child, output_nr, g)
                if child is not None:
                    left = dependencies[child] - 1
                    dependencies[child] = left
                    if left == 0:
                        ready.append(child)

    def deliver(self):
        """Hand each leaf its summed gradient: to ``mg.grad``'s result, or through the leaf's
        hooks into ``.grad``."""
        target_positions = {id(t): i for i, t in enumerate(self.targets or ())}
        for leaf, g, _, _ in self.leaf_grads.values():
            if self.targets is not None:
                if id(leaf) in target_positions:
                    self.captured[target_positions[id(leaf)]] = g
                continue
            if leaf._hooks:
                g = self.run_hooks(leaf._hooks, g)
            g = self.private(g)
            leaf.grad = g if leaf.grad is None else leaf.grad + g

    def call_backward(self, node, output_grads):
        """Run one node's hooks and backward; None when no gradient reached its outputs."""
        if output_grads is None:
            return None
        if node._hooks:
            for nr, hooks in node._hooks.items():
                if output_grads[nr] is not None:
                    output_grads[nr] = self.run_hooks(hooks, output_grads[nr])
        if self.capture_at:
            for nr, g in enumerate(output_grads):
                for i in self.capture_at.get((node, nr), ()):
                    self.captured[i] = g
        if len(output_grads) > 1:
            _fill_unused_outputs(node, output_grads)
        if node._saved is None:
            raise freed_graph_error(node)
        if node.backward_on_arrays and not self.create_graph:
            input_grads = backward_on_arrays(node, output_grads)
        else:
            input_grads = type(node).backward(node, *output_grads)
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        if len(input_grads) != len(node._edges):
            raise RuntimeError(f"{type(node).__name__}.backward returned {len(input_grads)} "
                               f"gradients for {len(node._edges)} inputs (one per positional "
                               "input of apply, None for those that need none)")
        if self.anomaly:
            _check_finite(node, input_grads)
        if not self.retain_graph:
            node._release()
        return input_grads

    def run_hooks(self, hooks, g):
        """``g`` through ``hooks`` (a node's or a leaf's). A hook may keep the gradient it saw
        (to record it) or return a tensor its caller holds, so what comes out is handed out:
        a leaf gets a copy of it (see ``private``), as PyTorch's does of a shared gradient."""
        g = _run_hooks(hooks, g)
        self.handed_out.add(id(g.data))
        return g

    def add_to_node(self, node, output_nr, g):
        slots = self.pending.get(node)
        if slots is None:
            slots = self.pending[node] = [None] * len(node._out_meta)
        slots[output_nr] = g if slots[output_nr] is None else self.accumulate(slots[output_nr], g)

    def add_to_leaf(self, leaf, g, fitted=False):
        """Add ``g`` to the sum of ``leaf``'s gradients; ``fitted`` says that g came along an
        edge, so it has the leaf's shape and dtype (a root's gradient need not).

        Once a sum is an array of this pass's own (made by adding, without create_graph) and
        every term was fitted, the next terms are added into it in place: no new array and
        Tensor per use of a leaf (a weight used at every step of a loop)."""
        entry = self.leaf_grads.get(id(leaf))
        if entry is None:
            self.leaf_grads[id(leaf)] = [leaf, g, fitted, False]
            return
        all_fitted = entry[2] = entry[2] and fitted
        if all_fitted and entry[3]:
            entry[1].data += g.data
        else:
            entry[1] = self.accumulate(entry[1], g)
            entry[3] = not self.create_graph

    def private(self, g):
        """``g`` as a gradient that a leaf may own: optimizers and clipping scale ``.grad`` in
        place, so it must be writable and shared with nothing. A fresh array that an op made is
        kept as it is; a view (of a broadcast or reshape), an array already given to another
        leaf (Add hands one gradient to both inputs) or one the caller or a hook holds is
        copied. With create_graph the copy stays attached to g's node, so it can still be
        differentiated."""
        array = g.data
        # CuPy's flags have no ``writeable``: its arrays always are
        if (array.base is not None or id(array) in self.handed_out
                or not getattr(array.flags, "writeable", True)):
            copy = Tensor._wrap(array.copy(), g.requires_grad)
            copy._grad_fn, copy._output_nr = g._grad_fn, g._output_nr
            g = copy
        self.handed_out.add(id(g.data))
        return g


def _fill_unused_outputs(node, output_grads):
    """An output of a multi-output op that no gradient reached gets zeros: its backward
    expects one gradient per output."""
    like = next(g for g in output_grads if g is not None)
    for nr, g in enumerate(output_grads):
        if g is None:
            shape, dtype = node._out_meta[nr]
            output_grads[nr] = Tensor._wrap(backend.xp_of(like.data).zeros(shape, dtype))


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, targets=None):
    """Propagate ``root_grads`` from ``roots`` (Tensors) back through the graph.

    Without ``targets``, gradients accumulate into the ``.grad`` of leaf Tensors. With
    ``targets`` (a list of Tensors), nothing is accumulated and their gradients are returned in
    order (``None`` where no path leads to one): this is ``mg.grad``.
    """
    return BackwardPass(retain_graph, create_graph, targets).run(roots, root_grads)


def _count_dependencies(roots):
    """Count, for every node reachable from ``roots``, how many edges point at it.

    An explicit stack instead of recursion, so a chain of 100,000 ops is no problem. The keys
    of the count are the nodes seen so far (the roots start at 0), so no separate set is kept:
    one dictionary lookup per edge instead of three.
    """
    dependencies = dict.fromkeys(roots, 0)
    stack = list(roots)
    while stack:
        for edge in stack.pop()._edges:
            if edge is None or edge[0] is None:  # no gradient wanted, or a leaf
                continue
            child = edge[0]
            if child in dependencies:
                dependencies[child] += 1
            else:
                dependencies[child] = 1
                stack.append(child)
    return dependencies


def _fit_to_input(node, i, g, shape, dtype):
    """The gradient ``g`` that ``node``'s backward returned for input ``i``, checked against
    that input and brought to its shape and dtype.

    A shape the input broadcasts to is summed back (the op broadcast the input); any other
    shape is a bug in the backward. A floating gradient of another precision is cast, as in
    PyTorch; an integer, boolean or complex gradient for a floating input (or the reverse) is
    an error, because casting would silently drop the fraction or the imaginary part.
    """
    if not isinstance(g, Tensor):
        raise TypeError(f"{type(node).__name__}.backward returned a {type(g).__name__} as the "
                        f"gradient of input {i} (shape {shape}); expected a Tensor or None")
    if g.data.shape != shape:
        if not _broadcasts_to(shape, g.data.shape):
            raise RuntimeError(
                f"{type(node).__name__}.backward returned a gradient of shape {g.shape} for "
                f"input {i} of shape {shape}; expected that shape, or one it broadcasts to")
        g = sum_to(g, shape)
    if g.data.dtype != dtype:
        if g.data.dtype.kind != dtype.kind:
            raise TypeError(
                f"{type(node).__name__}.backward returned a {g.dtype} gradient for input {i} "
                f"(shape {shape}) of dtype {dtype}; expected a gradient of the same "
                "kind (floating for floating, complex for complex)")
        g = g.astype(dtype)
    return g


def _broadcasts_to(shape, target):
    """True when an array of ``shape`` broadcasts to ``target`` (NumPy's rules)."""
    if len(shape) > len(target):
        return False
    lead = len(target) - len(shape)
    return all(n == 1 or n == m for n, m in zip(shape, target[lead:]))


def _run_hooks(hooks, g):
    """Pass ``g`` through ``hooks`` in order; a hook returning non-None replaces it. As in
    PyTorch, a replacement must keep the gradient's shape and dtype."""
    for hook in hooks:
        replaced = hook(g)
        if replaced is None:
            continue
        name = getattr(hook, "__qualname__", repr(hook))
        if not isinstance(replaced, Tensor):
            raise TypeError(f"hook {name} returned a {type(replaced).__name__} for a gradient "
                            f"of shape {g.shape}; expected a Tensor or None")
        if replaced.shape != g.shape or replaced.dtype != g.dtype:
            raise RuntimeError(f"hook {name} changed the gradient from shape {g.shape}, dtype "
                               f"{g.dtype} to shape {replaced.shape}, dtype {replaced.dtype}; "
                               "a hook must keep both")
        g = replaced
    return g


def _add_recorded(a, b):
    return a + b


def _add_arrays(a, b):
    return Tensor._wrap(a.data + b.data)


def _check_finite(node, input_grads):
    for i, g in enumerate(input_grads):
        if g is None:
            continue
        xp = backend.xp_of(g.data)
        if not bool(xp.isfinite(g.data).all()):
            where = node._trace
            origin = (f"; its forward was called at {where.filename}:{where.lineno} "
                      f"({where.line})" if where is not None else "")
            raise RuntimeError(f"detect_anomaly: {type(node).__name__}.backward returned NaN or "
                               f"inf in the gradient of input {i}{origin}")


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
    inputs : Tensor or sequence of Tensor
    grad_outputs : Tensor or sequence, optional
        The vector in the vector-Jacobian product, each of its output's shape; ones for
        one-element outputs when omitted.
    retain_graph : bool, optional
        Keep the graph's saved arrays; defaults to ``create_graph``.
    create_graph : bool
        Record the backward pass, so the result can be differentiated again.
    allow_unused : bool
        Return None for an input that ``outputs`` do not depend on, instead of raising.

    Returns
    -------
    tuple of Tensor (or None), each of its input's shape
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    if retain_graph is None:
        retain_graph = create_graph
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} "
                           "outputs; expected one per output (None for a one-element output)")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad")
    root_grads = [root_grad(t, g, "grad") for t, g in zip(outputs, grad_outputs)]
    result = run_backward(outputs, root_grads, retain_graph, create_graph, targets=inputs)
    for i, g in enumerate(result):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {inputs[i].shape}) was not used to "
                               "compute the outputs; pass allow_unused=True to get None for it")
    return tuple(result)


def root_grad(tensor, g, op):
    """The starting gradient of a backward pass: ones for a scalar, else it must be given."""
    if not tensor.requires_grad:
        raise RuntimeError(f"{op}: the tensor (shape {tensor.shape}) does not require grad and "
                           "has no grad_fn, so there is nothing to differentiate")
    if g is None:
        if tensor.data.size != 1:
            raise RuntimeError(f"{op}: gradient can be created implicitly only for scalar "
                               f"outputs, but the output has shape {tensor.shape}; pass the "
                               "gradient explicitly, e.g. backward(grad)")
        xp = backend.xp_of(tensor.data)
        return Tensor._wrap(xp.ones_like(tensor.data))
    if not isinstance(g, Tensor):
        g = Tensor(g, dtype=tensor.dtype, device=tensor.device)
    if g.shape != tensor.shape:
        raise RuntimeError(f"{op}: gradient of shape {g.shape} does not match the output's "
                           f"shape {tensor.shape}")
    return g
