"""The worker side of ``DataLoader(num_workers=K)``, in this process: the worker loop fed by
plain queues, its seeding and its answers (batch, end, failure), the failure's message and type
in the main process, the pool's protocol with stand-in processes, and the shutdown's order."""
import gc
import os
import pickle
import queue
import random
import signal
import traceback

import numpy as np
import pytest

from minigrad.data import IterableDataset, get_worker_info
from minigrad.data import worker as W
from minigrad.data.collate import Exhausted, Fetcher, IterableFetcher
from minigrad.data.worker import BATCH, END, FAILURE, WorkerInfo


class Queue(queue.Queue):
    """queue.Queue with the two calls of a multiprocessing queue that the code makes."""

    def __init__(self, items=()):
        super().__init__()
        self.calls = []
        for item in items:
            self.put(item)

    def get(self, block=True, timeout=None):
        self.calls.append(("get", timeout))
        return super().get(block, timeout)

    def cancel_join_thread(self):
        self.calls.append("cancel_join_thread")

    def close(self):
        self.calls.append("close")

    def items(self):
        out = []
        while not self.empty():
            out.append(super().get())
        return out


class Script:
    """An index queue that answers from a list: an exception class is raised, anything else
    returned; asked once more than the list holds, it fails the test."""

    def __init__(self, answers):
        self.answers, self.timeouts = list(answers), []

    def get(self, timeout=None):
        self.timeouts.append(timeout)
        assert self.answers, "the worker asked for a task after it should have stopped"
        answer = self.answers.pop(0)
        if isinstance(answer, type) and issubclass(answer, BaseException):
            raise answer
        return answer


def ident(samples):
    return samples


def clock(*times):
    """A stand-in for the worker module's ``time``: ``monotonic`` reads ``times`` in turn and
    then stays at the last one. Pools of earlier tests are collected first, so that no
    finalizer's shutdown reads the clock in their place."""
    gc.collect()
    times = list(times)

    class Clock:
        @staticmethod
        def monotonic():
            return times.pop(0) if len(times) > 1 else times[0]
    return Clock


@pytest.fixture
def worker_state(monkeypatch):
    """The worker loop sets process-wide state (SIGINT, the seeds, the worker info): put it back."""
    handler = signal.getsignal(signal.SIGINT)
    py_state, np_state = random.getstate(), np.random.get_state()
    monkeypatch.setattr(W, "_worker_info", None)
    yield
    signal.signal(signal.SIGINT, handler)
    random.setstate(py_state)
    np.random.set_state(np_state)


def run_loop(tasks, fetcher, worker_id=1, num_workers=3, seed=5, init=None, parent_pid=None):
    """Run the loop on ``tasks`` (then None) and return what it put on the result queue."""
    index_queue = Queue([*tasks, None])
    result_queue = Queue()
    W._worker_loop(worker_id, num_workers, seed, fetcher, init, index_queue, result_queue,
                   os.getppid() if parent_pid is None else parent_pid)
    return result_queue, index_queue


def test_worker_loop_serves_tasks_in_order_and_seeds_before_init(worker_state):
    data = [10, 11, 12, 13, 14]
    fetcher = Fetcher(data, ident)
    seed = 2**32 + 9                       # NumPy's generator takes seed % 2**32
    seen = {}

    def init(worker_id):
        seen["id"] = worker_id
        seen["info"] = get_worker_info()
        seen["py"] = random.random()
        seen["np"] = np.random.random()
    results, index_queue = run_loop([((0, 0), [0, 1]), ((0, 1), [4])], fetcher, worker_id=2,
                                    num_workers=4, seed=seed, init=init)
    assert seen["id"] == 2
    assert seen["info"] == WorkerInfo(2, 4, seed, data)
    assert seen["info"].dataset is data
    assert seen["py"] == random.Random(seed).random()
    assert seen["np"] == np.random.RandomState(9).random_sample()
    assert get_worker_info() == WorkerInfo(2, 4, seed, data)
    out = results.items()
    assert [(key, status) for key, status, _ in out] == [((0, 0), BATCH), ((0, 1), BATCH)]
    assert [pickle.loads(payload) for _, _, payload in out] == [[10, 11], [14]]
    assert "cancel_join_thread" in results.calls
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    assert index_queue.calls[0] == ("get", W._POLL_S)


