"""Max pooling and max unpooling on the CPU, forward + backward, against PyTorch.

Workload: a 2x2 max pool (stride 2) with indices on a float32 batch of shape (64, 32, 28, 28),
then max unpooling with those indices back to 28x28; each is timed as forward plus backward
with a fixed upstream gradient. PyTorch runs on as many threads as Numba, in this process.

    python -m bench.bench_pool
"""
import os

# Numba's and PyTorch's OpenMP thread pools share the cores in this one process. With the default
# (active) wait policy each pool's idle threads spin for a while after every parallel region and
# steal the cores the other pool needs next, so both medians swell several-fold and swing from run
# to run. Idle threads that sleep give each library the cores it asks for. It must be set before
# either OpenMP runtime starts, that is, before numba or torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402
import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
from bench.harness import compare, report, torch_or_none  # noqa: E402
from minigrad.ops.pool import max_pool2d, max_unpool2d  # noqa: E402

SHAPE = (64, 32, 28, 28)  # N, C, H, W
TARGET = 1.2              # at most this many times PyTorch's time


def main():
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(SHAPE, dtype=np.float32)
    pooled_shape = SHAPE[:2] + (SHAPE[2] // 2, SHAPE[3] // 2)
    g_pool0 = rng.standard_normal(pooled_shape, dtype=np.float32)
    g_unpool0 = rng.standard_normal(SHAPE, dtype=np.float32)

    x = mg.tensor(x0, requires_grad=True)
    g_pool = mg.tensor(g_pool0)
    g_unpool = mg.tensor(g_unpool0)
    with mg.no_grad():
        pooled0, indices = max_pool2d(x, 2, return_indices=True)
    pooled = mg.tensor(pooled0.numpy(), requires_grad=True)

    def pool_minigrad():
        x.grad = None
        y, _ = max_pool2d(x, 2, return_indices=True)
        y.backward(g_pool)

    def unpool_minigrad():
        pooled.grad = None
        max_unpool2d(pooled, indices, 2).backward(g_unpool)

    torch = torch_or_none(threads=numba.get_num_threads())
    pool_torch = unpool_torch = None
    if torch is not None:
        F = torch.nn.functional
        tx = torch.tensor(x0, requires_grad=True)
        tg_pool, tg_unpool = torch.tensor(g_pool0), torch.tensor(g_unpool0)
        tpooled = torch.tensor(pooled0.numpy(), requires_grad=True)
        tindices = torch.tensor(indices.numpy())

        def pool_torch():
            tx.grad = None
            y, _ = F.max_pool2d(tx, 2, return_indices=True)
            y.backward(tg_pool)

        def unpool_torch():
            tpooled.grad = None
            F.max_unpool2d(tpooled, tindices, 2).backward(tg_unpool)

    shape = "x".join(map(str, SHAPE))
    rows = [compare(f"max_pool2d 2x2 + indices on {shape}, fwd+bwd", pool_minigrad, pool_torch,
                    number=5, repeats=15, warmup=3, target=TARGET),
            compare(f"max_unpool2d 2x2 to {shape}, fwd+bwd", unpool_minigrad, unpool_torch,
                    number=5, repeats=15, warmup=3, target=TARGET)]
    report(rows, f"Pooling, float32, CPU, {numba.get_num_threads()} threads")


if __name__ == "__main__":
    main()
