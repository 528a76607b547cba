"""The SalGAN generator as a module: layout, input preparation, initialisation.

Layout and input convention as the thesis's released code (juanjo3ns/SalBCE) has them, stated in
our words in design/MODELS.md ("SalBCE", "What the released code ... does").
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: RGB channels at the front of the input.
N_RGB = 3
#: Input H and W must be multiples of this (four 2x2 pools).
SIZE_MULTIPLE = 16
#: Mean pixel value of the Caffe VGG16 ILSVRC model, per channel in B, G, R order, subtracted
#: from 0-255 BGR images by SalGAN and the thesis's code (``self.mean`` of
#: ``src/dataloader/datasetDHF1K.py`` and ``bgr_mean`` of ``src/utils/salgan_utils.py``).
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
#: The original network saw 8-bit values: RGB in [0, 1] times this.
PIXEL_SCALE = 255.0
#: The extra input channels after RGB, by the input's channel count (``in_channels``): salprep's
#: variants, in the order the original data loader appends them (depth, then flow).
EXTRA_INPUTS: dict[int, tuple[str, ...]] = {3: (), 4: ("depth",), 5: ("flow_dx", "flow_dy")}
#: Factor applied inside the module to each extra channel. Depth: salprep's disparity in [0, 1]
#: becomes the 8-bit depth PNG value (0-255, no mean subtracted) the original code appended.
#: Flow: the original code has no flow input (its loader stops at a comment saying the flow
#: channels were not completed), so salprep's flow, already in [-1, 1], is used as given.
EXTRA_SCALE: dict[str, float] = {"depth": PIXEL_SCALE, "flow_dx": 1.0, "flow_dy": 1.0}
#: CoordConv channel names, in the order the original code appends them (after every other extra).
COORD_NAMES = ("y", "x")
#: Names of the first conv's RGB input channels: B, G, R, as the original network saw them.
BGR_NAMES = ("B", "G", "R")
#: torchvision's VGG16 "D" configuration without the final pool ("M" = 2x2 max pool).
ENCODER_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512,
)
#: The decoder, the encoder's mirror ("U" = nearest x2 upsampling).
DECODER_CFG: tuple[int | str, ...] = (
    512, 512, 512, "U", 512, 512, 512, "U", 256, 256, 256, "U", 128, 128, "U", 64, 64,
)
#: Indices of the Conv2d layers in torchvision ``vgg16().features`` (= ``SalBCE.features``
#: with ``batchnorm=False``).
VGG16_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def make_layers(cfg: tuple[int | str, ...], in_channels: int, width: float,
                 batchnorm: bool = False) -> tuple[nn.Sequential, int]:
    """The layers of ``cfg``: each int a 3x3 conv (padding 1) [+ BatchNorm2d] + ReLU; returns
    them and the last channel count. ``batchnorm=False`` gives torchvision's vgg16 layout."""
    layers: list[nn.Module] = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif v == "U":
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        else:
            out = _scaled(int(v), width)
            layers.append(nn.Conv2d(c, out, kernel_size=3, padding=1))
            if batchnorm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            c = out
    return nn.Sequential(*layers), c


def conv_layers(modules) -> list[nn.Conv2d]:
    """The ``nn.Conv2d`` among ``modules``, in order."""
    return [m for m in modules if isinstance(m, nn.Conv2d)]


def input_channel_names(in_channels: int, coordconv: bool) -> tuple[str, ...]:
    """Names of the first conv's input channels, in order: ``B, G, R``, the extra inputs of
    ``in_channels`` (:data:`EXTRA_INPUTS`), then ``y, x`` with ``coordconv``.

    Raises:
        ValueError: ``in_channels`` is not one of :data:`EXTRA_INPUTS`.
    """
    if isinstance(in_channels, bool) or in_channels not in EXTRA_INPUTS:
        raise ValueError(
            f"SalBCE in_channels must be one of {sorted(EXTRA_INPUTS)} (RGB, + depth, + flow dx dy), "
            f"got {in_channels!r}"
        )
    return BGR_NAMES + EXTRA_INPUTS[int(in_channels)] + (COORD_NAMES if coordconv else ())


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
    """The CoordConv channels: (batch, 2, height, width), channel 0 = y, channel 1 = x.

    y = ``linspace(-1, 1, height)`` along H (-1 at the top row), constant along W; x =
    ``linspace(-1, 1, width)`` along W (-1 at the left column), constant along H. y first, as
    the original code appends them. A broadcast view (``expand``), not a copy.
    """
    ys = torch.linspace(-1.0, 1.0, height, device=device, dtype=dtype).view(1, 1, height, 1)
    xs = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype).view(1, 1, 1, width)
    return torch.cat(
        [ys.expand(batch, 1, height, width), xs.expand(batch, 1, height, width)], dim=1
    )


