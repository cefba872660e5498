"""What optimizers do on a loss surface: seven of them on four 2-d functions.

A network's loss lives in millions of dimensions, but its troubles show in two:

- an ill-conditioned quadratic ``½(x²/10 + 10 y²)``: one direction is 100 times steeper than
  the other, so plain SGD must take steps small enough for the steep one and crawls along the
  shallow one; momentum builds up speed along the valley, adaptive methods rescale each axis;
- the Rosenbrock function ``(1 - x)² + 100 (y - x²)²``: a curved, narrow valley;
- a saddle ``x² - y² + y⁴/4`` started almost on its ridge: the gradient there is nearly zero
  in the escaping direction; momentum, Nesterov and Adam, which build up speed, leave it
  sooner than plain SGD, while AdaGrad's ever-shrinking steps make it the slowest;
- a noisy bowl ``½(x² + y²)`` whose gradients carry Gaussian noise, as minibatch gradients
  do: the iterates settle into a cloud whose size is set by the learning rate.

Every step goes through the engine: the point is a ``Tensor`` with ``requires_grad``, the loss
is built from ``mg`` ops, ``backward()`` fills the gradient, and an optimizer from ``optim``
updates it (LBFGS through its closure). Results under ``--out``: ``trajectories.png`` (paths
over contour plots), ``loss.png`` (f - f* against steps, log scale) and ``metrics.json``
(final gaps and the steps each method needs to get within 1e-3 of the minimum). A few seconds
of CPU time::

    python demos/optimizer_landscapes.py
    python demos/optimizer_landscapes.py --steps 1000 --noise 1.0

Notation
--------
p = (x, y)   the point being optimised;  f*   the minimum of the surface

Shared options (`demos/_common.py`): `--device cpu|cuda|cuda:N`, `--out DIR` (metrics.json
and PNGs), `--quiet`, `--logdir DIR` (TensorBoard).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402
import optim  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     open_logger, progress_bar, save_metrics)


def quadratic(x, y, xp=None):
    return 0.5 * (0.1 * x * x + 10 * y * y)


def rosenbrock(x, y, xp=None):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def saddle(x, y, xp=None):
    return x * x - y * y + y ** 4 / 4


def bowl(x, y, xp=None):
    return 0.5 * (x * x + y * y)


# name: (function, start, f*, plot window (xmin, xmax, ymin, ymax), learning rates by family)
# The rates are roughly the largest that stay stable for each family on each surface; SGD's
# is bounded by 2 / (largest curvature), which is the whole point of the first surface.
SURFACES = {
    "ill-conditioned quadratic": (quadratic, (-4.0, 1.0), 0.0, (-4.5, 4.5, -1.5, 1.5),
                                  {"sgd": 0.18, "momentum": 0.018, "adaptive": 0.3}),
    "Rosenbrock": (rosenbrock, (-1.5, 2.0), 0.0, (-2.0, 2.0, -1.0, 3.0),
                   {"sgd": 4e-4, "momentum": 1e-4, "adaptive": 0.05}),
    "saddle": (saddle, (-2.0, 1e-3), -1.0, (-2.5, 2.5, -2.0, 2.0),
               {"sgd": 0.05, "momentum": 0.02, "adaptive": 0.05}),
    "noisy bowl": (bowl, (-3.0, 2.5), 0.0, (-3.5, 3.5, -3.0, 3.0),
                   {"sgd": 0.1, "momentum": 0.02, "adaptive": 0.1}),
}

OPTIMIZERS = {
    "SGD": ("sgd", lambda p, lr: optim.SGD(p, lr=lr)),
    "momentum": ("momentum", lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9)),
    "Nesterov": ("momentum", lambda p, lr: optim.SGD(p, lr=lr, momentum=0.9, nesterov=True)),
    "AdaGrad": ("adaptive", lambda p, lr: optim.Adagrad(p, lr=3 * lr)),
    "RMSProp": ("adaptive", lambda p, lr: optim.RMSprop(p, lr=lr / 3)),
    "Adam": ("adaptive", lambda p, lr: optim.Adam(p, lr=lr)),
    "LBFGS": ("lbfgs", lambda p, lr: optim.LBFGS(p, lr=1.0, max_iter=1, history_size=10,
                                                line_search_fn="strong_wolfe")),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam and LBFGS on 2-d loss "
                    "surfaces: trajectories over contours and loss against steps.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--steps", type=int, default=1000, help="optimizer steps per run")
    parser.add_argument("--noise", type=float, default=0.5,
                        help="standard deviation of the gradient noise on the noisy bowl")
    parser.add_argument("--surfaces", nargs="+", choices=sorted(SURFACES), default=list(SURFACES),
                        metavar="NAME", help="which surfaces: " + ", ".join(SURFACES))
    parser.add_argument("--seed", type=int, default=0, help="seeds the gradient noise")
    add_device_argument(parser)
    add_output_arguments(parser, "optimizer_landscapes")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    if args.noise < 0:
        parser.error(f"--noise must be non-negative, got {args.noise}")
    check_device(parser, args.device)
    return args


def run(surface, optimizer_name, steps, noise, seed, device):
    """Optimise one surface from its start; returns the path (steps + 1, 2) and f along it."""
    fn, start, _, _, rates = SURFACES[surface]
    family, make = OPTIMIZERS[optimizer_name]
    p = mg.tensor(np.array(start), dtype=mg.float64, device=device, requires_grad=True)
    opt = make([p], rates.get(family, 1.0))
    rng = np.random.default_rng(seed)

    def closure():
        opt.zero_grad()
        loss = fn(p[0], p[1])
        if surface == "noisy bowl" and noise > 0:
            # A linear term with random slope adds N(0, noise²) to each gradient component
            # and leaves the curvature alone: the gradient of a random minibatch.
            loss = loss + (mg.tensor(rng.normal(0, noise, 2), dtype=mg.float64,
                                     device=device) * p).sum()
        loss.backward()
        return loss

    path = [p.numpy().copy()]
    for _ in range(steps):
        opt.step(closure)
        point = p.numpy().copy()
        if not np.all(np.isfinite(point)):
            break                                   # diverged: the rest of the path is lost
        path.append(point)
    path = np.array(path)
    return (path, fn(path[:, 0], path[:, 1]))


def steps_to(gap, tolerance=1e-3):
    """The first step at which f - f* < tolerance, or None."""
    hits = np.nonzero(gap < tolerance)[0]
    return int(hits[0]) if len(hits) else None


def plot(results, path_traj, path_loss):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(results)
    cols = min(2, len(names))
    rows = (len(names) + cols - 1) // cols
    colors = dict(zip(OPTIMIZERS, plt.cm.tab10.colors))
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4.5 * rows), squeeze=False)
    for ax, surface in zip(axes.flat, names):
        fn, start, _, (x0, x1, y0, y1), _ = SURFACES[surface]
        X, Y = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
        Z = fn(X, Y)
        levels = np.quantile(Z, np.linspace(0, 1, 30) ** 2)
        ax.contour(X, Y, Z, levels=np.unique(levels), colors="0.75", linewidths=0.6)
        for opt_name, (traj, _) in results[surface].items():
            ax.plot(traj[:, 0], traj[:, 1], ".-", ms=2, lw=1, color=colors[opt_name],
                    label=opt_name)
        ax.plot(*start, "k*", ms=10)
        ax.set(xlim=(x0, x1), ylim=(y0, y1), title=surface)
    axes.flat[0].legend(fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path_traj, dpi=100)
    plt.close(fig)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4 * rows), squeeze=False)
    for ax, surface in zip(axes.flat, names):
        f_star = SURFACES[surface][2]
        for opt_name, (_, values) in results[surface].items():
            ax.semilogy(np.maximum(values - f_star, 1e-16), color=colors[opt_name],
                        label=opt_name)
        ax.set(xlabel="step", ylabel="f - f*", title=surface)
    axes.flat[0].legend(fontsize=8)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path_loss, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    log = open_logger(args)
    results, metrics = {}, {}
    bar = progress_bar(len(args.surfaces) * len(OPTIMIZERS), "runs", args.quiet)
    for surface in args.surfaces:
        results[surface], metrics[surface] = {}, {}
        f_star = SURFACES[surface][2]
        for opt_name in OPTIMIZERS:
            traj, values = run(surface, opt_name, args.steps, args.noise, args.seed, args.device)
            results[surface][opt_name] = (traj, values)
            gap = values - f_star
            metrics[surface][opt_name] = {
                "final_gap": float(gap[-1]), "steps_to_1e-3": steps_to(gap),
                "diverged": len(traj) < args.steps + 1,
                "final_point": [float(v) for v in traj[-1]]}
            for k in range(0, len(values), max(1, len(values) // 50)):
                log.add_scalar(f"{surface}/{opt_name}", float(gap[k]), k)
            bar.update(1)
    bar.close()
    plot(results, os.path.join(args.out, "trajectories.png"), os.path.join(args.out, "loss.png"))
    save_metrics(args.out, {"steps": args.steps, "noise": args.noise, "surfaces": metrics})
    log.close()
    print(f"f - f* after {args.steps} steps (steps to reach 1e-3 in brackets):")
    print(f"{'':28s}" + "".join(f"{name:>17s}" for name in OPTIMIZERS))
    for surface in args.surfaces:
        cells = []
        for opt_name in OPTIMIZERS:
            m = metrics[surface][opt_name]
            hit = "-" if m["steps_to_1e-3"] is None else m["steps_to_1e-3"]
            cells.append("diverged" if m["diverged"] else f"{m['final_gap']:.1e} [{hit}]")
        print(f"{surface:28s}" + "".join(f"{c:>17s}" for c in cells))
    print(f"wrote {args.out}/metrics.json, trajectories.png, loss.png")
    return metrics


if __name__ == "__main__":
    main()
