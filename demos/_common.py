"""What every demo shares: the device and output arguments, a progress bar, the saved metrics,
and an optional TensorBoard log.

Each demo writes its results under ``--out`` (a ``metrics.json`` and its PNGs), shows long loops
with a tqdm bar that ``--quiet`` turns off, runs on ``--device``, and logs to TensorBoard under
``--logdir`` when given, so the demos behave alike from the command line.
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