def salgan_input(x: torch.Tensor, coordconv: bool = False) -> torch.Tensor:
    """What the original network saw, from salprep's input.

    Args:
        x: (B, C, H, W) float, C in :data:`EXTRA_INPUTS`: channels 0-2 RGB in [0, 1]; channel 3
            depth disparity in [0, 1] (C = 4) or channels 3-4 flow dx, dy in [-1, 1] (C = 5).
        coordconv: append the CoordConv channels y, x (:func:`coord_channels`).

    Returns:
        (B, C + 2 * coordconv, H, W), same dtype and device: channels 0-2 = ``B, G, R`` as 8-bit
        values minus the Caffe VGG means (``x[:, 2::-1] * 255 - CAFFE_BGR_MEAN``, about -124 ..
        151); then depth * 255 (0-255, not mean-subtracted) or flow as given; then y, x in
        [-1, 1] (:func:`input_channel_names`).

    Raises:
        ValueError: ``x`` is not 4-D or C is not in :data:`EXTRA_INPUTS`.
    """
    if x.ndim != 4 or x.shape[1] not in EXTRA_INPUTS:
        raise ValueError(f"salgan_input expects (B, C, H, W) with C in {sorted(EXTRA_INPUTS)}, got {tuple(x.shape)}")
    mean = torch.tensor(CAFFE_BGR_MEAN, dtype=x.dtype, device=x.device).view(1, N_RGB, 1, 1)
    parts = [x[:, :N_RGB].flip(1) * PIXEL_SCALE - mean]
    for k, name in enumerate(EXTRA_INPUTS[x.shape[1]]):
        scale = EXTRA_SCALE[name]
        channel = x[:, N_RGB + k: N_RGB + k + 1]
        parts.append(channel if scale == 1.0 else channel * scale)
    if coordconv:
        b, _, h, w = x.shape
        parts.append(coord_channels(b, h, w, device=x.device, dtype=x.dtype))
    return torch.cat(parts, dim=1)


