"""Learning-rate schedulers: rules that set each group's ``lr`` once per epoch (or per step).

A scheduler is built on an optimizer and called once per epoch, *after* ``optimizer.step()``::

    optimizer = SGD(model.parameters(), lr=0.1)
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, optimizer)      # calls optimizer.step() many times
        scheduler.step()

Building a scheduler sets the epoch-0 rate at once (e.g. LinearLR's ``start_factor * lr``). The
values follow PyTorch's ``torch.optim.lr_scheduler`` exactly. Like PyTorch, most schedulers
update the current rate recursively (multiply it by a factor), so schedulers applied to the same
optimizer compose; each also has the closed form of its schedule, written in its docstring.

Warmup. A linear warmup is :class:`LinearLR` from a small ``start_factor`` up to 1; chain it
with another schedule with :class:`SequentialLR`, which switches from one scheduler to the next
at given epochs. Warmup for 5 epochs then cosine decay for 95::

    warmup = LinearLR(optimizer, start_factor=0.01, end_factor=1.0, total_iters=5)
    cosine = CosineAnnealingLR(optimizer, T_max=95)
    scheduler = SequentialLR(optimizer, [warmup, cosine], milestones=[5])

:class:`ChainedScheduler` instead steps several schedulers together, multiplying their effects.

Notation
--------
e            the epoch counter ``last_epoch``: 0 after construction, +1 per ``step()``
base_lr      the group's ``initial_lr``, its ``lr`` when the first scheduler was built
lr_e         the group's learning rate at epoch e
"""
import copy
import math
import types
from bisect import bisect_right
from collections import Counter

from .chain import ChainedScheduler, SequentialLR
from minigrad.checks import check_int, check_number
from .optimizer import Optimizer
from .plateau import ReduceLROnPlateau
from .lr_scheduler_base import LRScheduler

__all__ = ["LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "ExponentialLR", "LinearLR",
           "CosineAnnealingLR", "SequentialLR", "ChainedScheduler", "ReduceLROnPlateau"]


