"""monodepth2 checkpoints: reading the original encoder.pth / depth.pth, writing random-init ones."""

from __future__ import annotations

import functools

import math
import numbers
import os
from collections.abc import Mapping
from typing import Any

import torch

from salprep.checkpoints import CheckpointSpec, load_checkpoint, save_original
from salprep.errors import SalprepError

from salprep.models.monodepth.network import (
    DepthDecoder,
    DepthEncoder,
    ENCODER_NON_TENSORS,
    Monodepth2,
    ResNet18Features,
    FC_SHAPES,
    check_network_size,
)


# --------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------


def _diagnose_encoder(state: Mapping[str, Any]) -> str | None:
    keys = [str(k) for k in state]
    if "encoder.conv1.weight" not in state and any(k.startswith("decoder.") for k in keys):
        return (
            "this looks like a monodepth2 depth decoder file (depth.pth), not encoder.pth "
            "(were the encoder and decoder files swapped?)"
        )
    conv1 = state.get("encoder.conv1.weight")
    if isinstance(conv1, torch.Tensor) and conv1.ndim == 4 and conv1.shape[1] == 6:
        return "this looks like a monodepth2 pose encoder (pose_encoder.pth: 6 input channels)"
    return None


def _diagnose_decoder(state: Mapping[str, Any]) -> str | None:
    keys = [str(k) for k in state]
    if any(k.startswith("encoder.") for k in keys) or "height" in keys:
        return (
            "this looks like a monodepth2 encoder file (encoder.pth), not the depth decoder "
            "depth.pth (were the encoder and decoder files swapped?)"
        )
    return None


ENCODER_SPEC = CheckpointSpec(
    name="monodepth2 encoder",
    allowed_extra=("encoder.fc.",),
    non_tensors=ENCODER_NON_TENSORS,
    diagnose=_diagnose_encoder,
)
DECODER_SPEC = CheckpointSpec(name="monodepth2 depth decoder", diagnose=_diagnose_decoder)


def load_monodepth2(
    encoder_path: str | os.PathLike, decoder_path: str | os.PathLike
) -> Monodepth2:
    """Load original nianticlabs/monodepth2 files (e.g. ``mono_640x192/encoder.pth``, ``depth.pth``).

    Both are plain state_dicts read with ``torch.load(path, map_location="cpu",
    weights_only=True)`` and checked key for key (:func:`salprep.checkpoints.load_checkpoint`).
    The encoder's ``encoder.fc.*`` tensors are accepted and ignored; its ``height``/``width``
    entries give the network input size, ``use_stereo`` is kept as an attribute.

    Returns:
        :class:`Monodepth2` in eval mode on CPU, float32. Move it with ``.to(device)``.

    Raises:
        SalprepError: one line naming the file: unreadable or not a checkpoint, missing /
            unexpected keys, wrong shapes, NaN/Inf weights, the two files swapped, no
            ``height``/``width`` entries, or a size that is not a multiple of 32.
    """
    encoder = DepthEncoder()
    extras = load_checkpoint(encoder, encoder_path, ENCODER_SPEC)
    missing = [k for k in ("height", "width") if k not in extras]
    if missing:
        raise SalprepError(
            f"monodepth2 encoder checkpoint has no {' / '.join(repr(k) for k in missing)} "
            "entry (the training input size that encoder.pth files carry)",
            encoder_path,
        )
    try:
        height, width = check_network_size(extras["height"], extras["width"])
    except ValueError as exc:
        raise SalprepError(f"unusable monodepth2 encoder checkpoint: {exc}", encoder_path) from None
    stereo = extras.get("use_stereo")
    if isinstance(stereo, torch.Tensor) and stereo.numel() == 1:
        stereo = stereo.item()
    stereo = bool(stereo) if isinstance(stereo, (bool, numbers.Integral)) else None

    decoder = DepthDecoder()
    load_checkpoint(decoder, decoder_path, DECODER_SPEC)
    model = Monodepth2(height, width, encoder=encoder, decoder=decoder, use_stereo=stereo)
    return model.eval()


@functools.cache
def _encoder_shapes() -> dict[str, tuple[int, ...]]:
    """Key -> shape of a released encoder file's tensors, in the files' order (fc last): the
    torchvision ResNet-18 state_dict, i.e. :class:`ResNet18Features`'s (built on the meta device:
    no torchvision import) plus ``fc`` 512 -> 1000 (tests/test_monodepth.py checks it against
    torchvision)."""
    with torch.device("meta"):
        net = ResNet18Features()
    shapes = {f"encoder.{k}": tuple(v.shape) for k, v in net.state_dict().items()}
    return shapes | FC_SHAPES


