"""Scaling: how minigrad's cost grows with the size of the work, against PyTorch (issue 19).

Four axes, each timed over a range of sizes n, float32 on the CPU:

    length  a chain of n elementwise ops (mul, add, tanh, sub, repeated) on (4, 4) tensors,
            forward and backward timed apart, in µs per op: with arrays this small, the cost
            is the engine's own bookkeeping per graph node
    batch   one LeNet training step on (n, 1, 28, 28): Conv2d(1, 16, 5, p2) ─ ReLU ─ MaxPool2d(2)
            ─ Conv2d(16, 32, 5, p2) ─ ReLU ─ MaxPool2d(2) ─ Flatten ─ Linear(1568, 128) ─ ReLU
            ─ Linear(128, 10), cross-entropy, backward, SGD step
    image   one Conv2d(8, 8, 3, padding=1) on (4, 8, n, n), forward + backward
    steps   an LSTM layer (``layers.LSTM`` / ``torch.nn.LSTM``) over n steps, batch 32, input
            and hidden 64, loss h_n.sum(), forward + backward

The slope k of an axis is the least-squares fit of log t on log n: t grows like n^k (k = 1 on
``length`` is a constant cost per op). Peak memory, at each axis's largest size: the rise of the
peak RSS (getrusage, the kernel's high-water mark reset first) over the RSS before the step, and
tracemalloc's peak (NumPy's buffers and Python objects; blind to PyTorch's allocator).

Each job runs in a fresh child process with one engine, so peaks do not mix. ``--threads``
(default 1) reaches the children through OMP/OPENBLAS/MKL/VECLIB/NUMBA thread variables, set
before NumPy is imported, then threadpoolctl (if installed), numba and torch.set_num_threads.
Without PyTorch, only minigrad runs. Each timed run starts with gc.collect(); ``--no-gc`` then
keeps the cyclic collector off until the run ends, to show how much of the cost it is.
``--clock cpu`` reads the process's CPU time instead of the wall clock: steadier on a shared
machine, as the time other processes hold the cores is left out, but summed over threads. The
report (scaling_report.py) is printed as Markdown; ``--out`` gets ``scaling.png`` (a log-log
panel per axis) and ``scaling.json`` (raw seconds and bytes), or ``scaling_nogc.*`` under
``--no-gc``.

    python -m bench.bench_scaling              # chains up to 1e5 ops, a few minutes
    python -m bench.bench_scaling --full       # chains up to 1e6 ops
    python -m bench.bench_scaling --quick      # tiny sizes, a smoke run of about a minute
    python -m bench.bench_scaling --no-gc

Notation
--------
n       size along an axis: ops, batch, pixels per side, or steps
t       median seconds of one run at size n
k       fitted slope, t ~ c n^k
T, N, H the LSTM's steps (n), batch (32) and input and hidden width (64)
"""
import argparse
import contextlib
import gc
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc

from bench.scaling_report import plot, summary, targets

AXES = ("length", "batch", "image", "steps")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS")
RNN_H, RNN_N = 64, 32


def one_three(low, high):
    """Sizes low, 3 low, 10 low, 30 low, ... up to ``high``, which always ends the list."""
    sizes = [m * low * 10 ** d for d in range(20) for m in (1, 3) if m * low * 10 ** d < high]
    return sizes + [high]


def axis_sizes(max_ops=100_000, quick=False):
    """{axis: increasing sizes}: chains of 1e3 to ``max_ops`` ops, or tiny ones with ``quick``."""
    if quick:
        return {"length": [100, 300, 1000], "batch": [4, 8], "image": [8, 16], "steps": [10, 30]}
    return {"length": one_three(1000, max_ops), "batch": [8, 32, 128, 512],
            "image": [16, 32, 64, 128, 256], "steps": one_three(10, 1000)}


def _engine(name, threads):
    """What the workloads need from ``name`` ('minigrad' or 'torch'), with its threads set."""
    from types import SimpleNamespace
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    except ImportError:
        pass  # the environment variables set by the parent already hold BLAS to ``threads``
    if name == "torch":
        import torch
        torch.set_num_threads(threads)
        return SimpleNamespace(tensor=lambda a, grad=False: torch.tensor(a, requires_grad=grad),
                               nn=torch.nn, conv2d=torch.nn.functional.conv2d,
                               cross_entropy=torch.nn.functional.cross_entropy,
                               SGD=torch.optim.SGD)
    import numba
    import layers
    import minigrad as mg
    import minigrad.functional as F
    from optim import SGD
    numba.set_num_threads(threads)
    return SimpleNamespace(tensor=lambda a, grad=False: mg.tensor(a, requires_grad=grad),
                           nn=layers, conv2d=F.conv2d, cross_entropy=F.cross_entropy, SGD=SGD)


