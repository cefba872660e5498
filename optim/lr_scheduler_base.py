"""The base of the epoch-driven learning-rate schedulers; the schedules are in ``lr_scheduler``.

A scheduler owns no parameters: it rewrites ``group["lr"]`` of its optimizer's groups once per
``step()``, and keeps ``last_epoch`` and ``base_lrs`` so that it can be saved and resumed.

Notation
--------
e            the epoch counter ``last_epoch``: 0 after construction, +1 per ``step()``
base_lr      the group's ``initial_lr``, its ``lr`` when the first scheduler was built
"""
import copy

from minigrad.checks import check_int
from .optimizer import Optimizer


class LRScheduler:
    """Base class of the epoch-driven schedulers.

    A subclass writes ``get_lr``, the rates at epoch ``last_epoch`` (usually from the current
    group rates), and ``closed_form_lr``, the same rates from ``base_lrs`` alone.

    Parameters
    ----------
    optimizer : Optimizer
        Whose groups' ``lr`` the scheduler sets.
    last_epoch : int
        -1 to start a new schedule. A value >= 0 resumes one, and then every group must
        already hold ``initial_lr`` (restore the optimizer's state dict first).

    Attributes
    ----------
    base_lrs : list of float
        The ``initial_lr`` of each group.
    last_epoch : int
        The epoch counter e.
    """

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, "
                            f"got {type(optimizer).__name__}")
        check_int(type(self).__name__, "last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                # setdefault: a second scheduler on the same optimizer keeps the first base_lr.
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{type(self).__name__}: param_groups[{i}] has no "
                                   "'initial_lr', needed to resume with last_epoch >= 0; "
                                   "load the optimizer's state dict first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        """Move to the first epoch and set its rates; ``get_lr`` sees ``_is_initial`` True."""
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def _undo_initial_step(self):
        """Take back the epoch that construction counted (used by :class:`SequentialLR`)."""
        self.last_epoch -= 1

    def get_lr(self):
        """The rate of each group at epoch ``last_epoch``, from the current rates.

        Returns
        -------
        list of float, one per group
        """
        raise NotImplementedError

    def closed_form_lr(self):
        """The rate of each group at epoch ``last_epoch``, from ``base_lrs`` alone.

        Returns
        -------
        list of float, one per group
        """
        return self.get_lr()

    def step(self):
        """Advance one epoch and set every group's ``lr``. Call after ``optimizer.step()``."""
        self.last_epoch += 1
        self._set_lrs(self.get_lr())

    def _jump_to(self, epoch):
        """Set the epoch counter to ``epoch`` and the rates to their closed form there."""
        self.last_epoch = epoch
        self._set_lrs(self.closed_form_lr())

    def _set_lrs(self, lrs):
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The rates set by the latest ``step()`` (or by construction), one per group."""
        return list(self._last_lr)

    def state_dict(self):
        """The scheduler's state: every attribute except the optimizer, copied."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                if key != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore a state saved by :meth:`state_dict`; the schedule resumes where it was."""
        self.__dict__.update(copy.deepcopy(state_dict))
