"""The graph node: :class:`Function`, how it records its inputs, and what it saves for backward.

Every differentiable op is a subclass of :class:`Function`. Its ``forward`` works on raw arrays,
its ``backward`` on Tensors built from minigrad ops, so a backward pass run with
``create_graph=True`` records a graph of its own and can be differentiated again. The walk that
calls the backwards is in ``graph.py``; the grad-mode switches are in ``grad_mode.py`` and are
re-exported here, where they used to live.

Notation
--------
out_meta (shape, dtype) of each output of a node
node     a Function instance: the ``ctx`` of forward/backward and the graph node at once
edge     per positional input, where its gradient goes: None when it needs none, else the
         plain tuple ``(node, output_nr, leaf, shape, dtype)``, with ``node`` the Function that
         made the input (None for a leaf), ``output_nr`` which of its outputs the input is,
         ``leaf`` the input itself when it is a leaf (else None), and the shape and dtype the
         gradient must arrive in
saved    what ``save_for_backward`` kept: a :class:`SavedInput` or :class:`SavedOutput` per
         Tensor, a constant Tensor per other array, Python values as they are
version  a Tensor's count of in-place changes; a saved Tensor must still be at the version it
         had when it was saved, or its gradient would be computed from the wrong values
"""
import numpy as np

from .grad_mode import (state, is_grad_enabled, is_anomaly_enabled, no_grad,  # noqa: F401
                        enable_grad, set_grad_enabled, detect_anomaly, user_frame)
from .gc_policy import census
from .tensor import Tensor

_new_object = object.__new__   # one global read, where cls.__new__ searches the class's MRO
_ndarray = np.ndarray          # one global read, where np.ndarray is two lookups


def _output(array, node, output_nr):
    """A result of ``node`` (None when not recorded) as a Tensor: ``Tensor._wrap`` written out,
    as this runs for every op's every output."""
    if type(array) is not _ndarray:
        return _attach(Tensor._wrap(array, node is not None), node, output_nr)
    t = _new_object(Tensor)
    t.data = array
    t.requires_grad = node is not None
    t._grad_fn = node
    t._output_nr = output_nr
    return t


def _attach(t, node, output_nr):
    t._grad_fn, t._output_nr = node, output_nr
    return t


