"""Ground truth: binary fixation maps and Gaussian-blurred saliency maps.

Coordinates are 0-based pixels, x = column, y = row. The per-dataset presets (sigma, truncation,
border, shift) are listed in ``GT_PRESETS`` and documented in ../shared/design/DATASETS.md §7.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import ndimage

#: sigma in px, truncate in sigmas (None = the Gaussian spans the whole frame), border mode,
#: peak shift in px (DHF1K's make_gauss_masks.m as written puts peaks +2 px right and down).
GT_PRESETS = {
    "dhf1k": {"sigma": 12.7398, "truncate": None, "border": "constant", "shift": 0},
    "ledov": {"sigma": 33.9729, "truncate": 100 / 33.9729, "border": "constant", "shift": 0},
    "hollywood": {"sigma": 20.0, "truncate": 75 / 20.0, "border": "nearest", "shift": 0},
    "ucf": {"sigma": 20.0, "truncate": 75 / 20.0, "border": "nearest", "shift": 0},
    "salicon": {"sigma": 19.0, "truncate": 4.0, "border": "reflect", "shift": 0},
}
#: where each preset comes from (results/recipe.json; ../shared/design/DATASETS.md sections 1-4, 7)
GT_SOURCES = {
    "dhf1k": "DHF1K (Wang et al., CVPR 2018), make_gauss_masks.m: 30 px FWHM, whole-frame Gaussian, zero border",
    "ledov": "LEDOV (Jiang et al., ECCV 2018): 2 deg x 40 px/deg = 80 px FWHM, radius 100 px, zero border",
    "hollywood": "Hollywood-2 gaze (Mathe & Sminchisescu) as packaged with ACLNet: sigma 20 px, radius 75 px, replicate",
    "ucf": "UCF-Sports gaze (Mathe & Sminchisescu) as packaged with ACLNet: sigma 20 px, radius 75 px, replicate",
    "salicon": "SALICON (Jiang et al., CVPR 2015): sigma 19 px, 4 sigma, reflect border, min-max",
}
BORDERS = ("constant", "nearest", "reflect")


class OutOfFrameWarning(UserWarning):
    """Fixation points outside the frame were dropped; ``count`` says how many."""

    def __init__(self, count: int, total: int, shape: tuple[int, int]):
        self.count = count
        super().__init__(f"{count} of {total} fixation points outside the {shape[1]}x{shape[0]} frame dropped")


def fwhm_to_sigma(fwhm: float) -> float:
    """Gaussian sigma for a full width at half maximum: fwhm / (2 sqrt(2 ln 2))."""
    return float(fwhm) / (2.0 * math.sqrt(2.0 * math.log(2.0)))


def round_half_away(values: np.ndarray) -> np.ndarray:
    """MATLAB ``round``: halves go away from zero (numpy's ``round`` goes to even)."""
    values = np.asarray(values, dtype=np.float64)
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def points_in_frame(points_xy: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Round points to pixels and split them by whether they fall inside ``shape`` (H, W).

    Returns:
        (pixels, inside): int64 (N, 2) rounded (x, y) and a bool (N,) mask.
    """
    pts = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    pix = round_half_away(pts).astype(np.int64)
    h, w = shape
    inside = (pix[:, 0] >= 0) & (pix[:, 0] < w) & (pix[:, 1] >= 0) & (pix[:, 1] < h)
    return pix, inside


def fixation_map(points_xy, shape: tuple[int, int]) -> np.ndarray:
    """Binary fixation map from fixation points.

    Args:
        points_xy: (N, 2) array-like of 0-based pixel coordinates (x, y); floats are rounded
            half away from zero.
        shape: (H, W) of the frame.

    Returns:
        bool (H, W); True where at least one fixation landed. Points outside the frame are
        dropped; an :class:`OutOfFrameWarning` carries their count.
    """
    h, w = int(shape[0]), int(shape[1])
    pix, inside = points_in_frame(points_xy, (h, w))
    dropped = int((~inside).sum())
    if dropped:
        warnings.warn(OutOfFrameWarning(dropped, len(pix), (h, w)), stacklevel=2)
    out = np.zeros((h, w), dtype=bool)
    keep = pix[inside]
    out[keep[:, 1], keep[:, 0]] = True
    return out


def _gauss_1d(n: int, centres: np.ndarray, sigma: float, radius: float | None) -> np.ndarray:
    """(n, k) matrix: unnormalised Gaussian of each centre sampled at 0..n-1, zero beyond radius."""
    d = np.arange(n, dtype=np.float64)[:, None] - centres[None, :].astype(np.float64)
    g = np.exp(-0.5 * (d / sigma) ** 2)
    if radius is not None:
        g[np.abs(d) > radius] = 0.0
    return g


def saliency_map(
    fixation_map: np.ndarray,
    sigma: float,
    truncate: float | None = None,
    *,
    border: str = "constant",
    shift: int = 0,
) -> np.ndarray:
    """Gaussian-blurred saliency map, divided by its maximum.

    Args:
        fixation_map: (H, W) bool, or a non-negative count map (LEDOV sums duplicate points).
        sigma: Gaussian sigma in pixels (see :func:`fwhm_to_sigma`).
        truncate: kernel radius in sigmas (a square window, as MATLAB's fspecial masks);
            None = no truncation, the Gaussian spans the whole frame.
        border: "constant" (zeros beyond the frame, DHF1K/LEDOV), "nearest" (MATLAB
            'replicate', Hollywood/UCF) or "reflect" (SALICON).
        shift: move every peak ``shift`` px right and down (DHF1K's coded +2 px).

    Returns:
        float32 (H, W) in [0, 1], max 1 (all zeros when there is no fixation).
    """
    if border not in BORDERS:
        raise ValueError(f"border must be one of {BORDERS}, got {border!r}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    fix = np.asarray(fixation_map)
    if fix.ndim != 2:
        raise ValueError(f"fixation_map must be 2-D (H, W), got shape {fix.shape}")
    weights = fix.astype(np.float64)
    if shift:
        shifted = np.zeros_like(weights)
        s = int(shift)
        shifted[s:, s:] = weights[: weights.shape[0] - s, : weights.shape[1] - s]
        weights = shifted
    h, w = weights.shape
    ys, xs = np.nonzero(weights)
    if len(ys) == 0:
        return np.zeros((h, w), dtype=np.float32)
    radius = None if truncate is None else float(truncate) * sigma
    if border == "constant" and len(ys) <= 4096:
        # Sum of separable Gaussians = Gy @ diag(w) @ Gx^T: exact and O(H*W*n) for n points.
        gy = _gauss_1d(h, ys, sigma, radius) * weights[ys, xs][None, :]
        gx = _gauss_1d(w, xs, sigma, radius)
        out = gy @ gx.T
    else:
        trunc = truncate if truncate is not None else (max(h, w) / sigma + 1.0)
        out = ndimage.gaussian_filter(weights, sigma, mode=border, truncate=trunc)
    peak = out.max()
    if peak > 0:
        out /= peak
    return out.astype(np.float32)


#: GT maps are stored as uint16 codes: value = code * MAP_SCALE (error <= 7.6e-6)
MAP_SCALE = 1.0 / 65535


def quantize_unit(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> uint16 codes ``round(v / MAP_SCALE)`` (same shape)."""
    return np.round(np.clip(values, 0.0, 1.0) * (1 / MAP_SCALE)).astype(np.uint16)
