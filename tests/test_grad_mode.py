"""Grad mode and anomaly mode are per thread: threads interleaved step by step with events, so
the order is the same on every run."""
import threading

import numpy as np

import minigrad as mg
from minigrad.grad_mode import is_anomaly_enabled


def run_in_thread(fn):
    """Run ``fn`` in a new thread and return what it returned (re-raising what it raised)."""
    result = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as error:  # handed to the test's thread
            result["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    return thread, result


def finish(thread, result):
    thread.join(timeout=10)
    assert not thread.is_alive(), "thread did not finish"
    if "error" in result:
        raise result["error"]
    return result.get("value")


def test_threads_leaving_no_grad_in_interleaved_order_restore_their_own_mode():
    # A enters, B enters, A leaves, B leaves: with one process-wide switch, B's exit restored
    # the False it saw on entry and recording stayed off for good.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    x = mg.tensor(np.ones(2), requires_grad=True)

    def a():
        with mg.no_grad():
            a_in.set()
            b_in.wait(5)
        a_out.set()
        return mg.is_grad_enabled(), (x * 2).requires_grad

    def b():
        a_in.wait(5)
        with mg.no_grad():
            b_in.set()
            a_out.wait(5)
            inside = mg.is_grad_enabled()
        return inside, mg.is_grad_enabled(), (x * 2).requires_grad

    ta, ra = run_in_thread(a)
    tb, rb = run_in_thread(b)
    assert finish(ta, ra) == (True, True)
    assert finish(tb, rb) == (False, True, True)
    assert mg.is_grad_enabled() and (x * 2).requires_grad


def test_no_grad_in_one_thread_leaves_recording_on_in_another():
    entered, checked = threading.Event(), threading.Event()
    x = mg.tensor(np.ones(3), requires_grad=True)

    def inference():
        with mg.no_grad():
            entered.set()
            checked.wait(5)
            return (x * 2).grad_fn

    thread, result = run_in_thread(inference)
    assert entered.wait(5)
    y = (x * x).sum()            # the main thread records while the other is inside no_grad
    checked.set()
    assert finish(thread, result) is None
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_a_new_thread_starts_with_grad_enabled_and_anomaly_off():
    with mg.no_grad(), mg.detect_anomaly():
        thread, result = run_in_thread(lambda: (mg.is_grad_enabled(), is_anomaly_enabled()))
        assert finish(thread, result) == (True, False)
        assert not mg.is_grad_enabled() and is_anomaly_enabled()
    assert mg.is_grad_enabled() and not is_anomaly_enabled()


def test_backward_in_one_thread_does_not_switch_grad_mode_in_another():
    # backward turns recording off while it walks (unless create_graph): in its own thread only
    started, resume = threading.Event(), threading.Event()
    x = mg.tensor(np.ones(2), requires_grad=True)

    def hook(g):
        started.set()
        resume.wait(5)

    y = x * 3
    y.register_hook(hook)
    thread, result = run_in_thread(lambda: y.sum().backward())
    assert started.wait(5)
    seen = mg.is_grad_enabled(), (x * 2).requires_grad
    resume.set()
    finish(thread, result)
    assert seen == (True, True)
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_set_grad_enabled_and_decorators_nest_and_restore():
    @mg.no_grad()
    def inner():
        with mg.set_grad_enabled(True):
            return mg.is_grad_enabled()

    with mg.set_grad_enabled(False):
        assert inner() is True
        assert not mg.is_grad_enabled()
        with mg.enable_grad():
            assert mg.is_grad_enabled()
    assert mg.is_grad_enabled()


def test_grad_modes_are_still_importable_from_autograd():
    from minigrad.autograd import no_grad, enable_grad, set_grad_enabled, detect_anomaly
    assert (no_grad, enable_grad, set_grad_enabled, detect_anomaly) == (
        mg.no_grad, mg.enable_grad, mg.set_grad_enabled, mg.detect_anomaly)
