"""Device selection from config/arguments (code never calls ``.cuda()`` itself)."""

from __future__ import annotations

import torch

from salprep.errors import SalprepError



def resolve_device(name: str) -> torch.device:
    """``auto`` → the first CUDA device if there is one, else the CPU; ``cuda[:i]`` must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SalprepError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SalprepError(f"device {name!r} requested but no CUDA device is available (use auto or cpu)")
    return device
