"""Train a tiny MLP on two-dimensional toy data and watch the loss fall.

The smallest end-to-end use of minigrad: a seeded dataset from ``minigrad.data``, an ``MLP``
from ``models``, cross-entropy, Adam, and a loop of forward, backward and step. The two spirals
(or moons) cannot be split by a line, so the accuracy climbing towards 100% shows that the
hidden layers learnt a curved boundary. Writes ``metrics.json`` (the loss and accuracy at every
print) and ``boundary.png`` (the loss curve, and the learnt regions under the points) under
``--out``; with ``--logdir`` also TensorBoard curves, weight and gradient histograms, the
learnt regions as an image and the autograd graph. Finishes in a few seconds on a laptop CPU::

    python demos/train_mlp.py
    python demos/train_mlp.py --data moons --hidden 16 16 --steps 200
    python demos/train_mlp.py --logdir runs/mlp      # then: tensorboard --logdir runs

Notation
--------
N       number of points
B       batch size

Shared options (`demos/_common.py`): `--device cpu|cuda|cuda:N`, `--out DIR` (metrics.json
and PNGs), `--quiet`, `--logdir DIR` (TensorBoard).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import minigrad as mg  # noqa: E402
import minigrad.functional as F  # noqa: E402
from minigrad.data import TensorDataset, make_moons, make_spirals  # noqa: E402
from models import MLP  # noqa: E402
from optim import Adam  # noqa: E402
from _common import (add_device_argument, add_output_arguments, check_device,  # noqa: E402
                     log_parameters, open_logger, progress_bar, save_metrics)
from _distributed import (add_distributed_argument, is_main_process,  # noqa: E402
                          make_loader, setup_distributed, start_epoch, wrap_model)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--data", choices=["spirals", "moons"], default="spirals",
                        help="which toy dataset to fit")
    parser.add_argument("--points", type=int, default=200, help="points per class")
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 32],
                        help="widths of the hidden layers")
    parser.add_argument("--steps", type=int, default=400, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.02, help="Adam learning rate")
    parser.add_argument("--print-every", type=int, default=40,
                        help="print the mean loss of the last this many steps")
    add_device_argument(parser)
    parser.add_argument("--seed", type=int, default=0)
    add_output_arguments(parser, "train_mlp")
    add_distributed_argument(parser)
    args = parser.parse_args(argv)
    for name in ("points", "steps", "batch_size", "print_every"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got "
                         f"{getattr(args, name)}")
    check_device(parser, args.device)
    return args


def make_data(name, points, seed):
    """Points (N, 2) float32 and labels (N,) int64 of the chosen toy problem."""
    if name == "spirals":
        return make_spirals(points, n_classes=2, noise=0.05, seed=seed)
    return make_moons(2 * points, noise=0.1, seed=seed)


def plot(history, model, x, y, device, path):
    """The loss curve beside the learnt regions (class of each point of a grid) under the data."""
    import matplotlib
    matplotlib.use("Agg")  # files only: the demo must run without a display
    import matplotlib.pyplot as plt
    import numpy as np
    fig, (ax_loss, ax_map) = plt.subplots(1, 2, figsize=(10, 4.2))
    ax_loss.plot(history["step"], history["loss"])
    ax_loss.set(xlabel="step", ylabel="training loss", title="loss")
    low, high = x.min(axis=0) - 0.3, x.max(axis=0) + 0.3
    u, v = np.meshgrid(np.linspace(low[0], high[0], 200), np.linspace(low[1], high[1], 200))
    grid = np.stack([u.ravel(), v.ravel()], axis=1).astype(np.float32)
    with mg.no_grad():
        regions = model(mg.tensor(grid, device=device)).argmax(dim=1).numpy().reshape(u.shape)
    ax_map.contourf(u, v, regions, alpha=0.3, cmap="coolwarm")
    ax_map.scatter(x[:, 0], x[:, 1], c=y, s=8, cmap="coolwarm")
    ax_map.set(title=f"learnt regions, accuracy {history['accuracy'][-1]:.1%}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    setup_distributed(args)  # --distributed: one rank per mpiexec process (demos/_distributed.py)
    mg.manual_seed(args.seed)
    x, y = make_data(args.data, args.points, args.seed)
    loader = make_loader(TensorDataset(x, y), args)
    model = MLP(2, args.hidden, 2, activation="tanh").to(args.device)
    trained = wrap_model(model, args)  # DistributedDataParallel(model) with --distributed
    optimizer = Adam(model.parameters(), lr=args.lr)
    all_x = mg.tensor(x, device=args.device)
    say = (lambda *a: None) if args.quiet else print
    log = open_logger(args)
    log.add_graph(model, all_x[:4])
    say(f"{args.data}: {len(x)} points, MLP 2-{'-'.join(map(str, args.hidden))}-2, "
        f"{sum(p.numel() for p in model.parameters())} parameters")
    start = time.perf_counter()
    history = {"step": [], "loss": [], "accuracy": []}
    progress = progress_bar(args.steps, "training", args.quiet)
    step = 0
    recent = []  # batch losses since the last print; their mean is smoother than one batch's
    while step < args.steps:
        start_epoch(loader, step)  # a new order each pass (the same on every rank)
        for xb, yb in loader:
            loss = F.cross_entropy(trained(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            recent.append(loss.item())
            progress.update(1)
            progress.set_postfix(loss=f"{recent[-1]:.4f}")
            if step % args.print_every == 0 or step == args.steps:
                with mg.no_grad():
                    accuracy = float((model(all_x).argmax(dim=1).numpy() == y).mean())
                for key, value in zip(history, (step, sum(recent) / len(recent), accuracy)):
                    history[key].append(value)
                say(f"step {step:4d}  loss {history['loss'][-1]:.4f}  accuracy {accuracy:6.1%}")
                log.add_scalar("loss/train", history["loss"][-1], step)
                log.add_scalar("accuracy/train", accuracy, step)
                log_parameters(log, model, step)
                recent = []
            if step == args.steps:
                break
    progress.close()
    seconds = time.perf_counter() - start
    if not is_main_process():
        return None  # with --distributed, rank 0 writes the results
    metrics = {"data": args.data, "hidden": args.hidden, "steps": args.steps,
               "batch_size": args.batch_size, "lr": args.lr, "train_seconds": seconds,
               "final_loss": history["loss"][-1], "final_accuracy": history["accuracy"][-1],
               "history": history}
    save_metrics(args.out, metrics)  # creates --out
    boundary = os.path.join(args.out, "boundary.png")
    plot(history, model, x, y, args.device, boundary)
    import matplotlib.image
    log.add_image("boundary", matplotlib.image.imread(boundary)[..., :3], args.steps,
                  dataformats="HWC")  # the PNG's RGB, floats in [0, 1]
    log.close()
    print(f"{args.data}: loss {history['loss'][-1]:.4f}, accuracy "
          f"{history['accuracy'][-1]:.1%} after {args.steps} steps in {seconds:.1f} s; saved "
          f"metrics.json and boundary.png in {args.out}")
    return metrics


if __name__ == "__main__":
    main()
