"""SalBCE's encoder from torchvision's ImageNet VGG16 file (:func:`load_vgg16_features`), folded
into the SalGAN input convention (:func:`fold_imagenet_filters`)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from salprep.checkpoints import CheckpointSpec, load_checkpoint
from salprep.errors import SalprepError
from salprep.models.salbce.network import (
    CAFFE_BGR_MEAN,
    ENCODER_CFG,
    N_RGB,
    PIXEL_SCALE,
    SalBCE,
    make_layers,
    conv_layers,
    init_extra_channels,
)

#: ImageNet statistics torchvision's VGG16 weights expect (RGB in [0, 1]: ``(x - mean) / std``).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _diagnose(keys: list[str]) -> str | None:
    if any(re.fullmatch(r"features\.\d+\.running_mean", k) for k in keys):
        return "it has batch-norm layers (a vgg16_bn checkpoint?), expected torchvision vgg16"
    if not any(k.startswith("features.") for k in keys):
        if any(k.startswith("module.features.") for k in keys):
            return "keys start with 'module.' (a DataParallel state_dict); expected torchvision vgg16 keys"
        if "0.weight" in keys and "28.weight" in keys:
            return ("keys lack the 'features.' prefix (vgg16().features.state_dict(), or an original SalGAN "
                    "generator: use load_salgan / init_salbce); save vgg16().state_dict()")
    return None


#: torchvision vgg16 files: ``classifier.*`` is there and unused (the 13 convs are checked)
VGG16_CHECKPOINT = CheckpointSpec(name="VGG16", allowed_extra=("classifier.",), diagnose=lambda s: _diagnose(list(s)))


def fold_imagenet_filters(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """First-conv filters of torchvision's VGG16 rewritten for the SalGAN input convention.

    torchvision's conv1_1 sees ``z_c = (r_c / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]`` for the
    8-bit RGB values ``r``; :class:`SalBCE` feeds ``u = r - CAFFE_BGR_MEAN`` in B, G, R order. So
    the filter of colour c becomes ``w_c / (255 * std_c)`` at the BGR position of c, and the
    bias gains ``sum_c,kernel w_c * (caffe_mean_c / 255 - mean_c) / std_c`` (the value ``z``
    takes where ``u = 0``). The responses agree exactly except within one pixel of the border,
    where zero padding pads ``u`` instead of ``z`` (offsets of 1e-4 to 9e-3 in ``z``). Computed in
    float64, returned in ``weight``'s dtype.

    Args:
        weight: (out, 3, kh, kw) float, RGB filters (torchvision ``features.0.weight``).
        bias: (out,) float.

    Returns:
        (weight (out, 3, kh, kw) for B, G, R; bias (out,)).
    """
    w = weight.detach().double()
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(1, N_RGB, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64).view(1, N_RGB, 1, 1)
    caffe_rgb = torch.tensor(CAFFE_BGR_MEAN[::-1], dtype=torch.float64).view(1, N_RGB, 1, 1)
    offset = (caffe_rgb / PIXEL_SCALE - mean) / std
    new_bias = bias.detach().double() + (w * offset).sum(dim=(1, 2, 3))
    new_weight = (w / (PIXEL_SCALE * std)).flip(1)
    return new_weight.to(weight.dtype), new_bias.to(bias.dtype)


def load_vgg16_features(model: SalBCE, state_dict_or_path: Mapping[str, Any] | str | os.PathLike) -> SalBCE:
    """Copy torchvision VGG16 ImageNet weights (``features.0`` .. ``features.28``) into ``model``.

    Reads a torchvision ``vgg16`` state_dict -- a mapping, or a file read with
    :func:`~salprep.checkpoints.read_checkpoint` (e.g. ``vgg16-397923af.pth``; users bring it,
    nothing is downloaded), checked by the one checkpoint loader
    (:func:`salprep.checkpoints.load_checkpoint`): ``classifier.*`` is ignored; every other key
    must be one of the 13 convs' weight/bias with torchvision's shape. The 13 convs go, in order,
    into the encoder's 13 convs (whatever their indices: with ``batchnorm`` the BatchNorm layers
    between them stay as they are). ``features.0`` is rewritten for the SalGAN input convention
    (:func:`fold_imagenet_filters`: BGR 0-255 minus the Caffe means, as the original SalGAN's
    Caffe VGG16 saw it) and fills the B, G, R filters of ``model.first_conv``; the filters of
    its extra channels are then reset to the mean of those (:func:`init_extra_channels`). The
    decoder is left as it is. Weights are copied into the existing parameters (their device and
    dtype are kept); train/eval mode is not changed. Returns ``model``.

    Raises:
        SalprepError: one line naming the file: ``model.width != 1.0``; unreadable file;
            missing, unexpected or wrongly shaped keys; non-float or NaN/Inf weights.
    """
    if not isinstance(model, SalBCE):
        raise TypeError(f"load_vgg16_features expects a SalBCE model, got {type(model).__name__}")
    if model.width != 1.0:
        where = None if isinstance(state_dict_or_path, Mapping) else state_dict_or_path
        raise SalprepError(
            f"VGG16 weights fit only SalBCE(width=1.0), this model has width={model.width:g}", where
        )
    reference = nn.Module()  # torchvision's vgg16 layout up to conv5_3, 3 input channels
    reference.features, _ = make_layers(ENCODER_CFG, N_RGB, 1.0)
    load_checkpoint(reference, state_dict_or_path, VGG16_CHECKPOINT)
    sources = conv_layers(reference.features)
    targets = conv_layers(model.features)
    with torch.no_grad():
        for k, (src, dst) in enumerate(zip(sources, targets, strict=True)):
            if k == 0:
                weight, bias = fold_imagenet_filters(src.weight, src.bias)
                dst.weight[:, :N_RGB].copy_(weight)
                dst.bias.copy_(bias)
            else:
                dst.weight.copy_(src.weight)
                dst.bias.copy_(src.bias)
    init_extra_channels(model.first_conv)
    return model
