"""Averages of weights along training: stochastic weight averaging (SWA) and the exponential
moving average (EMA), as ``torch.optim.swa_utils`` names them.

The weights at the end of training sit somewhere on the wall of a wide valley and keep moving
with the noise of SGD. Their average over many steps lies nearer its floor, and often
generalises better than any single point on the way (Izmailov et al., 2018). An
``AveragedModel`` is a copy of the network whose weights are that average:

- SWA, the default: the plain running mean of the n snapshots so far,
  ``avg <- avg + (w - avg) / (n + 1)``;
- EMA (``multi_avg_fn=get_ema_multi_avg_fn(decay)``): ``avg <- decay · avg + (1 - decay) · w``,
  which forgets old snapshots with time constant about 1 / (1 - decay) updates.

Batch-norm running statistics are not weights: the statistics of the averaged weights differ
from the average of the statistics. ``update_bn`` recomputes them with one pass over the data.
``SWALR`` anneals each group's rate to a constant ``swa_lr`` to explore that valley.

Notation
--------
w      a parameter of the trained model (its raw array)
avg    the same parameter of the averaged model
n      ``n_averaged``, how many snapshots the average holds
"""
import copy
import math

import numpy as np

from layers.module import Module
from minigrad.grad_mode import no_grad
from .lr_scheduler_base import LRScheduler

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]


def get_ema_multi_avg_fn(decay=0.999):
    """An EMA update for ``AveragedModel(multi_avg_fn=...)``: avg <- avg + (1 - decay)(w - avg)."""
    def ema_update(averaged_list, current_list, num_averaged):
        for avg, w in zip(averaged_list, current_list):
            avg += (1 - decay) * (w - avg)
    return ema_update


def get_swa_multi_avg_fn():
    """The running mean, in place on lists of arrays: avg <- avg + (w - avg) / (n + 1)."""
    def swa_update(averaged_list, current_list, num_averaged):
        for avg, w in zip(averaged_list, current_list):
            avg += (w - avg) / (num_averaged + 1)
    return swa_update


def get_ema_avg_fn(decay=0.999):
    """The EMA for ``AveragedModel(avg_fn=...)``: returns decay · avg + (1 - decay) · w."""
    def ema_update(averaged, current, num_averaged):
        return decay * averaged + (1 - decay) * current
    return ema_update


def get_swa_avg_fn():
    """The running mean for ``avg_fn=``: returns avg + (w - avg) / (n + 1)."""
    def swa_update(averaged, current, num_averaged):
        return averaged + (current - averaged) / (num_averaged + 1)
    return swa_update


def _floating(tensors):
    return [t for t in tensors if np.issubdtype(np.dtype(t.data.dtype), np.floating)]


class AveragedModel(Module):
    """A copy of ``model`` whose weights are a running average of ``model``'s.

    Call ``update_parameters(model)`` after optimizer steps (every step for EMA, once per
    epoch for SWA, as you choose); the first call copies, later ones average. ``forward``
    runs the averaged copy.

    Parameters
    ----------
    model : Module
        Copied (``copy.deepcopy``) at construction; the original is not changed.
    device : str, optional
        Moves the copy there.
    avg_fn : callable, optional
        ``avg_fn(avg, w, n)`` returns the new average of one parameter, from raw arrays.
    multi_avg_fn : callable, optional
        ``multi_avg_fn(avg_list, w_list, n)`` updates lists of raw arrays in place (the
        ``get_*_multi_avg_fn`` functions). With neither, the running mean (SWA).
    use_buffers : bool, default False
        Average the floating-point buffers too (batch norm's running statistics), so that
        ``update_bn`` is not needed. Integer buffers (``num_batches_tracked``) are copied from
        ``model``; PyTorch averages them. With False, every buffer is copied from ``model``.

    Attributes
    ----------
    module : Module
        The averaged copy.
    n_averaged : Tensor, int64 buffer
        The number of snapshots averaged so far.

    Examples
    --------
    >>> import layers, minigrad as mg
    >>> net = layers.Linear(2, 1)
    >>> ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    >>> ema.update_parameters(net); int(ema.n_averaged.item())
    1
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if not isinstance(model, Module):
            raise TypeError(f"AveragedModel: expected a Module, got {type(model).__name__}")
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: give avg_fn or multi_avg_fn, not both")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        from minigrad.factories import tensor
        self.register_buffer("n_averaged", tensor(np.array(0, dtype=np.int64), dtype="int64",
                                                  device=device))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _averaged(self, model):
        """Pairs of (averaged, current) Tensors that take part in the average."""
        ours, theirs = list(self.module.parameters()), list(model.parameters())
        if self.use_buffers:
            ours += _floating(self.module.buffers())
            theirs += _floating(model.buffers())
        if len(ours) != len(theirs):
            raise ValueError(f"AveragedModel.update_parameters: the model has {len(theirs)} "
                             f"tensors to average, the averaged copy {len(ours)}; pass the "
                             "model it was built from")
        return ours, theirs

    @no_grad()
    def update_parameters(self, model):
        """Fold ``model``'s current weights into the average; n_averaged += 1."""
        ours, theirs = self._averaged(model)
        n = int(self.n_averaged.item())
        averaged = [p.data for p in ours]
        current = [_on(w.data, a) for w, a in zip(theirs, averaged)]
        for avg, w in zip(averaged, current):
            if avg.shape != w.shape:
                raise ValueError(f"AveragedModel.update_parameters: shape {w.shape} does not "
                                 f"match the averaged {avg.shape}")
        if n == 0:
            for avg, w in zip(averaged, current):
                avg[...] = w
        elif self.avg_fn is not None:
            for avg, w in zip(averaged, current):
                avg[...] = self.avg_fn(avg, w, n)
        else:
            (self.multi_avg_fn or get_swa_multi_avg_fn())(averaged, current, n)
        self._copy_buffers(model)
        self.n_averaged.data += 1

    def _copy_buffers(self, model):
        """Buffers that are not averaged follow ``model``'s."""
        for ours, theirs in zip(self.module.buffers(), model.buffers()):
            floating = np.issubdtype(np.dtype(ours.data.dtype), np.floating)
            if not (self.use_buffers and floating):
                ours.data[...] = _on(theirs.data, ours.data)


