"""The CNN training path on an NVIDIA GPU, minigrad (CuPy + Numba CUDA) against PyTorch (CUDA).

The workloads of ``bench.bench_speed`` (float32, forward + backward), with every tensor and
parameter on the GPU. Each timed call ends with a device synchronisation in its own library, so
the figure is the wall time of the whole step, launches and kernels together; ratios are
minigrad / PyTorch (lower is better). Without a GPU this prints why and exits with status 2.

    python -m bench.bench_gpu [--repeats 20] [--only lenet conv2d ...] [--json FILE]
"""
import argparse
import json
import sys
import time

from bench.bench_speed import NAMES, runners
from bench.harness import median_time


def _synchronised(fn, synchronize):
    def call():
        fn()
        synchronize()
    return call


def measure(names, repeats):
    """{workload: (minigrad seconds, PyTorch seconds or None, scale)} on the GPU."""
    import cupy
    try:
        import torch
        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    results = {}
    for name in names:
        ours, theirs, scale = runners(name, torch, device="cuda")
        number = 20 if name == "overhead" else 1
        ours_s = median_time(_synchronised(ours, cupy.cuda.Device().synchronize), number=number,
                             repeats=repeats, warmup=3)
        theirs_s = (median_time(_synchronised(theirs, torch.cuda.synchronize), number=number,
                                repeats=repeats, warmup=3) if theirs else None)
        results[name] = (ours_s, theirs_s, scale)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per workload")
    parser.add_argument("--only", nargs="+", choices=list(NAMES), default=list(NAMES))
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    import minigrad as mg
    if not mg.cuda.is_available():
        print("bench_gpu: no CUDA GPU here (CuPy missing or no device); nothing to measure")
        sys.exit(2)
    import cupy
    results = measure(args.only, args.repeats)
    gpu = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print(f"\nCNN training path, float32, {gpu}; {time.strftime('%Y-%m-%d')}; medians of "
          f"{args.repeats} synchronised calls")
    print("| workload | minigrad | PyTorch | ratio |")
    print("| --- | ---: | ---: | ---: |")
    summary = {}
    for name, (ours, theirs, scale) in results.items():
        ratio = f"{ours / theirs:.2f}x" if theirs else "n/a"
        theirs_cell = f"{theirs * scale:.3g}" if theirs else "n/a"
        print(f"| {NAMES[name]} | {ours * scale:.3g} | {theirs_cell} | {ratio} |")
        summary[name] = {"minigrad": ours * scale, "torch": theirs and theirs * scale}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "gpu": gpu, "results": summary}, f,
                      indent=1)


if __name__ == "__main__":
    main()
