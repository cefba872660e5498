"""Training-debug recipes: the checks to run before trusting a training curve.

When a network will not learn, the lecture's advice is a fixed order of cheap experiments:

1. :func:`overfit_one_batch`: a model that cannot drive the loss on one small batch to near
   zero has a bug (wrong loss, detached graph, labels shuffled apart from inputs).
2. :func:`lr_find`: the learning-rate range test. Raise the rate exponentially, one step per
   batch, and watch the loss: pick a rate a little below where it falls fastest, well below
   where it blows up.
3. :func:`gradient_flow`: mean and max |grad| of every layer after one backward. Layers whose
   gradients are orders of magnitude smaller than the others do not learn.
4. :func:`activation_stats`: per layer, the spread of the activations and, for ReLU, the
   fraction of dead units (zero on every example), for tanh and sigmoid, the fraction of
   saturated ones (flat part of the curve, where the gradient vanishes).

They work on any model and optimizer with PyTorch's interface (``named_parameters``,
``named_modules``, ``register_forward_hook``, ``state_dict``; ``param_groups``, ``zero_grad``,
``step``), so the engine does not import ``layers`` or ``optim``. Each returns plain numbers, and
the ``plot_*`` functions draw them with matplotlib.

Notation
--------
batch     ``(inputs, targets)``: what ``loss_fn(model(inputs), targets)`` takes
lr        learning rate
"""
import math

import numpy as np

from ..checks import check_int, check_number
from ..grad_mode import no_grad


class OverfitResult:
    """What :func:`overfit_one_batch` found: ``losses`` (one per step, before the step),
    ``final_loss``, ``reached`` (True when the loss fell below ``tol``) and ``message``."""

    def __init__(self, losses, tol):
        self.losses = losses
        self.final_loss = losses[-1]
        self.tol = tol
        self.reached = self.final_loss < tol
        verdict = ("reached near zero: the model and loss can learn" if self.reached else
                   "did NOT reach near zero: look for a bug (loss, labels, a detached graph) "
                   "or give it more steps or a larger learning rate")
        self.message = (f"overfit one batch: loss {losses[0]:.4g} -> {self.final_loss:.4g} in "
                        f"{len(losses)} steps (tol {tol:g}); {verdict}")

    def __repr__(self):
        return f"OverfitResult(reached={self.reached}, final_loss={self.final_loss:.4g})"


def overfit_one_batch(model, batch, loss_fn, optimizer, steps=200, tol=0.05):
    """Train on one batch only and report whether the loss reaches near zero.

    Parameters
    ----------
    model : Module
    batch : tuple (inputs, targets)
    loss_fn : callable
        ``loss_fn(model(inputs), targets)`` gives a one-element Tensor.
    optimizer : Optimizer
        Over ``model``'s parameters; it is stepped ``steps`` times (the model is changed).
    steps : int, default 200
    tol : float, default 0.05
        "Near zero": the final loss must be below it.

    Returns
    -------
    OverfitResult
    """
    steps = check_int("overfit_one_batch", "steps", steps, 1)
    check_number("overfit_one_batch", "tol", tol, 0, low_open=True)
    inputs, targets = _split_batch("overfit_one_batch", batch)
    model.train()
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with no_grad():
        losses.append(loss_fn(model(inputs), targets).item())
    return OverfitResult(losses, tol)


class LRFindResult:
    """The LR range test: ``lrs``, raw ``losses``, ``smoothed`` losses, and ``suggestion``,
    the rate where the smoothed loss falls fastest (steepest negative slope in log lr)."""

    def __init__(self, lrs, losses, smoothed):
        self.lrs, self.losses, self.smoothed = lrs, losses, smoothed
        self.suggestion = _steepest(lrs, smoothed)

    def plot(self, path=None):
        """Loss against learning rate (log axis) with the suggestion marked; saved to
        ``path`` when given. Returns the matplotlib Figure."""
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.losses, color="lightgray", label="loss")
        ax.plot(self.lrs, self.smoothed, color="tab:blue", label="smoothed")
        if self.suggestion is not None:
            ax.axvline(self.suggestion, color="tab:red", linestyle="--",
                       label=f"steepest fall: {self.suggestion:.2g}")
        ax.set_xscale("log")
        ax.set(xlabel="learning rate", ylabel="training loss", title="learning-rate range test")
        ax.legend()
        return _finish(plt, fig, path)


