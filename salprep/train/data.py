"""Training data read from store shards only (training never decodes video).

:class:`FrameFeatures` serves one item per annotated frame of the given videos: the features of
the I3D window that frame uses (entries of one or more ``i3d_*`` shards, concatenated on
channels; frames before the first window use the first window, LSTS) and the frame's GT map.
Shards are checked once, when the dataset is built; HDF5 handles are opened lazily, one set per
process (DataLoader workers each open their own).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from salprep.errors import SalprepError
from salprep.models.lsts import lsts_frame_features
from salprep.store import open_shard, stage_version

#: pooled Mixed_5c per window, as the LSTS decoder takes it
FEATURE_SHAPE = (1024, 5, 5, 5)
#: the LSTS decoder's output size (DHF1K frames)
TARGET_SIZE = (360, 640)


@dataclass(frozen=True)
class VideoShards:
    """The shards of one video a model reads: its GT and one shard per input stage."""

    video: str
    gt: Path
    inputs: dict[str, Path]


def video_shards(gt_paths: list[str | os.PathLike], stages: tuple[str, ...]) -> list[VideoShards]:
    """Each GT shard with its input stages' shards: ``store/<ds>/gt/<v>.h5`` ->
    ``store/<ds>/<stage>/<v>.h5`` (the store layout)."""
    out = []
    for gt in gt_paths:
        gt = Path(gt)
        out.append(VideoShards(gt.stem, gt, {s: gt.parent.parent / s / gt.name for s in stages}))
    return out


def check_feature_shard(path: Path, stage: str, n_frames: int) -> np.ndarray:
    """The shard's ``frame_index`` after checking type, version, feature shape and frame count."""
    with open_shard(path, stage) as h5:
        version = str(h5.attrs.get("stage_version"))
        if version != stage_version(stage):
            raise SalprepError(f"{stage} shard has stage_version {version!r}, current is "
                               f"{stage_version(stage)!r}: rebuild it", path)
        if "features" not in h5 or "frame_index" not in h5:
            raise SalprepError(f"{stage} shard lacks features or frame_index", path)
        shape = tuple(h5["features"].shape[1:])
        if shape != FEATURE_SHAPE:
            raise SalprepError(f"{stage} features are {shape} per window, the LSTS decoder takes {FEATURE_SHAPE} "
                               "(pool 5x5x5)", path)
        if int(h5.attrs["n_frames"]) != n_frames:
            raise SalprepError(f"{stage} shard has {int(h5.attrs['n_frames'])} frames, the GT shard {n_frames}", path)
        return h5["frame_index"][...]


class FrameFeatures(torch.utils.data.Dataset):
    """(features, target) per annotated frame.

    Items: ``features`` (C, 5, 5, 5) float32 (C = 1024 per input stage), ``target`` (1, 360, 640)
    float32 GT map in [0, 1] (resized bilinearly when the frames have another size).
    """

    def __init__(self, videos: list[VideoShards], stages: tuple[str, ...]):
        self.videos = list(videos)
        self.stages = tuple(stages)
        items = []
        for vi, v in enumerate(self.videos):
            with open_shard(v.gt, "gt") as h5:
                n_frames = int(h5.attrs["n_frames"])
            entries = [lsts_frame_features(check_feature_shard(v.inputs[s], s, n_frames), n_frames)
                       for s in self.stages]
            items += [(vi, t, *(e[t] for e in entries)) for t in range(n_frames)]
        if not items:
            raise SalprepError("no training frames", self.videos[0].gt if self.videos else "(no videos)")
        self.items = np.asarray(items, dtype=np.int64)  # (N, 2 + stages): video, frame, entry per stage
        self._handles: dict = {}
        self._pid = None

    def __len__(self) -> int:
        return len(self.items)

    def video_of(self) -> np.ndarray:
        """(N,) video position of every item (for per-video sampling)."""
        return self.items[:, 0]

    def _h5(self, path: Path, stage: str):
        if self._pid != os.getpid():  # a fresh process (DataLoader worker): its own handles
            self._handles, self._pid = {}, os.getpid()
        if path not in self._handles:
            self._handles[path] = open_shard(path, stage)
        return self._handles[path]

    def __getitem__(self, i: int):
        from salprep.store import read_scaled

        vi, t, *entries = (int(x) for x in self.items[i])
        v = self.videos[vi]
        feats = np.concatenate([self._h5(v.inputs[s], s)["features"][k] for s, k in zip(self.stages, entries)])
        target = torch.from_numpy(read_scaled(self._h5(v.gt, "gt")["maps"], t))[None]
        if tuple(target.shape[1:]) != TARGET_SIZE:
            target = torch.nn.functional.interpolate(target[None], size=TARGET_SIZE, mode="bilinear",
                                                     align_corners=False)[0]
        return torch.from_numpy(feats.astype(np.float32)), target

    def __getstate__(self):  # handles do not pickle (DataLoader workers reopen them)
        state = dict(self.__dict__)
        state["_handles"], state["_pid"] = {}, None
        return state


def epoch_order(dataset: FrameFeatures, epoch: int, seed: int, frames_per_video: int = 0) -> list[int]:
    """Item order of one epoch: every item shuffled, or ``frames_per_video`` random frames of each
    video (clip sampling); depends only on (seed, epoch)."""
    rng = np.random.default_rng([seed, epoch])
    if frames_per_video <= 0:
        return rng.permutation(len(dataset)).tolist()
    videos = dataset.video_of()
    picks = []
    for vi in np.unique(videos):
        idx = np.flatnonzero(videos == vi)
        picks.append(rng.choice(idx, size=min(frames_per_video, len(idx)), replace=False))
    return rng.permutation(np.concatenate(picks)).tolist()
