"""Tools around the engine that training scripts use: TensorBoard logging
(:mod:`minigrad.utils.tensorboard`) and training-debug recipes (:mod:`minigrad.utils.debug`).

They import their optional packages (tensorboardX, matplotlib) only when used.
"""