class Function:
    """Base class of every differentiable op, in the shape of PyTorch's ``autograd.Function``.

    Subclasses define two static methods::

        forward(ctx, *arrays, **params) -> array or tuple of arrays     # raw NumPy/CuPy arrays
        backward(ctx, *grad_outputs) -> Tensor/None or tuple of them    # Tensors, minigrad ops

    and are called through ``Op.apply(*inputs, **params)``.

    Arguments: tensors positionally, everything else by keyword. The built-in ops pass
    non-tensor arguments (axes, shapes, constants) as keywords, ``Sum.apply(x, axis=1)``, so
    ``backward`` returns exactly one gradient per positional input and never pads with
    ``None``. PyTorch's style also works for user-written Functions: a positional argument that
    is not a Tensor (a Python number, a NumPy array used as a constant) reaches ``forward``
    untouched, and ``backward`` returns ``None`` in its place.

    The engine checks each gradient a backward returns against its input: it must be a Tensor
    (or None) of the input's shape, or of a shape the input broadcasts to (it is then summed
    back, so ops never do that themselves), and of a floating dtype when the input's is (a
    float64 gradient of a float32 input is cast to float32, as in PyTorch).

    The grad-of-grad rule: whatever backward *multiplies by* must come from
    ``ctx.save_for_backward`` (it comes back as the graph's own Tensor, so second derivatives flow
    through it). What backward only *indexes or compares with* (argmax positions, a ReLU mask,
    shapes) may be kept as a plain attribute ``ctx.name = array``: its derivative is zero.

    ``ctx.needs_input_grad[i]`` says whether input ``i`` wants a gradient, so a backward may skip
    work.

    An op whose backward is plain arithmetic (operators such as ``*`` and ``-`` on
    ``grad_output``, the saved values and numbers; no minigrad functions) may set
    ``backward_on_arrays = True``. When the backward pass is not recorded (no ``create_graph``),
    the engine then runs that same backward on the raw arrays: ``grad_output`` is an array and
    ``saved_tensors`` gives arrays. NumPy's operators compute exactly what the Tensor operators
    would (those run the same NumPy operators), without an op's bookkeeping for each step.
    """

    # Defaults at class level, so that a node sets only what differs from them. ``_saved`` is
    # set to None once backward has run without retain_graph: the node is then spent.
    _to_save = ()
    _saved = ()
    _edges = ()
    _hooks = None
    _trace = None
    backward_on_arrays = False
    _unpack_arrays = False  # True while the engine runs this node's backward on arrays

    def save_for_backward(self, *arrays):
        """Keep ``arrays`` (inputs, outputs or new arrays) for backward. Call inside forward."""
        self._to_save = arrays

    @property
    def saved_tensors(self):
        """The saved arrays as Tensors: an input comes back as that input Tensor, an output as
        the output Tensor, anything else as a constant Tensor (a Python value as itself)."""
        if self._saved is None:
            raise freed_graph_error(self)
        if self._unpack_arrays:
            return tuple([entry.unpack_array(self) if isinstance(entry, Saved)
                          else entry.data if isinstance(entry, Tensor) else entry
                          for entry in self._saved])
        return tuple([entry.unpack(self) if isinstance(entry, Saved) else entry
                      for entry in self._saved])

    @property
    def needs_input_grad(self):
        """Whether each positional input wants a gradient: a tuple of bool, read off the edges
        when a backward asks (most never do), rather than built for every node."""
        return tuple([edge is not None for edge in self._edges])

    @staticmethod
    def forward(ctx, *args, **params):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(f"{type(ctx).__name__} has no backward")

    @classmethod
    def apply(cls, *inputs, **params):
        """Run forward on the raw arrays, wrap the result, and record the node when needed.

        This runs once per op, forward and backward alike, so it is written for speed where
        that costs little to read: plain loops, no helper calls on the common path, and the
        edges built in the same pass over the inputs as the arrays.
        """
        ctx = _new_object(cls)
        arrays = []
        edges = []
        record = False
        on_gpu = False
        grad_enabled = state.grad_enabled  # a thread-local read: once per op, not per input
        for a in inputs:
            if not isinstance(a, Tensor):
                arrays.append(a)  # a Python value or constant array reaches forward untouched
                edges.append(None)
                continue
            data = a.data
            arrays.append(data)
            if type(data) is not _ndarray:
                on_gpu = True  # CuPy only: the device fixture's cuda runs cover it
            if grad_enabled and a.requires_grad:
                record = True
                fn = a._grad_fn
                edges.append((fn, a._output_nr, a if fn is None else None, data.shape,
                              data.dtype))
            else:
                edges.append(None)
        if on_gpu:  # only CuPy arrays can be on different devices
            _check_devices(cls, inputs)
        try:
            # Without keywords, the call builds no dict of them (most ops, and all of backward's).
            out = cls.forward(ctx, *arrays, **params) if params else cls.forward(ctx, *arrays)
        except (ValueError, IndexError) as error:
            raise type(error)(f"{cls.__name__}: {error} (input shapes "
                              f"{_shapes(inputs)})") from error
        if type(out) is not tuple:
            # One output, by far the most common case: no tuple of results to build and unpack.
            if type(out) is _ndarray:  # _output written out: a call here is 5% of an op
                result = _new_object(Tensor)
                result.data = out
                result.requires_grad = record
                result._grad_fn = ctx if record else None
                result._output_nr = 0
            else:
                result = _output(out, ctx if record else None, 0)
            if result.data.base is not None:
                _share_version_with_viewed_input(result, inputs)
            if record:
                ctx._record(edges, inputs, arrays, (result,), (out,))
            return result
        node = ctx if record else None
        outputs = tuple([_output(o, node, nr) for nr, o in enumerate(out)])
        for t in outputs:
            # A view (reshape, slice) shares an input's memory. Checked on every result rather
            # than declared per op, because a user's Function may return a view too; the check
            # is one attribute read (about 40 ns).
            if t.data.base is not None:
                _share_version_with_viewed_input(t, inputs)
        if record:
            ctx._record(edges, inputs, arrays, outputs, out)
        return outputs

    def _record(self, edges, inputs, arrays, outputs, raw):
        """Keep the edges to the inputs and what backward needs: the outputs' shapes and
        dtypes and the saved arrays (the outputs already point at this node).

        Each edge is a plain tuple, unpacked into names where it is read: a NamedTuple's
        constructor is a Python-level ``__new__``, which cost about a tenth of an op's
        bookkeeping. What the node keeps is tuples, not lists: a tuple of plain values
        (``_out_meta``) is untracked by Python's cyclic garbage collector after its first pass,
        and every tracked object of a live graph is scanned again by each full collection (see
        ``gc_policy.py``, which also explains ``_census``).
        """
        self._edges = tuple(edges)
        # Built-in dtypes are not tracked by the collector, so this tuple gets untracked too.
        if len(outputs) == 1:  # one output: no list comprehension (a call of its own)
            data = outputs[0].data
            self._out_meta = ((data.shape, data.dtype),)
        else:
            self._out_meta = tuple([(t.data.shape, t.data.dtype) for t in outputs])
        self._census = census
        to_save = self._to_save
        if to_save:
            self._saved = _saved_entries(to_save, inputs, arrays, outputs, raw)
            del self._to_save
        if state.anomaly:
            self._trace = user_frame()

    def _release(self):
        """Drop what backward needed, once it has run without retain_graph: the saved arrays
        (a second backward through this node then raises) and the edges, so the spent part of
        the graph is freed as soon as nothing else holds it, even while its root is kept."""
        self._saved = None
        self._edges = ()
        self._census = None


