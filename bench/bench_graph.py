"""One message-passing step on the CPU, forward + backward, against PyTorch.

Workload (the issue's): a graph of 10,000 nodes and 50,000 random edges with 64 float32
features per node. Each edge gathers its two endpoints, an edge MLP (Linear 128->64, ReLU,
Linear 64->64) turns them into a message, and the messages are summed into their destination
nodes; then backward with a fixed upstream gradient. PyTorch does the same with
``index_select`` and ``index_add_``. Three rows per thread count: minigrad on the scatter
kernels, minigrad on the ``np.add.at`` path the graph ops used before (the baseline), and a
sum-scatter alone. Run at 1 and 2 threads: Numba's pool, NumPy's BLAS (through threadpoolctl,
when installed) and PyTorch alike. Unlimited, OpenBLAS starts its own threads beside Numba's,
and on a loaded machine its weight-gradient product (64 x 50,000 by 50,000 x 64) alone then
costs several times the whole PyTorch step.

    python -m bench.bench_graph
    python -m bench.bench_graph --blas-threads 1   # NumPy's BLAS on one thread throughout
"""
import argparse
import os

# Numba's and PyTorch's OpenMP pools share the cores: idle threads must sleep, not spin
# (see bench_pool.py). Set before numba or torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402
import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.functional as F  # noqa: E402
from bench.harness import compare, report, torch_or_none  # noqa: E402
from minigrad.ops.index import getitem, index_add_to  # noqa: E402

NODES, EDGES, FEATURES = 10_000, 50_000, 64
TARGET = 1.0  # at most PyTorch's time


def _problem():
    rng = np.random.default_rng(0)
    arrays = {"x": rng.standard_normal((NODES, FEATURES), dtype=np.float32),
              "w1": rng.standard_normal((FEATURES, 2 * FEATURES), dtype=np.float32) / 11,
              "b1": np.zeros(FEATURES, dtype=np.float32),
              "w2": rng.standard_normal((FEATURES, FEATURES), dtype=np.float32) / 8,
              "b2": np.zeros(FEATURES, dtype=np.float32),
              "g": rng.standard_normal((NODES, FEATURES), dtype=np.float32)}
    src, dst = rng.integers(0, NODES, EDGES), rng.integers(0, NODES, EDGES)
    return (arrays, src, dst)


def minigrad_step(arrays, src, dst, baseline=False):
    """A callable running one step; ``baseline`` uses the old ``np.add.at`` gather/scatter."""
    p = {k: mg.tensor(v, requires_grad=k != "g") for k, v in arrays.items()}
    if baseline:
        gather = lambda x, index: getitem(x, (index,))  # noqa: E731
        scatter = lambda m, index: index_add_to(m, (index,), (NODES, FEATURES))  # noqa: E731
    else:
        gather = F.gather
        scatter = lambda m, index: F.scatter_add(m, index, NODES)  # noqa: E731

    def step():
        for t in p.values():
            t.grad = None
        h = mg.cat([gather(p["x"], src), gather(p["x"], dst)], dim=1)
        message = F.linear(F.relu(F.linear(h, p["w1"], p["b1"])), p["w2"], p["b2"])
        scatter(message, dst).backward(p["g"])
    return step


def torch_step(torch, arrays, src, dst):
    p = {k: torch.tensor(v, requires_grad=k != "g") for k, v in arrays.items()}
    tsrc, tdst = torch.tensor(src), torch.tensor(dst)
    nn = torch.nn.functional

    def step():
        for t in p.values():
            t.grad = None
        h = torch.cat([p["x"].index_select(0, tsrc), p["x"].index_select(0, tdst)], dim=1)
        message = nn.linear(nn.relu(nn.linear(h, p["w1"], p["b1"])), p["w2"], p["b2"])
        torch.zeros(NODES, FEATURES).index_add_(0, tdst, message).backward(p["g"])
    return step


def scatter_only(arrays, src, dst, torch):
    m0 = np.random.default_rng(1).standard_normal((EDGES, FEATURES), dtype=np.float32)
    m = mg.tensor(m0, requires_grad=True)
    g = mg.tensor(arrays["g"])

    def ours():
        m.grad = None
        F.scatter_add(m, dst, NODES).backward(g)
    if torch is None:
        return (ours, None)
    tm, tg, tdst = torch.tensor(m0, requires_grad=True), torch.tensor(arrays["g"]), \
        torch.tensor(dst)

    def theirs():
        tm.grad = None
        torch.zeros(NODES, FEATURES).scatter_reduce(
            0, tdst[:, None].expand(EDGES, FEATURES), tm, "sum").backward(tg)
    return (ours, theirs)


def blas_threads(threads):
    """A context limiting NumPy's BLAS to ``threads`` (a no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(threads, user_api="blas")


def main(thread_counts=(1, 2), repeats=7, blas=None):
    """The report at each thread count; ``blas`` fixes NumPy's BLAS threads (default: the same
    count as Numba and PyTorch)."""
    arrays, src, dst = _problem()
    shape = f"{NODES} nodes, {EDGES} edges, {FEATURES} features"
    for threads in thread_counts:
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        torch = torch_or_none(threads=threads)
        theirs = torch_step(torch, arrays, src, dst) if torch else None
        scatter_ours, scatter_theirs = scatter_only(arrays, src, dst, torch)
        with blas_threads(blas or threads):
            rows = _rows(arrays, src, dst, theirs, scatter_ours, scatter_theirs, repeats)
        report(rows, f"Message passing, float32, CPU, {threads} thread(s) (BLAS "
                     f"{blas or threads}); {shape}")


def _rows(arrays, src, dst, theirs, scatter_ours, scatter_theirs, repeats):
    return [compare("gather + edge MLP + scatter_add, fwd+bwd (kernels)",
                    minigrad_step(arrays, src, dst), theirs, repeats=repeats, target=TARGET),
            compare("the same on np.add.at (the previous path)",
                    minigrad_step(arrays, src, dst, baseline=True), theirs, repeats=repeats),
            compare("scatter_add alone vs scatter_reduce('sum'), fwd+bwd", scatter_ours,
                    scatter_theirs, repeats=repeats, target=TARGET)]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="NumPy's BLAS threads (default: as many as --threads)")
    args = parser.parse_args()
    main(tuple(args.threads), args.repeats, args.blas_threads)
