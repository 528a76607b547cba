"""LSTS decoder: pooled I3D Mixed_5c of a 79-frame window -> one 360x640 saliency map.

The seed paper "LSTS" has no public code; the layout follows MODELS.md ("LSTS decoder"):

* input (B, C, 5, 5, 5): Mixed_5c average-pooled to 5x5x5 (the ``i3d_rgb`` / ``i3d_flow``
  shards' ``features``, :func:`salprep.stages.i3d.pool_features`); C = 1024 for LSTS-RGB or
  LSTS-Flow, 2048 for LSTS-RGB&Flow (the two streams' features concatenated on channels);
* Conv3d to 512 channels, kernel (5, 3, 3), padding (0, 1, 1) -> (B, 512, 1, 5, 5), ReLU,
  time squeezed -> (B, 512, 5, 5);
* seven ConvTranspose2d D1..D7 (:data:`LAYERS`: the paper's kernels, paddings and strides, with
  the output paddings that land exactly on 360x640), BatchNorm2d + ReLU after D1..D6, a sigmoid
  after D7. Spatial sizes: 5x5 -> 10x10 -> 30x20 -> 30x40 -> 90x80 -> 90x160 -> 180x320 -> 360x640
  (:data:`SIZES`).

The paper does not give D1..D6's output channels; the default ``(256, 128, 64, 32, 16, 8)``
halves them layer by layer. Parameters (default channels): 25,219,761 for C = 1024, 48,812,721
for C = 2048 (the Conv3d holds 94 % / 97 % of them).

Frames: a window ends at frame t (``frame_index``); the first 78 frames of a video have no window
of their own and reuse the first window's prediction (:func:`lsts_frame_features`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: Input (T, H, W) of the pooled Mixed_5c features.
INPUT_SIZE = (5, 5, 5)
#: Output (H, W) of the decoder (DHF1K's frame size).
#: Channels of the Conv3d output (the paper's 512x1x5x5).
BOTTLENECK_CHANNELS = 512
#: D1..D7 as (kernel, padding, stride, output_padding), each an (h, w) pair (MODELS.md's table).
LAYERS: tuple[tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]], ...] = (
    ((3, 3), (1, 1), (2, 2), (1, 1)),  # D1
    ((4, 3), (1, 1), (3, 2), (1, 1)),  # D2
    ((1, 3), (0, 1), (1, 2), (0, 1)),  # D3
    ((4, 3), (1, 1), (3, 2), (1, 1)),  # D4 = D2
    ((1, 3), (0, 1), (1, 2), (0, 1)),  # D5 = D3
    ((3, 3), (1, 1), (2, 2), (1, 1)),  # D6 = D1
    ((3, 3), (1, 1), (2, 2), (1, 1)),  # D7 = D1
)
#: (H, W) after the Conv3d and after each of D1..D7.
SIZES = ((5, 5), (10, 10), (30, 20), (30, 40), (90, 80), (90, 160), (180, 320), (360, 640))
#: the map the decoder outputs (the last of :data:`SIZES`): DHF1K's frame size
OUTPUT_SIZE = SIZES[-1]
#: Default output channels of D1..D6 (D7 has one).
DEFAULT_CHANNELS = (256, 128, 64, 32, 16, 8)


class LSTSDecoder(nn.Module):
    """LSTS saliency decoder (Conv3d + seven ConvTranspose2d), see the module docstring.

    Submodules: ``conv3d`` (Conv3d C -> 512), ``deconv`` (ModuleList of the seven
    ConvTranspose2d D1..D7), ``bn`` (ModuleList of the six BatchNorm2d after D1..D6; PyTorch's
    default eps 1e-5 and momentum 0.1). PyTorch's default initialisation. Buffers
    ``input_mean`` / ``input_std`` (C,) standardise the input per channel (identity by default;
    :meth:`set_input_norm`, used when training with ``standardize``). The module does not
    move itself to a device: the caller does (``.to(device)``).

    Args:
        in_channels: C of the input features: 1024 (RGB or Flow I3D), 2048 (RGB&Flow).
        channels: output channels of D1..D6 (six positive ints); D7 has 1.
    """

    def __init__(self, in_channels: int = 1024, channels: tuple[int, ...] = DEFAULT_CHANNELS) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(channels) != len(LAYERS) - 1 or min(channels) < 1:
            raise ValueError(
                f"LSTSDecoder channels must be {len(LAYERS) - 1} positive ints (D1..D6), got {channels}"
            )
        if int(in_channels) < 1:
            raise ValueError(f"LSTSDecoder in_channels must be >= 1, got {in_channels}")
        self.in_channels = int(in_channels)
        self.channels = channels
        self.conv3d = nn.Conv3d(
            self.in_channels, BOTTLENECK_CHANNELS, kernel_size=(5, 3, 3), padding=(0, 1, 1)
        )
        widths = (BOTTLENECK_CHANNELS, *channels, 1)
        self.deconv = nn.ModuleList(
            nn.ConvTranspose2d(
                widths[i], widths[i + 1], kernel_size=kernel, stride=stride,
                padding=padding, output_padding=output_padding,
            )
            for i, (kernel, padding, stride, output_padding) in enumerate(LAYERS)
        )
        self.bn = nn.ModuleList(nn.BatchNorm2d(c) for c in channels)
        # per-channel input standardisation (identity unless set_input_norm is called)
        self.register_buffer("input_mean", torch.zeros(self.in_channels))
        self.register_buffer("input_std", torch.ones(self.in_channels))

    def set_input_norm(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Standardise inputs per channel: x -> (x - mean) / std inside :meth:`forward`.

        Args:
            mean, std: (C,) float, C = ``in_channels``; std > 0. Kept as buffers, so they are
                saved in the state_dict and travel with the trained model.
        """
        mean, std = torch.as_tensor(mean).flatten(), torch.as_tensor(std).flatten()
        if mean.shape != (self.in_channels,) or std.shape != (self.in_channels,):
            raise ValueError(f"input norm must be ({self.in_channels},) each, got {tuple(mean.shape)} and "
                             f"{tuple(std.shape)}")
        if not bool((std > 0).all()):
            raise ValueError("input std must be > 0")
        self.input_mean.copy_(mean)
        self.input_std.copy_(std)

    def init_output_bias(self, p: float) -> None:
        """Start the last layer's bias at logit(p): an untrained map is p everywhere (0 < p < 1)."""
        nn.init.constant_(self.deconv[-1].bias, math.log(p / (1.0 - p)))

    def forward(self, x: torch.Tensor, *, return_logits: bool = False) -> torch.Tensor:
        """Saliency map of each window.

        Args:
            x: (B, C, 5, 5, 5) float, C = ``in_channels``: pooled I3D Mixed_5c features
                (values >= 0, post-ReLU; for 2048 channels the RGB and Flow features
                concatenated on channels, in the order used in training). On the module's
                device with its parameter dtype (float32 unless converted; the shards store
                float16, so call ``.float()``), or any float dtype under ``torch.autocast``.
            return_logits: if True, return the pre-sigmoid D7 output (any real value) instead of
                the map, e.g. for ``F.binary_cross_entropy_with_logits``; ``sigmoid(logits)`` is
                the map.

        Returns:
            (B, 1, 360, 640) float (the convolutions' dtype), values in (0, 1) (a sigmoid, so
            0 and 1 only by float rounding), or the logits with ``return_logits=True``.

        Raises:
            ValueError: ``x`` is not (B, ``in_channels``, 5, 5, 5).
            TypeError: ``x`` is not a floating-point tensor.
        """
        if x.ndim != 5 or x.shape[1] != self.in_channels or tuple(x.shape[2:]) != INPUT_SIZE:
            raise ValueError(
                f"LSTSDecoder expects (B, {self.in_channels}, 5, 5, 5) input "
                f"(pooled I3D Mixed_5c), got shape {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(f"LSTSDecoder expects float features, got {x.dtype}")
        x = (x - self.input_mean.view(1, -1, 1, 1, 1)) / self.input_std.view(1, -1, 1, 1, 1)
        x = F.relu(self.conv3d(x), inplace=True).squeeze(2)  # (B, 512, 5, 5)
        last = len(self.deconv) - 1
        for i, deconv in enumerate(self.deconv):
            x = deconv(x)
            if i < last:
                x = F.relu(self.bn[i](x), inplace=True)
        return x if return_logits else torch.sigmoid(x)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, channels={self.channels}, output={OUTPUT_SIZE}"


def lsts_frame_features(frame_index: np.ndarray, n_frames: int) -> np.ndarray:
    """Which window (feature entry) predicts each video frame.

    Frame t uses the latest window ending at or before t; frames before the first window's end
    use the first window (LSTS: "the first 78 frames reuse the prediction of frame 79"). A
    video shorter than the window has one padded window ending at frame T-1, which then serves
    every frame.

    Args:
        frame_index: (K,) integer array, K >= 1: the shard's ``frame_index`` (end frame of each
            window), strictly increasing, values in [0, n_frames - 1].
        n_frames: T >= 1, frames in the video.

    Returns:
        (T,) int64 array with values in [0, K - 1]: entry ``k[t]`` of the shard's ``features``
        is the input for frame t. E.g. ``frame_index = [78, 80, 82]``, T = 84:
        frames 0..79 -> 0, 80, 81 -> 1, 82, 83 -> 2.

    Raises:
        ValueError: ``frame_index`` empty, not 1-D, not integer, not strictly increasing or
            out of [0, n_frames - 1]; ``n_frames`` < 1.
    """
    index = np.asarray(frame_index)
    n_frames = int(n_frames)
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    if index.ndim != 1 or index.size == 0:
        raise ValueError(f"frame_index must be a non-empty (K,) array, got shape {index.shape}")
    if not np.issubdtype(index.dtype, np.integer):
        raise ValueError(f"frame_index must hold integers, got dtype {index.dtype}")
    if index.size > 1 and not bool(np.all(np.diff(index) > 0)):
        raise ValueError("frame_index must be strictly increasing")
    if index[0] < 0 or index[-1] > n_frames - 1:
        raise ValueError(
            f"frame_index must lie in [0, {n_frames - 1}] (n_frames = {n_frames}), "
            f"got [{int(index[0])}, {int(index[-1])}]"
        )
    frames = np.arange(n_frames, dtype=np.int64)
    k = np.searchsorted(index.astype(np.int64), frames, side="right") - 1
    return np.maximum(k, 0).astype(np.int64)


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """LSTS's training loss: mean squared error, pred and target (B, 1, 360, 640) in [0, 1]."""
    return F.mse_loss(pred.float(), target)


def make_optimizer(model: nn.Module, settings: dict):
    """(optimiser, schedule, "iteration") of LSTS training: RMSProp (momentum 0, the paper's) or
    Adam with ``settings["lr"]`` and ``weight_decay``; the lr halved every
    ``lr_halving_iterations`` iterations (StepLR, stepped each iteration)."""
    from salprep.errors import SalprepError
    from salprep.models.optim import optimizer

    if settings["optimizer"] == "rmsprop":
        opt = optimizer(torch.optim.RMSprop, model, lr=settings["lr"], momentum=0.0, weight_decay=settings["weight_decay"])
    elif settings["optimizer"] == "adam":
        opt = optimizer(torch.optim.Adam, model, lr=settings["lr"], weight_decay=settings["weight_decay"])
    else:
        raise SalprepError(f"LSTS: optimizer must be rmsprop or adam, got {settings['optimizer']!r}")
    return opt, torch.optim.lr_scheduler.StepLR(opt, step_size=settings["lr_halving_iterations"], gamma=0.5), "iteration"
