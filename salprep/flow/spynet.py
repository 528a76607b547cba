"""SpyNet optical flow (Ranjan & Black 2017), numerically matching sniklaus/pytorch-spynet.

Written from the description in ``design/MODELS.md`` (upstream ``run.py`` is GPL-3.0 and is not
copied here). The module reads the original ``network-*.pytorch`` checkpoint files unchanged,
with either the released ``moduleBasic.*`` key spelling or the current upstream ``netBasic.*``.

Public API:

* :func:`load_spynet` -- read an original checkpoint, return a :class:`SpyNet` in eval mode on CPU.
* :class:`SpyNet` -- ``module(first, second)`` maps two RGB frames to the flow from first to
  second, in pixels: ``first(x) ~ second(x + flow(x))``.
* :func:`save_random_spynet` -- write seeded random weights in the original file format
  (demo data and tests; no pretrained weights can be downloaded by the pipeline).

Pure helpers: :func:`backwarp`, :func:`normalize`, :func:`image_pyramid`, :func:`coarse_to_fine`,
:func:`padded_size`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from salprep.checkpoints import CheckpointSpec, load_checkpoint

__all__ = [
    "SpyNet",
    "load_spynet",
    "save_random_spynet",
    "random_spynet_state_dict",
    "backwarp",
    "normalize",
    "image_pyramid",
    "coarse_to_fine",
    "padded_size",
    "N_LEVELS",
]

#: Number of pyramid levels (and of Basic networks) in SpyNet.
N_LEVELS = 6
#: Channels of the five 7x7 convolutions of one Basic network, input first.
_CHANNELS = (8, 32, 64, 32, 16, 2)
_KERNEL = 7
#: Indices of the convolutions inside the upstream ``torch.nn.Sequential`` (ReLUs in between).
_CONV_INDICES = (0, 2, 4, 6, 8)
#: ImageNet statistics applied to RGB input (upstream multiplies by the reciprocal of the std).
_MEAN = (0.485, 0.456, 0.406)
_INV_STD = (1.0 / 0.229, 1.0 / 0.224, 1.0 / 0.225)
_KEY_STYLES = ("moduleBasic", "netBasic")


# --------------------------------------------------------------------------------------------
# pure functional core
# --------------------------------------------------------------------------------------------


def normalize(image: torch.Tensor) -> torch.Tensor:
    """ImageNet-normalise RGB frames the way SpyNet expects.

    Args:
        image: (B, 3, H, W) float, RGB, values in [0, 1].

    Returns:
        (B, 3, H, W) same dtype/device: ``(image - mean) * (1 / std)`` per channel, roughly in
        [-2.2, 2.7]. Upstream flips BGR input to RGB first; our input is already RGB.
    """
    mean = torch.tensor(_MEAN, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    inv_std = torch.tensor(_INV_STD, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return (image - mean) * inv_std


def backwarp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` at ``x + flow(x)`` (backward warping), bilinear, border padding.

    Args:
        image: (B, C, H, W) float, any value range.
        flow: (B, 2, H, W) float, same dtype/device as ``image``; displacement in pixels,
            channel 0 = dx (along W), channel 1 = dy (along H).

    Returns:
        (B, C, H, W) float: ``out[..., y, x] = image[..., y + dy, x + dx]`` (bilinear; samples
        outside the frame take the nearest border value).
    """
    _, _, height, width = flow.shape
    hor = torch.linspace(-1.0, 1.0, width, dtype=flow.dtype, device=flow.device)
    ver = torch.linspace(-1.0, 1.0, height, dtype=flow.dtype, device=flow.device)
    base = torch.cat(
        [
            hor.view(1, 1, 1, width).expand(1, 1, height, width),
            ver.view(1, 1, height, 1).expand(1, 1, height, width),
        ],
        1,
    )
    scaled = torch.cat(
        [
            flow[:, 0:1] * (2.0 / (image.shape[3] - 1.0)),
            flow[:, 1:2] * (2.0 / (image.shape[2] - 1.0)),
        ],
        1,
    )
    grid = (base + scaled).permute(0, 2, 3, 1)
    return F.grid_sample(
        image, grid, mode="bilinear", padding_mode="border", align_corners=True
    )


def image_pyramid(image: torch.Tensor, max_levels: int = N_LEVELS) -> list[torch.Tensor]:
    """SpyNet's image pyramid, coarsest level first.

    Starting from ``image``, a 2x2 average-pooled copy (stride 2, odd sizes floored) is prepended
    while the coarsest level is taller or wider than 32 pixels, at most ``max_levels - 1`` times.

    Args:
        image: (B, C, H, W) float, any value range.
        max_levels: upper bound on the number of levels (6 in SpyNet).

    Returns:
        list of (B, C, h_i, w_i) tensors, coarsest first, the last one is ``image`` itself.
    """
    levels = [image]
    for _ in range(max_levels - 1):
        if levels[0].shape[2] > 32 or levels[0].shape[3] > 32:
            levels.insert(
                0,
                F.avg_pool2d(levels[0], kernel_size=2, stride=2, count_include_pad=False),
            )
    return levels


