"""Optimizers, learning-rate schedulers and gradient clipping for minigrad parameters.

Every optimizer follows PyTorch's update rule, so the same initial values and gradients give the
same trajectory::

    from optim import Adam
    from optim.lr_scheduler import CosineAnnealingLR

    optimizer = Adam(model.parameters(), lr=1e-3)
    scheduler = CosineAnnealingLR(optimizer, T_max=epochs)
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        scheduler.step()

Notation
--------
p, g     a parameter's raw array and its gradient's raw array
lr       the learning rate of the parameter's group
"""
from . import lr_scheduler
from . import swa_utils
from .adadelta import Adadelta
from .adam_variants import Adamax, NAdam, RAdam
from .adaptive import Adagrad, Adam, AdamW, RMSprop
from .lbfgs import LBFGS
from .clip import clip_grad_norm_, clip_grad_value_
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax",
           "NAdam", "RAdam", "LBFGS", "clip_grad_norm_", "clip_grad_value_", "lr_scheduler"]
__all__ += ["swa_utils"]
