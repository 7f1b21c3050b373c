"""Optimizers and learning-rate schedules, as in `torch.optim`.

    opt = sg.optim.Adam(model.parameters(), lr=1e-3)
    sched = sg.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
"""
from .optimizer import Optimizer
from .sgd import SGD
from .adagrad import Adagrad
from .rmsprop import RMSprop
from .adadelta import Adadelta
from .adam import Adam, AdamW
from . import lr_scheduler

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "lr_scheduler"]
