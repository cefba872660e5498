"""The recurrent cells as single Functions: one LSTM step and one GRU step after their matrix
products, and the cut of a sequence into time steps.

A recurrent layer spends its time in two places: the matrix products (one for the inputs of all
time steps before the loop, one per step for the hidden state) and the elementwise gate
arithmetic between them. Written with ordinary ops, an LSTM step's gates are about fifteen nodes
per step, each with a Python call forward and backward. Here each step's gate arithmetic is one
node: ``forward`` computes the gates with NumPy, ``backward`` applies the chain rule to all of
them at once.

The backward formula is written once, as a function of things that support ``+ - *``
(``lstm_cell_vjp``, ``gru_cell_vjp``), and run on one of two kinds of value:

- plain arrays, saved from the forward, when backward runs without ``create_graph`` (the
  common case: nothing records, so the per-op bookkeeping is skipped);
- Tensors rebuilt with ops from the saved inputs and outputs, when ``create_graph=True``: the
  same formula then records a graph, and the gradient can be differentiated again.

Notation
--------
N        batch size;  H  hidden size
a        the gate pre-activations of one step: x W_ihᵀ + b_ih + h W_hhᵀ + b_hh
σ        the logistic sigmoid
g_h, g_c the gradients reaching a step's outputs h' and c'
"""
from ..autograd import Function
from ..backend import xp_of
from ..grad_mode import is_grad_enabled
from ..tensor import Tensor
from .shape import cat


def _sigmoid(xp, x):
    """σ(x) = (1 + tanh(x/2)) / 2: never overflows, and one transcendental per entry (about
    six times faster than choosing between 1/(1 + e⁻ˣ) and eˣ/(1 + eˣ) by sign)."""
    return 0.5 * xp.tanh(0.5 * x) + 0.5


def _wrap_all(arrays):
    return tuple(Tensor._wrap(a) for a in arrays)


def lstm_cell_vjp(g_h, g_c, i, f, g, o, tanh_c, c, join):
    """The gradients of (a, c) from those of (h', c'), given the gate values of the step.

    With c' = f c + i g and h' = o tanh(c'), the gradient reaching c' is
    g_c + g_h o (1 − tanh² c'); each gate then gets it times the other factor of its product,
    times its activation's derivative (σ' = σ(1 − σ), tanh' = 1 − tanh²).
    ``join`` concatenates the four gate gradients along the last axis, in the order i, f, g, o.
    """
    dc = g_c + g_h * o * (1 - tanh_c * tanh_c)
    da = join([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g),
               g_h * tanh_c * o * (1 - o)])
    return da, dc * f


class LSTMCellFunction(Function):
    """(a, c) -> (h', c'), one LSTM step after its matrix products; gates in the order i, f, g, o.

    i, f, o = σ(a_i), σ(a_f), σ(a_o);  g = tanh(a_g);  c' = f c + i g;  h' = o tanh(c').
    Backward: :func:`lstm_cell_vjp`.
    """

    @staticmethod
    def forward(ctx, a, c):
        xp = xp_of(a, c)
        H = c.shape[-1]
        i, f, o = (_sigmoid(xp, a[..., k * H:(k + 1) * H]) for k in (0, 1, 3))
        g = xp.tanh(a[..., 2 * H:3 * H])
        c_next = f * c + i * g
        tanh_c = xp.tanh(c_next)
        ctx.save_for_backward(a, c, c_next)
        ctx.gates = (i, f, g, o, tanh_c)  # the fast path's values, read only without create_graph
        return o * tanh_c, c_next

    @staticmethod
    def backward(ctx, g_h, g_c):
        a, c, c_next = ctx.saved_tensors
        if not is_grad_enabled():
            xp = xp_of(a.data)
            da, dc = lstm_cell_vjp(g_h.data, g_c.data, *ctx.gates, c.data,
                                   lambda parts: xp.concatenate(parts, axis=-1))
            return _wrap_all((da, dc))
        H = c.shape[-1]
        i, f, o = (a[..., k * H:(k + 1) * H].sigmoid() for k in (0, 1, 3))
        g = a[..., 2 * H:3 * H].tanh()
        return lstm_cell_vjp(g_h, g_c, i, f, g, o, c_next.tanh(), c,
                             lambda parts: cat(parts, -1))


def gru_cell_vjp(g_h, r, z, n, hn, h, join):
    """The gradients of (xa, ha, h) from that of h', given the gate values of the step.

    With h' = (1 − z) n + z h and n = tanh(xa_n + r ha_n): n gets g_h (1 − z), z gets
    g_h (h − n), h gets g_h z directly; r gets n's pre-activation gradient times ha_n. The
    input and hidden products share the gradients of r and z; for n the hidden product's
    share is multiplied by r.
    """
    dn = g_h * (1 - z) * (1 - n * n)
    dr = dn * hn * r * (1 - r)
    dz = g_h * (h - n) * z * (1 - z)
    return join([dr, dz, dn]), join([dr, dz, dn * r]), g_h * z


