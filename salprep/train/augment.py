"""Training augmentation for image models (SalBCE): the thesis's choice per sample.

The SalBCE thesis gives each training sample one of: a horizontal flip, a vertical flip, a small
rotation, or nothing (:data:`CHOICES`, each with probability 1/4; the released code's rotation is
Augmentor's ``rotate(max_left_rotation=5, max_right_rotation=5)``, juanjo3ns/SalBCE
``src/utils/dataAugmentation.py``, hence the recipe's ``rotate: 5``).

:func:`flip_rotate` is the pure tensor function (inputs and target move together; flow vectors
are mirrored and rotated with the image), :class:`Augmented` a dataset wrapper drawing each
item's choice and angle from (seed, epoch, item), so a run is reproducible and a resumed run sees
the same augmentations. CoordConv channels are made inside the model, after augmentation, as in
the released code.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


#: the thesis's per-sample augmentations, drawn uniformly
CHOICES = ("hflip", "vflip", "rotate", "none")


def flip_rotate(x: torch.Tensor, y: torch.Tensor, *, flip: bool, degrees: float, vflip: bool = False,
                flow: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror left-right (if ``flip``) and/or top-bottom (if ``vflip``), then rotate by
    ``degrees`` about the image centre.

    Args:
        x: (C, H, W) float model inputs (RGB, disparity, flow ...).
        y: (1, H', W') float target map in [0, 1] (any size: it is transformed the same way).
        flip: mirror left-right.
        vflip: mirror top-bottom.
        degrees: counter-clockwise rotation as seen on screen; 0 = none.
        flow: channel index of the flow's dx (dy follows it), or None: those two channels are
            vectors, dx negated on a left-right flip, dy on a top-bottom flip, rotated with the
            image.

    Returns:
        (x, y) of the same shapes and dtypes. Rotated inputs repeat their border pixels; the
        target is zero outside the original frame.
    """
    if x.ndim != 3 or y.ndim != 3:
        raise ValueError(f"flip_rotate expects x (C, H, W) and y (1, H, W), got {tuple(x.shape)} and {tuple(y.shape)}")
    if flip:
        x, y = x.flip(-1), y.flip(-1)
        if flow is not None:
            x = x.clone()
            x[flow] = -x[flow]
    if vflip:
        x, y = x.flip(-2), y.flip(-2)
        if flow is not None:
            x = x.clone()
            x[flow + 1] = -x[flow + 1]
    if degrees:
        x = _rotate(x, degrees, "border")
        y = _rotate(y, degrees, "zeros").clamp_(0.0, 1.0)
        if flow is not None:
            a = math.radians(degrees)
            # on screen (y down) a counter-clockwise turn maps (dx, dy) -> R(-a) in image coords
            dx, dy = x[flow].clone(), x[flow + 1].clone()
            x[flow] = math.cos(a) * dx + math.sin(a) * dy
            x[flow + 1] = -math.sin(a) * dx + math.cos(a) * dy
    return x, y


def _rotate(img: torch.Tensor, degrees: float, padding: str) -> torch.Tensor:
    """(C, H, W) rotated counter-clockwise on screen by ``degrees`` about the centre (bilinear)."""
    _, h, w = img.shape
    a = math.radians(degrees)
    # output pixel p_out samples input p_in = R(a) p_out in y-down pixel coordinates (centred),
    # written in grid_sample's normalised coordinates (x scaled by W/2, y by H/2)
    theta = torch.tensor([[math.cos(a), -math.sin(a) * h / w, 0.0],
                          [math.sin(a) * w / h, math.cos(a), 0.0]], dtype=img.dtype)
    grid = F.affine_grid(theta[None], [1, *img.shape], align_corners=False)
    return F.grid_sample(img[None], grid, mode="bilinear", padding_mode=padding, align_corners=False)[0]


class Augmented(torch.utils.data.Dataset):
    """``dataset`` items, each with one of :data:`CHOICES` (uniformly; a rotation's angle uniform
    in [-rotate, rotate] degrees), seeded by (seed, epoch, item)."""

    def __init__(self, dataset, *, seed: int, epoch: int, rotate: float, flow: int | None = None):
        self.dataset, self.seed, self.epoch = dataset, int(seed), int(epoch)
        self.rotate, self.flow = float(rotate), flow

    def __len__(self) -> int:
        return len(self.dataset)

    def choice(self, i: int) -> tuple[str, float]:
        """(the augmentation of item ``i`` this epoch, its rotation in degrees or 0)."""
        seed = int(np.random.SeedSequence([self.seed, self.epoch, int(i)]).generate_state(1)[0])
        gen = torch.Generator().manual_seed(seed)
        kind = CHOICES[int(torch.randint(len(CHOICES), (), generator=gen))]
        degrees = float(torch.empty(()).uniform_(-self.rotate, self.rotate, generator=gen)) if kind == "rotate" else 0.0
        return kind, degrees

    def __getitem__(self, i: int):
        x, y = self.dataset[i]
        kind, degrees = self.choice(i)
        return flip_rotate(x, y, flip=kind == "hflip", vflip=kind == "vflip", degrees=degrees, flow=self.flow)
