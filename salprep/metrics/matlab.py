"""MATLAB's primitives as the MIT benchmark code uses them: ``eps``, ``imresize`` and ``0:step:end``.

The metric definitions (:mod:`salprep.metrics.definitions`) and the machinery that speeds them up
both rest on these three, ported to give MATLAB's values (METRICS.md):

- :data:`EPS`, MATLAB's ``eps`` = 2**-52;
- :func:`resize_to`, ``imresize(map, shape)`` (bicubic, antialiased), used when a prediction's
  shape differs from the ground truth's;
- :func:`colon` and :func:`colon_grid`, MATLAB's ``0:step:end`` (sAUC's thresholds), built with
  MATLAB's own construction rather than ``np.arange``, whose end point and rounding differ.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = ["EPS", "colon", "colon_grid", "resize_to"]

EPS: float = 2.0**-52
"""MATLAB's ``eps`` (2.220446049250313e-16)."""


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic kernel with a = -0.5 (MATLAB imresize's ``cubic``)."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1.0) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1.0) & (ax <= 2.0)
    )


@lru_cache(maxsize=32)
def _contributions(in_len: int, out_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights and 0-based input indices, both (taps, out_len), of imresize's 1-D bicubic step.

    As MATLAB's ``contributions``: output pixel x (1-based) samples input coordinate
    u = x / scale + (1 - 1 / scale) / 2; when shrinking (scale < 1) the kernel is widened by
    1 / scale and scaled by scale (antialiasing); weights are normalised per output pixel; input
    indices outside [1, in_len] are clamped (replicated edge pixels); taps whose weight is zero
    for every output pixel are dropped. Returned arrays are read-only (cached).
    """
    scale = out_len / in_len
    width = 4.0
    if scale < 1.0:
        width /= scale

        def kernel(t: np.ndarray) -> np.ndarray:
            return scale * _cubic(scale * t)

    else:
        kernel = _cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    w = kernel(u[:, None] - idx)
    w /= w.sum(axis=1, keepdims=True)
    idx = np.clip(idx, 1, in_len).astype(np.intp) - 1
    keep = np.any(w != 0.0, axis=0)
    w, idx = np.ascontiguousarray(w[:, keep].T), np.ascontiguousarray(idx[:, keep].T)
    w.setflags(write=False)
    idx.setflags(write=False)
    return w, idx


def _resample_rows(a: np.ndarray, out_len: int) -> np.ndarray:
    """Resample axis 0 of a 2-D float64 array to ``out_len`` (sum over taps, in tap order)."""
    w, idx = _contributions(a.shape[0], out_len)
    out = np.zeros((out_len, a.shape[1]), dtype=np.float64)
    for t in range(w.shape[0]):
        term = a[idx[t]]
        term *= w[t][:, None]
        out += term
    return out


def resize_to(map: npt.ArrayLike, shape: tuple[int, int]) -> np.ndarray:  # noqa: A002 - contract name
    """Resize a 2-D map to ``shape`` like MATLAB ``imresize(map, shape)`` (bicubic, antialiased).

    Keys' cubic kernel (a = -0.5), widened by 1/scale when shrinking, weights normalised per
    output pixel, replicated (clamped) edge pixels; rows and columns are resampled separately,
    the dimension with the smaller scale factor first (as MATLAB does). This is the construction
    METRICS.md reports reproducing MATLAB's values to 5e-9 (replicated, not mirrored, edges);
    torch's antialiased bicubic agrees with it away from the border.

    Args:
        map: (h, w) array of any real dtype; cast to float64 (no uint8 rounding of the result).
        shape: (H, W) output shape, positive ints.

    Returns:
        (H, W) float64 array, always a new array (also when the shape is already ``shape``).
    """
    a = np.asarray(map)
    if a.ndim != 2:
        raise ValueError(f"resize_to needs a 2-D map, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"resize_to got an empty map of shape {a.shape}")
    out_h, out_w = (int(v) for v in shape)
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"resize_to needs a positive shape, got {tuple(shape)}")
    a = a.astype(np.float64, copy=True)
    in_h, in_w = a.shape
    steps = []
    if in_h != out_h:
        steps.append((out_h / in_h, 0))
    if in_w != out_w:
        steps.append((out_w / in_w, 1))
    steps.sort(key=lambda st: st[0])  # stable: rows first on equal scales, as MATLAB's sort
    for _, axis in steps:
        if axis == 0:
            a = _resample_rows(a, out_h)
        else:
            a = _resample_rows(np.ascontiguousarray(a.T), out_w).T
    return np.ascontiguousarray(a)


def colon_grid(step: float, ends: np.ndarray, sentinels: bool = False) -> np.ndarray:
    """Row s = MATLAB's ``0:step:ends[s]`` (ascending), padded with +inf to a common length.

    MATLAB's construction (METRICS.md): n intervals from round(b/step), minus one if n*step
    overshoots b by more than 2*eps*b; the end point is b itself when n*step is within that
    tolerance; the first half of the list is k*step, the second half end - k*step, and the
    middle element (n even) is end / 2. (a = 0 simplifies MATLAB's a + ... terms exactly.)
    With ``sentinels`` every row also starts with -inf and ends with at least one +inf.
    """
    tol = (2.0 * EPS) * ends
    if step == 1.0:
        n = np.floor(ends)
    elif step == math.floor(step):
        n = np.floor(ends / step)
    else:
        q = ends / step
        n = np.floor(q)
        n += q - n >= 0.5  # MATLAB round, q >= 0
        n -= n * step - ends > tol
    last = n * step
    np.copyto(last, ends, where=ends - last < tol)  # MATLAB: last - b > -tol (same rounding)
    n = n.astype(np.intp)
    width = int(n.max()) + 1
    j = np.arange(-1, width + 1) if sentinels else np.arange(width)
    nn = n[:, None]
    k = nn - j  # intervals left to the end
    grid = last[:, None] - k * step  # second half: end - k*step
    np.copyto(grid, j * step, where=2 * j <= nn)  # first half: j*step
    np.copyto(grid, last[:, None] / 2.0, where=2 * j == nn)  # middle
    grid[k < 0] = np.inf
    if sentinels:
        grid[:, 0] = -np.inf
    return grid


def colon(step: float, end: float) -> np.ndarray:
    """MATLAB's ``0:step:end`` for one end >= 0: the one row of :func:`colon_grid`."""
    return colon_grid(step, np.array([end], dtype=np.float64))[0]
