"""SalBCE: the SalGAN generator (VGG16 encoder-decoder) trained with the BCE content loss only.

One backbone serves every variant (MODELS.md, "SalBCE"); the variants are constructor arguments:

=====================  =========================================  ==============================
variant                input channels (``in_channels``)           ``coordconv``
=====================  =========================================  ==============================
``salbce_rgb``         3: RGB                                     False
``salbce_depth``       4: RGB + monodepth2 disparity              False
``salbce_depth_coord`` 4: RGB + disparity                         True (x, y added inside)
``salbce_flow``        5: RGB + SpyNet flow (dx, dy)              False
=====================  =========================================  ==============================

* Encoder ``features``: VGG16's convolutional layers conv1_1 ... conv5_3 (+ ReLU) with
  torchvision's layout -- the same module indices as ``torchvision.models.vgg16().features``
  0..29, i.e. without the last max pool (index 30): SalGAN's encoder ends at conv5_3. Four
  2x2 max pools, so H and W must be multiples of 16 (:data:`SIZE_MULTIPLE`).
  :func:`load_vgg16_features` reads a torchvision ``vgg16`` ImageNet state_dict into it.
* Decoder ``decoder``: the mirror image with nearest x2 upsampling in place of the pools:
  3x3 conv + ReLU 512 x3, up, 512 x3, up, 256 x3, up, 128 x2, up, 64 x2; then ``output``, a
  1x1 conv to one channel, and a sigmoid.
* Inside the module: RGB (channels 0-2, given in [0, 1]) normalised with the ImageNet mean and
  std; channels 3.. used as given; with ``coordconv=True`` two channels x and y in [-1, 1]
  appended (:func:`coord_channels`). The first conv therefore has ``in_channels + 2 * coordconv``
  input channels; the filters of every channel beyond RGB start as the mean of the three RGB
  filters (:func:`init_extra_channels`), at construction and again after VGG loading.
* Loss: :func:`bce_loss`, BCE on 4x4 average-pooled maps (as in the released SalGAN code).

Parameters at ``width=1.0``: 31,787,009 with 3 input channels (14,714,688 encoder, 17,072,321
decoder incl. output); each extra input channel adds 576. Sizes: 192x256 in the released code,
96x128 for demos. ``width < 1`` scales every channel count (CPU demos and tests; VGG weights do
not fit then).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from salprep.checkpoints import CheckpointSpec, load_checkpoint
from salprep.errors import SalprepError

#: ImageNet statistics used to normalise RGB in [0, 1] (torchvision's VGG16 weights).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Input H and W must be multiples of this (four 2x2 pools).
SIZE_MULTIPLE = 16
#: torchvision's VGG16 "D" configuration without the final pool ("M" = 2x2 max pool).
ENCODER_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
)
#: The decoder, the encoder's mirror ("U" = nearest x2 upsampling).
DECODER_CFG: tuple[int | str, ...] = (
    512, 512, 512, "U", 512, 512, 512, "U", 256, 256, 256, "U", 128, 128, "U", 64, 64,
)
#: Indices of the Conv2d layers in ``features`` (= torchvision ``vgg16().features``).
VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
#: RGB channels at the front of the input.
N_RGB = 3



def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def _make_layers(cfg: tuple[int | str, ...], in_channels: int, width: float) -> tuple[nn.Sequential, int]:
    layers: list[nn.Module] = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif v == "U":
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        else:
            out = _scaled(int(v), width)
            layers += [nn.Conv2d(c, out, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            c = out
    return nn.Sequential(*layers), c


def init_extra_channels(conv: nn.Conv2d, n_rgb: int = N_RGB) -> nn.Conv2d:
    """Set the filters of input channels ``n_rgb..`` of ``conv`` to the mean of the RGB filters.

    ``weight[:, k] = weight[:, :n_rgb].mean(dim=1)`` for every k >= ``n_rgb`` (depth, flow and
    CoordConv channels, MODELS.md); the RGB filters and the bias are unchanged. In place (no
    autograd), returns ``conv``. Nothing to do when ``conv`` has exactly ``n_rgb`` inputs.

    Raises:
        ValueError: ``conv`` has fewer than ``n_rgb`` input channels or is grouped.
    """
    if not isinstance(conv, nn.Conv2d) or conv.groups != 1 or conv.in_channels < n_rgb:
        raise ValueError(
            f"init_extra_channels expects an ungrouped Conv2d with >= {n_rgb} input channels, got {conv!r}"
        )
    if conv.in_channels > n_rgb:
        with torch.no_grad():
            mean = conv.weight[:, :n_rgb].mean(dim=1, keepdim=True)
            conv.weight[:, n_rgb:] = mean.expand_as(conv.weight[:, n_rgb:])
    return conv


def coord_channels(batch: int, height: int, width: int, *, device=None,
                   dtype: torch.dtype | None = None) -> torch.Tensor:
    """The CoordConv channels: (batch, 2, height, width), channel 0 = x, channel 1 = y.

    x = ``linspace(-1, 1, width)`` along W (-1 at the left column, 1 at the right), constant
    along H; y = ``linspace(-1, 1, height)`` along H (-1 at the top row), constant along W.
    A broadcast view (``expand``), not a copy.
    """
    xs = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype).view(1, 1, 1, width)
    ys = torch.linspace(-1.0, 1.0, height, device=device, dtype=dtype).view(1, 1, height, 1)
    return torch.cat(
        [xs.expand(batch, 1, height, width), ys.expand(batch, 1, height, width)], dim=1
    )


class SalBCE(nn.Module):
    """SalGAN generator for one SalBCE variant, see the module docstring.

    Submodules: ``features`` (encoder, torchvision VGG16 indices 0..29), ``decoder``,
    ``output`` (1x1 conv). Buffers ``mean`` / ``std`` (ImageNet, not in the state_dict).
    Random initialisation as torchvision's VGG (Kaiming normal, fan-out, zero bias) for the
    3x3 convs, N(0, 0.01) for ``output`` (initial maps close to 0.5); then
    :func:`init_extra_channels`. Use :func:`load_vgg16_features` for ImageNet weights. The
    module does not move itself to a device: the caller does (``.to(device)``).

    Args:
        in_channels: channels of the input tensor, >= 3: RGB, then extra inputs (1 depth
            disparity, 2 flow dx, dy, ...).
        coordconv: append the x, y CoordConv channels inside the module.
        width: channel multiplier (> 0) of every conv; 1.0 is SalGAN (VGG16 weights fit only
            then), < 1 for CPU demos and tests (channels ``max(1, round(c * width))``).
    """

    def __init__(self, in_channels: int = 3, coordconv: bool = False, width: float = 1.0) -> None:
        super().__init__()
        if int(in_channels) != in_channels or int(in_channels) < N_RGB:
            raise ValueError(f"SalBCE in_channels must be an int >= {N_RGB} (RGB first), got {in_channels!r}")
        width = float(width)
        if not (math.isfinite(width) and width > 0):
            raise ValueError(f"SalBCE width must be a positive number, got {width!r}")
        self.in_channels = int(in_channels)
        self.coordconv = bool(coordconv)
        self.width = width
        self.conv_in_channels = self.in_channels + 2 * self.coordconv
        self.features, c = _make_layers(ENCODER_CFG, self.conv_in_channels, width)
        self.decoder, c = _make_layers(DECODER_CFG, c, width)
        self.output = nn.Conv2d(c, 1, kernel_size=1)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, N_RGB, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, N_RGB, 1, 1), persistent=False)
        self._init_weights()

    @property
    def first_conv(self) -> nn.Conv2d:
        """The encoder's first conv (``features[0]``), ``conv_in_channels`` inputs."""
        return self.features[0]

    def _init_weights(self) -> None:
        for module in (*self.features, *self.decoder):
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.output.weight, 0.0, 0.01)
        nn.init.zeros_(self.output.bias)
        init_extra_channels(self.first_conv)

    def init_output_bias(self, p: float) -> None:
        """Start the output conv's bias at logit(p): an untrained map is about p (0 < p < 1)."""
        nn.init.constant_(self.output.bias, math.log(p / (1.0 - p)))

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the first conv sees: (B, ``conv_in_channels``, H, W).

        Channels 0-2 ``(x - mean) / std`` (ImageNet), channels 3.. ``x`` unchanged, then (with
        ``coordconv``) x and y of :func:`coord_channels`. Same dtype and device as ``x``.
        """
        rgb = (x[:, :N_RGB] - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        parts = [rgb, x[:, N_RGB:]]
        if self.coordconv:
            b, _, h, w = x.shape
            parts.append(coord_channels(b, h, w, device=x.device, dtype=x.dtype))
        return torch.cat(parts, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Saliency map of each frame.

        Args:
            x: (B, C, H, W) float, C = ``in_channels``, H and W multiples of 16 (e.g. 192x256,
                96x128). Channels 0-2: RGB in [0, 1] (normalised here, do not normalise
                before); channels 3..: extra inputs as trained, used as given -- depth
                disparity in [0, 1], flow scaled to [-1, 1]. No CoordConv channels (added here
                when ``coordconv``). On the module's device with its parameter dtype, or any
                float dtype under ``torch.autocast``.

        Returns:
            (B, 1, H, W) float (the convolutions' dtype), values in (0, 1) (a sigmoid).

        Raises:
            ValueError: ``x`` is not 4-D with ``in_channels`` channels, or H or W is not a
                multiple of 16.
            TypeError: ``x`` is not a floating-point tensor.
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"SalBCE expects (B, {self.in_channels}, H, W) input, got shape {tuple(x.shape)}"
            )
        h, w = x.shape[-2:]
        if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE or h == 0 or w == 0:
            raise ValueError(
                f"SalBCE expects H and W multiples of {SIZE_MULTIPLE} (e.g. 192x256, 96x128), "
                f"got {h}x{w} (input shape {tuple(x.shape)})"
            )
        if not x.is_floating_point():
            raise TypeError(f"SalBCE expects float input (RGB in [0, 1]), got {x.dtype}")
        x = self.features(self.prepare_input(x))
        x = self.decoder(x)
        return torch.sigmoid(self.output(x))

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, coordconv={self.coordconv}, width={self.width}"


# --------------------------------------------------------------------------------------------
# VGG16 ImageNet weights
# --------------------------------------------------------------------------------------------



def _diagnose(keys: list[str]) -> str | None:
    if any(re.fullmatch(r"features\.\d+\.running_mean", k) for k in keys):
        return "it has batch-norm layers (a vgg16_bn checkpoint?), expected torchvision vgg16"
    if not any(k.startswith("features.") for k in keys):
        if any(k.startswith("module.features.") for k in keys):
            return "keys start with 'module.' (a DataParallel state_dict); expected torchvision vgg16 keys"
        if "0.weight" in keys and "28.weight" in keys:
            return "keys lack the 'features.' prefix (vgg16().features.state_dict()?); save vgg16().state_dict()"
    return None


#: torchvision vgg16 files: ``classifier.*`` is there and unused (the 13 convs are checked)
VGG16_CHECKPOINT = CheckpointSpec(name="VGG16", allowed_extra=("classifier.",), diagnose=lambda s: _diagnose(list(s)))


def load_vgg16_features(model: SalBCE, state_dict_or_path: Mapping[str, Any] | str | os.PathLike) -> SalBCE:
    """Copy torchvision VGG16 ImageNet weights (``features.0`` .. ``features.28``) into ``model``.

    Reads a torchvision ``vgg16`` state_dict -- a mapping, or a file read with
    :func:`~salprep.checkpoints.read_checkpoint` (e.g. ``vgg16-397923af.pth``; users bring it,
    nothing is downloaded), checked by the one checkpoint loader
    (:func:`salprep.checkpoints.load_checkpoint`): ``classifier.*`` is ignored; every other key
    must be one of the 13 convs' weight/bias with torchvision's shape. ``features.0.weight``
    (64, 3, 3, 3) fills the RGB filters of ``model.first_conv``; the filters of its extra
    channels are then reset to the RGB mean (:func:`init_extra_channels`). The decoder is left
    as it is. Weights are copied into the existing parameters (their device and dtype are kept);
    train/eval mode is not changed. Returns ``model``.

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
    reference.features, _ = _make_layers(ENCODER_CFG, N_RGB, 1.0)
    load_checkpoint(reference, state_dict_or_path, VGG16_CHECKPOINT)
    tensors = reference.state_dict()
    with torch.no_grad():
        for i in VGG16_CONV_INDICES:
            conv = model.features[i]
            weight = tensors[f"features.{i}.weight"]
            if i == 0:
                conv.weight[:, :N_RGB].copy_(weight)
            else:
                conv.weight.copy_(weight)
            conv.bias.copy_(tensors[f"features.{i}.bias"])
    init_extra_channels(model.first_conv)
    return model


