"""LEDOV layout (Jiang et al., ECCV 2018 "DeepVS"): one folder per video.

```
<root>/<name>/<name>.mp4         the video (names like animal_alpaca01, human_*, manmade_*)
<root>/<name>/Data.mat           struct Data: VideoName, VideoFrameRate, VideoFrames, VideoSize = [W H],
                                 fixdata (N x 5: subject, start ms, duration ms, x, y; 1-based, top-left)
<root>/namelist.mat              MAT v5: trainlist, vaildlist (sic), testlist = 1-based indices into ...
<root>/VideoNameList.mat         MAT v7.3 (HDF5): cell array of the video names
```
Fixations become per-frame points as ``demo.m`` / ``metrics/TestLEDOV.m`` do (DATASETS.md §2): frame k
(1-based) covers ((k-1)*fd, k*fd] with fd = 1000/fps ms; the fixation-cross start of every subject is
skipped; points are 0-based ``floor(x) - 1`` and duplicates add (``combine = "count"``).
"""

from __future__ import annotations

import logging
from pathlib import Path


from salprep.errors import SalprepError

from salprep.datasets.base import FrameInfo, VideoDataset, VideoFixations
from salprep.datasets.ledov.fixations import centre_start_mask, fixations_per_frame, frame_intervals
from salprep.datasets.ledov.matfiles import (
    DATA_FIELDS,
    DATA_MAT,
    NAMELIST_KEYS,
    NAMELIST_MAT,
    VIDEO_NAME_LIST_MAT,
    VIDEO_SUFFIXES,
    _plain,
    load_mat,
    parse_name_splits,
    read_data_mat,
    read_namelist_splits,
    read_video_name_list,
)

log = logging.getLogger(__name__)

class LEDOV(VideoDataset):
    """``<root>/<name>/<name>.mp4`` + ``<name>/Data.mat``; splits from ``namelist.mat``
    (overridden by a config ``splits``: split -> list of names or "a,b,c")."""

    layout = "ledov"
    gt_preset = "ledov"
    fixation_sources = ("datamat",)
    expected_layout = "'<name>/<name>.mp4 + <name>/Data.mat' folders (with namelist.mat, VideoNameList.mat)"

    def __init__(self, root, splits=None):
        self._namelist = None
        super().__init__(root, splits)
        self._cache: dict = {}

    # -- splits: the config's, else namelist.mat's (read when first needed) ---------------------
    def parse_splits(self, spec):
        return parse_name_splits(spec)

    def default_splits(self) -> dict[str, list[str]]:
        if self._namelist is None:
            if not (self.root / NAMELIST_MAT).is_file():
                return {}
            self._namelist = read_namelist_splits(self.root)
        return self._namelist

    # -- the root -------------------------------------------------------------------------------
    def missing_from_root(self):
        if not self.root.is_dir():
            return "the root folder itself"
        if (self.root / NAMELIST_MAT).is_file():
            return None
        if any((p / DATA_MAT).is_file() for p in self.root.iterdir() if p.is_dir()):
            return None
        return f"<name>/{DATA_MAT} video folders (or {NAMELIST_MAT})"

    # -- videos -----------------------------------------------------------------------------------
    def videos(self, split=None):
        if split is None:
            if not self.root.is_dir():
                return []
            found = []
            for p in self.root.iterdir():
                if not p.is_dir():
                    continue
                try:
                    _plain(p.name)
                except SalprepError:
                    continue
                if (p / DATA_MAT).is_file() or any((p / f"{p.name}{sfx}").is_file() for sfx in VIDEO_SUFFIXES):
                    found.append(p.name)
            return sorted(found)
        splits = self.splits
        if split not in splits:
            if not splits and self.configured_splits is None:
                raise SalprepError(f"no split {split!r}: no {NAMELIST_MAT} and no splits configured", self.root)
        return self.split_videos(split)

    def video_path(self, video):
        folder = self.root / _plain(video)
        for suffix in VIDEO_SUFFIXES:
            candidate = folder / f"{video}{suffix}"
            if candidate.is_file():
                return candidate
        return folder / f"{video}.mp4"

    def frame_rate(self, video):
        path = self._data_path(video)
        if not path.is_file():
            return None
        return self._data(video)["VideoFrameRate"]

    # -- annotations ------------------------------------------------------------------------------
    def _data_path(self, video) -> Path:
        return self.root / _plain(video) / DATA_MAT

    def _data(self, video) -> dict:
        path = self._data_path(video)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise SalprepError(f"annotation file not found (expected <name>/{DATA_MAT})", path) from None
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key not in self._cache:
            self._cache = {key: read_data_mat(path)}  # one video at a time
        return self._cache[key]

    def has_annotations(self, video):
        return self._data_path(video).is_file()

    def annotation_dir(self, video):
        return self.root / _plain(video)

    def annotation_files(self, video):
        path = self._data_path(video)
        return [path] if path.is_file() else []

    def shipped_map_files(self, video):
        return []

    def fixations(self, video, info: FrameInfo, source=None, **options) -> VideoFixations:
        self.check_source(source)
        unknown = sorted(k for k, v in options.items() if v)
        if unknown:
            raise SalprepError(f"the {self.layout} layout takes no fixation options (got {unknown})", self.root)
        path = self._data_path(video)
        data = self._data(video)
        w, h = data["VideoSize"]
        if (w, h) != (int(info.width), int(info.height)):
            raise SalprepError(f"Data.VideoSize is {w}x{h} but the video is {info.size_text()}", path)
        if data["VideoFrames"] != int(info.frames):
            raise SalprepError(f"Data.VideoFrames is {data['VideoFrames']} but the video decodes to "
                               f"{info.frames} frames", path)
        res = fixations_per_frame(data["fixdata"], data["VideoFrameRate"], int(info.frames), w, h)
        dropped = res["out_of_frame"] + res["beyond"]
        if dropped:
            log.warning("%s: %d of %d fixations dropped (%d outside the %dx%d frame, %d beyond the %d-frame video); "
                        "%d skipped as fixation-cross starts", video, dropped, len(data["fixdata"]),
                        res["out_of_frame"], w, h, res["beyond"], info.frames, res["skipped"])
        return VideoFixations(points=res["points"], sources=[path], dropped=dropped, combine="count")


__all__ = [
    "DATA_FIELDS", "DATA_MAT", "LEDOV", "NAMELIST_KEYS", "NAMELIST_MAT", "VIDEO_NAME_LIST_MAT", "VIDEO_SUFFIXES",
    "centre_start_mask", "fixations_per_frame", "frame_intervals", "load_mat", "parse_name_splits", "read_data_mat",
    "read_namelist_splits", "read_video_name_list",
]
