"""The CNN training path at one and at two threads, minigrad against PyTorch in one run.

Workloads (float32, forward + backward; ratios minigrad / PyTorch, lower is better):

    LeNet step    batch 64 x 1x28x28: Conv2d(1, 16, 5, p2)-ReLU-MaxPool2d(2)-Conv2d(16, 32, 5, p2)
                  -ReLU-MaxPool2d(2)-Flatten-Linear(1568, 128)-ReLU-Linear(128, 10),
                  cross-entropy, backward, SGD (momentum 0.9)                    target <= 1.2x
    conv2d        x (64, 32, 14, 14), w (64, 32, 3, 3), padding 1                 target <= 1.3x
    conv_t2d      x (32, 64, 8, 8), w (64, 32, 4, 4), stride 2, padding 1         target <= 1.3x
    batch_norm2d  training mode, x (64, 32, 28, 28), affine                       target <= 1.0x
    MLP step      784-256-256-10, batch 128, cross-entropy, SGD (momentum 0.9)    target <= 1.1x
    overhead      a chain of 200 elementwise ops on (4, 4), per op                target <= 1.5x
    layer_norm    x (4096, 128) over the last axis, affine                        (no target)
    max_pool2d    2x2 with indices on (64, 32, 28, 28)                            target <= 1.0x
    max_unpool2d  those indices back to 28x28                                     target <= 1.0x

Each thread count runs in a fresh process whose thread variables (``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ``NUMBA_NUM_THREADS``) are set before NumPy,
Numba or PyTorch start, with ``torch.set_num_threads`` matching, so both libraries get the same
cores. minigrad's process, by default (``--blas policy``), gets ``MINIGRAD_NUM_THREADS`` and
``NUMBA_NUM_THREADS`` instead of the BLAS variables: its own policy then runs BLAS on one
thread and splits large products over the n threads (minigrad/threads.py); ``--blas threads``
gives BLAS the n threads instead. Each library runs in its own process (two libraries'
thread pools in one process spin and steal each other's cores), and ``--rounds`` rounds of
(minigrad, PyTorch) processes alternate so that a change in the machine's load hits both.
Reported: the median over rounds of each process's median per call.

    python -m bench.bench_speed [--threads 1 2] [--repeats 10] [--rounds 3] [--only lenet ...]
                                [--blas policy|threads]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")
TARGETS = {"lenet": 1.2, "conv2d": 1.3, "conv_transpose2d": 1.3, "batch_norm2d": 1.0,
           "mlp": 1.1, "overhead": 1.5, "layer_norm": None, "max_pool2d": 1.0,
           "max_unpool2d": 1.0}
NAMES = {"lenet": "LeNet step, batch 64 x 1x28x28 (ms)",
         "conv2d": "conv2d x(64,32,14,14) w(64,32,3,3) p1 (ms)",
         "conv_transpose2d": "conv_transpose2d x(32,64,8,8) w(64,32,4,4) s2 p1 (ms)",
         "batch_norm2d": "batch_norm2d training (64,32,28,28) (ms)",
         "mlp": "MLP 784-256-256-10 step, batch 128 (ms)",
         "overhead": "autograd overhead, 200 ops on (4,4) (us per op)",
         "layer_norm": "layer_norm (4096,128) over the last axis (ms)",
         "max_pool2d": "max_pool2d 2x2 + indices (64,32,28,28) (ms)",
         "max_unpool2d": "max_unpool2d 2x2 to (64,32,28,28) (ms)"}
OPS = 200  # length of the overhead chain
# The BLAS variables (OpenBLAS falls back on OMP_NUM_THREADS): unset for minigrad's process under
# ``--blas policy``, so that its own policy sizes BLAS (minigrad/threads.py).
POLICY_UNSET = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def lenet(nn):
    """The issue's LeNet-style CNN built from ``nn`` (``layers`` or ``torch.nn``)."""
    return nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def mlp(nn):
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def _training_steps(build, x0, y0, torch, device="cpu"):
    """One SGD step (zero_grad, cross-entropy, backward, step) in each library, same weights."""
    import numpy as np
    import layers
    import minigrad as mg
    import minigrad.functional as F
    from optim import SGD
    model = build(layers).to(device)
    optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = mg.tensor(x0, device=device), mg.tensor(y0, device=device)

    def ours():
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    if torch is None:
        return ours, None
    twin = build(torch.nn)
    twin.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                          for k, v in model.state_dict().items()})
    twin.to(device)
    topt = torch.optim.SGD(twin.parameters(), lr=0.01, momentum=0.9)
    tx, ty = torch.from_numpy(x0).to(device), torch.from_numpy(y0).to(device)

    def theirs():
        topt.zero_grad()
        torch.nn.functional.cross_entropy(twin(tx), ty).backward()
        topt.step()
    return ours, theirs


