"""The monodepth2 network: ResNet-18 encoder, depth decoder, Monodepth2 (see the package docstring)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


#: Channels of the five encoder features (ResNet-18: relu(bn1(conv1)), layer1 .. layer4).
NUM_CH_ENC = (64, 64, 128, 256, 512)
#: Channels of the decoder at each of the five scales (index 0 = full resolution).
NUM_CH_DEC = (16, 32, 64, 128, 256)
#: Plain (non-tensor) entries of the released ``encoder.pth`` files.
ENCODER_NON_TENSORS = ("height", "width", "use_stereo")
#: Scales with a disparity head in the released decoders (scale 0 is the one used).
_SCALES = (0, 1, 2, 3)
#: Fixed input normalisation of the encoder (one value for all three channels).
_INPUT_MEAN = 0.45
_INPUT_STD = 0.225
#: Decoder padding and upsampling (module-level so tests can check the fixture rejects others).
_PAD_MODE = "reflect"
_UPSAMPLE_MODE = "nearest"
#: The network divides the input by 32; reflection padding at 1/32 needs at least 2 pixels.
_MULTIPLE = 32
_MIN_SIZE = 64
#: The ImageNet classifier tensors a released encoder.pth carries (accepted, unused by the network).
FC_SHAPES = {"encoder.fc.weight": (1000, 512), "encoder.fc.bias": (1000,)}


# --------------------------------------------------------------------------------------------
# functional helpers
# --------------------------------------------------------------------------------------------


def disp_to_depth(
    disp: torch.Tensor, min_depth: float = 0.1, max_depth: float = 100.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map the network's sigmoid disparity to a scaled disparity and a depth (upstream's rule).

    ``scaled = 1 / max_depth + (1 / min_depth - 1 / max_depth) * disp`` and ``depth = 1 / scaled``.
    The depth is relative for mono models; stereo-trained models give metres after multiplying
    by 5.4 (upstream's ``STEREO_SCALE_FACTOR``).

    Args:
        disp: float tensor of any shape, typically (B, 1, H, W), values in [0, 1].
        min_depth: depth at ``disp == 1``, > 0.
        max_depth: depth at ``disp == 0``, > ``min_depth``.

    Returns:
        ``(scaled_disp, depth)``, both the shape and dtype of ``disp``: ``scaled_disp`` in
        [1 / max_depth, 1 / min_depth], ``depth`` in [min_depth, max_depth].
    """
    if not (min_depth > 0 and max_depth > min_depth):
        raise ValueError(f"need 0 < min_depth < max_depth, got {min_depth} and {max_depth}")
    low = 1.0 / max_depth
    high = 1.0 / min_depth
    scaled = low + (high - low) * disp
    return scaled, 1.0 / scaled


def check_network_size(height: Any, width: Any) -> tuple[int, int]:
    """The checkpoint's training size as ints; ValueError unless multiples of 32, >= 64."""
    sizes = []
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        value = int(value)
        if value < _MIN_SIZE or value % _MULTIPLE:
            raise ValueError(
                f"{name} must be a multiple of {_MULTIPLE} and at least {_MIN_SIZE}, got {value}"
            )
        sizes.append(value)
    return sizes[0], sizes[1]


# --------------------------------------------------------------------------------------------
# modules
# --------------------------------------------------------------------------------------------


class _BasicBlock(nn.Module):
    """ResNet's basic block as torchvision lays it out (attributes ``conv1``, ``bn1``, ``relu``,
    ``conv2``, ``bn2``, ``downsample``): two 3x3 convs without bias, the first with ``stride``;
    a 1x1 conv + BatchNorm on the shortcut where the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
                           if stride != 1 or c_in != c_out else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, c_in, H, W) -> (B, c_out, ceil(H / stride), ceil(W / stride))."""
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + shortcut)