# --------------------------------------------------------------------------------------------
# loss
# --------------------------------------------------------------------------------------------


def bce_loss(pred: torch.Tensor, target: torch.Tensor, pool: int = 4, *, eps: float = 1e-7) -> torch.Tensor:
    """SalGAN content loss: mean binary cross-entropy of average-pooled maps.

    ``p = avg_pool(pred, pool)``, ``g = avg_pool(target, pool)`` (``pool`` x ``pool`` windows,
    stride ``pool``; ``pool=1``: no pooling), ``p`` clamped to [eps, 1 - eps], loss =
    ``mean(-(g log p + (1 - g) log(1 - p)))`` over batch and pixels. Computed in float32
    (also under autocast), differentiable with respect to ``pred``.

    Args:
        pred: (B, 1, H, W) float, predicted map in [0, 1] (:class:`SalBCE` output).
        target: (B, 1, H, W) float, ground-truth saliency map in [0, 1] (e.g. divided by its
            max, as SalGAN), same shape and device as ``pred``.
        pool: pooling window, an int >= 1 dividing H and W (4 in the released code).
        eps: clamp of the pooled prediction (keeps the logs finite).

    Returns:
        0-D float32 tensor, >= 0.

    Raises:
        ValueError: shapes differ or are not (B, 1, H, W); ``pool`` < 1 or not dividing H, W.
    """
    if pred.shape != target.shape or pred.ndim != 4 or pred.shape[1] != 1:
        raise ValueError(
            f"bce_loss expects pred and target of one shape (B, 1, H, W), "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    pool = int(pool)
    h, w = pred.shape[-2:]
    if pool < 1 or h % pool or w % pool:
        raise ValueError(f"bce_loss pool must be an int >= 1 dividing H and W, got pool={pool} for {h}x{w}")
    p, g = pred.float(), target.float()
    if pool > 1:
        p = F.avg_pool2d(p, pool)
        g = F.avg_pool2d(g, pool)
    p = p.clamp(eps, 1.0 - eps)
    return -(g * torch.log(p) + (1.0 - g) * torch.log1p(-p)).mean()