def _forward_backward(function, torch_function, arrays, grad_shape_of, keywords, rng, torch,
                      device="cpu"):
    """forward + backward of ``function(*arrays, **keywords)`` with a fixed upstream gradient."""
    import numpy as np
    import minigrad as mg
    ts = [mg.tensor(a, requires_grad=True, device=device) for a in arrays]
    with mg.no_grad():
        g0 = rng.standard_normal(grad_shape_of(function(*ts, **keywords)), dtype=np.float32)
    g = mg.tensor(g0, device=device)

    def ours():
        for t in ts:
            t.grad = None
        function(*ts, **keywords).backward(g)

    if torch_function is None:
        return ours, None
    tts = [torch.tensor(a, requires_grad=True, device=device) for a in arrays]
    tg = torch.tensor(g0, device=device)

    def theirs():
        for t in tts:
            t.grad = None
        torch_function(*tts, **keywords).backward(tg)
    return ours, theirs


def runners(name, torch, device="cpu"):
    """(minigrad callable, PyTorch callable or None, scale to the reported unit), with every
    tensor and parameter on ``device`` ('cpu' or 'cuda', the same name in both libraries)."""
    import numpy as np
    import minigrad as mg
    import minigrad.functional as F
    rng = np.random.default_rng(0)
    mg.manual_seed(0)
    tF = torch.nn.functional if torch else None
    shape_of = (lambda out: out.shape)
    if name == "lenet":
        x = rng.random((64, 1, 28, 28), dtype=np.float32)
        return (*_training_steps(lenet, x, rng.integers(0, 10, 64), torch, device), 1e3)
    if name == "mlp":
        x = rng.random((128, 784), dtype=np.float32)
        return (*_training_steps(mlp, x, rng.integers(0, 10, 128), torch, device), 1e3)
    if name in ("conv2d", "conv_transpose2d"):
        x_shape, w_shape, kw = (((64, 32, 14, 14), (64, 32, 3, 3), dict(padding=1))
                                if name == "conv2d" else
                                ((32, 64, 8, 8), (64, 32, 4, 4), dict(stride=2, padding=1)))
        out_channels = w_shape[1] if name == "conv_transpose2d" else w_shape[0]
        arrays = [rng.standard_normal(x_shape, dtype=np.float32),
                  rng.standard_normal(w_shape, dtype=np.float32) * 0.1,
                  rng.standard_normal(out_channels, dtype=np.float32)]
        return (*_forward_backward(getattr(F, name), tF and getattr(tF, name), arrays,
                                   shape_of, kw, rng, torch, device), 1e3)
    if name == "batch_norm2d":
        c = 32
        arrays = [rng.standard_normal((64, c, 28, 28), dtype=np.float32),
                  rng.random(c, dtype=np.float32) + 0.5, rng.standard_normal(c, dtype=np.float32)]
        stats = [np.zeros(c, np.float32), np.ones(c, np.float32)]
        ours_stats = [mg.tensor(s.copy(), device=device) for s in stats]

        def ours_bn(x, w, b):
            return F.batch_norm(x, *ours_stats, w, b, training=True)
        if torch:
            theirs_stats = [torch.tensor(s.copy(), device=device) for s in stats]

            def theirs_bn(x, w, b):
                return tF.batch_norm(x, *theirs_stats, w, b, training=True)
        else:
            theirs_bn = None
        return (*_forward_backward(ours_bn, theirs_bn, arrays, shape_of, {}, rng, torch, device),
                1e3)
    if name == "layer_norm":
        arrays = [rng.standard_normal((4096, 128), dtype=np.float32),
                  rng.random(128, dtype=np.float32) + 0.5,
                  rng.standard_normal(128, dtype=np.float32)]
        return (*_forward_backward(lambda x, w, b: F.layer_norm(x, (128,), w, b),
                                   tF and (lambda x, w, b: tF.layer_norm(x, (128,), w, b)),
                                   arrays, shape_of, {}, rng, torch, device), 1e3)
    if name in ("max_pool2d", "max_unpool2d"):
        x0 = rng.standard_normal((64, 32, 28, 28), dtype=np.float32)
        if name == "max_pool2d":
            return (*_forward_backward(lambda x: F.max_pool2d(x, 2, return_indices=True)[0],
                                       tF and (lambda x: tF.max_pool2d(x, 2,
                                                                       return_indices=True)[0]),
                                       [x0], shape_of, {}, rng, torch, device), 1e3)
        with mg.no_grad():
            pooled, indices = F.max_pool2d(mg.tensor(x0, device=device), 2, return_indices=True)
        ti = torch and torch.tensor(indices.numpy(), device=device)
        return (*_forward_backward(lambda p: F.max_unpool2d(p, indices, 2),
                                   tF and (lambda p: tF.max_unpool2d(p, ti, 2)),
                                   [pooled.numpy()], shape_of, {}, rng, torch, device), 1e3)
    if name == "overhead":
        x0, w0 = (rng.standard_normal((4, 4), dtype=np.float32) for _ in range(2))

        def chain(x, w):
            y = x
            for _ in range(OPS // 4):
                y = ((y * w + x).tanh()) - w
            return y.sum()
        return (*_forward_backward(chain, torch and chain, [x0, w0], lambda out: (), {}, rng,
                                   torch, device), 1e6 / OPS)
    raise ValueError(f"bench_speed: unknown workload {name!r}; expected one of {list(NAMES)}")


def _times(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def measure(names, threads, repeats, library):
    """{workload: [median seconds per call, scale]} for one library in this process."""
    from bench.harness import torch_or_none
    torch = torch_or_none(threads=threads) if library == "torch" else None
    if library == "torch" and torch is None:
        return {}
    results = {}
    for name in names:
        ours, theirs, scale = runners(name, torch)
        fn = theirs if library == "torch" else ours
        number = 20 if name == "overhead" else 1
        for _ in range(3):
            fn()
        times = _times(lambda: [fn() for _ in range(number)], repeats)
        results[name] = [statistics.median(times) / number, scale]
    return results


def _child(library, threads, args, root):
    """Run ``measure`` in a fresh process with every thread variable set to ``threads``; with
    ``--blas policy``, minigrad's process gets ``MINIGRAD_NUM_THREADS`` and no BLAS variable."""
    env = dict(os.environ, PYTHONPATH=root, **{v: str(threads) for v in THREAD_VARIABLES})
    if library == "minigrad" and args.blas == "policy":
        for name in POLICY_UNSET:
            env.pop(name, None)
        env["MINIGRAD_NUM_THREADS"] = str(threads)
    out = subprocess.run([sys.executable, "-m", "bench.bench_speed", "--in-process", library,
                          "--threads", str(threads), "--repeats", str(args.repeats),
                          "--only", *args.only],
                         env=env, check=True, cwd=root, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per round")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of (minigrad, PyTorch) processes, alternating")
    parser.add_argument("--only", nargs="+", choices=list(NAMES), default=list(NAMES))
    parser.add_argument("--blas", choices=("policy", "threads"), default="policy",
                        help="minigrad's BLAS: its own policy (one BLAS thread, large products "
                             "split over the n threads; the default) or n BLAS threads")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument("--in-process", choices=("minigrad", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.in_process:
        print(json.dumps(measure(args.only, args.threads[0], args.repeats, args.in_process)))
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # table[threads][workload] = ([minigrad medians], [PyTorch medians], scale)
    table = {n: {name: ([], [], 1.0) for name in args.only} for n in args.threads}
    for _ in range(args.rounds):
        for n in args.threads:
            for index, library in enumerate(("minigrad", "torch")):
                for name, (seconds, scale) in _child(library, n, args, root).items():
                    table[n][name][index].append(seconds)
                    table[n][name] = table[n][name][:2] + (scale,)
    load = os.getloadavg()[0]
    print(f"\nCNN training path, float32, CPU; {time.strftime('%Y-%m-%d')}, load average "
          f"{load:.2f} at the end; medians over {args.rounds} alternating process rounds; "
          f"minigrad's BLAS: {args.blas}")
    header = ["workload"] + [f"{n} thr: minigrad / PyTorch" for n in args.threads] \
        + [f"ratio {n} thr" for n in args.threads] + ["target"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    summary = {}
    for name in args.only:
        cells, ratios = [NAMES[name]], []
        for n in args.threads:
            ours_all, theirs_all, scale = table[n][name]
            ours = statistics.median(ours_all)
            theirs = statistics.median(theirs_all) if theirs_all else None
            summary.setdefault(name, {})[n] = {"minigrad": ours * scale,
                                               "torch": theirs and theirs * scale}
            cells.append(f"{ours * scale:.3g} / {theirs * scale:.3g}" if theirs
                         else f"{ours * scale:.3g} / n/a")
            ratios.append(f"{ours / theirs:.2f}x" if theirs else "n/a")
        target = f"<= {TARGETS[name]}x" if TARGETS[name] else "-"
        print("| " + " | ".join(cells + ratios + [target]) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "load": load, "results": summary},
                      f, indent=1)


if __name__ == "__main__":
    main()