def _on(array, like):
    """``array`` on the device of ``like`` (a NumPy or CuPy array)."""
    if type(array) is type(like):
        return array
    from minigrad.backend import xp_of
    xp = xp_of(like)
    return xp.asarray(array) if xp is not np else array.get()


def _is_batch_norm(module):
    from layers.normalization import _BatchNorm
    return isinstance(module, _BatchNorm) and module.track_running_stats


@no_grad()
def update_bn(loader, model, device=None):
    """Recompute batch norm's running statistics of ``model`` with one pass over ``loader``.

    Each batch-norm layer's statistics are reset and then averaged over all batches with
    equal weight (``momentum=None``), in training mode; momenta and the training flag are put
    back afterwards. A batch that is a tuple or list gives its first element to the model.

    Parameters
    ----------
    loader : iterable of batches
    model : Module
    device : str, optional
        Each input is moved there first.
    """
    norms = [m for m in model.modules() if _is_batch_norm(m)]
    if not norms:
        return
    momenta = {m: m.momentum for m in norms}
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    was_training = model.training
    model.train()
    for batch in loader:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        if device is not None:
            x = x.to(device)
        model(x)
    for m in norms:
        m.momentum = momenta[m]
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's rate from its current value to ``swa_lr`` in ``anneal_epochs``
    epochs, then hold it there (PyTorch's ``SWALR``).

    ``lr_e = α(t) · swa_lr + (1 - α(t)) · lr_0`` with ``t = min(1, e / anneal_epochs)``,
    ``α(t) = (1 - cos(π t)) / 2`` ('cos') or ``t`` ('linear'); ``lr_0`` is the rate when the
    scheduler starts.

    Parameters
    ----------
    optimizer : Optimizer
    swa_lr : float or list of float
        The final rate, for all groups or one per group.
    anneal_epochs : int, default 10
    anneal_strategy : {'cos', 'linear'}, default 'cos'
    last_epoch : int, default -1
        The epoch to resume from (the groups must then carry ``initial_lr``). As in PyTorch,
        the annealing counts this scheduler's own steps, not ``last_epoch``: a scheduler built
        to resume starts annealing from the groups' current rates; to resume mid-anneal, load
        the saved scheduler's ``state_dict``, which keeps that count.
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        swa_lrs = swa_lr if isinstance(swa_lr, (list, tuple)) else [swa_lr] * len(
            optimizer.param_groups)
        if len(swa_lrs) != len(optimizer.param_groups):
            raise ValueError(f"SWALR: {len(swa_lrs)} swa_lr values for "
                             f"{len(optimizer.param_groups)} parameter groups")
        for group, lr in zip(optimizer.param_groups, swa_lrs):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"SWALR: anneal_strategy must be 'cos' or 'linear', "
                             f"got {anneal_strategy!r}")
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"SWALR: anneal_epochs must be a non-negative int, "
                             f"got {anneal_epochs!r}")
        self.anneal_epochs, self.anneal_strategy = anneal_epochs, anneal_strategy
        self.steps_taken = 0  # steps of this scheduler, construction's included
        super().__init__(optimizer, last_epoch)

    def step(self):
        self.steps_taken += 1
        super().step()

    def _alpha(self, t):
        return (1 - math.cos(math.pi * t)) / 2 if self.anneal_strategy == "cos" else t

    def get_lr(self):
        # The current rate is a blend already; recover lr_0 from the previous epoch's blend
        # and advance it, so that another scheduler's changes in between are kept.
        step = self.steps_taken - 1
        step = step if self.anneal_epochs else max(1, step)
        prev_alpha = self._alpha(max(0.0, min(1.0, (step - 1) / max(1, self.anneal_epochs))))
        alpha = self._alpha(max(0.0, min(1.0, step / max(1, self.anneal_epochs))))
        lrs = []
        for group in self.optimizer.param_groups:
            lr0 = (group["swa_lr"] if prev_alpha == 1
                   else (group["lr"] - prev_alpha * group["swa_lr"]) / (1 - prev_alpha))
            lrs.append(group["swa_lr"] * alpha + lr0 * (1 - alpha))
        return lrs
