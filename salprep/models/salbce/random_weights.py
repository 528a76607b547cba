"""Seeded random SalGAN generator weights written exactly like the original files (demo data and
tests: no weights can be downloaded here)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from salprep.checkpoints import save_original
from salprep.models.salbce.network import DECODER_CFG, ENCODER_CFG, PIXEL_SCALE, make_layers, input_channel_names
from salprep.models.salbce.original import DEFAULT_INPUTS, SALGAN_INPUTS

#: Typical magnitude of each first-conv input channel in the original convention (8-bit values,
#: about +-128 after the mean or 0-255 for depth; [-1, 1] for CoordConv and flow): random
#: first-conv filters are divided by it so that every channel, CoordConv included, matters.
_INPUT_MAGNITUDE = {"B": PIXEL_SCALE / 2, "G": PIXEL_SCALE / 2, "R": PIXEL_SCALE / 2, "depth": PIXEL_SCALE / 2,
                    "y": 1.0, "x": 1.0, "flow_dx": 1.0, "flow_dy": 1.0}
#: The optimiser ``save_model`` pickles, as ``src/salgan_dhf1k/train_bce.py`` makes it.
_ADAM = {"lr": 1e-5, "weight_decay": 1e-6}


def _layout(in_channels: int, batchnorm: bool) -> nn.Sequential:
    """The original flat generator with ``in_channels`` inputs, on the meta device (shapes only)."""
    with torch.device("meta"):
        encoder, c = make_layers(ENCODER_CFG, in_channels, 1.0, batchnorm)
        decoder, c = make_layers(DECODER_CFG, c, 1.0, batchnorm)
        return nn.Sequential(*encoder, *decoder, nn.Conv2d(c, 1, kernel_size=1), nn.Sigmoid())


def random_salgan_state_dict(seed: int, in_channels: int = 3, batchnorm: bool = True) -> dict[str, torch.Tensor]:
    """Seeded random generator weights laid out exactly like an original file's state_dict.

    Flat keys in the original module order (``0.weight``, ``0.bias``, ``1.weight``, ...): 54
    float32 tensors without BatchNorm; 184 with it, each BatchNorm2d with ``weight``, ``bias``,
    ``running_mean``, ``running_var`` and an int64 ``num_batches_tracked``. Width 1.0 (31.8 M
    parameters).

    Init (BatchNorm far from identity, maps spread over (0, 1) rather than saturated): 3x3 conv
    weights He-normal N(0, 2 / fan_in), the first conv's filter of each input channel further
    divided by that channel's magnitude (127.5 for B, G, R and depth, 1 for CoordConv / flow;
    channels named as :data:`DEFAULT_INPUTS` reads ``in_channels``), biases N(0, 0.1^2);
    BatchNorm weight U(0.5, 1.5), bias N(0, 0.1^2), running_mean N(0, 0.3^2), running_var
    U(0.5, 2), num_batches_tracked one random count in [1000, 100000) shared by all 26 (one
    training run); output 1x1 conv weight N(0, 4 / 64), bias N(0, 0.1^2). The result depends only
    on the arguments (a private ``torch.Generator`` on the CPU, drawn in key order).

    Args:
        seed: integer seed.
        in_channels: the first conv's input channels, 3-6 (:data:`DEFAULT_INPUTS`).
        batchnorm: the DHF1K-model layout with 26 BatchNorm2d (True) or plain SalGAN.
    """
    if isinstance(in_channels, bool) or in_channels not in DEFAULT_INPUTS:
        raise ValueError(f"in_channels must be one of {sorted(DEFAULT_INPUTS)}, got {in_channels!r}")
    names = input_channel_names(*SALGAN_INPUTS[DEFAULT_INPUTS[in_channels]])
    channel_scale = torch.tensor([1.0 / _INPUT_MAGNITUDE[n] for n in names]).view(1, -1, 1, 1)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))

    def normal(shape, std):
        return torch.randn(shape, generator=gen, dtype=torch.float32) * std

    def uniform(shape, low, high):
        return low + (high - low) * torch.rand(shape, generator=gen, dtype=torch.float32)

    steps = int(torch.randint(1000, 100000, (), generator=gen))
    layout = _layout(int(in_channels), bool(batchnorm))
    last = len(layout) - 2  # the 1x1 output conv
    state: dict[str, torch.Tensor] = {}
    for index, module in enumerate(layout):
        if isinstance(module, nn.Conv2d):
            shape = tuple(module.weight.shape)
            fan_in = math.prod(shape[1:])
            gain = 2.0 if index == last else math.sqrt(2.0)
            weight = normal(shape, gain / math.sqrt(fan_in))
            if index == 0:
                weight = weight * channel_scale
            state[f"{index}.weight"] = weight
            state[f"{index}.bias"] = normal(shape[:1], 0.1)
        elif isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            state[f"{index}.weight"] = uniform((n,), 0.5, 1.5)
            state[f"{index}.bias"] = normal((n,), 0.1)
            state[f"{index}.running_mean"] = normal((n,), 0.3)
            state[f"{index}.running_var"] = uniform((n,), 0.5, 2.0)
            state[f"{index}.num_batches_tracked"] = torch.tensor(steps, dtype=torch.int64)
    return state


def save_random_salgan(path: str | os.PathLike, *, seed: int, in_channels: int = 3, batchnorm: bool = True,
                       wrapped: bool = True) -> Path:
    """Write :func:`random_salgan_state_dict` ``(seed, in_channels, batchnorm)`` to ``path`` as the
    original code does (legacy non-zip ``torch.save``, written atomically).

    ``wrapped=True``: ``{'epoch', 'state_dict', 'optimizer'}`` as ``save_model`` writes it, the
    optimiser a pickled ``torch.optim.Adam`` (lr 1e-5, weight decay 1e-6, as ``train_bce.py``)
    over the file's parameters, with no moments (as before its first step: the file stays the
    size of the weights, 127 MB); ``epoch`` drawn from the seed. ``wrapped=False``: the bare
    state_dict (as the SalGAN baseline ``gen_model.pt``). :func:`load_salgan` and the original
    code's ``load_state_dict`` both read it. Returns ``path``.
    """
    state = random_salgan_state_dict(seed, in_channels, batchnorm)
    payload: Mapping[str, Any] = state
    if wrapped:
        epoch = int(torch.randint(0, 10, (), generator=torch.Generator().manual_seed(int(seed))))
        params = [nn.Parameter(v) for k, v in state.items() if k.endswith((".weight", ".bias"))]
        payload = {"epoch": epoch, "state_dict": state, "optimizer": torch.optim.Adam(params, **_ADAM)}
    return save_original(payload, path)