def test_worker_loop_without_init_fn_still_seeds(worker_state):
    fetcher = Fetcher([1, 2], ident)
    results, _ = run_loop([((0, 0), [1])], fetcher, worker_id=0, num_workers=1, seed=123)
    assert random.random() == random.Random(123).random()
    [(key, status, payload)] = results.items()
    assert (key, status, pickle.loads(payload)) == ((0, 0), BATCH, [2])


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def test_worker_loop_restarts_the_stream_at_a_new_epoch_and_answers_end(worker_state):
    fetcher = IterableFetcher(Stream(3), ident, True, False)
    tasks = [((0, 0), 2), ((0, 1), 2), ((0, 2), 2), ((1, 0), 2), ((1, 1), 2), ((1, 2), 2)]
    results, _ = run_loop(tasks, fetcher)
    out = [(key, status, None if payload is None else pickle.loads(payload))
           for key, status, payload in results.items()]
    assert out == [((0, 0), BATCH, [0, 1]), ((0, 1), BATCH, [2]), ((0, 2), END, None),
                   ((1, 0), BATCH, [0, 1]), ((1, 1), BATCH, [2]), ((1, 2), END, None)]


def test_worker_loop_keeps_the_stream_within_an_epoch(worker_state):
    # The first task's epoch is 0: the stream must not restart between tasks of one epoch,
    # nor at the first task (the fetcher is fresh).
    fetcher = IterableFetcher(Stream(5), ident, True, False)
    fetcher(1)                                       # an item taken before: reset must drop it
    results, _ = run_loop([((0, 0), 2), ((0, 1), 2)], fetcher)
    assert [pickle.loads(p) for _, _, p in results.items()] == [[0, 1], [2, 3]]


def test_worker_loop_reports_a_failed_init_for_every_task(worker_state):
    def init(worker_id):
        raise ValueError(f"no disk for worker {worker_id}")
    fetcher = Fetcher([1, 2, 3], ident)
    results, _ = run_loop([((0, 0), [0]), ((0, 1), [1])], fetcher, worker_id=1, init=init)
    out = results.items()
    assert [(key, status) for key, status, _ in out] == [((0, 0), FAILURE), ((0, 1), FAILURE)]
    for _, _, payload in out:
        failure = pickle.loads(payload)
        assert (failure.worker_id, failure.stage, failure.exc_type) == (1, "worker_init_fn(1)",
                                                                       ValueError)
        assert failure.text.endswith("ValueError: no disk for worker 1\n")
        assert failure.text.startswith("Traceback (most recent call last):\n")


def test_worker_loop_reports_a_failed_batch_with_its_worker_and_sample(worker_state):
    class Broken(list):
        def __getitem__(self, i):
            if i == 1:
                raise KeyError(i)
            return i
    results, _ = run_loop([((0, 0), [0, 1]), ((0, 1), [0])], Fetcher(Broken([0, 0]), ident),
                          worker_id=2)
    (key, status, payload), second = results.items()
    failure = pickle.loads(payload)
    assert (key, status) == ((0, 0), FAILURE)
    assert (failure.worker_id, failure.stage, failure.exc_type) == (2, "dataset[1]", KeyError)
    assert second[:2] == ((0, 1), BATCH) and pickle.loads(second[2]) == [0]


