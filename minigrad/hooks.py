"""Gradient hooks: where a Tensor keeps the functions that see (and may replace) its gradient
during backward, and ``retain_grad``, which is one such hook. graph.py runs them.

A leaf keeps its hooks on itself; a computed tensor keeps them on the node that produced it,
under its output number, because the engine meets nodes, not tensors, on its walk back.

Notation
--------
t          the Tensor a hook is registered on
node       ``t.grad_fn``; its ``_hooks`` maps an output number to that output's hooks
fn         the hook: ``fn(grad) -> Tensor or None`` (None keeps the gradient)
"""


class HookHandle:
    """What ``register_hook`` returns: ``remove()`` unregisters the hook (twice is harmless)."""

    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


def register_hook(t, fn):
    """Call ``fn(grad)`` when the gradient of ``t`` is computed; a non-None return value
    replaces the gradient.

    Parameters
    ----------
    t : Tensor, any shape, requiring grad
    fn : callable, Tensor of t's shape -> Tensor of t's shape and dtype, or None

    Returns
    -------
    HookHandle
    """
    if not t.requires_grad:
        raise RuntimeError(f"register_hook: the tensor (shape {t.shape}) does not require grad, "
                           f"so no gradient will ever reach a hook on it")
    if t.grad_fn is None:
        if t._hooks is None:
            t._hooks = []
        hooks = t._hooks
    else:
        node = t.grad_fn
        if node._hooks is None:
            node._hooks = {}
        hooks = node._hooks.setdefault(t._output_nr, [])
    hooks.append(fn)
    return HookHandle(hooks, fn)


def retain_grad(t):
    """Keep the gradient of a non-leaf ``t`` in ``t.grad`` after backward (once, however often
    it is called, as in PyTorch; a leaf keeps its gradient anyway)."""
    if t.grad_fn is None or t._retains_grad:
        return
    t._retains_grad = True

    def store(g):
        t.grad = g if t.grad is None else t.grad + g
    register_hook(t, store)
