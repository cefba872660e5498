"""What every demo shares: the device and output arguments, a progress bar, the saved metrics,
an optional TensorBoard log and the training-debug recipes.

Each demo writes its results under ``--out`` (a ``metrics.json`` and its PNGs), shows long loops
with a tqdm bar that ``--quiet`` turns off, runs on ``--device``, and logs to TensorBoard under
``--logdir`` when given (``log_parameters`` adds weight and gradient histograms,
``log_images`` a grid of sample images), so the demos behave alike from the command line. A demo
with ``--debug`` calls ``run_debug_recipes`` before training.
"""
import json
import os


def add_output_arguments(parser, name):
    """``--out`` (default ``runs/<name>``), ``--quiet`` and ``--logdir`` on ``parser``."""
    parser.add_argument("--out", default=os.path.join("runs", name),
                        help="folder for the metrics and PNGs")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar and no running lines; only the summary")
    parser.add_argument("--logdir", default=None,
                        help="also log curves, histograms and images for TensorBoard here "
                             "(needs the 'tools' extra)")


def add_device_argument(parser):
    """``--device`` on ``parser``: 'cpu' (default), 'cuda' or 'cuda:N'."""
    parser.add_argument("--device", default="cpu", help="'cpu', 'cuda' or 'cuda:N'")


def check_device(parser, device):
    """Exit with a usage error (code 2) unless ``device`` names a device that is here."""
    import minigrad as mg
    if device == "cpu":
        return
    if not device.startswith("cuda"):
        parser.error(f"--device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if not mg.cuda.is_available():
        parser.error(f"--device {device} was asked for, but CUDA is not available here "
                     "(CuPy is missing or no GPU was found); use --device cpu")


class _NoLog:
    """Stands in for a TensorBoard writer when no ``--logdir`` was given."""

    def __getattr__(self, name):
        if name.startswith("add_") or name in ("flush", "close"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def open_logger(args):
    """A ``minigrad.utils.tensorboard.SummaryWriter`` on ``args.logdir``, or a stand-in that
    ignores every ``add_*`` call when there is none; close it at the end."""
    if not getattr(args, "logdir", None):
        return _NoLog()
    from minigrad.utils.tensorboard import SummaryWriter
    return SummaryWriter(args.logdir)


class _Silent:
    """Stands in for a tqdm bar under ``--quiet``."""

    def update(self, n=1):
        pass

    def set_postfix(self, **values):
        pass

    def close(self):
        pass


def progress_bar(total, desc, quiet):
    """A tqdm bar of ``total`` steps, or a silent stand-in when ``quiet``."""
    if quiet:
        return _Silent()
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, leave=False)


def save_metrics(out, metrics):
    """Write ``metrics`` (a JSON-able dict) to ``<out>/metrics.json``; returns the path."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "metrics.json")
    with open(path, "w") as f:
        json.dump(metrics, f, indent=2)
    return path


def log_parameters(log, model, step):
    """Histograms of every parameter (``weights/<name>``) and of its gradient, when it has one
    (``grads/<name>``), at ``step``; ``log`` from :func:`open_logger`."""
    for name, param in model.named_parameters():
        log.add_histogram(f"weights/{name}", param, step)
        if param.grad is not None:
            log.add_histogram(f"grads/{name}", param.grad, step)


def log_images(log, tag, images, step=0):
    """A grid of images (N, C, H, W), each rescaled to [0, 1] for display, under ``tag``."""
    import numpy as np
    images = np.asarray(images, dtype=np.float32)
    low = images.min(axis=(1, 2, 3), keepdims=True)
    high = images.max(axis=(1, 2, 3), keepdims=True)
    log.add_images(tag, (images - low) / np.maximum(high - low, 1e-8), step)


def run_debug_recipes(make_model, make_optimizer, loss_fn, batches, out, say=print,
                      overfit_steps=100, lr_range=(1e-5, 1.0)):
    """The checks of ``minigrad.utils.debug`` on fresh models, with their PNGs under ``out``.

    Parameters
    ----------
    make_model : callable () -> Module
        A new model each call: the recipes train what they are given.
    make_optimizer : callable (parameters) -> Optimizer
    loss_fn : callable (output, targets) -> one-element Tensor
    batches : list of (inputs, targets)
        The first one is the batch to overfit and the one the statistics are taken on; all of
        them feed the learning-rate range test.
    out : str
        Folder of ``activations.png``, ``gradient_flow.png``, ``lr_find.png`` and
        ``overfit.png``.
    overfit_steps : int
    lr_range : (float, float)
        ``start_lr`` and ``end_lr`` of the range test.

    Returns
    -------
    dict
        The numbers, for ``metrics.json``: the overfit result, the suggested learning rate,
        the dead and saturated fractions, and the smallest and largest mean |grad|.
    """
    from minigrad.utils import debug
    os.makedirs(out, exist_ok=True)
    inputs, targets = batches[0]
    model = make_model()
    say(model.summary(tuple(inputs.shape)))
    stats = debug.activation_stats(model, inputs)
    debug.plot_activation_stats(stats, os.path.join(out, "activations.png"))
    for row in stats:
        if row["dead"] is not None or row["saturated"] is not None:
            kind, value = (("dead", row["dead"]) if row["dead"] is not None
                           else ("saturated", row["saturated"]))
            say(f"debug: {row['name']} ({row['type']}): {value:.1%} {kind}")
    model.zero_grad()
    loss_fn(model(inputs), targets).backward()
    flow = debug.gradient_flow(model)
    debug.plot_gradient_flow(flow, os.path.join(out, "gradient_flow.png"))
    means = [mean for _, mean, _ in flow]
    say(f"debug: mean |grad| per parameter from {min(means):.3g} to {max(means):.3g}")
    found = debug.lr_find(model, batches, loss_fn, make_optimizer(model.parameters()),
                          start_lr=lr_range[0], end_lr=lr_range[1], num_iter=50)
    found.plot(os.path.join(out, "lr_find.png"))
    say(f"debug: lr_find suggests lr ~ {found.suggestion:.3g} (steepest fall of the loss)")
    model = make_model()
    overfit = debug.overfit_one_batch(model, batches[0], loss_fn,
                                      make_optimizer(model.parameters()), steps=overfit_steps)
    _plot_overfit(overfit, os.path.join(out, "overfit.png"))
    say("debug: " + overfit.message)
    return {"overfit_reached": overfit.reached, "overfit_final_loss": overfit.final_loss,
            "lr_suggestion": found.suggestion,
            "dead_fraction": {r["name"]: r["dead"] for r in stats if r["dead"] is not None},
            "saturated_fraction": {r["name"]: r["saturated"] for r in stats
                                   if r["saturated"] is not None},
            "grad_mean_abs": {name: mean for name, mean, _ in flow}}


def _plot_overfit(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(result.losses)
    ax.axhline(result.tol, color="tab:red", linestyle="--", label=f"near zero ({result.tol:g})")
    ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="loss on the one batch",
           title="overfit one batch: " + ("reached" if result.reached else "NOT reached"))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