def test_worker_loop_waits_while_the_parent_lives_and_exits_when_it_is_gone(worker_state):
    fetcher = Fetcher([7, 8], ident)
    result_queue = Queue()
    tasks = Script([queue.Empty, queue.Empty, ((0, 0), [1]), None])
    W._worker_loop(0, 1, 0, fetcher, None, tasks, result_queue, os.getppid())
    assert tasks.timeouts == [W._POLL_S] * 4
    [(key, status, payload)] = result_queue.items()
    assert (key, status, pickle.loads(payload)) == ((0, 0), BATCH, [8])
    # An orphan (its parent's pid is not the one it was given) returns at the first empty poll.
    tasks = Script([queue.Empty])
    W._worker_loop(0, 1, 0, fetcher, None, tasks, result_queue, os.getppid() + 1)
    assert tasks.timeouts == [W._POLL_S] and result_queue.empty()


class Boom(Exception):
    pass


def test_serve_batch_end_failure_and_unpicklable_batch():
    fetcher = Fetcher([3, 4, 5], ident)
    status, payload = W._serve(fetcher, [2, 0], 4)
    assert (status, pickle.loads(payload)) == (BATCH, [5, 3])

    class Ended:
        stage = "x"

        def __call__(self, task):
            raise Exhausted
    assert W._serve(Ended(), 3, 0) == (END, None)

    class Broken(list):
        def __getitem__(self, i):
            if i == 2:
                raise Boom(f"bad sample {i}")
            return i
    status, payload = W._serve(Fetcher(Broken([0, 0, 0]), ident), [1, 2], 3)
    failure = pickle.loads(payload)
    assert status == FAILURE
    assert (failure.worker_id, failure.stage, failure.exc_type) == (3, "dataset[2]", Boom)
    assert failure.text.endswith("Boom: bad sample 2\n")

    status, payload = W._serve(Fetcher([lambda: 0, 1], ident), [0, 1], 2)
    failure = pickle.loads(payload)
    assert status == FAILURE and failure.worker_id == 2
    assert failure.stage == "pickling the batch of task [0, 1] for the main process"
    assert issubclass(failure.exc_type, Exception)
    with pytest.raises(failure.exc_type):
        pickle.dumps(lambda: 0)


def test_failure_keeps_a_picklable_type_and_falls_back_to_runtime_error():
    try:
        raise Boom("top level")
    except Boom as error:
        failure = W._failure(3, "dataset[1]", error)
        text = "".join(traceback.format_exception(error))
    assert failure == W._Failure(3, "dataset[1]", Boom, text)
    assert failure.text.startswith("Traceback (most recent call last):\n")
    assert failure.text.endswith("Boom: top level\n")

    class Local(Exception):
        pass
    failure = W._failure(0, "s", Local("inside"))
    assert failure.exc_type is RuntimeError
    assert failure.text.endswith("Local: inside\n")
    assert (failure.worker_id, failure.stage) == (0, "s")


def test_reraise_message_type_and_fallbacks():
    failure = W._Failure(2, "dataset[5]", ValueError, "Traceback...\nValueError: x\n")
    with pytest.raises(ValueError) as info:
        failure.reraise(7)
    assert str(info.value) == ("DataLoader worker 2 failed on batch 7, in dataset[5]:\n"
                               "Traceback...\nValueError: x\n")
    key = W._Failure(0, "dataset[1]", KeyError, "line one\nline two")
    with pytest.raises(KeyError) as info:
        key.reraise(1)
    assert str(info.value) == "DataLoader worker 0 failed on batch 1, in dataset[1]:\nline one\nline two"
    assert repr(W._PlainRepr("a\nb")) == "a\nb"

    class NeedsTwo(Exception):
        def __init__(self, a, b):
            super().__init__(a, b)
    odd = W._Failure(1, "collate_fn on indices [0]", NeedsTwo, "text")
    with pytest.raises(RuntimeError) as info:
        odd.reraise(3)
    assert type(info.value) is RuntimeError
    assert str(info.value) == ("DataLoader worker 1 failed on batch 3, in collate_fn on indices "
                               "[0]:\ntext")


