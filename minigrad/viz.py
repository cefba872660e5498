"""Drawing the graph that backward walks: one box per op, one per leaf, the shapes on the arrows.

Every Tensor made by an op remembers that op (``t.grad_fn``), and every op remembers where its
inputs came from (its edges, see ``autograd.py``). Following the edges from an output back to
the leaves visits exactly the graph that ``backward`` will walk. :func:`draw_graph` turns that
walk into a Graphviz drawing, with data flowing from top to bottom as in the forward pass::

    dot = mg.viz.draw_graph(loss, params=dict(model.named_parameters()))
    dot.render("mlp", format="png")     # needs Graphviz's `dot` program
    open("mlp.dot", "w").write(dot.source)   # always works, even without it

Notation
--------
node      a Function (an op) in the graph; drawn as a box with its name
leaf      a Tensor made by the user, not by an op (a parameter, an input); drawn as an oval
edge      an arrow from what made a Tensor to the op that used it, labelled with the
          Tensor's shape and dtype
"""
from .tensor import Tensor

_INSTALL = ("minigrad.viz.draw_graph needs the 'graphviz' Python package, from the 'tools' "
            "extra: pip install -e \".[tools]\" (or pip install graphviz); rendering to an image "
            "also needs Graphviz's `dot` program (e.g. apt-get install graphviz)")


def draw_graph(output, params=None, show_saved=False):
    """The autograd graph behind ``output`` as a ``graphviz.Digraph``.

    Parameters
    ----------
    output : Tensor or sequence of Tensor
        What backward would start from (a loss, or several outputs).
    params : dict of str to Tensor, optional
        Names for the leaves, e.g. ``dict(model.named_parameters())``; other leaves are drawn
        as ``leaf`` with their shape.
    show_saved : bool, default False
        Also draw what each op kept for its backward (``save_for_backward``), as grey notes
        joined to the op by dashed lines.

    Returns
    -------
    graphviz.Digraph
        Its ``.source`` is the DOT text; ``.render(...)`` needs Graphviz's ``dot``. A leaf that
        has a ``.grad`` (after ``backward(retain_graph=True)``) shows the gradient: its values
        when it has at most 6 entries, else its norm.

    Raises
    ------
    ImportError
        Without the ``graphviz`` package (the 'tools' extra).
    RuntimeError
        When backward already freed the graph: draw before backward, or call
        ``backward(retain_graph=True)``.
    """
    try:
        import graphviz
    except ImportError as error:
        raise ImportError(_INSTALL) from error
    outputs = [output] if isinstance(output, Tensor) else list(output)
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"draw_graph: output {i} is a {type(t).__name__}; expected a Tensor")
    names = {id(p): name for name, p in (params or {}).items()}
    dot = graphviz.Digraph("minigrad", graph_attr={"rankdir": "TB"},
                           node_attr={"fontname": "Helvetica", "fontsize": "11"},
                           edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    drawn = set()
    for i, t in enumerate(outputs):
        out_id = f"output{i}"
        dot.node(out_id, f"output {i}\n{_describe(t.shape, t.dtype)}", shape="box",
                 style="filled", fillcolor="darkolivegreen1")
        dot.edge(_draw_maker(dot, t._grad_fn, t, names, drawn), out_id,
                 label=_describe(t.shape, t.dtype))
    for node in graph_nodes(outputs):
        if show_saved:
            _add_saved(dot, node, node_id(node))
        for edge in node._edges:
            if edge is not None:
                child, _, leaf, shape, dtype = edge
                dot.edge(_draw_maker(dot, child, leaf, names, drawn), node_id(node),
                         label=_describe(shape, dtype))
    return dot


def graph_nodes(outputs):
    """Every Function that ``outputs`` (Tensors) depend on, each once, outputs' makers first.

    The same walk as backward's, with an explicit stack. Raises RuntimeError for a node that
    a backward pass has already freed (its edges are gone)."""
    found, seen = [], set()
    stack = [t._grad_fn for t in outputs if t._grad_fn is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node._saved is None:
            raise RuntimeError(
                f"draw_graph: {type(node).__name__}'s saved arrays and edges were freed by a "
                "backward pass; draw the graph before backward, or call "
                "backward(retain_graph=True)")
        found.append(node)
        stack.extend(edge[0] for edge in reversed(node._edges)
                     if edge is not None and edge[0] is not None)
    return found


def _draw_maker(dot, node, leaf, names, drawn):
    """Draw (once) what made a Tensor: the op ``node``, or the leaf itself; returns its id."""
    if node is None:
        leaf_id = f"leaf{id(leaf)}"
        if leaf_id not in drawn:
            drawn.add(leaf_id)
            name = names.get(id(leaf), "leaf")
            label = f"{name}\n{_describe(leaf.shape, leaf.dtype)}" + _grad_text(leaf)
            dot.node(leaf_id, label, shape="ellipse", style="filled", fillcolor="lightblue")
        return leaf_id
    if node_id(node) not in drawn:
        drawn.add(node_id(node))
        dot.node(node_id(node), type(node).__name__, shape="box", style="filled",
                 fillcolor="lightgrey")
    return node_id(node)


def _add_saved(dot, node, node_id):
    """One grey note per entry that ``node`` saved for backward, joined by a dashed line."""
    for k, entry in enumerate(node._saved):
        saved_id = f"{node_id}_saved{k}"
        dot.node(saved_id, f"saved {k}\n{_saved_text(entry)}", shape="note", fontsize="9",
                 style="filled", fillcolor="whitesmoke")
        dot.edge(saved_id, node_id, style="dashed", arrowhead="none")


def _saved_text(entry):
    """What a saved entry is: an input or output of the op (with shape), a constant array,
    or a plain Python value."""
    from .autograd import SavedInput, SavedOutput
    if isinstance(entry, SavedInput):
        tensor, input_nr = entry[0], entry[1]
        role = "tensor" if input_nr is None else f"input {input_nr}"
        return f"{role} {_describe(tensor.shape, tensor.dtype)}"
    if isinstance(entry, SavedOutput):
        array, output_nr = entry[0], entry[1]
        return f"output {output_nr} {_describe(array.shape, array.dtype)}"
    if isinstance(entry, Tensor):
        return f"constant {_describe(entry.shape, entry.dtype)}"
    text = repr(entry)
    return text if len(text) <= 30 else text[:27] + "..."


def _grad_text(leaf):
    grad = leaf.grad
    if grad is None:
        return ""
    values = grad.numpy()
    if values.size <= 6:
        return "\ngrad " + " ".join(f"{v:.3g}" for v in values.ravel())
    return f"\n|grad| {float((values.astype('float64') ** 2).sum()) ** 0.5:.4g}"


def _describe(shape, dtype):
    return f"{tuple(shape)} {dtype}"


def node_id(node):
    """A Function's name in the drawing (unique while the graph lives)."""
    return f"fn{id(node)}"