class GRUCellFunction(Function):
    """(xa, ha, h) -> h', one GRU step after its matrix products; gates in the order r, z, n.

    xa = x W_ihᵀ + b_ih and ha = h W_hhᵀ + b_hh are kept apart because the reset gate r
    multiplies only the hidden part of n:
    r = σ(xa_r + ha_r);  z = σ(xa_z + ha_z);  n = tanh(xa_n + r ha_n);  h' = (1 − z) n + z h.
    Backward: :func:`gru_cell_vjp`.
    """

    @staticmethod
    def forward(ctx, xa, ha, h):
        xp = xp_of(xa, ha, h)
        H = h.shape[-1]
        r = _sigmoid(xp, xa[..., :H] + ha[..., :H])
        z = _sigmoid(xp, xa[..., H:2 * H] + ha[..., H:2 * H])
        n = xp.tanh(xa[..., 2 * H:] + r * ha[..., 2 * H:])
        ctx.save_for_backward(xa, ha, h)
        ctx.gates = (r, z, n)
        return (1 - z) * n + z * h

    @staticmethod
    def backward(ctx, g_h):
        xa, ha, h = ctx.saved_tensors
        H = h.shape[-1]
        if not is_grad_enabled():
            xp = xp_of(h.data)
            grads = gru_cell_vjp(g_h.data, *ctx.gates, ha.data[..., 2 * H:], h.data,
                                 lambda parts: xp.concatenate(parts, axis=-1))
            return _wrap_all(grads)
        r = (xa[..., :H] + ha[..., :H]).sigmoid()
        z = (xa[..., H:2 * H] + ha[..., H:2 * H]).sigmoid()
        hn = ha[..., 2 * H:]
        n = (xa[..., 2 * H:] + r * hn).tanh()
        return gru_cell_vjp(g_h, r, z, n, hn, h, lambda parts: cat(parts, -1))


class SplitRows(Function):
    """x (S, *) -> the pieces x[0:s_0], x[s_0:s_0 + s_1], ... for the sizes s_t (summing to S).

    A packed sequence's time steps are consecutive row blocks; a recurrent layer cuts the input
    projection of all steps into them once. Backward joins the pieces' gradients: one
    concatenation, where cutting with T slices would add T full-size zero arrays.
    """

    @staticmethod
    def forward(ctx, x, sizes):
        pieces, start = [], 0
        for size in sizes:
            pieces.append(x[start:start + size])
            start += size
        return tuple(pieces)

    @staticmethod
    def backward(ctx, *grads):
        return cat(grads, 0)


def split_rows(x, sizes):
    """The row blocks of ``x`` of the given sizes, as a tuple (see :class:`SplitRows`)."""
    sizes = [int(s) for s in sizes]
    if sum(sizes) != x.shape[0] or min(sizes, default=1) < 0:
        raise ValueError(f"split_rows: sizes {sizes} do not cut the {x.shape[0]} rows of a "
                         f"tensor of shape {x.shape}")
    pieces = SplitRows.apply(x, sizes=sizes)
    return pieces if isinstance(pieces, tuple) else (pieces,)


class HiddenProduct(Function):
    """out = h Wᵀ + xa + b + route for one time step, where xa (the step's input term), b (a
    bias) and route are optional;  dL/dh = g W, dL/dxa = g, dL/db = Σ_rows g, dL/droute = g,
    and *no* gradient for W here.

    W's gradient is the sum over all steps of gᵀ h. Taken step by step it is T small products
    and T additions of a (G·H, H) array; :class:`WeightGradient` gives it instead, as one
    product over all steps after the loop. h's gradient cannot wait: the step before needs it.

    ``route`` is this step's rows of the :class:`WeightGradient` node's zeros: it adds nothing
    to the value and receives g, which it carries to that node. Adding xa, b and route here,
    in place on the product's array, saves a node and an array per step for each of them.
    """

    @staticmethod
    def forward(ctx, h, w, route=None, xa=None, bias=None, w_t=None):
        # w_t: Wᵀ copied once into its own contiguous array by the caller, as every step
        # reads it (the product is then about 20% faster than through the transposed view).
        ctx.save_for_backward(w)
        out = h @ (w.T if w_t is None else w_t)
        for term in (xa, bias):
            if term is not None:
                out += term
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (w,) = ctx.saved_tensors
        needs = ctx.needs_input_grad  # one per positional input: the optional ones may be left off
        need_h, _, need_route, need_xa, need_bias = needs + (False,) * (5 - len(needs))
        grads = (grad_output @ w if need_h else None, None,
                 grad_output if need_route else None, grad_output if need_xa else None,
                 grad_output.sum(0) if need_bias else None)
        return grads[:len(needs)]


class WeightGradient(Function):
    """out = zeros (S, G·H), added to the gate pre-activations of all S rows of a sequence;
    dL/dW = gᵀ [h_0; h_1; ...], the rows' gradients times the states that the steps'
    :class:`HiddenProduct` nodes multiplied by W.

    Adding zeros changes no value, but routes every step's gate gradient g_t here, where W's
    gradient Σ_t g_tᵀ h_t is one matrix product. ``states`` is a list that the recurrent loop
    fills with the state Tensor of each step, in row order, after this node is made; they are
    graph Tensors, so with ``create_graph`` the product is differentiable in them as well.
    """

    @staticmethod
    def forward(ctx, w, rows, states):
        ctx.states = states
        xp = xp_of(w)
        return xp.broadcast_to(xp.zeros((), w.dtype), (rows, w.shape[0]))  # no memory

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.T @ cat(ctx.states, 0)
