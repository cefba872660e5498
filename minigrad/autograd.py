"""Reverse-mode automatic differentiation: the `Function` node, grad mode, and the graph walk.

Every differentiable op is a subclass of :class:`Function`. Its ``forward`` works on raw arrays,
its ``backward`` on Tensors built from minigrad ops, so a backward pass run with
``create_graph=True`` records a graph of its own and can be differentiated again.

Notation
--------
node     a Function instance: the ``ctx`` of forward/backward and the graph node at once
edge     ``(child, output_nr, leaf, shape, dtype)`` for each input: where that input's gradient
         goes (the node that made the input and which of its outputs, or the leaf Tensor)
g        the gradient flowing backwards; ``grad_output`` inside a backward
"""
import contextlib
import os
import traceback

import numpy as np

from . import backend

# Bound by tensor.py once the Tensor class exists (tensor.py imports this module first, so a
# plain import here would be circular); a module global is also the fastest lookup in the
# hot path of Function.apply.
Tensor = None
sum_to = None


class _Mode:
    """Process-wide switches (class attributes are the fastest global state in CPython)."""
    grad_enabled = True
    anomaly = False


def is_grad_enabled():
    """True when ops record the graph (the default)."""
    return _Mode.grad_enabled


class _GradModeContext(contextlib.ContextDecorator):
    """Sets grad mode inside a ``with`` block or a decorated function, then restores it."""
    enabled = True

    def __init__(self):
        self._previous = []

    def _recreate_cm(self):
        return type(self)()  # a fresh context per call, so recursion and threads nest correctly

    def __enter__(self):
        self._previous.append(_Mode.grad_enabled)
        _Mode.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc_info):
        _Mode.grad_enabled = self._previous.pop()
        return False


class no_grad(_GradModeContext):
    """Context manager and decorator: no graph is recorded inside (inference, optimizer steps)."""
    enabled = False


class enable_grad(_GradModeContext):
    """Context manager and decorator: turns recording back on inside a ``no_grad`` block."""
    enabled = True


class set_grad_enabled(_GradModeContext):
    """``with set_grad_enabled(flag):`` records the graph when ``flag`` is True."""

    def __init__(self, mode=True):
        super().__init__()
        self.enabled = bool(mode)

    def _recreate_cm(self):
        return set_grad_enabled(self.enabled)


