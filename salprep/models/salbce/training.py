"""SalBCE's optimiser and schedule (the thesis's): what the one training loop asks the registry for."""

from __future__ import annotations

import torch

from salprep.errors import SalprepError
from salprep.models.optim import optimizer


def make_optimizer(model: torch.nn.Module, settings: dict):
    """(optimiser, schedule, "epoch"): Adam (or SGD Nesterov, momentum 0.9) with
    ``settings["lr"]`` and ``weight_decay``; ReduceLROnPlateau (``plateau_factor``,
    ``plateau_patience``) stepped each epoch on the validation loss (the training loss when
    training has no validation set)."""
    if settings["optimizer"] == "adam":
        opt = optimizer(torch.optim.Adam, model, lr=settings["lr"], weight_decay=settings["weight_decay"])
    elif settings["optimizer"] == "sgd":
        opt = optimizer(torch.optim.SGD, model, lr=settings["lr"], momentum=0.9, nesterov=True,
                        weight_decay=settings["weight_decay"])
    else:
        raise SalprepError(f"SalBCE: optimizer must be adam or sgd, got {settings['optimizer']!r}")
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=settings["plateau_factor"],
                                                       patience=settings["plateau_patience"])
    return opt, sched, "epoch"
