"""Device selection from config/arguments (code never calls ``.cuda()`` itself)."""

from __future__ import annotations

import torch

from salprep import gpu_slots
from salprep.errors import SalprepError


def resolve_device(name: str) -> torch.device:
    """``auto`` → the first CUDA device if there is one, else the CPU; ``cuda[:i]`` must exist;
    other device types torch knows (``mps``, ``xpu``, ``meta``) are refused with one line.

    With ``SALPREP_GPU_SLOTS=N`` in the environment a CUDA-capable request first takes a GPU slot
    (:mod:`salprep.gpu_slots`; the stage commands' ``--gpu-slots`` does it while parsing): the
    slot's GPU is then the only visible one, ``cuda`` = ``cuda:0``."""
    if name != "cpu":
        gpu_slots.claim_from_env()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SalprepError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type not in ("cpu", "cuda"):  # mps, xpu, meta ...: torch knows them, salprep runs on CPU or CUDA
        raise SalprepError(f"device {name!r}: salprep runs on cpu or cuda (use auto, cpu, cuda or cuda:N)")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SalprepError(f"device {name!r} requested but no CUDA device is available (use auto or cpu)")
    if device.type == "cuda" and (device.index or 0) > 0 and gpu_slots.held_slot() is not None:
        raise SalprepError(f"device {name!r} with GPU slots: a job sees only its slot's GPU, as cuda:0 (use cuda)")
    return device