class SalBCE(nn.Module):
    """SalGAN generator for one SalBCE variant, see the package docstring.

    Submodules: ``features`` (encoder: torchvision ``vgg16().features`` indices 0..29, or with
    ``batchnorm`` the ``vgg16_bn().features`` indices 0..42), ``decoder``, ``output`` (1x1
    conv). ``features``, ``decoder`` and ``output`` followed by a sigmoid are, module for module,
    the original code's flat ``nn.Sequential`` (:func:`~salprep.models.salbce.original_sequential`).
    Random initialisation as torchvision's VGG (Kaiming normal, fan-out, zero bias) for the 3x3
    convs, BatchNorm at identity (weight 1, bias 0, running mean 0, var 1), N(0, 0.01) for
    ``output`` (initial maps close to 0.5); then the RGB filters of the first
    conv are divided by 127.5 (half the 8-bit range: they see 8-bit values, not inputs of order
    one) and :func:`init_extra_channels` runs. Use
    :func:`~salprep.models.salbce.load_vgg16_features`,
    :func:`~salprep.models.salbce.init_salbce` or :func:`~salprep.models.salbce.load_salgan` for
    trained weights. The module does not move itself to a device: the caller does.

    Args:
        in_channels: channels of the input tensor: 3 (RGB), 4 (RGB + depth disparity) or 5
            (RGB + flow dx, dy); :data:`EXTRA_INPUTS`.
        coordconv: append the y, x CoordConv channels inside the module.
        width: channel multiplier (> 0) of every conv; 1.0 is SalGAN (VGG16 and original
            generator weights fit only then), < 1 for CPU demos and tests (channels
            ``max(1, round(c * width))``).
        batchnorm: a BatchNorm2d between each of the 26 3x3 convs and its ReLU (the thesis's
            DHF1K models); False: the plain SalGAN generator.
    """

    def __init__(self, in_channels: int = 3, coordconv: bool = False, width: float = 1.0,
                 batchnorm: bool = True) -> None:
        super().__init__()
        if isinstance(in_channels, bool) or in_channels not in EXTRA_INPUTS:
            raise ValueError(
                f"SalBCE in_channels must be one of {sorted(EXTRA_INPUTS)} (RGB first, then depth or flow dx, dy), "
                f"got {in_channels!r}"
            )
        width = float(width)
        if not (math.isfinite(width) and width > 0):
            raise ValueError(f"SalBCE width must be a positive number, got {width!r}")
        self.in_channels = int(in_channels)
        self.coordconv = bool(coordconv)
        self.width = width
        self.batchnorm = bool(batchnorm)
        self.conv_in_channels = self.in_channels + 2 * self.coordconv
        self.features, c = make_layers(ENCODER_CFG, self.conv_in_channels, width, self.batchnorm)
        self.decoder, c = make_layers(DECODER_CFG, c, width, self.batchnorm)
        self.output = nn.Conv2d(c, 1, kernel_size=1)
        self._init_weights()

    @property
    def first_conv(self) -> nn.Conv2d:
        """The encoder's first conv (``features[0]``), ``conv_in_channels`` inputs."""
        return self.features[0]

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Names of the first conv's input channels (:func:`input_channel_names`)."""
        return input_channel_names(self.in_channels, self.coordconv)

    def _init_weights(self) -> None:
        for module in (*self.features, *self.decoder):
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.output.weight, 0.0, 0.01)
        nn.init.zeros_(self.output.bias)
        with torch.no_grad():
            self.first_conv.weight[:, :N_RGB] /= PIXEL_SCALE / 2
        init_extra_channels(self.first_conv)

    def init_output_bias(self, p: float) -> None:
        """Start the output conv's bias at logit(p): an untrained map is about p (0 < p < 1)."""
        nn.init.constant_(self.output.bias, math.log(p / (1.0 - p)))

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the first conv sees, (B, ``conv_in_channels``, H, W): :func:`salgan_input`; with
        ``coordconv``, CoordConv channels given at the end of ``x`` are used as given."""
        if self.coordconv and x.shape[1] == self.conv_in_channels:
            return torch.cat([salgan_input(x[:, :self.in_channels]), x[:, self.in_channels:]], dim=1)
        return salgan_input(x, self.coordconv)

    def forward_prepared(self, z: torch.Tensor) -> torch.Tensor:
        """The network on an already prepared input (the original generator's forward).

        Args:
            z: (B, ``conv_in_channels``, H, W) float in the original convention
                (:meth:`prepare_input`), H and W multiples of 16.

        Returns:
            (B, 1, H, W), values in (0, 1) (a sigmoid).
        """
        return torch.sigmoid(self.output(self.decoder(self.features(z))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Saliency map of each frame.

        Args:
            x: (B, C, H, W) float, C = ``in_channels``, H and W multiples of 16 (e.g. 192x256,
                96x128). Channels 0-2: RGB in [0, 1] (converted here to the original network's
                BGR 0-255 minus the Caffe means, do not normalise before); channel 3: depth
                disparity in [0, 1] (scaled here by 255), or channels 3-4: flow dx, dy in
                [-1, 1] (used as given). With ``coordconv`` the y, x channels are added here;
                or they may be given as the last two channels (C = ``conv_in_channels``, y then
                x in [-1, 1], as the original code appends them), then they are used as given.
                On the module's device with its parameter dtype, or any float
                dtype under ``torch.autocast``.

        Returns:
            (B, 1, H, W) float (the convolutions' dtype), values in (0, 1) (a sigmoid).

        Raises:
            ValueError: ``x`` is not 4-D with ``in_channels`` (or, with ``coordconv``,
                ``conv_in_channels``) channels, or H or W is not a multiple of 16.
            TypeError: ``x`` is not a floating-point tensor.
        """
        accepted = (self.in_channels, self.conv_in_channels)
        if x.ndim != 4 or x.shape[1] not in accepted:
            given = f" or {self.conv_in_channels} (with the y, x CoordConv channels)" if self.coordconv else ""
            raise ValueError(
                f"SalBCE expects (B, {self.in_channels}{given}, H, W) input, got shape {tuple(x.shape)}"
            )
        h, w = x.shape[-2:]
        if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE or h == 0 or w == 0:
            raise ValueError(
                f"SalBCE expects H and W multiples of {SIZE_MULTIPLE} (e.g. 192x256, 96x128), "
                f"got {h}x{w} (input shape {tuple(x.shape)})"
            )
        if not x.is_floating_point():
            raise TypeError(f"SalBCE expects float input (RGB in [0, 1]), got {x.dtype}")
        return self.forward_prepared(self.prepare_input(x))

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, coordconv={self.coordconv}, width={self.width}, "
                f"batchnorm={self.batchnorm}")


def original_sequential(model: SalBCE) -> nn.Sequential:
    """The original code's flat generator over ``model``'s own modules (shared, not copied).

    ``features``, ``decoder``, ``output`` and a Sigmoid in one ``nn.Sequential``: its
    state_dict keys are the original files' (``0.weight`` ... ``60.bias``, 54 tensors, 62
    modules without BatchNorm; 184 tensors, 88 modules with it), loading into it loads into
    ``model``, and ``original_sequential(model)(model.prepare_input(x)) == model(x)``.
    """
    return nn.Sequential(*model.features, *model.decoder, model.output, nn.Sigmoid())
