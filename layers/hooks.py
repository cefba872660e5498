"""Forward hooks: functions a Module calls around its ``forward``, and the handles that remove them.

A hook sees a module's inputs (a pre-hook) or its inputs and output (a hook) and may replace
them, so activations can be inspected or edited without subclassing, as with PyTorch's
``register_forward_hook``. A module keeps each kind in a plain dict ``handle id -> hook``, whose
order is the order of registration; the handle is the key that takes its hook out again.

Notation
--------
hooks     one module's registry of one kind: a dict ``handle id -> hook``, in calling order
args      the positional inputs of a call, a tuple
output    what ``forward`` returned
"""
import itertools


class RemovableHandle:
    """What ``register_forward_hook`` and ``register_forward_pre_hook`` return.

    ``handle.remove()`` unregisters the hook; removing twice is harmless. It also works as a
    context manager, removing the hook when the block ends.
    """

    _ids = itertools.count()

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()
        return False


def add_hook(hooks, hook):
    """Put ``hook`` last in the registry ``hooks``; returns the :class:`RemovableHandle`."""
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def call_with_hooks(module, args, kwargs):
    """``module.forward(*args, **kwargs)`` with the module's pre-hooks run before and its hooks
    after, each free to replace what it was given by returning something other than None."""
    # tuple(...) so that a hook may remove itself (or another) while running
    for hook in tuple(module._forward_pre_hooks.values()):
        result = hook(module, args)
        if result is not None:
            args = result if isinstance(result, tuple) else (result,)
    output = module.forward(*args, **kwargs)
    for hook in tuple(module._forward_hooks.values()):
        result = hook(module, args, output)
        if result is not None:
            output = result
    return output
