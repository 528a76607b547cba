"""Optical flow as colour: the Middlebury colour wheel (Baker et al., "A Database and Evaluation
Methodology for Optical Flow", IJCV 2011).

Hue encodes the direction and saturation the magnitude: zero flow is white, a flow of the
normalising magnitude gets the fully saturated wheel colour. In image coordinates (y down):
right (+dx) is red, down (+dy) yellow-green, left cyan-blue, up blue-magenta.
"""

from __future__ import annotations

import numpy as np

__all__ = ["flow_to_color", "color_wheel"]

# number of hue steps between the wheel's primary / secondary colours
_SEGMENTS = (
    # (steps, start RGB, end RGB)
    (15, (255, 0, 0), (255, 255, 0)),  # red -> yellow
    (6, (255, 255, 0), (0, 255, 0)),  # yellow -> green
    (4, (0, 255, 0), (0, 255, 255)),  # green -> cyan
    (11, (0, 255, 255), (0, 0, 255)),  # cyan -> blue
    (13, (0, 0, 255), (255, 0, 255)),  # blue -> magenta
    (6, (255, 0, 255), (255, 0, 0)),  # magenta -> red
)


def color_wheel() -> np.ndarray:
    """The 55 wheel colours, (55, 3) float in [0, 255], starting at red (flow pointing right)."""
    rows = []
    for steps, start, end in _SEGMENTS:
        t = np.arange(steps, dtype=np.float64)[:, None] / steps
        # integer steps as in the reference wheel: floor(255 * i / steps) along the ramp
        ramp = np.floor(255.0 * t) / 255.0
        start, end = np.asarray(start, float), np.asarray(end, float)
        rows.append(start + ramp * (end - start))
    return np.concatenate(rows, axis=0)


def _as_hw2(flow) -> np.ndarray:
    if hasattr(flow, "detach"):  # torch tensor
        flow = flow.detach().cpu().numpy()
    flow = np.asarray(flow)
    if flow.ndim != 3:
        raise ValueError(f"flow: expected shape (H, W, 2) or (2, H, W), got {flow.shape}")
    if flow.shape[-1] == 2:
        pass
    elif flow.shape[0] == 2:
        flow = np.moveaxis(flow, 0, -1)
    else:
        raise ValueError(f"flow: expected shape (H, W, 2) or (2, H, W), got {flow.shape}")
    if not (np.issubdtype(flow.dtype, np.floating) or np.issubdtype(flow.dtype, np.integer)):
        raise ValueError(f"flow: expected a numeric dtype, got {flow.dtype}")
    return flow.astype(np.float64)


def flow_to_color(flow, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-code a flow field with the Middlebury colour wheel.

    Args:
        flow: (H, W, 2) or (2, H, W) flow in pixels, [..., 0] = dx, [..., 1] = dy (image axes,
            y down); numpy array (a torch tensor is moved to the CPU). A (2, H, 2) array is read
            as (H, W, 2).
        max_magnitude: magnitude drawn fully saturated. None: the largest finite magnitude in
            ``flow`` (all-zero flow stays white). Larger magnitudes (only possible when given) keep
            the saturated hue, darkened to 75%.

    Returns:
        (H, W, 3) uint8 RGB. Non-finite flow vectors are drawn black.
    """
    f = _as_hw2(flow)
    dx, dy = f[..., 0], f[..., 1]
    bad = ~(np.isfinite(dx) & np.isfinite(dy))
    dx = np.where(bad, 0.0, dx)
    dy = np.where(bad, 0.0, dy)
    mag = np.hypot(dx, dy)
    if max_magnitude is None:
        scale = float(mag.max()) if mag.size else 0.0
    else:
        if isinstance(max_magnitude, bool) or not np.isfinite(max_magnitude) or max_magnitude <= 0:
            raise ValueError(f"max_magnitude: expected a number > 0 or None, got {max_magnitude!r}")
        scale = float(max_magnitude)
    rad = mag / scale if scale > 0 else np.zeros_like(mag)

    wheel = color_wheel() / 255.0
    n = wheel.shape[0]
    # angle measured so that +dx maps to wheel position 0 (red), increasing clockwise on screen
    angle = np.arctan2(-dy, -dx) / np.pi  # in [-1, 1]; -1 / 1 both mean "pointing right"
    pos = (angle + 1.0) / 2.0 * (n - 1)
    k0 = np.floor(pos).astype(np.int64)
    frac = (pos - k0)[..., None]
    k0 = np.clip(k0, 0, n - 1)
    k1 = (k0 + 1) % n
    col = (1.0 - frac) * wheel[k0] + frac * wheel[k1]
    inside = (rad <= 1.0)[..., None]
    col = np.where(inside, 1.0 - rad[..., None] * (1.0 - col), col * 0.75)
    out = np.floor(255.0 * col).astype(np.uint8)
    out[bad] = 0
    return out
