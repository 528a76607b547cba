"""LEDOV fixdata rows -> per-frame fixation points (demo.m / TestLEDOV.m, DATASETS.md §2)."""

from __future__ import annotations

import math

import numpy as np


# -- fixations ------------------------------------------------------------------------------------
def frame_intervals(start_ms: np.ndarray, duration_ms: np.ndarray, fps: float, n_frames: int):
    """1-based inclusive frame ranges [s, e] of fixations (demo.m): fd = 1000/fps, s = ceil(t/fd)
    clamped >= 1, e = ceil((t+d)/fd) clamped <= N. ``s > e`` means no frame (beyond the video)."""
    fd = 1000.0 / float(fps)  # the same double operations as MATLAB, so ceil ties agree
    t = np.asarray(start_ms, np.float64)
    d = np.asarray(duration_ms, np.float64)
    s = np.maximum(np.ceil(t / fd), 1).astype(np.int64)
    e = np.minimum(np.ceil((t + d) / fd), n_frames).astype(np.int64)
    return s, e


def centre_start_mask(fixdata: np.ndarray, width: int, height: int) -> np.ndarray:
    """True for the rows skipped as a subject's fixation-cross start (demo.m's ``beginflag``).

    A subject starts at row 0, where start times decrease, or where the subject id changes.
    From there rows are skipped until one lies outside both central bands -- |x - W/2| > c and
    |y - H/2| > c, c = round(H/20) (MATLAB round) -- and inside the frame (0 < x < W, 0 < y < H);
    that row and every later row of the subject are kept."""
    subj, t, x, y = fixdata[:, 0], fixdata[:, 1], fixdata[:, 3], fixdata[:, 4]
    c = math.floor(height / 20 + 0.5)
    ok = ((np.abs(x - width / 2) > c) & (np.abs(y - height / 2) > c)
          & (x > 0) & (x < width) & (y > 0) & (y < height))
    new = np.ones(len(t), bool)
    if len(t) > 1:
        new[1:] = (t[1:] < t[:-1]) | (subj[1:] != subj[:-1])
    skip = np.zeros(len(t), bool)
    started = False
    for k in range(len(t)):
        if new[k]:
            started = False
        if not started:
            if ok[k]:
                started = True
            else:
                skip[k] = True
    return skip


def fixations_per_frame(fixdata: np.ndarray, fps: float, n_frames: int, width: int, height: int) -> dict:
    """Per-frame 0-based points of LEDOV fixdata, as demo.m builds ``fixationPerFrame``.

    Returns:
        {"points": list of (N_t, 2) int64 (x, y) per frame (row order within a frame; duplicates
        kept), "out_of_frame": rows outside the frame, "beyond": in-frame rows with no frame of
        the video (start after its end, or no valid time), "skipped": centre-start rows (in-frame)}.
    """
    fix = np.asarray(fixdata, np.float64).reshape(-1, 5)
    x, y = fix[:, 3], fix[:, 4]
    timed = np.isfinite(fix[:, 1]) & np.isfinite(fix[:, 2])
    skip = centre_start_mask(fix, width, height)
    # 0 < x < W and 0 < y < H (1-based); floor(x) - 1 must also be a pixel (0 < x < 1 is not)
    inside = (x >= 1) & (x < width) & (y >= 1) & (y < height)
    out_of_frame = ~inside
    never = (n_frames + 1) * 1000.0 / float(fps)  # NaN times: no frame
    s, e = frame_intervals(np.where(timed, fix[:, 1], never), np.where(timed, fix[:, 2], 0.0), fps, n_frames)
    use = ~skip & inside
    beyond = use & (s > e)
    use &= s <= e
    rows = np.nonzero(use)[0]
    lengths = (e[rows] - s[rows] + 1).astype(np.int64)
    row_of = np.repeat(rows, lengths)
    first = np.repeat(s[rows] - 1, lengths)
    offset = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    frame = first + offset
    order = np.argsort(frame, kind="stable")
    frame, row_of = frame[order], row_of[order]
    px = np.stack([np.floor(x[row_of]), np.floor(y[row_of])], axis=1).astype(np.int64) - 1
    bounds = np.searchsorted(frame, np.arange(n_frames + 1))
    points = [px[bounds[k]:bounds[k + 1]] for k in range(n_frames)]
    return {"points": points, "out_of_frame": int(out_of_frame.sum()), "beyond": int(beyond.sum()),
            "skipped": int((skip & inside).sum())}


