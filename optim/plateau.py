"""ReduceLROnPlateau: cut the learning rate when a monitored metric stops improving.

Unlike the epoch-driven schedules it reads a value each epoch (``step(val_loss)``) instead of
following a fixed curve.

Notation
--------
best         the best metric seen so far
bad epochs   consecutive epochs whose metric did not improve on ``best`` by the threshold
"""
import math

from minigrad.checks import check_int, check_number
from .optimizer import Optimizer
from .lr_scheduler_base import LRScheduler


class ReduceLROnPlateau(LRScheduler):
    """Divide the rate when a metric has stopped improving for ``patience`` epochs.

    ``step(metric)`` is called once per epoch with, e.g., the validation loss. A value improves
    on the best seen so far when, for ``mode='min'``, it is below ``best * (1 - threshold)``
    (``threshold_mode='rel'``) or below ``best - threshold`` (``'abs'``); ``mode='max'``
    mirrors this. After more than ``patience`` epochs without improvement every group's rate
    becomes ``max(lr * factor, min_lr)`` (a change smaller than ``eps`` is skipped), and the
    next ``cooldown`` epochs are not counted.

    Parameters
    ----------
    optimizer : Optimizer
    mode : {'min', 'max'}
        Whether the metric should go down (a loss) or up (an accuracy).
    factor : float
        The factor applied to the rate, in [0, 1).
    patience : int
        Epochs without improvement tolerated before a reduction, >= 0.
    threshold : float
        The least change that counts as an improvement, >= 0.
    threshold_mode : {'rel', 'abs'}
        Whether ``threshold`` is relative to the best value or absolute.
    cooldown : int
        Epochs to wait after a reduction before counting again, >= 0.
    min_lr : float or list of float
        The lower bound of the rate, for all groups or one per group.
    eps : float
        The smallest change of rate worth making, >= 0.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        owner = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{owner}: expected an Optimizer, got {type(optimizer).__name__}")
        groups = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != groups:
                raise ValueError(f"{owner}: expected {groups} min_lrs (one per parameter "
                                 f"group), got {len(min_lr)}")
            min_lrs, default_min_lr = list(min_lr), None
        else:
            min_lrs, default_min_lr = [min_lr] * groups, min_lr
        options = dict(mode=mode, threshold_mode=threshold_mode, factor=factor,
                       patience=patience, threshold=threshold, cooldown=cooldown, eps=eps,
                       min_lrs=min_lrs, default_min_lr=default_min_lr, num_bad_epochs=0,
                       cooldown_counter=0)
        self._check_options(owner, options)
        self.optimizer = optimizer
        self.__dict__.update(options)
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self._last_lr = self._current_lrs()

    @staticmethod
    def _check_options(owner, options):
        if options["mode"] not in ("min", "max"):
            raise ValueError(f"{owner}: mode must be 'min' or 'max', got {options['mode']!r}")
        if options["threshold_mode"] not in ("rel", "abs"):
            raise ValueError(f"{owner}: threshold_mode must be 'rel' or 'abs', "
                             f"got {options['threshold_mode']!r}")
        check_number(owner, "factor", options["factor"], low=0.0, high=1.0, high_open=True)
        check_number(owner, "threshold", options["threshold"], low=0.0)
        check_number(owner, "eps", options["eps"], low=0.0)
        for name in ("patience", "cooldown", "num_bad_epochs", "cooldown_counter"):
            check_int(owner, name, options[name], 0)
        for i, value in enumerate(options["min_lrs"]):
            check_number(owner, f"min_lr[{i}]", value, low=0.0)
        if options["default_min_lr"] is not None:
            check_number(owner, "min_lr", options["default_min_lr"], low=0.0)

    @property
    def in_cooldown(self):
        """True while epochs after a reduction are being ignored."""
        return self.cooldown_counter > 0

    def is_better(self, value, best):
        """Whether ``value`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return value < best * (1.0 - self.threshold)
            return value < best - self.threshold
        if self.threshold_mode == "rel":
            return value > best * (1.0 + self.threshold)
        return value > best + self.threshold

    def step(self, metrics):
        """Record this epoch's metric and reduce the rates if it has plateaued.

        Parameters
        ----------
        metrics : float or Tensor, shape ()
            The monitored value, e.g. the validation loss.
        """
        value = float(metrics.item() if hasattr(metrics, "item") else metrics)
        self.last_epoch += 1
        if self.is_better(value, self.best):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            groups = len(self.optimizer.param_groups)
            if len(self.min_lrs) != groups:
                # A group was added after construction: a single min_lr extends to it.
                if self.default_min_lr is None:
                    raise ValueError(f"ReduceLROnPlateau: the optimizer now has {groups} "
                                     f"parameter groups but {len(self.min_lrs)} min_lrs "
                                     "were given; set .min_lrs to one value per group")
                self.min_lrs = [self.default_min_lr] * groups
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                old_lr = float(group["lr"])
                new_lr = max(old_lr * self.factor, min_lr)
                if old_lr - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()