class Process:
    """A stand-in process: records how it was made, started, joined and ended."""

    def __init__(self, target=None, daemon=None, args=(), alive=False, pid=100, exitcode=None):
        self.target, self.daemon, self.args = target, daemon, args
        self.alive, self.pid, self.exitcode = alive, pid, exitcode
        self.calls = []

    def start(self):
        self.calls.append("start")

    def join(self, timeout=None):
        self.calls.append(("join", timeout))

    def is_alive(self):
        return self.alive

    def terminate(self):
        self.calls.append("terminate")
        self.alive = False


class Context:
    def __init__(self, name):
        self.name, self.processes, self.queues = name, [], []

    def Queue(self):
        self.queues.append(Queue())
        return self.queues[-1]

    def Process(self, **kw):
        self.processes.append(Process(**kw))
        return self.processes[-1]


@pytest.fixture
def contexts(monkeypatch):
    made = []

    def get_context(name):
        made.append(Context(name))
        return made[-1]
    monkeypatch.setattr(W.multiprocessing, "get_context", get_context)
    return made


def test_pool_starts_seeded_daemon_workers_with_their_own_queues(contexts):
    fetcher = Fetcher([0, 1, 2], ident)
    pool = W.WorkerPool(fetcher, print, 3, 40)
    [ctx] = contexts
    assert ctx.name == W.start_method() == "fork"
    assert pool.num_workers == 3 and pool.epoch == 0
    assert pool.result_queue is ctx.queues[0] and pool.index_queues == ctx.queues[1:]
    assert pool.workers == ctx.processes and len(pool.workers) == 3
    for k, p in enumerate(pool.workers):
        assert p.target is W._worker_loop and p.daemon is True and p.calls == ["start"]
        assert p.args == (k, 3, 40 + k, fetcher, print, pool.index_queues[k], pool.result_queue,
                          os.getpid())
    W.WorkerPool(fetcher, None, 1, 0, context="spawn")
    assert contexts[1].name == "spawn"


def test_pool_send_receive_drops_old_epochs(contexts):
    pool = W.WorkerPool(Fetcher([0], ident), None, 2, 0)
    pool.epoch = 3
    pool.send(5, [1, 2], 1)
    assert pool.index_queues[1].items() == [((3, 5), [1, 2])] and pool.index_queues[0].empty()
    pool.result_queue.put(((2, 0), BATCH, b"old"))
    pool.result_queue.put(((3, 6), END, None))
    assert pool.receive(6, 0, timeout=0) == (6, END, None)
    assert pool.result_queue.calls == [("get", W._POLL_S)] * 2


def test_pool_receive_times_out_naming_the_batch_and_worker(contexts):
    pool = W.WorkerPool(Fetcher([0], ident), None, 3, 0)
    for p in pool.workers:
        p.alive = True
    with pytest.raises(RuntimeError) as info:
        pool.receive(4, 2, timeout=0.05)
    assert str(info.value) == "DataLoader timed out after 0.05 s waiting for batch 4 from worker 2"


def test_pool_receive_without_timeout_keeps_waiting(contexts, monkeypatch):
    pool = W.WorkerPool(Fetcher([0], ident), None, 1, 0)
    pool.workers[0].alive = True
    answers = [queue.Empty, queue.Empty, ((0, 1), BATCH, b"x")]
    monkeypatch.setattr(W, "time", clock(1000.0, 1100.0, 1200.0, 1300.0))

    def get(timeout=None):
        answer = answers.pop(0)
        if answer is queue.Empty:
            raise queue.Empty
        return answer
    pool.result_queue.get = get
    assert pool.receive(1, 0, timeout=0) == (1, BATCH, b"x")
    # With a timeout the same waits are too long: 100 s and 200 s after the start.
    answers[:] = [queue.Empty, queue.Empty, ((0, 1), BATCH, b"x")]
    monkeypatch.setattr(W, "time", clock(1000.0, 1100.0, 1200.0))
    with pytest.raises(RuntimeError, match="timed out after 150 s waiting for batch 1"):
        pool.receive(1, 0, timeout=150)
    assert answers == [((0, 1), BATCH, b"x")]          # the second wait, at 200 s > 150 s
    # A wait that has lasted exactly the timeout is not yet too long.
    answers[:] = [queue.Empty, ((0, 1), BATCH, b"y")]
    monkeypatch.setattr(W, "time", clock(1000.0, 1150.0))
    assert pool.receive(1, 0, timeout=150) == (1, BATCH, b"y")


