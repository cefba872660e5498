"""Check analytic gradients against central finite differences, in float64.

For outputs ``y_k = fn(x)`` and a fixed random vector ``v_k`` per output, both sides compute
the gradient of the scalar ``L(x) = Σ_k <v_k, y_k>``:

- analytic: one backward pass, ``mg.grad(L, x)``, i.e. the vector-Jacobian product vᵀJ;
- numeric: for each entry i of each input, ``(L(x + ε e_i) − L(x − ε e_i)) / 2ε``.

A wrong Jacobian entry changes vᵀJ for almost every v, so one random projection catches it
while costing one backward pass instead of one per output entry. An input with more than
``max_entries`` entries is checked at a seeded random subset of that many entries.
``gradgradcheck`` applies the same test to the function ``(x, v) -> vᵀJ(x)``, built with
``create_graph=True``, which checks every second derivative that backward produces.
"""
import numpy as np

from . import backend
from .graph import grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when analytic and numeric gradients disagree; the message names the worst entry."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _float_outputs(outputs):
    return [y for y in _as_tuple(outputs)
            if isinstance(y, Tensor) and y.dtype.kind == "f"]


def _projection(outputs, rng):
    return [rng.standard_normal(y.shape) for y in outputs]


def _on_device_of(array, like, requires_grad=False):
    """A float64 host ``array`` as a Tensor on ``like``'s device. Random values are drawn on
    the host, so one seed gives the same check on every device."""
    device_array = backend.to_device(np.asarray(array, dtype=np.float64), like.device)
    return Tensor._wrap(device_array, requires_grad)


def _projected(fn, inputs, vs):
    """L = Σ <v_k, y_k> as a float (fn may itself differentiate, as in gradgradcheck)."""
    outputs = _float_outputs(fn(*inputs))
    total = 0.0
    for y, v in zip(outputs, vs):
        total += float((np.asarray(y.numpy(), dtype=np.float64) * v).sum())
    return total


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, max_entries=1000, seed=0):
    """Compare ``fn``'s analytic gradients with central differences.

    Parameters
    ----------
    fn : callable
        Takes the tensors of ``inputs`` positionally; returns a Tensor or a tuple of them.
    inputs : Tensor or sequence of Tensor
        Those with ``requires_grad=True`` are checked and must be float64.
    eps : float
        The finite-difference step.
    atol, rtol : float
        An entry passes when ``|analytic − numeric| <= atol + rtol·|numeric|``.
    max_entries : int
        Per input, how many entries at most are perturbed (a seeded random subset beyond it).

    Returns
    -------
    True, or raises :class:`GradcheckError` naming the input, the index and both values.
    """
    inputs = _as_tuple(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; finite "
                            "differences need float64 inputs")
    rng = np.random.default_rng(seed)
    outputs = _float_outputs(fn(*inputs))
    if not outputs:
        raise ValueError("gradcheck: fn returned no floating point tensor")
    vs = _projection(outputs, rng)
    loss = None
    for y, v in zip(outputs, vs):
        if y.requires_grad:
            term = (y * _on_device_of(v, y)).sum()
            loss = term if loss is None else loss + term
    if loss is None:
        analytic = [None] * len(checked)
    else:
        analytic = grad(loss, [inputs[i] for i in checked], allow_unused=True)

    for position, i in enumerate(checked):
        x = inputs[i]
        a = analytic[position]
        a = np.zeros(x.shape) if a is None else np.asarray(a.numpy(), dtype=np.float64)
        size = x.data.size
        entries = np.arange(size) if size <= max_entries else \
            np.sort(rng.choice(size, max_entries, replace=False))
        if not x.data.flags.c_contiguous:
            x.data = x.data.copy()  # C order, so that the flat view below aliases the data
        flat = x.data.reshape(-1)  # a view: writing to it perturbs the input in place
        worst = None
        for e in entries:
            original = flat[e].item()
            flat[e] = original + eps
            plus = _projected(fn, inputs, vs)
            flat[e] = original - eps
            minus = _projected(fn, inputs, vs)
            flat[e] = original
            numeric = (plus - minus) / (2 * eps)
            # A Python float, so the message shows ``0.0``, not NumPy 2's ``np.float64(0.0)``.
            analytic_e = float(a.reshape(-1)[e])
            excess = abs(analytic_e - numeric) - (atol + rtol * abs(numeric))
            # a NaN or infinite numeric gradient fails too: ``excess > 0`` is False for NaN
            if not (np.isfinite(analytic_e) and np.isfinite(numeric)) or (
                    excess > 0 and (worst is None or excess > worst[0])):
                worst = (excess, e, analytic_e, numeric)
        if worst is not None:
            _, e, analytic_e, numeric = worst
            index = tuple(map(int, np.unravel_index(e, x.shape))) if x.shape else ()
            raise GradcheckError(
                f"gradcheck failed for input {i} (shape {x.shape}) at index {index}: "
                f"analytic {analytic_e!r} vs numeric {numeric!r} "
                f"(atol={atol}, rtol={rtol}, eps={eps})")
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3,
                  max_entries=1000, seed=0):
    """Check second derivatives: gradcheck of ``(inputs, v) -> vᵀJ_fn(inputs)``.

    ``grad_outputs`` (the v, one per float output) are random float64 tensors when omitted;
    they are checked too, since the gradient is linear in them.
    """
    inputs = _as_tuple(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outputs = _float_outputs(fn(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = [_on_device_of(rng.standard_normal(y.shape), y, requires_grad=True)
                        for y in outputs]
    grad_outputs = list(_as_tuple(grad_outputs))
    n = len(inputs)

    def first_derivative(*args):
        xs, vs = args[:n], args[n:]
        ys = [y for y in _float_outputs(fn(*xs))]
        pairs = [(y, v) for y, v in zip(ys, vs) if y.requires_grad]
        targets = [xs[i] for i in checked]
        grads = [None] * len(targets)
        if pairs:
            grads = grad([y for y, _ in pairs], targets, grad_outputs=[v for _, v in pairs],
                         create_graph=True, allow_unused=True)
        return tuple(g if g is not None else _on_device_of(np.zeros(t.shape), t)
                     for g, t in zip(grads, targets))

    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps=eps,
                     atol=atol, rtol=rtol, max_entries=max_entries, seed=seed)