class detect_anomaly(contextlib.ContextDecorator):
    """Inside this block, a backward that produces NaN or inf raises at once.

    The error names the op and the line of user code whose forward call created the node, which
    is the line to look at. Recording that line costs a stack walk per op, hence opt-in.
    """

    def __init__(self):
        self._previous = []

    def _recreate_cm(self):
        return detect_anomaly()

    def __enter__(self):
        self._previous.append(_Mode.anomaly)
        _Mode.anomaly = True
        return self

    def __exit__(self, *exc_info):
        _Mode.anomaly = self._previous.pop()
        return False


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_frame():
    """The innermost stack frame outside the minigrad package: where the user called the op."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return frame
    return None


class Function:
    """Base class of every differentiable op, in the shape of PyTorch's ``autograd.Function``.

    Subclasses define two static methods::

        forward(ctx, *arrays, **params) -> array or tuple of arrays     # raw NumPy/CuPy arrays
        backward(ctx, *grad_outputs) -> Tensor/None or tuple of them    # Tensors, minigrad ops

    and are called through ``Op.apply(*inputs, **params)``. Positional inputs that are Tensors
    reach ``forward`` as their raw arrays; anything else (a Python number, a NumPy array used as a
    constant) passes through untouched and gets no gradient. ``backward`` returns one gradient per
    positional input (``None`` where there is none); the engine sums a broadcast gradient back to
    the input's shape, so ops never do that themselves.

    The grad-of-grad rule: whatever backward *multiplies by* must come from
    ``ctx.save_for_backward`` (it comes back as the graph's own Tensor, so second derivatives flow
    through it). What backward only *indexes or compares with* (argmax positions, a ReLU mask,
    shapes) may be kept as a plain attribute ``ctx.name = array``: its derivative is zero.

    ``ctx.needs_input_grad[i]`` says whether input ``i`` wants a gradient, so a backward may skip
    work. A saved output is kept as its array and rebuilt as a Tensor attached to this node when
    backward asks for it: holding the output Tensor itself would make the reference cycle
    output -> node -> output.
    """

    # Defaults at class level, so that a node sets only what differs from them.
    _to_save = ()
    _saved = ()
    _hooks = None
    _released = False

    def save_for_backward(self, *arrays):
        """Keep ``arrays`` (inputs, outputs or new arrays) for backward. Call inside forward."""
        self._to_save = arrays

    @property
    def saved_tensors(self):
        """The saved arrays as Tensors: an input comes back as that input Tensor, an output as
        the output Tensor, anything else as a constant Tensor."""
        saved = self._saved
        if saved is None:
            raise RuntimeError(
                f"{type(self).__name__}: trying to backward through the graph a second time, "
                "but its saved arrays were freed after the first backward. Pass "
                "retain_graph=True to the first backward() if you need to go through it twice.")
        result = []
        for kind, item, version in saved:
            if kind == 0:                        # an input Tensor
                if item._version != version:
                    raise RuntimeError(
                        f"{type(self).__name__}: an input saved for backward (shape "
                        f"{item.shape}) was modified in place after the forward pass (version "
                        f"{version} -> {item._version}); its gradient would be wrong. "
                        "Use an out-of-place op instead.")
                result.append(item)
            elif kind == 1:                      # an output: rebuilt, attached to this node
                tensor = Tensor._wrap(item[0], True)
                tensor._grad_fn, tensor._output_nr = self, item[1]
                result.append(tensor)
            elif kind == 2:                      # a constant array
                result.append(Tensor._wrap(item))
            else:                                # a Python value
                result.append(item)
        return tuple(result)

    @staticmethod
    def forward(ctx, *args, **params):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(f"{type(ctx).__name__} has no backward")

    @classmethod
    def apply(cls, *inputs, **params):
        """Run forward on the raw arrays, wrap the result, and record the node when needed."""
        ctx = cls.__new__(cls)
        arrays = []
        requires_grad = False
        on_gpu = False
        for a in inputs:
            if isinstance(a, Tensor):
                data = a.data
                if a.requires_grad:
                    requires_grad = True
                if type(data) is not np.ndarray:
                    on_gpu = True
                arrays.append(data)
            else:
                arrays.append(a)
        if on_gpu:  # only CuPy arrays can be on different devices
            _check_devices(cls, inputs)
        try:
            out = cls.forward(ctx, *arrays, **params)
        except (ValueError, IndexError) as error:
            raise type(error)(f"{cls.__name__}: {error} (input shapes "
                              f"{_shapes(inputs)})") from error
        wrap = Tensor._wrap
        if not (requires_grad and _Mode.grad_enabled):
            if type(out) is tuple:
                return tuple(wrap(o) for o in out)
            return wrap(out)
        if type(out) is tuple:
            outputs = tuple(wrap(o, True) for o in out)
            ctx._record(inputs, outputs, out)
        else:
            outputs = wrap(out, True)
            ctx._record(inputs, (outputs,), (out,))
        return outputs

    def _record(self, inputs, outputs, raw):
        """Attach this node to its outputs and remember the edges to its inputs."""
        edges = []
        needs = []
        for a in inputs:
            if isinstance(a, Tensor) and a.requires_grad:
                fn = a._grad_fn
                edges.append((fn, a._output_nr, a if fn is None else None, a.data.shape,
                              a.data.dtype))
                needs.append(True)
            else:
                edges.append(None)
                needs.append(False)
        self._edges = edges
        self.needs_input_grad = needs
        for i, t in enumerate(outputs):
            t._grad_fn = self
            t._output_nr = i
        self._out_meta = [(t.data.shape, t.data.dtype) for t in outputs]
        to_save = self._to_save
        if to_save:
            self._saved = tuple([_saved_entry(x, inputs, outputs, raw) for x in to_save])
            del self._to_save
        if _Mode.anomaly:
            self._trace = _user_frame()

    def _release(self):
        """Drop what backward needed; a second backward through this node then raises."""
        self._saved = None
        self._released = True


def _saved_entry(x, inputs, outputs, raw):
    """How a saved value is kept: (kind, item, version)."""
    for a in inputs:
        if a.__class__ is Tensor or isinstance(a, Tensor):
            if a.data is x:
                return (0, a, a._version)
    for nr, (t, r) in enumerate(zip(outputs, raw)):
        if r is x:  # forward's own result (a NumPy scalar was turned into a 0-d array by _wrap)
            # Keep the array, not the Tensor: output -> node -> output would be a cycle.
            return (1, (t.data, nr), 0)
    if isinstance(x, Tensor):
        return (0, x, x._version)
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return (2, x, 0)
    return (3, x, 0)


def _shapes(inputs):
    return ", ".join(str(tuple(a.shape)) if hasattr(a, "shape") else repr(a) for a in inputs)


def _check_devices(cls, inputs):
    """All Tensor inputs of one op must live on one device; say which ones do not."""
    devices = [(i, a.device) for i, a in enumerate(inputs) if isinstance(a, Tensor)]
    first = devices[0][1]
    for i, d in devices:
        if d != first:
            raise RuntimeError(f"{cls.__name__}: expected all tensors on one device, but input "
                               f"{devices[0][0]} is on {first} and input {i} is on {d}")
    return first


def _topological_dependencies(roots):
    """Count, for every node reachable from ``roots``, how many edges point at it.

    An explicit stack instead of recursion, so a chain of 100,000 ops is no problem.
    """
    dependencies = {}
    seen = set(roots)
    stack = list(roots)
    while stack:
        node = stack.pop()
        for edge in node._edges:
            if edge is None or edge[0] is None:
                continue
            child = edge[0]
            dependencies[child] = dependencies.get(child, 0) + 1
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return dependencies


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, targets=None):
    """Propagate ``root_grads`` from ``roots`` (Tensors) back through the graph.

    Without ``targets``, gradients accumulate into the ``.grad`` of leaf Tensors. With
    ``targets`` (a list of Tensors), nothing is accumulated and their gradients are returned in
    order (``None`` where no path leads to one): this is ``mg.grad``.

    Nodes are processed in topological order by counting dependencies (Kahn's algorithm): a node
    runs once every node that consumes its outputs has sent its share of the gradient. A leaf's
    contributions are summed first and delivered once at the end, so its hooks see the total.
    """
    grads = {}          # node -> list of gradients, one per output
    leaf_grads = {}     # id(leaf) -> [leaf, summed gradient]
    root_nodes = []
    # Summing gradients: recorded as an op when the backward pass is itself differentiated;
    # otherwise a plain array sum, which skips an op's bookkeeping (most of the cost here).
    accumulate = _add_recorded if create_graph else _add_arrays

    def add_to_leaf(leaf, g):
        entry = leaf_grads.get(id(leaf))
        if entry is None:
            leaf_grads[id(leaf)] = [leaf, g]
        else:
            entry[1] = accumulate(entry[1], g)

    for t, g in zip(roots, root_grads):
        node = t._grad_fn
        if node is None:
            add_to_leaf(t, g)
            continue
        if node not in grads:
            grads[node] = [None] * len(node._out_meta)
            root_nodes.append(node)
        slot = grads[node]
        slot[t._output_nr] = g if slot[t._output_nr] is None else slot[t._output_nr] + g

    capture_nodes = {}
    if targets is not None:
        for i, t in enumerate(targets):
            if t._grad_fn is not None:
                capture_nodes.setdefault((t._grad_fn, t._output_nr), []).append(i)
    captured = [None] * len(targets) if targets is not None else None

    # Arrays someone else may hold: a leaf's .grad must not share memory with them
    handed_out = {id(g.data) for g in root_grads}
    dependencies = _topological_dependencies(root_nodes)
    ready = [n for n in root_nodes if dependencies.get(n, 0) == 0]
    previous_mode = _Mode.grad_enabled
    _Mode.grad_enabled = create_graph
    try:
        while ready:
            node = ready.pop()
            out_grads = grads.pop(node, None)
            in_grads = None
            if out_grads is not None and (len(out_grads) > 1 or out_grads[0] is not None):
                if node._hooks:
                    _run_node_hooks(node, out_grads)
                    handed_out.update(id(g.data) for g in out_grads if g is not None)
                if capture_nodes:
                    for nr, g in enumerate(out_grads):
                        for i in capture_nodes.get((node, nr), ()):
                            captured[i] = g
                in_grads = _call_backward(node, out_grads, retain_graph)
            for i, edge in enumerate(node._edges):
                if edge is None:
                    continue
                child, nr, leaf, shape, dtype = edge
                g = in_grads[i] if in_grads is not None else None
                if g is not None:
                    if g.__class__ is not Tensor and not isinstance(g, Tensor):
                        g = Tensor._wrap(g)
                    if g.data.shape != shape:
                        g = sum_to(g, shape)
                    if g.data.dtype != dtype:
                        g = g.astype(dtype)
                if child is None:
                    if g is not None:
                        add_to_leaf(leaf, g)
                    continue
                if g is not None:
                    slot = grads.get(child)
                    if slot is None:
                        slot = grads[child] = [None] * len(child._out_meta)
                    slot[nr] = g if slot[nr] is None else accumulate(slot[nr], g)
                remaining = dependencies[child] - 1
                dependencies[child] = remaining
                if remaining == 0:
                    ready.append(child)

        for leaf, g in leaf_grads.values():
            if targets is not None:
                for i, t in enumerate(targets):
                    if t is leaf:
                        captured[i] = g
                continue
            for hook in leaf._hooks or ():
                replaced = hook(g)
                if replaced is not None:
                    g = replaced
            if not create_graph:
                g = _private(g, handed_out)
            leaf.grad = g if leaf.grad is None else leaf.grad + g
    finally:
        _Mode.grad_enabled = previous_mode
    return captured


def _private(g, handed_out):
    """``g`` as a gradient that a leaf may own: optimizers and clipping scale ``.grad`` in
    place, so it must be writable and shared with nothing. A fresh array that an op made is
    kept as it is; a view (of a broadcast or reshape), an array already given to another leaf
    (Add hands one gradient to both inputs) or one the caller or a hook holds is copied."""
    array = g.data
    if array.base is not None or id(array) in handed_out or not array.flags.writeable:
        array = array.copy()
    handed_out.add(id(array))
    return Tensor._wrap(array)


def _add_recorded(a, b):
    return a + b


def _add_arrays(a, b):
    return Tensor._wrap(a.data + b.data)


def _run_node_hooks(node, out_grads):
    """Hooks registered on a non-leaf Tensor see (and may replace) its gradient."""
    for nr, hooks in node._hooks.items():
        for hook in hooks:
            if out_grads[nr] is not None:
                replaced = hook(out_grads[nr])
                if replaced is not None:
                    out_grads[nr] = replaced


def _call_backward(node, out_grads, retain_graph):
    """Run one node's backward; None when no gradient reached any of its outputs."""
    if len(out_grads) > 1 and any(g is None for g in out_grads):
        if all(g is None for g in out_grads):
            return None
        for nr, g in enumerate(out_grads):
            if g is None:  # an unused output of a multi-output op: its gradient is zero
                shape, dtype = node._out_meta[nr]
                like = next(x for x in out_grads if x is not None)
                out_grads[nr] = Tensor._wrap(backend.xp_of(like.data).zeros(shape, dtype))
    if node._released:
        raise RuntimeError(
            f"{type(node).__name__}: trying to backward through the graph a second time, but "
            "its saved arrays were freed after the first backward. Pass retain_graph=True to "
            "the first backward() if you need to go through it twice.")
    in_grads = type(node).backward(node, *out_grads)
    if type(in_grads) is not tuple:
        in_grads = (in_grads,)
    if len(in_grads) != len(node._edges):
        raise RuntimeError(f"{type(node).__name__}.backward returned {len(in_grads)} "
                           f"gradients for {len(node._edges)} inputs")
    if _Mode.anomaly:
        _check_finite(node, in_grads)
    if not retain_graph:
        node._release()
    return in_grads


def _check_finite(node, in_grads):
    for i, g in enumerate(in_grads):
        if g is None:
            continue
        xp = backend.xp_of(g.data)
        if not bool(xp.isfinite(g.data).all()):
            where = getattr(node, "_trace", None)
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
        The vector in the vector-Jacobian product; ones for scalar outputs when omitted.
    retain_graph : bool, optional
        Keep the graph's saved arrays; defaults to ``create_graph``.
    create_graph : bool
        Record the backward pass, so the result can be differentiated again.
    allow_unused : bool
        Return None for an input that ``outputs`` do not depend on, instead of raising.

    Returns
    -------
    tuple of Tensor (or None)
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    if retain_graph is None:
        retain_graph = create_graph
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad")
    root_grads = [_root_grad(t, g, "grad") for t, g in zip(outputs, grad_outputs)]
    result = run_backward(outputs, root_grads, retain_graph, create_graph, targets=inputs)
    for i, g in enumerate(result):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {i} (shape {inputs[i].shape}) was not used to "
                               "compute the outputs; pass allow_unused=True to get None for it")
    return tuple(result)


def _root_grad(tensor, g, op):
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