class Saved:
    """A saved Tensor that is checked and rebuilt by ``unpack(node)`` when backward asks for it.
    Other saved values are kept as they are: an array as a constant Tensor, a Python value as
    itself (no wrapper object, one fewer for the garbage collector to scan).

    The subclasses are tuples, built as ``SavedInput((tensor, input_nr, version))``: a tuple's
    constructor runs in C, where a class with ``__init__`` costs a Python call per saved value.
    """
    __slots__ = ()


class SavedInput(Saved, tuple):
    """``(tensor, input_nr, version)``: a Tensor kept for backward (input ``input_nr``, or None
    when it was not an input), with its version when it was saved."""
    __slots__ = ()

    def unpack(self, node):
        tensor, input_nr, version = self
        counter = tensor._version_counter  # read inline: the _version property is a call
        if (0 if counter is None else counter.value) != version:
            role = "a tensor saved" if input_nr is None else f"input {input_nr}"
            raise _version_error(node, tensor, role, version)
        return tensor

    def unpack_array(self, node):
        return self.unpack(node).data


class SavedOutput(Saved, tuple):
    """``(array, output_nr, counter, version)``: one of the node's own outputs, kept as its
    array and version counter and rebuilt as a Tensor attached to the node on demand. Keeping
    the output Tensor itself would make the reference cycle output -> node -> output."""
    __slots__ = ()

    def unpack(self, node):
        array, output_nr, counter, version = self
        tensor = Tensor._wrap(array, True)
        tensor._grad_fn, tensor._output_nr = node, output_nr
        tensor._version_counter = counter
        if counter.value != version:
            raise _version_error(node, tensor, f"output {output_nr}", version)
        return tensor

    def unpack_array(self, node):
        """The array alone, checked the same way: no Tensor is built unless the check fails."""
        array, output_nr, counter, version = self
        if counter.value != version:
            return self.unpack(node)  # raises the version error
        return array


