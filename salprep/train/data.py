"""Training data read from store shards only (training never decodes video).

:class:`FrameFeatures` serves one item per annotated frame of the given videos: the model's
inputs for that frame -- the features of the I3D window it uses (LSTS: frames before the first
window use the first window), or the stored RGB frame with the depth / flow of the last sampled
frame (SalBCE) -- and the frame's GT map.
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
from salprep.models.registry import INPUT_CHANNELS, LSTS_SIZE
from salprep.store import open_shard

#: pooled Mixed_5c per window, as the LSTS decoder takes it
FEATURE_SHAPE = (1024, 5, 5, 5)


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


#: flow_spynet vectors are clipped to +-FLOW_BOUND px and divided by it: model inputs in [-1, 1]
FLOW_BOUND = 20.0


def check_feature_shard(path: Path, stage: str, n_frames: int) -> np.ndarray:
    """An input shard's ``frame_index`` after checking its type, version and frame count (and,
    for I3D, that it holds the LSTS decoder's 1024x5x5x5 features)."""
    data = {"i3d_rgb": "features", "i3d_flow": "features", "frames": "frames", "depth": "disparity",
            "flow_spynet": "flow"}[stage]
    with open_shard(path, stage, current=True, stored=True) as h5:
        if data not in h5 or "frame_index" not in h5:
            raise SalprepError(f"{stage} shard lacks {data} or frame_index", path)
        if data == "features" and tuple(h5["features"].shape[1:]) != FEATURE_SHAPE:
            raise SalprepError(f"{stage} features are {tuple(h5['features'].shape[1:])} per window, the LSTS "
                               f"decoder takes {FEATURE_SHAPE} (pool 5x5x5)", path)
        if int(h5.attrs["n_frames"]) != n_frames:
            raise SalprepError(f"{stage} shard has {int(h5.attrs['n_frames'])} frames, the GT shard {n_frames}", path)
        return h5["frame_index"][...]


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(C, h, w) -> (C, H, W), bilinear (align_corners=False); unchanged at that size."""
    if tuple(x.shape[1:]) == tuple(size):
        return x
    return torch.nn.functional.interpolate(x[None], size=size, mode="bilinear", align_corners=False)[0]




def read_input(h5, stage: str, entry: int, size: tuple[int, int] | None) -> torch.Tensor:
    """One stage's model input for one entry, float32.

    i3d_*: (1024, 5, 5, 5) pooled features; frames: (3, H, W) RGB in [0, 1]; depth: (1, H, W)
    disparity in (0, 1); flow_spynet: (2, H, W) flow clipped to +-FLOW_BOUND px / FLOW_BOUND, in
    [-1, 1] (vectors rescaled when resized). ``size`` (H, W): the image size (not for i3d).
    """
    if stage.startswith("i3d_"):
        return torch.from_numpy(h5["features"][entry].astype(np.float32))
    if stage == "frames":
        x = torch.from_numpy(h5["frames"][entry]).permute(2, 0, 1).float().div_(255)
    elif stage == "depth":
        x = torch.from_numpy(h5["disparity"][entry].astype(np.float32))[None]
    elif stage == "flow_spynet":
        x = torch.from_numpy(h5["flow"][entry].astype(np.float32))
        if size is not None and tuple(x.shape[1:]) != tuple(size):
            ratio = torch.tensor([size[1] / x.shape[2], size[0] / x.shape[1]]).view(2, 1, 1)
            x = _resize(x, size) * ratio
        x = x.clamp(-FLOW_BOUND, FLOW_BOUND) / FLOW_BOUND
    else:
        raise SalprepError(f"stage {stage!r} is not a model input")
    return x if size is None else _resize(x, size)


class FrameFeatures(torch.utils.data.Dataset):
    """(inputs, target) per annotated frame, read from shards only.

    For each frame t every input stage gives its latest entry at or before t (the first entry
    for earlier frames): the I3D window ending there (LSTS), the depth/flow of the last sampled
    frame (held in between, SalBCE). Items: ``inputs`` float32 -- I3D stages (C, 5, 5, 5) with C
    = 1024 per stage; image stages (C, H, W) with the channels of :func:`read_input` in stage
    order, at the ``frames`` size -- and ``target`` (1, H, W) GT map in [0, 1] at
    ``target_size`` (default: the frames size, else LSTS's 360x640), resized bilinearly.
    """

    def __init__(self, videos: list[VideoShards], stages: tuple[str, ...],
                 target_size: tuple[int, int] | None = None):
        self.videos = list(videos)
        self.stages = tuple(stages)
        items = []
        self.image_size = None
        for vi, v in enumerate(self.videos):
            with open_shard(v.gt, "gt", stored=True) as h5:
                n_frames = int(h5.attrs["n_frames"])
            entries = [lsts_frame_features(check_feature_shard(v.inputs[s], s, n_frames), n_frames)
                       for s in self.stages]
            items += [(vi, t, *(e[t] for e in entries)) for t in range(n_frames)]
            if "frames" in self.stages and self.image_size is None:
                with open_shard(v.inputs["frames"], "frames") as h5:
                    self.image_size = tuple(h5["frames"].shape[1:3])
        if not items:
            raise SalprepError("no training frames", self.videos[0].gt if self.videos else "(no videos)")
        self.target_size = tuple(target_size or self.image_size or LSTS_SIZE)
        self.items = np.asarray(items, dtype=np.int64)  # (N, 2 + stages): video, frame, entry per stage
        self._handles: dict = {}
        self._pid = None

    def __len__(self) -> int:
        return len(self.items)

    def video_of(self) -> np.ndarray:
        """(N,) video position of every item (for per-video sampling)."""
        return self.items[:, 0]

    def flow_channel(self) -> int | None:
        """Channel of the flow's dx in :meth:`inputs` (dy follows), or None without a flow stage."""
        offset = 0
        for stage in self.stages:
            if stage == "flow_spynet":
                return offset
            offset += INPUT_CHANNELS[stage]
        return None

    def input_key(self, i: int) -> tuple:
        """What item ``i``'s inputs are made of (video, entry per stage): equal keys, equal inputs."""
        return (int(self.items[i, 0]), *(int(e) for e in self.items[i, 2:]))

    def _h5(self, path: Path, stage: str):
        if self._pid != os.getpid():  # a fresh process (DataLoader worker): its own handles
            self._handles, self._pid = {}, os.getpid()
        if path not in self._handles:
            self._handles[path] = open_shard(path, stage)
        return self._handles[path]

    def inputs(self, i: int) -> torch.Tensor:
        """Item ``i``'s inputs (see the class); an entry holding NaN or an infinity (no stage
        writes one: a damaged or foreign shard) is refused with one line naming its shard."""
        vi, _, *entries = (int(x) for x in self.items[i])
        v = self.videos[vi]
        parts = []
        for s, k in zip(self.stages, entries):
            x = read_input(self._h5(v.inputs[s], s), s, k, self.image_size)
            if not bool(torch.isfinite(x).all()):
                raise SalprepError(f"{s} shard holds NaN/Inf values in entry {k}: no stage writes them; rebuild "
                                   "it ('salprep verify' lists every such shard)", v.inputs[s])
            parts.append(x)
        return torch.cat(parts)

    def target(self, i: int) -> torch.Tensor:
        """Item ``i``'s GT map: (1, H, W) float32 in [0, 1] at ``target_size``."""
        from salprep.store import read_scaled

        vi, t = int(self.items[i, 0]), int(self.items[i, 1])
        target = torch.from_numpy(read_scaled(self._h5(self.videos[vi].gt, "gt")["maps"], t))[None]
        return _resize(target, self.target_size)

    def __getitem__(self, i: int):
        return self.inputs(i), self.target(i)

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
