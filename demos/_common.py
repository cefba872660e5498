"""What every demo shares: the output arguments, a progress bar, and the saved metrics.

Each demo writes its results under ``--out`` (a ``metrics.json`` and its PNGs) and shows long
loops with a tqdm bar that ``--quiet`` turns off, so the demos behave alike from the command line.
"""
import json
import os


def add_output_arguments(parser, name):
    """``--out`` (default ``runs/<name>``) and ``--quiet`` on ``parser``."""
    parser.add_argument("--out", default=os.path.join("runs", name),
                        help="folder for the metrics and PNGs")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar and no running lines; only the summary")


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
