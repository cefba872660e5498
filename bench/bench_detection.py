"""RoI Align (forward + backward) and NMS on the CPU, at 1 and 2 threads.

Workloads (issue 13's): ``roi_align`` of 512 boxes on a float32 map (2, 256, 50, 50), output
7x7, sampling ratio 2, aligned, timed as forward plus backward with a fixed upstream gradient;
``nms`` of 5,000 random boxes at IoU 0.5. PyTorch vision is timed alongside when it is
installed (its ops are the reference); otherwise the table gives minigrad's absolute times.

    python -m bench.bench_detection
"""
import os

# see bench_pool.py: idle OpenMP threads must sleep, set before numba or torch starts
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402
import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
import minigrad.functional as F  # noqa: E402
from bench.harness import compare, report, torch_or_none  # noqa: E402

SHAPE = (2, 256, 50, 50)   # N, C, H, W
BOXES, OUTPUT, RATIO, SCALE = 512, 7, 2, 1 / 16
NMS_BOXES = 5000


def problem(rng):
    """The map, 512 boxes (K, 5) in image pixels (a stride-16 map of an 800x800 image)."""
    x = rng.standard_normal(SHAPE, dtype=np.float32)
    corner = rng.uniform(0, 700, (BOXES, 2))
    size = rng.uniform(16, 300, (BOXES, 2))
    rois = np.concatenate([rng.integers(0, SHAPE[0], (BOXES, 1)), corner,
                           np.minimum(corner + size, 799)], axis=1).astype(np.float32)
    corner = rng.uniform(0, 1000, (NMS_BOXES, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(10, 100, (NMS_BOXES, 2))], axis=1)
    return (x, rois, boxes.astype(np.float32), rng.random(NMS_BOXES, dtype=np.float32))


def rows_at(threads, x0, rois0, boxes0, scores0):
    numba.set_num_threads(threads)
    torch = torch_or_none(threads)
    try:
        import torchvision.ops as tv
    except ImportError:
        tv = None
    x, rois = mg.tensor(x0, requires_grad=True), mg.tensor(rois0)
    g = mg.tensor(np.ones((BOXES, SHAPE[1], OUTPUT, OUTPUT), dtype=np.float32))
    boxes, scores = mg.tensor(boxes0), mg.tensor(scores0)

    def align_minigrad():
        x.grad = None
        F.roi_align(x, rois, OUTPUT, SCALE, RATIO, True).backward(g)

    align_torch = nms_torch = None
    if tv is not None:
        tx, trois = torch.tensor(x0, requires_grad=True), torch.tensor(rois0)
        tg, tb, ts = torch.tensor(g.numpy()), torch.tensor(boxes0), torch.tensor(scores0)

        def align_torch():
            tx.grad = None
            tv.roi_align(tx, trois, OUTPUT, SCALE, RATIO, True).backward(tg)

        def nms_torch():
            tv.nms(tb, ts, 0.5)
    return [compare(f"roi_align fwd+bwd, {threads} thread(s)", align_minigrad, align_torch,
                    repeats=5, target=1.2),
            compare(f"nms 5000 boxes, {threads} thread(s)", lambda: F.nms(boxes, scores, 0.5),
                    nms_torch, repeats=5, target=1.5)]


def main():
    data = problem(np.random.default_rng(0))
    rows = []
    for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
        rows += rows_at(threads, *data)
    report(rows, f"RoI Align {SHAPE}, {BOXES} boxes, {OUTPUT}x{OUTPUT}, sampling ratio {RATIO}; "
                 f"NMS {NMS_BOXES} boxes (PyTorch = PyTorch vision, when installed)")
    return rows


if __name__ == "__main__":
    main()
