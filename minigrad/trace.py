"""A teaching trace of backward: which node ran when, on what shapes, with how much gradient.

``loss.backward()`` hides a walk over the graph. Inside ``with mg.trace_backward() as t:`` every
node that the walk visits is written down, in the order it ran, with the gradient's norm where
it arrived (at the node's outputs) and where it left (towards the node's inputs)::

    with mg.trace_backward() as t:
        loss.backward()
    print(t.table())     # the order of the walk, one row per node
    t.plot("trace.png")  # the gradient norm along the walk: where it vanishes or explodes

The walk in ``graph.py`` looks up the active traces once per backward pass and, for each node,
tests whether there are any: when no trace is open, that one test is the whole cost.

Notation
--------
step        a node's position in the walk, from 0: the root runs first, the leaves' makers last
observer    a callable ``observe(node, edges, output_grads, input_grads)`` that the walk calls
            after each node's backward; a trace is one
"""
import contextvars
import math

from . import backend

# The observers of the current context (thread or task): a tuple, so that entering and leaving
# a trace never changes what another thread sees.
_observers = contextvars.ContextVar("minigrad_backward_observers", default=())


def active_observers():
    """The observers that the next backward pass must call (an empty tuple when none)."""
    return _observers.get()


class TraceRow:
    """One node that backward ran: ``step``, ``op`` (its Function's name), ``input_shapes``
    and ``output_shapes`` (tuples of shapes; None for an input that wanted no gradient),
    ``grad_output_norm`` (L2 norm of the gradients that reached its outputs) and
    ``grad_input_norm`` (of those it sent to its inputs)."""

    __slots__ = ("step", "op", "input_shapes", "output_shapes", "grad_output_norm",
                 "grad_input_norm")

    def __init__(self, step, op, input_shapes, output_shapes, grad_output_norm,
                 grad_input_norm):
        self.step = step
        self.op = op
        self.input_shapes = input_shapes
        self.output_shapes = output_shapes
        self.grad_output_norm = grad_output_norm
        self.grad_input_norm = grad_input_norm

    def __repr__(self):
        return (f"TraceRow(step={self.step}, op={self.op!r}, "
                f"grad_output_norm={self.grad_output_norm:.4g})")


class trace_backward:
    """Context manager recording every node that a backward pass visits inside it.

    Several backward passes inside one block are recorded one after the other (``step`` keeps
    counting). Traces nest: an inner one records too, and leaving it does not stop the outer.

    Attributes
    ----------
    rows : list of TraceRow
        In the order the nodes ran.

    Examples
    --------
    >>> import minigrad as mg
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> with mg.trace_backward() as t:
    ...     (x * x).sum().backward()
    >>> [row.op for row in t.rows]
    ['Sum', 'Mul']
    """

    def __init__(self):
        self.rows = []
        self._token = None

    def __enter__(self):
        self._token = _observers.set(_observers.get() + (self._observe,))
        return self

    def __exit__(self, *exc_info):
        _observers.reset(self._token)
        self._token = None
        return False

    def _observe(self, node, edges, output_grads, input_grads):
        inputs = tuple(None if e is None else tuple(e[3]) for e in edges)
        outputs = tuple(tuple(shape) for shape, _ in node._out_meta)
        self.rows.append(TraceRow(len(self.rows), type(node).__name__, inputs, outputs,
                                  _norm(output_grads), _norm(input_grads)))

    def table(self, file=None):
        """The trace as a text table (one row per node, in walk order); also printed to
        ``file`` when given (e.g. ``sys.stdout``)."""
        header = ("step", "op", "input shapes", "output shapes", "|grad out|", "|grad in|")
        body = [(str(r.step), r.op, _shapes(r.input_shapes), _shapes(r.output_shapes),
                 f"{r.grad_output_norm:.4g}", f"{r.grad_input_norm:.4g}") for r in self.rows]
        widths = [max(len(row[i]) for row in body + [header]) for i in range(len(header))]
        lines = ["  ".join(f"{c:<{w}}" for c, w in zip(header, widths)).rstrip(),
                 "  ".join("-" * w for w in widths)]
        lines += ["  ".join(f"{c:<{w}}" for c, w in zip(row, widths)).rstrip() for row in body]
        text = "\n".join(lines)
        if file is not None:
            print(text, file=file)
        return text

    def plot(self, path=None):
        """Bar chart of the gradient norm reaching each node, in walk order, on a log scale;
        saved to ``path`` when given. Returns the matplotlib Figure."""
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(self.rows)), 4))
        steps = [r.step for r in self.rows]
        # A zero norm cannot go on a log axis: it is drawn at the smallest positive one / 10.
        positive = [r.grad_output_norm for r in self.rows if r.grad_output_norm > 0]
        floor = min(positive) / 10 if positive else 1e-12
        ax.bar(steps, [max(r.grad_output_norm, floor) for r in self.rows], color="tab:blue")
        ax.set_yscale("log")
        ax.set_xticks(steps)
        ax.set_xticklabels([r.op for r in self.rows], rotation=90, fontsize=8)
        ax.set(xlabel="node, in the order backward ran it", ylabel="|gradient| reaching it",
               title="gradient norm along the backward walk")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=100)
            plt.close(fig)
        return fig


def _norm(grads):
    """L2 norm over all the gradient Tensors in ``grads`` (None entries skipped)."""
    total = 0.0
    for g in grads or ():
        if g is not None:
            xp = backend.xp_of(g.data)
            total += float(xp.sum(xp.abs(g.data.astype(xp.float64)) ** 2).real)
    return math.sqrt(total)


def _shapes(shapes):
    return ", ".join("-" if s is None else str(s) for s in shapes)
