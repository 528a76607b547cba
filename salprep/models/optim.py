"""How the families' optimisers step: every parameter at once (shared by their factories).

:func:`optimizer` builds a torch optimiser with one fused kernel (Adam, SGD) or one multi-tensor
loop (RMSprop has no fused kernel) instead of the per-parameter loop: the same update rule up to
float rounding; on the CPU 10-15x (Adam) and 1.6x (RMSprop) faster on LSTS's 24M parameters, a
third of the demo's training time with the per-parameter loop.
"""

from __future__ import annotations

import torch

_STEP = {torch.optim.Adam: {"fused": True}, torch.optim.SGD: {"fused": True}, torch.optim.RMSprop: {"foreach": True}}


def optimizer(cls, model: torch.nn.Module, **kwargs) -> torch.optim.Optimizer:
    """``cls(model.parameters(), **kwargs)`` stepping all parameters at once (module docstring)."""
    return cls(model.parameters(), **kwargs, **_STEP[cls])
