"""Grad mode and anomaly mode: per-thread switches that ops read while they run.

``no_grad`` turns graph recording off inside a block (inference, optimizer steps); ``enable_grad``
and ``set_grad_enabled`` turn it back on or choose; ``detect_anomaly`` makes a backward that
produces NaN or inf raise at once, naming the line of user code whose forward made the node.

Both switches belong to the thread that sets them, as in PyTorch: a data-loading or serving
thread that enters ``no_grad`` leaves recording on in every other thread, and a new thread
starts with grad enabled and anomaly detection off, whatever its parent had.

Notation
--------
state    the calling thread's switches: ``state.grad_enabled``, ``state.anomaly``
"""
import contextlib
import os
import threading
import traceback


class _State(threading.local):
    """The switches of one thread. Class attributes are the defaults a new thread sees, and
    reading ``state.grad_enabled`` is one attribute lookup, which ``Function.apply`` does for
    every op (measured: about 30 ns, a few percent of an op's bookkeeping)."""
    grad_enabled = True
    anomaly = False


state = _State()


def is_grad_enabled():
    """True when ops record the graph in this thread (the default)."""
    return state.grad_enabled


def is_anomaly_enabled():
    """True inside ``detect_anomaly`` in this thread."""
    return state.anomaly


class _SwitchContext(contextlib.ContextDecorator):
    """Sets one switch of ``state`` inside a ``with`` block or a decorated function, then
    restores the previous value, so blocks nest."""
    switch = "grad_enabled"
    value = True

    def __init__(self):
        self._previous = []

    def _recreate_cm(self):
        # A fresh context per decorated call, so recursion and calls from several threads
        # each restore their own previous value.
        return type(self)()

    def __enter__(self):
        self._previous.append(getattr(state, self.switch))
        setattr(state, self.switch, self.value)
        return self

    def __exit__(self, *exc_info):
        setattr(state, self.switch, self._previous.pop())
        return False


class no_grad(_SwitchContext):
    """Context manager and decorator: no graph is recorded inside (inference, optimizer steps).

    >>> import minigrad as mg
    >>> x = mg.ones(2, requires_grad=True)
    >>> with mg.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """
    value = False


class enable_grad(_SwitchContext):
    """Context manager and decorator: turns recording back on inside a ``no_grad`` block."""
    value = True


class set_grad_enabled(_SwitchContext):
    """``with set_grad_enabled(flag):`` records the graph when ``flag`` is True."""

    def __init__(self, mode=True):
        super().__init__()
        self.value = bool(mode)

    def _recreate_cm(self):
        return set_grad_enabled(self.value)


class detect_anomaly(_SwitchContext):
    """Inside this block, a backward that produces NaN or inf raises at once.

    The error names the op and the line of user code whose forward call created the node, which
    is the line to look at. Recording that line costs a stack walk per op, hence opt-in.
    """
    switch = "anomaly"
    value = True


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_frame():
    """The innermost stack frame outside the minigrad package: where the user called the op."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return frame
    return None
