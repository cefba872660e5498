"""Schedulers made of schedulers: one after another (SequentialLR) or all at once (Chained).

SequentialLR is how a warmup precedes a decay (see ``optim.lr_scheduler``).

Notation
--------
k            the index of a scheduler in the list
milestones   the epochs at which SequentialLR hands over from scheduler k - 1 to k
"""
import copy
from bisect import bisect_right

from minigrad.checks import check_int
from .plateau import ReduceLROnPlateau
from .lr_scheduler_base import LRScheduler


class _SchedulerList(LRScheduler):
    """Shared part of the schedulers that drive other schedulers: undo and saving."""

    def _undo_initial_step(self):
        for scheduler in self._schedulers:
            scheduler._undo_initial_step()

    def state_dict(self):
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def _checked_state(self, state_dict):
        # Every member's state is checked before any is set, so a bad member changes nothing.
        state = super()._checked_state(state_dict)
        state["_schedulers"] = [scheduler._checked_state(saved) for scheduler, saved
                                in zip(self._schedulers, state_dict["_schedulers"])]
        return state

    def _apply_state(self, state):
        state = dict(state)
        checked = state.pop("_schedulers")
        super()._apply_state(state)
        for scheduler, scheduler_state in zip(self._schedulers, checked):
            scheduler._apply_state(scheduler_state)


class SequentialLR(_SchedulerList):
    """Run schedulers one after another, switching at the milestone epochs.

    Scheduler k runs from ``milestones[k-1]`` to ``milestones[k]``; at its milestone it starts
    from its own epoch 0 (its closed form there, e.g. ``base_lr`` for a cosine). This is how a
    warmup precedes a decay; see the module docstring.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer every scheduler was built on.
    schedulers : list of LRScheduler
        K schedulers, already built (their construction steps are undone here).
    milestones : list of int
        K - 1 increasing epochs at which to switch to the next scheduler.
    """

    def __init__(self, optimizer, schedulers, milestones):
        owner = "SequentialLR"
        schedulers, milestones = list(schedulers), list(milestones)
        _check_members(owner, optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"{owner}: expected {len(schedulers) - 1} milestones for "
                             f"{len(schedulers)} schedulers, got {len(milestones)}")
        self._check_options(owner, dict(_milestones=milestones))
        self.optimizer = optimizer
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = 0
        # Each scheduler set its epoch-0 rate when it was built; only the first one's counts.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_initial_step()
        first = self._schedulers[bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    @staticmethod
    def _check_options(owner, options):
        milestones = options["_milestones"]
        for i, m in enumerate(milestones):
            check_int(owner, f"milestones[{i}]", m, 0)
        if sorted(milestones) != list(milestones):
            raise ValueError(f"{owner}: milestones must be increasing, got {milestones}")

    def step(self):
        self.last_epoch += 1
        k = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[k]
        if k > 0 and self._milestones[k - 1] == self.last_epoch:
            scheduler._jump_to(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_SchedulerList):
    """Step several schedulers together each epoch, so their factors multiply.

    Parameters
    ----------
    schedulers : list of LRScheduler
        Already built on the same optimizer.
    optimizer : Optimizer or None
        That optimizer; taken from the first scheduler when None.
    """

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if optimizer is None and schedulers:
            optimizer = getattr(schedulers[0], "optimizer", None)  # checked just below
        _check_members("ChainedScheduler", optimizer, schedulers)
        self.optimizer = optimizer
        self._schedulers = schedulers
        self._last_lr = self._current_lrs()

    def step(self):
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current_lrs()


def _check_members(owner, optimizer, schedulers):
    """The schedulers to combine exist, are epoch-driven and share ``optimizer``."""
    if not schedulers:
        raise ValueError(f"{owner}: expected at least one scheduler, got none")
    for i, scheduler in enumerate(schedulers):
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{owner}: scheduler {i} is a ReduceLROnPlateau, whose step needs "
                             "a metric; it cannot be combined")
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(f"{owner}: scheduler {i} is a {type(scheduler).__name__}, "
                            "expected an LRScheduler")
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"{owner}: scheduler {i} ({type(scheduler).__name__}) belongs to "
                             "another optimizer")