def random_monodepth2_state_dicts(
    seed: int, height: int = 192, width: int = 640
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Seeded random monodepth2 weights laid out exactly like ``encoder.pth`` / ``depth.pth``.

    Encoder: every torchvision ResNet-18 key prefixed ``encoder.`` (with ``num_batches_tracked``
    and the unused ``encoder.fc.{weight,bias}``), then ``height``, ``width`` (ints) and
    ``use_stereo`` (False). Decoder: the 28 tensors ``decoder.{0..13}.*``.

    Init (far from identity but not saturated): convolutions He-normal, std sqrt(2 / fan_in)
    (ELU blocks: 1.2 / sqrt(fan_in)); BatchNorm running means N(0, 0.1^2), running variances
    U(0.5, 2), affine weights U(0.7, 1.3) (x 0.5 for the second BN of each residual branch, so
    the residual stream does not blow up) and biases N(0, 0.1^2); decoder biases N(0, 0.05^2);
    disparity heads std 2.0 / sqrt(fan_in), every decoder filter shifted to zero sum (the positive
    mean of ELU outputs would otherwise push the disparity towards 0 or 1), so on natural or
    noise images the disparity spreads over (0, 1) rather than sitting at 0 or 1. The weights depend only on ``seed`` (a private
    ``torch.Generator`` on CPU); ``height``/``width`` only set the two entries.

    Args:
        seed: integer seed.
        height, width: the training size to record (multiples of 32, >= 64).

    Returns:
        ``(encoder_state, decoder_state)``: dicts of float32 CPU tensors (int64 for
        ``num_batches_tracked``) plus the encoder's three plain entries.
    """
    height, width = check_network_size(height, width)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))

    def normal(shape, std):
        return torch.randn(shape, generator=gen, dtype=torch.float32) * std

    def uniform(shape, low, high):
        return low + (high - low) * torch.rand(shape, generator=gen, dtype=torch.float32)

    encoder: dict[str, Any] = {}
    for key, shape in _encoder_shapes().items():
        if key.endswith("num_batches_tracked"):
            encoder[key] = torch.randint(1000, 100000, (), generator=gen, dtype=torch.int64)
        elif key in FC_SHAPES:
            fan_in = 512
            encoder[key] = normal(shape, 1.0 / math.sqrt(fan_in))
        elif len(shape) == 4:  # convolution (no bias in ResNet)
            fan_in = shape[1] * shape[2] * shape[3]
            encoder[key] = normal(shape, math.sqrt(2.0) / math.sqrt(fan_in))
        elif key.endswith(".running_mean"):
            encoder[key] = normal(shape, 0.1)
        elif key.endswith(".running_var"):
            encoder[key] = uniform(shape, 0.5, 2.0)
        elif key.endswith(".weight"):
            scale = 0.5 if key.endswith(".bn2.weight") else 1.0
            encoder[key] = uniform(shape, 0.7, 1.3) * scale
        elif key.endswith(".bias"):
            encoder[key] = normal(shape, 0.1)
        else:  # pragma: no cover - torchvision's resnet18 has no other kinds of entries
            raise AssertionError(f"unexpected ResNet-18 entry {key}")
    encoder["height"] = height
    encoder["width"] = width
    encoder["use_stereo"] = False

    decoder: dict[str, torch.Tensor] = {}
    for key, value in DepthDecoder().state_dict().items():
        shape = tuple(value.shape)
        head = int(key.split(".")[1]) >= 10
        if key.endswith(".weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            weight = normal(shape, (2.0 if head else 1.2) / math.sqrt(fan_in))
            # zero-sum filters: the positive mean of ELU outputs does not drift the disparity
            decoder[key] = weight - weight.mean(dim=(1, 2, 3), keepdim=True)
        else:
            decoder[key] = normal(shape, 0.05)
    return encoder, decoder


def save_random_monodepth2(
    encoder_path: str | os.PathLike,
    decoder_path: str | os.PathLike,
    seed: int,
    height: int = 192,
    width: int = 640,
) -> None:
    """Write seeded random monodepth2 weights as ``encoder.pth`` / ``depth.pth`` look-alikes.

    Plain state_dicts in the legacy (non-zip) serialization of the released files
    (:func:`salprep.checkpoints.save_original`), written atomically; both
    :func:`load_monodepth2` and upstream's ``test_simple.py`` loading read them. See
    :func:`random_monodepth2_state_dicts` for the layout and the initialisation.
    """
    encoder, decoder = random_monodepth2_state_dicts(seed, height, width)
    save_original(encoder, encoder_path)
    save_original(decoder, decoder_path)
