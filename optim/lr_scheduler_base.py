"""The base of the epoch-driven learning-rate schedulers; the schedules are in ``lr_scheduler``.

A scheduler owns no parameters: it rewrites ``group["lr"]`` of its optimizer's groups once per
``step()``, and keeps ``last_epoch`` and ``base_lrs`` so that it can be saved and resumed.

Notation
--------
e            the epoch counter ``last_epoch``: 0 after construction, +1 per ``step()``
base_lr      the group's ``initial_lr``, its ``lr`` when the first scheduler was built
"""
import copy
import numbers

import numpy as np

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
        """Restore a state saved by :meth:`state_dict`; the schedule resumes where it was.

        The whole state is checked first (its keys, the type of every value, the length of
        every per-group list, the range of every option), so a refused state dict leaves the
        scheduler as it was.

        Raises
        ------
        ValueError or TypeError
            Naming the scheduler and the first entry that does not fit.
        """
        self._apply_state(self._checked_state(state_dict))

    def _checked_state(self, state_dict):
        """A copy of ``state_dict`` checked against this scheduler's own state; sets nothing."""
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{owner}: expected a dict as returned by state_dict(), got a "
                            f"{type(state_dict).__name__}")
        own = self.state_dict()
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        if missing or unexpected:
            raise ValueError(f"{owner}: the state dict does not fit a {type(self).__name__} "
                             f"(missing keys {missing}, unexpected keys {unexpected})")
        state = {key: _like(owner, key, copy.deepcopy(state_dict[key]), template)
                 for key, template in own.items()}
        if "last_epoch" in state:
            check_int(owner, "last_epoch", state["last_epoch"], -1)
        self._check_options(owner, state)
        return state

    def _apply_state(self, state):
        """Set a state that :meth:`_checked_state` returned."""
        self.__dict__.update(state)

    @staticmethod
    def _check_options(owner, options):
        """Raise when an option in the mapping ``options`` is out of range; a subclass checks
        its own, both when built and when loaded, and may convert them in place."""


def _like(owner, key, value, template):
    """``value`` if it has the type and length of ``template`` (its own state's entry), with
    NumPy scalars made Python numbers; a TypeError naming ``key`` otherwise."""
    if isinstance(value, np.generic) or getattr(value, "shape", None) == ():
        value = value.item()
    fits = True
    if template is None or value is None:
        # None in this scheduler's own state stands for a value that is not kept (a plain
        # function of LambdaLR, a per-group min_lr); its subclass checks what may go there.
        fits = template is None
    elif isinstance(template, bool) or isinstance(template, str):
        fits = type(value) is type(template)
    elif isinstance(template, numbers.Integral):
        fits = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    elif isinstance(template, numbers.Real):
        fits = isinstance(value, numbers.Real) and not isinstance(value, bool)
    elif isinstance(template, (list, tuple)):
        fits = isinstance(value, (list, tuple)) and len(value) == len(template)
        if fits:
            value = type(template)(_like(owner, f"{key}[{i}]", v, t)
                                   for i, (v, t) in enumerate(zip(value, template)))
    elif isinstance(template, dict):
        fits = isinstance(value, dict)
    if not fits:
        raise TypeError(f"{owner}: {key} is {value!r:.80}, but this scheduler holds "
                        f"{template!r:.80} there (a {type(template).__name__})")
    return value
