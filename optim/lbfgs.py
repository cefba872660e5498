"""L-BFGS: a quasi-Newton method that learns the curvature from the last few steps.

Newton's method steps along ``-H g``, H the inverse Hessian. BFGS builds an estimate of H from
the pairs (s, y) of past steps and the changes of the gradient they caused; L-BFGS keeps only
the last ``history_size`` pairs and applies the estimate to g with the two-loop recursion
(Nocedal & Wright, Algorithm 7.4), never forming a matrix. The loss is evaluated several times
per ``step``, so ``step`` takes a closure, exactly as PyTorch's ``torch.optim.LBFGS``::

    optimizer = LBFGS(model.parameters(), line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    optimizer.step(closure)

Every parameter is seen as one piece of a single flat vector of length n (in the order the
parameters were given), so the method works on the whole model at once.

Notation
--------
x, g        all parameters, and the gradient, flattened into vectors of length n
d, t        the search direction and the step length along it; a step is x <- x + t * d
s, y        a past step (t * d) and the change of the gradient it caused; PyTorch's state
            names them ``old_stps`` and ``old_dirs``
rho         1 / (y . s), one per stored pair (``ro``)
gamma       the scale of the initial inverse Hessian, (y . s) / (y . y) of the newest pair
            (``H_diag``)
"""
import minigrad as mg
from minigrad import backend
from minigrad.checks import check_int, check_number
from .line_search import Trial, strong_wolfe
from .optimizer import Optimizer

_HISTORY = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss")


def two_loop(grad, old_stps, old_dirs, ro, gamma):
    """The quasi-Newton direction ``-H g`` from the stored pairs (Algorithm 7.4).

    ::

        q = -g
        for i from newest to oldest:  a_i = rho_i * s_i . q;   q <- q - a_i * y_i
        r = gamma * q
        for i from oldest to newest:  b = rho_i * y_i . r;     r <- r + (a_i - b) * s_i
        return r

    Parameters
    ----------
    grad : ndarray, shape (n,)
    old_stps, old_dirs : list of ndarray, shape (n,)
        The steps s_i and gradient changes y_i, oldest first.
    ro : list of float
        rho_i = 1 / (y_i . s_i).
    gamma : float

    Returns
    -------
    ndarray, shape (n,)
    """
    xp = backend.xp_of(grad)
    q = -grad
    alphas = [0.0] * len(old_stps)
    for i in reversed(range(len(old_stps))):
        alphas[i] = float(xp.dot(old_stps[i], q)) * ro[i]
        q -= alphas[i] * old_dirs[i]
    r = gamma * q
    for i in range(len(old_stps)):
        beta = float(xp.dot(old_dirs[i], r)) * ro[i]
        r += (alphas[i] - beta) * old_stps[i]
    return r


