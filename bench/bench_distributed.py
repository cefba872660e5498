"""Data-parallel scaling on MPI: a LeNet training step on 1 and 2 processes, and the cost of
minigrad's all-reduce of a 25 MB bucket against mpi4py's own ``Allreduce``.

1. Scaling. Each process trains the LeNet of bench_train (28x28 inputs) with
   DistributedDataParallel on its own batch of 128, one thread per process (OMP, BLAS and Numba
   threads all 1), so W processes process W·128 samples per step. Reported: samples per second
   for W = 1 and 2, the speed-up and the efficiency speed-up / W (target: speed-up >= 1.6).
   On a loaded machine the wall-clock speed-up says more about the other jobs than about
   minigrad, so the CPU seconds one process spends per step are reported too: when they stay
   the same at W = 2, the communication costs nothing and the speed-up on two free cores is 2;
   the column "speed-up on free cores" is that estimate, 2 · CPU(1) / CPU(2).
   PyTorch's DDP (gloo backend) runs the same model the same way when torch is installed.
2. All-reduce. A 25 MB float32 tensor (DistributedDataParallel's default bucket) summed over
   2 ranks with ``minigrad.distributed.all_reduce`` (non-blocking MPI request polled with a
   deadline) and with ``comm.Allreduce(MPI.IN_PLACE, buffer)`` (blocking mpi4py), median of
   several runs (target: minigrad at most 1.1x mpi4py's time).

    python -m bench.bench_distributed              # launches the mpiexec runs itself

The machine is shared: the figures are rough, and two processes on a two-core machine compete
with everything else running on it.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                     "NUMBA_NUM_THREADS")}
BATCH, STEPS, WARMUP = 128, 12, 3
BUCKET_MB, REPEATS = 25, 15
SCALING_TARGET, ALLREDUCE_TARGET = 1.6, 1.1


# --- worker side (runs under mpiexec) -------------------------------------------------------
def minigrad_steps_per_second():
    """Steps per second of DDP LeNet at batch BATCH on this rank (rank 0's figure)."""
    import minigrad as mg
    import minigrad.distributed as dist
    import minigrad.functional as F
    import layers
    from bench.bench_train import lenet
    from layers.parallel import DistributedDataParallel
    from optim import SGD
    mg.manual_seed(0)
    model = DistributedDataParallel(lenet(layers))
    opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(dist.get_rank())
    x = mg.tensor(rng.normal(size=(BATCH, 1, 28, 28)).astype(np.float32))
    y = mg.tensor(rng.integers(0, 10, BATCH))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return _time_steps(step, dist.barrier)


def torch_steps_per_second(rank, world_size):
    """The same with PyTorch DDP on gloo, or None without torch."""
    try:
        import torch
        import torch.distributed as tdist
    except ImportError:
        return None
    torch.set_num_threads(1)
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29531")
    tdist.init_process_group("gloo", rank=rank, world_size=world_size)
    from bench.bench_train import lenet
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(lenet(torch.nn))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(rank)
    x, y = torch.randn(BATCH, 1, 28, 28, generator=g), torch.randint(0, 10, (BATCH,), generator=g)

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    rate = _time_steps(step, tdist.barrier)
    tdist.destroy_process_group()
    return rate


def _time_steps(step, barrier):
    for _ in range(WARMUP):
        step()
    barrier()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(STEPS):
        step()
    cpu = time.process_time() - cpu
    barrier()
    return STEPS / (time.perf_counter() - start), cpu / STEPS


def allreduce_seconds():
    """Median seconds of minigrad's all_reduce and of raw mpi4py Allreduce on 25 MB."""
    from mpi4py import MPI
    import minigrad as mg
    import minigrad.distributed as dist
    n = BUCKET_MB * 2 ** 20 // 4
    ours = mg.ones(n, dtype=mg.float32)
    raw = np.ones(n, dtype=np.float32)
    comm = MPI.COMM_WORLD
    times = {"minigrad_allreduce": [], "mpi4py": []}
    for i in range(REPEATS + 2):            # interleaved, so both see the same load
        for name, run in (("minigrad_allreduce", lambda: dist.all_reduce(ours)),
                          ("mpi4py", lambda: comm.Allreduce(MPI.IN_PLACE, raw))):
            comm.Barrier()
            start = time.perf_counter()
            run()
            elapsed = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
            if i >= 2:
                times[name].append(elapsed)
    return {name: float(np.median(t)) for name, t in times.items()}


def worker(args):
    import minigrad.distributed as dist
    dist.init_process_group("mpi")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    result = {"world_size": world_size, "minigrad": minigrad_steps_per_second()}
    if world_size == 2:
        result.update(allreduce_seconds())
    if args.torch:
        result["torch"] = torch_steps_per_second(rank, world_size)
    if rank == 0:
        print("RESULT", repr(result), flush=True)
    dist.destroy_process_group()


# --- driver side ------------------------------------------------------------------------------
def launch(world_size, torch):
    env = dict(os.environ, PYTHONPATH=ROOT, **ONE_THREAD)
    command = ["mpiexec", "-n", str(world_size), sys.executable, "-m", "bench.bench_distributed",
               "--worker"] + (["--torch"] if torch else [])
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"the {world_size}-process run failed:\n{out.stderr[-3000:]}")
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return eval(line[len("RESULT "):], {"__builtins__": {}})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch's DDP rows")
    parser.add_argument("--torch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    import importlib.util
    torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    runs = {w: launch(w, torch) for w in (1, 2)}
    print(f"\nLeNet step, batch {BATCH} per process, 1 thread per process")
    print("| framework | 1 process (samples/s) | 2 processes (samples/s) | speed-up | "
          "efficiency | CPU ms per step, 1 / 2 processes | speed-up on free cores | target |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ("minigrad", "torch") if torch else ("minigrad",):
        (rate1, cpu1), (rate2, cpu2) = runs[1][name], runs[2][name]
        one, two = rate1 * BATCH, rate2 * BATCH * 2
        print(f"| {name} | {one:.0f} | {two:.0f} | {two / one:.2f}x | {two / one / 2:.0%} | "
              f"{cpu1 * 1e3:.1f} / {cpu2 * 1e3:.1f} | {2 * cpu1 / cpu2:.2f}x | "
              f"{'>= %.1fx' % SCALING_TARGET if name == 'minigrad' else ''} |")
    ours, raw = runs[2]["minigrad_allreduce"], runs[2]["mpi4py"]
    print(f"\nAll-reduce of {BUCKET_MB} MB float32 over 2 processes (median of {REPEATS})")
    print("| minigrad all_reduce (ms) | mpi4py Allreduce (ms) | ratio | bandwidth (GB/s) | "
          "target |")
    print("|---|---|---|---|---|")
    print(f"| {ours * 1e3:.1f} | {raw * 1e3:.1f} | {ours / raw:.2f}x | "
          f"{BUCKET_MB * 2 ** 20 / ours / 1e9:.2f} | <= {ALLREDUCE_TARGET}x |")


if __name__ == "__main__":
    main()