class ResNet18Features(nn.Module):
    """ResNet-18 up to ``layer4``, module for module torchvision's ``resnet18`` (the same state_dict
    keys and shapes, without ``fc`` and ``avgpool``), written here so that a depth job needs no
    torchvision import (which pulls in ``torch._dynamo``: about 2.5 CPU-s per process).
    ``tests/test_monodepth.py`` checks it against torchvision's, keys and outputs. Random
    initialisation as torchvision's (Kaiming normal fan-out convs, BatchNorm at identity)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        c_in = 64
        for i, c in enumerate(NUM_CH_ENC[1:], start=1):
            stride = 1 if i == 1 else 2
            setattr(self, f"layer{i}", nn.Sequential(_BasicBlock(c_in, c, stride), _BasicBlock(c, c, 1)))
            c_in = c
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


class DepthEncoder(nn.Module):
    """ResNet-18 feature encoder; state_dict keys ``encoder.<torchvision resnet18 key>``.

    :class:`ResNet18Features` (torchvision's ``resnet18`` layout without the classifier) is held
    as attribute ``encoder``; the files' ``encoder.fc.*`` are accepted and ignored by
    :func:`load_monodepth2`, so the module has 120 state_dict entries (100 without the 20
    ``num_batches_tracked``).
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = ResNet18Features()
        self.num_ch_enc = NUM_CH_ENC

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five feature maps the decoder uses.

        Args:
            x: (B, 3, H, W) float RGB in [0, 1]; H, W multiples of 32 for the decoder. It is
                normalised here as ``(x - 0.45) / 0.225`` (no ImageNet statistics, no BGR).

        Returns:
            list of 5 float tensors: (B, 64, H/2, W/2) = relu(bn1(conv1)), then layer1
            (B, 64, H/4, W/4), layer2 (B, 128, H/8, W/8), layer3 (B, 256, H/16, W/16), layer4
            (B, 512, H/32, W/32) (sizes rounded up for other H, W).
        """
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"DepthEncoder expects (B, 3, H, W) RGB, got {tuple(x.shape)}")
        net = self.encoder
        x = (x - _INPUT_MEAN) / _INPUT_STD
        first = net.relu(net.bn1(net.conv1(x)))
        features = [first]
        features.append(net.layer1(net.maxpool(first)))
        for layer in (net.layer2, net.layer3, net.layer4):
            features.append(layer(features[-1]))
        return features


class _Conv3x3(nn.Module):
    """3x3 convolution with bias on a 1-pixel reflection-padded input (attribute ``conv``)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=0, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, h, w) float, h, w >= 2 -> (B, C_out, h, w)."""
        return self.conv(F.pad(x, (1, 1, 1, 1), mode=_PAD_MODE))


class _ConvBlock(nn.Module):
    """:class:`_Conv3x3` followed by ELU; keys ``conv.conv.{weight,bias}``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = _Conv3x3(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, h, w) float -> (B, C_out, h, w), ELU(alpha=1) applied."""
        return F.elu(self.conv(x))


def _upsample(x: torch.Tensor) -> torch.Tensor:
    """x2 upsampling of the decoder: (B, C, h, w) -> (B, C, 2h, 2w), nearest neighbour."""
    return F.interpolate(x, scale_factor=2, mode=_UPSAMPLE_MODE)


class DepthDecoder(nn.Module):
    """monodepth2's depth decoder; keys ``decoder.{0..9}.conv.conv.*``, ``decoder.{10..13}.conv.*``.

    One ``ModuleList`` named ``decoder`` holds, in order, for i = 4, 3, 2, 1, 0 the blocks
    "upconv i,0" (in: 512 for i = 4 else ``NUM_CH_DEC[i + 1]``; out: ``NUM_CH_DEC[i]``) and
    "upconv i,1" (in: ``NUM_CH_DEC[i]`` plus ``NUM_CH_ENC[i - 1]`` skip channels for i > 0), then
    the four disparity heads "dispconv s", s = 0..3 (``NUM_CH_DEC[s]`` -> 1). All four heads are
    held (they are in the files); only scale 0 is computed by default.
    """

    def __init__(self) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        for i in range(4, -1, -1):
            cin = NUM_CH_ENC[-1] if i == 4 else NUM_CH_DEC[i + 1]
            blocks.append(_ConvBlock(cin, NUM_CH_DEC[i]))
            cin = NUM_CH_DEC[i] + (NUM_CH_ENC[i - 1] if i > 0 else 0)
            blocks.append(_ConvBlock(cin, NUM_CH_DEC[i]))
        for s in _SCALES:
            blocks.append(_Conv3x3(NUM_CH_DEC[s], 1))
        self.decoder = nn.ModuleList(blocks)

    def _upconv(self, i: int, j: int) -> nn.Module:
        return self.decoder[2 * (4 - i) + j]

    def _dispconv(self, scale: int) -> nn.Module:
        return self.decoder[10 + scale]

    def forward(
        self, features: Sequence[torch.Tensor], scales: Sequence[int] = (0,)
    ) -> dict[int, torch.Tensor]:
        """Disparities at the requested scales.

        Args:
            features: the 5 tensors of :meth:`DepthEncoder.forward`, (B, NUM_CH_ENC[k], H/2^(k+1),
                W/2^(k+1)) float, k = 0..4 (H, W multiples of 32).
            scales: which of 0..3 to return (0 = full input resolution).

        Returns:
            dict scale -> (B, 1, H / 2^scale, W / 2^scale) float disparity in (0, 1) (sigmoid).
        """
        if len(features) != 5:
            raise ValueError(f"DepthDecoder expects 5 encoder features, got {len(features)}")
        got = tuple(int(f.shape[1]) if f.ndim == 4 else -1 for f in features)
        if got != NUM_CH_ENC:
            raise ValueError(
                f"DepthDecoder expects 4-D features with channels {NUM_CH_ENC}, got {got}"
            )
        wanted = set(int(s) for s in scales)
        if not wanted <= set(_SCALES):
            raise ValueError(f"scales must be among {_SCALES}, got {tuple(scales)}")
        out: dict[int, torch.Tensor] = {}
        x = features[4]
        for i in range(4, -1, -1):
            x = _upsample(self._upconv(i, 0)(x))
            if i > 0:
                skip = features[i - 1]
                if skip.shape[2:] != x.shape[2:]:
                    raise ValueError(
                        f"decoder scale {i}: upsampled size {tuple(x.shape[2:])} does not match "
                        f"the encoder feature {tuple(skip.shape[2:])} (input H, W must be "
                        f"multiples of {_MULTIPLE})"
                    )
                x = torch.cat([x, skip], 1)
            x = self._upconv(i, 1)(x)
            if i in wanted:
                out[i] = torch.sigmoid(self._dispconv(i)(x))
        return out


class Monodepth2(nn.Module):
    """Encoder + decoder run at the checkpoint's training size ``height`` x ``width``.

    ``module(x)`` returns the scale-0 disparity at the input size (see :meth:`forward`). Use
    :func:`load_monodepth2` to get one with the original weights. Run inference under
    ``torch.inference_mode()`` (the module does not switch autograd off itself).

    Attributes:
        encoder: :class:`DepthEncoder`.
        decoder: :class:`DepthDecoder`.
        height, width: the network input size (multiples of 32; 192 x 640 for ``*_640x192``).
        use_stereo: the file's ``use_stereo`` entry (stereo-trained: depth x 5.4 = metres), or
            None when unknown.
    """

    def __init__(
        self,
        height: int = 192,
        width: int = 640,
        encoder: DepthEncoder | None = None,
        decoder: DepthDecoder | None = None,
        use_stereo: bool | None = None,
    ) -> None:
        super().__init__()
        self.height, self.width = check_network_size(height, width)
        self.encoder = encoder if encoder is not None else DepthEncoder()
        self.decoder = decoder if decoder is not None else DepthDecoder()
        self.use_stereo = use_stereo

    def extra_repr(self) -> str:
        return f"height={self.height}, width={self.width}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale-0 disparity of RGB frames.

        Args:
            x: (B, 3, H, W) float RGB in [0, 1], any H, W >= 1 (moved to the module's device and
                parameter dtype, float32 by default).

        Returns:
            (B, 1, H, W) disparity in (0, 1) (the decoder's sigmoid output of scale 0), parameter
            dtype (float32; the autocast dtype under ``torch.autocast``). When (H, W) differs from
            (``height``, ``width``) the input is resized to the network size (bilinear,
            align_corners=False, antialias=True) and the disparity resized back (bilinear,
            align_corners=False); at the network size nothing is resized.
        """
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"Monodepth2 expects (B, 3, H, W) RGB in [0, 1], got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(f"Monodepth2 expects float RGB in [0, 1], got dtype {x.dtype}")
        param = next(self.parameters())
        x = x.to(device=param.device, dtype=param.dtype)
        size = (int(x.shape[2]), int(x.shape[3]))
        net_size = (self.height, self.width)
        if size == net_size:
            return self.disparity_at_network_size(x)
        x = F.interpolate(x, size=net_size, mode="bilinear", align_corners=False, antialias=True)
        disp = self.disparity_at_network_size(x)
        return F.interpolate(disp, size=size, mode="bilinear", align_corners=False)

    def disparity_at_network_size(self, x: torch.Tensor) -> torch.Tensor:
        """The network proper, without resizing.

        Args:
            x: (B, 3, H, W) float RGB in [0, 1], H and W multiples of 32 (normally
                ``height`` x ``width``).

        Returns:
            (B, 1, H, W) float disparity in (0, 1).
        """
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W) RGB, got {tuple(x.shape)}")
        if x.shape[2] % _MULTIPLE or x.shape[3] % _MULTIPLE or min(x.shape[2:]) < _MIN_SIZE:
            raise ValueError(
                f"the network needs H, W multiples of {_MULTIPLE} and >= {_MIN_SIZE}, "
                f"got {tuple(x.shape[2:])}"
            )
        return self.decoder(self.encoder(x), scales=(0,))[0]