def test_pool_receive_names_a_dead_worker(contexts):
    pool = W.WorkerPool(Fetcher([0], ident), None, 3, 0)
    for p in pool.workers:
        p.alive = True
    pool.workers[1].alive, pool.workers[1].pid, pool.workers[1].exitcode = False, 4321, -9
    with pytest.raises(RuntimeError) as info:
        pool.receive(0, 0, timeout=0)
    assert str(info.value) == "DataLoader worker 1 (pid 4321) exited unexpectedly with exit code -9"


def test_pool_protocol_end_to_end_with_the_loop_run_here(contexts, worker_state):
    data = list(range(100, 110))
    pool = W.WorkerPool(Fetcher(data, ident), None, 2, 7)
    pool.send(0, [0, 1], 0)
    pool.send(1, [2, 3], 1)
    pool.send(2, [4], 0)
    for q in pool.index_queues:
        q.put(None)
    for p in pool.workers:
        p.target(*p.args)                 # each worker's loop, run to its None
    got = {}
    for n in range(3):
        m, status, payload = pool.receive(n, 0, timeout=1)
        got[m] = (status, pickle.loads(payload))
    assert got == {0: (BATCH, [100, 101]), 1: (BATCH, [102, 103]), 2: (BATCH, [104])}
    assert get_worker_info() == WorkerInfo(1, 2, 8, data)


def test_pool_shutdown_stops_joins_and_closes(contexts):
    pool = W.WorkerPool(Fetcher([0], ident), None, 2, 0)
    pool.workers[1].alive = True                  # busy: it is terminated after the join
    pool.shutdown()
    for q in pool.index_queues:
        assert q.items() == [None]
        assert q.calls[-2:] == ["cancel_join_thread", "close"]
    assert pool.result_queue.calls[-2:] == ["cancel_join_thread", "close"]
    first, busy = pool.workers
    assert first.calls[0] == "start" and first.calls[1][0] == "join"
    assert len(first.calls) == 2 and 0 < first.calls[1][1] <= W._JOIN_S
    assert busy.calls[1][0] == "join" and busy.calls[2:] == ["terminate", ("join", None)]
    pool.shutdown()                               # a second call does nothing
    assert len(first.calls) == 2


def test_shutdown_skips_closed_queues_and_never_waits_a_negative_time(monkeypatch):
    class Closed(Queue):
        def __init__(self, error):
            super().__init__()
            self.error = error

        def put(self, item, block=True, timeout=None):
            raise self.error("closed")
    queues = [Closed(ValueError), Closed(OSError), Queue()]
    result_queue = Queue()
    workers = [Process(), Process()]
    monkeypatch.setattr(W, "time", clock(0.0, 1.0, 5.0))
    W._shutdown(workers, queues, result_queue)
    assert queues[2].items() == [None]
    assert workers[0].calls == [("join", W._JOIN_S - 1.0)]
    assert workers[1].calls == [("join", 0.0)]
    for q in (*queues, result_queue):
        assert q.calls == ["cancel_join_thread", "close"]


def test_start_method_is_fork_where_offered_else_spawn(monkeypatch):
    monkeypatch.setattr(W.multiprocessing, "get_all_start_methods",
                        lambda: ["fork", "spawn", "forkserver"])
    assert W.start_method() == "fork"
    monkeypatch.setattr(W.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert W.start_method() == "spawn"