def lenet(nn):
    """The LeNet of the ``batch`` axis, built from ``nn`` (``layers`` or ``torch.nn``).

    Not ``models.LeNet``, whose head always has three Linear layers: issue 19's has two.
    """
    return nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def chain(x, w, n):
    """n elementwise ops (n a multiple of 4) cycling through mul, add, tanh and sub, summed.

    x, w are Tensors of shape (4, 4), of either engine; the result has shape ().
    """
    y = x
    for _ in range(n // 4):
        y = y * w
        y = y + x
        y = y.tanh()
        y = y - w
    return y.sum()


def rnn(xs, W, U, b, h):
    """The last state of h_t = tanh(x_t @ W + h_{t-1} @ U + b), starting from h: the
    hand-written loop that the ``steps`` axis timed before it used the LSTM layer.

    xs is (T, N, H), W and U are (H, H), b is (H,), h and the result are (N, H).
    """
    for t in range(xs.shape[0]):
        h = (xs[t] @ W + h @ U + b).tanh()
    return h


def workload(eng, axis, n, seed=0, clock=time.perf_counter):
    """A closure that runs one step of ``axis`` at size ``n`` and returns {phase: seconds}.

    Both engines draw their inputs from the same seed. The backward phase ends after the loss
    is released, so it includes tearing the graph down. ``clock`` reads the seconds.
    """
    import numpy as np
    rng = np.random.default_rng(seed)
    if axis == "length":
        x, w = (eng.tensor(rng.uniform(-1, 1, (4, 4)).astype(np.float32), True) for _ in "xw")

        def run():
            start = clock()
            loss = chain(x, w, n)
            middle = clock()
            loss.backward()
            del loss
            end = clock()
            x.grad = w.grad = None
            return {"forward": middle - start, "backward": end - middle}
        return run
    if axis == "batch":
        images = eng.tensor(rng.random((n, 1, 28, 28), dtype=np.float32))
        labels = eng.tensor(rng.integers(0, 10, n))
        model = lenet(eng.nn)
        optimizer = eng.SGD(model.parameters(), lr=0.01)

        def step():
            optimizer.zero_grad()
            eng.cross_entropy(model(images), labels).backward()
            optimizer.step()
    elif axis == "image":
        x = eng.tensor(rng.standard_normal((4, 8, n, n), dtype=np.float32), True)
        weight = eng.tensor(rng.standard_normal((8, 8, 3, 3), dtype=np.float32) * 0.1, True)
        bias = eng.tensor(rng.standard_normal(8, dtype=np.float32), True)

        def step():
            x.grad = weight.grad = bias.grad = None
            eng.conv2d(x, weight, bias, padding=1).sum().backward()
    else:
        xs = eng.tensor(rng.standard_normal((n, RNN_N, RNN_H), dtype=np.float32))
        lstm = eng.nn.LSTM(RNN_H, RNN_H)

        def step():
            lstm.zero_grad()
            _, (h_n, _) = lstm(xs)
            h_n.sum().backward()

    def run():
        start = clock()
        step()
        return {"step": clock() - start}
    return run


@contextlib.contextmanager
def _collector(no_gc):
    """Collect once, so that no earlier garbage is charged to the block; with ``no_gc``, keep
    the cyclic collector off inside it."""
    gc.collect()
    if no_gc:
        gc.disable()
    try:
        yield
    finally:
        gc.enable()


def measure(run, repeats, budget, no_gc):
    """{phase: median seconds} over ``repeats`` runs, fewer where one more would pass ``budget``
    seconds in all (the long chains then run once)."""
    samples = []
    while len(samples) < repeats:
        with _collector(no_gc):
            samples.append(run())
        spent = sum(sum(sample.values()) for sample in samples)
        if spent * (len(samples) + 1) / len(samples) > budget:
            break
    return {phase: statistics.median(s[phase] for s in samples) for phase in samples[0]}


def peak_memory(run, no_gc):
    """Peak memory of one ``run()`` in bytes: {rss_rise, rss_peak, traced_peak, rss_reset}.

    The RSS comes first, without tracemalloc, whose own records would inflate it. Writing 5 to
    /proc/self/clear_refs (Linux) resets the high-water mark that getrusage reports to the RSS
    now. Where that fails (``rss_reset`` False), the rise is the whole process's peak. Memory
    that the allocator reuses from earlier frees does not raise the RSS: measure in a fresh
    process.
    """
    import resource
    with _collector(no_gc):
        try:
            with open("/proc/self/statm") as statm:
                before = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")
            reset = True
        except OSError:
            before, reset = 0, False
        run()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak *= 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    tracemalloc.start()
    with _collector(no_gc):
        run()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"rss_rise": peak - before, "rss_peak": peak, "traced_peak": traced,
            "rss_reset": reset}


def child(job):
    """Run one job in this fresh process, printing one JSON line per result."""
    eng, axis, sizes = _engine(job["engine"], job["threads"]), job["axis"], job["sizes"]
    workload(eng, axis, sizes[0], seed=1)()  # compiles kernels and warms caches, untimed
    if job["kind"] == "memory":
        print(json.dumps({"memory": peak_memory(workload(eng, axis, sizes[-1]), job["no_gc"])}))
        return
    clock = time.process_time if job["clock"] == "cpu" else time.perf_counter
    for n in sizes:
        seconds = measure(workload(eng, axis, n, clock=clock), job["repeats"], job["budget"],
                          job["no_gc"])
        print(json.dumps({"size": n, "seconds": seconds}), flush=True)


def run_jobs(jobs, threads, progress):
    """Run each job in a child process with ``threads`` set; return [(job, its JSON lines)]."""
    env = dict(os.environ, **{name: str(threads) for name in THREAD_VARIABLES})
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    results = []
    for job in jobs:
        progress.set_description(f"{job['engine']} {job['axis']} {job['kind']}")
        command = [sys.executable, "-m", "bench.bench_scaling", "--child", json.dumps(job)]
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env,
                              cwd=root) as process:
            lines = []
            for line in process.stdout:
                if line.startswith("{"):  # a library's stray print is not a result
                    lines.append(json.loads(line))
                    progress.update(1)
        if process.returncode:
            raise RuntimeError(f"bench_scaling: the {job['kind']} job of {job['engine']} on "
                               f"{job['axis']} failed with exit code {process.returncode}")
        results.append((job, lines))
    return results


def collect(results, sizes):
    """{"sizes", "seconds": {axis: {phase: {engine: [t per size]}}}, "memory": {axis: {engine:
    bytes}}} from the children's lines."""
    data = {"sizes": sizes, "seconds": {}, "memory": {}}
    for job, lines in results:
        axis, engine = job["axis"], job["engine"]
        if job["kind"] == "memory":
            data["memory"].setdefault(axis, {})[engine] = lines[0]["memory"]
            continue
        for phase in lines[0]["seconds"]:
            column = [line["seconds"][phase] for line in lines]
            data["seconds"].setdefault(axis, {}).setdefault(phase, {})[engine] = column
    return data


def parse_args(argv=None):
    intro, rest = __doc__.split("\n\n", 1)
    parser = argparse.ArgumentParser(description=intro, epilog=rest.split("Notation")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-ops", type=int, default=100_000,
                        help="the longest chain on the length axis (default 1e5)")
    parser.add_argument("--full", action="store_true", help="chains up to 1e6 ops")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument("--axes", nargs="+", choices=AXES, default=list(AXES),
                        help="the axes to measure (default all)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for NumPy/BLAS, Numba and PyTorch (default 1)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed runs per size at most; the median is kept (default 5)")
    parser.add_argument("--budget", type=float, default=5.0,
                        help="seconds per size that no further run may pass (default 5)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall: time.perf_counter; cpu: the process's CPU time, which leaves "
                             "out the time other processes hold the cores (on a shared machine) "
                             "but sums over threads (default wall)")
    parser.add_argument("--no-gc", action="store_true",
                        help="disable Python's cyclic GC during each measured run")
    parser.add_argument("--no-torch", action="store_true", help="measure minigrad only")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory jobs")
    parser.add_argument("--out", default="out/bench_scaling",
                        help="folder for the PNG and JSON (default out/bench_scaling)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one job, run in a child process
    args = parser.parse_args(argv)
    if args.max_ops <= 1000 or args.max_ops % 4:
        parser.error(f"--max-ops must be a multiple of 4 (the chain's cycle) above 1000, "
                     f"got {args.max_ops}")
    if min(args.threads, args.repeats) < 1 or args.budget <= 0:
        parser.error(f"--threads and --repeats must be at least 1 and --budget positive, got "
                     f"{args.threads}, {args.repeats} and {args.budget}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    from tqdm import tqdm
    sizes = axis_sizes(1_000_000 if args.full else args.max_ops, args.quick)
    sizes = {axis: sizes[axis] for axis in args.axes}
    engines = ["minigrad"] + ["torch"] * (not args.no_torch
                                          and importlib.util.find_spec("torch") is not None)
    common = dict(threads=args.threads, no_gc=args.no_gc, repeats=args.repeats,
                  budget=args.budget, clock=args.clock)
    jobs = [dict(common, engine=e, axis=a, sizes=sizes[a], kind=kind)
            for kind in ["time"] + ["memory"] * (not args.no_memory) for a in sizes
            for e in engines]
    total = sum(len(job["sizes"]) if job["kind"] == "time" else 1 for job in jobs)
    with tqdm(total=total, unit="result", file=sys.stderr) as progress:
        data = collect(run_jobs(jobs, args.threads, progress), sizes)
    title = (f"scaling, {args.threads} thread(s), {args.clock} clock, cyclic GC "
             + ("disabled" if args.no_gc else "on"))
    print(f"\n{title}\n\n{summary(data, engines)}")
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, "scaling_nogc" if args.no_gc else "scaling")
    plot(data, stem + ".png", title)
    with open(stem + ".json", "w") as file:
        json.dump(dict(data, settings=vars(args), date=time.strftime("%Y-%m-%d"),
                       targets=targets(data)), file, indent=1)
    print(f"\nsaved {stem}.png and {stem}.json")


if __name__ == "__main__":
    main()
