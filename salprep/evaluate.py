"""The DHF1K evaluation protocol (evaluationFunc.m) over GT shards, parallel over videos with Dask.

Protocol (METRICS.md): every GT frame of every video of the split, a random ``max_frames`` of
them if there are more; predictions resized to the GT frame size; CC/SIM/KLD against the
continuous GT map (the published map / 255 when the shard carries it, else the built map),
AUC-Judd/NSS against the binary fixation map; sAUC's other map merges the fixations of
``n_other`` frames drawn without replacement from the whole evaluated frame list; one score per
frame and metric, NaNs dropped, mean over all frames (frame-level pooling).

What each frame contributes follows from the metric definitions (METRICS.md edge cases): a score
that is NaN is dropped from that metric's mean, so a metric's mean is over its ``n_scored``
frames, which can be fewer than ``n_frames``. A frame without fixations scores NaN on AUC-Judd,
sAUC and NSS (nothing to score against); it still enters CC/SIM/KLD, which compare continuous
maps, unless that map is constant (CC/SIM NaN). A prediction holding NaN or an infinity scores
NaN on every metric; a constant one on NSS, CC, sAUC (and SIM unless it is all zero). Every such count is
reported (``n_scored`` per metric, and :func:`nan_causes` lines), never silently averaged away.

Randomness (frame subsample, other-map draws, AUC jitter, sAUC splits) comes from ``seed``
only, per frame, so results do not depend on scheduling or worker count.

Scheduling (:func:`compute`): one Dask task per video (predict its sampled frames, read its GT
frames, score them), run by local worker processes by default (``processes``), or ``threads``,
``sync`` (serial, in this process), or a ``dask.distributed`` scheduler at an address
(``tcp://host:8786``) whose workers see the same paths. Tasks carry shard paths, not data.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import dask
import numpy as np

from salprep.errors import SalprepError
from salprep.progress import dask_progress, progress
from salprep.metrics import METRICS, all_metrics
from salprep.models.predictor import PriorPredictor  # noqa: F401 (a Predictor, re-exported here)
from salprep.store import open_shard, read_scaled

#: Dask schedulers by name; anything else is taken as a dask.distributed scheduler address
LOCAL_SCHEDULERS = ("processes", "threads", "sync")
#: continuous GT for CC/SIM/KLD: published maps when the shard has them, published, or built
GT_MAPS = ("auto", "shipped", "built")
#: how long to try reaching a dask.distributed scheduler
CONNECT_TIMEOUT = "10s"


@dataclass
class GTVideo:
    """Index entry of one GT shard: what the protocol needs before reading any map."""

    path: Path
    video: str
    n_frames: int
    shape: tuple[int, int]
    points: np.ndarray  # (N, 3) int32: frame, y, x — sorted by frame
    has_shipped: bool

    def frame_points(self, t: int) -> np.ndarray:
        """(n, 2) int (y, x) of fixated pixels of frame t."""
        lo, hi = np.searchsorted(self.points[:, 0], [t, t + 1])
        return self.points[lo:hi, 1:]


class Predictor(Protocol):
    """Anything that gives a saliency map for a frame of a video."""

    def predict(self, video: GTVideo, frames: np.ndarray) -> np.ndarray:
        """Maps for ``frames`` (K,) of ``video``: float (K, h, w), any h, w, any positive scale."""


def load_gt_index(paths: list[str | Path]) -> list[GTVideo]:
    index = []
    for path in paths:
        with open_shard(path, "gt", stored=True) as h5:
            pts = h5["fixation_points"][...]
            order = np.argsort(pts[:, 0], kind="stable")
            index.append(GTVideo(
                Path(path), str(h5.attrs["video"]), int(h5.attrs["n_frames"]),
                tuple(h5["maps"].shape[1:]), pts[order], "shipped_maps" in h5,
            ))
    shapes = {v.shape for v in index}
    if len(shapes) > 1:
        # the merged sAUC other map needs one frame size (DHF1K: 360x640 throughout)
        raise SalprepError(f"GT shards of one split have different frame sizes {sorted(shapes)}",
                           index[0].path.parent)
    return index


def sample_frames(index: list[GTVideo], max_frames: int, seed: int) -> np.ndarray:
    """(K, 2) int64 (video index, frame) of the evaluated frames, sorted."""
    frames = np.concatenate([
        np.stack([np.full(v.n_frames, i), np.arange(v.n_frames)], axis=1) for i, v in enumerate(index)
    ]) if index else np.zeros((0, 2), dtype=np.int64)
    if len(frames) > max_frames:
        rng = np.random.default_rng([seed, 0xF4A3])
        keep = np.sort(rng.choice(len(frames), size=max_frames, replace=False))
        frames = frames[keep]
    return frames.astype(np.int64)


def other_map(index: list[GTVideo], frames: np.ndarray, n_other: int, rng: np.random.Generator) -> np.ndarray:
    """Count map of the fixations of ``n_other`` frames drawn from ``frames`` without replacement."""
    shape = index[0].shape
    picks = rng.choice(len(frames), size=min(n_other, len(frames)), replace=False)
    out = np.zeros(shape, dtype=np.float64)
    for vi, t in frames[picks]:
        yx = index[vi].frame_points(int(t))
        np.add.at(out, (yx[:, 0], yx[:, 1]), 1.0)
    return out


#: per-frame causes of NaN scores, counted beside the scores (columns after :data:`METRICS`)
CAUSES = ("no_fixations", "nonfinite_prediction", "constant_prediction")


def _score_video(vi: int, index, all_frames, predictor, gt_maps, n_other, n_splits, step, seed):
    """(K, len(METRICS) + len(CAUSES)) float: the scores of the video's sampled frames, then a
    0/1 flag per cause of :data:`CAUSES`."""
    video = index[vi]
    frames = all_frames[all_frames[:, 0] == vi][:, 1]
    if len(frames) == 0:
        return np.zeros((0, len(METRICS) + len(CAUSES)))
    preds = predictor.predict(video, frames)
    if len(preds) != len(frames):
        raise RuntimeError(f"predictor returned {len(preds)} maps for {len(frames)} frames")
    use_shipped = gt_maps == "shipped" or (gt_maps == "auto" and video.has_shipped)
    if use_shipped and not video.has_shipped:
        raise SalprepError("no published maps in this GT shard (use gt_maps built)", video.path)
    rows = np.empty((len(frames), len(METRICS) + len(CAUSES)))
    with open_shard(video.path, "gt") as h5:
        for k, t in enumerate(frames):
            t = int(t)
            fix = h5["fixations"][t]
            gt_map = h5["shipped_maps"][t] / 255.0 if use_shipped else read_scaled(h5["maps"], t)
            rng = np.random.default_rng([seed, vi, t])
            other = other_map(index, all_frames, n_other, rng)
            scores = all_metrics(preds[k], fix, gt_map, other, rng=rng, n_splits=n_splits, step_size=step)
            # min and max carry any NaN or infinity: two passes tell finite and constant apart
            lo, hi = float(np.min(preds[k])), float(np.max(preds[k]))
            finite = math.isfinite(lo) and math.isfinite(hi)
            rows[k] = [scores[m] for m in METRICS] + [not fix.any(), not finite, finite and lo == hi]
    return rows


def evaluate_split(
    gt_paths: list[str | Path],
    predictor: Predictor,
    *,
    max_frames: int = 50_000,
    n_other: int = 10,
    n_splits: int = 100,
    step_size: float = 0.1,
    gt_maps: str = "auto",
    seed: int = 0,
    workers: int | None = None,
    scheduler: str = "processes",
    progress: bool = True,
) -> dict:
    """Score ``predictor`` on the GT shards of one split.

    The keyword defaults are the protocol's and the one statement of them for the library and
    ``salprep evaluate`` (the workflow's schema states the same: tests/test_defaults.py).
    ``workers`` None: one per core; ``scheduler``: :data:`LOCAL_SCHEDULERS` or a
    ``dask.distributed`` scheduler address.

    Returns:
        {"summary": {metric: mean, ..., "n_frames": K, "n_scored": {metric: frames in its mean}},
        "per_frame": list of dicts with video, frame and the six scores, "per_video": {video:
        {metric: mean, "n_frames": k, "n_scored": {...}}}, "causes": {cause: frames} (only
        causes that occurred, :data:`CAUSES`), "index": the split's :class:`GTVideo` entries}
    """
    if gt_maps not in GT_MAPS:
        raise ValueError(f"gt_maps must be auto, shipped or built, got {gt_maps!r}")
    if n_other < 1:
        raise SalprepError(f"n_other must be at least 1 (sAUC needs fixations of other frames), got {n_other}")
    index = load_gt_index(gt_paths)
    frames = sample_frames(index, max_frames, seed)
    if len(frames) == 0:
        raise SalprepError("no frames to evaluate", gt_paths[0] if gt_paths else "(no GT shards)")
    tasks = [
        dask.delayed(_score_video)(vi, index, frames, predictor, gt_maps, n_other, n_splits, step_size, seed)
        for vi in range(len(index))
    ]
    results = compute(tasks, scheduler, workers or os.cpu_count() or 1, show_progress=progress)
    per_frame, per_video = [], {}
    for vi, rows in enumerate(results):
        vframes = frames[frames[:, 0] == vi][:, 1]
        for t, row in zip(vframes, rows):
            per_frame.append({"video": index[vi].video, "frame": int(t), **dict(zip(METRICS, map(float, row)))})
        if len(rows):
            per_video[index[vi].video] = _pool(rows)
    all_rows = np.concatenate([r for r in results if len(r)])
    flags = all_rows[:, len(METRICS):].astype(bool)
    causes = {c: int(n) for c, n in zip(CAUSES, flags.sum(axis=0)) if n}
    return {"summary": _pool(all_rows), "per_frame": per_frame, "per_video": per_video, "causes": causes,
            "index": index}


def nan_causes(summary: dict, causes: dict) -> list[str]:
    """One line per cause of frames missing from a metric's mean (empty when every frame entered
    every mean): counts of :data:`CAUSES`, and any other NaN (e.g. an all-zero built GT map)."""
    k = summary["n_frames"]
    lines = []
    if causes.get("no_fixations"):
        lines.append(f"{causes['no_fixations']} of {k} frames have no fixations: they enter no AUC-Judd, sAUC "
                     "or NSS mean")
    if causes.get("nonfinite_prediction"):
        lines.append(f"{causes['nonfinite_prediction']} of {k} predictions hold NaN or an infinity: those "
                     "frames enter no mean")
    if causes.get("constant_prediction"):
        lines.append(f"{causes['constant_prediction']} of {k} predictions are constant maps: NSS, CC and "
                     "sAUC are NaN for them (SIM too unless the map is all zero)")
    short = {m: n for m, n in summary["n_scored"].items() if n < k}
    if short and not lines:
        lines.append("some scores are NaN (METRICS.md edge cases): " + ", ".join(
            f"{m} over {n} of {k} frames" for m, n in short.items()))
    elif short:
        lines.append("so the means are over: " + ", ".join(f"{m} {n}" for m, n in short.items())
                     + f" of {k} frames")
    return lines


def compute(tasks: list, scheduler: str = "threads", workers: int = 1, *, show_progress: bool = True) -> list:
    """Results of Dask ``tasks`` (delayed), in order, on ``scheduler`` (:data:`LOCAL_SCHEDULERS`
    with ``workers`` workers, or a ``dask.distributed`` scheduler address), with a tqdm bar."""
    if scheduler in LOCAL_SCHEDULERS:
        with dask_progress(desc="evaluate", unit="video", enabled=show_progress):
            return list(dask.compute(*tasks, scheduler=scheduler, num_workers=max(1, workers)))
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SalprepError(f"--scheduler {scheduler}: dask.distributed is not installed "
                           "(pip install distributed)") from None
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SalprepError(f"cannot reach the Dask scheduler at {scheduler!r}: {str(exc).splitlines()[0]}") from None
    with client:
        futures = client.compute(tasks)
        done = as_completed(futures, loop=client.loop)
        for _ in progress(done, total=len(futures), desc="evaluate", unit="video", enabled=show_progress):
            pass
        return client.gather(futures)


def _pool(rows: np.ndarray) -> dict:
    """Mean of each metric over frames, NaN scores dropped (NaN if all are NaN), ``n_frames``
    and ``n_scored`` (metric -> the frames that entered its mean)."""
    out, scored = {}, {}
    for j, name in enumerate(METRICS):
        col = rows[:, j]
        col = col[~np.isnan(col)]
        out[name] = float(col.mean()) if len(col) else math.nan
        scored[name] = int(len(col))
    return {**out, "n_frames": int(len(rows)), "n_scored": scored}