class LBFGS(Optimizer):
    """L-BFGS with an optional strong-Wolfe line search, as ``torch.optim.LBFGS``.

    One ``step(closure)`` runs up to ``max_iter`` iterations::

        g = gradient at x (one closure call); stop if max |g| <= tolerance_grad
        repeat:
            d = -g on the very first iteration, else (after storing the newest pair
                s = t * d, y = g - g_prev when y . s > 1e-10) d = two_loop(g)
            t = lr * min(1, 1 / sum |g|) on the very first iteration, else lr
            stop if g . d > -tolerance_change              (d is not a descent direction)
            t = strong_wolfe(...) if line_search_fn else t (then one closure call for g)
            x <- x + t * d
            stop after max_iter iterations or max_eval closure calls, or when
            max |g| <= tolerance_grad, max |t * d| <= tolerance_change, or the loss changed
            by less than tolerance_change

    The history and the counts persist from one ``step`` to the next. Only one parameter
    group is allowed, since the flat vector x spans all parameters.

    Parameters
    ----------
    params : iterable of Tensor
        The parameters, all on one device and of one dtype.
    lr : float
        The step length (without a line search) or the first one tried (with it), > 0.
    max_iter : int
        The most iterations per ``step``, >= 1.
    max_eval : int or None
        The most closure calls per ``step``; None means ``max_iter * 5 // 4``.
    tolerance_grad : float
        Stop when every entry of the gradient is at most this in absolute value, >= 0.
    tolerance_change : float
        Stop when the step or the change of the loss is smaller than this, >= 0.
    history_size : int
        How many (s, y) pairs to keep, >= 1.
    line_search_fn : None or "strong_wolfe"
        None takes the step t = lr as it is; "strong_wolfe" searches along d (see
        :func:`optim.line_search.strong_wolfe`).

    Examples
    --------
    >>> import minigrad as mg
    >>> w = mg.tensor([3.0, -1.0], requires_grad=True)
    >>> opt = LBFGS([w], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = ((w - mg.tensor([1.0, 2.0])) ** 2).sum()
    ...     loss.backward()
    ...     return loss
    >>> _ = opt.step(closure)
    >>> print(w.numpy().round(6))
    [1. 2.]
    """

    required_state = ("func_evals", "n_iter")
    optional_state = _HISTORY
    state_layout = {"func_evals": "count", "n_iter": "count", "d": "flat",
                    "prev_flat_grad": "flat", "t": "number", "H_diag": "number",
                    "prev_loss": "number", "old_dirs": "flat_list", "old_stps": "flat_list",
                    "ro": "number_list"}

    def __init__(self, params, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if max_eval is None:
            max_eval = check_int("LBFGS", "max_iter", max_iter, low=1) * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        params = self._params
        devices = {backend.device_of(p.data) for p in params}
        dtypes = {p.data.dtype for p in params}
        if len(devices) > 1 or len(dtypes) > 1:
            raise ValueError(f"LBFGS: all parameters must share one device and one dtype, "
                             f"since they form one flat vector; got devices {sorted(devices)} "
                             f"and dtypes {sorted(map(str, dtypes))}")

    @property
    def _params(self):
        return self.param_groups[0]["params"]

    def add_param_group(self, param_group):
        if self.param_groups:
            raise ValueError("LBFGS: does not support parameter groups (per-parameter "
                             "options), since all parameters form one vector; pass a single "
                             "list of parameters")
        super().add_param_group(param_group)

    def check_group(self, group):
        check_number("LBFGS", "lr", group["lr"], low=0.0, low_open=True)
        check_int("LBFGS", "max_iter", group["max_iter"], low=1)
        check_int("LBFGS", "max_eval", group["max_eval"], low=1)
        check_number("LBFGS", "tolerance_grad", group["tolerance_grad"], low=0.0)
        check_number("LBFGS", "tolerance_change", group["tolerance_change"], low=0.0)
        check_int("LBFGS", "history_size", group["history_size"], low=1)
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                             f"{group['line_search_fn']!r}")

    def check_state(self, where, state):
        present = [key for key in _HISTORY if key in state]
        if present and len(present) != len(_HISTORY):
            raise ValueError(f"{where} holds {present} of the history; expected all of "
                             f"{list(_HISTORY)} or none")
        if present and not len(state["old_dirs"]) == len(state["old_stps"]) == len(state["ro"]):
            raise ValueError(f"{where}: old_dirs, old_stps and ro hold {len(state['old_dirs'])}, "
                             f"{len(state['old_stps'])} and {len(state['ro'])} entries; "
                             "expected one per stored pair")

    def _flat_grad(self):
        """The gradients of all parameters as one vector (zeros for a parameter without)."""
        xp = backend.xp_of(self._params[0].data)
        return xp.concatenate([xp.zeros(p.data.size, p.data.dtype) if p.grad is None
                               else p.grad.data.reshape(-1) for p in self._params])

    def _add_to_params(self, t, d):
        """x <- x + t * d, each parameter taking its slice of d."""
        offset = 0
        for p in self._params:
            p.data += t * d[offset:offset + p.data.size].reshape(p.data.shape)
            offset += p.data.size
            p._version += 1

    def _set_params(self, values):
        for p, value in zip(self._params, values):
            p.data[...] = value
            p._version += 1

    def _evaluate(self, closure):
        """The loss as a float, from one closure call with grad mode on."""
        with mg.enable_grad():
            loss = closure()
        if loss is None:
            raise TypeError("LBFGS: the closure returned None; it must return the loss (a "
                            "one-element Tensor or a number) after calling backward")
        return (loss, float(loss))

    def _phi(self, closure, x, d):
        """phi(t) for the line search: the loss and flat gradient at x + t * d, after which
        the parameters are put back at x."""
        def phi(t):
            self._add_to_params(t, d)
            _, loss = self._evaluate(closure)
            grad = self._flat_grad()
            self._set_params(x)
            return (loss, grad)
        return phi

    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; return the loss before the first one.

        Parameters
        ----------
        closure : callable
            Clears the gradients, evaluates the loss, calls ``backward`` and returns the
            loss. It is called with grad mode on, once per evaluation.

        Returns
        -------
        The closure's return value at the starting point.
        """
        if closure is None:
            raise TypeError("LBFGS: step needs a closure that clears the gradients, "
                            "evaluates the loss, calls backward and returns the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss, loss = self._evaluate(closure)
        state["func_evals"] += 1
        evaluations = 1
        xp = backend.xp_of(self._params[0].data)
        flat_grad = self._flat_grad()
        if float(xp.abs(flat_grad).max()) <= tolerance_grad:
            return orig_loss  # already optimal: no history to update

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag, prev_flat_grad = state.get("H_diag"), state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1.0
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(xp.dot(y, s))
                # Keep a pair only if y . s > 0 (the curvature condition), which keeps H
                # positive definite, so that d stays a descent direction.
                if ys > 1e-10:
                    while len(old_dirs) >= group["history_size"]:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(xp.dot(y, y))
                d = two_loop(flat_grad, old_stps, old_dirs, ro, H_diag)
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            if state["n_iter"] == 1:
                # No curvature known yet: a first step of length at most lr in the 1-norm.
                t = min(1.0, 1.0 / float(xp.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(xp.dot(flat_grad, d))
            if gtd > -tolerance_change:
                break
            if group["line_search_fn"] == "strong_wolfe":
                x = [p.data.copy() for p in self._params]
                best, calls = strong_wolfe(self._phi(closure, x, d), d,
                                           Trial(0.0, loss, flat_grad, gtd), t)
                loss, flat_grad, t = best.f, best.g, best.t
                self._add_to_params(t, d)
                optimal = float(xp.abs(flat_grad).max()) <= tolerance_grad
            else:
                self._add_to_params(t, d)
                calls, optimal = 0, False
                if n_iter != max_iter:
                    # The last iteration's gradient would go unused, so it is not computed.
                    _, loss = self._evaluate(closure)
                    flat_grad = self._flat_grad()
                    optimal = float(xp.abs(flat_grad).max()) <= tolerance_grad
                    calls = 1
            evaluations += calls
            state["func_evals"] += calls
            if n_iter == max_iter or evaluations >= max_eval or optimal:
                break
            if float(xp.abs(d * t).max()) <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss
