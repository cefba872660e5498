"""Where one training step spends its time: a per-op profile, forward and backward apart.

The step is bench/bench_speed.py's (the LeNet-style CNN by default, or the MLP): zero_grad,
forward, cross-entropy, backward, SGD with momentum; or the forward + backward of its conv2d or
conv_transpose2d workload. While it runs, every ``Function``
subclass's ``forward`` and ``backward`` (found through ``Function.__subclasses__()``), the
optimizer's ``step`` and ``zero_grad``, ``Tensor.backward`` and NumPy's ``matmul`` and ``dot``
are wrapped by timers; the originals are put back afterwards, so the engine itself carries no
profiling code. The timers keep a stack, and each row reports *exclusive* time: when
``Conv2d.backward`` calls ``conv_transpose2d``, that op's forward is a row of its own
(``ConvTranspose2d.forward``, in the backward pass) and is not counted again in
``Conv2d.backward``. What no timer covers is the Python glue between the ops (module calls,
``Function.apply``'s wrapping, the loss's composition): the row "other" holds it, so the shares
add up to the whole step.

Rows
----
op.forward            exclusive time in ``forward``; ``pass`` says whether the forward or the
                      backward pass called it (a backward is built from ops)
op.backward           exclusive time in ``backward``
optimizer.step        the update (its own ops, if any, are rows of their own)
optimizer.zero_grad
autograd engine       ``Tensor.backward`` less the backwards it ran: the graph walk, gradient
                      accumulation and the apply of the backward's ops
other                 the rest of the step

Every matrix product that goes through ``minigrad.kernels.gemm.matmul`` (the conv, linear and
matmul code: a product split over threads counts once, whole), ``np.matmul`` or ``np.dot`` is
listed with its shape, its operands' layout (C: row-major, T: a transposed
row-major matrix, S: other strides), the op that called it, its FLOPs (2 * batch * M * K * N)
and its rate in the step (per wall time and per CPU time), against NumPy's rate on the same
operands measured alone afterwards in the same process (the best of repeated calls), and on
row-major copies of them. The ``@`` operator on raw arrays does not
go through ``np.matmul`` and is not seen.

Threads are set as bench_speed sets them: in a fresh process, before NumPy and Numba start, every
thread variable is set to ``--threads``, except that minigrad's process by default (``--blas
policy``) gets ``MINIGRAD_NUM_THREADS`` instead of the BLAS variables, so that its own policy
runs (BLAS on one thread, large products split over the threads); ``--blas threads`` gives BLAS
the threads instead, and ``--blas-threads`` and ``--numba-threads`` set the two pools apart (the
measurement behind minigrad/threads.py's policy). Times are wall time
(``perf_counter``) and the CPU time of the whole process (``process_time``: every thread's,
so a thread that spins while it waits shows up there).

    python -m bench.profile_step [--model lenet|mlp|conv2d|conv_transpose2d] [--batch 64]
                                 [--threads 1]
                                 [--blas policy|threads] [--blas-threads B]
                                 [--numba-threads M] [--steps 20]
                                 [--torch] [--json PATH]
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time

from bench.bench_speed import POLICY_UNSET, THREAD_VARIABLES, lenet, mlp, runners

MODELS = {"lenet": (lenet, (1, 28, 28), 64), "mlp": (mlp, (784,), 128)}
# bench_speed's convolution workloads: forward + backward of one op at its fixed shapes
OPS = ("conv2d", "conv_transpose2d")


class StackTimer:
    """Exclusive wall and CPU time per label, kept with a stack of open frames.

    A frame's exclusive time is its own duration less the durations of the frames opened inside
    it; the parent is told each child's duration when the child closes.
    """

    def __init__(self):
        self.rows = {}    # (label, pass) -> [calls, wall seconds, cpu seconds]
        self.stack = []   # open frames: [label, wall start, cpu start, child wall, child cpu]
        self.phase = "forward"

    def top(self):
        return self.stack[-1][0] if self.stack else None

    def enter(self, label):
        self.stack.append([label, time.perf_counter(), time.process_time(), 0.0, 0.0])

    def leave(self):
        wall_end, cpu_end = time.perf_counter(), time.process_time()
        label, wall_start, cpu_start, child_wall, child_cpu = self.stack.pop()
        wall, cpu = wall_end - wall_start, cpu_end - cpu_start
        row = self.rows.setdefault((label, self.phase), [0, 0.0, 0.0])
        row[0] += 1
        row[1] += wall - child_wall
        row[2] += cpu - child_cpu
        if self.stack:
            self.stack[-1][3] += wall
            self.stack[-1][4] += cpu

    def wrap(self, function, label_of, phase=None):
        """``function`` timed under ``label_of(*args)``; with ``phase``, the pass is that one
        while it runs (the rows opened inside it are counted in that pass). A call made while
        a frame of the same label is open (a subclass calling its parent's method) is not a
        frame of its own."""
        def timed(*args, **kwargs):
            label = label_of(*args)
            if label == self.top():
                return function(*args, **kwargs)
            previous = self.phase
            if phase is not None:
                self.phase = phase
            self.enter(label)
            try:
                return function(*args, **kwargs)
            finally:
                self.leave()
                self.phase = previous
        return timed


class GemmLog:
    """Every np.matmul / np.dot call: shape, layout, caller, calls, wall and CPU time."""

    def __init__(self, timer):
        self.timer = timer
        self.rows = {}  # key -> [calls, seconds, cpu seconds, flops per call, (a, b) of one]
        self.depth = 0  # > 0 inside a logged product: its parts (on any thread) are not logged

    def wrap(self, function, name):
        def timed(a, b, *args, **kwargs):
            if self.depth:
                return function(a, b, *args, **kwargs)
            start, cpu_start = time.perf_counter(), time.process_time()
            self.depth += 1
            try:
                out = function(a, b, *args, **kwargs)
            finally:
                self.depth -= 1
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            key = (name, _shape(a), _shape(b), _layout(a) + _layout(b), self.timer.top(),
                   self.timer.phase)
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = [0, 0.0, 0.0, _flops(a, b), (a, b)]
            row[0] += 1
            row[1] += seconds
            row[2] += cpu
            return out
        return timed


def _shape(a):
    return tuple(getattr(a, "shape", ()))


def _layout(a):
    """C: row-major; T: a transposed row-major matrix (BLAS reads it without a copy); S: other."""
    import numpy as np
    a = np.asarray(a)
    if a.ndim < 2 or a.flags.c_contiguous:
        return "C"
    return "T" if a.swapaxes(-1, -2).flags.c_contiguous else "S"


def _flops(a, b):
    """2 * batch * M * K * N for a @ b (a 1-D operand is a vector), 0 if not float arrays."""
    import numpy as np
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind not in "fc" or b.dtype.kind not in "fc" or a.ndim == 0 or b.ndim == 0:
        return 0
    M, K = (1, a.shape[0]) if a.ndim == 1 else a.shape[-2:]
    N = 1 if b.ndim == 1 else b.shape[-1]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) if min(a.ndim, b.ndim) > 1 else ()
    return 2 * int(np.prod(batch, dtype=np.int64)) * M * K * N


def _function_classes(root):
    """Every subclass of ``root``, at any depth, each once."""
    found, todo = [], [root]
    while todo:
        for cls in todo.pop().__subclasses__():
            if cls not in found:
                found.append(cls)
                todo.append(cls)
    return found


@contextlib.contextmanager
def _patched(patches):
    """Set each ``(owner, name, value)`` for the duration; restore the originals after."""
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
    try:
        for owner, name, value in patches:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def _patches(timer, gemms):
    """What the profile wraps: Functions, optimizers, Tensor.backward, np.matmul and np.dot."""
    import numpy as np
    import minigrad as mg
    from optim.optimizer import Optimizer
    patches = []
    for cls in _function_classes(mg.Function):
        for method in ("forward", "backward"):
            entry = cls.__dict__.get(method)
            if isinstance(entry, staticmethod):
                label_of = (lambda ctx, *_, m=method: f"{type(ctx).__name__}.{m}")
                phase = "backward" if method == "backward" else None
                patches.append((cls, method, staticmethod(
                    timer.wrap(entry.__func__, label_of, phase))))
    for cls in [Optimizer] + _function_classes(Optimizer):
        for method, phase in (("step", "optimizer"), ("zero_grad", "zero_grad")):
            if method in cls.__dict__:
                patches.append((cls, method, timer.wrap(
                    cls.__dict__[method], lambda *_, m=method: f"optimizer.{m}", phase)))
    patches.append((mg.Tensor, "backward", timer.wrap(
        mg.Tensor.__dict__["backward"], lambda *_: "autograd engine", "backward")))
    from minigrad.kernels import gemm
    # minigrad's products go through gemm.matmul, which may split them over threads: each is
    # logged whole there, its parts (np.matmul calls inside) not again
    patches.append((gemm, "matmul", gemms.wrap(gemm.matmul, "gemm.matmul")))
    for name in ("matmul", "dot"):
        patches.append((np, name, gemms.wrap(np.__dict__[name], f"np.{name}")))
    return patches


def _sgemm_rate(a, b, function, budget=0.05):
    """GFLOP/s of ``function(a, b)`` alone: the best of repeated calls over about ``budget`` s."""
    function(a, b)
    best, spent, calls = float("inf"), 0.0, 0
    while spent < budget or calls < 3:
        start = time.perf_counter()
        function(a, b)
        seconds = time.perf_counter() - start
        best, spent, calls = min(best, seconds), spent + seconds, calls + 1
    return _flops(a, b) / best / 1e9


def profile(step, steps, warmup=3):
    """Profile ``steps`` calls of ``step()``; returns the report as a dict (see ``main``).

    ``step`` is timed alone first (``warmup`` calls, then ``steps`` timed calls, medians), then
    profiled over ``steps`` calls; the profiler's own cost is the difference.
    """
    import numpy as np
    for _ in range(warmup):
        step()
    plain = []
    for _ in range(steps):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        plain.append((time.perf_counter() - wall, time.process_time() - cpu))
    timer = StackTimer()
    gemms = GemmLog(timer)
    with _patched(_patches(timer, gemms)):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            timer.phase = "forward"
            step()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    covered_wall = sum(r[1] for r in timer.rows.values())
    covered_cpu = sum(r[2] for r in timer.rows.values())
    gemm_seconds = {}  # (caller, pass) -> [wall, cpu] seconds in its GEMMs
    for key, row in gemms.rows.items():
        total = gemm_seconds.setdefault(key[4:], [0.0, 0.0])
        total[0] += row[1]
        total[1] += row[2]
    rows = [dict(op=label, phase=phase, calls=calls / steps, wall_ms=w / steps * 1e3,
                 cpu_ms=c / steps * 1e3, share=100 * w / wall,
                 gemm_ms=gemm_seconds.get((label, phase), [0.0])[0] / steps * 1e3,
                 gemm_cpu_ms=gemm_seconds.get((label, phase), [0.0, 0.0])[1] / steps * 1e3)
            for (label, phase), (calls, w, c) in timer.rows.items()]
    rows.sort(key=lambda r: -r["wall_ms"])
    rows.append(dict(op="other", phase="", calls=float(steps) / steps,
                     wall_ms=(wall - covered_wall) / steps * 1e3,
                     cpu_ms=(cpu - covered_cpu) / steps * 1e3,
                     share=100 * (wall - covered_wall) / wall,
                     gemm_ms=sum(t[0] for (caller, _), t in gemm_seconds.items()
                                 if caller is None) / steps * 1e3,
                     gemm_cpu_ms=sum(t[1] for (caller, _), t in gemm_seconds.items()
                                     if caller is None) / steps * 1e3))
    gemm_rows = []
    for (name, a_shape, b_shape, layout, caller, phase), (calls, seconds, cpu_seconds, flops,
                                                          (a, b)) in gemms.rows.items():
        function = getattr(np, name.split(".")[1])
        alone = _sgemm_rate(a, b, function) if flops else 0.0
        contiguous = (_sgemm_rate(np.ascontiguousarray(a), np.ascontiguousarray(b), function)
                      if flops else 0.0)
        gemm_rows.append(dict(function=name, a=list(a_shape), b=list(b_shape), layout=layout,
                              caller=caller, phase=phase, calls=calls / steps,
                              ms=seconds / steps * 1e3, flops=flops,
                              gflops=flops * calls / seconds / 1e9 if seconds else 0.0,
                              gflops_cpu=(flops * calls / cpu_seconds / 1e9 if cpu_seconds
                                          else 0.0),
                              gflops_alone=alone, gflops_contiguous=contiguous))
    gemm_rows.sort(key=lambda r: -r["ms"])
    return dict(step_ms=statistics.median(p[0] for p in plain) * 1e3,
                step_cpu_ms=statistics.median(p[1] for p in plain) * 1e3,
                profiled_ms=wall / steps * 1e3, profiled_cpu_ms=cpu / steps * 1e3,
                steps=steps, rows=rows, gemms=gemm_rows)


def _minigrad_step(model, batch):
    """The bench's training step (``runners``) at its own batch, or the same step at ``batch``;
    for a convolution workload (OPS), the bench's forward + backward."""
    if model in OPS:
        return runners(model, None)[0]
    build, sample_shape, default_batch = MODELS[model]
    if batch is None or batch == default_batch:
        return runners(model, None)[0]
    import numpy as np
    from bench.bench_speed import _training_steps
    rng = np.random.default_rng(0)
    x = rng.random((batch, *sample_shape), dtype=np.float32)
    return _training_steps(build, x, rng.integers(0, 10, batch), None)[0]


def profile_torch(model, batch, steps, threads, warmup=3):
    """The same step in PyTorch under ``torch.profiler``: self CPU time per op (the ops' own
    time, less the ops they called), calls per step, and its share of the profiled wall time."""
    import numpy as np
    import torch
    from torch.profiler import ProfilerActivity, profile as torch_profile
    torch.set_num_threads(threads)
    if model in OPS:
        step = runners(model, torch)[1]
    else:
        build, sample_shape, default_batch = MODELS[model]
        batch = batch or default_batch
        rng = np.random.default_rng(0)
        x = torch.from_numpy(rng.random((batch, *sample_shape), dtype=np.float32))
        y = torch.from_numpy(rng.integers(0, 10, batch))
        net = build(torch.nn)
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

        def step():
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            optimizer.step()
    for _ in range(warmup):
        step()
    plain = []
    for _ in range(steps):
        start, cpu = time.perf_counter(), time.process_time()
        step()
        plain.append((time.perf_counter() - start, time.process_time() - cpu))
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(steps):
            step()
        wall = time.perf_counter() - start
    rows = []
    for event in prof.key_averages():
        if event.self_cpu_time_total <= 0:
            continue
        ms = event.self_cpu_time_total / 1e3 / steps  # microseconds in total
        rows.append(dict(op=event.key, phase="", calls=event.count / steps, wall_ms=ms,
                         cpu_ms=None, share=100 * ms / (wall / steps * 1e3), gemm_ms=None,
                         gemm_cpu_ms=None))
    rows.sort(key=lambda r: -r["wall_ms"])
    covered = sum(r["wall_ms"] for r in rows)
    rows.append(dict(op="other", phase="", calls=1.0, wall_ms=wall / steps * 1e3 - covered,
                     cpu_ms=None, share=100 - sum(r["share"] for r in rows), gemm_ms=None,
                     gemm_cpu_ms=None))
    return dict(step_ms=statistics.median(p[0] for p in plain) * 1e3,
                step_cpu_ms=statistics.median(p[1] for p in plain) * 1e3,
                profiled_ms=wall / steps * 1e3, profiled_cpu_ms=None, steps=steps, rows=rows,
                gemms=[])


def _cell(value, form="{:.3f}"):
    return "" if value is None else form.format(value)


def _print_report(report, title, smallest=0.1):
    """The report as Markdown tables; rows under ``smallest`` % of the step are summed in one."""
    print(f"\n{title}")
    print(f"step: {report['step_ms']:.2f} ms wall"
          + _cell(report["step_cpu_ms"], ", {:.2f} ms CPU")
          + f" unprofiled (median of {report['steps']}); profiled "
          f"{report['profiled_ms']:.2f} ms a step, which the shares below divide")
    print("| op | pass | calls / step | ms / step | share | CPU ms / step | of which GEMM ms, "
          "wall / CPU |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    small = [r for r in report["rows"] if r["share"] < smallest and r["op"] != "other"]
    for r in report["rows"]:
        if r in small:
            continue
        if r["op"] == "other" and small:
            print(f"| {len(small)} ops under {smallest}% each | | | "
                  f"{sum(s['wall_ms'] for s in small):.3f} | "
                  f"{sum(s['share'] for s in small):.1f}% | | |")
        print(f"| {r['op']} | {r['phase']} | {r['calls']:g} | {r['wall_ms']:.3f} | "
              f"{r['share']:.1f}% | {_cell(r['cpu_ms'])} | "
              f"{_cell(r['gemm_ms'])}{_cell(r['gemm_cpu_ms'], ' / {:.3f}')} |")
    print(f"| total | | | {sum(r['wall_ms'] for r in report['rows']):.3f} | "
          f"{sum(r['share'] for r in report['rows']):.1f}% | | |")
    gemms = report["gemms"]
    if not gemms:
        return
    ms = sum(g["ms"] for g in gemms)
    flops = sum(g["flops"] * g["calls"] for g in gemms)
    cpu_ms = sum(g["flops"] * g["calls"] / g["gflops_cpu"] for g in gemms if g["gflops_cpu"]) / 1e6
    alone = sum(g["flops"] * g["calls"] / g["gflops_alone"] for g in gemms if g["flops"]) / 1e6
    print(f"\nGEMMs: {ms:.3f} ms a step ({100 * ms / report['profiled_ms']:.1f}% of it), "
          f"{flops / ms / 1e6:.1f} GFLOP/s ({cpu_ms:.3f} ms of CPU time); the same products "
          f"alone would take {alone:.3f} ms")
    print("GFLOP/s: in the step per wall time and per CPU time (all threads); alone: the same "
          "operands, best call; row-major: copies of them")
    print("| call | a | b | layout | caller | pass | calls / step | ms / step | MFLOP | "
          "GFLOP/s | per CPU | alone | row-major |")
    print("| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for g in gemms:
        print(f"| {g['function']} | {tuple(g['a'])} | {tuple(g['b'])} | {g['layout']} | "
              f"{g['caller']} | {g['phase']} | {g['calls']:g} | {g['ms']:.3f} | "
              f"{g['flops'] / 1e6:.2f} | {g['gflops']:.1f} | {g['gflops_cpu']:.1f} | "
              f"{g['gflops_alone']:.1f} | "
              f"{g['gflops_contiguous']:.1f} |")


def gemm_threads():
    """The parts minigrad splits a large product into (minigrad/threads.py)."""
    from minigrad import threads
    return threads.gemm_threads()


def _in_process(args):
    if args.in_process == "torch":
        report = profile_torch(args.model, args.batch, args.steps, args.threads)
    else:
        report = profile(_minigrad_step(args.model, args.batch), args.steps)
    import numba
    report.update(library=args.in_process, model=args.model, threads=args.threads,
                  numba_threads=numba.get_num_threads(), blas_threads=_blas_threads(),
                  gemm_threads=gemm_threads(),
                  batch=args.batch or (MODELS[args.model][2] if args.model in MODELS
                                       else _op_batch(args.model)))
    print(json.dumps(report))


def _op_batch(model):
    """The batch of a convolution workload (bench_speed's shapes)."""
    return {"conv2d": 64, "conv_transpose2d": 32}[model]


def _blas_threads():
    """NumPy's BLAS pool size, from threadpoolctl (None without it). Numba's first compilation
    loads SciPy's own OpenBLAS (for np.dot inside compiled code), which keeps its default size:
    the figure is NumPy's, the one every product of the step goes to."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    pools = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    numpys = [pool for pool in pools if "numpy" in pool["filepath"]]
    sizes = [pool["num_threads"] for pool in numpys or pools]
    return max(sizes) if sizes else None


def _child(library, args, root):
    """One fresh process with the thread variables set before NumPy and Numba start (for
    minigrad under ``--blas policy``: MINIGRAD_NUM_THREADS and no BLAS variable, as in
    bench_speed)."""
    env = dict(os.environ, PYTHONPATH=root, **{v: str(args.threads) for v in THREAD_VARIABLES})
    if library == "minigrad" and args.blas == "policy" and not args.blas_threads:
        for name in POLICY_UNSET:
            env.pop(name, None)
        env["MINIGRAD_NUM_THREADS"] = str(args.threads)
    if args.blas_threads:
        env.update(OPENBLAS_NUM_THREADS=str(args.blas_threads),
                   MKL_NUM_THREADS=str(args.blas_threads))
    if args.numba_threads:
        env.update(NUMBA_NUM_THREADS=str(args.numba_threads),
                   OMP_NUM_THREADS=str(args.numba_threads))
    command = [sys.executable, "-m", "bench.profile_step", "--in-process", library,
               "--model", args.model, "--threads", str(args.threads), "--steps", str(args.steps)]
    if args.batch:
        command += ["--batch", str(args.batch)]
    out = subprocess.run(command, env=env, check=True, cwd=root, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS) + list(OPS), default="lenet",
                        help="bench_speed's LeNet step (default), its MLP step, or the forward + "
                             "backward of its conv2d or conv_transpose2d workload")
    parser.add_argument("--batch", type=int, default=None,
                        help="batch size (default: the bench's, 64 for lenet, 128 for mlp; the "
                             "convolution workloads keep their own)")
    parser.add_argument("--threads", type=int, default=1,
                        help="every thread variable, as bench_speed sets it (default 1)")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="OpenBLAS / MKL threads, overriding --threads for BLAS")
    parser.add_argument("--numba-threads", type=int, default=None,
                        help="Numba's (and OpenMP's) threads, overriding --threads for them")
    parser.add_argument("--blas", choices=("policy", "threads"), default="policy",
                        help="minigrad's BLAS as in bench_speed: its own policy (default) or "
                             "--threads BLAS threads (--blas-threads implies the latter)")
    parser.add_argument("--steps", type=int, default=20, help="profiled steps (default 20)")
    parser.add_argument("--torch", action="store_true",
                        help="also profile the same step in PyTorch (torch.profiler)")
    parser.add_argument("--json", help="also write the report(s) to this JSON file")
    parser.add_argument("--in-process", choices=("minigrad", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in ("batch", "threads", "blas_threads", "numba_threads", "steps"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if args.model in OPS and args.batch is not None:
        parser.error(f"--batch: the {args.model} workload has the bench's fixed shapes")
    if args.in_process:
        _in_process(args)
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    reports = [_child("minigrad", args, root)]
    if args.torch:
        try:
            import torch  # noqa: F401  (only whether it is installed)
            reports.append(_child("torch", args, root))
        except ImportError:
            print("profile_step: PyTorch is not installed; --torch skipped")
    for report in reports:
        threads = (f"torch.set_num_threads({report['threads']})"
                   if report["library"] == "torch" else
                   f"BLAS {report['blas_threads']}, Numba {report['numba_threads']}, "
                   f"products split in {report['gemm_threads']}")
        _print_report(report, f"{report['library']}: {report['model']} step, batch "
                      f"{report['batch']}, float32, CPU; threads: {threads}; "
                      f"{time.strftime('%Y-%m-%d')}, load average {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(reports, f, indent=1)


if __name__ == "__main__":
    main()