def coarse_to_fine(
    basics: Sequence[Callable[[torch.Tensor], torch.Tensor]],
    first_pyramid: Sequence[torch.Tensor],
    second_pyramid: Sequence[torch.Tensor],
) -> torch.Tensor:
    """SpyNet's coarse-to-fine flow estimation over given pyramids.

    Level ``i`` counted from the coarsest uses ``basics[i]`` (so with fewer levels than Basic
    networks the finest-trained ones, i.e. the highest indices, go unused).

    Args:
        basics: callables mapping (B, 8, h, w) -> (B, 2, h, w) flow residual (pixels), where the
            8 channels are [first (3), warped second (3), current flow (2)].
        first_pyramid: list of (B, 3, h_i, w_i) float normalised frames, coarsest first.
        second_pyramid: same shapes as ``first_pyramid``.

    Returns:
        (B, 2, h, w) float flow in pixels at the finest level's size, (dx, dy).
    """
    if len(first_pyramid) > len(basics):
        raise ValueError(f"{len(first_pyramid)} pyramid levels but only {len(basics)} Basic nets")
    coarsest = first_pyramid[0]
    flow = coarsest.new_zeros(
        [coarsest.shape[0], 2, coarsest.shape[2] // 2, coarsest.shape[3] // 2]
    )
    for level, (one, two) in enumerate(zip(first_pyramid, second_pyramid)):
        up = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
        if up.shape[2] != one.shape[2]:
            up = F.pad(up, [0, 0, 0, 1], mode="replicate")
        if up.shape[3] != one.shape[3]:
            up = F.pad(up, [0, 1, 0, 0], mode="replicate")
        flow = basics[level](torch.cat([one, backwarp(two, up), up], 1)) + up
    return flow


def padded_size(height: int, width: int) -> tuple[int, int]:
    """The size SpyNet runs at: (H, W) rounded up to multiples of 32."""
    return int(math.ceil(height / 32.0) * 32), int(math.ceil(width / 32.0) * 32)


# --------------------------------------------------------------------------------------------
# modules
# --------------------------------------------------------------------------------------------


class _Basic(torch.nn.Module):
    """One pyramid level's network: five 7x7 convs 8->32->64->32->16->2, ReLU between.

    The Sequential is named ``netBasic`` so the state_dict keys are upstream's
    ``netBasic.{L}.netBasic.{0,2,4,6,8}.{weight,bias}``.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        for i, (cin, cout) in enumerate(zip(_CHANNELS[:-1], _CHANNELS[1:])):
            layers.append(
                torch.nn.Conv2d(cin, cout, kernel_size=_KERNEL, stride=1, padding=_KERNEL // 2)
            )
            if i < len(_CHANNELS) - 2:
                layers.append(torch.nn.ReLU(inplace=False))
        self.netBasic = torch.nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 8, h, w) float -> (B, 2, h, w) float flow residual in pixels."""
        return self.netBasic(x)


class SpyNet(torch.nn.Module):
    """SpyNet flow estimator; state_dict keys as upstream (``netBasic.*`` spelling).

    ``module(first, second)`` returns the flow from ``first`` to ``second`` (see :meth:`forward`).
    Use :func:`load_spynet` to get one with the original weights. Run inference under
    ``torch.inference_mode()`` (the module does not switch autograd off itself).
    """

    def __init__(self) -> None:
        super().__init__()
        self.netBasic = torch.nn.ModuleList([_Basic() for _ in range(N_LEVELS)])

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """Optical flow from ``first`` to ``second``.

        Args:
            first: (B, 3, H, W) float RGB in [0, 1], any H, W >= 1 (moved to the module's
                device and parameter dtype, float32 by default).
            second: (B, 3, H, W) float RGB in [0, 1], same shape as ``first``.

        Returns:
            (B, 2, H, W) flow in pixels at the input resolution, parameter dtype (float32),
            channel 0 = dx, channel 1 = dy, such that ``first(x) ~ second(x + flow(x))``.
            Frames are resized (bilinear, align_corners=False) to multiples of 32 for the
            network; the flow is resized back and dx, dy rescaled by W / W', H / H'.
        """
        if first.ndim != 4 or first.shape[1] != 3 or first.shape != second.shape:
            raise ValueError(
                "SpyNet expects two (B, 3, H, W) tensors of the same shape, got "
                f"{tuple(first.shape)} and {tuple(second.shape)}"
            )
        if not (first.is_floating_point() and second.is_floating_point()):
            raise TypeError("SpyNet expects float RGB frames in [0, 1]")
        param = next(self.parameters())
        first = first.to(device=param.device, dtype=param.dtype)
        second = second.to(device=param.device, dtype=param.dtype)

        height, width = first.shape[2], first.shape[3]
        net_h, net_w = padded_size(height, width)
        if (net_h, net_w) != (height, width):
            first = F.interpolate(first, size=(net_h, net_w), mode="bilinear", align_corners=False)
            second = F.interpolate(second, size=(net_h, net_w), mode="bilinear", align_corners=False)

        flow = self.flow_at_network_size(first, second)

        if (net_h, net_w) != (height, width):
            flow = F.interpolate(flow, size=(height, width), mode="bilinear", align_corners=False)
            flow = torch.cat(
                [flow[:, 0:1] * (float(width) / float(net_w)),
                 flow[:, 1:2] * (float(height) / float(net_h))],
                1,
            )
        return flow

    def flow_at_network_size(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """The network proper, without the multiple-of-32 resizing.

        Args:
            first: (B, 3, H, W) float RGB in [0, 1] (H, W normally multiples of 32).
            second: (B, 3, H, W) float RGB in [0, 1].

        Returns:
            (B, 2, H, W) float flow in pixels, (dx, dy).
        """
        return coarse_to_fine(
            list(self.netBasic),
            image_pyramid(normalize(first)),
            image_pyramid(normalize(second)),
        )


# --------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------


def _expected_shapes(style: str = "netBasic") -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for level in range(N_LEVELS):
        for conv, (cin, cout) in zip(_CONV_INDICES, zip(_CHANNELS[:-1], _CHANNELS[1:])):
            prefix = f"{style}.{level}.{style}.{conv}"
            shapes[f"{prefix}.weight"] = (cout, cin, _KERNEL, _KERNEL)
            shapes[f"{prefix}.bias"] = (cout,)
    return shapes


#: How the original files are read (:func:`salprep.checkpoints.load_checkpoint`).
CHECKPOINT = CheckpointSpec(name="SpyNet", renames=(("moduleBasic", "netBasic"),))


def load_spynet(checkpoint_path: str | os.PathLike) -> SpyNet:
    """Load an original sniklaus/pytorch-spynet checkpoint (e.g. ``network-sintel-final.pytorch``).

    The file is a plain state_dict (60 tensors) read with
    ``torch.load(path, map_location="cpu", weights_only=True)``; keys may be spelled
    ``moduleBasic.{L}.moduleBasic.{i}.{weight,bias}`` (released files) or ``netBasic.*``
    (current upstream code), as upstream maps one to the other.

    Returns:
        :class:`SpyNet` in eval mode on CPU, float32. Move it with ``.to(device)``.

    Raises:
        SalprepError: the file cannot be read, is not a state_dict, or its keys or tensor shapes
            differ from SpyNet's (one line naming the file and the missing/unexpected keys).
    """
    net = SpyNet()
    load_checkpoint(net, checkpoint_path, CHECKPOINT)
    return net


def random_spynet_state_dict(seed: int, key_style: str = "moduleBasic") -> dict[str, torch.Tensor]:
    """Seeded random SpyNet weights as a state_dict with upstream's keys.

    Init: He-normal weights (std sqrt(2 / fan_in)) for the convolutions before a ReLU, biases
    N(0, 0.1^2); the last convolution gets std 0.5 / sqrt(fan_in) and bias N(0, 0.02^2), so each
    level adds a residual of a few tenths of a pixel and, after the x2 upsamplings, the flow on
    natural or noise frames is a few pixels (360x640: mean |flow| ~ 2 px, max ~ 7 px).
    The result depends only on ``seed`` (a private ``torch.Generator`` on CPU).

    Args:
        seed: integer seed.
        key_style: ``"moduleBasic"`` (the released ``.pytorch`` files) or ``"netBasic"``.

    Returns:
        dict of 60 float32 CPU tensors.
    """
    if key_style not in _KEY_STYLES:
        raise ValueError(f"key_style must be one of {_KEY_STYLES}, got {key_style!r}")
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    state: dict[str, torch.Tensor] = {}
    last = _CONV_INDICES[-1]
    for key, shape in _expected_shapes(key_style).items():
        is_last = key.endswith((f".{last}.weight", f".{last}.bias"))
        if key.endswith(".weight"):
            fan_in = shape[1] * shape[2] * shape[3]
            std = (0.5 if is_last else math.sqrt(2.0)) / math.sqrt(fan_in)
        else:
            std = 0.02 if is_last else 0.1
        state[key] = torch.randn(shape, generator=gen, dtype=torch.float32) * std
    return state


def save_random_spynet(
    path: str | os.PathLike, seed: int, key_style: str = "moduleBasic"
) -> None:
    """Write seeded random SpyNet weights in the original checkpoint format.

    The file is a plain state_dict saved with :func:`torch.save` in the legacy (non-zip)
    serialization the released files use, keys as in the released
    ``network-*.pytorch`` files (``key_style="moduleBasic"``) or in current upstream code
    (``"netBasic"``); :func:`load_spynet` and upstream's loader both read it. See
    :func:`random_spynet_state_dict` for the initialisation.
    """
    # Legacy (non-zip) serialization, like the released files (saved before PyTorch 1.6).
    torch.save(
        random_spynet_state_dict(seed, key_style),
        os.fspath(path),
        _use_new_zipfile_serialization=False,
    )