def lr_find(model, batches, loss_fn, optimizer, start_lr=1e-6, end_lr=1.0, num_iter=100,
            smooth=0.05, diverge=4.0):
    """The learning-rate range test (Smith, 2017): one step per batch while the learning
    rate grows exponentially from ``start_lr`` to ``end_lr``, recording the loss.

    The model and optimizer are restored afterwards (state dicts are copied before and
    loaded back), so the test can run just before training.

    Parameters
    ----------
    model : Module
    batches : iterable of (inputs, targets)
        E.g. a DataLoader; cycled when it has fewer than ``num_iter`` batches.
    loss_fn : callable
    optimizer : Optimizer
        Every group's ``"lr"`` is overwritten during the test.
    start_lr, end_lr : float, default 1e-6, 1.0
        ``lr_k = start_lr * (end_lr / start_lr) ** (k / (num_iter - 1))``.
    num_iter : int, default 100
    smooth : float, default 0.05
        Weight of the newest loss in the exponential moving average (with bias correction).
    diverge : float, default 4.0
        Stop early once the smoothed loss exceeds ``diverge`` times its best value.

    Returns
    -------
    LRFindResult
    """
    num_iter = check_int("lr_find", "num_iter", num_iter, 2)
    check_number("lr_find", "start_lr", start_lr, 0, low_open=True)
    check_number("lr_find", "end_lr", end_lr, start_lr, low_open=True)
    check_number("lr_find", "smooth", smooth, 0, 1, low_open=True)
    check_number("lr_find", "diverge", diverge, 1, low_open=True)
    saved_model = {k: v.data.copy() for k, v in model.state_dict().items()}
    saved_optimizer = optimizer.state_dict()
    lrs, losses, smoothed = [], [], []
    average, best = 0.0, math.inf
    model.train()
    try:
        for k, (inputs, targets) in zip(range(num_iter), _cycle(batches)):
            lr = start_lr * (end_lr / start_lr) ** (k / (num_iter - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = loss_fn(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            value = loss.item()
            average = (1 - smooth) * average + smooth * value
            corrected = average / (1 - (1 - smooth) ** (k + 1))
            lrs.append(lr)
            losses.append(value)
            smoothed.append(corrected)
            best = min(best, corrected)
            if not math.isfinite(value) or corrected > diverge * best:
                break
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
    return LRFindResult(lrs, losses, smoothed)


def gradient_flow(model):
    """Mean and max |grad| of each parameter that has a gradient, in model order.

    Call after ``loss.backward()``. Returns a list of ``(name, mean_abs, max_abs)``; a layer
    whose numbers are far below the others' is barely trained.
    """
    rows = []
    for name, param in model.named_parameters():
        if param.grad is not None:
            g = np.abs(param.grad.numpy().astype(np.float64))
            rows.append((name, float(g.mean()), float(g.max())))
    if not rows:
        raise ValueError("gradient_flow: no parameter has a gradient; call loss.backward() "
                         "first")
    return rows


def plot_gradient_flow(rows, path=None):
    """Bars of max and mean |grad| per parameter (log scale), from :func:`gradient_flow`."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(rows)), 4))
    positions = np.arange(len(rows))
    floor = 1e-12  # a zero gradient cannot go on a log axis
    ax.bar(positions, [max(r[2], floor) for r in rows], color="tab:cyan", label="max |grad|")
    ax.bar(positions, [max(r[1], floor) for r in rows], color="tab:blue", label="mean |grad|")
    ax.set_yscale("log")
    ax.set_xticks(positions)
    ax.set_xticklabels([r[0] for r in rows], rotation=90, fontsize=8)
    ax.set(ylabel="|gradient|", title="gradient flow")
    ax.legend()
    return _finish(plt, fig, path)


# The activations that can die or saturate, by class name (duck typing: no import of layers).
_SATURATION = {"Tanh": lambda y: np.abs(y) > 0.99,
               "Sigmoid": lambda y: (y < 0.01) | (y > 0.99)}
_RELU_LIKE = ("ReLU", "ReLU6")


def activation_stats(model, inputs):
    """Statistics of every leaf module's output on ``inputs``, collected with forward hooks.

    Parameters
    ----------
    model : Module
    inputs : Tensor
        One batch, e.g. shape (N, ...); the model is run once in no-grad mode.

    Returns
    -------
    list of dict
        Per leaf module, in call order: ``name``, ``type``, ``mean``, ``std``, and
        ``dead`` (ReLU: fraction of units that are 0 on every example of the batch) or
        ``saturated`` (Tanh and Sigmoid: fraction of outputs on the flat ends), else None.
    """
    rows, handles = [], []

    def record(name):
        def hook(module, args, output):
            y = output.numpy().astype(np.float64)
            kind = type(module).__name__
            row = {"name": name, "type": kind, "mean": float(y.mean()), "std": float(y.std()),
                   "dead": None, "saturated": None}
            if kind in _RELU_LIKE:
                row["dead"] = float((y.reshape(y.shape[0], -1) <= 0).all(axis=0).mean())
            elif kind in _SATURATION:
                row["saturated"] = float(_SATURATION[kind](y).mean())
            rows.append(row)
        return hook

    for name, module in model.named_modules():
        if next(iter(module.children()), None) is None and name:
            handles.append(module.register_forward_hook(record(name)))
    try:
        with no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return rows


def plot_activation_stats(rows, path=None):
    """Two panels from :func:`activation_stats`: mean ± std per layer, and the dead or
    saturated fraction of the activation layers."""
    plt = _pyplot()
    fig, (ax_spread, ax_bad) = plt.subplots(1, 2, figsize=(11, 4))
    names = [f"{r['name']} ({r['type']})" for r in rows]
    positions = np.arange(len(rows))
    ax_spread.errorbar(positions, [r["mean"] for r in rows], yerr=[r["std"] for r in rows],
                       fmt="o", capsize=3)
    ax_spread.set_xticks(positions)
    ax_spread.set_xticklabels(names, rotation=90, fontsize=8)
    ax_spread.set(title="activation mean ± std per layer")
    bad = [r for r in rows if r["dead"] is not None or r["saturated"] is not None]
    ax_bad.bar(range(len(bad)), [r["dead"] if r["dead"] is not None else r["saturated"]
                                 for r in bad], color="tab:red")
    ax_bad.set_xticks(range(len(bad)))
    ax_bad.set_xticklabels([f"{r['name']} ({'dead' if r['dead'] is not None else 'saturated'})"
                            for r in bad], rotation=90, fontsize=8)
    ax_bad.set(ylim=(0, 1), title="dead ReLU / saturated fraction")
    fig.tight_layout()
    return _finish(plt, fig, path)


def _steepest(lrs, smoothed):
    """The lr at the most negative slope of the smoothed loss against log(lr)."""
    if len(lrs) < 3:
        return None
    slopes = np.gradient(np.asarray(smoothed), np.log(np.asarray(lrs)))
    return float(lrs[int(np.argmin(slopes))])


def _cycle(batches):
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield _split_batch("lr_find", batch)
        if empty:
            raise ValueError("lr_find: batches is empty")


def _split_batch(op, batch):
    try:
        inputs, targets = batch
    except (TypeError, ValueError):
        raise TypeError(f"{op}: a batch must be a pair (inputs, targets), got a "
                        f"{type(batch).__name__}") from None
    return inputs, targets


def _pyplot():
    import matplotlib.pyplot as plt  # imported late: matplotlib is needed only to draw
    return plt


def _finish(plt, fig, path):
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return fig