class LambdaLR(LRScheduler):
    """The rate is the initial rate times a function of the epoch: ``lr_e = base_lr * f(e)``.

    Parameters
    ----------
    optimizer : Optimizer
    lr_lambda : callable or list of callable
        ``f(e) -> float``, one for all groups or one per group.
    last_epoch : int
        -1 for a new schedule.

    Notes
    -----
    ``state_dict`` cannot store plain functions; it keeps the attributes of callable objects
    and None for functions, which must be given again when the scheduler is rebuilt.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            # Before counting its groups: a list of lambdas must not be refused for its length.
            raise TypeError(f"LambdaLR: expected an Optimizer, got {type(optimizer).__name__}")
        groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ValueError(f"LambdaLR: expected {groups} lr_lambdas (one per parameter "
                                 f"group), got {len(lr_lambda)}")
            lambdas = list(lr_lambda)
        else:
            lambdas = [lr_lambda] * groups
        for i, f in enumerate(lambdas):
            if not callable(f):
                raise TypeError(f"LambdaLR: lr_lambda {i} must be callable, "
                                f"got {type(f).__name__}")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base_lr * f(self.last_epoch) for f, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self):
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(f, types.FunctionType) else dict(f.__dict__)
                               for f in self.lr_lambdas]
        return state

    @staticmethod
    def _check_options(owner, options):
        for i, saved in enumerate(options["lr_lambdas"]):
            if saved is not None and not (isinstance(saved, dict)
                                          and all(isinstance(k, str) for k in saved)):
                raise TypeError(f"{owner}: lr_lambdas[{i}] is {saved!r:.80}; expected None "
                                "or the dict of a callable object's attributes")

    def _apply_state(self, state):
        state = dict(state)
        saved_lambdas = state.pop("lr_lambdas")
        super()._apply_state(state)
        for f, saved in zip(self.lr_lambdas, saved_lambdas):
            if saved is not None:
                f.__dict__.update(saved)


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs.

    Closed form: ``lr_e = base_lr * gamma ** (e // step_size)``.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Epochs between decays, >= 1.
    gamma : float
        The decay factor, > 0.
    last_epoch : int
        -1 for a new schedule.
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self._check_options("StepLR", dict(step_size=step_size, gamma=gamma))
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _check_options(owner, options):
        check_int(owner, "step_size", options["step_size"], 1)
        check_number(owner, "gamma", options["gamma"], low=0.0, low_open=True)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone epoch.

    Closed form: ``lr_e = base_lr * gamma ** (number of milestones <= e)``; a milestone listed
    twice counts twice.

    Parameters
    ----------
    optimizer : Optimizer
    milestones : iterable of int
        Epochs at which the rate decays, each >= 0.
    gamma : float
        The decay factor, > 0.
    last_epoch : int
        -1 for a new schedule.
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        milestones = list(milestones)
        for i, m in enumerate(milestones):
            check_int("MultiStepLR", f"milestones[{i}]", m, 0)
        options = dict(milestones=Counter(milestones), gamma=gamma)
        self._check_options("MultiStepLR", options)
        self.milestones = options["milestones"]
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _check_options(owner, options):
        counts = options["milestones"]
        if not isinstance(counts, dict):
            raise TypeError(f"{owner}: milestones must be a Counter of epochs, got "
                            f"{type(counts).__name__}")
        for m, count in counts.items():
            check_int(owner, "a milestone", m, 0)
            check_int(owner, f"the count of milestone {m}", count, 1)
        # A saved Counter comes back from a file as a plain dict; elements() needs a Counter.
        options["milestones"] = Counter({int(m): int(c) for m, c in counts.items()})
        check_number(owner, "gamma", options["gamma"], low=0.0, low_open=True)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [lr * factor for lr in self._current_lrs()]

    def closed_form_lr(self):
        passed = bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base_lr * self.gamma ** passed for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every epoch.

    Closed form: ``lr_e = base_lr * gamma ** e``.

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
        The decay factor, > 0.
    last_epoch : int
        -1 for a new schedule.
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self._check_options("ExponentialLR", dict(gamma=gamma))
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _check_options(owner, options):
        check_number(owner, "gamma", options["gamma"], low=0.0, low_open=True)

    def get_lr(self):
        # Construction keeps the rate it finds, so a resumed schedule does not decay twice.
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def closed_form_lr(self):
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the rate by a factor that moves linearly from ``start_factor`` to ``end_factor``
    over ``total_iters`` epochs, then stays. With a small start factor this is a linear warmup.

    Closed form: ``lr_e = base_lr * (s + (f - s) * min(e, total_iters) / total_iters)`` with
    s = start_factor and f = end_factor.

    Parameters
    ----------
    optimizer : Optimizer
    start_factor : float
        The factor at epoch 0, in (0, 1].
    end_factor : float
        The factor from epoch ``total_iters`` on, in [0, 1].
    total_iters : int
        Epochs to go from one factor to the other, >= 1.
    last_epoch : int
        -1 for a new schedule.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        self._check_options("LinearLR", dict(start_factor=start_factor, end_factor=end_factor,
                                             total_iters=total_iters))
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _check_options(owner, options):
        check_number(owner, "start_factor", options["start_factor"], low=0.0, high=1.0,
                     low_open=True)
        check_number(owner, "end_factor", options["end_factor"], low=0.0, high=1.0)
        check_int(owner, "total_iters", options["total_iters"], 1)

    def get_lr(self):
        current = self._current_lrs()
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in current]
        if self._is_initial or self.last_epoch > self.total_iters:
            return current
        # The ratio of consecutive factors: (s + (f-s) e/T) / (s + (f-s)(e-1)/T).
        delta = self.end_factor - self.start_factor
        previous = self.total_iters * self.start_factor + (self.last_epoch - 1) * delta
        ratio = 1.0 + delta / previous
        return [lr * ratio for lr in current]

    def closed_form_lr(self):
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base_lr * factor for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Anneal the rate from ``base_lr`` down to ``eta_min`` along half a cosine in ``T_max``
    epochs (SGDR without restarts); past ``T_max`` it climbs back along the same cosine.

    Closed form: ``lr_e = eta_min + (base_lr - eta_min) * (1 + cos(pi * e / T_max)) / 2``.
    Like PyTorch, ``step()`` updates the current rate by the ratio of consecutive closed-form
    values, so the schedule also composes with other schedulers' changes.

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Epochs of the half period, >= 1.
    eta_min : float
        The smallest rate.
    last_epoch : int
        -1 for a new schedule.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self._check_options("CosineAnnealingLR", dict(T_max=T_max, eta_min=eta_min))
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _check_options(owner, options):
        check_int(owner, "T_max", options["T_max"], 1)
        check_number(owner, "eta_min", options["eta_min"])

    def get_lr(self):
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        current = self._current_lrs()
        if self._is_initial:
            return current
        if (e - 1 - T) % (2 * T) == 0:
            # Just past the bottom the ratio below is 0/0; step up by the cosine's first rise.
            rise = (1 - math.cos(math.pi / T)) / 2
            return [lr + (base_lr - eta_min) * rise for lr, base_lr in zip(current, self.base_lrs)]
        ratio = (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in current]

    def closed_form_lr(self):
        factor = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * factor for base_lr in self.base_lrs]