def backward_on_arrays(node, output_grads):
    """Run ``node``'s arithmetic backward on the raw arrays of ``output_grads`` (see
    ``Function.backward_on_arrays``) and return its gradients as Tensors (or None), as
    ``backward`` would have."""
    node._unpack_arrays = True
    try:
        if len(output_grads) == 1:  # one output: no list of arrays to build
            input_grads = type(node).backward(node, output_grads[0].data)
        else:
            input_grads = type(node).backward(node, *[g.data for g in output_grads])
    finally:
        node._unpack_arrays = False
    if type(input_grads) is not tuple:
        return _wrap_gradient(input_grads)
    return tuple([_wrap_gradient(g) for g in input_grads])


def _wrap_gradient(g):
    """An array gradient as a Tensor; None stays None (and anything else stays as it is, for
    the engine's checks to name)."""
    if type(g) is _ndarray:
        t = _new_object(Tensor)   # Tensor._wrap written out: one call fewer per gradient
        t.data = g
        t.requires_grad = False
        t._grad_fn = None
        t._output_nr = 0
        return t
    return None if g is None else Tensor._wrap(g)


def _saved_entries(to_save, inputs, arrays, outputs, raw):
    """How ``save_for_backward`` keeps each of ``to_save``: an input found by identity among
    the arrays forward was given (``arrays[i]`` is ``inputs[i].data`` for a Tensor input), else
    as :func:`_saved_other` says. One call per node, not one per saved value."""
    entries = []
    for x in to_save:
        for i, a in enumerate(arrays):  # identity tests: no isinstance or attribute read each
            if a is x and isinstance(inputs[i], Tensor):
                counter = inputs[i]._version_counter  # inline: the _version property is a call
                entries.append(SavedInput((inputs[i], i, 0 if counter is None else counter.value)))
                break
        else:
            entries.append(_saved_other(x, inputs, outputs, raw))
    return tuple(entries)


def _saved_other(x, inputs, outputs, raw):
    """A saved value that is not an input's array: one of forward's own results, a Tensor,
    a constant array or a Python value."""
    for nr, (t, r) in enumerate(zip(outputs, raw)):
        if r is x:  # forward's own result (a NumPy scalar was turned into a 0-d array by _wrap)
            counter = t._shared_version_counter()
            return SavedOutput((t.data, nr, counter, counter.value))
    if isinstance(x, Tensor):
        for i, a in enumerate(inputs):
            if a is x:  # forward saved the input Tensor itself rather than its array
                return SavedInput((x, i, x._version))
        return SavedInput((x, None, x._version))
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return Tensor._wrap(x)
    return x


def _version_error(node, tensor, role, expected):
    """PyTorch's error, in its words, for a saved Tensor changed in place after forward (the
    message is built only then: formatting the role for every unpack cost more than the check)."""
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: [{tensor.dtype} tensor of shape {tuple(tensor.shape)}], which "
        f"is {role} of {type(node).__name__}, is at version {tensor._version}; expected "
        f"version {expected} instead. Change a copy, or compute the new value out of "
        "place (y = y * 0) rather than in place (y *= 0).")


def _share_version_with_viewed_input(view, inputs):
    """A view and the tensor it views see each other's in-place changes, so they share one
    version counter (PyTorch does the same)."""
    base = view.data.base
    for a in inputs:
        if isinstance(a, Tensor) and (a.data is base or a.data.base is base):
            view._version_counter = a._shared_version_counter()
            return


def freed_graph_error(node):
    return RuntimeError(
        f"{type(node).__name__}: trying to backward through the graph a second time, but its "
        "saved arrays were freed after the first backward. Pass retain_graph=True to the "
        "first backward() if you need to go through it twice.")


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
